/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "hashmap.h"
#include "id-map.h"
#include "macro.h"

/* Distinct non-NULL values without allocating: addresses inside one array. */
static char values[4096];

static void *value_of(uint64_t i) {
        return &values[i % sizeof values];
}

static void test_empty(void **state) {
        _cleanup_(id_map_freep) IdMap *m = NULL;

        assert_int_equal(id_map_new(&m, 0), 0);
        assert_int_equal(id_map_size(m), 0);
        assert_null(id_map_get(m, 0));
        assert_null(id_map_remove(m, 7));
        assert_int_equal(id_map_put(m, 1, NULL), -EINVAL);
        assert_int_equal(id_map_size(m), 0);
        assert_null(id_map_free(NULL));
}

static void test_put_get_remove(void **state) {
        _cleanup_(id_map_freep) IdMap *m = NULL;

        assert_int_equal(id_map_new(&m, 16), 0);
        assert_int_equal(id_map_put(m, 0, value_of(0)), 0);
        assert_int_equal(id_map_put(m, UINT64_MAX, value_of(1)), 0);
        assert_int_equal(id_map_put(m, 42, value_of(2)), 0);
        assert_int_equal(id_map_put(m, 42, value_of(3)), -EEXIST);
        assert_int_equal(id_map_size(m), 3);
        assert_ptr_equal(id_map_get(m, 0), value_of(0));
        assert_ptr_equal(id_map_get(m, UINT64_MAX), value_of(1));
        assert_ptr_equal(id_map_get(m, 42), value_of(2));
        /* 58 shares 42's slot (window 16) and is not there. */
        assert_null(id_map_get(m, 58));
        assert_null(id_map_remove(m, 58));
        assert_ptr_equal(id_map_remove(m, 42), value_of(2));
        assert_null(id_map_get(m, 42));
        assert_int_equal(id_map_size(m), 2);
}

/* A newer id takes an older one's slot: the older moves out and stays found, and an older id
 * that comes after a newer one holds its slot lives outside from the start. */
static void test_collisions(void **state) {
        _cleanup_(id_map_freep) IdMap *m = NULL;

        assert_int_equal(id_map_new(&m, 8), 0);
        assert_int_equal(id_map_put(m, 3, value_of(3)), 0);
        assert_int_equal(id_map_put(m, 11, value_of(11)), 0);
        assert_int_equal(id_map_overflow_size(m), 1);
        assert_ptr_equal(id_map_get(m, 3), value_of(3));
        assert_ptr_equal(id_map_get(m, 11), value_of(11));

        assert_int_equal(id_map_put(m, 19, value_of(19)), 0);
        assert_int_equal(id_map_put(m, 27, value_of(27)), 0);
        assert_int_equal(id_map_overflow_size(m), 3);

        /* An old id again, while a newer one has the slot. */
        assert_int_equal(id_map_put(m, 11, value_of(99)), -EEXIST);
        assert_ptr_equal(id_map_remove(m, 27), value_of(27));
        /* The slot is free now, yet 19 is outside: putting it again must still say EEXIST. */
        assert_int_equal(id_map_put(m, 19, value_of(99)), -EEXIST);
        assert_int_equal(id_map_put(m, 35, value_of(35)), 0);
        assert_int_equal(id_map_put(m, 43, value_of(43)), 0);
        assert_ptr_equal(id_map_remove(m, 35), value_of(35));
        assert_int_equal(id_map_put(m, 19, value_of(99)), -EEXIST);
        assert_int_equal(id_map_size(m), 4);
        for (uint64_t id = 3; id <= 43; id += 8)
                assert_ptr_equal(id_map_get(m, id), id == 27 || id == 35 ? NULL : value_of(id));

        for (uint64_t id = 3; id <= 43; id += 8)
                (void) id_map_remove(m, id);
        assert_int_equal(id_map_size(m), 0);
        assert_int_equal(id_map_overflow_size(m), 0);
}

/* What the bus does: ids in order, the oldest out as each new one comes; one in a hundred stays
 * much longer. Only the long-lived ones ever leave the window. */
static void test_sliding(void **state) {
        _cleanup_(id_map_freep) IdMap *m = NULL;
        const uint64_t n = 1000, keep = 100;

        assert_int_equal(id_map_new(&m, n), 0);
        for (uint64_t id = 1; id <= 20 * n; id++) {
                assert_int_equal(id_map_put(m, id, value_of(id)), 0);
                if (id > n && (id - n) % keep != 0)
                        assert_ptr_equal(id_map_remove(m, id - n), value_of(id - n));
        }
        /* n in the window, and every hundredth of the rest. */
        assert_int_equal(id_map_size(m), n + (19 * n) / keep);
        assert_true(id_map_overflow_size(m) <= (19 * n) / keep);
        for (uint64_t id = 1; id <= 20 * n; id++) {
                bool in = id > 19 * n || id % keep == 0;

                assert_ptr_equal(id_map_get(m, id), in ? value_of(id) : NULL);
        }
}

/* Random operations against a plain array as the reference. */
static void test_random_against_reference(void **state) {
        _cleanup_(id_map_freep) IdMap *m = NULL;
        enum {
                RANGE = 300
        };
        bool present[RANGE] = {};
        size_t size = 0;
        unsigned seed = 17;

        assert_int_equal(id_map_new(&m, 32), 0);
        for (unsigned i = 0; i < 200000; i++) {
                uint64_t id = (uint64_t) (rand_r(&seed) % RANGE);

                switch (rand_r(&seed) % 3) {
                case 0:
                        assert_int_equal(id_map_put(m, id, value_of(id)), present[id] ? -EEXIST : 0);
                        size += !present[id];
                        present[id] = true;
                        break;
                case 1:
                        assert_ptr_equal(id_map_remove(m, id), present[id] ? value_of(id) : NULL);
                        size -= present[id];
                        present[id] = false;
                        break;
                default:
                        assert_ptr_equal(id_map_get(m, id), present[id] ? value_of(id) : NULL);
                }
                assert_int_equal(id_map_size(m), size);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_put_get_remove),
                cmocka_unit_test(test_collisions),
                cmocka_unit_test(test_sliding),
                cmocka_unit_test(test_random_against_reference),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
