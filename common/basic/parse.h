/* SPDX-License-Identifier: MIT */
/*
 * Strict parsing of command-line values: the whole string must be a number in range, or -EINVAL /
 * -ERANGE comes back. No state.
 */
#pragma once

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

int parse_uint64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
int parse_unsigned(const char *s, unsigned min, unsigned max, unsigned *ret);
int parse_int(const char *s, int min, int max, int *ret);
/* A finite decimal number within [min, max]. */
int parse_double(const char *s, double min, double max, double *ret);
/* Seconds as a decimal number ("0.25", "10") into microseconds; at most `max_sec`. */
int parse_seconds(const char *s, double max_sec, uint64_t *ret_usec);
/* Bytes with an optional K, M or G suffix (powers of 1024). */
int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/* The options every program has, for its struct option table (with PARSE_ARG_VERSION its own enum
 * starts below it) and its getopt short string ("vh"). */
#define PARSE_ARG_VERSION 0x1000
/* clang-format off */
#define PARSE_COMMON_OPTIONS                                    \
        { "verbose", no_argument, NULL, 'v' },                  \
        { "help", no_argument, NULL, 'h' },                     \
        { "version", no_argument, NULL, PARSE_ARG_VERSION }
/* clang-format on */

/* Handles an `opt` from getopt_long() that the program's own switch did not: -v (debug logging),
 * -h (`help()`), --version, and getopt's '?' for an unknown option. Returns 1 to go on parsing, 0
 * when help or the version was printed (exit 0), -EINVAL on bad usage (said on stderr). */
int parse_common_option(const char *prog, int opt, void (*help)(void));
/* After the options: -EINVAL (said on stderr) if anything is left on the command line, else 1. */
int parse_no_arguments(const char *prog, int argc, char *argv[]);

/* Prints "PROG: invalid value 'VALUE' for --NAME: out of range" (or "not valid") on stderr, naming the
 * option as the user wrote it. For command-line parsers; returns `error`. */
int parse_option_error(const char *prog, const struct option *options, int opt, int longindex,
                       const char *value, int error);
