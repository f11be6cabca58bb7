/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "time-format.h"

static const char *span(uint64_t usec) {
        static char buf[FORMAT_TIMESPAN_MAX];

        return format_timespan(buf, sizeof buf, usec);
}

static void test_timespan_units(void **state) {
        assert_string_equal(span(0), "0");
        assert_string_equal(span(1), "1us");
        assert_string_equal(span(999), "999us");
        assert_string_equal(span(USEC_PER_MSEC), "1ms");
        assert_string_equal(span(12 * USEC_PER_MSEC + 400), "12ms");
        assert_string_equal(span(USEC_PER_SEC), "1s");
        assert_string_equal(span(1234 * USEC_PER_MSEC), "1.234s");
        /* No trailing zeros, no lone dot. */
        assert_string_equal(span(5100 * USEC_PER_MSEC), "5.1s");
        assert_string_equal(span(5 * USEC_PER_SEC), "5s");
        assert_string_equal(span(123 * USEC_PER_SEC), "2min 3s");
        assert_string_equal(span(3900 * USEC_PER_SEC), "1h 5min");
        assert_string_equal(span((3 * 86400 + 2 * 3600) * USEC_PER_SEC), "3d 2h");
        assert_string_equal(span((86400 + 3600 + 60 + 1) * USEC_PER_SEC), "1d 1h 1min 1s");
        /* The largest span: no overflow on the way. */
        assert_string_equal(span(UINT64_MAX), "213503982d 8h 1min 50s");
        assert_string_equal(span(UINT64_MAX / USEC_PER_MSEC * USEC_PER_MSEC - 1), "213503982d 8h 1min 50s");
}

/* Rounded before the unit is chosen: never "1000ms" nor "60s". */
static void test_timespan_rounding(void **state) {
        assert_string_equal(span(999400), "999ms");
        assert_string_equal(span(999600), "1s");
        assert_string_equal(span(59999600), "1min");
        assert_string_equal(span(60 * USEC_PER_SEC + 400 * USEC_PER_MSEC), "1min");
        assert_string_equal(span(60 * USEC_PER_SEC + 600 * USEC_PER_MSEC), "1min 1s");
}

/* A buffer too small gets what fits, terminated. */
static void test_timespan_small_buffer(void **state) {
        char buf[5];

        assert_string_equal(format_timespan(buf, sizeof buf, 3723 * USEC_PER_SEC), "1h 2");
        assert_string_equal(format_timespan(buf, sizeof buf, 1234 * USEC_PER_MSEC), "1.23");
        assert_string_equal(format_timespan(buf, 1, 1234 * USEC_PER_MSEC), "");
        assert_string_equal(format_timespan(buf, sizeof buf, UINT64_MAX), "2135");
}

static void test_timespan_usec(void **state) {
        assert_int_equal(timespan_usec(1.0, 2.5), 1500000);
        assert_int_equal(timespan_usec(1700000000.25, 1700000000.5), 250000);
        /* Clocks of two machines need not agree: never negative. */
        assert_int_equal(timespan_usec(2.0, 1.0), 0);
        assert_int_equal(timespan_usec(1.0, 1.0), 0);
        assert_int_equal(timespan_usec(NAN, 1.0), 0);
        assert_int_equal(timespan_usec(0, INFINITY), 0);
}

static void test_clock(void **state) {
        char buf[FORMAT_CLOCK_MAX];

        assert_int_equal(setenv("TZ", "UTC", 1), 0);
        tzset();
        assert_string_equal(format_clock(buf, sizeof buf, 0), "00:00:00.000");
        assert_string_equal(format_clock(buf, sizeof buf, 3723.25), "01:02:03.250");
        /* 12:00:00.9996 is the next second, not ".1000". */
        assert_string_equal(format_clock(buf, sizeof buf, 43200.9996), "12:00:01.000");
        assert_string_equal(format_clock(buf, sizeof buf, -1), "??:??:??.???");
        assert_string_equal(format_clock(buf, sizeof buf, NAN), "??:??:??.???");
        assert_string_equal(format_clock(buf, sizeof buf, 1e13), "??:??:??.???");
}

static void test_wallclock_now(void **state) {
        double now = wallclock_now();

        assert_true(fabs(now - (double) time(NULL)) < 2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_timespan_units),
                cmocka_unit_test(test_timespan_rounding),
                cmocka_unit_test(test_timespan_small_buffer),
                cmocka_unit_test(test_timespan_usec),
                cmocka_unit_test(test_clock),
                cmocka_unit_test(test_wallclock_now),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
