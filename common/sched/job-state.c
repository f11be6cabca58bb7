/* SPDX-License-Identifier: MIT */
#include "job-state.h"
#include "string-table.h"

static const char *const job_state_table[_JOB_STATE_MAX] = {
        [JOB_QUEUED] = "queued",   [JOB_RUNNING] = "running",         [JOB_DONE] = "done",
        [JOB_FAILED] = "failed",   [JOB_TIMEOUT] = "timeout",         [JOB_EVICTED] = "evicted",
        [JOB_DROPPED] = "dropped", [JOB_INTERRUPTED] = "interrupted",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(job_state, JobState, _JOB_STATE_MAX);
