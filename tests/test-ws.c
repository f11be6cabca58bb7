/* SPDX-License-Identifier: MIT */
/*
 * The WebSocket glue end to end: a server context and a client context on one sd_event, talking over
 * loopback on an ephemeral port; a raw TCP peer (hand-made frames) for what the glue's own client
 * never sends: fragments, binary frames, a reset in the middle of a frame.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "log.h"
#include "ws.h"

#define MAX_PEERS 256

/* What the test saw of one connection; the WsConn's userdata. */
typedef struct Peer {
        WsConn *conn;
        bool opened, closed, connect_error;
        char reason[128];    /* on_connect_error's */
        uint16_t close_code; /* the peer's close code, read in on_close */
        unsigned n_messages, n_binary;
        char *last;
        size_t last_size;
        unsigned next_seq; /* for ordered streams "seq N ..." */
        bool out_of_order;
        bool broadcast; /* server side: relay every message to all open server peers but this one */
} Peer;

typedef struct Side {
        WsContext *ctx;
        Peer *peers[MAX_PEERS];
        unsigned n_peers, n_open, n_closed, n_errors, n_refused;
        unsigned n_messages;
        struct Fixture *f;
} Side;

typedef struct Fixture {
        sd_event *event;
        Side server, client;
        int port;
        char url[64];
        bool relay; /* server relays each message to every other open peer */
} Fixture;

static Peer *peer_new(Side *s, WsConn *c) {
        Peer *p = calloc(1, sizeof *p);

        assert_non_null(p);
        assert_true(s->n_peers < MAX_PEERS);
        p->conn = c;
        s->peers[s->n_peers++] = p;
        ws_conn_set_userdata(c, p);
        return p;
}

static void on_open(WsConn *c, void *userdata) {
        Side *s = userdata;
        Peer *p = ws_conn_get_userdata(c) ?: peer_new(s, c);

        p->opened = true;
        s->n_open++;
}

static void relay(Fixture *f, WsConn *from, const char *data, size_t size) {
        WsMessage *m = NULL;

        assert_int_equal(ws_message_new(&m, data, size), 0);
        for (unsigned i = 0; i < f->server.n_peers; i++) {
                Peer *p = f->server.peers[i];

                if (p->conn != from && p->opened && !p->closed)
                        assert_int_equal(ws_conn_send(p->conn, m), 0);
        }
        ws_message_unref(m);
}

static void on_message(WsConn *c, const char *data, size_t size, void *userdata) {
        Side *s = userdata;
        Peer *p = ws_conn_get_userdata(c);
        unsigned seq;

        assert_non_null(p);
        assert_int_equal(data[size], 0);
        s->n_messages++;
        p->n_messages++;
        if (sscanf(data, "seq %u", &seq) == 1) {
                if (seq != p->next_seq)
                        p->out_of_order = true;
                p->next_seq = seq + 1;
        }
        if (s == &s->f->server && s->f->relay) {
                relay(s->f, c, data, size);
                return;
        }
        free(p->last);
        p->last = malloc(size + 1);
        assert_non_null(p->last);
        memcpy(p->last, data, size + 1);
        p->last_size = size;
}

static void on_binary(WsConn *c, const void *data, size_t size, void *userdata) {
        Peer *p = ws_conn_get_userdata(c);

        p->n_binary++;
        p->last_size = size;
}

static void on_close(WsConn *c, void *userdata) {
        Side *s = userdata;
        Peer *p = ws_conn_get_userdata(c);

        assert_non_null(p);
        assert_false(p->closed);
        assert_false(p->connect_error);
        p->closed = true;
        p->close_code = ws_conn_get_close_code(c);
        p->conn = NULL;
        s->n_closed++;
}

static void on_connect_error(WsConn *c, const char *reason, void *userdata) {
        Side *s = userdata;
        Peer *p = ws_conn_get_userdata(c);

        assert_non_null(p);
        assert_non_null(reason);
        assert_false(p->opened);
        assert_false(p->connect_error);
        p->connect_error = true;
        (void) snprintf(p->reason, sizeof p->reason, "%s", reason);
        p->conn = NULL;
        s->n_errors++;
}

static void on_refused(const char *peer, bool per_host, void *userdata) {
        Side *s = userdata;

        assert_false(per_host); /* loopback peers are not counted per host */
        assert_non_null(strstr(peer, "127.0.0.1:"));
        s->n_refused++;
}

static const WsHandlers handlers = {
        .on_open = on_open,
        .on_message = on_message,
        .on_close = on_close,
        .on_connect_error = on_connect_error,
        .on_refused = on_refused,
};

static void side_clear(Side *s) {
        s->ctx = ws_context_free(s->ctx);
        for (unsigned i = 0; i < s->n_peers; i++) {
                free(s->peers[i]->last);
                free(s->peers[i]);
        }
        s->n_peers = 0;
}

