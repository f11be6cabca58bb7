/* SPDX-License-Identifier: MIT */
/*
 * JobPending: the scheduler's waiting jobs on disk (PENDING_FILE in its state directory), so that a
 * restart, an upgrade or a crash loses no queue. One line per job, "ID PRIORITY RUNTIME REQUEUES",
 * in the order they are to start; the whole file is replaced at once (a temporary file renamed over
 * it), never appended to, so a crash leaves the old set or the new one. The scheduler writes it a
 * moment after the queue changed (coalesced: at most once per PENDING_SAVE_USEC) and at its stop.
 * Owned by the Scheduler.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job.h"
#include "macro.h"

#define PENDING_FILE      "pending-jobs"
#define PENDING_SAVE_USEC (1 * USEC_PER_SEC)

typedef struct JobPending JobPending;

typedef struct JobPendingEntry {
        uint64_t id;
        int priority;
        double runtime;
        unsigned n_requeued;
} JobPendingEntry;

/* dir: the state directory (opened here); NULL: nothing is kept (*ret is NULL, 0 returned). */
int job_pending_new(JobPending **ret, const char *dir);
JobPending *job_pending_free(JobPending *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(JobPending *, job_pending_free);
const char *job_pending_dir(const JobPending *p);

/* Reads the file: its jobs in order, in *ret (malloc()ed, may be NULL with 0), at most `max`; lines
 * that do not parse are skipped and counted in *ret_bad. No file: 0 jobs. */
int job_pending_load(JobPending *p, size_t max, JobPendingEntry **ret, size_t *ret_n, size_t *ret_bad);
/* Replaces the file with these jobs, sorted here by priority and then arrival (`jobs` is reordered),
 * synced when `sync` (at a stop; not from the loop's hot path). */
int job_pending_save(JobPending *p, Job *const *jobs, size_t n, bool sync);
