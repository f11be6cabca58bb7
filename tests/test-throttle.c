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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_leading_and_trailing),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
