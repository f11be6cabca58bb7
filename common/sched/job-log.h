/* SPDX-License-Identifier: MIT */
/*
 * Job-aware logging: one job event as one log entry with the fields SCHED_JOB_ID, SCHED_JOB_PRIORITY,
 * SCHED_JOB_RUNTIME and SCHED_JOB_STATE (journal), or `job=ID priority=P state=S runtime=R` tokens
 * (plain stderr), on top of the basic layer's log_internalv(). No state.
 */
#pragma once

#include <stdint.h>

#include "job-state.h"
#include "log.h"

/* The facts of one job. A negative priority or runtime, or an invalid state, is left out. */
typedef struct LogJob {
        uint64_t id;
        int priority;
        double runtime;
        JobState state;
} LogJob;

int log_job_internal(int level, const LogJob *job, const char *const *extra, const char *file, int line,
                     const char *func, const char *format, ...) _printf_(7, 8);

/* One job event, plus `extra` ("KEY=value" strings, NULL-terminated, may be NULL). */
#define log_job(level, job, ...) \
        log_job_internal((level), (job), NULL, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_job_extra(level, job, extra, ...) \
        log_job_internal((level), (job), (extra), __FILE__, __LINE__, __func__, __VA_ARGS__)
