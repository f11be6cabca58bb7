/* SPDX-License-Identifier: MIT */
/*
 * WsContext: one per sd-event loop. Creates and destroys everything the glue runs on (the uv loop in
 * sd-event, the lws context and vhost, the sources), and owns every WsConn until its one final
 * callback: libwebsockets lets go of a connection from inside its own callbacks, so the connection
 * moves to the dead list, and a defer source delivers on_close or on_connect_error from sd-event,
 * where a handler may do anything but free the context.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include <openssl/ssl.h>

#include "ws-internal.h"

#define WS_SHUTDOWN_ROUNDS 1000

RateLimit ws_log_limit = RATELIMIT_INIT(10 * USEC_PER_SEC, 20);

/* lws reports through this at LLL_ERR only unless we debug; its lines end in a newline. */
static void ws_lws_log(int level, const char *line) {
        size_t len;

        assert(line);

        len = strlen(line);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
        if (level != LLL_ERR || ratelimit_below(&ws_log_limit, 0))
                log_debug("libwebsockets: %.*s", (int) len, line);
}

/* Wakes lws up for work queued from outside its callbacks: in 4.1 a timeout or sul set there does
 * not fire on an otherwise idle context. */
void ws_context_kick(WsContext *ctx) {
        assert(ctx);

        if (ctx->lws)
                lws_cancel_service(ctx->lws);
}

/* libwebsockets is done with the connection. From here on c only waits for its final callback,
 * which the dead source delivers from sd-event, outside lws, so the handler may do anything. */
void ws_conn_detach(WsConn *c) {
        WsContext *ctx;
        int r;

        assert(c);

        if (c->dead)
                return;
        ctx = c->ctx;
        c->dead = true;
        c->wsi = NULL;
        c->connecting = false;
        c->resolve = resolve_free(c->resolve); /* a lookup under way is cancelled */
        if (c->connect_source)
                (void) sd_event_source_set_enabled(c->connect_source, SD_EVENT_OFF);
        ws_conn_queue_clear(c);
        c->rx = mfree(c->rx);
        c->rx_alloc = c->rx_size = 0;
        c->lws_rx = NULL; /* lws frees its buffer */

        LIST_REMOVE(conns, ctx->conns, c);
        if (!c->client)
                ctx->n_server_conns--;
        /* A FIFO, so that final callbacks come in the order the connections went. */
        LIST_INSERT_AFTER(dead, ctx->dead, ctx->dead_tail, c);
        ctx->dead_tail = c;

        /* ws_context_free() delivers the final callbacks itself, maybe after the loop has ended. */
        if (ctx->freeing)
                return;
        r = sd_event_source_set_enabled(ctx->dead_source, SD_EVENT_ONESHOT);
        if (r < 0)
                log_debug_errno(r, "Failed to schedule the close of a WebSocket connection, ignoring: %m");
}

/* The one final callback of a connection, then it is freed. */
static void ws_conn_finalize(WsConn *c) {
        WsContext *ctx;

        assert(c);

        ctx = c->ctx;
        if (c->opened) {
                if (c->final_code == 0)
                        c->final_code = c->closing ? c->close_code : WS_CLOSE_ABNORMAL;
                if (ctx->handlers.on_close)
                        ctx->handlers.on_close(c, ctx->userdata);
        } else if (!c->client && c->tls && !c->tls_done && ctx->handlers.on_tls_failed)
                ctx->handlers.on_tls_failed(c->peer, c->tls_error ?: "the connection closed during it",
                                            ctx->userdata);
        else if (c->client && ctx->handlers.on_connect_error)
                ctx->handlers.on_connect_error(c,
                                               c->error ? c->error
                                               : c->tls ? WS_TLS_HANDSHAKE_CLOSED
                                                        : "connection closed",
                                               ctx->userdata);
        /* Any other server connection that never finished its handshake was never shown to anyone. */
        ws_conn_free(c);
}

static void ws_context_flush_dead(WsContext *ctx) {
        WsConn *list, *c, *n;

        assert(ctx);

        /* Connections that die during these callbacks wait for the next round. */
        list = TAKE_PTR(ctx->dead);
        ctx->dead_tail = NULL;
        LIST_FOREACH_SAFE (dead, c, n, list)
                ws_conn_finalize(c);
}

static int on_dead(sd_event_source *s, void *userdata) {
        WsContext *ctx = ASSERT_PTR(userdata);

        assert(s);

        ws_context_flush_dead(ctx);
        return 0;
}

