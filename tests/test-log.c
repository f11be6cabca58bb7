/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "ratelimit.h"

/* Runs `fn` with stderr redirected to a temporary file and returns what it wrote. */
static char *capture_stderr(void (*fn)(void)) {
        char path[] = "/tmp/test-log-XXXXXX";
        static char buf[8192];
        int fd, saved;
        ssize_t n;

        fd = mkstemp(path);
        assert_true(fd >= 0);
        (void) unlink(path);
        saved = dup(STDERR_FILENO);
        assert_true(saved >= 0);
        assert_true(dup2(fd, STDERR_FILENO) >= 0);

        fn();

        assert_true(dup2(saved, STDERR_FILENO) >= 0);
        close(saved);
        n = pread(fd, buf, sizeof buf - 1, 0);
        assert_true(n >= 0);
        buf[n] = 0;
        close(fd);
        return buf;
}

static void emit_job(void) {
        LogJob j = { .id = 42, .priority = 3, .runtime = 1.5, .state = JOB_EVICTED };

        log_job_extra(LOG_INFO, &j, LOG_FIELDS("SCHED_JOB_EVICTED_BY=43"), "Job %u evicted.", 42u);
}

static void test_plain_job_tokens(void **state) {
        char *out;

        log_force_journal(false);
        out = capture_stderr(emit_job);
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

static void emit_errno(void) {
        int r = log_warning_errno(-ENOENT, "Failed to open %s: %m", "x");

        assert_int_equal(r, -ENOENT);
        assert_int_equal(log_error_errno(EPERM, "positive errno is normalised"), -EPERM);
}

static void test_errno_return_and_format(void **state) {
        char *out;

        log_force_journal(false);
        out = capture_stderr(emit_errno);
        assert_non_null(strstr(out, "warning: Failed to open x: No such file or directory"));
        assert_non_null(strstr(out, "error: positive errno is normalised"));
}

static void emit_debug(void) {
        log_debug("hidden");
        log_info("shown");
}

static void test_max_level(void **state) {
        char *out;

        log_force_journal(false);
        log_set_max_level(LOG_INFO);
        out = capture_stderr(emit_debug);
        assert_null(strstr(out, "hidden"));
        assert_non_null(strstr(out, "shown"));
}

static void emit_absent_fields(void) {
        LogJob j = { .id = 7, .priority = -1, .runtime = -1, .state = _JOB_STATE_INVALID };

        log_job(LOG_INFO, &j, "bare");
}

static void test_absent_fields_left_out(void **state) {
        char *out;

        log_force_journal(false);
        out = capture_stderr(emit_absent_fields);
        assert_non_null(strstr(out, "bare job=7"));
        assert_null(strstr(out, "priority="));
        assert_null(strstr(out, "state="));
        assert_null(strstr(out, "runtime="));
}

static void test_field_tokens(void **state) {
        char buf[32];

        log_field_token("SCHED_JOB_ID", 12, buf, sizeof buf);
        assert_string_equal(buf, "job");
        log_field_token("SCHED_JOB_STATE", 15, buf, sizeof buf);
        assert_string_equal(buf, "state");
        log_field_token("SCHED_CLIENT", 12, buf, sizeof buf);
        assert_string_equal(buf, "client");
        log_field_token("OTHER_KEY", 9, buf, sizeof buf);
        assert_string_equal(buf, "other_key");
        log_field_token("SCHED_JOB_PRIORITY", 18, buf, 4);
        assert_string_equal(buf, "pri");
}

static void test_journal_stream_detection(void **state) {
        struct stat st;
        char env[64];

        assert_int_equal(fstat(STDERR_FILENO, &st), 0);
        (void) snprintf(env, sizeof env, "%llu:%llu", (unsigned long long) st.st_dev,
                        (unsigned long long) st.st_ino);
        setenv("JOURNAL_STREAM", env, 1);
        log_setup("test-log");
        assert_true(log_is_journal());

        setenv("JOURNAL_STREAM", "1:2", 1);
        log_setup("test-log");
        assert_false(log_is_journal());

        unsetenv("JOURNAL_STREAM");
        log_setup("test-log");
        assert_false(log_is_journal());
}

static void test_ratelimit(void **state) {
        RateLimit rl = RATELIMIT_INIT(1000 * USEC_PER_MSEC, 3);
        uint64_t t = 10 * USEC_PER_SEC;

        assert_true(ratelimit_below(&rl, t));
        assert_true(ratelimit_below(&rl, t + 1));
        assert_true(ratelimit_below(&rl, t + 2));
        assert_false(ratelimit_below(&rl, t + 3));
        assert_false(ratelimit_below(&rl, t + 999999));
        assert_int_equal(ratelimit_take_suppressed(&rl), 2);
        assert_int_equal(ratelimit_take_suppressed(&rl), 0);
        /* A new window opens after the interval. */
        assert_true(ratelimit_below(&rl, t + USEC_PER_SEC));
        assert_true(ratelimit_below(&rl, 0)); /* reads the clock: far past the window */
}

static void test_ratelimit_disabled(void **state) {
        RateLimit rl = RATELIMIT_INIT(0, 0);

        for (int i = 0; i < 1000; i++)
                assert_true(ratelimit_below(&rl, 1));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plain_job_tokens), cmocka_unit_test(test_errno_return_and_format),
                cmocka_unit_test(test_max_level),        cmocka_unit_test(test_absent_fields_left_out),
                cmocka_unit_test(test_field_tokens),     cmocka_unit_test(test_journal_stream_detection),
                cmocka_unit_test(test_ratelimit),        cmocka_unit_test(test_ratelimit_disabled),
        };

        log_setup("test-log");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
