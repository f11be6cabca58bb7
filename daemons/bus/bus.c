/* SPDX-License-Identifier: MIT */
/*
 * The bus's protocol logic: each client's role, what a register and a job request do (a job gets an
 * id and goes to every registered scheduler but its sender), error frames for bad input, and closing
 * the clients that misbehave. Every line a client can cause is rate-limited.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bus-internal.h"
#include "event-util.h"
#include "job-log.h"
#include "protocol.h"

typedef void (*BusCommandHandler)(Bus *b, BusClient *c, Frame *f);

static void bus_arm_identify(Bus *b);

void bus_log_client(Bus *b, RateLimit *rl, const BusClient *c, int level, const char *format, ...) {
        char message[512], client[96], role[48];
        va_list ap;

        if (!log_ratelimit_allowed(rl, rl == &b->reject_limit   ? "rejected frames"
                                       : rl == &b->cancel_limit ? "cancels"
                                                                : "clients"))
                return;

        va_start(ap, format);
        (void) vsnprintf(message, sizeof message, format, ap);
        va_end(ap);
        (void) snprintf(client, sizeof client, "SCHED_CLIENT=%s", c ? bus_client_peer(c) : "unknown");
        (void) snprintf(role, sizeof role, "SCHED_ROLE=%s", c ? bus_client_role(c) : "unregistered");
        log_fields(level, 0, LOG_FIELDS(client, role), "%s", message);
}

static void bus_client_set_role(Bus *b, BusClient *c, Role role) {
        assert(b);
        assert(c);

        if (c->role == role && !c->reporter)
                return;
        if (c->role == ROLE_SCHEDULER) {
                LIST_REMOVE(schedulers, b->schedulers, c);
                b->n_schedulers--;
                bus_dispatch_scheduler_left(b, c);
        } else if (c->role == ROLE_PRODUCER)
                b->n_producers--;

        else if (c->role == ROLE_OBSERVER) {
                LIST_REMOVE(observers, b->observers, c);
                b->n_observers--;
        }
        if (c->reporter) {
                job_table_scheduler_unref(b->jobs, c->reporter);
                c->reporter = NULL;
        }

        c->role = role;
        if (role == ROLE_SCHEDULER) {
                LIST_PREPEND(schedulers, b->schedulers, c);
                b->n_schedulers++;
        } else if (role == ROLE_PRODUCER)
                b->n_producers++;
        else if (role == ROLE_OBSERVER) {
                LIST_PREPEND(observers, b->observers, c);
                b->n_observers++;
        }
}

void bus_close_client(Bus *b, BusClient *c, uint16_t code, const char *reason) {
        assert(b);
        assert(c);
        assert(reason);

        if (c->closing)
                return;
        c->closing = true;
        if (!c->identified) {
                c->identified = true;
                b->n_unidentified--;
                bus_arm_identify(b);
        }
        bus_client_set_role(b, c, _ROLE_INVALID);
        bus_status_changed(b);
        ws_conn_close(c->conn, code, reason);
}

bool bus_send(Bus *b, BusClient *c, WsMessage *m) {
        int r = ws_conn_send(c->conn, m);

        assert(b);
        assert(c);
        assert(m);

        if (r >= 0) {
                bus_dispatch_sent(b, c);
                return true;
        }
        if (r == -ENOBUFS) {
                b->n_closed_slow++;
                bus_log_client(b, &b->conn_limit, c, LOG_WARNING,
                               "Closing client %s: its send queue is full (%zu messages, %zu bytes queued).",
                               bus_client_peer(c), ws_conn_queued_messages(c->conn),
                               ws_conn_queued_bytes(c->conn));
                bus_close_client(b, c, WS_CLOSE_POLICY, "send queue overflow");
        } else if (r < 0 && r != -ENOTCONN) /* -ENOTCONN: already closing */
                bus_log_client(b, &b->conn_limit, c, LOG_WARNING,
                               "Failed to queue a message for %s, ignoring: %s", bus_client_peer(c),
                               strerror(-r));
        return false;
}

bool bus_send_text(Bus *b, BusClient *c, const char *text, size_t size) {
        WsMessage *m = NULL;
        bool sent;

        assert(b);
        assert(c);
        assert(text);

        if (ws_message_new(&m, text, size) < 0) {
                log_oom();
                return false;
        }
        sent = bus_send(b, c, m);
        ws_message_unref(m);
        return sent;
}

void bus_reply_errorf(Bus *b, BusClient *c, ProtocolError e, const char *format, ...) {
        ProtocolStatus st = { .error = e };
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(st.message, sizeof st.message, format, ap);
        va_end(ap);
        bus_reply_error(b, c, &st, NULL);
}

