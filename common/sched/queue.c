/* SPDX-License-Identifier: MIT */
/*
 * The heap stores (priority, sequence) next to each item so that ordering never calls back into the
 * item's owner. The sequence is a 64-bit push counter (or the caller's, queue_push_at()): it does
 * not wrap in practice, and it makes the order total, so equal priorities come out in sequence order
 * even though a heap is not stable.
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
        Queue *q;

        assert(ret);

        q = calloc(1, sizeof(Queue));
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
        assert(a);
        assert(b);

        if (a->priority != b->priority)
                return a->priority < b->priority;
        return a->seq < b->seq;
}

static void entry_swap(QueueEntry *e, size_t i, size_t j) {
        QueueEntry t;

        assert(e);

        t = e[i];
        e[i] = e[j];
        e[j] = t;
}

static void sift_up(Queue *q, size_t i) {
        assert(q);

        while (i > 0) {
                size_t parent = (i - 1) / 2;

                if (!entry_before(&q->entries[i], &q->entries[parent]))
                        break;
                entry_swap(q->entries, i, parent);
                i = parent;
        }
}

static void sift_down(Queue *q, size_t i) {
        assert(q);

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
        assert(q);

        return queue_push_at(q, item, priority, q->seq++);
}

int queue_push_at(Queue *q, void *item, int priority, uint64_t seq) {
        assert(q);

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

        q->entries[q->n_entries] = (QueueEntry){ .item = item, .priority = priority, .seq = seq };
        sift_up(q, q->n_entries++);
        return 0;
}

void *queue_peek(Queue *q) {
        assert(q);

        return q->n_entries > 0 ? q->entries[0].item : NULL;
}

void *queue_pop(Queue *q) {
        void *item = queue_peek(q);

        if (!item)
                return NULL;

        /* The last entry fills the hole at the root and sinks to its place. */
        q->entries[0] = q->entries[--q->n_entries];
        sift_down(q, 0);
        return item;
}

size_t queue_size(Queue *q) {
        assert(q);

        return q->n_entries;
}

void *queue_get(Queue *q, size_t i) {
        assert(q);

        return i < q->n_entries ? q->entries[i].item : NULL;
}
