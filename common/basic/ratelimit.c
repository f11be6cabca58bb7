/* SPDX-License-Identifier: MIT */
#include "macro.h"
#include "ratelimit.h"
#include "time-util.h"

bool ratelimit_below(RateLimit *rl, uint64_t now) {
        assert(rl);

        if (rl->interval_usec == 0 || rl->burst == 0)
                return true;
        if (now == 0)
                now = now_usec(CLOCK_MONOTONIC);

        if (rl->begin_usec == 0 || now >= rl->begin_usec + rl->interval_usec) {
                rl->begin_usec = now;
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
        assert(rl);

        unsigned n = rl->suppressed;

        rl->suppressed = 0;
        return n;
}
