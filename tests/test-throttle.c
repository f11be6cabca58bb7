/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "macro.h"
#include "throttle.h"
#include "time-util.h"

static unsigned calls;

static void on_call(void *userdata) {
        calls++;
}

static void run_for(sd_event *e, uint64_t usec) {
        uint64_t end = now_usec(CLOCK_MONOTONIC) + usec;

        while (now_usec(CLOCK_MONOTONIC) < end)
                assert_true(sd_event_run(e, 1000) >= 0);
}

static void test_leading_and_trailing(void **state) {
        Throttle t = THROTTLE_INIT(50 * USEC_PER_MSEC, on_call, NULL);
        sd_event *e = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        calls = 0;

        /* The first kick calls at once; a thousand more within the interval make one call more, at
         * its end. */
        throttle_kick(&t, e);
        assert_int_equal(calls, 1);
        for (int i = 0; i < 1000; i++)
                throttle_kick(&t, e);
        assert_int_equal(calls, 1);
        run_for(e, 80 * USEC_PER_MSEC);
        assert_int_equal(calls, 2);

        /* Quiet for longer than the interval: the next kick calls at once again. */
        run_for(e, 60 * USEC_PER_MSEC);
        assert_int_equal(calls, 2);
        throttle_kick(&t, e);
        assert_int_equal(calls, 3);

        throttle_done(&t);
        run_for(e, 60 * USEC_PER_MSEC);
        assert_int_equal(calls, 3);
        sd_event_unref(e);
}

/* A call that could not do its work asks again: once, after the interval, even with no kick. */
static void test_retry(void **state) {
        Throttle t = THROTTLE_INIT(20 * USEC_PER_MSEC, on_call, NULL);
        sd_event *e = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        calls = 0;

        throttle_kick(&t, e);
        assert_int_equal(calls, 1);
        throttle_retry(&t, e);
        assert_int_equal(calls, 1);
        run_for(e, 60 * USEC_PER_MSEC);
        assert_int_equal(calls, 2);

        /* With no interval, not at once either: at least 10 ms later. */
        t.interval_usec = 0;
        throttle_retry(&t, e);
        run_for(e, 5 * USEC_PER_MSEC);
        assert_int_equal(calls, 2);
        run_for(e, 30 * USEC_PER_MSEC);
        assert_int_equal(calls, 3);

        throttle_done(&t);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_leading_and_trailing),
                cmocka_unit_test(test_retry),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
