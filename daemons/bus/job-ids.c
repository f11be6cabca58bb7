/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job-ids.h"
#include "parse.h"

struct JobIds {
        int dir_fd; /* -EBADF: in memory */
        uint64_t next;
        uint64_t limit; /* the first id not reserved */
        uint64_t first;
};

JobIds *job_ids_free(JobIds *ids) {
        if (!ids)
                return NULL;
        safe_close(ids->dir_fd);
        return mfree(ids);
}

static int job_ids_read(JobIds *ids, uint64_t *ret) {
        _cleanup_close_ int fd = -EBADF;
        char buf[32];
        ssize_t n;

        fd = openat(ids->dir_fd, JOB_IDS_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno != ENOENT)
                        return -errno;
                *ret = 1;
                return 0;
        }
        n = read(fd, buf, sizeof buf - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        return parse_uint64(buf, 1, JOB_IDS_MAX, ret) < 0 ? -EBADMSG : 0;
}

/* Writes `limit` to the file: a temporary file, synced, renamed over it, the directory synced. */
static int job_ids_write(JobIds *ids, uint64_t limit) {
        static const char tmp[] = JOB_IDS_FILE ".tmp";
        _cleanup_close_ int fd = -EBADF;
        char buf[32];
        int n;

        n = snprintf(buf, sizeof buf, "%" PRIu64 "\n", limit);
        fd = openat(ids->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        if (write(fd, buf, (size_t) n) != n || fsync(fd) < 0)
                return errno > 0 ? -errno : -EIO;
        if (renameat(ids->dir_fd, tmp, ids->dir_fd, JOB_IDS_FILE) < 0 || fsync(ids->dir_fd) < 0)
                return -errno;
        return 0;
}

static int job_ids_reserve(JobIds *ids) {
        uint64_t limit;
        int r;

        if (ids->next > JOB_IDS_MAX)
                return -ERANGE;
        limit = ids->next + MIN(JOB_IDS_BLOCK, JOB_IDS_MAX - ids->next + 1);
        if (ids->dir_fd >= 0) {
                r = job_ids_write(ids, limit);
                if (r < 0)
                        return r;
        }
        ids->limit = limit;
        return 0;
}

int job_ids_new(JobIds **ret, const char *dir) {
        _cleanup_(job_ids_freep) JobIds *ids = NULL;
        int r;

        assert(ret);

        ids = calloc(1, sizeof *ids);
        if (!ids)
                return -ENOMEM;
        ids->dir_fd = -EBADF;
        ids->next = 1;
        if (dir) {
                ids->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (ids->dir_fd < 0)
                        return -errno;
                r = job_ids_read(ids, &ids->next);
                if (r < 0)
                        return r;
        }
        ids->first = ids->next;
        r = job_ids_reserve(ids);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(ids);
        return 0;
}

int job_ids_next(JobIds *ids, uint64_t *ret) {
        int r;

        assert(ids);
        assert(ret);

        if (ids->next >= ids->limit) {
                r = job_ids_reserve(ids);
                if (r < 0)
                        return r;
        }
        *ret = ids->next++;
        return 0;
}

uint64_t job_ids_first(const JobIds *ids) {
        assert(ids);
        return ids->first;
}
