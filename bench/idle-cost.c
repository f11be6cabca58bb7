/* SPDX-License-Identifier: MIT */
/*
 * bench-idle: what sched-bus and sched-scheduler cost while nothing happens. The bus serves two
 * clients (the scheduler and a producer connection of ours), then for a window of --seconds
 * nobody sends anything. Read from /proc for each daemon over the window: wakeups (voluntary
 * context switches, summed over threads: each is one sleep that ended), involuntary switches and
 * CPU time, next to the WATCHDOG=1 pings it sent. With the watchdog on, every ping is one wakeup;
 * any wakeup beyond those is a periodic timer nobody asked for.
 *
 * Cases: no watchdog (WATCHDOG_USEC unset), and WATCHDOG_USEC=--watchdog. With --strace, one more
 * window per daemon under `strace -c -f` lists the system calls made while idle.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-option.h"
#include "bench-stack.h"
#include "bench-util.h"

#define SETTLE_NS (500 * NSEC_PER_MSEC)

typedef enum Daemon {
        DAEMON_BUS,
        DAEMON_SCHEDULER,
        _DAEMON_MAX,
} Daemon;

static const char *const daemon_names[_DAEMON_MAX] = {
        [DAEMON_BUS] = "sched-bus",
        [DAEMON_SCHEDULER] = "sched-scheduler",
};

typedef struct IdleConfig {
        unsigned seconds, runs;
        uint64_t watchdog_usec;
        bool strace;
        const char *bus_binary, *scheduler_binary;
} IdleConfig;

typedef struct IdleResult {
        double wakeups, involuntary, cpu_ms, pings;
        unsigned per_second[600]; /* wakeups in each second of the window */
} IdleResult;

static BenchDaemon *idle_daemon(BenchStack *s, Daemon d) {
        return d == DAEMON_BUS ? s->bus : s->scheduler;
}

static int idle_setup(BenchStack *s, const IdleConfig *c, bool watchdog) {
        char url[64], wd[64], *env[] = { wd, NULL };
        char *argv[] = {
                (char *) c->scheduler_binary, (char *) "-s", (char *) "5", (char *) "--bus", url, NULL
        };
        char *bus_args[] = { NULL };
        int r;

        (void) snprintf(wd, sizeof wd, "WATCHDOG_USEC=%" PRIu64, c->watchdog_usec);
        /* The bus gets its watchdog through the environment as well: start it by hand here. */
        if (watchdog)
                (void) setenv("WATCHDOG_USEC", wd + strlen("WATCHDOG_USEC="), 1);
        r = bench_daemon_start_bus(&s->bus, c->bus_binary, bus_args, NULL, url, sizeof url);
        (void) unsetenv("WATCHDOG_USEC");
        if (r < 0)
                return r;
        r = bench_daemon_spawn(&s->scheduler, argv, -1, NULL, watchdog ? env : NULL);
        if (r < 0)
                return r;
        r = bench_daemon_wait_ready(s->scheduler, 10000);
        if (r < 0)
                return r;
        r = bench_stack_connect(s, url, NULL, NULL);
        if (r < 0)
                return r;
        /* Registration, STATUS= updates and the first watchdog ping settle before the window. */
        bench_net_run_for(s->net, SETTLE_NS);
        return 0;
}

/* One window: /proc figures of both daemons, sampled every second. */
static int idle_measure(BenchStack *s, const IdleConfig *c, IdleResult ret[_DAEMON_MAX]) {
        ProcStats first[_DAEMON_MAX], prev[_DAEMON_MAX], cur;
        unsigned pings0[_DAEMON_MAX];
        int r;

        for (Daemon d = 0; d < _DAEMON_MAX; d++) {
                r = proc_stats_read(bench_daemon_pid(idle_daemon(s, d)), &first[d]);
                if (r < 0)
                        return r;
                prev[d] = first[d];
                pings0[d] = bench_daemon_n_watchdog(idle_daemon(s, d));
                ret[d] = (IdleResult){};
        }
        for (unsigned sec = 0; sec < c->seconds; sec++) {
                bench_net_run_for(s->net, NSEC_PER_SEC);
                for (Daemon d = 0; d < _DAEMON_MAX; d++) {
                        r = proc_stats_read(bench_daemon_pid(idle_daemon(s, d)), &cur);
                        if (r < 0)
                                return r;
                        ret[d].per_second[sec] = (unsigned) (cur.ctx_voluntary - prev[d].ctx_voluntary);
                        prev[d] = cur;
                }
        }
        for (Daemon d = 0; d < _DAEMON_MAX; d++) {
                ret[d].wakeups = (double) (prev[d].ctx_voluntary - first[d].ctx_voluntary);
                ret[d].involuntary = (double) (prev[d].ctx_involuntary - first[d].ctx_involuntary);
                ret[d].cpu_ms = (double) (prev[d].cpu_ns - first[d].cpu_ns) / 1e6;
                ret[d].pings = (double) (bench_daemon_n_watchdog(idle_daemon(s, d)) - pings0[d]);
        }
        return 0;
}

