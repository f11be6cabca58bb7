/* SPDX-License-Identifier: MIT */
/*
 * bench-bus-load: fan-out throughput and latency of a bus (sched-bus, or any bus that speaks the
 * protocol, given by URL). P producer connections submit job_request frames; S scheduler
 * connections (the receivers) count what arrives. Each payload carries its send time
 * (CLOCK_MONOTONIC, ns) in an extra field, "bench_t", which a bus forwards untouched.
 *
 * Throughput runs: N jobs, sent as fast as the bus takes them, with at most --window jobs not yet
 * received by every scheduler (so that a bus's per-client send queue never overflows and closes
 * one of ours). Delivered messages/s = S x N / (last receipt - first send).
 * Latency runs: an open-loop offered rate (jobs/s) for a fixed time; every receipt gives one
 * send->receipt sample.
 * Events runs (--events): the schedulers register as reporting schedulers and answer every job
 * with "running" and "done" (bus-load-events.h); O observer connections count the job events the
 * bus passes on. The window then counts jobs whose events have not all reached every observer, and
 * jobs/s = N / (last event at an observer - first send). Every observer must get exactly 2 x S
 * events per job: a run that breaks that is reported job by job.
 *
 * With --dispatch=one (issue 13) the buses run with that mode: each job goes to one scheduler, so
 * a run is done when the schedulers have received N jobs in all (jobs/s = N / (last receipt - first
 * send)), or in events runs when every observer has the 2 events of each job; every job must reach
 * exactly one scheduler, once, which is checked job by job. Reporting schedulers then tell their
 * load in every frame (--report-load), or the bus would stop giving them jobs.
 *
 * The load must never be the limit it measures (issue 17). So the connections are raw sockets
 * (bench-ws.h) rather than the glue, whose client would cost this process more than the bus its
 * work (--glue: the old load; the producer of events runs stays on the glue, as before), and
 * throughput and latency runs spread them over --procs processes: this one starts the buses and
 * holds the producers; worker processes, forked as soon as the options are parsed (before any
 * socket or loop exists), hold the receivers, round robin. They share one anonymous mapping: per
 * bus, whether a run is on, what each receiver got (its own cache line) and when last, the
 * latency samples, errors. The producer waits for the window on an eventfd that a receiver writes
 * only when the producer has said it waits and the count it waits for is reached, so no process
 * spins. Events and --dispatch=one runs stay in one process: their job-by-job checks need every
 * tally in one place.
 *
 * --scale LIST: one producer, a throughput run for each S of the list, and per bus a table, a
 * least-squares fit of the bus's CPU per job against S (a cost per job and one per receiver) and
 * where more receivers stop paying (the knee).
 *
 * Run for run, the same load goes to every bus of the comparison, in turn (the order rotates from
 * run to run): the bus under test; the bus before a change (--compare-binary), for ratios
 * after/before; and bench-null-bus (null-bus.c), a fan-out server on the same glue that does no
 * protocol work, whose ratio says how much of the cost is the bus's own.
 *
 * The benchmark owns its LoadProcs (the workers, reaped at the end, and the shared mapping) and
 * one Target per bus; a Target owns its loop and the Load of its bus, whose part in each worker
 * is a Load there, opened and closed by the parent's Load.
 *
 * This file: the Load, a worker's part of it, the runs and their tables, the options and main();
 * bus-load-procs.c the processes and their shared mapping, bus-load-scale.c the --scale runs and
 * their report, bus-load-events.c the job events a Load sends and checks.
 */
#include <errno.h>
#include <sched.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench-daemon.h"
#include "bench-net.h"
#include "bench-option.h"
#include "bench-util.h"
#include "bus-auth.h"
#include "bus-load-events.h"
#include "bus-load-internal.h"
#include "bus-load-procs.h"
#include "bus-load-scale.h"
#include "escape.h"

#define TICK_NS           (200 * NSEC_PER_USEC) /* pacing step of latency runs */
#define PROBE_INTERVAL_NS (20 * NSEC_PER_MSEC)
#define SYNC_TIMEOUT_NS   (10 * NSEC_PER_SEC)
#define DRAIN_TIMEOUT_NS  (60 * NSEC_PER_SEC)
/* Slots a reporting scheduler connection claims: under broadcast the bus only shows them; under
 * --dispatch=one it sends a scheduler jobs while it has free ones, and this many per connection are
 * more than the window lets be in flight, so that the bus, not the slots, sets the pace. */
#define SLOTS_DEFAULT     8
#define ONE_SLOTS_DEFAULT 1024
/* Defaults that depend on --events. The window bounds what the bus queues for each scheduler: at
 * most 4096 messages (~120 bytes each, ~0.5 MB) whatever S is, under sched-bus's per-client bounds
 * (16384 messages, 4 MB; a quarter of either is its high-water mark, above which producers wait)
 * and the null bus's (65536, 16 MB); S = 64 makes it ~31 MB in all. The bus sends an observer 2 x S
 * events per job: 1024 jobs in flight keep its queue for one observer far from full. Under
 * --dispatch=one without events the window is WINDOW_DEFAULT x S jobs, as many messages to
 * schedulers as under broadcast: with 4096 jobs (1024 a scheduler) neither sched-bus nor the null
 * bus is busy all the time, the run is bound by the round trips. */
#define WINDOW_DEFAULT        4096
#define EVENTS_WINDOW_DEFAULT 1024
#define RATE_DEFAULT          20000
/* The processes of the load. A producer woken by another process finds a sixteenth of the window
 * free (a wakeup per 256 jobs with the default window), not one job: a wakeup costs more than the
 * job. In one process the receivers top it up at once, as before. */
#define REFILL_PARTS      16
#define OPEN_TIMEOUT_NS   (5 * NSEC_PER_SEC) /* per connection a worker opens, as a connect's */
#define CLOSE_TIMEOUT_NS  (5 * NSEC_PER_SEC)
#define WORKER_CHECK_USEC (1 * USEC_PER_SEC) /* a worker looks at its parent at least this often */
/* Latency samples kept (in the shared mapping, touched as they come): 512 MB of address space. */
#define LATENCY_SAMPLES_MAX (UINT64_C(1) << 26)

/* One bus's load in one process: in the parent the producers, and the receivers and observers it
 * holds; in a worker, its receivers. The counts of the run are in `shared`. */
struct Load {
        LoadConfig config;
        LoadProcs *procs;
        LoadShared *shared;
        unsigned slot; /* of `shared` in the mapping */
        BenchNet *net;
        /* schedulers[i] is NULL for a receiver another process holds */
        BenchConn *producers[CONNS_MAX], *schedulers[CONNS_MAX], *observers[CONNS_MAX];
        sd_event_source *tick_source;               /* paced sending */
        sd_event_source *flush_source;              /* events: the schedulers' answers, once per loop pass */
        sd_event_source *wake_source;               /* the workers' receivers wake the producer */
        sd_event_source *worker_sources[PROCS_MAX]; /* a worker's control socket hangs up: it is gone */
        unsigned n_opened;                          /* workers that hold their receivers of this load */
        JobEventBatch batches[CONNS_MAX];           /* events: what each scheduler connection owes the bus */
        JobEventTally tallies[CONNS_MAX];           /* events: what each observer got in the current run */
        uint64_t observed[CONNS_MAX]; /* events: every event an observer got, probes' included */
        JobEventTally receipts;       /* one: the run's jobs the schedulers got, job by job */
        uint64_t max_id;              /* one, events: the highest job id a scheduler got */

        /* The current run, in the producer's process. */
        bool paced;
        uint64_t target, sent, t_start, t_first_send, t_last_observed;
        uint64_t refill; /* jobs the window must have free before receivers wake a waiting producer */
        unsigned next_producer;
        bool broken;
        bool noted_unexpected;
};

static int load_new(Load **ret, const LoadConfig *config, LoadProcs *procs, unsigned slot, sd_event *event);

/* Tells every worker that opened its part of the load to close it. */
static void load_close_workers(Load *l) {
        WorkerCommand cmd = { .op = WORKER_CLOSE, .slot = l->slot };

        for (unsigned k = 1; k <= l->n_opened; k++)
                (void) procs_command(l->procs, k, &cmd, CLOSE_TIMEOUT_NS);
        l->n_opened = 0;
}

Load *load_free(Load *l) {
        if (!l)
                return NULL;
        sd_event_source_disable_unref(l->tick_source);
        sd_event_source_disable_unref(l->flush_source);
        sd_event_source_disable_unref(l->wake_source);
        for (unsigned k = 0; k < PROCS_MAX; k++)
                sd_event_source_disable_unref(l->worker_sources[k]);
        l->net = bench_net_free(l->net);
        load_close_workers(l);
        for (unsigned i = 0; i < CONNS_MAX; i++) {
                job_event_batch_done(&l->batches[i]);
                job_event_tally_done(&l->tallies[i]);
        }
        job_event_tally_done(&l->receipts);
        return mfree(l);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Load *, load_free);

static bool load_running(const Load *l) {
        return atomic_load_explicit(&l->shared->running, memory_order_relaxed);
}

/* The unsigned number after `"key":` in a frame, or 0 if there is none. Enough for the flat
 * frames a bus forwards: the payload's "bench_t" (a probe and an error frame have none), a job's
 * "id". With `from`, the search starts there, and at the frame's start if that finds nothing. */
static uint64_t frame_number(const char *data, const char *from, const char *key) {
        const char *p = from ? strstr(from, key) : NULL;

        if (!p)
                p = strstr(data, key);
        if (!p)
                return 0;
        p += strlen(key);
        p += strspn(p, " \t:");
        return *p >= '0' && *p <= '9' ? job_event_parse_u64(p) : 0;
}

/* Where "bench_t" is in a frame, or NULL (a probe, an error frame). Searched from the end, where
 * both buses put it (the payload's last field, maybe the bus's id after it), so that a receiver
 * looks at a few bytes of each job rather than all of them. */
