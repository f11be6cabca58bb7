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
#include "rlimit-util.h"
#include "socket-util.h"

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
        return mfree(b);
}

static int bus_send_status(Bus *b) {
        assert(b);

        return sd_notifyf(false,
                          "STATUS=producers %u, schedulers %u, forwarded %" PRIu64
                          ", held %zu, dropped %" PRIu64 ", errors %" PRIu64 "%s",
                          b->n_producers, b->n_schedulers, b->n_forwarded, held_size(b->held), b->n_dropped,
                          b->n_errors, b->paused ? ", producers paused" : "");
}

static void on_status(void *userdata) {
        (void) bus_send_status(ASSERT_PTR(userdata));
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

static int bus_take_sockets(Bus *b) {
        int n, fd = -EBADF, r;

        assert(b);

        n = socket_activation_fds(&fd);
        if (n == -EPROTOTYPE)
                return log_error_errno(n,
                                       "Socket-activated fd %d is not a listening TCP socket; "
                                       "sched-bus.socket must use ListenStream=.",
                                       fd);
        if (n < 0)
                return log_error_errno(n, "Failed to take the sockets passed by systemd: %m");
        for (fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
                r = ws_context_listen(b->ws, fd);
                if (r < 0)
                        return log_error_errno(r, "Failed to serve socket-activated fd %d: %m", fd);
        }
        if (n > 0) {
                b->socket_activated = true;
                log_info("Serving %d socket-activated listening socket%s.", n, n > 1 ? "s" : "");
                return 0;
        }

        r = socket_listen_address(b->config.listen, &fd);
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
                 ".",
                 b->n_forwarded, b->n_dropped, b->n_errors, b->n_closed_slow, b->n_refused,
                 b->n_refused_origin);
        return 0;
}
