/* SPDX-License-Identifier: MIT */
#include <time.h>

#include "macro.h"
#include "ratelimit.h"

static uint64_t now_monotonic(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

bool ratelimit_below(RateLimit *rl, uint64_t now_usec) {
        if (rl->interval_usec == 0 || rl->burst == 0)
                return true;
        if (now_usec == 0)
                now_usec = now_monotonic();

        if (rl->begin_usec == 0 || now_usec >= rl->begin_usec + rl->interval_usec) {
                rl->begin_usec = now_usec;
                rl->num = 0;
        }

        if (rl->num < rl->burst) {
                rl->num++;
                return true;
        }

        rl->suppressed++;
        return false;
}

unsigned ratelimit_take_suppressed(RateLimit *rl) {
        unsigned n = rl->suppressed;

        rl->suppressed = 0;
        return n;
}
