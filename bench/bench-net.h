/* SPDX-License-Identifier: MIT */
/*
 * BenchNet: the benchmarks' own WebSocket clients, on the project's glue (ws.h). One BenchNet owns
 * an sd_event loop and a WsContext; each BenchConn is one client connection that counts what it
 * receives and hands every message to an optional hook. Connections live as long as their net.
 *
 * A connection is either on the glue (bench_conn_connect(): libwebsockets, as the daemons' clients)
 * or raw (bench_conn_connect_raw(): a non-blocking socket of our own that speaks the little of
 * RFC 6455 a client needs, bench-ws.h), for load generators that must cost far less than what they
 * load. Both kinds share the loop and this API. The raw ones sit in an epoll set of the net's
 * own, watched by one sd-event source: one dispatch serves every raw connection that is ready, so
 * that what they receive in one loop pass is handled in one go; and what they are given to send in
 * a pass leaves at its end, one send() per connection, as the glue sends what it queued in a pass.
 *
 * A net has a loop of its own, or shares one (bench_net_new_on()).
 *
 * Calls that wait run the loop until their condition holds or a bounded time passes, so that a
 * benchmark reads top to bottom and never hangs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "ws.h"

typedef struct BenchNet BenchNet;
typedef struct BenchConn BenchConn;
typedef struct BenchRaw BenchRaw;

typedef void (*bench_message_t)(BenchConn *c, const char *data, size_t size, void *userdata);

struct BenchConn {
        BenchNet *net;
        WsConn *conn;  /* NULL once closed, and for a raw connection */
        BenchRaw *raw; /* a raw connection's socket and buffers; NULL on the glue */
        bool open, closed;
        uint64_t n_received;
        /* When the message being handed over was read (bench_now_ns()): for a raw connection, the
         * recv() that brought its last byte, so that a load reading thousands of messages per recv()
         * asks the clock once for them all. */
        uint64_t rx_ns;
        bench_message_t on_message;
        /* Once, when the connection is gone (closed by the peer, or an error); never while its net is
         * being freed. */
        void (*on_close)(BenchConn *c, void *userdata);
        void *userdata;
        unsigned index; /* the benchmark's own numbering */
        BenchConn *next;
};

/* config: NULL for roomy defaults (large send queues: the benchmark bounds what it queues). */
int bench_net_new(BenchNet **ret, const WsConfig *config);
/* The same on a loop the caller owns (the net takes a reference): several nets may share one loop,
 * e.g. the connections of several buses in one process that serves them all. */
int bench_net_new_on(BenchNet **ret, sd_event *event, const WsConfig *config);
BenchNet *bench_net_free(BenchNet *n);
DEFINE_TRIVIAL_CLEANUP_FUNC(BenchNet *, bench_net_free);
sd_event *bench_net_event(BenchNet *n);

/* Runs the loop until cond(userdata) holds (0) or timeout_ns passes (-ETIMEDOUT). */
int bench_net_run_until(BenchNet *n, bool (*cond)(void *userdata), void *userdata, uint64_t timeout_ns);
void bench_net_run_for(BenchNet *n, uint64_t ns);

/* Connects and waits up to 5 s for the handshake; -ECONNREFUSED if it failed. */
int bench_conn_connect(BenchNet *n, const char *url, BenchConn **ret);
/* The same, as a raw connection: the upgrade on a blocking socket, then non-blocking on the loop.
 * Messages are handed over as on the glue (NUL-terminated, binary ones dropped); pings are answered;
 * a close frame, a protocol error or a message over 1 MiB closes it. */
int bench_conn_connect_raw(BenchNet *n, const char *url, BenchConn **ret);
/* {"cmd": "register", "type": ROLE}, queued. */
int bench_conn_register(BenchConn *c, const char *role);
/* Queues a text message: sent when the loop runs (raw: at the end of the current pass). */
int bench_conn_send(BenchConn *c, const char *data, size_t size);
/* Messages queued on the glue; for a raw connection, bytes not yet taken by the kernel. */
size_t bench_conn_queued(BenchConn *c);
/* Runs the loop until everything queued on c is written, up to timeout_ns. */
int bench_conn_flush(BenchConn *c, uint64_t timeout_ns);
