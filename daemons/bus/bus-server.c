/* SPDX-License-Identifier: MIT */
/*
 * The sched-bus daemon's life around the protocol: the event loop and signals, the listening
 * sockets (socket activation or --listen), READY=1 and STATUS=, the idle exit of a socket-activated
 * bus, and the goodbye to every client on stop.
 */
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "bus-internal.h"
#include "event-util.h"
#include "log.h"
#include "notify.h"
#include "rlimit-util.h"
#include "socket-util.h"
#include "strv.h"

Bus *bus_free(Bus *b) {
        if (!b)
                return NULL;

        /* The context closes every connection; on_close frees their BusClients. */
        b->ws = ws_context_free(b->ws);
        bus_done_dispatch(b);
        bus_done_jobs(b);
        throttle_done(&b->status);
        job_ids_free(b->ids);
        sd_event_source_disable_unref(b->idle_source);
        sd_event_source_disable_unref(b->stop_source);
        sd_event_source_disable_unref(b->identify_source);
        sd_event_unref(b->event);
        free(b->config.listen);
        free(b->state_dir);
        free(b->tls_cert);
        free(b->tls_key);
        free(b->tls_client_ca);
        free(b->tokens_path);
        bus_tokens_free(b->tokens);
        return mfree(b);
}

static int bus_send_status(Bus *b) {
        char text[512];

        assert(b);

        (void) snprintf(text, sizeof text,
                        "STATUS=producers %u, schedulers %u, forwarded %" PRIu64
                        ", held %zu, dropped %" PRIu64 ", errors %" PRIu64 "%s",
                        b->n_producers, b->n_schedulers, b->n_forwarded, held_size(b->held), b->n_dropped,
                        b->n_errors, b->paused ? ", producers paused" : "");
        return notify_text(text);
}

static void on_status(void *userdata) {
        Bus *b = ASSERT_PTR(userdata);

        /* The manager's queue was full: the status was dropped, not waited for; try again later. */
        if (bus_send_status(b) == -EAGAIN)
                throttle_retry(&b->status, b->event);
}

int bus_new(Bus **ret, const BusConfig *config) {
        _cleanup_free_ Bus *b = calloc(1, sizeof *b);

        assert(ret);
        assert(config);

        if (!b)
                return -ENOMEM;
        b->config = *config;
        b->config.listen = strdup(config->listen ?: BUS_LISTEN_DEFAULT);
        if (!b->config.listen)
                return -ENOMEM;
        b->reject_limit = RATELIMIT_INIT(USEC_PER_SEC, 20);
        b->drop_limit = RATELIMIT_INIT(USEC_PER_SEC, 20);
        b->conn_limit = RATELIMIT_INIT(USEC_PER_SEC, 20);
        b->cancel_limit = RATELIMIT_INIT(USEC_PER_SEC, 100);
        b->origin_limit = RATELIMIT_INIT(USEC_PER_SEC, 10);
        b->token_limit = RATELIMIT_INIT(USEC_PER_SEC, 10);
        b->status = THROTTLE_INIT(STATUS_INTERVAL_USEC, on_status, b);
        *ret = TAKE_PTR(b);
        return 0;
}

void bus_status_changed(Bus *b) {
        assert(b);

        if (!b->stopping && b->event)
                throttle_kick(&b->status, b->event);
}

void bus_update_idle(Bus *b) {
        int r;

        assert(b);

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

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Bus *b = ASSERT_PTR(userdata);

        log_warning("%u clients did not answer the close within 1 s; closing anyway.", b->n_clients);
        (void) sd_event_exit(b->event, 0);
        return 0;
}

/* Says goodbye (1001 going away) to every client, then leaves the loop once all are gone or after
 * a second, whichever comes first. */
static void bus_stop(Bus *b, const char *why) {
        BusClient *c, *next;
        int r;

        assert(b);
        assert(why);

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
        Bus *b = ASSERT_PTR(userdata);

        bus_stop(b, si->ssi_signo == SIGTERM ? "Received SIGTERM, stopping." : "Received SIGINT, stopping.");
        return 0;
}

static int on_idle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Bus *b = ASSERT_PTR(userdata);

        if (b->n_clients == 0)
                bus_stop(b, "No client for the idle time, exiting; the socket stays with systemd.");
        return 0;
}

/* Serves one listening socket, TLS or not, after the rule that nothing beyond loopback goes
 * unprotected: there, TLS and tokens both, unless --insecure. */
