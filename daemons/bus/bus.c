/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "bus-client.h"
#include "bus.h"
#include "event-util.h"
#include "job-log.h"
#include "protocol.h"
#include "ratelimit.h"
#include "ws.h"

/* STATUS= is sent at most this often, so that a busy bus does not pay a notify per message. */
#define STATUS_DELAY_USEC (100 * USEC_PER_MSEC)

struct Bus {
        BusConfig config;
        sd_event *event;
        WsContext *ws;
        sd_event_source *status_source, *idle_source, *stop_source, *identify_source;

        BusClient *clients;    /* every connection */
        BusClient *schedulers; /* the registered schedulers, a subset */
        unsigned n_clients, n_producers, n_schedulers, n_unidentified;
        uint64_t next_id, n_forwarded, n_dropped, n_errors, n_closed_slow, n_refused;

        /* Every log line a client can trigger is rate-limited; one kind cannot hide another. */
        RateLimit reject_limit; /* bad frames */
        RateLimit drop_limit;   /* jobs dropped */
        RateLimit conn_limit;   /* registrations, slow or idle clients closed, refused connections */
        bool socket_activated;
        bool stopping;
};

typedef void (*BusCommandHandler)(Bus *b, BusClient *c, Frame *f);

static void bus_status_changed(Bus *b);
static void bus_arm_identify(Bus *b);

Bus *bus_free(Bus *b) {
        if (!b)
                return NULL;

        /* The context closes every connection; on_close frees their BusClients. */
        b->ws = ws_context_free(b->ws);
        sd_event_source_disable_unref(b->status_source);
        sd_event_source_disable_unref(b->idle_source);
        sd_event_source_disable_unref(b->stop_source);
        sd_event_source_disable_unref(b->identify_source);
        sd_event_unref(b->event);
        free(b->config.listen);
        return mfree(b);
}

int bus_new(Bus **ret, const BusConfig *config) {
        _cleanup_free_ Bus *b = calloc(1, sizeof *b);

        if (!b)
                return -ENOMEM;
        b->config = *config;
        b->config.listen = strdup(config->listen ?: BUS_LISTEN_DEFAULT);
        if (!b->config.listen)
                return -ENOMEM;
        b->reject_limit = RATELIMIT_INIT(USEC_PER_SEC, 20);
        b->drop_limit = RATELIMIT_INIT(USEC_PER_SEC, 20);
        b->conn_limit = RATELIMIT_INIT(USEC_PER_SEC, 20);
        *ret = TAKE_PTR(b);
        return 0;
}

/* Whether a line of this kind may be logged now; says once how many were held back before. */
static bool bus_log_allowed(RateLimit *rl, const char *kind) {
        unsigned suppressed;

        if (!ratelimit_below(rl, 0))
                return false;
        suppressed = ratelimit_take_suppressed(rl);
        if (suppressed > 0)
                log_notice("%u log lines about %s suppressed by the rate limit.", suppressed, kind);
        return true;
}

/* Logs a line a remote client caused: rate-limited, with its address and role as fields. */
_printf_(5, 6) static void bus_log_client(Bus *b, RateLimit *rl, const BusClient *c, int level,
                                          const char *format, ...) {
        char message[512], client[96], role[48];
        va_list ap;

        if (!bus_log_allowed(rl, rl == &b->reject_limit ? "rejected frames" : "clients"))
                return;

        va_start(ap, format);
        (void) vsnprintf(message, sizeof message, format, ap);
        va_end(ap);
        (void) snprintf(client, sizeof client, "SCHED_CLIENT=%s", c ? bus_client_peer(c) : "unknown");
        (void) snprintf(role, sizeof role, "SCHED_ROLE=%s", c ? bus_client_role(c) : "unregistered");
        log_fields(level, 0, LOG_FIELDS(client, role), "%s", message);
}

static int bus_send_status(Bus *b) {
        return sd_notifyf(false,
                          "STATUS=producers %u, schedulers %u, forwarded %" PRIu64 ", dropped %" PRIu64
                          ", errors %" PRIu64,
                          b->n_producers, b->n_schedulers, b->n_forwarded, b->n_dropped, b->n_errors);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Bus *b = userdata;

        (void) bus_send_status(b);
        return 0;
}

/* Marks STATUS= stale: it goes out once within STATUS_DELAY_USEC, however many changes come. */
static void bus_status_changed(Bus *b) {
        int r;

        if (b->stopping || !b->status_source)
                return;
        r = event_timer_arm(b->event, &b->status_source, STATUS_DELAY_USEC, 0, NULL, NULL, NULL, true);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the status timer, ignoring: %m");
}

