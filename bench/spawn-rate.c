/* SPDX-License-Identifier: MIT */
/*
 * bench-spawn: the scheduler's job start/reap rate against a bare spawn loop, measured in the same
 * run. The cases:
 *
 *   bare-1      posix_spawn + waitpid of /bin/true, one at a time
 *   bare-N      the same with SLOTS children in flight (wait for any, spawn the next)
 *   bare-N sleep the same with the scheduler's default job, `sleep 0.000`, found through PATH
 *   sched ...   zero-runtime jobs submitted at once through sched-bus to sched-scheduler -s SLOTS,
 *               from the first submit to the STATUS= that reports the last one done, with the job
 *               command /bin/true (--exec) or the default test job (sleep 0.000), and the daemon's
 *               stderr (one line per job state) to /dev/null or to a file.
 *
 * The machine is shared and its load swings within seconds, so the cases are not run one after
 * the other: a run cuts the N jobs of every case into slices and takes one slice of each case in
 * turn (bare-1, bare-N, sched..., bare-1, ...), so that every case sees the same weather. Each
 * scheduler case has its own bus and scheduler, started once per run and idle between its slices.
 * A case's rate is its jobs over the sum of its slices' times; ratios are taken within a run. The
 * "same job" ratio compares each scheduler case with the bare-N loop of the same job command.
 */
#include <errno.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-option.h"
#include "bench-stack.h"
#include "bench-util.h"

#define SLOTS_MAX        256
#define SLICE_TIMEOUT_NS (600 * NSEC_PER_SEC)

extern char **environ;

typedef enum Case {
        CASE_BARE_1,
        CASE_BARE_N,
        CASE_BARE_N_SLEEP,
        CASE_SCHED_TRUE_NULL,
        CASE_SCHED_TRUE_FILE,
        CASE_SCHED_SLEEP_NULL,
        CASE_SCHED_SLEEP_FILE,
        _CASE_MAX,
} Case;

#define CASE_IS_SCHED(k) ((k) >= CASE_SCHED_TRUE_NULL)

/* What the tables call each case, and its key for --only and the RESULT lines. */
static const struct {
        const char *name, *key;
} cases[_CASE_MAX] = {
        [CASE_BARE_1] = { "bare loop, 1 in flight", "bare_1" },
        [CASE_BARE_N] = { "bare loop, SLOTS in flight", "bare_n" },
        [CASE_BARE_N_SLEEP] = { "bare loop, SLOTS in flight, sleep 0.000", "bare_n_sleep" },
        [CASE_SCHED_TRUE_NULL] = { "scheduler --exec /bin/true, stderr /dev/null", "sched_true_devnull" },
        [CASE_SCHED_TRUE_FILE] = { "scheduler --exec /bin/true, stderr to a file", "sched_true_file" },
        [CASE_SCHED_SLEEP_NULL] = { "scheduler default job (sleep 0.000), stderr /dev/null",
                                    "sched_sleep_devnull" },
        [CASE_SCHED_SLEEP_FILE] = { "scheduler default job (sleep 0.000), stderr to a file",
                                    "sched_sleep_file" },
};

typedef struct SpawnConfig {
        unsigned n_jobs, slots, runs, slices;
        int only; /* a Case, for profiling one case alone; -1: every case */
        const char *bus_binary, *scheduler_binary;
        const char *cgroup; /* the scheduler's --cgroup; a PATH gets "-CASE" appended per scheduler */
} SpawnConfig;

/* One case in one run: the sum over its slices. */
typedef struct CaseResult {
        uint64_t jobs, elapsed_ns, cpu_ns; /* cpu: the spawning process's own (bare loop or scheduler) */
        double per_sec;
        double log_bytes_per_job;
        unsigned n_status; /* STATUS= datagrams the scheduler sent */
} CaseResult;

/* A scheduler case's daemons and connection, alive for a whole run. */
typedef struct SchedCase {
        BenchStack stack;
        char log_path[128];
        uint64_t done, failed, target, t_done;
} SchedCase;

static bool case_selected(const SpawnConfig *c, Case k) {
        return c->only < 0 || (int) k == c->only;
}

static const char *case_name(const SpawnConfig *c, Case k, char *buf, size_t size) {
        if (k == CASE_BARE_N || k == CASE_BARE_N_SLEEP) {
                (void) snprintf(buf, size, "bare loop, %u in flight%s", c->slots,
                                k == CASE_BARE_N_SLEEP ? ", sleep 0.000" : "");
                return buf;
        }
        return cases[k].name;
}

