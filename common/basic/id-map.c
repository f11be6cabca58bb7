/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "hashmap.h"
#include "id-map.h"

/* A slot is empty when its value is NULL, which is why NULL values are refused. */
typedef struct IdMapSlot {
        uint64_t id;
        void *value;
} IdMapSlot;

struct IdMap {
        IdMapSlot *window; /* NULL until the first put */
        size_t mask;       /* window size - 1 */
        U64Map *overflow;  /* ids that lost their slot, or never had it */
        size_t size;       /* in the window and in overflow */
};

#define ID_MAP_WINDOW_MIN 8

int id_map_new(IdMap **ret, size_t window) {
        _cleanup_(id_map_freep) IdMap *m = NULL;
        size_t n = ID_MAP_WINDOW_MIN;
        int r;

        assert(ret);

        while (n < window) {
                if (n > SIZE_MAX / 2 / sizeof(IdMapSlot))
                        return -ENOMEM;
                n *= 2;
        }
        m = calloc(1, sizeof(IdMap));
        if (!m)
                return -ENOMEM;
        m->mask = n - 1;
        r = u64_map_new(&m->overflow);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

IdMap *id_map_free(IdMap *m) {
        if (!m)
                return NULL;
        free(m->window);
        u64_map_free(m->overflow);
        return mfree(m);
}

static IdMapSlot *id_map_slot(const IdMap *m, uint64_t id) {
        return &m->window[id & m->mask];
}

int id_map_put(IdMap *m, uint64_t id, void *value) {
        IdMapSlot *s;
        int r;

        assert(m);

        if (!value)
                return -EINVAL;
        if (!m->window) {
                m->window = calloc(m->mask + 1, sizeof(IdMapSlot));
                if (!m->window)
                        return -ENOMEM;
        }

        s = id_map_slot(m, id);
        if (s->value && s->id == id)
                return -EEXIST;
        if (s->value && s->id > id) {
                /* A newer id has the slot: this one lives outside. */
                r = u64_map_put(m->overflow, id, value);
                if (r < 0)
                        return r;
                m->size++;
                return 0;
        }
        if (u64_map_size(m->overflow) > 0 && u64_map_get(m->overflow, id))
                return -EEXIST;
        if (s->value) {
                /* An older id stayed a whole window: it makes room for the newer one. */
                r = u64_map_put(m->overflow, s->id, s->value);
                if (r < 0)
                        return r;
        }
        *s = (IdMapSlot){ .id = id, .value = value };
        m->size++;
        return 0;
}

void *id_map_get(const IdMap *m, uint64_t id) {
        const IdMapSlot *s;

        assert(m);

        if (m->size == 0)
                return NULL;
        s = id_map_slot(m, id);
        if (s->value && s->id == id)
                return s->value;
        return u64_map_size(m->overflow) > 0 ? u64_map_get(m->overflow, id) : NULL;
}

void *id_map_remove(IdMap *m, uint64_t id) {
        IdMapSlot *s;
        void *value;

        assert(m);

        if (m->size == 0)
                return NULL;
        s = id_map_slot(m, id);
        if (s->value && s->id == id) {
                value = s->value;
                *s = (IdMapSlot){};
        } else {
                value = u64_map_size(m->overflow) > 0 ? u64_map_remove(m->overflow, id) : NULL;
                if (!value)
                        return NULL;
        }
        m->size--;
        return value;
}

size_t id_map_size(const IdMap *m) {
        assert(m);
        return m->size;
}

size_t id_map_overflow_size(const IdMap *m) {
        assert(m);
        return u64_map_size(m->overflow);
}

size_t id_map_bytes_per_id(void) {
        /* The window is at most twice what was asked for. */
        return 2 * sizeof(IdMapSlot);
}
