/* SPDX-License-Identifier: MIT */
/*
 * Demo: one sd-event loop shared by the scenarios, the sources they need (the "waiting" tick, the
 * terminate delay) and SIGINT/SIGTERM sources, so that Ctrl-C ends the demo and process_free() takes
 * every child with it: the children live in process groups of their own and never see the terminal's
 * Ctrl-C themselves. Created and freed by demo_run().
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "demo.h"
#include "event-util.h"
#include "log.h"
#include "process.h"

/* sd-event's default timer accuracy (250 ms) would blur the scaled-down runs. */
#define DEMO_ACCURACY_USEC (1 * USEC_PER_MSEC)

typedef struct Demo {
        sd_event *event;
        sd_event_source *tick_source;      /* callback scenario: "waiting" every (scaled) second */
        sd_event_source *terminate_source; /* terminate scenario: the delay before process_terminate() */
        Process *terminate_target;
        DemoConfig config;
        int signal; /* the signal that interrupted the demo, 0 while none */
        bool callback_done;
} Demo;

typedef struct DemoScenario {
        DemoCommand command;
        int (*run)(Demo *d); /* returns a ProcessResult or -errno */
        ProcessResult expected;
} DemoScenario;

static const char *const demo_command_table[_DEMO_COMMAND_MAX] = {
        [DEMO_RAW] = "raw",         [DEMO_WAIT] = "wait",           [DEMO_CALLBACK] = "callback",
        [DEMO_TIMEOUT] = "timeout", [DEMO_TERMINATE] = "terminate", [DEMO_ALL] = "all",
};

const char *demo_command_to_string(DemoCommand c) {
        if (c < 0 || c >= _DEMO_COMMAND_MAX)
                return NULL;
        return demo_command_table[c];
}

DemoCommand demo_command_from_string(const char *s) {
        assert(s);

        if (!s)
                return _DEMO_COMMAND_INVALID;
        for (DemoCommand c = 0; c < _DEMO_COMMAND_MAX; c++)
                if (strcmp(demo_command_table[c], s) == 0)
                        return c;
        return _DEMO_COMMAND_INVALID;
}

static double now_sec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* A scaled duration; never 0, which would mean "no timeout" to Process. */
static uint64_t demo_usec(const Demo *d, double sec) {
        assert(d);

        return MAX((uint64_t) (sec * d->config.scale * (double) USEC_PER_SEC), UINT64_C(1));
}

/* Starts `sleep <sec scaled>` with a scaled timeout (0: none) and grace. */
static int demo_spawn(Demo *d, const char *name, double sec, double timeout_sec, Process **ret) {
        _cleanup_(process_freep) Process *p = NULL;
        char duration[32];
        int r;

        assert(d);
        assert(name);
        assert(ret);

        (void) snprintf(duration, sizeof duration, "%.3f", sec * d->config.scale);
        r = process_new(&p, d->event, (char *[]){ (char *) "sleep", duration, NULL }, NULL);
        if (r < 0)
                return r;
        (void) process_set_grace(p, demo_usec(d, (double) PROCESS_GRACE_USEC_DEFAULT / USEC_PER_SEC));
        if (timeout_sec > 0)
                (void) process_set_timeout(p, demo_usec(d, timeout_sec));
        r = process_start(p);
        if (r < 0)
                return r;

        log_info("%s: started pid %d: sleep %s%s", name, (int) process_get_pid(p), duration,
                 timeout_sec > 0 ? " (with a timeout)" : "");
        *ret = TAKE_PTR(p);
        return 0;
}

static void demo_log_outcome(const char *name, Process *p, double t0) {
        assert(name);
        assert(p);

        log_info("%s: pid %d result=%s exit_status=%d elapsed=%.3fs", name, (int) process_get_pid(p),
                 process_result_to_string(process_get_result(p)), process_get_exit_status(p),
                 now_sec() - t0);
}

