/* SPDX-License-Identifier: MIT */
/*
 * bench-bus-load: fan-out throughput and latency of a bus (sched-bus, or any bus that speaks the
 * protocol, given by URL). P producer connections submit job_request frames; S scheduler
 * connections count what arrives. Each payload carries its send time (CLOCK_MONOTONIC, ns) in an
 * extra field, "bench_t", which a bus forwards untouched.
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
 * events per job: a run that breaks that is reported job by job. The schedulers and observers of
 * events runs are raw sockets (bench-ws.h) rather than the glue, whose client would cost this
 * process more than the bus its work: the generator must stay well below the bus it loads.
 *
 * With --dispatch=one (issue 13) the buses run with that mode: each job goes to one scheduler, so
 * a run is done when the schedulers have received N jobs in all (jobs/s = N / (last receipt - first
 * send)), or in events runs when every observer has the 2 events of each job; every job must reach
 * exactly one scheduler, once, which is checked job by job. Reporting schedulers then tell their
 * load in every frame (--report-load), or the bus would stop giving them jobs.
 *
 * Run for run, the same load goes to every bus of the comparison, in turn (the order rotates from
 * run to run): the bus under test; the bus before a change (--compare-binary), for ratios
 * after/before; and bench-null-bus (null-bus.c), a fan-out server on the same glue that does no
 * protocol work, whose ratio says how much of the cost is the bus's own.
 *
 * The benchmark owns one Load per bus: its loop, its connections, the current run's counters.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-daemon.h"
#include "bench-net.h"
#include "bench-option.h"
#include "bench-util.h"
#include "bus-auth.h"
#include "bus-load-events.h"
#include "escape.h"

#define TICK_NS           (200 * NSEC_PER_USEC) /* pacing step of latency runs */
#define PROBE_INTERVAL_NS (20 * NSEC_PER_MSEC)
#define SYNC_TIMEOUT_NS   (10 * NSEC_PER_SEC)
#define DRAIN_TIMEOUT_NS  (60 * NSEC_PER_SEC)
#define CONNS_MAX         256
#define TARGETS_MAX       3
/* Slots a reporting scheduler connection claims: under broadcast the bus only shows them; under
 * --dispatch=one it sends a scheduler jobs while it has free ones, and this many per connection are
 * more than the window lets be in flight, so that the bus, not the slots, sets the pace. */
#define SLOTS_DEFAULT     8
#define ONE_SLOTS_DEFAULT 1024
/* Defaults that depend on --events. The bus sends an observer 2 x S events per job: 1024 jobs in
 * flight keep its queue for one observer (16384 messages, 4 MB by default) far from full. Under
 * --dispatch=one without events the window is WINDOW_DEFAULT x S jobs, as many messages to
 * schedulers as under broadcast: with 4096 jobs (1024 a scheduler) neither sched-bus nor the null
 * bus is busy all the time, the run is bound by the round trips. */
#define WINDOW_DEFAULT        4096
#define EVENTS_WINDOW_DEFAULT 1024
#define RATE_DEFAULT          20000
#define UNSET                 UINT64_MAX
#define UNSET_U               UINT32_MAX

typedef struct LoadConfig {
        const char *name;            /* of the bus, in tables and messages */
        const char *url;             /* NULL: start the bus binary */
        const char *ca, *token_file; /* for a wss:// --url with tokens (issue 16) */
        const char *bus_binary, *compare_binary, *null_bus_binary;
        const char *dispatch; /* passed to sched-bus as --dispatch=; NULL: not passed (broadcast) */
        bool one;             /* dispatch "one": each job to one scheduler */
        bool no_baseline;     /* do not load the null bus, run for run */
        bool events;          /* reporting schedulers and observers */
        bool report_load;     /* events: reporting schedulers tell their load (register, job_event) */
        bool expect_final;    /* the bus marks each job's last event "final" (the null bus does not) */
        pid_t bus_pid;        /* for the bus's CPU figure; 0: unknown */
        unsigned n_producers, n_schedulers, n_observers;
        unsigned slots;  /* each reporting scheduler's */
        uint64_t n_jobs; /* per throughput run */
        uint64_t window;
        uint64_t rate;   /* jobs/s offered in latency runs; 0: no latency runs */
        double duration; /* seconds of a latency run */
        unsigned runs;
} LoadConfig;

