/* SPDX-License-Identifier: MIT */
/*
 * Scheduler: the sched-scheduler daemon's state. It owns the sd-event loop, the BusLink to sched-bus,
 * the Runner (which owns every Job), the signal and status sources and, with --scope, the JobScope
 * manager connection. Jobs arrive from the bus and run as child processes under the Runner's
 * priority rules.
 */
#pragma once

#include "bus-auth.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct SchedulerConfig {
        unsigned size;                 /* slots */
        uint64_t timeout_usec;         /* per job, from its start; 0 = none */
        uint64_t grace_usec;           /* SIGTERM -> SIGKILL */
        uint64_t status_interval_usec; /* STATUS= at most this often; 0: at every change */
        double max_runtime;            /* largest runtime accepted from the bus */
        unsigned max_pending;          /* jobs waiting for a slot; more are dropped */
        char *bus_url;
        BusAuthOptions auth;
        char **exec_argv;       /* NULL: the test job, sleep RUNTIME */
        bool scope;             /* run each job in a transient scope unit */
        bool user;              /* with scope: the user's manager instead of the system's */
        char *instance;         /* scope names: sched-job-INSTANCE-ID.scope; default the size */
        char *name;             /* how the bus knows us; default HOSTNAME@INSTANCE */
        char *cgroup;           /* --cgroup: "auto" (NULL too), "self", "off" or a PATH; see JobCgroups */
        int evict;              /* RunnerEvict */
        unsigned max_requeue;   /* requeues of one job before an eviction kills it */
        unsigned max_suspended; /* jobs frozen at once; 0: as many as slots */
        const char *state_dir;  /* the pending jobs' file; NULL: $STATE_DIRECTORY, or none */
} SchedulerConfig;

#define SCHEDULER_CONFIG_DEFAULT                             \
        ((SchedulerConfig){                                  \
                .size = 5,                                   \
                .timeout_usec = 10 * USEC_PER_SEC,           \
                .grace_usec = 2 * USEC_PER_SEC,              \
                .status_interval_usec = 100 * USEC_PER_MSEC, \
                .max_runtime = 86400,                        \
                .max_pending = 10000,                        \
                .max_requeue = 3,                            \
        })

typedef struct Scheduler Scheduler;

int scheduler_new(Scheduler **ret, const SchedulerConfig *config);
Scheduler *scheduler_free(Scheduler *s);
/* Serves until SIGTERM/SIGINT, then terminates every job and returns 0. */
int scheduler_run(Scheduler *s);
