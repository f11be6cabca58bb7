/* SPDX-License-Identifier: MIT */
/*
 * The spawn step of a Process, apart from its life on the event loop, so that nothing of the
 * daemon's signal state or environment handling leaks into the child. No state.
 *
 * On x86-64, spawn_vm() (spawn-vm.h): clone3() with CLONE_VM but without waiting for the exec, born in
 * the job's cgroup (CLONE_INTO_CGROUP) when it has one; an exec that fails there is the child's exit
 * status 127, with the reason on its stderr. Where that cannot be done (clone3 refused: systemd's
 * RestrictNamespaces= answers ENOSYS, as the flags cannot be inspected; no free slot), and elsewhere
 * than x86-64: posix_spawnp() without a cgroup, a fork into the cgroup with one (clone3 with
 * CLONE_INTO_CGROUP, or a child that moves itself there before anything else). These wait for the exec,
 * so that a failed one fails the start with its errno: a forked child makes async-signal-safe calls
 * only (setpgid, sigaction, sigprocmask, dup2, execve) and reports the failure through a close-on-exec
 * pipe, as posix_spawn does. The command is looked up in PATH and checked to be executable first on
 * every path, so that a missing command fails the start with -ENOENT.
 */
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "process-spawn.h"
#include "spawn-vm.h"

extern char **environ;

/* clone3 errors after which the fork fallback is tried: not there (ENOSYS, also what systemd's
 * seccomp filter answers), denied by a filter (EPERM), or CLONE_INTO_CGROUP unknown (EINVAL, E2BIG). */
#define IN_SET_CLONE3_REFUSED(e) ((e) == ENOSYS || (e) == EPERM || (e) == EINVAL || (e) == E2BIG)

/* Signals a daemon blocks or handles, whose ignored state a child must not inherit. */
static const int reset_signals[] = { SIGTERM, SIGINT, SIGCHLD, SIGHUP, SIGPIPE };

static bool env_same_key(const char *a, const char *b) {
        size_t n;

        assert(a);
        assert(b);

        n = strcspn(a, "=");
        return strncmp(a, b, n) == 0 && b[n] == '=';
}

/* The inherited environment without the keys env_extra sets, then env_extra. The strings are not
 * copied: the array only lives across the spawn. */
static int build_env(char *const *extra, char ***ret) {
        size_t n_environ = 0, n_extra = 0, n = 0;
        char **env;

        assert(extra);
        assert(ret);

        for (char **e = environ; e && *e; e++)
                n_environ++;
        for (char *const *x = extra; *x; x++)
                n_extra++;

        env = calloc(n_environ + n_extra + 1, sizeof(char *));
        if (!env)
                return -ENOMEM;
        for (char **e = environ; e && *e; e++) {
                bool overridden = false;

                for (char *const *x = extra; *x && !overridden; x++)
                        overridden = env_same_key(*x, *e);
                if (!overridden)
                        env[n++] = *e;
        }
        for (char *const *x = extra; *x; x++)
                env[n++] = *x;

        *ret = env;
        return 0;
}

