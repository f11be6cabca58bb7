/* SPDX-License-Identifier: MIT */
/*
 * Producer: the sched-producer program. Owns its sd-event loop, the BusLink (role producer), the
 * JobGenerator and the send and deadline timers. Sends one job_request per period on a monotonic
 * schedule (each wait counts from the previous send), until COUNT jobs or a signal.
 */
#pragma once

#include "bus-auth.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ProducerConfig {
        double period; /* seconds */
        bool gauss;
        double sigma;
        uint64_t count; /* 0 = no end */
        uint64_t seed;
        bool have_seed;
        int priority;   /* -1 = random 0..10 */
        double runtime; /* < 0 = random 3..15 */
        const char *bus_url;
        BusAuthOptions auth;
        uint64_t connect_timeout_usec;
        bool wait; /* after the last job, wait for every job's end */
} ProducerConfig;

#define PRODUCER_CONFIG_DEFAULT                           \
        ((ProducerConfig){                                \
                .period = 5,                              \
                .sigma = 2,                               \
                .priority = -1,                           \
                .runtime = -1,                            \
                .connect_timeout_usec = 5 * USEC_PER_SEC, \
        })

/* Exit codes beyond 0 (done), 1 (failure) and 2 (usage). */
#define PRODUCER_EXIT_UNAVAILABLE 69 /* the bus could not be reached */
#define PRODUCER_EXIT_LOST        75 /* the bus went away mid-run */
#define PRODUCER_EXIT_NOT_DONE    3  /* --wait: some job ended other than done */

typedef struct Producer Producer;

int producer_new(Producer **ret, const ProducerConfig *config);
Producer *producer_free(Producer *p);
/* Returns the process exit code. */
int producer_run(Producer *p);
