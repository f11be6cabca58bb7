/* SPDX-License-Identifier: MIT */
/*
 * Queue: the pending jobs of a scheduler, a binary heap of opaque items ordered by priority (lowest
 * number first: 0 is the most urgent) and, among equal priorities, by the order of queue_push() —
 * FIFO. The queue never owns its items: freeing it leaves them to their owner.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef struct Queue Queue;

int queue_new(Queue **ret);
/* Frees the heap, not the items. */
Queue *queue_free(Queue *q);

/* -ENOMEM when the heap cannot grow; the item is then not queued. NULL items are refused (-EINVAL):
 * queue_peek() and queue_pop() use NULL for "empty". */
int queue_push(Queue *q, void *item, int priority);
/* The same with the caller's order among equal priorities (lowest `seq` first) instead of the push
 * order: for an item that goes back to the place it had. Do not mix with queue_push() in one queue. */
int queue_push_at(Queue *q, void *item, int priority, uint64_t seq);
/* The most urgent item, or NULL when empty. */
void *queue_peek(Queue *q);
void *queue_pop(Queue *q);
size_t queue_size(Queue *q);
/* The i-th item in heap order, which is no particular order; NULL past the end. For lookups. */
void *queue_get(Queue *q, size_t i);

DEFINE_TRIVIAL_CLEANUP_FUNC(Queue *, queue_free);
