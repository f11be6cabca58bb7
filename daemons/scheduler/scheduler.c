/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "bus-link.h"
#include "event-util.h"
#include "job-cgroups.h"
#include "job-ledger.h"
#include "job-pending.h"
#include "job-reaper.h"
#include "job-run.h"
#include "job-scope.h"
#include "job.h"
#include "log.h"
#include "notify.h"
#include "protocol.h"
#include "ratelimit.h"
#include "ring.h"
#include "throttle.h"
#include "time-util.h"
#include "runner.h"
#include "scheduler.h"

struct Scheduler {
        SchedulerConfig config;
        sd_event *event;
        BusLink *link;
        Runner *runner;
        JobScope *scope; /* --scope only */
        JobCgroups *cgroups;
        JobReaper *reaper;            /* NULL if we cannot be a child subreaper */
        JobLedger *ledger;            /* NULL without a runtime directory */
        JobPending *pending;          /* NULL without a state directory */
        sd_event_source *save_source; /* writes the pending jobs a moment after they changed */
        Throttle status;

        /* Jobs that took a slot and wait for their process (Job *, in start order). Each loop pass
         * spawns one, below timers, child exits and the bus, so that a burst of jobs that all start
         * cannot hold those back. Every entry is an alive job: at most the slots plus the jobs
         * being terminated. */
        JobRunConfig run_config;
        Ring spawn_queue;
        sd_event_source *spawn_source;
        /* Frames from the bus that came while a started job waited for its spawn, in order (char *:
         * a size_t size, then the frame and a NUL): decided on one at a time, each once the job
         * before runs. The bus's reading is paused only when they pile up (INBOX_HIGH), not once
         * per job: each pause and resume costs libuv/lws epoll_ctl() churn and an extra pass. */
        Ring inbox;
        size_t inbox_bytes;

        /* Job events for the bus: gathered over a loop pass and sent as one frame at its end; kept
         * (up to EVENTS_MAX, the oldest going first) while the bus is away. The source comes after
         * the spawns, so in a burst it is moved ahead of them once events pile up or wait
         * (EVENTS_FLUSH_*): `events_since` is when the oldest was gathered. */
        Ring events;
        uint64_t events_since;
        bool events_urgent;
        sd_event_source *events_source, *events_retry_source;
        sd_event_source *stop_drain_source;
        sd_event_source *leftover_source; /* at a stop: stop waiting for a predecessor's leftovers */
        uint64_t stop_drain_deadline;
        uint64_t n_events_lost;
        /* Every frame to the bus tells our load (ProtocolLoad), made when the frame is. `received`
         * counts the jobs of this connection, each of which has an event in the pass it came in;
         * `load_due`: connected, and the load not told since but in the register frame, whose text
         * was made once, at start. */
        uint64_t n_received;
        bool load_due;

        uint64_t next_local_id; /* for payloads without a bus id, or whose id is taken */
        RateLimit bad_job_limit;
        bool stopping;
};

static void scheduler_status_changed(Scheduler *s);

/* After the spawns (SD_EVENT_PRIORITY_NORMAL + 10): a pass's events go out together. */
#define EVENTS_PRIORITY (SD_EVENT_PRIORITY_NORMAL + 20)
/* Job events kept while the bus is away: a few minutes of a busy scheduler. */
#define EVENTS_MAX (64 * 1024)
/* In a burst, gathered events go out at the latest once this many wait, or the oldest this long. */
#define EVENTS_FLUSH_COUNT 256U
#define EVENTS_FLUSH_USEC  (10 * USEC_PER_MSEC)
/* A job_event frame stays under the bus's default --max-frame (64 KiB). */
#define EVENTS_FRAME_MAX (60 * 1024)
/* A bus that does not take our events (its queue is full) is tried again after this long. */
#define EVENTS_RETRY_USEC (50 * USEC_PER_MSEC)

Scheduler *scheduler_free(Scheduler *s) {
        if (!s)
                return NULL;
        s->link = bus_link_free(s->link);
        /* Jobs still alive are killed by their Process destructors. */
        s->runner = runner_free(s->runner);
        s->scope = job_scope_free(s->scope);
        s->cgroups = job_cgroups_free(s->cgroups);
        s->reaper = job_reaper_free(s->reaper);
        s->ledger = job_ledger_free(s->ledger);
        s->pending = job_pending_free(s->pending);
        sd_event_source_disable_unref(s->save_source);
        throttle_done(&s->status);
        sd_event_source_disable_unref(s->spawn_source);
        ring_done(&s->spawn_queue);
        for (char *f; ring_pop(&s->inbox, &f);)
                free(f);
        ring_done(&s->inbox);
        sd_event_source_disable_unref(s->events_source);
        sd_event_source_disable_unref(s->events_retry_source);
        sd_event_source_disable_unref(s->stop_drain_source);
        sd_event_source_disable_unref(s->leftover_source);
        ring_done(&s->events);
        sd_event_unref(s->event);
        free(s->config.bus_url);
        free(s->config.instance);
        free(s->config.cgroup);
        free(s->config.name);
        return mfree(s);
}

static int on_events_retry(sd_event_source *src, uint64_t usec, void *userdata);

/* Puts events taken from the front back there, in order. */
static void scheduler_unpop_events(Scheduler *s, const ProtocolEvent *events, size_t n) {
        Ring rest = RING_INIT(ProtocolEvent);
        ProtocolEvent ev;

        for (size_t i = 0; i < n; i++)
                (void) ring_push(&rest, &events[i], SIZE_MAX);
        while (ring_pop(&s->events, &ev))
                (void) ring_push(&rest, &ev, SIZE_MAX);
        ring_done(&s->events);
        s->events = rest;
}

static ProtocolLoad scheduler_load(Scheduler *s) {
        assert(s);

        return (ProtocolLoad){
                .running = MIN(runner_n_running(s->runner), (unsigned) PROTOCOL_LOAD_RUNNING_MAX),
                .waiting = MIN(runner_n_pending(s->runner), (unsigned) PROTOCOL_LOAD_WAITING_MAX),
                .received = MIN(s->n_received, PROTOCOL_LOAD_RECEIVED_MAX),
                .least_urgent = runner_least_urgent(s->runner),
        };
}

/* Sends `n` events (0: the load alone) with the load of now. 0 when the bus took the frame (or we
 * gave up on it), -ENOBUFS or -ENOTCONN when it is to be sent again later. */
