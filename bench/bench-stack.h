/* SPDX-License-Identifier: MIT */
/*
 * BenchStack: what the scheduler benchmarks measure — sched-bus, a sched-scheduler connected to
 * it, and one producer connection of ours — watched from one loop. The benchmark starts the two
 * daemons its own way (arguments, environment, stderr), then hands them here to be connected; the
 * run that set a stack up owns it and ends it with bench_stack_done().
 */
#pragma once

#include "bench-daemon.h"
#include "bench-net.h"

typedef struct BenchStack {
        BenchDaemon *bus, *scheduler;
        BenchNet *net;
        BenchConn *producer;
} BenchStack;

/* With bus and scheduler started (the scheduler pointed at url): watches both from a new loop, the
 * scheduler's STATUS= lines going to cb (may be NULL; the current line first), waits until the
 * scheduler says it is connected to the bus, then connects a producer to url and registers it. */
int bench_stack_connect(BenchStack *s, const char *url, bench_status_t cb, void *userdata);
/* Stops the scheduler, then the bus; frees the loop and with it the producer. */
void bench_stack_done(BenchStack *s);
