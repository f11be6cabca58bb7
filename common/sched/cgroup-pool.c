/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-pool.h"
#include "cgroup.h"
#include "process-reap.h"

/* Files whose writes leave nothing for a next borrower: processes moved in (by us, or a fork
 * fallback's child), a kill, the kernel's own notifications. cgroup.freeze is undone instead. */
static const char *const harmless_writes[] = { "cgroup.events", "cgroup.procs", "cgroup.threads",
                                               "cgroup.kill" };

struct CgroupPool {
        sd_event *event;
        char *parent;
        char *prefix;
        uint64_t next_n; /* the N of the next cgroup made */
        PooledCgroup *free;
        unsigned n_free;
        /* Writes to the files of our cgroups (IN_MODIFY), read at each give-back only: never on the
         * loop, so the kernel's own cgroup.events notifications wake nobody. */
        int inotify_fd;
        PooledCgroup **all; /* lent or free, to find a watch's cgroup */
        size_t n_all, n_all_allocated;
};

static void pool_forget(CgroupPool *p, PooledCgroup *c) {
        for (size_t i = 0; i < p->n_all; i++)
                if (p->all[i] == c) {
                        p->all[i] = p->all[--p->n_all];
                        return;
                }
}

static PooledCgroup *pooled_free(PooledCgroup *c) {
        if (!c)
                return NULL;
        pool_forget(c->pool, c);
        safe_close(c->fd);
        free(c->path);
        return mfree(c);
}

/* Removes an empty cgroup of ours now. */
static void pooled_remove(PooledCgroup *c) {
        c->fd = safe_close(c->fd);
        (void) cgroup_remove(c->path);
        pooled_free(c);
}

