/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hashmap.h"
#include "held.h"
#include "parse.h"

#define HELD_PRIORITIES (PROTOCOL_PRIORITY_MAX + 1)
/* A record buffer grown beyond this by a burst is freed after its flush rather than kept. */
#define HELD_BUFFER_KEEP (1024 * 1024)

struct Held {
        U64Map *map; /* id -> HeldJob */
        size_t max;
        HeldJob *heads[HELD_PRIORITIES], *tails[HELD_PRIORITIES];
        size_t counts[HELD_PRIORITIES];
        size_t bytes; /* of the held jobs */

        int dir_fd; /* -EBADF: in memory only */
        int fd;     /* HELD_FILE, for appending; -EBADF until loaded or first written */
        char *buf;  /* records not yet written */
        size_t buf_len, buf_alloc, buf_records;
        size_t file_records; /* records in the file */
        bool rewrite;        /* the file is not known to match the set: rewrite it at the next flush */
};

HeldJob *held_job_new(uint64_t id, int priority, double runtime, uint64_t submitted_usec, json_t *payload) {
        HeldJob *j;

        assert(json_is_object(payload));

        j = calloc(1, sizeof(HeldJob));
        if (!j)
                return NULL;
        j->id = id;
        j->priority = priority;
        j->runtime = runtime;
        j->submitted_usec = submitted_usec;
        j->payload = json_incref(payload);
        return j;
}

HeldJob *held_job_free(HeldJob *j) {
        if (!j)
                return NULL;
        assert(!j->linked);
        json_decref(j->payload);
        return mfree(j);
}

int held_new(Held **ret, int dir_fd, size_t max) {
        _cleanup_(held_freep) Held *h = NULL;
        int r;

        assert(ret);

        h = calloc(1, sizeof(Held));
        if (!h)
                return -ENOMEM;
        h->dir_fd = h->fd = -EBADF;
        h->max = max;
        r = u64_map_new(&h->map);
        if (r < 0)
                return r;
        if (dir_fd >= 0) {
                h->dir_fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
                if (h->dir_fd < 0)
                        return -errno;
        }
        *ret = TAKE_PTR(h);
        return 0;
}

Held *held_free(Held *h) {
        if (!h)
                return NULL;
        for (int p = 0; p < HELD_PRIORITIES; p++) {
                HeldJob *j, *n;

                LIST_FOREACH_SAFE (jobs, j, n, h->heads[p]) {
                        j->linked = false;
                        held_job_free(j);
                }
        }
        u64_map_free(h->map);
        safe_close(h->fd);
        safe_close(h->dir_fd);
        free(h->buf);
        return mfree(h);
}

size_t held_size(const Held *h) {
        assert(h);
        return u64_map_size(h->map);
}

size_t held_bytes(const Held *h) {
        assert(h);
        return h->bytes;
}

size_t held_max(const Held *h) {
        assert(h);
        return h->max;
}

size_t held_count_priority(const Held *h, int priority) {
        assert(h);
        return priority >= 0 && priority < HELD_PRIORITIES ? h->counts[priority] : 0;
}

/* Room for n more bytes in the record buffer. */
static int held_buf_reserve(Held *h, size_t n) {
        size_t a;
        char *b;

        if (h->buf_alloc - h->buf_len >= n)
                return 0;
        a = MAX(h->buf_alloc * 2, MAX(h->buf_len + n, (size_t) 4096));
        b = realloc(h->buf, a);
        if (!b)
                return -ENOMEM;
        h->buf = b;
        h->buf_alloc = a;
        return 0;
}

static int held_buf_append(const char *data, size_t n, void *userdata) {
        Held *h = ASSERT_PTR(userdata);

        if (held_buf_reserve(h, n) < 0)
                return -1;
        memcpy(h->buf + h->buf_len, data, n);
        h->buf_len += n;
        return 0;
}

static void held_buf_drop(Held *h) {
        h->buf_len = h->buf_records = 0;
        if (h->buf_alloc > HELD_BUFFER_KEEP) {
                h->buf = mfree(h->buf);
                h->buf_alloc = 0;
        }
}

