/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <limits.h>

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

static unsigned busy_left;

/* Work that keeps the loop busy: a defer source that runs busy_left more times. */
static int on_busy(sd_event_source *s, void *userdata) {
        Throttle *t = userdata;

        /* Each pass of the work changes something. */
        throttle_kick(t, sd_event_source_get_event(s));
        if (--busy_left == 0)
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return 0;
}

/* Interval 0: no call from within a kick; the kicks of a busy stretch make one call, once the loop
 * has nothing else to do. */
static void test_zero_interval_coalesces(void **state) {
        Throttle t = THROTTLE_INIT(0, on_call, NULL);
        sd_event_source *busy = NULL;
        sd_event *e = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        calls = 0;

        throttle_kick(&t, e);
        throttle_kick(&t, e);
        assert_int_equal(calls, 0);
        run_for(e, 5 * USEC_PER_MSEC);
        assert_int_equal(calls, 1);

        busy_left = 100;
        assert_int_equal(sd_event_add_defer(e, &busy, on_busy, &t), 0);
        /* Below the timers, as the scheduler's spawns are. */
        assert_int_equal(sd_event_source_set_priority(busy, SD_EVENT_PRIORITY_NORMAL + 10), 0);
        assert_int_equal(sd_event_source_set_enabled(busy, SD_EVENT_ON), 0);
        run_for(e, 20 * USEC_PER_MSEC);
        assert_int_equal(busy_left, 0);
        assert_int_equal(calls, 2);

        /* A loop that never runs out of work: a call every 100 ms all the same. */
        busy_left = UINT_MAX;
        assert_int_equal(sd_event_source_set_enabled(busy, SD_EVENT_ON), 0);
        run_for(e, 250 * USEC_PER_MSEC);
        assert_true(calls >= 3 && calls <= 4);
        assert_int_equal(sd_event_source_set_enabled(busy, SD_EVENT_OFF), 0);
        run_for(e, 5 * USEC_PER_MSEC);
        calls = 0;

        throttle_kick(&t, e);
        throttle_done(&t);
        run_for(e, 150 * USEC_PER_MSEC);
        assert_int_equal(calls, 0);
        sd_event_source_disable_unref(busy);
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
                cmocka_unit_test(test_zero_interval_coalesces),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
