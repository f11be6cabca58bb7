/* SPDX-License-Identifier: MIT */
/*
 * JobState: the names every log line, journal field and status uses for a job's life.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>

typedef enum JobState {
        JOB_QUEUED,
        JOB_RUNNING,
        JOB_DONE,        /* exit 0 */
        JOB_FAILED,      /* exit != 0, or killed by a signal we did not send */
        JOB_TIMEOUT,     /* terminated by us at its timeout */
        JOB_EVICTED,     /* terminated by us for a more urgent job */
        JOB_DROPPED,     /* never ran: no scheduler to take it, no room to wait, or its scheduler stopped */
        JOB_INTERRUPTED, /* was running; terminated because its scheduler stopped */
        JOB_CANCELLED,   /* never ran, or was terminated: a client cancelled it */
        /* Version 2, --evict=requeue|suspend: not terminal. */
        JOB_SUSPENDED, /* frozen for a more urgent job; waits to be thawed */
        JOB_RESUMED,   /* thawed: running again where it stopped (runs as JOB_RUNNING from then on) */
        JOB_REQUEUED,  /* terminated for a more urgent job, or by a stop; waits to start over */
        _JOB_STATE_MAX,
        _JOB_STATE_INVALID = -EINVAL,
} JobState;

/* NULL for a value out of range. */
const char *job_state_to_string(JobState s);
/* _JOB_STATE_INVALID for NULL or an unknown name. */
JobState job_state_from_string(const char *s);
/* Whether the state is a job's last one: all but queued, running, suspended, resumed and requeued
 * (false for an invalid value). */
bool job_state_is_terminal(JobState s);
/* Whether a job in this state holds a slot or may get one back without starting over (running,
 * resumed) or waits (queued, suspended, requeued): the live states. */
static inline bool job_state_is_waiting(JobState s) {
        return s == JOB_QUEUED || s == JOB_SUSPENDED || s == JOB_REQUEUED;
}