/* The bare loop that runs the same job command as a scheduler case. */
static Case case_same_job(Case k) {
        return k == CASE_SCHED_SLEEP_NULL || k == CASE_SCHED_SLEEP_FILE || k == CASE_BARE_N_SLEEP
                       ? CASE_BARE_N_SLEEP
                       : CASE_BARE_N;
}

/* ---- bare loops ---- */

static uint64_t self_cpu_ns(void) {
        struct rusage ru;

        if (getrusage(RUSAGE_SELF, &ru) < 0)
                return 0;
        return (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * NSEC_PER_SEC +
               (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * NSEC_PER_USEC;
}

static int spawn_job(bool sleep, pid_t *ret) {
        static char *const true_argv[] = { (char *) "/bin/true", NULL };
        static char *const sleep_argv[] = { (char *) "sleep", (char *) "0.000", NULL };
        int r = sleep ? posix_spawnp(ret, "sleep", NULL, NULL, sleep_argv, environ)
                      : posix_spawn(ret, "/bin/true", NULL, NULL, true_argv, environ);

        return r == 0 ? 0 : -r;
}

/* Reaps one of `pids` (the daemons are our children too: they must not be mistaken for a job). */
static int reap_one(pid_t *pids, unsigned *n) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);

        if (pid < 0)
                return -errno;
        for (unsigned i = 0; i < *n; i++)
                if (pids[i] == pid) {
                        pids[i] = pids[--*n];
                        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPROTO;
                }
        return -ECHILD; /* a daemon of ours died */
}

static int bare_slice(unsigned n_jobs, unsigned in_flight, bool sleep, CaseResult *acc) {
        pid_t pids[SLOTS_MAX];
        unsigned started = 0, running = 0;
        uint64_t t0 = bench_now_ns(), cpu0 = self_cpu_ns();
        int r;

        while (started < n_jobs || running > 0) {
                if (started < n_jobs && running < in_flight) {
                        r = spawn_job(sleep, &pids[running]);
                        if (r < 0)
                                return r;
                        started++;
                        running++;
                        continue;
                }
                r = reap_one(pids, &running);
                if (r < 0)
                        return r;
        }
        acc->jobs += n_jobs;
        acc->elapsed_ns += bench_now_ns() - t0;
        acc->cpu_ns += self_cpu_ns() - cpu0;
        return 0;
}

/* ---- through the scheduler ---- */

static void on_scheduler_status(BenchDaemon *d, const char *status, uint64_t now_ns, void *userdata) {
        SchedCase *s = userdata;
        long long done = bench_status_number(status, "done"), failed = bench_status_number(status, "failed");

        if (done >= 0)
                s->done = (uint64_t) done;
        if (failed >= 0)
                s->failed = (uint64_t) failed;
        if (s->target > 0 && s->t_done == 0 && s->done + s->failed >= s->target)
                s->t_done = now_ns;
}

static bool sched_finished(void *userdata) {
        SchedCase *s = userdata;

        return s->t_done > 0;
}

static int send_jobs(BenchConn *producer, unsigned n) {
        static const char job[] =
                "{\"cmd\": \"job_request\", \"payload\": {\"priority\": 5, \"runtime\": 0}}";

        for (unsigned i = 0; i < n; i++) {
                int r = bench_conn_send(producer, job, sizeof job - 1);

                if (r < 0)
                        return r;
        }
        return 0;
}

/* Submits n jobs and runs the loop until the scheduler reports them all ended. */
static int sched_submit(SchedCase *s, unsigned n, uint64_t *ret_elapsed) {
        uint64_t t0;
        int r;

        s->target = s->done + s->failed + n;
        s->t_done = 0;
        t0 = bench_now_ns();
        r = send_jobs(s->stack.producer, n);
        if (r < 0)
                return r;
        r = bench_net_run_until(s->stack.net, sched_finished, s, SLICE_TIMEOUT_NS);
        if (r < 0)
                return r;
        if (s->failed > 0) {
                fprintf(stderr, "bench-spawn: %" PRIu64 " jobs failed.\n", s->failed);
                return -EPROTO;
        }
        *ret_elapsed = s->t_done - t0;
        return 0;
}

static void sched_case_done(SchedCase *s) {
        bench_stack_done(&s->stack);
        if (s->log_path[0])
                (void) unlink(s->log_path);
        s->log_path[0] = 0;
}

