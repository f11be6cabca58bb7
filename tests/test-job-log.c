/* SPDX-License-Identifier: MIT */
#define SD_JOURNAL_SUPPRESS_LOCATION /* sd_journal_sendv() as a function, to define it below */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "job-log.h"
#include "stderr-capture.h"

/* The journal, as seen by the log layer (a static library, so this definition is the one it calls):
 * the MESSAGE_ID= and SCHED_JOB_STATE= fields of the last entry sent. */
static char sent_message_id[64], sent_state[64];

int sd_journal_sendv(const struct iovec *iov, int n) {
        sent_message_id[0] = sent_state[0] = '\0';
        for (int i = 0; i < n; i++) {
                const char *f = iov[i].iov_base;
                size_t len = iov[i].iov_len;

                if (len > 11 && len < sizeof sent_message_id + 11 && strncmp(f, "MESSAGE_ID=", 11) == 0)
                        (void) snprintf(sent_message_id, sizeof sent_message_id, "%.*s", (int) len - 11,
                                        f + 11);
                if (len > 16 && len < sizeof sent_state + 16 && strncmp(f, "SCHED_JOB_STATE=", 16) == 0)
                        (void) snprintf(sent_state, sizeof sent_state, "%.*s", (int) len - 16, f + 16);
        }
        return 0;
}

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

/* Every state's entry carries a MESSAGE_ID of its own (the catalog explains each, test-catalog.sh
 * checks the catalog has them all), and its SCHED_JOB_STATE= reads back as the state. */
static void test_message_ids(void **state) {
        LogJob none = { .id = 1, .priority = 0, .runtime = 1, .state = _JOB_STATE_INVALID };
        char ids[_JOB_STATE_MAX][64];

        log_force_journal(true);
        for (JobState s = 0; s < _JOB_STATE_MAX; s++) {
                LogJob j = { .id = 1, .priority = 0, .runtime = 1, .state = s };

                assert_int_equal(log_job(LOG_INFO, &j, "state %d", (int) s), 0);
                assert_int_equal(strlen(sent_message_id), 32);
                assert_int_equal(strspn(sent_message_id, "0123456789abcdef"), 32);
                assert_int_equal(job_state_from_string(sent_state), s);
                strcpy(ids[s], sent_message_id);
                for (JobState t = 0; t < s; t++)
                        assert_string_not_equal(ids[t], ids[s]);
        }
        /* Journal matches and the catalog depend on the ids: they never change. */
        assert_string_equal(ids[JOB_EVICTED], "c5e29ea0e7484ed1acb21a23deb888af");
        assert_string_equal(ids[JOB_CANCELLED], "403dd2f2a76c4b6081ebde5c9ac5b330");

        /* No state, no catalog entry. */
        assert_int_equal(log_job(LOG_INFO, &none, "no state"), 0);
        assert_string_equal(sent_message_id, "");
        assert_string_equal(sent_state, "");
        log_force_journal(false);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plain_job_tokens),
                cmocka_unit_test(test_absent_fields_left_out),
                cmocka_unit_test(test_runtime_exact),
                cmocka_unit_test(test_message_ids),
        };

        log_setup("test-job-log");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
