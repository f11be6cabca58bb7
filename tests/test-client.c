/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "macro.h"
#include "test-client.h"

struct TestNet {
        sd_event *event;
        WsContext *ws;
        TestClient *clients;  /* all clients ever made, freed with the net */
        TestClient *accepted; /* the newest accepted connection */
        size_t n_accepted;
};

static TestClient *test_client_add(TestNet *n) {
        TestClient *c = calloc(1, sizeof *c);

        if (!c)
                abort();
        c->net = n;
        c->next = n->clients;
        n->clients = c;
        return c;
}

static void on_open(WsConn *conn, void *userdata) {
        TestClient *c = ws_conn_get_userdata(conn);
        TestNet *n = userdata;

        if (!c && !ws_conn_is_client(conn)) {
                c = test_client_add(n);
                c->conn = conn;
                ws_conn_set_userdata(conn, c);
                n->accepted = c;
                n->n_accepted++;
        }
        if (c)
                c->open = true;
}

static void on_message(WsConn *conn, const char *data, size_t size, void *userdata) {
        TestClient *c = ws_conn_get_userdata(conn);

        if (!c)
                return;
        if (c->n_messages == c->n_allocated) {
                size_t n = MAX(c->n_allocated * 2, (size_t) 64);
                char **m = realloc(c->messages, n * sizeof(char *));
                if (!m)
                        abort();
                c->messages = m;
                c->n_allocated = n;
        }
        c->messages[c->n_messages] = strndup(data, size);
        if (!c->messages[c->n_messages])
                abort();
        c->n_messages++;
}

static void on_close(WsConn *conn, void *userdata) {
        TestClient *c = ws_conn_get_userdata(conn);

        if (!c)
                return;
        c->closed = true;
        c->close_code = ws_conn_get_close_code(conn);
        c->conn = NULL;
}

static void on_connect_error(WsConn *conn, const char *reason, void *userdata) {
        TestClient *c = ws_conn_get_userdata(conn);

        if (!c)
                return;
        c->connect_failed = true;
        c->closed = true;
        c->conn = NULL;
}

int test_net_new(TestNet **ret) {
        static const WsHandlers handlers = {
                .on_open = on_open,
                .on_message = on_message,
                .on_close = on_close,
                .on_connect_error = on_connect_error,
        };
        WsConfig config = { .max_message = 16 * 1024 * 1024,
                            .max_queue_messages = 1u << 20,
                            .max_queue_bytes = 256u * 1024 * 1024 };
        TestNet *n = calloc(1, sizeof *n);
        int r;

        if (!n)
                return -ENOMEM;
        r = sd_event_new(&n->event);
        if (r >= 0)
                r = ws_context_new(&n->ws, n->event, &config, &handlers, n);
        if (r < 0) {
                test_net_free(n);
                return r;
        }
        *ret = n;
        return 0;
}

TestNet *test_net_free(TestNet *n) {
        if (!n)
                return NULL;
        n->ws = ws_context_free(n->ws);
        for (TestClient *c = n->clients, *next; c; c = next) {
                next = c->next;
                for (size_t i = 0; i < c->n_messages; i++)
                        free(c->messages[i]);
                free(c->messages);
                free(c);
        }
        sd_event_unref(n->event);
        return mfree(n);
}

sd_event *test_net_event(TestNet *n) {
        return n->event;
}

static long long now_ms(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int test_net_run_until(TestNet *n, bool (*cond)(void *userdata), void *userdata, int timeout_ms) {
        long long deadline = now_ms() + timeout_ms;

        while (!cond(userdata)) {
                long long left = deadline - now_ms();

                if (left <= 0)
                        return -ETIMEDOUT;
                harness_drain_notify();
                (void) sd_event_run(n->event, (uint64_t) MIN(left, 20LL) * USEC_PER_MSEC);
        }
        return 0;
}

static bool never(void *userdata) {
        return false;
}

void test_net_run_for(TestNet *n, int ms) {
        (void) test_net_run_until(n, never, NULL, ms);
}

int test_net_listen(TestNet *n, int *ret_port) {
        int fd = harness_listen_tcp(ret_port);

        if (fd < 0)
                return fd;
        return ws_context_listen(n->ws, fd);
}

static bool enough_accepted(void *userdata) {
        TestNet *n = ((void **) userdata)[0];
        size_t *count = ((void **) userdata)[1];

        return n->n_accepted >= *count;
}

int test_net_wait_accepted(TestNet *n, size_t count, int timeout_ms, TestClient **ret) {
        void *args[] = { n, &count };
        int r = test_net_run_until(n, enough_accepted, args, timeout_ms);

        if (r < 0)
                return r;
        if (ret)
                *ret = n->accepted;
        return 0;
}

int test_client_connect_async(TestNet *n, const char *url, TestClient **ret) {
        TestClient *c = test_client_add(n);
        int r;

        r = ws_context_connect(n->ws, url, &c->conn);
        if (r < 0)
                return r;
        ws_conn_set_userdata(c->conn, c);
        *ret = c;
        return 0;
}

static bool client_settled(void *userdata) {
        TestClient *c = userdata;

        return c->open || c->closed;
}

int test_client_connect(TestNet *n, const char *url, TestClient **ret) {
        TestClient *c;
        int r;

        r = test_client_connect_async(n, url, &c);
        if (r < 0)
                return r;
        r = test_net_run_until(n, client_settled, c, 5000);
        if (r < 0)
                return r;
        if (!c->open)
                return -ECONNREFUSED;
        *ret = c;
        return 0;
}

static bool queue_empty(void *userdata) {
        TestClient *c = userdata;

        return !c->conn || ws_conn_queued_messages(c->conn) == 0;
}

int test_client_send_size(TestClient *c, const char *data, size_t size) {
        int r;

        if (!c->conn)
                return -ENOTCONN;
        r = ws_conn_send_text(c->conn, data, size);
        if (r < 0)
                return r;
        /* Sending is synchronous for tests: the frame has left when this returns. */
        return test_net_run_until(c->net, queue_empty, c, 10000);
}

int test_client_send(TestClient *c, const char *text) {
        return test_client_send_size(c, text, strlen(text));
}

int test_client_register(TestClient *c, const char *role) {
        char frame[128];
        int r;

        (void) snprintf(frame, sizeof frame, "{\"cmd\": \"register\", \"type\": \"%s\"}", role);
        r = test_client_send(c, frame);
        if (r < 0)
                return r;
        test_net_run_for(c->net, 50);
        return 0;
}

typedef struct CountWait {
        TestClient *c;
        size_t count;
} CountWait;

static bool has_count(void *userdata) {
        CountWait *w = userdata;

        return w->c->n_messages >= w->count;
}

int test_client_wait_messages(TestClient *c, size_t count, int timeout_ms) {
        CountWait w = { c, count };

        return test_net_run_until(c->net, has_count, &w, timeout_ms);
}

static bool is_closed(void *userdata) {
        return ((TestClient *) userdata)->closed;
}

int test_client_wait_closed(TestClient *c, int timeout_ms) {
        return test_net_run_until(c->net, is_closed, c, timeout_ms);
}

const char *test_client_message(TestClient *c, size_t i) {
        return i < c->n_messages ? c->messages[i] : NULL;
}

void test_client_close(TestClient *c) {
        if (c->conn)
                ws_conn_close(c->conn, WS_CLOSE_NORMAL, NULL);
}
