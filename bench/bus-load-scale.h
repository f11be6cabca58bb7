/* SPDX-License-Identifier: MIT */
/*
 * --scale of bench-bus-load (issue 17): one producer and, for each S of a list, a throughput run with
 * S receivers, each bus in turn, --runs rounds; then per bus a table of medians and ranges, a
 * least-squares fit of the bus's CPU per job against S (a cost per job and one per receiver), and
 * where more receivers stop paying (the knee). The results are the Bench's (`scale`).
 */
#pragma once

#include "bus-load-internal.h"

/* The option (BENCH_OPT_CUSTOM, `value` the LoadConfig): distinct S in 1 .. CONNS_MAX, at most
 * SCALE_MAX of them, kept in ascending order. */
int parse_scale(const char *arg, void *value);
/* --scale sets S itself, with one producer, for throughput runs under broadcast. */
int check_scale(LoadConfig *c);
/* Every round of runs, then per bus its table, fit, knee and RESULT line. */
int run_scale(Bench *b);
