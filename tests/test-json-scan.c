/* SPDX-License-Identifier: MIT */
/*
 * JsonScan against hand-written documents, with jansson as the oracle: every document a test calls
 * valid or invalid must get the same verdict from json_loadb(JSON_DECODE_ANY). Inputs are copied into
 * buffers of their exact size, so that the sanitizer build catches a read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-scan.h"
#include "macro.h"

static void *dup_exact(const void *data, size_t size) {
        /* malloc(0) may return NULL, which the scanner takes only with size 0 anyway. */
        void *p = malloc(MAX(size, 1u));

        assert_non_null(p);
        memcpy(p, data, size);
        return p;
}

/* Scans the whole document; returns 0 (valid) or the error, and checks jansson agrees. */
static int scan_n(const char *text, size_t size) {
        _cleanup_free_ char *buf = dup_exact(text, size);
        json_t *v;
        JsonScan s;
        int t;

        json_scan_init(&s, buf, size);
        t = json_scan_next(&s);
        t = json_scan_skip(&s, t);
        if (t >= 0)
                t = json_scan_next(&s);
        if (t >= 0)
                assert_int_equal(t, JSON_SCAN_END);

        v = json_loadb(buf, size, JSON_DECODE_ANY, NULL);
        if ((t >= 0) != !!v)
                fail_msg("JsonScan says %d, jansson %s: '%.*s'", t, v ? "valid" : "invalid",
                         (int) MIN(size, 80u), text);
        json_decref(v);
        return t < 0 ? t : 0;
}

static int scan(const char *text) {
        return scan_n(text, strlen(text));
}

/* A document of `n` nested arrays around `inner`. */
static int scan_nested(size_t n, const char *inner) {
        size_t m = strlen(inner);
        _cleanup_free_ char *buf = malloc(2 * n + m);

        assert_non_null(buf);
        memset(buf, '[', n);
        memcpy(buf + n, inner, m);
        memset(buf + n + m, ']', n);
        return scan_n(buf, 2 * n + m);
}

/* The one string of document `text`, decoded into buf (NUL-terminated); returns its size. */
static size_t string_of(const char *text, char *buf, size_t size, bool *ret_escaped) {
        _cleanup_free_ char *copy = dup_exact(text, strlen(text));
        JsonScan s;

        json_scan_init(&s, copy, strlen(text));
        assert_int_equal(json_scan_next(&s), JSON_SCAN_STRING);
        assert_int_equal(json_scan_next(&s), JSON_SCAN_END);
        assert_true(s.string.size < size);
        assert_int_equal(json_scan_string_decode(&s.string, buf), s.string.size);
        buf[s.string.size] = '\0';
        if (ret_escaped)
                *ret_escaped = s.string.escaped;
        assert_int_equal(scan(text), 0);
        return s.string.size;
}

static void test_tokens(void **state) {
        static const char text[] = " {\"a\" : [1,-2, 3.5e1 ,true,false,null,\"x\"],\"b\":{},\"a\":[]} ";
        static const int expected[] = {
                JSON_SCAN_OBJECT_BEGIN, JSON_SCAN_KEY,        JSON_SCAN_ARRAY_BEGIN, JSON_SCAN_INTEGER,
                JSON_SCAN_INTEGER,      JSON_SCAN_REAL,       JSON_SCAN_TRUE,        JSON_SCAN_FALSE,
                JSON_SCAN_NULL,         JSON_SCAN_STRING,     JSON_SCAN_ARRAY_END,   JSON_SCAN_KEY,
                JSON_SCAN_OBJECT_BEGIN, JSON_SCAN_OBJECT_END, JSON_SCAN_KEY,         JSON_SCAN_ARRAY_BEGIN,
                JSON_SCAN_ARRAY_END,    JSON_SCAN_OBJECT_END, JSON_SCAN_END,         JSON_SCAN_END,
        };
        _cleanup_free_ char *buf = dup_exact(text, strlen(text));
        JsonScan s;

        json_scan_init(&s, buf, strlen(text));
        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                int t = json_scan_next(&s);

                assert_int_equal(t, expected[i]);
                if (i == 1 || i == 14)
                        /* A duplicate key comes as it is: the caller decides. */
                        assert_true(json_scan_string_equal(&s.string, "a", 1));
                if (i == 4)
                        assert_int_equal(s.integer, -2);
                if (i == 5)
                        assert_int_equal(s.number_size, 5);
                if (i == 9) {
                        assert_false(s.string.escaped);
                        assert_int_equal(s.string.size, 1);
                        assert_memory_equal(s.string.raw, "x", 1);
                }
        }
}

