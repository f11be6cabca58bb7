/* SPDX-License-Identifier: MIT */
/*
 * The server side of a WsContext: the listening sockets it was given (each a WsListener, owned by
 * the context's list), the accept loop that hands new sockets to lws in bounded batches, and the
 * pause that keeps a listener quiet for a moment after accept() ran out of fds or memory. The
 * WsConn of an adopted socket is the context's, like any other.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "event-util.h"
#include "log.h"
#include "socket-util.h"
#include <openssl/ssl.h>

#include "ws-internal.h"

#define WS_ACCEPT_BATCH      64 /* accepts per wake-up, so a connection flood cannot hog the loop */
#define WS_ACCEPT_PAUSE_USEC (100 * USEC_PER_MSEC)

static void ws_format_peer(const struct sockaddr_storage *sa, char *buf, size_t size) {
        char host[INET6_ADDRSTRLEN];

        assert(sa);
        assert(buf);

        if (sa->ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;

                (void) inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
                (void) snprintf(buf, size, "%s:%u", host, (unsigned) ntohs(in->sin_port));
        } else if (sa->ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;

                (void) inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
                (void) snprintf(buf, size, "[%s]:%u", host, (unsigned) ntohs(in6->sin6_port));
        } else
                (void) snprintf(buf, size, "%s", sa->ss_family == AF_UNIX ? "unix" : "unknown");
}

/* The peer's address as 16 bytes (IPv4 mapped into IPv6); false for one that is not counted per
 * host: loopback, AF_UNIX, anything else. */