static Fixture *fixture_new(const WsConfig *server_config, const WsConfig *client_config,
                            const WsHandlers *sh) {
        Fixture *f = calloc(1, sizeof *f);
        int fd;

        assert_non_null(f);
        assert_int_equal(sd_event_new(&f->event), 0);
        f->server.f = f->client.f = f;
        assert_int_equal(
                ws_context_new(&f->server.ctx, f->event, server_config, sh ?: &handlers, &f->server), 0);
        assert_int_equal(ws_context_new(&f->client.ctx, f->event, client_config, &handlers, &f->client), 0);

        fd = harness_listen_tcp(&f->port);
        assert_true(fd >= 0);
        assert_int_equal(ws_context_listen(f->server.ctx, fd), 0);
        (void) snprintf(f->url, sizeof f->url, "ws://127.0.0.1:%d/", f->port);
        return f;
}

static void fixture_free(Fixture *f) {
        side_clear(&f->client);
        side_clear(&f->server);
        sd_event_unref(f->event);
        free(f);
}

typedef bool (*Condition)(Fixture *f, const void *arg);

/* Runs the loop until cond holds or timeout_ms passes; returns whether it holds. */
static bool run_until(Fixture *f, Condition cond, const void *arg, int timeout_ms) {
        long long deadline = harness_now_ms() + timeout_ms;

        while (!cond(f, arg)) {
                if (harness_now_ms() >= deadline)
                        return false;
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
        }
        return true;
}

static void run_for(Fixture *f, int ms) {
        long long deadline = harness_now_ms() + ms;

        while (harness_now_ms() < deadline)
                assert_true(sd_event_run(f->event, 5 * USEC_PER_MSEC) >= 0);
}

static bool cond_open(Fixture *f, const void *arg) {
        unsigned n = *(const unsigned *) arg;

        return f->server.n_open >= n && f->client.n_open >= n;
}

static bool cond_flag(Fixture *f, const void *arg) {
        return *(const bool *) arg;
}

static bool cond_unsigned_ge(Fixture *f, const void *arg) {
        const unsigned *const *v = arg;

        return *v[0] >= *v[1];
}

static Peer *client_connect_url(Fixture *f, const char *url) {
        WsConn *c = NULL;

        assert_int_equal(ws_context_connect(f->client.ctx, url, &c), 0);
        assert_non_null(c);
        return peer_new(&f->client, c);
}

static Peer *client_connect(Fixture *f) {
        return client_connect_url(f, f->url);
}

/* Connects n clients and waits until both sides saw them open. */
static void connect_clients(Fixture *f, unsigned n) {
        unsigned want = f->client.n_open + n;

        for (unsigned i = 0; i < n; i++)
                (void) client_connect(f);
        assert_true(run_until(f, cond_open, &want, 5000));
}

static char *pattern(size_t size, unsigned seed) {
        char *s = malloc(size + 1);

        assert_non_null(s);
        for (size_t i = 0; i < size; i++)
                s[i] = (char) ('a' + (i * 7 + seed) % 26);
        s[size] = 0;
        return s;
}

/* Waits until *counter reaches n. */
static bool wait_count(Fixture *f, const unsigned *counter, unsigned n) {
        const unsigned *v[] = { counter, &n };

        return run_until(f, cond_unsigned_ge, v, 5000);
}

static bool wait_message(Fixture *f, Peer *p, unsigned n) {
        return wait_count(f, &p->n_messages, n);
}

/* ---- a raw peer: plain TCP, frames made by hand ---- */

static int raw_connect(Fixture *f) {
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_port = htons((uint16_t) f->port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
        return fd;
}

static void raw_send(Fixture *f, int fd, const void *data, size_t size) {
        const char *p = data;
        long long deadline = harness_now_ms() + 5000;

        while (size > 0) {
                ssize_t n = send(fd, p, size, MSG_NOSIGNAL);

                if (n > 0) {
                        p += n;
                        size -= (size_t) n;
                        continue;
                }
                assert_true(n < 0 && errno == EAGAIN);
                assert_true(harness_now_ms() < deadline);
                assert_true(sd_event_run(f->event, 1 * USEC_PER_MSEC) >= 0);
        }
}

/* Reads into buf (NUL-terminated) until `needle` shows up, or returns -ETIMEDOUT or -ECONNRESET. */
static int raw_read_until(Fixture *f, int fd, char *buf, size_t size, size_t *len, const char *needle,
                          size_t needle_len) {
        long long deadline = harness_now_ms() + 5000;

        for (;;) {
                ssize_t n;

                if (memmem(buf, *len, needle, needle_len))
                        return 0;
                if (harness_now_ms() >= deadline)
                        return -ETIMEDOUT;
                n = recv(fd, buf + *len, size - 1 - *len, 0);
                if (n == 0)
                        return -ECONNRESET;
                if (n > 0) {
                        *len += (size_t) n;
                        buf[*len] = 0;
                        continue;
                }
                assert_true(errno == EAGAIN || errno == ECONNRESET);
                if (errno == ECONNRESET)
                        return -ECONNRESET;
                assert_true(sd_event_run(f->event, 1 * USEC_PER_MSEC) >= 0);
        }
}

/* The raw peer's reads turn the loop: the server it talks to runs in this process. */
static void raw_wait(void *userdata) {
        Fixture *f = userdata;

        assert_true(sd_event_run(f->event, 1 * USEC_PER_MSEC) >= 0);
}

static int raw_handshake(Fixture *f) {
        int fd = raw_connect(f);

        assert_int_equal(harness_raw_ws_handshake(fd, 5000, raw_wait, f), 0);
        return fd;
}

static void raw_send_frame(Fixture *f, int fd, bool fin, unsigned opcode, const char *data, size_t size) {
        unsigned char *buf = malloc(size + 14);
        size_t n;

        assert_non_null(buf);
        n = harness_raw_ws_frame(buf, (int) opcode, fin, data, size);
        raw_send(f, fd, buf, n);
        free(buf);
}

static int raw_read_close(Fixture *f, int fd) {
        return harness_raw_ws_read_frames(fd, 5000, NULL, raw_wait, f);
}

/* ---- tests ---- */

static void exchange(Fixture *f, Peer *from, Peer *to, size_t size, unsigned seed) {
        char *data = pattern(size, seed);
        unsigned before = to->n_messages;

        assert_int_equal(ws_conn_send_text(from->conn, data, size), 0);
        assert_true(wait_message(f, to, before + 1));
        assert_int_equal(to->last_size, size);
        assert_memory_equal(to->last, data, size);
        free(data);
}

static void test_open_and_messages(void **state) {
        Fixture *f = fixture_new(NULL, NULL, NULL);
        static const size_t sizes[] = { 1, 1024, 60 * 1024, 0 };
        Peer *c, *s;

        connect_clients(f, 1);
        c = f->client.peers[0];
        s = f->server.peers[0];
        assert_true(c->opened && s->opened);
        assert_true(ws_conn_is_client(c->conn));
        assert_false(ws_conn_is_client(s->conn));
        assert_non_null(strstr(ws_conn_get_peer(s->conn), "127.0.0.1:"));
        {
                char expect[32];

                (void) snprintf(expect, sizeof expect, "127.0.0.1:%d", f->port);
                assert_string_equal(ws_conn_get_peer(c->conn), expect);
        }

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                exchange(f, c, s, sizes[i], (unsigned) i);
                exchange(f, s, c, sizes[i], (unsigned) i + 100);
        }
        assert_int_equal(ws_conn_queued_messages(s->conn), 0);
        assert_int_equal(ws_conn_queued_bytes(s->conn), 0);
        fixture_free(f);
}

