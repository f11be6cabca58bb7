/* SPDX-License-Identifier: MIT */
/*
 * IdMap: a map from ids that a counter hands out (job ids: each new one above the last, most of
 * them gone again after a while) to non-NULL pointers. The recent ids sit in a window, an array
 * indexed by the id's low bits, so a put, get or remove of one is a single slot; consecutive ids
 * touch consecutive slots. An id whose slot a later id needs (one that stayed while the counter
 * went a whole window further) moves to a U64Map, as does an id that comes after a newer one took
 * its slot. So any id works; only the speed assumes they come in order. The map owns its slots,
 * never the values.
 *
 * Memory: the window (16 bytes a slot, a power of two of them, taken at the first put) plus the
 * U64Map of the ids outside it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef struct IdMap IdMap;

/* window: how many recent ids get the direct slots; rounded up to a power of two, at least 8. */
int id_map_new(IdMap **ret, size_t window);
/* Frees the map, not the values. Accepts NULL. */
IdMap *id_map_free(IdMap *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(IdMap *, id_map_free);

/* -EEXIST if the id is present (nothing changed), -EINVAL for a NULL value, -ENOMEM (nothing
 * changed). */
int id_map_put(IdMap *m, uint64_t id, void *value);
/* NULL when absent. */
void *id_map_get(const IdMap *m, uint64_t id);
/* Removes the id and returns its value, or NULL when absent. Never fails. */
void *id_map_remove(IdMap *m, uint64_t id);
size_t id_map_size(const IdMap *m);

/* The ids held outside the window: for tests and diagnostics. */
size_t id_map_overflow_size(const IdMap *m);
/* Bytes of the window per id, at most, for a map holding as many recent ids as its window was
 * asked for. */
size_t id_map_bytes_per_id(void);