static void bus_update_idle(Bus *b) {
        int r;

        if (!b->idle_source)
                return;
        if (b->n_clients > 0) {
                (void) sd_event_source_set_enabled(b->idle_source, SD_EVENT_OFF);
                return;
        }
        r = event_timer_arm(b->event, &b->idle_source, b->config.exit_idle_usec, 0, NULL, NULL, NULL, false);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the idle timer, ignoring: %m");
}

static void bus_client_set_role(Bus *b, BusClient *c, Role role) {
        if (c->role == role)
                return;
        if (c->role == ROLE_SCHEDULER) {
                LIST_REMOVE(schedulers, b->schedulers, c);
                b->n_schedulers--;
        } else if (c->role == ROLE_PRODUCER)
                b->n_producers--;

        c->role = role;
        if (role == ROLE_SCHEDULER) {
                LIST_PREPEND(schedulers, b->schedulers, c);
                b->n_schedulers++;
        } else if (role == ROLE_PRODUCER)
                b->n_producers++;
}

/* Closes a client from our side: it leaves its role at once, so no job goes its way while the close
 * handshake runs, and what it still sends is ignored. */
static void bus_close_client(Bus *b, BusClient *c, uint16_t code, const char *reason) {
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

/* Queues a message for a client; a client whose queue is full does not read and is closed. Returns
 * whether the message was queued. */
static bool bus_send(Bus *b, BusClient *c, WsMessage *m) {
        int r = ws_conn_send(c->conn, m);

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
        return r >= 0;
}

static void bus_reply_error(Bus *b, BusClient *c, const ProtocolStatus *st) {
        _cleanup_free_ char *text = NULL;
        WsMessage *m = NULL;
        size_t size;

        b->n_errors++;
        bus_status_changed(b);
        if (!ratelimit_below(&c->errors, 0)) {
                bus_log_client(b, &b->conn_limit, c, LOG_WARNING, "Closing client %s: too many bad frames.",
                               bus_client_peer(c));
                bus_close_client(b, c, WS_CLOSE_POLICY, "too many bad frames");
                return;
        }
        bus_log_client(b, &b->reject_limit, c, LOG_WARNING, "Rejected a frame from %s: %s: %s",
                       bus_client_peer(c), protocol_error_to_string(st->error), st->message);

        if (protocol_dump_error(st, &text, &size) < 0 || ws_message_new(&m, text, size) < 0) {
                log_oom();
                return;
        }
        bus_send(b, c, m);
        ws_message_unref(m);
}

static void bus_on_register(Bus *b, BusClient *c, Frame *f) {
        bus_client_set_role(b, c, f->role);
        bus_status_changed(b);
        bus_log_client(b, &b->conn_limit, c, LOG_INFO, "Client %s registered as %s.", bus_client_peer(c),
                       role_to_string(f->role));
}

static void bus_drop(Bus *b, BusClient *c, uint64_t id, const Frame *f, const char *why) {
        LogJob job = { .id = id, .priority = f->priority, .runtime = f->runtime, .state = JOB_DROPPED };
        char client[96];

        b->n_dropped++;
        bus_status_changed(b);
        if (!bus_log_allowed(&b->drop_limit, "dropped jobs"))
                return;
        (void) snprintf(client, sizeof client, "SCHED_CLIENT=%s", bus_client_peer(c));
        log_job_extra(LOG_NOTICE, &job, LOG_FIELDS(client), "Job %" PRIu64 " dropped: %s.", id, why);
}

static void bus_on_job_request(Bus *b, BusClient *c, Frame *f) {
        unsigned n_targets = b->n_schedulers - (c->role == ROLE_SCHEDULER ? 1 : 0), n_sent = 0;
        _cleanup_free_ char *text = NULL;
        uint64_t id = ++b->next_id;
        BusClient *s, *next;
        WsMessage *m = NULL;
        size_t size;

        c->n_submitted++;
        if (n_targets == 0)
                return bus_drop(b, c, id, f, "no scheduler registered");

        if (protocol_dump_job(f->payload, id, &text, &size) < 0) {
                log_oom();
                return;
        }
        /* Numbers may print longer than they came in: what goes out obeys the same limit. */
        if (size > b->config.max_frame) {
                ProtocolStatus st = { .error = PROTOCOL_INVALID_PAYLOAD };

                (void) snprintf(st.message, sizeof st.message,
                                "payload too large once forwarded (%zu bytes, the limit is %zu)", size,
                                b->config.max_frame);
                return bus_reply_error(b, c, &st);
        }
        if (ws_message_new(&m, text, size) < 0) {
                log_oom();
                return;
        }

        /* A slow scheduler may be closed (and unlinked) while we walk the list. */
        LIST_FOREACH_SAFE (schedulers, s, next, b->schedulers)
                if (s != c)
                        n_sent += bus_send(b, s, m);
        ws_message_unref(m);
        if (n_sent == 0)
                return bus_drop(b, c, id, f, "every scheduler was too slow to take it");

        b->n_forwarded++;
        bus_status_changed(b);
        if (log_get_max_level() >= LOG_DEBUG) {
                LogJob job = {
                        .id = id, .priority = f->priority, .runtime = f->runtime, .state = JOB_QUEUED
                };
                log_job(LOG_DEBUG, &job, "Job %" PRIu64 " forwarded to %u schedulers.", id, n_targets);
        }
}

static const BusCommandHandler bus_command_table[_COMMAND_MAX] = {
        [COMMAND_REGISTER] = bus_on_register,
        [COMMAND_JOB_REQUEST] = bus_on_job_request,
};

static void on_ws_message(WsConn *conn, const char *data, size_t size, void *userdata) {
        BusClient *c = ws_conn_get_userdata(conn);
        Bus *b = userdata;
        ProtocolStatus st = {};
        Frame f = {};

        if (!c || c->closing)
                return;
        if (frame_parse(&f, data, size, b->config.max_runtime, &st) < 0)
                return bus_reply_error(b, c, &st);
        if (!c->identified) {
                c->identified = true;
                b->n_unidentified--;
                bus_arm_identify(b);
        }

        bus_command_table[f.command](b, c, &f);
        frame_done(&f);
}

/* Closes the connections that sent no valid frame within --identify-timeout: they only hold a slot.
 * The timer only runs while such connections exist, so an idle bus has no wakeup of its own. */
static int on_identify_timer(sd_event_source *src, uint64_t now, void *userdata) {
        Bus *b = userdata;
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
        Bus *b = userdata;
        BusClient *c;
        int r;

        r = bus_client_new(&c, conn);
        if (r < 0) {
                log_oom();
                ws_conn_close(conn, WS_CLOSE_INTERNAL, "out of memory");
                return;
        }
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
        Bus *b = userdata;

        if (!c)
                return;
        ws_conn_set_userdata(conn, NULL);
        bus_client_set_role(b, c, _ROLE_INVALID);
        LIST_REMOVE(clients, b->clients, c);
        b->n_clients--;
        if (!c->identified) {
                b->n_unidentified--;
                bus_arm_identify(b);
        }
        log_debug("Client %s disconnected (%u clients).", bus_client_peer(c), b->n_clients);
        bus_client_free(c);
        bus_status_changed(b);
        bus_update_idle(b);
        if (b->stopping && b->n_clients == 0)
                (void) sd_event_exit(b->event, 0);
}

static void on_ws_refused(const char *peer, void *userdata) {
        Bus *b = userdata;

        b->n_refused++;
        if (bus_log_allowed(&b->conn_limit, "clients"))
                log_warning("Refused a connection from %s: %u clients is the limit (--max-clients).",
                            peer ?: "unknown", b->config.max_clients);
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Bus *b = userdata;

        log_warning("%u clients did not answer the close within 1 s; closing anyway.", b->n_clients);
        (void) sd_event_exit(b->event, 0);
        return 0;
}

/* Says goodbye (1001 going away) to every client, then leaves the loop once all are gone or after
 * a second, whichever comes first. */
static void bus_stop(Bus *b, const char *why) {
        BusClient *c, *next;
        int r;

        if (b->stopping)
                return;
        b->stopping = true;
        log_info("%s", why);
        (void) sd_notify(false, "STOPPING=1\nSTATUS=stopping");

        if (b->n_clients == 0) {
                (void) sd_event_exit(b->event, 0);
                return;
        }
        LIST_FOREACH_SAFE (clients, c, next, b->clients)
                ws_conn_close(c->conn, WS_CLOSE_GOING_AWAY, "bus stopping");
        r = sd_event_add_time_relative(b->event, &b->stop_source, CLOCK_MONOTONIC, USEC_PER_SEC,
                                       10 * USEC_PER_MSEC, on_stop_timeout, b);
        if (r < 0)
                (void) sd_event_exit(b->event, 0);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Bus *b = userdata;

        bus_stop(b, si->ssi_signo == SIGTERM ? "Received SIGTERM, stopping." : "Received SIGINT, stopping.");
        return 0;
}

static int on_idle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Bus *b = userdata;

        if (b->n_clients == 0)
                bus_stop(b, "No client for the idle time, exiting; the socket stays with systemd.");
        return 0;
}

