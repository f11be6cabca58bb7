/* SPDX-License-Identifier: MIT */
/*
 * bench-timeout: how late sched-scheduler terminates a job at its timeout, seen from outside.
 * The scheduler runs with -s SLOTS -t TIMEOUT --exec bench-timeout-job FILE and its stderr in a
 * file; N jobs of runtime 5 s are submitted, all at once (burst) or at --rate jobs/s (staggered).
 * Each job notes when its SIGTERM came (see timeout-job.c); the scheduler's log line "Job ID
 * running" stamps its start, the deadline's origin (the timeout counts from that record, written a
 * loop pass before the spawn), to the microsecond. lateness = SIGTERM seen by the job - (logged
 * start + TIMEOUT): it includes the job's own wakeup on a busy machine. (Until the log had
 * microseconds, its millisecond stamps added up to 1 ms to every sample.)
 *
 * Also reported: how long after the logged start each job's main() began (the exec delay), and
 * the time from the first to the last job start (a burst of spawns occupies the loop that long).
 *
 * Baseline, in the same run: a bare C loop that spawns the same jobs on the same schedule and
 * sends each its SIGTERM from clock_nanosleep() to the absolute deadline, a due SIGTERM going
 * before the next spawn, its start stamps cut to the microsecond like the log's. What it shows is
 * the machine's own share: spawn cost, signal delivery and wakeup latency on these shared cores.
 * With -t shorter than a burst of spawns takes (e.g. -t 0.1) the two parted ways until issue 17:
 * the scheduler wrote every job's start line at once and spawned them over the next 100 ms.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-option.h"
#include "bench-stack.h"
#include "bench-util.h"

#define JOBS_MAX         4096
#define SETUP_TIMEOUT_NS (10 * NSEC_PER_SEC)
#define LOG_LINE_MAX     1024

extern char **environ;

typedef struct TimeoutConfig {
        unsigned n_jobs, slots, runs;
        double timeout, runtime;
        double rate; /* jobs/s; 0: all at once */
        const char *bus_binary, *scheduler_binary, *job_binary;
} TimeoutConfig;

/* One run: the daemons, our producer connection, and what STATUS= said last. */
typedef struct TimeoutRun {
        const TimeoutConfig *config;
        BenchStack stack;
        sd_event_source *pace_source; /* staggered submission */
        unsigned to_send;
        int send_error;

        uint64_t timeouts, done, failed;
        uint64_t base_timeouts; /* the warm-up job's, when even it ran into a very short timeout */
} TimeoutRun;

/* What one job went through, in CLOCK_MONOTONIC ns. */
typedef struct JobTimes {
        uint64_t logged_start; /* the scheduler's "running" line, ms resolution */
        uint64_t main_start;   /* the job's main() */
        uint64_t term;         /* the job saw SIGTERM; 0 if never */
} JobTimes;

typedef struct TimeoutResult {
        unsigned samples;
        double min_us, p50_us, p99_us, max_us; /* lateness */
        double exec_p50_us, exec_max_us;       /* logged start -> main() */
        double spread_ms;                      /* first -> last logged start */
} TimeoutResult;

static void timeout_run_done(TimeoutRun *run) {
        run->pace_source = sd_event_source_disable_unref(run->pace_source);
        bench_stack_done(&run->stack);
}

static void on_scheduler_status(BenchDaemon *d, const char *status, uint64_t now_ns, void *userdata) {
        TimeoutRun *run = userdata;
        long long t = bench_status_number(status, "timeout"), done = bench_status_number(status, "done");
        long long failed = bench_status_number(status, "failed");

        if (t >= 0)
                run->timeouts = (uint64_t) t;
        if (done >= 0)
                run->done = (uint64_t) done;
        if (failed >= 0)
                run->failed = (uint64_t) failed;
}

static bool warmed_up(void *userdata) {
        TimeoutRun *run = userdata;

        return run->done + run->timeouts + run->failed >= 1;
}

