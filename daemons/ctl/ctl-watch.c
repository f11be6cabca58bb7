/* SPDX-License-Identifier: MIT */
/*
 * sched-ctl watch: registers as an observer and prints every job event as it happens, one line
 * each, until SIGINT or SIGTERM (exit 0) or until the bus goes away (exit 1).
 */
#include <stdio.h>

#include "ctl-internal.h"
#include "log.h"
#include "protocol.h"

static int watch_hello(Ctl *c, char **ret) {
        return protocol_dump_register(ROLE_OBSERVER, ret, NULL);
}

static void watch_connected(Ctl *c) {
        _cleanup_free_ char *url = terminal_escape(ctl_bus_url(c));

        /* Nothing to answer from here on: events come when they come. */
        ctl_disarm_deadline(c);
        if (c->stderr_tty && !c->config.json)
                ctl_info(c, "Watching job events on %s. Press Ctrl-C to stop.", url ?: "the bus");
}

static void watch_message(Ctl *c, json_t *msg) {
        _cleanup_(json_decrefp) json_t *events = NULL;
        json_t *ev;
        size_t i;

        /* A bus older than sched-ctl knows no observers: invalid_type. */
        if (!ctl_expect_event(c, msg, "job", "a job event", "The bus refused to register an observer"))
                return;

        events = ctl_job_events(msg);
        if (!events) {
                ctl_exit_oom(c);
                return;
        }
        log_debug("A frame of %zu job event%s.", json_array_size(events),
                  json_array_size(events) == 1 ? "" : "s");
        json_array_foreach(events, i, ev) {
                if (c->config.json)
                        ctl_print_json(c, ev);
                else
                        ctl_print_event_line(stdout, c->stdout_colors, ev);
        }
        (void) ctl_flush_stdout(c, CTL_EXIT_SUCCESS);
}

static void watch_lost(Ctl *c, const char *reason) {
        ctl_error(c, "The bus at %s went away (%s).", ctl_bus_url(c), reason);
        ctl_exit(c, CTL_EXIT_FAILURE);
}

static void watch_interrupted(Ctl *c) {
        ctl_exit(c, CTL_EXIT_SUCCESS);
}

const CtlVerbOps ctl_watch_ops = {
        .hello = watch_hello,
        .connected = watch_connected,
        .message = watch_message,
        .lost = watch_lost,
        .interrupted = watch_interrupted,
};
