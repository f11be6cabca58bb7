/* SPDX-License-Identifier: MIT */
/*
 * Plain HTTP on a server's port, beside the WebSocket upgrades: a GET (or HEAD) is answered from the
 * owner's on_http handler with one complete response, built at once and written when lws says the
 * socket can take it; lws keeps what the kernel does not take. Every other method gets 405. And the
 * owner's say on an upgrade, from its Origin, Host and bearer token (on_upgrade): a refused one gets
 * its status (401, 403) and is closed before the WebSocket exists. On a TLS listener, a request in
 * clear text gets 400 without asking the owner.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ws-internal.h"

#define WS_HTTP_HEAD_MAX 1024
#define WS_HEADER_MAX    256

static const char *ws_http_reason(unsigned status) {
        switch (status) {
        case 200:
                return "OK";
        case 400:
                return "Bad Request";
        case 401:
                return "Unauthorized";
        case 403:
                return "Forbidden";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        default:
                return status >= 500 ? "Internal Server Error" : "";
        }
}

/* The whole response in one buffer, with lws' header room in front. */
static int ws_conn_set_http(WsConn *c, const WsHttpResponse *resp, bool head_only) {
        char head[WS_HTTP_HEAD_MAX];
        size_t body = head_only ? 0 : resp->size;
        int n;

        assert(c);
        assert(resp);

        n = snprintf(head, sizeof head,
                     "HTTP/1.1 %u %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "%s"
                     "\r\n",
                     resp->status, ws_http_reason(resp->status),
                     resp->content_type ?: "text/plain; charset=utf-8", resp->size, resp->headers ?: "");
        if (n < 0 || (size_t) n >= sizeof head)
                return -E2BIG;
        free(c->http);
        c->http = malloc(LWS_PRE + (size_t) n + body);
        if (!c->http)
                return -ENOMEM;
        memcpy(c->http + LWS_PRE, head, (size_t) n);
        if (body > 0)
                memcpy(c->http + LWS_PRE + n, resp->body, body);
        c->http_size = (size_t) n + body;
        return 0;
}

static int ws_conn_answer(WsConn *c, const WsHttpResponse *resp, bool head_only) {
        assert(c);

        if (ws_conn_set_http(c, resp, head_only) < 0)
                return -1;
        lws_callback_on_writable(c->wsi);
        return 0;
}

/* A header as a string, "" when absent (NULL then), cut at WS_HEADER_MAX. */
static const char *ws_conn_header(WsConn *c, enum lws_token_indexes token, char *buf, size_t size) {
        assert(c);

        if (lws_hdr_total_length(c->wsi, token) <= 0 || lws_hdr_copy(c->wsi, buf, (int) size, token) < 0)
                return NULL;
        return buf;
}

/* The token of "Authorization: Bearer TOKEN", else of an access_token=TOKEN query argument. */
static const char *ws_conn_bearer(WsConn *c, char *buf, size_t size) {
        const char *v;

        assert(c);
        assert(buf);

        v = ws_conn_header(c, WSI_TOKEN_HTTP_AUTHORIZATION, buf, size);
        if (v) {
                if (strncasecmp(v, "Bearer ", 7) != 0)
                        return NULL;
                v += 7;
                v += strspn(v, " ");
                return *v ? v : NULL;
        }
        v = lws_get_urlarg_by_name(c->wsi, "access_token=", buf, (int) size);
        return v && *v ? v : NULL;
}

/* Everything a handler may judge a request by. The buffers are the caller's. */
typedef struct WsRequestBuffers {
        char path[WS_HEADER_MAX], origin[WS_HEADER_MAX], host[WS_HEADER_MAX], bearer[WS_HEADER_MAX + 16];
} WsRequestBuffers;

static void ws_conn_request(WsConn *c, const char *path, WsRequestBuffers *b, WsRequest *ret) {
        assert(c);
        assert(b);
        assert(ret);

        *ret = (WsRequest){
                .origin = ws_conn_header(c, WSI_TOKEN_ORIGIN, b->origin, sizeof b->origin),
                .host = ws_conn_header(c, WSI_TOKEN_HOST, b->host, sizeof b->host),
                .bearer = ws_conn_bearer(c, b->bearer, sizeof b->bearer),
                .secure = lws_is_ssl(c->wsi),
                .loopback = c->loopback,
        };
        if (path) {
                (void) snprintf(b->path, sizeof b->path, "%s", path);
                b->path[strcspn(b->path, "?#")] = 0;
                ret->path = b->path;
        }
}

static void ws_request_buffers_wipe(WsRequestBuffers *b) {
        explicit_bzero(b->bearer, sizeof b->bearer);
}