void bus_reply_error(Bus *b, BusClient *c, const ProtocolStatus *st, json_t *ref) {
        _cleanup_free_ char *text = NULL;
        WsMessage *m = NULL;
        size_t size;

        assert(b);
        assert(c);
        assert(st);

        b->n_errors++;
        bus_status_changed(b);
        if (!ratelimit_below(&c->errors, 0)) {
                bus_log_client(b, &b->conn_limit, c, LOG_WARNING, "Closing client %s: too many bad frames.",
                               bus_client_peer(c));
                bus_close_client(b, c, WS_CLOSE_POLICY, "too many bad frames");
                return;
        }
        char detail[PROTOCOL_MESSAGE_MAX * 4 + 8];

        /* The detail may quote the client's own text. */
        bus_log_client(b, &b->reject_limit, c, LOG_WARNING, "Rejected a frame from %s: %s: %s",
                       bus_client_peer(c), protocol_error_to_string(st->error),
                       log_outside(st->message, strlen(st->message), detail, sizeof detail));

        if (protocol_dump_error(st, ref, &text, &size) < 0 || ws_message_new(&m, text, size) < 0) {
                log_oom();
                return;
        }
        bus_send(b, c, m);
        ws_message_unref(m);
}

static void bus_on_register(Bus *b, BusClient *c, Frame *f) {
        assert(b);
        assert(c);
        assert(f);

        bus_client_set_role(b, c, f->role);
        c->events = f->role == ROLE_PRODUCER && f->events;
        if (f->role == ROLE_SCHEDULER && f->name[0]) {
                c->reporter = job_table_scheduler_ref(b->jobs, f->name);
                if (!c->reporter) {
                        log_oom();
                        bus_close_client(b, c, WS_CLOSE_INTERNAL, "out of memory");
                        return;
                }
                c->slots = f->slots;
        }
        if (f->role == ROLE_SCHEDULER)
                bus_dispatch_registered(b, c, f);
        bus_status_changed(b);
        if (c->reporter)
                bus_log_client(b, &b->conn_limit, c, LOG_INFO,
                               "Client %s registered as scheduler %s (%u slots).", bus_client_peer(c),
                               f->name, f->slots);
        else
                bus_log_client(b, &b->conn_limit, c, LOG_INFO, "Client %s registered as %s%s.",
                               bus_client_peer(c), role_to_string(f->role),
                               c->events ? " (with events)" : "");
}

/* What each command needs of the connection's token; 0: any token. */
static unsigned bus_command_rights(const Frame *f) {
        assert(f);

        switch (f->command) {
        case COMMAND_REGISTER:
                return f->role == ROLE_PRODUCER    ? BUS_RIGHT_PRODUCER
                       : f->role == ROLE_SCHEDULER ? BUS_RIGHT_SCHEDULER
                                                   : BUS_RIGHT_OBSERVER;
        case COMMAND_JOB_REQUEST:
                return BUS_RIGHT_PRODUCER;
        case COMMAND_JOB_EVENT:
                return BUS_RIGHT_SCHEDULER;
        case COMMAND_CANCEL:
                return BUS_RIGHT_ADMIN;
        default:
                return 0; /* status and jobs: read only */
        }
}

/* A command the token does not allow: an error frame; a register so refused also ends the connection,
 * since the client would otherwise go on as what it is not. */
static void bus_forbid(Bus *b, BusClient *c, const Frame *f) {
        char rights[64];

        assert(b);
        assert(c);
        assert(f);

        b->n_forbidden++;
        bus_log_client(b, &b->token_limit, c, LOG_WARNING, "Refused %s%s%s from %s: its token allows %s.",
                       command_to_string(f->command), f->command == COMMAND_REGISTER ? " as " : "",
                       f->command == COMMAND_REGISTER ? role_to_string(f->role) : "", bus_client_peer(c),
                       bus_rights_to_string(c->rights, rights, sizeof rights));
        if (f->command == COMMAND_REGISTER) {
                char reason[64];

                /* Said in the close frame: an error frame would be dropped for the close. */
                (void) snprintf(reason, sizeof reason, "forbidden: this token does not allow role %s",
                                role_to_string(f->role));
                bus_close_client(b, c, WS_CLOSE_POLICY, reason);
        } else
                bus_reply_errorf(b, c, PROTOCOL_FORBIDDEN, "this token does not allow %s%s",
                                 command_to_string(f->command),
                                 f->command == COMMAND_CANCEL ? ": cancel needs an admin token" : "");
}

static const BusCommandHandler bus_command_table[_COMMAND_MAX] = {
        [COMMAND_REGISTER] = bus_on_register,   [COMMAND_JOB_REQUEST] = bus_on_job_request,
        [COMMAND_JOB_EVENT] = bus_on_job_event, [COMMAND_STATUS] = bus_on_status,
        [COMMAND_JOBS] = bus_on_jobs,           [COMMAND_CANCEL] = bus_on_cancel,
};

