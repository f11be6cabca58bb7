/* SPDX-License-Identifier: MIT */
/*
 * Runner: the PriorityRunner of a scheduler (DESIGN.md, "Scheduling rules"). It decides which jobs
 * hold its `size` slots, which wait and which are evicted. It starts and kills nothing itself: it
 * asks its user through RunnerOps, so the daemon and the unit tests drive the same code.
 *
 * A job's states (every change goes through state_changed()):
 *
 *   submitted -> running -> done | failed | timeout    reported by runner_job_exited()
 *             |         -> evicted                     decided here; stop() begins the termination
 *             |         -> interrupted                 runner_stop_all(); stop() too
 *             |         -> cancelled                   runner_cancel(); stop() too
 *             |         -> requeued -> (its exit) -> waits again in its place -> running ...
 *             |         -> suspended -> resumed (running) ...     (see "Eviction" below)
 *             -> queued -> running ...
 *             |         -> dropped                     runner_stop_all()
 *             |         -> cancelled                   runner_cancel()
 *             -> failed                                start() failed
 *             -> dropped                               runner_submit() failed
 *             -> cancelled                             runner_cancel() from a callback, before
 *                                                      the job was announced as queued
 *
 * Ownership: runner_submit() takes the Job whatever it returns, and the Runner frees it (job_free(),
 * which frees `data` too). It does so after the job's last state_changed() call and, when start()
 * succeeded, only after runner_job_exited() for it. So the user reports exactly one exit for every
 * job whose start() succeeded, when its work has really ended, evicted, interrupted and cancelled jobs
 * included, and none for a job whose start() failed. Job pointers stay valid until the outermost
 * runner call returns: frees are deferred until then.
 *
 * Slots: an evicted, interrupted or cancelled job gives up its slot at once (the job that replaces it
 * starts right away) while its work is still being terminated. It stays in runner_n_alive() until its
 * exit is reported, and that exit frees no slot and starts nothing.
 *
 * Eviction (runner_set_evict()): RUNNER_EVICT_KILL ends the victim as evicted. RUNNER_EVICT_REQUEUE
 * terminates it as requeued (stop() with JOB_REQUEUED): once its exit is reported it waits again,
 * in the place its arrival gave it, and starts over when a slot frees; past `max_requeue` times it
 * is evicted for good. RUNNER_EVICT_SUSPEND asks suspend() to freeze it: it is suspended, holds no
 * slot, and waits with the pending jobs (before those of its priority) until resume() thaws it
 * (resumed, then running); beyond `max_suspended` frozen jobs, or when suspend() fails, the victim
 * is requeued instead. A suspended job stays alive: cancelling it, or runner_stop_all(), calls
 * stop() for it while it is frozen.
 *
 * Callbacks may call any runner function but runner_free(). The runner is consistent (counters and
 * states current) whenever it calls one. A mutating call made from a callback only records its
 * work; the outermost call starts pending jobs, in a loop, so that nothing recurses. start() must
 * not report the exit of the job it is starting: it returns < 0 instead.
 */
#pragma once

#include <stdbool.h>
#include <errno.h>
#include <stdint.h>

#include "job.h"

typedef struct Runner Runner;

typedef struct RunnerOps {
        /* Start the job's work. < 0: the job fails (its `error` keeps the value), its slot goes to the
         * next pending job. Required. */
        int (*start)(Runner *r, Job *j, void *userdata);
        /* Begin terminating the work of a job that lost its slot: `reason` is JOB_EVICTED (j->evicted_by
         * names the job that took the slot), JOB_INTERRUPTED (shutdown) or JOB_CANCELLED
         * (runner_cancel()). The job is already in that state. The exit is reported later with
         * runner_job_exited(), even if this fails; the result is only a hint. Required. */
        int (*stop)(Runner *r, Job *j, JobState reason, void *userdata);
        /* Every state change, after it happened: j->state is new, `old` is _JOB_STATE_INVALID for a
         * job just submitted. For logs and STATUS=. Optional. */
        void (*state_changed)(Runner *r, Job *j, JobState old, void *userdata);
        /* Whether a running job's work is already ending on its own: it exited and the exit is not
         * reported yet, or it is being terminated at its timeout. Such a job is never chosen for
         * eviction nor cancelled, so that its one record says how it really ended; it keeps its slot
         * until its exit is reported. Optional (no job is ending). */
        bool (*ending)(Runner *r, Job *j, void *userdata);
        /* RUNNER_EVICT_SUSPEND: freeze the work of a running job that loses its slot to the job
         * j->evicted_by names (j is still running). < 0: it is requeued instead. */
        int (*suspend)(Runner *r, Job *j, void *userdata);
        /* Thaw a suspended job, which holds a slot again. < 0: it is interrupted (stop() follows). */
        int (*resume)(Runner *r, Job *j, void *userdata);
} RunnerOps;

typedef enum RunnerEvict {
        RUNNER_EVICT_KILL,    /* the seed's: evicted, its work lost */
        RUNNER_EVICT_REQUEUE, /* terminated and requeued: it starts over later */
        RUNNER_EVICT_SUSPEND, /* frozen, thawed later: it goes on where it stopped */
        _RUNNER_EVICT_MAX,
        _RUNNER_EVICT_INVALID = -EINVAL,
} RunnerEvict;

