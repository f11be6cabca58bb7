/* SPDX-License-Identifier: MIT */
/*
 * bench-null-bus: the baseline of bench-bus-load. A fan-out server on the same WebSocket glue and
 * event loop as sched-bus that does no protocol work at all: a connection whose frame mentions
 * "scheduler" becomes a receiver; every other frame is forwarded, byte for byte and shared, to
 * every receiver but its sender. No JSON parsing, no ids, no validation, no logging, no STATUS=.
 * What sched-bus costs beyond it is the protocol's share.
 *
 * The same for job events (bench-bus-load --events): a connection whose frame mentions "observer"
 * becomes an observer, and a frame from a receiver (a job_event) goes, byte for byte, to every
 * observer instead (nowhere while there is none). While an observer is there, the forwarded jobs are
 * numbered (",\"id\":N" spliced in before the frame's last brace) so that receivers have an id to
 * report; without one, nothing changes.
 *
 * With --one (bench-bus-load --dispatch one), each job goes to one receiver, in turn, and is always
 * numbered, so that the benchmark can check that each job came once.
 *
 * Serves the socket passed by socket activation (LISTEN_FDS); sends READY=1; stops on SIGTERM.
 * Not a product: never expose it.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "ws.h"

#define CONNS_MAX     1024
#define MESSAGE_MAX   (64 * 1024) /* the glue's default limit for a message received */
#define ID_SPLICE_MAX 32          /* ,"id":N} */

/* The connections of one kind; each one's userdata points at its set. */
typedef struct ConnSet {
        WsConn *conns[CONNS_MAX];
        unsigned n;
} ConnSet;

typedef struct NullBus {
        sd_event *event;
        WsContext *ws;
        ConnSet receivers, observers;
        bool one;           /* --one: each job to one receiver */
        unsigned next_turn; /* --one: the receiver whose turn it is */
        uint64_t next_id;
        char numbered[MESSAGE_MAX + ID_SPLICE_MAX];
} NullBus;

static void conn_set_join(ConnSet *s, WsConn *c) {
        if (ws_conn_get_userdata(c) || s->n == CONNS_MAX)
                return;
        s->conns[s->n++] = c;
        ws_conn_set_userdata(c, s);
}

static void conn_set_drop(ConnSet *s, WsConn *c) {
        for (unsigned i = 0; i < s->n; i++)
                if (s->conns[i] == c) {
                        s->conns[i] = s->conns[--s->n];
                        return;
                }
}

static void conn_set_forward(ConnSet *s, WsConn *sender, const char *data, size_t size) {
        WsMessage *m = NULL;

        if (s->n == 0 || ws_message_new(&m, data, size) < 0)
                return;
        for (unsigned i = 0; i < s->n; i++)
                if (s->conns[i] != sender && ws_conn_send(s->conns[i], m) == -ENOBUFS)
                        ws_conn_close(s->conns[i], WS_CLOSE_POLICY, "send queue overflow");
        ws_message_unref(m);
}

/* To one receiver but the sender, in turn. */
static void null_bus_forward_one(NullBus *b, WsConn *sender, const char *data, size_t size) {
        ConnSet *s = &b->receivers;
        WsMessage *m = NULL;

        for (unsigned k = 0; k < s->n; k++) {
                WsConn *c = s->conns[b->next_turn++ % s->n];

                if (c == sender)
                        continue;
                if (ws_message_new(&m, data, size) < 0)
                        return;
                if (ws_conn_send(c, m) == -ENOBUFS)
                        ws_conn_close(c, WS_CLOSE_POLICY, "send queue overflow");
                ws_message_unref(m);
                return;
        }
}

/* The frame with ,"id":N before its last brace, in b->numbered; the frame itself if it has no brace. */
static const char *null_bus_number(NullBus *b, const char *data, size_t *size) {
        const char *brace = memrchr(data, '}', *size);
        size_t head;
        int n;

        if (!brace || *size > MESSAGE_MAX)
                return data;
        head = (size_t) (brace - data);
        memcpy(b->numbered, data, head);
        n = snprintf(b->numbered + head, ID_SPLICE_MAX, ",\"id\":%" PRIu64 "}", ++b->next_id);
        *size = head + (size_t) n;
        return b->numbered;
}

static void on_message(WsConn *c, const char *data, size_t size, void *userdata) {
        NullBus *b = userdata;

        /* A receiver sends nothing but job events: to the observers, never to other receivers. */
        if (ws_conn_get_userdata(c) == &b->receivers)
                return conn_set_forward(&b->observers, c, data, size);
        if (memmem(data, size, "scheduler", 9))
                return conn_set_join(&b->receivers, c);
        if (memmem(data, size, "observer", 8))
                return conn_set_join(&b->observers, c);
        if (b->observers.n > 0 || b->one)
                data = null_bus_number(b, data, &size);
        if (b->one)
                return null_bus_forward_one(b, c, data, size);
        conn_set_forward(&b->receivers, c, data, size);
}

static void on_close(WsConn *c, void *userdata) {
        ConnSet *s = ws_conn_get_userdata(c);

        if (s)
                conn_set_drop(s, c);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

int main(int argc, char *argv[]) {
        static const WsHandlers handlers = { .on_message = on_message, .on_close = on_close };
        WsConfig config = { .max_queue_messages = 65536, .max_queue_bytes = 16 * 1024 * 1024 };
        static NullBus b; /* large: the numbered frame */
        sigset_t mask;
        int r;

        if (argc == 2 && strcmp(argv[1], "--one") == 0)
                b.one = true;
        else if (argc != 1) {
                fprintf(stderr, "Usage: bench-null-bus [--one] (a socket through LISTEN_FDS)\n");
                return 2;
        }
        if (sd_listen_fds(true) != 1) {
                fprintf(stderr, "bench-null-bus: needs exactly one socket through LISTEN_FDS.\n");
                return 2;
        }
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
        (void) signal(SIGPIPE, SIG_IGN);

        r = sd_event_new(&b.event);
        if (r >= 0)
                r = sd_event_add_signal(b.event, NULL, SIGTERM, on_signal, NULL);
        if (r >= 0)
                r = sd_event_add_signal(b.event, NULL, SIGINT, on_signal, NULL);
        if (r >= 0)
                r = ws_context_new(&b.ws, b.event, &config, &handlers, &b);
        if (r >= 0)
                r = ws_context_listen(b.ws, SD_LISTEN_FDS_START);
        if (r < 0) {
                fprintf(stderr, "bench-null-bus: setup failed: %s\n", strerror(-r));
                return 1;
        }
        (void) sd_notify(false, "READY=1");
        r = sd_event_loop(b.event);
        b.ws = ws_context_free(b.ws);
        sd_event_unref(b.event);
        return r < 0 ? 1 : 0;
}