static int sched_start_daemons(SchedCase *s, const SpawnConfig *c, Case k, bool exec_true, char *url,
                               size_t url_size) {
        char size[16], cgroup[256], *argv[16];
        size_t n = 0;
        int r;

        r = bench_daemon_start_bus(&s->stack.bus, c->bus_binary, NULL, NULL, url, url_size);
        if (r < 0)
                return r;
        (void) snprintf(size, sizeof size, "%u", c->slots);
        argv[n++] = (char *) c->scheduler_binary;
        argv[n++] = (char *) "-s";
        argv[n++] = size;
        argv[n++] = (char *) "--bus";
        argv[n++] = url;
        /* Every change on STATUS=: it tells when a slice is done, to the microsecond. */
        argv[n++] = (char *) "--status-interval=0";
        if (c->cgroup) {
                /* Each scheduler its own parent: their job ids (from their own buses) meet. */
                (void) snprintf(cgroup, sizeof cgroup,
                                c->cgroup[0] == '/' ? "--cgroup=%s-%d" : "--cgroup=%s", c->cgroup, (int) k);
                argv[n++] = cgroup;
        }
        if (exec_true) {
                argv[n++] = (char *) "--exec";
                argv[n++] = (char *) "/bin/true";
        }
        argv[n] = NULL;
        r = bench_daemon_spawn(&s->stack.scheduler, argv, -1, s->log_path[0] ? s->log_path : NULL, NULL);
        if (r < 0)
                return r;
        return bench_daemon_wait_ready(s->stack.scheduler, 10000);
}

/* Bus, scheduler and a producer connection, with one job done end to end (so the scheduler's
 * registration has surely reached the bus). */
static int sched_case_setup(SchedCase *s, const SpawnConfig *c, Case k) {
        bool exec_true = k == CASE_SCHED_TRUE_NULL || k == CASE_SCHED_TRUE_FILE;
        bool to_file = k == CASE_SCHED_TRUE_FILE || k == CASE_SCHED_SLEEP_FILE;
        uint64_t elapsed;
        char url[64];
        int r;

        if (to_file)
                (void) snprintf(s->log_path, sizeof s->log_path, "/tmp/sched-bench-spawn-%d-%d.log",
                                (int) getpid(), (int) k);
        r = sched_start_daemons(s, c, k, exec_true, url, sizeof url);
        if (r < 0)
                return r;
        r = bench_stack_connect(&s->stack, url, on_scheduler_status, s);
        if (r < 0)
                return r;
        return sched_submit(s, 1, &elapsed);
}

static int sched_slice(SchedCase *s, unsigned n_jobs, CaseResult *acc) {
        ProcStats st0, st1;
        uint64_t elapsed;
        int r;

        r = proc_stats_read(bench_daemon_pid(s->stack.scheduler), &st0);
        if (r < 0)
                return r;
        r = sched_submit(s, n_jobs, &elapsed);
        if (r < 0)
                return r;
        r = proc_stats_read(bench_daemon_pid(s->stack.scheduler), &st1);
        if (r < 0)
                return r;
        acc->jobs += n_jobs;
        acc->elapsed_ns += elapsed;
        acc->cpu_ns += st1.cpu_ns - st0.cpu_ns;
        return 0;
}

static void sched_case_finish(SchedCase *s, CaseResult *res) {
        struct stat st;

        res->n_status = bench_daemon_n_datagrams(s->stack.scheduler);
        if (s->log_path[0] && stat(s->log_path, &st) == 0)
                res->log_bytes_per_job = (double) st.st_size / (double) (res->jobs + 1);
}

/* ---- runs ---- */

static int run_slice(const SpawnConfig *c, Case k, SchedCase *sched, unsigned n, CaseResult *acc) {
        switch (k) {
        case CASE_BARE_1:
                return bare_slice(n, 1, false, acc);
        case CASE_BARE_N:
                return bare_slice(n, c->slots, false, acc);
        case CASE_BARE_N_SLEEP:
                return bare_slice(n, c->slots, true, acc);
        default:
                return sched_slice(&sched[k], n, acc);
        }
}

static int spawn_run_slices(const SpawnConfig *c, SchedCase *sched, CaseResult res[_CASE_MAX]) {
        char name[64];
        int r;

        for (unsigned i = 0; i < c->slices; i++) {
                /* The jobs spread over the slices as evenly as they divide. */
                unsigned n = c->n_jobs / c->slices + (i < c->n_jobs % c->slices ? 1 : 0);

                for (Case k = 0; k < _CASE_MAX && n > 0; k++) {
                        if (!case_selected(c, k))
                                continue;
                        r = run_slice(c, k, sched, n, &res[k]);
                        if (r < 0) {
                                fprintf(stderr, "bench-spawn: %s, slice %u: %s\n",
                                        case_name(c, k, name, sizeof name), i + 1, strerror(-r));
                                return r;
                        }
                }
        }
        return 0;
}

