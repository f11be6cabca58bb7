/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "macro.h"
#include "socket-util.h"
#include "strv.h"

static void freeaddrinfop(struct addrinfo **ai) {
        if (*ai)
                freeaddrinfo(*ai);
}

int socket_listen_address(const char *address, int *ret_fd) {
        struct addrinfo hints = { .ai_family = AF_UNSPEC,
                                  .ai_socktype = SOCK_STREAM,
                                  .ai_flags = AI_PASSIVE };
        _cleanup_(freeaddrinfop) struct addrinfo *ai = NULL;
        _cleanup_free_ char *host = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *port, *colon;
        int r, one = 1;

        assert(address);
        assert(ret_fd);

        colon = strrchr(address, ':');
        if (!colon) {
                port = address;
        } else {
                const char *h = address;
                size_t len = (size_t) (colon - address);

                if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
                        h++;
                        len -= 2;
                }
                host = len > 0 ? strndup(h, len) : NULL;
                if (len > 0 && !host)
                        return -ENOMEM;
                port = colon + 1;
        }
        if (!*port)
                return -EINVAL;

        r = getaddrinfo(host, port, &hints, &ai);
        if (r != 0)
                return r == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;

        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int socket_activation_fds(int *ret_bad_fd, char ***ret_names) {
        char **names = NULL;
        int n, r;

        assert(ret_bad_fd);

        n = sd_listen_fds_with_names(true, &names);
        if (n <= 0) {
                strv_free(names);
                if (ret_names)
                        *ret_names = NULL;
                return n;
        }
        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
                r = sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0);
                if (r == 0)
                        r = -EPROTOTYPE;
                if (r < 0) {
                        strv_free(names);
                        *ret_bad_fd = fd;
                        return r;
                }
        }
        if (ret_names)
                *ret_names = names;
        else
                strv_free(names);
        return n;
}

bool sockaddr_is_loopback(const struct sockaddr_storage *sa) {
        assert(sa);

        switch (sa->ss_family) {
        case AF_UNIX:
                return true;
        case AF_INET:
                return (ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr) >> 24) == 127;
        case AF_INET6: {
                const struct in6_addr *a = &((const struct sockaddr_in6 *) sa)->sin6_addr;

                return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
        }
        default:
                return false;
        }
}

int socket_is_loopback(int fd) {
        struct sockaddr_storage sa = {};
        socklen_t len = sizeof sa;

        if (getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                return -errno;
        return sockaddr_is_loopback(&sa);
}
