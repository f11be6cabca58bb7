/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "escape.h"

static const char *q(const char *s, char *buf, size_t size) {
        return escape_quoted(s, strlen(s), buf, size);
}

static void test_plain_text_kept(void **state) {
        char buf[64];

        assert_string_equal(q("hello from job 1", buf, sizeof buf), "\"hello from job 1\"");
        assert_string_equal(q("", buf, sizeof buf), "\"\"");
        /* UTF-8 stays readable. */
        assert_string_equal(q("d\xc3\xa9j\xc3\xa0", buf, sizeof buf), "\"d\xc3\xa9j\xc3\xa0\"");
}

/* Nothing from outside can close the quote, start a token or a line of its own. */
static void test_cannot_forge(void **state) {
        char buf[128];

        assert_string_equal(q("job=77 state=done", buf, sizeof buf), "\"job\\x3d77 state\\x3ddone\"");
        assert_string_equal(q("a\" job=1", buf, sizeof buf), "\"a\\\" job\\x3d1\"");
        assert_string_equal(q("x\ny", buf, sizeof buf), "\"x\\ny\"");
        assert_string_equal(q("t\tr\r\\", buf, sizeof buf), "\"t\\tr\\r\\\\\"");
        assert_string_equal(q("\x1b[31m\x7f", buf, sizeof buf), "\"\\x1b[31m\\x7f\"");
        assert_string_equal(escape_quoted("a\0b", 3, buf, sizeof buf), "\"a\\x00b\"");
        assert_null(strchr(q("job=77\nstate=done", buf, sizeof buf), '='));
        assert_null(strchr(buf, '\n'));
}

static void test_cut_to_fit(void **state) {
        char buf[12];

        /* Always quoted and terminated, cut with "..." when it does not fit. */
        assert_string_equal(q("abcdefghijklmnop", buf, sizeof buf), "\"abcdef...\"");
        assert_string_equal(q("abcdefghi", buf, sizeof buf), "\"abcdefghi\"");
        /* An escape is never cut in half. */
        assert_string_equal(q("abcde==", buf, sizeof buf), "\"abcde...\"");
        for (size_t size = 8; size < sizeof buf; size++) {
                const char *r = q("==========", buf, size);

                assert_true(strlen(r) < size);
                assert_int_equal(r[strlen(r) - 1], '"');
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plain_text_kept),
                cmocka_unit_test(test_cannot_forge),
                cmocka_unit_test(test_cut_to_fit),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
