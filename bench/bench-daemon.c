/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-daemon.h"
#include "bench-util.h"

#define NOTIFY_DATAGRAM_MAX 4096
#define STATUS_MAX          512
#define STOP_TIMEOUT_NS     (5 * NSEC_PER_SEC)

struct BenchDaemon {
        pid_t pid;
        int notify_fd;
        char notify_path[108];
        sd_event_source *notify_source;
        bench_status_t on_status;
        void *userdata;

        bool ready;
        unsigned n_watchdog, n_datagrams;
        char status[STATUS_MAX];
};

/* SCHED_BENCH_WRAP="NAME=COMMAND ARGS": the daemon whose file name is NAME runs under COMMAND ARGS
 * (a profiler: "sched-bus=perf record -g -o /tmp/bus.data --"). For profiling only: the figures the
 * benchmarks read from /proc are then the wrapper's. Returns argv itself when nothing applies. */
static char **wrap_argv(char *const argv[]) {
        const char *spec = getenv("SCHED_BENCH_WRAP"), *base = strrchr(argv[0], '/');
        size_t n = 0, w = 0, name_len;
        char *copy, **v, *save = NULL;

        base = base ? base + 1 : argv[0];
        name_len = strlen(base);
        if (!spec || strncmp(spec, base, name_len) != 0 || spec[name_len] != '=')
                return (char **) argv;
        copy = strdup(spec + name_len + 1);
        while (argv[n])
                n++;
        v = calloc(n + strlen(spec) + 1, sizeof(char *));
        if (!copy || !v)
                _exit(127);
        for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
                v[w++] = tok;
        for (size_t i = 0; i < n; i++)
                v[w++] = argv[i];
        return v; /* lives until the exec */
}

