/* SPDX-License-Identifier: MIT */
/*
 * sched-ctl submit: registers as a producer that wants its jobs' events, sends one job with a ref,
 * prints the id the bus assigned, and with --wait follows the job until its final event: the exit
 * status names its end. On a terminal the wait is one line, redrawn; otherwise one line per event.
 * The id alone goes to stdout, so that `id=$(sched-ctl submit --wait)` gets just the id; what
 * happens to the job is told on stderr, as systemd-run --wait does.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl-internal.h"
#include "event-util.h"
#include "log.h"
#include "protocol.h"
#include "time-format.h"
#include "time-util.h"

/* How often the live line's clock moves. */
#define TICK_USEC (100 * USEC_PER_MSEC)

static const struct {
        const char *end;
        int status;
        const char *verb; /* "Job 42 VERB after ..." */
} end_table[] = {
        { "done", 0, "done" },       { "failed", 3, "failed" },       { "timeout", 4, "timed out" },
        { "evicted", 5, "evicted" }, { "cancelled", 6, "cancelled" }, { "interrupted", 7, "interrupted" },
        { "dropped", 8, "dropped" }, { "unknown", 9, NULL },
};

int ctl_exit_status_from_end(const char *end) {
        for (size_t i = 0; end && i < ELEMENTSOF(end_table); i++)
                if (strcmp(end_table[i].end, end) == 0)
                        return end_table[i].status;
        return CTL_EXIT_FAILURE;
}

static const char *end_verb(const char *end) {
        for (size_t i = 0; end && i < ELEMENTSOF(end_table); i++)
                if (strcmp(end_table[i].end, end) == 0)
                        return end_table[i].verb;
        return NULL;
}

static int submit_hello(Ctl *c, char **ret) {
        return protocol_dump_register_events(ret, NULL);
}

static void submit_connected(Ctl *c) {
        char *text = NULL;
        int r;

        if (!c->submit.ref) {
                /* The ref ties the bus's answer, or its error, to this request and not to the
                 * register frame before it. */
                if (c->config.ref)
                        c->submit.ref = strdup(c->config.ref);
                else if (asprintf(&c->submit.ref, "sched-ctl-%d", (int) getpid()) < 0)
                        c->submit.ref = NULL;
        }
        r = c->submit.ref ? protocol_dump_job_request_ref(c->config.priority, c->config.runtime,
                                                          c->submit.ref, &text, NULL)
                          : -ENOMEM;
        if (r < 0) {
                ctl_error(c, "Failed to format the job: %s", r == -ENOMEM ? "out of memory" : "invalid");
                ctl_exit(c, CTL_EXIT_FAILURE);
                return;
        }
        (void) ctl_send(c, text);
}

static uint64_t submit_elapsed(Ctl *c) {
        return now_usec(CLOCK_MONOTONIC) - c->submit.accepted_usec;
}

/* "running on sched-a@5, queued on sched-b@3"; "" before any event. */
static void live_line_states(Ctl *c, FILE *f) {
        const char *key, *sep = "";
        json_t *ev;

        json_object_foreach(c->submit.schedulers, key, ev) {
                _cleanup_free_ char *state = terminal_escape(json_get_string(ev, "state") ?: "?");
                _cleanup_free_ char *name = terminal_escape(key);

                if (!state || !name)
                        continue;
                if (*key)
                        fprintf(f, "%s%s on %s", sep, state, name);
                else
                        fprintf(f, "%s%s by the bus", sep, state);
                sep = ", ";
        }
}

