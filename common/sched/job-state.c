/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "job-state.h"
#include "macro.h"

static const char *const job_state_table[_JOB_STATE_MAX] = {
        [JOB_QUEUED] = "queued",   [JOB_RUNNING] = "running", [JOB_DONE] = "done",
        [JOB_FAILED] = "failed",   [JOB_TIMEOUT] = "timeout", [JOB_EVICTED] = "evicted",
        [JOB_DROPPED] = "dropped",
};

const char *job_state_to_string(JobState s) {
        if (s < 0 || s >= _JOB_STATE_MAX)
                return NULL;
        return job_state_table[s];
}

JobState job_state_from_string(const char *s) {
        if (!s)
                return _JOB_STATE_INVALID;
        for (JobState i = 0; i < _JOB_STATE_MAX; i++)
                if (strcmp(job_state_table[i], s) == 0)
                        return i;
        return _JOB_STATE_INVALID;
}
