/* SPDX-License-Identifier: MIT */
/*
 * The --scale runs of bench-bus-load (bus-load-scale.h): the option, the rounds of throughput runs
 * with S receivers, and per bus the table, the fit and the knee. The results live in the Bench.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-load-scale.h"
#include "macro.h"
#include "parse.h"

/* The knee (a doubling of S that adds less than 10 % delivered/s) and the bus CPU share counted as
 * a full core. */
#define KNEE_GAIN    1.10
#define BUS_CPU_FULL 0.95

/* --scale: the result of run i with the j-th S on target k. */
static RunResult *scale_at(const Bench *b, unsigned j, unsigned k, unsigned i) {
        return &b->scale[((size_t) j * b->n_targets + k) * b->config.runs + i];
}

/* A throughput run with s receivers: the bus's load set up for it alone, and closed after it. */
static int scale_run(Bench *b, Target *t, unsigned s, RunResult *ret) {
        int r;

        r = target_connect(b, t, s);
        if (r >= 0) {
                r = load_run(t->load, false, ret);
                if (r < 0)
                        fprintf(stderr, "bench-bus-load: %s, throughput run with %u receivers failed: %s\n",
                                t->config.name, s, run_error_text(r));
        }
        t->load = load_free(t->load);
        return r;
}

static void print_figure(double v, int precision) {
        if (v < 0)
                printf(" %10s", "n/a");
        else
                printf(" %10.*f", precision, v);
}

static void print_scale_row(const char *run, const char *name, const RunResult *r) {
        printf("%-7s %4u %-12s %11" PRIu64 " %8.3f %12.0f %10.0f", run, r->receivers, name, r->delivered,
               r->seconds, r->per_sec, r->jobs_per_sec);
        print_cpu(r->bus_cpu);
        print_cpu(r->bench_cpu);
        print_figure(r->bus_us_per_job, 3);
        print_figure(r->bus_ns_per_message, 1);
        print_load(r->load);
}

static double jobs_rate_of(const RunResult *r) {
        return r->jobs_per_sec;
}

static double bus_cpu_of(const RunResult *r) {
        return r->bus_cpu;
}

static double bench_cpu_of(const RunResult *r) {
        return r->bench_cpu;
}

static double us_per_job_of(const RunResult *r) {
        return r->bus_us_per_job;
}

static double ns_per_message_of(const RunResult *r) {
        return r->bus_ns_per_message;
}

static double load_of(const RunResult *r) {
        return r->load;
}

/* A figure over the runs of one S and bus: the median and the range. */
typedef struct Spread {
        double median, min, max;
} Spread;

static Spread scale_spread(const Bench *b, unsigned j, unsigned k, double (*f)(const RunResult *)) {
        Spread s = { .min = INFINITY, .max = -INFINITY };
        double v[BENCH_RUNS_MAX];

        for (unsigned i = 0; i < b->config.runs; i++) {
                v[i] = f(scale_at(b, j, k, i));
                s.min = MIN(s.min, v[i]);
                s.max = MAX(s.max, v[i]);
        }
        s.median = bench_median(v, b->config.runs);
        return s;
}

/* "median [min-max]", `precision` decimals, in columns `width` and `range_width` wide. */
static void print_spread(Spread s, int width, int range_width, int precision) {
        char range[64];

        if (s.median < 0) {
                printf(" %*s %-*s", width, "n/a", range_width, "");
                return;
        }
        (void) snprintf(range, sizeof range, "[%.*f-%.*f]", precision, s.min, precision, s.max);
        printf(" %*.*f %-*s", width, precision, s.median, range_width, range);
}

/* Least squares y = a + b x, with the root mean square of the residuals and the largest residual
 * relative to its y. */
typedef struct Fit {
        bool ok; /* two different x at least */
        double a, b, rms, max_rel;
} Fit;

static Fit fit_line(const double *x, const double *y, unsigned n) {
        double sx = 0, sy = 0, sxx = 0, sxy = 0, ss = 0, d;
        Fit f = {};

        for (unsigned i = 0; i < n; i++) {
                sx += x[i];
                sy += y[i];
                sxx += x[i] * x[i];
                sxy += x[i] * y[i];
        }
        d = n * sxx - sx * sx;
        if (n < 2 || d <= 0)
                return f;
        f.b = (n * sxy - sx * sy) / d;
        f.a = (sy - f.b * sx) / n;
        for (unsigned i = 0; i < n; i++) {
                double e = y[i] - (f.a + f.b * x[i]);

                ss += e * e;
                if (y[i] > 0)
                        f.max_rel = MAX(f.max_rel, fabs(e) / y[i]);
        }
        f.rms = sqrt(ss / n);
        f.ok = true;
        return f;
}