/* Appends j's "+" line. The payload is dumped straight into the buffer: no string per record. On
 * failure the buffer is left as it was. */
static int held_buf_add_job(Held *h, const HeldJob *j) {
        size_t saved = h->buf_len;
        int n;

        /* The fixed fields and the payload's key: two 20-digit integers, a 17-digit real and ~60 bytes
         * of text. */
        if (held_buf_reserve(h, 160) < 0)
                return -ENOMEM;
        n = snprintf(h->buf + h->buf_len, h->buf_alloc - h->buf_len,
                     "+{\"id\":%" PRIu64 ",\"priority\":%d,\"runtime\":%.17g,\"submitted\":%" PRIu64
                     ",\"payload\":",
                     j->id, j->priority, j->runtime, j->submitted_usec);
        assert(n > 0 && (size_t) n < h->buf_alloc - h->buf_len);
        h->buf_len += (size_t) n;
        if (json_dump_callback(j->payload, held_buf_append, h, JSON_COMPACT) < 0 ||
            held_buf_append("}\n", 2, h) < 0) {
                h->buf_len = saved;
                return -ENOMEM;
        }
        return 0;
}

/* Records a push or a removal, unless there is no file or it is to be rewritten anyway. Without
 * the memory for the record the file is rewritten at the next flush instead: never wrong. */
static void held_record(Held *h, const HeldJob *j, bool add) {
        int r;

        if (h->dir_fd < 0 || h->rewrite)
                return;
        if (add)
                r = held_buf_add_job(h, j);
        else {
                r = held_buf_reserve(h, 32);
                if (r >= 0)
                        h->buf_len += (size_t) snprintf(h->buf + h->buf_len, 32, "-%" PRIu64 "\n", j->id);
        }
        if (r < 0) {
                h->rewrite = true;
                return;
        }
        h->buf_records++;
}

/* Links j in, without recording. -EEXIST, -ENOMEM. */
static int held_link(Held *h, HeldJob *j) {
        HeldJob *after;
        int r;

        r = u64_map_put(h->map, j->id, j);
        if (r < 0)
                return r;

        /* The bus's ids only grow: the new job goes last, found in one step. */
        for (after = h->tails[j->priority]; after && after->id > j->id; after = after->jobs_prev)
                ;
        LIST_INSERT_AFTER(jobs, h->heads[j->priority], after, j);
        if (after == h->tails[j->priority])
                h->tails[j->priority] = j;
        h->counts[j->priority]++;
        h->bytes += j->bytes;
        j->linked = true;
        return 0;
}

static void held_unlink(Held *h, HeldJob *j) {
        assert(j->linked);
        assert_se(u64_map_remove(h->map, j->id) == j);

        if (h->tails[j->priority] == j)
                h->tails[j->priority] = j->jobs_prev;
        LIST_REMOVE(jobs, h->heads[j->priority], j);
        assert(h->counts[j->priority] > 0);
        h->counts[j->priority]--;
        assert(h->bytes >= j->bytes);
        h->bytes -= j->bytes;
        j->linked = false;
}

/* What the file can hold and held_load() accepts back. */
static bool held_job_valid(const HeldJob *j) {
        return j->id > 0 && j->id <= INT64_MAX && j->priority >= PROTOCOL_PRIORITY_MIN &&
               j->priority <= PROTOCOL_PRIORITY_MAX && isfinite(j->runtime) && j->runtime >= 0 &&
               j->submitted_usec <= INT64_MAX && json_is_object(j->payload);
}

int held_push(Held *h, HeldJob *j) {
        int r;

        assert(h);
        assert(j);
        assert(!j->linked);

        if (!held_job_valid(j))
                return -EINVAL;
        r = held_link(h, j);
        if (r < 0)
                return r;
        held_record(h, j, true);
        return 0;
}

