/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cgroup.h"
#include "macro.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* The files we read are small: a cgroup.procs of this many bytes holds thousands of pids. */
#define CGROUP_FILE_MAX (256 * 1024)

static int read_file_at(int dir_fd, const char *name, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        assert(name);
        assert(ret);

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n;

                if (allocated - size < 4096) {
                        char *p;

                        if (allocated >= CGROUP_FILE_MAX)
                                return -EFBIG;
                        allocated = allocated ? allocated * 2 : 4096;
                        p = realloc(buf, allocated + 1);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                }
                n = read(fd, buf + size, allocated - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[size] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int write_file_at(int dir_fd, const char *name, const char *value) {
        _cleanup_close_ int fd = -EBADF;
        size_t n;

        assert(name);
        assert(value);

        fd = openat(dir_fd, name, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        n = strlen(value);
        if (write(fd, value, n) != (ssize_t) n)
                return errno > 0 ? -errno : -EIO;
        return 0;
}

/* A cgroup file of a few lines (cgroup.events, cpu.stat, memory.peak) in one read, into `buf`. */
static int read_small_at(int dir_fd, const char *name, char *buf, size_t size) {
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        assert(name);
        assert(buf);
        assert(size > 1);

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        do
                n = read(fd, buf, size - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if ((size_t) n == size - 1)
                return -EFBIG; /* perhaps cut: the caller's buffer is too small for this kernel */
        buf[n] = 0;
        return 0;
}

/* The value of `key` in a "key value" per line file. */
static int read_keyed_u64(int dir_fd, const char *name, const char *key, uint64_t *ret) {
        char text[1024];
        size_t n = strlen(key);
        int r;

        assert(key);
        assert(ret);

        r = read_small_at(dir_fd, name, text, sizeof text);
        if (r < 0)
                return r;
        for (char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
                if (strncmp(line, key, n) == 0 && line[n] == ' ') {
                        char *end;

                        errno = 0;
                        *ret = strtoull(line + n + 1, &end, 10);
                        return errno == 0 && end != line + n + 1 ? 0 : -EBADMSG;
                }
        return -ENODATA;
}

int cgroup_find_mount(char **ret) {
        _cleanup_free_ char *text = NULL;
        int r;

        assert(ret);

        r = read_file_at(AT_FDCWD, "/proc/self/mountinfo", &text);
        if (r < 0)
                return r;
        for (char *line = text, *end; line && *line; line = end ? end + 1 : NULL) {
                char *sep, mount[4096];

                end = strchr(line, '\n');
                if (end)
                        *end = 0;
                /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER" */
                sep = strstr(line, " - ");
                if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
                        continue;
                if (sscanf(line, "%*s %*s %*s %*s %4095s", mount) != 1 || strchr(mount, '\\'))
                        continue; /* escaped mount points are not where cgroup2 lives */
                *ret = strdup(mount);
                return *ret ? 0 : -ENOMEM;
        }
        return -ENOMEDIUM;
}

int cgroup_is_cgroup2(const char *path) {
        struct statfs fs;

        assert(path);

        if (statfs(path, &fs) < 0)
                return -errno;
        return fs.f_type == CGROUP2_SUPER_MAGIC;
}

int cgroup_get_self(const char *mount, char **ret) {
        _cleanup_free_ char *text = NULL;
        int r;

        assert(mount);
        assert(ret);

        r = read_file_at(AT_FDCWD, "/proc/self/cgroup", &text);
        if (r < 0)
                return r;
        for (char *line = text, *end; line && *line; line = end ? end + 1 : NULL) {
                end = strchr(line, '\n');
                if (end)
                        *end = 0;
                if (strncmp(line, "0::/", 4) != 0)
                        continue;
                if (line[4] == 0)
                        return -EPERM;
                return asprintf(ret, "%s%s", mount, line + 3) < 0 ? -ENOMEM : 0;
        }
        return -ENOMEDIUM;
}

static bool xattr_says_yes(const char *path, const char *name) {
        char value[8] = {};

        return getxattr(path, name, value, sizeof value - 1) > 0 && (value[0] == '1' || value[0] == 'y');
}

int cgroup_is_delegated(const char *path) {
        _cleanup_free_ char *procs = NULL;
        struct stat st_dir, st_procs;

        assert(path);

        if (xattr_says_yes(path, "trusted.delegate") || xattr_says_yes(path, "user.delegate"))
                return 1;
        if (geteuid() == 0)
                return 0; /* root owns every cgroup: ownership says nothing */
        if (asprintf(&procs, "%s/cgroup.procs", path) < 0)
                return -ENOMEM;
        if (stat(path, &st_dir) < 0 || stat(procs, &st_procs) < 0)
                return -errno;
        return st_dir.st_uid == geteuid() && st_procs.st_uid == geteuid() && access(procs, W_OK) >= 0;
}

int cgroup_create(const char *path) {
        assert(path);

        if (mkdir(path, 0755) >= 0)
                return 1;
        return errno == EEXIST ? 0 : -errno;
}

int cgroup_create_open(const char *path, int *ret_fd) {
        int fd, r;

        assert(path);
        assert(ret_fd);

        r = cgroup_create(path);
        if (r == 0)
                return -EEXIST;
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                (void) cgroup_remove(path);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

int cgroup_remove(const char *path) {
        assert(path);

        if (rmdir(path) >= 0 || errno == ENOENT)
                return 0;
        return -errno;
}

int cgroup_move_self(const char *path) {
        _cleanup_close_ int dir_fd = -EBADF;

        assert(path);

        dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        return write_file_at(dir_fd, "cgroup.procs", "0");
}

int cgroup_signal_all(int dir_fd, int sig, pid_t leader) {
        _cleanup_free_ char *text = NULL;
        bool leader_seen = false;
        int r, n = 0;

        r = read_file_at(dir_fd, "cgroup.procs", &text);
        if (r < 0)
                return r;
        for (char *p = text, *end; *p; p = end) {
                long pid = strtol(p, &end, 10);

                if (end == p)
                        break;
                if (pid > 0 && kill((pid_t) pid, sig) >= 0)
                        n++;
                leader_seen = leader_seen || pid == leader;
                while (*end == '\n')
                        end++;
        }
        if (leader > 0 && !leader_seen && kill(leader, sig) >= 0)
                n++;
        return n;
}

int cgroup_kill_all(int dir_fd) {
        return write_file_at(dir_fd, "cgroup.kill", "1");
}

int cgroup_set_frozen(int dir_fd, bool frozen) {
        return write_file_at(dir_fd, "cgroup.freeze", frozen ? "1" : "0");
}

int cgroup_has_controllers(int dir_fd) {
        char text[512];
        int r;

        r = read_small_at(dir_fd, "cgroup.controllers", text, sizeof text);
        if (r < 0)
                return r;
        return text[strspn(text, " \n")] != 0;
}

int cgroup_is_populated(int dir_fd) {
        uint64_t populated;
        int r;

        r = read_keyed_u64(dir_fd, "cgroup.events", "populated", &populated);
        if (r < 0)
                return r;
        return populated > 0;
}

int cgroup_read_cpu_usec(int dir_fd, uint64_t *ret) {
        return read_keyed_u64(dir_fd, "cpu.stat", "usage_usec", ret);
}

int cgroup_read_memory_peak(int dir_fd, uint64_t *ret) {
        char text[64], *end;
        int r;

        assert(ret);

        r = read_small_at(dir_fd, "memory.peak", text, sizeof text);
        if (r < 0)
                return r;
        errno = 0;
        *ret = strtoull(text, &end, 10);
        return errno == 0 && end != text ? 0 : -EBADMSG;
}

int cgroup_set_label(int dir_fd, const char *label) {
        assert(dir_fd >= 0);

        if (!label)
                return fremovexattr(dir_fd, CGROUP_LABEL_XATTR) >= 0 || errno == ENODATA ? 0 : -errno;
        return fsetxattr(dir_fd, CGROUP_LABEL_XATTR, label, strlen(label), 0) >= 0 ? 0 : -errno;
}

int cgroup_get_label(const char *path, char *buf, size_t size) {
        ssize_t n;

        assert(path);
        assert(buf);
        assert(size > 0);

        n = getxattr(path, CGROUP_LABEL_XATTR, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        return 0;
}

int cgroup_watch_events(sd_event *e, sd_event_source **ret, const char *path,
                        sd_event_inotify_handler_t callback, void *userdata) {
        _cleanup_free_ char *events = NULL;
        int r;

        assert(e);
        assert(ret);
        assert(path);
        assert(callback);

        if (asprintf(&events, "%s/cgroup.events", path) < 0)
                return -ENOMEM;
        r = sd_event_add_inotify(e, ret, events, IN_MODIFY, callback, userdata);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(*ret, "cgroup-events");
        return 0;
}