static const char *frame_find_bench_t(const char *data, size_t size) {
        static const char key[] = "\"bench_t\"";
        const size_t n = sizeof key - 1;

        for (size_t i = size >= n ? size - n + 1 : 0; i-- > 0;)
                if (data[i] == '"' && memcmp(data + i, key, n) == 0)
                        return data + i;
        return NULL;
}

/* The send time at "bench_t" (0 if no number follows). */
static uint64_t bench_t_value(const char *bench_t) {
        const char *p = bench_t + strlen("\"bench_t\"");

        p += strspn(p, " \t:");
        return *p >= '0' && *p <= '9' ? job_event_parse_u64(p) : 0;
}

static bool frame_is_error(const char *data) {
        return strstr(data, "\"error\"");
}

/* An error frame from the bus ends the benchmark: said once (by whichever process got it), quoted. */
static void load_refused(Load *l, const char *role, unsigned index, const char *data, size_t size) {
        char text[512];

        if (!atomic_exchange(&l->shared->refused, true))
                fprintf(stderr, "bench-bus-load: %s answered %s connection %u with an error frame: %s\n",
                        l->config.name, role, index, escape_quoted(data, size, text, sizeof text));
        if (l->procs->self > 0)
                procs_wake(l->procs);
}

/* Schedulers a job goes to: every one, or under --dispatch=one a single one. */
static unsigned receivers_per_job(const LoadConfig *c) {
        return c->one ? 1 : c->n_schedulers;
}

static unsigned load_events_per_job(const Load *l) {
        return receivers_per_job(&l->config) * JOB_EVENTS_PER_JOB_AND_SCHEDULER;
}

/* Whether the window and the clock go by the observers (events runs with observers). */
static bool load_by_observers(const Load *l) {
        return l->config.events && l->config.n_observers > 0;
}

/* The run's jobs received: by the slowest scheduler, or under --dispatch=one by all of them. The
 * loads are sequentially consistent: see load_receive(). */
static uint64_t load_received(const Load *l) {
        uint64_t m = l->config.one ? 0 : UINT64_MAX;

        for (unsigned i = 0; i < l->config.n_schedulers; i++) {
                uint64_t n = atomic_load(&l->shared->receivers[i].received);

                m = l->config.one ? m + n : MIN(m, n);
        }
        return m;
}

/* Jobs done with: received (by every scheduler, or by one under --dispatch=one), or in events runs
 * with observers, every event of them seen by every observer (counted, not matched: the check at
 * the end of the run matches them job by job). */
static uint64_t load_jobs_done(const Load *l) {
        uint64_t m = UINT64_MAX;

        if (!load_by_observers(l))
                return load_received(l);
        for (unsigned i = 0; i < l->config.n_observers; i++)
                m = MIN(m, l->tallies[i].n_events);
        return m / load_events_per_job(l);
}

static int load_send_job(Load *l) {
        BenchConn *p = l->producers[l->next_producer++ % l->config.n_producers];
        char frame[160];
        uint64_t now = bench_now_ns();
        int n, r;

        n = snprintf(frame, sizeof frame,
                     "{\"cmd\": \"job_request\", \"payload\": {\"priority\": 5, \"runtime\": 0, "
                     "\"bench_t\": %" PRIu64 "}}",
                     now);
        r = bench_conn_send(p, frame, (size_t) n);
        if (r < 0)
                return r;
        if (l->sent == 0)
                l->t_first_send = now;
        l->sent++;
        return 0;
}

/* The producer waits until the receivers have `want` jobs (each, or in all under --dispatch=one).
 * Returns true when they have already: the wait is called off, the caller goes on. */
static bool load_wait(Load *l, uint64_t want) {
        LoadShared *s = l->shared;

        atomic_store(&s->wait_for, want);
        atomic_store(&s->waiting, true);
        return load_received(l) >= want && atomic_exchange(&s->waiting, false);
}

/* Throughput runs: as many jobs as the window lets go. Then, unless the observers drive it (they
 * call this on every frame), the producer waits: for `refill` jobs of the window to come free, or
 * all sent, for the last receipts. */
static void load_top_up(Load *l) {
        for (;;) {
                uint64_t done = load_jobs_done(l);

                if (!load_running(l) || l->paced || (l->sent == l->target && done >= l->target))
                        return;
                while (l->sent < l->target && l->sent - MIN(done, l->sent) < l->config.window)
                        if (load_send_job(l) < 0) {
                                l->broken = true;
                                return;
                        }
                if (load_by_observers(l))
                        return;
                if (!load_wait(l, l->sent < l->target ? done + l->refill : l->target))
                        return;
        }
}

/* Receivers in this process wake the producer by topping up at once; in a worker, through the
 * eventfd the producer's loop watches. */
static void load_wake(Load *l) {
        if (l->procs->self > 0)
                procs_wake(l->procs);
        else
                load_top_up(l);
}

static void load_add_latency(Load *l, uint64_t ns) {
        Shared *sh = l->procs->shared;
        uint64_t k = atomic_fetch_add_explicit(&sh->n_latencies, 1, memory_order_relaxed);

        if (k < sh->latencies_max)
                sh->latencies[k] = (double) ns / 1000.0;
}

/* Receiver c got a job of the run (its "bench_t" there). The receiver stores its count before it
 * looks at `waiting`, and the producer says it waits before it looks at the counts (all
 * sequentially consistent): so either the producer sees the count that completes what it waits
 * for, or the receiver whose count completes it sees the producer waiting, and wakes it. Only that
 * receiver looks at the others' counts: under broadcast, the one whose count reaches `wait_for`
 * (each does once per wait). */
static void load_receive(Load *l, BenchConn *c, const char *bench_t) {
        LoadShared *s = l->shared;
        ReceiverShared *rc = &s->receivers[c->index];
        uint64_t n = atomic_load_explicit(&rc->received, memory_order_relaxed) + 1, want;

        if (load_by_observers(l)) {
                atomic_store(&rc->received, n);
                return; /* the clock and the window go by the observers, whose events come after this */
        }
        if (atomic_load_explicit(&s->paced, memory_order_relaxed))
                load_add_latency(l, c->rx_ns - bench_t_value(bench_t));
        atomic_store_explicit(&rc->last_ns, c->rx_ns, memory_order_relaxed);
        atomic_store(&rc->received, n); /* after the sample: the producer reads those once all came */
        if (!atomic_load(&s->waiting))
                return;
        want = atomic_load(&s->wait_for);
        if ((l->config.one || n == want) && load_received(l) >= want && atomic_exchange(&s->waiting, false))
                load_wake(l);
}

/* Events: a reporting scheduler answers every job it gets (a probe too), at the end of the loop
 * pass. Under broadcast, the first job of a run with a send time is the run's lowest id (ids grow,
 * and every scheduler gets every job in order): the observers count from it. (Under
 * --dispatch=one, connections may see the run's first jobs in any order: load_reset() starts the
 * count after the last id of before the run.) */
static void load_answer(Load *l, BenchConn *c, uint64_t id, bool timed) {
        if (id == 0)
                return; /* not a job */
        if (!l->config.one && timed && load_running(l) && l->config.n_observers > 0 &&
            !l->tallies[0].started)
                for (unsigned i = 0; i < l->config.n_observers; i++)
                        job_event_tally_start(&l->tallies[i], id);
        if (job_event_batch_add(&l->batches[c->index], id) < 0) {
                l->broken = true;
                return;
        }
        (void) sd_event_source_set_enabled(l->flush_source, SD_EVENT_ONESHOT);
}

static void on_scheduler_message(BenchConn *c, const char *data, size_t size, void *userdata) {
        Load *l = ASSERT_PTR(userdata);
        const char *bench_t = frame_find_bench_t(data, size);
        uint64_t id = 0;

        if (l->config.events || l->config.one) {
                /* Both buses put the id after the payload's fields: look behind "bench_t" first. */
                id = frame_number(data, bench_t, "\"id\"");
                l->max_id = MAX(l->max_id, id);
        }
        if (l->config.events)
                load_answer(l, c, id, bench_t);
        if (!bench_t) {
                ReceiverShared *rc = &l->shared->receivers[c->index];

                if (frame_is_error(data))
                        load_refused(l, "scheduler", c->index, data, size);
                else
                        atomic_store_explicit(&rc->probes,
                                              atomic_load_explicit(&rc->probes, memory_order_relaxed) + 1,
                                              memory_order_relaxed);
                return;
        }
        if (!load_running(l))
                return;
        if (l->config.one)
                job_event_tally_add_receipt(&l->receipts, id);
        load_receive(l, c, bench_t);
}

/* A worker's receiver is gone: the run fails, and the producer hears it now. */
static void on_receiver_closed(BenchConn *c, void *userdata) {
        Load *l = ASSERT_PTR(userdata);

        atomic_store(&l->shared->closed, true);
        procs_wake(l->procs);
}

static int load_send_events(const char *frame, size_t size, void *userdata) {
        return bench_conn_send(userdata, frame, size);
}

static int on_flush(sd_event_source *s, void *userdata) {
        Load *l = ASSERT_PTR(userdata);

        for (unsigned i = 0; i < l->config.n_schedulers; i++)
                if (job_event_batch_flush(&l->batches[i], load_send_events, l->schedulers[i]) < 0)
                        l->broken = true;
        return 0;
}

