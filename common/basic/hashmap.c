/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "hashmap.h"

/* A slot is empty when its value is NULL, which is why NULL values are refused. */
typedef struct U64MapSlot {
        uint64_t key;
        void *value;
} U64MapSlot;

struct U64Map {
        U64MapSlot *slots;
        size_t capacity; /* 0, or a power of two >= U64_MAP_MIN */
        size_t size;
};

#define U64_MAP_MIN 8

uint64_t u64_hash(uint64_t x) {
        /* Two rounds of xor-shift-multiply (the constants of splitmix64's output function, David
         * Stafford's "Mix13"): the shifts fold the high bits into the low ones, which are the bits
         * the slot index is taken from. */
        x ^= x >> 30;
        x *= UINT64_C(0xbf58476d1ce4e5b9);
        x ^= x >> 27;
        x *= UINT64_C(0x94d049bb133111eb);
        x ^= x >> 31;
        return x;
}

static size_t u64_map_home(const U64Map *m, uint64_t key) {
        return (size_t) u64_hash(key) & (m->capacity - 1);
}

/* The slot holding key, or the empty slot ending its probe run. The load stays below 1, so every
 * run ends. */
static size_t u64_map_find(const U64Map *m, uint64_t key) {
        size_t mask = m->capacity - 1, i = u64_map_home(m, key);

        while (m->slots[i].value && m->slots[i].key != key)
                i = (i + 1) & mask;
        return i;
}

static int u64_map_resize(U64Map *m, size_t capacity) {
        U64MapSlot *old = m->slots;
        size_t old_capacity = m->capacity;

        assert(capacity >= U64_MAP_MIN);
        assert(m->size * 4 <= capacity * 3);

        m->slots = calloc(capacity, sizeof(U64MapSlot));
        if (!m->slots) {
                m->slots = old;
                return -ENOMEM;
        }
        m->capacity = capacity;
        for (size_t i = 0; i < old_capacity; i++)
                if (old[i].value)
                        m->slots[u64_map_find(m, old[i].key)] = old[i];
        free(old);
        return 0;
}

int u64_map_new(U64Map **ret) {
        U64Map *m;

        assert(ret);

        m = calloc(1, sizeof(U64Map));
        if (!m)
                return -ENOMEM;
        *ret = m;
        return 0;
}

U64Map *u64_map_free(U64Map *m) {
        if (!m)
                return NULL;
        free(m->slots);
        return mfree(m);
}

int u64_map_put(U64Map *m, uint64_t key, void *value) {
        size_t i;
        int r;

        assert(m);

        if (!value)
                return -EINVAL;
        if (u64_map_get(m, key))
                return -EEXIST;
        if ((m->size + 1) * 4 > m->capacity * 3) {
                if (m->capacity > SIZE_MAX / 2 / sizeof(U64MapSlot))
                        return -ENOMEM;
                r = u64_map_resize(m, MAX(m->capacity * 2, (size_t) U64_MAP_MIN));
                if (r < 0)
                        return r;
        }
        i = u64_map_find(m, key);
        m->slots[i] = (U64MapSlot){ .key = key, .value = value };
        m->size++;
        return 0;
}

void *u64_map_get(const U64Map *m, uint64_t key) {
        assert(m);

        if (m->size == 0)
                return NULL;
        return m->slots[u64_map_find(m, key)].value;
}

void *u64_map_remove(U64Map *m, uint64_t key) {
        size_t mask, hole, j;
        void *value;

        assert(m);

        if (m->size == 0)
                return NULL;
        mask = m->capacity - 1;
        hole = u64_map_find(m, key);
        value = m->slots[hole].value;
        if (!value)
                return NULL;

        /* Backward shift: walk the rest of the probe run and move into the hole every key whose
         * home is at or before the hole (cyclically), i.e. whose distance from home is at least the
         * distance from the hole. A key homed after the hole must stay, or a lookup starting at its
         * home would meet the hole first. Afterwards no run has a gap, so no tombstones. */
        for (j = (hole + 1) & mask; m->slots[j].value; j = (j + 1) & mask) {
                size_t home = u64_map_home(m, m->slots[j].key);

                if (((j - home) & mask) >= ((j - hole) & mask)) {
                        m->slots[hole] = m->slots[j];
                        hole = j;
                }
        }
        m->slots[hole] = (U64MapSlot){};
        m->size--;

        /* Shrinking at 1/8 leaves the map at 1/4 load, well below the 3/4 that grows it again, so
         * a size that wobbles around a threshold does not resize on every call. */
        if (m->capacity > U64_MAP_MIN && m->size * 8 < m->capacity)
                (void) u64_map_resize(m, m->capacity / 2);
        return value;
}

size_t u64_map_size(const U64Map *m) {
        assert(m);
        return m->size;
}

size_t u64_map_capacity(const U64Map *m) {
        assert(m);
        return m->capacity;
}

size_t u64_map_max_probe(const U64Map *m) {
        size_t mask, max = 0;

        assert(m);

        mask = m->capacity - 1;
        for (size_t i = 0; i < m->capacity; i++)
                if (m->slots[i].value)
                        max = MAX(max, ((i - u64_map_home(m, m->slots[i].key)) & mask) + 1);
        return max;
}

double u64_map_mean_probe(const U64Map *m) {
        size_t mask, sum = 0;

        assert(m);

        if (m->size == 0)
                return 0;
        mask = m->capacity - 1;
        for (size_t i = 0; i < m->capacity; i++)
                if (m->slots[i].value)
                        sum += ((i - u64_map_home(m, m->slots[i].key)) & mask) + 1;
        return (double) sum / (double) m->size;
}

size_t u64_map_bytes_per_key(void) {
        /* 8/3 slots per key, rounded up. */
        return (sizeof(U64MapSlot) * 8 + 2) / 3;
}