static bool cond_peer_closed(Fixture *f, const void *arg) {
        return ((const Peer *) arg)->closed;
}

static void test_too_big(void **state) {
        WsConfig cfg = { .max_message = 64 * 1024 };
        Fixture *f = fixture_new(&cfg, NULL, NULL);
        char *big = pattern(70 * 1024, 1);
        Peer *c, *c2;
        int fd;

        connect_clients(f, 1);
        c = f->client.peers[0];

        /* One frame over the limit: the client hears 1009 and the server goes on. */
        assert_int_equal(ws_conn_send_text(c->conn, big, 70 * 1024), 0);
        assert_true(run_until(f, cond_peer_closed, c, 5000));
        assert_int_equal(c->close_code, WS_CLOSE_TOO_BIG);
        assert_true(run_until(f, cond_peer_closed, f->server.peers[0], 5000));
        assert_int_equal(f->server.peers[0]->n_messages, 0);

        /* Fragments that add up to over the limit: 40 KiB then 30 KiB. */
        fd = raw_handshake(f);
        raw_send_frame(f, fd, false, 0x1, big, 40 * 1024);
        raw_send_frame(f, fd, true, 0x0, big + 40 * 1024, 30 * 1024);
        assert_int_equal(raw_read_close(f, fd), WS_CLOSE_TOO_BIG);
        close(fd);

        /* Fragments within the limit are reassembled into one message. */
        fd = raw_handshake(f);
        raw_send_frame(f, fd, false, 0x1, big, 1000);
        raw_send_frame(f, fd, false, 0x0, big + 1000, 2000);
        raw_send_frame(f, fd, true, 0x0, big + 3000, 3);
        assert_true(wait_count(f, &f->server.n_messages, 1));
        assert_int_equal(f->server.peers[2]->last_size, 3003);
        assert_memory_equal(f->server.peers[2]->last, big, 3003);
        close(fd);

        /* The server is still usable for a new client. */
        c2 = client_connect(f);
        assert_true(run_until(f, cond_flag, &c2->opened, 5000));
        exchange(f, c2, f->server.peers[f->server.n_peers - 1], 100, 7);
        free(big);
        fixture_free(f);
}

