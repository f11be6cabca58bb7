/* SPDX-License-Identifier: MIT */
/*
 * Receive buffers that an idle server connection gives back to the kernel.
 *
 * libwebsockets 4.1 allocates every server-side WebSocket connection a receive buffer of the
 * protocol's rx_buffer_size (4 KiB and its header room by default) when it opens, and keeps it until
 * it ends. A smaller one would cost producers their throughput: lws also reads at most that much
 * from the socket per wakeup. Yet only control frames (pings, pongs, closes) pass through it, as a
 * data frame's payload is handed over from lws' shared read buffer, and between frames it holds
 * nothing. From malloc(), these buffers lay a buffer's length apart and each one's chunk header
 * touched a page: 4 KiB of RSS per client, for nothing.
 *
 * So lws' allocator is ours (lws_set_allocator()). Each buffer lws asks for as "rx_ubuf" is a slot of
 * whole pages in mappings of our own, whose pages cost nothing until lws writes to them; the
 * connection whose ESTABLISHED callback comes next claims it (lws allocates that buffer and calls
 * ESTABLISHED in one go, lws_server_init_wsi_for_ws()). A ping or pong touches a page: every
 * WsConfig.rx_idle_usec (2 s), the pages of the connections that received no message or pong since
 * the last look and are not inside a frame (lws_remaining_packet_payload() 0) are given back with
 * MADV_DONTNEED; the next control frame faults in a zeroed one. Everything else lws allocates goes
 * to realloc() as before.
 *
 * Process-wide, as lws' allocator is. Only the thread of the loops calls it (resolve.c's workers
 * never call lws).
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "event-util.h"
#include "log.h"
#include "ws-internal.h"

#define RXPOOL_SLOT_SIZE   (8U * 1024U) /* lws' default: 4096 + LWS_PRE + 4, in whole pages */
#define RXPOOL_CHUNK_SLOTS 64U          /* one bit each in RxChunk.used */
#define RXPOOL_CHUNK_SIZE  ((size_t) RXPOOL_SLOT_SIZE * RXPOOL_CHUNK_SLOTS)
#define RXPOOL_CHUNKS_MAX  1024U     /* 65,536 connections; past them, buffers come from malloc() */
#define RXPOOL_REASON      "rx_ubuf" /* what lws 4.1 calls a server connection's receive buffer */

typedef struct RxChunk {
        uint8_t *base; /* NULL: not mapped */
        uint64_t used;
        uint64_t resident; /* slots with a page in memory, as of the last rxpool_scan() */
} RxChunk;

static struct {
        RxChunk chunks[RXPOOL_CHUNKS_MAX];
        unsigned n_chunks; /* entries of chunks[] ever used */
        unsigned n_mapped;
        uintptr_t low, high;     /* every mapping lies within [low, high) */
        void *claimable;         /* the slot lws allocated last, until a connection claims it */
        unsigned claimable_slot; /* its number: chunk * RXPOOL_CHUNK_SLOTS + slot in the chunk */
} pool;

static RxChunk *rxpool_chunk_of(const void *p) {
        uintptr_t a = (uintptr_t) p;

        if (a < pool.low || a >= pool.high)
                return NULL;
        for (unsigned i = 0; i < pool.n_chunks; i++) {
                RxChunk *k = &pool.chunks[i];

                if (k->base && a >= (uintptr_t) k->base && a < (uintptr_t) k->base + RXPOOL_CHUNK_SIZE)
                        return k;
        }
        return NULL;
}

static RxChunk *rxpool_chunk_with_room(void) {
        RxChunk *empty = NULL;
        uint8_t *base;

        for (unsigned i = 0; i < pool.n_chunks; i++) {
                RxChunk *k = &pool.chunks[i];

                if (k->base && k->used != UINT64_MAX)
                        return k;
                if (!k->base && !empty)
                        empty = k;
        }
        if (!empty) {
                if (pool.n_chunks >= RXPOOL_CHUNKS_MAX)
                        return NULL;
                empty = &pool.chunks[pool.n_chunks++];
        }

        base = mmap(NULL, RXPOOL_CHUNK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED)
                return NULL;
        *empty = (RxChunk){ .base = base, .resident = UINT64_MAX };
        pool.n_mapped++;
        if (pool.low == 0 || (uintptr_t) base < pool.low)
                pool.low = (uintptr_t) base;
        pool.high = MAX(pool.high, (uintptr_t) base + RXPOOL_CHUNK_SIZE);
        return empty;
}

/* A free slot, which the connection being established will claim. */
static void *rxpool_get(void) {
        RxChunk *k = rxpool_chunk_with_room();
        unsigned slot;

        if (!k)
                return NULL;
        slot = (unsigned) __builtin_ctzll(~k->used);
        k->used |= UINT64_C(1) << slot;
        pool.claimable = k->base + (size_t) slot * RXPOOL_SLOT_SIZE;
        pool.claimable_slot = (unsigned) (k - pool.chunks) * RXPOOL_CHUNK_SLOTS + slot;
        return pool.claimable;
}