static void on_ws_message(WsConn *conn, const char *data, size_t size, void *userdata) {
        BusClient *c = ws_conn_get_userdata(conn);
        Bus *b = ASSERT_PTR(userdata);
        ProtocolStatus st; /* filled by frame_parse() when it fails */
        unsigned need;
        Frame f; /* set by frame_parse() */

        assert(conn);

        if (!c || c->closing)
                return;
        if (frame_parse(&f, data, size, b->config.max_runtime, &st) < 0) {
                bus_reply_error(b, c, &st, f.ref);
                frame_done(&f);
                return;
        }
        if (!c->identified) {
                c->identified = true;
                b->n_unidentified--;
                bus_arm_identify(b);
        }

        b->frame_size = size;
        need = bus_command_rights(&f);
        if ((c->rights & need) != need)
                bus_forbid(b, c, &f);
        else
                bus_command_table[f.command](b, c, &f);
        frame_done(&f);
        bus_dispatch_flush(b);
}

/* Closes the connections that sent no valid frame within --identify-timeout: they only hold a slot.
 * The timer only runs while such connections exist, so an idle bus has no wakeup of its own. */
static int on_identify_timer(sd_event_source *src, uint64_t now, void *userdata) {
        Bus *b = ASSERT_PTR(userdata);
        BusClient *c, *next;

        LIST_FOREACH_SAFE (clients, c, next, b->clients)
                if (!c->identified && now >= c->connected_usec + b->config.identify_usec) {
                        bus_log_client(b, &b->conn_limit, c, LOG_NOTICE,
                                       "Closing client %s: no register or job within %.1f s.",
                                       bus_client_peer(c), (double) b->config.identify_usec / USEC_PER_SEC);
                        bus_close_client(b, c, WS_CLOSE_POLICY, "register first");
                }
        bus_arm_identify(b);
        return 0;
}

static void bus_arm_identify(Bus *b) {
        int r;

        assert(b);

        if (b->n_unidentified == 0 || b->config.identify_usec == 0) {
                if (b->identify_source)
                        (void) sd_event_source_set_enabled(b->identify_source, SD_EVENT_OFF);
                return;
        }
        r = event_timer_arm(b->event, &b->identify_source, b->config.identify_usec / 3, USEC_PER_SEC,
                            on_identify_timer, b, "bus-identify", true);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the timer for silent clients, ignoring: %m");
}

static void on_ws_open(WsConn *conn, void *userdata) {
        Bus *b = ASSERT_PTR(userdata);
        BusClient *c;
        int r;

        assert(conn);

        r = bus_client_new(&c, conn);
        if (r < 0) {
                log_oom();
                ws_conn_close(conn, WS_CLOSE_INTERNAL, "out of memory");
                return;
        }
        c->rights = ws_conn_get_rights(conn);
        ws_conn_set_userdata(conn, c);
        LIST_PREPEND(clients, b->clients, c);
        b->n_clients++;
        b->n_unidentified++;
        (void) sd_event_now(b->event, CLOCK_MONOTONIC, &c->connected_usec);
        bus_arm_identify(b);
        bus_update_idle(b);
        log_debug("Client %s connected (%u clients).", bus_client_peer(c), b->n_clients);
}

static void on_ws_close(WsConn *conn, void *userdata) {
        BusClient *c = ws_conn_get_userdata(conn);
        Bus *b = ASSERT_PTR(userdata);

        assert(conn);

        if (!c)
                return;
        ws_conn_set_userdata(conn, NULL);
        bus_client_set_role(b, c, _ROLE_INVALID);
        bus_jobs_forget_client(b, c);
        LIST_REMOVE(clients, b->clients, c);
        b->n_clients--;
        if (!c->identified) {
                b->n_unidentified--;
                bus_arm_identify(b);
        }
        log_debug("Client %s disconnected (%u clients).", bus_client_peer(c), b->n_clients);
        bus_client_free(c);
        bus_dispatch_flush(b);
        bus_status_changed(b);
        bus_update_idle(b);
        if (b->stopping && b->n_clients == 0)
                (void) sd_event_exit(b->event, 0);
}

static void on_ws_refused(const char *peer, bool per_host, void *userdata) {
        Bus *b = ASSERT_PTR(userdata);

        b->n_refused++;
        if (!log_ratelimit_allowed(&b->conn_limit, "clients"))
                return;
        if (per_host)
                log_warning("Refused a connection from %s: %u connections from one host is the limit "
                            "(--max-clients-per-host).",
                            peer ?: "unknown", b->config.max_clients_per_host);
        else
                log_warning("Refused a connection from %s: %u clients is the limit (--max-clients).",
                            peer ?: "unknown", b->config.max_clients);
}

