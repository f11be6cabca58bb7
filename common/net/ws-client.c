/* SPDX-License-Identifier: MIT */
/*
 * The client side of a WsContext: parses a ws:// URL, starts a connection through lws and keeps
 * why it failed for on_connect_error. The WsConn it makes is the context's, like any other.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ws-internal.h"

/* "ws://host[:port][/path]"; an IPv6 host in brackets. */
static int ws_parse_url(const char *url, char *host, size_t host_size, int *ret_port, char *path,
                        size_t path_size) {
        const char *p, *end, *h, *after;
        size_t hlen;
        long port = 80;

        assert(url);
        assert(host);
        assert(ret_port);
        assert(path);

        if (strncasecmp(url, "wss://", 6) == 0)
                return -EPROTONOSUPPORT;
        if (strncasecmp(url, "ws://", 5) != 0)
                return -EINVAL;
        p = url + 5;
        end = p + strcspn(p, "/?#");

        if (*p == '[') {
                const char *close = memchr(p, ']', (size_t) (end - p));

                if (!close)
                        return -EINVAL;
                h = p + 1;
                hlen = (size_t) (close - h);
                after = close + 1;
        } else {
                const char *colon = memchr(p, ':', (size_t) (end - p));

                h = p;
                after = colon ?: end;
                hlen = (size_t) (after - p);
        }
        if (hlen == 0 || hlen >= host_size)
                return -EINVAL;

        if (after < end) {
                char *e = NULL;

                if (*after != ':' || after + 1 == end || after[1] < '0' || after[1] > '9')
                        return -EINVAL;
                errno = 0;
                port = strtol(after + 1, &e, 10);
                if (errno != 0 || e != end || port < 1 || port > 65535)
                        return -EINVAL;
        }

        if (strlen(end) + 2 > path_size)
                return -EINVAL;
        (void) snprintf(path, path_size, *end == '/' ? "%s" : "/%s", end);

        memcpy(host, h, hlen);
        host[hlen] = 0;
        *ret_port = (int) port;
        return 0;
}

int ws_context_connect(WsContext *ctx, const char *url, WsConn **ret) {
        char host[256], path[1024], peer[WS_PEER_MAX];
        struct lws *wsi;
        WsConn *c;
        int port, r;

        assert(ctx);
        assert(url);

        r = ws_parse_url(url, host, sizeof host, &port, path, sizeof path);
        if (r < 0)
                return r;
        if (ctx->freeing)
                return -ESHUTDOWN;
        (void) snprintf(peer, sizeof peer, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
        r = ws_conn_new(ctx, true, peer, &c);
        if (r < 0)
                return r;

        /* No .protocol: no Sec-WebSocket-Protocol header, as the original Python clients do. */
        wsi = lws_client_connect_via_info(&(struct lws_client_connect_info){
                .context = ctx->lws,
                .vhost = ctx->vhost,
                .address = host,
                .port = port,
                .path = path,
                .host = peer,
                .local_protocol_name = WS_PROTOCOL_NAME,
                .opaque_user_data = c,
                .pwsi = &c->wsi,
                .retry_and_idle_policy = ctx->config.ping_interval_sec > 0 ? &ctx->retry : NULL,
        });
        if (!wsi && !c->dead) {
                /* lws gave up within the call (and freed the wsi): report it from the loop, like any
                 * other failure. */
                if (!c->error[0])
                        (void) snprintf(c->error, sizeof c->error, "address lookup or connect failed");
                ws_conn_detach(c);
        }
        ws_context_kick(ctx);
        if (ret)
                *ret = c;
        return 0;
}

void ws_conn_on_connect_error(WsConn *c, const char *in, size_t len) {
        assert(c);

        if (in && len > 0)
                (void) snprintf(c->error, sizeof c->error, "%.*s", (int) len, in);
        else
                (void) snprintf(c->error, sizeof c->error, "%s", in ?: "connection failed");
}
