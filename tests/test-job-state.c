/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "job-state.h"

/* Every state has a name of its own: a journal match on SCHED_JOB_STATE= finds exactly one. */
static void test_every_state_named_once(void **state) {
        for (JobState s = 0; s < _JOB_STATE_MAX; s++) {
                const char *name = job_state_to_string(s);

                assert_non_null(name);
                for (JobState t = 0; t < s; t++)
                        assert_string_not_equal(job_state_to_string(t), name);
        }
}

static void test_names(void **state) {
        assert_string_equal(job_state_to_string(JOB_QUEUED), "queued");
        assert_string_equal(job_state_to_string(JOB_EVICTED), "evicted");
        assert_string_equal(job_state_to_string(JOB_DROPPED), "dropped");
        assert_string_equal(job_state_to_string(JOB_TIMEOUT), "timeout");
        assert_string_equal(job_state_to_string(JOB_CANCELLED), "cancelled");
        assert_string_equal(job_state_to_string(JOB_SUSPENDED), "suspended");
        assert_string_equal(job_state_to_string(JOB_RESUMED), "resumed");
        assert_string_equal(job_state_to_string(JOB_REQUEUED), "requeued");
}

/* The values are journal and wire facts: a new state goes last, so that the old ones keep theirs. */
static void test_values_stable(void **state) {
        assert_int_equal(JOB_QUEUED, 0);
        assert_int_equal(JOB_INTERRUPTED, 7);
        assert_int_equal(JOB_CANCELLED, 8);
        assert_int_equal(JOB_SUSPENDED, 9);
        assert_int_equal(JOB_RESUMED, 10);
        assert_int_equal(JOB_REQUEUED, 11);
        assert_int_equal(_JOB_STATE_MAX, 12);
}

/* Every name reads back as its state: what the wire and the ledger parse is what the logs print. */
static void test_from_string_round_trip(void **state) {
        for (JobState s = 0; s < _JOB_STATE_MAX; s++)
                assert_int_equal(job_state_from_string(job_state_to_string(s)), s);
        assert_int_equal(job_state_from_string("cancelled"), JOB_CANCELLED);
}

static void test_terminal(void **state) {
        assert_false(job_state_is_terminal(JOB_QUEUED));
        assert_false(job_state_is_terminal(JOB_RUNNING));
        for (JobState s = JOB_DONE; s <= JOB_CANCELLED; s++)
                assert_true(job_state_is_terminal(s));
        /* --evict=requeue|suspend: a job in these goes on, somewhere. */
        assert_false(job_state_is_terminal(JOB_SUSPENDED));
        assert_false(job_state_is_terminal(JOB_RESUMED));
        assert_false(job_state_is_terminal(JOB_REQUEUED));
        assert_true(job_state_is_waiting(JOB_SUSPENDED));
        assert_true(job_state_is_waiting(JOB_REQUEUED));
        assert_false(job_state_is_waiting(JOB_RESUMED));
        assert_true(job_state_is_terminal(JOB_CANCELLED));
        assert_false(job_state_is_terminal(_JOB_STATE_MAX));
        assert_false(job_state_is_terminal(_JOB_STATE_INVALID));
}

static void test_invalid(void **state) {
        assert_null(job_state_to_string(_JOB_STATE_MAX));
        assert_null(job_state_to_string(_JOB_STATE_INVALID));
        assert_int_equal(job_state_from_string(NULL), _JOB_STATE_INVALID);
        assert_int_equal(job_state_from_string(""), _JOB_STATE_INVALID);
        assert_int_equal(job_state_from_string("canceled"), _JOB_STATE_INVALID);
        assert_int_equal(job_state_from_string("Cancelled"), _JOB_STATE_INVALID);
        assert_int_equal(job_state_from_string("sent"), _JOB_STATE_INVALID); /* the bus's, not ours */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_state_named_once),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_values_stable),
                cmocka_unit_test(test_from_string_round_trip),
                cmocka_unit_test(test_terminal),
                cmocka_unit_test(test_invalid),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
