/* SPDX-License-Identifier: MIT */
/*
 * JobRun: what it takes to run one Job — its Process, the pipe that carries the job's output into the
 * scheduler's log (each line tagged with the job's id) and, with --scope, its scope unit. Owned by the
 * Job (job->data, freed through job->data_free); reports the job's end to the Runner.
 *
 * With cgroups (JobCgroups), the job is born in its own cgroup `job-ID` and its end is reported once
 * that cgroup is empty; either way, what it left re-parented to the scheduler is collected by the
 * JobReaper before its end is reported.
 *
 * A job is set up when it takes its slot (job_run_new(), from the Runner's start()) and spawned later,
 * one spawn per loop pass (job_run_spawn()), so that a burst of jobs that all start at once cannot
 * hold back due timeouts, child exits or the bus. Whatever happens, the Runner hears of the job's
 * end exactly once: from its process, or from job_run_spawn() when it never got one.
 */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "job-cgroups.h"
#include "job-reaper.h"
#include "job-scope.h"
#include "job.h"
#include "runner.h"

typedef struct JobRunConfig {
        sd_event *event;
        char **exec_argv;      /* NULL: the test job, `sleep RUNTIME` */
        uint64_t timeout_usec; /* 0 = none */
        uint64_t grace_usec;
        JobScope *scope;      /* NULL: plain child processes */
        JobCgroups *cgroups;  /* NULL or no parent: no cgroup per job */
        JobReaper *reaper;    /* NULL: nothing re-parented is looked after */
        const char *instance; /* for scope unit names */
        /* Called after the Runner heard of the job's exit (the Job may be gone by then). */
        void (*on_exited)(void *userdata);
        void *userdata;
} JobRunConfig;

/* Gives the Job a JobRun (owned by the Job from then on, also on failure) that waits to be spawned.
 * `config` must outlive it. */
/* A requeued job starting over gets a new one: what its last run left is freed first. */
int job_run_new(Job *j, const JobRunConfig *config, Runner *runner);
/* Spawns the job's process; a job terminated before (evicted, interrupted) is not spawned. When the
 * job got no process, the Runner hears of its end here (as failed, with j->error set, or in the state
 * it was terminated with), so the Job may be gone on return. Returns 1 when the job runs (the Job is
 * there), 0 when it was not spawned, < 0 when the spawn failed. */
int job_run_spawn(Job *j);
/* Before its spawn: when its running record was written (CLOCK_MONOTONIC), the moment its timeout
 * counts from. Without it, the timeout counts from the spawn. */
void job_run_set_started(Job *j, uint64_t usec);
/* SIGTERM to the job's process group, SIGKILL after the grace period (with --scope, what left the group
 * gets its SIGTERM from the scope's stop once the job ended). Before
 * the spawn: the job will not be spawned. */
int job_run_terminate(Job *j);
/* --evict=suspend: freezes the job's processes (and its timeout clock), or lets them go on. A job
 * not spawned yet cannot be frozen (-ESRCH): the runner requeues it instead. */
int job_run_suspend(Job *j);
int job_run_resume(Job *j);
/* How long its current run has been frozen, in all. */
uint64_t job_run_get_frozen_usec(const Job *j);
/* The CPU time (µs) and peak memory (bytes) of the job's cgroup, UINT64_MAX where unknown: all of
 * it once the job has ended, so far while it runs. */
void job_run_get_usage(const Job *j, uint64_t *ret_cpu_usec, uint64_t *ret_memory_peak);
/* How the job's process ended: its exit status (shell style: 128 + signal when killed) and the signal
 * that killed it (0 when it exited). -ENODATA while it has not ended, or never started. */
int job_run_get_exit(const Job *j, int *ret_status, int *ret_signal);
/* Whether the job's end is under way: its process exited (not reported yet), or is being terminated
 * at its timeout. For RunnerOps.ending. */
bool job_run_is_ending(const Job *j);
/* "exit status 3", "killed by signal SEGV", for log lines. Valid until the next call. */
const char *job_run_describe_exit(const Job *j);
/* The pid of the job's process (its group's id), 0 before the spawn. */
pid_t job_run_get_pid(const Job *j);
