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
 *
 * Baseline, run for run: the same load against bench-null-bus (null-bus.c), a fan-out server on
 * the same glue that does no protocol work. The ratio says how much of the cost is the bus's own.
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

#define TICK_NS           (200 * NSEC_PER_USEC) /* pacing step of latency runs */
#define PROBE_INTERVAL_NS (20 * NSEC_PER_MSEC)
#define SYNC_TIMEOUT_NS   (10 * NSEC_PER_SEC)
#define DRAIN_TIMEOUT_NS  (60 * NSEC_PER_SEC)
#define CONNS_MAX         256

typedef struct LoadConfig {
        const char *url; /* NULL: start the bus binary */
        const char *bus_binary;
        const char *null_bus_binary;
        bool no_baseline; /* do not load the null bus, run for run */
        pid_t bus_pid;    /* for the bus's CPU figure; 0: unknown */
        unsigned n_producers, n_schedulers;
        uint64_t n_jobs; /* per throughput run */
        uint64_t window;
        uint64_t rate;   /* jobs/s offered in latency runs; 0: no latency runs */
        double duration; /* seconds of a latency run */
        unsigned runs;
} LoadConfig;

typedef struct RunResult {
        uint64_t jobs, delivered;
        double seconds, per_sec;
        double bus_cpu, bench_cpu; /* fraction of one core */
        double p50_us, p99_us, max_us;
} RunResult;

typedef struct Load {
        LoadConfig config;
        BenchNet *net;
        BenchConn *producers[CONNS_MAX], *schedulers[CONNS_MAX];
        sd_event_source *tick_source; /* paced sending */

        /* The current run. */
        bool running, paced;
        uint64_t target, sent, t_start, t_first_send, t_last_receive;
        uint64_t received[CONNS_MAX], probes[CONNS_MAX];
        unsigned next_producer;
        double *latencies; /* µs, latency runs only */
        size_t n_latencies, latencies_alloc;
        bool broken;
} Load;

static Load *load_free(Load *l) {
        if (!l)
                return NULL;
        sd_event_source_disable_unref(l->tick_source);
        l->net = bench_net_free(l->net);
        free(l->latencies);
        return mfree(l);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Load *, load_free);

/* The send time in a payload, or 0 for a frame that has none (a probe, an error frame). */
static uint64_t payload_send_time(const char *data) {
        const char *p = strstr(data, "\"bench_t\"");

        if (!p)
                return 0;
        p += strlen("\"bench_t\"");
        p += strspn(p, " \t:");
        return strtoull(p, NULL, 10);
}

static void load_top_up(Load *l);

