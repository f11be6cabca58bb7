/* SPDX-License-Identifier: MIT */
/*
 * WebSocket endpoints on an sd-event loop, server side (the bus) and client side (scheduler,
 * producer, tests, benchmarks), built on libwebsockets through a libuv loop embedded in sd-event
 * (see uv-event.h).
 *
 * WsContext: one per loop. Owns the lws context, the listening sockets, and every connection.
 * WsConn: one connection, server or client side. Owned by its context; it lives until its final
 *   callback has returned: on_close for a connection that was opened, on_connect_error for a client
 *   connection that never opened. Exactly one of the two comes for every WsConn a caller has seen.
 *   Both are delivered from the sd-event loop, outside libwebsockets, so a handler may do anything
 *   there (connect again, send on other connections) except free the context.
 * WsMessage: a ref-counted outgoing text frame, with libwebsockets' header room in front of the
 *   payload, so that a broadcast allocates and fills it once and every connection queues a ref.
 *
 * Every bound a remote peer could push against is enforced here: the reassembled message size
 * (checked before buffering more; over it the connection is closed with 1009), the send queue per
 * connection (ws_conn_send() says -ENOBUFS; the caller decides, usually a close with 1008), the
 * number of server connections (more are closed at once and reported through on_refused).
 *
 * Binary messages are not part of the protocol: they are delivered through on_binary when it is
 * set, otherwise through on_message like text (so that the protocol layer judges the bytes and
 * answers with an error frame instead of the glue closing a connection needlessly).
 *
 * Library code: it logs at debug level only and returns errors or reports them through WsHandlers;
 * the daemon decides what to say. The implementation is split by job into ws-*.c (ws-internal.h).
 *
 * Single-threaded: every function is called from the thread that runs the sd_event loop.
 */
#pragma once

#include <sys/uio.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"

/* Close codes of RFC 6455 the project uses. */
#define WS_CLOSE_NORMAL      1000
#define WS_CLOSE_GOING_AWAY  1001
#define WS_CLOSE_UNSUPPORTED 1003
#define WS_CLOSE_NO_STATUS   1005 /* the peer's close frame carried no code */
#define WS_CLOSE_ABNORMAL    1006 /* no close frame at all: reset, timeout, shutdown */
#define WS_CLOSE_POLICY      1008
#define WS_CLOSE_TOO_BIG     1009
#define WS_CLOSE_INTERNAL    1011

/* The longest reason a close frame carries. */
#define WS_CLOSE_REASON_TEXT_MAX 123

#define WS_MAX_MESSAGE_DEFAULT        (64U * 1024U)
#define WS_MAX_QUEUE_MESSAGES_DEFAULT 4096U
#define WS_MAX_QUEUE_BYTES_DEFAULT    (4U * 1024U * 1024U)
#define WS_RX_IDLE_USEC_DEFAULT       (2U * 1000U * 1000U)

typedef struct WsContext WsContext;
typedef struct WsConn WsConn;
typedef struct WsMessage WsMessage;

/* TLS through libwebsockets' OpenSSL. Files are PEM, read when the context is made: one that cannot
 * be read fails ws_context_new() with its errno, one that does not load (not PEM, a key that is not
 * the certificate's) with -EIO. NULL fields are off. */
typedef struct WsTlsConfig {
        /* Server side: listeners added with ws_context_listen_tls() speak TLS with this certificate
         * (chain) and key; with client_ca, a client must present a certificate it signed. */
        const char *cert, *key, *client_ca;
        /* Client side: wss:// URLs work when set. A server's certificate must chain to `ca` (then
         * the only CA trusted; NULL: the system's store) and name the URL's host; client_cert and
         * client_key, when set, are presented for mutual TLS. */
        bool client;
        const char *ca, *client_cert, *client_key;
} WsTlsConfig;

/* Zero in a field means its default. */
typedef struct WsConfig {
        size_t max_message;        /* reassembled incoming message limit, default 64 KiB */
        size_t max_queue_messages; /* per-connection send queue bounds */
        size_t max_queue_bytes;
        unsigned max_connections; /* server side; 0 = unlimited */
        /* Server side: connections from one address beyond loopback, so that one host cannot take
         * every slot of max_connections; 0 = unlimited. Loopback and AF_UNIX peers are not counted. */
        unsigned max_connections_per_host;
        unsigned ping_interval_sec; /* 0 = no pings; otherwise an idle peer is pinged this often and
                                     * hung up on after three intervals without any traffic */
        /* Server side: a connection that received nothing for one to two of these, and is not in
         * the middle of a frame, gives libwebsockets' receive buffer (4 KiB) back to the kernel
         * until its next frame; default 2 s. */
        uint64_t rx_idle_usec;
        WsTlsConfig tls;
        const char *bearer; /* client side: sent as "Authorization: Bearer ..." in every upgrade */
} WsConfig;

