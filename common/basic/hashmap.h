/* SPDX-License-Identifier: MIT */
/*
 * U64Map: a hash map from uint64_t keys to non-NULL pointers, for lookups by id in O(1). Open
 * addressing with linear probing in one power-of-two array of {key, value} slots (16 bytes each),
 * which grows at 3/4 load and shrinks below 1/8; deletion shifts the rest of a probe run back
 * instead of leaving tombstones, so lookups never slow down as keys come and go. The map owns only
 * its slots, never the values.
 *
 * The hash is a fixed, unkeyed mixer: fine for keys we choose ourselves (job ids), not for keys a
 * peer chooses, which could pile them into one probe run.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef struct U64Map U64Map;

int u64_map_new(U64Map **ret);
/* Frees the map, not the values. Accepts NULL. */
U64Map *u64_map_free(U64Map *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(U64Map *, u64_map_free);

/* -EEXIST if the key is present (nothing changed), -EINVAL for a NULL value, -ENOMEM. */
int u64_map_put(U64Map *m, uint64_t key, void *value);
/* NULL when absent. */
void *u64_map_get(const U64Map *m, uint64_t key);
/* Removes the key and returns its value, or NULL when absent. Never fails: when shrinking finds no
 * memory, the map stays as large as it was. */
void *u64_map_remove(U64Map *m, uint64_t key);
size_t u64_map_size(const U64Map *m);

/* The number of slots (0 before the first put, else a power of two). */
size_t u64_map_capacity(const U64Map *m);
/* The longest probe sequence a successful lookup walks (1: every key in its home slot; 0 when
 * empty). O(capacity): for tests and diagnostics, not for the hot path. */
size_t u64_map_max_probe(const U64Map *m);
/* The mean probe sequence of a successful lookup over all keys (0 when empty): about
 * (1 + 1/(1 - load)) / 2 for a good hash, so 2.5 at the highest load. O(capacity), for tests. */
double u64_map_mean_probe(const U64Map *m);
/* Bytes of slot array per key at the lowest load a grown map keeps while keys are only added (3/8
 * just after doubling): an upper bound for sizing a table that fills up and then stays full. */
size_t u64_map_bytes_per_key(void);

/* The mixer (a splitmix64-style finalizer): a bijection on 64 bits in which every input bit
 * changes about half of the output bits, so that consecutive keys land far apart. */
uint64_t u64_hash(uint64_t x);
