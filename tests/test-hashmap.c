/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "hashmap.h"
#include "macro.h"

/* Distinct non-NULL values without allocating: addresses inside one array. */
static char values[4096];

static void *value_of(size_t i) {
        return &values[i % sizeof values];
}

static uint64_t rand64(unsigned *seed) {
        uint64_t x = 0;

        for (int i = 0; i < 4; i++)
                x = (x << 16) ^ (uint64_t) (rand_r(seed) & 0xffff);
        return x;
}

/* The invariants every operation keeps: a power-of-two capacity, loaded at most 3/4. */
static void check_shape(const U64Map *m) {
        size_t cap = u64_map_capacity(m);

        if (cap == 0)
                return;
        assert_int_equal(cap & (cap - 1), 0);
        assert_true(u64_map_size(m) * 4 <= cap * 3);
}

static void test_empty(void **state) {
        _cleanup_(u64_map_freep) U64Map *m = NULL;

        assert_int_equal(u64_map_new(&m), 0);
        assert_int_equal(u64_map_size(m), 0);
        assert_int_equal(u64_map_capacity(m), 0);
        assert_int_equal(u64_map_max_probe(m), 0);
        assert_true(u64_map_mean_probe(m) == 0);
        assert_null(u64_map_get(m, 0));
        assert_null(u64_map_remove(m, 0));
        assert_int_equal(u64_map_put(m, 1, NULL), -EINVAL);
        assert_int_equal(u64_map_size(m), 0);
        assert_null(u64_map_free(NULL));
}

static void test_put_get_remove(void **state) {
        _cleanup_(u64_map_freep) U64Map *m = NULL;

        assert_int_equal(u64_map_new(&m), 0);
        assert_int_equal(u64_map_put(m, 0, value_of(0)), 0);
        assert_int_equal(u64_map_put(m, UINT64_MAX, value_of(1)), 0);
        assert_int_equal(u64_map_put(m, 42, value_of(2)), 0);
        assert_int_equal(u64_map_size(m), 3);

        /* A second put of a key changes nothing. */
        assert_int_equal(u64_map_put(m, 42, value_of(3)), -EEXIST);
        assert_int_equal(u64_map_size(m), 3);

        assert_ptr_equal(u64_map_get(m, 0), value_of(0));
        assert_ptr_equal(u64_map_get(m, UINT64_MAX), value_of(1));
        assert_ptr_equal(u64_map_get(m, 42), value_of(2));
        assert_null(u64_map_get(m, 43));

        assert_ptr_equal(u64_map_remove(m, 42), value_of(2));
        assert_null(u64_map_remove(m, 42));
        assert_null(u64_map_get(m, 42));
        assert_int_equal(u64_map_size(m), 2);
        assert_int_equal(u64_map_put(m, 42, value_of(4)), 0);
        assert_ptr_equal(u64_map_get(m, 42), value_of(4));
        check_shape(m);
}

static void test_growth_and_shrink(void **state) {
        _cleanup_(u64_map_freep) U64Map *m = NULL;
        const size_t n = 200000;
        unsigned seed = 1;
        uint64_t *keys;

        keys = malloc(n * sizeof(uint64_t));
        assert_non_null(keys);
        /* Half sequential, half spread over all 64 bits (a random duplicate would be a bug in the
         * test, at these odds never seen). */
        for (size_t i = 0; i < n; i++)
                keys[i] = i % 2 ? rand64(&seed) : i;

        assert_int_equal(u64_map_new(&m), 0);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(u64_map_put(m, keys[i], value_of(i)), 0);
                if (i % 997 == 0)
                        check_shape(m);
        }
        assert_int_equal(u64_map_size(m), n);
        /* The smallest power of two that holds n at 3/4. */
        assert_int_equal(u64_map_capacity(m), 1u << 19);
        for (size_t i = 0; i < n; i++)
                assert_ptr_equal(u64_map_get(m, keys[i]), value_of(i));

        for (size_t i = 0; i < n; i++) {
                assert_ptr_equal(u64_map_remove(m, keys[i]), value_of(i));
                if (i % 997 == 0) {
                        check_shape(m);
                        assert_true(u64_map_capacity(m) <= 8 || u64_map_size(m) * 8 >= u64_map_capacity(m));
                }
        }
        assert_int_equal(u64_map_size(m), 0);
        assert_int_equal(u64_map_capacity(m), 8);
        free(keys);
}

/* The first `n` keys from `*next` on whose home slot in a map of `capacity` slots is `home`. */
static void keys_with_home(uint64_t *ret, size_t n, size_t home, size_t capacity, uint64_t *next) {
        for (size_t i = 0; i < n; (*next)++)
                if ((u64_hash(*next) & (capacity - 1)) == home)
                        ret[i++] = *next;
}

/* Probe runs that collide and wrap around the end of the array: removing from the middle of a run
 * must pull back the keys homed before the hole and leave those homed after it. */
