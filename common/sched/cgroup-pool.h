/* SPDX-License-Identifier: MIT */
/*
 * CgroupPool: empty cgroups under one parent, lent to one process tree at a time and taken back
 * once empty, so that a job's start and end cost no mkdir and rmdir (each ~20 µs of our time, and
 * as much again of the kernel's, later, to tear the cgroup down). The cgroups are named PREFIX-N.
 *
 * While lent, a cgroup carries its borrower's label (a user xattr, see cgroup_set_label()), so that a
 * successor finding it after a crash knows whose processes it kills. Its CPU time counts from the
 * loan (cpu.stat's usage_usec less what it had then). Lent only where the cgroup has no controllers
 * (a limit a borrower set would outlive it; memory.peak could not be started again per borrower);
 * one whose files its borrower wrote (cgroup.max.*, cgroup.type, ..., an inotify watch tells) is
 * removed instead of lent again, and one it froze is thawed.
 *
 * Owned by whoever made it; each PooledCgroup is its borrower's until given back or discarded, and
 * the pool must outlive its loans. Never logs.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct CgroupPool CgroupPool;

typedef struct PooledCgroup {
        CgroupPool *pool;
        char *path;
        int fd;       /* its directory */
        int wd;       /* its watch for writes to its files */
        bool changed; /* a file of it was written that a next borrower would inherit */
        bool freeze_written;
        uint64_t cpu_base; /* usage_usec when lent */
        uint64_t cpu_last; /* usage_usec at the borrower's last look (UINT64_MAX: none) */
        struct PooledCgroup *next;
} PooledCgroup;

/* A pool under `parent`, whose cgroups are named `prefix`-N. Tries one cgroup first: -EOPNOTSUPP
 * when they cannot be reused (controllers enabled for them, or no user xattrs on this kernel); no
 * cgroup is left then. */
int cgroup_pool_new(CgroupPool **ret, sd_event *e, const char *parent, const char *prefix);
/* Removes the cgroups given back; a loan still out is the borrower's to discard. Accepts NULL. */
CgroupPool *cgroup_pool_free(CgroupPool *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(CgroupPool *, cgroup_pool_free)

/* An empty cgroup, labelled `label`, now the caller's. */
int cgroup_pool_take(CgroupPool *p, const char *label, PooledCgroup **ret);
/* Back, empty (cgroup.events said populated 0): unlabelled, thawed if cgroup.freeze was written (by us, or
 * by its processes, which may write their cgroup's files), lent again later. One the borrower changed (a
 * setting written, a child cgroup in it) is removed instead. Its next CPU time counts from the
 * borrower's last cgroup_pool_read_cpu_usec(), as nothing runs in it since. */
void cgroup_pool_give_back(PooledCgroup *c);
/* Never lent again: what is in it is killed (cgroup.kill) and it is removed once empty, on the loop
 * (see process_remove_cgroup_later()). */
void cgroup_pool_discard(PooledCgroup *c);
/* Its CPU time since the loan; remembered for the give-back. */
int cgroup_pool_read_cpu_usec(PooledCgroup *c, uint64_t *ret);
/* Cgroups given back and waiting to be lent again. */
unsigned cgroup_pool_n_free(CgroupPool *p);
