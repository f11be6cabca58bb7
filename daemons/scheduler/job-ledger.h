/* SPDX-License-Identifier: MIT */
/*
 * JobLedger: the running jobs of a scheduler, one small file each in its runtime directory
 * ($RUNTIME_DIRECTORY, RuntimeDirectory= of the unit, kept across restarts), so that a scheduler
 * that died (kill -9, a crash) is followed by one that knows what it left: each job that was running
 * gets its one terminal record (`interrupted`), and what is left of it is killed — under systemd
 * the service's cgroup is gone by then; without cgroups the job's process group is still there. A
 * file holds "PID STARTTIME PRIORITY RUNTIME": the pid with its start time (from /proc), so that a
 * pid used again by another process is never killed. Owned by the Scheduler; no ledger without a
 * runtime directory.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

typedef struct JobLedger JobLedger;

/* Called for each job the predecessor left, after its processes were killed. */
typedef void (*job_ledger_left_t)(uint64_t id, int priority, double runtime, void *userdata);

/* `dir` NULL: $RUNTIME_DIRECTORY (its first entry); none: *ret = NULL, 0. */
int job_ledger_new(JobLedger **ret, const char *dir);
JobLedger *job_ledger_free(JobLedger *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(JobLedger *, job_ledger_free);

const char *job_ledger_dir(const JobLedger *l);
/* The jobs a predecessor left: each one's processes are killed (their group, when the pid still is
 * that job's leader) and `left` is called, unless `skip(id)` says another owner (its cgroup) deals
 * with it; then only the entry stays until job_ledger_remove(). Returns how many were reported. */
int job_ledger_recover(JobLedger *l, bool (*skip)(uint64_t id, void *userdata), job_ledger_left_t left,
                       void *userdata);
/* Job `id` runs as process group `pid`. Failures are returned; the caller logs and goes on. */
int job_ledger_add(JobLedger *l, uint64_t id, pid_t pid, int priority, double runtime);
/* Its terminal record is written. */
void job_ledger_remove(JobLedger *l, uint64_t id);
/* What the predecessor's entry said of job `id` (priority -1, runtime -1 when unknown). */
void job_ledger_lookup(JobLedger *l, uint64_t id, int *ret_priority, double *ret_runtime);