/* Logs each process that ended since the last call; returns how many are still running. */
static unsigned demo_raw_check(Process **ps, bool *reported, unsigned n, double t0) {
        unsigned running = 0;

        assert(ps);
        assert(reported);

        for (unsigned i = 0; i < n; i++) {
                if (process_is_running(ps[i]))
                        running++;
                else if (!reported[i]) {
                        demo_log_outcome("raw", ps[i], t0);
                        reported[i] = true;
                }
        }
        return running;
}

/* Polls, without callbacks, until every process has ended. */
static int demo_raw_poll(Demo *d, Process **ps, unsigned n, double t0) {
        bool reported[DEMO_RAW_COUNT_MAX] = {};
        unsigned running = n, last = n;
        int r;

        assert(d);
        assert(ps);

        while (running > 0) {
                r = sd_event_run(d->event, demo_usec(d, 1));
                if (r < 0)
                        return r;
                running = demo_raw_check(ps, reported, n, t0);
                if (running != last)
                        log_info("raw: %u of %u done, %u running", n - running, n, running);
                last = running;
        }
        for (unsigned i = 0; i < n; i++)
                if (process_get_result(ps[i]) != PROCESS_SUCCESS)
                        return PROCESS_ERROR;
        return PROCESS_SUCCESS;
}

static int demo_raw(Demo *d) {
        Process *ps[DEMO_RAW_COUNT_MAX] = {};
        unsigned n = MIN(d->config.raw_count, DEMO_RAW_COUNT_MAX);
        double t0 = now_sec();
        int r = 0;

        assert(d);

        for (unsigned i = 0; i < n && r >= 0; i++)
                r = demo_spawn(d, "raw", i + 1, 0, &ps[i]);
        if (r >= 0)
                r = demo_raw_poll(d, ps, n, t0);
        for (unsigned i = 0; i < n; i++)
                process_free(ps[i]);
        return r;
}

/* One process of `sec` seconds (with a timeout unless 0), waited on. */
static int demo_spawn_wait(Demo *d, const char *name, double sec, double timeout_sec) {
        _cleanup_(process_freep) Process *p = NULL;
        double t0 = now_sec();
        int r;

        assert(d);
        assert(name);

        r = demo_spawn(d, name, sec, timeout_sec, &p);
        if (r < 0)
                return r;
        r = process_wait(p);
        if (r < 0)
                return r;
        demo_log_outcome(name, p, t0);
        return r;
}

static int demo_wait(Demo *d) {
        return demo_spawn_wait(d, "wait", 3, 0);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Demo *d = ASSERT_PTR(userdata);

        log_info("callback: waiting");
        return event_timer_arm(d->event, &s, demo_usec(d, 1), 0, NULL, NULL, NULL, false);
}

static void on_callback_done(Process *p, ProcessResult result, void *userdata) {
        Demo *d = ASSERT_PTR(userdata);

        assert(p);

        log_info("callback: done callback called with result=%s", process_result_to_string(result));
        d->callback_done = true;
}

/* The loop runs on its own (logging "waiting"); the end arrives through the done callback. */
static int demo_callback(Demo *d) {
        _cleanup_(process_freep) Process *p = NULL;
        double t0 = now_sec();
        int r;

        assert(d);

        d->callback_done = false;
        r = demo_spawn(d, "callback", 3, 0, &p);
        if (r < 0)
                return r;
        r = process_add_done_callback(p, on_callback_done, d);
        if (r < 0)
                return r;
        r = sd_event_add_time_relative(d->event, &d->tick_source, CLOCK_MONOTONIC, demo_usec(d, 1),
                                       DEMO_ACCURACY_USEC, on_tick, d);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(d->tick_source, "demo-tick");

        while (!d->callback_done && r >= 0)
                r = sd_event_run(d->event, UINT64_MAX);
        d->tick_source = sd_event_source_disable_unref(d->tick_source);
        if (r < 0)
                return r;
        demo_log_outcome("callback", p, t0);
        return process_get_result(p);
}

static int demo_timeout(Demo *d) {
        return demo_spawn_wait(d, "timeout", 300, 5);
}

