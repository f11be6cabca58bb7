/* SPDX-License-Identifier: MIT */
/*
 * BusLink: a client's connection to sched-bus. Connects to the bus URL, sends its greeting (the
 * register frame its owner made) on every (re)connection, hands each received text message to its
 * owner, and — when reconnecting is on — comes back after a lost or refused connection with capped
 * exponential backoff (250 ms doubling to 5 s, reset by a successful connection). Each attempt looks
 * the bus's host name up afresh, off the loop; a lookup that fails is a refused connection. Owned
 * by the daemon that created it; owns its WebSocket context and timer.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "bus-auth.h"
#include "macro.h"

typedef struct BusLink BusLink;

typedef struct BusLinkHandlers {
        void (*on_connected)(BusLink *l, void *userdata);                        /* registered */
        void (*on_disconnected)(BusLink *l, const char *reason, void *userdata); /* lost or refused */
        void (*on_message)(BusLink *l, const char *data, size_t size, void *userdata);
} BusLinkHandlers;

#define BUS_LINK_URL_DEFAULT      "ws://localhost:8101"
#define BUS_LINK_BACKOFF_MIN_USEC (250 * USEC_PER_MSEC)
#define BUS_LINK_BACKOFF_MAX_USEC (5 * USEC_PER_SEC)
/* The largest message taken from the bus: its largest --max-frame. */
#define BUS_LINK_MAX_MESSAGE (16 * 1024 * 1024)

/* `hello` (copied) is the first frame of every connection. Does not log. */
int bus_link_new(BusLink **ret, sd_event *e, const char *url, const char *hello, const BusLinkHandlers *h,
                 void *userdata);
BusLink *bus_link_free(BusLink *l);

/* Replaces the first frame of the next connections (copied). -ENOMEM. */
int bus_link_set_hello(BusLink *l, const char *hello);
/* Whether to retry after a failure (default on). Off: a lost connection stays lost. */
void bus_link_set_reconnect(BusLink *l, bool reconnect);
/* What to present and trust over TLS (copied; -EBUSY once started). Without it: no token, and the
 * system's CA store for a wss:// URL. */
int bus_link_set_auth(BusLink *l, const BusAuth *a);
/* bus_auth_load() from the options and the credentials, then bus_link_set_auth(). On failure, the
 * reason for the administrator in error. */
int bus_link_load_auth(BusLink *l, const BusAuthOptions *o, char *error, size_t error_size);
/* Starts connecting. A URL that cannot work (bad syntax) fails here with -EINVAL, a CA or client
 * certificate that does not load with -EIO; network failures, a refused token and a certificate
 * that does not verify come through on_disconnected. */
int bus_link_start(BusLink *l);
bool bus_link_is_connected(const BusLink *l);
/* Whether a reason given to on_disconnected is a refusal that trying again will not change: the
 * bus refused the token or the connection (an HTTP 4xx status), closed it for a role the token
 * does not allow (1008 "forbidden: ..."), or its certificate failed verification. A one-shot
 * client says it and stops instead of waiting. */
bool bus_link_reason_is_final(const char *reason);
const char *bus_link_get_url(const BusLink *l);
/* In on_disconnected: how long until the next attempt; 0 when none comes (reconnecting is off). */
uint64_t bus_link_get_retry_usec(const BusLink *l);
/* Sends one text frame. -ENOTCONN when not connected, -ENOBUFS when the send queue is full. */
int bus_link_send(BusLink *l, const char *data, size_t size);
/* Messages and bytes not yet written to the socket. */
size_t bus_link_queued(const BusLink *l);
/* Stops (true) or resumes reading what the bus sends, on this connection and the next ones (see
 * ws_conn_pause_rx()): the frames wait in the kernel's buffers, then in the bus's queue. */
void bus_link_pause_rx(BusLink *l, bool pause);
