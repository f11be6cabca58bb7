/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "job-log.h"
#include "stderr-capture.h"

static void emit_job(void) {
        LogJob j = { .id = 42, .priority = 3, .runtime = 1.5, .state = JOB_EVICTED };

        log_job_extra(LOG_INFO, &j, LOG_FIELDS("SCHED_JOB_EVICTED_BY=43"), "Job %u evicted.", 42u);
}

static void test_plain_job_tokens(void **state) {
        const char *out;

        log_force_journal(false);
        out = stderr_capture_run(emit_job);
        assert_non_null(strstr(out, "Job 42 evicted."));
        assert_non_null(strstr(out, " job=42"));
        assert_non_null(strstr(out, " priority=3"));
        assert_non_null(strstr(out, " state=evicted"));
        assert_non_null(strstr(out, " runtime=1.5"));
        assert_non_null(strstr(out, " evicted_by=43"));
        assert_int_equal(out[strlen(out) - 1], '\n');
        /* One event, one line. */
        assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
}

static void emit_absent_fields(void) {
        LogJob j = { .id = 7, .priority = -1, .runtime = -1, .state = _JOB_STATE_INVALID };

        log_job(LOG_INFO, &j, "bare");
}

static void test_absent_fields_left_out(void **state) {
        const char *out;

        log_force_journal(false);
        out = stderr_capture_run(emit_absent_fields);
        assert_non_null(strstr(out, "bare job=7"));
        assert_null(strstr(out, "priority="));
        assert_null(strstr(out, "state="));
        assert_null(strstr(out, "runtime="));
}

static void emit_precise_runtimes(void) {
        LogJob a = { .id = 1, .priority = 0, .runtime = 1234567.25, .state = JOB_QUEUED };
        LogJob b = { .id = 2, .priority = 0, .runtime = 0.1, .state = JOB_QUEUED };
        LogJob c = { .id = 3, .priority = 0, .runtime = 86400, .state = JOB_QUEUED };

        log_job(LOG_INFO, &a, "a");
        log_job(LOG_INFO, &b, "b");
        log_job(LOG_INFO, &c, "c");
}

/* The runtime is the one the job asked for, to the last digit: not rounded to 6 of them. */
static void test_runtime_exact(void **state) {
        const char *out;

        log_force_journal(false);
        out = stderr_capture_run(emit_precise_runtimes);
        assert_non_null(strstr(out, " runtime=1234567.25\n"));
        assert_non_null(strstr(out, " runtime=0.1\n"));
        assert_non_null(strstr(out, " runtime=86400\n"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plain_job_tokens),
                cmocka_unit_test(test_absent_fields_left_out),
                cmocka_unit_test(test_runtime_exact),
        };

        log_setup("test-job-log");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
