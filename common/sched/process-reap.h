/* SPDX-License-Identifier: MIT */
/*
 * What process_free() leaves to the loop so that it never waits: a killed child to reap and a killed
 * cgroup to remove once empty. Each is a floating sd-event source (the loop's, freed when done or with
 * the loop at the latest). Used by process.c only. No state.
 */
#pragma once

#include <sys/types.h>
#include <systemd/sd-event.h>

/* Reaps child `pid` once it has ended. */
int process_reap_later(sd_event *e, pid_t pid);
/* Removes the cgroup at `path` once it is empty. Takes `path` (malloc'ed) whatever it returns. */
int process_remove_cgroup_later(sd_event *e, char *path);