static void test_queue_overflow(void **state) {
        WsConfig cfg = { .max_queue_messages = 64, .max_queue_bytes = 1024 * 1024 };
        Fixture *f = fixture_new(&cfg, NULL, NULL);
        char *data = pattern(1024, 3);
        WsMessage *m = NULL;
        unsigned sent = 0, received = 0;
        Peer *s;
        int fd, r = 0;

        /* A raw peer that does not read until told. */
        fd = raw_handshake(f);
        assert_true(wait_count(f, &f->server.n_open, 1));
        s = f->server.peers[0];

        /* Against a peer that does not read, the kernel buffers fill, then the queue: send and
         * run the loop until the queue no longer drains. */
        assert_int_equal(ws_message_new(&m, data, 1024), 0);
        for (unsigned round = 0; round < 1000; round++) {
                size_t before;

                while ((r = ws_conn_send(s->conn, m)) == 0)
                        sent++;
                assert_int_equal(r, -ENOBUFS);
                before = ws_conn_queued_messages(s->conn);
                run_for(f, 5);
                if (ws_conn_queued_messages(s->conn) == before)
                        break;
        }
        assert_int_equal(ws_conn_send(s->conn, m), -ENOBUFS);
        assert_int_equal(ws_conn_queued_messages(s->conn), 64);
        assert_int_equal(ws_conn_queued_bytes(s->conn), 64 * 1024);
        assert_true(sent > 64);
        ws_message_unref(m);

        ws_conn_close(s->conn, WS_CLOSE_POLICY, "send queue overflow");
        assert_int_equal(ws_conn_send_text(s->conn, "x", 1), -ENOTCONN);

        /* Once the peer reads again it gets what was in flight, then the close code. An error
         * close drops the queue: everything but those 64 arrived. */
        assert_int_equal(harness_raw_ws_read_frames(fd, 8000, &received, raw_wait, f), WS_CLOSE_POLICY);
        assert_int_equal(received, sent - 64);
        raw_send_frame(f, fd, true, 0x8, "\x03\xf0", 2); /* answer the close with its code */
        assert_true(run_until(f, cond_peer_closed, s, 5000));
        assert_int_equal(s->close_code, WS_CLOSE_POLICY);
        close(fd);
        free(data);
        fixture_free(f);
}

static void test_queue_bytes_bound(void **state) {
        WsConfig cfg = { .max_queue_messages = 1000, .max_queue_bytes = 10 * 1024 };
        Fixture *f = fixture_new(&cfg, NULL, NULL);
        char *data = pattern(1024, 4);
        Peer *s;

        connect_clients(f, 1);
        s = f->server.peers[0];
        /* Without running the loop nothing leaves the queue. */
        for (unsigned i = 0; i < 10; i++)
                assert_int_equal(ws_conn_send_text(s->conn, data, 1024), 0);
        assert_int_equal(ws_conn_send_text(s->conn, data, 1), -ENOBUFS);
        assert_int_equal(ws_conn_queued_messages(s->conn), 10);
        assert_int_equal(ws_conn_queued_bytes(s->conn), 10 * 1024);
        assert_true(wait_message(f, f->client.peers[0], 10));
        assert_int_equal(ws_conn_queued_bytes(s->conn), 0);
        assert_int_equal(ws_conn_send_text(s->conn, data, 1024), 0);
        free(data);
        fixture_free(f);
}

static void test_broadcast(void **state) {
        WsConfig cfg = { .max_queue_messages = 10000, .max_queue_bytes = 10 * 1024 * 1024 };
        Fixture *f = fixture_new(&cfg, NULL, NULL);
        const unsigned n = 2000;

        connect_clients(f, 4);
        for (unsigned i = 0; i < n; i++) {
                WsMessage *m = NULL;
                char text[64];
                int len = snprintf(text, sizeof text, "seq %u {\"priority\": 3, \"runtime\": 5}", i);

                assert_int_equal(ws_message_new(&m, text, (size_t) len), 0);
                for (unsigned k = 0; k < 4; k++)
                        assert_int_equal(ws_conn_send(f->server.peers[k]->conn, m), 0);
                ws_message_unref(m);
        }
        for (unsigned k = 0; k < 4; k++) {
                Peer *p = f->client.peers[k];

                assert_true(wait_message(f, p, n));
                assert_int_equal(p->n_messages, n);
                assert_false(p->out_of_order);
        }
        fixture_free(f);
}

static void test_many_clients(void **state) {
        Fixture *f = fixture_new(NULL, NULL, NULL);

        connect_clients(f, 100);
        assert_int_equal(f->server.n_open, 100);
        for (unsigned i = 0; i < 100; i++)
                assert_int_equal(ws_conn_send_text(f->client.peers[i]->conn, "hello", 5), 0);
        assert_true(wait_count(f, &f->server.n_messages, 100));

        for (unsigned i = 0; i < 100; i++)
                ws_conn_close(f->client.peers[i]->conn, WS_CLOSE_NORMAL, "bye");
        assert_true(wait_count(f, &f->server.n_closed, 100));
        assert_true(wait_count(f, &f->client.n_closed, 100));
        for (unsigned i = 0; i < 100; i++)
                assert_int_equal(f->server.peers[i]->close_code, WS_CLOSE_NORMAL);
        fixture_free(f);
}

static void test_connect_refused(void **state) {
        Fixture *f = fixture_new(NULL, NULL, NULL);
        int port = harness_free_port();
        long long start;
        WsConn *c = NULL;
        Peer *p;
        char url[64];

        assert_true(port > 0);
        (void) snprintf(url, sizeof url, "ws://127.0.0.1:%d/", port);
        start = harness_now_ms();
        assert_int_equal(ws_context_connect(f->client.ctx, url, &c), 0);
        p = peer_new(&f->client, c);
        assert_true(run_until(f, cond_flag, &p->connect_error, 5000));
        assert_true(harness_now_ms() - start < 2000);
        run_for(f, 50);
        assert_false(p->closed);
        assert_int_equal(f->client.n_closed, 0);

        /* Aborting a connection that is still being set up ends in on_connect_error too. */
        p = client_connect(f);
        ws_conn_close(p->conn, WS_CLOSE_NORMAL, NULL);
        assert_true(run_until(f, cond_flag, &p->connect_error, 5000));
        fixture_free(f);
}