static void on_observer_message(BenchConn *c, const char *data, size_t size, void *userdata) {
        Load *l = ASSERT_PTR(userdata);
        JobEventTally *t = &l->tallies[c->index];
        uint64_t before = t->n_events;
        char text[256];
        int n;

        n = job_event_tally_add(t, data);
        if (n < 0) {
                if (frame_is_error(data))
                        load_refused(l, "observer", c->index, data, size);
                else if (!l->noted_unexpected) {
                        fprintf(stderr,
                                "bench-bus-load: %s sent observer %u a frame that is no job event, "
                                "ignoring: %s\n",
                                l->config.name, c->index, escape_quoted(data, size, text, sizeof text));
                        l->noted_unexpected = true;
                }
                return;
        }
        l->observed[c->index] += (uint64_t) n;
        if (load_running(l) && t->n_events > before) {
                l->t_last_observed = bench_now_ns();
                load_top_up(l);
        }
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Load *l = ASSERT_PTR(userdata);
        uint64_t now = bench_now_ns();
        uint64_t due = (uint64_t) ((double) (now - l->t_start) * (double) l->config.rate / 1e9);

        due = MIN(due, l->target);
        while (l->sent < due)
                if (load_send_job(l) < 0) {
                        l->broken = true;
                        return 0;
                }
        if (l->sent < l->target) {
                (void) sd_event_source_set_time(s, usec + TICK_NS / NSEC_PER_USEC);
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        } else
                (void) load_wait(l, l->target); /* woken for the last receipts */
        return 0;
}

/* A worker's receiver wrote the eventfd: the window may have opened, or the run may be over. */
static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Load *l = ASSERT_PTR(userdata);
        uint64_t v;

        (void) !read(fd, &v, sizeof v); /* EAGAIN if another loop of ours read it first */
        load_top_up(l);
        return 0;
}

/* A worker's control socket is readable: a late answer, or the worker is gone. */
static int on_worker_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Load *l = ASSERT_PTR(userdata);
        int answer;
        ssize_t n = recv(fd, &answer, sizeof answer, MSG_DONTWAIT);

        if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
                return 0;
        for (unsigned k = 1; k <= l->procs->n_workers; k++)
                if (l->procs->fds[k - 1] == fd)
                        procs_note_gone(l->procs, k);
        return sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

static bool load_any_closed(Load *l) {
        for (unsigned i = 0; i < l->config.n_schedulers; i++)
                if (l->schedulers[i] && l->schedulers[i]->closed)
                        return true;
        for (unsigned i = 0; i < l->config.n_observers; i++)
                if (l->observers[i]->closed)
                        return true;
        for (unsigned i = 0; i < l->config.n_producers; i++)
                if (l->producers[i]->closed)
                        return true;
        return false;
}

static bool load_failed(Load *l) {
        LoadShared *s = l->shared;

        return l->broken || interrupted || l->procs->dead || atomic_load(&s->broken) ||
               atomic_load(&s->refused) || atomic_load(&s->closed) || load_any_closed(l);
}

/* What a failed run's error says: a load process gone is said as such (the line before says how). */
const char *run_error_text(int r) {
        return r == -ECHILD ? "a load process is gone" : strerror(-r);
}

static int load_error(Load *l) {
        if (interrupted)
                return -EINTR;
        if (atomic_load(&l->shared->refused))
                return -EPROTO;
        return l->procs->dead ? -ECHILD : -ECONNRESET;
}

static double load_events_per_frame(Load *l) {
        uint64_t events = 0, frames = 0;

        for (unsigned i = 0; i < l->config.n_observers; i++) {
                events += l->tallies[i].n_events;
                frames += l->tallies[i].n_frames;
        }
        return frames > 0 ? (double) events / (double) frames : 0;
}

static bool run_done(void *userdata) {
        Load *l = userdata;

        if (load_failed(l))
                return true;
        return l->sent == l->target && load_jobs_done(l) >= l->target;
}

/* Every scheduler connection has received a probe (and answered it: every observer has seen an
 * event), or the bus has refused something. */
static bool load_synced(void *userdata) {
        Load *l = userdata;

        if (load_failed(l))
                return true;
        for (unsigned i = 0; i < l->config.n_schedulers; i++)
                if (atomic_load_explicit(&l->shared->receivers[i].probes, memory_order_relaxed) == 0)
                        return false;
        for (unsigned i = 0; i < l->config.n_observers; i++)
                if (l->observed[i] == 0)
                        return false;
        return true;
}

/* Until every connection has seen a probe, the bus may not know them all yet. */
static int load_sync(Load *l) {
        static const char probe[] =
                "{\"cmd\": \"job_request\", \"payload\": {\"priority\": 10, \"runtime\": 0}}";
        uint64_t deadline = bench_now_ns() + SYNC_TIMEOUT_NS;

        while (!load_synced(l)) {
                int r = bench_conn_send(l->producers[0], probe, sizeof probe - 1);

                if (r < 0)
                        return r;
                if (bench_now_ns() > deadline)
                        return -ETIMEDOUT;
                (void) bench_net_run_until(l->net, load_synced, l, PROBE_INTERVAL_NS);
        }
        bench_net_run_for(l->net, 50 * NSEC_PER_MSEC); /* late probes arrive now, not in the run */
        return load_failed(l) ? load_error(l) : 0;
}

/* Whether a connection is raw (bench-ws.h) rather than on the glue: always, but with --glue or TLS
 * (which the raw sockets do not speak), and for the producers of events runs (on the glue as
 * before issue 17, so that events figures stay comparable). */
static bool load_raw(const Load *l, const char *url, bool receives) {
        if (l->config.glue || strncmp(url, "ws://", 5) != 0)
                return false;
        return !l->config.events || receives;
}

/* Connection i, whose messages (if on_message) go to the Load. */
static int load_connect_one(Load *l, const char *url, bench_message_t on_message, unsigned i,
                            BenchConn **ret) {
        int r;

        r = load_raw(l, url, on_message) ? bench_conn_connect_raw(l->net, url, ret)
                                         : bench_conn_connect(l->net, url, ret);
        if (r < 0)
                return r;
        (*ret)->index = i;
        (*ret)->on_message = on_message;
        (*ret)->userdata = l;
        return 0;
}

/* A reporting scheduler: with a name and slots, as the C scheduler registers; with its load (none
 * running or waiting, none received) when it tells it. */
static int load_register_reporting(Load *l, BenchConn *c) {
        char frame[192];
        int n;

        n = snprintf(
                frame, sizeof frame,
                "{\"cmd\": \"register\", \"type\": \"scheduler\", \"name\": \"bench-%u\", \"slots\": %u%s}",
                c->index, l->config.slots,
                l->config.report_load ? ", \"load\": {\"running\": 0, \"waiting\": 0, \"received\": 0}"
                                      : "");
        l->batches[c->index].report_load = l->config.report_load;
        return bench_conn_send(c, frame, (size_t) n);
}

/* The receivers this process holds. */
static int load_connect_receivers(Load *l, const char *url) {
        int r;

        for (unsigned i = 0; i < l->config.n_schedulers; i++) {
                if (!procs_holds(l->procs, i))
                        continue;
                r = load_connect_one(l, url, on_scheduler_message, i, &l->schedulers[i]);
                if (r >= 0)
                        r = l->config.events ? load_register_reporting(l, l->schedulers[i])
                                             : bench_conn_register(l->schedulers[i], "scheduler");
                if (r < 0)
                        return r;
                if (l->procs->self > 0)
                        l->schedulers[i]->on_close = on_receiver_closed;
        }
        return 0;
}

/* Every worker connects and registers its receivers, one worker after the other. */
static int load_open_workers(Load *l, const char *url) {
        WorkerCommand cmd = { .op = WORKER_OPEN, .slot = l->slot, .n_schedulers = l->config.n_schedulers };
        unsigned n = l->config.n_schedulers / MAX(l->procs->n_workers, 1u) + 1;

        (void) snprintf(cmd.name, sizeof cmd.name, "%s", l->config.name);
        (void) snprintf(cmd.url, sizeof cmd.url, "%s", url);
        for (unsigned k = 1; k <= l->procs->n_workers; k++) {
                int r = procs_command(l->procs, k, &cmd, OPEN_TIMEOUT_NS * n);

                if (r < 0)
                        return r;
                l->n_opened = k;
        }
        return 0;
}

static int load_connect(Load *l, const char *url) {
        int r;

        r = load_connect_receivers(l, url);
        if (r < 0 || l->procs->self > 0)
                return r; /* a worker holds receivers only */
        r = load_open_workers(l, url);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < l->config.n_observers; i++) {
                r = load_connect_one(l, url, on_observer_message, i, &l->observers[i]);
                if (r >= 0)
                        r = bench_conn_register(l->observers[i], "observer");
                if (r < 0)
                        return r;
        }
        for (unsigned i = 0; i < l->config.n_producers; i++) {
                r = load_connect_one(l, url, NULL, i, &l->producers[i]);
                if (r >= 0)
                        r = bench_conn_register(l->producers[i], "producer");
                if (r < 0)
                        return r;
        }
        return load_sync(l);
}

static int load_net_new(Load *l, sd_event *event) {
        const LoadConfig *config = &l->config;
        char error[512];
        BusAuth a;
        int r;

        if (!config->url || strncmp(config->url, "wss://", 6) != 0)
                return bench_net_new_on(&l->net, event, NULL);
        r = bus_auth_load(&a, &(BusAuthOptions){ .ca = config->ca, .token_file = config->token_file }, error,
                          sizeof error);
        if (r < 0) {
                fprintf(stderr, "bench-bus-load: %s.\n", error);
                return r;
        }
        r = bench_net_new_on(&l->net, event,
                             &(WsConfig){ .max_message = 1024 * 1024,
                                          .max_queue_messages = 1u << 22,
                                          .max_queue_bytes = 1024u * 1024 * 1024,
                                          .tls = { .client = true, .ca = a.ca },
                                          .bearer = a.token });
        bus_auth_done(&a);
        return r;
}

/* The producer's process: the pacing timer, the events' flush, and from the workers their wakeups
 * and their ends. */