HeldJob *held_remove(Held *h, HeldJob *j) {
        assert(h);
        assert(j);
        assert(u64_map_get(h->map, j->id) == j);

        held_unlink(h, j);
        held_record(h, j, false);
        return j;
}

HeldJob *held_first(Held *h) {
        assert(h);

        for (int p = 0; p < HELD_PRIORITIES; p++)
                if (h->heads[p])
                        return h->heads[p];
        return NULL;
}

HeldJob *held_next(Held *h, HeldJob *j) {
        assert(h);
        assert(j);
        assert(j->linked);

        if (j->jobs_next)
                return j->jobs_next;
        for (int p = j->priority + 1; p < HELD_PRIORITIES; p++)
                if (h->heads[p])
                        return h->heads[p];
        return NULL;
}

HeldJob *held_peek(Held *h) {
        return held_first(h);
}

HeldJob *held_pop(Held *h) {
        HeldJob *j;

        assert(h);

        j = held_peek(h);
        return j ? held_remove(h, j) : NULL;
}

HeldJob *held_peek_least(Held *h) {
        assert(h);

        for (int p = HELD_PRIORITIES - 1; p >= 0; p--)
                if (h->tails[p])
                        return h->tails[p];
        return NULL;
}

HeldJob *held_get(Held *h, uint64_t id) {
        assert(h);
        return u64_map_get(h->map, id);
}

/* The whole buffer with as few write()s as the kernel allows (one, on a regular file). */
static int held_write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Replaces the file with one "+" line per held job, in dispatch order: a temporary file renamed
 * over it, so that a crash of the bus at any point leaves the old file or the new one whole. With
 * `sync` (at startup) the file and the directory are synced too; from the loop they are not: an
 * fsync there would stall every client, and records appended in between are not synced either. The
 * buffered records are superseded and dropped; appending goes on in the new file. */
