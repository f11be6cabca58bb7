/* SPDX-License-Identifier: MIT */
/*
 * JobTable: the bus's bounded memory of recent jobs (--history), for status, listings, cancel and
 * the job events it passes on. For each job: its priority, runtime, submit time, and one run per
 * scheduler it was delivered to, holding that scheduler's state and the times of its transitions.
 * The per-state counters (whole table, and per scheduler) are kept as runs change, so status never
 * walks the table. Lookup by id is O(1) (an IdMap: one slot for a recent id); when full, the job that
 * finished earliest makes room, or, when none has finished, the oldest.
 *
 * Scheduler names are interned: every run of a scheduler points to one JobTableScheduler, which
 * lives while the bus holds a reference (a connected scheduler of that name) or a run uses it.
 *
 * Memory per job on x86-64 glibc: the entry (88 bytes, a 96-byte chunk), its runs (96 bytes each,
 * one chunk) and its share of the map's window (16 to 32 bytes). Measured with mallinfo2() over full tables:
 * 235 bytes with one run and 524 with four at the default --history of 10,000 (2.3 and 5.2 MB);
 * job_table_entry_bytes() gives the upper bound, 240 and 528. Owned by the Bus.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job-state.h"
#include "list.h"
#include "macro.h"

/* The pseudo-state of a run before its scheduler reported anything: delivered, and for a scheduler
 * that does not report, forever. */
enum {
        JOB_TABLE_SENT = _JOB_STATE_MAX,
        _JOB_TABLE_STATE_MAX,
};

/* Schedulers one job's runs are kept for; a job that goes to more has the rest untracked. */
#define JOB_TABLE_RUNS_MAX UINT16_MAX

typedef struct JobTable JobTable;
typedef struct JobTableScheduler JobTableScheduler; /* an interned scheduler name with its counters */
typedef struct JobTableRun JobTableRun;             /* one job on one scheduler */
typedef struct JobTableEntry JobTableEntry;

/* 96 bytes. */
struct JobTableRun {
        JobTableScheduler *scheduler; /* NULL: a scheduler that does not report (legacy) */
        int state;                    /* JobState or JOB_TABLE_SENT */
        uint64_t sent_usec, queued_usec, started_usec, ended_usec; /* CLOCK_REALTIME µs; 0 = not reached */
        int exit_status;                                           /* -1: none */
        char signal[17];                                           /* "" : none */
        uint64_t evicted_by, cpu_usec, memory_peak;                /* UINT64_MAX: none */
};

/* 88 bytes: the flags and the end sit in the padding after `priority`. */
struct JobTableEntry {
        uint64_t id;
        int priority;
        bool dropped : 1;   /* dropped by the bus itself (no scheduler, or no room to hold it) */
        bool cancelled : 1; /* cancelled while the bus held it */
        bool final : 1;     /* ended everywhere: see job_table_entry_end() */
        bool held : 1;      /* waiting in the bus for a scheduler (the bus sets and clears it) */
        signed char end;    /* private: the end, fixed when the entry became final */
        double runtime;
        uint64_t submitted_usec; /* CLOCK_REALTIME µs */
        void *owner;             /* opaque (the submitting client) or NULL; see job_table_forget_owner() */
        JobTableRun *runs;       /* n_runs of them, one per reporting scheduler it was delivered to */
        uint16_t n_runs, n_runs_alloc; /* a job reaches at most JOB_TABLE_RUNS_MAX schedulers */
        uint16_t n_open;               /* runs not yet terminal */
        uint16_t n_legacy; /* deliveries to schedulers that do not report: counted, no run kept (a run
                            * would only ever say "sent", at the submit time) */

        /* private: every entry in id order; the final ones also in the order they became final. */
        LIST_FIELDS(JobTableEntry, entries);
        LIST_FIELDS(JobTableEntry, finished);
};