static void live_line_draw(Ctl *c) {
        _cleanup_free_ char *line = NULL;
        char span[FORMAT_TIMESPAN_MAX];
        size_t size = 0, columns;
        uint64_t elapsed;
        FILE *f;

        /* Tenths of a second, as fine as a moving clock can be read, and of a steady width: "0.4s",
         * not "400ms" then "1.1s". */
        elapsed = submit_elapsed(c);
        if (elapsed < 60 * USEC_PER_SEC)
                (void) snprintf(span, sizeof span, "%" PRIu64 ".%" PRIu64 "s", elapsed / USEC_PER_SEC,
                                elapsed % USEC_PER_SEC / TICK_USEC);
        else
                format_timespan(span, sizeof span, elapsed);
        f = open_memstream(&line, &size);
        if (!f)
                return;
        fprintf(f, "Job %" PRIu64 " ", c->submit.id);
        if (json_object_size(c->submit.schedulers) == 0)
                fputs("submitted, waiting for a scheduler", f);
        else
                live_line_states(c, f);
        fprintf(f, " (%s)", span);
        if (fclose(f) != 0)
                return;

        /* A line longer than the terminal would wrap, and \r would then redraw only its end. */
        columns = terminal_columns(STDERR_FILENO);
        if (columns > 8 && terminal_width(line) > columns - 1) {
                size_t w = 0, i = 0;

                for (; line[i]; i++)
                        if (((unsigned char) line[i] & 0xc0) != 0x80 && ++w > columns - 4)
                                break;
                strcpy(line + i, "...");
        }
        fprintf(stderr, "\r%s\x1b[K", line);
        fflush(stderr);
        c->submit.live_line = true;
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Ctl *c = ASSERT_PTR(userdata);

        live_line_draw(c);
        (void) event_timer_arm(c->event, &c->submit.tick_source, TICK_USEC, 10 * USEC_PER_MSEC, NULL, NULL,
                               NULL, false);
        return 0;
}

static bool submit_live(Ctl *c) {
        return c->stderr_tty && !c->config.quiet && !c->config.json;
}

static void submit_accepted(Ctl *c, json_t *msg) {
        uint64_t id;

        if (!json_get_u64(msg, "id", &id)) {
                ctl_error(c, "The bus accepted the job without an id.");
                ctl_exit(c, CTL_EXIT_FAILURE);
                return;
        }
        c->submit.accepted = true;
        c->submit.id = id;
        c->submit.accepted_usec = now_usec(CLOCK_MONOTONIC);

        if (c->config.json)
                ctl_print_json(c, msg);
        else {
                printf("%" PRIu64 "\n", id);
                if (!ctl_flush_stdout(c, CTL_EXIT_FAILURE))
                        return;
        }
        if (!c->config.wait) {
                ctl_exit(c, CTL_EXIT_SUCCESS);
                return;
        }

        /* From now on the job takes as long as it takes. */
        ctl_disarm_deadline(c);
        c->submit.schedulers = json_object();
        if (!c->submit.schedulers) {
                ctl_exit_oom(c);
                return;
        }
        if (submit_live(c)) {
                live_line_draw(c);
                (void) event_timer_arm(c->event, &c->submit.tick_source, TICK_USEC, 10 * USEC_PER_MSEC,
                                       on_tick, c, "ctl-submit-tick", false);
        }
}

/* "Job 42 done after 5.012s on sched-a@5 (cpu 4ms)." on stderr. */
static void submit_print_end(Ctl *c, const char *end) {
        _cleanup_free_ char *names = NULL, *details = NULL, *end_text = terminal_escape(end);
        const char *verb = end_verb(end), *key;
        char span[FORMAT_TIMESPAN_MAX];
        json_t *first = NULL, *ev;
        size_t size = 0;
        FILE *f;

        ctl_clear_live_line(c);
        if (c->config.quiet || c->config.json)
                return;
        if (streq_ptr(end, "unknown")) {
                fprintf(stderr,
                        "Job %" PRIu64 " went only to schedulers that do not report; its end is %s.\n",
                        c->submit.id, end_text ?: "unknown");
                return;
        }

        /* The schedulers where it ended so, and the details of the first of them. */
        f = open_memstream(&names, &size);
        if (!f)
                return;
        json_object_foreach(c->submit.schedulers, key, ev) {
                _cleanup_free_ char *name = NULL;

                if (!streq_ptr(json_get_string(ev, "state"), end))
                        continue;
                first = first ?: ev;
                if (!*key)
                        continue;
                name = terminal_escape(key);
                fprintf(f, "%s%s", ftell(f) > 0 ? ", " : " on ", name ?: "?");
        }
        if (fclose(f) != 0)
                return;
        details = first ? ctl_event_details(first, 0) : NULL;

        fprintf(stderr, "Job %" PRIu64 " ", c->submit.id);
        if (c->stderr_colors)
                fprintf(stderr, "%s%s%s", color_on(ctl_state_color(end)), verb ?: end_text ?: "?", COLOR_OFF);
        else
                fputs(verb ?: end_text ?: "?", stderr);
        fprintf(stderr, " after %s%s", format_timespan(span, sizeof span, submit_elapsed(c)), names ?: "");
        if (details && *details)
                fprintf(stderr, " (%s)", details);
        fputs(".\n", stderr);
        if (!verb)
                fprintf(stderr, "sched-ctl does not know the end '%s'.\n", end_text ?: "?");
        fflush(stderr);
}