static int on_terminate_delay(sd_event_source *s, uint64_t usec, void *userdata) {
        Demo *d = ASSERT_PTR(userdata);

        log_info("terminate: terminating pid %d", (int) process_get_pid(d->terminate_target));
        (void) process_terminate(d->terminate_target);
        return 0;
}

static int demo_terminate(Demo *d) {
        _cleanup_(process_freep) Process *p = NULL;
        double t0 = now_sec();
        int r;

        assert(d);

        r = demo_spawn(d, "terminate", 300, 0, &p);
        if (r < 0)
                return r;
        d->terminate_target = p;
        r = sd_event_add_time_relative(d->event, &d->terminate_source, CLOCK_MONOTONIC, demo_usec(d, 5),
                                       DEMO_ACCURACY_USEC, on_terminate_delay, d);
        if (r >= 0) {
                (void) sd_event_source_set_description(d->terminate_source, "demo-terminate");
                r = process_wait(p);
        }
        d->terminate_source = sd_event_source_disable_unref(d->terminate_source);
        d->terminate_target = NULL;
        if (r < 0)
                return r;
        demo_log_outcome("terminate", p, t0);
        return r;
}

static const DemoScenario demo_scenarios[] = {
        { DEMO_RAW, demo_raw, PROCESS_SUCCESS },
        { DEMO_WAIT, demo_wait, PROCESS_SUCCESS },
        { DEMO_CALLBACK, demo_callback, PROCESS_SUCCESS },
        { DEMO_TIMEOUT, demo_timeout, PROCESS_TIMEOUT },
        { DEMO_TERMINATE, demo_terminate, PROCESS_TERMINATED },
};

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Demo *d = ASSERT_PTR(userdata);

        log_notice("Received SIG%s, stopping.", sigabbrev_np((int) si->ssi_signo));
        d->signal = (int) si->ssi_signo;
        /* Every later sd_event_run() fails, which ends the scenario; its Process is then freed. */
        return sd_event_exit(d->event, 128 + d->signal);
}

static Demo *demo_free(Demo *d) {
        if (!d)
                return NULL;
        sd_event_source_disable_unref(d->tick_source);
        sd_event_source_disable_unref(d->terminate_source);
        sd_event_unref(d->event);
        free(d);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Demo *, demo_free)

static int demo_new(Demo **ret, const DemoConfig *config) {
        _cleanup_(demo_freep) Demo *d = NULL;
        int r;

        assert(ret);
        assert(config);

        d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        d->config = *config;

        r = event_new_daemon(&d->event, on_signal, d);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m");

        *ret = TAKE_PTR(d);
        return 0;
}

static bool demo_run_scenario(Demo *d, const DemoScenario *s) {
        const char *name = demo_command_to_string(s->command);
        double t0 = now_sec();
        int r;

        assert(d);
        assert(s);

        log_info("%s: --- expecting %s", name, process_result_to_string(s->expected));
        r = s->run(d);
        if (r < 0) {
                if (!d->signal)
                        log_error_errno(r, "%s: failed: %m", name);
                return false;
        }
        log_info("%s: %s %s (expected %s), %.3fs", name, r == (int) s->expected ? "OK" : "UNEXPECTED",
                 process_result_to_string(r), process_result_to_string(s->expected), now_sec() - t0);
        return r == (int) s->expected;
}

int demo_run(const DemoConfig *config, DemoCommand command) {
        _cleanup_(demo_freep) Demo *d = NULL;
        bool ok = true;
        int r;

        assert(config);

        r = demo_new(&d, config);
        if (r == -ENOMEM)
                log_oom();
        if (r < 0)
                return 1; /* the event loop's failure is logged where it happened */

        for (size_t i = 0; i < ELEMENTSOF(demo_scenarios) && !d->signal; i++)
                if (command == DEMO_ALL || command == demo_scenarios[i].command)
                        ok = demo_run_scenario(d, &demo_scenarios[i]) && ok;

        if (d->signal)
                return 128 + d->signal;
        return ok ? 0 : 1;
}