static void test_bad_urls(void **state) {
        Fixture *f = fixture_new(NULL, NULL, NULL);
        static const char *const bad[] = {
                "http://localhost:8101", "ws://",          "ws://:80/",  "ws://host:0/",
                "ws://host:65536",       "ws://host:12x/", "ws://[::1/", "localhost:8101"
        };
        WsConn *c = NULL;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(ws_context_connect(f->client.ctx, bad[i], &c), -EINVAL);
        assert_int_equal(ws_context_connect(f->client.ctx, "wss://localhost:8101/", &c), -EPROTONOSUPPORT);
        assert_int_equal(f->client.n_peers, 0);
        fixture_free(f);
}

static void test_localhost_url(void **state) {
        Fixture *f = fixture_new(NULL, NULL, NULL);
        WsConn *c = NULL;
        char url[64];
        Peer *p;

        /* "localhost" may resolve to ::1 first while the server is on 127.0.0.1 only. */
        (void) snprintf(url, sizeof url, "ws://localhost:%d", f->port);
        assert_int_equal(ws_context_connect(f->client.ctx, url, &c), 0);
        p = peer_new(&f->client, c);
        /* Sent before the connection is open: it waits in the queue. */
        assert_int_equal(ws_conn_send_text(c, "early", 5), 0);
        assert_true(run_until(f, cond_flag, &p->opened, 5000));
        assert_true(wait_count(f, &f->server.n_messages, 1));
        assert_string_equal(f->server.peers[0]->last, "early");
        fixture_free(f);
}

/* A name under .invalid with an empty label: glibc refuses it without asking any name server, so the
 * test stays off the network. The lookup runs off the loop all the same; its failure comes from the
 * loop, with the name in the reason, never from the call. */
#define UNRESOLVABLE_URL "ws://sched..invalid:8101/"

static void test_unresolvable_name(void **state) {
        Fixture *f = fixture_new(NULL, NULL, NULL);
        Peer *p = client_connect_url(f, UNRESOLVABLE_URL);

        assert_int_equal(ws_conn_send_text(p->conn, "early", 5), 0);
        assert_false(p->connect_error);
        assert_true(run_until(f, cond_flag, &p->connect_error, 5000));
        assert_non_null(strstr(p->reason, "cannot resolve sched..invalid: "));
        run_for(f, 50);
        assert_int_equal(f->client.n_closed, 0);
        assert_int_equal(f->client.n_errors, 1);
        fixture_free(f);
}

/* A connection closed, or a context freed, while its host is looked up: one on_connect_error, and
 * nothing once the answer comes. */
static void test_cancel_lookup(void **state) {
        Fixture *f = fixture_new(NULL, NULL, NULL);
        char url[64];
        Peer *p, *q;

        (void) snprintf(url, sizeof url, "ws://localhost:%d", f->port);
        p = client_connect_url(f, url);
        ws_conn_close(p->conn, WS_CLOSE_NORMAL, NULL);
        assert_true(run_until(f, cond_flag, &p->connect_error, 5000));
        assert_string_equal(p->reason, "aborted");

        p = client_connect_url(f, url);
        q = client_connect_url(f, UNRESOLVABLE_URL);
        f->client.ctx = ws_context_free(f->client.ctx);
        assert_true(p->connect_error && q->connect_error);
        assert_string_equal(p->reason, "shutting down");
        assert_string_equal(q->reason, "shutting down");

        run_for(f, 100); /* the answers come to nobody */
        assert_int_equal(f->client.n_errors, 3);
        assert_int_equal(f->server.n_open, 0);
        fixture_free(f);
}

static void test_client_close(void **state) {
        Fixture *f = fixture_new(NULL, NULL, NULL);
        Peer *c, *s;

        connect_clients(f, 1);
        c = f->client.peers[0];
        s = f->server.peers[0];
        /* Queued messages go out before a normal close. */
        assert_int_equal(ws_conn_send_text(c->conn, "last words", 10), 0);
        ws_conn_close(c->conn, WS_CLOSE_NORMAL, "done");
        ws_conn_close(c->conn, WS_CLOSE_POLICY, "ignored: the first close wins");
        assert_true(run_until(f, cond_peer_closed, s, 5000));
        assert_int_equal(s->n_messages, 1);
        assert_string_equal(s->last, "last words");
        assert_int_equal(s->close_code, WS_CLOSE_NORMAL);
        assert_true(run_until(f, cond_peer_closed, c, 5000));
        fixture_free(f);
}

static void test_free_with_live_connections(void **state) {
        Fixture *f = fixture_new(NULL, NULL, NULL);
        char *data = pattern(5000, 9);

        connect_clients(f, 3);
        for (unsigned i = 0; i < 3; i++) {
                assert_int_equal(ws_conn_send_text(f->server.peers[i]->conn, data, 5000), 0);
                assert_int_equal(ws_conn_send_text(f->client.peers[i]->conn, data, 5000), 0);
        }
        /* One client still connecting, one server connection still in its handshake. */
        (void) client_connect(f);
        {
                int fd = raw_connect(f);

                run_for(f, 20);
                /* Freed with everything live: every opened connection gets on_close, in place. */
                f->server.ctx = ws_context_free(f->server.ctx);
                assert_int_equal(f->server.n_closed, f->server.n_open);
                close(fd);
        }
        /* The clients see the server go. */
        assert_true(wait_count(f, &f->client.n_closed, f->client.n_open));
        f->client.ctx = ws_context_free(f->client.ctx);
        assert_int_equal(f->client.n_closed + f->client.n_errors, f->client.n_peers);
        free(data);
        fixture_free(f);
}

