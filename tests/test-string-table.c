/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "string-table.h"

typedef enum Color {
        COLOR_RED,
        COLOR_GREEN,
        COLOR_BLUE,
        _COLOR_MAX,
        _COLOR_INVALID = -EINVAL,
} Color;

static const char *const color_table[_COLOR_MAX] = {
        [COLOR_RED] = "red",
        [COLOR_GREEN] = "green",
        [COLOR_BLUE] = "blue",
};

const char *color_to_string(Color c);
Color color_from_string(const char *s);
DEFINE_STRING_TABLE_LOOKUP(color, Color, _COLOR_MAX);

static void test_both_directions(void **state) {
        for (Color c = 0; c < _COLOR_MAX; c++)
                assert_int_equal(color_from_string(color_to_string(c)), c);
        assert_string_equal(color_to_string(COLOR_GREEN), "green");
        assert_int_equal(color_from_string("blue"), COLOR_BLUE);
}

static void test_out_of_range(void **state) {
        assert_null(color_to_string(_COLOR_MAX));
        assert_null(color_to_string(_COLOR_INVALID));
        assert_null(color_to_string((Color) 1000));
        assert_int_equal(color_from_string("Red"), _COLOR_INVALID);
        assert_int_equal(color_from_string(""), _COLOR_INVALID);
        assert_int_equal(color_from_string("red "), _COLOR_INVALID);
        assert_int_equal(color_from_string(NULL), _COLOR_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_both_directions),
                cmocka_unit_test(test_out_of_range),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