/* A new cgroup prefix-N, not lent yet, its writes watched. */
static int pool_make(CgroupPool *p, PooledCgroup **ret) {
        PooledCgroup *c;
        int r = -EEXIST;

        if (p->n_all == p->n_all_allocated) {
                size_t n = p->n_all_allocated ? 2 * p->n_all_allocated : 16;
                PooledCgroup **all = reallocarray(p->all, n, sizeof *all);

                if (!all)
                        return -ENOMEM;
                p->all = all;
                p->n_all_allocated = n;
        }
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->pool = p;
        c->fd = -EBADF;
        p->all[p->n_all++] = c;
        /* One that exists is not ours (a predecessor's, being cleaned up): the next N. */
        for (unsigned tries = 0; r == -EEXIST && tries < 64; tries++) {
                c->path = mfree(c->path);
                if (asprintf(&c->path, "%s/%s-%" PRIu64, p->parent, p->prefix, p->next_n++) < 0) {
                        c->path = NULL;
                        r = -ENOMEM;
                        break;
                }
                r = cgroup_create_open(c->path, &c->fd);
        }
        if (r >= 0 && (c->wd = inotify_add_watch(p->inotify_fd, c->path, IN_MODIFY)) < 0)
                r = -errno;
        if (r < 0) {
                if (c->fd >= 0)
                        pooled_remove(c);
                else
                        pooled_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

static PooledCgroup *pool_find_watch(CgroupPool *p, int wd) {
        for (size_t i = 0; i < p->n_all; i++)
                if (p->all[i]->wd == wd)
                        return p->all[i];
        return NULL;
}

/* Notes who wrote to what since the last time. Bounded: a queue longer than this, or one that
 * overflowed, makes every cgroup suspect. */
static void pool_read_writes(CgroupPool *p) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool all_suspect = false;

        for (unsigned reads = 0; reads < 64; reads++) {
                ssize_t n = read(p->inotify_fd, buf, sizeof buf);

                if (n <= 0) {
                        if (n < 0 && errno != EAGAIN && errno != EINTR)
                                all_suspect = true;
                        if (n == 0 || errno != EINTR)
                                goto done;
                        continue;
                }
                for (char *q = buf; q < buf + n;) {
                        const struct inotify_event *e = (const struct inotify_event *) q;
                        bool harmless = false;
                        PooledCgroup *c;

                        q += sizeof *e + e->len;
                        if (e->mask & IN_Q_OVERFLOW)
                                all_suspect = true;
                        if (e->len == 0 || !(e->mask & IN_MODIFY))
                                continue;
                        for (size_t i = 0; i < ELEMENTSOF(harmless_writes) && !harmless; i++)
                                harmless = strcmp(e->name, harmless_writes[i]) == 0;
                        if (harmless || !(c = pool_find_watch(p, e->wd)))
                                continue;
                        if (strcmp(e->name, "cgroup.freeze") == 0)
                                c->freeze_written = true;
                        else
                                c->changed = true;
                }
        }
        all_suspect = true;
done:
        if (all_suspect)
                for (size_t i = 0; i < p->n_all; i++)
                        p->all[i]->changed = true;
}

int cgroup_pool_new(CgroupPool **ret, sd_event *e, const char *parent, const char *prefix) {
        _cleanup_(cgroup_pool_freep) CgroupPool *p = NULL;
        PooledCgroup *c;
        int r;

        assert(ret);
        assert(e);
        assert(parent);
        assert(prefix);

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (p->inotify_fd < 0)
                return -errno;
        p->event = sd_event_ref(e);
        p->parent = strdup(parent);
        p->prefix = strdup(prefix);
        if (!p->parent || !p->prefix)
                return -ENOMEM;

        /* The first cgroup tells whether they can be reused; it stays for the first loan. */
        r = pool_make(p, &c);
        if (r < 0)
                return r;
        r = cgroup_has_controllers(c->fd);
        if (r > 0)
                r = -EOPNOTSUPP;
        if (r >= 0)
                r = cgroup_set_label(c->fd, "probe");
        if (r >= 0)
                r = cgroup_set_label(c->fd, NULL);
        if (r == -ENOTSUP || r == -EPERM)
                r = -EOPNOTSUPP;
        if (r < 0) {
                pooled_remove(c);
                return r;
        }
        c->next = p->free;
        p->free = c;
        p->n_free++;
        *ret = TAKE_PTR(p);
        return 0;
}

CgroupPool *cgroup_pool_free(CgroupPool *p) {
        if (!p)
                return NULL;
        while (p->free) {
                PooledCgroup *c = p->free;

                p->free = c->next;
                pooled_remove(c);
        }
        /* Loans still out were discarded by their borrowers before this (see the header). */
        free(p->all);
        safe_close(p->inotify_fd);
        sd_event_unref(p->event);
        free(p->parent);
        free(p->prefix);
        return mfree(p);
}

int cgroup_pool_take(CgroupPool *p, const char *label, PooledCgroup **ret) {
        PooledCgroup *c;
        int r;

        assert(p);
        assert(label);
        assert(ret);

        /* A free one, else a new one; one whose label cannot be set (removed behind our back?) goes,
         * and a new one is tried once. */
        for (unsigned tries = 0;; tries++) {
                if (p->free) {
                        c = p->free;
                        p->free = c->next;
                        p->n_free--;
                } else {
                        r = pool_make(p, &c);
                        if (r < 0)
                                return r;
                }
                c->next = NULL;
                c->cpu_last = UINT64_MAX;
                r = cgroup_set_label(c->fd, label);
                if (r >= 0)
                        break;
                cgroup_pool_discard(c);
                if (tries > 0)
                        return r;
        }
        *ret = c;
        return 0;
}

void cgroup_pool_give_back(PooledCgroup *c) {
        CgroupPool *p;
        struct stat st;

        if (!c)
                return;
        p = c->pool;
        pool_read_writes(p);
        /* Its borrower has ended: the label goes first, also from one that is not lent again, so that
         * a successor after a crash does not take it for a job cut short (one the borrower made a
         * child cgroup in stays until that child goes).
         *
         * Not lent again as it is: one whose label stays, whose settings its borrower changed (a
         * limit, the type), or with a child cgroup in it (a directory's links: ".", its entry, each
         * child's ".."). A write to cgroup.freeze, ours or its borrower's, is undone (the watch sees
         * every one; cgroup.events can say "populated 0" before it says "frozen 1"). */
        if (cgroup_set_label(c->fd, NULL) < 0 || c->changed || fstat(c->fd, &st) < 0 || st.st_nlink != 2 ||
            (c->freeze_written && cgroup_set_frozen(c->fd, false) < 0))
                return cgroup_pool_discard(c);
        c->freeze_written = false;
        if (c->cpu_last != UINT64_MAX)
                c->cpu_base = c->cpu_last;
        else if (cgroup_read_cpu_usec(c->fd, &c->cpu_base) < 0)
                c->cpu_base = 0;
        c->next = p->free;
        p->free = c;
        p->n_free++;
}

void cgroup_pool_discard(PooledCgroup *c) {
        if (!c)
                return;
        (void) cgroup_kill_all(c->fd);
        c->fd = safe_close(c->fd);
        (void) process_remove_cgroup_later(c->pool->event, TAKE_PTR(c->path));
        pooled_free(c);
}

int cgroup_pool_read_cpu_usec(PooledCgroup *c, uint64_t *ret) {
        uint64_t raw;
        int r;

        assert(c);
        assert(ret);

        r = cgroup_read_cpu_usec(c->fd, &raw);
        c->cpu_last = r < 0 ? UINT64_MAX : raw;
        if (r < 0)
                return r;
        *ret = raw >= c->cpu_base ? raw - c->cpu_base : 0;
        return 0;
}

unsigned cgroup_pool_n_free(CgroupPool *p) {
        assert(p);
        return p->n_free;
}