static void test_top_level_scalars(void **state) {
        assert_int_equal(scan("1"), 0);
        assert_int_equal(scan(" \"s\" "), 0);
        assert_int_equal(scan("true"), 0);
        assert_int_equal(scan("\tnull\r\n"), 0);
        assert_int_equal(scan("[]"), 0);

        /* Not NUL-terminated: the size is the end. */
        JsonScan s;
        json_scan_init(&s, "12345", 2);
        assert_int_equal(json_scan_next(&s), JSON_SCAN_INTEGER);
        assert_int_equal(s.integer, 12);
        assert_int_equal(json_scan_next(&s), JSON_SCAN_END);
        assert_int_equal(scan_n("true", 3), -EBADMSG);

        json_scan_init(&s, NULL, 0);
        assert_int_equal(json_scan_next(&s), -EBADMSG);
}

static void test_invalid_documents(void **state) {
        static const char *const bad[] = {
                "",           " ",           "{",
                "}",          "[",           "]",
                "[1,]",       "[,1]",        "[1 2]",
                "{,}",        "{\"a\"}",     "{\"a\":}",
                "{\"a\" 1}",  "{\"a\":1,}",  "{\"a\":1 \"b\":2}",
                "{1:2}",      "{a:1}",       "{'a':1}",
                "{} {}",      "{}x",         "{}]",
                "[}",         "{]",          "tru",
                "truex",      "nul",         "nulls",
                "False",      "'a'",         "\"a",
                "\"a\\\"",    "[\"a\"",      "\xef\xbb\xbf{}",
                "\xc3\xa9",   "[1]\xc3\xa9", "NaN",
                "Infinity",   "-Infinity",   "+1",
                "[1]/* */",   "\"\\x\"",     "\"\\U0041\"",
                "\"\\'\"",    "\"\\u12\"",   "\"\\u12g4\"",
                "{\"a\":1}}", "[[]",         "\v1",
                "\f1",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (scan(bad[i]) != -EBADMSG)
                        fail_msg("accepted: '%s'", bad[i]);
        /* NUL bytes, even where jansson 2.14 skips one (after a number or literal). */
        JsonScan s;
        json_scan_init(&s, "[1]\0", 4);
        assert_int_equal(json_scan_skip(&s, json_scan_next(&s)), 0);
        assert_int_equal(json_scan_next(&s), -EBADMSG);
        json_scan_init(&s, "[1\0]", 4);
        assert_int_equal(json_scan_skip(&s, json_scan_next(&s)), -EBADMSG);
        assert_int_equal(scan_n("\"a\0\"", 4), -EBADMSG);
}

static void test_error_sticky(void **state) {
        static const char text[] = "[1, x, 2]";
        JsonScan s;

        json_scan_init(&s, text, strlen(text));
        assert_int_equal(json_scan_next(&s), JSON_SCAN_ARRAY_BEGIN);
        assert_int_equal(json_scan_next(&s), JSON_SCAN_INTEGER);
        assert_int_equal(json_scan_next(&s), -EBADMSG);
        assert_int_equal(json_scan_offset(&s), 4);
        assert_int_equal(json_scan_next(&s), -EBADMSG);
        assert_int_equal(json_scan_skip(&s, JSON_SCAN_ARRAY_BEGIN), -EBADMSG);
}

static void test_escapes(void **state) {
        char buf[64];
        bool escaped;

        assert_int_equal(string_of("\"plain\"", buf, sizeof(buf), &escaped), 5);
        assert_false(escaped);
        assert_int_equal(string_of("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", buf, sizeof(buf), &escaped), 8);
        assert_true(escaped);
        assert_string_equal(buf, "\"\\/\b\f\n\r\t");
        string_of("\"\\u0041\\u00e9\\u20AC\\uFFFF\"", buf, sizeof(buf), NULL);
        assert_string_equal(buf, "A\xc3\xa9\xe2\x82\xac\xef\xbf\xbf");
        /* \u0001..\u001f are fine escaped, not raw. */
        string_of("\"a\\u0001\\u001fb\"", buf, sizeof(buf), NULL);
        assert_string_equal(buf, "a\x01\x1f"
                                 "b");
        assert_int_equal(scan("\"a\x01\""), -EBADMSG);
        assert_int_equal(scan("\"a\x1f\""), -EBADMSG);
        assert_int_equal(scan("\"a\tb\""), -EBADMSG);
        assert_int_equal(scan("\"a\nb\""), -EBADMSG);
        assert_int_equal(scan("\"a\x7f\""), 0);
        /* jansson refuses NUL without JSON_ALLOW_NUL, in values and in keys. */
        assert_int_equal(scan("\"\\u0000\""), -EBADMSG);
        assert_int_equal(scan("{\"a\\u0000\":1}"), -EBADMSG);
}

static void test_surrogate_pairs(void **state) {
        char buf[64];

        string_of("\"\\ud83d\\ude00\"", buf, sizeof(buf), NULL);
        assert_string_equal(buf, "\xf0\x9f\x98\x80");
        string_of("\"\\uD800\\uDC00|\\uDBFF\\uDFFF\"", buf, sizeof(buf), NULL);
        assert_string_equal(buf, "\xf0\x90\x80\x80|\xf4\x8f\xbf\xbf");

        static const char *const bad[] = {
                "\"\\ud800\"",        "\"\\udc00\"",        "\"\\udfff\"",        "\"\\ud800x\"",
                "\"\\ud800\\u0041\"", "\"\\ud800\\ud800\"", "\"\\ude00\\ud83d\"", "\"\\ud800\\n\"",
                "\"\\ud800\\\"",      "\"\\ud800\\u\"",     "\"\\ud800\\udc0g\"", "\"\\ud800\\\\udc00\"",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (scan(bad[i]) != -EBADMSG)
                        fail_msg("accepted: %s", bad[i]);
}

static void test_utf8(void **state) {
        static const char *const good[] = {
                "\"\xc2\x80\"",         "\"\xdf\xbf\"",         "\"\xe0\xa0\x80\"",
                "\"\xed\x9f\xbf\"",     "\"\xee\x80\x80\"",     "\"\xef\xbf\xbf\"",
                "\"\xf0\x90\x80\x80\"", "\"\xf4\x8f\xbf\xbf\"", "\"d\xc3\xa9j\xc3\xa0\"",
                "{\"\xe2\x82\xac\":1}",
        };
        static const char *const bad[] = {
                "\"\x80\"",
                "\"\xbf\"",
                "\"\xc0\x80\"",
                "\"\xc1\xbf\"",
                "\"\xe0\x9f\xbf\"",
                "\"\xed\xa0\x80\"",
                "\"\xed\xbf\xbf\"",
                "\"\xf0\x8f\xbf\xbf\"",
                "\"\xf4\x90\x80\x80\"",
                "\"\xf5\x80\x80\x80\"",
                "\"\xff\"",
                "\"\xfe\"",
                "\"\xc3\"",
                "\"\xc3"
                "a\"",
                "\"\xe2\x82\"",
                "\"\xf0\x9f\x98\"",
                "\"\xe2\x82\xac\xac\"",
                "[\"a\"]\xc3\xa9",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                if (scan(good[i]) != 0)
                        fail_msg("refused good[%zu]", i);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (scan(bad[i]) != -EBADMSG)
                        fail_msg("accepted bad[%zu]", i);
        /* Cut in the middle of a sequence by the size. */
        assert_int_equal(scan_n("\"\xe2\x82\xac\"", 3), -EBADMSG);
}

static void integer_is(const char *text, int64_t v) {
        JsonScan s;

        json_scan_init(&s, text, strlen(text));
        assert_int_equal(json_scan_next(&s), JSON_SCAN_INTEGER);
        assert_true(s.integer == v);
        assert_int_equal(scan(text), 0);
}

static void real_is_valid(const char *text) {
        JsonScan s;

        json_scan_init(&s, text, strlen(text));
        assert_int_equal(json_scan_next(&s), JSON_SCAN_REAL);
        assert_int_equal(s.number_size, strlen(text));
        assert_int_equal(scan(text), 0);
}

/* A real with `zeros` zeros after the digits, then `tail`: a long text near DBL_MAX. */
static int scan_long_real(const char *digits, size_t zeros, const char *tail) {
        size_t n = strlen(digits), m = strlen(tail);
        _cleanup_free_ char *buf = malloc(n + zeros + m);

        assert_non_null(buf);
        memcpy(buf, digits, n);
        memset(buf + n, '0', zeros);
        memcpy(buf + n + zeros, tail, m);
        return scan_n(buf, n + zeros + m);
}

static void test_numbers(void **state) {
        integer_is("0", 0);
        integer_is("-0", 0);
        integer_is("7", 7);
        integer_is("-12", -12);
        integer_is("9223372036854775807", INT64_MAX);
        integer_is("-9223372036854775808", INT64_MIN);
        assert_int_equal(scan("9223372036854775808"), -ERANGE);
        assert_int_equal(scan("-9223372036854775809"), -ERANGE);
        assert_int_equal(scan("18446744073709551616"), -ERANGE);
        assert_int_equal(scan("[100000000000000000000]"), -ERANGE);

        real_is_valid("1e5");
        real_is_valid("1E5");
        real_is_valid("1e+5");
        real_is_valid("1e-5");
        real_is_valid("1.0");
        real_is_valid("-0.0");
        real_is_valid("-1.5e-3");
        real_is_valid("0e0");
        real_is_valid("1e-400");                 /* underflow is fine */
        real_is_valid("0e99999999999999999999"); /* zero whatever the exponent */
        real_is_valid("0.000e400");
        real_is_valid("1.7976931348623157e308"); /* DBL_MAX */
        real_is_valid("1.7976931348623158e308"); /* rounds down to it */
        real_is_valid("-1.7976931348623158e308");
        real_is_valid("99999999999999999999999e285"); /* 1e308 */
        assert_int_equal(scan("1.7976931348623159e308"), -ERANGE);
        assert_int_equal(scan("-1.7976931348623159e308"), -ERANGE);
        assert_int_equal(scan("1e309"), -ERANGE);
        assert_int_equal(scan("1e400"), -ERANGE);
        assert_int_equal(scan("[-1e400]"), -ERANGE);
        assert_int_equal(scan("1e99999999999999999999"), -ERANGE);
        assert_int_equal(scan("0.1e310"), -ERANGE);
        /* DBL_MAX plus half an ulp, 2^1024 - 2^970, is where strtod() overflows; just below, not. */
        static const char half_ulp_above_max[] = "1797693134862315807937289714053034150799341327100378269361"
                                                 "73778980444968292764750946649017977587"
                                                 "2070963302864166928879109465555478519404026306574886715058"
                                                 "20681908902000708383676273854845817711"
                                                 "5317644757302700698555713669596228429148198608349364752927"
                                                 "19074168444365510704342711559699508093"
                                                 "042880177904174497792";
        char text[sizeof(half_ulp_above_max) + 64];
        assert_int_equal(strlen(half_ulp_above_max), 309);
        (void) snprintf(text, sizeof(text), "%.308s1.9999", half_ulp_above_max);
        real_is_valid(text);
        (void) snprintf(text, sizeof(text), "%s.0", half_ulp_above_max);
        assert_int_equal(scan(text), -ERANGE);
        (void) snprintf(text, sizeof(text), "0.%se309", half_ulp_above_max);
        assert_int_equal(scan(text), -ERANGE);
        (void) snprintf(text, sizeof(text), "0.%.308s1e309", half_ulp_above_max);
        assert_int_equal(scan(text), 0);
        /* Digits far beyond what strtod() gets: a 1 after 1000 zeros still tips it over. */
        (void) snprintf(text, sizeof(text), "%.308s1.", half_ulp_above_max);
        assert_int_equal(scan_long_real(text, 1000, "1"), 0);
        (void) snprintf(text, sizeof(text), "%s.", half_ulp_above_max);
        assert_int_equal(scan_long_real(text, 1000, "1"), -ERANGE);
        assert_int_equal(scan_long_real("1", 400, ".0"), -ERANGE);
        assert_int_equal(scan_long_real("0.", 400, "1e400"), 0);
        assert_int_equal(scan_long_real("0.", 400, "1e710"), -ERANGE);

        static const char *const bad[] = {
                "01",    "-01",   "00",   "-00",        "1.",  "1.e5", ".5",   "-.5",
                "-",     "--1",   "1e",   "1e+",        "1E-", "+1",   "0x10", "1..2",
                "1.2.3", "1e5e5", "[01]", "{\"a\":1.}", "- 1", "1 .5", "0-",   "1_000",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (scan(bad[i]) != -EBADMSG)
                        fail_msg("accepted: %s", bad[i]);
}

static void test_depth(void **state) {
        /* jansson counts values, the top-level one as 1: a scalar may sit inside 2047 containers,
         * an empty container may be the 2048th. */
        assert_int_equal(scan_nested(JSON_SCAN_DEPTH_MAX - 1, "1"), 0);
        assert_int_equal(scan_nested(JSON_SCAN_DEPTH_MAX, "1"), -ELOOP);
        assert_int_equal(scan_nested(JSON_SCAN_DEPTH_MAX, ""), 0);
        assert_int_equal(scan_nested(JSON_SCAN_DEPTH_MAX + 1, ""), -ELOOP);
        assert_int_equal(scan_nested(JSON_SCAN_DEPTH_MAX - 1, "{}"), 0);
        assert_int_equal(scan_nested(JSON_SCAN_DEPTH_MAX - 1, "{\"a\":1}"), -ELOOP);
        assert_int_equal(scan_nested(JSON_SCAN_DEPTH_MAX - 2, "{\"a\":1}"), 0);
        assert_int_equal(scan_nested(100000, ""), -ELOOP);

        /* Objects and arrays interleaved: the bit per container tells each one's end apart. */
        _cleanup_free_ char *buf = malloc(10 * JSON_SCAN_DEPTH_MAX);
        size_t n = 0;
        assert_non_null(buf);
        for (size_t i = 0; i < JSON_SCAN_DEPTH_MAX - 1; i++)
                n += (size_t) sprintf(buf + n, i % 3 == 0 ? "[" : "{\"k\":");
        buf[n++] = '0';
        for (size_t i = JSON_SCAN_DEPTH_MAX - 1; i-- > 0;)
                buf[n++] = i % 3 == 0 ? ']' : '}';
        assert_int_equal(scan_n(buf, n), 0);
        buf[n - 1] = '}';
        assert_int_equal(scan_n(buf, n), -EBADMSG);
}

static void test_skip(void **state) {
        static const char text[] =
                "{\"skip\":{\"a\":[1,{\"b\":[[],{}]}],\"c\":\"]}\"},\"n\":5,\"s\":\"x\",\"t\":7}";
        JsonScan s;

        json_scan_init(&s, text, strlen(text));
        assert_int_equal(json_scan_next(&s), JSON_SCAN_OBJECT_BEGIN);
        assert_int_equal(json_scan_next(&s), JSON_SCAN_KEY);
        assert_int_equal(json_scan_skip(&s, json_scan_next(&s)), 0);
        assert_int_equal(json_scan_next(&s), JSON_SCAN_KEY);
        assert_true(json_scan_string_equal(&s.string, "n", 1));
        assert_int_equal(json_scan_next(&s), JSON_SCAN_INTEGER);
        assert_int_equal(json_scan_next(&s), JSON_SCAN_KEY);
        /* A scalar is skipped by reading it. */
        assert_int_equal(json_scan_skip(&s, json_scan_next(&s)), 0);
        assert_int_equal(json_scan_next(&s), JSON_SCAN_KEY);
        assert_true(json_scan_string_equal(&s.string, "t", 1));
        assert_int_equal(json_scan_next(&s), JSON_SCAN_INTEGER);
        assert_int_equal(s.integer, 7);
        assert_int_equal(json_scan_next(&s), JSON_SCAN_OBJECT_END);
        assert_int_equal(json_scan_next(&s), JSON_SCAN_END);

        /* What is skipped is still validated. */
        json_scan_init(&s, "[[1,01],2]", 10);
        assert_int_equal(json_scan_next(&s), JSON_SCAN_ARRAY_BEGIN);
        assert_int_equal(json_scan_skip(&s, json_scan_next(&s)), -EBADMSG);
}

static void test_string_helpers(void **state) {
        static const char text[] = "[\"job_event\",\"job\\u005fevent\",\"\\u00e9t\\u00e9\"]";
        char buf[8];
        JsonScan s;

        json_scan_init(&s, text, strlen(text));
        assert_int_equal(json_scan_next(&s), JSON_SCAN_ARRAY_BEGIN);

        assert_int_equal(json_scan_next(&s), JSON_SCAN_STRING);
        assert_true(json_scan_string_equal(&s.string, "job_event", 9));
        assert_false(json_scan_string_equal(&s.string, "job_even", 8));
        assert_false(json_scan_string_equal(&s.string, "job_evenT", 9));
        assert_null(json_scan_string_view(&s.string, buf, sizeof(buf)));

        assert_int_equal(json_scan_next(&s), JSON_SCAN_STRING);
        assert_true(s.string.escaped);
        assert_int_equal(s.string.size, 9);
        assert_int_equal(s.string.raw_size, 14);
        assert_true(json_scan_string_equal(&s.string, "job_event", 9));
        assert_false(json_scan_string_equal(&s.string, "job-event", 9));

        assert_int_equal(json_scan_next(&s), JSON_SCAN_STRING);
        assert_int_equal(s.string.size, 5);
        assert_ptr_equal(json_scan_string_view(&s.string, buf, sizeof(buf)), buf);
        assert_memory_equal(buf, "\xc3\xa9t\xc3\xa9", 5);
        assert_null(json_scan_string_view(&s.string, buf, 4));
        assert_true(json_scan_string_equal(&s.string, "\xc3\xa9t\xc3\xa9", 5));
        assert_false(json_scan_string_equal(&s.string, "\xc3\xa9T\xc3\xa9", 5));
        assert_false(json_scan_string_equal(&s.string, "\xc3\xa9t\xc3\xa8", 5));
        assert_int_equal(json_scan_next(&s), JSON_SCAN_ARRAY_END);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tokens),
                cmocka_unit_test(test_top_level_scalars),
                cmocka_unit_test(test_invalid_documents),
                cmocka_unit_test(test_error_sticky),
                cmocka_unit_test(test_escapes),
                cmocka_unit_test(test_surrogate_pairs),
                cmocka_unit_test(test_utf8),
                cmocka_unit_test(test_numbers),
                cmocka_unit_test(test_depth),
                cmocka_unit_test(test_skip),
                cmocka_unit_test(test_string_helpers),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
