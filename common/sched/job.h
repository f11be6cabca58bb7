/* SPDX-License-Identifier: MIT */
/*
 * Job: one unit of work of a scheduler, from the moment it arrives from the bus until its final
 * state. The facts (id, priority, runtime) come from the job request; the state and the sequence
 * numbers are kept by the Runner; `data` is the owner's slot for whatever does the work (a Process),
 * freed with the Job through `data_free`.
 *
 * Who frees a Job: whoever created it, until it is handed to runner_submit(); from then on the Runner
 * (see runner.h).
 */
#pragma once

#include <stdint.h>

#include "job-state.h"
#include "job-log.h"
#include "list.h"
#include "macro.h"

typedef struct Job Job;

struct Job {
        uint64_t id;
        int priority; /* 0 is the most urgent */
        double runtime;

        /* _JOB_STATE_INVALID until submitted to a Runner. */
        JobState state;
        /* Orders equal priorities: set by runner_submit(), increasing. */
        uint64_t arrival_seq;
        /* Set when the job starts, increasing; 0 while it never ran. The most recently started of the
         * least urgent jobs is the one evicted. */
        uint64_t start_seq;
        /* The id of the job that took this one's slot, when state is JOB_EVICTED. */
        uint64_t evicted_by;
        /* What start() returned when the job failed to start (negative errno), for its log line. */
        int error;
        /* Times it was requeued (--evict=requeue, or a stop that keeps it). */
        unsigned n_requeued;

        void *data;
        void (*data_free)(void *data);

        /* Runner bookkeeping, not for other users: the list of jobs whose work is alive, the jobs
         * submitted but not yet announced, and the jobs to free once the Runner is idle. */
        LIST_FIELDS(Job, alive);
        LIST_FIELDS(Job, fresh);
        LIST_FIELDS(Job, dead);
};

int job_new(Job **ret, uint64_t id, int priority, double runtime);
/* Calls data_free(data) first. */
Job *job_free(Job *j);

DEFINE_TRIVIAL_CLEANUP_FUNC(Job *, job_free);

/* The facts of the job for log_job(). */
static inline LogJob job_log(const Job *j) {
        assert(j);

        return (LogJob){ .id = j->id, .priority = j->priority, .runtime = j->runtime, .state = j->state };
}
