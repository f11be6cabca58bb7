/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench-net.h"
#include "bench-util.h"
#include "bench-ws.h"

#define CONNECT_TIMEOUT_NS (5 * NSEC_PER_SEC)
/* The longest single wait of the loop, so that conditions set outside callbacks are seen. */
#define RUN_SLICE_USEC (50 * USEC_PER_MSEC)

/* Raw connections: what one recv() may bring; the largest message (as the glue's roomy default);
 * recv() calls per connection and dispatch when each fills the buffer (the rest waits for the next
 * loop pass); ready connections served per dispatch. */
#define RAW_RX_SIZE        (256 * 1024)
#define RAW_MESSAGE_MAX    (1024 * 1024)
#define RAW_READS_MAX      8
#define RAW_EVENTS_MAX     64
#define RAW_CLOSE_NORMAL   1000
#define RAW_CLOSE_PROTOCOL 1002
#define RAW_CLOSE_TOO_BIG  1009

struct BenchNet {
        sd_event *event;
        WsContext *ws;
        BenchConn *conns;
        int epoll_fd; /* the raw connections; -EBADF until the first */
        sd_event_source *raw_source;
        /* Raw connections with frames written since the last pass: sent at its end, together. */
        sd_event_source *flush_source;
        BenchConn *to_flush;
        bool freeing; /* connections closed now are closed by us: no on_close */
};

struct BenchRaw {
        int fd;
        bool want_out; /* EPOLLOUT on: the kernel took less than we had */
        bool to_flush; /* in the net's to_flush list */
        BenchConn *next_to_flush;
        /* Received and not yet parsed: rx[0 .. rx_size). One byte of rx_alloc stays free, for the
         * NUL after a message handed over in place. */
        char *rx;
        size_t rx_size, rx_alloc;
        /* A fragmented message being put together. */
        char *msg;
        size_t msg_size, msg_alloc;
        bool in_message, msg_text;
        /* Frames written and not yet taken by the kernel: tx[tx_start .. tx_size). */
        unsigned char *tx;
        size_t tx_start, tx_size, tx_alloc;
};

static void on_open(WsConn *conn, void *userdata) {
        BenchConn *c = ws_conn_get_userdata(conn);

        if (c)
                c->open = true;
}

static void on_message(WsConn *conn, const char *data, size_t size, void *userdata) {
        BenchConn *c = ws_conn_get_userdata(conn);

        if (!c)
                return;
        c->n_received++;
        c->rx_ns = bench_now_ns();
        if (c->on_message)
                c->on_message(c, data, size, c->userdata);
}

/* A connection is over: said once to its on_close, unless we are closing it. */
static void conn_gone(BenchConn *c) {
        bool was_closed = c->closed;

        c->open = false;
        c->closed = true;
        if (!was_closed && c->on_close && !c->net->freeing)
                c->on_close(c, c->userdata);
}

static void on_gone(BenchConn *c) {
        if (!c)
                return;
        c->conn = NULL;
        conn_gone(c);
}

static void on_close(WsConn *conn, void *userdata) {
        on_gone(ws_conn_get_userdata(conn));
}

static void on_connect_error(WsConn *conn, const char *reason, void *userdata) {
        on_gone(ws_conn_get_userdata(conn));
}

/* Raw connections (bench-ws.h for the wire). */

static void raw_free(BenchRaw *r) {
        if (!r)
                return;
        safe_close(r->fd);
        free(r->rx);
        free(r->msg);
        free(r->tx);
        free(r);
}

/* The connection is over, for whatever reason: like a close on the glue. */
static void raw_gone(BenchConn *c) {
        BenchRaw *r = c->raw;

        if (r->fd >= 0) {
                (void) epoll_ctl(c->net->epoll_fd, EPOLL_CTL_DEL, r->fd, NULL);
                r->fd = safe_close(r->fd);
        }
        r->rx_size = r->tx_start = r->tx_size = 0;
        r->in_message = false;
        conn_gone(c);
}

