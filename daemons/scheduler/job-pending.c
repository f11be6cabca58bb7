/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format-util.h"
#include "job-pending.h"
#include "parse.h"

struct JobPending {
        int dir_fd;
        char *dir;
};

int job_pending_new(JobPending **ret, const char *dir) {
        _cleanup_(job_pending_freep) JobPending *p = NULL;

        assert(ret);

        *ret = NULL;
        if (!dir)
                return 0;
        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (p->dir_fd < 0)
                return -errno;
        p->dir = strdup(dir);
        if (!p->dir)
                return -ENOMEM;
        *ret = TAKE_PTR(p);
        return 0;
}

JobPending *job_pending_free(JobPending *p) {
        if (!p)
                return NULL;
        safe_close(p->dir_fd);
        free(p->dir);
        return mfree(p);
}

const char *job_pending_dir(const JobPending *p) {
        assert(p);
        return p->dir;
}

static int job_pending_parse(char *line, JobPendingEntry *ret) {
        char *id, *priority, *runtime, *requeues, *save = NULL;
        uint64_t u;

        id = strtok_r(line, " ", &save);
        priority = strtok_r(NULL, " ", &save);
        runtime = strtok_r(NULL, " ", &save);
        requeues = strtok_r(NULL, " ", &save);
        if (!requeues || strtok_r(NULL, " ", &save))
                return -EBADMSG;
        if (parse_uint64(id, 1, INT64_MAX, &ret->id) < 0 || parse_uint64(priority, 0, 10, &u) < 0 ||
            parse_double(runtime, 0, 365.0 * 86400, &ret->runtime) < 0 ||
            parse_unsigned(requeues, 0, 1000000, &ret->n_requeued) < 0)
                return -EBADMSG;
        ret->priority = (int) u;
        return 0;
}

int job_pending_load(JobPending *p, size_t max, JobPendingEntry **ret, size_t *ret_n, size_t *ret_bad) {
        _cleanup_free_ JobPendingEntry *entries = NULL;
        _cleanup_free_ char *line = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t n = 0, bad = 0, alloc = 0, line_size = 0;
        FILE *f;

        assert(p);
        assert(ret);
        assert(ret_n);

        fd = openat(p->dir_fd, PENDING_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno != ENOENT)
                        return -errno;
                *ret = NULL;
                *ret_n = 0;
                if (ret_bad)
                        *ret_bad = 0;
                return 0;
        }
        f = fdopen(TAKE_FD(fd), "re");
        if (!f)
                return -errno;
        while (getline(&line, &line_size, f) > 0) {
                JobPendingEntry e;

                if (line[0] == '#')
                        continue;
                line[strcspn(line, "\n")] = 0;
                if (job_pending_parse(line, &e) < 0) {
                        bad++;
                        continue;
                }
                if (n >= max) {
                        bad++;
                        continue;
                }
                if (n == alloc) {
                        size_t k = MAX(alloc * 2, (size_t) 64);
                        JobPendingEntry *g = reallocarray(entries, k, sizeof *g);

                        if (!g) {
                                fclose(f);
                                return -ENOMEM;
                        }
                        entries = g;
                        alloc = k;
                }
                entries[n++] = e;
        }
        fclose(f);
        *ret = TAKE_PTR(entries);
        *ret_n = n;
        if (ret_bad)
                *ret_bad = bad;
        return 0;
}

static int job_cmp(const void *a, const void *b) {
        const Job *x = *(Job *const *) a, *y = *(Job *const *) b;

        if (x->priority != y->priority)
                return x->priority < y->priority ? -1 : 1;
        return x->arrival_seq < y->arrival_seq ? -1 : x->arrival_seq > y->arrival_seq;
}

int job_pending_save(JobPending *p, Job *const *jobs, size_t n, bool sync) {
        static const char tmp[] = PENDING_FILE ".tmp";
        char number[FORMAT_DOUBLE_MAX];
        _cleanup_close_ int fd = -EBADF;
        FILE *f;
        int r = 0;

        assert(p);
        assert(jobs || n == 0);

        qsort((void *) jobs, n, sizeof *jobs, job_cmp);
        fd = openat(p->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        f = fdopen(TAKE_FD(fd), "we");
        if (!f)
                return -errno;
        fputs("# sched-scheduler pending jobs: ID PRIORITY RUNTIME REQUEUES, in start order\n", f);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%" PRIu64 " %d %s %u\n", jobs[i]->id, jobs[i]->priority,
                        format_double(number, sizeof number, jobs[i]->runtime), jobs[i]->n_requeued);
        if (fflush(f) != 0 || ferror(f) || (sync && fsync(fileno(f)) < 0))
                r = errno > 0 ? -errno : -EIO;
        if (fclose(f) != 0 && r == 0)
                r = errno > 0 ? -errno : -EIO;
        if (r < 0)
                return r;
        if (renameat(p->dir_fd, tmp, p->dir_fd, PENDING_FILE) < 0)
                return -errno;
        if (sync)
                (void) fsync(p->dir_fd);
        return 0;
}
