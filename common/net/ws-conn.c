/* SPDX-License-Identifier: MIT */
/*
 * WsConn, the connection core shared by both sides: the bounded send queue (a Ring of message refs,
 * one ref per entry), the close, the accessors, and what the lws callback does for an open
 * connection: reassembly of incoming messages, flushing the queue, the close handshake. A WsConn is
 * owned by its context (created here, listed in ctx->conns, finalized by ws-context.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ws-internal.h"

#define WS_CLOSE_TIMEOUT_SEC 5
#define WS_TIMEOUT_CLOSING   (PENDING_TIMEOUT_USER_REASON_BASE + 1)
#define WS_RX_KEEP_MAX       4096 /* a reassembly buffer above this is freed once its message is out */

/* ---- send queue ---- */

void ws_conn_queue_pop(WsConn *c) {
        WsMessage *m;

        assert(c);

        if (!ring_pop(&c->queue, &m))
                return;
        c->queue_bytes -= m->size;
        ws_message_unref(m);
}

void ws_conn_queue_clear(WsConn *c) {
        assert(c);

        while (ring_size(&c->queue) > 0)
                ws_conn_queue_pop(c);
}

int ws_conn_new(WsContext *ctx, bool client, const char *peer, WsConn **ret) {
        WsConn *c;

        assert(ctx);
        assert(peer);
        assert(ret);

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->ctx = ctx;
        c->client = client;
        c->queue = RING_INIT(WsMessage *);
        (void) snprintf(c->peer, sizeof c->peer, "%s", peer);

        LIST_PREPEND(conns, ctx->conns, c);
        if (!client)
                ctx->n_server_conns++;
        *ret = c;
        return 0;
}

WsConn *ws_conn_free(WsConn *c) {
        if (!c)
                return NULL;
        ws_conn_queue_clear(c);
        ring_done(&c->queue);
        free(c->rx);
        free(c->tx);
        free(c->http);
        free(c->close_reason);
        free(c->peer_reason);
        free(c->error);
        free(c->tls_error);
        resolve_free(c->resolve);
        sd_event_source_disable_unref(c->connect_source);
        free(c->host);
        free(c->path);
        return mfree(c);
}

/* ---- public API ---- */

void ws_conn_set_userdata(WsConn *c, void *userdata) {
        assert(c);
        c->userdata = userdata;
}

void *ws_conn_get_userdata(WsConn *c) {
        assert(c);
        return c->userdata;
}

const char *ws_conn_get_peer(WsConn *c) {
        assert(c);
        return c->peer;
}

bool ws_conn_is_client(WsConn *c) {
        assert(c);
        return c->client;
}

void ws_conn_set_rights(WsConn *c, unsigned rights) {
        assert(c);
        c->rights = rights;
}

unsigned ws_conn_get_rights(WsConn *c) {
        assert(c);
        return c->rights;
}

uint16_t ws_conn_get_close_code(WsConn *c) {
        assert(c);
        return c->final_code;
}

size_t ws_conn_queued_messages(WsConn *c) {
        assert(c);
        return ring_size(&c->queue);
}

size_t ws_conn_queued_bytes(WsConn *c) {
        assert(c);
        return c->queue_bytes;
}

bool ws_conn_queue_is_high(WsConn *c) {
        assert(c);
        return c->queue_high;
}

uint64_t ws_conn_get_progress(WsConn *c) {
        assert(c);
        return c->progress_usec;
}

bool ws_conn_is_rx_paused(WsConn *c) {
        assert(c);
        return c->rx_paused;
}

static bool ws_conn_is_leaving(WsConn *c) {
        assert(c);
        return c->dead || c->closing || c->ctx->freeing;
}

static void ws_conn_mark_progress(WsConn *c) {
        assert(c);
        (void) sd_event_now(c->ctx->event, CLOCK_MONOTONIC, &c->progress_usec);
}

static bool ws_conn_above_high(const WsConn *c) {
        const WsConfig *k = &c->ctx->config;

        return c->queue_bytes > k->max_queue_bytes / 4 || ring_size(&c->queue) > k->max_queue_messages / 4;
}

static bool ws_conn_at_low(const WsConn *c) {
        const WsConfig *k = &c->ctx->config;

        return c->queue_bytes <= k->max_queue_bytes / 16 &&
               ring_size(&c->queue) <= k->max_queue_messages / 16;
}

void ws_conn_pause_rx(WsConn *c, bool pause) {
        assert(c);

        if (c->rx_paused == pause || !c->opened || !c->wsi || ws_conn_is_leaving(c))
                return;
        c->rx_paused = pause;
        (void) lws_rx_flow_control(c->wsi, pause ? 0 : 1);
        /* Resumed: what lws kept of the last read is delivered from its service, which must run. */
        if (!pause)
                ws_context_kick(c->ctx);
}

