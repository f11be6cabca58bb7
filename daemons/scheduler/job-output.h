/* SPDX-License-Identifier: MIT */
/*
 * JobOutput: the pipe that carries what a job writes (stdout and stderr) into the scheduler's log,
 * one entry per line, tagged with the job's id and priority. Owned by the job's JobRun; the write
 * end goes to the child and is closed here once it has been spawned.
 */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct JobOutput JobOutput;

/* A pipe for job `id`: *ret_write_fd is the end the child writes to, still owned by the JobOutput
 * (valid until job_output_spawned()). */
int job_output_new(JobOutput **ret, sd_event *e, uint64_t id, int priority, int *ret_write_fd);
/* The child has its copy of the write end: ours is closed, reading begins. */
void job_output_spawned(JobOutput *o);
/* The job's processes are gone: reads what is left and logs the last, unterminated line. */
void job_output_drain(JobOutput *o);
JobOutput *job_output_free(JobOutput *o);
DEFINE_TRIVIAL_CLEANUP_FUNC(JobOutput *, job_output_free);