static void test_backward_shift_colliding(void **state) {
        enum {
                CAP = 64,
                N_FILL = 26,
                N62 = 6,
                N63 = 4,
                N0 = 4,
                N_COLL = N62 + N63 + N0
        };
        uint64_t fill[N_FILL], coll[N_COLL], next = 0;
        unsigned seed = 7;

        /* Fillers each alone at its home, far from the cluster: the map stays at 64 slots (25..48
         * keys) throughout. */
        for (size_t i = 0; i < N_FILL; i++)
                keys_with_home(&fill[i], 1, 20 + i, CAP, &next);
        keys_with_home(coll, N62, CAP - 2, CAP, &next);
        keys_with_home(coll + N62, N63, CAP - 1, CAP, &next);
        keys_with_home(coll + N62 + N63, N0, 0, CAP, &next);

        for (int round = 0; round < 500; round++) {
                _cleanup_(u64_map_freep) U64Map *m = NULL;
                size_t order[N_COLL];
                bool present[N_COLL];

                assert_int_equal(u64_map_new(&m), 0);
                for (size_t i = 0; i < N_FILL; i++)
                        assert_int_equal(u64_map_put(m, fill[i], value_of(100 + i)), 0);
                for (size_t i = 0; i < N_COLL; i++) {
                        assert_int_equal(u64_map_put(m, coll[i], value_of(i)), 0);
                        present[i] = true;
                        order[i] = i;
                }
                assert_int_equal(u64_map_capacity(m), CAP);
                /* Slots 62..63 and 0..11 in one run; the last key homed at 0 sits 11 slots away. */
                assert_int_equal(u64_map_max_probe(m), 12);

                for (size_t i = N_COLL - 1; i > 0; i--) {
                        size_t j = (size_t) rand_r(&seed) % (i + 1), tmp = order[i];

                        order[i] = order[j];
                        order[j] = tmp;
                }
                for (size_t k = 0; k < N_COLL; k++) {
                        assert_ptr_equal(u64_map_remove(m, coll[order[k]]), value_of(order[k]));
                        present[order[k]] = false;
                        for (size_t i = 0; i < N_COLL; i++)
                                assert_ptr_equal(u64_map_get(m, coll[i]), present[i] ? value_of(i) : NULL);
                        for (size_t i = 0; i < N_FILL; i++)
                                assert_ptr_equal(u64_map_get(m, fill[i]), value_of(100 + i));
                }
                assert_int_equal(u64_map_capacity(m), CAP);
                assert_int_equal(u64_map_max_probe(m), 1);
        }
}

/* 100,000 random operations against a plain array, over a key space small enough that the map is
 * often dense and runs collide, in phases that grow and shrink it across its thresholds. */
static void test_random_against_reference(void **state) {
        enum {
                K = 1024,
                OPS = 100000
        };
        _cleanup_(u64_map_freep) U64Map *m = NULL;
        uint64_t keys[K];
        bool present[K] = {};
        size_t n = 0;
        unsigned seed = 12345;

        for (size_t i = 0; i < K; i++)
                keys[i] = i < K / 2 ? i : rand64(&seed);

        assert_int_equal(u64_map_new(&m), 0);
        for (int op = 0; op < OPS; op++) {
                /* 6000 operations mostly adding, then 6000 mostly removing. */
                int put_percent = (op / 6000) % 2 ? 25 : 75, dice = rand_r(&seed) % 100;
                size_t k = (size_t) rand_r(&seed) % K;

                if (dice < put_percent) {
                        int r = u64_map_put(m, keys[k], value_of(k));

                        assert_int_equal(r, present[k] ? -EEXIST : 0);
                        if (!present[k])
                                n++;
                        present[k] = true;
                } else if (dice < 95) {
                        assert_ptr_equal(u64_map_remove(m, keys[k]), present[k] ? value_of(k) : NULL);
                        if (present[k])
                                n--;
                        present[k] = false;
                } else
                        assert_ptr_equal(u64_map_get(m, keys[k]), present[k] ? value_of(k) : NULL);
                assert_int_equal(u64_map_size(m), n);

                if (op % 500 == 0) {
                        check_shape(m);
                        for (size_t i = 0; i < K; i++)
                                assert_ptr_equal(u64_map_get(m, keys[i]), present[i] ? value_of(i) : NULL);
                }
        }
}

/* Lookups stay O(1) where the bus uses the map: sequential ids at the highest load (3/4), also
 * after the window of ids has slid on many times (no tombstones piling up). Asserted on the probe
 * sequences, not on timings: the mean is what a lookup costs, (1 + 1/(1 - 3/4)) / 2 = 2.5 for a
 * good hash at this load; the longest grows slowly with the size under linear probing (160 slots
 * here), while a mixer that clusters sequential keys would give runs of thousands. */
#define MEAN_PROBE_MAX 3.0
#define MAX_PROBE      400
static void test_probe_bound_sequential(void **state) {
        enum {
                CAP = 1 << 17,
                N = CAP / 4 * 3
        };
        _cleanup_(u64_map_freep) U64Map *m = NULL;

        assert_int_equal(u64_map_new(&m), 0);
        /* Checked on the way too: a clustering mixer makes every put walk a long run, and the test
         * should fail rather than crawl. */
        for (uint64_t id = 1; id <= N; id++) {
                assert_int_equal(u64_map_put(m, id, value_of(id)), 0);
                if (id % 4096 == 0)
                        assert_true(u64_map_max_probe(m) <= MAX_PROBE);
        }
        assert_int_equal(u64_map_capacity(m), CAP);
        assert_true(u64_map_mean_probe(m) <= MEAN_PROBE_MAX);
        assert_true(u64_map_max_probe(m) <= MAX_PROBE);

        /* Slide: the oldest id out, one new in, five times over. */
        for (uint64_t id = N + 1; id <= 6 * (uint64_t) N; id++) {
                assert_ptr_equal(u64_map_remove(m, id - N), value_of(id - N));
                assert_int_equal(u64_map_put(m, id, value_of(id)), 0);
        }
        assert_int_equal(u64_map_size(m), N);
        assert_int_equal(u64_map_capacity(m), CAP);
        assert_true(u64_map_mean_probe(m) <= MEAN_PROBE_MAX);
        assert_true(u64_map_max_probe(m) <= MAX_PROBE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_put_get_remove),
                cmocka_unit_test(test_probe_bound_sequential),
                cmocka_unit_test(test_growth_and_shrink),
                cmocka_unit_test(test_backward_shift_colliding),
                cmocka_unit_test(test_random_against_reference),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
