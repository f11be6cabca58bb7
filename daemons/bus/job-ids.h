/* SPDX-License-Identifier: MIT */
/*
 * JobIds: the bus's job id counter. Ids never repeat on one bus, across restarts and crashes: the
 * counter lives in a file in the state directory (StateDirectory=sched-bus), and ids are reserved
 * from it in blocks — the file always holds the first id not yet reserved, written (and synced)
 * before any id of a block is handed out, so a bus killed at any point starts after its last block.
 * Without a state directory the ids count from 1 on every start. Owned by the Bus.
 */
#pragma once

#include <stdint.h>

#include "macro.h"

#define JOB_IDS_FILE "next-job-id"
/* Ids reserved per write: one write a second at a million jobs a second. */
#define JOB_IDS_BLOCK UINT64_C(1000000)
/* The wire protocol's largest id (a JSON integer). */
#define JOB_IDS_MAX ((uint64_t) INT64_MAX)

typedef struct JobIds JobIds;

/* `dir` NULL: in memory, from 1. Otherwise reads DIR/next-job-id (missing: 1) and reserves the
 * first block. Does not log; -EBADMSG for a file that does not hold a number. */
int job_ids_new(JobIds **ret, const char *dir);
JobIds *job_ids_free(JobIds *ids);
DEFINE_TRIVIAL_CLEANUP_FUNC(JobIds *, job_ids_free);

/* The next id. Reserving a new block may write the file: < 0 when that failed, and no id is given
 * out, so that none can be reused after a crash. -ERANGE past JOB_IDS_MAX. */
int job_ids_next(JobIds *ids, uint64_t *ret);
/* The first id of the current block, for the start-up log line. */
uint64_t job_ids_first(const JobIds *ids);