static int bus_serve_socket(Bus *b, int fd, bool tls, const char *what) {
        int loopback, r;

        assert(b);
        assert(what);

        if (tls && !b->tls_cert) {
                safe_close(fd);
                return log_error_errno(-EINVAL,
                                       "%s is to speak TLS but there is no certificate: give --tls-cert and "
                                       "--tls-key, or the credentials tls-cert and tls-key.",
                                       what);
        }
        loopback = socket_is_loopback(fd);
        if (loopback < 0) {
                safe_close(fd);
                return log_error_errno(loopback, "Failed to read the address of %s: %m", what);
        }
        if (!loopback && !(tls && b->tokens)) {
                if (!b->config.insecure) {
                        safe_close(fd);
                        return log_error_errno(-EPERM,
                                               "Refusing to serve %s beyond loopback without %s: anyone who "
                                               "can reach it could submit and cancel jobs. Give --tls-cert, "
                                               "--tls-key and --tokens, or --insecure to do it anyway.",
                                               what,
                                               !tls && !b->tokens ? "TLS and tokens"
                                               : !tls             ? "TLS"
                                                                  : "tokens");
                }
                log_warning("Serving %s beyond loopback without %s (--insecure).", what,
                            !tls && !b->tokens ? "TLS or tokens"
                            : !tls             ? "TLS"
                                               : "tokens");
        }
        r = tls ? ws_context_listen_tls(b->ws, fd) : ws_context_listen(b->ws, fd);
        if (r < 0)
                return log_error_errno(r, "Failed to serve %s: %m", what);
        return 0;
}

static int bus_take_sockets(Bus *b) {
        _cleanup_(strv_freep) char **names = NULL;
        unsigned n_tls = 0;
        int n, fd = -EBADF, r;

        assert(b);

        n = socket_activation_fds(&fd, &names);
        if (n == -EPROTOTYPE)
                return log_error_errno(n,
                                       "Socket-activated fd %d is not a listening TCP socket; "
                                       "sched-bus.socket must use ListenStream=.",
                                       fd);
        if (n < 0)
                return log_error_errno(n, "Failed to take the sockets passed by systemd: %m");
        for (int i = 0; i < n; i++) {
                /* FileDescriptorName=tls, as sched-bus-tls.socket sets: those speak TLS. */
                bool tls = names && names[i] && strcmp(names[i], BUS_TLS_FD_NAME) == 0;
                char what[64];

                (void) snprintf(what, sizeof what, "socket-activated fd %d (%s)", SD_LISTEN_FDS_START + i,
                                names && names[i] ? names[i] : "unnamed");
                r = bus_serve_socket(b, SD_LISTEN_FDS_START + i, tls, what);
                if (r < 0)
                        return r;
                n_tls += tls;
        }
        if (n > 0) {
                b->socket_activated = true;
                log_info("Serving %d socket-activated listening socket%s, %u with TLS.", n, n > 1 ? "s" : "",
                         n_tls);
                if (b->tls_cert && n_tls == 0)
                        log_warning("A certificate is set but no socket is named \"" BUS_TLS_FD_NAME
                                    "\" (FileDescriptorName=" BUS_TLS_FD_NAME
                                    ", see sched-bus-tls.socket): nothing speaks TLS.");
                return 0;
        }

        r = socket_listen_address(b->config.listen, &fd);
        if (r < 0)
                return log_error_errno(r, "Failed to listen on %s: %m", b->config.listen);
        r = bus_serve_socket(b, fd, b->tls_cert, b->config.listen);
        if (r < 0)
                return r;
        log_info("Listening on %s%s.", b->config.listen, b->tls_cert ? " with TLS" : "");
        return 0;
}

static int bus_load_tokens(Bus *b, bool reload) {
        _cleanup_(bus_tokens_freep) BusTokens *t = NULL;
        char error[512];
        int r;

        assert(b);
        assert(b->tokens_path);

        r = bus_tokens_load(&t, b->tokens_path, error, sizeof error);
        if (r < 0) {
                if (reload)
                        return log_error_errno(r,
                                               "Failed to reload the tokens, keeping the %zu in force: %s",
                                               bus_tokens_count(b->tokens), error);
                return log_error_errno(r, "Failed to read the tokens: %s", error);
        }
        bus_tokens_free(b->tokens);
        b->tokens = TAKE_PTR(t);
        log_info("%s %zu token%s from %s.", reload ? "Reloaded" : "Read", bus_tokens_count(b->tokens),
                 bus_tokens_count(b->tokens) == 1 ? "" : "s", b->tokens_path);
        return 0;
}

