/* SPDX-License-Identifier: MIT */
/*
 * JobScope: the scheduler's connection to the systemd manager for --scope. Each job runs in its own
 * transient scope unit in sched-jobs.slice, so that `systemctl status` shows it and stopping the scope
 * covers its whole cgroup. The job's process is created held (process_start_held()); the scope is
 * started with its pid (StartTransientUnit), and only once systemd's start job for it has finished
 * (JobRemoved, result "done") is the job let go: it runs its first instruction inside its scope.
 *
 * The scope carries the cgroup side of our own unit's sandbox (IPAddressAllow/Deny, DevicePolicy,
 * DeviceAllow and the other cgroup filters, read from our unit over D-Bus at the start); the rest of
 * the sandbox (namespaces, seccomp, capabilities, user) the job inherits, as it is our child.
 *
 * Without polkit rights for sched-job-* units (systemd 252 cannot limit them, see sched-scheduler(8)),
 * creating scopes needs root on the system bus. Started as root with SCHED_SCOPE_USER=NAME (the scope
 * drop-in does that), job_scope_new() makes the connection and job_scope_drop_privileges() then
 * becomes NAME for good: the connection stays root's, the scheduler and its jobs are not.
 *
 * Owned by the Scheduler; everything after job_scope_new() is asynchronous on its sd-event loop.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

typedef struct JobScope JobScope;
typedef struct JobScopeStart JobScopeStart;

#define JOB_SCOPE_SLICE    "sched-jobs.slice"
#define JOB_SCOPE_USER_ENV "SCHED_SCOPE_USER"

/* Called once when the scope is there (error 0) or cannot be (error < 0, `message` says why). The
 * JobScopeStart is gone by then. */
typedef void (*job_scope_ready_t)(int error, const char *message, void *userdata);

/* Connects to the system manager (or the user's with `user`), checks that it answers, reads the
 * sandbox of the unit we run in, and stops the scopes of this `instance` that an earlier run left
 * (killed before it could stop them). Logs what it copies and what it stops. */
int job_scope_new(JobScope **ret, sd_event *e, bool user, const char *instance);
/* Once connected: as root with SCHED_SCOPE_USER=NAME, becomes NAME (groups, gid, uid) for good. Logs
 * what it does, and why it cannot. */
int job_scope_drop_privileges(void);
JobScope *job_scope_free(JobScope *s);
/* Starts scope `unit` holding `pid` (held: it must not run yet), stopped with SIGKILL
 * `stop_timeout_usec` after its SIGTERM, and calls `ready` once systemd has started it. *ret is the
 * pending start, for job_scope_start_free(). */
int job_scope_start(JobScope *s, pid_t pid, const char *unit, const char *description,
                    uint64_t stop_timeout_usec, job_scope_ready_t ready, void *userdata,
                    JobScopeStart **ret);
/* Forgets a pending start: `ready` is not called. Accepts NULL, returns NULL. */
JobScopeStart *job_scope_start_free(JobScopeStart *st);
/* Stops scope `unit`: SIGTERM to every process in it, SIGKILL after its stop timeout. A scope that is
 * gone already is no error. */
int job_scope_stop(JobScope *s, const char *unit);