int ws_conn_send(WsConn *c, WsMessage *m) {
        int r;

        assert(c);
        assert(m);

        if (ws_conn_is_leaving(c))
                return -ENOTCONN;
        if (m->size > c->ctx->config.max_queue_bytes - c->queue_bytes)
                return -ENOBUFS;
        r = ring_push(&c->queue, &m, c->ctx->config.max_queue_messages);
        if (r < 0)
                return r;
        ws_message_ref(m);
        c->queue_bytes += m->size;
        if (!c->queue_high && ws_conn_above_high(c))
                c->queue_high = true;
        /* A non-empty queue always has a writable callback pending: ask only on the first message. */
        if (ring_size(&c->queue) == 1) {
                ws_conn_mark_progress(c);
                if (c->opened)
                        lws_callback_on_writable(c->wsi);
        }
        return 0;
}

int ws_conn_send_text(WsConn *c, const char *data, size_t size) {
        _cleanup_(ws_message_unrefp) WsMessage *m = NULL;
        int r;

        assert(c);
        assert(data || size == 0);

        if (ws_conn_is_leaving(c))
                return -ENOTCONN;
        r = ws_message_new(&m, data, size);
        if (r < 0)
                return r;
        return ws_conn_send(c, m);
}

void ws_conn_close(WsConn *c, uint16_t code, const char *reason) {
        assert(c);

        if (ws_conn_is_leaving(c))
                return;
        c->closing = true;
        c->close_code = code;
        ws_text_set(&c->close_reason, WS_CLOSE_REASON_MAX + 1, "%s", reason ?: "");
        if (code != WS_CLOSE_NORMAL && code != WS_CLOSE_GOING_AWAY)
                ws_conn_queue_clear(c);

        if (!c->opened) {
                /* A client still connecting: there is no WebSocket yet to send a close frame on.
                 * Between attempts (looking its host up, or about to try the next address) lws holds
                 * nothing of it. */
                ws_text_set(&c->error, WS_ERROR_MAX, "aborted");
                if (c->connecting)
                        lws_set_timeout(c->wsi, WS_TIMEOUT_CLOSING, LWS_TO_KILL_ASYNC);
                else
                        ws_conn_detach(c);
        } else {
                /* The writeable callback flushes what must go first, then starts the close. A peer
                 * that takes nothing is cut off when the timeout hits. */
                lws_set_timeout(c->wsi, WS_TIMEOUT_CLOSING, WS_CLOSE_TIMEOUT_SEC);
                lws_callback_on_writable(c->wsi);
        }
        ws_context_kick(c->ctx);
}

/* ---- from the lws callback ---- */

int ws_conn_on_established(WsConn *c) {
        WsContext *ctx;

        assert(c);

        ctx = c->ctx;
        if (c->closing)
                return -1; /* aborted while connecting: it ends in on_connect_error */
        c->opened = true;
        c->error = mfree(c->error);
        c->resolve = resolve_free(c->resolve); /* the addresses left are not needed any more */
        if (c->lws_rx)
                ws_context_watch_rx(ctx);
        if (ctx->handlers.on_open)
                ctx->handlers.on_open(c, ctx->userdata);
        if (ring_size(&c->queue) > 0)
                lws_callback_on_writable(c->wsi);
        return 0;
}

/* Closes from inside a callback for this very connection: set the code, then return -1 to lws. */
static int ws_conn_fail(WsConn *c, uint16_t code, const char *reason) {
        assert(c);
        assert(reason);

        c->closing = true;
        c->close_code = code;
        ws_conn_queue_clear(c);
        lws_close_reason(c->wsi, (enum lws_close_status) code, (unsigned char *) reason, strlen(reason));
        return -1;
}

static void ws_conn_deliver(WsConn *c) {
        const WsHandlers *h;

        assert(c);

        h = &c->ctx->handlers;
        c->rx[c->rx_size] = 0;
        if (c->rx_binary && h->on_binary)
                h->on_binary(c, c->rx, c->rx_size, c->ctx->userdata);
        else if (h->on_message)
                h->on_message(c, c->rx, c->rx_size, c->ctx->userdata);
}

