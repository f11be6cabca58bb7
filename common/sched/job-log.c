/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>

#include "format-util.h"
#include "job-log.h"

int log_job_internal(int level, const LogJob *job, const char *const *extra, const char *file, int line,
                     const char *func, const char *format, ...) {
        char id[48], priority[48], runtime[64], state[48], number[FORMAT_DOUBLE_MAX];
        const char *fields[16];
        size_t n = 0;
        va_list ap;
        int r;

        assert(job);
        assert(format);

        if (level > log_get_max_level())
                return 0;

        (void) snprintf(id, sizeof id, "SCHED_JOB_ID=%" PRIu64, job->id);
        fields[n++] = id;
        if (job->priority >= 0) {
                (void) snprintf(priority, sizeof priority, "SCHED_JOB_PRIORITY=%d", job->priority);
                fields[n++] = priority;
        }
        if (job_state_to_string(job->state)) {
                (void) snprintf(state, sizeof state, "SCHED_JOB_STATE=%s", job_state_to_string(job->state));
                fields[n++] = state;
        }
        if (job->runtime >= 0) {
                (void) snprintf(runtime, sizeof runtime, "SCHED_JOB_RUNTIME=%s",
                                format_double(number, sizeof number, job->runtime));
                fields[n++] = runtime;
        }
        for (const char *const *e = extra; e && *e && n < ELEMENTSOF(fields) - 1; e++)
                fields[n++] = *e;
        fields[n] = NULL;

        va_start(ap, format);
        r = log_internalv(level, 0, file, line, func, fields, format, ap);
        va_end(ap);
        return r;
}
