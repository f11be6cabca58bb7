/* SPDX-License-Identifier: MIT */
/*
 * What the files of bench-bus-load share: its configuration (LoadConfig), the figures of one run
 * (RunResult), a bus under load (Target) and the benchmark that loads them in turn (Bench), and the
 * calls of the Load and the runs (bus-load.c) that the --scale runs (bus-load-scale.c) make. A Load
 * itself is bus-load.c's own.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "bench-daemon.h"
#include "bench-util.h"
#include "bus-load-procs.h"

/* An option not given: its default depends on others. */
#define UNSET     UINT64_MAX
#define UNSET_U   UINT32_MAX
#define SCALE_MAX 16 /* --scale: how many S */

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
        bool glue;            /* every connection on the glue, as before issue 17 */
        bool pin;             /* each bus started on the last CPU, the load on the others */
        pid_t bus_pid;        /* for the bus's CPU figure; 0: unknown */
        unsigned n_producers, n_schedulers, n_observers;
        unsigned n_procs; /* processes of the load: this one and n_procs - 1 workers */
        unsigned slots;   /* each reporting scheduler's */
        uint64_t n_jobs;  /* per throughput run */
        uint64_t window;
        uint64_t rate;   /* jobs/s offered in latency runs; 0: no latency runs */
        double duration; /* seconds of a latency run */
        unsigned runs;
        unsigned scale[SCALE_MAX], n_scale; /* --scale: receivers per run, ascending */
} LoadConfig;

/* The figures of one run on one bus. */
typedef struct RunResult {
        unsigned receivers;
        uint64_t jobs, delivered; /* delivered: messages to schedulers, or events to observers */
        double seconds, per_sec;  /* per_sec: delivered/s, or jobs/s in events runs */
        double jobs_per_sec;
        double per_bus_cpu_s;      /* per_sec per second of the bus's CPU time; 0 if unknown */
        double bus_cpu, bench_cpu; /* fraction of one core; bench: all the load's processes */
        double bus_us_per_job;     /* the bus's CPU time per job and per delivered message; < 0: unknown */
        double bus_ns_per_message;
        double load;             /* the machine's load average when the run started */
        double events_per_frame; /* events runs: how the bus batches them for an observer */
        double held;             /* events runs: jobs the bus said it held (observer 0 saw) */
        double p50_us, p99_us, max_us;
        bool events_ok;   /* events runs: every observer got exactly what it should */
        bool checked;     /* --dispatch=one: the receipts were matched job by job */
        bool receipts_ok; /* and every job reached exactly one scheduler, once */
} RunResult;

/* One bus's load in one process (bus-load.c). */
typedef struct Load Load;

/* A bus under load: the one under test, the one before a change, or the null bus. */
typedef struct Target {
        LoadConfig config;
        unsigned slot;       /* its number: its LoadShared */
        BenchDaemon *daemon; /* NULL for a bus given by --url */
        sd_event *event;     /* the loop of its loads, which also drains the bus's notify socket */
        Load *load;
        char url[64];
        RunResult res[BENCH_RUNS_MAX];
} Target;

/* The buses of one comparison, loaded in turn run by run. */
typedef struct Bench {
        LoadConfig config;
        LoadProcs *procs;
        Target targets[TARGETS_MAX];
        unsigned n_targets;
        Target *bus, *before, *null_bus; /* the last two NULL when not compared */
        RunResult *scale;                /* --scale: run i of S number j on target k, scale_at() */
} Bench;

Load *load_free(Load *l);
/* A throughput run, or with `paced` a latency run, of the load as it is set up. */
int load_run(Load *l, bool paced, RunResult *ret);
/* The target's load with n_schedulers receivers, on its loop. */
int target_connect(Bench *b, Target *t, unsigned n_schedulers);
/* What a failed run's error says: a load process gone is said as such (the line before says how). */
const char *run_error_text(int r);

/* Table cells, and the figure of a run that tables and medians share. */
void print_cpu(double v);
void print_load(double v);
double rate_of(const RunResult *r);
