/* SPDX-License-Identifier: MIT */
/*
 * The sd-event loop every daemon of the project starts from. No state of its own.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

/* A new loop on which SIGTERM and SIGINT (blocked first, as sd-event needs) call `handler`,
 * SIGPIPE is ignored, and the watchdog is kept when systemd asks for one (WATCHDOG_USEC). The
 * signal sources belong to the loop. Does not log. */
int event_new_daemon(sd_event **ret, sd_event_signal_handler_t handler, void *userdata);

/* Arms the one-shot CLOCK_MONOTONIC timer *s to fire `usec` from now, creating it (with `accuracy`,
 * `handler` and `description`) on first use. With `keep`, a timer already armed is left alone, so
 * that many changes share one wakeup. Does not log. */
int event_timer_arm(sd_event *e, sd_event_source **s, uint64_t usec, uint64_t accuracy,
                    sd_event_time_handler_t handler, void *userdata, const char *description, bool keep);

/* Blocks `sig` and calls `handler` for it from the loop; the source belongs to the loop. */
int event_add_signal_blocked(sd_event *e, int sig, sd_event_signal_handler_t handler, void *userdata);
