/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "queue.h"

/* An item knows the order it must come out in: by priority, then by push order. */
typedef struct Item {
        int priority;
        unsigned seq;
        bool queued;
} Item;

static unsigned rand_below(unsigned *seed, unsigned n) {
        return (unsigned) rand_r(seed) % n;
}

static void push(Queue *q, Item *it, int priority, unsigned *seq) {
        it->priority = priority;
        it->seq = (*seq)++;
        it->queued = true;
        assert_int_equal(queue_push(q, it, priority), 0);
}

static bool item_before(const Item *a, const Item *b) {
        return a->priority != b->priority ? a->priority < b->priority : a->seq < b->seq;
}

/* The reference: a linear scan for the most urgent queued item. */
static Item *reference_min(Item *items, size_t n) {
        Item *best = NULL;

        for (size_t i = 0; i < n; i++)
                if (items[i].queued && (!best || item_before(&items[i], best)))
                        best = &items[i];
        return best;
}

static int item_compare(const void *a, const void *b) {
        const Item *x = *(Item *const *) a, *y = *(Item *const *) b;

        return item_before(x, y) ? -1 : item_before(y, x) ? 1 : 0;
}

static void test_empty(void **state) {
        _cleanup_(queue_freep) Queue *q = NULL;

        assert_int_equal(queue_new(&q), 0);
        assert_int_equal(queue_size(q), 0);
        assert_null(queue_peek(q));
        assert_null(queue_pop(q));
        assert_null(queue_get(q, 0));
        assert_int_equal(queue_push(q, NULL, 1), -EINVAL);
        assert_int_equal(queue_size(q), 0);
        assert_null(queue_free(NULL));
}

static void test_priority_order(void **state) {
        static const int prios[] = { 5, 0, 10, 3, 7, 1, 9, 2 };
        static const int expected[] = { 0, 1, 2, 3, 5, 7, 9, 10 };
        _cleanup_(queue_freep) Queue *q = NULL;
        Item items[ELEMENTSOF(prios)];
        unsigned seq = 0;

        assert_int_equal(queue_new(&q), 0);
        for (size_t i = 0; i < ELEMENTSOF(prios); i++)
                push(q, &items[i], prios[i], &seq);
        assert_int_equal(queue_size(q), ELEMENTSOF(prios));

        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                Item *peeked = queue_peek(q), *it = queue_pop(q);

                assert_ptr_equal(peeked, it);
                assert_int_equal(it->priority, expected[i]);
        }
        assert_null(queue_pop(q));
}

static void test_extreme_priorities(void **state) {
        _cleanup_(queue_freep) Queue *q = NULL;
        Item a, b, c, d;
        unsigned seq = 0;

        assert_int_equal(queue_new(&q), 0);
        push(q, &a, INT_MAX, &seq);
        push(q, &b, 0, &seq);
        push(q, &c, INT_MIN, &seq);
        push(q, &d, -1, &seq);
        assert_ptr_equal(queue_pop(q), &c);
        assert_ptr_equal(queue_pop(q), &d);
        assert_ptr_equal(queue_pop(q), &b);
        assert_ptr_equal(queue_pop(q), &a);
}

static void test_fifo_equal(void **state) {
        _cleanup_(queue_freep) Queue *q = NULL;
        Item items[200];
        unsigned seq = 0;

        assert_int_equal(queue_new(&q), 0);
        for (size_t i = 0; i < ELEMENTSOF(items); i++)
                push(q, &items[i], 4, &seq);
        for (size_t i = 0; i < ELEMENTSOF(items); i++)
                assert_ptr_equal(queue_pop(q), &items[i]);
}

/* Pushes and pops interleaved over a few priorities: a heap that is not kept FIFO among equals
 * shows it here, since popped holes are refilled from the bottom. */