int bus_listen_address(const char *address, int *ret_fd) {
        struct addrinfo hints = { .ai_family = AF_UNSPEC,
                                  .ai_socktype = SOCK_STREAM,
                                  .ai_flags = AI_PASSIVE };
        _cleanup_free_ char *host = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct addrinfo *ai = NULL;
        const char *port, *colon;
        int r, one = 1;

        colon = strrchr(address, ':');
        if (!colon) {
                port = address;
        } else {
                const char *h = address;
                size_t len = (size_t) (colon - address);

                if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
                        h++;
                        len -= 2;
                }
                host = len > 0 ? strndup(h, len) : NULL;
                if (len > 0 && !host)
                        return -ENOMEM;
                port = colon + 1;
        }
        if (!*port)
                return -EINVAL;

        r = getaddrinfo(host, port, &hints, &ai);
        if (r != 0)
                return r == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;

        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                r = -errno;
                freeaddrinfo(ai);
                return r;
        }
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
                r = -errno;
                freeaddrinfo(ai);
                return r;
        }
        freeaddrinfo(ai);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int bus_take_sockets(Bus *b) {
        int n, r;

        n = sd_listen_fds(true);
        if (n < 0)
                return log_error_errno(n, "Failed to read the sockets passed by systemd: %m");

        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
                r = sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0);
                if (r < 0)
                        return log_error_errno(r, "Failed to check socket-activated fd %d: %m", fd);
                if (r == 0)
                        return log_error_errno(-EINVAL,
                                               "Socket-activated fd %d is not a listening TCP socket; "
                                               "sched-bus.socket must use ListenStream=.",
                                               fd);
                r = ws_context_listen(b->ws, fd);
                if (r < 0)
                        return log_error_errno(r, "Failed to serve socket-activated fd %d: %m", fd);
        }
        if (n > 0) {
                b->socket_activated = true;
                log_info("Serving %d socket-activated listening socket%s.", n, n > 1 ? "s" : "");
                return 0;
        }

        int fd = -EBADF;
        r = bus_listen_address(b->config.listen, &fd);
        if (r < 0)
                return log_error_errno(r, "Failed to listen on %s: %m", b->config.listen);
        r = ws_context_listen(b->ws, fd);
        if (r < 0)
                return log_error_errno(r, "Failed to serve %s: %m", b->config.listen);
        log_info("Listening on %s.", b->config.listen);
        return 0;
}