/* Where the fit puts the knee: with the bus busy all the time, delivered/s = S / (a + b S), and a
 * doubling of S gains (a + b S) / (a / 2 + b S), which falls under KNEE_GAIN from
 * S = a (1 - KNEE_GAIN / 2) / (b (KNEE_GAIN - 1)): 4.5 a / b. */
static double fit_knee(const Fit *f) {
        return f->b > 0 ? f->a * (1 - KNEE_GAIN / 2) / (f->b * (KNEE_GAIN - 1)) : 0;
}

/* The knee: the smallest S of the list after which more receivers add less than 10 % delivered
 * msg/s per doubling of S (a step from S to S' counts as log2(S'/S) doublings); 0 if there is
 * none. */
static unsigned scale_knee(const unsigned *s, const double *rate, unsigned n) {
        for (unsigned j = 0; j + 1 < n; j++) {
                double doublings = log2((double) s[j + 1] / (double) s[j]);

                if (pow(rate[j + 1] / rate[j], 1.0 / doublings) < KNEE_GAIN)
                        return s[j];
        }
        return 0;
}

/* The name of a bus as a RESULT key: "null bus" gives null_bus. */
static void result_key(const char *name, char *buf, size_t size) {
        size_t i = 0;

        for (; name[i] && i + 1 < size; i++)
                buf[i] = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ? name[i]
                                                                                                  : '_';
        buf[i] = 0;
}

static void print_scale_table(const Bench *b, unsigned k) {
        const LoadConfig *c = &b->config;

        printf("\n## %s: 1 producer x S receivers, median [min-max] of %u run(s)\n",
               b->targets[k].config.name, c->runs);
        printf("%4s %11s %-19s %11s %-19s %9s %9s %10s %-15s %10s %-15s %5s\n", "S", "delivered/s",
               "[min-max]", "jobs/s", "[min-max]", "bus CPU", "bench CPU", "bus µs/job", "[min-max]",
               "bus ns/msg", "[min-max]", "load");
        for (unsigned j = 0; j < c->n_scale; j++) {
                printf("%4u", c->scale[j]);
                print_spread(scale_spread(b, j, k, rate_of), 11, 19, 0);
                print_spread(scale_spread(b, j, k, jobs_rate_of), 11, 19, 0);
                print_cpu(scale_spread(b, j, k, bus_cpu_of).median);
                print_cpu(scale_spread(b, j, k, bench_cpu_of).median);
                print_spread(scale_spread(b, j, k, us_per_job_of), 10, 15, 3);
                print_spread(scale_spread(b, j, k, ns_per_message_of), 10, 15, 1);
                print_load(scale_spread(b, j, k, load_of).median);
        }
}

/* Per bus: the table of medians, the fit of the bus's CPU per job against S, the knee, and a RESULT
 * line. */
static void print_scale_summary(const Bench *b, unsigned k) {
        const LoadConfig *c = &b->config;
        double x[SCALE_MAX], us[SCALE_MAX], rate[SCALE_MAX];
        unsigned full = 0, knee;
        bool cpu_known = true;
        char key[BUS_NAME_MAX];
        Fit f;

        print_scale_table(b, k);
        for (unsigned j = 0; j < c->n_scale; j++) {
                x[j] = c->scale[j];
                us[j] = scale_spread(b, j, k, us_per_job_of).median;
                rate[j] = scale_spread(b, j, k, rate_of).median;
                cpu_known = cpu_known && us[j] >= 0;
                if (full == 0 && scale_spread(b, j, k, bus_cpu_of).median >= BUS_CPU_FULL)
                        full = c->scale[j];
        }
        f = cpu_known ? fit_line(x, us, c->n_scale) : (Fit){};
        knee = scale_knee(c->scale, rate, c->n_scale);
        if (f.ok)
                printf("fit: bus CPU-µs per job = %.3f + %.4f x S: %.3f µs per job, %.1f ns per receiver "
                       "(per delivered message); residual: RMS %.3f µs, at most %.1f %% of a point\n",
                       f.a, f.b, f.a, f.b * 1000, f.rms, f.max_rel * 100);
        else
                printf("fit: none (%s)\n",
                       cpu_known ? "two S at least" : "the bus's CPU is unknown: --bus-pid");
        if (knee > 0)
                printf("knee: S = %u (from there a doubling of S adds less than %.0f %% delivered msg/s)",
                       knee, (KNEE_GAIN - 1) * 100);
        else
                printf("knee: none up to S = %u (every doubling of S adds %.0f %% delivered msg/s or more)",
                       c->scale[c->n_scale - 1], (KNEE_GAIN - 1) * 100);
        if (f.ok)
                printf("; the fit puts it at S = %.0f (4.5 a / b, for a bus busy all the time)",
                       fit_knee(&f));
        if (!cpu_known)
                printf("\n");
        else if (full > 0)
                printf("; bus CPU at %.0f %% or more from S = %u\n", BUS_CPU_FULL * 100, full);
        else
                printf("; bus CPU below %.0f %% at every S\n", BUS_CPU_FULL * 100);

        result_key(b->targets[k].config.name, key, sizeof key);
        printf("RESULT bus_scale_%s knee_s=%u bus_cpu_full_s=%u", key, knee, full);
        if (f.ok)
                printf(" per_job_us=%.3f per_receiver_us=%.4f fit_rms_us=%.3f knee_fit_s=%.0f", f.a, f.b,
                       f.rms, fit_knee(&f));
        for (unsigned j = 0; j < c->n_scale; j++) {
                printf(" s%u_delivered_per_s=%.0f", c->scale[j], rate[j]);
                if (us[j] >= 0)
                        printf(" s%u_bus_us_per_job=%.3f", c->scale[j], us[j]);
        }
        printf(" load=%.2f\n", scale_spread(b, 0, k, load_of).median);
}

