/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>

#include "format-util.h"
#include "job-log.h"

/* MESSAGE_ID= of each state's entry, explained by the journal catalog (packaging/catalog/
 * sched-utils.catalog, `journalctl -x`). Never change one: journal matches depend on them. */
static const char *const job_state_message_id_table[_JOB_STATE_MAX] = {
        [JOB_QUEUED] = "6b6ba171a5e542bcbd0e7d1dfeb0bdc2",
        [JOB_RUNNING] = "affde7d09b04418f9bb8abcccfbf47de",
        [JOB_DONE] = "1f6ac50471884000b5544ddb497683cc",
        [JOB_FAILED] = "b02df8a04890499aa405596660c092fd",
        [JOB_TIMEOUT] = "a7ae9a81664d4e7da1a8bbf1fdf93329",
        [JOB_EVICTED] = "c5e29ea0e7484ed1acb21a23deb888af",
        [JOB_DROPPED] = "2a7a5ac9ba894bcc98fdcc1a30b3d4e4",
        [JOB_INTERRUPTED] = "699d00b71ece4915b0c4869f9db2bba7",
        [JOB_CANCELLED] = "403dd2f2a76c4b6081ebde5c9ac5b330",
        [JOB_SUSPENDED] = "8c7c3410e5714d8eb068d4e14461ce57",
        [JOB_RESUMED] = "df609261ead94a0e8f9e822d0b29ee6a",
        [JOB_REQUEUED] = "0a2cdf07bafc46acaa8c72f4fb57b557",
};

int log_job_internal(int level, const LogJob *job, const char *const *extra, const char *file, int line,
                     const char *func, const char *format, ...) {
        char id[48], priority[48], runtime[64], state[48], message_id[64], number[FORMAT_DOUBLE_MAX];
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
                (void) snprintf(message_id, sizeof message_id, "MESSAGE_ID=%s",
                                job_state_message_id_table[job->state]);
                fields[n++] = message_id;
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
