/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-link.h"
#include "event-util.h"
#include "log.h"
#include "macro.h"
#include "ws.h"

struct BusLink {
        sd_event *event;
        char *url;
        char *hello;
        BusLinkHandlers handlers;
        void *userdata;
        BusAuth auth; /* copied by bus_link_set_auth() */

        WsContext *ws;
        WsConn *conn; /* the live or pending connection, NULL between attempts */
        sd_event_source *retry_source;
        uint64_t backoff_usec;
        uint64_t retry_usec;     /* the wait before the attempt armed last; 0: none armed */
        uint64_t connected_usec; /* CLOCK_MONOTONIC: the current connection opened */
        bool connected;
        bool reconnect;
        bool rx_paused; /* bus_link_pause_rx(): also for the connections to come */
};

/* The start of the reason when the bus closed us for what our token does not allow. */
#define BUS_LINK_FORBIDDEN "refused by the bus"

static int bus_link_connect(BusLink *l);

BusLink *bus_link_free(BusLink *l) {
        if (!l)
                return NULL;
        l->conn = NULL;
        l->ws = ws_context_free(l->ws);
        sd_event_source_disable_unref(l->retry_source);
        sd_event_unref(l->event);
        free(l->url);
        free(l->hello);
        bus_auth_done(&l->auth);
        return mfree(l);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        BusLink *l = ASSERT_PTR(userdata);
        int r;

        /* On failure bus_link_connect() has scheduled the next try already. */
        r = bus_link_connect(l);
        if (r < 0 && l->handlers.on_disconnected)
                l->handlers.on_disconnected(l, "cannot start a connection", l->userdata);
        return 0;
}

static void bus_link_schedule_retry(BusLink *l) {
        int r;

        l->retry_usec = 0;
        if (!l->reconnect)
                return;
        r = event_timer_arm(l->event, &l->retry_source, l->backoff_usec, USEC_PER_MSEC, on_retry, l,
                            "bus-link-retry", false);
        if (r < 0) {
                /* Without the timer there is no retry: the owner hears of it as a lost link. */
                log_debug_errno(r, "Failed to arm the reconnect timer for %s: %m", l->url);
                return;
        }
        l->retry_usec = l->backoff_usec;
        l->backoff_usec = MIN(l->backoff_usec * 2, BUS_LINK_BACKOFF_MAX_USEC);
}

static void bus_link_lost(BusLink *l, const char *reason) {
        uint64_t now = 0;

        /* Back to a quick retry only after a connection that lasted: one the bus closes at once
         * (a token it refuses) is retried ever more slowly, like a refused one. */
        (void) sd_event_now(l->event, CLOCK_MONOTONIC, &now);
        if (l->connected && now >= l->connected_usec + BUS_LINK_BACKOFF_MAX_USEC)
                l->backoff_usec = BUS_LINK_BACKOFF_MIN_USEC;
        l->conn = NULL;
        l->connected = false;
        bus_link_schedule_retry(l);
        if (l->handlers.on_disconnected)
                l->handlers.on_disconnected(l, reason, l->userdata);
}

static void on_ws_open(WsConn *c, void *userdata) {
        BusLink *l = ASSERT_PTR(userdata);
        int r;

        assert(c);

        r = ws_conn_send_text(c, l->hello, strlen(l->hello));
        if (r < 0) {
                log_debug_errno(r, "Failed to queue the register frame for %s: %m", l->url);
                ws_conn_close(c, WS_CLOSE_INTERNAL, "registration failed");
                return;
        }
        l->connected = true;
        (void) sd_event_now(l->event, CLOCK_MONOTONIC, &l->connected_usec);
        if (l->rx_paused)
                ws_conn_pause_rx(c, true);
        if (l->handlers.on_connected)
                l->handlers.on_connected(l, l->userdata);
}

static void on_ws_message(WsConn *c, const char *data, size_t size, void *userdata) {
        BusLink *l = ASSERT_PTR(userdata);

        if (l->handlers.on_message)
                l->handlers.on_message(l, data, size, l->userdata);
}

static void on_ws_close(WsConn *c, void *userdata) {
        BusLink *l = ASSERT_PTR(userdata);
        char reason[WS_CLOSE_REASON_TEXT_MAX + 64], quoted[WS_CLOSE_REASON_TEXT_MAX * 4 + 8];
        uint16_t code = ws_conn_get_close_code(c);
        const char *text = ws_conn_get_close_reason(c);

        if (c != l->conn)
                return;
        /* The bus says why when it closes for a reason of its own (1008 "forbidden: ..."). */
        if (code == WS_CLOSE_NORMAL || code == WS_CLOSE_GOING_AWAY || code == WS_CLOSE_NO_STATUS ||
            code == WS_CLOSE_ABNORMAL)
                (void) snprintf(reason, sizeof reason, "connection closed");
        else
                (void) snprintf(reason, sizeof reason, "%s: %u %s",
                                code == WS_CLOSE_POLICY && strncmp(text, "forbidden", 9) == 0
                                        ? BUS_LINK_FORBIDDEN
                                        : "closed by the bus",
                                code, log_outside(text, strlen(text), quoted, sizeof quoted));
        bus_link_lost(l, reason);
}

static void on_ws_connect_error(WsConn *c, const char *reason, void *userdata) {
        BusLink *l = ASSERT_PTR(userdata);

        if (c == l->conn)
                bus_link_lost(l, reason ?: "connection refused");
}