const char *runner_evict_to_string(RunnerEvict e);
RunnerEvict runner_evict_from_string(const char *s);

typedef struct RunnerStats {
        uint64_t done;
        uint64_t failed;
        uint64_t timeout;
        uint64_t evicted;
        uint64_t dropped;
        uint64_t interrupted;
        uint64_t cancelled;
        uint64_t suspended; /* times, not jobs: one job may be suspended and requeued again and again */
        uint64_t resumed;
        uint64_t requeued;
} RunnerStats;

/* `size` slots, at least 1. `ops` is copied. */
int runner_new(Runner **ret, unsigned size, const RunnerOps *ops, void *userdata);
/* Frees every job still held, without callbacks: call runner_stop_all() and wait for
 * runner_n_alive() to reach 0 first for a clean shutdown. */
Runner *runner_free(Runner *r);
/* How victims are evicted (default RUNNER_EVICT_KILL). -EINVAL for suspend without the suspend()
 * and resume() ops. */
int runner_set_evict(Runner *r, RunnerEvict mode, unsigned max_requeue, unsigned max_suspended);

/* Takes ownership of j (state _JOB_STATE_INVALID, fresh from job_new()) and schedules it: it starts
 * now, evicts a less urgent job, or waits. < 0: -ESHUTDOWN after runner_stop_all(), -ENOMEM; the
 * job is then dropped (reported) and freed. -EEXIST, and nothing done, for a job submitted before. */
int runner_submit(Runner *r, Job *j);

/* The work of an alive job ended: by itself (JOB_DONE, JOB_FAILED) or killed at its timeout
 * (JOB_TIMEOUT). For an evicted, interrupted or cancelled job `final` is ignored: its state stays.
 * The job is freed and, if it held a slot, the most urgent pending job starts. -ENOENT for a job that
 * is not alive, -EINVAL for another final state, -EBUSY from inside its own start(). */
int runner_job_exited(Runner *r, Job *j, JobState final);

/* A client no longer wants the job (j from runner_find()). A pending job leaves the queue: it is
 * cancelled and freed like a dropped one. A running job is terminated like an evicted one: it is
 * cancelled, stop() is called with JOB_CANCELLED, its slot goes to the most urgent pending job, and
 * its exit is still reported with runner_job_exited(). Returns 0 then.
 * -EALREADY, and nothing done, for a job whose end is under way: ending() says so, or it is being
 * terminated already (evicted, interrupted, cancelled). -EBUSY from inside its own start() (it is
 * neither pending nor running yet). -ENOENT for a job the runner does not hold (never submitted, or
 * already ended: a cancelled pending job is gone at once). -ESHUTDOWN after runner_stop_all(). */
int runner_cancel(Runner *r, Job *j);

/* Shutdown: refuses new jobs. Without `keep`, drops every pending job and stops every running or
 * suspended one (reason JOB_INTERRUPTED); a requeued job whose work is still ending is interrupted
 * too (no second stop()). With `keep` (a stop the jobs are to survive: the caller has saved the
 * pending ones, see runner_pending()) pending jobs are let go without a state change, and running
 * and suspended ones are stopped as requeued (reason JOB_REQUEUED; their exit frees them). Returns
 * the number of jobs whose exit is still to be reported. */
int runner_stop_all(Runner *r, bool keep);
/* The waiting jobs (queued, requeued, suspended), in no particular order; NULL past the end. */
Job *runner_pending(Runner *r, size_t i);
/* Jobs suspended now. */
unsigned runner_n_suspended(Runner *r);
/* The jobs whose work is alive (running, suspended, being terminated): the first after `j` (NULL:
 * the first); NULL at the end. */
Job *runner_alive_next(Runner *r, Job *j);

unsigned runner_size(Runner *r);
/* Jobs holding a slot. */
unsigned runner_n_running(Runner *r);
unsigned runner_n_pending(Runner *r);
/* Jobs whose work is alive: those holding a slot and those being terminated. */
unsigned runner_n_alive(Runner *r);
const RunnerStats *runner_stats(Runner *r);
/* A running, terminating or pending job by id; NULL if none. O(1). Ids are the caller's to keep
 * unique: of two jobs submitted with one id, only the first is found. */
Job *runner_find(Runner *r, uint64_t id);
/* Whether a job of this priority submitted now would run at once (a free slot, or a strictly less
 * urgent job to evict) instead of waiting. Lets the owner bound the pending queue. */
bool runner_would_start(Runner *r, int priority);
/* The priority of the job a more urgent one would evict now: the highest priority number among the
 * running jobs that may be evicted (not ending, see RunnerOps.ending; not being terminated); -1 if
 * there is none. A job of a smaller number submitted now would take its slot when none is free. One
 * walk of the alive jobs, as runner_would_start(). */
int runner_least_urgent(Runner *r);

DEFINE_TRIVIAL_CLEANUP_FUNC(Runner *, runner_free);
