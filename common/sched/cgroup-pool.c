/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-pool.h"
#include "cgroup.h"
#include "process-reap.h"

struct CgroupPool {
        sd_event *event;
        char *parent;
        char *prefix;
        uint64_t next_n; /* the N of the next cgroup made */
        PooledCgroup *free;
        unsigned n_free;
};

static PooledCgroup *pooled_free(PooledCgroup *c) {
        if (!c)
                return NULL;
        safe_close(c->fd);
        safe_close(c->events_fd);
        safe_close(c->cpu_fd);
        free(c->path);
        return mfree(c);
}

/* Removes an empty cgroup of ours now. */
static void pooled_remove(PooledCgroup *c) {
        c->fd = safe_close(c->fd);
        c->events_fd = safe_close(c->events_fd);
        c->cpu_fd = safe_close(c->cpu_fd);
        (void) cgroup_remove(c->path);
        pooled_free(c);
}

/* A new cgroup prefix-N, not lent yet. */
static int pool_make(CgroupPool *p, PooledCgroup **ret) {
        PooledCgroup *c;
        int r = -EEXIST;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->pool = p;
        c->fd = c->events_fd = c->cpu_fd = -EBADF;
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
        if (r >= 0 && (c->events_fd = cgroup_open_file(c->fd, "cgroup.events")) < 0)
                r = c->events_fd;
        if (r >= 0 && (c->cpu_fd = cgroup_open_file(c->fd, "cpu.stat")) < 0)
                r = c->cpu_fd;
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
        p->event = sd_event_ref(e);
        p->parent = strdup(parent);
        p->prefix = strdup(prefix);
        if (!p->parent || !p->prefix)
                return -ENOMEM;

        /* The first cgroup tells whether they can be reused; it stays for the first loan. */
        r = pool_make(p, &c);
        if (r < 0)
                return r;
        if (faccessat(c->fd, "memory.peak", F_OK, 0) >= 0)
                r = -EOPNOTSUPP;
        else {
                r = cgroup_set_label(c->fd, "probe");
                if (r >= 0)
                        r = cgroup_set_label(c->fd, NULL);
                if (r == -ENOTSUP || r == -EPERM)
                        r = -EOPNOTSUPP;
        }
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
        c->frozen = false;
        r = cgroup_set_label(c->fd, label);
        if (r < 0) {
                pooled_remove(c);
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
        /* Not lent again as it is: one with a child cgroup in it (a directory's links: ".", its
         * entry, each child's ".."), or whose label or freeze stays. */
        if (fstat(c->fd, &st) < 0 || st.st_nlink != 2 || cgroup_set_label(c->fd, NULL) < 0 ||
            (c->frozen && cgroup_set_frozen(c->fd, false) < 0))
                return cgroup_pool_discard(c);
        if (c->cpu_last != UINT64_MAX)
                c->cpu_base = c->cpu_last;
        else if (cgroup_read_cpu_usec_file(c->cpu_fd, &c->cpu_base) < 0)
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
        c->events_fd = safe_close(c->events_fd);
        c->cpu_fd = safe_close(c->cpu_fd);
        (void) process_remove_cgroup_later(c->pool->event, TAKE_PTR(c->path));
        pooled_free(c);
}

int cgroup_pool_read_events(PooledCgroup *c, bool *ret_populated) {
        bool frozen;
        int r;

        assert(c);
        assert(ret_populated);

        r = cgroup_read_events_file(c->events_fd, ret_populated, &frozen);
        if (r >= 0)
                c->frozen = frozen;
        return r;
}

int cgroup_pool_read_cpu_usec(PooledCgroup *c, uint64_t *ret) {
        uint64_t raw;
        int r;

        assert(c);
        assert(ret);

        r = cgroup_read_cpu_usec_file(c->cpu_fd, &raw);
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
