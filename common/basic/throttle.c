/* SPDX-License-Identifier: MIT */
#include "event-util.h"
#include "macro.h"
#include "throttle.h"
#include "time-util.h"

#define THROTTLE_RETRY_MIN_USEC (10 * USEC_PER_MSEC)
/* Interval 0: a loop that never runs out of work still calls this often. */
#define THROTTLE_IDLE_MAX_USEC (100 * USEC_PER_MSEC)

static void throttle_call(Throttle *t, uint64_t now) {
        /* Whichever comes first calls; the other waits for the next kick (a retry the callback
         * asks for is armed after this). */
        if (t->defer)
                (void) sd_event_source_set_enabled(t->defer, SD_EVENT_OFF);
        if (t->timer)
                (void) sd_event_source_set_enabled(t->timer, SD_EVENT_OFF);
        t->last_usec = now;
        t->callback(t->userdata);
}

static int on_throttle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Throttle *t = ASSERT_PTR(userdata);

        throttle_call(t, now_usec(CLOCK_MONOTONIC));
        return 0;
}

static int on_throttle_defer(sd_event_source *s, void *userdata) {
        Throttle *t = ASSERT_PTR(userdata);

        throttle_call(t, now_usec(CLOCK_MONOTONIC));
        return 0;
}

/* Interval 0: the kicks of a burst (every job's start and end) coalesce into one call once the loop
 * has nothing more urgent to do, instead of one call per kick; or after THROTTLE_IDLE_MAX_USEC, if
 * it never runs out of work. */
static int throttle_kick_deferred(Throttle *t, sd_event *e) {
        int r;

        (void) event_timer_arm(e, &t->timer, THROTTLE_IDLE_MAX_USEC, USEC_PER_MSEC, on_throttle_timer, t,
                               "throttle", true);
        if (!t->defer) {
                r = sd_event_add_defer(e, &t->defer, on_throttle_defer, t);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_priority(t->defer, SD_EVENT_PRIORITY_IDLE);
                (void) sd_event_source_set_description(t->defer, "throttle-defer");
        }
        return sd_event_source_set_enabled(t->defer, SD_EVENT_ONESHOT);
}

void throttle_kick(Throttle *t, sd_event *e) {
        int enabled = SD_EVENT_OFF;
        uint64_t now;

        assert(t);
        assert(e);
        assert(t->callback);

        if (t->interval_usec == 0 && throttle_kick_deferred(t, e) >= 0)
                return;

        /* A call is already due at the end of this interval: it will carry this kick too. */
        if (t->timer && sd_event_source_get_enabled(t->timer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return;
        now = now_usec(CLOCK_MONOTONIC);
        if (t->last_usec == 0 || now >= t->last_usec + t->interval_usec) {
                throttle_call(t, now);
                return;
        }
        if (event_timer_arm(e, &t->timer, t->last_usec + t->interval_usec - now, USEC_PER_MSEC,
                            on_throttle_timer, t, "throttle", false) < 0)
                throttle_call(t, now);
}

void throttle_retry(Throttle *t, sd_event *e) {
        assert(t);
        assert(e);

        /* Not at once even with a zero interval: the call that failed may be this one's caller. A
         * timer that cannot be armed leaves it to the next kick. */
        (void) event_timer_arm(e, &t->timer, MAX(t->interval_usec, THROTTLE_RETRY_MIN_USEC), USEC_PER_MSEC,
                               on_throttle_timer, t, "throttle", false);
}

void throttle_done(Throttle *t) {
        assert(t);
        t->timer = sd_event_source_disable_unref(t->timer);
        t->defer = sd_event_source_disable_unref(t->defer);
}