static void on_scheduler_message(BenchConn *c, const char *data, size_t size, void *userdata) {
        Load *l = userdata;
        uint64_t t = payload_send_time(data), now;

        if (t == 0) {
                l->probes[c->index]++;
                return;
        }
        if (!l->running)
                return;
        now = bench_now_ns();
        l->received[c->index]++;
        l->t_last_receive = now;
        if (l->paced) {
                if (l->n_latencies < l->latencies_alloc)
                        l->latencies[l->n_latencies++] = (double) (now - t) / 1000.0;
        } else
                load_top_up(l); /* the window moves with the slowest scheduler */
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

static uint64_t load_min_received(Load *l) {
        uint64_t m = UINT64_MAX;

        for (unsigned i = 0; i < l->config.n_schedulers; i++)
                m = MIN(m, l->received[i]);
        return m;
}

static void load_top_up(Load *l) {
        uint64_t floor = load_min_received(l);

        while (l->running && !l->paced && l->sent < l->target && l->sent - floor < l->config.window)
                if (load_send_job(l) < 0) {
                        l->broken = true;
                        return;
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
        for (unsigned i = 0; i < l->config.n_producers; i++)
                if (l->producers[i]->closed)
                        return true;
        return false;
}

static bool run_done(void *userdata) {
        Load *l = userdata;

        if (l->broken || load_any_closed(l))
                return true;
        return l->sent == l->target && load_min_received(l) == l->target;
}

static bool all_probed(void *userdata) {
        Load *l = userdata;

        for (unsigned i = 0; i < l->config.n_schedulers; i++)
                if (l->probes[i] == 0)
                        return false;
        return true;
}

/* Until every scheduler connection has received a probe, the bus may not know them all yet. */
static int load_sync(Load *l) {
        static const char probe[] =
                "{\"cmd\": \"job_request\", \"payload\": {\"priority\": 10, \"runtime\": 0}}";
        uint64_t deadline = bench_now_ns() + SYNC_TIMEOUT_NS;

        while (!all_probed(l)) {
                int r = bench_conn_send(l->producers[0], probe, sizeof probe - 1);

                if (r < 0)
                        return r;
                if (bench_now_ns() > deadline)
                        return -ETIMEDOUT;
                (void) bench_net_run_until(l->net, all_probed, l, PROBE_INTERVAL_NS);
        }
        bench_net_run_for(l->net, 50 * NSEC_PER_MSEC); /* late probes arrive now, not in the run */
        return 0;
}

/* Connection i of a role; on_message (may be NULL) gets what it receives. */
static int load_connect_one(Load *l, const char *url, const char *role, bench_message_t on_message,
                            unsigned i, BenchConn **ret) {
        int r;

        r = bench_conn_connect(l->net, url, ret);
        if (r < 0)
                return r;
        (*ret)->index = i;
        (*ret)->on_message = on_message;
        (*ret)->userdata = l;
        return bench_conn_register(*ret, role);
}

static int load_connect(Load *l, const char *url) {
        int r;

        for (unsigned i = 0; i < l->config.n_schedulers; i++) {
                r = load_connect_one(l, url, "scheduler", on_scheduler_message, i, &l->schedulers[i]);
                if (r < 0)
                        return r;
        }
        for (unsigned i = 0; i < l->config.n_producers; i++) {
                r = load_connect_one(l, url, "producer", NULL, i, &l->producers[i]);
                if (r < 0)
                        return r;
        }
        return load_sync(l);
}

static int load_new(Load **ret, const LoadConfig *config, const char *url) {
        _cleanup_(load_freep) Load *l = calloc(1, sizeof *l);
        int r;

        if (!l)
                return -ENOMEM;
        l->config = *config;
        r = bench_net_new(&l->net, NULL);
        if (r < 0)
                return r;
        r = sd_event_add_time(bench_net_event(l->net), &l->tick_source, CLOCK_MONOTONIC, 0, 1, on_tick, l);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(l->tick_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(l->tick_source, "bench-pacing");
        r = load_connect(l, url);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

static void load_reset(Load *l, uint64_t target, bool paced) {
        l->target = target;
        l->paced = paced;
        l->sent = l->t_first_send = l->t_last_receive = 0;
        l->next_producer = 0;
        memset(l->received, 0, sizeof l->received);
        l->n_latencies = 0;
        l->broken = false;
        l->t_start = bench_now_ns();
        l->running = true;
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

static int load_run(Load *l, bool paced, RunResult *ret) {
        uint64_t target = paced ? (uint64_t) (l->config.rate * l->config.duration) : l->config.n_jobs;
        uint64_t bus0 = 0, bus1 = 0, self0 = 0, self1 = 0, elapsed;
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

        load_reset(l, target, paced);
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
                fprintf(stderr,
                        "bench-bus-load: run stalled: %" PRIu64 " of %" PRIu64 " jobs sent, %" PRIu64
                        " received by the slowest scheduler.\n",
                        l->sent, l->target, load_min_received(l));
                return r;
        }
        if (l->broken || load_any_closed(l))
                return -ECONNRESET;

        (void) process_cpu(l->config.bus_pid, &bus1);
        (void) process_cpu(getpid(), &self1);
        elapsed = l->t_last_receive - l->t_first_send;
        *ret = (RunResult){
                .jobs = target,
                .delivered = target * l->config.n_schedulers,
                .seconds = (double) elapsed / 1e9,
                .per_sec = (double) (target * l->config.n_schedulers) / ((double) elapsed / 1e9),
                .bus_cpu = l->config.bus_pid > 0 ? (double) (bus1 - bus0) / (double) elapsed : -1,
                .bench_cpu = (double) (self1 - self0) / (double) elapsed,
        };
        if (paced) {
                ret->p50_us = bench_percentile(l->latencies, l->n_latencies, 50);
                ret->p99_us = bench_percentile(l->latencies, l->n_latencies, 99);
                ret->max_us = bench_percentile(l->latencies, l->n_latencies, 100);
        }
        return 0;
}

static void print_cpu(double v) {
        if (v < 0)
                printf(" %9s", "n/a");
        else
                printf(" %8.0f%%", v * 100);
}

/* Delivered messages per second of the bus's own CPU time: what it would do with a core to itself. */
static double per_cpu_second(const RunResult *r) {
        return r->bus_cpu > 0 ? r->per_sec / r->bus_cpu : 0;
}

/* A bus under load: sched-bus, or the null bus that is its baseline. */
typedef struct Target {
        const char *name;
        Load *load;
        RunResult res[BENCH_RUNS_MAX];
} Target;

static void print_throughput_row(const char *run, const char *name, const RunResult *r) {
        printf("%-7s %-10s %11" PRIu64 " %8.3f %12.0f", run, name, r->delivered, r->seconds, r->per_sec);
        print_cpu(r->bus_cpu);
        print_cpu(r->bench_cpu);
        printf(" %12.0f\n", per_cpu_second(r));
}

static void throughput_summary(const LoadConfig *c, Target *t, unsigned n_targets) {
        double ratio[BENCH_RUNS_MAX], cpu_ratio[BENCH_RUNS_MAX], per_cpu[BENCH_RUNS_MAX];

        for (unsigned k = 0; k < n_targets; k++) {
                RunResult m = {
                        .seconds = BENCH_MEDIAN_OF(t[k].res, c->runs, seconds),
                        .per_sec = BENCH_MEDIAN_OF(t[k].res, c->runs, per_sec),
                        .bus_cpu = BENCH_MEDIAN_OF(t[k].res, c->runs, bus_cpu),
                        .bench_cpu = BENCH_MEDIAN_OF(t[k].res, c->runs, bench_cpu),
                };

                for (unsigned i = 0; i < c->runs; i++)
                        per_cpu[i] = per_cpu_second(&t[k].res[i]);
                printf("%-7s %-10s %11s %8.3f %12.0f", "median", t[k].name, "", m.seconds, m.per_sec);
                print_cpu(m.bus_cpu);
                print_cpu(m.bench_cpu);
                printf(" %12.0f\n", bench_median(per_cpu, c->runs));
        }
        for (unsigned i = 0; i < c->runs; i++)
                per_cpu[i] = per_cpu_second(&t[0].res[i]);
        printf("RESULT bus_throughput_%ux%u delivered_per_s=%.0f per_bus_cpu_s=%.0f", c->n_producers,
               c->n_schedulers, BENCH_MEDIAN_OF(t[0].res, c->runs, per_sec), bench_median(per_cpu, c->runs));
        if (n_targets > 1) {
                for (unsigned i = 0; i < c->runs; i++) {
                        ratio[i] = t[0].res[i].per_sec / t[1].res[i].per_sec;
                        cpu_ratio[i] = per_cpu_second(&t[0].res[i]) / per_cpu_second(&t[1].res[i]);
                }
                printf(" ratio_to_null_bus=%.3f per_cpu_ratio_to_null_bus=%.3f",
                       bench_median(ratio, c->runs), bench_median(cpu_ratio, c->runs));
        }
        printf("\n");
}

static int run_throughput(const LoadConfig *c, Target *t, unsigned n_targets) {
        char run[16];
        int r;

        printf("\n## throughput: %u producer(s) x %u scheduler(s), %" PRIu64 " jobs per run, window %" PRIu64
               "\n",
               c->n_producers, c->n_schedulers, c->n_jobs, c->window);
        printf("%-7s %-10s %11s %8s %12s %9s %9s %12s\n", "run", "bus", "delivered", "seconds",
               "delivered/s", "bus CPU", "bench CPU", "per bus CPU-s");
        for (unsigned i = 0; i < c->runs; i++)
                for (unsigned k = 0; k < n_targets; k++) {
                        r = load_run(t[k].load, false, &t[k].res[i]);
                        if (r < 0) {
                                fprintf(stderr, "bench-bus-load: %s, throughput run %u failed: %s\n",
                                        t[k].name, i + 1, strerror(-r));
                                return r;
                        }
                        (void) snprintf(run, sizeof run, "%u", i + 1);
                        print_throughput_row(run, t[k].name, &t[k].res[i]);
                        fflush(stdout);
                }
        throughput_summary(c, t, n_targets);
        return 0;
}

static void print_latency_row(const char *run, const char *name, const RunResult *r) {
        printf("%-7s %-10s %11" PRIu64 " %9.0f %9.0f %9.0f", run, name, r->delivered, r->p50_us, r->p99_us,
               r->max_us);
        print_cpu(r->bus_cpu);
        print_cpu(r->bench_cpu);
        printf("\n");
}

static int run_latency(const LoadConfig *c, Target *t, unsigned n_targets) {
        char run[16];
        int r;

        printf("\n## latency send->receipt: %u producer(s) x %u scheduler(s), %" PRIu64
               " jobs/s offered for %.1f s\n",
               c->n_producers, c->n_schedulers, c->rate, c->duration);
        printf("%-7s %-10s %11s %9s %9s %9s %9s %9s\n", "run", "bus", "samples", "p50 µs", "p99 µs",
               "max µs", "bus CPU", "bench CPU");
        for (unsigned i = 0; i < c->runs; i++)
                for (unsigned k = 0; k < n_targets; k++) {
                        r = load_run(t[k].load, true, &t[k].res[i]);
                        if (r < 0) {
                                fprintf(stderr, "bench-bus-load: %s, latency run %u failed: %s\n", t[k].name,
                                        i + 1, strerror(-r));
                                return r;
                        }
                        (void) snprintf(run, sizeof run, "%u", i + 1);
                        print_latency_row(run, t[k].name, &t[k].res[i]);
                        fflush(stdout);
                }
        for (unsigned k = 0; k < n_targets; k++) {
                RunResult m = {
                        .delivered = t[k].res[0].delivered,
                        .p50_us = BENCH_MEDIAN_OF(t[k].res, c->runs, p50_us),
                        .p99_us = BENCH_MEDIAN_OF(t[k].res, c->runs, p99_us),
                        .max_us = BENCH_MEDIAN_OF(t[k].res, c->runs, max_us),
                        .bus_cpu = BENCH_MEDIAN_OF(t[k].res, c->runs, bus_cpu),
                        .bench_cpu = BENCH_MEDIAN_OF(t[k].res, c->runs, bench_cpu),
                };
                print_latency_row("median", t[k].name, &m);
        }
        printf("RESULT bus_latency_%ux%u_at_%" PRIu64 " p50_us=%.0f p99_us=%.0f max_us=%.0f", c->n_producers,
               c->n_schedulers, c->rate, BENCH_MEDIAN_OF(t[0].res, c->runs, p50_us),
               BENCH_MEDIAN_OF(t[0].res, c->runs, p99_us), BENCH_MEDIAN_OF(t[0].res, c->runs, max_us));
        if (n_targets > 1)
                printf(" null_bus_p99_us=%.0f", BENCH_MEDIAN_OF(t[1].res, c->runs, p99_us));
        printf("\n");
        return 0;
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
               "  -p N                producer connections (default 1)\n"
               "  -s N                scheduler connections (default 4)\n"
               "  -n N                jobs per throughput run, 0 = no throughput runs (default 200000)\n"
               "  --window N          jobs sent but not yet received by every scheduler (default 4096)\n"
               "  --rate R            jobs/s offered in latency runs, 0 = none (default 20000)\n"
               "  --duration SEC      of each latency run (default 5)\n"
               "  --runs N            runs of each kind; tables quote the median (default 5)\n"
               "  --no-baseline       do not run the same load against the null bus\n"
               "  --null-bus-binary PATH  (default " NULL_BUS_BINARY ")\n"
               "\n"
               "The null bus is the baseline: the same WebSocket glue and loop, forwarding frames\n"
               "without any protocol work. Every run loads both, one after the other.\n");
}

static int parse_argv(int argc, char *argv[], LoadConfig *c) {
        const BenchOption options[] = {
                BENCH_OPT_STRING("url", 0, &c->url),
                BENCH_OPT_INT("bus-pid", 0, 1, INT32_MAX, &c->bus_pid),
                BENCH_OPT_BUS_BINARY(&c->bus_binary),
                BENCH_OPT_UNSIGNED(NULL, 'p', 1, CONNS_MAX, &c->n_producers),
                BENCH_OPT_UNSIGNED(NULL, 's', 1, CONNS_MAX, &c->n_schedulers),
                BENCH_OPT_UINT64(NULL, 'n', 0, 100000000, &c->n_jobs),
                BENCH_OPT_UINT64("window", 0, 1, 1000000, &c->window),
                BENCH_OPT_UINT64("rate", 0, 0, 10000000, &c->rate),
                BENCH_OPT_DOUBLE("duration", 0, 0.1, 600, &c->duration),
                BENCH_OPT_RUNS(&c->runs),
                BENCH_OPT_FLAG("no-baseline", 0, &c->no_baseline),
                BENCH_OPT_STRING("null-bus-binary", 0, &c->null_bus_binary),
        };
        int r;

        r = BENCH_PARSE_ARGV("bench-bus-load", help, options, argc, argv);
        if (r <= 0)
                return r;
        /* The benchmark floods what it loads: never anything beyond this machine. */
        if (c->url && strncmp(c->url, "ws://127.0.0.1:", 15) != 0 &&
            strncmp(c->url, "ws://localhost:", 15) != 0) {
                fprintf(stderr, "bench-bus-load: --url must be a loopback ws:// URL.\n");
                return -EINVAL;
        }
        return 1;
}

/* Starts a bus binary on a loopback socket, unless config->url names one already. */
static int start_target(LoadConfig *config, const char *binary, BenchDaemon **ret_daemon, char *url,
                        size_t size) {
        int r;

        if (config->url)
                return 0;
        r = bench_daemon_start_bus(ret_daemon, binary, NULL, NULL, url, size);
        if (r < 0) {
                fprintf(stderr, "bench-bus-load: cannot start %s: %s\n", binary, strerror(-r));
                return r;
        }
        config->url = url;
        config->bus_pid = bench_daemon_pid(*ret_daemon);
        return 0;
}

static int connect_target(const LoadConfig *config, BenchDaemon *daemon, Load **ret) {
        int r;

        r = load_new(ret, config, config->url);
        if (r >= 0 && daemon)
                /* Drained from our loop: a full notify queue would block the bus in sd_notify(). */
                r = bench_daemon_attach(daemon, bench_net_event((*ret)->net), NULL, NULL);
        if (r < 0)
                fprintf(stderr, "bench-bus-load: cannot set up %u+%u connections to %s: %s\n",
                        config->n_producers, config->n_schedulers, config->url, strerror(-r));
        return r;
}

int main(int argc, char *argv[]) {
        LoadConfig config = { .bus_binary = BUS_BINARY,
                              .null_bus_binary = NULL_BUS_BINARY,
                              .n_producers = 1,
                              .n_schedulers = 4,
                              .n_jobs = 200000,
                              .window = 4096,
                              .rate = 20000,
                              .duration = 5,
                              .runs = 5 };
        _cleanup_(bench_daemon_freep) BenchDaemon *bus = NULL, *null_bus = NULL;
        _cleanup_(load_freep) Load *load = NULL, *baseline = NULL;
        Target targets[2] = { { .name = "sched-bus" }, { .name = "null bus" } };
        LoadConfig null_config;
        char url[64], null_url[64];
        unsigned n_targets = 1;
        bool external;
        int r;

        r = parse_argv(argc, argv, &config);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        (void) bench_raise_nofile(4096);
        external = config.url;
        if (external)
                targets[0].name = "bus";

        null_config = config;
        null_config.url = NULL;
        if (start_target(&config, config.bus_binary, &bus, url, sizeof url) < 0)
                return 1;
        if (!config.no_baseline &&
            start_target(&null_config, config.null_bus_binary, &null_bus, null_url, sizeof null_url) < 0)
                return 1;

        bench_print_header("bus fan-out (bench-bus-load)");
        printf("# %s: %s at %s%s\n", targets[0].name, external ? "external bus" : config.bus_binary,
               config.url, external ? "" : " (started by the benchmark)");
        if (!config.no_baseline)
                printf("# null bus (baseline, same glue, no protocol work): %s at %s\n",
                       config.null_bus_binary, null_config.url);

        if (connect_target(&config, bus, &load) < 0)
                return 1;
        targets[0].load = load;
        if (!config.no_baseline) {
                if (connect_target(&null_config, null_bus, &baseline) < 0)
                        return 1;
                targets[1].load = baseline;
                n_targets = 2;
        }
        if (config.n_jobs > 0 && run_throughput(&config, targets, n_targets) < 0)
                return 1;
        if (config.rate > 0 && run_latency(&config, targets, n_targets) < 0)
                return 1;
        return 0;
}