/* Each client holds a socket: make room for max_clients of them within the hard limit. */
static void bus_raise_fd_limit(Bus *b) {
        struct rlimit rl;
        rlim_t want = (rlim_t) b->config.max_clients + 64;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
                return;
        rl.rlim_cur = MIN(want, rl.rlim_max);
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_warning_errno(-errno, "Failed to raise the open file limit, ignoring: %m");
}

static int bus_setup_event(Bus *b) {
        int r;

        r = event_new_daemon(&b->event, on_signal, b);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m");

        r = sd_event_add_time_relative(b->event, &b->status_source, CLOCK_MONOTONIC, STATUS_DELAY_USEC,
                                       10 * USEC_PER_MSEC, on_status_timer, b);
        if (r < 0)
                return log_error_errno(r, "Failed to add the status timer: %m");
        (void) sd_event_source_set_enabled(b->status_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(b->status_source, "bus-status");
        return 0;
}

static int bus_setup_ws(Bus *b) {
        static const WsHandlers handlers = {
                .on_open = on_ws_open,
                .on_message = on_ws_message,
                .on_close = on_ws_close,
                .on_refused = on_ws_refused,
        };
        WsConfig wc = {
                .max_message = b->config.max_frame,
                .max_queue_messages = b->config.max_queue,
                .max_queue_bytes = b->config.max_queue_bytes,
                .max_connections = b->config.max_clients,
                .ping_interval_sec = BUS_PING_INTERVAL_SEC,
        };
        int r;

        r = ws_context_new(&b->ws, b->event, &wc, &handlers, b);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the WebSocket server: %m");
        return 0;
}

static int bus_setup_idle(Bus *b) {
        int r;

        if (!b->socket_activated || b->config.exit_idle_usec == 0)
                return 0;
        r = sd_event_add_time_relative(b->event, &b->idle_source, CLOCK_MONOTONIC, b->config.exit_idle_usec,
                                       USEC_PER_SEC / 10, on_idle_timer, b);
        if (r < 0)
                return log_error_errno(r, "Failed to add the idle timer: %m");
        (void) sd_event_source_set_description(b->idle_source, "bus-idle-exit");
        return 0;
}

int bus_run(Bus *b) {
        int r;

        bus_raise_fd_limit(b);
        r = bus_setup_event(b);
        if (r < 0)
                return r;
        r = bus_setup_ws(b);
        if (r < 0)
                return r;
        r = bus_take_sockets(b);
        if (r < 0)
                return r;
        r = bus_setup_idle(b);
        if (r < 0)
                return r;

        (void) sd_notify(false, "READY=1");
        (void) bus_send_status(b);

        r = sd_event_loop(b->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");

        log_info("Stopped: forwarded %" PRIu64 ", dropped %" PRIu64 ", errors %" PRIu64
                 ", slow clients closed %" PRIu64 ", refused %" PRIu64 ".",
                 b->n_forwarded, b->n_dropped, b->n_errors, b->n_closed_slow, b->n_refused);
        return 0;
}