static int scheduler_send_events(Scheduler *s, const ProtocolEvent *batch, size_t *n) {
        _cleanup_free_ char *text = NULL;
        ProtocolLoad load = scheduler_load(s);
        size_t size;
        int r;

        assert(s);
        assert(n);

        r = protocol_dump_job_events(batch, *n, &load, &text, &size);
        /* Long reasons: fewer events a frame, the rest back in front. */
        while (r >= 0 && size > EVENTS_FRAME_MAX && *n > 1) {
                scheduler_unpop_events(s, batch + *n / 2, *n - *n / 2);
                *n /= 2;
                text = mfree(text);
                r = protocol_dump_job_events(batch, *n, &load, &text, &size);
        }
        if (r >= 0)
                r = bus_link_send(s->link, text, size);
        if (r == -ENOBUFS || r == -ENOTCONN)
                return r;
        if (r < 0)
                log_warning_errno(r, "Failed to send %zu job events to the bus, dropping them: %m", *n);
        s->load_due = false;
        return 0;
}

/* Sends what the bus takes of the gathered events: at most PROTOCOL_EVENTS_MAX and EVENTS_FRAME_MAX
 * bytes per frame; or, with none, the load if the bus has not heard it since we connected. */
static int on_events(sd_event_source *src, void *userdata) {
        Scheduler *s = ASSERT_PTR(userdata);
        ProtocolEvent batch[PROTOCOL_EVENTS_MAX];
        int r;

        if (s->events_urgent) {
                (void) sd_event_source_set_priority(s->events_source, EVENTS_PRIORITY);
                s->events_urgent = false;
        }
        if (s->n_events_lost > 0) {
                log_warning("%" PRIu64 " job events were lost while the bus was away (more than %u).",
                            s->n_events_lost, EVENTS_MAX);
                s->n_events_lost = 0;
        }
        while ((ring_size(&s->events) > 0 || s->load_due) && s->link && bus_link_is_connected(s->link)) {
                size_t n = 0;

                while (n < ELEMENTSOF(batch) && ring_pop(&s->events, &batch[n]))
                        n++;
                r = scheduler_send_events(s, batch, &n);
                if (r < 0) {
                        /* The bus takes them later, in order. */
                        scheduler_unpop_events(s, batch, n);
                        if (r == -ENOBUFS)
                                (void) event_timer_arm(s->event, &s->events_retry_source, EVENTS_RETRY_USEC,
                                                       0, on_events_retry, s, "scheduler-events-retry",
                                                       true);
                        break;
                }
        }
        return 0;
}

static int on_events_retry(sd_event_source *src, uint64_t usec, void *userdata) {
        return on_events(NULL, userdata);
}

/* A burst keeps the loop from the events source's turn: past EVENTS_FLUSH_COUNT events or
 * EVENTS_FLUSH_USEC, it goes before the next spawn, once. */
static void scheduler_events_check_age(Scheduler *s) {
        int enabled = SD_EVENT_OFF;
        uint64_t now = 0;

        assert(s);

        if (ring_size(&s->events) == 1) {
                (void) sd_event_now(s->event, CLOCK_MONOTONIC, &s->events_since);
                return;
        }
        if (s->events_urgent)
                return;
        /* The bus has no room now: the retry timer sends them, not every pass of the burst. */
        if (s->events_retry_source && sd_event_source_get_enabled(s->events_retry_source, &enabled) >= 0 &&
            enabled != SD_EVENT_OFF)
                return;
        (void) sd_event_now(s->event, CLOCK_MONOTONIC, &now);
        if (ring_size(&s->events) < EVENTS_FLUSH_COUNT && now < s->events_since + EVENTS_FLUSH_USEC)
                return;
        if (sd_event_source_set_priority(s->events_source, SD_EVENT_PRIORITY_NORMAL) >= 0)
                s->events_urgent = true;
}

/* One state change for the bus. */
static void scheduler_report(Scheduler *s, const ProtocolEvent *ev) {
        ProtocolEvent oldest;

        assert(s);
        assert(ev);

        if (ev->id > INT64_MAX || !s->events_source)
                return;
        if (ring_size(&s->events) >= EVENTS_MAX && ring_pop(&s->events, &oldest))
                s->n_events_lost++;
        if (ring_push(&s->events, ev, EVENTS_MAX) < 0) {
                s->n_events_lost++;
                return;
        }
        scheduler_events_check_age(s);
        (void) sd_event_source_set_enabled(s->events_source, SD_EVENT_ONESHOT);
}

static void scheduler_report_job(Scheduler *s, const Job *j, const char *reason) {
        ProtocolEvent ev = PROTOCOL_EVENT_INIT(j->id, j->state);
        int status, sig;

        assert(s);
        assert(j);

        ev.reason = reason;
        if (job_state_is_terminal(j->state)) {
                if (job_run_get_exit(j, &status, &sig) >= 0) {
                        if (sig > 0)
                                ev.signal = sigabbrev_np(sig);
                        else
                                ev.exit_status = status;
                }
                job_run_get_usage(j, &ev.cpu_usec, &ev.memory_peak);
        }
        if (j->state == JOB_EVICTED ||
            ((j->state == JOB_SUSPENDED || j->state == JOB_REQUEUED) && j->evicted_by))
                ev.evicted_by = j->evicted_by;
        scheduler_report(s, &ev);
}

static int scheduler_send_status(Scheduler *s) {
        const RunnerStats *st = runner_stats(s->runner);
        char text[512];

        assert(s);

        (void) snprintf(text, sizeof text,
                        "STATUS=running %u/%u, pending %u, done %" PRIu64 ", failed %" PRIu64
                        ", timeout %" PRIu64 ", evicted %" PRIu64 ", cancelled %" PRIu64
                        ", suspended %u, requeued %" PRIu64 ", bus %s",
                        runner_n_running(s->runner), s->config.size,
                        runner_n_pending(s->runner) - runner_n_suspended(s->runner), st->done, st->failed,
                        st->timeout, st->evicted, st->cancelled, runner_n_suspended(s->runner), st->requeued,
                        s->stopping                      ? "closed"
                        : bus_link_is_connected(s->link) ? "connected"
                                                         : "connecting");
        return notify_text(text);
}

static void on_status(void *userdata) {
        Scheduler *s = ASSERT_PTR(userdata);

        /* The manager's queue was full: the status was dropped, not waited for; try again later. */
        if (scheduler_send_status(s) == -EAGAIN)
                throttle_retry(&s->status, s->event);
}

/* STATUS= goes out at most every --status-interval however many jobs change, so a burst costs PID
 * 1 ten messages a second, not one per job. */
static void scheduler_status_changed(Scheduler *s) {
        assert(s);

        if (s->event)
                throttle_kick(&s->status, s->event);
}

static int on_events(sd_event_source *src, void *userdata);

/* The last job events leave before we do: polled, for at most STOP_DRAIN_USEC. */
#define STOP_DRAIN_POLL_USEC (5 * USEC_PER_MSEC)
#define STOP_DRAIN_USEC      USEC_PER_SEC

