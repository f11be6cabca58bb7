/* SPDX-License-Identifier: MIT */
/*
 * JobCgroups: where the scheduler's jobs get their cgroups (`--cgroup=auto|self|off|PATH`). Owned by
 * the Scheduler. It settles the mode at start:
 *
 *  - PATH: a directory inside the cgroup2 mount, created if missing (its last component only) and
 *    removed at exit if created here; the scheduler stays where it is.
 *  - self: the scheduler's own cgroup, which must be writable: the scheduler moves itself into its
 *    leaf `supervisor`, so that the job cgroups are its siblings.
 *  - auto (default): `self` when systemd delegated our cgroup to us (Delegate=yes; see
 *    cgroup_is_delegated()), the fallback otherwise.
 *  - off, or auto without a delegated cgroup: no cgroups (the fallback: process groups plus
 *    PR_SET_CHILD_SUBREAPER, see JobReaper).
 *
 * Each job runs in a cgroup of the parent's pool (see cgroup-pool.h), `slot-N`, labelled with its id
 * while it is the job's; where job cgroups have memory.peak (which a reused cgroup could not give per
 * job), in `job-ID`, made and removed for it. Job cgroups found at start (left by a predecessor that
 * died) are killed (cgroup.kill) and, once empty, removed and reported to the owner (by their label or
 * name), without blocking the loop; idle pool cgroups are removed.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "cgroup-pool.h"
#include "macro.h"

typedef struct JobCgroups JobCgroups;

/* A job cgroup left by a predecessor is gone: `id` is the job it held. */
typedef void (*job_cgroups_leftover_t)(uint64_t id, void *userdata);

/* `setting`: "auto" (NULL too), "self", "off" or an absolute PATH. Fails (and logs) only for "self"
 * or a PATH that cannot be used; "auto" falls back. */
int job_cgroups_new(JobCgroups **ret, sd_event *e, const char *setting, job_cgroups_leftover_t on_leftover,
                    void *userdata);
/* Removes the parent when it was created here (it must be empty by then: call it once every job has
 * ended). Accepts NULL, returns NULL. */
JobCgroups *job_cgroups_free(JobCgroups *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(JobCgroups *, job_cgroups_free)

/* The parent of the job cgroups; NULL in the fallback. */
const char *job_cgroups_parent(JobCgroups *c);
/* "cgroup /sys/fs/cgroup/x (--cgroup=PATH)", "fallback: process groups and subreaper (...)". */
const char *job_cgroups_describe(JobCgroups *c);
/* The pool the jobs' cgroups are lent from, made at the first call (after job_cgroups_recover()); NULL
 * in the fallback, or where they cannot be reused: then job_cgroups_path_of(). */
CgroupPool *job_cgroups_pool(JobCgroups *c);
/* The cgroup for job `id`, malloc'ed; NULL in the fallback (or without memory). */
char *job_cgroups_path_of(JobCgroups *c, uint64_t id);
/* Kills the job cgroups under the parent left by a predecessor; each one that becomes empty is
 * removed and reported. Returns how many were found. */
int job_cgroups_recover(JobCgroups *c);
/* Whether job `id` has a leftover cgroup being cleaned up. */
bool job_cgroups_has_leftover(JobCgroups *c, uint64_t id);
/* Leftover cgroups not yet empty. */
unsigned job_cgroups_n_recovering(JobCgroups *c);
/* Gives up waiting for the leftovers still populated (at a stop, after a grace): each is reported as
 * done, its cgroup left where it is, with a warning. */
void job_cgroups_abandon_leftovers(JobCgroups *c);