static void ws_config_defaults(WsConfig *c) {
        assert(c);

        if (c->max_message == 0)
                c->max_message = WS_MAX_MESSAGE_DEFAULT;
        if (c->max_queue_messages == 0)
                c->max_queue_messages = WS_MAX_QUEUE_MESSAGES_DEFAULT;
        if (c->max_queue_bytes == 0)
                c->max_queue_bytes = WS_MAX_QUEUE_BYTES_DEFAULT;
        if (c->rx_idle_usec == 0)
                c->rx_idle_usec = WS_RX_IDLE_USEC_DEFAULT;
}

static int ws_context_setup_dead(WsContext *ctx) {
        int r;

        assert(ctx);

        r = sd_event_add_defer(ctx->event, &ctx->dead_source, on_dead, ctx);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(ctx->dead_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(ctx->dead_source, "ws-closed");
        return 0;
}

static bool ws_config_has_tls(const WsConfig *c) {
        assert(c);
        return c->tls.cert || c->tls.client;
}

/* lws would go on without a CA file it cannot read (and every verification would fail): each file
 * must be there. */
static int ws_tls_check_files(const WsTlsConfig *tls) {
        const char *files[] = { tls->cert, tls->key,         tls->client_ca,
                                tls->ca,   tls->client_cert, tls->client_key };

        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (files[i] && access(files[i], R_OK) < 0)
                        return -errno;
        return 0;
}

static int ws_context_setup_lws(WsContext *ctx) {
        void *loops[] = { uv_event_get_loop(ASSERT_PTR(ctx)->uv) };
        const WsTlsConfig *tls = &ctx->config.tls;
        /* OpenSSL is only initialised, and a client TLS context only made, for a context that needs
         * them: a plain one stays as light as before. */
        uint64_t ssl = ws_config_has_tls(&ctx->config) ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
        int r;
        struct lws_context_creation_info info = {
                .port = CONTEXT_PORT_NO_LISTEN,
                .gid = -1,
                .uid = -1,
                .options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS | ssl,
                .foreign_loops = loops,
                .pcontext = &ctx->lws,
        };
        struct lws_context_creation_info vinfo = {
                .port = CONTEXT_PORT_NO_LISTEN_SERVER, /* we accept(), lws adopts */
                .gid = -1,
                .uid = -1,
                .vhost_name = "default",
                .protocols = ctx->protocols,
                /* A CA given is the only one trusted: not the system's store as well. */
                .options = tls->client ? ssl | (tls->ca ? LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS : 0) : 0,
                .client_ssl_ca_filepath = tls->ca,
                .client_ssl_cert_filepath = tls->client_cert,
                .client_ssl_private_key_filepath = tls->client_key,
        };

        ctx->protocols[0] = (struct lws_protocols){
                .name = WS_PROTOCOL_NAME,
                .callback = ws_lws_callback,
                /* One send() per frame: by default lws cuts writes at the rx buffer size and copies
                 * the rest aside. */
                .tx_packet_size = ctx->config.max_message + LWS_PRE + 16,
        };
        if (ctx->config.ping_interval_sec > 0) {
                uint16_t ping = (uint16_t) MIN(ctx->config.ping_interval_sec, UINT16_MAX / 3U);

                ctx->retry = (lws_retry_bo_t){ .secs_since_valid_ping = ping,
                                               .secs_since_valid_hangup = ping * 3 };
                vinfo.retry_and_idle_policy = &ctx->retry;
        }

        /* Only errors, rate-limited, at our debug level: lws is chatty at notice level. All of it
         * when we debug. */
        lws_set_log_level(log_get_max_level() >= LOG_DEBUG ? LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO
                                                           : LLL_ERR,
                          ws_lws_log);

        ws_rxpool_install();
        r = ws_tls_check_files(tls);
        if (r < 0)
                return r;
        ctx->lws = lws_create_context(&info);
        if (!ctx->lws)
                return -EIO; /* lws logged why, e.g. a missing libwebsockets-evlib_uv.so */
        ctx->vhost = lws_create_vhost(ctx->lws, &vinfo);
        if (!ctx->vhost)
                return -EIO; /* with TLS: a CA or client certificate that would not load */
        if (!tls->cert)
                return 0;

        /* The TLS listeners' vhost. A request in clear text is let through (not hung up on), so
         * that ws-http.c can answer it with a 400 that says to use wss://. */
        vinfo = (struct lws_context_creation_info){
                .port = CONTEXT_PORT_NO_LISTEN_SERVER,
                .gid = -1,
                .uid = -1,
                .vhost_name = "tls",
                .protocols = ctx->protocols,
                .options = ssl | LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT |
                           LWS_SERVER_OPTION_ALLOW_HTTP_ON_HTTPS_LISTENER |
                           (tls->client_ca ? LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT : 0),
                .ssl_cert_filepath = tls->cert,
                .ssl_private_key_filepath = tls->key,
                .ssl_ca_filepath = tls->client_ca,
                /* Why a handshake failed, for on_tls_failed (ws-server.c). */
                .ssl_info_event_mask = SSL_CB_ALERT | SSL_CB_HANDSHAKE_DONE,
                /* HTTP/1.1 only: over h2, requests would come on streams the glue does not serve. */
                .alpn = "http/1.1",
                .retry_and_idle_policy = vinfo.retry_and_idle_policy,
        };
        ctx->tls_vhost = lws_create_vhost(ctx->lws, &vinfo);
        if (!ctx->tls_vhost)
                return -EIO; /* a certificate or key that would not load, or that do not match */
        return 0;
}

int ws_context_new(WsContext **ret, sd_event *e, const WsConfig *config, const WsHandlers *handlers,
                   void *userdata) {
        _cleanup_(ws_context_freep) WsContext *ctx = NULL;
        int r;

        assert(ret);
        assert(e);

        ctx = calloc(1, sizeof *ctx);
        if (!ctx)
                return -ENOMEM;
        ctx->event = sd_event_ref(e);
        if (config)
                ctx->config = *config;
        ws_config_defaults(&ctx->config);
        if (ctx->config.bearer) {
                ctx->bearer = strdup(ctx->config.bearer);
                if (!ctx->bearer)
                        return -ENOMEM;
        }
        ctx->config.bearer = NULL;
        if (handlers)
                ctx->handlers = *handlers;
        ctx->userdata = userdata;

        r = ws_context_setup_frames(ctx);
        if (r < 0)
                return r;
        r = ws_context_setup_dead(ctx);
        if (r < 0)
                return r;
        r = ws_context_setup_accept(ctx);
        if (r < 0)
                return r;
        r = uv_event_new(&ctx->uv, e);
        if (r < 0)
                return r;
        r = ws_context_setup_lws(ctx);
        if (r < 0)
                return r;
        /* The files are read: the caller's strings are not kept. */
        ctx->config.tls.cert = ctx->config.tls.key = ctx->config.tls.client_ca = NULL;
        ctx->config.tls.ca = ctx->config.tls.client_cert = ctx->config.tls.client_key = NULL;

        *ret = TAKE_PTR(ctx);
        return 0;
}

static void ws_context_drain_uv(WsContext *ctx) {
        assert(ctx);

        for (unsigned i = 0; i < WS_SHUTDOWN_ROUNDS; i++)
                if (!uv_event_run_once(ctx->uv))
                        break;
}

/* With a foreign loop, lws_context_destroy() closes every connection but only starts closing its
 * uv handles; once the loop has run them down, a second call completes the destruction. */
static void ws_context_destroy_lws(WsContext *ctx) {
        assert(ctx);

        if (!ctx->lws)
                return;
        lws_context_destroy(ctx->lws);
        ws_context_drain_uv(ctx);
        if (ctx->lws) {
                lws_context_destroy(ctx->lws);
                ws_context_drain_uv(ctx);
        }
        ctx->lws = NULL;
        ctx->vhost = ctx->tls_vhost = NULL;
}

WsContext *ws_context_free(WsContext *ctx) {
        WsConn *c;

        if (!ctx)
                return NULL;

        ctx->freeing = true;
        ws_context_stop_accept(ctx);
        LIST_FOREACH (conns, c, ctx->conns)
                if (!c->opened && !c->error)
                        ws_text_set(&c->error, WS_ERROR_MAX, "shutting down");
        if (ctx->uv)
                ws_context_destroy_lws(ctx);

        /* Whatever lws did not report gone is gone now; every connection gets its final callback. */
        while (ctx->conns)
                ws_conn_detach(ctx->conns);
        while (ctx->dead)
                ws_context_flush_dead(ctx);

        sd_event_source_disable_unref(ctx->dead_source);
        sd_event_source_disable_unref(ctx->rx_idle_source);
        uv_event_free(ctx->uv);
        sd_event_unref(ctx->event);
        free(ctx->batch);
        if (ctx->bearer)
                explicit_bzero(ctx->bearer, strlen(ctx->bearer));
        free(ctx->bearer);
        return mfree(ctx);
}