static int load_add_sources(Load *l, sd_event *e) {
        int r;

        r = sd_event_add_time(e, &l->tick_source, CLOCK_MONOTONIC, 0, 1, on_tick, l);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(l->tick_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(l->tick_source, "bench-pacing");
        if (l->config.events) {
                r = sd_event_add_defer(e, &l->flush_source, on_flush, l);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_enabled(l->flush_source, SD_EVENT_OFF);
                (void) sd_event_source_set_description(l->flush_source, "bench-job-events");
        }
        if (l->procs->n_workers == 0)
                return 0;
        r = sd_event_add_io(e, &l->wake_source, l->procs->wake_fd, EPOLLIN, on_wake, l);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(l->wake_source, "bench-wake");
        for (unsigned k = 1; k <= l->procs->n_workers; k++) {
                r = sd_event_add_io(e, &l->worker_sources[k - 1], l->procs->fds[k - 1], EPOLLIN,
                                    on_worker_io, l);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_description(l->worker_sources[k - 1], "bench-worker");
        }
        return 0;
}

/* Before a bus's load is set up (again): nothing of an earlier one counts. */
static void load_shared_clear(LoadShared *s) {
        atomic_store(&s->running, false);
        atomic_store(&s->paced, false);
        atomic_store(&s->broken, false);
        atomic_store(&s->refused, false);
        atomic_store(&s->closed, false);
        atomic_store(&s->waiting, false);
        for (unsigned i = 0; i < CONNS_MAX; i++) {
                atomic_store(&s->receivers[i].received, 0);
                atomic_store(&s->receivers[i].probes, 0);
                atomic_store(&s->receivers[i].last_ns, 0);
        }
}

/* A bus's load on `event`, in the parent (which then has every worker open its part, and syncs)
 * or in a worker (its receivers only). */
static int load_new(Load **ret, const LoadConfig *config, LoadProcs *procs, unsigned slot, sd_event *event) {
        _cleanup_(load_freep) Load *l = calloc(1, sizeof *l);
        int r;

        if (!l)
                return -ENOMEM;
        l->config = *config;
        l->procs = procs;
        l->slot = slot;
        l->shared = &procs->shared->loads[slot];
        if (procs->self == 0)
                load_shared_clear(l->shared);
        r = load_net_new(l, event);
        if (r >= 0 && procs->self == 0)
                r = load_add_sources(l, event);
        if (r >= 0)
                r = load_connect(l, config->url);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

static int load_reset(Load *l, uint64_t target, bool paced) {
        LoadShared *s = l->shared;
        int r;

        for (unsigned i = 0; i < l->config.n_observers; i++) {
                r = job_event_tally_reset(&l->tallies[i], target);
                if (r < 0)
                        return r;
                /* Every job of before has come (probes, earlier runs): the bus numbers on from there. */
                if (l->config.one)
                        job_event_tally_start(&l->tallies[i], l->max_id + 1);
        }
        if (l->config.one) {
                r = job_event_tally_reset(&l->receipts, target);
                if (r < 0)
                        return r;
                job_event_tally_start(&l->receipts, l->max_id + 1);
        }
        l->target = target;
        l->paced = paced;
        l->sent = l->t_first_send = l->t_last_observed = 0;
        l->next_producer = 0;
        l->broken = false;
        /* Across processes a wakeup costs more than a job: the producer waits for a part of the
         * window. Here the receivers top it up at once, as before. */
        l->refill = l->procs->n_workers > 0 ? MAX(l->config.window / REFILL_PARTS, UINT64_C(1)) : 1;
        for (unsigned i = 0; i < l->config.n_schedulers; i++) {
                atomic_store(&s->receivers[i].received, 0);
                atomic_store(&s->receivers[i].last_ns, 0);
        }
        atomic_store(&l->procs->shared->n_latencies, 0);
        atomic_store(&s->waiting, false);
        atomic_store(&s->paced, paced);
        l->t_start = bench_now_ns();
        atomic_store(&s->running, true);
        return 0;
}

/* When the run's last job arrived: at an observer, or at a receiver. */
static uint64_t load_last_receipt(const Load *l) {
        uint64_t last = 0;

        if (load_by_observers(l))
                return l->t_last_observed;
        for (unsigned i = 0; i < l->config.n_schedulers; i++)
                last = MAX(last, atomic_load(&l->shared->receivers[i].last_ns));
        return last;
}

/* Events: whether every observer got exactly what it should; with `run`, each one that did not is
 * said on a MISMATCH line. */
static bool load_check_events(Load *l, const char *run) {
        bool ok = true;

        for (unsigned i = 0; i < l->config.n_observers; i++) {
                const JobEventTally *t = &l->tallies[i];
                JobEventCheck c = job_event_tally_check(t, load_events_per_job(l), l->config.expect_final);

                ok = ok && c.ok;
                if (c.ok || !run)
                        continue;
                printf("MISMATCH %s run %s, observer %u: %" PRIu64 " of %" PRIu64
                       " jobs with exactly %u events "
                       "(%" PRIu64 " with fewer, %" PRIu64 " with more",
                       l->config.name, run, i, c.n_exact, t->n_jobs, load_events_per_job(l), c.n_fewer,
                       c.n_more);
                if (c.n_fewer + c.n_more > 0)
                        printf("; the first: job %" PRIu64 " with %u", c.first_off_id, c.first_off_count);
                printf("); running %" PRIu64 " and done %" PRIu64 " (want %" PRIu64
                       " each), other states %" PRIu64 ", final %" PRIu64 " (want %" PRIu64
                       "), events for jobs after the run's %" PRIu64 ", held %" PRIu64 "\n",
                       t->n_running, t->n_done, c.want_per_state, t->n_other_state, t->n_final, c.want_final,
                       t->n_outside, t->n_held);
        }
        return ok;
}

/* --dispatch=one: whether every job of the run reached exactly one scheduler connection, once;
 * with `run`, a MISMATCH line says what came when not. */
static bool load_check_receipts(Load *l, const char *run) {
        const JobEventTally *t = &l->receipts;
        JobEventCheck c = job_event_tally_check(t, 1, false);

        if (c.ok || !run)
                return c.ok;
        printf("MISMATCH %s run %s, schedulers: %" PRIu64 " of %" PRIu64
               " jobs received exactly once (%" PRIu64 " never, %" PRIu64 " more than once",
               l->config.name, run, c.n_exact, t->n_jobs, c.n_fewer, c.n_more);
        if (c.n_fewer + c.n_more > 0)
                printf("; the first: job %" PRIu64 " %u times", c.first_off_id, c.first_off_count);
        printf("), jobs after the run's %" PRIu64 ", before it %" PRIu64 "\n", t->n_outside, t->n_before);
        return false;
}

static void load_report_stall(Load *l) {
        const char *which = l->config.one ? "by the schedulers in all" : "by the slowest scheduler";

        if (!load_by_observers(l)) {
                fprintf(stderr,
                        "bench-bus-load: %s: run stalled: %" PRIu64 " of %" PRIu64 " jobs sent, %" PRIu64
                        " received %s.\n",
                        l->config.name, l->sent, l->target, load_received(l), which);
                return;
        }
        fprintf(stderr,
                "bench-bus-load: %s: run stalled: %" PRIu64 " of %" PRIu64 " jobs sent, %" PRIu64
                " received %s, the slowest observer has all %u events of %" PRIu64 " jobs' worth.\n",
                l->config.name, l->sent, l->target, load_received(l), which, load_events_per_job(l),
                load_jobs_done(l));
        fflush(stderr);
        (void) load_check_events(l, "stalled");
}

/* CPU time, ns: of the bus, and of every process of the load. */
typedef struct RunCpu {
        uint64_t bus, bench;
} RunCpu;

static RunCpu load_cpu(const Load *l) {
        RunCpu c = { .bench = procs_cpu_ns(l->procs) };

        (void) process_cpu(l->config.bus_pid, &c.bus);
        return c;
}

static void load_start(Load *l) {
        if (l->paced) {
                (void) sd_event_source_set_time(l->tick_source, l->t_start / NSEC_PER_USEC);
                (void) sd_event_source_set_enabled(l->tick_source, SD_EVENT_ONESHOT);
        } else
                load_top_up(l);
}

static void load_stop(Load *l) {
        atomic_store(&l->shared->running, false);
        atomic_store(&l->shared->waiting, false);
        (void) sd_event_source_set_enabled(l->tick_source, SD_EVENT_OFF);
}

/* The figures of a finished run. */
static RunResult load_result(Load *l, double load, RunCpu cpu0, RunCpu cpu1) {
        uint64_t elapsed = load_last_receipt(l) - l->t_first_send, target = l->target;
        uint64_t per_job = l->config.events ? load_events_per_job(l) * l->config.n_observers
                                            : receivers_per_job(&l->config);
        bool bus_known = l->config.bus_pid > 0;
        double seconds = (double) elapsed / 1e9, bus_ns = (double) (cpu1.bus - cpu0.bus);
        RunResult r = {
                .receivers = l->config.n_schedulers,
                .jobs = target,
                .delivered = target * per_job,
                .seconds = seconds,
                .per_sec = (double) (l->config.events ? target : target * per_job) / seconds,
                .jobs_per_sec = (double) target / seconds,
                .bus_cpu = bus_known ? bus_ns / (double) elapsed : -1,
                .bench_cpu = (double) (cpu1.bench - cpu0.bench) / (double) elapsed,
                .bus_us_per_job = bus_known ? bus_ns / 1000.0 / (double) target : -1,
                .bus_ns_per_message = bus_known ? bus_ns / (double) (target * per_job) : -1,
                .load = load,
                .events_ok = l->config.events && load_check_events(l, NULL),
                .events_per_frame = load_events_per_frame(l),
                .held = l->config.n_observers > 0 ? (double) l->tallies[0].n_held : 0,
                .checked = l->config.one,
                .receipts_ok = !l->config.one || load_check_receipts(l, NULL),
        };

        if (r.bus_cpu > 0)
                r.per_bus_cpu_s = r.per_sec / r.bus_cpu;
        if (l->paced) {
                Shared *sh = l->procs->shared;
                size_t n = (size_t) MIN(atomic_load(&sh->n_latencies), sh->latencies_max);

                r.p50_us = bench_percentile(sh->latencies, n, 50);
                r.p99_us = bench_percentile(sh->latencies, n, 99);
                r.max_us = bench_percentile(sh->latencies, n, 100);
        }
        return r;
}

int load_run(Load *l, bool paced, RunResult *ret) {
        uint64_t target = paced ? (uint64_t) (l->config.rate * l->config.duration) : l->config.n_jobs;
        double load = bench_load_average();
        RunCpu cpu0 = load_cpu(l);
        int r;

        r = load_reset(l, target, paced);
        if (r < 0)
                return r;
        load_start(l);
        r = bench_net_run_until(l->net, run_done, l,
                                DRAIN_TIMEOUT_NS + (uint64_t) (l->config.duration * (double) NSEC_PER_SEC));
        load_stop(l);
        if (r < 0) {
                load_report_stall(l);
                return r;
        }
        if (load_failed(l))
                return load_error(l);
        *ret = load_result(l, load, cpu0, load_cpu(l));
        return 0;
}

/* A worker process: the receivers of each bus's load that fall to it, on one loop, and the control
 * socket through which the parent opens and closes them. It leaves when the socket ends (the
 * parent is done, or gone: PR_SET_PDEATHSIG kills it then anyway). */
typedef struct Worker {
        LoadProcs *procs;
        LoadConfig config;
        int fd; /* the control socket */
        sd_event *event;
        sd_event_source *command_source;
        Load *loads[TARGETS_MAX];
        char names[TARGETS_MAX][BUS_NAME_MAX], urls[TARGETS_MAX][URL_MAX];
        WorkerCommand command; /* read in a loop pass, carried out after it (it runs the loop) */
        bool pending, quit;
} Worker;

static void worker_done(Worker *w) {
        for (unsigned k = 0; k < TARGETS_MAX; k++)
                w->loads[k] = load_free(w->loads[k]);
        w->command_source = sd_event_source_disable_unref(w->command_source);
        w->event = sd_event_unref(w->event);
        w->fd = safe_close(w->fd);
}

static int on_command(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = ASSERT_PTR(userdata);
        ssize_t n = recv(fd, &w->command, sizeof w->command, MSG_DONTWAIT);

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n != (ssize_t) sizeof w->command)
                w->quit = true; /* the parent hung up */
        else
                w->pending = true;
        return 0;
}

/* OPEN: the receivers of bus `slot` that fall to this worker (those it had are closed first);
 * CLOSE: none. */
static int worker_handle(Worker *w) {
        WorkerCommand cmd = w->command; /* connecting on the glue runs the loop, which reads commands */
        unsigned k = cmd.slot;
        LoadConfig c = w->config;

        if (k >= TARGETS_MAX || cmd.n_schedulers > CONNS_MAX)
                return -EINVAL;
        w->loads[k] = load_free(w->loads[k]);
        if (cmd.op == WORKER_CLOSE)
                return 0;
        (void) snprintf(w->names[k], sizeof w->names[k], "%s", cmd.name);
        (void) snprintf(w->urls[k], sizeof w->urls[k], "%s", cmd.url);
        c.name = w->names[k];
        c.url = w->urls[k];
        c.n_schedulers = cmd.n_schedulers;
        return load_new(&w->loads[k], &c, w->procs, k, w->event);
}

static int worker_run(Worker *w) {
        int r;

        r = sd_event_new(&w->event);
        if (r < 0)
                return r;
        r = sd_event_add_io(w->event, &w->command_source, w->fd, EPOLLIN, on_command, w);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(w->command_source, "bench-worker-command");
        while (!w->quit) {
                r = sd_event_run(w->event, WORKER_CHECK_USEC);
                if (r < 0)
                        return r;
                if (getppid() != w->procs->parent)
                        return -ESRCH;
                if (w->pending) {
                        int answer = worker_handle(w);

                        w->pending = false;
                        if (send(w->fd, &answer, sizeof answer, MSG_NOSIGNAL) < 0)
                                return -errno;
                }
        }
        return 0;
}

/* Worker p->self in its process (procs_new() forks it), `fd` its control socket, `userdata` the
 * benchmark's LoadConfig: returns its exit status. */
static int worker_main(LoadProcs *p, int fd, const void *userdata) {
        Worker w = { .procs = p, .config = *(const LoadConfig *) userdata, .fd = fd };
        int r;

        r = worker_run(&w);
        if (r < 0 && r != -ESRCH)
                fprintf(stderr, "bench-bus-load: load process %u: %s\n", p->self, strerror(-r));
        worker_done(&w);
        return r < 0 ? 1 : 0;
}

/* Latency samples the shared mapping keeps room for: one per job and receiver of a latency run. */
static uint64_t latency_samples(const LoadConfig *c) {
        double n = (double) c->rate * c->duration * (double) c->n_schedulers;

        return n < (double) LATENCY_SAMPLES_MAX ? (uint64_t) n + 1 : LATENCY_SAMPLES_MAX;
}

static void bench_done(Bench *b) {
        for (unsigned k = 0; k < b->n_targets; k++) {
                Target *t = &b->targets[k];

                t->load = load_free(t->load);
                t->daemon = bench_daemon_free(t->daemon);
                t->event = sd_event_unref(t->event);
        }
        b->scale = mfree(b->scale);
        b->procs = procs_free(b->procs);
}

void print_cpu(double v) {
        if (v < 0)
                printf(" %9s", "n/a");
        else
                printf(" %8.0f%%", v * 100);
}

void print_load(double v) {
        printf(" %5.2f\n", v);
}

/* The rate per second of the bus's own CPU time (what it would do with a core to itself), for
 * median_of() and median_ratio(). */
static double per_cpu_second(const RunResult *r) {
        return r->per_bus_cpu_s;
}

/* The median of a ratio between two buses' results over runs first .. first + n - 1. */
static double median_ratio(const Target *a, const Target *b, unsigned first, unsigned n,
                           double (*f)(const RunResult *)) {
        double v[BENCH_RUNS_MAX];

        for (unsigned i = 0; i < n; i++)
                v[i] = f(&a->res[first + i]) / f(&b->res[first + i]);
        return bench_median(v, n);
}

static double median_of(const Target *t, unsigned runs, double (*f)(const RunResult *)) {
        double v[BENCH_RUNS_MAX];

        for (unsigned i = 0; i < runs; i++)
                v[i] = f(&t->res[i]);
        return bench_median(v, runs);
}

double rate_of(const RunResult *r) {
        return r->per_sec;
}

static double p50_of(const RunResult *r) {
        return r->p50_us;
}

static double p99_of(const RunResult *r) {
        return r->p99_us;
}

/* The medians of one bus's runs, as a RunResult. */
static RunResult target_median(const Target *t, unsigned runs) {
        return (RunResult){
                .jobs = t->res[0].jobs,
                .delivered = t->res[0].delivered,
                .seconds = BENCH_MEDIAN_OF(t->res, runs, seconds),
                .per_sec = BENCH_MEDIAN_OF(t->res, runs, per_sec),
                .bus_cpu = BENCH_MEDIAN_OF(t->res, runs, bus_cpu),
                .bench_cpu = BENCH_MEDIAN_OF(t->res, runs, bench_cpu),
                .load = BENCH_MEDIAN_OF(t->res, runs, load),
                .p50_us = BENCH_MEDIAN_OF(t->res, runs, p50_us),
                .p99_us = BENCH_MEDIAN_OF(t->res, runs, p99_us),
                .max_us = BENCH_MEDIAN_OF(t->res, runs, max_us),
                .per_bus_cpu_s = BENCH_MEDIAN_OF(t->res, runs, per_bus_cpu_s),
                .events_per_frame = BENCH_MEDIAN_OF(t->res, runs, events_per_frame),
                .held = BENCH_MEDIAN_OF(t->res, runs, held),
        };
}

/* How one kind of run is printed: a row per bus and run, and a row of ratios after/before. */
typedef struct RunKind {
        const char *what; /* in error messages */
        bool paced;
        void (*print_row)(const char *run, const char *name, const RunResult *r);
        /* The medians of the ratios after/before over runs first .. first + n - 1. */
        void (*print_ratios)(const char *run, const Target *after, const Target *before, unsigned first,
                             unsigned n);
} RunKind;

/* The check column: "-" when nothing was matched (broadcast without events). */
static const char *check_of(const RunResult *r, bool events) {
        if (!events && !r->checked)
                return "-";
        return (!events || r->events_ok) && (!r->checked || r->receipts_ok) ? "ok" : "MISMATCH";
}

/* Every run of a kind, each bus in turn; the order rotates so that no bus always goes first. Returns
 * 1 when a run broke a check (events, or receipts under --dispatch=one; after every run), < 0 when a
 * run failed. */
static int bench_run_all(Bench *b, const RunKind *kind) {
        bool all_ok = true;
        char run[16];
        int r;

        for (unsigned i = 0; i < b->config.runs; i++) {
                (void) snprintf(run, sizeof run, "%u", i + 1);
                for (unsigned j = 0; j < b->n_targets; j++) {
                        Target *t = &b->targets[(i + j) % b->n_targets];

                        r = load_run(t->load, kind->paced, &t->res[i]);
                        if (r < 0) {
                                fprintf(stderr, "bench-bus-load: %s, %s run %u failed: %s\n", t->config.name,
                                        kind->what, i + 1, run_error_text(r));
                                return r;
                        }
                        kind->print_row(run, t->config.name, &t->res[i]);
                        if (b->config.events && !t->res[i].events_ok) {
                                (void) load_check_events(t->load, run);
                                all_ok = false;
                        }
                        if (t->res[i].checked && !t->res[i].receipts_ok) {
                                (void) load_check_receipts(t->load, run);
                                all_ok = false;
                        }
                        fflush(stdout);
                }
                if (b->before)
                        kind->print_ratios(run, b->bus, b->before, i, 1);
        }
        for (unsigned k = 0; k < b->n_targets; k++) {
                RunResult m = target_median(&b->targets[k], b->config.runs);

                m.events_ok = m.receipts_ok = true;
                m.checked = b->config.one;
                for (unsigned i = 0; i < b->config.runs; i++) {
                        m.events_ok = m.events_ok && b->targets[k].res[i].events_ok;
                        m.receipts_ok = m.receipts_ok && b->targets[k].res[i].receipts_ok;
                }
                kind->print_row("median", b->targets[k].config.name, &m);
        }
        if (b->before)
                kind->print_ratios("median", b->bus, b->before, 0, b->config.runs);
        return all_ok ? 0 : 1;
}

static void print_throughput_row(const char *run, const char *name, const RunResult *r) {
        printf("%-7s %-12s %11" PRIu64 " %8.3f %12.0f", run, name, r->delivered, r->seconds, r->per_sec);
        print_cpu(r->bus_cpu);
        print_cpu(r->bench_cpu);
        printf(" %13.0f %-8s", per_cpu_second(r), check_of(r, false));
        print_load(r->load);
}

static void print_throughput_ratios(const char *run, const Target *after, const Target *before,
                                    unsigned first, unsigned n) {
        printf("%-7s %-12s %11s %8s %12.3f %9s %9s %13.3f\n", run, "after/before", "", "",
               median_ratio(after, before, first, n, rate_of), "", "",
               median_ratio(after, before, first, n, per_cpu_second));
}

/* The RESULT name's tail that tells --dispatch=one runs apart. */
static const char *dispatch_suffix(const LoadConfig *c) {
        return c->one ? "_one" : "";
}

/* Ends a RESULT line of a run kind without events: with the verdict when receipts were matched. */
static void print_check_result(const Bench *b, int r) {
        const LoadConfig *c = &b->config;

        if (c->one)
                printf(" check=%s", r == 0 ? "ok" : "mismatch");
        printf(" load=%.2f\n", BENCH_MEDIAN_OF(b->bus->res, c->runs, load));
        if (r != 0)
                printf("MISMATCH: a job did not reach exactly one scheduler, once (lines above).\n");
}

static int run_throughput(Bench *b) {
        static const RunKind kind = { .what = "throughput",
                                      .print_row = print_throughput_row,
                                      .print_ratios = print_throughput_ratios };
        const LoadConfig *c = &b->config;
        int r;

        printf("\n## throughput: %u producer(s) x %u scheduler(s), %" PRIu64 " jobs per run, window %" PRIu64
               "\n",
               c->n_producers, c->n_schedulers, c->n_jobs, c->window);
        if (c->one)
                printf("## --dispatch=one: each job to one scheduler, delivered = jobs (each checked: "
                       "exactly "
                       "once)\n");
        printf("%-7s %-12s %11s %8s %12s %9s %9s %13s %-8s %5s\n", "run", "bus", "delivered", "seconds",
               "delivered/s", "bus CPU", "bench CPU", "per bus CPU-s", "check", "load");
        r = bench_run_all(b, &kind);
        if (r < 0)
                return r;
        printf("RESULT bus_throughput_%ux%u%s %s_per_s=%.0f per_bus_cpu_s=%.0f", c->n_producers,
               c->n_schedulers, dispatch_suffix(c), c->one ? "jobs" : "delivered",
               median_of(b->bus, c->runs, rate_of), median_of(b->bus, c->runs, per_cpu_second));
        if (b->before)
                printf(" before_delivered_per_s=%.0f before_per_bus_cpu_s=%.0f ratio_to_before=%.3f "
                       "per_cpu_ratio_to_before=%.3f",
                       median_of(b->before, c->runs, rate_of), median_of(b->before, c->runs, per_cpu_second),
                       median_ratio(b->bus, b->before, 0, c->runs, rate_of),
                       median_ratio(b->bus, b->before, 0, c->runs, per_cpu_second));
        if (b->null_bus)
                printf(" ratio_to_null_bus=%.3f per_cpu_ratio_to_null_bus=%.3f",
                       median_ratio(b->bus, b->null_bus, 0, c->runs, rate_of),
                       median_ratio(b->bus, b->null_bus, 0, c->runs, per_cpu_second));
        print_check_result(b, r);
        return r;
}

static void print_latency_row(const char *run, const char *name, const RunResult *r) {
        printf("%-7s %-12s %11" PRIu64 " %9.0f %9.0f %9.0f", run, name, r->delivered, r->p50_us, r->p99_us,
               r->max_us);
        print_cpu(r->bus_cpu);
        print_cpu(r->bench_cpu);
        printf(" %-8s", check_of(r, false));
        print_load(r->load);
}

static void print_latency_ratios(const char *run, const Target *after, const Target *before, unsigned first,
                                 unsigned n) {
        printf("%-7s %-12s %11s %9.3f %9.3f\n", run, "after/before", "",
               median_ratio(after, before, first, n, p50_of), median_ratio(after, before, first, n, p99_of));
}

static int run_latency(Bench *b) {
        static const RunKind kind = { .what = "latency",
                                      .paced = true,
                                      .print_row = print_latency_row,
                                      .print_ratios = print_latency_ratios };
        const LoadConfig *c = &b->config;
        int r;

        printf("\n## latency send->receipt: %u producer(s) x %u scheduler(s), %" PRIu64
               " jobs/s offered for %.1f s\n",
               c->n_producers, c->n_schedulers, c->rate, c->duration);
        printf("%-7s %-12s %11s %9s %9s %9s %9s %9s %-8s %5s\n", "run", "bus", "samples", "p50 µs", "p99 µs",
               "max µs", "bus CPU", "bench CPU", "check", "load");
        r = bench_run_all(b, &kind);
        if (r < 0)
                return r;
        printf("RESULT bus_latency_%ux%u%s_at_%" PRIu64 " p50_us=%.0f p99_us=%.0f max_us=%.0f",
               c->n_producers, c->n_schedulers, dispatch_suffix(c), c->rate,
               BENCH_MEDIAN_OF(b->bus->res, c->runs, p50_us), BENCH_MEDIAN_OF(b->bus->res, c->runs, p99_us),
               BENCH_MEDIAN_OF(b->bus->res, c->runs, max_us));
        if (b->before)
                printf(" before_p50_us=%.0f before_p99_us=%.0f",
                       BENCH_MEDIAN_OF(b->before->res, c->runs, p50_us),
                       BENCH_MEDIAN_OF(b->before->res, c->runs, p99_us));
        if (b->null_bus)
                printf(" null_bus_p99_us=%.0f", BENCH_MEDIAN_OF(b->null_bus->res, c->runs, p99_us));
        print_check_result(b, r);
        return r;
}

static void print_events_row(const char *run, const char *name, const RunResult *r) {
        printf("%-7s %-12s %9" PRIu64 " %8.3f %10.0f %11.0f", run, name, r->jobs, r->seconds, r->per_sec,
               (double) r->delivered / r->seconds);
        print_cpu(r->bus_cpu);
        print_cpu(r->bench_cpu);
        printf(" %13.0f %8.1f %7.0f %-8s", per_cpu_second(r), r->events_per_frame, r->held,
               check_of(r, true));
        print_load(r->load);
}

static void print_events_ratios(const char *run, const Target *after, const Target *before, unsigned first,
                                unsigned n) {
        printf("%-7s %-12s %9s %8s %10.3f %11s %9s %9s %13.3f\n", run, "after/before", "", "",
               median_ratio(after, before, first, n, rate_of), "", "", "",
               median_ratio(after, before, first, n, per_cpu_second));
}

static int run_events(Bench *b) {
        static const RunKind kind = { .what = "events",
                                      .print_row = print_events_row,
                                      .print_ratios = print_events_ratios };
        const LoadConfig *c = &b->config;
        bool ok;
        int r;

        printf("\n## events: %u producer(s) x %u reporting scheduler(s) x %u observer(s), %" PRIu64
               " jobs per run, window %" PRIu64 "\n",
               c->n_producers, c->n_schedulers, c->n_observers, c->n_jobs, c->window);
        if (c->one)
                printf("## --dispatch=one: each job to one scheduler (%u slots each, load told in every "
                       "frame), which answers it with running+done: 2 events per job to each observer\n",
                       c->slots);
        else
                printf("## every scheduler answers every job with running+done%s: %u events per job to each "
                       "observer\n",
                       c->report_load ? " (and tells its load)" : "",
                       c->n_schedulers * JOB_EVENTS_PER_JOB_AND_SCHEDULER);
        if (c->n_observers == 0)
                printf("## no observer: the clock stops at the last job a scheduler receives\n");
        printf("%-7s %-12s %9s %8s %10s %11s %9s %9s %13s %8s %7s %-8s %5s\n", "run", "bus", "jobs",
               "seconds", "jobs/s", "events/s", "bus CPU", "bench CPU", "per bus CPU-s", "ev/frame", "held",
               "check", "load");
        r = bench_run_all(b, &kind);
        if (r < 0)
                return r;
        ok = r == 0;
        printf("RESULT bus_events_%ux%u_observers_%u%s jobs_per_s=%.0f per_bus_cpu_s=%.0f", c->n_producers,
               c->n_schedulers, c->n_observers, dispatch_suffix(c), median_of(b->bus, c->runs, rate_of),
               median_of(b->bus, c->runs, per_cpu_second));
        if (b->before)
                printf(" before_jobs_per_s=%.0f ratio_to_before=%.3f per_cpu_ratio_to_before=%.3f",
                       median_of(b->before, c->runs, rate_of),
                       median_ratio(b->bus, b->before, 0, c->runs, rate_of),
                       median_ratio(b->bus, b->before, 0, c->runs, per_cpu_second));
        if (b->null_bus)
                printf(" ratio_to_null_bus=%.3f per_cpu_ratio_to_null_bus=%.3f",
                       median_ratio(b->bus, b->null_bus, 0, c->runs, rate_of),
                       median_ratio(b->bus, b->null_bus, 0, c->runs, per_cpu_second));
        printf(" check=%s load=%.2f\n", ok ? "ok" : "mismatch", BENCH_MEDIAN_OF(b->bus->res, c->runs, load));
        if (!ok)
                printf("MISMATCH: an observer did not get exactly %u events per job, %u running and %u "
                       "done, one of them final%s (lines above).\n",
                       receivers_per_job(c) * JOB_EVENTS_PER_JOB_AND_SCHEDULER, receivers_per_job(c),
                       receivers_per_job(c), c->one ? ", or a job did not reach exactly one scheduler" : "");
        return r;
}

static void help(void) {
        printf("Usage: bench-bus-load [OPTIONS]\n"
               "\n"
               "Fan-out throughput and latency of a job bus. Without --url it starts sched-bus on a\n"
               "loopback port (socket activation) and stops it at the end.\n"
               "\n"
               "  --url URL           load this bus instead (ws://127.0.0.1:PORT; loopback only)\n"
               "  --bus-pid PID       with --url: the bus's pid, for its CPU figure\n"
               "  --bus-binary PATH   sched-bus to start (default " BUS_BINARY ")\n"
               "  --compare-binary PATH  a second sched-bus, the one before a change: every run loads\n"
               "                      both (\"before\" and \"after\") and prints the ratio after/before\n"
               "  -p N                producer connections (default 1)\n"
               "  -s N                scheduler (receiver) connections (default 4)\n"
               "  -n N                jobs per throughput run, 0 = no throughput runs (default 200000)\n"
               "  --window N          jobs in flight: not yet received by every scheduler, or with\n"
               "                      --events whose events have not all reached every observer\n"
               "                      (default 4096: at most as many messages queued in the bus for\n"
               "                      each scheduler, whatever S, well under sched-bus's 16384 and\n"
               "                      4 MB per client; 4096 x S with --dispatch one, as many messages\n"
               "                      to schedulers as under broadcast; 1024 with --events)\n"
               "  --rate R            jobs/s offered in latency runs, 0 = none (default 20000;\n"
               "                      no latency runs with --events or --scale)\n"
               "  --duration SEC      of each latency run (default 5)\n"
               "  --procs K           processes of the load: this one holds the producers, K - 1\n"
               "                      workers the schedulers, round robin; bench CPU is their sum\n"
               "                      (default: the cores but one, the bus's, at least 1: on 2\n"
               "                      cores, 1, which keeps the bus at ~100 %% with the load at\n"
               "                      30-60 %% of the other core; a second process there only takes\n"
               "                      turns with the first and with the bus;\n"
               "                      1 with --events, --dispatch one and --glue; more is refused\n"
               "                      with the first two, whose checks need every connection in\n"
               "                      one process)\n"
               "  --pin               each bus the benchmark starts on the last CPU, the load on\n"
               "                      the others (sched_setaffinity): steadier figures on a small\n"
               "                      VM, where the kernel otherwise moves the processes around\n"
               "  --glue              every connection on the project's WebSocket glue (libwebsockets),\n"
               "                      in one process unless --procs says otherwise: the load before\n"
               "                      issue 17, to reproduce its figures (default: raw sockets; the\n"
               "                      glue anyway for wss:// URLs, and for the producer of --events)\n"
               "  --scale LIST        S values, e.g. 1,2,4,8,16,32,64: with 1 producer, a throughput\n"
               "                      run with S schedulers for each, every bus in turn, --runs rounds\n"
               "                      (the order of S and buses rotating); then per bus a table of\n"
               "                      medians and ranges, the least-squares fit of the bus's CPU-µs\n"
               "                      per job = a + b x S (a: per job, b: per receiver) with its\n"
               "                      residual, and the knee: the smallest S after which a doubling\n"
               "                      of S adds less than 10 %% delivered msg/s (steps that are not\n"
               "                      doublings count as log2 of their ratio); also said: where the\n"
               "                      fit puts it (4.5 a / b), and the first S at which the bus's CPU\n"
               "                      reaches 95 %%\n"
               "  --events            schedulers register as reporting schedulers and answer every job\n"
               "                      with running+done; observers count the job events (jobs/s)\n"
               "  --observers N       with --events: observer connections, 0 = none: the clock stops\n"
               "                      at the schedulers (default 1)\n"
               "  --dispatch MODE     run the buses with --dispatch=MODE (broadcast or one; default:\n"
               "                      not passed, i.e. broadcast). one: each job goes to one scheduler,\n"
               "                      N jobs are delivered in all, each checked to come exactly once;\n"
               "                      the null bus then gives each job to one receiver in turn\n"
               "                      (with --url: what the bus there was started with)\n"
               "  --slots S           with --events: slots each reporting scheduler registers with\n"
               "                      (default 8; 1024 with --dispatch one)\n"
               "  --report-load       with --events: schedulers tell their load in the register frame\n"
               "                      and in every job_event frame (always with --dispatch one)\n"
               "  --runs N            runs of each kind; tables quote the median (default 5)\n"
               "  --no-baseline       do not run the same load against the null bus\n"
               "  --null-bus-binary PATH  (default " NULL_BUS_BINARY ")\n"
               "  --ca FILE           with a wss:// --url: the CA of the bus's certificate\n"
               "  --token-file FILE   with --url: the token to present (first line)\n"
               "\n"
               "The null bus is the baseline: the same WebSocket glue and loop, forwarding frames\n"
               "without any protocol work. Every run loads each bus in turn. A bus that answers the\n"
               "load with an error frame (an old bus and --events) ends the benchmark with status 1;\n"
               "so does an observer that did not get exactly 2 x S events per job (2 with --dispatch\n"
               "one), or a job that did not reach exactly one scheduler under --dispatch one (MISMATCH\n"
               "lines), or a load process that died. SIGINT or SIGTERM stops the runs, the buses and\n"
               "the load processes (status 128 + the signal).\n");
}

static bool url_is_local(const char *url) {
        static const char *const prefixes[] = { "ws://127.0.0.1:",  "ws://localhost:",  "ws://10.",
                                                "wss://127.0.0.1:", "wss://localhost:", "wss://10." };

        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (strncmp(url, prefixes[i], strlen(prefixes[i])) == 0)
                        return true;
        /* A name is resolved by the bench host: only the test names bench/tls-veth.sh maps. */
        return strncmp(url, "wss://bus.test:", 15) == 0;
}

/* --procs: the checks of --events and --dispatch=one match receipts job by job in one process. */
static int check_procs(LoadConfig *c) {
        bool single = c->events || c->one;

        if (single && c->n_procs != UNSET_U && c->n_procs > 1) {
                fprintf(stderr,
                        "bench-bus-load: --events and --dispatch one run in one process: no --procs.\n");
                return -EINVAL;
        }
        if (c->n_procs == UNSET_U)
                c->n_procs = single || c->glue ? 1 : procs_default();
        return 0;
}

/* The options that tie others together, and the defaults that depend on them. */
static int check_config(LoadConfig *c) {
        int r;

        /* The benchmark floods what it loads: never anything beyond this machine. A private address
         * is allowed for the network namespaces of bench/tls-veth.sh, whose veth pair stays here. */
        if (c->url && (!url_is_local(c->url) || strlen(c->url) >= URL_MAX)) {
                fprintf(stderr,
                        "bench-bus-load: --url must be a loopback or private-address (10.0.0.0/8) "
                        "ws:// or wss:// URL, of less than %d characters.\n",
                        URL_MAX);
                return -EINVAL;
        }
        if ((c->ca || c->token_file) && !c->url) {
                fprintf(stderr, "bench-bus-load: --ca and --token-file need --url.\n");
                return -EINVAL;
        }
        if (!c->events && c->n_observers != UNSET_U) {
                fprintf(stderr, "bench-bus-load: --observers needs --events.\n");
                return -EINVAL;
        }
        if (!c->events && (c->slots != UNSET_U || c->report_load)) {
                fprintf(stderr, "bench-bus-load: --slots and --report-load need --events.\n");
                return -EINVAL;
        }
        if (c->dispatch && strcmp(c->dispatch, "broadcast") != 0 && strcmp(c->dispatch, "one") != 0) {
                fprintf(stderr, "bench-bus-load: --dispatch takes broadcast or one.\n");
                return -EINVAL;
        }
        c->one = c->dispatch && strcmp(c->dispatch, "one") == 0;
        if (c->events && c->rate != UNSET && c->rate > 0) {
                fprintf(stderr, "bench-bus-load: --events measures throughput only: no --rate.\n");
                return -EINVAL;
        }
        r = check_scale(c);
        if (r >= 0)
                r = check_procs(c);
        return r;
}

static int parse_argv(int argc, char *argv[], LoadConfig *c) {
        const BenchOption options[] = {
                BENCH_OPT_STRING("url", 0, &c->url),
                BENCH_OPT_INT("bus-pid", 0, 1, INT32_MAX, &c->bus_pid),
                BENCH_OPT_STRING("ca", 0, &c->ca),
                BENCH_OPT_STRING("token-file", 0, &c->token_file),
                BENCH_OPT_BUS_BINARY(&c->bus_binary),
                BENCH_OPT_STRING("compare-binary", 0, &c->compare_binary),
                BENCH_OPT_UNSIGNED(NULL, 'p', 1, CONNS_MAX, &c->n_producers),
                BENCH_OPT_UNSIGNED(NULL, 's', 1, CONNS_MAX, &c->n_schedulers),
                BENCH_OPT_UINT64(NULL, 'n', 0, 100000000, &c->n_jobs),
                BENCH_OPT_UINT64("window", 0, 1, 1000000, &c->window),
                BENCH_OPT_UINT64("rate", 0, 0, 10000000, &c->rate),
                BENCH_OPT_DOUBLE("duration", 0, 0.1, 600, &c->duration),
                BENCH_OPT_UNSIGNED("procs", 0, 1, PROCS_MAX, &c->n_procs),
                BENCH_OPT_FLAG("glue", 0, &c->glue),
                BENCH_OPT_FLAG("pin", 0, &c->pin),
                BENCH_OPT_CUSTOM("scale", 0, parse_scale, c),
                BENCH_OPT_FLAG("events", 0, &c->events),
                BENCH_OPT_UNSIGNED("observers", 0, 0, CONNS_MAX, &c->n_observers),
                BENCH_OPT_STRING("dispatch", 0, &c->dispatch),
                BENCH_OPT_UNSIGNED("slots", 0, 1, 65535, &c->slots),
                BENCH_OPT_FLAG("report-load", 0, &c->report_load),
                BENCH_OPT_RUNS(&c->runs),
                BENCH_OPT_FLAG("no-baseline", 0, &c->no_baseline),
                BENCH_OPT_STRING("null-bus-binary", 0, &c->null_bus_binary),
        };
        int r;

        r = BENCH_PARSE_ARGV("bench-bus-load", help, options, argc, argv);
        if (r <= 0)
                return r;
        r = check_config(c);
        if (r < 0)
                return r;
        if (c->n_schedulers == UNSET_U)
                c->n_schedulers = 4;
        if (c->n_observers == UNSET_U)
                c->n_observers = c->events ? 1 : 0;
        if (c->slots == UNSET_U)
                c->slots = c->one ? ONE_SLOTS_DEFAULT : SLOTS_DEFAULT;
        /* Without it the bus counts every job sent as not yet received, and stops at the slots. */
        c->report_load = c->report_load || (c->events && c->one);
        if (c->window == UNSET)
                c->window = c->events ? EVENTS_WINDOW_DEFAULT
                            : c->one  ? WINDOW_DEFAULT * c->n_schedulers
                                      : WINDOW_DEFAULT;
        if (c->rate == UNSET)
                c->rate = c->events ? 0 : RATE_DEFAULT;
        return 1;
}

/* Starts the target's bus binary on a loopback socket, unless its config names a URL already. `what`
 * goes after the target's name on the line that says so. The null bus (`null`) takes --one for
 * --dispatch=one; sched-bus gets --dispatch=MODE when the benchmark was given one. */
/* --pin: the buses the benchmark starts get the last CPU we may use, the load the others, so that
 * neither ever waits for the other's core and the kernel never moves them. Without it, runs on a
 * 2-core VM fell into two modes a third apart, by where the processes happened to run. */
static cpu_set_t pin_bus_cpus;

/* Before the workers fork: they inherit the load's CPUs. */
static int pin_load(void) {
        cpu_set_t load;
        int last = -1, n = 0;

        if (sched_getaffinity(0, sizeof load, &load) < 0)
                return -errno;
        for (int i = 0; i < CPU_SETSIZE; i++)
                if (CPU_ISSET(i, &load)) {
                        last = i;
                        n++;
                }
        if (n < 2)
                return -EOPNOTSUPP;
        CPU_ZERO(&pin_bus_cpus);
        CPU_SET(last, &pin_bus_cpus);
        CPU_CLR(last, &load);
        return sched_setaffinity(0, sizeof load, &load) < 0 ? -errno : 0;
}

static int pin_bus(pid_t pid) {
        return sched_setaffinity(pid, sizeof pin_bus_cpus, &pin_bus_cpus) < 0 ? -errno : 0;
}

static int target_start(Target *t, const char *binary, bool null, const char *what) {
        char dispatch[32];
        char *args[2] = {};
        int r;

        if (t->config.url)
                return 0;
        if (null && t->config.one)
                args[0] = (char *) "--one";
        else if (!null && t->config.dispatch) {
                (void) snprintf(dispatch, sizeof dispatch, "--dispatch=%s", t->config.dispatch);
                args[0] = dispatch;
        }
        r = bench_daemon_start_bus(&t->daemon, binary, args, NULL, t->url, sizeof t->url);
        if (r < 0) {
                fprintf(stderr, "bench-bus-load: cannot start %s%s%s: %s%s\n", binary, args[0] ? " " : "",
                        args[0] ?: "", strerror(-r),
                        args[0] && !null ? " (a bus before issue 13 has no --dispatch)" : "");
                return r;
        }
        t->config.url = t->url;
        t->config.bus_pid = bench_daemon_pid(t->daemon);
        if (t->config.pin) {
                r = pin_bus(t->config.bus_pid);
                if (r < 0) {
                        fprintf(stderr, "bench-bus-load: cannot pin %s to its CPU: %s\n", binary,
                                strerror(-r));
                        return r;
                }
        }
        printf("# %s%s: %s%s%s at %s (started by the benchmark)\n", t->config.name, what, binary,
               args[0] ? " " : "", args[0] ?: "", t->url);
        fflush(stdout);
        return 0;
}

/* The target's load with n_schedulers receivers, on its loop. */
int target_connect(Bench *b, Target *t, unsigned n_schedulers) {
        LoadConfig c = t->config;
        int r;

        c.n_schedulers = n_schedulers;
        r = load_new(&t->load, &c, b->procs, t->slot, t->event);
        if (r >= 0 && t->daemon)
                /* Drained from our loop: a full notify queue would block the bus in sd_notify(). */
                r = bench_daemon_attach(t->daemon, t->event, NULL, NULL);
        if (r == -EPROTO)
                fprintf(stderr, "bench-bus-load: %s at %s does not take this load (%s).\n", c.name, c.url,
                        c.events ? "an old bus without reporting schedulers and observers?"
                                 : "not a job bus?");
        else if (r < 0)
                fprintf(stderr, "bench-bus-load: cannot set up %u+%u+%u connections to %s: %s\n",
                        c.n_producers, c.n_schedulers, c.n_observers, c.url, run_error_text(r));
        return r;
}

static Target *bench_add(Bench *b, const char *name, bool external) {
        Target *t = &b->targets[b->n_targets];

        t->slot = b->n_targets++;
        t->config = b->config;
        t->config.name = name;
        t->config.expect_final = true;
        if (!external) {
                t->config.url = NULL;
                t->config.bus_pid = 0;
        }
        return t;
}

/* What the load is: which process holds what, on which sockets. */
static void print_load_layout(const LoadConfig *c) {
        const char *sockets = c->glue                                       ? "the glue"
                              : c->url && strncmp(c->url, "wss://", 6) == 0 ? "the glue (TLS)"
                              : c->events ? "raw sockets (the producers on the glue)"
                                          : "raw sockets";

        if (c->n_procs == 1)
                printf("# load: 1 process; connections on %s\n", sockets);
        else
                printf("# load: %u processes: the producer(s) in this one, the schedulers round robin in %u "
                       "worker(s); connections on %s\n",
                       c->n_procs, c->n_procs - 1, sockets);
}

static int bench_setup(Bench *b) {
        const LoadConfig *c = &b->config;
        int r = 0;

        b->bus = bench_add(b, c->url ? "bus" : c->compare_binary ? "after" : "sched-bus", c->url);
        if (c->compare_binary)
                b->before = bench_add(b, "before", false);
        if (!c->no_baseline) {
                b->null_bus = bench_add(b, "null bus", false);
                b->null_bus->config.expect_final = false;
        }
        for (unsigned k = 0; r >= 0 && k < b->n_targets; k++)
                r = sd_event_new(&b->targets[k].event);
        if (r < 0)
                return r;

        bench_print_header("bus fan-out (bench-bus-load)");
        print_load_layout(c);
        if (c->url)
                printf("# %s: external bus at %s\n", b->bus->config.name, c->url);
        r = target_start(b->bus, c->bus_binary, false, "");
        if (r >= 0 && b->before)
                r = target_start(b->before, c->compare_binary, false, " (the bus before the change)");
        if (r >= 0 && b->null_bus)
                r = target_start(b->null_bus, c->null_bus_binary, true,
                                 " (baseline, same glue, no protocol work)");
        /* --scale sets each bus's load up for each run. */
        for (unsigned k = 0; r >= 0 && c->n_scale == 0 && k < b->n_targets; k++)
                r = target_connect(b, &b->targets[k], c->n_schedulers);
        fflush(stdout);
        return r;
}

static void on_signal(int sig) {
        interrupted = sig;
}

/* The first SIGINT or SIGTERM ends the run going on and stops everything in order; a second one
 * kills at once. */
static void catch_signals(void) {
        struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART | SA_RESETHAND };

        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGINT, &sa, NULL);
        (void) sigaction(SIGTERM, &sa, NULL);
}

