/* SPDX-License-Identifier: MIT */
/*
 * Ring: a FIFO of fixed-size elements in one array that grows by doubling up to a bound the owner
 * gives, so a queue that a peer fills costs at most that bound. Embedded by value in its owner
 * (RING_INIT), which frees it with ring_done(); elements are copied in and out, never owned.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct Ring {
        void *items;
        size_t elem_size;
        size_t head, n, alloc;
} Ring;

#define RING_INIT(type) ((Ring){ .elem_size = sizeof(type) })

/* Copies *elem in at the tail. -ENOBUFS when `max` elements are queued already, -ENOMEM. */
int ring_push(Ring *r, const void *elem, size_t max);
/* The element at the head, or NULL when empty; valid until the next push or pop. */
void *ring_peek(const Ring *r);
/* Copies the head out into *ret (may be NULL) and removes it; false when empty. */
bool ring_pop(Ring *r, void *ret);
void ring_done(Ring *r);

static inline size_t ring_size(const Ring *r) {
        return r->n;
}
