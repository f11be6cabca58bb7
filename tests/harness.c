/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "macro.h"

extern char **environ;

long long harness_now_ms(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A daemon's notify socket and log, on the heap and in one list, so that a test that fails before
 * its daemon_cleanup() leaves nothing dangling: the sink is read until the process ends. */
struct NotifySink {
        int fd;
        char *log; /* every notify datagram received so far, "\n"-separated */
        size_t size;
        NotifySink *next;
};

static NotifySink *sinks;

static void sink_drain(NotifySink *k) {
        char buf[HARNESS_NOTIFY_MAX + 1];
        ssize_t n;

        while (k && k->fd >= 0 && (n = recv(k->fd, buf, HARNESS_NOTIFY_MAX, 0)) > 0) {
                char *p = realloc(k->log, k->size + (size_t) n + 2);

                if (!p)
                        abort();
                k->log = p;
                memcpy(p + k->size, buf, (size_t) n);
                k->size += (size_t) n;
                p[k->size++] = '\n';
                p[k->size] = 0;
        }
}

void harness_drain_notify(void) {
        for (NotifySink *k = sinks; k; k = k->next)
                sink_drain(k);
}

static void sink_free(NotifySink *k) {
        if (!k)
                return;
        for (NotifySink **p = &sinks; *p; p = &(*p)->next)
                if (*p == k) {
                        *p = k->next;
                        break;
                }
        safe_close(k->fd);
        free(k->log);
        free(k);
}

void harness_sleep_ms(int ms) {
        long long deadline = harness_now_ms() + ms;

        /* In steps, reading the daemons' notify sockets in between. */
        for (long long left = ms; left > 0; left = deadline - harness_now_ms()) {
                struct timespec ts = { .tv_sec = 0, .tv_nsec = (long) MIN(left, 20LL) * 1000000L };

                harness_drain_notify();
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
        }
        harness_drain_notify();
}

int harness_listen_tcp(int *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof sa;
        int fd, one = 1;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 512) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &len) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        if (ret_port)
                *ret_port = ntohs(sa.sin_port);
        return fd;
}

int harness_free_port(void) {
        int port = 0, fd = harness_listen_tcp(&port);

        if (fd < 0)
                return fd;
        close(fd);
        return port;
}

static char **build_argv(char *const argv[]) {
        const char *wrapper = getenv("SCHED_TEST_WRAPPER");
        size_t n = 0, w = 0, i = 0;
        char **v, *copy = NULL;

        while (argv[n])
                n++;
        if (wrapper && *wrapper) {
                copy = strdup(wrapper);
                for (char *s = copy; (s = strchr(s, ' ')); s++)
                        w++;
                w++;
        }
        v = calloc(n + w + 1, sizeof(char *));
        if (!v)
                abort();
        if (copy)
                for (char *save = NULL, *tok = strtok_r(copy, " ", &save); tok;
                     tok = strtok_r(NULL, " ", &save))
                        v[i++] = tok;
        for (size_t k = 0; k < n; k++)
                v[i++] = argv[k];
        v[i] = NULL;
        return v; /* leaks `copy` into the child image only */
}

