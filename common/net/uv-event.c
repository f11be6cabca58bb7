/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "log.h"
#include "time-util.h"
#include "uv-event.h"

/* How many non-blocking rounds uv_event_free() gives closing handles to finish. */
#define UV_EVENT_CLOSE_ROUNDS 64

struct UvEvent {
        sd_event *event;
        uv_loop_t loop;
        bool loop_initialized;

        sd_event_source *io_source;    /* uv's epoll fd; its prepare callback runs the loop */
        sd_event_source *timer_source; /* uv's next timer */
        sd_event_source *wake_source;  /* uv has work at once: the loop must not sleep */
        uint64_t timer_armed_usec;     /* deadline timer_source holds, UINT64_MAX when off */
};

static void uv_event_arm_timer(UvEvent *u) {
        uint64_t deadline = UINT64_MAX, armed;
        int r, timeout;

        assert(u);

        armed = u->timer_armed_usec;

        /* A dead loop reports a timeout of 0: it has nothing to wait for, so the timer stays off. */
        if (uv_loop_alive(&u->loop)) {
                timeout = uv_backend_timeout(&u->loop);
                /* Work right away (a busy bus, every pass): a oneshot defer source keeps sd-event
                 * from sleeping, which costs nothing, where a timer due now would be a
                 * timerfd_settime() per pass. uv runs its due timers in the passes that follow;
                 * a timer still armed for an earlier deadline goes off, or it would wake an idle
                 * loop for nothing later. */
                if (timeout == 0) {
                        r = sd_event_source_set_enabled(u->wake_source, SD_EVENT_ONESHOT);
                        if (r >= 0) {
                                if (armed != UINT64_MAX &&
                                    sd_event_source_set_enabled(u->timer_source, SD_EVENT_OFF) >= 0)
                                        u->timer_armed_usec = UINT64_MAX;
                                return;
                        }
                        log_debug_errno(r, "Failed to wake the loop for libuv, arming its timer: %m");
                }
                if (timeout >= 0)
                        deadline = now_usec(CLOCK_MONOTONIC) + (uint64_t) timeout * USEC_PER_MSEC;
        }

        /* uv counts in milliseconds, so the same uv timer yields deadlines that wobble by one; an
         * armed timer that fires at most that much late, or early (then it is simply re-armed),
         * is kept rather than reset on every loop iteration. */
        if (deadline == armed ||
            (armed != UINT64_MAX && deadline != UINT64_MAX && deadline + USEC_PER_MSEC >= armed))
                return;

        if (deadline == UINT64_MAX)
                r = sd_event_source_set_enabled(u->timer_source, SD_EVENT_OFF);
        else {
                r = sd_event_source_set_time(u->timer_source, deadline);
                if (r >= 0)
                        r = sd_event_source_set_enabled(u->timer_source, SD_EVENT_ONESHOT);
        }
        if (r < 0) {
                log_debug_errno(r, "Failed to arm the libuv timer, ignoring: %m");
                return;
        }
        u->timer_armed_usec = deadline;
}

/* Runs before every sd-event poll: whatever an sd-event handler changed on the uv side (a write
 * wanted, a timer added) takes effect here, before the thread goes to sleep. Pumping uv from a
 * defer or post source instead would starve: uv's epoll fd stays readable until uv runs. */
static int on_uv_prepare(sd_event_source *s, void *userdata) {
        UvEvent *u = ASSERT_PTR(userdata);

        assert(s);

        if (uv_loop_alive(&u->loop))
                (void) uv_run(&u->loop, UV_RUN_NOWAIT);
        uv_event_arm_timer(u);
        return 0;
}

/* The io and timer sources only wake the loop up: the next prepare callback does the work. */
static int on_uv_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        assert(s);
        assert(userdata);
        return 0;
}

static int on_uv_wake(sd_event_source *s, void *userdata) {
        assert(s);
        assert(userdata);
        return 0; /* only kept the loop awake: the next prepare callback runs uv */
}

static int on_uv_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        UvEvent *u = ASSERT_PTR(userdata);

        assert(s);

        u->timer_armed_usec = UINT64_MAX; /* a oneshot source turns itself off */
        return 0;
}

int uv_event_new(UvEvent **ret, sd_event *e) {
        _cleanup_(uv_event_freep) UvEvent *u = NULL;
        int r;

        assert(ret);
        assert(e);

        u = calloc(1, sizeof *u);
        if (!u)
                return -ENOMEM;
        u->event = sd_event_ref(e);
        u->timer_armed_usec = UINT64_MAX;

        r = uv_loop_init(&u->loop);
        if (r < 0)
                return r; /* libuv errors are negative errno values on Linux */
        u->loop_initialized = true;

        r = sd_event_add_io(e, &u->io_source, uv_backend_fd(&u->loop), EPOLLIN, on_uv_io, u);
        if (r < 0)
                return r;
        r = sd_event_source_set_prepare(u->io_source, on_uv_prepare);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(u->io_source, "uv-backend");

        /* Accuracy 1 µs: 0 would mean sd-event's default of 250 ms coalescing. */
        r = sd_event_add_time(e, &u->timer_source, CLOCK_MONOTONIC, 0, 1, on_uv_timer, u);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(u->timer_source, SD_EVENT_OFF);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(u->timer_source, "uv-timer");

        r = sd_event_add_defer(e, &u->wake_source, on_uv_wake, u);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(u->wake_source, SD_EVENT_OFF);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(u->wake_source, "uv-wake");

        *ret = TAKE_PTR(u);
        return 0;
}

uv_loop_t *uv_event_get_loop(UvEvent *u) {
        assert(u);
        return &u->loop;
}

bool uv_event_run_once(UvEvent *u) {
        assert(u);

        if (!uv_loop_alive(&u->loop))
                return false;
        (void) uv_run(&u->loop, UV_RUN_NOWAIT);
        return uv_loop_alive(&u->loop);
}

static void close_handle(uv_handle_t *h, void *arg) {
        assert(h);

        if (!uv_is_closing(h))
                uv_close(h, NULL);
}

static void uv_event_close_loop(UvEvent *u) {
        int r = 0;

        assert(u);

        uv_walk(&u->loop, close_handle, NULL);
        for (unsigned i = 0; i < UV_EVENT_CLOSE_ROUNDS; i++) {
                (void) uv_run(&u->loop, UV_RUN_NOWAIT);
                r = uv_loop_close(&u->loop);
                if (r != UV_EBUSY)
                        break;
        }
        if (r < 0)
                log_debug_errno(r, "Failed to close the libuv loop, ignoring: %m");
}

UvEvent *uv_event_free(UvEvent *u) {
        if (!u)
                return NULL;

        /* The io source watches uv's epoll fd: it goes before the loop closes that fd. */
        sd_event_source_disable_unref(u->io_source);
        sd_event_source_disable_unref(u->timer_source);
        sd_event_source_disable_unref(u->wake_source);
        if (u->loop_initialized)
                uv_event_close_loop(u);
        sd_event_unref(u->event);
        return mfree(u);
}
