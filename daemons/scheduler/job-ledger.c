/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job-ledger.h"
#include "log.h"
#include "parse.h"

struct JobLedger {
        char *dir;
        int dir_fd;
};

JobLedger *job_ledger_free(JobLedger *l) {
        if (!l)
                return NULL;
        safe_close(l->dir_fd);
        free(l->dir);
        return mfree(l);
}

int job_ledger_new(JobLedger **ret, const char *dir) {
        _cleanup_(job_ledger_freep) JobLedger *l = NULL;
        const char *e = getenv("RUNTIME_DIRECTORY");

        assert(ret);

        *ret = NULL;
        if (!dir && (!e || !*e))
                return 0;
        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->dir = dir ? strdup(dir) : strndup(e, strcspn(e, ":"));
        if (!l->dir)
                return -ENOMEM;
        l->dir_fd = open(l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (l->dir_fd < 0)
                return -errno;
        *ret = TAKE_PTR(l);
        return 0;
}

const char *job_ledger_dir(const JobLedger *l) {
        assert(l);
        return l->dir;
}

/* Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot; 0 if gone. */
static uint64_t process_start_time(pid_t pid) {
        char path[64], buf[1024], *p;
        unsigned long long start = 0;
        FILE *f;

        (void) snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        p = fgets(buf, sizeof buf, f) ? strrchr(buf, ')') : NULL;
        fclose(f);
        /* After the command name: state is field 3, starttime field 22. */
        if (!p || sscanf(p + 1,
                         " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                         &start) != 1)
                return 0;
        return start;
}

static char *entry_name(uint64_t id, char buf[static 32]) {
        (void) snprintf(buf, 32, "%" PRIu64, id);
        return buf;
}

int job_ledger_add(JobLedger *l, uint64_t id, pid_t pid, int priority, double runtime) {
        _cleanup_close_ int fd = -EBADF;
        char name[32], line[128];
        int n;

        assert(l);

        n = snprintf(line, sizeof line, "%d %" PRIu64 " %d %.17g\n", (int) pid, process_start_time(pid),
                     priority, runtime);
        fd = openat(l->dir_fd, entry_name(id, name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                    0600);
        if (fd < 0)
                return -errno;
        if (write(fd, line, (size_t) n) != n)
                return errno > 0 ? -errno : -EIO;
        return 0;
}

void job_ledger_remove(JobLedger *l, uint64_t id) {
        char name[32];

        assert(l);
        (void) unlinkat(l->dir_fd, entry_name(id, name), 0);
}

typedef struct Entry {
        pid_t pid;
        uint64_t start_time;
        int priority;
        double runtime;
} Entry;

static int entry_read(JobLedger *l, const char *name, Entry *ret) {
        _cleanup_close_ int fd = -EBADF;
        char buf[128];
        int pid;
        ssize_t n;

        fd = openat(l->dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof buf - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        if (sscanf(buf, "%d %" SCNu64 " %d %lf", &pid, &ret->start_time, &ret->priority, &ret->runtime) != 4)
                return -EBADMSG;
        ret->pid = pid;
        return 0;
}

void job_ledger_lookup(JobLedger *l, uint64_t id, int *ret_priority, double *ret_runtime) {
        char name[32];
        Entry e;

        assert(ret_priority);
        assert(ret_runtime);

        *ret_priority = -1;
        *ret_runtime = -1;
        if (l && entry_read(l, entry_name(id, name), &e) >= 0) {
                *ret_priority = e.priority;
                *ret_runtime = e.runtime;
        }
}

int job_ledger_recover(JobLedger *l, bool (*skip)(uint64_t id, void *userdata), job_ledger_left_t left,
                       void *userdata) {
        _cleanup_close_ int fd = -EBADF;
        struct dirent *de;
        DIR *d;
        int n = 0;

        assert(l);
        assert(left);

        fd = openat(l->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(TAKE_FD(fd));
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                uint64_t id;
                Entry e;

                if (parse_uint64(de->d_name, 1, UINT64_MAX, &id) < 0)
                        continue;
                if (skip && skip(id, userdata))
                        continue;
                if (entry_read(l, de->d_name, &e) < 0)
                        e = (Entry){ .priority = -1, .runtime = -1 };
                else if (e.pid > 1 && e.start_time > 0 && process_start_time(e.pid) == e.start_time)
                        /* Still the job's leader, and so its group's id: the group goes. */
                        (void) kill(-e.pid, SIGKILL);
                (void) unlinkat(l->dir_fd, de->d_name, 0);
                left(id, e.priority, e.runtime, userdata);
                n++;
        }
        closedir(d);
        return n;
}