typedef struct RunResult {
        uint64_t jobs, delivered;  /* delivered: messages to schedulers, or events to observers */
        double seconds, per_sec;   /* per_sec: delivered/s, or jobs/s in events runs */
        double per_bus_cpu_s;      /* per_sec per second of the bus's CPU time; 0 if unknown */
        double bus_cpu, bench_cpu; /* fraction of one core */
        double load;               /* the machine's load average when the run started */
        double events_per_frame;   /* events runs: how the bus batches them for an observer */
        double held;               /* events runs: jobs the bus said it held (observer 0 saw) */
        double p50_us, p99_us, max_us;
        bool events_ok;   /* events runs: every observer got exactly what it should */
        bool checked;     /* --dispatch=one: the receipts were matched job by job */
        bool receipts_ok; /* and every job reached exactly one scheduler, once */
} RunResult;

typedef struct Load {
        LoadConfig config;
        BenchNet *net;
        BenchConn *producers[CONNS_MAX], *schedulers[CONNS_MAX], *observers[CONNS_MAX];
        sd_event_source *tick_source;     /* paced sending */
        sd_event_source *flush_source;    /* events: the schedulers' answers, once per loop pass */
        JobEventBatch batches[CONNS_MAX]; /* events: what each scheduler connection owes the bus */
        JobEventTally tallies[CONNS_MAX]; /* events: what each observer got in the current run */
        uint64_t observed[CONNS_MAX];     /* events: every event an observer got, probes' included */
        JobEventTally receipts;           /* one: the run's jobs the schedulers got, job by job */
        uint64_t max_id;                  /* one, events: the highest job id a scheduler got */

        /* The current run. */
        bool running, paced;
        uint64_t target, sent, t_start, t_first_send, t_last_receive;
        uint64_t received[CONNS_MAX], probes[CONNS_MAX];
        unsigned next_producer;
        double *latencies; /* µs, latency runs only */
        size_t n_latencies, latencies_alloc;
        bool broken;
        bool refused; /* the bus answered with an error frame: it does not speak this load */
        bool noted_unexpected;
} Load;

static Load *load_free(Load *l) {
        if (!l)
                return NULL;
        sd_event_source_disable_unref(l->tick_source);
        sd_event_source_disable_unref(l->flush_source);
        l->net = bench_net_free(l->net);
        for (unsigned i = 0; i < CONNS_MAX; i++) {
                job_event_batch_done(&l->batches[i]);
                job_event_tally_done(&l->tallies[i]);
        }
        job_event_tally_done(&l->receipts);
        free(l->latencies);
        return mfree(l);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Load *, load_free);

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

static bool frame_is_error(const char *data) {
        return strstr(data, "\"error\"");
}

/* An error frame from the bus ends the benchmark: said once, quoted. */
static void load_refused(Load *l, const char *role, unsigned index, const char *data, size_t size) {
        char text[512];

        if (!l->refused)
                fprintf(stderr, "bench-bus-load: %s answered %s connection %u with an error frame: %s\n",
                        l->config.name, role, index, escape_quoted(data, size, text, sizeof text));
        l->refused = true;
}

/* Schedulers a job goes to: every one, or under --dispatch=one a single one. */
static unsigned receivers_per_job(const LoadConfig *c) {
        return c->one ? 1 : c->n_schedulers;
}

static unsigned load_events_per_job(const Load *l) {
        return receivers_per_job(&l->config) * JOB_EVENTS_PER_JOB_AND_SCHEDULER;
}

