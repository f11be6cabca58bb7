/* SPDX-License-Identifier: MIT */
/*
 * The heap stores (priority, sequence) next to each item so that ordering never calls back into the
 * item's owner. The sequence is a 64-bit push counter: it does not wrap in practice, and it makes
 * the order total, so equal priorities come out in push order even though a heap is not stable.
 */
#include <stdint.h>
#include <stdlib.h>

#include "macro.h"
#include "queue.h"

typedef struct QueueEntry {
        void *item;
        int priority;
        uint64_t seq;
} QueueEntry;

struct Queue {
        QueueEntry *entries;
        size_t n_entries;
        size_t n_allocated;
        uint64_t seq;
};

int queue_new(Queue **ret) {
        Queue *q = calloc(1, sizeof(Queue));

        if (!q)
                return -ENOMEM;
        *ret = q;
        return 0;
}

Queue *queue_free(Queue *q) {
        if (!q)
                return NULL;
        free(q->entries);
        return mfree(q);
}

static bool entry_before(const QueueEntry *a, const QueueEntry *b) {
        if (a->priority != b->priority)
                return a->priority < b->priority;
        return a->seq < b->seq;
}

static void entry_swap(QueueEntry *e, size_t i, size_t j) {
        QueueEntry t = e[i];

        e[i] = e[j];
        e[j] = t;
}

static size_t sift_up(Queue *q, size_t i) {
        while (i > 0) {
                size_t parent = (i - 1) / 2;

                if (!entry_before(&q->entries[i], &q->entries[parent]))
                        break;
                entry_swap(q->entries, i, parent);
                i = parent;
        }
        return i;
}

static void sift_down(Queue *q, size_t i) {
        for (;;) {
                size_t l = 2 * i + 1, r = l + 1, best = i;

                if (l < q->n_entries && entry_before(&q->entries[l], &q->entries[best]))
                        best = l;
                if (r < q->n_entries && entry_before(&q->entries[r], &q->entries[best]))
                        best = r;
                if (best == i)
                        return;
                entry_swap(q->entries, i, best);
                i = best;
        }
}

int queue_push(Queue *q, void *item, int priority) {
        if (!item)
                return -EINVAL;

        if (q->n_entries == q->n_allocated) {
                size_t n = MAX(q->n_allocated * 2, (size_t) 16);
                QueueEntry *e = reallocarray(q->entries, n, sizeof(QueueEntry));

                if (!e)
                        return -ENOMEM;
                q->entries = e;
                q->n_allocated = n;
        }

        q->entries[q->n_entries] = (QueueEntry){ .item = item, .priority = priority, .seq = q->seq++ };
        (void) sift_up(q, q->n_entries++);
        return 0;
}

void *queue_peek(Queue *q) {
        return q->n_entries > 0 ? q->entries[0].item : NULL;
}

/* Fills the hole at i with the last entry and restores the heap around it. */
static void queue_remove_at(Queue *q, size_t i) {
        q->n_entries--;
        if (i == q->n_entries)
                return;
        q->entries[i] = q->entries[q->n_entries];
        if (sift_up(q, i) == i)
                sift_down(q, i);
}

void *queue_pop(Queue *q) {
        void *item = queue_peek(q);

        if (item)
                queue_remove_at(q, 0);
        return item;
}

size_t queue_size(Queue *q) {
        return q->n_entries;
}

bool queue_remove(Queue *q, void *item) {
        for (size_t i = 0; i < q->n_entries; i++)
                if (q->entries[i].item == item) {
                        queue_remove_at(q, i);
                        return true;
                }
        return false;
}

void *queue_get(Queue *q, size_t i) {
        return i < q->n_entries ? q->entries[i].item : NULL;
}