static int bus_link_connect(BusLink *l) {
        int r;

        if (l->conn)
                return 0;
        r = ws_context_connect(l->ws, l->url, &l->conn);
        if (r < 0) {
                l->conn = NULL;
                bus_link_schedule_retry(l);
                return r;
        }
        return 0;
}

int bus_link_new(BusLink **ret, sd_event *e, const char *url, const char *hello, const BusLinkHandlers *h,
                 void *userdata) {
        BusLink *l;

        assert(ret);
        assert(e);
        assert(hello);
        assert(h);

        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->event = sd_event_ref(e);
        l->url = strdup(url ?: BUS_LINK_URL_DEFAULT);
        l->hello = strdup(hello);
        l->handlers = *h;
        l->userdata = userdata;
        l->reconnect = true;
        l->backoff_usec = BUS_LINK_BACKOFF_MIN_USEC;
        if (!l->url || !l->hello) {
                bus_link_free(l);
                return -ENOMEM;
        }
        *ret = l;
        return 0;
}

static int strdup_or_null(const char *s, char **ret) {
        *ret = NULL;
        if (s && !(*ret = strdup(s)))
                return -ENOMEM;
        return 0;
}

int bus_link_set_auth(BusLink *l, const BusAuth *a) {
        BusAuth copy = {};

        assert(l);
        assert(a);

        if (l->ws)
                return -EBUSY;
        if (strdup_or_null(a->ca, &copy.ca) < 0 || strdup_or_null(a->cert, &copy.cert) < 0 ||
            strdup_or_null(a->key, &copy.key) < 0 || strdup_or_null(a->token, &copy.token) < 0) {
                bus_auth_done(&copy);
                return -ENOMEM;
        }
        bus_auth_done(&l->auth);
        l->auth = copy;
        return 0;
}

int bus_link_load_auth(BusLink *l, const BusAuthOptions *o, char *error, size_t error_size) {
        BusAuth a;
        int r;

        assert(l);

        r = bus_auth_load(&a, o, error, error_size);
        if (r < 0)
                return r;
        r = bus_link_set_auth(l, &a);
        bus_auth_done(&a);
        if (r < 0)
                (void) snprintf(error, error_size, "%s", strerror(-r));
        return r;
}

/* The WebSocket context, made at the first start: TLS only for a wss:// URL, which is when the CA
 * and certificate files are read. */
static int bus_link_setup_ws(BusLink *l) {
        static const WsHandlers ws_handlers = {
                .on_open = on_ws_open,
                .on_message = on_ws_message,
                .on_close = on_ws_close,
                .on_connect_error = on_ws_connect_error,
        };
        char host[256], path[1024];
        bool tls;
        int port, r;

        assert(l);

        if (l->ws)
                return 0;
        r = ws_parse_url(l->url, host, sizeof host, &port, path, sizeof path, &tls);
        if (r < 0)
                return r;
        return ws_context_new(&l->ws, l->event,
                              &(WsConfig){
                                      .max_message = BUS_LINK_MAX_MESSAGE,
                                      .max_queue_messages = 65536,
                                      .max_queue_bytes = 16 * 1024 * 1024,
                                      .ping_interval_sec = 30,
                                      .tls = { .client = tls,
                                               .ca = l->auth.ca,
                                               .client_cert = l->auth.cert,
                                               .client_key = l->auth.key },
                                      .bearer = l->auth.token,
                              },
                              &ws_handlers, l);
}

int bus_link_set_hello(BusLink *l, const char *hello) {
        char *copy;

        assert(l);
        assert(hello);

        copy = strdup(hello);
        if (!copy)
                return -ENOMEM;
        free(l->hello);
        l->hello = copy;
        return 0;
}

void bus_link_set_reconnect(BusLink *l, bool reconnect) {
        assert(l);
        l->reconnect = reconnect;
}

int bus_link_start(BusLink *l) {
        int r;

        assert(l);

        r = bus_link_setup_ws(l);
        if (r < 0)
                return r;
        return bus_link_connect(l);
}

bool bus_link_is_connected(const BusLink *l) {
        assert(l);
        return l->connected;
}

bool bus_link_reason_is_final(const char *reason) {
        return reason && (strncmp(reason, "HTTP 4", 6) == 0 || strncmp(reason, "TLS: ", 5) == 0 ||
                          strncmp(reason, BUS_LINK_FORBIDDEN, strlen(BUS_LINK_FORBIDDEN)) == 0);
}

uint64_t bus_link_get_retry_usec(const BusLink *l) {
        assert(l);
        return l->retry_usec;
}

const char *bus_link_get_url(const BusLink *l) {
        assert(l);
        return l->url;
}

int bus_link_send(BusLink *l, const char *data, size_t size) {
        assert(l);
        assert(data || size == 0);

        if (!l->connected || !l->conn)
                return -ENOTCONN;
        return ws_conn_send_text(l->conn, data, size);
}

void bus_link_pause_rx(BusLink *l, bool pause) {
        assert(l);

        l->rx_paused = pause;
        if (l->conn)
                ws_conn_pause_rx(l->conn, pause);
}

size_t bus_link_queued(const BusLink *l) {
        assert(l);
        return l->conn ? ws_conn_queued_messages(l->conn) : 0;
}
