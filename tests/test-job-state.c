/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "job-state.h"

static void test_round_trip(void **state) {
        for (JobState s = 0; s < _JOB_STATE_MAX; s++) {
                const char *name = job_state_to_string(s);

                assert_non_null(name);
                assert_int_equal(job_state_from_string(name), s);
        }
}

static void test_names(void **state) {
        assert_string_equal(job_state_to_string(JOB_QUEUED), "queued");
        assert_string_equal(job_state_to_string(JOB_EVICTED), "evicted");
        assert_string_equal(job_state_to_string(JOB_DROPPED), "dropped");
        assert_int_equal(job_state_from_string("timeout"), JOB_TIMEOUT);
}

static void test_invalid(void **state) {
        assert_null(job_state_to_string(_JOB_STATE_MAX));
        assert_null(job_state_to_string(_JOB_STATE_INVALID));
        assert_int_equal(job_state_from_string("Running"), _JOB_STATE_INVALID);
        assert_int_equal(job_state_from_string(""), _JOB_STATE_INVALID);
        assert_int_equal(job_state_from_string(NULL), _JOB_STATE_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_invalid),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
