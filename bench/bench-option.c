/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>

#include "bench-option.h"
#include "parse.h"

/* getopt_long() returns this plus the row for a long option; a short one comes back as its letter. */
#define OPTION_ROW_BASE 0x100

static int bench_option_parse(const BenchOption *o, const char *arg) {
        uint64_t usec;
        int r;

        switch (o->kind) {
        case BENCH_OPTION_UNSIGNED:
                return parse_unsigned(arg, (unsigned) o->min, (unsigned) o->max, o->value.u);
        case BENCH_OPTION_UINT64:
                return parse_uint64(arg, (uint64_t) o->min, (uint64_t) o->max, o->value.u64);
        case BENCH_OPTION_INT:
                return parse_int(arg, (int) o->min, (int) o->max, o->value.i);
        case BENCH_OPTION_DOUBLE:
                return parse_double(arg, o->min, o->max, o->value.d);
        case BENCH_OPTION_SECONDS:
                r = parse_seconds(arg, o->max, &usec);
                if (r < 0)
                        return r;
                /* The minimum rounded as the value is: min 1e-6 turns away exactly what rounds to 0 µs. */
                if (usec < (uint64_t) llround(o->min * (double) USEC_PER_SEC))
                        return -ERANGE;
                *o->value.u64 = usec;
                return 0;
        case BENCH_OPTION_STRING:
                *o->value.s = arg;
                return 0;
        case BENCH_OPTION_FLAG:
                *o->value.flag = true;
                return 0;
        case BENCH_OPTION_CUSTOM:
                return o->parse(arg, o->value.custom);
        default:
                assert(false);
                return -EINVAL;
        }
}

static const BenchOption *bench_option_find(const BenchOption *options, size_t n_options, int opt) {
        if (opt >= OPTION_ROW_BASE && (size_t) (opt - OPTION_ROW_BASE) < n_options)
                return &options[opt - OPTION_ROW_BASE];
        for (size_t i = 0; i < n_options; i++)
                if (options[i].letter != 0 && options[i].letter == opt)
                        return &options[i];
        return NULL;
}

int bench_parse_argv(const char *prog, void (*help)(void), const BenchOption *options, size_t n_options,
                     int argc, char *argv[]) {
        /* The long options in table order (so that getopt lists ambiguous ones as before), then --help. */
        _cleanup_free_ struct option *longopts = calloc(n_options + 2, sizeof *longopts);
        _cleanup_free_ char *shortopts = malloc(2 * n_options + 2);
        size_t n_long = 0, n_short = 0;
        int opt, longindex, r;

        assert(prog);
        assert(help);
        assert(options || n_options == 0);

        if (!longopts || !shortopts)
                return -ENOMEM;
        for (size_t i = 0; i < n_options; i++) {
                int has_arg = options[i].kind == BENCH_OPTION_FLAG ? no_argument : required_argument;

                assert(options[i].kind < _BENCH_OPTION_KIND_MAX);
                assert(options[i].name || options[i].letter);
                assert(options[i].letter != 'h'); /* help's */
                if (options[i].name)
                        longopts[n_long++] =
                                (struct option){ options[i].name, has_arg, NULL,
                                                 options[i].letter ?: OPTION_ROW_BASE + (int) i };
                if (options[i].letter) {
                        shortopts[n_short++] = options[i].letter;
                        if (has_arg == required_argument)
                                shortopts[n_short++] = ':';
                }
        }
        longopts[n_long] = (struct option){ "help", no_argument, NULL, 'h' };
        shortopts[n_short++] = 'h';
        shortopts[n_short] = 0;

        while ((opt = (longindex = -1, getopt_long(argc, argv, shortopts, longopts, &longindex))) >= 0) {
                const BenchOption *o;

                if (opt == 'h') {
                        help();
                        return 0;
                }
                o = bench_option_find(options, n_options, opt);
                if (!o)
                        return -EINVAL; /* getopt said what was wrong */
                r = bench_option_parse(o, optarg);
                if (r < 0)
                        return parse_option_error(prog, longopts, opt, longindex, optarg, r);
        }
        return 1;
}
