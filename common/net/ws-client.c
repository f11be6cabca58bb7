/* SPDX-License-Identifier: MIT */
/*
 * The client side of a WsContext: parses a ws:// or wss:// URL, has its host name looked up off the
 * loop (resolve.h), and gives lws one numeric address per attempt, the next one when an attempt
 * fails, keeping why the last one failed for on_connect_error: in words an administrator can act on
 * when the server's certificate or the server's HTTP answer was the reason. The WsConn it makes is
 * the context's, like any other.
 */
#include <netdb.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "ws-internal.h"

int ws_parse_url(const char *url, char *host, size_t host_size, int *ret_port, char *path, size_t path_size,
                 bool *ret_tls) {
        const char *p, *end, *h, *after;
        bool tls = false;
        size_t hlen;
        long port;

        assert(url);
        assert(host);
        assert(ret_port);
        assert(path);

        if (strncasecmp(url, "wss://", 6) == 0) {
                tls = true;
                p = url + 6;
        } else if (strncasecmp(url, "ws://", 5) == 0)
                p = url + 5;
        else
                return -EINVAL;
        port = tls ? 443 : 80;
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
        if (ret_tls)
                *ret_tls = tls;
        return 0;
}

/* One attempt on a numeric address, so that lws looks nothing up; the Host header stays the URL's. */
static void ws_conn_start(WsConn *c, const char *address) {
        WsContext *ctx;
        struct lws *wsi;

        assert(c);
        assert(address);

        ctx = c->ctx;
        c->connecting = true;
        /* No .protocol: no Sec-WebSocket-Protocol header, as the original Python clients do. */
        wsi = lws_client_connect_via_info(&(struct lws_client_connect_info){
                .context = ctx->lws,
                .vhost = ctx->vhost,
                .address = address,
                .port = c->port,
                .path = c->path,
                /* lws checks the certificate against this, cut at its first ':': an IPv6 address
                 * goes bare (the Host header then lacks brackets and port; the bus does not mind). */
                .host = c->tls && strchr(c->host, ':') ? c->host : c->peer,
                .local_protocol_name = WS_PROTOCOL_NAME,
                .opaque_user_data = c,
                .pwsi = &c->wsi,
                /* The certificate must chain to the CA and name the Host header's host. */
                .ssl_connection = c->tls ? LCCSCF_USE_SSL : 0,
                .retry_and_idle_policy = ctx->config.ping_interval_sec > 0 ? &ctx->retry : NULL,
        });
        if (!wsi && c->connecting) {
                /* lws gave up within the call (and freed the wsi) without telling us. */
                if (!c->error)
                        ws_text_set(&c->error, WS_ERROR_MAX, "connect to %s failed", address);
                ws_conn_attempt_failed(c);
        }
        ws_context_kick(ctx);
}

static bool ws_conn_has_next_address(WsConn *c) {
        size_t n = 0;

        assert(c);

        if (c->resolve)
                (void) resolve_get_addresses(c->resolve, &n);
        return c->next_address < n;
}

/* Tries the next address of the host's; with none left the connection has failed. */
static void ws_conn_connect_next(WsConn *c) {
        const ResolveAddress *a;
        char address[NI_MAXHOST];
        size_t n;
        int r;

        assert(c);

        if (!ws_conn_has_next_address(c)) {
                if (!c->error)
                        ws_text_set(&c->error, WS_ERROR_MAX, "cannot resolve %s: no address", c->host);
                ws_conn_detach(c);
                return;
        }
        a = &resolve_get_addresses(c->resolve, &n)[c->next_address++];
        r = getnameinfo((const struct sockaddr *) &a->sa, a->len, address, sizeof address, NULL, 0,
                        NI_NUMERICHOST);
        if (r != 0) {
                ws_text_set(&c->error, WS_ERROR_MAX, "bad address for %s: %s", c->host, gai_strerror(r));
                ws_conn_attempt_failed(c);
                return;
        }
        ws_conn_start(c, address);
}

static int on_connect_next(sd_event_source *s, void *userdata) {
        WsConn *c = ASSERT_PTR(userdata);

        assert(s);

        ws_conn_connect_next(c);
        return 0;
}

static void on_resolved(Resolve *r, int ret, int error, void *userdata) {
        WsConn *c = ASSERT_PTR(userdata);

        assert(r);
        assert(c->resolve == r);

        if (ret != 0) {
                ws_text_set(&c->error, WS_ERROR_MAX, "cannot resolve %s: %s", c->host,
                            resolve_strerror(ret, error));
                ws_conn_detach(c);
                return;
        }
        ws_conn_connect_next(c);
}

/* An attempt ended before the handshake: lws destroyed its wsi, or never made one. The next address
 * is tried from the loop, outside lws; the connection fails when none is left, or when it is
 * being closed. */
void ws_conn_attempt_failed(WsConn *c) {
        WsContext *ctx;
        int r;

        assert(c);

        ctx = c->ctx;
        c->connecting = false;
        c->wsi = NULL;
        if (!ws_conn_has_next_address(c) || c->closing || ctx->freeing) {
                ws_conn_detach(c);
                return;
        }
        if (!c->connect_source) {
                r = sd_event_add_defer(ctx->event, &c->connect_source, on_connect_next, c);
                if (r < 0) {
                        log_debug_errno(r, "Failed to schedule the next address of %s: %m", c->host);
                        ws_conn_detach(c);
                        return;
                }
                (void) sd_event_source_set_description(c->connect_source, "ws-connect-next");
        }
        r = sd_event_source_set_enabled(c->connect_source, SD_EVENT_ONESHOT);
        if (r < 0) {
                log_debug_errno(r, "Failed to schedule the next address of %s: %m", c->host);
                ws_conn_detach(c);
        }
}