static void test_reset_mid_frame(void **state) {
        Fixture *f = fixture_new(NULL, NULL, NULL);
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        unsigned char frame[64];
        size_t n;
        Peer *s;
        int fd;

        fd = raw_handshake(f);
        assert_true(wait_count(f, &f->server.n_open, 1));
        s = f->server.peers[0];

        /* A header announcing 1000 bytes, 10 of them, then a reset. */
        n = harness_raw_ws_frame(frame, 0x1, true, "0123456789", 10);
        frame[1] = 0x80 | 126;
        memmove(frame + 4, frame + 2, n - 2);
        frame[2] = 1000 >> 8;
        frame[3] = 1000 & 0xff;
        raw_send(f, fd, frame, n + 2);
        run_for(f, 20);
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
        close(fd);

        assert_true(run_until(f, cond_peer_closed, s, 5000));
        assert_int_equal(s->n_messages, 0);
        assert_int_equal(s->close_code, WS_CLOSE_ABNORMAL);

        /* Binary frames reach on_message when there is no on_binary. */
        fd = raw_handshake(f);
        raw_send_frame(f, fd, true, 0x2, "{\"cmd\": 1}", 10);
        assert_true(wait_count(f, &f->server.n_messages, 1));
        assert_string_equal(f->server.peers[1]->last, "{\"cmd\": 1}");
        close(fd);
        fixture_free(f);
}

/* Bytes that are no WebSocket at all, before and after the handshake: closed, nothing else. */
static void test_garbage(void **state) {
        Fixture *f = fixture_new(NULL, NULL, NULL);
        unsigned char junk[512];
        char buf[256] = {};
        size_t len = 0;
        int fd;

        for (size_t i = 0; i < sizeof junk; i++)
                junk[i] = (unsigned char) (i * 151 + 7);
        junk[0] = 0xff; /* reserved bits and an unknown opcode */

        fd = raw_connect(f);
        raw_send(f, fd, junk, sizeof junk);
        assert_int_equal(raw_read_until(f, fd, buf, sizeof buf, &len, "\x01never", 6), -ECONNRESET);
        close(fd);

        fd = raw_handshake(f);
        assert_true(wait_count(f, &f->server.n_open, 1));
        raw_send(f, fd, junk, sizeof junk);
        assert_int_equal(raw_read_close(f, fd), 1002); /* protocol error */
        close(fd);
        assert_true(run_until(f, cond_peer_closed, f->server.peers[0], 5000));
        assert_int_equal(f->server.peers[0]->n_messages, 0);

        connect_clients(f, 1);
        exchange(f, f->client.peers[0], f->server.peers[1], 10, 2);
        fixture_free(f);
}

static void test_binary_handler(void **state) {
        WsHandlers h = handlers;
        Fixture *f;
        int fd;

        h.on_binary = on_binary;
        f = fixture_new(NULL, NULL, &h);
        fd = raw_handshake(f);
        raw_send_frame(f, fd, true, 0x2, "\x01\x02\x03", 3);
        raw_send_frame(f, fd, true, 0x1, "text", 4);
        assert_true(wait_count(f, &f->server.n_messages, 1));
        assert_int_equal(f->server.peers[0]->n_binary, 1);
        assert_string_equal(f->server.peers[0]->last, "text");
        close(fd);
        fixture_free(f);
}

static void test_max_connections(void **state) {
        WsConfig cfg = { .max_connections = 2 };
        Fixture *f = fixture_new(&cfg, NULL, NULL);
        Peer *p;

        connect_clients(f, 2);
        p = client_connect(f);
        assert_true(run_until(f, cond_flag, &p->connect_error, 5000));
        assert_int_equal(f->server.n_refused, 1);
        assert_int_equal(f->server.n_open, 2);

        /* A slot frees when a client leaves. */
        ws_conn_close(f->client.peers[0]->conn, WS_CLOSE_NORMAL, NULL);
        assert_true(run_until(f, cond_peer_closed, f->server.peers[0], 5000));
        p = client_connect(f);
        assert_true(run_until(f, cond_flag, &p->opened, 5000));
        fixture_free(f);
}

/* A send from an sd-event handler (outside lws) on an idle loop goes out at once. */
static int on_timer_send(sd_event_source *s, uint64_t usec, void *userdata) {
        Fixture *f = userdata;

        assert_int_equal(ws_conn_send_text(f->server.peers[0]->conn, "tick", 4), 0);
        return 0;
}

static void test_send_from_timer(void **state) {
        Fixture *f = fixture_new(NULL, NULL, NULL);
        sd_event_source *t = NULL;
        long long start;

        connect_clients(f, 1);
        run_for(f, 100); /* let everything settle: the loop is idle */
        assert_int_equal(sd_event_add_time_relative(f->event, &t, CLOCK_MONOTONIC, 50 * USEC_PER_MSEC, 1,
                                                    on_timer_send, f),
                         0);
        start = harness_now_ms();
        assert_true(wait_message(f, f->client.peers[0], 1));
        assert_true(harness_now_ms() - start < 1000);
        assert_string_equal(f->client.peers[0]->last, "tick");
        sd_event_source_unref(t);
        fixture_free(f);
}

