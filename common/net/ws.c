/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "log.h"
#include "ratelimit.h"
#include "uv-event.h"
#include "event-util.h"
#include "ws.h"

/* Clients that send no Sec-WebSocket-Protocol get the vhost's first protocol: this one. */
#define WS_PROTOCOL_NAME     "sched"
#define WS_CLOSE_TIMEOUT_SEC 5
#define WS_CLOSE_REASON_MAX  123 /* a close frame's payload is at most 125 bytes, 2 for the code */
#define WS_PEER_MAX          64
#define WS_ERROR_MAX         128
#define WS_RX_KEEP_MAX       4096 /* a reassembly buffer above this is freed once its message is out */
#define WS_QUEUE_MIN         8
#define WS_ACCEPT_BATCH      64 /* accepts per wake-up, so a connection flood cannot hog the loop */
#define WS_ACCEPT_PAUSE_USEC (100 * USEC_PER_MSEC)
#define WS_SHUTDOWN_ROUNDS   1000
#define WS_TIMEOUT_CLOSING   (PENDING_TIMEOUT_USER_REASON_BASE + 1)
#define WS_BATCH_MAX         (64 * 1024) /* bytes of frames per send() */
#define WS_BATCH_FRAME_MAX   4096        /* larger messages are written alone, without a copy */
#define WS_FRAME_HEADER_MAX  14

struct WsMessage {
        unsigned n_ref;
        size_t size;
        unsigned char buf[]; /* LWS_PRE bytes of header room, the payload, a NUL */
};

typedef struct WsListener WsListener;
struct WsListener {
        WsContext *ctx;
        int fd;
        sd_event_source *io_source;
        WsListener *next;
};

struct WsConn {
        WsContext *ctx;
        struct lws *wsi;     /* NULL once libwebsockets has destroyed it */
        WsConn *prev, *next; /* in ctx->conns while lws holds it, then in ctx->dead */
        void *userdata;
        char peer[WS_PEER_MAX];

        bool client;
        bool opened;
        bool closing;
        bool dead;
        bool rx_active; /* a message is being reassembled */
        bool rx_binary;

        /* Send queue: a ring of message refs. */
        WsMessage **queue;
        size_t queue_head, queue_n, queue_alloc, queue_bytes;

        char *rx;
        size_t rx_size, rx_alloc;

        /* Client side only: lws masks the payload in place, so a shared message is copied here. */
        unsigned char *tx;
        size_t tx_alloc;

        uint16_t close_code;
        uint16_t final_code; /* what ws_conn_get_close_code() reports */
        char close_reason[WS_CLOSE_REASON_MAX + 1];
        char error[WS_ERROR_MAX];
};

struct WsContext {
        sd_event *event;
        UvEvent *uv;
        struct lws_context *lws; /* set to NULL by lws itself when its destruction completes */
        struct lws_vhost *vhost;
        struct lws_protocols protocols[2]; /* lws keeps pointers to these and to retry */
        lws_retry_bo_t retry;
        unsigned char *batch; /* LWS_PRE + WS_BATCH_MAX: frames of small messages, built per write */
        uint32_t mask_state;

        WsConfig config;
        WsHandlers handlers;
        void *userdata;

        WsListener *listeners;
        sd_event_source *accept_pause_source; /* accepting resumes after running out of fds */
        sd_event_source *dead_source;         /* delivers final callbacks outside lws */

        WsConn *conns;
        WsConn *dead, *dead_tail;
        unsigned n_server_conns;
        bool freeing;
};

static RateLimit ws_log_limit = RATELIMIT_INIT(10 * USEC_PER_SEC, 20);

/* lws reports through this at LLL_ERR only; its lines end in a newline. */
static void ws_lws_log(int level, const char *line) {
        size_t len = strlen(line);

        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
        if (level != LLL_ERR)
                log_debug("libwebsockets: %.*s", (int) len, line);
        else if (ratelimit_below(&ws_log_limit, 0))
                log_error("libwebsockets: %.*s", (int) len, line);
}

/* ---- messages ---- */

