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

/* Prints "PROG: invalid value 'VALUE' for --NAME: out of range" (or "not valid") on stderr, naming the
 * option as the user wrote it. For command-line parsers; returns `error`. */
int parse_option_error(const char *prog, const struct option *options, int opt, int longindex,
                       const char *value, int error);
