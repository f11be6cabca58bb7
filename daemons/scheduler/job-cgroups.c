/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-pool.h"
#include "cgroup.h"
#include "job-cgroups.h"
#include "list.h"
#include "log.h"
#include "macro.h"

#define SUPERVISOR_NAME "supervisor"
#define JOB_PREFIX      "job-"
#define POOL_PREFIX     "slot"

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)

typedef struct Leftover Leftover;

/* A job cgroup of a predecessor, killed, waiting for populated 0. */
struct Leftover {
        JobCgroups *owner;
        bool has_id; /* else an idle one of its pool: removed, not reported */
        uint64_t id;
        char *path;
        int fd;
        sd_event_source *source;
        LIST_FIELDS(Leftover, leftovers);
};

struct JobCgroups {
        sd_event *event;
        char *parent;      /* NULL: the fallback */
        bool created;      /* the parent is ours to remove */
        char *description; /* for --help-like messages and the startup line */
        job_cgroups_leftover_t on_leftover;
        void *userdata;
        Leftover *leftovers;
        unsigned n_leftovers;
        /* A watch on the parent's cgroup.events that lives as long as we do. sd-event keeps one
         * inotify instance per priority while it has a watch, and closing one costs a grace period
         * of the kernel (10-20 ms, the loop stalled): each job's watch (process.c) would open and
         * close it again for every job. With this one, they share one instance for good. */
        sd_event_source *inotify_keeper;
        CgroupPool *pool; /* made at the first job, once the leftovers are known */
        bool pool_tried;
};

static Leftover *leftover_free(Leftover *l) {
        if (!l)
                return NULL;
        if (l->owner) {
                LIST_REMOVE(leftovers, l->owner->leftovers, l);
                l->owner->n_leftovers--;
        }
        sd_event_source_disable_unref(l->source);
        safe_close(l->fd);
        free(l->path);
        return mfree(l);
}

JobCgroups *job_cgroups_free(JobCgroups *c) {
        if (!c)
                return NULL;
        while (c->leftovers)
                leftover_free(c->leftovers);
        c->pool = cgroup_pool_free(c->pool);
        if (c->created) {
                int r = cgroup_remove(c->parent);
                if (r < 0)
                        log_warning_errno(r, "Could not remove the job cgroup parent %s, leaving it: %m",
                                          c->parent);
        }
        sd_event_source_disable_unref(c->inotify_keeper);
        sd_event_unref(c->event);
        free(c->parent);
        free(c->description);
        return mfree(c);
}

/* --cgroup=PATH: a directory of the cgroup2 mount, made here if missing. */
static int job_cgroups_use_path(JobCgroups *c, const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        char *slash;
        int r;

        assert(c);
        assert(path);

        if (!dir)
                return log_oom();
        if (path[0] != '/' || strstr(path, "/../") || strstr(path, "/./"))
                return log_error_errno(-EINVAL, "--cgroup=%s: not an absolute, normalized path.", path);
        while ((slash = strrchr(dir, '/')) && slash[1] == 0 && slash != dir)
                *slash = 0; /* trailing slashes */
        slash = strrchr(dir, '/');
        *slash = 0;
        r = cgroup_is_cgroup2(dir[0] ? dir : "/");
        if (r <= 0)
                return log_error_errno(r < 0 ? r : -ENOTDIR,
                                       "--cgroup=%s: %s is not a cgroup2 directory%s%m", path,
                                       dir[0] ? dir : "/", r < 0 ? ": " : ".");
        r = cgroup_create(path);
        if (r < 0)
                return log_error_errno(r, "--cgroup=%s: cannot create the cgroup: %m", path);
        c->created = r > 0;
        c->parent = strdup(path);
        if (!c->parent || asprintf(&c->description, "cgroup %s (--cgroup=PATH%s)", path,
                                   c->created ? ", created" : "") < 0)
                return log_oom();
        return 0;
}

/* Our own cgroup: we move into its leaf `supervisor`, jobs go beside it. `required`: fail instead of
 * falling back. Returns 1 when in force, 0 for the fallback. */
