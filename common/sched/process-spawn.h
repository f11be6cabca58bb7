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
 * caller's. Returns 0 with *ret_pid set, or -errno (-ENOENT and friends when the command cannot be
 * executed). */
int process_spawn(char *const argv[], char *const env_extra[], int output_fd, int cgroup_fd, pid_t *ret_pid);