int ws_conn_on_receive(WsConn *c, const void *data, size_t len) {
        size_t max, remaining, room, need;

        assert(c);
        assert(data || len == 0);

        if (c->closing)
                return 0; /* we are leaving: what comes now has no reader */
        c->rx_recent = true;
        if (!c->rx_active) {
                c->rx_active = true;
                c->rx_binary = lws_frame_is_binary(c->wsi);
                c->rx_size = 0;
        }

        /* Checked before buffering, with what the frame header announces still to come. */
        max = c->ctx->config.max_message;
        remaining = lws_remaining_packet_payload(c->wsi);
        room = max - c->rx_size;
        if (len > room || remaining > room - len)
                return ws_conn_fail(c, WS_CLOSE_TOO_BIG, "message too big");

        /* Room for the whole announced frame at once, and geometric growth across fragments, so
         * that a peer sending a message one byte per fragment costs no quadratic copying. */
        need = c->rx_size + len + remaining + 1;
        if (need > c->rx_alloc) {
                size_t n = MAX(need, MIN(c->rx_alloc * 2, max + 1));
                char *p = realloc(c->rx, n);

                if (!p)
                        return ws_conn_fail(c, WS_CLOSE_INTERNAL, "out of memory");
                c->rx = p;
                c->rx_alloc = n;
        }
        if (len > 0)
                memcpy(c->rx + c->rx_size, data, len);
        c->rx_size += len;
        if (!lws_is_final_fragment(c->wsi))
                return 0;

        c->rx_active = false;
        ws_conn_deliver(c);
        if (c->rx_alloc > WS_RX_KEEP_MAX && !c->dead) {
                c->rx = mfree(c->rx);
                c->rx_alloc = 0;
        }
        c->rx_size = 0;
        return 0;
}

int ws_conn_on_writeable(WsConn *c) {
        struct lws *wsi;
        int r;

        assert(c);

        /* Write until the queue is empty or the kernel is full: lws then keeps the unsent rest and
         * calls back once it is out. Small messages go many to a send() (ws-frame.c): one syscall
         * and one TCP segment per message would cap the bus far below its target.
         * lws_partial_buffered() is checked instead of lws_send_pipe_choked(), which costs a poll(). */
        wsi = c->wsi;
        if (ring_size(&c->queue) > 0)
                ws_conn_mark_progress(c); /* what was written before is out */
        while (ring_size(&c->queue) > 0) {
                r = ws_conn_write_frames(c);
                if (r == -ENOMEM)
                        return ws_conn_fail(c, WS_CLOSE_INTERNAL, "out of memory");
                if (r < 0)
                        return -1;
                if (lws_partial_buffered(wsi))
                        break;
        }
        if (c->queue_high && ws_conn_at_low(c)) {
                c->queue_high = false;
                if (c->ctx->handlers.on_queue_low && !c->closing)
                        c->ctx->handlers.on_queue_low(c, c->ctx->userdata);
        }

        if (ring_size(&c->queue) > 0 || (c->closing && lws_partial_buffered(wsi)))
                lws_callback_on_writable(wsi);
        else if (c->closing) {
                /* In 4.1, -1 from a writeable callback (or a timeout) drops the socket without the
                 * close frame; -1 from the timer callback sends lws_close_reason()'s frame and waits
                 * for the peer's answer, as a close from a receive callback does. */
                lws_set_timer_usecs(wsi, 1);
                ws_context_kick(c->ctx);
        }
        return 0;
}

int ws_conn_on_timer(WsConn *c) {
        assert(c);

        if (!c->closing)
                return 0;
        lws_close_reason(c->wsi, (enum lws_close_status) c->close_code,
                         (unsigned char *) ws_text(c->close_reason), strlen(ws_text(c->close_reason)));
        return -1;
}

void ws_conn_on_peer_close(WsConn *c, const unsigned char *in, size_t len) {
        assert(c);
        assert(in || len == 0);

        c->final_code = len >= 2 ? (uint16_t) (in[0] << 8 | in[1]) : WS_CLOSE_NO_STATUS;
        /* The peer's text: kept printable, whatever it sent. */
        if (len > 2) {
                char text[WS_CLOSE_REASON_MAX + 1];
                size_t n = 0;

                for (size_t i = 2; i < len && n < WS_CLOSE_REASON_MAX; i++, n++)
                        text[n] = in[i] >= ' ' && in[i] <= '~' ? (char) in[i] : '?';
                text[n] = 0;
                ws_text_set(&c->peer_reason, sizeof text, "%s", text);
        }
}

const char *ws_conn_get_close_reason(WsConn *c) {
        assert(c);
        return ws_text(c->peer_reason);
}

void ws_text_set(char **t, size_t max, const char *format, ...) {
        va_list ap;

        assert(t);
        assert(max > 0);

        if (!*t) {
                *t = malloc(max);
                if (!*t)
                        return;
        }
        va_start(ap, format);
        (void) vsnprintf(*t, max, format, ap);
        va_end(ap);
}