static int job_cgroups_use_self(JobCgroups *c, bool required, const char **ret_reason) {
        _cleanup_free_ char *mount = NULL, *self = NULL, *supervisor = NULL;
        int r;

        assert(c);
        assert(ret_reason);

        r = cgroup_find_mount(&mount);
        if (r < 0) {
                *ret_reason = "cgroup2 is not mounted";
                return required ? log_error_errno(r, "--cgroup=self: cgroup2 is not mounted: %m") : 0;
        }
        r = cgroup_get_self(mount, &self);
        if (r < 0) {
                *ret_reason = r == -EPERM ? "we run in the root cgroup" : "no cgroup v2 of our own";
                return required ? log_error_errno(r, "--cgroup=self: %s.", *ret_reason) : 0;
        }
        if (!required && cgroup_is_delegated(self) <= 0) {
                *ret_reason = "our cgroup was not delegated to us (Delegate=yes)";
                return 0;
        }
        if (asprintf(&supervisor, "%s/" SUPERVISOR_NAME, self) < 0)
                return log_oom();
        r = cgroup_create(supervisor);
        if (r >= 0)
                r = cgroup_move_self(supervisor);
        if (r < 0) {
                *ret_reason = "cannot move into a leaf of our cgroup";
                if (required)
                        return log_error_errno(r, "--cgroup=self: cannot move into %s: %m", supervisor);
                log_notice_errno(r, "Cannot move into %s, running jobs without cgroups: %m", supervisor);
                return 0;
        }
        if (asprintf(&c->description, "cgroup %s (our own, delegated; we run in " SUPERVISOR_NAME ")",
                     self) < 0)
                return log_oom();
        c->parent = TAKE_PTR(self);
        return 1;
}

static int on_keeper_events(sd_event_source *s, const struct inotify_event *event, void *userdata) {
        return 0;
}

int job_cgroups_new(JobCgroups **ret, sd_event *e, const char *setting, job_cgroups_leftover_t on_leftover,
                    void *userdata) {
        _cleanup_(job_cgroups_freep) JobCgroups *c = NULL;
        const char *reason = "--cgroup=off";
        int r = 0;

        assert(ret);
        assert(e);

        c = calloc(1, sizeof *c);
        if (!c)
                return log_oom();
        c->event = sd_event_ref(e);
        c->on_leftover = on_leftover;
        c->userdata = userdata;

        if (!setting || strcmp(setting, "auto") == 0)
                r = job_cgroups_use_self(c, false, &reason);
        else if (strcmp(setting, "self") == 0)
                r = job_cgroups_use_self(c, true, &reason);
        else if (strcmp(setting, "off") != 0)
                r = job_cgroups_use_path(c, setting);
        if (r < 0)
                return r;
        if (!c->parent &&
            asprintf(&c->description, "fallback: process groups and child subreaper (%s)", reason) < 0)
                return log_oom();
        if (c->parent) {
                r = cgroup_watch_events(c->event, &c->inotify_keeper, c->parent, on_keeper_events, c);
                if (r < 0)
                        log_debug_errno(r, "Failed to watch %s/cgroup.events, ignoring: %m", c->parent);
        }
        *ret = TAKE_PTR(c);
        return 0;
}

const char *job_cgroups_parent(JobCgroups *c) {
        assert(c);
        return c->parent;
}

const char *job_cgroups_describe(JobCgroups *c) {
        assert(c);
        return c->description;
}

char *job_cgroups_path_of(JobCgroups *c, uint64_t id) {
        char *path;

        assert(c);

        if (!c->parent || asprintf(&path, "%s/" JOB_PREFIX "%" PRIu64, c->parent, id) < 0)
                return NULL;
        return path;
}

CgroupPool *job_cgroups_pool(JobCgroups *c) {
        int r;

        assert(c);

        if (!c->parent || c->pool_tried)
                return c->pool;
        c->pool_tried = true;
        r = cgroup_pool_new(&c->pool, c->event, c->parent, POOL_PREFIX);
        if (r == -EOPNOTSUPP)
                log_info("Job cgroups under %s have controllers (or no user xattrs): one new cgroup per "
                         "job, " JOB_PREFIX "ID, instead of reused ones.",
                         c->parent);
        else if (r < 0)
                log_warning_errno(r, "Cannot make a cgroup to lend under %s, making one per job: %m",
                                  c->parent);
        return c->pool;
}

bool job_cgroups_has_leftover(JobCgroups *c, uint64_t id) {
        Leftover *l;

        assert(c);

        LIST_FOREACH (leftovers, l, c->leftovers)
                if (l->has_id && l->id == id)
                        return true;
        return false;
}

unsigned job_cgroups_n_recovering(JobCgroups *c) {
        assert(c);
        return c->n_leftovers;
}

