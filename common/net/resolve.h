/* SPDX-License-Identifier: MIT */
/*
 * Resolve: one host name lookup that never blocks the sd-event loop. getaddrinfo() runs in a
 * detached worker thread, which sends the answer over a socket pair; the loop reads it and calls the
 * handler, as sd-resolve does for timesyncd (libsystemd does not export sd-resolve). Owned by
 * whoever started it; freeing it cancels it: no handler call after resolve_free(), which never waits
 * for the worker — a worker stuck on a name server finishes on its own, then exits.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "macro.h"

#define RESOLVE_ADDRESSES_MAX 16

typedef struct Resolve Resolve;

typedef struct ResolveAddress {
        struct sockaddr_storage sa;
        socklen_t len;
} ResolveAddress;

/* ret is getaddrinfo()'s: 0, or an EAI_* code (with the errno in `error` for EAI_SYSTEM); see
 * resolve_strerror(). On success the addresses are in getaddrinfo()'s order, TCP only. */
typedef void (*resolve_handler_t)(Resolve *r, int ret, int error, void *userdata);

/* A lookup of `host` (stream sockets, IPv4 and IPv6) whose answer comes from the loop. Does not log. */
int resolve_new(Resolve **ret, sd_event *e, const char *host, resolve_handler_t handler, void *userdata);
Resolve *resolve_free(Resolve *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Resolve *, resolve_free);

/* The addresses of a successful answer (n 0 before it). */
const ResolveAddress *resolve_get_addresses(Resolve *r, size_t *ret_n);
const char *resolve_strerror(int ret, int error);
/* A numeric IPv4 or IPv6 address needs no lookup. */
bool resolve_is_numeric(const char *host);