static int on_stop_drain(sd_event_source *src, uint64_t usec, void *userdata) {
        Scheduler *s = ASSERT_PTR(userdata);

        (void) on_events(NULL, s);
        if ((ring_size(&s->events) == 0 && bus_link_queued(s->link) == 0) ||
            !bus_link_is_connected(s->link) || now_usec(CLOCK_MONOTONIC) >= s->stop_drain_deadline) {
                (void) sd_event_exit(s->event, 0);
                return 0;
        }
        return event_timer_arm(s->event, &s->stop_drain_source, STOP_DRAIN_POLL_USEC, 0, on_stop_drain, s,
                               "scheduler-stop-drain", false);
}

static void scheduler_maybe_exit(Scheduler *s);

static int on_leftover_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
        Scheduler *s = ASSERT_PTR(userdata);

        job_cgroups_abandon_leftovers(s->cgroups);
        scheduler_maybe_exit(s);
        return 0;
}

static void scheduler_maybe_exit(Scheduler *s) {
        assert(s);

        if (!s->stopping || runner_n_alive(s->runner) > 0 ||
            (s->cgroups && job_cgroups_n_recovering(s->cgroups) > 0) || s->stop_drain_source)
                return;
        s->stop_drain_deadline = now_usec(CLOCK_MONOTONIC) + STOP_DRAIN_USEC;
        (void) on_stop_drain(NULL, 0, s);
}

/* The facts of a job's end for its terminal record, where known: SCHED_JOB_EXIT_STATUS= (it exited)
 * or SCHED_JOB_SIGNAL= (a signal killed it), SCHED_JOB_CPU_USEC=, SCHED_JOB_MEMORY_PEAK=, then
 * `more` (may be NULL). */
typedef struct JobEndFields {
        char exit[64], cpu[64], memory[64], frozen[64], requeues[64];
        const char *v[7];
} JobEndFields;

static const char *const *job_end_fields(const Job *j, const char *more, JobEndFields *f) {
        uint64_t cpu_usec, memory_peak;
        int status, sig;
        size_t n = 0;

        assert(j);
        assert(f);

        if (job_run_get_exit(j, &status, &sig) >= 0) {
                if (sig > 0)
                        (void) snprintf(f->exit, sizeof f->exit, "SCHED_JOB_SIGNAL=%s",
                                        sigabbrev_np(sig) ?: "unknown");
                else
                        (void) snprintf(f->exit, sizeof f->exit, "SCHED_JOB_EXIT_STATUS=%d", status);
                f->v[n++] = f->exit;
        }
        job_run_get_usage(j, &cpu_usec, &memory_peak);
        if (cpu_usec != UINT64_MAX) {
                (void) snprintf(f->cpu, sizeof f->cpu, "SCHED_JOB_CPU_USEC=%" PRIu64, cpu_usec);
                f->v[n++] = f->cpu;
        }
        if (memory_peak != UINT64_MAX) {
                (void) snprintf(f->memory, sizeof f->memory, "SCHED_JOB_MEMORY_PEAK=%" PRIu64, memory_peak);
                f->v[n++] = f->memory;
        }
        if (job_run_get_frozen_usec(j) > 0) {
                (void) snprintf(f->frozen, sizeof f->frozen, "SCHED_JOB_FROZEN_USEC=%" PRIu64,
                                job_run_get_frozen_usec(j));
                f->v[n++] = f->frozen;
        }
        if (j->n_requeued > 0) {
                (void) snprintf(f->requeues, sizeof f->requeues, "SCHED_JOB_REQUEUES=%u", j->n_requeued);
                f->v[n++] = f->requeues;
        }
        if (more)
                f->v[n++] = more;
        f->v[n] = NULL;
        return f->v;
}

static void log_job_state(Scheduler *s, const Job *j, JobState old) {
        LogJob lj = job_log(j);
        JobEndFields end;
        char by[64];

        assert(s);
        assert(j);

#define END_FIELDS(more) job_end_fields(j, (more), &end)
        /* For the states of a job that lost its slot to another. */
        (void) snprintf(by, sizeof by, "SCHED_JOB_EVICTED_BY=%" PRIu64, j->evicted_by);
        switch (j->state) {
        case JOB_QUEUED:
                log_job(LOG_INFO, &lj, "Job %" PRIu64 " queued: all %u slots busy, %u pending.", j->id,
                        s->config.size, runner_n_pending(s->runner));
                break;
        case JOB_RUNNING:
                if (j->n_requeued > 0)
                        log_job_extra(LOG_INFO, &lj, END_FIELDS(NULL),
                                      "Job %" PRIu64 " running again, from the start (%u/%u slots).", j->id,
                                      runner_n_running(s->runner), s->config.size);
                else
                        log_job(LOG_INFO, &lj, "Job %" PRIu64 " running (%u/%u slots).", j->id,
                                runner_n_running(s->runner), s->config.size);
                break;
        case JOB_SUSPENDED:
                log_job_extra(LOG_NOTICE, &lj, END_FIELDS(by),
                              "Job %" PRIu64 " suspended (frozen) for more urgent job %" PRIu64 ".", j->id,
                              j->evicted_by);
                break;
        case JOB_RESUMED:
                log_job_extra(LOG_INFO, &lj, END_FIELDS(NULL),
                              "Job %" PRIu64 " resumed after %.3f s frozen in all (%u/%u slots).", j->id,
                              (double) job_run_get_frozen_usec(j) / USEC_PER_SEC,
                              runner_n_running(s->runner), s->config.size);
                break;
        case JOB_REQUEUED:
                if (j->evicted_by > 0 && !s->stopping) {
                        log_job_extra(LOG_NOTICE, &lj, END_FIELDS(by),
                                      "Job %" PRIu64 " requeued for more urgent job %" PRIu64
                                      ": terminated, it starts over later.",
                                      j->id, j->evicted_by);
                } else
                        log_job_extra(LOG_NOTICE, &lj, END_FIELDS(NULL),
                                      "Job %" PRIu64 " requeued: the scheduler is stopping; it starts over "
                                      "at the next start.",
                                      j->id);
                break;
        case JOB_DONE:
                log_job_extra(LOG_INFO, &lj, END_FIELDS(NULL), "Job %" PRIu64 " done.", j->id);
                break;
        case JOB_FAILED:
                log_job_extra(LOG_WARNING, &lj, END_FIELDS(NULL), "Job %" PRIu64 " failed: %s.", j->id,
                              job_run_describe_exit(j));
                break;
        case JOB_TIMEOUT:
                log_job_extra(LOG_WARNING, &lj, END_FIELDS(NULL),
                              "Job %" PRIu64 " timed out after %.3f s and was terminated.", j->id,
                              (double) s->config.timeout_usec / USEC_PER_SEC);
                break;
        case JOB_EVICTED:
                log_job_extra(LOG_NOTICE, &lj, END_FIELDS(by),
                              "Job %" PRIu64 " evicted by more urgent job %" PRIu64 ".", j->id,
                              j->evicted_by);
                break;
        case JOB_DROPPED:
                log_job(LOG_NOTICE, &lj, "Job %" PRIu64 " dropped: the scheduler is stopping (it was %s).",
                        j->id, job_state_to_string(old) ?: "new");
                break;
        case JOB_INTERRUPTED:
                log_job_extra(LOG_NOTICE, &lj, END_FIELDS(NULL),
                              "Job %" PRIu64 " interrupted: the scheduler is stopping; it was terminated.",
                              j->id);
                break;
        case JOB_CANCELLED:
                if (old == JOB_RUNNING)
                        log_job_extra(LOG_NOTICE, &lj, END_FIELDS(NULL),
                                      "Job %" PRIu64 " cancelled through the bus; it is being terminated.",
                                      j->id);
                else
                        log_job(LOG_NOTICE, &lj, "Job %" PRIu64 " cancelled through the bus before it ran.",
                                j->id);
                break;
        default:
                log_job(LOG_INFO, &lj, "Job %" PRIu64 " %s.", j->id, job_state_to_string(j->state));
        }
#undef END_FIELDS
}

