/* SPDX-License-Identifier: MIT */
/*
 * What the verbs of Ctl share: the object itself, the verb table's entry type, and the output
 * helpers every verb prints through. Private to daemons/ctl/.
 */
#pragma once

#include <stdio.h>
#include <string.h>
#include <systemd/sd-event.h>

#include <jansson.h>

#include "bus-link.h"
#include "ctl.h"
#include "pager.h"
#include "terminal-escape.h"
#include "terminal.h"

typedef struct CtlVerbOps {
        /* The first frame of the connection (BusLink sends it on connecting): the request itself
         * when one frame is all it takes, or a register. */
        int (*hello)(Ctl *c, char **ret);
        /* Connected, the hello on its way. May be NULL. */
        void (*connected)(Ctl *c);
        /* One frame from the bus, a JSON object. */
        void (*message)(Ctl *c, json_t *msg);
        /* The bus went away after the connection was up and before the verb was done. NULL: the
         * common message and CTL_EXIT_FAILURE. */
        void (*lost)(Ctl *c, const char *reason);
        /* SIGINT or SIGTERM. NULL: exit with CTL_EXIT_FAILURE, silently. */
        void (*interrupted)(Ctl *c);
        /* After the loop, the connection closed: prints the answer ctl_take_answer() kept (through
         * the pager, which may take as long as the reader likes; stdout is checked after it).
         * Returns 0, or -ENOMEM. May be NULL. */
        int (*print)(Ctl *c, json_t *answer);
} CtlVerbOps;

extern const CtlVerbOps ctl_status_ops, ctl_jobs_ops, ctl_watch_ops, ctl_submit_ops, ctl_cancel_ops;

struct Ctl {
        CtlConfig config;
        const CtlVerbOps *ops;
        sd_event *event;
        BusLink *link;
        sd_event_source *deadline_source;
        Pager pager;
        bool connected_once;
        bool finished;
        int exit_code;
        bool stdout_colors, stderr_colors;
        bool stderr_tty;
        json_t *answer; /* status, jobs: what the bus answered (ctl_take_answer()), for print() */

        struct {
                char *ref;
                bool accepted;
                uint64_t id;
                uint64_t accepted_usec;       /* CLOCK_MONOTONIC */
                json_t *schedulers;           /* scheduler name ("" for the bus) -> its latest event */
                sd_event_source *tick_source; /* redraws the live line */
                bool live_line;               /* a live line is on stderr now */
        } submit;

        struct {
                size_t next; /* the index of the id whose answer is awaited */
                bool failed;
        } cancel;
};

static inline bool streq_ptr(const char *a, const char *b) {
        return a && b ? strcmp(a, b) == 0 : a == b;
}

/* The bus's URL, as given or the default. */
const char *ctl_bus_url(Ctl *c);
/* Ends the loop with `code`; the first call wins. */
void ctl_exit(Ctl *c, int code);
/* "Out of memory." and ctl_exit() with CTL_EXIT_FAILURE. */
void ctl_exit_oom(Ctl *c);
/* (Re)starts the deadline: the answer, or the connection, must come within --timeout. */
void ctl_arm_deadline(Ctl *c);
void ctl_disarm_deadline(Ctl *c);
/* Sends one frame (takes `text`); on failure says so and exits with CTL_EXIT_FAILURE. */
int ctl_send(Ctl *c, char *text);

/* A line on stderr, after clearing the live line: errors always, infos unless --quiet. */
_printf_(2, 3) void ctl_error(Ctl *c, const char *format, ...);
_printf_(2, 3) void ctl_info(Ctl *c, const char *format, ...);
/* Clears submit's live line, if one is shown. */
void ctl_clear_live_line(Ctl *c);

/* One compact JSON line on stdout, flushed: a pipe reader sees each at once. */
void ctl_print_json(Ctl *c, json_t *v);
/* Flushes stdout. A reader that went away (EPIPE) ends the program with `code_on_epipe`; any other
 * write error is said and ends it with CTL_EXIT_FAILURE. Returns false in both cases. */
bool ctl_flush_stdout(Ctl *c, int code_on_epipe);

/* If msg is an error frame: true, with its code and message (either may be NULL). */
bool ctl_bus_error(json_t *msg, const char **ret_code, const char **ret_message);
/* An error frame: as it came on stdout with --json, and "PREFIX: MESSAGE (CODE)" on stderr, the
 * bus's text escaped. */
void ctl_report_bus_error(Ctl *c, json_t *msg, const char *prefix);
/* The "event" of an answer, or NULL. */
const char *ctl_event_name(json_t *msg);

/* Whether msg is an {"event":EVENT} frame, the one the verb awaits. An error frame is reported
 * with `refused` as its prefix and ends the loop with CTL_EXIT_FAILURE; any other frame is
 * ignored (a debug line says that it is not `what`). */
bool ctl_expect_event(Ctl *c, json_t *msg, const char *event, const char *what, const char *refused);
/* message() of a verb whose hello is its one request, answered by one {"event":EVENT} frame (the
 * deadline armed since connecting bounds the wait): ctl_expect_event(), then the answer printed at
 * once with --json, or kept for print(). The error frame or the answer ends the loop. */
void ctl_take_answer(Ctl *c, json_t *msg, const char *event, const char *what, const char *refused);

/* Typed members of a JSON object; false when absent or of another type. */
bool json_get_u64(json_t *o, const char *key, uint64_t *ret);
bool json_get_double(json_t *o, const char *key, double *ret);
const char *json_get_string(json_t *o, const char *key);

/* Job events (ctl-event.c), for watch and submit --wait. */

/* The job events of an {"event":"job"} frame, single or batched, each as an object that starts with
 * "event":"job" (the batched ones get it back), in order. New array, or NULL when out of memory. */
json_t *ctl_job_events(json_t *msg);
/* The colour of a state name: done green, failed and timeout red, the other ends yellow, running
 * bold. */
Color ctl_state_color(const char *state);
/* The state, coloured when `colors`, padded to `width` columns. */
void ctl_print_state(FILE *f, bool colors, const char *state, size_t width);
/* "exit status 3, signal KILL, by job 9, cpu 1.2s, memory peak 4.0M, reason: ..." for what an event
 * or a job's scheduler entry carries (escaped); with CTL_DETAILS_JOB its priority and runtime
 * first, with CTL_DETAILS_END "job ended: END" last for a final event. "" when none. malloc()ed,
 * NULL when out of memory. */
#define CTL_DETAILS_JOB (1U << 0)
#define CTL_DETAILS_END (1U << 1)
char *ctl_event_details(json_t *ev, unsigned flags);
/* A scheduler's name for people: escaped, or `null_name` for null. malloc()ed. */
char *ctl_scheduler_name(json_t *name, const char *null_name);
/* One line for one event: time, id, state, scheduler, details. */
void ctl_print_event_line(FILE *f, bool colors, json_t *ev);