static int held_rewrite(Held *h, bool sync) {
        static const char tmp[] = HELD_FILE ".tmp";
        _cleanup_close_ int fd = -EBADF;
        int r;

        h->buf_len = h->buf_records = 0;
        for (HeldJob *j = held_first(h); j; j = held_next(h, j)) {
                r = held_buf_add_job(h, j);
                if (r < 0)
                        return r;
        }

        fd = openat(h->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        r = held_write_all(fd, h->buf, h->buf_len);
        if (r < 0)
                return r;
        if ((sync && fsync(fd) < 0) || renameat(h->dir_fd, tmp, h->dir_fd, HELD_FILE) < 0)
                return -errno;
        /* The file at HELD_FILE is this one from now on, whatever happens next. */
        safe_close(h->fd);
        h->fd = TAKE_FD(fd);
        h->file_records = held_size(h);
        if (sync && fsync(h->dir_fd) < 0)
                return -errno;
        h->rewrite = false;
        return 0;
}

int held_flush(Held *h) {
        int r;

        assert(h);

        if (h->dir_fd < 0 || (h->buf_len == 0 && !h->rewrite))
                return 0;

        if (held_size(h) == 0 && h->fd >= 0) {
                /* Nothing held: no record is needed to say so. */
                r = ftruncate(h->fd, 0) < 0 ? -errno : 0;
                if (r >= 0) {
                        h->file_records = 0;
                        h->rewrite = false;
                }
        } else if (h->rewrite || h->fd < 0 ||
                   h->file_records + h->buf_records > 2 * held_size(h) + HELD_SLACK)
                r = held_rewrite(h, false);
        else {
                r = held_write_all(h->fd, h->buf, h->buf_len);
                if (r >= 0)
                        h->file_records += h->buf_records;
        }

        held_buf_drop(h);
        if (r < 0)
                h->rewrite = true;
        return r;
}

/* The file, whole, NUL-terminated; NULL and 0 when there is none. */
static int held_read_file(Held *h, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *data = NULL;
        size_t size = 0, alloc;
        struct stat st;

        fd = openat(h->dir_fd, HELD_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno != ENOENT)
                        return -errno;
                *ret = NULL;
                *ret_size = 0;
                return 0;
        }
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;

        /* The size is a hint: read to the end whatever it is. */
        alloc = (size_t) st.st_size + 1;
        data = malloc(alloc);
        if (!data)
                return -ENOMEM;
        for (;;) {
                ssize_t k;

                if (size + 1 >= alloc) {
                        char *d = realloc(data, alloc * 2);

                        if (!d)
                                return -ENOMEM;
                        data = d;
                        alloc *= 2;
                }
                k = read(fd, data + size, alloc - size - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                size += (size_t) k;
        }
        data[size] = 0;
        *ret = TAKE_PTR(data);
        *ret_size = size;
        return 0;
}

/* A "+" line (without the "+" and the newline) as a job, or NULL when it is not one held_push()
 * would take. */
static HeldJob *held_job_parse(const char *line, size_t n) {
        _cleanup_(json_decrefp) json_t *v = NULL;
        json_t *id, *priority, *runtime, *submitted, *payload;

        v = json_loadb(line, n, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(v))
                return NULL;
        id = json_object_get(v, "id");
        priority = json_object_get(v, "priority");
        runtime = json_object_get(v, "runtime");
        submitted = json_object_get(v, "submitted");
        payload = json_object_get(v, "payload");
        if (!json_is_integer(id) || json_integer_value(id) <= 0 || !json_is_integer(priority) ||
            json_integer_value(priority) < PROTOCOL_PRIORITY_MIN ||
            json_integer_value(priority) > PROTOCOL_PRIORITY_MAX || !json_is_number(runtime) ||
            json_number_value(runtime) < 0 || !json_is_integer(submitted) ||
            json_integer_value(submitted) < 0 || !json_is_object(payload))
                return NULL;
        HeldJob *j =
                held_job_new((uint64_t) json_integer_value(id), (int) json_integer_value(priority),
                             json_number_value(runtime), (uint64_t) json_integer_value(submitted), payload);
        if (j)
                j->bytes = n;
        return j;
}

/* Applies one record (NUL-terminated at line[n]). 1: applied or ignored, 0: bad, < 0: -ENOMEM. */
static int held_replay(Held *h, char *line, size_t n) {
        _cleanup_(held_job_freep) HeldJob *j = NULL;
        HeldJob *old;
        uint64_t id;
        int r;

        if (n > 0 && line[0] == '+') {
                j = held_job_parse(line + 1, n - 1);
                if (!j)
                        return 0;
                r = held_link(h, j);
                if (r == -EEXIST)
                        return 0;
                if (r < 0)
                        return r;
                TAKE_PTR(j);
                return 1;
        }
        if (n > 0 && line[0] == '-' && parse_uint64(line + 1, 1, INT64_MAX, &id) >= 0) {
                old = held_get(h, id);
                if (old) {
                        held_unlink(h, old);
                        held_job_free(old);
                }
                return 1;
        }
        return 0;
}

int held_load(Held *h, size_t *ret_bad) {
        _cleanup_free_ char *data = NULL;
        size_t size, bad = 0;
        char *p, *end, *nl;
        int r;

        assert(h);
        assert(held_size(h) == 0);

        if (ret_bad)
                *ret_bad = 0;
        if (h->dir_fd < 0)
                return 0;

        r = held_read_file(h, &data, &size);
        if (r < 0)
                return r;
        for (p = data, end = data + size; p && p < end; p = nl + 1) {
                nl = memchr(p, '\n', (size_t) (end - p));
                if (!nl) {
                        /* The last write() was cut short. */
                        bad++;
                        break;
                }
                *nl = 0;
                r = held_replay(h, p, (size_t) (nl - p));
                if (r < 0)
                        return r;
                if (r == 0)
                        bad++;
        }

        r = held_rewrite(h, true);
        held_buf_drop(h);
        if (r < 0)
                return r;
        if (ret_bad)
                *ret_bad = bad;
        return (int) MIN(held_size(h), (size_t) INT_MAX);
}
