/* SPDX-License-Identifier: MIT */
/*
 * The Bus object shared by the two halves of the daemon: bus.c (the protocol: what each frame does,
 * the clients and their roles) and bus-server.c (the daemon's life: sockets, STATUS=, idle exit,
 * stop). Private to daemons/bus.
 */
#pragma once

#include "bus-client.h"
#include "bus-tokens.h"
#include "bus.h"
#include "job-ids.h"
#include "job-table.h"
#include "ratelimit.h"
#include "throttle.h"
#include "ws.h"

/* STATUS= is sent at most this often, so that a busy bus does not pay a notify per message. */
#define STATUS_INTERVAL_USEC (100 * USEC_PER_MSEC)

struct Bus {
        BusConfig config;
        char *state_dir; /* --state-dir or $STATE_DIRECTORY's first; NULL: none (in memory only) */
        sd_event *event;
        WsContext *ws;
        Throttle status; /* STATUS= */
        sd_event_source *idle_source, *stop_source, *identify_source;

        BusClient *clients;    /* every connection */
        BusClient *schedulers; /* the registered schedulers, a subset */
        BusClient *observers;  /* the registered observers, a subset */
        BusClient *batched;    /* clients with job events to send at the end of this loop pass */
        unsigned n_clients, n_producers, n_schedulers, n_observers, n_unidentified;
        JobIds *ids;
        JobTable *jobs; /* the last --history jobs */
        sd_event_source *batch_source;
        uint64_t start_usec;  /* CLOCK_MONOTONIC */
        uint64_t submit_usec; /* CLOCK_REALTIME of the job request being handled */
        size_t frame_size;    /* of the frame being handled */
        uint64_t n_submitted, n_forwarded, n_dropped, n_errors, n_closed_slow, n_refused;

        /* bus-dispatch.c */
        Held *held;                    /* jobs waiting for a scheduler, also in the state directory */
        sd_event_source *pump_source;  /* sends held jobs, a bounded number per loop pass */
        sd_event_source *stall_source; /* closes peers whose send queue makes no progress */
        bool stall_armed;
        bool paused;       /* producers are not read from */
        unsigned n_high;   /* schedulers whose send queue is above its high-water mark */
        uint64_t n_chosen; /* --dispatch=one choices made: the round-robin clock */
        uint64_t n_pauses, n_redispatched;

        /* Every log line a client can trigger is rate-limited; one kind cannot hide another. */
        RateLimit reject_limit; /* bad frames */
        RateLimit drop_limit;   /* jobs dropped */
        RateLimit conn_limit;   /* registrations, slow or idle clients closed, refused connections */
        RateLimit cancel_limit; /* cancels */
        RateLimit origin_limit; /* WebSocket upgrades refused for their Origin */
        RateLimit token_limit;  /* refused for their token, or for what their token does not allow */
        uint64_t n_refused_origin, n_refused_token, n_forbidden;

        /* bus-server.c: TLS and tokens, from the options or the credentials. */
        char *tls_cert, *tls_key, *tls_client_ca, *tokens_path;
        BusTokens *tokens; /* NULL: no tokens file, every client has every right */
        bool socket_activated;
        bool stopping;
};

/* bus.c */
int bus_setup_ws(Bus *b);
/* Logs a line a remote client caused: rate-limited, with its address and role as fields. */
_printf_(5, 6) void bus_log_client(Bus *b, RateLimit *rl, const BusClient *c, int level, const char *format,
                                   ...);
/* Queues a message for a client; a client whose queue is full does not read and is closed. Returns
 * whether the message was queued. */
bool bus_send(Bus *b, BusClient *c, WsMessage *m);
bool bus_send_text(Bus *b, BusClient *c, const char *text, size_t size);
/* The error frame for a bad frame (echoing `ref` if not NULL); closes a client that sends too many. */
void bus_reply_error(Bus *b, BusClient *c, const ProtocolStatus *st, json_t *ref);
_printf_(4, 5) void bus_reply_errorf(Bus *b, BusClient *c, ProtocolError e, const char *format, ...);

/* Closes a client from our side: it leaves its role at once, so no job goes its way while the close
 * handshake runs, and what it still sends is ignored. */
void bus_close_client(Bus *b, BusClient *c, uint16_t code, const char *reason);

/* bus-dispatch.c: where jobs go (broadcast or one), held jobs, backpressure, stalled peers. */
int bus_setup_dispatch(Bus *b);
void bus_done_dispatch(Bus *b);
void bus_on_job_request(Bus *b, BusClient *c, Frame *f);
/* After a message was queued for c (NULL: none, only re-arm the stall check). */
void bus_dispatch_sent(Bus *b, BusClient *c);
void bus_dispatch_on_queue_low(Bus *b, BusClient *c);
/* A scheduler registered (with its slots and load), reported events (and its load), left. */
void bus_dispatch_registered(Bus *b, BusClient *c, const Frame *f);
void bus_dispatch_reported(Bus *b, BusClient *c, const Frame *f);
void bus_dispatch_scheduler_left(Bus *b, BusClient *c);
/* Cancels a job the bus holds: false when it holds no such job. */
bool bus_dispatch_cancel_held(Bus *b, uint64_t id);
/* Writes what changed among the held jobs to the state directory: at the end of every callback that
 * may have changed them. */
void bus_dispatch_flush(Bus *b);

/* bus-http.c: the page, /metrics and /healthz; which browsers may open a WebSocket. */
int bus_on_http(Bus *b, const WsRequest *req, WsHttpResponse *ret);
/* bus.c: the BUS_RIGHT_* a request's token (or its absence) gives. */
unsigned bus_request_rights(Bus *b, const WsRequest *req);
/* An upgrade with `origin` (NULL: none) and `host` (the Host header, NULL: none). */
bool bus_origin_allowed(Bus *b, const char *origin, const char *host);

/* bus-jobs.c: following jobs — the job table, events, status, jobs, cancel. */
int bus_setup_jobs(Bus *b);
void bus_done_jobs(Bus *b);
/* A job got its id: its table entry; `c` (its submitter) gets "accepted" if it asked. */
JobTableEntry *bus_job_submitted(Bus *b, BusClient *c, uint64_t id, const Frame *f);
/* The job went to these schedulers (runs added by the caller through bus_job_delivered_to()). */
void bus_job_delivered_to(Bus *b, JobTableEntry *e, BusClient *s);
void bus_job_delivered(Bus *b, JobTableEntry *e);
void bus_job_dropped(Bus *b, JobTableEntry *e, uint64_t id, const char *why);
/* The job waits in the bus: an event with the pseudo-state "held" (its first, not final). */
void bus_job_held(Bus *b, JobTableEntry *e, const char *why);
void bus_on_job_event(Bus *b, BusClient *c, Frame *f);
/* To observers: {"event":"scheduler","name":N,"slots":S,"up":true|false} when one registers or goes. */
void bus_scheduler_event(Bus *b, BusClient *s, bool up);
void bus_on_status(Bus *b, BusClient *c, Frame *f);
void bus_on_jobs(Bus *b, BusClient *c, Frame *f);
void bus_on_cancel(Bus *b, BusClient *c, Frame *f);
/* A client leaves: its batch, its ownership of jobs, its scheduler name. */
void bus_jobs_forget_client(Bus *b, BusClient *c);

/* bus-server.c */
/* Marks STATUS= stale: it goes out at most every STATUS_INTERVAL_USEC, however many changes come. */
void bus_status_changed(Bus *b);
/* Arms or disarms the idle-exit timer after the number of clients changed. */
void bus_update_idle(Bus *b);
