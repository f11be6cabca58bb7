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
}

static void test_invalid(void **state) {
        assert_null(job_state_to_string(_JOB_STATE_MAX));
        assert_null(job_state_to_string(_JOB_STATE_INVALID));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_state_named_once),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_invalid),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