/* A job of a predecessor that died: its cgroup is empty and gone now. Its one terminal record; only
 * the id is known. */
static void on_leftover_gone(uint64_t id, void *userdata) {
        Scheduler *s = ASSERT_PTR(userdata);
        LogJob lj = { .id = id, .priority = -1, .runtime = -1, .state = JOB_INTERRUPTED };

        job_ledger_lookup(s->ledger, id, &lj.priority, &lj.runtime);
        if (s->ledger)
                job_ledger_remove(s->ledger, id);
        log_job(LOG_NOTICE, &lj,
                "Job %" PRIu64
                " interrupted: the scheduler that ran it died; what was left of it was killed.",
                id);
        ProtocolEvent ev = PROTOCOL_EVENT_INIT(id, JOB_INTERRUPTED);
        ev.reason = "the scheduler that ran it died";
        scheduler_report(s, &ev);
        scheduler_maybe_exit(s);
}

/* A job of a predecessor that died, known from the ledger only (its cgroup is gone, or there was
 * none): what was left of it was killed. Its one terminal record. */
static void on_ledger_left(uint64_t id, int priority, double runtime, void *userdata) {
        LogJob lj = { .id = id, .priority = priority, .runtime = runtime, .state = JOB_INTERRUPTED };
        ProtocolEvent ev = PROTOCOL_EVENT_INIT(id, JOB_INTERRUPTED);

        log_job(LOG_NOTICE, &lj, "Job %" PRIu64 " interrupted: the scheduler that ran it died.", id);
        ev.reason = "the scheduler that ran it died";
        scheduler_report(userdata, &ev);
}

static bool ledger_skip(uint64_t id, void *userdata) {
        Scheduler *s = ASSERT_PTR(userdata);

        return job_cgroups_has_leftover(s->cgroups, id);
}

static void on_job_exited(void *userdata) {
        scheduler_maybe_exit(userdata);
}

/* While a started job waits for its spawn (one a loop pass), what the bus sends waits too, in the
 * inbox: the next job is decided on once the one before runs. A burst of starts is paced by the
 * spawns, and each "running" record is written a loop pass before its spawn, not a whole burst of
 * spawns before: the start the log shows is the one the job's timeout counts from. */
#define INBOX_HIGH       64
#define INBOX_HIGH_BYTES (256 * 1024)

static void scheduler_pace_intake(Scheduler *s) {
        assert(s);

        if (!s->link)
                return;
        if (ring_size(&s->inbox) >= INBOX_HIGH || s->inbox_bytes >= INBOX_HIGH_BYTES)
                bus_link_pause_rx(s->link, true);
        else if (ring_size(&s->inbox) == 0)
                bus_link_pause_rx(s->link, false);
}

static void scheduler_handle_frame(Scheduler *s, const char *data, size_t size);

/* Decides on the frames that waited, while no started job waits for its spawn. */
static void scheduler_drain_inbox(Scheduler *s) {
        char *f;

        while ((s->stopping || ring_size(&s->spawn_queue) == 0) && ring_pop(&s->inbox, &f)) {
                size_t size;

                memcpy(&size, f, sizeof size);
                s->inbox_bytes -= size;
                scheduler_handle_frame(s, f + sizeof size, size);
                free(f);
        }
        scheduler_pace_intake(s);
}

/* The frames of a connection that ended and were not decided on go with it, as unread ones do: the
 * bus did not hear of those jobs from us, and with --dispatch=one gives them to another scheduler. */
static void scheduler_drop_inbox(Scheduler *s) {
        size_t n = ring_size(&s->inbox);

        assert(s);

        if (n == 0)
                return;
        for (char *f; ring_pop(&s->inbox, &f);)
                free(f);
        s->inbox_bytes = 0;
        log_notice("Left %zu frames of the lost bus connection undecided, as unread ones are: the bus "
                   "did not hear of their jobs from us.",
                   n);
        scheduler_pace_intake(s);
}

static int on_runner_start(Runner *r, Job *j, void *userdata) {
        Scheduler *s = ASSERT_PTR(userdata);
        int k;

        assert(r);
        assert(j);

        /* The source first: a job in the queue always has a spawn coming, and one that failed to
         * get there (the runner frees it) is never in the queue. */
        k = job_run_new(j, &s->run_config, s->runner);
        if (k >= 0)
                k = sd_event_source_set_enabled(s->spawn_source, SD_EVENT_ONESHOT);
        if (k >= 0)
                k = ring_push(&s->spawn_queue, &j, SIZE_MAX);
        if (k < 0) {
                LogJob lj = job_log(j);
                log_job(LOG_ERR, &lj, "Failed to start job %" PRIu64 ": %s", j->id, strerror(-k));
        }
        return k;
}

static int on_spawn(sd_event_source *src, void *userdata) {
        Scheduler *s = ASSERT_PTR(userdata);
        Job *j;
        int r;

        if (!ring_pop(&s->spawn_queue, &j))
                return 0;
        if (ring_size(&s->spawn_queue) > 0)
                (void) sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);

        LogJob lj = job_log(j);
        r = job_run_spawn(j); /* j is gone unless it runs */
        if (r < 0)
                log_job(LOG_ERR, &lj, "Failed to start job %" PRIu64 ": %s", lj.id, strerror(-r));
        if (r > 0 && s->ledger) {
                r = job_ledger_add(s->ledger, j->id, job_run_get_pid(j), j->priority, j->runtime);
                if (r < 0)
                        log_job(LOG_WARNING, &lj,
                                "Failed to note job %" PRIu64 " in the ledger, ignoring: %s", lj.id,
                                strerror(-r));
        }
        scheduler_drain_inbox(s);
        return 0;
}

static int on_runner_suspend(Runner *r, Job *j, void *userdata) {
        assert(j);

        return job_run_suspend(j);
}

