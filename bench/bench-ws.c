/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench-ws.h"
#include "ws.h"
#include "macro.h"

/* A fixed key, and the Sec-WebSocket-Accept it must get: base64(SHA-1(key + RFC 6455's GUID)). */
#define HANDSHAKE_KEY    "c2NoZWQtYmVuY2gta2V5MQ=="
#define HANDSHAKE_ACCEPT "BWvNrVt4EevEguQSmAtvc+CjZkk="
#define ANSWER_MAX       2048

static const unsigned char mask_key[4] = { 0x5a, 0xc3, 0x17, 0x88 };

static int write_all(int fd, const void *buf, size_t size) {
        const char *p = buf;

        while (size > 0) {
                ssize_t n = send(fd, p, size, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

static int connect_any(const char *host, const char *port, uint64_t timeout_ns) {
        struct addrinfo hints = { .ai_family = AF_UNSPEC,
                                  .ai_socktype = SOCK_STREAM,
                                  .ai_flags = AI_NUMERICSERV };
        struct timeval tv = { .tv_sec = (time_t) (timeout_ns / 1000000000),
                              .tv_usec = (suseconds_t) (timeout_ns % 1000000000 / 1000) };
        struct addrinfo *list = NULL;
        int r, fd = -ECONNREFUSED;

        r = getaddrinfo(host, port, &hints, &list);
        if (r != 0)
                return r == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
        for (struct addrinfo *a = list; a; a = a->ai_next) {
                fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
                if (fd < 0) {
                        fd = -errno;
                        continue;
                }
                /* Bound the handshake's every step; connect() obeys SO_SNDTIMEO. */
                (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
                if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
                        break;
                r = -errno;
                close(fd);
                fd = r;
        }
        freeaddrinfo(list);
        return fd;
}

/* The answer's head up to its blank line: 101, and the Accept of our key. */
static int read_answer(int fd, void *rest, size_t rest_max, size_t *ret_rest) {
        char buf[ANSWER_MAX + 1];
        size_t n = 0;

        while (n < ANSWER_MAX) {
                ssize_t k = recv(fd, buf + n, ANSWER_MAX - n, 0);
                const char *end, *accept;

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? -errno : -ECONNRESET;
                n += (size_t) k;
                buf[n] = 0;
                end = strstr(buf, "\r\n\r\n");
                if (!end)
                        continue;
                end += 4;
                if (strncmp(buf, "HTTP/1.1 101", 12) != 0)
                        return -EPROTO;
                accept = strcasestr(buf, "\r\nSec-WebSocket-Accept:");
                if (!accept || accept > end)
                        return -EPROTO;
                accept += strlen("\r\nSec-WebSocket-Accept:");
                accept += strspn(accept, " \t");
                if (strncmp(accept, HANDSHAKE_ACCEPT, strlen(HANDSHAKE_ACCEPT)) != 0)
                        return -EPROTO;
                if ((size_t) (buf + n - end) > rest_max)
                        return -ENOBUFS;
                *ret_rest = (size_t) (buf + n - end);
                memcpy(rest, end, *ret_rest);
                return 0;
        }
        return -EPROTO;
}

int bench_ws_connect(const char *url, uint64_t timeout_ns, void *rest, size_t rest_max, size_t *ret_rest) {
        char host[256], port[16], path[512], request[1024];
        _cleanup_close_ int fd = -EBADF;
        int n, r;

        int port_number;
        bool tls;

        r = ws_parse_url(url, host, sizeof host, &port_number, path, sizeof path, &tls);
        if (r < 0)
                return r;
        if (tls)
                return -EPROTONOSUPPORT; /* raw sockets only */
        (void) snprintf(port, sizeof port, "%d", port_number);
        fd = connect_any(host, port, timeout_ns);
        if (fd < 0)
                return fd;
        /* Host as in the URL (brackets again for an IPv6 address), as a browser sends it. */
        n = snprintf(request, sizeof request,
                     "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " HANDSHAKE_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     path, strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port);
        if (n < 0 || (size_t) n >= sizeof request)
                return -EINVAL;
        r = write_all(fd, request, (size_t) n);
        if (r >= 0)
                r = read_answer(fd, rest, rest_max, ret_rest);
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}

size_t bench_ws_client_header(unsigned char *p, unsigned opcode, uint64_t size) {
        size_t n = 0;

        p[n++] = (unsigned char) (0x80 | (opcode & 0xf)); /* FIN */
        if (size < 126)
                p[n++] = (unsigned char) (0x80 | size);
        else if (size < 65536) {
                p[n++] = 0x80 | 126;
                p[n++] = (unsigned char) (size >> 8);
                p[n++] = (unsigned char) size;
        } else {
                p[n++] = 0x80 | 127;
                for (int shift = 56; shift >= 0; shift -= 8)
                        p[n++] = (unsigned char) (size >> shift);
        }
        memcpy(p + n, mask_key, 4);
        return n + 4;
}

void bench_ws_mask(void *dst, const void *src, size_t size) {
        unsigned char *d = dst;
        const unsigned char *s = src;
        uint64_t m8;
        size_t i = 0;

        /* Eight bytes at a time: the key repeats every four, so every word takes the same mask. */
        memcpy(&m8, mask_key, 4);
        memcpy((unsigned char *) &m8 + 4, mask_key, 4);
        for (; i + 8 <= size; i += 8) {
                uint64_t w;

                memcpy(&w, s + i, 8);
                w ^= m8;
                memcpy(d + i, &w, 8);
        }
        for (; i < size; i++)
                d[i] = s[i] ^ mask_key[i & 3];
}

int bench_ws_parse_header(const void *data, size_t avail, BenchWsFrame *ret) {
        const unsigned char *p = data;
        uint64_t size;
        size_t n;

        if (avail < 2)
                return 0;
        if ((p[0] & 0x70) || (p[1] & 0x80)) /* reserved bits (no extension was agreed), a masked frame */
                return -EPROTO;
        *ret = (BenchWsFrame){ .fin = p[0] & 0x80, .opcode = p[0] & 0x0f };
        size = p[1] & 0x7f;
        n = 2;
        if (size == 126) {
                if (avail < 4)
                        return 0;
                size = (uint64_t) p[2] << 8 | p[3];
                n = 4;
        } else if (size == 127) {
                if (avail < 10)
                        return 0;
                size = 0;
                for (unsigned i = 2; i < 10; i++)
                        size = size << 8 | p[i];
                if (size >> 63)
                        return -EPROTO;
                n = 10;
        }
        switch (ret->opcode) {
        case BENCH_WS_CONTINUATION:
        case BENCH_WS_TEXT:
        case BENCH_WS_BINARY:
                break;
        case BENCH_WS_CLOSE:
        case BENCH_WS_PING:
        case BENCH_WS_PONG:
                if (!ret->fin || size > 125)
                        return -EPROTO;
                break;
        default:
                return -EPROTO;
        }
        ret->header_size = n;
        ret->size = size;
        return 1;
}
