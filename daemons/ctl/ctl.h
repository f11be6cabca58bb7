/* SPDX-License-Identifier: MIT */
/*
 * Ctl: the sched-ctl program. Owns its sd-event loop, one BusLink that never reconnects (a command
 * line tool says what went wrong instead of retrying), the deadline for connecting and for each
 * answer, the pager, and the state of the one verb it runs. Each verb (ctl-status.c, ctl-jobs.c,
 * ctl-watch.c, ctl-submit.c, ctl-cancel.c) is an entry of a table: the first frame it sends and what
 * it does with each frame the bus sends back, until it ends the loop with the exit status.
 */
#pragma once

#include "bus-auth.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef enum CtlVerb {
        CTL_STATUS,
        CTL_JOBS,
        CTL_WATCH,
        CTL_SUBMIT,
        CTL_CANCEL,
        _CTL_VERB_MAX,
        _CTL_VERB_INVALID = -EINVAL,
} CtlVerb;

const char *ctl_verb_to_string(CtlVerb v);
CtlVerb ctl_verb_from_string(const char *s);

typedef struct CtlConfig {
        CtlVerb verb;
        const char *bus_url; /* NULL: the default */
        BusAuthOptions auth;
        uint64_t timeout_usec; /* to connect, and for each answer */
        bool json;
        bool quiet;
        bool pager;

        /* submit */
        int priority;
        double runtime;
        const char *ref; /* NULL: "sched-ctl-PID" */
        bool wait;

        /* jobs */
        int state;             /* a per-scheduler state (protocol_state_from_string()); -1: any */
        const char *scheduler; /* NULL: any */
        unsigned limit;        /* 0: the bus's default */

        /* cancel: not owned */
        const uint64_t *ids;
        size_t n_ids;
} CtlConfig;

#define CTL_PRIORITY_DEFAULT 5
#define CTL_RUNTIME_DEFAULT  5.0
#define CTL_RUNTIME_MAX      86400.0

#define CTL_CONFIG_DEFAULT                        \
        ((CtlConfig){                             \
                .verb = CTL_STATUS,               \
                .timeout_usec = 5 * USEC_PER_SEC, \
                .pager = true,                    \
                .priority = CTL_PRIORITY_DEFAULT, \
                .runtime = CTL_RUNTIME_DEFAULT,   \
                .state = -1,                      \
        })

/* Exit statuses. submit --wait names the job's end with 3..9 (ctl_exit_status_from_end()). */
#define CTL_EXIT_SUCCESS 0
#define CTL_EXIT_FAILURE 1 /* sched-ctl's own: bus unreachable or lost, request rejected, timeout */
#define CTL_EXIT_USAGE   2

/* The exit status of `submit --wait` for a job's "end" ("done" 0, "failed" 3, ... "unknown" 9);
 * CTL_EXIT_FAILURE for an end this version does not know. */
int ctl_exit_status_from_end(const char *end);

typedef struct Ctl Ctl;

int ctl_new(Ctl **ret, const CtlConfig *config);
Ctl *ctl_free(Ctl *c);
/* Runs the verb; returns the process exit status. */
int ctl_run(Ctl *c);