static _noreturn_ void child_exec(char *const argv[], int listen_fd, const char *stderr_path,
                                  const char *notify_path, char *const env_extra[], pid_t parent) {
        char pid[32];
        sigset_t none;
        int fd;

        /* A benchmark killed outright takes its daemons with it (SIGTERM: they stop as under
         * systemd), rather than leaving them listening. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                _exit(127);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        fd = open(stderr_path ?: "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0)
                _exit(127);
        if (listen_fd >= 0) {
                if (listen_fd != 3 && dup2(listen_fd, 3) < 0)
                        _exit(127);
                (void) fcntl(3, F_SETFD, 0);
                (void) snprintf(pid, sizeof pid, "%d", (int) getpid());
                (void) setenv("LISTEN_FDS", "1", 1);
                (void) setenv("LISTEN_PID", pid, 1);
        } else {
                (void) unsetenv("LISTEN_FDS");
                (void) unsetenv("LISTEN_PID");
        }
        (void) setenv("NOTIFY_SOCKET", notify_path, 1);
        (void) unsetenv("JOURNAL_STREAM");
        for (char *const *e = env_extra; e && *e; e++)
                (void) putenv(*e);
        {
                char **v = wrap_argv(argv);

                execvp(v[0], v);
        }
        _exit(127);
}

static int notify_socket_open(BenchDaemon *d) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        static unsigned counter;
        int rcvbuf = 4 * 1024 * 1024;

        (void) snprintf(d->notify_path, sizeof d->notify_path, "/tmp/sched-bench-notify-%d-%u",
                        (int) getpid(), counter++);
        d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (d->notify_fd < 0)
                return -errno;
        /* Room for bursts of STATUS= while the benchmark is busy elsewhere. */
        (void) setsockopt(d->notify_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        (void) unlink(d->notify_path);
        memcpy(sa.sun_path, d->notify_path, strlen(d->notify_path) + 1);
        if (bind(d->notify_fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;
        return 0;
}

int bench_daemon_spawn(BenchDaemon **ret, char *const argv[], int listen_fd, const char *stderr_path,
                       char *const env_extra[]) {
        _cleanup_(bench_daemon_freep) BenchDaemon *d = calloc(1, sizeof *d);
        pid_t parent;
        int r;

        if (!d)
                return -ENOMEM;
        d->pid = -1;
        r = notify_socket_open(d);
        if (r < 0)
                return r;

        fflush(stdout);
        parent = getpid();
        d->pid = fork();
        if (d->pid < 0)
                return -errno;
        if (d->pid == 0)
                child_exec(argv, listen_fd, stderr_path, d->notify_path, env_extra, parent);
        *ret = TAKE_PTR(d);
        return 0;
}

static void bench_daemon_handle_line(BenchDaemon *d, const char *line, size_t len) {
        if (len == 7 && memcmp(line, "READY=1", 7) == 0)
                d->ready = true;
        else if (len == 10 && memcmp(line, "WATCHDOG=1", 10) == 0)
                d->n_watchdog++;
        else if (len >= 7 && memcmp(line, "STATUS=", 7) == 0) {
                (void) snprintf(d->status, sizeof d->status, "%.*s", (int) (len - 7), line + 7);
                if (d->on_status)
                        d->on_status(d, d->status, bench_now_ns(), d->userdata);
        }
}

void bench_daemon_drain(BenchDaemon *d) {
        char buf[NOTIFY_DATAGRAM_MAX + 1];
        ssize_t n;

        while ((n = recv(d->notify_fd, buf, NOTIFY_DATAGRAM_MAX, 0)) > 0) {
                buf[n] = 0;
                d->n_datagrams++;
                for (const char *line = buf; *line;) {
                        size_t len = strcspn(line, "\n");

                        bench_daemon_handle_line(d, line, len);
                        line += len + (line[len] == '\n');
                }
        }
}

int bench_daemon_wait_ready(BenchDaemon *d, int timeout_ms) {
        uint64_t deadline = bench_now_ns() + (uint64_t) timeout_ms * NSEC_PER_MSEC;

        for (;;) {
                struct pollfd p = { .fd = d->notify_fd, .events = POLLIN };
                int status;

                bench_daemon_drain(d);
                if (d->ready)
                        return 0;
                if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
                        d->pid = -1;
                        return -ECHILD;
                }
                if (bench_now_ns() >= deadline)
                        return -ETIMEDOUT;
                (void) poll(&p, 1, 50);
        }
}

static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        bench_daemon_drain(userdata);
        return 0;
}

int bench_daemon_attach(BenchDaemon *d, sd_event *e, bench_status_t cb, void *userdata) {
        int r;

        d->on_status = cb;
        d->userdata = userdata;
        if (d->notify_source)
                return 0;
        r = sd_event_add_io(e, &d->notify_source, d->notify_fd, EPOLLIN, on_notify, d);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(d->notify_source, "bench-notify");
        return 0;
}

static void bench_daemon_stop(BenchDaemon *d) {
        uint64_t deadline = bench_now_ns() + STOP_TIMEOUT_NS;
        int status;

        if (d->pid <= 0)
                return;
        (void) kill(d->pid, SIGTERM);
        while (waitpid(d->pid, &status, WNOHANG) != d->pid) {
                if (bench_now_ns() >= deadline) {
                        (void) kill(d->pid, SIGKILL);
                        (void) waitpid(d->pid, &status, 0);
                        break;
                }
                /* Keep draining: a daemon blocked on a full notify queue could not exit. */
                bench_daemon_drain(d);
                bench_sleep_ns(2 * NSEC_PER_MSEC);
        }
        d->pid = -1;
}

BenchDaemon *bench_daemon_free(BenchDaemon *d) {
        if (!d)
                return NULL;
        bench_daemon_stop(d);
        sd_event_source_disable_unref(d->notify_source);
        safe_close(d->notify_fd);
        if (d->notify_path[0])
                (void) unlink(d->notify_path);
        return mfree(d);
}

pid_t bench_daemon_pid(BenchDaemon *d) {
        return d->pid;
}

const char *bench_daemon_status(BenchDaemon *d) {
        return d->status;
}

unsigned bench_daemon_n_watchdog(BenchDaemon *d) {
        return d->n_watchdog;
}

unsigned bench_daemon_n_datagrams(BenchDaemon *d) {
        return d->n_datagrams;
}

long long bench_status_number(const char *status, const char *key) {
        size_t klen = strlen(key);

        for (const char *p = status; (p = strstr(p, key)); p += klen) {
                /* A whole word: "done" must not match inside "undone". */
                if (p != status && p[-1] != ' ' && p[-1] != ',')
                        continue;
                if (p[klen] == ' ' && p[klen + 1] >= '0' && p[klen + 1] <= '9')
                        return strtoll(p + klen + 1, NULL, 10);
        }
        return -1;
}

int bench_listen_tcp(int *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        _cleanup_close_ int fd = -EBADF;
        socklen_t len = sizeof sa;
        int one = 1;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        /* A deep backlog: the memory benchmark opens thousands of connections in a row. */
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 8192) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                return -errno;
        *ret_port = ntohs(sa.sin_port);
        return TAKE_FD(fd);
}

int bench_daemon_start_bus(BenchDaemon **ret, const char *binary, char *const extra_args[],
                           const char *stderr_path, char *ret_url, size_t url_size) {
        _cleanup_(bench_daemon_freep) BenchDaemon *d = NULL;
        _cleanup_close_ int fd = -EBADF;
        char *argv[32];
        size_t n = 0;
        int port, r;

        fd = bench_listen_tcp(&port);
        if (fd < 0)
                return fd;
        argv[n++] = (char *) binary;
        for (char *const *a = extra_args; a && *a && n < ELEMENTSOF(argv) - 1; a++)
                argv[n++] = *a;
        argv[n] = NULL;

        r = bench_daemon_spawn(&d, argv, fd, stderr_path, NULL);
        if (r < 0)
                return r;
        r = bench_daemon_wait_ready(d, 10000);
        if (r < 0)
                return r;
        (void) snprintf(ret_url, url_size, "ws://127.0.0.1:%d", port);
        *ret = TAKE_PTR(d);
        return 0;
}
