/* SPDX-License-Identifier: MIT */
#include "job-state.h"
#include "string-table.h"

static const char *const job_state_table[_JOB_STATE_MAX] = {
        [JOB_QUEUED] = "queued",       [JOB_RUNNING] = "running",         [JOB_DONE] = "done",
        [JOB_FAILED] = "failed",       [JOB_TIMEOUT] = "timeout",         [JOB_EVICTED] = "evicted",
        [JOB_DROPPED] = "dropped",     [JOB_INTERRUPTED] = "interrupted", [JOB_CANCELLED] = "cancelled",
        [JOB_SUSPENDED] = "suspended", [JOB_RESUMED] = "resumed",         [JOB_REQUEUED] = "requeued",
};

DEFINE_STRING_TABLE_LOOKUP(job_state, JobState, _JOB_STATE_MAX);

bool job_state_is_terminal(JobState s) {
        return s >= 0 && s < _JOB_STATE_MAX && s != JOB_QUEUED && s != JOB_RUNNING && s != JOB_SUSPENDED &&
               s != JOB_RESUMED && s != JOB_REQUEUED;
}