/* The reason is ours: OpenSSL's name of an alert. */
static void on_ws_tls_failed(const char *peer, const char *reason, void *userdata) {
        Bus *b = ASSERT_PTR(userdata);

        if (log_ratelimit_allowed(&b->conn_limit, "clients"))
                log_notice("TLS handshake with %s failed: %s.", peer ?: "unknown", reason);
}

static void on_ws_queue_low(WsConn *conn, void *userdata) {
        BusClient *c = ws_conn_get_userdata(conn);

        if (c)
                bus_dispatch_on_queue_low(ASSERT_PTR(userdata), c);
}

/* The rights a request carries: every one where no token is needed (no tokens file; or a plain
 * loopback listener and no token given, as before tokens existed), else its token's, 0 for none or
 * an unknown one. */
unsigned bus_request_rights(Bus *b, const WsRequest *req) {
        assert(b);
        assert(req);

        if (!b->tokens)
                return BUS_RIGHTS_ALL;
        if (req->bearer)
                return bus_tokens_rights(b->tokens, req->bearer);
        return !req->secure && req->loopback ? BUS_RIGHTS_ALL : 0;
}

static int on_ws_http(WsConn *conn, const WsRequest *req, WsHttpResponse *ret, void *userdata) {
        return bus_on_http(ASSERT_PTR(userdata), req, ret);
}

static unsigned on_ws_upgrade(WsConn *conn, const WsRequest *req, void *userdata) {
        Bus *b = ASSERT_PTR(userdata);
        char o[PROTOCOL_MESSAGE_MAX * 4 + 8];
        unsigned rights;

        /* The Origin rule keeps other sites' pages off a bus that trusts whoever connects; one that
         * shows a token is judged by the token (no page can send one it does not know). */
        if (!req->bearer && !bus_origin_allowed(b, req->origin, req->host)) {
                b->n_refused_origin++;
                /* Both headers are the browser's text. */
                if (log_ratelimit_allowed(&b->origin_limit, "refused origins"))
                        log_warning(
                                "Refused a WebSocket from %s: its page's origin %s is neither this bus's "
                                "page nor allowed (--allow-origin).",
                                ws_conn_get_peer(conn),
                                log_outside(req->origin, strlen(req->origin), o, sizeof o));
                return 403;
        }
        rights = bus_request_rights(b, req);
        if (rights == 0) {
                b->n_refused_token++;
                /* Never the token itself, not even in part. */
                if (log_ratelimit_allowed(&b->token_limit, "refused tokens"))
                        log_warning("Refused a WebSocket from %s: %s.", ws_conn_get_peer(conn),
                                    req->bearer ? "unknown token" : "no token (Authorization: Bearer)");
                return 401;
        }
        ws_conn_set_rights(conn, rights);
        return 0;
}

static void on_ws_accept_error(int error, void *userdata) {
        Bus *b = ASSERT_PTR(userdata);

        if (log_ratelimit_allowed(&b->conn_limit, "clients"))
                log_warning_errno(error, "Failed to accept a connection, pausing for 100 ms: %m");
}

int bus_setup_ws(Bus *b) {
        static const WsHandlers handlers = {
                .on_open = on_ws_open,
                .on_message = on_ws_message,
                .on_close = on_ws_close,
                .on_refused = on_ws_refused,
                .on_tls_failed = on_ws_tls_failed,
                .on_accept_error = on_ws_accept_error,
                .on_queue_low = on_ws_queue_low,
                .on_http = on_ws_http,
                .on_upgrade = on_ws_upgrade,
        };
        WsConfig wc = {
                .max_message = b->config.max_frame,
                .max_queue_messages = b->config.max_queue,
                .max_queue_bytes = b->config.max_queue_bytes,
                .max_connections = b->config.max_clients,
                .max_connections_per_host = b->config.max_clients_per_host,
                .ping_interval_sec = BUS_PING_INTERVAL_SEC,
                .tls = { .cert = b->tls_cert, .key = b->tls_key, .client_ca = b->tls_client_ca },
        };
        int r;

        assert(b);

        r = ws_context_new(&b->ws, b->event, &wc, &handlers, b);
        if (r == -EIO && b->tls_cert)
                return log_error_errno(r,
                                       "Failed to set up TLS with %s and %s%s%s: not PEM, or a key that is "
                                       "not the certificate's? (openssl x509 -in CERT -noout -text)",
                                       b->tls_cert, b->tls_key, b->tls_client_ca ? " and client CA " : "",
                                       b->tls_client_ca ?: "");
        if (r < 0)
                return log_error_errno(r, "Failed to set up the WebSocket server: %m");
        return 0;
}