/* An answer to a plain HTTP GET (server side). The body is copied; `headers` (may be NULL) are extra
 * "Name: value\r\n" lines. */
typedef struct WsHttpResponse {
        unsigned status; /* 200, 404, ... */
        const char *content_type;
        const void *body;
        size_t size;
        const char *headers;
        void *owned; /* may be NULL; freed (free()) by the glue once the response is copied */
} WsHttpResponse;

/* What a server knows of a request before answering it: a plain HTTP GET, or a WebSocket upgrade. */
typedef struct WsRequest {
        const char *path;   /* on_http: the path without its query string; NULL for an upgrade */
        const char *origin; /* the Origin header, NULL if none (non-browser clients send none) */
        const char *host;   /* the Host header, NULL if none */
        /* The token of an "Authorization: Bearer TOKEN" header, else of an access_token=TOKEN query
         * argument (browsers cannot set headers on a WebSocket); NULL if neither. Wiped after the
         * call: copy what must stay. */
        const char *bearer;
        bool secure;   /* over TLS */
        bool loopback; /* the listener is bound to a loopback address, or is an AF_UNIX socket */
} WsRequest;

typedef struct WsHandlers {
        /* Handshake done: a client was accepted (server side) or we are connected (client side). */
        void (*on_open)(WsConn *c, void *userdata);
        /* One complete message, reassembled, with a NUL after `size` bytes. */
        void (*on_message)(WsConn *c, const char *data, size_t size, void *userdata);
        /* Optional: binary messages; when NULL they go to on_message. */
        void (*on_binary)(WsConn *c, const void *data, size_t size, void *userdata);
        /* The connection is gone, for any reason; the last call for c. */
        void (*on_close)(WsConn *c, void *userdata);
        /* Client side: the connection never opened; the last call for c (no on_close follows). */
        void (*on_connect_error)(WsConn *c, const char *reason, void *userdata);
        /* Server side: a connection over max_connections (per_host false) or over
         * max_connections_per_host (true) was closed right after accept(). */
        void (*on_refused)(const char *peer, bool per_host, void *userdata);
        /* Optional, server side: a connection to a TLS listener that ended before its TLS handshake
         * was done, with why: the fatal alert one side sent (the client's certificate missing or
         * refused, ours not trusted by the client), or that the connection just closed. */
        void (*on_tls_failed)(const char *peer, const char *reason, void *userdata);
        /* Optional, server side: accept() failed with an error that is not about one peer (out of fds
         * or memory; error is a negative errno), so the listeners pause for 100 ms. Called at most
         * once per pause; the glue logs it at debug level only, the owner decides what to say. */
        void (*on_accept_error)(int error, void *userdata);
        /* Optional: a send queue that went above its high-water mark (see ws_conn_queue_is_high())
         * is back at its low-water mark, a sixteenth of each bound. */
        void (*on_queue_low)(WsConn *c, void *userdata);
        /* Optional, server side: a plain HTTP GET (or HEAD) of req->path. Fill *ret; return < 0 to
         * answer 500. Without it, HTTP requests are refused. Other methods get 405 without a call,
         * and a request in clear text on a TLS listener gets 400. */
        int (*on_http)(WsConn *c, const WsRequest *req, WsHttpResponse *ret, void *userdata);
        /* Optional, server side: whether to accept a WebSocket upgrade: 0 accepts it, anything else
         * is the HTTP status (401, 403) it is refused with, before the WebSocket exists. Without it,
         * every upgrade is accepted. An upgrade in clear text on a TLS listener gets 400 without a
         * call. The handler may give the connection its rights (ws_conn_set_rights()). */
        unsigned (*on_upgrade)(WsConn *c, const WsRequest *req, void *userdata);
} WsHandlers;

int ws_context_new(WsContext **ret, sd_event *e, const WsConfig *config, const WsHandlers *handlers,
                   void *userdata);
/* Closes every connection (each opened one gets on_close, each pending client connection gets
 * on_connect_error), drains libwebsockets and the uv loop, and frees everything. Works whether or
 * not the sd_event loop still runs; never call it from a WsHandlers callback. */
WsContext *ws_context_free(WsContext *ctx);
DEFINE_TRIVIAL_CLEANUP_FUNC(WsContext *, ws_context_free);
/* How many open server connections were idle at the last look, their receive buffers given back
 * (WsConfig.rx_idle_usec). */
unsigned ws_context_rx_released(WsContext *ctx);

/* Takes ownership of a listening stream socket (TCP or AF_UNIX) and serves it; may be called once
 * per socket. The fd is closed on failure too. */
