/* SPDX-License-Identifier: MIT */
/*
 * The one libwebsockets protocol callback of every WsContext: recovers the WsConn that lws carries as
 * its opaque user data and dispatches each reason to the side of the glue that handles it. Owns
 * nothing; plain HTTP and whatever concerns no WsConn goes to lws' own dummy handler.
 */
#include "ws-internal.h"

int ws_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
        unsigned lws_rx_slot = 0;
        void *lws_rx = NULL;
        WsConn *c;

        assert(wsi);

        /* Claimed whether or not a WsConn is there to take it, so that it can go to no other. */
        if (reason == LWS_CALLBACK_ESTABLISHED)
                lws_rx = ws_rxpool_claim(&lws_rx_slot);

        c = lws_get_opaque_user_data(wsi);
        if (!c || c->dead)
                return lws_callback_http_dummy(wsi, reason, user, in, len);
        c->wsi = wsi;

        switch (reason) {
        case LWS_CALLBACK_ESTABLISHED:
                c->lws_rx = lws_rx;
                c->lws_rx_slot = lws_rx_slot;
                return ws_conn_on_established(c);
        case LWS_CALLBACK_CLIENT_ESTABLISHED:
                return ws_conn_on_established(c);
        case LWS_CALLBACK_RECEIVE:
        case LWS_CALLBACK_CLIENT_RECEIVE:
                return ws_conn_on_receive(c, in, len);
        case LWS_CALLBACK_CLOSED:
                c->lws_rx = NULL; /* lws has just freed it (ws-rxpool.c) */
                return 0;
        case LWS_CALLBACK_RECEIVE_PONG:
                c->rx_recent = true; /* lws had it in its receive buffer (ws-rxpool.c) */
                return 0;
        case LWS_CALLBACK_SERVER_WRITEABLE:
        case LWS_CALLBACK_CLIENT_WRITEABLE:
                return ws_conn_on_writeable(c);
        case LWS_CALLBACK_TIMER:
                return ws_conn_on_timer(c);
        case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
                ws_conn_on_peer_close(c, in, len);
                return 0;
        case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
                ws_conn_on_connect_error(c, in, len);
                return 0;
        case LWS_CALLBACK_WSI_DESTROY:
                if (c->client && !c->opened)
                        ws_conn_attempt_failed(c); /* the next address, if any */
                else
                        ws_conn_detach(c);
                return 0;
        case LWS_CALLBACK_HTTP:
                return ws_conn_on_http(c, in);
        case LWS_CALLBACK_HTTP_WRITEABLE:
                return ws_conn_on_http_writeable(c);
        case LWS_CALLBACK_HTTP_BODY:
                return 0; /* a method we refuse: its body is read and dropped */
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
                return ws_conn_on_http_body_done(c);
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
                return ws_conn_on_filter(c);
        case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
                return ws_conn_append_headers(c, in, len);
        case LWS_CALLBACK_SSL_INFO:
                ws_conn_on_ssl_info(c, in);
                return 0;
        case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
                /* user is the X509_STORE_CTX, len OpenSSL's own verdict; 0 keeps that verdict. */
                ws_conn_on_server_cert(c, user, len != 0);
                return 0;
        default:
                return lws_callback_http_dummy(wsi, reason, user, in, len);
        }
}
