/* SPDX-License-Identifier: MIT */
/*
 * Held: the jobs the bus holds until a scheduler takes them: jobs that arrived while no scheduler
 * was registered, or (with --dispatch=one) jobs waiting for a free slot. Dispatch order is by
 * priority (0 most urgent), and among equal priorities by id: ids grow with submission, so this is
 * FIFO, and a job pushed back with an older id returns to its place before the newer ones. One
 * doubly linked list per priority in id order, and a U64Map for lookups by id: push, pop, peek and
 * remove are O(1) for the bus's ids (a push of an older id walks back from its list's tail).
 *
 * Persistence: with a state directory, every push and removal appends a record to HELD_FILE
 * ("+" and the whole job, "-" and the id; one line each), buffered in memory and written with one
 * write() by held_flush(), which the bus calls at the end of every event-loop callback that changed
 * the set, before its effects leave the process. A bus killed with SIGKILL loses nothing that was
 * flushed; there is no fsync per record, so a machine crash may lose the last ones (a job popped
 * just before it comes back; one pushed just before it is gone). held_load() replays the file at
 * start-up and rewrites it compacted; held_flush() truncates the file when the set becomes empty and
 * rewrites it compacted when it holds more than twice the live records (plus HELD_SLACK), so it
 * stays O(live jobs) however many pass through.
 *
 * The bound (--max-held) is the caller's: held_size() and held_max() let it refuse or drop, push
 * never does. Memory per held job on x86-64 glibc: the HeldJob (64 bytes, an 80-byte chunk), its
 * map slot (16 to 43 bytes with the map's load), and the payload, which it shares with the caller.
 * Does not log. Owned by the Bus.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "list.h"
#include "macro.h"
#include "protocol.h"

#define HELD_FILE "held-jobs"
/* Records the file may hold beyond twice the live ones before held_flush() compacts it: a small set
 * that churns is rewritten at most once per this many records. */
#define HELD_SLACK 1024

typedef struct Held Held;

/* 64 bytes. */
typedef struct HeldJob {
        uint64_t id;
        int priority;            /* PROTOCOL_PRIORITY_MIN..PROTOCOL_PRIORITY_MAX */
        bool linked;             /* private: in a Held (sits in the padding after priority) */
        double runtime;          /* seconds */
        uint64_t submitted_usec; /* CLOCK_REALTIME µs */
        json_t *payload;         /* owned reference: the payload object as the producer sent it */
        size_t bytes;            /* what it weighs, for the caller's bound (its frame's size); 0 by
                                  * default, the length of its record when loaded */

        /* private: in its priority's list, in id order */
        LIST_FIELDS(struct HeldJob, jobs);
} HeldJob;

/* Takes a new reference of payload, which must be an object. Nothing is checked here: held_push()
 * refuses what it cannot hold. NULL on ENOMEM. */
HeldJob *held_job_new(uint64_t id, int priority, double runtime, uint64_t submitted_usec, json_t *payload);
/* Drops the payload reference. Accepts NULL; the job must not be in a Held. */
HeldJob *held_job_free(HeldJob *j);
DEFINE_TRIVIAL_CLEANUP_FUNC(HeldJob *, held_job_free);

/* dir_fd: the state directory, which the Held dup()s; -EBADF for a Held in memory only, that
 * records nothing. The file is HELD_FILE in it, touched only by held_load() and held_flush(). max
 * is the caller's bound, only reported back by held_max(). */
int held_new(Held **ret, int dir_fd, size_t max);
/* Frees every held job and drops unflushed records; the file stays as it is, so that the jobs of a
 * bus that stops are held again by the next. Accepts NULL. */
Held *held_free(Held *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(Held *, held_free);

/* Called once, on an empty Held, before anything is pushed: replays the file (none: nothing to
 * load) and rewrites it compacted (a temporary file, synced, renamed over it, the directory synced).
 * A truncated last line (a crash in mid-write) and every line that does not parse or holds a job
 * that push would refuse (a duplicate id among them) are skipped and counted in *ret_bad (may be
 * NULL); a "-" for an id not held is ignored. Returns the number of jobs loaded, all of them even
 * beyond max (the caller decides), or -errno; 0 at once in memory only. */
int held_load(Held *h, size_t *ret_bad);

/* Takes ownership of j and records "+" (buffered). -EEXIST if its id is held, -EINVAL for an id of 0
 * or above INT64_MAX, a priority out of range, a runtime that is negative or not finite, a submit
 * time above INT64_MAX (what the file could not hold), -ENOMEM; j is not taken on error. */
int held_push(Held *h, HeldJob *j);
/* The most urgent job, the oldest among equals; NULL when empty. */
HeldJob *held_peek(Held *h);
/* Removes the held_peek() job and records "-" (buffered); ownership to the caller. NULL when empty. */
HeldJob *held_pop(Held *h);
/* The least urgent job, the newest among equals (the one to drop first); NULL when empty. */
HeldJob *held_peek_least(Held *h);
/* O(1). NULL when not held. */
HeldJob *held_get(Held *h, uint64_t id);
/* Removes j, which must be held here, and records "-" (buffered); ownership to the caller. Returns
 * j. */
HeldJob *held_remove(Held *h, HeldJob *j);

size_t held_size(const Held *h);
/* The sum of the held jobs' `bytes`. */
size_t held_bytes(const Held *h);
size_t held_max(const Held *h);
/* Jobs held at this priority, for status; 0 for a priority out of range. */
size_t held_count_priority(const Held *h, int priority);

/* Iteration in dispatch order (most urgent first): first/next. NULL at the end. Removing the
 * current job ends the iteration: take its successor first. */
HeldJob *held_first(Held *h);
HeldJob *held_next(Held *h, HeldJob *j);

/* Writes the buffered records with one write(), unless the set became empty (the file is truncated
 * to 0) or the file would hold more than 2 * live + HELD_SLACK records (it is rewritten compacted,
 * as by held_load()). Returns at once when nothing is buffered. On an error returns -errno and the
 * records are dropped, so that memory stays bounded: the Held goes on in memory, records nothing
 * more, and every later flush tries to rewrite the file compacted until one succeeds, which leaves
 * it right again. 0 at once in memory only. */
int held_flush(Held *h);