static int on_runner_resume(Runner *r, Job *j, void *userdata) {
        assert(j);

        return job_run_resume(j);
}

static int on_runner_stop(Runner *r, Job *j, JobState reason, void *userdata) {
        assert(r);
        assert(j);

        return job_run_terminate(j);
}

static bool on_runner_ending(Runner *r, Job *j, void *userdata) {
        assert(j);

        return job_run_is_ending(j);
}

/* ---- the pending jobs on disk ---- */

/* The jobs that wait now, as a successor must find them after a crash: the queue (queued and
 * requeued jobs; suspended ones are alive, and a crash ends them with their processes). With
 * `all`, at a stop that keeps them: every job but those ended, running and suspended included,
 * each of which is requeued by the stop. */
static int scheduler_save_pending(Scheduler *s, bool all) {
        _cleanup_free_ Job **jobs = NULL;
        size_t n = 0, max;
        Job *j;
        int r;

        assert(s);

        if (!s->pending)
                return 0;
        max = runner_n_pending(s->runner) + (all ? runner_n_alive(s->runner) : 0);
        jobs = calloc(max + 1, sizeof(Job *));
        if (!jobs)
                return -ENOMEM;
        for (size_t i = 0; (j = runner_pending(s->runner, i)); i++)
                if (j->state != JOB_SUSPENDED || all)
                        jobs[n++] = j;
        if (all)
                for (j = runner_alive_next(s->runner, NULL); j; j = runner_alive_next(s->runner, j))
                        if (j->state == JOB_RUNNING || j->state == JOB_REQUEUED)
                                jobs[n++] = j;
        r = job_pending_save(s->pending, jobs, n, all);
        if (r < 0)
                return log_warning_errno(r, "Failed to save the %zu pending jobs in %s/%s: %m", n,
                                         job_pending_dir(s->pending), PENDING_FILE);
        return 0;
}

static int on_save_pending(sd_event_source *src, uint64_t usec, void *userdata) {
        Scheduler *s = ASSERT_PTR(userdata);

        if (!s->stopping)
                (void) scheduler_save_pending(s, false);
        return 0;
}

/* Coalesced: one write a moment after the first change, however many follow. */
static void scheduler_pending_changed(Scheduler *s) {
        int r;

        assert(s);

        if (!s->pending || s->stopping)
                return;
        r = event_timer_arm(s->event, &s->save_source, PENDING_SAVE_USEC, PENDING_SAVE_USEC / 10,
                            on_save_pending, s, "scheduler-save-pending", true);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the timer that saves the pending jobs, ignoring: %m");
}

/* The stop: under --evict=requeue or suspend every job is kept for the next start (each running
 * or frozen one is terminated as requeued, the bus told of the waiting ones); under kill, waiting
 * jobs are dropped and running ones interrupted, as version 1 did. */
static void scheduler_stop_jobs(Scheduler *s) {
        bool keep = s->config.evict != RUNNER_EVICT_KILL && s->pending;
        Job *j;

        assert(s);

        if (keep && scheduler_save_pending(s, true) < 0)
                keep = false; /* nothing to come back from: they end here */
        if (keep)
                for (size_t i = 0; (j = runner_pending(s->runner, i)); i++) {
                        if (j->state == JOB_SUSPENDED)
                                continue; /* the runner requeues it, and says so */
                        ProtocolEvent ev = PROTOCOL_EVENT_INIT(j->id, JOB_REQUEUED);
                        LogJob lj = job_log(j);

                        log_job(LOG_INFO, &lj, "Job %" PRIu64 " kept for the next start.", j->id);
                        ev.reason = "kept for the scheduler's next start";
                        scheduler_report(s, &ev);
                }
        (void) runner_stop_all(s->runner, keep);
        if (!keep && s->pending)
                (void) scheduler_save_pending(s, false); /* nothing waits any more */
}

static void scheduler_take_job(Scheduler *s, uint64_t id, int priority, double runtime, unsigned n_requeued);

/* The jobs a predecessor left waiting: back in the queue, in their order, before any new one. */
static int scheduler_setup_pending(Scheduler *s) {
        _cleanup_free_ char *env_dir = NULL;
        _cleanup_free_ JobPendingEntry *entries = NULL;
        const char *dir = s->config.state_dir;
        size_t n = 0, bad = 0;
        int r;

        assert(s);

        if (!dir) {
                const char *e = getenv("STATE_DIRECTORY");

                if (e && *e) {
                        env_dir = strndup(e, strcspn(e, ":"));
                        if (!env_dir)
                                return log_oom();
                        dir = env_dir;
                }
        }
        r = job_pending_new(&s->pending, dir);
        if (r < 0)
                return log_error_errno(r, "Failed to open the state directory %s: %m", dir);
        if (!s->pending) {
                log_info("No state directory (--state-dir): pending jobs are not kept across restarts.");
                return 0;
        }
        r = job_pending_load(s->pending, s->config.max_pending, &entries, &n, &bad);
        if (r < 0)
                return log_error_errno(r, "Failed to read the pending jobs in %s/%s: %m", dir, PENDING_FILE);
        if (bad > 0)
                log_warning("Skipped %zu unreadable or surplus lines in %s/%s.", bad, dir, PENDING_FILE);
        if (n > 0)
                log_info("%zu jobs left waiting by the last stop are back in the queue.", n);
        for (size_t i = 0; i < n; i++)
                scheduler_take_job(s, entries[i].id, entries[i].priority, entries[i].runtime,
                                   entries[i].n_requeued);
        return 0;
}

static void on_runner_state_changed(Runner *r, Job *j, JobState old, void *userdata) {
        Scheduler *s = ASSERT_PTR(userdata);

        assert(r);
        assert(j);

        log_job_state(s, j, old);
        /* Its timeout counts from the record just written (sched-scheduler(8)). */
        if (j->state == JOB_RUNNING)
                job_run_set_started(j, now_usec(CLOCK_MONOTONIC));
        scheduler_report_job(s, j, j->state == JOB_DROPPED ? "the scheduler is stopping" : NULL);
        /* Its terminal record is written, or it is requeued (its next run is noted again): a
         * successor has nothing to say of it. A suspended job still has its processes. */
        if (s->ledger && (old == JOB_RUNNING || old == JOB_SUSPENDED) &&
            (job_state_is_terminal(j->state) || j->state == JOB_REQUEUED))
                job_ledger_remove(s->ledger, j->id);
        if (job_state_is_waiting(j->state) || job_state_is_waiting(old))
                scheduler_pending_changed(s);
        scheduler_status_changed(s);
        scheduler_maybe_exit(s);
}

/* Ids from the bus are unique until the bus restarts and counts from 1 again while older jobs still
 * run here; local ids come from a range of their own so that they never meet the bus's. */