static int raw_watch(BenchConn *c, bool out) {
        struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c };

        if (epoll_ctl(c->net->epoll_fd, EPOLL_CTL_MOD, c->raw->fd, &ev) < 0)
                return -errno;
        c->raw->want_out = out;
        return 0;
}

/* Hands the kernel what it takes of tx; EPOLLOUT on while something is left. */
static int raw_write(BenchConn *c) {
        BenchRaw *r = c->raw;

        while (r->tx_start < r->tx_size) {
                ssize_t n = send(r->fd, r->tx + r->tx_start, r->tx_size - r->tx_start, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return r->want_out ? 0 : raw_watch(c, true);
                if (n < 0) {
                        int e = -errno;

                        raw_gone(c);
                        return e;
                }
                r->tx_start += (size_t) n;
        }
        r->tx_start = r->tx_size = 0;
        return r->want_out ? raw_watch(c, false) : 0;
}

/* One final frame, masked, after whatever is waiting; written at once unless the kernel is full. */
static int raw_send(BenchConn *c, unsigned opcode, const void *data, size_t size) {
        BenchRaw *r = c->raw;
        size_t need;

        if (c->closed)
                return -ENOTCONN;
        need = r->tx_size + BENCH_WS_HEADER_MAX + size;
        if (need > r->tx_alloc) {
                size_t alloc = MAX(need, r->tx_alloc * 2);
                unsigned char *p;

                if (r->tx_start > 0) { /* the kernel is behind: keep only what it has not taken */
                        memmove(r->tx, r->tx + r->tx_start, r->tx_size - r->tx_start);
                        r->tx_size -= r->tx_start;
                        r->tx_start = 0;
                }
                p = realloc(r->tx, alloc);
                if (!p)
                        return -ENOMEM;
                r->tx = p;
                r->tx_alloc = alloc;
        }
        r->tx_size += bench_ws_client_header(r->tx + r->tx_size, opcode, size);
        bench_ws_mask(r->tx + r->tx_size, data, size);
        r->tx_size += size;
        /* Else EPOLLOUT writes it, or the flush is due anyway; a net being freed writes at once. */
        if (!r->want_out && !r->to_flush && !c->net->freeing) {
                r->to_flush = true;
                r->next_to_flush = c->net->to_flush;
                c->net->to_flush = c;
                (void) sd_event_source_set_enabled(c->net->flush_source, SD_EVENT_ONESHOT);
        }
        return 0;
}

/* The end of a loop pass: every frame written in it leaves, one send() per connection, as the glue
 * sends what was queued in a pass (ws_conn_fill_batch()): the bus sees the same writes from either. */
static int on_raw_flush(sd_event_source *s, void *userdata) {
        BenchNet *n = ASSERT_PTR(userdata);

        while (n->to_flush) {
                BenchConn *c = n->to_flush;

                n->to_flush = c->raw->next_to_flush;
                c->raw->to_flush = false;
                if (!c->closed && !c->raw->want_out)
                        (void) raw_write(c); /* a failed write closed it */
        }
        return 0;
}

/* A close frame with `code` (best effort: the socket goes at once), then gone. */
static void raw_close(BenchConn *c, uint16_t code) {
        unsigned char payload[2] = { (unsigned char) (code >> 8), (unsigned char) code };

        if (raw_send(c, BENCH_WS_CLOSE, payload, sizeof payload) >= 0 && !c->raw->want_out)
                (void) raw_write(c); /* now: the socket goes next */
        if (!c->closed)
                raw_gone(c);
}

static void raw_deliver(BenchConn *c, char *data, size_t size) {
        char saved = data[size];

        /* NUL-terminated as on the glue: the byte after the payload is ours (rx keeps one spare,
         * msg is allocated with one more), and given back afterwards. */
        data[size] = 0;
        c->n_received++;
        if (c->on_message)
                c->on_message(c, data, size, c->userdata);
        data[size] = saved;
}

static int raw_message_append(BenchRaw *r, const char *data, size_t size) {
        if (r->msg_size + size > RAW_MESSAGE_MAX)
                return -EMSGSIZE;
        if (r->msg_size + size + 1 > r->msg_alloc) {
                size_t alloc =
                        MAX(r->msg_size + size + 1, MIN(r->msg_alloc * 2, (size_t) RAW_MESSAGE_MAX + 1));
                char *p = realloc(r->msg, alloc);

                if (!p)
                        return -ENOMEM;
                r->msg = p;
                r->msg_alloc = alloc;
        }
        memcpy(r->msg + r->msg_size, data, size);
        r->msg_size += size;
        return 0;
}

/* One whole frame, its payload at data. < 0: the connection is to be closed with that reason. */
static int raw_frame(BenchConn *c, const BenchWsFrame *f, char *data) {
        BenchRaw *r = c->raw;
        size_t size = (size_t) f->size;
        int k;

        switch (f->opcode) {
        case BENCH_WS_PING:
                (void) raw_send(c, BENCH_WS_PONG, data, size); /* a failed send closed it */
                return 0;
        case BENCH_WS_PONG:
                return 0;
        case BENCH_WS_CLOSE:
                /* Answer with its code (RFC 6455 5.5.1) and go: the server closes the TCP side. */
                if (raw_send(c, BENCH_WS_CLOSE, data, MIN(size, (size_t) 2)) >= 0 && !c->raw->want_out)
                        (void) raw_write(c);
                if (!c->closed)
                        raw_gone(c);
                return 0;
        case BENCH_WS_CONTINUATION:
                if (!r->in_message)
                        return -EPROTO;
                break;
        default: /* text, binary */
                if (r->in_message)
                        return -EPROTO;
                if (f->fin) { /* whole: handed over in place, the common case */
                        if (f->opcode == BENCH_WS_TEXT)
                                raw_deliver(c, data, size);
                        return 0;
                }
                r->in_message = true;
                r->msg_text = f->opcode == BENCH_WS_TEXT;
                r->msg_size = 0;
                break;
        }
        k = raw_message_append(r, data, size);
        if (k < 0)
                return k;
        if (f->fin) {
                r->in_message = false;
                if (r->msg_text)
                        raw_deliver(c, r->msg, r->msg_size);
                r->msg_size = 0;
        }
        return 0;
}

/* Every whole frame in rx; what is left of a frame moves to the front. 1 when rx must grow for the
 * frame at its head, 0 otherwise, < 0: close with that reason. */
static int raw_parse(BenchConn *c) {
        BenchRaw *r = c->raw;
        size_t at = 0;
        int k = 0;

        while (!c->closed) {
                BenchWsFrame f;
                uint64_t whole;

                k = bench_ws_parse_header(r->rx + at, r->rx_size - at, &f);
                if (k <= 0)
                        break;
                if (f.size > RAW_MESSAGE_MAX) {
                        k = -EMSGSIZE;
                        break;
                }
                whole = f.header_size + f.size;
                if (whole > r->rx_size - at) {
                        k = whole + 1 > r->rx_alloc ? 1 : 0;
                        break;
                }
                k = raw_frame(c, &f, r->rx + at + f.header_size);
                if (k < 0)
                        break;
                at += whole;
        }
        if (c->closed)
                return 0;
        if (at > 0) {
                memmove(r->rx, r->rx + at, r->rx_size - at);
                r->rx_size -= at;
        }
        return k;
}

static int raw_grow_rx(BenchRaw *r) {
        /* Room for the largest frame: header, payload, the NUL. */
        size_t alloc = MAX(r->rx_alloc * 2, (size_t) BENCH_WS_HEADER_MAX + RAW_MESSAGE_MAX + 1);
        char *p;

        alloc = MIN(alloc, (size_t) BENCH_WS_HEADER_MAX + RAW_MESSAGE_MAX + 1);
        if (alloc <= r->rx_alloc)
                return -EMSGSIZE;
        p = realloc(r->rx, alloc);
        if (!p)
                return -ENOMEM;
        r->rx = p;
        r->rx_alloc = alloc;
        return 0;
}

/* Reads what is there, a few buffers' worth at most, and hands over every whole message. */
static void raw_receive(BenchConn *c) {
        BenchRaw *r = c->raw;

        for (unsigned i = 0; i < RAW_READS_MAX && !c->closed; i++) {
                size_t room = r->rx_alloc - 1 - r->rx_size;
                ssize_t n = recv(r->fd, r->rx + r->rx_size, room, 0);
                int k;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return;
                if (n <= 0) {
                        raw_gone(c);
                        return;
                }
                r->rx_size += (size_t) n;
                c->rx_ns = bench_now_ns();
                k = raw_parse(c);
                if (k > 0)
                        k = raw_grow_rx(r);
                if (k < 0) {
                        raw_close(c, k == -EMSGSIZE ? RAW_CLOSE_TOO_BIG : RAW_CLOSE_PROTOCOL);
                        return;
                }
                if ((size_t) n < room)
                        return; /* the kernel had no more: do not ask again just to hear EAGAIN */
        }
}

static int on_raw_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        BenchNet *n = ASSERT_PTR(userdata);
        struct epoll_event ev[RAW_EVENTS_MAX];
        int k;

        k = epoll_wait(n->epoll_fd, ev, RAW_EVENTS_MAX, 0);
        for (int i = 0; i < k; i++) {
                BenchConn *c = ev[i].data.ptr;

                if (!c->closed && (ev[i].events & EPOLLOUT))
                        (void) raw_write(c);
                if (!c->closed && (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                        raw_receive(c);
        }
        return 0;
}

static int net_setup_raw(BenchNet *n) {
        int r;

        if (n->raw_source)
                return 0;
        n->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (n->epoll_fd < 0)
                return -errno;
        r = sd_event_add_io(n->event, &n->raw_source, n->epoll_fd, EPOLLIN, on_raw_ready, n);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(n->raw_source, "bench-raw-connections");
        r = sd_event_add_defer(n->event, &n->flush_source, on_raw_flush, n);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(n->flush_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(n->flush_source, "bench-raw-flush");
        return 0;
}

int bench_conn_connect_raw(BenchNet *n, const char *url, BenchConn **ret) {
        BenchConn *c;
        BenchRaw *raw;
        struct epoll_event ev = { .events = EPOLLIN };
        int one = 1, r;

        r = net_setup_raw(n);
        if (r < 0)
                return r;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        raw = calloc(1, sizeof *raw);
        if (!raw) {
                free(c);
                return -ENOMEM;
        }
        raw->fd = -EBADF;
        c->net = n;
        c->raw = raw;
        c->closed = true; /* until it is up */
        c->next = n->conns;
        n->conns = c;

        raw->rx_alloc = RAW_RX_SIZE;
        raw->rx = malloc(raw->rx_alloc);
        if (!raw->rx)
                return -ENOMEM;
        /* Frames that came with the answer wait in rx for the next bytes (the bus sends nothing
         * before it is spoken to). */
        r = bench_ws_connect(url, CONNECT_TIMEOUT_NS, raw->rx, raw->rx_alloc - 1, &raw->rx_size);
        if (r < 0)
                return r == -EPROTO ? -ECONNREFUSED : r;
        raw->fd = r;
        /* As lws does for its clients: small frames leave at once. */
        (void) setsockopt(raw->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (fcntl(raw->fd, F_SETFL, fcntl(raw->fd, F_GETFL) | O_NONBLOCK) < 0)
                return -errno;
        ev.data.ptr = c;
        if (epoll_ctl(n->epoll_fd, EPOLL_CTL_ADD, raw->fd, &ev) < 0)
                return -errno;
        c->closed = false;
        c->open = true;
        *ret = c;
        return 0;
}

int bench_net_new_on(BenchNet **ret, sd_event *event, const WsConfig *config) {
        static const WsHandlers handlers = {
                .on_open = on_open,
                .on_message = on_message,
                .on_close = on_close,
                .on_connect_error = on_connect_error,
        };
        WsConfig roomy = { .max_message = 1024 * 1024,
                           .max_queue_messages = 1u << 22,
                           .max_queue_bytes = 1024u * 1024 * 1024 };
        _cleanup_(bench_net_freep) BenchNet *n = calloc(1, sizeof *n);
        int r;

        if (!n)
                return -ENOMEM;
        n->epoll_fd = -EBADF;
        n->event = sd_event_ref(event);
        r = ws_context_new(&n->ws, n->event, config ?: &roomy, &handlers, n);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(n);
        return 0;
}

int bench_net_new(BenchNet **ret, const WsConfig *config) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        int r;

        r = sd_event_new(&e);
        if (r < 0)
                return r;
        return bench_net_new_on(ret, e, config);
}

BenchNet *bench_net_free(BenchNet *n) {
        if (!n)
                return NULL;
        n->freeing = true;
        n->ws = ws_context_free(n->ws);
        n->raw_source = sd_event_source_disable_unref(n->raw_source);
        n->flush_source = sd_event_source_disable_unref(n->flush_source);
        while (n->conns) {
                BenchConn *c = n->conns;

                n->conns = c->next;
                if (c->raw && !c->closed)
                        raw_close(c, RAW_CLOSE_NORMAL); /* as the glue leaves: with a close frame */
                raw_free(c->raw);
                free(c);
        }
        safe_close(n->epoll_fd);
        sd_event_unref(n->event);
        return mfree(n);
}

sd_event *bench_net_event(BenchNet *n) {
        return n->event;
}

int bench_net_run_until(BenchNet *n, bool (*cond)(void *userdata), void *userdata, uint64_t timeout_ns) {
        uint64_t deadline = bench_now_ns() + timeout_ns;

        while (!cond(userdata)) {
                uint64_t now = bench_now_ns(), left_usec;
                int r;

                if (now >= deadline)
                        return -ETIMEDOUT;
                left_usec = (deadline - now) / NSEC_PER_USEC;
                r = sd_event_run(n->event, MIN(left_usec, RUN_SLICE_USEC));
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool never(void *userdata) {
        return false;
}

void bench_net_run_for(BenchNet *n, uint64_t ns) {
        (void) bench_net_run_until(n, never, NULL, ns);
}

static bool conn_settled(void *userdata) {
        BenchConn *c = userdata;

        return c->open || c->closed;
}

int bench_conn_connect(BenchNet *n, const char *url, BenchConn **ret) {
        BenchConn *c = calloc(1, sizeof *c);
        int r;

        if (!c)
                return -ENOMEM;
        c->net = n;
        c->next = n->conns;
        n->conns = c;

        r = ws_context_connect(n->ws, url, &c->conn);
        if (r < 0)
                return r;
        ws_conn_set_userdata(c->conn, c);
        r = bench_net_run_until(n, conn_settled, c, CONNECT_TIMEOUT_NS);
        if (r < 0)
                return r;
        if (!c->open)
                return -ECONNREFUSED;
        *ret = c;
        return 0;
}

int bench_conn_send(BenchConn *c, const char *data, size_t size) {
        if (c->raw)
                return raw_send(c, BENCH_WS_TEXT, data, size);
        if (!c->conn)
                return -ENOTCONN;
        return ws_conn_send_text(c->conn, data, size);
}

int bench_conn_register(BenchConn *c, const char *role) {
        char frame[96];
        int n;

        n = snprintf(frame, sizeof frame, "{\"cmd\": \"register\", \"type\": \"%s\"}", role);
        return bench_conn_send(c, frame, (size_t) n);
}

size_t bench_conn_queued(BenchConn *c) {
        if (c->raw)
                return c->raw->tx_size - c->raw->tx_start;
        return c->conn ? ws_conn_queued_messages(c->conn) : 0;
}

static bool conn_flushed(void *userdata) {
        BenchConn *c = userdata;

        return c->closed || bench_conn_queued(c) == 0;
}

int bench_conn_flush(BenchConn *c, uint64_t timeout_ns) {
        int r = bench_net_run_until(c->net, conn_flushed, c, timeout_ns);

        if (r < 0)
                return r;
        return c->closed ? -ENOTCONN : 0;
}