static _noreturn_ void child_exec(char *const argv[], int listen_fd, int log_fd, const char *notify_path,
                                  char *const env_extra[], pid_t parent) {
        char pid[32];
        sigset_t all;

        /* A test that ends, however (a failed assertion in a teardown skips the rest of it), takes its
         * daemons with it: SIGTERM, so that they stop as under systemd. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                _exit(127);
        sigemptyset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);
        if (dup2(log_fd, STDERR_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0)
                _exit(127);
        if (listen_fd >= 0) {
                if (listen_fd != 3 && dup2(listen_fd, 3) < 0)
                        _exit(127);
                (void) fcntl(3, F_SETFD, 0);
                (void) snprintf(pid, sizeof pid, "%d", (int) getpid());
                setenv("LISTEN_FDS", "1", 1);
                setenv("LISTEN_PID", pid, 1);
        } else {
                unsetenv("LISTEN_FDS");
                unsetenv("LISTEN_PID");
        }
        setenv("NOTIFY_SOCKET", notify_path, 1);
        unsetenv("JOURNAL_STREAM");
        for (char *const *e = env_extra; e && *e; e++)
                (void) putenv(*e);

        char **v = build_argv(argv);
        execvp(v[0], v);
        _exit(127);
}

int daemon_spawn(Daemon *d, char *const argv[], int listen_fd, char *const env_extra[]) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        static unsigned counter;
        int log_fd, one = 1;
        pid_t parent;

        *d = (Daemon){ .pid = -1, .exit_status = -1 };
        (void) snprintf(d->notify_path, sizeof d->notify_path, "/tmp/sched-test-notify-%d-%u",
                        (int) getpid(), counter);
        (void) snprintf(d->log_path, sizeof d->log_path, "/tmp/sched-test-log-%d-%u", (int) getpid(),
                        counter);
        counter++;

        d->notify = calloc(1, sizeof(NotifySink));
        if (!d->notify)
                return -ENOMEM;
        d->notify->next = sinks;
        sinks = d->notify;
        d->notify->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (d->notify->fd < 0)
                return -errno;
        (void) unlink(d->notify_path);
        memcpy(sa.sun_path, d->notify_path, strlen(d->notify_path) + 1);
        if (bind(d->notify->fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;
        (void) setsockopt(d->notify->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
        /* Bytes are not what fills it (the queue length is, see harness_drain_notify()), but room
         * for a burst costs nothing. */
        int size = 4 * 1024 * 1024;
        if (setsockopt(d->notify->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
                (void) setsockopt(d->notify->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);

        log_fd = open(d->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0600);
        if (log_fd < 0)
                return -errno;

        parent = getpid();
        d->pid = fork();
        if (d->pid < 0) {
                close(log_fd);
                return -errno;
        }
        if (d->pid == 0)
                child_exec(argv, listen_fd, log_fd, d->notify_path, env_extra, parent);

        close(log_fd);
        return 0;
}

static void notify_drain(Daemon *d) {
        sink_drain(d->notify);
}

/* Finds the last line starting with `prefix` and containing `needle` in the notify log. */
static const char *notify_find(Daemon *d, const char *prefix, const char *needle, size_t *ret_len) {
        const char *found = NULL;
        size_t plen = strlen(prefix);

        for (const char *line = d->notify ? d->notify->log : NULL; line && *line;) {
                const char *end = strchr(line, '\n');
                size_t len = end ? (size_t) (end - line) : strlen(line);

                if (len >= plen && strncmp(line, prefix, plen) == 0) {
                        if (!needle || memmem(line, len, needle, strlen(needle))) {
                                found = line;
                                *ret_len = len;
                        }
                }
                line = end ? end + 1 : line + len;
        }
        return found;
}

static int wait_notify(Daemon *d, const char *prefix, const char *needle, int timeout_ms, char *buf,
                       size_t size) {
        long long deadline = harness_now_ms() + timeout_ms;

        for (;;) {
                struct pollfd p = { .fd = d->notify ? d->notify->fd : -1, .events = POLLIN };
                const char *line;
                size_t len = 0;
                long long left;

                notify_drain(d);
                line = notify_find(d, prefix, needle, &len);
                if (line) {
                        if (buf && size > 0) {
                                len = MIN(len, size - 1);
                                memcpy(buf, line, len);
                                buf[len] = 0;
                        }
                        return 0;
                }
                left = deadline - harness_now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                harness_drain_notify();
                (void) poll(&p, 1, (int) MIN(left, 20));
        }
}

int daemon_wait_notify(Daemon *d, const char *prefix, int timeout_ms, char *buf, size_t size) {
        return wait_notify(d, prefix, NULL, timeout_ms, buf, size);
}

int daemon_wait_status(Daemon *d, const char *needle, int timeout_ms) {
        return wait_notify(d, "STATUS=", needle, timeout_ms, NULL, 0);
}

char *daemon_read_log(Daemon *d) {
        FILE *f = fopen(d->log_path, "re");
        char *buf = NULL;
        size_t size = 0;

        if (!f)
                return strdup("");
        if (getdelim(&buf, &size, 0, f) < 0) {
                free(buf);
                buf = strdup("");
        }
        fclose(f);
        return buf;
}

unsigned daemon_count_log(Daemon *d, const char *needle) {
        _cleanup_free_ char *log = daemon_read_log(d);
        unsigned n = 0;

        for (const char *p = log; p && (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

int daemon_wait_log(Daemon *d, const char *needle, unsigned count, int timeout_ms) {
        long long deadline = harness_now_ms() + timeout_ms;

        while (daemon_count_log(d, needle) < count) {
                if (harness_now_ms() >= deadline)
                        return -ETIMEDOUT;
                harness_sleep_ms(10);
        }
        return 0;
}

static int shell_status(int status) {
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
}

int daemon_stop(Daemon *d, int sig, int timeout_ms) {
        long long deadline = harness_now_ms() + timeout_ms;
        int status;

        if (d->pid <= 0)
                return d->exit_status;
        if (sig > 0)
                (void) kill(d->pid, sig);
        for (;;) {
                pid_t r = waitpid(d->pid, &status, WNOHANG);

                if (r == d->pid) {
                        d->pid = -1;
                        d->exit_status = shell_status(status);
                        notify_drain(d);
                        return d->exit_status;
                }
                if (harness_now_ms() >= deadline) {
                        (void) kill(d->pid, SIGKILL);
                        (void) waitpid(d->pid, &status, 0);
                        d->pid = -1;
                        return -ETIMEDOUT;
                }
                notify_drain(d);
                harness_sleep_ms(5);
        }
}

int daemon_poll(Daemon *d) {
        int status;

        if (d->pid <= 0)
                return d->exit_status;
        if (waitpid(d->pid, &status, WNOHANG) != d->pid)
                return -EAGAIN;
        d->pid = -1;
        d->exit_status = shell_status(status);
        notify_drain(d);
        return d->exit_status;
}

void daemon_cleanup(Daemon *d) {
        if (d->pid > 0)
                (void) daemon_stop(d, SIGKILL, 5000);
        sink_free(d->notify);
        d->notify = NULL;
        if (d->notify_path[0])
                (void) unlink(d->notify_path);
        if (d->log_path[0] && !getenv("SCHED_TEST_KEEP_LOGS"))
                (void) unlink(d->log_path);
        d->notify_path[0] = d->log_path[0] = 0;
}

bool harness_pid_alive(pid_t pid) {
        char path[64], state = 0;
        FILE *f;

        (void) snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        /* Field 3 is the state; a zombie has done its work. */
        if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
                state = 0;
        fclose(f);
        return state != 0 && state != 'Z' && state != 'X';
}

static bool test_name_matches(const char *name, const char *pattern) {
        size_t n = strlen(pattern);

        if (n > 0 && pattern[n - 1] == '*')
                return strncmp(name, pattern, n - 1) == 0;
        return strcmp(name, pattern) == 0;
}

static size_t select_tests(struct CMUnitTest *tests, size_t n, int argc, char *argv[]) {
        size_t kept = 0;

        if (argc <= 1)
                return n;
        for (int a = 1; a < argc; a++) {
                bool found = false;

                for (size_t i = 0; i < n; i++)
                        found |= test_name_matches(tests[i].name, argv[a]);
                if (!found) {
                        fprintf(stderr, "No test matches '%s'.\n", argv[a]);
                        exit(1);
                }
        }
        for (size_t i = 0; i < n; i++)
                for (int a = 1; a < argc; a++)
                        if (test_name_matches(tests[i].name, argv[a])) {
                                tests[kept++] = tests[i];
                                break;
                        }
        return kept;
}

int harness_run_tests(const char *name, struct CMUnitTest *tests, size_t n, int (*setup)(void **state),
                      int (*teardown)(void **state), int argc, char *argv[]) {
        for (size_t i = 0; i < n; i++)
                if (!tests[i].setup_func && !tests[i].teardown_func) {
                        tests[i].setup_func = setup;
                        tests[i].teardown_func = teardown;
                }
        n = select_tests(tests, n, argc, argv);
        return _cmocka_run_group_tests(name, tests, n, NULL, NULL);
}

size_t harness_raw_ws_frame(uint8_t *out, int opcode, bool fin, const void *data, size_t size) {
        static const uint8_t mask[4] = { 0x11, 0x22, 0x33, 0x44 };
        size_t h = 0;

        out[h++] = (uint8_t) ((fin ? 0x80 : 0) | (opcode & 0x0f));
        if (size < 126)
                out[h++] = (uint8_t) (0x80 | size);
        else if (size <= 0xffff) {
                out[h++] = 0x80 | 126;
                out[h++] = (uint8_t) (size >> 8);
                out[h++] = (uint8_t) size;
        } else {
                out[h++] = 0x80 | 127;
                for (int i = 7; i >= 0; i--)
                        out[h++] = (uint8_t) ((uint64_t) size >> (8 * i));
        }
        memcpy(out + h, mask, 4);
        h += 4;
        for (size_t i = 0; i < size; i++)
                out[h + i] = ((const uint8_t *) data)[i] ^ mask[i % 4];
        return h + size;
}

int harness_raw_ws_send(int fd, int opcode, bool fin, const void *data, size_t size) {
        _cleanup_free_ uint8_t *frame = malloc(size + 14);
        size_t n;

        if (!frame)
                return -ENOMEM;
        n = harness_raw_ws_frame(frame, opcode, fin, data, size);
        for (size_t off = 0; off < n;) {
                ssize_t k = send(fd, frame + off, n - off, MSG_NOSIGNAL);
                if (k < 0)
                        return -errno;
                off += (size_t) k;
        }
        return 0;
}

static int read_exact(int fd, void *buf, size_t size, long long deadline, void (*wait)(void *userdata),
                      void *userdata) {
        for (size_t off = 0; off < size;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                long long left = deadline - harness_now_ms();
                ssize_t k;

                if (left <= 0)
                        return -ETIMEDOUT;
                if (poll(&p, 1, wait ? 0 : (int) left) <= 0) {
                        if (!wait)
                                return -ETIMEDOUT;
                        wait(userdata);
                        continue;
                }
                k = read(fd, (uint8_t *) buf + off, size - off);
                if (k <= 0)
                        return -ECONNRESET;
                off += (size_t) k;
        }
        return 0;
}

int harness_raw_ws_handshake(int fd, int timeout_ms, void (*wait)(void *userdata), void *userdata) {
        static const char request[] = "GET / HTTP/1.1\r\n"
                                      "Host: 127.0.0.1\r\n"
                                      "Upgrade: websocket\r\n"
                                      "Connection: Upgrade\r\n"
                                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                      "Sec-WebSocket-Version: 13\r\n\r\n";
        long long deadline = harness_now_ms() + timeout_ms;
        char buf[4096];
        size_t n = 0;
        ssize_t k;

        k = send(fd, request, sizeof request - 1, MSG_NOSIGNAL);
        if (k != (ssize_t) sizeof request - 1)
                return k < 0 ? -errno : -EIO;
        /* Read the response headers byte by byte so that no frame byte is swallowed. */
        while (n < 4 || memcmp(buf + n - 4, "\r\n\r\n", 4) != 0) {
                int r;

                if (n == sizeof buf - 1)
                        return -EPROTO;
                r = read_exact(fd, buf + n, 1, deadline, wait, userdata);
                if (r < 0)
                        return r;
                n++;
        }
        buf[n] = 0;
        /* The accept key of RFC 6455's own example, which uses the same key. */
        if (!strstr(buf, " 101 ") || !strstr(buf, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
                return -EPROTO;
        return 0;
}

int harness_raw_ws_connect(int port) {
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd, r;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        r = connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0
                    ? -errno
                    : harness_raw_ws_handshake(fd, 10000, NULL, NULL);
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

int harness_raw_ws_read_frames(int fd, int timeout_ms, unsigned *ret_n_text, void (*wait)(void *userdata),
                               void *userdata) {
        long long deadline = harness_now_ms() + timeout_ms;
        unsigned n_text = 0;

        for (;;) {
                uint8_t head[2], ext[8], payload[4096];
                unsigned opcode;
                uint64_t len;
                int r;

                r = read_exact(fd, head, 2, deadline, wait, userdata);
                if (r < 0)
                        return r;
                opcode = head[0] & 0x0f;
                len = head[1] & 0x7f;
                if (len >= 126) {
                        size_t n = len == 126 ? 2 : 8;
                        r = read_exact(fd, ext, n, deadline, wait, userdata);
                        if (r < 0)
                                return r;
                        len = 0;
                        for (size_t i = 0; i < n; i++)
                                len = len << 8 | ext[i];
                }
                /* Server frames are not masked. A close frame has at most 125 bytes: all in payload. */
                for (uint64_t left = len; left > 0;) {
                        size_t n = MIN(left, sizeof payload);

                        r = read_exact(fd, payload, n, deadline, wait, userdata);
                        if (r < 0)
                                return r;
                        left -= n;
                }
                if (opcode == 8) {
                        if (ret_n_text)
                                *ret_n_text = n_text;
                        return len >= 2 ? (payload[0] << 8 | payload[1]) : 1005;
                }
                if (opcode == 1)
                        n_text++;
        }
}

int harness_raw_ws_read_close(int fd, int timeout_ms) {
        return harness_raw_ws_read_frames(fd, timeout_ms, NULL, NULL, NULL);
}
