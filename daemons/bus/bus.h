/* SPDX-License-Identifier: MIT */
/*
 * Bus: the sched-bus daemon's state. It owns the sd-event loop, the WebSocket context (and through
 * it every connection), the BusClient of each connection, the counters behind STATUS= and the
 * idle-exit timer. Producers submit jobs; each job gets an id and goes to every registered scheduler
 * except its sender.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>

typedef enum BusDispatch {
        BUS_DISPATCH_BROADCAST, /* every job to every registered scheduler (the default, version 1's) */
        BUS_DISPATCH_ONE,       /* each job to one scheduler, chosen by the load it reports */
        _BUS_DISPATCH_MAX,
        _BUS_DISPATCH_INVALID = -EINVAL,
} BusDispatch;

const char *bus_dispatch_to_string(BusDispatch d);
BusDispatch bus_dispatch_from_string(const char *s);

typedef struct BusConfig {
        char *listen;                  /* HOST:PORT to bind when not socket-activated */
        const char *state_dir;         /* where the job id counter lives; NULL: $STATE_DIRECTORY, or none */
        size_t max_frame;              /* bytes of one reassembled message */
        size_t max_queue;              /* messages waiting to be sent to one client */
        size_t max_queue_bytes;        /* bytes waiting to be sent to one client */
        unsigned max_clients;          /* 0 = unlimited */
        unsigned max_clients_per_host; /* from one address beyond loopback; 0 = unlimited */
        double max_runtime;            /* largest accepted job runtime, seconds */
        uint64_t exit_idle_usec; /* socket-activated: exit after this long without a client; 0 = never */
        uint64_t identify_usec;  /* close a connection that sends no valid frame for this long */
        size_t history;          /* jobs kept in the job table */
        BusDispatch dispatch;
        size_t hold;          /* jobs held waiting for a scheduler; 0: none (dropped, version 1) */
        uint64_t stall_usec;  /* close a peer whose full send queue makes no progress this long; 0 = never */
        char **allow_origins; /* --allow-origin: browser origins besides the bus's own page; "*": any */
        /* TLS and tokens: files, each NULL for its credential in $CREDENTIALS_DIRECTORY (tls-cert,
         * tls-key, tls-client-ca, tokens), or none. */
        const char *tls_cert, *tls_key, *tls_client_ca, *tokens;
        bool insecure; /* serve beyond loopback without TLS and tokens */
} BusConfig;

#define BUS_CONFIG_DEFAULT                          \
        ((BusConfig){                               \
                .max_frame = 64 * 1024,             \
                .max_queue = 16384,                 \
                .max_queue_bytes = 4 * 1024 * 1024, \
                .max_clients = 1024,                \
                .max_clients_per_host = 64,         \
                .max_runtime = 86400,               \
                .identify_usec = 30 * USEC_PER_SEC, \
                .history = 10000,                   \
                .hold = 10000,                      \
                .stall_usec = 10 * USEC_PER_SEC,    \
        })

#define BUS_LISTEN_DEFAULT    "127.0.0.1:8101"
#define BUS_TLS_FD_NAME       "tls" /* FileDescriptorName= of the sockets that speak TLS */
#define BUS_PING_INTERVAL_SEC 30
/* The largest --max-frame: what schedulers accept (BUS_LINK_MAX_MESSAGE). */
#define BUS_MAX_FRAME_LIMIT (16 * 1024 * 1024)

typedef struct Bus Bus;

int bus_new(Bus **ret, const BusConfig *config);
Bus *bus_free(Bus *b);
/* Takes the listening sockets (socket activation, or binds config->listen), serves until SIGTERM,
 * SIGINT or the idle timeout. Returns 0 on a clean stop. */
int bus_run(Bus *b);