static int spawn_attr_init(posix_spawnattr_t *attr) {
        sigset_t empty, dfl;
        int r;

        assert(attr);

        sigemptyset(&empty);
        sigemptyset(&dfl);
        for (size_t i = 0; i < ELEMENTSOF(reset_signals); i++)
                sigaddset(&dfl, reset_signals[i]);

        r = posix_spawnattr_init(attr);
        if (r != 0)
                return -r;
        /* Own group (pgid = pid, set before exec, so a kill(-pid) right after the spawn reaches it). */
        r = posix_spawnattr_setflags(attr,
                                     POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        if (r == 0)
                r = posix_spawnattr_setpgroup(attr, 0);
        if (r == 0)
                r = posix_spawnattr_setsigmask(attr, &empty);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(attr, &dfl);
        if (r != 0) {
                (void) posix_spawnattr_destroy(attr);
                return -r;
        }
        return 0;
}

static int spawn_output_init(posix_spawn_file_actions_t *actions, int fd) {
        int r;

        assert(actions);
        assert(fd >= 0);

        r = posix_spawn_file_actions_init(actions);
        if (r != 0)
                return -r;
        r = posix_spawn_file_actions_adddup2(actions, fd, STDOUT_FILENO);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(actions, fd, STDERR_FILENO);
        if (r != 0) {
                (void) posix_spawn_file_actions_destroy(actions);
                return -r;
        }
        return 0;
}

static int spawn_posix(char *const argv[], char *const env_extra[], int output_fd, pid_t *ret_pid) {
        _cleanup_free_ char **env = NULL;
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        int r;

        assert(argv);
        assert(argv[0]);
        assert(ret_pid);

        if (env_extra) {
                r = build_env(env_extra, &env);
                if (r < 0)
                        return r;
        }

        r = spawn_attr_init(&attr);
        if (r < 0)
                return r;
        if (output_fd >= 0) {
                r = spawn_output_init(&actions, output_fd);
                if (r < 0) {
                        (void) posix_spawnattr_destroy(&attr);
                        return r;
                }
        }

        r = -posix_spawnp(ret_pid, argv[0], output_fd >= 0 ? &actions : NULL, &attr, argv, env ?: environ);

        if (output_fd >= 0)
                (void) posix_spawn_file_actions_destroy(&actions);
        (void) posix_spawnattr_destroy(&attr);
        return r;
}

/* argv[0] looked up in PATH as execvp() would, before the clone: the child must not allocate. */
static int find_executable(const char *name, char **ret) {
        const char *path = getenv("PATH") ?: "/bin:/usr/bin";

        assert(name);
        assert(ret);

        if (strchr(name, '/')) {
                *ret = strdup(name);
                return *ret ? 0 : -ENOMEM;
        }
        for (const char *p = path, *end; *p; p = *end ? end + 1 : end) {
                _cleanup_free_ char *candidate = NULL;
                int n;

                end = strchrnul(p, ':');
                n = end == p ? asprintf(&candidate, "./%s", name)
                             : asprintf(&candidate, "%.*s/%s", (int) (end - p), p, name);
                if (n < 0)
                        return -ENOMEM;
                if (access(candidate, X_OK) >= 0) {
                        *ret = TAKE_PTR(candidate);
                        return 0;
                }
        }
        return -ENOENT;
}

/* What a forked child needs, made before the fork (the child must not allocate): the command's path,
 * checked to be executable, and the environment (NULL: environ). */
static int spawn_child_prepare(char *const argv[], char *const env_extra[], char **ret_path,
                               char ***ret_env) {
        _cleanup_free_ char *path = NULL;
        int r;

        assert(ret_path);
        assert(ret_env);

        r = find_executable(argv[0], &path);
        if (r < 0)
                return r;
        if (access(path, X_OK) < 0)
                return -errno;
        *ret_env = NULL;
        if (env_extra) {
                r = build_env(env_extra, ret_env);
                if (r < 0)
                        return r;
        }
        *ret_path = TAKE_PTR(path);
        return 0;
}

typedef struct SpawnChild {
        const char *path;
        char *const *argv;
        char *const *env;
        int output_fd;
        int procs_fd;  /* >= 0: cgroup.procs to move into first (the fork fallback) */
        int hold_fd;   /* >= 0: a held start, the exec waits for a byte on it */
        int holder_fd; /* >= 0: the other end, ours, closed in the child so that our close is EOF */
        int error_fd;  /* the pipe's write end; < 0: none (a held start does not wait for the exec) */
} SpawnChild;

/* In the child: async-signal-safe calls only. Returns only on failure, with errno set. */
static void spawn_child_exec(const SpawnChild *c) {
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        sigset_t empty;

        if (c->procs_fd >= 0 && write(c->procs_fd, "0", 1) != 1)
                return;
        if (setpgid(0, 0) < 0)
                return;
        for (size_t i = 0; i < ELEMENTSOF(reset_signals); i++)
                if (sigaction(reset_signals[i], &dfl, NULL) < 0)
                        return;
        sigemptyset(&empty);
        if (sigprocmask(SIG_SETMASK, &empty, NULL) < 0)
                return;
        if (c->output_fd >= 0 &&
            (dup2(c->output_fd, STDOUT_FILENO) < 0 || dup2(c->output_fd, STDERR_FILENO) < 0))
                return;
        if (c->hold_fd >= 0) {
                char go;
                ssize_t n;

                (void) close(c->holder_fd);
                while ((n = read(c->hold_fd, &go, 1)) < 0 && errno == EINTR)
                        ;
                if (n != 1) { /* let go of without a release: it was not meant to run */
                        errno = ECANCELED;
                        return;
                }
        }
        execve(c->path, c->argv, c->env);
}

static _noreturn_ void spawn_child(SpawnChild *c) {
        int error;

        spawn_child_exec(c);
        error = errno;
        if (c->error_fd >= 0)
                (void) !write(c->error_fd, &error, sizeof error);
        _exit(127);
}

/* A forked child running spawn_child(c), which moves itself into the cgroup `cgroup_fd` (if >= 0)
 * before anything else: the pid, or -1 with errno. */
static pid_t fork_child(int cgroup_fd, int *procs_fd, SpawnChild *c) {
        pid_t pid;

        assert(procs_fd);
        assert(c);

        if (cgroup_fd >= 0) {
                *procs_fd = openat(cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC | O_NOCTTY);
                if (*procs_fd < 0)
                        return -1;
                c->procs_fd = *procs_fd;
        }
        pid = fork();
        if (pid == 0)
                spawn_child(c);
        return pid;
}

/* A child of its own memory in the cgroup `cgroup_fd`, running spawn_child(c): the pid, or -1 with
 * errno. clone3 where it is allowed, else a fork that moves itself. */
static pid_t clone_forked(int cgroup_fd, int *procs_fd, SpawnChild *c) {
        assert(procs_fd);
        assert(c);

#if !defined(__x86_64__)
        struct clone_args args = {
                .flags = CLONE_INTO_CGROUP,
                .exit_signal = SIGCHLD,
                .cgroup = (uint64_t) cgroup_fd,
        };
        pid_t pid = (pid_t) syscall(SYS_clone3, &args, sizeof args);

        if (pid == 0)
                spawn_child(c);
        if (pid >= 0 || !IN_SET_CLONE3_REFUSED(errno))
                return pid;
#endif
        /* clone3 refused (seccomp, an old kernel): the child moves itself before anything else. */
        return fork_child(cgroup_fd, procs_fd, c);
}

/* The forked child's exec, waited for: EOF on a close-on-exec pipe once it happened, or its errno. */
static int spawn_forked(int cgroup_fd, SpawnChild *c, pid_t *ret_pid) {
        _cleanup_close_ int procs_fd = -EBADF;
        int pipe_fds[2], error = 0, r;
        ssize_t n;
        pid_t pid;

        if (pipe2(pipe_fds, O_CLOEXEC) < 0)
                return -errno;
        c->error_fd = pipe_fds[1];
        pid = clone_forked(cgroup_fd, &procs_fd, c);
        r = pid < 0 ? -errno : 0;
        (void) close(pipe_fds[1]);
        if (r < 0) {
                (void) close(pipe_fds[0]);
                return r;
        }
        while ((n = read(pipe_fds[0], &error, sizeof error)) < 0 && errno == EINTR)
                ;
        (void) close(pipe_fds[0]);
        if (n == (ssize_t) sizeof error) {
                /* It exits right after writing: this wait is as short as posix_spawn's own. */
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                return error > 0 ? -error : -EIO;
        }
        *ret_pid = pid;
        return 0;
}

/* A spawn that waits for the exec, into the cgroup `cgroup_fd` (< 0: none). On x86-64 the child
 * shares our memory until then; where that clone3 is refused, a fork (into a cgroup) or posix_spawn. */
static int spawn_waited(char *const argv[], char *const env_extra[], int output_fd, int cgroup_fd,
                        pid_t *ret_pid) {
        _cleanup_free_ char **env = NULL, *path = NULL;
        SpawnChild c;
        int r;

        r = spawn_child_prepare(argv, env_extra, &path, &env);
        if (r < 0)
                return r;
        c = (SpawnChild){ .path = path,
                          .argv = argv,
                          .env = env ?: environ,
                          .output_fd = output_fd,
                          .procs_fd = -EBADF,
                          .hold_fd = -EBADF,
                          .holder_fd = -EBADF,
                          .error_fd = -EBADF };
        r = spawn_vm(path, argv, c.env, output_fd, cgroup_fd, reset_signals, ELEMENTSOF(reset_signals),
                     ret_pid);
        if (r != 0)
                return r < 0 ? r : 0;
        if (cgroup_fd < 0)
                return spawn_posix(argv, env_extra, output_fd, ret_pid);
        return spawn_forked(cgroup_fd, &c, ret_pid);
}

/* A held start: forked (we cannot wait for an exec that waits for us), the child waits for a byte on
 * a socket whose other end is returned before its exec. Since nothing reports an exec failure then, the
 * command is looked up first; one that still fails to execute exits with status 127. */
static int spawn_held(char *const argv[], char *const env_extra[], int output_fd, int cgroup_fd,
                      int *ret_hold_fd, pid_t *ret_pid) {
        _cleanup_free_ char **env = NULL, *path = NULL;
        _cleanup_close_ int procs_fd = -EBADF;
        int hold_fds[2], r;
        pid_t pid;

        r = spawn_child_prepare(argv, env_extra, &path, &env);
        if (r < 0)
                return r;
        /* A socket, not a pipe: the release must not raise SIGPIPE should the child be gone already. */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, hold_fds) < 0)
                return -errno;

        pid = fork_child(cgroup_fd, &procs_fd,
                         &(SpawnChild){ .path = path,
                                        .argv = argv,
                                        .env = env ?: environ,
                                        .output_fd = output_fd,
                                        .procs_fd = -EBADF,
                                        .hold_fd = hold_fds[0],
                                        .holder_fd = hold_fds[1],
                                        .error_fd = -EBADF });
        r = pid < 0 ? -errno : 0;
        (void) close(hold_fds[0]);
        if (r < 0) {
                (void) close(hold_fds[1]);
                return r;
        }
        /* What the child does first, done here too, so that it holds when we return (the child has not
         * necessarily run yet): its group is there for kill(-pid), it is in its cgroup. */
        (void) setpgid(pid, pid);
        if (procs_fd >= 0)
                (void) dprintf(procs_fd, "%d", (int) pid);
        *ret_hold_fd = hold_fds[1];
        *ret_pid = pid;
        return 0;
}

int process_spawn(char *const argv[], char *const env_extra[], int output_fd, int cgroup_fd,
                  int *ret_hold_fd, pid_t *ret_pid) {
        assert(argv);
        assert(argv[0]);
        assert(ret_pid);

        if (ret_hold_fd)
                return spawn_held(argv, env_extra, output_fd, cgroup_fd, ret_hold_fd, ret_pid);
#if !defined(__x86_64__)
        if (cgroup_fd < 0)
                return spawn_posix(argv, env_extra, output_fd, ret_pid);
#endif
        return spawn_waited(argv, env_extra, output_fd, cgroup_fd, ret_pid);
}

int process_spawn_release(int *hold_fd) {
        assert(hold_fd);

        if (*hold_fd < 0)
                return 0;
        if (send(*hold_fd, "", 1, MSG_NOSIGNAL) != 1)
                return -errno;
        *hold_fd = safe_close(*hold_fd);
        return 0;
}