static int bus_setup_auth(Bus *b) {
        char error[512] = "Out of memory";
        int r;

        assert(b);

        /* Each named here if it cannot be read: libwebsockets would only fail to make its TLS context. */
        r = credential_or_option(b->config.tls_cert, "tls-cert", "tls-cert", &b->tls_cert, error,
                                 sizeof error);
        if (r >= 0)
                r = credential_or_option(b->config.tls_key, "tls-key", "tls-key", &b->tls_key, error,
                                         sizeof error);
        if (r >= 0)
                r = credential_or_option(b->config.tls_client_ca, "tls-client-ca", "tls-client-ca",
                                         &b->tls_client_ca, error, sizeof error);
        if (r >= 0)
                r = credential_or_option(b->config.tokens, "tokens", "tokens", &b->tokens_path, error,
                                         sizeof error);
        if (r < 0)
                return log_error_errno(r, "%s.", error);
        if (!b->tls_cert != !b->tls_key)
                return log_error_errno(-EINVAL,
                                       "A certificate needs its key: give both --tls-cert and --tls-key (or "
                                       "the credentials tls-cert and tls-key).");
        if (b->tls_client_ca && !b->tls_cert)
                return log_error_errno(-EINVAL, "--tls-client-ca needs --tls-cert and --tls-key.");
        if (b->tokens_path)
                return bus_load_tokens(b, false);
        return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Bus *b = ASSERT_PTR(userdata);

        if (!b->tokens_path) {
                log_info("Received SIGHUP; no tokens file to reload.");
                return 0;
        }
        /* Connections keep the rights they were given; new ones get the new tokens'. */
        (void) bus_load_tokens(b, true);
        return 0;
}

/* Each client holds a socket: make room for max_clients of them within the hard limit. */
static void bus_raise_fd_limit(Bus *b) {
        int r;

        assert(b);

        r = rlimit_nofile_raise((uint64_t) b->config.max_clients + 64);
        if (r < 0)
                log_warning_errno(r, "Failed to raise the open file limit, ignoring: %m");
}

static int bus_setup_event(Bus *b) {
        int r;

        assert(b);

        r = event_new_daemon(&b->event, on_signal, b);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m");
        r = event_add_signal_blocked(b->event, SIGHUP, on_sighup, b);
        if (r < 0)
                return log_error_errno(r, "Failed to handle SIGHUP: %m");
        return 0;
}

static int bus_setup_idle(Bus *b) {
        int r;

        assert(b);

        if (!b->socket_activated || b->config.exit_idle_usec == 0)
                return 0;
        r = sd_event_add_time_relative(b->event, &b->idle_source, CLOCK_MONOTONIC, b->config.exit_idle_usec,
                                       USEC_PER_SEC / 10, on_idle_timer, b);
        if (r < 0)
                return log_error_errno(r, "Failed to add the idle timer: %m");
        (void) sd_event_source_set_description(b->idle_source, "bus-idle-exit");
        return 0;
}

static int bus_setup_ids(Bus *b) {
        const char *dir = b->config.state_dir;
        int r;

        if (!dir) {
                const char *e = getenv("STATE_DIRECTORY");

                /* systemd may list several, separated by ':': ours is the first. */
                if (e && *e) {
                        b->state_dir = strndup(e, strcspn(e, ":"));
                        if (!b->state_dir)
                                return log_oom();
                }
        } else {
                b->state_dir = strdup(dir);
                if (!b->state_dir)
                        return log_oom();
        }
        dir = b->state_dir;
        r = job_ids_new(&b->ids, dir);
        if (r < 0)
                return log_error_errno(r, "Failed to read or reserve job ids in %s/%s: %m", dir,
                                       JOB_IDS_FILE);
        if (dir)
                log_info("Job ids from %" PRIu64 " (kept in %s/%s).", job_ids_first(b->ids), dir,
                         JOB_IDS_FILE);
        else
                log_info("Job ids from 1: no state directory (--state-dir), so ids repeat after a restart.");
        return 0;
}

int bus_run(Bus *b) {
        int r;

        assert(b);

        bus_raise_fd_limit(b);
        r = bus_setup_ids(b);
        if (r < 0)
                return r;
        r = bus_setup_event(b);
        if (r < 0)
                return r;
        r = bus_setup_jobs(b);
        if (r < 0)
                return r;
        r = bus_setup_dispatch(b);
        if (r < 0)
                return r;
        r = bus_setup_auth(b);
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
                 ", slow clients closed %" PRIu64 ", refused %" PRIu64 ", refused for their origin %" PRIu64
                 ", for their token %" PRIu64 ", frames forbidden %" PRIu64 ".",
                 b->n_forwarded, b->n_dropped, b->n_errors, b->n_closed_slow, b->n_refused,
                 b->n_refused_origin, b->n_refused_token, b->n_forbidden);
        return 0;
}
