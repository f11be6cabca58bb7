/* SPDX-License-Identifier: MIT */
/*
 * The Bus object shared by the two halves of the daemon: bus.c (the protocol: what each frame does,
 * the clients and their roles) and bus-server.c (the daemon's life: sockets, STATUS=, idle exit,
 * stop). Private to daemons/bus.
 */
#pragma once

#include "bus-client.h"
#include "bus.h"
#include "job-ids.h"
#include "ratelimit.h"
#include "throttle.h"
#include "ws.h"

/* STATUS= is sent at most this often, so that a busy bus does not pay a notify per message. */
#define STATUS_INTERVAL_USEC (100 * USEC_PER_MSEC)

struct Bus {
        BusConfig config;
        sd_event *event;
        WsContext *ws;
        Throttle status; /* STATUS= */
        sd_event_source *idle_source, *stop_source, *identify_source;

        BusClient *clients;    /* every connection */
        BusClient *schedulers; /* the registered schedulers, a subset */
        unsigned n_clients, n_producers, n_schedulers, n_unidentified;
        JobIds *ids;
        uint64_t n_forwarded, n_dropped, n_errors, n_closed_slow, n_refused;

        /* Every log line a client can trigger is rate-limited; one kind cannot hide another. */
        RateLimit reject_limit; /* bad frames */
        RateLimit drop_limit;   /* jobs dropped */
        RateLimit conn_limit;   /* registrations, slow or idle clients closed, refused connections */
        bool socket_activated;
        bool stopping;
};

/* bus.c */
int bus_setup_ws(Bus *b);

/* bus-server.c */
/* Marks STATUS= stale: it goes out at most every STATUS_INTERVAL_USEC, however many changes come. */
void bus_status_changed(Bus *b);
/* Arms or disarms the idle-exit timer after the number of clients changed. */
void bus_update_idle(Bus *b);
