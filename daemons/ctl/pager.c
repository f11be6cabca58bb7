/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "pager.h"

static const char *pager_command(void) {
        const char *e = getenv("SYSTEMD_PAGER");

        if (!e)
                e = getenv("PAGER");
        return e;
}

/* In the child, with the pipe on stdin. Never returns. */
_noreturn_ static void pager_exec(const char *command) {
        sigset_t all;
        char buf[4096];
        ssize_t n;

        /* The parent's loop blocks SIGINT and SIGTERM for its signalfd and ignores SIGPIPE; the
         * pager must see them as any program does. */
        (void) sigemptyset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);
        (void) signal(SIGPIPE, SIG_DFL);

        (void) setenv("LESS", getenv("SYSTEMD_LESS") ?: "FRSXMK", 1);
        if (command)
                (void) execl("/bin/sh", "sh", "-c", command, (char *) NULL);
        else {
                (void) execlp("less", "less", (char *) NULL);
                (void) execlp("more", "more", (char *) NULL);
        }

        /* No pager to be found: the output must still reach the terminal. */
        while ((n = read(STDIN_FILENO, buf, sizeof buf)) > 0)
                if (write(STDOUT_FILENO, buf, (size_t) n) != n)
                        break;
        _exit(EXIT_SUCCESS);
}

int pager_open(Pager *p) {
        const char *command = pager_command();
        int fds[2];
        pid_t pid;

        assert(p);

        if (p->pid > 0 || isatty(STDOUT_FILENO) <= 0)
                return 0;
        if (command && (!*command || strcmp(command, "cat") == 0))
                return 0;

        fflush(stdout);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                (void) safe_close(fds[0]);
                (void) safe_close(fds[1]);
                return r;
        }
        if (pid == 0) {
                if (dup2(fds[0], STDIN_FILENO) < 0)
                        _exit(EXIT_FAILURE);
                pager_exec(command);
        }

        if (dup2(fds[1], STDOUT_FILENO) < 0) {
                int r = -errno;
                (void) safe_close(fds[0]);
                (void) safe_close(fds[1]);
                (void) kill(pid, SIGTERM);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        (void) safe_close(fds[0]);
        (void) safe_close(fds[1]);
        p->pid = pid;
        return 1;
}

void pager_close(Pager *p) {
        assert(p);

        if (p->pid <= 0)
                return;
        /* The pager sees the end of its input only once every copy of the write end is closed. */
        (void) fclose(stdout);
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        p->pid = 0;
}
