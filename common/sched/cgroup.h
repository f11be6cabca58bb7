/* SPDX-License-Identifier: MIT */
/*
 * cgroup: the few cgroup v2 operations that contain a job, on directories of the cgroup2 mount: find
 * the mount and our own cgroup, tell whether systemd delegated it to us, create and remove a cgroup,
 * move ourselves into one, signal or kill everything in it, tell whether it is still populated (and
 * watch it become empty on an sd-event loop), and read its CPU time and peak memory. No state; never
 * logs. Functions on a cgroup's files take the cgroup's directory fd (O_DIRECTORY).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

/* Where cgroup2 is mounted (the first cgroup2 entry of /proc/self/mountinfo: /sys/fs/cgroup on a
 * unified system, /sys/fs/cgroup/unified on a hybrid one). -ENOMEDIUM when it is not mounted. */
int cgroup_find_mount(char **ret);
/* Whether `path` is a directory on a cgroup2 file system: > 0 yes, 0 no, < 0 error. */
int cgroup_is_cgroup2(const char *path);
/* The directory of the calling process's cgroup v2 ("0::/..." of /proc/self/cgroup) under `mount`.
 * -ENOMEDIUM when it has none, -EPERM when it is the root cgroup (never ours to manage). */
int cgroup_get_self(const char *mount, char **ret);
/* Whether `path` was delegated to the caller by systemd (Delegate=yes): the trusted.delegate or
 * user.delegate xattr systemd sets says "1", or, for a caller other than root, the directory and its
 * cgroup.procs belong to the caller's user (systemd hands them over only when it delegates). > 0
 * yes, 0 no. */
int cgroup_is_delegated(const char *path);

/* mkdir of the last component: 1 created, 0 existed already. */
int cgroup_create(const char *path);
/* mkdir of a new cgroup (-EEXIST if it exists) and its directory fd. */
int cgroup_create_open(const char *path, int *ret_fd);
/* rmdir: 0 also when already gone; -EBUSY while populated. */
int cgroup_remove(const char *path);
/* Moves the calling process into the cgroup at `path`. */
int cgroup_move_self(const char *path);

/* `sig` to every process of the cgroup (cgroup.procs), and to `leader` (if > 0) when it is not among
 * them: a process on its way in, that has not written itself into cgroup.procs yet. Returns how many
 * were signalled. */
int cgroup_signal_all(int dir_fd, int sig, pid_t leader);
/* SIGKILL to everything in the cgroup and its descendants at once (cgroup.kill, Linux 5.14). */
int cgroup_kill_all(int dir_fd);
/* cgroup.freeze: every process of the cgroup and its descendants stops (true) or goes on (false). */
int cgroup_set_frozen(int dir_fd, bool frozen);
/* cgroup.events: > 0 populated, 0 empty. */
int cgroup_is_populated(int dir_fd);
/* Whether cgroup.controllers names any: > 0 yes, 0 none. */
int cgroup_has_controllers(int dir_fd);
/* usage_usec of cpu.stat. */
int cgroup_read_cpu_usec(int dir_fd, uint64_t *ret);
/* memory.peak; -ENOENT where the memory controller is not enabled for the cgroup. */
int cgroup_read_memory_peak(int dir_fd, uint64_t *ret);

/* The cgroup's label, a user xattr (cgroupfs has them since Linux 5.7): who it is lent to, for a
 * successor that finds it after a crash. NULL removes it (0 also when there was none). */
#define CGROUP_LABEL_XATTR "user.sched_label"
int cgroup_set_label(int dir_fd, const char *label);
/* -ENODATA when it has none. */
int cgroup_get_label(const char *path, char *buf, size_t size);

/* Calls `callback` (once per change of cgroup.events; the callback checks populated itself) for the
 * cgroup at `path`. The source is the caller's. The watch is added before the caller checks the
 * state, so no change can fall between the two. */
int cgroup_watch_events(sd_event *e, sd_event_source **ret, const char *path,
                        sd_event_inotify_handler_t callback, void *userdata);
