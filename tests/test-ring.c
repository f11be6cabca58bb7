/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ring.h"

typedef struct Item {
        uint64_t id;
        int priority;
} Item;

static void test_fifo_across_wrap_and_growth(void **state) {
        Ring r = RING_INIT(Item);
        uint64_t next_in = 0, next_out = 0;
        Item it;

        /* Interleave pushes and pops so the head wraps while the array grows. */
        for (int round = 0; round < 50; round++) {
                for (int i = 0; i < 7; i++) {
                        it = (Item){ .id = next_in++, .priority = round };
                        assert_int_equal(ring_push(&r, &it, SIZE_MAX), 0);
                }
                for (int i = 0; i < 5; i++) {
                        assert_true(ring_pop(&r, &it));
                        assert_int_equal(it.id, next_out++);
                }
        }
        assert_int_equal(ring_size(&r), next_in - next_out);
        assert_int_equal(((Item *) ring_peek(&r))->id, next_out);
        while (ring_pop(&r, &it))
                assert_int_equal(it.id, next_out++);
        assert_int_equal(next_out, next_in);
        assert_null(ring_peek(&r));
        assert_false(ring_pop(&r, NULL));
        ring_done(&r);
}

static void test_bound(void **state) {
        Ring r = RING_INIT(Item);
        Item it = {};

        for (unsigned i = 0; i < 20; i++)
                assert_int_equal(ring_push(&r, &it, 20), 0);
        assert_int_equal(ring_push(&r, &it, 20), -ENOBUFS);
        assert_int_equal(ring_size(&r), 20);
        assert_true(ring_pop(&r, NULL));
        assert_int_equal(ring_push(&r, &it, 20), 0);
        assert_int_equal(ring_push(&r, &it, 20), -ENOBUFS);
        ring_done(&r);
        assert_int_equal(ring_size(&r), 0);
        ring_done(&r); /* twice is fine */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fifo_across_wrap_and_growth),
                cmocka_unit_test(test_bound),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