static void rxpool_put(RxChunk *k, void *p) {
        size_t slot = ((uint8_t *) p - k->base) / RXPOOL_SLOT_SIZE;

        assert(k->used & (UINT64_C(1) << slot));

        if (pool.claimable == p)
                pool.claimable = NULL;
        k->used &= ~(UINT64_C(1) << slot);
        /* The last chunk stays mapped, so that one client coming and going costs no mmap() each. */
        if (k->used == 0 && pool.n_mapped > 1) {
                (void) munmap(k->base, RXPOOL_CHUNK_SIZE);
                k->base = NULL;
                pool.n_mapped--;
                return;
        }
        /* What a freed slot held is dead: its pages go back, as an idle one's do. */
        (void) madvise(k->base + slot * RXPOOL_SLOT_SIZE, RXPOOL_SLOT_SIZE, MADV_DONTNEED);
}

/* lws' allocator: realloc() semantics (size 0 frees), plus the name of what is allocated. */
static void *rxpool_realloc(void *ptr, size_t size, const char *reason) {
        RxChunk *k = ptr ? rxpool_chunk_of(ptr) : NULL;
        void *p;

        if (k) {
                if (size > 0 && size <= RXPOOL_SLOT_SIZE)
                        return ptr;
                p = NULL;
                if (size > 0) {
                        p = malloc(size);
                        if (!p)
                                return NULL; /* realloc(): the old block stays */
                        memcpy(p, ptr, RXPOOL_SLOT_SIZE);
                }
                rxpool_put(k, ptr);
                return p;
        }

        if (!ptr && size > 0 && size <= RXPOOL_SLOT_SIZE && reason && strcmp(reason, RXPOOL_REASON) == 0) {
                p = rxpool_get();
                if (p)
                        return p;
        }

        if (size == 0) {
                free(ptr);
                return NULL;
        }
        return realloc(ptr, size);
}

void ws_rxpool_install(void) {
        /* Slots are whole pages of 4 KiB: elsewhere lws keeps its own allocator. */
        if (sysconf(_SC_PAGESIZE) == 4096)
                lws_set_allocator(rxpool_realloc);
}

void *ws_rxpool_claim(unsigned *ret_slot) {
        assert(ret_slot);

        *ret_slot = pool.claimable_slot;
        return TAKE_PTR(pool.claimable);
}

/* Which slots hold a page in memory: one mincore() per chunk, into RxChunk.resident. */
static void rxpool_scan(void) {
        const size_t page = 4096, per_slot = RXPOOL_SLOT_SIZE / page; /* ws_rxpool_install() */
        unsigned char vec[RXPOOL_CHUNK_SIZE / 4096];

        for (unsigned i = 0; i < pool.n_chunks; i++) {
                RxChunk *k = &pool.chunks[i];

                k->resident = UINT64_MAX; /* unknown: as if in memory */
                if (!k->base || mincore(k->base, RXPOOL_CHUNK_SIZE, vec) < 0)
                        continue;
                k->resident = 0;
                for (size_t p = 0; p < RXPOOL_CHUNK_SIZE / page; p++)
                        if (vec[p] & 1)
                                k->resident |= UINT64_C(1) << (p / per_slot);
        }
}

static bool rxpool_slot_resident(unsigned slot) {
        return pool.chunks[slot / RXPOOL_CHUNK_SLOTS].resident &
               (UINT64_C(1) << (slot % RXPOOL_CHUNK_SLOTS));
}

static int on_rx_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        WsContext *ctx = ASSERT_PTR(userdata);
        unsigned n_released = 0;
        bool any = false;
        WsConn *c;

        assert(s);

        /* Bounded: a mincore() per 64 connections, then a look at each connection, and a madvise()
         * for each idle one whose buffer lws wrote to since (a control frame: a ping or a pong). */
        rxpool_scan();
        LIST_FOREACH (conns, c, ctx->conns) {
                if (!c->lws_rx || !c->wsi)
                        continue;
                any = true;
                if (c->rx_recent || lws_remaining_packet_payload(c->wsi) > 0) {
                        c->rx_recent = false;
                        continue;
                }
                if (rxpool_slot_resident(c->lws_rx_slot))
                        (void) madvise(c->lws_rx, RXPOOL_SLOT_SIZE, MADV_DONTNEED);
                n_released++;
        }
        ctx->n_rx_released = n_released;
        if (any)
                ws_context_watch_rx(ctx);
        return 0;
}

void ws_context_watch_rx(WsContext *ctx) {
        int r;

        assert(ctx);

        if (ctx->freeing)
                return;
        r = event_timer_arm(ctx->event, &ctx->rx_idle_source, ctx->config.rx_idle_usec,
                            ctx->config.rx_idle_usec / 4, on_rx_idle, ctx, "ws-rx-idle", true);
        if (r < 0 && ratelimit_below(&ws_log_limit, 0))
                log_debug_errno(r, "Failed to arm the timer of idle receive buffers, ignoring: %m");
}

unsigned ws_context_rx_released(WsContext *ctx) {
        assert(ctx);
        return ctx->n_rx_released;
}
