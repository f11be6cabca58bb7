/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "ring.h"

#define RING_MIN 8

static void *ring_at(const Ring *r, size_t i) {
        return (char *) r->items + ((r->head + i) % r->alloc) * r->elem_size;
}

static int ring_grow(Ring *r, size_t max) {
        size_t n = MIN(MAX(r->alloc * 2, (size_t) RING_MIN), max);
        char *items;

        if (n <= r->alloc)
                return -ENOBUFS;
        items = reallocarray(NULL, n, r->elem_size);
        if (!items)
                return -ENOMEM;
        /* Unwrap into the new array: the head moves to 0. */
        for (size_t i = 0; i < r->n; i++)
                memcpy(items + i * r->elem_size, ring_at(r, i), r->elem_size);
        free(r->items);
        r->items = items;
        r->alloc = n;
        r->head = 0;
        return 0;
}

int ring_push(Ring *r, const void *elem, size_t max) {
        int k;

        assert(r);
        assert(elem);
        assert(r->elem_size > 0);

        if (r->n >= max)
                return -ENOBUFS;
        if (r->n == r->alloc) {
                k = ring_grow(r, max);
                if (k < 0)
                        return k;
        }
        memcpy(ring_at(r, r->n), elem, r->elem_size);
        r->n++;
        return 0;
}

void *ring_peek(const Ring *r) {
        assert(r);
        return r->n > 0 ? ring_at(r, 0) : NULL;
}

bool ring_pop(Ring *r, void *ret) {
        assert(r);

        if (r->n == 0)
                return false;
        if (ret)
                memcpy(ret, ring_at(r, 0), r->elem_size);
        r->head = (r->head + 1) % r->alloc;
        r->n--;
        return true;
}

void ring_done(Ring *r) {
        assert(r);
        r->items = mfree(r->items);
        r->head = r->n = r->alloc = 0;
}