static int bench_run(Bench *b) {
        int r = 0, status = 0;

        if (b->config.n_scale > 0)
                return run_scale(b);
        if (b->config.n_jobs > 0)
                r = b->config.events ? run_events(b) : run_throughput(b);
        if (r == 1) /* runs that broke a check: the figures are printed, the verdict too */
                status = 1;
        if (r >= 0 && b->config.rate > 0)
                r = run_latency(b);
        if (r == 1)
                status = 1;
        return r < 0 ? r : status;
}

int main(int argc, char *argv[]) {
        Bench b = { .config = { .bus_binary = BUS_BINARY,
                                .null_bus_binary = NULL_BUS_BINARY,
                                .n_producers = 1,
                                .n_schedulers = UNSET_U,
                                .n_jobs = 200000,
                                .window = UNSET,
                                .rate = UNSET,
                                .n_observers = UNSET_U,
                                .n_procs = UNSET_U,
                                .slots = UNSET_U,
                                .duration = 5,
                                .runs = 5 } };
        int r;

        r = parse_argv(argc, argv, &b.config);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        (void) bench_raise_nofile(4096);
        if (b.config.pin) {
                r = pin_load();
                if (r < 0) {
                        fprintf(stderr, "bench-bus-load: --pin: %s\n",
                                r == -EOPNOTSUPP ? "needs at least 2 CPUs" : strerror(-r));
                        return 2;
                }
        }
        r = procs_new(&b.procs, b.config.n_procs, b.config.rate > 0 ? latency_samples(&b.config) : 0,
                      worker_main, &b.config);
        if (r < 0) {
                fprintf(stderr, "bench-bus-load: cannot start the %u load processes: %s\n", b.config.n_procs,
                        strerror(-r));
                return 1;
        }
        catch_signals();
        r = bench_setup(&b);
        if (r >= 0)
                r = bench_run(&b);
        bench_done(&b);
        if (interrupted) {
                fprintf(stderr, "bench-bus-load: stopped by %s.\n", strsignal(interrupted));
                return 128 + interrupted;
        }
        return r < 0 ? 1 : r;
}
