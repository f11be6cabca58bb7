/* SPDX-License-Identifier: MIT */
/*
 * The spawn step of a Process, apart from its life on the event loop: one posix_spawnp() with every
 * attribute set before exec, so that nothing of the daemon's signal state or environment handling
 * leaks into the child. No state.
 */
#include <signal.h>
#include <spawn.h>
#include <string.h>

#include "macro.h"
#include "process-spawn.h"

extern char **environ;

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

int process_spawn(char *const argv[], char *const env_extra[], int output_fd, pid_t *ret_pid) {
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