#define LOCAL_ID_BASE (UINT64_C(1) << 62)

static uint64_t scheduler_pick_id(Scheduler *s, const JobRequest *req) {
        uint64_t id;

        assert(s);
        assert(req);

        if (req->has_id && !runner_find(s->runner, req->id))
                return req->id;
        do
                id = LOCAL_ID_BASE + ++s->next_local_id;
        while (runner_find(s->runner, id));
        if (req->has_id && log_ratelimit_allowed(&s->bad_job_limit, "bad jobs"))
                log_notice("Job id %" PRIu64 " from the bus is still in use here (did the bus restart?); "
                           "running the new job as job %" PRIu64 ".",
                           req->id, id);
        return id;
}

/* Bounds what the network can make us hold: with the queue full, a job that would wait is dropped. */
static bool scheduler_refuse(Scheduler *s, const JobRequest *req, uint64_t id) {
        LogJob lj = { .id = id, .priority = req->priority, .runtime = req->runtime, .state = JOB_DROPPED };

        assert(s);
        assert(req);

        if (runner_n_pending(s->runner) < s->config.max_pending ||
            runner_would_start(s->runner, req->priority))
                return false;
        /* A job's record: never rate-limited. */
        log_job(LOG_WARNING, &lj, "Job %" PRIu64 " dropped: %u jobs are already pending (--max-pending).",
                id, runner_n_pending(s->runner));
        ProtocolEvent ev = PROTOCOL_EVENT_INIT(id, JOB_DROPPED);
        ev.reason = "too many jobs pending (--max-pending)";
        scheduler_report(s, &ev);
        return true;
}

/* A job from the bus that never reaches the runner: its one record and its event. `reason` is static:
 * the event keeps it until it is sent. `detail` (may be NULL) goes to the log only. */
static void scheduler_drop(Scheduler *s, const JobRequest *req, uint64_t id, const char *reason,
                           const char *detail) {
        LogJob lj = { .id = id, .priority = req->priority, .runtime = req->runtime, .state = JOB_DROPPED };
        ProtocolEvent ev = PROTOCOL_EVENT_INIT(id, JOB_DROPPED);

        assert(s);
        assert(req);
        assert(reason);

        log_job(LOG_WARNING, &lj, "Job %" PRIu64 " dropped: %s%s%s.", id, reason, detail ? ": " : "",
                detail ?: "");
        ev.reason = reason;
        scheduler_report(s, &ev);
}

/* Every job we take in has an event in this loop pass (queued, running, dropped, failed), which the
 * frame that tells the bus its `received` count carries: a bus that compares that count with the
 * jobs it sent knows which are still on their way. A job that comes while we stop is dropped by
 * the runner. */
static void scheduler_submit(Scheduler *s, const JobRequest *req) {
        uint64_t id = scheduler_pick_id(s, req);
        Job *j;
        int r;

        assert(s);
        assert(req);

        s->n_received++;
        if (scheduler_refuse(s, req, id))
                return;
        r = job_new(&j, id, req->priority, req->runtime);
        if (r < 0) {
                (void) log_oom();
                return scheduler_drop(s, req, id, "out of memory", NULL);
        }
        r = runner_submit(s->runner, j);
        if (r < 0 && r != -ESHUTDOWN)
                log_error_errno(r, "Failed to schedule job %" PRIu64 ": %m", id);
}

/* A job a predecessor left waiting (PENDING_FILE): into the runner, as if it had just come. */
static void scheduler_take_job(Scheduler *s, uint64_t id, int priority, double runtime,
                               unsigned n_requeued) {
        LogJob lj = { .id = id, .priority = priority, .runtime = runtime, .state = -1 };
        Job *j;
        int r;

        assert(s);

        if (runner_find(s->runner, id)) {
                log_job(LOG_WARNING, &lj,
                        "Job %" PRIu64 " is twice in the pending jobs, ignoring the second.", id);
                return;
        }
        r = job_new(&j, id, priority, runtime);
        if (r < 0) {
                lj.state = JOB_DROPPED;
                log_job(LOG_WARNING, &lj, "Job %" PRIu64 " dropped: out of memory.", id);
                return;
        }
        j->n_requeued = n_requeued;
        r = runner_submit(s->runner, j);
        if (r < 0)
                log_error_errno(r, "Failed to schedule job %" PRIu64 ": %m", id);
}

/* A job from the bus that we cannot take, typically a runtime above our --max-runtime (the bus has
 * a limit of its own): dropped, and told, as any job the bus sent. */
static void scheduler_submit_invalid(Scheduler *s, const JobRequest *req, const ProtocolStatus *st) {
        char detail[PROTOCOL_MESSAGE_MAX * 4 + 8];

        assert(s);
        assert(req);
        assert(req->has_id);
        assert(st);

        s->n_received++;
        /* Under an id of our own if the bus's is taken, as for any job: one record per id. */
        scheduler_drop(s, req, scheduler_pick_id(s, req),
                       st->error == PROTOCOL_INVALID_RUNTIME
                               ? "runtime not accepted by the scheduler (--max-runtime)"
                               : "invalid job",
                       log_outside(st->message, strlen(st->message), detail, sizeof detail));
}

/* A cancel from the bus: a pending job leaves the queue, a running one is terminated. */
static void scheduler_cancel(Scheduler *s, uint64_t id) {
        Job *j = runner_find(s->runner, id);
        int r;

        assert(s);

        if (!j) {
                log_debug("Cancel of job %" PRIu64 ": not here (ended, or never came), ignoring.", id);
                return;
        }
        r = runner_cancel(s->runner, j);
        if (r == -EALREADY) {
                LogJob lj = job_log(j);
                log_job(LOG_INFO, &lj, "Cancel of job %" PRIu64 ": it is ending already (%s), ignoring.", id,
                        job_state_to_string(j->state));
        } else if (r < 0)
                log_warning_errno(r, "Failed to cancel job %" PRIu64 ", ignoring: %m", id);
}

static void scheduler_handle_frame(Scheduler *s, const char *data, size_t size) {
        ProtocolStatus st = {};
        BusMessage m;

        if (bus_message_parse(&m, data, size, s->config.max_runtime, &st) < 0) {
                char detail[PROTOCOL_MESSAGE_MAX * 4 + 8];

                if (m.kind == BUS_MESSAGE_JOB && m.job.has_id)
                        return scheduler_submit_invalid(s, &m.job, &st);

                if (log_ratelimit_allowed(&s->bad_job_limit, "bad jobs"))
                        log_warning("Ignoring a message from the bus: %s: %s",
                                    protocol_error_to_string(st.error),
                                    log_outside(st.message, strlen(st.message), detail, sizeof detail));
                return;
        }
        if (m.kind == BUS_MESSAGE_JOB)
                scheduler_submit(s, &m.job);
        else if (!s->stopping) /* everything is being terminated already */
                scheduler_cancel(s, m.id);
}

