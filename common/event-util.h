/* SPDX-License-Identifier: MIT */
/*
 * The sd-event loop every daemon of the project starts from. No state of its own.
 */
#pragma once

#include <systemd/sd-event.h>

/* A new loop on which SIGTERM and SIGINT (blocked first, as sd-event needs) call `handler`,
 * SIGPIPE is ignored, and the watchdog is kept when systemd asks for one (WATCHDOG_USEC). The
 * signal sources belong to the loop. Logs its failures. */
int event_new_daemon(sd_event **ret, sd_event_signal_handler_t handler, void *userdata);
