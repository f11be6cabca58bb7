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
#include "stderr-capture.h"

static void emit_errno(void) {
        int r = log_warning_errno(-ENOENT, "Failed to open %s: %m", "x");

        assert_int_equal(r, -ENOENT);
        assert_int_equal(log_error_errno(EPERM, "positive errno is normalised"), -EPERM);
}

static void test_errno_return_and_format(void **state) {
        const char *out;

        log_force_journal(false);
        out = stderr_capture_run(emit_errno);
        assert_non_null(strstr(out, "warning: Failed to open x: No such file or directory"));
        assert_non_null(strstr(out, "error: positive errno is normalised"));
}

static void emit_debug(void) {
        log_debug("hidden");
        log_info("shown");
}

static void test_max_level(void **state) {
        const char *out;

        log_force_journal(false);
        log_set_max_level(LOG_INFO);
        out = stderr_capture_run(emit_debug);
        assert_null(strstr(out, "hidden"));
        assert_non_null(strstr(out, "shown"));
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

static unsigned count_lines(const char *text, const char *needle) {
        unsigned n = 0;

        for (const char *p = text; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

static void emit_info(void) {
        log_info("where does this go");
}

/* JOURNAL_STREAM naming stderr's own device and inode means stderr is the journal: lines go out
 * through sd_journal_send() instead. Anything else is plain stderr. */
static void test_journal_stream_detection(void **state) {
        StderrCapture capture;
        const char *out;
        struct stat st;
        char env[64];

        stderr_capture_begin(&capture);
        assert_int_equal(fstat(capture.fd, &st), 0);
        (void) snprintf(env, sizeof env, "%llu:%llu", (unsigned long long) st.st_dev,
                        (unsigned long long) st.st_ino);
        setenv("JOURNAL_STREAM", env, 1);
        log_setup("test-log");
        emit_info();
        setenv("JOURNAL_STREAM", "1:2", 1);
        log_setup("test-log");
        emit_info();
        unsetenv("JOURNAL_STREAM");
        log_setup("test-log");
        emit_info();

        out = stderr_capture_end(&capture);
        assert_true(strlen(out) > 0);
        /* The first went to the journal; the two others are plain lines. */
        assert_int_equal(count_lines(out, "where does this go"), 2);
}

static RateLimit emit_limit;

static void emit_ratelimited(void) {
        for (int i = 0; i < 5; i++)
                if (log_ratelimit_allowed(&emit_limit, "test lines"))
                        log_info("line %d", i);
        /* A new window: the next line is preceded by a count of what was held back. */
        emit_limit.begin_usec = 0;
        if (log_ratelimit_allowed(&emit_limit, "test lines"))
                log_info("line after");
}

static void test_ratelimited_lines_counted(void **state) {
        const char *out;

        log_force_journal(false);
        emit_limit = RATELIMIT_INIT(3600 * USEC_PER_SEC, 2);
        out = stderr_capture_run(emit_ratelimited);
        assert_non_null(strstr(out, "line 0"));
        assert_non_null(strstr(out, "line 1"));
        assert_null(strstr(out, "line 2"));
        assert_null(strstr(out, "line 4"));
        assert_non_null(strstr(out, "3 log lines about test lines suppressed by the rate limit."));
        assert_true(strstr(out, "suppressed") < strstr(out, "line after"));
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
                cmocka_unit_test(test_errno_return_and_format),
                cmocka_unit_test(test_max_level),
                cmocka_unit_test(test_field_tokens),
                cmocka_unit_test(test_journal_stream_detection),
                cmocka_unit_test(test_ratelimited_lines_counted),
                cmocka_unit_test(test_ratelimit),
                cmocka_unit_test(test_ratelimit_disabled),
        };

        log_setup("test-log");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
