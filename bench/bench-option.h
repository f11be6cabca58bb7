/* SPDX-License-Identifier: MIT */
/*
 * BenchOption: the command line of a benchmark as a table. Each row names one option (long name,
 * short letter or both), how its value is parsed and the field it lands in; bench_parse_argv()
 * runs getopt_long() over the table, so that every benchmark takes and rejects options the same
 * way. The table and the fields belong to the benchmark; no state here.
 *
 * Checks that tie options together (or that say more than "out of range") stay in the benchmark,
 * after the table is parsed.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench-util.h"
#include "macro.h"

typedef enum BenchOptionKind {
        BENCH_OPTION_UNSIGNED, /* unsigned in [min, max] */
        BENCH_OPTION_UINT64,   /* uint64_t in [min, max] */
        BENCH_OPTION_INT,      /* int in [min, max], with an optional sign */
        BENCH_OPTION_DOUBLE,   /* a decimal number in [min, max] */
        BENCH_OPTION_SECONDS,  /* decimal seconds in [min, max], stored as µs (uint64_t) */
        BENCH_OPTION_STRING,   /* the argument itself (const char *) */
        BENCH_OPTION_FLAG,     /* no argument: sets a bool */
        BENCH_OPTION_CUSTOM,   /* the argument goes to parse(), which returns 0 or -EINVAL/-ERANGE */
        _BENCH_OPTION_KIND_MAX,
} BenchOptionKind;

typedef struct BenchOption {
        const char *name; /* "runs" for --runs; NULL for a short option alone */
        char letter;      /* 'n' for -n; 0 for a long option alone */
        BenchOptionKind kind;
        double min, max; /* the numeric kinds (exact for integers up to 2^53) */
        union {
                unsigned *u;
                uint64_t *u64;
                int *i;
                double *d;
                const char **s;
                bool *flag;
                void *custom; /* handed to parse() */
        } value;
        int (*parse)(const char *arg, void *value);
} BenchOption;

/* Table rows; the typed union members make the compiler check each field's type. */
#define BENCH_OPT_ROW(n, l, k, lo, hi, member, p) \
        { .name = (n), .letter = (l), .kind = (k), .min = (lo), .max = (hi), .value.member = (p) }
#define BENCH_OPT_UNSIGNED(n, l, lo, hi, p) BENCH_OPT_ROW(n, l, BENCH_OPTION_UNSIGNED, lo, hi, u, p)
#define BENCH_OPT_UINT64(n, l, lo, hi, p)   BENCH_OPT_ROW(n, l, BENCH_OPTION_UINT64, lo, hi, u64, p)
#define BENCH_OPT_INT(n, l, lo, hi, p)      BENCH_OPT_ROW(n, l, BENCH_OPTION_INT, lo, hi, i, p)
#define BENCH_OPT_DOUBLE(n, l, lo, hi, p)   BENCH_OPT_ROW(n, l, BENCH_OPTION_DOUBLE, lo, hi, d, p)
#define BENCH_OPT_SECONDS(n, l, lo, hi, p)  BENCH_OPT_ROW(n, l, BENCH_OPTION_SECONDS, lo, hi, u64, p)
#define BENCH_OPT_STRING(n, l, p)           BENCH_OPT_ROW(n, l, BENCH_OPTION_STRING, 0, 0, s, p)
#define BENCH_OPT_FLAG(n, l, p)             BENCH_OPT_ROW(n, l, BENCH_OPTION_FLAG, 0, 0, flag, p)
#define BENCH_OPT_CUSTOM(n, l, fn, p) \
        { .name = (n), .letter = (l), .kind = BENCH_OPTION_CUSTOM, .value.custom = (p), .parse = (fn) }

/* The options every benchmark spells the same way. */
#define BENCH_OPT_RUNS(p)             BENCH_OPT_UNSIGNED("runs", 0, 1, BENCH_RUNS_MAX, p)
#define BENCH_OPT_BUS_BINARY(p)       BENCH_OPT_STRING("bus-binary", 0, p)
#define BENCH_OPT_SCHEDULER_BINARY(p) BENCH_OPT_STRING("scheduler-binary", 0, p)

/* Parses argv against options[] plus -h/--help. A bad value is said on stderr as "PROG: invalid
 * value 'V' for --NAME: out of range" (or "not valid"); getopt says what is wrong with an unknown
 * option or a missing argument. Returns 1 to go on, 0 once help() has printed (exit 0), < 0 on bad
 * usage (exit 2). Arguments after the options are left alone, as they always were. */
int bench_parse_argv(const char *prog, void (*help)(void), const BenchOption *options, size_t n_options,
                     int argc, char *argv[]);

#define BENCH_PARSE_ARGV(prog, help, options, argc, argv) \
        bench_parse_argv((prog), (help), (options), ELEMENTSOF(options), (argc), (argv))
