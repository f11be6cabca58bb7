/* SPDX-License-Identifier: MIT */
/*
 * The private side of ws.h: the structs every ws-*.c file shares, and the functions they call across
 * files. Nothing outside common/net/ws-*.c includes it.
 *
 * Who owns what: the WsContext owns its listeners (ws-server.c), every WsConn (in ctx->conns while
 * libwebsockets holds it, then in ctx->dead until its final callback, ws-context.c), the shared
 * batch buffer of ws-frame.c and the lws context. A WsConn owns one ref of every message in its send
 * queue and its receive buffer, and on the client side the lookup of its host (a Resolve, resolve.h)
 * with the addresses still to try. A WsMessage is shared by ref count between its creator and queues.
 * lws' receive buffer of a server connection is lws' own, in a slot of ws-rxpool.c's mappings.
 */
#pragma once

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "list.h"
#include "ratelimit.h"
#include "resolve.h"
#include "ring.h"
#include "uv-event.h"
#include "ws.h"

/* Clients that send no Sec-WebSocket-Protocol get the vhost's first protocol: this one. */
#define WS_PROTOCOL_NAME "sched"
#define WS_CLOSE_REASON_MAX \
        WS_CLOSE_REASON_TEXT_MAX /* a close frame's payload is at most 125 bytes, 2 for the code */
#define WS_PEER_MAX  64
#define WS_ERROR_MAX 128
/* A wss:// connection the server closed before the WebSocket opened: its TLS handshake failed on
 * the server's side, most often for a client certificate it wanted. */
#define WS_TLS_HANDSHAKE_CLOSED                                                                           \
        "TLS: the server closed the connection during the handshake (does it want a client certificate? " \
        "--cert, --key)"

struct WsMessage {
        unsigned n_ref;
        size_t size;
        unsigned char buf[]; /* LWS_PRE bytes of header room, the payload, a NUL */
};

typedef struct WsListener WsListener;
struct WsListener {
        WsContext *ctx;
        int fd;
        bool tls;      /* speaks TLS: its connections go to the TLS vhost */
        bool loopback; /* bound to a loopback address, or AF_UNIX */
        sd_event_source *io_source;
        LIST_FIELDS(WsListener, listeners);
};

struct WsConn {
        WsContext *ctx;
        struct lws *wsi;            /* NULL once libwebsockets has destroyed it */
        LIST_FIELDS(WsConn, conns); /* in ctx->conns while lws holds it */
        LIST_FIELDS(WsConn, dead);  /* then in ctx->dead until its final callback */
        void *userdata;
        char peer[WS_PEER_MAX];
        uint8_t addr[16]; /* server side: the peer's address, IPv4 as ::ffff:a.b.c.d */
        bool counted;     /* server side: a peer beyond loopback, under max_connections_per_host */

        bool client;
        bool opened;
        bool closing;
        bool dead;
        bool tls;       /* client: a wss:// URL; server: from a TLS listener */
        bool loopback;  /* server: from a listener bound to loopback */
        bool rx_active; /* a message is being reassembled */
        bool tls_done;  /* server, TLS listener: the handshake is done (or it is plain HTTP there) */
        bool rx_binary;

        Ring queue; /* WsMessage *, each holding a ref */
        size_t queue_bytes;
        bool queue_high;        /* went above the high-water mark, not yet back to the low one */
        bool rx_paused;         /* ws_conn_pause_rx() */
        uint64_t progress_usec; /* CLOCK_MONOTONIC: the queue last shrank, or became non-empty */

        char *rx;
        size_t rx_size, rx_alloc;

        /* Server side: lws' own receive buffer when it is a slot of ws-rxpool.c (else NULL), the
         * slot's number, and whether a message or a pong came since the last look. */
        void *lws_rx;
        unsigned lws_rx_slot;
        bool rx_recent;

        /* Client side only: lws masks the payload in place, so a shared message is copied here. */
        unsigned char *tx;
        size_t tx_alloc;

        /* Client side only, until an attempt opens: the URL's parts, the lookup of its host name
         * (which holds the addresses), the next address to try once an attempt failed, and the
         * source that starts that attempt outside lws. */
        char *host, *path;
        int port;
        bool connecting; /* lws holds an attempt, c->wsi is its wsi */
        Resolve *resolve;
        size_t next_address;
        sd_event_source *connect_source;

        /* Server side, a plain HTTP request: its answer, written when lws says the socket can take
         * it (head: status line and headers, then the body). */
        unsigned char *http;
        size_t http_size;
        bool http_head_only;

