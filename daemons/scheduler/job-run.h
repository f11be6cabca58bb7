/* SPDX-License-Identifier: MIT */
/*
 * JobRun: what it takes to run one Job — its Process, the pipe that carries the job's output into the
 * scheduler's log (each line tagged with the job's id) and, with --scope, its scope unit. Owned by the
 * Job (job->data, freed through job->data_free); reports the job's end to the Runner.
 */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "job-scope.h"
#include "job.h"
#include "runner.h"

typedef struct JobRunConfig {
        sd_event *event;
        char **exec_argv;      /* NULL: the test job, `sleep RUNTIME` */
        uint64_t timeout_usec; /* 0 = none */
        uint64_t grace_usec;
        JobScope *scope;      /* NULL: plain child processes */
        const char *instance; /* for scope unit names */
        /* Called after the Runner heard of the job's exit (the Job may be gone by then). */
        void (*on_exited)(void *userdata);
        void *userdata;
} JobRunConfig;

/* Spawns the job's process. On success the Job owns the new JobRun and `runner` hears of its end
 * through runner_job_exited(). */
int job_run_start(Job *j, const JobRunConfig *config, Runner *runner);
/* SIGTERM to the job's process group (and a stop of its scope), SIGKILL after the grace period. */
int job_run_terminate(Job *j);
/* "exit status 3", "killed by signal SEGV", for log lines. Valid until the next call. */
const char *job_run_describe_exit(const Job *j);