int ws_context_connect(WsContext *ctx, const char *url, WsConn **ret) {
        char host[256], path[1024], peer[WS_PEER_MAX];
        _cleanup_free_ char *host_copy = NULL, *path_copy = NULL;
        WsConn *c;
        bool tls;
        int port, r;

        assert(ctx);
        assert(url);

        r = ws_parse_url(url, host, sizeof host, &port, path, sizeof path, &tls);
        if (r < 0)
                return r;
        if (tls && !ctx->config.tls.client)
                return -EPROTONOSUPPORT;
        if (ctx->freeing)
                return -ESHUTDOWN;
        host_copy = strdup(host);
        path_copy = strdup(path);
        if (!host_copy || !path_copy)
                return -ENOMEM;
        (void) snprintf(peer, sizeof peer, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
        r = ws_conn_new(ctx, true, peer, &c);
        if (r < 0)
                return r;
        c->host = TAKE_PTR(host_copy);
        c->path = TAKE_PTR(path_copy);
        c->port = port;
        c->tls = tls;

        if (resolve_is_numeric(host))
                ws_conn_start(c, host);
        else {
                /* Not in lws: 4.1 would call getaddrinfo() right here, on the loop. A failure to
                 * start the lookup too comes from the loop, like its answer. */
                r = resolve_new(&c->resolve, ctx->event, host, on_resolved, c);
                if (r < 0) {
                        ws_text_set(&c->error, WS_ERROR_MAX, "cannot resolve %s: %s", c->host, strerror(-r));
                        ws_conn_detach(c);
                }
        }
        if (ret)
                *ret = c;
        return 0;
}

/* The handshake's answer was not 101: say which HTTP status, and what it usually means. */
static void ws_conn_http_error(WsConn *c, unsigned status) {
        assert(c);

        if (status == 401)
                ws_text_set(&c->error, WS_ERROR_MAX,
                            "HTTP 401 Unauthorized: the server refused the token (or its absence)");
        else if (status == 403)
                ws_text_set(&c->error, WS_ERROR_MAX,
                            "HTTP 403 Forbidden: the server refused the connection");
        else if (status == 400 && !c->tls)
                ws_text_set(&c->error, WS_ERROR_MAX, "HTTP 400 Bad Request: is this a TLS port? use wss://");
        else
                ws_text_set(&c->error, WS_ERROR_MAX, "HTTP %u: the server refused the WebSocket upgrade",
                            status);
}

void ws_conn_on_connect_error(WsConn *c, const char *in, size_t len) {
        unsigned status;

        assert(c);

        /* The certificate's fault, found by the verify callback: the most precise reason. */
        if (c->tls_error) {
                ws_text_set(&c->error, WS_ERROR_MAX, "%s", c->tls_error);
                return;
        }
        status = c->wsi ? lws_http_client_http_response(c->wsi) : 0;
        if (status >= 200 && status != 101) {
                ws_conn_http_error(c, status);
                return;
        }
        /* lws' words for a peer that hung up before the upgrade's answer. */
        if (c->tls && in && len >= 13 && strncasecmp(in, "closed before", 13) == 0)
                ws_text_set(&c->error, WS_ERROR_MAX, "%s", WS_TLS_HANDSHAKE_CLOSED);
        /* And for a TLS handshake that got no TLS back: OpenSSL's code, and what it usually means. */
        else if (c->tls && in && len >= 11 && strncmp(in, "connect SSL", 11) == 0)
                ws_text_set(&c->error, WS_ERROR_MAX,
                            "TLS: the handshake failed: is this a ws:// port, without TLS? (%.*s)",
                            (int) MIN(len, (size_t) 48), in);
        else if (in && len > 0)
                ws_text_set(&c->error, WS_ERROR_MAX, "%.*s", (int) len, in);
        else
                ws_text_set(&c->error, WS_ERROR_MAX, "%s", in ?: "connection failed");
}

/* OpenSSL's verdict on each certificate of the server's chain. Only a failure is kept, in words:
 * lws itself would report a bare "certificate verify failed". */
void ws_conn_on_server_cert(WsConn *c, void *x509_ctx, bool preverify_ok) {
        X509_STORE_CTX *x = x509_ctx;
        const char *hint;
        int e;

        assert(c);

        if (preverify_ok || !x || c->tls_error)
                return;
        e = X509_STORE_CTX_get_error(x);
        switch (e) {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
                hint = "is not trusted";
                break;
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
                ws_text_set(&c->tls_error, WS_ERROR_MAX,
                            "TLS: the server's certificate does not match %s (%s)", c->host,
                            X509_verify_cert_error_string(e));
                return;
        case X509_V_ERR_CERT_HAS_EXPIRED:
                hint = "has expired";
                break;
        case X509_V_ERR_CERT_NOT_YET_VALID:
                hint = "is not valid yet";
                break;
        default:
                hint = "was refused";
        }
        ws_text_set(&c->tls_error, WS_ERROR_MAX, "TLS: the server's certificate %s (%s)", hint,
                    X509_verify_cert_error_string(e));
}

/* The bearer token, in every upgrade request of the context. */
int ws_conn_append_headers(WsConn *c, unsigned char **p, size_t len) {
        char value[WS_ERROR_MAX * 4];
        int n, r;

        assert(c);
        assert(p);

        if (!c->ctx->bearer)
                return 0;
        n = snprintf(value, sizeof value, "Bearer %s", c->ctx->bearer);
        if (n < 0 || (size_t) n >= sizeof value)
                return -1;
        r = lws_add_http_header_by_token(c->wsi, WSI_TOKEN_HTTP_AUTHORIZATION, (const unsigned char *) value,
                                         n, p, *p + len);
        explicit_bzero(value, sizeof value);
        return r ? -1 : 0;
}