static void on_link_message(BusLink *l, const char *data, size_t size, void *userdata) {
        Scheduler *s = ASSERT_PTR(userdata);
        char *f;

        assert(l);

        if (s->stopping || (ring_size(&s->spawn_queue) == 0 && ring_size(&s->inbox) == 0))
                return scheduler_handle_frame(s, data, size);
        f = malloc(sizeof size + size + 1); /* NUL-terminated, as the link delivers it */
        if (!f || ring_push(&s->inbox, &f, SIZE_MAX) < 0) {
                free(f);
                (void) log_oom();
                return scheduler_handle_frame(s, data, size);
        }
        memcpy(f, &size, sizeof size);
        memcpy(f + sizeof size, data, size);
        f[sizeof size + size] = 0;
        s->inbox_bytes += size;
        scheduler_pace_intake(s);
}

/* The register frame of the next connection carries the load of now: jobs only end or start from
 * the queue while the bus is away, so it never says there is more room than there is. The load of
 * the moment still follows the register frame at once. */
static void scheduler_update_hello(Scheduler *s) {
        _cleanup_free_ char *hello = NULL;
        ProtocolLoad load;

        if (!s->link || !s->runner)
                return;
        load = scheduler_load(s);
        load.received = 0;
        if (protocol_dump_register_scheduler(s->config.name, s->config.size, &load, &hello, NULL) < 0 ||
            bus_link_set_hello(s->link, hello) < 0)
                log_oom(); /* the one made at start goes on serving */
}

static void on_link_connected(BusLink *l, void *userdata) {
        Scheduler *s = ASSERT_PTR(userdata);

        assert(l);

        log_info("Connected to the bus at %s, registered as scheduler %s.", bus_link_get_url(l),
                 s->config.name);
        scheduler_status_changed(s);
        /* A new connection counts its own jobs. The register frame is the text made at start, with
         * the load of then: the load of now follows it at once, alone or with what happened while
         * the bus was away. */
        s->n_received = 0;
        s->load_due = true;
        (void) sd_event_source_set_enabled(s->events_source, SD_EVENT_ONESHOT);
}

static void on_link_disconnected(BusLink *l, const char *reason, void *userdata) {
        Scheduler *s = ASSERT_PTR(userdata);

        assert(l);
        assert(reason);

        /* A refusal is ours to fix (the token, the certificates): said so, and tried again all the
         * same, as the bus may change its mind (its tokens are read again on SIGHUP). */
        if (!s->stopping && bus_link_reason_is_final(reason))
                log_warning(
                        "Cannot use the bus at %s (%s): check --token-file, --cert and --ca; running jobs "
                        "go on, trying again in %.3g s.",
                        bus_link_get_url(l), reason, (double) bus_link_get_retry_usec(l) / USEC_PER_SEC);
        else if (!s->stopping)
                log_warning("Bus at %s unavailable (%s); running jobs go on, reconnecting in %.3g s.",
                            bus_link_get_url(l), reason, (double) bus_link_get_retry_usec(l) / USEC_PER_SEC);
        scheduler_drop_inbox(s);
        scheduler_status_changed(s);
        scheduler_update_hello(s);
}

