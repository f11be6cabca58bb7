/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>

#include "macro.h"
#include "parse.h"

static void test_uint64(void **state) {
        uint64_t v = 0;

        assert_int_equal(parse_uint64("0", 0, 10, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(parse_uint64("18446744073709551615", 0, UINT64_MAX, &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(parse_uint64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
        assert_int_equal(parse_uint64("11", 0, 10, &v), -ERANGE);
        assert_int_equal(parse_uint64("-1", 0, 10, &v), -EINVAL);
        assert_int_equal(parse_uint64(" 1", 0, 10, &v), -EINVAL);
        assert_int_equal(parse_uint64("1x", 0, 10, &v), -EINVAL);
        assert_int_equal(parse_uint64("", 0, 10, &v), -EINVAL);
}

static void test_int(void **state) {
        int v = 0;

        assert_int_equal(parse_int("-3", -5, 5, &v), 0);
        assert_int_equal(v, -3);
        assert_int_equal(parse_int("6", -5, 5, &v), -ERANGE);
        assert_int_equal(parse_int("2.5", -5, 5, &v), -EINVAL);
}

static void test_double_and_seconds(void **state) {
        uint64_t usec = 0;
        double d = 0;

        assert_int_equal(parse_double("0.25", 0, 1, &d), 0);
        assert_true(d == 0.25);
        assert_int_equal(parse_double("nan", 0, 1, &d), -EINVAL);
        assert_int_equal(parse_double("inf", 0, 1e300, &d), -EINVAL);
        assert_int_equal(parse_double("0x10", 0, 100, &d), -EINVAL);
        assert_int_equal(parse_double("1e999", 0, 1e300, &d), -ERANGE);
        assert_int_equal(parse_double("-0.1", 0, 1, &d), -ERANGE);

        assert_int_equal(parse_seconds("0.5", 60, &usec), 0);
        assert_int_equal(usec, 500000);
        assert_int_equal(parse_seconds("10", 60, &usec), 0);
        assert_int_equal(usec, 10 * USEC_PER_SEC);
        assert_int_equal(parse_seconds("61", 60, &usec), -ERANGE);
        assert_int_equal(parse_seconds("1s", 60, &usec), -EINVAL);
}

static void test_size(void **state) {
        uint64_t v = 0;

        assert_int_equal(parse_size("64K", 1, UINT64_MAX, &v), 0);
        assert_int_equal(v, 65536);
        assert_int_equal(parse_size("2m", 1, UINT64_MAX, &v), 0);
        assert_int_equal(v, 2 * 1024 * 1024);
        assert_int_equal(parse_size("100", 1, UINT64_MAX, &v), 0);
        assert_int_equal(v, 100);
        assert_int_equal(parse_size("0", 1, 10, &v), -ERANGE);
        assert_int_equal(parse_size("K", 1, 10, &v), -EINVAL);
        assert_int_equal(parse_size("1T", 1, UINT64_MAX, &v), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_uint64),
                cmocka_unit_test(test_int),
                cmocka_unit_test(test_double_and_seconds),
                cmocka_unit_test(test_size),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
