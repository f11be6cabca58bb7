/* SPDX-License-Identifier: MIT */
/*
 * RateLimit: at most `burst` events per `interval`. Guards every log line and reply that a remote
 * client can trigger. Embedded by value in its owner; no allocation.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct RateLimit {
        uint64_t interval_usec;
        unsigned burst;

        uint64_t begin_usec;
        unsigned num;
        unsigned suppressed; /* events refused in the previous window, reported once when it reopens */
} RateLimit;

#define RATELIMIT_INIT(interval, b) ((RateLimit){ .interval_usec = (interval), .burst = (b) })

/* Returns true when the event may go ahead. `now_usec` is CLOCK_MONOTONIC; pass 0 to read the clock. */
bool ratelimit_below(RateLimit *rl, uint64_t now);

/* The number of events refused since the last call that returned it, then resets it. */
unsigned ratelimit_take_suppressed(RateLimit *rl);