static int on_signal(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata) {
        Scheduler *s = ASSERT_PTR(userdata);

        if (s->stopping)
                return 0;
        s->stopping = true;
        log_info("Received %s, terminating %u jobs and stopping.",
                 si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT", runner_n_alive(s->runner));
        (void) sd_notify(false, "STOPPING=1");
        /* The bus hears how every job ended before we leave; a job that still comes is dropped by the
         * runner, and told. */
        bus_link_set_reconnect(s->link, false);
        scheduler_stop_jobs(s);
        scheduler_drain_inbox(s);
        /* A predecessor's leftover that cgroup.kill cannot empty must not hold the stop until
         * systemd's SIGKILL: after the grace and a second, it is left where it is. */
        if (s->cgroups && job_cgroups_n_recovering(s->cgroups) > 0)
                (void) event_timer_arm(s->event, &s->leftover_source, s->config.grace_usec + USEC_PER_SEC, 0,
                                       on_leftover_timeout, s, "scheduler-leftover-timeout", false);
        scheduler_status_changed(s);
        scheduler_maybe_exit(s);
        return 0;
}

/* HOSTNAME@INSTANCE, as the unit sched-scheduler@INSTANCE on that host; a host name the bus would
 * refuse (it takes [A-Za-z0-9_.:@/-]) becomes "scheduler". NULL on ENOMEM. */
static char *scheduler_default_name(const char *instance) {
        char host[HOST_NAME_MAX + 1] = "", *name;

        if (!instance)
                return NULL;
        (void) gethostname(host, sizeof host);
        host[sizeof host - 1] = '\0';
        if (asprintf(&name, "%s@%s", host, instance) < 0)
                return NULL;
        if (protocol_name_is_valid(name))
                return name;
        free(name);
        if (asprintf(&name, "scheduler@%s", instance) < 0 || !protocol_name_is_valid(name))
                return NULL;
        return name;
}

int scheduler_new(Scheduler **ret, const SchedulerConfig *config) {
        _cleanup_free_ Scheduler *s = calloc(1, sizeof *s);
        char size[16];

        assert(ret);
        assert(config);

        if (!s)
                return -ENOMEM;
        s->config = *config;
        (void) snprintf(size, sizeof size, "%u", config->size);
        s->config.bus_url = strdup(config->bus_url ?: BUS_LINK_URL_DEFAULT);
        s->config.instance = strdup(config->instance ?: size);
        s->config.cgroup = config->cgroup ? strdup(config->cgroup) : NULL;
        s->config.name = config->name ? strdup(config->name) : scheduler_default_name(s->config.instance);
        if (!s->config.bus_url || !s->config.instance || (config->cgroup && !s->config.cgroup) ||
            !s->config.name) {
                free(s->config.bus_url);
                free(s->config.instance);
                free(s->config.cgroup);
                free(s->config.name);
                return -ENOMEM;
        }
        s->bad_job_limit = RATELIMIT_INIT(USEC_PER_SEC, 10);
        s->spawn_queue = RING_INIT(Job *);
        s->inbox = RING_INIT(char *);
        s->events = RING_INIT(ProtocolEvent);
        s->status = THROTTLE_INIT(config->status_interval_usec, on_status, s);
        *ret = TAKE_PTR(s);
        return 0;
}

static int scheduler_setup_event(Scheduler *s) {
        int r;

        assert(s);

        r = event_new_daemon(&s->event, on_signal, s);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m");

        r = sd_event_add_defer(s->event, &s->spawn_source, on_spawn, s);
        if (r < 0)
                return log_error_errno(r, "Failed to add the job spawn source: %m");
        (void) sd_event_source_set_enabled(s->spawn_source, SD_EVENT_OFF);
        (void) sd_event_source_set_priority(s->spawn_source, SD_EVENT_PRIORITY_NORMAL + 10);
        (void) sd_event_source_set_description(s->spawn_source, "scheduler-spawn");

        /* Below the spawns too: the events of a pass go out after its work, in one frame. */
        r = sd_event_add_defer(s->event, &s->events_source, on_events, s);
        if (r < 0)
                return log_error_errno(r, "Failed to add the job event source: %m");
        (void) sd_event_source_set_enabled(s->events_source, SD_EVENT_OFF);
        (void) sd_event_source_set_priority(s->events_source, EVENTS_PRIORITY);
        (void) sd_event_source_set_description(s->events_source, "scheduler-events");
        return 0;
}

/* Where jobs run: a cgroup each (or a scope unit each, with --scope), whose kill leaves nothing
 * behind; or the fallback, where the scheduler is child subreaper, so that what a job leaves behind
 * is re-parented to it, found and killed. */
static int scheduler_setup_containment(Scheduler *s) {
        int r;

        assert(s);

        r = job_cgroups_new(&s->cgroups, s->event, s->config.scope ? "off" : s->config.cgroup,
                            on_leftover_gone, s);
        if (r < 0)
                return r;
        (void) job_cgroups_recover(s->cgroups);
        r = job_ledger_new(&s->ledger, NULL);
        if (r < 0)
                log_warning_errno(r, "Cannot use the runtime directory for the ledger of running jobs; a "
                                     "successor of a scheduler that dies will not know them: %m");
        if (s->ledger) {
                r = job_ledger_recover(s->ledger, ledger_skip, on_ledger_left, s);
                if (r < 0)
                        log_warning_errno(r, "Failed to read the ledger of running jobs in %s, ignoring: %m",
                                          job_ledger_dir(s->ledger));
        }
        if (job_cgroups_parent(s->cgroups) || s->config.scope)
                return 0;
        r = job_reaper_new(&s->reaper, s->event);
        if (r < 0)
                log_warning_errno(r, "Cannot become a child subreaper; processes a job leaves behind "
                                     "are not looked after: %m");
        return 0;
}

static int scheduler_setup(Scheduler *s) {
        static const RunnerOps ops = {
                .start = on_runner_start,
                .stop = on_runner_stop,
                .state_changed = on_runner_state_changed,
                .ending = on_runner_ending,
                .suspend = on_runner_suspend,
                .resume = on_runner_resume,
        };
        static const BusLinkHandlers link_handlers = {
                .on_connected = on_link_connected,
                .on_disconnected = on_link_disconnected,
                .on_message = on_link_message,
        };
        _cleanup_free_ char *hello = NULL;
        char error[512];
        ProtocolLoad load;
        int r;

        assert(s);

        r = scheduler_setup_event(s);
        if (r < 0)
                return r;

        if (s->config.scope) {
                r = job_scope_new(&s->scope, s->event, s->config.user, s->config.instance);
                if (r < 0)
                        return log_error_errno(
                                r,
                                "--scope: cannot reach the %s service manager to create scope "
                                "units: %m",
                                s->config.user ? "user" : "system");
                /* Before anything else runs: nothing but the connection is root's. */
                r = job_scope_drop_privileges();
                if (r < 0)
                        return r;
        }

        r = scheduler_setup_containment(s);
        if (r < 0)
                return r;

        s->run_config = (JobRunConfig){
                .event = s->event,
                .exec_argv = s->config.exec_argv,
                .timeout_usec = s->config.timeout_usec,
                .grace_usec = s->config.grace_usec,
                .scope = s->scope,
                .cgroups = s->cgroups,
                .reaper = s->reaper,
                .instance = s->config.instance,
                .on_exited = on_job_exited,
                .userdata = s,
        };
        r = runner_new(&s->runner, s->config.size, &ops, s);
        if (r < 0)
                return log_error_errno(r, "Failed to create the runner: %m");
        r = runner_set_evict(s->runner, s->config.evict, s->config.max_requeue,
                             s->config.max_suspended ?: s->config.size);
        if (r < 0)
                return log_error_errno(r, "Failed to set the eviction mode: %m");

        load = scheduler_load(s);
        r = protocol_dump_register_scheduler(s->config.name, s->config.size, &load, &hello, NULL);
        if (r == -EINVAL)
                return log_error_errno(r, "Invalid scheduler name \"%s\" or size %u for the bus.",
                                       s->config.name, s->config.size);
        if (r < 0)
                return log_oom();
        r = bus_link_new(&s->link, s->event, s->config.bus_url, hello, &link_handlers, s);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the bus connection to %s: %m",
                                       s->config.bus_url);
        r = bus_link_load_auth(s->link, &s->config.auth, error, sizeof error);
        if (r < 0)
                return log_error_errno(r, "%s.", error);
        /* The token is read: jobs inherit our environment, and need not be shown where it lies. */
        (void) unsetenv("CREDENTIALS_DIRECTORY");
        /* Before the bus can send any: the jobs a predecessor left go first. */
        r = scheduler_setup_pending(s);
        if (r < 0)
                return r;
        r = bus_link_start(s->link);
        if (r == -EIO || r == -EINVAL)
                return log_error_errno(r, "Failed to set up the connection to %s: %s", s->config.bus_url,
                                       r == -EIO ? "a CA or client certificate that does not load (--ca, "
                                                   "--cert, --key)?"
                                                 : "not a ws:// or wss:// URL");
        if (r < 0)
                log_warning_errno(r, "Failed to start connecting to %s, will retry: %m", s->config.bus_url);
        return 0;
}

int scheduler_run(Scheduler *s) {
        int r;

        assert(s);

        r = scheduler_setup(s);
        if (r < 0)
                return r;

        log_info("Scheduler ready: %u slots, job timeout %.3f s, evict=%s, bus %s, jobs in %s.",
                 s->config.size, (double) s->config.timeout_usec / USEC_PER_SEC,
                 runner_evict_to_string(s->config.evict), s->config.bus_url,
                 s->config.scope ? "scope units" : job_cgroups_describe(s->cgroups));
        (void) sd_notify(false, "READY=1");
        (void) scheduler_send_status(s);

        r = sd_event_loop(s->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");

        const RunnerStats *st = runner_stats(s->runner);
        log_info("Stopped: done %" PRIu64 ", failed %" PRIu64 ", timeout %" PRIu64 ", evicted %" PRIu64
                 ", cancelled %" PRIu64 ", dropped %" PRIu64 ", interrupted %" PRIu64 ", suspended %" PRIu64
                 ", requeued %" PRIu64 ".",
                 st->done, st->failed, st->timeout, st->evicted, st->cancelled, st->dropped, st->interrupted,
                 st->suspended, st->requeued);
        return 0;
}
