/* SPDX-License-Identifier: MIT */
#include <signal.h>

#include "event-util.h"
#include "log.h"
#include "macro.h"

int event_new_daemon(sd_event **ret, sd_event_signal_handler_t handler, void *userdata) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        assert(ret);

        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        (void) signal(SIGPIPE, SIG_IGN);

        r = sd_event_new(&e);
        if (r < 0)
                return r;
        r = sd_event_add_signal(e, NULL, SIGTERM, handler, userdata);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGINT, handler, userdata);
        if (r < 0)
                return r;

        r = sd_event_set_watchdog(e, true);
        if (r < 0)
                log_debug_errno(r, "Failed to enable the watchdog, ignoring: %m");

        *ret = TAKE_PTR(e);
        return 0;
}

int event_timer_arm(sd_event *e, sd_event_source **s, uint64_t usec, uint64_t accuracy,
                    sd_event_time_handler_t handler, void *userdata, const char *description, bool keep) {
        int enabled = SD_EVENT_OFF, r;

        assert(e);
        assert(s);

        if (!*s) {
                r = sd_event_add_time_relative(e, s, CLOCK_MONOTONIC, usec, accuracy, handler, userdata);
                if (r >= 0 && description)
                        (void) sd_event_source_set_description(*s, description);
                return r;
        }
        if (keep && sd_event_source_get_enabled(*s, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return 0;
        r = sd_event_source_set_time_relative(*s, usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
}

int event_add_signal_blocked(sd_event *e, int sig, sd_event_signal_handler_t handler, void *userdata) {
        sigset_t mask;

        assert(e);

        sigemptyset(&mask);
        sigaddset(&mask, sig);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        return sd_event_add_signal(e, NULL, sig, handler, userdata);
}