/* strace -c -f on one daemon for a window; its summary goes to stdout. */
static int idle_strace(BenchStack *s, const IdleConfig *c, Daemon d) {
        char pid[32], out[128];
        char *argv[] = { (char *) "strace", (char *) "-q", (char *) "-c", (char *) "-f", (char *) "-o", out,
                         (char *) "-p",     pid,           NULL };
        _cleanup_free_ char *line = NULL;
        size_t len = 0;
        pid_t child;
        int status;
        FILE *f;

        (void) snprintf(pid, sizeof pid, "%d", (int) bench_daemon_pid(idle_daemon(s, d)));
        (void) snprintf(out, sizeof out, "/tmp/sched-bench-strace-%d", (int) getpid());
        fflush(stdout);
        child = fork();
        if (child < 0)
                return -errno;
        if (child == 0) {
                execvp("strace", argv);
                _exit(127);
        }
        bench_net_run_for(s->net, (uint64_t) c->seconds * NSEC_PER_SEC);
        (void) kill(child, SIGINT);
        (void) waitpid(child, &status, 0);

        f = fopen(out, "re");
        if (!f)
                return -ENOENT;
        printf("### strace -c -f -p %s (%s), %u s idle\n", pid, daemon_names[d], c->seconds);
        while (getline(&line, &len, f) > 0)
                fputs(line, stdout);
        fclose(f);
        (void) unlink(out);
        return 0;
}

static void print_row(unsigned run, const char *label, Daemon d, const IdleResult *r, unsigned seconds) {
        printf("%-6u %-12s %-16s %9.0f %9.0f %8.0f %11.2f %12.0f   ", run, label, daemon_names[d],
               r->wakeups, r->pings, r->wakeups - r->pings, r->cpu_ms, r->involuntary);
        /* The seconds of the window in which it woke up, "12x2" for two wakeups in second 12. */
        for (unsigned i = 0; i < seconds; i++) {
                if (r->per_second[i] == 0)
                        continue;
                printf(" %u", i);
                if (r->per_second[i] > 1)
                        printf("x%u", r->per_second[i]);
        }
        printf("\n");
}

static int idle_run(const IdleConfig *c, bool watchdog, unsigned run, IdleResult res[_DAEMON_MAX]) {
        BenchStack s = {};
        int r;

        r = idle_setup(&s, c, watchdog);
        if (r >= 0)
                r = idle_measure(&s, c, res);
        if (r >= 0) {
                for (Daemon d = 0; d < _DAEMON_MAX; d++)
                        print_row(run, watchdog ? "watchdog" : "no watchdog", d, &res[d], c->seconds);
                fflush(stdout);
        }
        if (r >= 0 && c->strace && run == 1)
                for (Daemon d = 0; d < _DAEMON_MAX && r >= 0; d++)
                        r = idle_strace(&s, c, d);
        bench_stack_done(&s);
        return r;
}

static int idle_case(const IdleConfig *c, bool watchdog, IdleResult res[][_DAEMON_MAX]) {
        for (unsigned i = 0; i < c->runs; i++) {
                int r = idle_run(c, watchdog, i + 1, res[i]);

                if (r < 0) {
                        fprintf(stderr, "bench-idle: %s, run %u: %s\n",
                                watchdog ? "watchdog" : "no watchdog", i + 1, strerror(-r));
                        return r;
                }
        }
        return 0;
}

