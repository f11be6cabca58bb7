/* SPDX-License-Identifier: MIT */
/*
 * Process: one child process run asynchronously on an sd-event loop — the C successor of the
 * Python ProcessTask. It is spawned with posix_spawn in a process group of its own and watched
 * through a pidfd (no SIGCHLD handler, no threads); a timeout and process_terminate() send SIGTERM
 * to the whole group and SIGKILL after a grace period, and when the leader ends whatever is left of
 * its group is SIGKILLed at once, so nothing outlives the Process. Members that leave the group
 * (setsid, setpgid) escape this; a cgroup does not let them: with process_set_cgroup() the process
 * is born in a cgroup v2 of its own, signals go to every process in it (SIGKILL as cgroup.kill), and
 * the end is reported only once the cgroup is empty (populated 0), with its CPU time read and the
 * cgroup removed.
 *
 * Owned by whoever created it (a scheduler Job, a demo scenario, a test). process_free() on a
 * running Process kills all it has and leaves the reaping (and the cgroup's removal) to the loop,
 * without blocking; it is safe from inside a done callback.
 *
 * sd-event child sources need SIGCHLD blocked: process_start() blocks it in the calling thread (the
 * daemons are single-threaded), and every child gets an empty signal mask and default dispositions
 * for the signals a daemon blocks or handles.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "cgroup-pool.h"

#include "macro.h"

typedef enum ProcessResult {
        PROCESS_SUCCESS,    /* exited with status 0 */
        PROCESS_ERROR,      /* exited with status != 0, or killed by a signal we did not send */
        PROCESS_TIMEOUT,    /* ended after its timeout fired and we terminated it */
        PROCESS_TERMINATED, /* ended after process_terminate() */
        _PROCESS_RESULT_MAX,
        _PROCESS_RESULT_INVALID = -EINVAL,
} ProcessResult;

/* NULL for a value out of range. */
const char *process_result_to_string(ProcessResult r);

#define PROCESS_GRACE_USEC_DEFAULT (2 * UINT64_C(1000000))

typedef struct Process Process;

/* Called once when the process has ended, in the order added. The callback may free `p`: the
 * callbacks added after it are then not called. */
typedef void (*process_done_t)(Process *p, ProcessResult result, void *userdata);

/* `argv` (argv[0] looked up in PATH) and `env_extra` (NULL, or "KEY=value" strings added to the
 * inherited environment, overriding the same keys) are copied. `e` NULL: the thread's default loop. */
int process_new(Process **ret, sd_event *e, char *const argv[], char *const env_extra[]);
/* If still running: SIGKILL to the whole group (cgroup), without calling the done callbacks; the
 * leader is reaped and the cgroup removed later by the loop. Accepts NULL, returns NULL. */
Process *process_free(Process *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Process *, process_free)

/* 0 = no timeout. Counted from process_start(); may be set or changed while running. */
int process_set_timeout(Process *p, uint64_t usec);
/* Before the start: the timeout counts from `usec` (CLOCK_MONOTONIC) instead, a moment before
 * process_start() such as when the start was decided and recorded. 0, or a moment after the start:
 * from the start. */
void process_set_timeout_origin(Process *p, uint64_t usec);
/* Delay between SIGTERM and SIGKILL when terminating; default PROCESS_GRACE_USEC_DEFAULT. 0 sends
 * SIGKILL right away. */
int process_set_grace(Process *p, uint64_t usec);
/* The child's stdout and stderr go to `fd` (dup'ed in the child). Not owned: it only needs to stay
 * open until process_start() returns. -1: inherit (default). -EBUSY once started. */
int process_set_output_fd(Process *p, int fd);
int process_add_done_callback(Process *p, process_done_t cb, void *userdata);
/* The cgroup v2 directory to create at the start (its parent must exist; it must not) and to run the
 * process in; removed once empty. NULL: none (default). -EBUSY once started. */
int process_set_cgroup(Process *p, const char *path);
/* Instead: a cgroup lent by `pool` at the start, labelled `label`, and given back once empty (see
 * cgroup-pool.h). The pool must outlive the Process. -EBUSY once started. */
int process_set_cgroup_pool(Process *p, CgroupPool *pool, const char *label);

/* process_start(), held: the child is created (its pid known, in its group and cgroup) but executes
 * nothing until process_release(), so that it can be placed (in a scope unit) first; a held child that
 * is terminated or freed never runs. An exec failure after the release is exit status 127. It forks,
 * where an unheld start spawns without copying our memory. */
int process_start_held(Process *p);
/* Lets a held child execute its command. 0 also when not held (or released already); -ESRCH when it
 * is not running. */
int process_release(Process *p);

/* -EBUSY if already started; -ENOENT and friends when the command cannot be executed (then the
 * Process stays unstarted). Where the spawn does not wait for the exec (see process-spawn.c), an exec
 * that fails after the command was found executable is the process's exit status 127 instead, with
 * "Cannot execute PATH: REASON" on its output. */
int process_start(Process *p);
/* SIGTERM to the group now, SIGKILL after the grace period; the result becomes TERMINATED (even if
 * the process then exits by itself during the grace period). 0 if already being terminated (the
 * first reason stays); -ESRCH if not running. */
int process_terminate(Process *p);
/* Runs the Process's loop until it has ended. Returns its result (>= 0), -ECHILD if never started,
 * -ECANCELED if it was freed meanwhile, or the loop's error. Not from inside a callback of that
 * same loop. */
int process_wait(Process *p);

/* 0 before the start. */
/* Stops every process of a running Process where it is (cgroup.freeze of its cgroup; SIGSTOP to its
 * group without one) and stops its timeout clock. -ESRCH when it is not running or is ending,
 * -EALREADY when frozen. */
int process_freeze(Process *p);
/* Lets a frozen Process go on, its timeout moved back by the time it was frozen. 0 when not frozen.
 * A Process being stopped (process_terminate(), process_free()) is thawed by that first. */
int process_thaw(Process *p);
bool process_is_frozen(Process *p);
/* How long it has been frozen in all, the current freeze included. */
uint64_t process_get_frozen_usec(Process *p);

pid_t process_get_pid(Process *p);
bool process_is_running(Process *p);
/* Running, but its end is under way: it is being terminated (timeout or process_terminate()), or
 * its leader has exited and the end is not reported yet. */
bool process_is_ending(Process *p);
/* _PROCESS_RESULT_INVALID until it has ended. */
ProcessResult process_get_result(Process *p);
/* The exit code, or 128 + signal number like a shell; -1 until it has ended. */
int process_get_exit_status(Process *p);
/* The signal that killed it, 0 when it exited by itself; -1 until it has ended. */
int process_get_exit_signal(Process *p);
/* With a cgroup: its CPU time (cpu.stat usage_usec; so far while running, all of it once ended) and
 * peak memory (memory.peak, where the kernel has it); UINT64_MAX for what is not known (always
 * without a cgroup). */
void process_get_usage(Process *p, uint64_t *ret_cpu_usec, uint64_t *ret_memory_peak);
