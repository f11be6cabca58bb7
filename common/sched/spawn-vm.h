/* SPDX-License-Identifier: MIT */
/*
 * spawn_vm(): a spawn that does not wait for the child's exec (x86-64, clone3 or clone). The child shares
 * our memory until its exec, as a vfork child does, but we go on at once instead of sleeping until the child
 * has had a CPU: a scheduler whose jobs keep every CPU busy would otherwise spend most of its time in that
 * sleep, with its free slots empty.
 *
 * Each child runs on a slot of its own (its stack and copies of all it reads: path, argv,
 * environment) and makes raw system calls only, so that it writes nothing of ours, not even errno.
 * The kernel zeroes the slot's word when the child leaves our memory, at its exec or its exit
 * (CLONE_CHILD_CLEARTID); the slot is used again only after that. With every slot taken (a burst of
 * starts), the spawn waits for the exec after all (CLONE_VFORK), as the slots' children get a CPU. An exec
 * that fails writes "Cannot execute PATH: REASON" to the child's stderr and exits 127, as a shell does.
 *
 * Where a seccomp filter refuses clone3 (systemd's RestrictNamespaces= does, whatever the flags), the
 * child comes from clone and, having no CLONE_INTO_CGROUP, writes itself into its cgroup's cgroup.procs
 * once its output is in place, before anything else; one that cannot writes "Cannot move into the
 * job's cgroup: REASON" there and exits 127. Until then it is outside the cgroup: a signal meant for the job
 * reaches it by its pid only.
 *
 * Used by process-spawn.c only. The slots live until the process ends.
 */
#pragma once

#include <sys/types.h>

/* The child: its own process group, the signals a daemon blocks or handles back to their defaults
 * (`reset`, `n_reset`), an empty signal mask, stdout and stderr on `output_fd` (if >= 0), born in the
 * cgroup `cgroup_fd` (if >= 0), then execve(path, argv, env). Returns 1 with *ret_pid set; 0 when it
 * cannot be done here (not x86-64, clone3 and clone refused, or the strings do not fit in a slot), for
 * the caller to spawn otherwise; < 0 on other errors. */
int spawn_vm(const char *path, char *const argv[], char *const env[], int output_fd, int cgroup_fd,
             const int *reset, size_t n_reset, pid_t *ret_pid);

/* The system call spawn_vm() makes its children with here, as far as it has found out: "clone3" (also
 * before the first spawn), "clone", or NULL once neither can be used. */
const char *spawn_vm_way(void);

/* How many spawns so far waited for their child's exec because every slot was taken. */
unsigned long spawn_vm_n_waited(void);
