/* SPDX-License-Identifier: MIT */
/*
 * The scenarios of sched-process-demo, the showcase of the Process module (the old test_process):
 * polled raw processes, a waited process, a done callback, a timeout and a terminate. Each scenario
 * logs its outcome and is checked against the result it must give.
 */
#pragma once

#include <errno.h>

typedef enum DemoCommand {
        DEMO_RAW,
        DEMO_WAIT,
        DEMO_CALLBACK,
        DEMO_TIMEOUT,
        DEMO_TERMINATE,
        DEMO_ALL, /* each of the above in turn */
        _DEMO_COMMAND_MAX,
        _DEMO_COMMAND_INVALID = -EINVAL,
} DemoCommand;

const char *demo_command_to_string(DemoCommand c);
DemoCommand demo_command_from_string(const char *s);

#define DEMO_RAW_COUNT_MAX 64

typedef struct DemoConfig {
        double scale;       /* multiplies every duration: sleeps, timeouts, delays, ticks, grace */
        unsigned raw_count; /* processes of the raw scenario, sleeping 1..raw_count s */
} DemoConfig;

#define DEMO_CONFIG_DEFAULT ((DemoConfig){ .scale = 1.0, .raw_count = 3 })

/* Runs the command and returns the exit status: 0 when every scenario gave its expected result,
 * 1 otherwise, 128 + signal when interrupted by SIGINT or SIGTERM (no child is left behind). */
int demo_run(const DemoConfig *config, DemoCommand command);