static bool all_timed_out(void *userdata) {
        TimeoutRun *run = userdata;

        return run->send_error < 0 || run->timeouts >= run->base_timeouts + run->config->n_jobs;
}

static int send_job(TimeoutRun *run, double runtime) {
        char job[128];
        int n = snprintf(job, sizeof job,
                         "{\"cmd\": \"job_request\", \"payload\": {\"priority\": 5, \"runtime\": %g}}",
                         runtime);

        return bench_conn_send(run->stack.producer, job, (size_t) n);
}

static int on_pace(sd_event_source *s, uint64_t usec, void *userdata) {
        TimeoutRun *run = userdata;
        int r;

        r = send_job(run, run->config->runtime);
        if (r < 0) {
                run->send_error = r;
                return 0;
        }
        if (--run->to_send > 0) {
                (void) sd_event_source_set_time(s, usec + (uint64_t) (1e6 / run->config->rate));
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        return 0;
}

/* Bus, scheduler (stderr to log_path) and producer; one zero-runtime job end to end first. */
static int timeout_setup(TimeoutRun *run, const char *jobs_path, const char *log_path) {
        const TimeoutConfig *c = run->config;
        char url[64], slots[16], timeout[32];
        char *argv[] = { (char *) c->scheduler_binary,
                         (char *) "-s",
                         slots,
                         (char *) "-t",
                         timeout,
                         (char *) "--bus",
                         url,
                         (char *) "--exec",
                         (char *) c->job_binary,
                         (char *) jobs_path,
                         NULL };
        int r;

        (void) snprintf(slots, sizeof slots, "%u", c->slots);
        (void) snprintf(timeout, sizeof timeout, "%g", c->timeout);
        r = bench_daemon_start_bus(&run->stack.bus, c->bus_binary, NULL, NULL, url, sizeof url);
        if (r < 0)
                return r;
        r = bench_daemon_spawn(&run->stack.scheduler, argv, -1, log_path, NULL);
        if (r < 0)
                return r;
        r = bench_daemon_wait_ready(run->stack.scheduler, 10000);
        if (r < 0)
                return r;
        r = bench_stack_connect(&run->stack, url, on_scheduler_status, run);
        if (r < 0)
                return r;
        r = send_job(run, 0);
        if (r < 0)
                return r;
        return bench_net_run_until(run->stack.net, warmed_up, run, SETUP_TIMEOUT_NS);
}

static int timeout_submit(TimeoutRun *run) {
        const TimeoutConfig *c = run->config;
        int r;

        if (c->rate <= 0) {
                for (unsigned i = 0; i < c->n_jobs; i++) {
                        r = send_job(run, c->runtime);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        run->to_send = c->n_jobs;
        r = sd_event_add_time_relative(bench_net_event(run->stack.net), &run->pace_source, CLOCK_MONOTONIC,
                                       0, 1, on_pace, run);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(run->pace_source, "bench-pacing");
        return 0;
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC, to read the log's wall-clock stamps on the monotonic clock. */
static int64_t realtime_offset_ns(void) {
        struct timespec rt, mono;

        (void) clock_gettime(CLOCK_MONOTONIC, &mono);
        (void) clock_gettime(CLOCK_REALTIME, &rt);
        return ((int64_t) rt.tv_sec - (int64_t) mono.tv_sec) * (int64_t) NSEC_PER_SEC +
               ((int64_t) rt.tv_nsec - (int64_t) mono.tv_nsec);
}

/* "2026-01-31T12:00:00.123456+0100 ..." (any number of fractional digits) -> ns since the epoch. */
static int parse_log_stamp(const char *line, int64_t *ret) {
        int64_t frac_ns = 0, scale = NSEC_PER_SEC;
        int zone, n = 0;
        struct tm tm = {};
        const char *p = strptime(line, "%Y-%m-%dT%H:%M:%S", &tm);

        if (!p || *p != '.')
                return -EINVAL;
        for (p++; *p >= '0' && *p <= '9'; p++)
                if (scale > 1) {
                        scale /= 10;
                        frac_ns += (int64_t) (*p - '0') * scale;
                }
        if (sscanf(p, "%5d%n", &zone, &n) != 1 || n == 0)
                return -EINVAL;
        *ret = ((int64_t) timegm(&tm) - (zone / 100 * 3600 + zone % 100 * 60)) * (int64_t) NSEC_PER_SEC +
               frac_ns;
        return 0;
}

/* Job ids are the bus's: 1 is the warm-up job, the measured ones follow. */
static JobTimes *job_slot(JobTimes *jobs, unsigned long long id) {
        return id >= 2 && id < 2 + JOBS_MAX ? &jobs[id - 2] : NULL;
}

static int read_log(const char *log_path, int64_t offset, JobTimes *jobs) {
        char line[LOG_LINE_MAX];
        FILE *f = fopen(log_path, "re");

        if (!f)
                return -errno;
        while (fgets(line, sizeof line, f)) {
                const char *p = strstr(line, " job="), *state = strstr(line, " state=running");
                unsigned long long id;
                JobTimes *j;
                int64_t t;

                if (!p || !state || sscanf(p, " job=%llu", &id) != 1 || !(j = job_slot(jobs, id)))
                        continue;
                if (parse_log_stamp(line, &t) >= 0)
                        j->logged_start = (uint64_t) (t - offset);
        }
        fclose(f);
        return 0;
}

static int read_jobs(const char *jobs_path, JobTimes *jobs) {
        unsigned long long id, start, term;
        FILE *f = fopen(jobs_path, "re");

        if (!f)
                return -errno;
        while (fscanf(f, "%llu %llu %llu", &id, &start, &term) == 3) {
                JobTimes *j = job_slot(jobs, id);

                if (j) {
                        j->main_start = start;
                        j->term = term;
                }
        }
        fclose(f);
        return 0;
}

/* Lateness samples (µs) into `samples`, and the run's figures. */
static int timeout_analyze(const TimeoutConfig *c, const JobTimes *jobs, double *samples,
                           TimeoutResult *ret) {
        _cleanup_free_ double *exec = calloc(c->n_jobs, sizeof(double));
        uint64_t first = UINT64_MAX, last = 0;
        unsigned n = 0;

        if (!exec)
                return -ENOMEM;
        for (unsigned i = 0; i < c->n_jobs; i++) {
                const JobTimes *j = &jobs[i];

                if (j->logged_start == 0 || j->main_start == 0 || j->term == 0)
                        continue;
                samples[n] = ((double) j->term - (double) j->logged_start - c->timeout * 1e9) / 1000.0;
                exec[n] = ((double) j->main_start - (double) j->logged_start) / 1000.0;
                first = MIN(first, j->logged_start);
                last = MAX(last, j->logged_start);
                n++;
        }
        if (n < c->n_jobs) {
                fprintf(stderr, "bench-timeout: only %u of %u jobs have a logged start and a SIGTERM.\n", n,
                        c->n_jobs);
                return -EPROTO;
        }
        ret->samples = n;
        ret->p50_us = bench_percentile(samples, n, 50);
        ret->p99_us = bench_percentile(samples, n, 99);
        ret->max_us = bench_percentile(samples, n, 100);
        ret->min_us = samples[0]; /* sorted by now */
        ret->exec_p50_us = bench_percentile(exec, n, 50);
        ret->exec_max_us = bench_percentile(exec, n, 100);
        ret->spread_ms = (double) (last - first) / 1e6;
        return 0;
}

static int timeout_measure(const TimeoutConfig *c, const char *jobs_path, const char *log_path,
                           JobTimes *jobs) {
        TimeoutRun run = { .config = c };
        int64_t offset = realtime_offset_ns();
        int r;

        r = timeout_setup(&run, jobs_path, log_path);
        run.base_timeouts = run.timeouts;
        if (r >= 0)
                r = timeout_submit(&run);
        if (r >= 0) {
                double seconds = c->timeout + 30.0 + (c->rate > 0 ? c->n_jobs / c->rate : 0);

                r = bench_net_run_until(run.stack.net, all_timed_out, &run,
                                        (uint64_t) (seconds * (double) NSEC_PER_SEC));
                if (r >= 0 && run.send_error < 0)
                        r = run.send_error;
                if (r < 0)
                        fprintf(stderr, "bench-timeout: %" PRIu64 " of %u jobs timed out; status: %s\n",
                                run.timeouts, c->n_jobs, bench_daemon_status(run.stack.scheduler));
        }
        /* Stopping the scheduler flushes nothing we need: each job's line is written before it exits,
         * and the scheduler counts a timeout only once the job has exited. */
        timeout_run_done(&run);
        if (r < 0)
                return r;
        r = read_log(log_path, offset, jobs);
        if (r >= 0)
                r = read_jobs(jobs_path, jobs);
        return r;
}

static int timeout_run(const TimeoutConfig *c, double *samples, TimeoutResult *ret) {
        _cleanup_free_ JobTimes *jobs = calloc(c->n_jobs, sizeof(JobTimes));
        char jobs_path[128], log_path[128];
        int r;

        if (!jobs)
                return -ENOMEM;
        (void) snprintf(jobs_path, sizeof jobs_path, "/tmp/sched-bench-timeout-%d.jobs", (int) getpid());
        (void) snprintf(log_path, sizeof log_path, "/tmp/sched-bench-timeout-%d.log", (int) getpid());
        (void) unlink(jobs_path);
        r = timeout_measure(c, jobs_path, log_path, jobs);
        if (r >= 0)
                r = timeout_analyze(c, jobs, samples, ret);
        if (!getenv("SCHED_BENCH_KEEP")) {
                (void) unlink(jobs_path);
                (void) unlink(log_path);
        }
        return r;
}

/* ---- the bare baseline ---- */

static int bare_spawn(const TimeoutConfig *c, const char *jobs_path, unsigned i, pid_t *ret) {
        char id[48], runtime[64];
        char *env[] = { id, runtime, NULL };
        char *argv[] = { (char *) c->job_binary, (char *) jobs_path, NULL };
        int r;

        (void) snprintf(id, sizeof id, "SCHED_JOB_ID=%u", i + 2); /* numbered like the bus's ids */
        (void) snprintf(runtime, sizeof runtime, "SCHED_JOB_RUNTIME=%g", c->runtime);
        r = posix_spawn(ret, c->job_binary, NULL, NULL, argv, env);
        return r == 0 ? 0 : -r;
}

/* A monotonic time cut to the wall clock's microsecond, as the scheduler's log stamps it. */
static uint64_t floor_to_log_us(uint64_t mono, int64_t offset) {
        int64_t rt = (int64_t) mono + offset;

        return (uint64_t) (rt - rt % (int64_t) NSEC_PER_USEC - offset);
}

static void sleep_until(uint64_t t) {
        struct timespec ts = { .tv_sec = (time_t) (t / NSEC_PER_SEC), .tv_nsec = (long) (t % NSEC_PER_SEC) };

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

/* Spawns job i at t0 + i/rate (back to back without a rate) and kills each at its spawn + timeout:
 * kill times follow spawn order, so the next kill is always the oldest job not yet killed. */
static int bare_schedule(const TimeoutConfig *c, const char *jobs_path, pid_t *pids, uint64_t *spawned) {
        uint64_t t0 = bench_now_ns(), timeout = (uint64_t) (c->timeout * (double) NSEC_PER_SEC);
        unsigned n_spawned = 0, n_killed = 0;

        while (n_killed < c->n_jobs) {
                uint64_t next_spawn = UINT64_MAX,
                         next_kill = n_killed < n_spawned ? spawned[n_killed] + timeout : UINT64_MAX;
                int r;

                if (n_spawned < c->n_jobs)
                        next_spawn = c->rate > 0 ? t0 + (uint64_t) (n_spawned * 1e9 / c->rate) : 0;
                /* A kill that is due goes first: a burst of spawns never holds up a deadline
                 * by more than one spawn. */
                if (next_kill > bench_now_ns() && next_spawn <= next_kill) {
                        sleep_until(next_spawn);
                        r = bare_spawn(c, jobs_path, n_spawned, &pids[n_spawned]);
                        if (r < 0)
                                return r;
                        spawned[n_spawned++] = bench_now_ns();
                } else {
                        sleep_until(next_kill);
                        (void) kill(pids[n_killed++], SIGTERM);
                }
        }
        return 0;
}

static int bare_run(const TimeoutConfig *c, double *samples, TimeoutResult *ret) {
        _cleanup_free_ JobTimes *jobs = calloc(c->n_jobs, sizeof(JobTimes));
        _cleanup_free_ uint64_t *spawned = calloc(c->n_jobs, sizeof(uint64_t));
        _cleanup_free_ pid_t *pids = calloc(c->n_jobs, sizeof(pid_t));
        int64_t offset = realtime_offset_ns();
        char jobs_path[128];
        int r;

        if (!jobs || !spawned || !pids)
                return -ENOMEM;
        (void) snprintf(jobs_path, sizeof jobs_path, "/tmp/sched-bench-timeout-bare-%d.jobs",
                        (int) getpid());
        (void) unlink(jobs_path);
        r = bare_schedule(c, jobs_path, pids, spawned);
        for (unsigned i = 0; i < c->n_jobs && pids[i] > 0; i++) {
                if (r < 0)
                        (void) kill(pids[i], SIGKILL);
                (void) waitpid(pids[i], NULL, 0);
        }
        if (r >= 0)
                r = read_jobs(jobs_path, jobs);
        (void) unlink(jobs_path);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < c->n_jobs; i++)
                jobs[i].logged_start = floor_to_log_us(spawned[i], offset);
        return timeout_analyze(c, jobs, samples, ret);
}

static void help(void) {
        printf("Usage: bench-timeout [OPTIONS]\n"
               "\n"
               "Lateness of sched-scheduler's job timeouts, seen from outside: N jobs of runtime\n"
               "RUNTIME on SLOTS slots with -t TIMEOUT, each noting when its SIGTERM came.\n"
               "\n"
               "  -n N                  jobs per run (default 200)\n"
               "  -s SLOTS              scheduler slots, at least N (default 200)\n"
               "  -t SEC                job timeout (default 0.5)\n"
               "  --runtime SEC         job runtime (default 5)\n"
               "  --rate R              submit R jobs/s instead of all at once (default: all at once)\n"
               "  --runs N              runs; the summary quotes medians (default 5)\n"
               "  --bus-binary PATH     (default " BUS_BINARY ")\n"
               "  --scheduler-binary PATH  (default " SCHEDULER_BINARY ")\n"
               "  --job-binary PATH     (default " TIMEOUT_JOB_BINARY ")\n"
               "\n"
               "SCHED_BENCH_KEEP=1 keeps the scheduler log and the jobs' file in /tmp.\n");
}

static int parse_argv(int argc, char *argv[], TimeoutConfig *c) {
        const BenchOption options[] = {
                BENCH_OPT_UNSIGNED(NULL, 'n', 1, JOBS_MAX, &c->n_jobs),
                BENCH_OPT_UNSIGNED(NULL, 's', 1, 4096, &c->slots),
                BENCH_OPT_DOUBLE(NULL, 't', 0.01, 60, &c->timeout),
                BENCH_OPT_DOUBLE("runtime", 0, 0.1, 600, &c->runtime),
                BENCH_OPT_DOUBLE("rate", 0, 0, 100000, &c->rate),
                BENCH_OPT_RUNS(&c->runs),
                BENCH_OPT_BUS_BINARY(&c->bus_binary),
                BENCH_OPT_SCHEDULER_BINARY(&c->scheduler_binary),
                BENCH_OPT_STRING("job-binary", 0, &c->job_binary),
        };
        int r;

        r = BENCH_PARSE_ARGV("bench-timeout", help, options, argc, argv);
        if (r <= 0)
                return r;
        if (c->slots < c->n_jobs && c->rate <= 0) {
                fprintf(stderr, "bench-timeout: without --rate, -s must be at least -n: every job must run "
                                "into its timeout.\n");
                return -EINVAL;
        }
        if (c->runtime <= c->timeout) {
                fprintf(stderr, "bench-timeout: --runtime must exceed -t.\n");
                return -EINVAL;
        }
        return 1;
}

static void print_row(const char *label, const TimeoutResult *r) {
        printf("%-24s %8u %8.2f %8.2f %8.2f %8.2f %9.2f %9.2f %9.1f\n", label, r->samples, r->min_us / 1000,
               r->p50_us / 1000, r->p99_us / 1000, r->max_us / 1000, r->exec_p50_us / 1000,
               r->exec_max_us / 1000, r->spread_ms);
}

static TimeoutResult median_result(const TimeoutResult *res, unsigned runs) {
        return (TimeoutResult){
                .samples = res[0].samples,
                .min_us = BENCH_MEDIAN_OF(res, runs, min_us),
                .p50_us = BENCH_MEDIAN_OF(res, runs, p50_us),
                .p99_us = BENCH_MEDIAN_OF(res, runs, p99_us),
                .max_us = BENCH_MEDIAN_OF(res, runs, max_us),
                .exec_p50_us = BENCH_MEDIAN_OF(res, runs, exec_p50_us),
                .exec_max_us = BENCH_MEDIAN_OF(res, runs, exec_max_us),
                .spread_ms = BENCH_MEDIAN_OF(res, runs, spread_ms),
        };
}

static TimeoutResult pooled_result(double *pooled, unsigned n) {
        TimeoutResult all = { .samples = n };

        all.p50_us = bench_percentile(pooled, n, 50);
        all.p99_us = bench_percentile(pooled, n, 99);
        all.max_us = bench_percentile(pooled, n, 100);
        all.min_us = pooled[0];
        return all;
}

typedef struct Series {
        const char *name;
        TimeoutResult *res;
        double *pooled;
        unsigned n_pooled;
} Series;

static void print_summary(const TimeoutConfig *c, Series *sched, Series *bare) {
        TimeoutResult sm = median_result(sched->res, c->runs), bm = median_result(bare->res, c->runs);
        TimeoutResult sp = pooled_result(sched->pooled, sched->n_pooled);
        TimeoutResult bp = pooled_result(bare->pooled, bare->n_pooled);
        double diff[BENCH_RUNS_MAX];

        for (unsigned i = 0; i < c->runs; i++)
                diff[i] = sched->res[i].p99_us - bare->res[i].p99_us;
        printf("\n## summary (ms): medians of %u runs, and every sample of every run pooled\n", c->runs);
        print_row("scheduler, median", &sm);
        print_row("bare loop, median", &bm);
        printf("%-24s %8u %8.2f %8.2f %8.2f %8.2f\n", "scheduler, pooled", sp.samples, sp.min_us / 1000,
               sp.p50_us / 1000, sp.p99_us / 1000, sp.max_us / 1000);
        printf("%-24s %8u %8.2f %8.2f %8.2f %8.2f\n", "bare loop, pooled", bp.samples, bp.min_us / 1000,
               bp.p50_us / 1000, bp.p99_us / 1000, bp.max_us / 1000);
        printf("p99 of the scheduler minus p99 of the bare loop, same run, median: %.2f ms\n",
               bench_median(diff, c->runs) / 1000);
        printf("RESULT timeout_%s timeout_s=%g p50_ms=%.2f p99_ms=%.2f max_ms=%.2f pooled_p99_ms=%.2f "
               "bare_p99_ms=%.2f p99_minus_bare_ms=%.2f spread_ms=%.1f\n",
               c->rate > 0 ? "staggered" : "burst", c->timeout, sm.p50_us / 1000, sm.p99_us / 1000,
               sm.max_us / 1000, sp.p99_us / 1000, bm.p99_us / 1000, bench_median(diff, c->runs) / 1000,
               sm.spread_ms);
}

static int series_run(const TimeoutConfig *c, Series *s, unsigned i, bool bare) {
        char label[48];
        int r;

        r = bare ? bare_run(c, s->pooled + s->n_pooled, &s->res[i])
                 : timeout_run(c, s->pooled + s->n_pooled, &s->res[i]);
        if (r < 0) {
                fprintf(stderr, "bench-timeout: run %u, %s: %s\n", i + 1, s->name, strerror(-r));
                return r;
        }
        s->n_pooled += s->res[i].samples;
        (void) snprintf(label, sizeof label, "%u %s", i + 1, s->name);
        print_row(label, &s->res[i]);
        fflush(stdout);
        return 0;
}

int main(int argc, char *argv[]) {
        TimeoutConfig config = { .n_jobs = 200,
                                 .slots = 200,
                                 .runs = 5,
                                 .timeout = 0.5,
                                 .runtime = 5,
                                 .bus_binary = BUS_BINARY,
                                 .scheduler_binary = SCHEDULER_BINARY,
                                 .job_binary = TIMEOUT_JOB_BINARY };
        _cleanup_free_ TimeoutResult *sched_res = NULL, *bare_res = NULL;
        _cleanup_free_ double *sched_pooled = NULL, *bare_pooled = NULL;
        Series sched, bare;
        char mode[64];
        int r;

        r = parse_argv(argc, argv, &config);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        sched_res = calloc(config.runs, sizeof(TimeoutResult));
        bare_res = calloc(config.runs, sizeof(TimeoutResult));
        sched_pooled = calloc((size_t) config.runs * config.n_jobs, sizeof(double));
        bare_pooled = calloc((size_t) config.runs * config.n_jobs, sizeof(double));
        if (!sched_res || !bare_res || !sched_pooled || !bare_pooled)
                return 1;
        sched = (Series){ "scheduler", sched_res, sched_pooled, 0 };
        bare = (Series){ "bare loop", bare_res, bare_pooled, 0 };
        (void) bench_raise_nofile(config.slots * 4 + 256); /* the scheduler inherits it: a pipe per job */

        if (config.rate > 0)
                (void) snprintf(mode, sizeof mode, "staggered, %g jobs/s", config.rate);
        else
                (void) snprintf(mode, sizeof mode, "burst, all at once");
        bench_print_header("timeout precision (bench-timeout)");
        printf("# %u jobs (%s) of runtime %g s on %u slots, -t %g; times in ms\n", config.n_jobs, mode,
               config.runtime, config.slots, config.timeout);
        printf("# lateness = SIGTERM seen by the job - (logged start + timeout); exec = logged start -> "
               "job's "
               "main(); spread = first -> last start\n");
        printf("%-24s %8s %8s %8s %8s %8s %9s %9s %9s\n", "run", "samples", "min", "p50", "p99", "max",
               "exec p50", "exec max", "spread");
        for (unsigned i = 0; i < config.runs; i++)
                if (series_run(&config, &sched, i, false) < 0 || series_run(&config, &bare, i, true) < 0)
                        return 1;
        print_summary(&config, &sched, &bare);
        return 0;
}
