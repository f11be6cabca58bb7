/* SPDX-License-Identifier: MIT */
/*
 * BenchNet: the benchmarks' own WebSocket clients, on the project's glue (ws.h). One BenchNet owns
 * an sd_event loop and a WsContext; each BenchConn is one client connection that counts what it
 * receives and hands every message to an optional hook. Connections live as long as their net.
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

typedef void (*bench_message_t)(BenchConn *c, const char *data, size_t size, void *userdata);

struct BenchConn {
        BenchNet *net;
        WsConn *conn; /* NULL once closed */
        bool open, closed;
        uint64_t n_received;
        bench_message_t on_message;
        void *userdata;
        unsigned index; /* the benchmark's own numbering */
        BenchConn *next;
};

/* config: NULL for roomy defaults (large send queues: the benchmark bounds what it queues). */
int bench_net_new(BenchNet **ret, const WsConfig *config);
BenchNet *bench_net_free(BenchNet *n);
DEFINE_TRIVIAL_CLEANUP_FUNC(BenchNet *, bench_net_free);
sd_event *bench_net_event(BenchNet *n);

/* Runs the loop until cond(userdata) holds (0) or timeout_ns passes (-ETIMEDOUT). */
int bench_net_run_until(BenchNet *n, bool (*cond)(void *userdata), void *userdata, uint64_t timeout_ns);
void bench_net_run_for(BenchNet *n, uint64_t ns);

/* Connects and waits up to 5 s for the handshake; -ECONNREFUSED if it failed. */
int bench_conn_connect(BenchNet *n, const char *url, BenchConn **ret);
/* {"cmd": "register", "type": ROLE}, queued. */
int bench_conn_register(BenchConn *c, const char *role);
int bench_conn_send(BenchConn *c, const char *data, size_t size);
size_t bench_conn_queued(BenchConn *c);
/* Runs the loop until everything queued on c is written, up to timeout_ns. */
int bench_conn_flush(BenchConn *c, uint64_t timeout_ns);
