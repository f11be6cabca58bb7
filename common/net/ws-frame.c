/* SPDX-License-Identifier: MIT */
/*
 * Frame encoding for the send path: writes the head of a connection's send queue. Small messages
 * are framed here, many to one buffer (the context's batch buffer, shared by all its connections
 * since it is filled and written within one call), masked on the client side, and written raw;
 * a large message goes out alone through lws, from the message's own header room (server side) or
 * the connection's tx copy (client side, since lws masks in place).
 */
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "ws-internal.h"

#define WS_BATCH_MAX        (64 * 1024) /* bytes of frames per send() */
#define WS_BATCH_FRAME_MAX  4096        /* larger messages are written alone, without a copy */
#define WS_FRAME_HEADER_MAX 14

int ws_context_setup_frames(WsContext *ctx) {
        assert(ctx);

        ctx->batch = malloc(LWS_PRE + WS_BATCH_MAX);
        if (!ctx->batch)
                return -ENOMEM;
        if (getrandom(&ctx->mask_state, sizeof ctx->mask_state, GRND_NONBLOCK) != sizeof ctx->mask_state)
                ctx->mask_state = (uint32_t) time(NULL) ^ (uint32_t) getpid();
        ctx->mask_state |= 1; /* xorshift never leaves 0 */
        return 0;
}

static size_t ws_frame_header(unsigned char *p, size_t size, bool masked) {
        unsigned char mask_bit = masked ? 0x80 : 0;
        size_t n = 0;

        assert(p);

        p[n++] = 0x81; /* FIN, text */
        if (size < 126)
                p[n++] = mask_bit | (unsigned char) size;
        else if (size < 65536) {
                p[n++] = mask_bit | 126;
                p[n++] = (unsigned char) (size >> 8);
                p[n++] = (unsigned char) size;
        } else {
                p[n++] = mask_bit | 127;
                for (int shift = 56; shift >= 0; shift -= 8)
                        p[n++] = (unsigned char) ((uint64_t) size >> shift);
        }
        return n;
}

/* Client frames are masked (RFC 6455 5.3) with a key that varies; nothing here is secret. */
static void ws_context_next_mask(WsContext *ctx, unsigned char ret[4]) {
        uint32_t x;

        assert(ctx);
        assert(ret);

        x = ctx->mask_state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        ctx->mask_state = x;
        memcpy(ret, &x, 4);
}

/* Moves as many small queued messages as fit into one buffer of complete frames. */
static size_t ws_conn_fill_batch(WsConn *c, unsigned char *out) {
        WsMessage **head;
        size_t n = 0;

        assert(c);
        assert(out);

        while ((head = ring_peek(&c->queue))) {
                const WsMessage *m = *head;
                const unsigned char *src = m->buf + LWS_PRE;

                if (m->size > WS_BATCH_FRAME_MAX || n + WS_FRAME_HEADER_MAX + m->size > WS_BATCH_MAX)
                        break;
                n += ws_frame_header(out + n, m->size, c->client);
                if (c->client) {
                        unsigned char *mask = out + n;

                        ws_context_next_mask(c->ctx, mask);
                        n += 4;
                        for (size_t i = 0; i < m->size; i++)
                                out[n + i] = src[i] ^ mask[i & 3];
                } else
                        memcpy(out + n, src, m->size);
                n += m->size;
                ws_conn_queue_pop(c);
        }
        return n;
}

/* A large message goes out alone, through lws, from the shared buffer's header room. A client's
 * payload is masked in place by lws, so it works on a copy. */
static int ws_conn_write_large(WsConn *c, const WsMessage *m) {
        unsigned char *p = (unsigned char *) m->buf + LWS_PRE;

        assert(c);
        assert(m);

        if (c->client) {
                if (LWS_PRE + m->size > c->tx_alloc) {
                        unsigned char *t = realloc(c->tx, LWS_PRE + m->size);

                        if (!t)
                                return -ENOMEM;
                        c->tx = t;
                        c->tx_alloc = LWS_PRE + m->size;
                }
                p = memcpy(c->tx + LWS_PRE, p, m->size);
        }
        if (lws_write(c->wsi, p, m->size, LWS_WRITE_TEXT) < 0)
                return -EIO;
        ws_conn_queue_pop(c);
        return 0;
}

int ws_conn_write_frames(WsConn *c) {
        WsMessage **head;
        size_t n;

        assert(c);

        head = ring_peek(&c->queue);
        if (!head)
                return 0;
        if ((*head)->size > WS_BATCH_FRAME_MAX)
                return ws_conn_write_large(c, *head);

        n = ws_conn_fill_batch(c, c->ctx->batch + LWS_PRE);
        if (lws_write(c->wsi, c->ctx->batch + LWS_PRE, n, LWS_WRITE_RAW) < 0)
                return -EIO;
        return 0;
}
