/* SPDX-License-Identifier: MIT */
/*
 * Helpers every benchmark program shares: the monotonic clock, statistics over samples (medians,
 * percentiles), the machine line that heads each table, a raised open-file limit, and the figures
 * of another process read from /proc (CPU time, RSS, context switches). No state.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NSEC_PER_SEC  UINT64_C(1000000000)
#define NSEC_PER_MSEC UINT64_C(1000000)

/* The most runs (--runs) a benchmark takes: its per-run arrays are sized by it. */
#define BENCH_RUNS_MAX 100

/* CLOCK_MONOTONIC in nanoseconds: the same clock in every process of the machine. */
uint64_t bench_now_ns(void);
void bench_sleep_ns(uint64_t ns);

/* The p-th percentile (0..100, nearest rank) of n samples; sorts v. 0 for n == 0. */
double bench_percentile(double *v, size_t n, double p);
/* The median of n samples, without changing v. 0 for n == 0. */
double bench_median(const double *v, size_t n);
/* The median of one double field over n structs `stride` bytes apart, `offset` into each. */
double bench_median_field(const void *base, size_t n, size_t stride, size_t offset);
/* The median of a->field over a[0..n): BENCH_MEDIAN_OF(results, runs, p99_us). */
#define BENCH_MEDIAN_OF(a, n, field)                                                          \
        ({                                                                                    \
                _Static_assert(__builtin_types_compatible_p(__typeof__((a)->field), double),  \
                               "BENCH_MEDIAN_OF() takes a double field");                     \
                bench_median_field((a), (n), sizeof *(a), offsetof(__typeof__(*(a)), field)); \
        })

/* "2 cores, AMD EPYC, 2025-01-31 12:00 UTC, load 1.05" on stdout, under a benchmark's title. */
void bench_print_header(const char *title);
/* The machine's 1-minute load average now (-1 if unknown): printed next to a run's figures. */
double bench_load_average(void);

/* Raises the soft RLIMIT_NOFILE to at least `want` (within the hard limit). Returns the new soft
 * limit, or -errno. */
long bench_raise_nofile(unsigned long want);

/* A process's figures from /proc, summed over its threads. */
typedef struct ProcStats {
        uint64_t cpu_ns;        /* time on a CPU (sched's sum_exec_runtime; utime + stime without it) */
        uint64_t rss_bytes;     /* VmRSS */
        uint64_t ctx_voluntary; /* the thread blocked and was woken up again: a wakeup */
        uint64_t ctx_involuntary;
        unsigned n_threads;
} ProcStats;

int proc_stats_read(pid_t pid, ProcStats *ret);
/* Private resident bytes (Private_Clean + Private_Dirty of smaps_rollup): what the process alone holds. */
int proc_private_bytes(pid_t pid, uint64_t *ret);
