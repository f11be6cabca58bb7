/* SPDX-License-Identifier: MIT */
/*
 * Throttle: runs a callback at most once per interval however often it is kicked — the first kick
 * after a quiet interval at once, the kicks that follow within the interval as one call at its end.
 * With an interval of 0, the kicks coalesce instead into one call as soon as the loop has nothing
 * else to do (an idle-priority defer source), or after 100 ms of a loop that never does. For
 * STATUS=, which would otherwise cost one message to PID 1 per job. Embedded in its owner, which
 * calls throttle_done() before freeing it.
 */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct Throttle {
        sd_event_source *timer; /* the end of the interval, when a kick is waiting */
        sd_event_source *defer; /* interval 0: one call when the loop has nothing more urgent */
        uint64_t interval_usec;
        uint64_t last_usec; /* CLOCK_MONOTONIC of the last call; 0 before the first */
        void (*callback)(void *userdata);
        void *userdata;
} Throttle;

#define THROTTLE_INIT(interval, cb, data) \
        ((Throttle){ .interval_usec = (interval), .callback = (cb), .userdata = (data) })

/* Kicks: calls back now, or once at the end of the current interval. Does not log; a failure to
 * arm the timer calls back now. */
void throttle_kick(Throttle *t, sd_event *e);
/* The last call could not do its work (e.g. the message was dropped): calls back again after the
 * interval, or after 10 ms if the interval is shorter, whatever the kicks. */
void throttle_retry(Throttle *t, sd_event *e);
void throttle_done(Throttle *t);