static void test_fifo_interleaved(void **state) {
        _cleanup_(queue_freep) Queue *q = NULL;
        _cleanup_free_ Item *items = calloc(3000, sizeof(Item));
        unsigned seed = 7, seq = 0;
        size_t n = 0;

        assert_non_null(items);
        assert_int_equal(queue_new(&q), 0);
        while (n < 3000) {
                unsigned pushes = 1 + rand_below(&seed, 4), pops = rand_below(&seed, 4);

                for (unsigned i = 0; i < pushes && n < 3000; i++, n++)
                        push(q, &items[n], (int) rand_below(&seed, 3), &seq);
                for (unsigned i = 0; i < pops; i++) {
                        Item *want = reference_min(items, n), *got = queue_pop(q);

                        assert_ptr_equal(got, want);
                        if (got)
                                got->queued = false;
                }
        }
        for (Item *want; (want = reference_min(items, n)); want->queued = false)
                assert_ptr_equal(queue_pop(q), want);
        assert_int_equal(queue_size(q), 0);
}

static void test_get(void **state) {
        _cleanup_(queue_freep) Queue *q = NULL;
        Item items[50];
        unsigned seq = 0, seen = 0;

        assert_int_equal(queue_new(&q), 0);
        for (size_t i = 0; i < ELEMENTSOF(items); i++)
                push(q, &items[i], (int) (ELEMENTSOF(items) - i) % 7, &seq);
        for (size_t i = 0; i < queue_size(q); i++) {
                Item *it = queue_get(q, i);

                assert_true(it >= items && it < items + ELEMENTSOF(items));
                assert_true(it->queued);
                it->queued = false; /* each item exactly once */
                seen++;
        }
        assert_int_equal(seen, ELEMENTSOF(items));
        assert_null(queue_get(q, ELEMENTSOF(items)));
}

/* Many items with random priorities against a stable sort of the same items. */
static void test_random_sorted(void **state) {
        enum {
                N = 20000
        };
        _cleanup_(queue_freep) Queue *q = NULL;
        _cleanup_free_ Item *items = calloc(N, sizeof(Item));
        _cleanup_free_ Item **sorted = calloc(N, sizeof(Item *));
        unsigned seed = 42, seq = 0;

        assert_non_null(items);
        assert_non_null(sorted);
        assert_int_equal(queue_new(&q), 0);
        for (size_t i = 0; i < N; i++) {
                push(q, &items[i], (int) rand_below(&seed, 11), &seq);
                sorted[i] = &items[i];
        }
        qsort(sorted, N, sizeof(Item *), item_compare);

        assert_int_equal(queue_size(q), N);
        for (size_t i = 0; i < N; i++)
                assert_ptr_equal(queue_pop(q), sorted[i]);
        assert_int_equal(queue_size(q), 0);
}

/* Random pushes and pops against the linear reference. */
static void test_random_ops(void **state) {
        enum {
                N = 4000
        };
        _cleanup_(queue_freep) Queue *q = NULL;
        _cleanup_free_ Item *items = calloc(N, sizeof(Item));
        unsigned seed = 1234, seq = 0;
        size_t n = 0, queued = 0;

        assert_non_null(items);
        assert_int_equal(queue_new(&q), 0);
        for (unsigned op = 0; op < 3 * N; op++) {
                unsigned what = rand_below(&seed, 10);

                if (what < 5 && n < N) {
                        push(q, &items[n++], (int) rand_below(&seed, 11), &seq);
                        queued++;
                } else {
                        Item *want = reference_min(items, n), *got = queue_pop(q);

                        assert_ptr_equal(got, want);
                        if (got) {
                                got->queued = false;
                                queued--;
                        }
                }
                assert_int_equal(queue_size(q), queued);
                assert_ptr_equal(queue_peek(q), reference_min(items, n));
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_priority_order),
                cmocka_unit_test(test_extreme_priorities),
                cmocka_unit_test(test_fifo_equal),
                cmocka_unit_test(test_fifo_interleaved),
                cmocka_unit_test(test_get),
                cmocka_unit_test(test_random_sorted),
                cmocka_unit_test(test_random_ops),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
