/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-net.h"
#include "bench-util.h"

#define CONNECT_TIMEOUT_NS (5 * NSEC_PER_SEC)
/* The longest single wait of the loop, so that conditions set outside callbacks are seen. */
#define RUN_SLICE_USEC (50 * USEC_PER_MSEC)

struct BenchNet {
        sd_event *event;
        WsContext *ws;
        BenchConn *conns;
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
        if (c->on_message)
                c->on_message(c, data, size, c->userdata);
}

static void on_gone(BenchConn *c) {
        if (!c)
                return;
        c->closed = true;
        c->conn = NULL;
}

static void on_close(WsConn *conn, void *userdata) {
        on_gone(ws_conn_get_userdata(conn));
}

static void on_connect_error(WsConn *conn, const char *reason, void *userdata) {
        on_gone(ws_conn_get_userdata(conn));
}

int bench_net_new(BenchNet **ret, const WsConfig *config) {
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
        r = sd_event_new(&n->event);
        if (r < 0)
                return r;
        r = ws_context_new(&n->ws, n->event, config ?: &roomy, &handlers, n);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(n);
        return 0;
}

BenchNet *bench_net_free(BenchNet *n) {
        if (!n)
                return NULL;
        n->ws = ws_context_free(n->ws);
        while (n->conns) {
                BenchConn *c = n->conns;

                n->conns = c->next;
                free(c);
        }
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
        return c->conn ? ws_conn_queued_messages(c->conn) : 0;
}

static bool conn_flushed(void *userdata) {
        BenchConn *c = userdata;

        return !c->conn || ws_conn_queued_messages(c->conn) == 0;
}

int bench_conn_flush(BenchConn *c, uint64_t timeout_ns) {
        int r = bench_net_run_until(c->net, conn_flushed, c, timeout_ns);

        if (r < 0)
                return r;
        return c->conn ? 0 : -ENOTCONN;
}