/* --scale: each round goes through every S and every bus, the order of both rotating from round to
 * round, so that none always goes first. */
int run_scale(Bench *b) {
        const LoadConfig *c = &b->config;
        unsigned n = c->n_scale, nt = b->n_targets;
        char run[16];
        int r;

        b->scale = calloc((size_t) n * nt * c->runs, sizeof(RunResult));
        if (!b->scale)
                return -ENOMEM;
        printf("\n## scale: 1 producer x S receivers, S in");
        for (unsigned j = 0; j < n; j++)
                printf("%s%u", j > 0 ? "," : " ", c->scale[j]);
        printf("; %" PRIu64 " jobs per run, window %" PRIu64 "\n", c->n_jobs, c->window);
        printf("%-7s %4s %-12s %11s %8s %12s %10s %9s %9s %10s %10s %5s\n", "run", "S", "bus", "delivered",
               "seconds", "delivered/s", "jobs/s", "bus CPU", "bench CPU", "bus µs/job", "bus ns/msg",
               "load");
        for (unsigned i = 0; i < c->runs; i++) {
                (void) snprintf(run, sizeof run, "%u", i + 1);
                for (unsigned jj = 0; jj < n; jj++)
                        for (unsigned kk = 0; kk < nt; kk++) {
                                unsigned j = (i + jj) % n, k = (i + jj + kk) % nt;

                                r = scale_run(b, &b->targets[k], c->scale[j], scale_at(b, j, k, i));
                                if (r < 0)
                                        return r;
                                print_scale_row(run, b->targets[k].config.name, scale_at(b, j, k, i));
                                fflush(stdout);
                        }
        }
        for (unsigned k = 0; k < nt; k++)
                print_scale_summary(b, k);
        return 0;
}

static int compare_unsigned(const void *a, const void *b) {
        unsigned x = *(const unsigned *) a, y = *(const unsigned *) b;

        return (x > y) - (x < y);
}

/* --scale 1,2,4: distinct S in 1 .. CONNS_MAX, at most SCALE_MAX of them, kept in ascending order. */
int parse_scale(const char *arg, void *value) {
        LoadConfig *c = value;
        const char *p = arg;

        c->n_scale = 0;
        for (;;) {
                char item[16];
                size_t len = strcspn(p, ",");
                int r;

                if (len == 0 || len >= sizeof item || c->n_scale == SCALE_MAX)
                        return -EINVAL;
                memcpy(item, p, len);
                item[len] = 0;
                r = parse_unsigned(item, 1, CONNS_MAX, &c->scale[c->n_scale++]);
                if (r < 0)
                        return r;
                if (p[len] == 0)
                        break;
                p += len + 1;
        }
        qsort(c->scale, c->n_scale, sizeof *c->scale, compare_unsigned);
        for (unsigned j = 1; j < c->n_scale; j++)
                if (c->scale[j] == c->scale[j - 1])
                        return -EINVAL;
        return 0;
}

/* --scale sets S itself, with one producer, for throughput runs under broadcast. */
int check_scale(LoadConfig *c) {
        if (c->n_scale == 0)
                return 0;
        if (c->n_schedulers != UNSET_U || c->n_producers != 1 || c->events || c->one ||
            (c->rate != UNSET && c->rate > 0) || c->n_jobs == 0) {
                fprintf(stderr,
                        "bench-bus-load: --scale runs 1 producer and S schedulers for each S of its list: "
                        "no -s, -p, --events, --dispatch one, --rate or -n 0.\n");
                return -EINVAL;
        }
        c->n_schedulers = c->scale[c->n_scale - 1];
        c->rate = 0;
        return 0;
}
