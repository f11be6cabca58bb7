/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "time-format.h"
#include "time-util.h"

const char *format_timespan(char *buf, size_t size, uint64_t usec) {
        static const struct {
                const char *suffix;
                uint64_t sec;
        } units[] = {
                { "d", 24 * 3600 },
                { "h", 3600 },
                { "min", 60 },
                { "s", 1 },
        };
        uint64_t msec, sec;
        size_t n = 0;

        assert(buf);
        assert(size > 0);

        if (usec == 0) {
                (void) snprintf(buf, size, "0");
                return buf;
        }
        if (usec < USEC_PER_MSEC) {
                (void) snprintf(buf, size, "%" PRIu64 "us", usec);
                return buf;
        }
        /* Rounded first, so that 999.6ms is "1s" and 59.9996s is "1min"; without adding to usec,
         * which may be as large as UINT64_MAX. */
        msec = usec / USEC_PER_MSEC + (usec % USEC_PER_MSEC >= USEC_PER_MSEC / 2);
        if (msec < 1000) {
                (void) snprintf(buf, size, "%" PRIu64 "ms", msec);
                return buf;
        }
        if (msec < 60 * 1000) {
                int k = snprintf(buf, size, "%" PRIu64 ".%03" PRIu64, msec / 1000, msec % 1000);

                /* "5.100" reads as "5.1", "5.000" as "5". */
                for (k = (int) MIN((size_t) MAX(k, 0), size - 1); k > 0 && buf[k - 1] == '0'; k--)
                        ;
                if (k > 0 && buf[k - 1] == '.')
                        k--;
                (void) snprintf(buf + k, size - (size_t) k, "s");
                return buf;
        }

        sec = usec / USEC_PER_SEC + (usec % USEC_PER_SEC >= USEC_PER_SEC / 2);
        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(units) && sec > 0; i++) {
                uint64_t v = sec / units[i].sec;
                int k;

                if (v == 0)
                        continue;
                sec -= v * units[i].sec;
                k = snprintf(buf + n, size - n, "%s%" PRIu64 "%s", n > 0 ? " " : "", v, units[i].suffix);
                if (k < 0)
                        break;
                n = MIN(n + (size_t) k, size - 1);
        }
        return buf;
}

uint64_t timespan_usec(double from, double to) {
        double d = to - from;

        if (!isfinite(d) || d <= 0)
                return 0;
        return (uint64_t) llround(d * (double) USEC_PER_SEC);
}

const char *format_clock(char *buf, size_t size, double epoch) {
        struct tm tm;
        time_t sec;
        long msec;

        assert(buf);
        assert(size > 0);

        if (!isfinite(epoch) || epoch < 0 || epoch > 1e12) {
                (void) snprintf(buf, size, "??:??:??.???");
                return buf;
        }
        sec = (time_t) floor(epoch);
        msec = lround((epoch - floor(epoch)) * 1000);
        /* 12:00:00.9996 rounds to the next second, not to ".1000". */
        if (msec >= 1000) {
                sec++;
                msec -= 1000;
        }
        if (!localtime_r(&sec, &tm)) {
                (void) snprintf(buf, size, "??:??:??.???");
                return buf;
        }
        (void) snprintf(buf, size, "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec, msec);
        return buf;
}

double wallclock_now(void) {
        return (double) now_usec(CLOCK_REALTIME) / (double) USEC_PER_SEC;
}
