/* SPDX-License-Identifier: MIT */
/*
 * The job events of the reporting protocol (spec of issue 12) as bench-bus-load speaks them, with
 * no I/O of their own. A JobEventBatch is what one reporting scheduler connection owes the bus: the
 * ids of the jobs it received since it last sent, each answered with "running" then "done", coalesced
 * the way the C scheduler coalesces the events of one loop pass (job_event frames of at most 1024
 * events), each frame ending with the connection's load if asked (issue 13: under --dispatch=one the
 * bus gives a reporting scheduler jobs only while its load says it has room). A JobEventTally is
 * what one observer connection received during a run, job by job, checked when the run ends; or,
 * under --dispatch=one, which jobs the scheduler connections received (each exactly once). Both
 * belong to the Load of one bus.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most events in one job_event frame (the spec's limit). */
#define JOB_EVENTS_PER_FRAME_MAX 1024
/* Every job a scheduler connection receives is answered with "running" and "done". */
#define JOB_EVENTS_PER_JOB_AND_SCHEDULER 2

typedef struct JobEventBatch {
        uint64_t *ids; /* jobs not yet answered */
        size_t n_ids, n_allocated;
        char *frame; /* the frame being written, room for the largest */
        /* Every frame carries "load":{"running":R,"waiting":0,"received":N}: N the jobs added since
         * the connection opened, R those of them not answered in this frame or an earlier one. */
        bool report_load;
        uint64_t n_received;
} JobEventBatch;

void job_event_batch_done(JobEventBatch *b);
/* A job the connection received, to be answered (counted in the load's "received"). */
int job_event_batch_add(JobEventBatch *b, uint64_t id);
/* Hands every event owed to send() as job_event frames (the batch form: events come in pairs) and
 * empties the batch. Stops at the first error of send(). */
int job_event_batch_flush(JobEventBatch *b, int (*send)(const char *frame, size_t size, void *userdata),
                          void *userdata);

typedef struct JobEventTally {
        /* The run's jobs: ids first_id .. first_id + n_jobs - 1, once `started`. */
        uint64_t first_id, n_jobs;
        bool started;
        uint8_t *per_job; /* events per job, saturating at 255 */
        uint64_t n_allocated;
        uint64_t n_events; /* events of the run's jobs, but "held" */
        uint64_t n_frames; /* frames that held any of them */
        uint64_t n_running, n_done, n_other_state, n_final;
        /* "held" events of the run's jobs (the bus holds a job that finds no free slot, under
         * --dispatch=one): not in n_events nor per_job, and no mismatch. */
        uint64_t n_held;
        uint64_t n_outside; /* events for ids after the run's */
        uint64_t n_before;  /* events for earlier jobs (probes, earlier runs): ignored */
} JobEventTally;

void job_event_tally_done(JobEventTally *t);
/* Empties the tally for a run of n_jobs jobs whose first id is not known yet. */
int job_event_tally_reset(JobEventTally *t, uint64_t n_jobs);
void job_event_tally_start(JobEventTally *t, uint64_t first_id);
/* Counts the events of one frame to an observer: {"event":"job","id":...} or
 * {"event":"job","events":[{"id":...}, ...]} (or the null bus's verbatim job_event frames). Returns
 * how many events it held, of any job; -EBADMSG for a frame that holds no event (an error frame). */
int job_event_tally_add(JobEventTally *t, const char *frame);
/* Counts one receipt of job `id` by a scheduler connection: no state, so that
 * job_event_tally_check(t, 1, false) asks for each job exactly once. */
void job_event_tally_add_receipt(JobEventTally *t, uint64_t id);

/* The unsigned decimal at p, saturating at UINT64_MAX as strtoull() does, without its cost (the
 * load generator reads two per job and scheduler). */
uint64_t job_event_parse_u64(const char *p);

/* The verdict on a finished run: every job with exactly `per_job` events, per_job / 2 of them
 * running and done each, and (expect_final) one event marked final per job. With per_job 1, for a
 * tally of receipts: every job received exactly once. */
typedef struct JobEventCheck {
        bool ok;
        uint64_t n_exact, n_fewer, n_more;
        uint64_t first_off_id; /* the first job whose count is wrong */
        unsigned first_off_count;
        uint64_t want_per_state, want_final;
} JobEventCheck;

JobEventCheck job_event_tally_check(const JobEventTally *t, unsigned per_job, bool expect_final);
