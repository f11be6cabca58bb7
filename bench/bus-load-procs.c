/* SPDX-License-Identifier: MIT */
/*
 * LoadProcs (bus-load-procs.h): bench-bus-load's worker processes, forked and reaped here, the
 * control socket to each, the mapping they share and the producer's eventfd. The benchmark's Bench
 * owns the parent's LoadProcs; each worker has its copy.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-util.h"
#include "bus-load-procs.h"
#include "macro.h"

#define REAP_TIMEOUT_NS (5 * NSEC_PER_SEC)

volatile sig_atomic_t interrupted;

/* The cores but one, for the bus. */
unsigned procs_default(void) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);

        return n > 2 ? (unsigned) MIN(n - 1, (long) PROCS_MAX) : 1;
}

/* Whether this process holds receiver i. */
bool procs_holds(const LoadProcs *p, unsigned i) {
        return p->n_workers == 0 ? p->self == 0 : p->self == 1 + i % p->n_workers;
}

void procs_wake(LoadProcs *p) {
        uint64_t one = 1;

        (void) !write(p->wake_fd, &one, sizeof one);
}

/* Worker k's pid once it has exited (reaped), waiting up to timeout_ns for it; 0 if it has not. */
static int procs_reap(LoadProcs *p, unsigned k, uint64_t timeout_ns, int *ret_status) {
        uint64_t deadline = bench_now_ns() + timeout_ns;
        pid_t pid = p->pids[k - 1];

        if (pid <= 0)
                return 0;
        for (;;) {
                if (waitpid(pid, ret_status, WNOHANG) == pid) {
                        p->pids[k - 1] = 0;
                        return pid;
                }
                if (bench_now_ns() >= deadline)
                        return 0;
                bench_sleep_ns(2 * NSEC_PER_MSEC);
        }
}

/* Worker k is gone (its control socket hung up): said once, with how it ended. */
void procs_note_gone(LoadProcs *p, unsigned k) {
        pid_t pid = p->pids[k - 1];
        int status;

        if (p->dead)
                return;
        p->dead = true;
        if (procs_reap(p, k, 100 * NSEC_PER_MSEC, &status) <= 0)
                fprintf(stderr, "bench-bus-load: load process %u (pid %d) hung up its control socket.\n", k,
                        (int) pid);
        else if (WIFSIGNALED(status))
                fprintf(stderr, "bench-bus-load: load process %u (pid %d) was killed by signal %d (%s).\n",
                        k, (int) pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
                fprintf(stderr, "bench-bus-load: load process %u (pid %d) exited with status %d.\n", k,
                        (int) pid, WEXITSTATUS(status));
}

/* Sends worker k a command and waits up to timeout_ns for its answer. -ECHILD if it is gone. */
int procs_command(LoadProcs *p, unsigned k, const WorkerCommand *cmd, uint64_t timeout_ns) {
        uint64_t deadline = bench_now_ns() + timeout_ns;
        int fd = p->fds[k - 1], answer;

        if (p->dead)
                return -ECHILD;
        if (send(fd, cmd, sizeof *cmd, MSG_NOSIGNAL) < 0) {
                procs_note_gone(p, k);
                return -ECHILD;
        }
        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                uint64_t now = bench_now_ns();
                ssize_t n;

                if (interrupted)
                        return -EINTR;
                if (now >= deadline)
                        return -ETIMEDOUT;
                if (poll(&pfd, 1, (int) MIN((deadline - now) / NSEC_PER_MSEC + 1, 100)) <= 0)
                        continue; /* a slice passed, or a signal came */
                n = recv(fd, &answer, sizeof answer, MSG_DONTWAIT);
                if (n == (ssize_t) sizeof answer)
                        return answer;
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                procs_note_gone(p, k);
                return -ECHILD;
        }
}

int process_cpu(pid_t pid, uint64_t *ret) {
        ProcStats st;
        int r;

        if (pid <= 0) {
                *ret = 0;
                return 0;
        }
        r = proc_stats_read(pid, &st);
        if (r < 0)
                return r;
        *ret = st.cpu_ns;
        return 0;
}

