/* SPDX-License-Identifier: MIT */
/*
 * BusClient: what the bus knows of one WebSocket connection — its role once registered and its
 * place in the bus's scheduler list. Owned by the Bus; created when the connection opens, freed when
 * it closes.
 */
#pragma once

#include "held.h"
#include "job-table.h"
#include "list.h"
#include "protocol.h"
#include "ratelimit.h"
#include "ws.h"

typedef struct BusClient BusClient;

struct BusClient {
        WsConn *conn;
        Role role;                   /* _ROLE_INVALID until registered */
        bool events;                 /* a producer that wants "accepted" and its jobs' events */
        bool owns_jobs;              /* is the owner of entries in the job table */
        JobTableScheduler *reporter; /* a scheduler that reports on its jobs: its name; else NULL */
        unsigned slots;              /* with reporter */
        /* Job events for this client from this loop pass, sent as one frame at its end: the text of
         * each event object, comma-separated. */
        char *batch;
        size_t batch_size, batch_alloc, n_batch;
        uint64_t n_submitted;
        uint64_t connected_usec; /* CLOCK_MONOTONIC */

        /* A scheduler under --dispatch=one: its load as it last reported it (with registration and
         * each job_event), the jobs sent on this connection, when it was last chosen (round robin
         * among equals), and the jobs it has not reported started or ended, which go to another
         * scheduler if it leaves (reporting schedulers only; NULL otherwise). */
        ProtocolLoad load;
        uint64_t n_sent;
        uint64_t last_chosen;
        Held *unstarted;
        bool high;        /* its send queue is above the high-water mark: counted in the bus's n_high */
        bool paused;      /* not read from: the bus pushes back on producers */
        bool identified;  /* sent one valid frame: a register or a job */
        bool closing;     /* closed by the bus; what it still sends is ignored */
        unsigned rights;  /* BUS_RIGHT_*: what its token allows (all of them without tokens) */
        RateLimit errors; /* bad frames: a client that keeps sending them is closed */

        LIST_FIELDS(BusClient, clients);    /* every client of the bus */
        LIST_FIELDS(BusClient, schedulers); /* role == ROLE_SCHEDULER only */
        LIST_FIELDS(BusClient, observers);  /* role == ROLE_OBSERVER only */
        LIST_FIELDS(BusClient, batched);    /* n_batch > 0 */
};

int bus_client_new(BusClient **ret, WsConn *conn);
BusClient *bus_client_free(BusClient *c);
const char *bus_client_peer(const BusClient *c);
const char *bus_client_role(const BusClient *c);
