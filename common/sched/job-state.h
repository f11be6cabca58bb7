/* SPDX-License-Identifier: MIT */
/*
 * JobState: the names every log line, journal field and status uses for a job's life.
 */
#pragma once

#include <errno.h>

typedef enum JobState {
        JOB_QUEUED,
        JOB_RUNNING,
        JOB_DONE,    /* exit 0 */
        JOB_FAILED,  /* exit != 0, or killed by a signal we did not send */
        JOB_TIMEOUT, /* terminated by us at its timeout */
        JOB_EVICTED, /* terminated by us for a more urgent job */
        JOB_DROPPED,     /* never ran: no scheduler to take it, no room to wait, or its scheduler stopped */
        JOB_INTERRUPTED, /* was running; terminated because its scheduler stopped */
        _JOB_STATE_MAX,
        _JOB_STATE_INVALID = -EINVAL,
} JobState;

/* NULL for a value out of range. */
const char *job_state_to_string(JobState s);
