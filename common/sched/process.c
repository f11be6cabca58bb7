/* SPDX-License-Identifier: MIT */
/*
 * Process: spawn, watch, time out and terminate one child process group on sd-event. See process.h
 * for the contract; this file keeps the lifecycle:
 *
 *   new --start--> running --leader ends--> [cgroup: cgroup.kill, wait for populated 0] --> done
 *                     |  timeout / terminate: SIGTERM to the group (to every process of the
 *                     |  cgroup), SIGKILL (cgroup.kill) after the grace
 *                     +--process_free(): SIGKILL to all, reaped later by the loop, no callbacks
 *
 * The leader stays a zombie until the child source's callback has returned (sd-event reaps it
 * afterwards), so as long as we have not seen the end its pid is also a valid group id: every
 * kill(-pid) below is sent while that holds and can never reach an unrelated group.
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "process-reap.h"
#include "process-spawn.h"
#include "process.h"
#include "string-table.h"
#include "strv.h"
#include "time-util.h"

/* 1 µs: sd-event fires a timer at the latest point of its accuracy window, so a timeout would come
 * 100 µs after its deadline with the old 100. There is one timer per job, nothing to coalesce. */
#define PROCESS_TIMER_ACCURACY_USEC 1

typedef struct ProcessCallback {
        process_done_t callback;
        void *userdata;
} ProcessCallback;

struct Process {
        sd_event *event;
        char **argv;
        char **env_extra; /* NULL: the inherited environment as is */
        int output_fd;    /* not owned; only used while spawning */
        bool held;        /* process_start_held(): the child waits for a byte on hold_fd */
        int hold_fd;
        uint64_t timeout_usec;
        uint64_t timeout_origin_usec; /* process_set_timeout_origin(); 0: the start */
        uint64_t grace_usec;
        ProcessCallback *callbacks;
        size_t n_callbacks;

        pid_t pid; /* also the process group id */
        uint64_t start_usec;
        sd_event_source *child_source;
        sd_event_source *timeout_source;
        sd_event_source *kill_source; /* SIGKILL at the end of the grace period */

        char *cgroup_path;       /* the cgroup the process is born in, made and removed here; NULL: none */
        int cgroup_fd;           /* its directory; a lent one's (borrowed from `pooled`) */
        CgroupPool *cgroup_pool; /* or one lent by this pool at the start, labelled cgroup_label */
        char *cgroup_label;
        PooledCgroup *pooled;
        sd_event_source *cgroup_source; /* cgroup.events, from the leader's end to populated 0 */
        uint64_t cpu_usec;              /* UINT64_MAX: unknown */
        uint64_t memory_peak;

        bool frozen;
        uint64_t frozen_since; /* CLOCK_MONOTONIC, while frozen */
        uint64_t frozen_usec;  /* the freezes that ended */

        bool started;
        bool leader_exited; /* its pid is no group id any more */
        bool done;
        ProcessResult stop_reason; /* TIMEOUT or TERMINATED once we asked it to end */
        ProcessResult result;
        int exit_status;
        int exit_signal; /* the signal that killed it, 0 when it exited */

        /* Callbacks being dispatched or process_wait() running: process_free() only marks the
         * Process and the last of them destroys it, so that none of them touches freed memory. */
        unsigned n_busy;
        bool freed;
};