int ws_message_new(WsMessage **ret, const char *data, size_t size) {
        WsMessage *m;

        if (size > SIZE_MAX - sizeof(WsMessage) - LWS_PRE - 1)
                return -EMSGSIZE;
        m = malloc(sizeof(WsMessage) + LWS_PRE + size + 1);
        if (!m)
                return -ENOMEM;
        m->n_ref = 1;
        m->size = size;
        if (size > 0)
                memcpy(m->buf + LWS_PRE, data, size);
        m->buf[LWS_PRE + size] = 0;
        *ret = m;
        return 0;
}

WsMessage *ws_message_ref(WsMessage *m) {
        if (m)
                m->n_ref++;
        return m;
}

WsMessage *ws_message_unref(WsMessage *m) {
        if (m && --m->n_ref == 0)
                free(m);
        return NULL;
}

const char *ws_message_get_data(const WsMessage *m) {
        return (const char *) m->buf + LWS_PRE;
}

size_t ws_message_get_size(const WsMessage *m) {
        return m->size;
}

/* ---- send queue ---- */

static int ws_conn_queue_grow(WsConn *c) {
        size_t n = MAX(c->queue_alloc * 2, (size_t) WS_QUEUE_MIN);
        WsMessage **q;

        n = MIN(n, c->ctx->config.max_queue_messages);
        q = malloc(n * sizeof *q);
        if (!q)
                return -ENOMEM;
        /* Unwrap the ring into the new array. */
        for (size_t i = 0; i < c->queue_n; i++)
                q[i] = c->queue[(c->queue_head + i) % c->queue_alloc];
        free(c->queue);
        c->queue = q;
        c->queue_alloc = n;
        c->queue_head = 0;
        return 0;
}

static void ws_conn_queue_push(WsConn *c, WsMessage *m) {
        c->queue[(c->queue_head + c->queue_n) % c->queue_alloc] = ws_message_ref(m);
        c->queue_n++;
        c->queue_bytes += m->size;
}

static void ws_conn_queue_pop(WsConn *c) {
        WsMessage *m = c->queue[c->queue_head];

        c->queue_head = (c->queue_head + 1) % c->queue_alloc;
        c->queue_n--;
        c->queue_bytes -= m->size;
        ws_message_unref(m);
}

static void ws_conn_queue_clear(WsConn *c) {
        while (c->queue_n > 0)
                ws_conn_queue_pop(c);
}

/* ---- connections ---- */

static int ws_conn_new(WsContext *ctx, bool client, const char *peer, WsConn **ret) {
        WsConn *c = calloc(1, sizeof *c);

        if (!c)
                return -ENOMEM;
        c->ctx = ctx;
        c->client = client;
        (void) snprintf(c->peer, sizeof c->peer, "%s", peer);

        c->next = ctx->conns;
        if (ctx->conns)
                ctx->conns->prev = c;
        ctx->conns = c;
        if (!client)
                ctx->n_server_conns++;
        *ret = c;
        return 0;
}

static WsConn *ws_conn_free(WsConn *c) {
        if (!c)
                return NULL;
        ws_conn_queue_clear(c);
        free(c->queue);
        free(c->rx);
        free(c->tx);
        return mfree(c);
}

/* libwebsockets is done with the connection. From here on c only waits for its final callback,
 * which the dead source delivers from sd-event, outside lws, so the handler may do anything. */
static void ws_conn_detach(WsConn *c) {
        WsContext *ctx = c->ctx;
        int r;

        if (c->dead)
                return;
        c->dead = true;
        c->wsi = NULL;
        ws_conn_queue_clear(c);
        c->rx = mfree(c->rx);
        c->rx_alloc = c->rx_size = 0;

        if (c->prev)
                c->prev->next = c->next;
        else
                ctx->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        if (!c->client)
                ctx->n_server_conns--;

        c->prev = ctx->dead_tail;
        c->next = NULL;
        if (ctx->dead_tail)
                ctx->dead_tail->next = c;
        else
                ctx->dead = c;
        ctx->dead_tail = c;

        /* ws_context_free() delivers the final callbacks itself, maybe after the loop has ended. */
        if (ctx->freeing)
                return;
        r = sd_event_source_set_enabled(ctx->dead_source, SD_EVENT_ONESHOT);
        if (r < 0)
                log_warning_errno(r, "Failed to schedule the close of a WebSocket connection, ignoring: %m");
}