/* CPU time of every process of the load: this one and the workers. */
uint64_t procs_cpu_ns(const LoadProcs *p) {
        uint64_t sum = 0, ns;

        if (process_cpu(getpid(), &ns) >= 0)
                sum += ns;
        for (unsigned k = 1; k <= p->n_workers; k++)
                if (p->pids[k - 1] > 0 && process_cpu(p->pids[k - 1], &ns) >= 0)
                        sum += ns;
        return sum;
}

/* Hangs up on every worker (each leaves when its control socket ends) and reaps them: SIGKILL for
 * one that has not gone within REAP_TIMEOUT_NS. */
LoadProcs *procs_free(LoadProcs *p) {
        if (!p)
                return NULL;
        for (unsigned k = 1; k <= p->n_workers; k++)
                p->fds[k - 1] = safe_close(p->fds[k - 1]);
        for (unsigned k = 1; k <= p->n_workers; k++) {
                int status;

                if (p->pids[k - 1] <= 0 || procs_reap(p, k, REAP_TIMEOUT_NS, &status) > 0)
                        continue;
                (void) kill(p->pids[k - 1], SIGKILL);
                (void) waitpid(p->pids[k - 1], &status, 0);
        }
        safe_close(p->wake_fd);
        if (p->shared)
                (void) munmap(p->shared, p->shared_size);
        return mfree(p);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(LoadProcs *, procs_free);

/* The child side of procs_fork(): worker `self`, its control socket `fd`; never returns. */
static _noreturn_ void procs_child(LoadProcs *p, unsigned self, int fd, ProcsWorkerMain worker_main,
                                   const void *userdata) {
        /* Dies with the parent; and the parent may have died before this line. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != p->parent)
                _exit(1);
        (void) signal(SIGINT, SIG_IGN);     /* Ctrl-C: the parent stops the load, in order */
        for (unsigned k = 1; k < self; k++) /* the parent's ends of the workers before this one */
                p->fds[k - 1] = safe_close(p->fds[k - 1]);
        p->self = self;
        _exit(worker_main(p, fd, userdata));
}

static int procs_fork(LoadProcs *p, unsigned k, ProcsWorkerMain worker_main, const void *userdata) {
        int pair[2];
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return -errno;
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0) {
                int e = -errno;

                safe_close(pair[0]);
                safe_close(pair[1]);
                return e;
        }
        if (pid == 0) {
                safe_close(pair[0]);
                procs_child(p, k, pair[1], worker_main, userdata);
        }
        safe_close(pair[1]);
        p->pids[k - 1] = pid;
        p->fds[k - 1] = pair[0];
        return 0;
}

/* The shared mapping and the eventfd, then the workers: forked before the benchmark opens any socket
 * or loop, so that they inherit none. */
int procs_new(LoadProcs **ret, unsigned n_procs, uint64_t n_samples, ProcsWorkerMain worker_main,
              const void *userdata) {
        _cleanup_(procs_freep) LoadProcs *p = calloc(1, sizeof *p);
        int r;

        if (!p)
                return -ENOMEM;
        p->wake_fd = -EBADF;
        for (unsigned k = 0; k < PROCS_MAX; k++)
                p->fds[k] = -EBADF;
        p->parent = getpid();
        p->n_workers = n_procs - 1; /* before the forks: each worker takes its share by it */
        p->shared_size = sizeof(Shared) + n_samples * sizeof(double);
        p->shared = mmap(NULL, p->shared_size, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p->shared == MAP_FAILED) {
                p->shared = NULL;
                return -errno;
        }
        p->shared->latencies_max = n_samples;
        p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p->wake_fd < 0)
                return -errno;
        for (unsigned k = 1; k < n_procs; k++) {
                r = procs_fork(p, k, worker_main, userdata);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(p);
        return 0;
}
