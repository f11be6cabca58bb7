/* SPDX-License-Identifier: MIT */
/*
 * bench-spawn: the scheduler's job start/reap rate against a bare spawn loop, measured in the same
 * run. Each run does, in this order:
 *
 *   bare-1      posix_spawn + waitpid of /bin/true, one at a time
 *   bare-8      the same with SLOTS children in flight (waitpid(-1) and spawn the next)
 *   sched ...   N zero-runtime jobs submitted at once through sched-bus to sched-scheduler -s SLOTS,
 *               from the first submit to the STATUS= that reports the last one done, with the
 *               job command /bin/true (--exec) or the default test job (sleep 0.000), and the
 *               daemon's stderr (one line per job state) to /dev/null or to a file.
 *
 * and reports jobs/s and the ratio of each scheduler case to bare-8 (same parallelism) and bare-1.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-daemon.h"
#include "bench-net.h"
#include "bench-util.h"
#include "parse.h"

#define RUNS_MAX        100
#define JOB_TIMEOUT_NS  (600 * NSEC_PER_SEC)
#define SETUP_TIMEOUT_NS (10 * NSEC_PER_SEC)

extern char **environ;

typedef enum Case {
        CASE_BARE_1,
        CASE_BARE_N,
        CASE_SCHED_TRUE_NULL,
        CASE_SCHED_TRUE_FILE,
        CASE_SCHED_SLEEP_NULL,
        CASE_SCHED_SLEEP_FILE,
        _CASE_MAX,
} Case;

static const char *const case_names[_CASE_MAX] = {
        [CASE_BARE_1] = "bare loop, 1 in flight",
        [CASE_BARE_N] = "bare loop, SLOTS in flight",
        [CASE_SCHED_TRUE_NULL] = "scheduler --exec /bin/true, stderr /dev/null",
        [CASE_SCHED_TRUE_FILE] = "scheduler --exec /bin/true, stderr to a file",
        [CASE_SCHED_SLEEP_NULL] = "scheduler default job (sleep 0.000), stderr /dev/null",
        [CASE_SCHED_SLEEP_FILE] = "scheduler default job (sleep 0.000), stderr to a file",
};

/* For the RESULT lines. */
static const char *const case_keys[_CASE_MAX] = {
        [CASE_BARE_1] = "bare_1",
        [CASE_BARE_N] = "bare_n",
        [CASE_SCHED_TRUE_NULL] = "sched_true_devnull",
        [CASE_SCHED_TRUE_FILE] = "sched_true_file",
        [CASE_SCHED_SLEEP_NULL] = "sched_sleep_devnull",
        [CASE_SCHED_SLEEP_FILE] = "sched_sleep_file",
};

typedef struct SpawnConfig {
        unsigned n_jobs, slots, runs;
        const char *bus_binary, *scheduler_binary;
} SpawnConfig;

typedef struct CaseResult {
        double per_sec;
        double parent_cpu_us_per_job; /* the spawning process's own CPU (not its children's): the
                                       * bare loop's, or the scheduler's */
        double log_bytes_per_job;
        unsigned n_status; /* STATUS= datagrams the scheduler sent */
} CaseResult;

/* ---- bare loops ---- */

static int spawn_true(pid_t *ret) {
        static char *const argv[] = { (char *) "/bin/true", NULL };
        int r = posix_spawn(ret, "/bin/true", NULL, NULL, argv, environ);

        return r == 0 ? 0 : -r;
}