/* The one final callback of a connection, then it is freed. */
static void ws_conn_finalize(WsConn *c) {
        WsContext *ctx = c->ctx;

        if (c->opened) {
                if (c->final_code == 0)
                        c->final_code = c->closing ? c->close_code : WS_CLOSE_ABNORMAL;
                if (ctx->handlers.on_close)
                        ctx->handlers.on_close(c, ctx->userdata);
        } else if (c->client && ctx->handlers.on_connect_error)
                ctx->handlers.on_connect_error(c, c->error[0] ? c->error : "connection closed",
                                               ctx->userdata);
        /* A server connection that never finished its handshake was never shown to anyone. */
        ws_conn_free(c);
}

static void ws_context_flush_dead(WsContext *ctx) {
        /* Connections that die during these callbacks wait for the next round. */
        WsConn *c = TAKE_PTR(ctx->dead);

        ctx->dead_tail = NULL;
        while (c) {
                WsConn *next = c->next;

                ws_conn_finalize(c);
                c = next;
        }
}

static int on_dead(sd_event_source *s, void *userdata) {
        ws_context_flush_dead(userdata);
        return 0;
}

/* Wakes lws up for work queued from outside its callbacks: in 4.1 a timeout or sul set there does
 * not fire on an otherwise idle context. */
static void ws_context_kick(WsContext *ctx) {
        if (ctx->lws)
                lws_cancel_service(ctx->lws);
}

void ws_conn_set_userdata(WsConn *c, void *userdata) {
        c->userdata = userdata;
}

void *ws_conn_get_userdata(WsConn *c) {
        return c->userdata;
}

const char *ws_conn_get_peer(WsConn *c) {
        return c->peer;
}

bool ws_conn_is_client(WsConn *c) {
        return c->client;
}

uint16_t ws_conn_get_close_code(WsConn *c) {
        return c->final_code;
}

size_t ws_conn_queued_messages(WsConn *c) {
        return c->queue_n;
}

size_t ws_conn_queued_bytes(WsConn *c) {
        return c->queue_bytes;
}

int ws_conn_send(WsConn *c, WsMessage *m) {
        const WsConfig *cfg = &c->ctx->config;
        int r;

        if (c->dead || c->closing || c->ctx->freeing)
                return -ENOTCONN;
        if (c->queue_n >= cfg->max_queue_messages || m->size > cfg->max_queue_bytes - c->queue_bytes)
                return -ENOBUFS;
        if (c->queue_n == c->queue_alloc) {
                r = ws_conn_queue_grow(c);
                if (r < 0)
                        return r;
        }
        ws_conn_queue_push(c, m);
        /* A non-empty queue always has a writable callback pending: ask only on the first message. */
        if (c->queue_n == 1 && c->opened)
                lws_callback_on_writable(c->wsi);
        return 0;
}

int ws_conn_send_text(WsConn *c, const char *data, size_t size) {
        _cleanup_(ws_message_unrefp) WsMessage *m = NULL;
        int r;

        if (c->dead || c->closing || c->ctx->freeing)
                return -ENOTCONN;
        r = ws_message_new(&m, data, size);
        if (r < 0)
                return r;
        return ws_conn_send(c, m);
}

void ws_conn_close(WsConn *c, uint16_t code, const char *reason) {
        if (c->dead || c->closing || c->ctx->freeing)
                return;
        c->closing = true;
        c->close_code = code;
        (void) snprintf(c->close_reason, sizeof c->close_reason, "%s", reason ?: "");
        if (code != WS_CLOSE_NORMAL && code != WS_CLOSE_GOING_AWAY)
                ws_conn_queue_clear(c);

        if (!c->opened) {
                /* A client still connecting: there is no WebSocket yet to send a close frame on. */
                (void) snprintf(c->error, sizeof c->error, "aborted");
                lws_set_timeout(c->wsi, WS_TIMEOUT_CLOSING, LWS_TO_KILL_ASYNC);
        } else {
                /* The writeable callback flushes what must go first, then starts the close. A peer
                 * that takes nothing is cut off when the timeout hits. */
                lws_set_timeout(c->wsi, WS_TIMEOUT_CLOSING, WS_CLOSE_TIMEOUT_SEC);
                lws_callback_on_writable(c->wsi);
        }
        ws_context_kick(c->ctx);
}

