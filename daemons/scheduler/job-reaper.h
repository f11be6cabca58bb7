/* SPDX-License-Identifier: MIT */
/*
 * JobReaper: the scheduler as child subreaper (PR_SET_CHILD_SUBREAPER), so that what a job leaves
 * behind — a `setsid` grandchild, a double-forked daemon — becomes the scheduler's child instead of
 * init's, where it can be found, killed and reaped. Owned by the Scheduler; the JobRuns register
 * their leaders (the processes the loop's child sources watch, never touched here).
 *
 * After each job's end, job_reaper_collect() looks at the scheduler's children that are not leaders:
 * a zombie is reaped (WNOHANG on that pid only); a live one is killed unless its environment names,
 * in SCHED_JOB_ID, a job that is still running (it is then that job's, and waits for that job's
 * end). So a re-parented process of an ended job, or one that cleared its environment, dies. Each
 * process killed is watched until it dies, and its death starts another collection, which finds what
 * it left in turn. Nothing blocks: /proc reads and WNOHANG waits only.
 *
 * In cgroup mode the cgroup kills; the JobReaper then only reaps the re-parented zombies.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct JobReaper JobReaper;

/* Makes the calling process a child subreaper. */
int job_reaper_new(JobReaper **ret, sd_event *e);
JobReaper *job_reaper_free(JobReaper *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(JobReaper *, job_reaper_free)

/* `pid` is the leader of running job `id`: left alone, and so is what names `id`. */
int job_reaper_add_leader(JobReaper *r, pid_t pid, uint64_t id);
/* Its job has ended. */
void job_reaper_remove_leader(JobReaper *r, pid_t pid);
/* Kills the children no running job claims, reaps the zombies, but `except` (0: none): the leader
 * whose end is being handled, a zombie the loop's child source reaps once its callback returns.
 * Returns how many were killed. */
int job_reaper_collect(JobReaper *r, pid_t except);
