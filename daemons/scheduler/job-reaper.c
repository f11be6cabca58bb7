/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "job-reaper.h"
#include "log.h"

/* What is read of a process's environment to find SCHED_JOB_ID: a job's variables come last, after
 * the inherited ones, but this is plenty for any sane environment. */
#define ENVIRON_MAX (64 * 1024)

typedef struct Leader {
        pid_t pid;
        uint64_t id;
} Leader;

struct JobReaper {
        sd_event *event;
        Leader *leaders;
        size_t n_leaders, n_allocated;
        sd_event_source **killed; /* child sources of the processes killed here, until they die */
        size_t n_killed;
};

JobReaper *job_reaper_free(JobReaper *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_killed; i++)
                sd_event_source_disable_unref(r->killed[i]);
        free(r->killed);
        free(r->leaders);
        sd_event_unref(r->event);
        return mfree(r);
}

int job_reaper_new(JobReaper **ret, sd_event *e) {
        JobReaper *r;

        assert(ret);
        assert(e);

        if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
                return -errno;
        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->event = sd_event_ref(e);
        *ret = r;
        return 0;
}

int job_reaper_add_leader(JobReaper *r, pid_t pid, uint64_t id) {
        assert(r);
        assert(pid > 0);

        if (r->n_leaders == r->n_allocated) {
                size_t n = r->n_allocated ? r->n_allocated * 2 : 16;
                Leader *l = reallocarray(r->leaders, n, sizeof *l);

                if (!l)
                        return -ENOMEM;
                r->leaders = l;
                r->n_allocated = n;
        }
        r->leaders[r->n_leaders++] = (Leader){ pid, id };
        return 0;
}

void job_reaper_remove_leader(JobReaper *r, pid_t pid) {
        assert(r);

        for (size_t i = 0; i < r->n_leaders; i++)
                if (r->leaders[i].pid == pid) {
                        r->leaders[i] = r->leaders[--r->n_leaders];
                        return;
                }
}

static const Leader *job_reaper_find(JobReaper *r, pid_t pid, uint64_t id) {
        assert(r);

        for (size_t i = 0; i < r->n_leaders; i++)
                if ((pid > 0 && r->leaders[i].pid == pid) || (pid == 0 && r->leaders[i].id == id))
                        return &r->leaders[i];
        return NULL;
}

/* The job a process names in SCHED_JOB_ID; 0 when it names none (or cannot be read). */
static uint64_t process_job_id(pid_t pid) {
        _cleanup_free_ char *buf = malloc(ENVIRON_MAX + 1);
        _cleanup_close_ int fd = -EBADF;
        char path[64];
        ssize_t n;

        if (!buf)
                return 0;
        (void) snprintf(path, sizeof path, "/proc/%d/environ", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        n = read(fd, buf, ENVIRON_MAX);
        if (n <= 0)
                return 0;
        buf[n] = 0;
        for (char *v = buf; v < buf + n; v += strlen(v) + 1)
                if (strncmp(v, "SCHED_JOB_ID=", 13) == 0)
                        return strtoull(v + 13, NULL, 10);
        return 0;
}

/* 'Z' for a zombie, 0 when gone. */
static char process_state(pid_t pid) {
        char path[64], buf[512], *paren;
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        (void) snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        n = read(fd, buf, sizeof buf - 1);
        if (n <= 0)
                return 0;
        buf[n] = 0;
        paren = strrchr(buf, ')');
        return paren && paren[1] == ' ' ? paren[2] : 0;
}

static int on_killed_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        JobReaper *r = ASSERT_PTR(userdata);

        for (size_t i = 0; i < r->n_killed; i++)
                if (r->killed[i] == s) {
                        r->killed[i] = r->killed[--r->n_killed];
                        break;
                }
        sd_event_source_disable_unref(s);
        /* It may have left children of its own, re-parented to us now. It is the loop's to reap,
         * after this returns. */
        (void) job_reaper_collect(r, si->si_pid);
        return 0;
}

static void job_reaper_kill(JobReaper *r, pid_t pid) {
        sd_event_source **killed, *s = NULL;

        assert(r);

        if (kill(pid, SIGKILL) < 0)
                return;
        killed = reallocarray(r->killed, r->n_killed + 1, sizeof *killed);
        if (!killed)
                return;
        r->killed = killed;
        /* -EBUSY: killed before and still watched. */
        if (sd_event_add_child(r->event, &s, pid, WEXITED, on_killed_exit, r) < 0)
                return;
        (void) sd_event_source_set_description(s, "job-reaper-killed");
        r->killed[r->n_killed++] = s;
}

static bool job_reaper_watches(JobReaper *r, pid_t pid) {
        assert(r);

        for (size_t i = 0; i < r->n_killed; i++) {
                pid_t p;

                if (sd_event_source_get_child_pid(r->killed[i], &p) >= 0 && p == pid)
                        return true;
        }
        return false;
}

int job_reaper_collect(JobReaper *r, pid_t except) {
        _cleanup_free_ char *children = NULL;
        char path[64];
        size_t size = 0;
        FILE *f;
        int n = 0;

        assert(r);

        /* Single-threaded: the main thread's children are all of ours. */
        (void) snprintf(path, sizeof path, "/proc/self/task/%d/children", (int) getpid());
        f = fopen(path, "re");
        if (!f)
                return -errno;
        if (getdelim(&children, &size, 0, f) < 0) {
                fclose(f);
                return 0; /* no children */
        }
        fclose(f);

        for (char *p = children, *end; *p; p = end) {
                pid_t pid = (pid_t) strtol(p, &end, 10);
                siginfo_t si = {};
                uint64_t id;

                if (end == p)
                        break;
                while (*end == ' ' || *end == '\n')
                        end++;
                if (pid <= 0 || pid == except || job_reaper_find(r, pid, 0) || job_reaper_watches(r, pid))
                        continue;
                if (process_state(pid) == 'Z') {
                        (void) waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG);
                        continue;
                }
                id = process_job_id(pid);
                if (id != 0 && job_reaper_find(r, 0, id))
                        continue; /* a running job's */
                log_debug("Killing process %d, left by job %" PRIu64 ".", (int) pid, id);
                job_reaper_kill(r, pid);
                n++;
        }
        return n;
}
