/* SPDX-License-Identifier: MIT */
/*
 * process_spawn(): how process_start() creates the child: in a process group of its own, with an
 * empty signal mask and default dispositions for the signals a daemon blocks or handles, and, when
 * given a cgroup, born inside it. Used by process.c only.
 */
#pragma once

#include <sys/types.h>

/* argv[0] is looked up in PATH. `env_extra`: NULL, or "KEY=value" strings added to the inherited
 * environment, overriding the same keys. `output_fd` >= 0: the child's stdout and stderr (dup'ed);
 * < 0: inherited. `cgroup_fd` >= 0: the directory of the cgroup v2 the child is born in; < 0: the
 * caller's. `ret_hold_fd` non-NULL: a held start, the child is created but waits before its exec until
 * process_spawn_release(ret_hold_fd); if *ret_hold_fd is closed instead, it exits 127 without executing
 * anything. Returns 0 with *ret_pid set, or -errno (-ENOENT and friends when the command cannot be
 * executed; after a held start, an exec failure is exit status 127). */
int process_spawn(char *const argv[], char *const env_extra[], int output_fd, int cgroup_fd,
                  int *ret_hold_fd, pid_t *ret_pid);
/* Lets a held child (process_spawn() with ret_hold_fd) execute, and closes *hold_fd. 0 also when
 * *hold_fd < 0 (released already). */
int process_spawn_release(int *hold_fd);