/* The run's jobs received: by the slowest scheduler, or under --dispatch=one by all of them. */
static uint64_t load_received(Load *l) {
        uint64_t m = l->config.one ? 0 : UINT64_MAX;

        for (unsigned i = 0; i < l->config.n_schedulers; i++)
                m = l->config.one ? m + l->received[i] : MIN(m, l->received[i]);
        return m;
}

/* Jobs done with: received (by every scheduler, or by one under --dispatch=one), or in events runs
 * with observers, every event of them seen by every observer (counted, not matched: the check at
 * the end of the run matches them job by job). */
static uint64_t load_jobs_done(Load *l) {
        uint64_t m = UINT64_MAX;

        if (!l->config.events || l->config.n_observers == 0)
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

/* Throughput runs: the window moves with the slowest scheduler, or observer. */
static void load_top_up(Load *l) {
        uint64_t floor = load_jobs_done(l);

        while (l->running && !l->paced && l->sent < l->target &&
               l->sent - MIN(floor, l->sent) < l->config.window)
                if (load_send_job(l) < 0) {
                        l->broken = true;
                        return;
                }
}

/* Events: a reporting scheduler answers every job it gets (a probe too), at the end of the loop
 * pass. Under broadcast, the first job of a run with a send time is the run's lowest id (ids grow,
 * and every scheduler gets every job in order): the observers count from it. (Under
 * --dispatch=one, connections may see the run's first jobs in any order: load_reset() starts the
 * count after the last id of before the run.) */
static void load_answer(Load *l, BenchConn *c, uint64_t id, uint64_t t) {
        if (id == 0)
                return; /* not a job */
        if (!l->config.one && t != 0 && l->running && l->config.n_observers > 0 && !l->tallies[0].started)
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
        const char *bench_t = strstr(data, "\"bench_t\"");
        uint64_t t = bench_t ? frame_number(data, bench_t, "\"bench_t\"") : 0;
        uint64_t id = 0;

        if (l->config.events || l->config.one) {
                /* Both buses put the id after the payload's fields: look behind "bench_t" first. */
                id = frame_number(data, bench_t, "\"id\"");
                l->max_id = MAX(l->max_id, id);
        }
        if (l->config.events)
                load_answer(l, c, id, t);
        if (t == 0) {
                if (frame_is_error(data))
                        load_refused(l, "scheduler", c->index, data, size);
                else
                        l->probes[c->index]++;
                return;
        }
        if (!l->running)
                return;
        l->received[c->index]++;
        if (l->config.one)
                job_event_tally_add_receipt(&l->receipts, id);
        if (l->config.events && l->config.n_observers > 0)
                return; /* the clock stops at the observers, whose events come after this */
        l->t_last_receive = bench_now_ns();
        if (l->paced) {
                if (l->n_latencies < l->latencies_alloc)
                        l->latencies[l->n_latencies++] = (double) (l->t_last_receive - t) / 1000.0;
        } else
                load_top_up(l);
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
        if (l->running && t->n_events > before) {
                l->t_last_receive = bench_now_ns();
                load_top_up(l);
        }
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Load *l = userdata;
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
        }
        return 0;
}

static bool load_any_closed(Load *l) {
        for (unsigned i = 0; i < l->config.n_schedulers; i++)
                if (l->schedulers[i]->closed)
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
        return l->broken || l->refused || load_any_closed(l);
}