static int spawn_run(const SpawnConfig *c, CaseResult res[_CASE_MAX]) {
        SchedCase sched[_CASE_MAX] = {};
        char name[64];
        int r = 0;

        for (Case k = CASE_SCHED_TRUE_NULL; k < _CASE_MAX && r >= 0; k++)
                if (case_selected(c, k)) {
                        r = sched_case_setup(&sched[k], c, k);
                        if (r < 0)
                                fprintf(stderr, "bench-spawn: setting up %s: %s\n",
                                        case_name(c, k, name, sizeof name), strerror(-r));
                }
        if (r >= 0)
                r = spawn_run_slices(c, sched, res);
        for (Case k = 0; k < _CASE_MAX; k++) {
                if (res[k].elapsed_ns > 0)
                        res[k].per_sec = (double) res[k].jobs / ((double) res[k].elapsed_ns / 1e9);
                if (CASE_IS_SCHED(k) && sched[k].stack.scheduler)
                        sched_case_finish(&sched[k], &res[k]);
                sched_case_done(&sched[k]);
        }
        return r;
}

/* ---- output ---- */

static double cpu_us_per_job(const CaseResult *r) {
        return r->jobs > 0 ? (double) r->cpu_ns / 1000.0 / (double) r->jobs : 0;
}

static void print_run(const SpawnConfig *c, unsigned run, CaseResult res[_CASE_MAX]) {
        char name[64];

        for (Case k = 0; k < _CASE_MAX; k++) {
                if (!case_selected(c, k))
                        continue;
                printf("%-5u %-56s %8.0f", run, case_name(c, k, name, sizeof name), res[k].per_sec);
                if (k != CASE_BARE_N && res[CASE_BARE_N].per_sec > 0)
                        printf(" %8.0f%%", 100 * res[k].per_sec / res[CASE_BARE_N].per_sec);
                else
                        printf(" %9s", "");
                printf(" %11.0f µs", cpu_us_per_job(&res[k]));
                if (CASE_IS_SCHED(k))
                        printf(" %8u", res[k].n_status);
                printf("\n");
        }
        fflush(stdout);
}

static double ratio_median(const SpawnConfig *c, CaseResult res[][_CASE_MAX], Case k, Case base) {
        double v[BENCH_RUNS_MAX];

        for (unsigned i = 0; i < c->runs; i++)
                v[i] = res[i][k].per_sec / res[i][base].per_sec;
        return bench_median(v, c->runs);
}

static void print_summary(const SpawnConfig *c, CaseResult res[][_CASE_MAX]) {
        double v[BENCH_RUNS_MAX], cpu[BENCH_RUNS_MAX], logb[BENCH_RUNS_MAX];
        char name[64];

        printf("\n## summary: medians of %u runs; ratios are taken within each run, then the median\n",
               c->runs);
        printf("%-56s %8s %9s %9s %9s %14s %9s\n", "case", "jobs/s", "vs bare-N", "vs bare-1", "same job",
               "parent CPU/job", "log B/job");
        for (Case k = 0; k < _CASE_MAX; k++) {
                if (!case_selected(c, k))
                        continue;
                for (unsigned i = 0; i < c->runs; i++) {
                        v[i] = res[i][k].per_sec;
                        cpu[i] = cpu_us_per_job(&res[i][k]);
                        logb[i] = res[i][k].log_bytes_per_job;
                }
                printf("%-56s %8.0f", case_name(c, k, name, sizeof name), bench_median(v, c->runs));
                if (c->only < 0)
                        printf(" %8.0f%% %8.0f%% %8.0f%%", 100 * ratio_median(c, res, k, CASE_BARE_N),
                               100 * ratio_median(c, res, k, CASE_BARE_1),
                               100 * ratio_median(c, res, k, case_same_job(k)));
                else
                        printf(" %9s %9s %9s", "", "", "");
                printf(" %11.0f µs", bench_median(cpu, c->runs));
                if (CASE_IS_SCHED(k))
                        printf(" %9.0f", bench_median(logb, c->runs));
                printf("\n");
        }
        for (Case k = CASE_SCHED_TRUE_NULL; k < _CASE_MAX && c->only < 0; k++) {
                for (unsigned i = 0; i < c->runs; i++)
                        v[i] = res[i][k].per_sec;
                printf("RESULT spawn_%s jobs_per_s=%.0f ratio_to_bare_%u=%.3f ratio_to_bare_1=%.3f "
                       "ratio_to_same_job=%.3f\n",
                       cases[k].key, bench_median(v, c->runs), c->slots,
                       ratio_median(c, res, k, CASE_BARE_N), ratio_median(c, res, k, CASE_BARE_1),
                       ratio_median(c, res, k, case_same_job(k)));
        }
}