int ws_conn_pause_rx(WsConn *c, bool pause) {
        if (c->dead)
                return -ENOTCONN;
        return lws_rx_flow_control(c->wsi, pause ? 0 : 1) < 0 ? -EIO : 0;
}

/* ---- lws callbacks ---- */

static int ws_conn_on_established(WsConn *c) {
        WsContext *ctx = c->ctx;

        if (c->closing)
                return -1; /* aborted while connecting: it ends in on_connect_error */
        c->opened = true;
        c->error[0] = 0;
        if (ctx->handlers.on_open)
                ctx->handlers.on_open(c, ctx->userdata);
        if (c->queue_n > 0)
                lws_callback_on_writable(c->wsi);
        return 0;
}

/* Closes from inside a callback for this very connection: set the code, then return -1 to lws. */
static int ws_conn_fail(WsConn *c, uint16_t code, const char *reason) {
        c->closing = true;
        c->close_code = code;
        ws_conn_queue_clear(c);
        lws_close_reason(c->wsi, (enum lws_close_status) code, (unsigned char *) reason, strlen(reason));
        return -1;
}

static void ws_conn_deliver(WsConn *c) {
        const WsHandlers *h = &c->ctx->handlers;

        c->rx[c->rx_size] = 0;
        if (c->rx_binary && h->on_binary)
                h->on_binary(c, c->rx, c->rx_size, c->ctx->userdata);
        else if (h->on_message)
                h->on_message(c, c->rx, c->rx_size, c->ctx->userdata);
}