static int load_error(Load *l) {
        return l->refused ? -EPROTO : -ECONNRESET;
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
                if (l->probes[i] == 0)
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

/* Connection i, whose messages (if on_message) go to the Load. In events runs the schedulers and
 * observers are raw connections (bench-ws.h): on the glue, taking the events apart byte by byte in
 * libwebsockets' client would cost this process more than the bus its work, and the benchmark
 * would measure itself. */
static int load_connect_one(Load *l, const char *url, bench_message_t on_message, unsigned i,
                            BenchConn **ret) {
        bool raw = l->config.events && on_message;
        int r;

        r = raw ? bench_conn_connect_raw(l->net, url, ret) : bench_conn_connect(l->net, url, ret);
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

static int load_connect(Load *l, const char *url) {
        int r;

        for (unsigned i = 0; i < l->config.n_schedulers; i++) {
                r = load_connect_one(l, url, on_scheduler_message, i, &l->schedulers[i]);
                if (r >= 0)
                        r = l->config.events ? load_register_reporting(l, l->schedulers[i])
                                             : bench_conn_register(l->schedulers[i], "scheduler");
                if (r < 0)
                        return r;
        }
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

static int load_new(Load **ret, const LoadConfig *config) {
        _cleanup_(load_freep) Load *l = calloc(1, sizeof *l);
        sd_event *e;
        int r;

        if (!l)
                return -ENOMEM;
        l->config = *config;
        if (config->url && strncmp(config->url, "wss://", 6) == 0) {
                char error[512];
                BusAuth a;

                r = bus_auth_load(&a,
                                  &(BusAuthOptions){ .ca = config->ca, .token_file = config->token_file },
                                  error, sizeof error);
                if (r < 0) {
                        fprintf(stderr, "bench-bus-load: %s.\n", error);
                        return r;
                }
                r = bench_net_new(&l->net, &(WsConfig){ .max_message = 1024 * 1024,
                                                        .max_queue_messages = 1u << 22,
                                                        .max_queue_bytes = 1024u * 1024 * 1024,
                                                        .tls = { .client = true, .ca = a.ca },
                                                        .bearer = a.token });
                bus_auth_done(&a);
        } else
                r = bench_net_new(&l->net, NULL);
        if (r < 0)
                return r;
        e = bench_net_event(l->net);
        r = sd_event_add_time(e, &l->tick_source, CLOCK_MONOTONIC, 0, 1, on_tick, l);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(l->tick_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(l->tick_source, "bench-pacing");
        if (config->events) {
                r = sd_event_add_defer(e, &l->flush_source, on_flush, l);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_enabled(l->flush_source, SD_EVENT_OFF);
                (void) sd_event_source_set_description(l->flush_source, "bench-job-events");
        }
        r = load_connect(l, config->url);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

static int load_reset(Load *l, uint64_t target, bool paced) {
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
        l->sent = l->t_first_send = l->t_last_receive = 0;
        l->next_producer = 0;
        memset(l->received, 0, sizeof l->received);
        l->n_latencies = 0;
        l->broken = false;
        l->t_start = bench_now_ns();
        l->running = true;
        return 0;
}

static int process_cpu(pid_t pid, uint64_t *ret) {
        ProcStats st;
        int r;

        if (pid <= 0) {
                *ret = 0;
                return 0;
        }
        r = proc_stats_read(pid, &st);
        if (r < 0)
                return r;
        *ret = st.cpu_ns;
        return 0;
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

        if (!l->config.events || l->config.n_observers == 0) {
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

static int load_run(Load *l, bool paced, RunResult *ret) {
        uint64_t target = paced ? (uint64_t) (l->config.rate * l->config.duration) : l->config.n_jobs;
        uint64_t bus0 = 0, bus1 = 0, self0 = 0, self1 = 0, elapsed, per_job;
        double load = bench_load_average();
        int r;

        if (paced && l->latencies_alloc < target * l->config.n_schedulers) {
                free(l->latencies);
                l->latencies_alloc = target * l->config.n_schedulers;
                l->latencies = malloc(l->latencies_alloc * sizeof(double));
                if (!l->latencies)
                        return -ENOMEM;
        }
        (void) process_cpu(l->config.bus_pid, &bus0);
        (void) process_cpu(getpid(), &self0);

        r = load_reset(l, target, paced);
        if (r < 0)
                return r;
        if (paced) {
                (void) sd_event_source_set_time(l->tick_source, l->t_start / NSEC_PER_USEC);
                (void) sd_event_source_set_enabled(l->tick_source, SD_EVENT_ONESHOT);
        } else
                load_top_up(l);
        r = bench_net_run_until(l->net, run_done, l,
                                DRAIN_TIMEOUT_NS + (uint64_t) (l->config.duration * (double) NSEC_PER_SEC));
        l->running = false;
        (void) sd_event_source_set_enabled(l->tick_source, SD_EVENT_OFF);
        if (r < 0) {
                load_report_stall(l);
                return r;
        }
        if (load_failed(l))
                return load_error(l);

        (void) process_cpu(l->config.bus_pid, &bus1);
        (void) process_cpu(getpid(), &self1);
        elapsed = l->t_last_receive - l->t_first_send;
        per_job = l->config.events ? load_events_per_job(l) * l->config.n_observers
                                   : receivers_per_job(&l->config);
        *ret = (RunResult){
                .jobs = target,
                .delivered = target * per_job,
                .seconds = (double) elapsed / 1e9,
                .per_sec =
                        (double) (l->config.events ? target : target * per_job) / ((double) elapsed / 1e9),
                .bus_cpu = l->config.bus_pid > 0 ? (double) (bus1 - bus0) / (double) elapsed : -1,
                .bench_cpu = (double) (self1 - self0) / (double) elapsed,
                .load = load,
                .events_ok = l->config.events && load_check_events(l, NULL),
                .events_per_frame = load_events_per_frame(l),
                .held = l->config.n_observers > 0 ? (double) l->tallies[0].n_held : 0,
                .checked = l->config.one,
                .receipts_ok = !l->config.one || load_check_receipts(l, NULL),
        };
        if (ret->bus_cpu > 0)
                ret->per_bus_cpu_s = ret->per_sec / ret->bus_cpu;
        if (paced) {
                ret->p50_us = bench_percentile(l->latencies, l->n_latencies, 50);
                ret->p99_us = bench_percentile(l->latencies, l->n_latencies, 99);
                ret->max_us = bench_percentile(l->latencies, l->n_latencies, 100);
        }
        return 0;
}

/* A bus under load: the one under test, the one before a change, or the null bus. */
typedef struct Target {
        LoadConfig config;
        BenchDaemon *daemon; /* NULL for a bus given by --url */
        Load *load;
        char url[64];
        RunResult res[BENCH_RUNS_MAX];
} Target;

/* The buses of one comparison, loaded in turn run by run. */
typedef struct Bench {
        LoadConfig config;
        Target targets[TARGETS_MAX];
        unsigned n_targets;
        Target *bus, *before, *null_bus; /* the last two NULL when not compared */
} Bench;

static void bench_done(Bench *b) {
        for (unsigned k = 0; k < b->n_targets; k++) {
                b->targets[k].load = load_free(b->targets[k].load);
                b->targets[k].daemon = bench_daemon_free(b->targets[k].daemon);
        }
}

static void print_cpu(double v) {
        if (v < 0)
                printf(" %9s", "n/a");
        else
                printf(" %8.0f%%", v * 100);
}

static void print_load(double v) {
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

static double rate_of(const RunResult *r) {
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
                                        kind->what, i + 1, strerror(-r));
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
               "  -s N                scheduler connections (default 4)\n"
               "  -n N                jobs per throughput run, 0 = no throughput runs (default 200000)\n"
               "  --window N          jobs in flight: not yet received by every scheduler, or with\n"
               "                      --events whose events have not all reached every observer\n"
               "                      (default 4096; 4096 x S with --dispatch one, as many messages\n"
               "                      to schedulers as under broadcast; 1024 with --events)\n"
               "  --rate R            jobs/s offered in latency runs, 0 = none (default 20000;\n"
               "                      no latency runs with --events)\n"
               "  --duration SEC      of each latency run (default 5)\n"
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
               "lines).\n");
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
        /* The benchmark floods what it loads: never anything beyond this machine. A private address
         * is allowed for the network namespaces of bench/tls-veth.sh, whose veth pair stays here. */
        if (c->url && !url_is_local(c->url)) {
                fprintf(stderr, "bench-bus-load: --url must be a loopback or private-address (10.0.0.0/8) "
                                "ws:// or wss:// URL.\n");
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
        printf("# %s%s: %s%s%s at %s (started by the benchmark)\n", t->config.name, what, binary,
               args[0] ? " " : "", args[0] ?: "", t->url);
        fflush(stdout);
        return 0;
}

static int target_connect(Target *t) {
        int r;

        r = load_new(&t->load, &t->config);
        if (r >= 0 && t->daemon)
                /* Drained from our loop: a full notify queue would block the bus in sd_notify(). */
                r = bench_daemon_attach(t->daemon, bench_net_event(t->load->net), NULL, NULL);
        if (r == -EPROTO)
                fprintf(stderr, "bench-bus-load: %s at %s does not take this load (%s).\n", t->config.name,
                        t->config.url,
                        t->config.events ? "an old bus without reporting schedulers and observers?"
                                         : "not a job bus?");
        else if (r < 0)
                fprintf(stderr, "bench-bus-load: cannot set up %u+%u+%u connections to %s: %s\n",
                        t->config.n_producers, t->config.n_schedulers, t->config.n_observers, t->config.url,
                        strerror(-r));
        return r;
}

static Target *bench_add(Bench *b, const char *name, bool external) {
        Target *t = &b->targets[b->n_targets++];

        t->config = b->config;
        t->config.name = name;
        t->config.expect_final = true;
        if (!external) {
                t->config.url = NULL;
                t->config.bus_pid = 0;
        }
        return t;
}

static int bench_setup(Bench *b) {
        const LoadConfig *c = &b->config;
        int r;

        b->bus = bench_add(b, c->url ? "bus" : c->compare_binary ? "after" : "sched-bus", c->url);
        if (c->compare_binary)
                b->before = bench_add(b, "before", false);
        if (!c->no_baseline) {
                b->null_bus = bench_add(b, "null bus", false);
                b->null_bus->config.expect_final = false;
        }

        bench_print_header("bus fan-out (bench-bus-load)");
        if (c->url)
                printf("# %s: external bus at %s\n", b->bus->config.name, c->url);
        r = target_start(b->bus, c->bus_binary, false, "");
        if (r >= 0 && b->before)
                r = target_start(b->before, c->compare_binary, false, " (the bus before the change)");
        if (r >= 0 && b->null_bus)
                r = target_start(b->null_bus, c->null_bus_binary, true,
                                 " (baseline, same glue, no protocol work)");
        for (unsigned k = 0; r >= 0 && k < b->n_targets; k++)
                r = target_connect(&b->targets[k]);
        fflush(stdout);
        return r;
}

int main(int argc, char *argv[]) {
        Bench b = { .config = { .bus_binary = BUS_BINARY,
                                .null_bus_binary = NULL_BUS_BINARY,
                                .n_producers = 1,
                                .n_schedulers = 4,
                                .n_jobs = 200000,
                                .window = UNSET,
                                .rate = UNSET,
                                .n_observers = UNSET_U,
                                .slots = UNSET_U,
                                .duration = 5,
                                .runs = 5 } };
        int r, status = 0;

        r = parse_argv(argc, argv, &b.config);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        (void) bench_raise_nofile(4096);

        r = bench_setup(&b);
        if (r >= 0 && b.config.n_jobs > 0)
                r = b.config.events ? run_events(&b) : run_throughput(&b);
        if (r == 1) /* runs that broke a check: the figures are printed, the verdict too */
                status = 1;
        if (r >= 0 && b.config.rate > 0)
                r = run_latency(&b);
        if (r == 1)
                status = 1;
        bench_done(&b);
        return r < 0 ? 1 : status;
}