static void help(void) {
        printf("Usage: bench-spawn [OPTIONS]\n"
               "\n"
               "Job start/reap rate of sched-scheduler (through sched-bus) against a bare\n"
               "posix_spawn+waitpid loop of /bin/true, interleaved slice by slice in each run.\n"
               "\n"
               "  -n N                  jobs per case and run (default 10000)\n"
               "  -s SLOTS              scheduler slots and bare-loop parallelism (default 8)\n"
               "  --slices N            slices each case's jobs are cut into (default 10)\n"
               "  --runs N              runs; the summary quotes medians (default 5)\n"
               "  --only CASE           run one case alone, for profiling: bare_1, bare_n, bare_n_sleep,\n"
               "                        sched_true_devnull, sched_true_file, sched_sleep_devnull,\n"
               "                        sched_sleep_file\n"
               "  --bus-binary PATH     (default " BUS_BINARY ")\n"
               "  --cgroup MODE         the schedulers' --cgroup (auto, off, or a cgroup2 PATH, to\n"
               "                        which each scheduler appends -CASE); default: theirs\n"
               "  --scheduler-binary PATH  (default " SCHEDULER_BINARY ")\n"
               "\n"
               "The schedulers run with --status-interval=0: each slice ends at the STATUS= that\n"
               "reports its last job, which the default interval would report up to 0.1 s late;\n"
               "with 0, STATUS= goes out as soon as the scheduler has nothing else to do.\n");
}

static int parse_only(const char *s, void *userdata) {
        int *ret = userdata;

        for (Case k = 0; k < _CASE_MAX; k++)
                if (strcmp(s, cases[k].key) == 0) {
                        *ret = (int) k;
                        return 0;
                }
        return -EINVAL;
}

static int parse_argv(int argc, char *argv[], SpawnConfig *c) {
        const BenchOption options[] = {
                BENCH_OPT_UNSIGNED(NULL, 'n', 1, 1000000, &c->n_jobs),
                BENCH_OPT_UNSIGNED(NULL, 's', 1, SLOTS_MAX, &c->slots),
                BENCH_OPT_RUNS(&c->runs),
                BENCH_OPT_UNSIGNED("slices", 0, 1, 1000, &c->slices),
                BENCH_OPT_CUSTOM("only", 0, parse_only, &c->only),
                BENCH_OPT_BUS_BINARY(&c->bus_binary),
                BENCH_OPT_SCHEDULER_BINARY(&c->scheduler_binary),
                BENCH_OPT_STRING("cgroup", 0, &c->cgroup),
        };

        return BENCH_PARSE_ARGV("bench-spawn", help, options, argc, argv);
}

int main(int argc, char *argv[]) {
        SpawnConfig config = { .n_jobs = 10000,
                               .slots = 8,
                               .runs = 5,
                               .slices = 10,
                               .only = -1,
                               .bus_binary = BUS_BINARY,
                               .scheduler_binary = SCHEDULER_BINARY };
        CaseResult(*res)[_CASE_MAX] = NULL;
        int r;

        r = parse_argv(argc, argv, &config);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        res = calloc(config.runs, sizeof *res);
        if (!res)
                return 1;

        bench_print_header("scheduler start/reap rate (bench-spawn)");
        printf("# %u jobs per case and run in %u interleaved slices, %u slots, %u runs, scheduler "
               "--cgroup=%s\n",
               config.n_jobs, config.slices, config.slots, config.runs, config.cgroup ?: "(default)");
        printf("%-5s %-56s %8s %9s %14s %8s\n", "run", "case", "jobs/s", "vs bare-N", "parent CPU/job",
               "STATUS=");
        for (unsigned i = 0; i < config.runs; i++) {
                r = spawn_run(&config, res[i]);
                if (r < 0) {
                        free(res);
                        return 1;
                }
                print_run(&config, i + 1, res[i]);
        }
        print_summary(&config, res);
        free(res);
        return 0;
}
