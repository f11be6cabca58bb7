/* SPDX-License-Identifier: MIT */
/*
 * JobScope: the scheduler's connection to the systemd manager for --scope. Each job's process is
 * moved into its own transient scope unit (StartTransientUnit over sd-bus) in sched-jobs.slice, so
 * `systemctl status` shows it and stopping the scope kills its whole cgroup. Owned by the Scheduler;
 * calls are asynchronous on the scheduler's sd-event loop.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

typedef struct JobScope JobScope;

#define JOB_SCOPE_SLICE "sched-jobs.slice"

/* Connects to the system manager (or the user's with `user`), checks that it answers, and stops the
 * scopes of this `instance` that an earlier run left (killed before it could stop them). */
int job_scope_new(JobScope **ret, sd_event *e, bool user, const char *instance);
JobScope *job_scope_free(JobScope *s);
/* Creates scope `unit` holding `pid`. A failure is logged when the manager answers. */
int job_scope_attach(JobScope *s, pid_t pid, const char *unit, const char *description);
/* Stops scope `unit` (SIGTERM to its cgroup, then SIGKILL). */
int job_scope_stop(JobScope *s, const char *unit);