static uint64_t self_cpu_ns(void) {
        struct rusage ru;

        if (getrusage(RUSAGE_SELF, &ru) < 0)
                return 0;
        return (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * NSEC_PER_SEC +
               (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * NSEC_PER_USEC;
}

static int bare_loop(unsigned n_jobs, unsigned in_flight, CaseResult *ret) {
        unsigned started = 0, running = 0;
        uint64_t t0 = bench_now_ns(), cpu0 = self_cpu_ns();
        int status, r;
        pid_t pid;

        while (started < n_jobs || running > 0) {
                if (started < n_jobs && running < in_flight) {
                        r = spawn_true(&pid);
                        if (r < 0)
                                return r;
                        started++;
                        running++;
                        continue;
                }
                pid = waitpid(-1, &status, 0);
                if (pid < 0)
                        return -errno;
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        return -EPROTO;
                running--;
        }
        ret->per_sec = (double) n_jobs / ((double) (bench_now_ns() - t0) / 1e9);
        ret->parent_cpu_us_per_job = (double) (self_cpu_ns() - cpu0) / 1000.0 / n_jobs;
        return 0;
}

/* ---- through the scheduler ---- */

typedef struct SchedRun {
        uint64_t base_done, target;
        uint64_t done, failed;
        uint64_t t_done;
        bool connected;
} SchedRun;

static void on_scheduler_status(BenchDaemon *d, const char *status, uint64_t now_ns, void *userdata) {
        SchedRun *run = userdata;
        long long done = bench_status_number(status, "done"), failed = bench_status_number(status, "failed");

        run->connected = strstr(status, "bus connected") != NULL;
        if (done >= 0)
                run->done = (uint64_t) done;
        if (failed >= 0)
                run->failed = (uint64_t) failed;
        if (run->target > 0 && run->t_done == 0 && run->done + run->failed >= run->target)
                run->t_done = now_ns;
}

static bool sched_connected(void *userdata) {
        return ((SchedRun *) userdata)->connected;
}

static bool sched_finished(void *userdata) {
        SchedRun *run = userdata;

        return run->target > 0 && run->t_done > 0;
}

static int send_jobs(BenchConn *producer, unsigned n) {
        static const char job[] = "{\"cmd\": \"job_request\", \"payload\": {\"priority\": 5, \"runtime\": 0}}";

        for (unsigned i = 0; i < n; i++) {
                int r = bench_conn_send(producer, job, sizeof job - 1);

                if (r < 0)
                        return r;
        }
        return 0;
}

/* Bus, scheduler and a producer connection, with one warm-up job done. */
static int sched_setup(const SpawnConfig *c, bool exec_true, const char *log_path, SchedRun *run, BenchNet **ret_net,
                       BenchDaemon **ret_bus, BenchDaemon **ret_sched, BenchConn **ret_producer) {
        char url[64], size[16], *argv[16];
        size_t n = 0;
        int r;

        r = bench_daemon_start_bus(ret_bus, c->bus_binary, NULL, NULL, url, sizeof url);
        if (r < 0)
                return r;
        (void) snprintf(size, sizeof size, "%u", c->slots);
        argv[n++] = (char *) c->scheduler_binary;
        argv[n++] = (char *) "-s";
        argv[n++] = size;
        argv[n++] = (char *) "--bus";
        argv[n++] = url;
        if (exec_true) {
                argv[n++] = (char *) "--exec";
                argv[n++] = (char *) "/bin/true";
        }
        argv[n] = NULL;
        r = bench_daemon_spawn(ret_sched, argv, -1, log_path, NULL);
        if (r < 0)
                return r;
        r = bench_daemon_wait_ready(*ret_sched, 10000);
        if (r < 0)
                return r;

        r = bench_net_new(ret_net, NULL);
        if (r < 0)
                return r;
        r = bench_daemon_attach(*ret_bus, bench_net_event(*ret_net), NULL, NULL);
        if (r < 0)
                return r;
        r = bench_daemon_attach(*ret_sched, bench_net_event(*ret_net), on_scheduler_status, run);
        if (r < 0)
                return r;
        on_scheduler_status(*ret_sched, bench_daemon_status(*ret_sched), bench_now_ns(), run);
        r = bench_net_run_until(*ret_net, sched_connected, run, SETUP_TIMEOUT_NS);
        if (r < 0)
                return r;
        r = bench_conn_connect(*ret_net, url, ret_producer);
        if (r < 0)
                return r;
        r = bench_conn_register(*ret_producer, "producer");
        if (r < 0)
                return r;

        /* One job end to end: the scheduler's registration has surely reached the bus. */
        run->target = 1;
        r = send_jobs(*ret_producer, 1);
        if (r < 0)
                return r;
        return bench_net_run_until(*ret_net, sched_finished, run, SETUP_TIMEOUT_NS);
}

static int sched_measure(const SpawnConfig *c, bool exec_true, const char *log_path, CaseResult *ret) {
        _cleanup_(bench_daemon_freep) BenchDaemon *bus = NULL, *sched = NULL;
        _cleanup_(bench_net_freep) BenchNet *net = NULL;
        BenchConn *producer = NULL;
        SchedRun run = {};
        ProcStats st0, st1;
        struct stat st;
        uint64_t t0;
        int r;

        r = sched_setup(c, exec_true, log_path, &run, &net, &bus, &sched, &producer);
        if (r < 0)
                return r;
        r = proc_stats_read(bench_daemon_pid(sched), &st0);
        if (r < 0)
                return r;

        run.base_done = run.done + run.failed;
        run.target = run.base_done + c->n_jobs;
        run.t_done = 0;
        t0 = bench_now_ns();
        r = send_jobs(producer, c->n_jobs);
        if (r < 0)
                return r;
        r = bench_net_run_until(net, sched_finished, &run, JOB_TIMEOUT_NS);
        if (r < 0)
                return r;
        r = proc_stats_read(bench_daemon_pid(sched), &st1);
        if (r < 0)
                return r;
        if (run.failed > 0) {
                fprintf(stderr, "bench-spawn: %" PRIu64 " jobs failed.\n", run.failed);
                return -EPROTO;
        }
        *ret = (CaseResult){
                .per_sec = (double) c->n_jobs / ((double) (run.t_done - t0) / 1e9),
                .parent_cpu_us_per_job = (double) (st1.cpu_ns - st0.cpu_ns) / 1000.0 / c->n_jobs,
                .log_bytes_per_job = log_path && stat(log_path, &st) == 0 ? (double) st.st_size / (c->n_jobs + 1)
                                                                          : 0,
                .n_status = bench_daemon_n_datagrams(sched),
        };
        return 0;
}

static int sched_case(const SpawnConfig *c, bool exec_true, bool log_to_file, CaseResult *ret) {
        char log_path[128];
        int r;

        (void) snprintf(log_path, sizeof log_path, "/tmp/sched-bench-spawn-%d.log", (int) getpid());
        r = sched_measure(c, exec_true, log_to_file ? log_path : NULL, ret);
        if (log_to_file)
                (void) unlink(log_path);
        return r;
}

static int run_case(const SpawnConfig *c, Case k, CaseResult *ret) {
        *ret = (CaseResult){};
        switch (k) {
        case CASE_BARE_1:
                return bare_loop(c->n_jobs, 1, ret);
        case CASE_BARE_N:
                return bare_loop(c->n_jobs, c->slots, ret);
        case CASE_SCHED_TRUE_NULL:
                return sched_case(c, true, false, ret);
        case CASE_SCHED_TRUE_FILE:
                return sched_case(c, true, true, ret);
        case CASE_SCHED_SLEEP_NULL:
                return sched_case(c, false, false, ret);
        case CASE_SCHED_SLEEP_FILE:
                return sched_case(c, false, true, ret);
        default:
                return -EINVAL;
        }
}

static const char *case_name(const SpawnConfig *c, Case k, char *buf, size_t size) {
        if (k == CASE_BARE_N) {
                (void) snprintf(buf, size, "bare loop, %u in flight", c->slots);
                return buf;
        }
        return case_names[k];
}

static void print_summary(const SpawnConfig *c, CaseResult res[][_CASE_MAX]) {
        double v[RUNS_MAX], to_n[RUNS_MAX], to_1[RUNS_MAX], cpu[RUNS_MAX], logb[RUNS_MAX];
        char name[64];

        printf("\n## summary: medians of %u runs; ratios are taken within each run, then the median\n", c->runs);
        printf("%-56s %10s %9s %9s %14s %10s\n", "case", "jobs/s", "vs bare-N", "vs bare-1", "parent CPU/job",
               "log B/job");
        for (Case k = 0; k < _CASE_MAX; k++) {
                for (unsigned i = 0; i < c->runs; i++) {
                        v[i] = res[i][k].per_sec;
                        to_n[i] = res[i][k].per_sec / res[i][CASE_BARE_N].per_sec;
                        to_1[i] = res[i][k].per_sec / res[i][CASE_BARE_1].per_sec;
                        cpu[i] = res[i][k].parent_cpu_us_per_job;
                        logb[i] = res[i][k].log_bytes_per_job;
                }
                printf("%-56s %10.0f %8.0f%% %8.0f%%", case_name(c, k, name, sizeof name), bench_median(v, c->runs),
                       100 * bench_median(to_n, c->runs), 100 * bench_median(to_1, c->runs));
                printf(" %11.0f µs", bench_median(cpu, c->runs));
                if (k >= CASE_SCHED_TRUE_NULL)
                        printf(" %10.0f", bench_median(logb, c->runs));
                printf("\n");
        }
        for (Case k = CASE_SCHED_TRUE_NULL; k < _CASE_MAX; k++) {
                for (unsigned i = 0; i < c->runs; i++) {
                        v[i] = res[i][k].per_sec;
                        to_n[i] = res[i][k].per_sec / res[i][CASE_BARE_N].per_sec;
                }
                printf("RESULT spawn_%s jobs_per_s=%.0f ratio_to_bare_%u=%.3f\n", case_keys[k], bench_median(v, c->runs),
                       c->slots, bench_median(to_n, c->runs));
        }
}

static void help(void) {
        printf("Usage: bench-spawn [OPTIONS]\n"
               "\n"
               "Job start/reap rate of sched-scheduler (through sched-bus) against a bare\n"
               "posix_spawn+waitpid loop of /bin/true, in the same run.\n"
               "\n"
               "  -n N                  jobs per case (default 10000)\n"
               "  -s SLOTS              scheduler slots and bare-loop parallelism (default 8)\n"
               "  --runs N              runs; the summary quotes medians (default 5)\n"
               "  --bus-binary PATH     (default " BUS_BINARY ")\n"
               "  --scheduler-binary PATH  (default " SCHEDULER_BINARY ")\n");
}

static int parse_argv(int argc, char *argv[], SpawnConfig *c) {
        enum { ARG_RUNS = 0x100, ARG_BUS_BINARY, ARG_SCHEDULER_BINARY };
        static const struct option options[] = {
                { "runs", required_argument, NULL, ARG_RUNS },
                { "bus-binary", required_argument, NULL, ARG_BUS_BINARY },
                { "scheduler-binary", required_argument, NULL, ARG_SCHEDULER_BINARY },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int opt, longindex, r;

        while ((opt = (longindex = -1, getopt_long(argc, argv, "n:s:h", options, &longindex))) >= 0) {
                r = 0;
                switch (opt) {
                case 'n':
                        r = parse_unsigned(optarg, 1, 1000000, &c->n_jobs);
                        break;
                case 's':
                        r = parse_unsigned(optarg, 1, 256, &c->slots);
                        break;
                case ARG_RUNS:
                        r = parse_unsigned(optarg, 1, RUNS_MAX, &c->runs);
                        break;
                case ARG_BUS_BINARY:
                        c->bus_binary = optarg;
                        break;
                case ARG_SCHEDULER_BINARY:
                        c->scheduler_binary = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
                if (r < 0)
                        return parse_option_error("bench-spawn", options, opt, longindex, optarg, r);
        }
        return 1;
}

int main(int argc, char *argv[]) {
        SpawnConfig config = { .n_jobs = 10000, .slots = 8, .runs = 5, .bus_binary = BUS_BINARY,
                               .scheduler_binary = SCHEDULER_BINARY };
        CaseResult(*res)[_CASE_MAX] = NULL;
        char name[64];
        int r;

        r = parse_argv(argc, argv, &config);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        res = calloc(config.runs, sizeof *res);
        if (!res)
                return 1;

        bench_print_header("scheduler start/reap rate (bench-spawn)");
        printf("# %u jobs per case, %u slots, %u runs\n", config.n_jobs, config.slots, config.runs);
        printf("%-5s %-56s %10s %9s %14s %8s\n", "run", "case", "jobs/s", "vs bare-N", "parent CPU/job", "STATUS=");
        for (unsigned i = 0; i < config.runs; i++)
                for (Case k = 0; k < _CASE_MAX; k++) {
                        r = run_case(&config, k, &res[i][k]);
                        if (r < 0) {
                                fprintf(stderr, "bench-spawn: run %u, %s: %s\n", i + 1,
                                        case_name(&config, k, name, sizeof name), strerror(-r));
                                free(res);
                                return 1;
                        }
                        printf("%-5u %-56s %10.0f", i + 1, case_name(&config, k, name, sizeof name),
                               res[i][k].per_sec);
                        if (k != CASE_BARE_N && res[i][CASE_BARE_N].per_sec > 0)
                                printf(" %8.0f%%", 100 * res[i][k].per_sec / res[i][CASE_BARE_N].per_sec);
                        else
                                printf(" %9s", "");
                        printf(" %11.0f µs", res[i][k].parent_cpu_us_per_job);
                        if (k >= CASE_SCHED_TRUE_NULL)
                                printf(" %8u", res[i][k].n_status);
                        printf("\n");
                        fflush(stdout);
                }
        print_summary(&config, res);
        free(res);
        return 0;
}