static bool ws_peer_address(const struct sockaddr_storage *sa, uint8_t ret[16]) {
        assert(sa);
        assert(ret);

        if (sockaddr_is_loopback(sa))
                return false;
        if (sa->ss_family == AF_INET) {
                memset(ret, 0, 10);
                ret[10] = ret[11] = 0xff;
                memcpy(ret + 12, &((const struct sockaddr_in *) sa)->sin_addr, 4);
                return true;
        }
        if (sa->ss_family == AF_INET6) {
                memcpy(ret, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
                return true;
        }
        return false;
}

/* Connections from the address: a walk of at most max_connections, once per accept. */
static unsigned ws_context_count_host(WsContext *ctx, const uint8_t addr[16]) {
        unsigned n = 0;
        WsConn *c;

        assert(ctx);

        LIST_FOREACH (conns, c, ctx->conns)
                if (c->counted && memcmp(c->addr, addr, 16) == 0)
                        n++;
        return n;
}

/* Hands an accepted socket to lws; over max_connections, or over max_connections_per_host for its
 * address, it is closed right away instead. */
static void ws_context_adopt(WsContext *ctx, const WsListener *l, int fd,
                             const struct sockaddr_storage *sa) {
        _cleanup_close_ int cfd = fd;
        char peer[WS_PEER_MAX];
        uint8_t addr[16];
        struct lws *wsi;
        bool counted;
        WsConn *c;
        int one = 1, r;

        assert(ctx);
        assert(sa);

        ws_format_peer(sa, peer, sizeof peer);
        counted = ctx->config.max_connections_per_host > 0 && ws_peer_address(sa, addr);
        if ((ctx->config.max_connections > 0 && ctx->n_server_conns >= ctx->config.max_connections) ||
            (counted && ws_context_count_host(ctx, addr) >= ctx->config.max_connections_per_host)) {
                bool per_host = !(ctx->config.max_connections > 0 &&
                                  ctx->n_server_conns >= ctx->config.max_connections);

                cfd = safe_close(cfd);
                if (ctx->handlers.on_refused)
                        ctx->handlers.on_refused(peer, per_host, ctx->userdata);
                return;
        }
        /* lws does not set it on adopted sockets; without it small frames wait for Nagle. */
        if (sa->ss_family == AF_INET || sa->ss_family == AF_INET6)
                (void) setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

        r = ws_conn_new(ctx, false, peer, &c);
        if (r < 0) {
                if (ratelimit_below(&ws_log_limit, 0))
                        log_debug_errno(r, "Failed to adopt a WebSocket connection, closing it: %m");
                return;
        }
        c->tls = l->tls;
        c->loopback = l->loopback;
        if (counted) {
                c->counted = true;
                memcpy(c->addr, addr, sizeof addr);
        }
        wsi = lws_adopt_descriptor_vhost_via_info(&(lws_adopt_desc_t){
                .vh = l->tls ? ctx->tls_vhost : ctx->vhost,
                .type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | (l->tls ? LWS_ADOPT_ALLOW_SSL : 0),
                .fd.sockfd = TAKE_FD(cfd), /* lws closes it on failure */
                .opaque = c,
        });
        if (!wsi)
                ws_conn_detach(c); /* freed quietly: it never opened */
        else if (!c->dead)
                c->wsi = wsi;
}

static void ws_context_pause_accept(WsContext *ctx, bool pause) {
        WsListener *l;

        assert(ctx);

        LIST_FOREACH (listeners, l, ctx->listeners)
                (void) sd_event_source_set_enabled(l->io_source, pause ? SD_EVENT_OFF : SD_EVENT_ON);
        if (pause) {
                (void) event_timer_arm(ctx->event, &ctx->accept_pause_source, WS_ACCEPT_PAUSE_USEC, 0, NULL,
                                       NULL, NULL, false);
        }
}

static int on_accept_pause_done(sd_event_source *s, uint64_t usec, void *userdata) {
        WsContext *ctx = ASSERT_PTR(userdata);

        assert(s);

        ws_context_pause_accept(ctx, false);
        return 0;
}

/* accept() passes on errors already pending on the new connection: they are about that one peer. */
static bool accept_error_is_transient(int e) {
        static const int transient[] = { EINTR,       ECONNABORTED, EPROTO, ENETDOWN,
                                         ENOPROTOOPT, EHOSTDOWN,    ENONET, EHOSTUNREACH,
                                         EOPNOTSUPP,  ENETUNREACH,  EPERM };

        for (size_t i = 0; i < ELEMENTSOF(transient); i++)
                if (e == transient[i])
                        return true;
        return false;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        WsListener *l = ASSERT_PTR(userdata);
        WsContext *ctx = ASSERT_PTR(l->ctx);

        assert(s);

        for (unsigned i = 0; i < WS_ACCEPT_BATCH; i++) {
                struct sockaddr_storage sa = {};
                socklen_t salen = sizeof sa;
                int cfd = accept4(fd, (struct sockaddr *) &sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC), e;

                if (cfd >= 0) {
                        ws_context_adopt(ctx, l, cfd, &sa);
                        continue;
                }
                e = errno;
                if (e == EAGAIN || e == EWOULDBLOCK)
                        return 0;
                if (accept_error_is_transient(e))
                        continue;
                /* Out of fds or memory: a level-triggered listener would spin, so rest a moment. The
                 * owner hears of it (at most once per pause) and decides what to say. */
                if (ratelimit_below(&ws_log_limit, 0))
                        log_debug_errno(-e, "Failed to accept a connection, pausing for 100 ms: %m");
                ws_context_pause_accept(ctx, true);
                if (ctx->handlers.on_accept_error)
                        ctx->handlers.on_accept_error(-e, ctx->userdata);
                return 0;
        }
        return 0;
}

static WsListener *ws_listener_free(WsListener *l) {
        if (!l)
                return NULL;
        sd_event_source_disable_unref(l->io_source);
        safe_close(l->fd);
        return mfree(l);
}

static int ws_context_add_listener(WsContext *ctx, int fd, bool tls) {
        _cleanup_close_ int lfd = fd;
        WsListener *l;
        int flags, loopback, r;

        assert(ctx);

        if (fd < 0)
                return -EBADF;
        if (ctx->freeing)
                return -ESHUTDOWN;
        if (tls && !ctx->tls_vhost)
                return -EINVAL;
        loopback = socket_is_loopback(lfd);
        if (loopback < 0)
                return loopback;
        /* Sockets from systemd may be blocking; the accept loop must see EAGAIN. */
        flags = fcntl(lfd, F_GETFL);
        if (flags < 0 || fcntl(lfd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;

        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->ctx = ctx;
        l->fd = TAKE_FD(lfd);
        l->tls = tls;
        l->loopback = loopback;
        r = sd_event_add_io(ctx->event, &l->io_source, l->fd, EPOLLIN, on_accept, l);
        if (r < 0) {
                ws_listener_free(l);
                return r;
        }
        (void) sd_event_source_set_description(l->io_source, "ws-accept");
        LIST_PREPEND(listeners, ctx->listeners, l);
        return 0;
}

int ws_context_listen(WsContext *ctx, int fd) {
        return ws_context_add_listener(ctx, fd, false);
}

int ws_context_listen_tls(WsContext *ctx, int fd) {
        return ws_context_add_listener(ctx, fd, true);
}

int ws_context_setup_accept(WsContext *ctx) {
        int r;

        assert(ctx);

        /* Made up front, so that pausing later cannot fail and leave the listeners off for good. */
        r = sd_event_add_time_relative(ctx->event, &ctx->accept_pause_source, CLOCK_MONOTONIC,
                                       WS_ACCEPT_PAUSE_USEC, 0, on_accept_pause_done, ctx);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(ctx->accept_pause_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(ctx->accept_pause_source, "ws-accept-pause");
        return 0;
}

void ws_context_stop_accept(WsContext *ctx) {
        WsListener *l;

        assert(ctx);

        while ((l = LIST_POP(listeners, ctx->listeners)))
                ws_listener_free(l);
        ctx->accept_pause_source = sd_event_source_disable_unref(ctx->accept_pause_source);
}

/* OpenSSL's names, and the TLS 1.3 alerts its table does not name. */
static const char *ws_tls_alert_name(int ret) {
        switch (ret & 0xff) {
        case 109:
                return "missing extension";
        case 116:
                return "certificate required"; /* no client certificate, where one is required */
        case 120:
                return "no application protocol";
        default:
                return SSL_alert_desc_string_long(ret);
        }
}

void ws_conn_on_ssl_info(WsConn *c, const struct lws_ssl_info *si) {
        assert(c);

        if (!si || c->client)
                return;
        if (si->where & SSL_CB_HANDSHAKE_DONE) {
                c->tls_done = true;
                return;
        }
        /* The first fatal alert before the end of the handshake says why it failed. */
        if (!(si->where & SSL_CB_ALERT) || c->tls_done || c->tls_error || (si->ret >> 8) != SSL3_AL_FATAL)
                return;
        ws_text_set(&c->tls_error, WS_ERROR_MAX, "%s the alert \"%s\"",
                    si->where & SSL_CB_READ ? "the client sent" : "we sent", ws_tls_alert_name(si->ret));
}
