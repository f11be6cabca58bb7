/* SPDX-License-Identifier: MIT */
/*
 * bench-null-bus: the baseline of bench-bus-load. A fan-out server on the same WebSocket glue and
 * event loop as sched-bus that does no protocol work at all: a connection whose frame mentions
 * "scheduler" becomes a receiver; every other frame is forwarded, byte for byte and shared, to
 * every receiver but its sender. No JSON parsing, no ids, no validation, no logging, no STATUS=.
 * What sched-bus costs beyond it is the protocol's share.
 *
 * Serves the socket passed by socket activation (LISTEN_FDS); sends READY=1; stops on SIGTERM.
 * Not a product: never expose it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "ws.h"

#define RECEIVERS_MAX 1024

typedef struct NullBus {
        sd_event *event;
        WsContext *ws;
        WsConn *receivers[RECEIVERS_MAX];
        unsigned n_receivers;
} NullBus;

static void null_bus_drop(NullBus *b, WsConn *c) {
        for (unsigned i = 0; i < b->n_receivers; i++)
                if (b->receivers[i] == c) {
                        b->receivers[i] = b->receivers[--b->n_receivers];
                        return;
                }
}

static void on_message(WsConn *c, const char *data, size_t size, void *userdata) {
        NullBus *b = userdata;
        WsMessage *m = NULL;

        if (memmem(data, size, "scheduler", 9)) {
                if (!ws_conn_get_userdata(c) && b->n_receivers < RECEIVERS_MAX) {
                        b->receivers[b->n_receivers++] = c;
                        ws_conn_set_userdata(c, b);
                }
                return;
        }
        if (ws_message_new(&m, data, size) < 0)
                return;
        for (unsigned i = 0; i < b->n_receivers; i++)
                if (b->receivers[i] != c && ws_conn_send(b->receivers[i], m) == -ENOBUFS)
                        ws_conn_close(b->receivers[i], WS_CLOSE_POLICY, "send queue overflow");
        ws_message_unref(m);
}

static void on_close(WsConn *c, void *userdata) {
        if (ws_conn_get_userdata(c))
                null_bus_drop(userdata, c);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

int main(int argc, char *argv[]) {
        static const WsHandlers handlers = { .on_message = on_message, .on_close = on_close };
        WsConfig config = { .max_queue_messages = 65536, .max_queue_bytes = 16 * 1024 * 1024 };
        NullBus b = {};
        sigset_t mask;
        int r;

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