static void submit_event(Ctl *c, json_t *ev) {
        json_t *name = json_object_get(ev, "scheduler");
        const char *end;
        uint64_t id;

        if (!json_get_u64(ev, "id", &id) || id != c->submit.id)
                return;
        if (c->config.json)
                ctl_print_json(c, ev);
        if (json_object_set(c->submit.schedulers, json_string_value(name) ?: "", ev) < 0) {
                ctl_exit_oom(c);
                return;
        }
        if (submit_live(c))
                live_line_draw(c);
        else if (!c->config.quiet && !c->config.json) {
                ctl_print_event_line(stderr, c->stderr_colors, ev);
                fflush(stderr);
        }

        if (!json_is_true(json_object_get(ev, "final")))
                return;
        end = json_get_string(ev, "end");
        submit_print_end(c, end);
        ctl_exit(c, ctl_exit_status_from_end(end));
}

static bool ref_is_ours(Ctl *c, json_t *msg) {
        json_t *ref = json_object_get(msg, "ref");

        /* No ref: an answer to a request that had none, not to ours. */
        return ref && streq_ptr(json_string_value(ref), c->submit.ref);
}

static void submit_message(Ctl *c, json_t *msg) {
        _cleanup_(json_decrefp) json_t *events = NULL;
        const char *event = ctl_event_name(msg);
        json_t *ev;
        size_t i;

        if (ctl_bus_error(msg, NULL, NULL)) {
                if (c->submit.accepted) {
                        ctl_report_bus_error(c, msg, "The bus says");
                        return;
                }
                ctl_report_bus_error(c, msg,
                                     ref_is_ours(c, msg) ? "The bus rejected the job"
                                                         : "The bus refused the registration");
                ctl_exit(c, CTL_EXIT_FAILURE);
                return;
        }

        if (streq_ptr(event, "accepted")) {
                if (!c->submit.accepted && ref_is_ours(c, msg))
                        submit_accepted(c, msg);
                return;
        }
        if (!streq_ptr(event, "job") || !c->submit.accepted || !c->config.wait) {
                log_debug("Ignoring a frame from the bus that is not about the job.");
                return;
        }

        events = ctl_job_events(msg);
        if (!events) {
                ctl_exit_oom(c);
                return;
        }
        json_array_foreach(events, i, ev) {
                if (c->finished)
                        break;
                submit_event(c, ev);
        }
}

static void submit_lost(Ctl *c, const char *reason) {
        if (!c->submit.accepted) {
                ctl_error(c, "Lost the bus at %s (%s) before it accepted the job.", ctl_bus_url(c), reason);
                ctl_exit(c, CTL_EXIT_FAILURE);
                return;
        }
        ctl_error(c,
                  "Lost the bus at %s (%s) while waiting for job %" PRIu64
                  ". Its schedulers record its end in the journal: journalctl SCHED_JOB_ID=%" PRIu64,
                  ctl_bus_url(c), reason, c->submit.id, c->submit.id);
        ctl_exit(c, CTL_EXIT_FAILURE);
}

static void submit_interrupted(Ctl *c) {
        ctl_clear_live_line(c);
        if (c->submit.accepted)
                ctl_info(c,
                         "Stopped waiting for job %" PRIu64 "; it goes on (sched-ctl cancel %" PRIu64
                         " stops it).",
                         c->submit.id, c->submit.id);
        else
                ctl_info(c, "Interrupted before the bus accepted the job; it may run anyway.");
        ctl_exit(c, CTL_EXIT_FAILURE);
}

const CtlVerbOps ctl_submit_ops = {
        .hello = submit_hello,
        .connected = submit_connected,
        .message = submit_message,
        .lost = submit_lost,
        .interrupted = submit_interrupted,
};