static long long cpu_ms(void) {
        struct rusage ru;

        assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
        return (long long) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
               (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

/* An idle loop sleeps: the uv loop's timeout must not turn into a busy poll. */
static void test_idle_no_spin(void **state) {
        Fixture *f = fixture_new(NULL, NULL, NULL);
        long long before, start;
        unsigned wakeups = 0;

        connect_clients(f, 2);
        exchange(f, f->client.peers[0], f->server.peers[0], 10, 1);
        before = cpu_ms();
        start = harness_now_ms();
        while (harness_now_ms() - start < 1000) {
                assert_true(sd_event_run(f->event, 100 * USEC_PER_MSEC) >= 0);
                wakeups++;
        }
        assert_true(cpu_ms() - before < 200);
        /* Nothing to do: the loop wakes only for its own 100 ms bound and lws's rare timers. */
        printf("# idle: %u wake-ups in 1 s\n", wakeups);
        assert_true(wakeups < 100);
        fixture_free(f);
}

/* Plain HTTP gets no page (yet) and no WebSocket: the connection is closed, nobody is told. */
static void test_plain_http(void **state) {
        static const char request[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        Fixture *f = fixture_new(NULL, NULL, NULL);
        char buf[4096] = {};
        size_t len = 0;
        int fd = raw_connect(f);

        raw_send(f, fd, request, strlen(request));
        assert_int_equal(raw_read_until(f, fd, buf, sizeof buf, &len, "\x01never", 6), -ECONNRESET);
        close(fd);
        assert_int_equal(f->server.n_open, 0);
        assert_int_equal(f->server.n_closed, 0);
        connect_clients(f, 1);
        fixture_free(f);
}

static void test_ping_hangup(void **state) {
        WsConfig cfg = { .ping_interval_sec = 1 };
        Fixture *f = fixture_new(&cfg, NULL, NULL);
        long long start;
        Peer *c;
        int fd;

        /* A glue client answers pings: still open after several intervals. */
        connect_clients(f, 1);
        c = f->client.peers[0];

        /* A raw peer that never answers is hung up on. */
        fd = raw_handshake(f);
        start = harness_now_ms();
        assert_true(wait_count(f, &f->server.n_open, 2));
        assert_true(run_until(f, cond_peer_closed, f->server.peers[1], 8000));
        assert_true(harness_now_ms() - start >= 1000);
        assert_false(c->closed);
        assert_false(f->server.peers[0]->closed);
        close(fd);
        fixture_free(f);
}

static bool cond_rx_released(Fixture *f, const void *arg) {
        return ws_context_rx_released(f->server.ctx) == *(const unsigned *) arg;
}

static long long rss_kib(void) {
        FILE *fp = fopen("/proc/self/statm", "re");
        long long pages = 0, resident = 0;

        assert_non_null(fp);
        assert_int_equal(fscanf(fp, "%lld %lld", &pages, &resident), 2);
        fclose(fp);
        return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A connection gives lws' receive buffer back once idle, gets it again with its next frame, and
 * never while a frame is half in: a ping cut in two across idle intervals is answered whole. */
static void test_idle_rx_buffer(void **state) {
        WsConfig cfg = { .rx_idle_usec = 50 * USEC_PER_MSEC };
        Fixture *f = fixture_new(&cfg, NULL, NULL);
        const char payload[] = "ping payload 0123456789 abcdefghijklmnopqrstuvwxyz";
        unsigned char frame[160];
        const unsigned zero = 0, one = 1;
        char buf[512];
        size_t n, len = 0;
        Peer *s;
        int fd;

        fd = raw_handshake(f);
        assert_true(wait_count(f, &f->server.n_open, 1));
        s = f->server.peers[0];
        assert_true(run_until(f, cond_rx_released, &one, 2000));

        /* A message: the buffer is in use again, then given back again. */
        raw_send_frame(f, fd, true, 0x1, "{\"cmd\": 1}", 10);
        assert_true(wait_message(f, s, 1));
        assert_string_equal(s->last, "{\"cmd\": 1}");
        assert_true(run_until(f, cond_rx_released, &zero, 2000));
        assert_true(run_until(f, cond_rx_released, &one, 2000));

        /* Half a ping (lws collects a control frame's payload in that buffer), four intervals, the
         * rest: the pong carries the whole payload. */
        n = harness_raw_ws_frame(frame, 0x9, true, payload, strlen(payload));
        raw_send(f, fd, frame, n / 2);
        run_for(f, 120);
        assert_int_equal(ws_context_rx_released(f->server.ctx), 0);
        run_for(f, 150);
        assert_int_equal(ws_context_rx_released(f->server.ctx), 0);
        raw_send(f, fd, frame + n / 2, n - n / 2);
        assert_int_equal(raw_read_until(f, fd, buf, sizeof buf, &len, payload, strlen(payload)), 0);
        assert_true(run_until(f, cond_rx_released, &one, 2000));

        /* And the same for a text message cut in two. */
        n = harness_raw_ws_frame(frame, 0x1, true, payload, strlen(payload));
        raw_send(f, fd, frame, n / 2);
        run_for(f, 250);
        raw_send(f, fd, frame + n / 2, n - n / 2);
        assert_true(wait_message(f, s, 2));
        assert_string_equal(s->last, payload);
        assert_false(s->closed);
        close(fd);
        fixture_free(f);
}

/* What giving the buffers back is for: 200 connections that each had a ping in theirs (a page
 * each) give those pages back, in this process's resident size. */
static void test_idle_rx_memory(void **state) {
        WsConfig cfg = { .rx_idle_usec = 100 * USEC_PER_MSEC, .max_connections = 400 };
        Fixture *f = fixture_new(&cfg, NULL, NULL);
        enum {
                N = 200
        };
        const unsigned zero = 0, all = N;
        long long touched, released;
        int fds[N];

        for (unsigned i = 0; i < N; i++) {
                fds[i] = raw_handshake(f);
                raw_send_frame(f, fds[i], true, 0x9, "p", 1);
        }
        assert_true(wait_count(f, &f->server.n_open, N));
        run_for(f, 20);
        /* Stop the sweep from giving anything back before the first reading: send again. */
        for (unsigned i = 0; i < N; i++)
                raw_send_frame(f, fds[i], true, 0x1, "{}", 2);
        assert_true(wait_count(f, &f->server.n_messages, N));
        (void) run_until(f, cond_rx_released, &zero, 0);
        touched = rss_kib();
        assert_true(run_until(f, cond_rx_released, &all, 5000));
        released = rss_kib();
        printf("# %d idle connections: resident %lld KiB with their receive buffers, %lld KiB without\n", N,
               touched, released);
        /* A page each, less what else this process touched meanwhile. */
        assert_true(touched - released >= N * 4 / 2);
        for (unsigned i = 0; i < N; i++)
                close(fds[i]);
        fixture_free(f);
}

/* Informal: one producer -> server relays -> 4 receivers, ~60-byte messages. */
static void test_throughput(void **state) {
        WsConfig cfg = { .max_queue_messages = 1U << 20, .max_queue_bytes = 256U << 20 };
        Fixture *f = fixture_new(&cfg, &cfg, NULL);
        const unsigned n = 200000, receivers = 4;
        unsigned sent = 0, total, want;
        Peer *producer;
        long long start, ms;

        f->relay = true;
        connect_clients(f, receivers + 1);
        producer = f->client.peers[receivers];

        start = harness_now_ms();
        while (sent < n) {
                while (sent < n && ws_conn_queued_messages(producer->conn) < 2000) {
                        char text[80];
                        int len = snprintf(text, sizeof text,
                                           "seq %u {\"priority\":3,\"runtime\":5,\"id\":%u,\"pad\":\"xx\"}",
                                           sent, sent);

                        assert_int_equal(ws_conn_send_text(producer->conn, text, (size_t) len), 0);
                        sent++;
                }
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
        }
        want = n * receivers;
        total = 0;
        while (total < want && harness_now_ms() - start < 60000) {
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
                total = 0;
                for (unsigned k = 0; k < receivers; k++)
                        total += f->client.peers[k]->n_messages;
        }
        ms = harness_now_ms() - start;
        assert_int_equal(total, want);
        for (unsigned k = 0; k < receivers; k++)
                assert_false(f->client.peers[k]->out_of_order);
        printf("# throughput: 1 producer -> %u receivers, %u messages: %lld ms, %.0f delivered msg/s "
               "(producer, server and receivers on one thread)\n",
               receivers, n, ms, (double) want * 1000.0 / (double) (ms ?: 1));
        fixture_free(f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_open_and_messages),
                cmocka_unit_test(test_too_big),
                cmocka_unit_test(test_queue_overflow),
                cmocka_unit_test(test_queue_bytes_bound),
                cmocka_unit_test(test_broadcast),
                cmocka_unit_test(test_many_clients),
                cmocka_unit_test(test_connect_refused),
                cmocka_unit_test(test_bad_urls),
                cmocka_unit_test(test_localhost_url),
                cmocka_unit_test(test_unresolvable_name),
                cmocka_unit_test(test_cancel_lookup),
                cmocka_unit_test(test_client_close),
                cmocka_unit_test(test_free_with_live_connections),
                cmocka_unit_test(test_reset_mid_frame),
                cmocka_unit_test(test_garbage),
                cmocka_unit_test(test_binary_handler),
                cmocka_unit_test(test_max_connections),
                cmocka_unit_test(test_send_from_timer),
                cmocka_unit_test(test_idle_no_spin),
                cmocka_unit_test(test_plain_http),
                cmocka_unit_test(test_ping_hangup),
                cmocka_unit_test(test_idle_rx_buffer),
                cmocka_unit_test(test_idle_rx_memory),
                cmocka_unit_test(test_throughput),
        };

        (void) signal(SIGPIPE, SIG_IGN);
        log_setup("test-ws");
        if (getenv("SCHED_WS_DEBUG"))
                log_set_max_level(LOG_DEBUG);
        if (getenv("TEST_FILTER"))
                cmocka_set_test_filter(getenv("TEST_FILTER"));
        return cmocka_run_group_tests(tests, NULL, NULL);
}