static const char *const process_result_table[_PROCESS_RESULT_MAX] = {
        [PROCESS_SUCCESS] = "success",
        [PROCESS_ERROR] = "error",
        [PROCESS_TIMEOUT] = "timeout",
        [PROCESS_TERMINATED] = "terminated",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(process_result, ProcessResult, _PROCESS_RESULT_MAX);

int process_new(Process **ret, sd_event *e, char *const argv[], char *const env_extra[]) {
        _cleanup_(process_freep) Process *p = NULL;
        int r;

        assert(ret);
        assert(argv);

        if (!argv[0])
                return -EINVAL;

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->output_fd = p->hold_fd = -EBADF;
        p->grace_usec = PROCESS_GRACE_USEC_DEFAULT;
        p->stop_reason = _PROCESS_RESULT_INVALID;
        p->result = _PROCESS_RESULT_INVALID;
        p->exit_status = -1;
        p->cgroup_fd = -EBADF;
        p->cpu_usec = p->memory_peak = UINT64_MAX;

        if (e)
                p->event = sd_event_ref(e);
        else {
                r = sd_event_default(&p->event);
                if (r < 0)
                        return r;
        }
        p->argv = strv_copy(argv);
        if (!p->argv)
                return -ENOMEM;
        if (env_extra) {
                p->env_extra = strv_copy(env_extra);
                if (!p->env_extra)
                        return -ENOMEM;
        }

        *ret = TAKE_PTR(p);
        return 0;
}

static void process_destroy(Process *p) {
        assert(p);

        sd_event_source_disable_unref(p->child_source);
        sd_event_source_disable_unref(p->timeout_source);
        sd_event_source_disable_unref(p->kill_source);
        sd_event_source_disable_unref(p->cgroup_source);
        if (!p->pooled)
                safe_close(p->cgroup_fd);
        cgroup_pool_discard(p->pooled);
        safe_close(p->hold_fd);
        free(p->cgroup_path);
        free(p->cgroup_label);
        sd_event_unref(p->event);
        strv_free(p->argv);
        strv_free(p->env_extra);
        free(p->callbacks);
        free(p);
}

/* Drops one guard taken by a dispatch or a wait; returns true when that destroyed the Process. */
static bool process_unbusy(Process *p) {
        assert(p);
        assert(p->n_busy > 0);

        if (--p->n_busy > 0 || !p->freed)
                return false;
        process_destroy(p);
        return true;
}

/* `sig` to all the process's processes: its cgroup's (SIGKILL through cgroup.kill), or its group's
 * while the leader has not been seen to end. A leader not seen to end is also signalled by its pid
 * when it is not in its cgroup yet: spawned by clone, it writes itself there just after the spawn. */
static int process_signal(Process *p, int sig) {
        pid_t leader;
        int r;

        assert(p);
        assert(p->pid > 0);

        leader = p->leader_exited ? 0 : p->pid;
        if (p->cgroup_fd >= 0) {
                if (sig != SIGKILL)
                        return cgroup_signal_all(p->cgroup_fd, sig, leader);
                r = cgroup_kill_all(p->cgroup_fd);
                if (leader > 0)
                        (void) kill(leader, SIGKILL);
                return r;
        }
        if (leader == 0)
                return 0;
        return kill(-leader, sig) < 0 ? -errno : 0;
}

static void process_record_exit(Process *p, const siginfo_t *si) {
        assert(p);
        assert(si);

        if (si->si_code == CLD_EXITED)
                p->exit_status = si->si_status;
        else {
                p->exit_status = 128 + si->si_status;
                p->exit_signal = si->si_status;
        }
}

/* Left to the loop, without blocking: the killed leader is reaped and the emptied cgroup removed
 * later (process-reap.c). */
static void process_abandon(Process *p) {
        assert(p);

        if (p->started && !p->leader_exited) {
                (void) process_signal(p, SIGKILL);
                p->child_source = sd_event_source_disable_unref(p->child_source);
                (void) process_reap_later(p->event, p->pid);
                p->leader_exited = true;
        }
        if (p->pooled) {
                cgroup_pool_discard(TAKE_PTR(p->pooled));
                p->cgroup_fd = -EBADF;
        } else if (p->cgroup_fd >= 0) {
                (void) cgroup_kill_all(p->cgroup_fd);
                p->cgroup_fd = safe_close(p->cgroup_fd);
                (void) process_remove_cgroup_later(p->event, TAKE_PTR(p->cgroup_path));
        }
        p->done = true;
}

Process *process_free(Process *p) {
        if (!p)
                return NULL;

        process_abandon(p);
        if (p->n_busy > 0)
                p->freed = true;
        else
                process_destroy(p);
        return NULL;
}

int process_set_grace(Process *p, uint64_t usec) {
        assert(p);

        p->grace_usec = usec;
        return 0;
}

int process_set_cgroup(Process *p, const char *path) {
        char *copy = NULL;

        assert(p);

        if (p->started)
                return -EBUSY;
        if (path && !(copy = strdup(path)))
                return -ENOMEM;
        free(p->cgroup_path);
        p->cgroup_path = copy;
        return 0;
}

int process_set_cgroup_pool(Process *p, CgroupPool *pool, const char *label) {
        char *copy;

        assert(p);
        assert(pool);
        assert(label);

        if (p->started)
                return -EBUSY;
        copy = strdup(label);
        if (!copy)
                return -ENOMEM;
        free(p->cgroup_label);
        p->cgroup_label = copy;
        p->cgroup_pool = pool;
        return 0;
}

/* Its CPU time so far: a lent cgroup's since the loan. */
static int process_read_cpu_usec(Process *p, uint64_t *ret) {
        if (p->pooled)
                return cgroup_pool_read_cpu_usec(p->pooled, ret);
        return cgroup_read_cpu_usec(p->cgroup_fd, ret);
}

int process_set_output_fd(Process *p, int fd) {
        assert(p);

        if (p->started)
                return -EBUSY;
        p->output_fd = fd < 0 ? -EBADF : fd;
        return 0;
}

int process_start_held(Process *p) {
        assert(p);

        p->held = true;
        return process_start(p);
}

int process_release(Process *p) {
        assert(p);

        if (!process_is_running(p))
                return -ESRCH;
        return process_spawn_release(&p->hold_fd);
}

int process_add_done_callback(Process *p, process_done_t cb, void *userdata) {
        ProcessCallback *callbacks;

        assert(p);

        if (!cb)
                return -EINVAL;
        if (p->done)
                return -ESTALE;

        callbacks = reallocarray(p->callbacks, p->n_callbacks + 1, sizeof *callbacks);
        if (!callbacks)
                return -ENOMEM;
        callbacks[p->n_callbacks++] = (ProcessCallback){ cb, userdata };
        p->callbacks = callbacks;
        return 0;
}

static int on_kill(sd_event_source *s, uint64_t usec, void *userdata) {
        Process *p = ASSERT_PTR(userdata);

        (void) process_signal(p, SIGKILL);
        return 0;
}

/* Whether the leader has ended and waits, a zombie, for its child source to be dispatched. */
static bool process_leader_ended(Process *p) {
        siginfo_t si = {};

        assert(p);

        return waitid(P_PID, p->pid, &si, WEXITED | WNOHANG | WNOWAIT) >= 0 && si.si_pid == p->pid;
}

/* Armed once: a Process is stopped at most once. */
static int process_arm_kill(Process *p) {
        uint64_t now = now_usec(CLOCK_MONOTONIC), deadline;
        int r;

        assert(p);

        /* A grace too large to represent never ends. */
        deadline = p->grace_usec >= UINT64_MAX - 1 - now ? UINT64_MAX - 1 : now + p->grace_usec;
        r = sd_event_add_time(p->event, &p->kill_source, CLOCK_MONOTONIC, deadline,
                              PROCESS_TIMER_ACCURACY_USEC, on_kill, p);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(p->kill_source, "process-kill");
        return 0;
}

/* Lets it run again: it has a signal to handle, or its clock starts again. */
static int process_unfreeze(Process *p) {
        int r;

        assert(p);

        if (!p->frozen)
                return 0;
        r = p->cgroup_fd >= 0 ? cgroup_set_frozen(p->cgroup_fd, false) : process_signal(p, SIGCONT);
        if (r < 0)
                return r;
        p->frozen = false;
        p->frozen_usec += now_usec(CLOCK_MONOTONIC) - p->frozen_since;
        return 0;
}

/* SIGTERM (and SIGCONT, so that a stopped group gets to handle it) now, SIGKILL after the grace. */
static void process_stop(Process *p, ProcessResult reason) {
        assert(p);

        if (p->stop_reason >= 0 || p->leader_exited)
                return;
        /* Its own end is already there, only not dispatched yet: that result stands. */
        if (process_leader_ended(p))
                return;

        p->stop_reason = reason;
        /* A frozen cgroup would keep the SIGTERM pending until the SIGKILL. */
        (void) process_unfreeze(p);
        (void) sd_event_source_set_enabled(p->timeout_source, SD_EVENT_OFF);
        if (p->grace_usec == 0 || process_arm_kill(p) < 0) {
                (void) process_signal(p, SIGKILL);
                return;
        }
        (void) process_signal(p, SIGTERM);
        (void) process_signal(p, SIGCONT);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Process *p = ASSERT_PTR(userdata);

        process_stop(p, PROCESS_TIMEOUT);
        return 0;
}

static int process_arm_timeout(Process *p) {
        uint64_t deadline;
        int r;

        assert(p);

        if (p->timeout_usec == 0)
                return sd_event_source_set_enabled(p->timeout_source, SD_EVENT_OFF);

        if (p->frozen)
                return sd_event_source_set_enabled(p->timeout_source, SD_EVENT_OFF);
        /* A timeout too large to represent is no timeout. The time spent frozen does not count. */
        if (p->timeout_usec >= UINT64_MAX - 1 - p->start_usec - p->frozen_usec)
                return sd_event_source_set_enabled(p->timeout_source, SD_EVENT_OFF);
        deadline = p->start_usec + p->frozen_usec + p->timeout_usec;

        if (p->timeout_source) {
                r = sd_event_source_set_time(p->timeout_source, deadline);
                if (r >= 0)
                        r = sd_event_source_set_enabled(p->timeout_source, SD_EVENT_ONESHOT);
                return r;
        }
        r = sd_event_add_time(p->event, &p->timeout_source, CLOCK_MONOTONIC, deadline,
                              PROCESS_TIMER_ACCURACY_USEC, on_timeout, p);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(p->timeout_source, "process-timeout");
        return 0;
}

void process_set_timeout_origin(Process *p, uint64_t usec) {
        assert(p);
        assert(!p->started);

        p->timeout_origin_usec = usec;
}

int process_set_timeout(Process *p, uint64_t usec) {
        assert(p);

        p->timeout_usec = usec;
        if (!process_is_running(p) || p->stop_reason >= 0)
                return 0;
        return process_arm_timeout(p);
}

static void process_dispatch_done(Process *p) {
        assert(p);

        p->n_busy++;
        for (size_t i = 0; i < p->n_callbacks && !p->freed; i++)
                p->callbacks[i].callback(p, p->result, p->callbacks[i].userdata);
        (void) process_unbusy(p);
}

/* Everything is gone: the figures of its cgroup are read, the cgroup removed (a lent one given back,
 * when it is known to be `empty`), the end reported. */
static void process_finish(Process *p, bool empty) {
        assert(p);

        if (p->pooled) {
                /* A lent cgroup has no memory.peak (cgroup-pool.h). */
                if (process_read_cpu_usec(p, &p->cpu_usec) < 0)
                        p->cpu_usec = UINT64_MAX;
                p->cgroup_source = sd_event_source_disable_unref(p->cgroup_source);
                if (empty)
                        cgroup_pool_give_back(TAKE_PTR(p->pooled));
                else
                        cgroup_pool_discard(TAKE_PTR(p->pooled));
                p->cgroup_fd = -EBADF;
        } else if (p->cgroup_fd >= 0) {
                if (cgroup_read_cpu_usec(p->cgroup_fd, &p->cpu_usec) < 0)
                        p->cpu_usec = UINT64_MAX;
                if (cgroup_read_memory_peak(p->cgroup_fd, &p->memory_peak) < 0)
                        p->memory_peak = UINT64_MAX;
                p->cgroup_fd = safe_close(p->cgroup_fd);
                /* Empty, but the kernel may still hold it for a moment (EBUSY): then later. */
                if (cgroup_remove(p->cgroup_path) == -EBUSY)
                        (void) process_remove_cgroup_later(p->event, TAKE_PTR(p->cgroup_path));
        }
        p->cgroup_source = sd_event_source_disable_unref(p->cgroup_source);
        p->done = true;
        process_dispatch_done(p);
}

static int on_cgroup_events(sd_event_source *s, const struct inotify_event *event, void *userdata) {
        Process *p = ASSERT_PTR(userdata);

        if (cgroup_is_populated(p->cgroup_fd) == 0)
                process_finish(p, true);
        return 0;
}

/* The leader is gone and cgroup.kill sent: the end is reported once the cgroup says populated 0. */
static void process_wait_empty(Process *p) {
        int populated, r;

        assert(p);

        r = cgroup_watch_events(p->event, &p->cgroup_source, p->pooled ? p->pooled->path : p->cgroup_path,
                                on_cgroup_events, p);
        /* Without a watch, only what we see now can be trusted: report the end at once. */
        populated = cgroup_is_populated(p->cgroup_fd);
        if (r < 0 || populated <= 0)
                process_finish(p, populated == 0);
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Process *p = ASSERT_PTR(userdata);
        bool left;

        assert(si);

        /* The leader is still a zombie here, so the group id is still ours: whatever it left behind
         * goes now, not at the end of some grace period. An empty cgroup needs nothing (the common
         * case: most jobs leave nothing behind). */
        left = p->cgroup_fd < 0 || cgroup_is_populated(p->cgroup_fd) != 0;
        if (left)
                (void) process_signal(p, SIGKILL);
        p->leader_exited = true;

        process_record_exit(p, si);
        if (p->stop_reason >= 0)
                p->result = p->stop_reason;
        else if (si->si_code == CLD_EXITED && si->si_status == 0)
                p->result = PROCESS_SUCCESS;
        else
                p->result = PROCESS_ERROR;
        (void) sd_event_source_set_enabled(p->timeout_source, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(p->kill_source, SD_EVENT_OFF);

        if (p->cgroup_fd >= 0 && left)
                process_wait_empty(p);
        else
                process_finish(p, true);
        return 0;
}

static int block_sigchld(void) {
        sigset_t ss;

        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        return sigprocmask(SIG_BLOCK, &ss, NULL) < 0 ? -errno : 0;
}

/* Everything after the spawn that can fail; on failure the caller kills and reaps. */
static int process_watch(Process *p) {
        int r;

        assert(p);

        r = sd_event_add_child(p->event, &p->child_source, p->pid, WEXITED, on_child, p);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(p->child_source, "process-child");
        return process_arm_timeout(p);
}

int process_start(Process *p) {
        pid_t pid;
        int r;

        assert(p);

        if (p->started)
                return -EBUSY;

        r = block_sigchld();
        if (r < 0)
                return r;

        /* The cgroup it is born in must be new (one that exists is not ours), or lent empty. */
        if (p->cgroup_pool) {
                r = cgroup_pool_take(p->cgroup_pool, p->cgroup_label, &p->pooled);
                if (r < 0)
                        return r;
                p->cgroup_fd = p->pooled->fd;
        } else if (p->cgroup_path) {
                r = cgroup_create_open(p->cgroup_path, &p->cgroup_fd);
                if (r < 0)
                        return r;
        }
        r = process_spawn(p->argv, p->env_extra, p->output_fd, p->cgroup_fd, p->held ? &p->hold_fd : NULL,
                          &pid);
        if (r < 0) {
                if (p->pooled) {
                        /* Perhaps it is why (a setting that refuses processes): not lent again. */
                        cgroup_pool_discard(TAKE_PTR(p->pooled));
                        p->cgroup_fd = -EBADF;
                } else if (p->cgroup_fd >= 0) {
                        p->cgroup_fd = safe_close(p->cgroup_fd);
                        (void) cgroup_remove(p->cgroup_path);
                }
                return r;
        }
        p->pid = pid;
        p->started = true;
        p->start_usec = now_usec(CLOCK_MONOTONIC);
        if (p->timeout_origin_usec > 0 && p->timeout_origin_usec < p->start_usec)
                p->start_usec = p->timeout_origin_usec;

        r = process_watch(p);
        if (r < 0) {
                /* Not watched means not ours to keep: it goes (reaped by the loop), and the Process
                 * is unstarted again, with a cgroup of its own to make should it start again. */
                char *path = p->cgroup_path ? strdup(p->cgroup_path) : NULL;

                process_abandon(p);
                free(p->cgroup_path);
                p->cgroup_path = path;
                p->started = p->done = p->leader_exited = false;
                p->pid = 0;
                p->exit_status = -1;
                return r;
        }
        return 0;
}

int process_terminate(Process *p) {
        assert(p);

        if (!process_is_running(p))
                return -ESRCH;
        process_stop(p, PROCESS_TERMINATED);
        return 0;
}

int process_wait(Process *p) {
        int r = 0;

        assert(p);

        if (!p->started)
                return -ECHILD;

        p->n_busy++;
        while (!p->done) {
                r = sd_event_run(p->event, UINT64_MAX);
                if (r < 0)
                        break;
        }
        if (r >= 0)
                r = p->result >= 0 ? (int) p->result : -ECANCELED;
        (void) process_unbusy(p);
        return r;
}

pid_t process_get_pid(Process *p) {
        assert(p);

        return p->pid;
}

int process_freeze(Process *p) {
        int r;

        assert(p);

        if (!process_is_running(p) || process_is_ending(p))
                return -ESRCH;
        if (p->frozen)
                return -EALREADY;
        r = p->cgroup_fd >= 0 ? cgroup_set_frozen(p->cgroup_fd, true) : process_signal(p, SIGSTOP);
        if (r < 0)
                return r;
        p->frozen = true;
        p->frozen_since = now_usec(CLOCK_MONOTONIC);
        (void) sd_event_source_set_enabled(p->timeout_source, SD_EVENT_OFF);
        return 0;
}

int process_thaw(Process *p) {
        int r;

        assert(p);

        if (!p->frozen)
                return 0;
        r = process_unfreeze(p);
        if (r < 0)
                return r;
        if (process_is_running(p) && p->stop_reason < 0)
                (void) process_arm_timeout(p);
        return 0;
}

bool process_is_frozen(Process *p) {
        assert(p);

        return p->frozen;
}

uint64_t process_get_frozen_usec(Process *p) {
        assert(p);

        return p->frozen_usec + (p->frozen ? now_usec(CLOCK_MONOTONIC) - p->frozen_since : 0);
}

bool process_is_running(Process *p) {
        assert(p);

        return p->started && !p->done;
}

bool process_is_ending(Process *p) {
        assert(p);

        return process_is_running(p) && (p->stop_reason >= 0 || p->leader_exited || process_leader_ended(p));
}

ProcessResult process_get_result(Process *p) {
        assert(p);

        return p->result;
}

int process_get_exit_status(Process *p) {
        assert(p);

        return p->done ? p->exit_status : -1;
}

int process_get_exit_signal(Process *p) {
        assert(p);

        return p->done ? p->exit_signal : -1;
}

void process_get_usage(Process *p, uint64_t *ret_cpu_usec, uint64_t *ret_memory_peak) {
        assert(p);
        assert(ret_cpu_usec);
        assert(ret_memory_peak);

        *ret_cpu_usec = p->cpu_usec;
        *ret_memory_peak = p->memory_peak;
        /* Still running in its cgroup: what it used so far. */
        if (p->cgroup_fd >= 0 && process_read_cpu_usec(p, ret_cpu_usec) < 0)
                *ret_cpu_usec = UINT64_MAX;
        if (p->cgroup_fd >= 0 && cgroup_read_memory_peak(p->cgroup_fd, ret_memory_peak) < 0)
                *ret_memory_peak = UINT64_MAX;
}