static void print_summary(const IdleConfig *c, bool watchdog, IdleResult res[][_DAEMON_MAX]) {
        const char *label = watchdog ? "watchdog" : "no watchdog";
        double w[BENCH_RUNS_MAX], p[BENCH_RUNS_MAX], o[BENCH_RUNS_MAX], cpu[BENCH_RUNS_MAX];

        for (Daemon d = 0; d < _DAEMON_MAX; d++) {
                for (unsigned i = 0; i < c->runs; i++) {
                        w[i] = res[i][d].wakeups;
                        p[i] = res[i][d].pings;
                        o[i] = res[i][d].wakeups - res[i][d].pings;
                        cpu[i] = res[i][d].cpu_ms;
                }
                printf("%-12s %-16s %9.1f %9.1f %8.1f %11.2f\n", label, daemon_names[d],
                       bench_median(w, c->runs), bench_median(p, c->runs), bench_median(o, c->runs),
                       bench_median(cpu, c->runs));
                printf("RESULT idle_%s_%s wakeups=%.1f pings=%.1f other=%.1f cpu_ms=%.2f seconds=%u\n",
                       watchdog ? "watchdog" : "nowatchdog", d == DAEMON_BUS ? "bus" : "scheduler",
                       bench_median(w, c->runs), bench_median(p, c->runs), bench_median(o, c->runs),
                       bench_median(cpu, c->runs), c->seconds);
        }
}

static void help(void) {
        printf("Usage: bench-idle [OPTIONS]\n"
               "\n"
               "Wakeups and CPU time of sched-bus and sched-scheduler while idle, the bus serving\n"
               "two clients (the scheduler and a producer).\n"
               "\n"
               "  --seconds N            length of each idle window (default 10)\n"
               "  --watchdog SEC         WATCHDOG_USEC of the watchdog case (default 2)\n"
               "  --runs N               runs of each case (default 5)\n"
               "  --strace               one more window per daemon under strace -c -f\n"
               "  --bus-binary PATH      (default " BUS_BINARY ")\n"
               "  --scheduler-binary PATH  (default " SCHEDULER_BINARY ")\n");
}

static int parse_argv(int argc, char *argv[], IdleConfig *c) {
        const BenchOption options[] = {
                BENCH_OPT_UNSIGNED("seconds", 0, 1, 600, &c->seconds),
                /* At least 1 µs: WATCHDOG_USEC=0 would mean no watchdog. */
                BENCH_OPT_SECONDS("watchdog", 0, 1e-6, 3600, &c->watchdog_usec),
                BENCH_OPT_RUNS(&c->runs),
                BENCH_OPT_FLAG("strace", 0, &c->strace),
                BENCH_OPT_BUS_BINARY(&c->bus_binary),
                BENCH_OPT_SCHEDULER_BINARY(&c->scheduler_binary),
        };

        return BENCH_PARSE_ARGV("bench-idle", help, options, argc, argv);
}

int main(int argc, char *argv[]) {
        IdleConfig config = { .seconds = 10,
                              .runs = 5,
                              .watchdog_usec = 2 * USEC_PER_SEC,
                              .bus_binary = BUS_BINARY,
                              .scheduler_binary = SCHEDULER_BINARY };
        IdleResult(*off)[_DAEMON_MAX] = NULL, (*on)[_DAEMON_MAX] = NULL;
        int r;

        r = parse_argv(argc, argv, &config);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        off = calloc(config.runs, sizeof *off);
        on = calloc(config.runs, sizeof *on);
        if (!off || !on)
                return 1;

        bench_print_header("idle cost (bench-idle)");
        printf("# %u s idle windows, bus with 2 clients (scheduler + producer), watchdog case "
               "WATCHDOG_USEC=%" PRIu64 "\n",
               config.seconds, config.watchdog_usec);
        printf("%-6s %-12s %-16s %9s %9s %8s %11s %12s   %s\n", "run", "case", "daemon", "wakeups", "pings",
               "other", "CPU ms", "involuntary", "seconds with wakeups");
        r = idle_case(&config, false, off);
        if (r >= 0)
                r = idle_case(&config, true, on);
        if (r >= 0) {
                printf("\n## summary: medians of %u runs, per %u s window\n", config.runs, config.seconds);
                printf("%-12s %-16s %9s %9s %8s %11s\n", "case", "daemon", "wakeups", "pings", "other",
                       "CPU ms");
                print_summary(&config, false, off);
                print_summary(&config, true, on);
        }
        free(off);
        free(on);
        return r < 0 ? 1 : 0;
}