/* Empty: removed and, if it held a job, reported. The Leftover is freed. */
static void leftover_done(Leftover *l) {
        JobCgroups *c = l->owner;
        uint64_t id = l->id;
        bool has_id = l->has_id;
        int r;

        r = cgroup_remove(l->path);
        if (r < 0)
                log_warning_errno(r, "Could not remove %s, left by an earlier run: %m", l->path);
        leftover_free(l);
        if (has_id && c->on_leftover)
                c->on_leftover(id, c->userdata);
}

void job_cgroups_abandon_leftovers(JobCgroups *c) {
        assert(c);

        while (c->leftovers) {
                log_warning("%s is still not empty after it was killed; leaving it.", c->leftovers->path);
                leftover_done(c->leftovers);
        }
}

static int on_leftover_events(sd_event_source *s, const struct inotify_event *event, void *userdata) {
        Leftover *l = ASSERT_PTR(userdata);

        if (cgroup_is_populated(l->fd) == 0)
                leftover_done(l);
        return 0;
}

static int job_cgroups_kill_leftover(JobCgroups *c, const char *name, bool has_id, uint64_t id) {
        Leftover *l;
        int r;

        assert(c);
        assert(name);

        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->has_id = has_id;
        l->id = id;
        l->fd = -EBADF;
        l->owner = c;
        LIST_PREPEND(leftovers, c->leftovers, l);
        c->n_leftovers++;
        if (asprintf(&l->path, "%s/%s", c->parent, name) < 0) {
                l->path = NULL;
                leftover_free(l);
                return -ENOMEM;
        }
        l->fd = open(l->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (l->fd < 0) {
                r = -errno;
                leftover_free(l);
                return r;
        }
        r = cgroup_kill_all(l->fd);
        if (r >= 0)
                r = cgroup_watch_events(c->event, &l->source, l->path, on_leftover_events, l);
        if (r < 0) {
                leftover_free(l);
                return r;
        }
        if (cgroup_is_populated(l->fd) == 0)
                leftover_done(l);
        return 0;
}

/* The id of "PREFIXid" (decimal, nothing after it). */
static int parse_prefixed_id(const char *name, const char *prefix, uint64_t *ret) {
        size_t n = strlen(prefix);
        char *end;

        if (strncmp(name, prefix, n) != 0 || name[n] < '0' || name[n] > '9')
                return -EINVAL;
        errno = 0;
        *ret = strtoull(name + n, &end, 10);
        return errno == 0 && *end == 0 ? 0 : -EINVAL;
}

/* POOL_PREFIX-N, as cgroup_pool_new() names them. */
static bool is_pool_name(const char *name) {
        uint64_t n;

        return parse_prefixed_id(name, POOL_PREFIX "-", &n) >= 0;
}

int job_cgroups_recover(JobCgroups *c) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int n = 0, r;

        assert(c);

        if (!c->parent)
                return 0;
        d = opendir(c->parent);
        if (!d)
                return log_warning_errno(-errno, "Cannot list %s for leftover job cgroups: %m", c->parent);
        while ((de = readdir(d))) {
                bool has_id = true;
                uint64_t id;

                if (de->d_type != DT_DIR)
                        continue;
                if (parse_prefixed_id(de->d_name, JOB_PREFIX, &id) < 0) {
                        /* One it lent: to a job (its label is the id), or to none. */
                        _cleanup_free_ char *path = NULL;
                        char label[32];

                        if (!is_pool_name(de->d_name))
                                continue;
                        if (asprintf(&path, "%s/%s", c->parent, de->d_name) < 0)
                                return log_oom();
                        has_id = cgroup_get_label(path, label, sizeof label) >= 0 &&
                                 parse_prefixed_id(label, "", &id) >= 0;
                }
                if (has_id)
                        log_notice("Found %s/%s, left by an earlier run that died: killing what is left of "
                                   "job %" PRIu64 ".",
                                   c->parent, de->d_name, id);
                else
                        log_debug("Found %s/%s, an idle cgroup of an earlier run: removing it.", c->parent,
                                  de->d_name);
                r = job_cgroups_kill_leftover(c, de->d_name, has_id, has_id ? id : 0);
                if (r < 0)
                        log_warning_errno(r, "Cannot kill %s/%s, leaving it: %m", c->parent, de->d_name);
                n += has_id;
        }
        return n;
}
