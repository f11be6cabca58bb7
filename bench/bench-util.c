/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"
#include "macro.h"

uint64_t bench_now_ns(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * NSEC_PER_SEC + (uint64_t) ts.tv_nsec;
}

void bench_sleep_ns(uint64_t ns) {
        struct timespec ts = { .tv_sec = (time_t) (ns / NSEC_PER_SEC),
                               .tv_nsec = (long) (ns % NSEC_PER_SEC) };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int compare_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return (x > y) - (x < y);
}

double bench_percentile(double *v, size_t n, double p) {
        size_t rank;

        if (n == 0)
                return 0;
        qsort(v, n, sizeof *v, compare_double);
        /* Nearest rank: the smallest sample with at least p% of the samples at or below it. */
        rank = (size_t) ((p / 100.0) * (double) n + 0.999999);
        rank = CLAMP(rank, (size_t) 1, n);
        return v[rank - 1];
}

double bench_median_field(const void *base, size_t n, size_t stride, size_t offset) {
        _cleanup_free_ double *v = NULL;

        if (n == 0)
                return 0;
        v = malloc(n * sizeof *v);
        if (!v)
                abort();
        for (size_t i = 0; i < n; i++)
                v[i] = *(const double *) ((const char *) base + i * stride + offset);
        qsort(v, n, sizeof *v, compare_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_median(const double *v, size_t n) {
        return bench_median_field(v, n, sizeof *v, 0);
}

static void cpu_model(char *buf, size_t size) {
        _cleanup_free_ char *line = NULL;
        size_t len = 0;
        FILE *f = fopen("/proc/cpuinfo", "re");

        (void) snprintf(buf, size, "unknown CPU");
        if (!f)
                return;
        while (getline(&line, &len, f) > 0) {
                const char *colon = strchr(line, ':');

                if (strncmp(line, "model name", 10) != 0 || !colon)
                        continue;
                colon += strspn(colon + 1, " \t") + 1;
                (void) snprintf(buf, size, "%.*s", (int) strcspn(colon, "\n"), colon);
                break;
        }
        fclose(f);
}

double bench_load_average(void) {
        double load[1];

        return getloadavg(load, 1) == 1 ? load[0] : -1;
}

void bench_print_header(const char *title) {
        char model[128], date[64];
        time_t now = time(NULL);
        struct tm tm;

        cpu_model(model, sizeof model);
        if (!gmtime_r(&now, &tm) || strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tm) == 0)
                (void) snprintf(date, sizeof date, "unknown date");
        printf("# %s\n# %ld cores, %s, %s, load average %.2f at start\n", title,
               sysconf(_SC_NPROCESSORS_ONLN), model, date, bench_load_average());
        fflush(stdout);
}

long bench_raise_nofile(unsigned long want) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        if (rl.rlim_cur >= want)
                return (long) rl.rlim_cur;
        rl.rlim_cur = MIN((rlim_t) want, rl.rlim_max);
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        return (long) rl.rlim_cur;
}

/* Nanoseconds on a CPU (se.sum_exec_runtime, in ms with six decimals): exact, where utime and stime
 * count 10 ms ticks. */
static int read_sched_runtime_ns(const char *path, uint64_t *ret) {
        _cleanup_free_ char *line = NULL;
        unsigned long long ms, frac;
        size_t len = 0;
        FILE *f = fopen(path, "re");
        int r = -EIO;

        if (!f)
                return -errno;
        while (getline(&line, &len, f) > 0)
                if (sscanf(line, "se.sum_exec_runtime : %llu.%6llu", &ms, &frac) == 2) {
                        *ret = ms * NSEC_PER_MSEC + frac;
                        r = 0;
                        break;
                }
        fclose(f);
        return r;
}

/* utime and stime (fields 14 and 15) of a /proc stat file, in clock ticks. */
static int read_stat_ticks(const char *path, uint64_t *ret) {
        unsigned long long utime, stime;
        char buf[1024];
        const char *p;
        FILE *f = fopen(path, "re");
        size_t n;

        if (!f)
                return -errno;
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        /* The command name may hold spaces and parentheses: the fields start after the last ')'. */
        p = strrchr(buf, ')');
        if (!p ||
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
                return -EIO;
        *ret = utime + stime;
        return 0;
}

static void read_status_fields(const char *path, ProcStats *st, bool with_rss) {
        _cleanup_free_ char *line = NULL;
        unsigned long long v;
        size_t len = 0;
        FILE *f = fopen(path, "re");

        if (!f)
                return;
        while (getline(&line, &len, f) > 0) {
                if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1)
                        st->ctx_voluntary += v;
                else if (sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
                        st->ctx_involuntary += v;
                else if (with_rss && sscanf(line, "VmRSS: %llu kB", &v) == 1)
                        st->rss_bytes = v * 1024;
        }
        fclose(f);
}

int proc_stats_read(pid_t pid, ProcStats *ret) {
        char path[128];
        ProcStats st = {};
        uint64_t ticks = 0, runtime_ns = 0;
        bool runtime_ok = true;
        long hz = sysconf(_SC_CLK_TCK);
        struct dirent *de;
        DIR *d;
        int r;

        (void) snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        r = read_stat_ticks(path, &ticks); /* the process's own line already sums its threads */
        if (r < 0)
                return r;
        st.cpu_ns = ticks * (NSEC_PER_SEC / (uint64_t) (hz > 0 ? hz : 100));

        /* The process's status has the RSS; its switch counts are the main thread's only. */
        (void) snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        {
                ProcStats leader = {};

                read_status_fields(path, &leader, true);
                st.rss_bytes = leader.rss_bytes;
        }

        /* Context switches and run time are per thread: sum them. */
        (void) snprintf(path, sizeof path, "/proc/%d/task", (int) pid);
        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char tpath[300];
                uint64_t ns = 0;

                if (de->d_name[0] == '.')
                        continue;
                (void) snprintf(tpath, sizeof tpath, "/proc/%d/task/%s/status", (int) pid, de->d_name);
                read_status_fields(tpath, &st, false);
                (void) snprintf(tpath, sizeof tpath, "/proc/%d/task/%s/sched", (int) pid, de->d_name);
                if (read_sched_runtime_ns(tpath, &ns) >= 0)
                        runtime_ns += ns;
                else
                        runtime_ok = false;
                st.n_threads++;
        }
        closedir(d);
        if (runtime_ok && st.n_threads > 0)
                st.cpu_ns = runtime_ns;
        *ret = st;
        return 0;
}

int proc_private_bytes(pid_t pid, uint64_t *ret) {
        _cleanup_free_ char *line = NULL;
        unsigned long long v, sum = 0;
        char path[128];
        size_t len = 0;
        FILE *f;

        (void) snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (getline(&line, &len, f) > 0)
                if (sscanf(line, "Private_Clean: %llu kB", &v) == 1 ||
                    sscanf(line, "Private_Dirty: %llu kB", &v) == 1)
                        sum += v;
        fclose(f);
        *ret = sum * 1024;
        return 0;
}