/* An event as parsed from a scheduler's job_event. */
typedef struct JobTableEvent {
        uint64_t id;
        JobState state;
        int exit_status;                            /* -1: none */
        const char *signal;                         /* NULL: none */
        uint64_t evicted_by, cpu_usec, memory_peak; /* UINT64_MAX: none */
} JobTableEvent;

/* "sent", or a JobState's name; "unknown" for _JOB_STATE_INVALID (a job's end when it went only to
 * schedulers that do not report); NULL for anything else. */
const char *job_table_state_to_string(int state);
/* "sent" or a JobState's name; _JOB_STATE_INVALID for NULL or anything else (also "unknown"). */
int job_table_state_from_string(const char *s);
/* Every JobState but queued and running; not sent. */
bool job_table_state_is_terminal(int state);

/* -EINVAL for max_entries 0. */
int job_table_new(JobTable **ret, size_t max_entries);
/* Frees every entry and every scheduler, referenced or not. Accepts NULL. */
JobTable *job_table_free(JobTable *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(JobTable *, job_table_free);
size_t job_table_size(const JobTable *t);
size_t job_table_max(const JobTable *t);

/* A new job. When full, the entry evicted first is the one that finished (became final) earliest;
 * if none is final, the oldest by id. -EEXIST if the id is present. *ret may be NULL. O(1) when
 * ids come in increasing order (the bus's); an older id is placed by walking back from the newest. */
int job_table_add(JobTable *t, uint64_t id, int priority, double runtime, uint64_t now_usec, void *owner,
                  JobTableEntry **ret);
/* O(1). NULL when absent. */
JobTableEntry *job_table_get(JobTable *t, uint64_t id);

/* Interns a scheduler name (NULL name not allowed). The table keeps the name while any run or any
 * reference uses it: job_table_scheduler_ref/unref for the bus's connected schedulers. Several
 * references to one name (a scheduler that reconnects) share one JobTableScheduler. */
JobTableScheduler *job_table_scheduler_ref(JobTable *t, const char *name); /* NULL on ENOMEM */
/* Accepts NULL. */
void job_table_scheduler_unref(JobTable *t, JobTableScheduler *s);
const char *job_table_scheduler_name(const JobTableScheduler *s);
/* Number of runs of this scheduler currently in `state` (maintained incrementally, O(1)); 0 for a
 * state out of range. */
unsigned job_table_scheduler_count(const JobTableScheduler *s, int state);

/* What /metrics tells of each scheduler name since the bus interned it (counters start again at 0
 * when a name is forgotten: no connection and no run left, as Prometheus counters may): how many
 * runs entered each state, how long jobs waited before their first start there (from submission)
 * and how long their runs lasted (last start to end), in buckets of job_table_bucket_bounds. */
#define JOB_TABLE_BUCKETS 16
extern const double job_table_bucket_bounds[JOB_TABLE_BUCKETS]; /* seconds, increasing */
typedef struct JobTableHistogram {
        uint64_t counts[JOB_TABLE_BUCKETS + 1]; /* not cumulative; the last: above every bound */
        uint64_t n;
        double sum; /* seconds */
} JobTableHistogram;

uint64_t job_table_scheduler_total(const JobTableScheduler *s, JobState state);
const JobTableHistogram *job_table_scheduler_wait(const JobTableScheduler *s);
const JobTableHistogram *job_table_scheduler_run(const JobTableScheduler *s);
/* The interned schedulers, connected or not: NULL for the first; NULL at the end. */
JobTableScheduler *job_table_scheduler_next(JobTable *t, JobTableScheduler *s);

/* The job was delivered to scheduler s (NULL: a non-reporting one): a run in state sent. Returns the
 * run, or NULL on ENOMEM. A reporting scheduler has one run per job, however many of its
 * connections got it: a second call returns its run unchanged. Each NULL scheduler gets a run of its
 * own. A returned run pointer is valid until the next run is added to the entry (the array grows). */
JobTableRun *job_table_add_run(JobTable *t, JobTableEntry *e, JobTableScheduler *s, uint64_t now_usec);
/* The job was delivered to a scheduler that does not report: counted (sent, for good). -E2BIG past
 * JOB_TABLE_RUNS_MAX. */
int job_table_add_legacy(JobTable *t, JobTableEntry *e);
/* The run of reporting scheduler s, or NULL. */
JobTableRun *job_table_find_run(JobTableEntry *e, const JobTableScheduler *s);
/* Room for n runs in all, when the caller knows how many schedulers the job goes to: one allocation
 * instead of one per run. -ENOMEM. */
int job_table_reserve_runs(JobTableEntry *e, unsigned n);

/* Applies an event of (reporting) scheduler s to entry e (creating the run if the job was not
 * recorded as delivered there). Sets the transition times (queued/started/ended; a terminal state
 * fills ended_usec; running fills started_usec) when the state changes, details, counters. A state
 * change out of a terminal state is ignored (returns 0, nothing changed), and so is any later event
 * of a terminal run. Returns 1 if the entry became final with this event, 0 otherwise, -EINVAL for a
 * state that is not a JobState, -ENOMEM. An entry is final once: a run that appears on a final
 * entry (a late or stray event) is recorded but changes neither `final` nor the end. */
int job_table_apply(JobTable *t, JobTableEntry *e, JobTableScheduler *s, const JobTableEvent *ev,
                    uint64_t now_usec);
/* The bus is done delivering e (after adding its runs): if no run is open (nothing reporting got
 * it) the entry becomes final now. Returns 1 if it became final. */
int job_table_delivered(JobTable *t, JobTableEntry *e);
/* Dropped by the bus (no scheduler): final at once (unless it was final already). */
void job_table_drop(JobTable *t, JobTableEntry *e, uint64_t now_usec);
/* Cancelled while the bus held it: final at once, as cancelled (unless it was final already). */
void job_table_cancel(JobTable *t, JobTableEntry *e);
/* Forgets the run of reporting scheduler s on e, if it is not terminal: the job left a scheduler
 * that went away before starting it, and goes elsewhere. Returns whether a run was removed. */
bool job_table_remove_run(JobTable *t, JobTableEntry *e, JobTableScheduler *s);

/* The job's end once final: JOB_DONE if every reporting run is done; else the first of failed,
 * timeout, evicted, cancelled, interrupted, dropped found among runs; JOB_DROPPED for a bus drop;
 * _JOB_STATE_INVALID ("unknown") if it went only to non-reporting schedulers, and also while the
 * entry is not final. Fixed when the entry becomes final: later stray runs do not change it. */
JobState job_table_entry_end(const JobTableEntry *e);
/* For listings: running if running anywhere, else suspended, requeued or queued, else sent, else the end (as
 * above, or JOB_TABLE_SENT when unknown). A final entry shows its end: a job that went to a scheduler that
 * does not report as well is "sent" there for ever, and a job the bus dropped after delivering it
 * somewhere is "dropped" (the spec's SUMMARY); before it is final, the three live states decide. */
int job_table_entry_summary(const JobTableEntry *e);

/* Count of runs in `state` over the whole table (incremental, O(1)); 0 for a state out of range. */
unsigned job_table_count(const JobTable *t, int state);
/* Clears e->owner on every entry whose owner is `owner` (a client that went away). O(table). */
void job_table_forget_owner(JobTable *t, void *owner);

/* Iteration in id order: first/next (oldest first), last/prev (newest first). NULL at the end. */
JobTableEntry *job_table_first(JobTable *t);
JobTableEntry *job_table_last(JobTable *t);
JobTableEntry *job_table_next(JobTableEntry *e);
JobTableEntry *job_table_prev(JobTableEntry *e);

/* Bytes used by one entry with n runs (struct + runs array + map share), for the man page and the
 * test: the two allocations as glibc's malloc rounds them, and the map's slots at their lowest
 * steady load. An upper bound of what a full table costs per entry. */
size_t job_table_entry_bytes(unsigned n_runs);
/* Entries whose ids left the map's window of recent ids (see id-map.h), for tests. */
size_t job_table_ids_outside_window(const JobTable *t);