        unsigned rights; /* ws_conn_set_rights() */

        uint16_t close_code;
        uint16_t final_code; /* what ws_conn_get_close_code() reports */
        /* Texts, NULL until set (ws_text_set()): most connections never need any, and an idle
         * client of the bus should cost little more than its socket. */
        char *close_reason; /* ours, for the close frame */
        char *peer_reason;  /* the peer's close frame's, printable ASCII only */
        char *error;        /* client: why it did not open */
        char *tls_error;    /* client: why the server's certificate was refused; server: the alert
                             * that ended the TLS handshake */
};

struct WsContext {
        sd_event *event;
        UvEvent *uv;
        struct lws_context *lws;           /* set to NULL by lws itself when its destruction completes */
        struct lws_vhost *vhost;           /* plain listeners and every client connection */
        struct lws_vhost *tls_vhost;       /* TLS listeners; NULL without a certificate */
        char *bearer;                      /* client side: the token for the Authorization header */
        struct lws_protocols protocols[2]; /* lws keeps pointers to these and to retry */
        lws_retry_bo_t retry;
        unsigned char *batch; /* ws-frame.c: frames of small messages, built per write */
        uint32_t mask_state;

        WsConfig config;
        WsHandlers handlers;
        void *userdata;

        WsListener *listeners;
        sd_event_source *accept_pause_source; /* accepting resumes after running out of fds */
        sd_event_source *dead_source;         /* delivers final callbacks outside lws */
        sd_event_source *rx_idle_source;      /* ws-rxpool.c: gives idle receive buffers back */
        unsigned n_rx_released;               /* idle, their buffers given back, at the last look */

        WsConn *conns;
        WsConn *dead, *dead_tail;
        unsigned n_server_conns;
        bool freeing;
};

/* Shared by every debug line a remote peer can trigger. */
extern RateLimit ws_log_limit;

/* ws-conn.c: the connection core. */
/* Sets *t (allocated on first use, at most max - 1 bytes); without memory it stays as it was. */
_printf_(3, 4) void ws_text_set(char **t, size_t max, const char *format, ...);
static inline const char *ws_text(const char *t) {
        return t ?: "";
}
int ws_conn_new(WsContext *ctx, bool client, const char *peer, WsConn **ret);
WsConn *ws_conn_free(WsConn *c);
void ws_conn_queue_pop(WsConn *c);
void ws_conn_queue_clear(WsConn *c);
int ws_conn_on_established(WsConn *c);
int ws_conn_on_receive(WsConn *c, const void *data, size_t len);
int ws_conn_on_writeable(WsConn *c);
int ws_conn_on_timer(WsConn *c);
void ws_conn_on_peer_close(WsConn *c, const unsigned char *in, size_t len);

/* ws-http.c: plain HTTP on the server's port, and the check of an upgrade's Origin. */
int ws_conn_on_http(WsConn *c, const char *path);
int ws_conn_on_http_writeable(WsConn *c);
int ws_conn_on_http_body_done(WsConn *c);
int ws_conn_on_filter(WsConn *c);
int ws_conn_append_headers(WsConn *c, unsigned char **p, size_t len);

/* ws-frame.c: frame encoding. */
int ws_context_setup_frames(WsContext *ctx);
int ws_conn_write_frames(WsConn *c);

/* ws-callback.c: the one lws protocol callback. */
int ws_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

/* ws-server.c: listeners and the accept loop. */
int ws_context_setup_accept(WsContext *ctx);
void ws_context_stop_accept(WsContext *ctx);

/* ws-client.c: client connections, one attempt per address of the URL's host. */
void ws_conn_on_connect_error(WsConn *c, const char *in, size_t len);
void ws_conn_on_server_cert(WsConn *c, void *x509_ctx, bool preverify_ok);
/* ws-server.c: the server side of a TLS handshake, from LWS_CALLBACK_SSL_INFO. */
void ws_conn_on_ssl_info(WsConn *c, const struct lws_ssl_info *si);
void ws_conn_attempt_failed(WsConn *c);

/* ws-rxpool.c: lws' receive buffers in pages of our own, given back while a connection is idle. */
void ws_rxpool_install(void);
/* In ESTABLISHED: the buffer lws has just allocated for this connection, or NULL. */
void *ws_rxpool_claim(unsigned *ret_slot);
void ws_context_watch_rx(WsContext *ctx);

/* ws-context.c: the dead-connection list and final callbacks. */
void ws_conn_detach(WsConn *c);
void ws_context_kick(WsContext *ctx);
