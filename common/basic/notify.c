/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "macro.h"
#include "notify.h"

static int notify_fd = -EBADF;

void notify_reset(void) {
        notify_fd = safe_close(notify_fd);
}

/* The socket connected to $NOTIFY_SOCKET: 0, -ENOENT without one, -EAFNOSUPPORT for an address
 * that is not a path or an abstract name (sd_notify() knows more), or the error. */
static int notify_connect(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *e = getenv("NOTIFY_SOCKET");
        socklen_t len;
        size_t n;
        int fd;

        if (!e || !*e)
                return -ENOENT;
        if (e[0] != '/' && e[0] != '@')
                return -EAFNOSUPPORT;
        n = strlen(e);
        /* A path needs room for its NUL, an abstract name does not. */
        if (n > sizeof sa.sun_path || (e[0] == '/' && n == sizeof sa.sun_path))
                return -EINVAL;
        memcpy(sa.sun_path, e, n);
        if (e[0] == '@')
                sa.sun_path[0] = 0;
        len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + (e[0] == '/'));

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, len) < 0) {
                int r = -errno;

                safe_close(fd);
                return r;
        }
        notify_fd = fd;
        return 0;
}

int notify_text(const char *text) {
        int r;

        assert(text);

        if (notify_fd < 0) {
                r = notify_connect();
                if (r == -ENOENT)
                        return 0;
                if (r < 0)
                        return sd_notify(false, text);
        }
        if (send(notify_fd, text, strlen(text), MSG_NOSIGNAL) >= 0)
                return 1;
        r = -errno;
        if (r == -EAGAIN)
                return r;
        /* The manager's socket went away, or ours is broken: a new one next time. */
        notify_reset();
        return sd_notify(false, text);
}
