/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "terminal-escape.h"

static void assert_escape(const char *in, const char *expected) {
        _cleanup_free_ char *out = terminal_escape(in);

        assert_non_null(out);
        assert_string_equal(out, expected);
}

static void test_text_kept(void **state) {
        assert_escape("sched-a@5", "sched-a@5");
        assert_escape("", "");
        assert_escape(NULL, "");
        /* Not a log token's escaper: quotes and '=' are plain text on a terminal. */
        assert_escape("say \"x=1\"", "say \"x=1\"");
        /* Valid UTF-8 of every length stays readable. */
        assert_escape("d\xc3\xa9j\xc3\xa0 \xe2\x82\xac \xf0\x9f\x99\x82",
                      "d\xc3\xa9j\xc3\xa0 \xe2\x82\xac \xf0\x9f\x99\x82");
}

/* Nothing can move the cursor, recolour the screen, start a line or reorder one. */
static void test_controls_escaped(void **state) {
        assert_escape("\x1b[31mred", "\\x1b[31mred");
        assert_escape("a\nb\rc\td", "a\\x0ab\\x0dc\\x09d");
        assert_escape("\x7f", "\\x7f");
        /* The backslash itself, so that an escape in the text cannot pass for one of ours. */
        assert_escape("\\x1b", "\\x5cx1b");
        /* C1 as UTF-8: U+009B is CSI on some terminals. */
        assert_escape("\xc2\x9b"
                      "2J",
                      "\\xc2\\x9b2J");
        /* Line and paragraph separators, bidirectional overrides and isolates. */
        assert_escape("\xe2\x80\xa8", "\\xe2\\x80\\xa8");
        assert_escape("\xe2\x80\xa9", "\\xe2\\x80\\xa9");
        assert_escape("abc\xe2\x80\xaexyz", "abc\\xe2\\x80\\xaexyz");
        assert_escape("\xe2\x81\xa6", "\\xe2\\x81\\xa6");
        assert_escape("\xe2\x81\xa9", "\\xe2\\x81\\xa9");
        /* Just outside those ranges: ordinary text. */
        assert_escape("\xe2\x80\xa7\xe2\x81\xa5\xe2\x81\xaa", "\xe2\x80\xa7\xe2\x81\xa5\xe2\x81\xaa");
}

/* Bytes that are not UTF-8 are escaped one by one; what follows them is read afresh. */
static void test_invalid_utf8(void **state) {
        assert_escape("\xff", "\\xff");
        assert_escape("a\x80z", "a\\x80z");
        /* Overlong forms, surrogates, values past U+10FFFF. */
        assert_escape("\xc0\xaf", "\\xc0\\xaf");
        assert_escape("\xe0\x80\xaf", "\\xe0\\x80\\xaf");
        assert_escape("\xed\xa0\x80", "\\xed\\xa0\\x80");
        assert_escape("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
        /* Cut short, at the end or before ASCII: no read past the end, the ASCII kept. */
        assert_escape("\xe2\x82", "\\xe2\\x82");
        assert_escape("\xe2\x82z", "\\xe2\\x82z");
        assert_escape("\xf0\x9f\x99", "\\xf0\\x9f\\x99");
}

/* Every string of one or two bytes comes out as printable ASCII or valid, harmless UTF-8. */
static void test_every_short_string(void **state) {
        for (unsigned a = 1; a < 256; a++)
                for (unsigned b = 0; b < 256; b++) {
                        char in[3] = { (char) a, (char) b, 0 };
                        _cleanup_free_ char *out = terminal_escape(in);

                        assert_non_null(out);
                        assert_true(strlen(out) <= 2 * 4);
                        for (const unsigned char *p = (const unsigned char *) out; *p; p++) {
                                assert_true(*p >= 0x20 && *p != 0x7f);
                                /* No C1 control as UTF-8. */
                                assert_false(p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f);
                        }
                }
}

static void test_width(void **state) {
        _cleanup_free_ char *escaped = terminal_escape("\x1b");

        assert_int_equal(terminal_width(""), 0);
        assert_int_equal(terminal_width("running"), 7);
        assert_int_equal(terminal_width("d\xc3\xa9j\xc3\xa0"), 4);
        assert_int_equal(terminal_width("\xf0\x9f\x99\x82!"), 2);
        /* An escape takes the columns of its text. */
        assert_non_null(escaped);
        assert_int_equal(terminal_width(escaped), 4);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_text_kept),    cmocka_unit_test(test_controls_escaped),
                cmocka_unit_test(test_invalid_utf8), cmocka_unit_test(test_every_short_string),
                cmocka_unit_test(test_width),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