int ws_context_listen(WsContext *ctx, int fd);
/* The same, for a socket that speaks TLS with the context's certificate (-EINVAL without one). */
int ws_context_listen_tls(WsContext *ctx, int fd);
/* Starts a client connection to "ws://host[:port][/path]" or "wss://..." with no subprotocol. A host name is
 * looked up off the loop (resolve.h), then each of its addresses is tried in turn; the Host header stays the
 * URL's host and port. Network failures, a name that does not resolve among them ("cannot resolve
 * HOST: ..."), are reported through on_connect_error, from the loop, never from this call; a
 * negative return means a bad URL (-EINVAL), a wss:// URL without tls.client (-EPROTONOSUPPORT), or no
 * memory. Closing the connection or freeing the context while the lookup runs cancels it. ret may be NULL.
 * Over TLS, a failure says what was wrong with the server's certificate, and an HTTP status that refused the
 * upgrade is named ("HTTP 401 Unauthorized"). */
int ws_context_connect(WsContext *ctx, const char *url, WsConn **ret);

/* "ws://host[:port][/path]" or "wss://...": the host (an IPv6 address without its brackets), the port
 * (80, or 443 for wss://, if none), the path ("/" if none) and whether it is wss:// (ret_tls may be
 * NULL). -EINVAL for anything else. */
int ws_parse_url(const char *url, char *host, size_t host_size, int *ret_port, char *path, size_t path_size,
                 bool *ret_tls);

int ws_message_new(WsMessage **ret, const char *data, size_t size);
/* The concatenation of the parts, without building it elsewhere first. */
int ws_message_new_parts(WsMessage **ret, const struct iovec *parts, size_t n_parts);
WsMessage *ws_message_ref(WsMessage *m);
WsMessage *ws_message_unref(WsMessage *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(WsMessage *, ws_message_unref);

/* Queues m (taking a ref of its own) as one text frame. The ref is dropped as soon as the frame is
 * written. A client connection that is not open yet queues too. Returns -ENOBUFS when the queue
 * bound would be exceeded (nothing was queued), -ENOTCONN once the connection is closing. */
int ws_conn_send(WsConn *c, WsMessage *m);
int ws_conn_send_text(WsConn *c, const char *data, size_t size);

/* Starts a close with `code` and a short `reason` (may be NULL, cut to 123 bytes); on_close follows.
 * With WS_CLOSE_NORMAL or WS_CLOSE_GOING_AWAY the queued messages go out first; with any other code
 * (an error: the peer misbehaved or is too slow) they are dropped so that the close frame goes out
 * right away. A peer that does not take the close within 5 s is cut off. The first call wins. */
void ws_conn_close(WsConn *c, uint16_t code, const char *reason);

void ws_conn_set_userdata(WsConn *c, void *userdata);
void *ws_conn_get_userdata(WsConn *c);
/* "127.0.0.1:54321", "[::1]:8101", "unix"; for a client connection the host and port of its URL. */
const char *ws_conn_get_peer(WsConn *c);
bool ws_conn_is_client(WsConn *c);
/* What the owner granted the connection, e.g. from its token in on_upgrade; 0 until set. */
void ws_conn_set_rights(WsConn *c, unsigned rights);
unsigned ws_conn_get_rights(WsConn *c);
/* For on_close: the code of the close frame the peer sent (WS_CLOSE_NO_STATUS when it had none),
 * else the code we closed with, else WS_CLOSE_ABNORMAL (reset, timeout, shutdown); 0 while open. */
uint16_t ws_conn_get_close_code(WsConn *c);
/* For on_close: the reason in the peer's close frame, printable ASCII only ("" if none). */
const char *ws_conn_get_close_reason(WsConn *c);
size_t ws_conn_queued_messages(WsConn *c);
size_t ws_conn_queued_bytes(WsConn *c);
/* Whether the send queue went above its high-water mark (a quarter of max_queue_messages or of
 * max_queue_bytes) and has not drained to its low-water mark since (then on_queue_low comes). Lets a
 * sender push back on whoever feeds it long before ws_conn_send() refuses. */
bool ws_conn_queue_is_high(WsConn *c);
/* CLOCK_MONOTONIC µs of the last time the send queue shrank (the peer takes what we write) or
 * became non-empty; with a non-empty queue, how long the peer has made no progress. */
uint64_t ws_conn_get_progress(WsConn *c);
/* Stops (true) or resumes reading from the peer: what it sends stays in the kernel's buffers and,
 * once they are full, TCP makes the peer wait. Messages already read are kept and delivered after
 * the resume. Pings are not answered while paused. No-op on a connection that is not open. */
void ws_conn_pause_rx(WsConn *c, bool pause);
bool ws_conn_is_rx_paused(WsConn *c);