static int ws_conn_on_receive(WsConn *c, const void *data, size_t len) {
        size_t max = c->ctx->config.max_message, remaining, room, need;

        if (c->closing)
                return 0; /* we are leaving: what comes now has no reader */
        if (!c->rx_active) {
                c->rx_active = true;
                c->rx_binary = lws_frame_is_binary(c->wsi);
                c->rx_size = 0;
        }

        /* Checked before buffering, with what the frame header announces still to come. */
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

static size_t ws_frame_header(unsigned char *p, size_t size, bool masked) {
        unsigned char mask_bit = masked ? 0x80 : 0;
        size_t n = 0;

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
        uint32_t x = ctx->mask_state;

        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        ctx->mask_state = x;
        memcpy(ret, &x, 4);
}

/* Moves as many small queued messages as fit into one buffer of complete frames. */
static size_t ws_conn_fill_batch(WsConn *c, unsigned char *out) {
        size_t n = 0;

        while (c->queue_n > 0) {
                const WsMessage *m = c->queue[c->queue_head];
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
static int ws_conn_write_large(WsConn *c) {
        const WsMessage *m = c->queue[c->queue_head];
        unsigned char *p = (unsigned char *) m->buf + LWS_PRE;

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

static int ws_conn_on_writeable(WsConn *c) {
        unsigned char *batch = c->ctx->batch + LWS_PRE;
        struct lws *wsi = c->wsi;

        /* Write until the queue is empty or the kernel is full: lws then keeps the unsent rest and
         * calls back once it is out. Small messages go many to a send(), framed here, written raw:
         * one syscall and one TCP segment per message would cap the bus far below its target.
         * lws_partial_buffered() is checked instead of lws_send_pipe_choked(), which costs a poll(). */
        while (c->queue_n > 0) {
                const WsMessage *m = c->queue[c->queue_head];

                if (m->size > WS_BATCH_FRAME_MAX) {
                        int r = ws_conn_write_large(c);

                        if (r == -ENOMEM)
                                return ws_conn_fail(c, WS_CLOSE_INTERNAL, "out of memory");
                        if (r < 0)
                                return -1;
                } else {
                        size_t n = ws_conn_fill_batch(c, batch);

                        if (lws_write(wsi, batch, n, LWS_WRITE_RAW) < 0)
                                return -1;
                }
                if (lws_partial_buffered(wsi))
                        break;
        }

        if (c->queue_n > 0 || (c->closing && lws_partial_buffered(wsi)))
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

static int ws_conn_on_timer(WsConn *c) {
        if (!c->closing)
                return 0;
        lws_close_reason(c->wsi, (enum lws_close_status) c->close_code, (unsigned char *) c->close_reason,
                         strlen(c->close_reason));
        return -1;
}

static void ws_conn_on_peer_close(WsConn *c, const unsigned char *in, size_t len) {
        c->final_code = len >= 2 ? (uint16_t) (in[0] << 8 | in[1]) : WS_CLOSE_NO_STATUS;
}

static int ws_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len) {
        WsConn *c = lws_get_opaque_user_data(wsi);

        if (!c || c->dead)
                return lws_callback_http_dummy(wsi, reason, user, in, len);
        c->wsi = wsi;

        switch (reason) {
        case LWS_CALLBACK_ESTABLISHED:
        case LWS_CALLBACK_CLIENT_ESTABLISHED:
                return ws_conn_on_established(c);
        case LWS_CALLBACK_RECEIVE:
        case LWS_CALLBACK_CLIENT_RECEIVE:
                return ws_conn_on_receive(c, in, len);
        case LWS_CALLBACK_SERVER_WRITEABLE:
        case LWS_CALLBACK_CLIENT_WRITEABLE:
                return ws_conn_on_writeable(c);
        case LWS_CALLBACK_TIMER:
                return ws_conn_on_timer(c);
        case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
                ws_conn_on_peer_close(c, in, len);
                return 0;
        case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
                if (in && len > 0)
                        (void) snprintf(c->error, sizeof c->error, "%.*s", (int) len, (const char *) in);
                else
                        (void) snprintf(c->error, sizeof c->error, "%s",
                                        in ? (const char *) in : "connection failed");
                return 0;
        case LWS_CALLBACK_WSI_DESTROY:
                ws_conn_detach(c);
                return 0;
        case LWS_CALLBACK_HTTP:
                return -1; /* plain HTTP is not served (yet): only WebSocket upgrades */
        default:
                return lws_callback_http_dummy(wsi, reason, user, in, len);
        }
}

/* ---- server side ---- */

static void ws_format_peer(const struct sockaddr_storage *sa, char *buf, size_t size) {
        char host[INET6_ADDRSTRLEN];

        if (sa->ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;

                (void) inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
                (void) snprintf(buf, size, "%s:%u", host, (unsigned) ntohs(in->sin_port));
        } else if (sa->ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;

                (void) inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
                (void) snprintf(buf, size, "[%s]:%u", host, (unsigned) ntohs(in6->sin6_port));
        } else
                (void) snprintf(buf, size, "%s", sa->ss_family == AF_UNIX ? "unix" : "unknown");
}

/* Hands an accepted socket to lws; over max_connections it is closed right away instead. */
static void ws_context_adopt(WsContext *ctx, int fd, const struct sockaddr_storage *sa) {
        _cleanup_close_ int cfd = fd;
        char peer[WS_PEER_MAX];
        struct lws *wsi;
        WsConn *c;
        int one = 1;

        ws_format_peer(sa, peer, sizeof peer);
        if (ctx->config.max_connections > 0 && ctx->n_server_conns >= ctx->config.max_connections) {
                cfd = safe_close(cfd);
                if (ctx->handlers.on_refused)
                        ctx->handlers.on_refused(peer, ctx->userdata);
                return;
        }
        /* lws does not set it on adopted sockets; without it small frames wait for Nagle. */
        if (sa->ss_family == AF_INET || sa->ss_family == AF_INET6)
                (void) setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

        if (ws_conn_new(ctx, false, peer, &c) < 0) {
                if (ratelimit_below(&ws_log_limit, 0))
                        log_oom();
                return;
        }
        wsi = lws_adopt_descriptor_vhost_via_info(&(lws_adopt_desc_t){
                .vh = ctx->vhost,
                .type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP,
                .fd.sockfd = TAKE_FD(cfd), /* lws closes it on failure */
                .opaque = c,
        });
        if (!wsi)
                ws_conn_detach(c); /* freed quietly: it never opened */
        else if (!c->dead)
                c->wsi = wsi;
}

static void ws_context_pause_accept(WsContext *ctx, bool pause) {
        for (WsListener *l = ctx->listeners; l; l = l->next)
                (void) sd_event_source_set_enabled(l->io_source, pause ? SD_EVENT_OFF : SD_EVENT_ON);
        if (pause) {
                (void) event_timer_arm(ctx->event, &ctx->accept_pause_source, WS_ACCEPT_PAUSE_USEC, 0, NULL,
                                       NULL, NULL, false);
        }
}

static int on_accept_pause_done(sd_event_source *s, uint64_t usec, void *userdata) {
        ws_context_pause_accept(userdata, false);
        return 0;
}

/* accept() passes on errors already pending on the new connection: they are about that one peer. */
static bool accept_error_is_transient(int e) {
        static const int transient[] = { EINTR,       ECONNABORTED, EPROTO, ENETDOWN,
                                         ENOPROTOOPT, EHOSTDOWN,    ENONET, EHOSTUNREACH,
                                         EOPNOTSUPP,  ENETUNREACH,  EPERM };

        for (size_t i = 0; i < ELEMENTSOF(transient); i++)
                if (e == transient[i])
                        return true;
        return false;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        WsListener *l = userdata;
        WsContext *ctx = l->ctx;

        for (unsigned i = 0; i < WS_ACCEPT_BATCH; i++) {
                struct sockaddr_storage sa = {};
                socklen_t salen = sizeof sa;
                int cfd = accept4(fd, (struct sockaddr *) &sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC), e;

                if (cfd >= 0) {
                        ws_context_adopt(ctx, cfd, &sa);
                        continue;
                }
                e = errno;
                if (e == EAGAIN || e == EWOULDBLOCK)
                        return 0;
                if (accept_error_is_transient(e))
                        continue;
                /* Out of fds or memory: a level-triggered listener would spin, so rest a moment. */
                if (ratelimit_below(&ws_log_limit, 0))
                        log_warning_errno(-e, "Failed to accept a connection, pausing for 100 ms: %m");
                ws_context_pause_accept(ctx, true);
                return 0;
        }
        return 0;
}

static WsListener *ws_listener_free(WsListener *l) {
        if (!l)
                return NULL;
        sd_event_source_disable_unref(l->io_source);
        safe_close(l->fd);
        return mfree(l);
}

int ws_context_listen(WsContext *ctx, int fd) {
        _cleanup_close_ int lfd = fd;
        WsListener *l;
        int flags, r;

        if (fd < 0)
                return -EBADF;
        if (ctx->freeing)
                return -ESHUTDOWN;
        /* Sockets from systemd may be blocking; the accept loop must see EAGAIN. */
        flags = fcntl(lfd, F_GETFL);
        if (flags < 0 || fcntl(lfd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;

        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->ctx = ctx;
        l->fd = TAKE_FD(lfd);
        r = sd_event_add_io(ctx->event, &l->io_source, l->fd, EPOLLIN, on_accept, l);
        if (r < 0) {
                ws_listener_free(l);
                return r;
        }
        (void) sd_event_source_set_description(l->io_source, "ws-accept");
        l->next = ctx->listeners;
        ctx->listeners = l;
        return 0;
}

/* ---- client side ---- */

/* "ws://host[:port][/path]"; an IPv6 host in brackets. */
static int ws_parse_url(const char *url, char *host, size_t host_size, int *ret_port, char *path,
                        size_t path_size) {
        const char *p, *end, *h, *after;
        size_t hlen;
        long port = 80;

        if (strncasecmp(url, "wss://", 6) == 0)
                return -EPROTONOSUPPORT;
        if (strncasecmp(url, "ws://", 5) != 0)
                return -EINVAL;
        p = url + 5;
        end = p + strcspn(p, "/?#");

        if (*p == '[') {
                const char *close = memchr(p, ']', (size_t) (end - p));

                if (!close)
                        return -EINVAL;
                h = p + 1;
                hlen = (size_t) (close - h);
                after = close + 1;
        } else {
                const char *colon = memchr(p, ':', (size_t) (end - p));

                h = p;
                after = colon ?: end;
                hlen = (size_t) (after - p);
        }
        if (hlen == 0 || hlen >= host_size)
                return -EINVAL;

        if (after < end) {
                char *e = NULL;

                if (*after != ':' || after + 1 == end || after[1] < '0' || after[1] > '9')
                        return -EINVAL;
                errno = 0;
                port = strtol(after + 1, &e, 10);
                if (errno != 0 || e != end || port < 1 || port > 65535)
                        return -EINVAL;
        }

        if (strlen(end) + 2 > path_size)
                return -EINVAL;
        (void) snprintf(path, path_size, *end == '/' ? "%s" : "/%s", end);

        memcpy(host, h, hlen);
        host[hlen] = 0;
        *ret_port = (int) port;
        return 0;
}

int ws_context_connect(WsContext *ctx, const char *url, WsConn **ret) {
        char host[256], path[1024], peer[WS_PEER_MAX];
        struct lws *wsi;
        WsConn *c;
        int port, r;

        r = ws_parse_url(url, host, sizeof host, &port, path, sizeof path);
        if (r < 0)
                return r;
        if (ctx->freeing)
                return -ESHUTDOWN;
        (void) snprintf(peer, sizeof peer, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
        r = ws_conn_new(ctx, true, peer, &c);
        if (r < 0)
                return r;

        /* No .protocol: no Sec-WebSocket-Protocol header, as the original Python clients do. */
        wsi = lws_client_connect_via_info(&(struct lws_client_connect_info){
                .context = ctx->lws,
                .vhost = ctx->vhost,
                .address = host,
                .port = port,
                .path = path,
                .host = peer,
                .local_protocol_name = WS_PROTOCOL_NAME,
                .opaque_user_data = c,
                .pwsi = &c->wsi,
                .retry_and_idle_policy = ctx->config.ping_interval_sec > 0 ? &ctx->retry : NULL,
        });
        if (!wsi && !c->dead) {
                /* lws gave up within the call (and freed the wsi): report it from the loop, like any
                 * other failure. */
                if (!c->error[0])
                        (void) snprintf(c->error, sizeof c->error, "address lookup or connect failed");
                ws_conn_detach(c);
        }
        ws_context_kick(ctx);
        if (ret)
                *ret = c;
        return 0;
}

/* ---- context ---- */

static void ws_config_defaults(WsConfig *c) {
        if (c->max_message == 0)
                c->max_message = WS_MAX_MESSAGE_DEFAULT;
        if (c->max_queue_messages == 0)
                c->max_queue_messages = WS_MAX_QUEUE_MESSAGES_DEFAULT;
        if (c->max_queue_bytes == 0)
                c->max_queue_bytes = WS_MAX_QUEUE_BYTES_DEFAULT;
}

static int ws_context_setup_sources(WsContext *ctx) {
        int r;

        r = sd_event_add_defer(ctx->event, &ctx->dead_source, on_dead, ctx);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(ctx->dead_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(ctx->dead_source, "ws-closed");

        r = sd_event_add_time_relative(ctx->event, &ctx->accept_pause_source, CLOCK_MONOTONIC,
                                       WS_ACCEPT_PAUSE_USEC, 0, on_accept_pause_done, ctx);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(ctx->accept_pause_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(ctx->accept_pause_source, "ws-accept-pause");
        return 0;
}

static int ws_context_setup_lws(WsContext *ctx) {
        void *loops[] = { uv_event_get_loop(ctx->uv) };
        struct lws_context_creation_info info = {
                .port = CONTEXT_PORT_NO_LISTEN,
                .gid = -1,
                .uid = -1,
                .options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS,
                .foreign_loops = loops,
                .pcontext = &ctx->lws,
        };
        struct lws_context_creation_info vinfo = {
                .port = CONTEXT_PORT_NO_LISTEN_SERVER, /* we accept(), lws adopts */
                .gid = -1,
                .uid = -1,
                .vhost_name = "default",
                .protocols = ctx->protocols,
        };

        ctx->protocols[0] = (struct lws_protocols){
                .name = WS_PROTOCOL_NAME,
                .callback = ws_lws_callback,
                /* One send() per frame: by default lws cuts writes at the rx buffer size and copies
                 * the rest aside. */
                .tx_packet_size = ctx->config.max_message + LWS_PRE + 16,
        };
        if (ctx->config.ping_interval_sec > 0) {
                uint16_t ping = (uint16_t) MIN(ctx->config.ping_interval_sec, UINT16_MAX / 3U);

                ctx->retry = (lws_retry_bo_t){ .secs_since_valid_ping = ping,
                                               .secs_since_valid_hangup = ping * 3 };
                vinfo.retry_and_idle_policy = &ctx->retry;
        }

        /* Only errors, through our log, rate-limited: lws is chatty at notice level. All of it at
         * our debug level, for debugging. */
        lws_set_log_level(log_get_max_level() >= LOG_DEBUG ? LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO
                                                           : LLL_ERR,
                          ws_lws_log);

        ctx->lws = lws_create_context(&info);
        if (!ctx->lws)
                return -EIO; /* lws logged why, e.g. a missing libwebsockets-evlib_uv.so */
        ctx->vhost = lws_create_vhost(ctx->lws, &vinfo);
        if (!ctx->vhost)
                return -EIO;
        return 0;
}

int ws_context_new(WsContext **ret, sd_event *e, const WsConfig *config, const WsHandlers *handlers,
                   void *userdata) {
        _cleanup_(ws_context_freep) WsContext *ctx = NULL;
        int r;

        ctx = calloc(1, sizeof *ctx);
        if (!ctx)
                return -ENOMEM;
        ctx->event = sd_event_ref(e);
        if (config)
                ctx->config = *config;
        ws_config_defaults(&ctx->config);
        if (handlers)
                ctx->handlers = *handlers;
        ctx->userdata = userdata;

        ctx->batch = malloc(LWS_PRE + WS_BATCH_MAX);
        if (!ctx->batch)
                return -ENOMEM;
        if (getrandom(&ctx->mask_state, sizeof ctx->mask_state, GRND_NONBLOCK) != sizeof ctx->mask_state)
                ctx->mask_state = (uint32_t) time(NULL) ^ (uint32_t) getpid();
        ctx->mask_state |= 1; /* xorshift never leaves 0 */

        r = ws_context_setup_sources(ctx);
        if (r < 0)
                return r;
        r = uv_event_new(&ctx->uv, e);
        if (r < 0)
                return r;
        r = ws_context_setup_lws(ctx);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(ctx);
        return 0;
}

static void ws_context_drain_uv(WsContext *ctx) {
        for (unsigned i = 0; i < WS_SHUTDOWN_ROUNDS; i++)
                if (!uv_event_run_once(ctx->uv))
                        break;
}

/* With a foreign loop, lws_context_destroy() closes every connection but only starts closing its
 * uv handles; once the loop has run them down, a second call completes the destruction. */
static void ws_context_destroy_lws(WsContext *ctx) {
        if (!ctx->lws)
                return;
        lws_context_destroy(ctx->lws);
        ws_context_drain_uv(ctx);
        if (ctx->lws) {
                lws_context_destroy(ctx->lws);
                ws_context_drain_uv(ctx);
        }
        ctx->lws = NULL;
        ctx->vhost = NULL;
}

WsContext *ws_context_free(WsContext *ctx) {
        if (!ctx)
                return NULL;

        ctx->freeing = true;
        while (ctx->listeners) {
                WsListener *l = ctx->listeners;

                ctx->listeners = l->next;
                ws_listener_free(l);
        }
        for (WsConn *c = ctx->conns; c; c = c->next)
                if (!c->opened && !c->error[0])
                        (void) snprintf(c->error, sizeof c->error, "shutting down");
        if (ctx->uv)
                ws_context_destroy_lws(ctx);

        /* Whatever lws did not report gone is gone now; every connection gets its final callback. */
        while (ctx->conns)
                ws_conn_detach(ctx->conns);
        while (ctx->dead)
                ws_context_flush_dead(ctx);

        sd_event_source_disable_unref(ctx->dead_source);
        sd_event_source_disable_unref(ctx->accept_pause_source);
        uv_event_free(ctx->uv);
        sd_event_unref(ctx->event);
        free(ctx->batch);
        return mfree(ctx);
}