static const char tls_only[] = "This port speaks TLS: use wss:// or https://.\n";

int ws_conn_on_http(WsConn *c, const char *path) {
        static const char text[] = "text/plain; charset=utf-8";
        const WsHandlers *h;
        WsHttpResponse resp = {};
        WsRequestBuffers buffers;
        WsRequest req;
        bool head;
        int r;

        assert(c);

        c->tls_done = true; /* a request came: TLS or not, the handshake is over */
        h = &c->ctx->handlers;
        head = lws_hdr_total_length(c->wsi, WSI_TOKEN_HEAD_URI) > 0;
        if (lws_hdr_total_length(c->wsi, WSI_TOKEN_GET_URI) <= 0 && !head)
                return ws_conn_answer(c,
                                      &(WsHttpResponse){ .status = 405,
                                                         .content_type = text,
                                                         .body = "Method not allowed.\n",
                                                         .size = strlen("Method not allowed.\n"),
                                                         .headers = "Allow: GET, HEAD\r\n" },
                                      false);
        if (c->tls && !lws_is_ssl(c->wsi))
                return ws_conn_answer(c,
                                      &(WsHttpResponse){ .status = 400,
                                                         .content_type = text,
                                                         .body = tls_only,
                                                         .size = strlen(tls_only) },
                                      head);
        if (!h->on_http)
                return -1;
        ws_conn_request(c, path ?: "/", &buffers, &req);
        r = h->on_http(c, &req, &resp, c->ctx->userdata);
        ws_request_buffers_wipe(&buffers);
        if (r < 0) {
                free(resp.owned);
                resp = (WsHttpResponse){ .status = 500,
                                         .content_type = text,
                                         .body = "Internal error.\n",
                                         .size = strlen("Internal error.\n") };
        }
        r = ws_conn_answer(c, &resp, head);
        free(resp.owned);
        return r;
}

/* A request with a body (a method we refuse): its answer goes once the body is read, or lws would
 * end the transaction there with none. */
int ws_conn_on_http_body_done(WsConn *c) {
        assert(c);

        if (c->http)
                lws_callback_on_writable(c->wsi);
        return 0;
}

int ws_conn_on_http_writeable(WsConn *c) {
        int n;

        assert(c);

        if (!c->http)
                return 0;
        n = lws_write(c->wsi, c->http + LWS_PRE, c->http_size, LWS_WRITE_HTTP_FINAL);
        c->http = mfree(c->http);
        if (n < 0)
                return -1;
        /* Keep-alive: the connection may carry the next request; or it ends here. */
        return lws_http_transaction_completed(c->wsi) ? -1 : 0;
}

/* Refuses an upgrade with an HTTP answer, written raw in the WebSocket role lws has already switched
 * to; lws closes the connection once the filter says no. The answer is small: the kernel takes it
 * whole (lws keeps any rest of a TLS record). */
static int ws_conn_refuse(WsConn *c, unsigned status, const char *text) {
        unsigned char buf[LWS_PRE + WS_HTTP_HEAD_MAX];
        int n;

        assert(c);
        assert(text);

        n = snprintf((char *) buf + LWS_PRE, WS_HTTP_HEAD_MAX,
                     "HTTP/1.1 %u %s\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n"
                     "%s"
                     "Connection: close\r\n"
                     "\r\n"
                     "%s",
                     status, ws_http_reason(status), strlen(text),
                     status == 401 ? "WWW-Authenticate: Bearer\r\n" : "", text);
        if (n > 0 && n < WS_HTTP_HEAD_MAX)
                (void) lws_write(c->wsi, buf + LWS_PRE, (size_t) n, LWS_WRITE_HTTP);
        return 1;
}

static const char *ws_refusal_text(unsigned status) {
        switch (status) {
        case 401:
                return "A valid token is needed: Authorization: Bearer TOKEN.\n";
        case 403:
                return "Forbidden.\n";
        default:
                return "Refused.\n";
        }
}

int ws_conn_on_filter(WsConn *c) {
        const WsHandlers *h;
        WsRequestBuffers buffers;
        WsRequest req;
        unsigned status;

        assert(c);

        c->tls_done = true; /* a request came: TLS or not, the handshake is over */
        if (c->tls && !lws_is_ssl(c->wsi))
                return ws_conn_refuse(c, 400, tls_only);
        h = &c->ctx->handlers;
        if (!h->on_upgrade)
                return 0;
        ws_conn_request(c, NULL, &buffers, &req);
        status = h->on_upgrade(c, &req, c->ctx->userdata);
        ws_request_buffers_wipe(&buffers);
        if (status == 0)
                return 0;
        return ws_conn_refuse(c, status, ws_refusal_text(status));
}
