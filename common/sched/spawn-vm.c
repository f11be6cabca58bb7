/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "macro.h"
#include "spawn-vm.h"

#if defined(__x86_64__)
#include <linux/sched.h>

/* Children between their clone and their exec at once. Past these, a spawn waits for its child's exec
 * (CLONE_VFORK, on a slot of its own): a burst of starts then goes at the pace the children get a CPU,
 * instead of every child of the burst contending for one at once (which makes a timeout that falls
 * due meanwhile late: the job it ends waits for a CPU too). */
#define SLOTS      8
#define SLOT_SIZE  (128 * 1024)
#define STACK_SIZE (32 * 1024)
/* The reset signals the child takes (the caller's list is copied into the slot). */
#define RESET_MAX 16

typedef struct Slot {
        int busy; /* 1 from the clone on; the kernel zeroes it when the child leaves our memory */
        int output_fd;
        int procs_fd; /* >= 0: the cgroup.procs the child writes itself into first (clone) */
        const char *path;
        size_t path_len;
        char *const *argv;
        char *const *env;
        int reset[RESET_MAX];
        size_t n_reset;
} Slot;

static Slot *slots[SLOTS], *waited_slot;
static unsigned long n_waited; /* spawns that waited for their exec, every slot being taken */

/* How children are made. clone3, born in their cgroup. Where a seccomp filter refuses clone3 (systemd's
 * RestrictNamespaces= refuses it whatever its flags, which it cannot see), clone, the child moving
 * itself into its cgroup. Once refused, the answer will not change: not here at all. */
static enum {
        WAY_CLONE3,
        WAY_CLONE,
        WAY_NONE,
} way;

/* The child runs on a stack that is neither ours nor the sanitizers'. */
#define CHILD_CODE __attribute__((no_sanitize("address", "undefined"))) static

CHILD_CODE long raw_syscall(long n, long a, long b, long c, long d) {
        register long r10 __asm__("r10") = d;
        long ret;

        __asm__ volatile("syscall"
                         : "=a"(ret)
                         : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                         : "rcx", "r11", "memory");
        return ret;
}

/* The reasons an exec fails, worded as strerror() does: the child cannot call into libc. */
#define REASON(e, text) [e] = { text, sizeof(text) - 1 }
static const struct {
        const char *text;
        size_t len;
} reasons[] = {
        REASON(EPERM, "Operation not permitted"),
        REASON(ENOENT, "No such file or directory"),
        REASON(EIO, "Input/output error"),
        REASON(E2BIG, "Argument list too long"),
        REASON(ENOEXEC, "Exec format error"),
        REASON(EBADF, "Bad file descriptor"),
        REASON(ENOMEM, "Cannot allocate memory"),
        REASON(EACCES, "Permission denied"),
        REASON(EFAULT, "Bad address"),
        REASON(ENOTDIR, "Not a directory"),
        REASON(EISDIR, "Is a directory"),
        REASON(EINVAL, "Invalid argument"),
        REASON(ENFILE, "Too many open files in system"),
        REASON(EMFILE, "Too many open files"),
        REASON(ETXTBSY, "Text file busy"),
        REASON(ENAMETOOLONG, "File name too long"),
        REASON(ELOOP, "Too many levels of symbolic links"),
        REASON(ELIBBAD, "Accessing a corrupted shared library"),
        REASON(ENODEV, "No such device"),
        REASON(EBUSY, "Device or resource busy"),
        REASON(EOPNOTSUPP, "Operation not supported"),
};

/* struct kernel_sigaction for SIG_DFL: no handler, so no restorer either. */
struct kernel_sigaction {
        unsigned long handler, flags, restorer, mask;
};

CHILD_CODE int child_main(void *userdata) {
        /* Static: no initialisation the compiler could turn into a call of memset(). */
        static const struct kernel_sigaction dfl = {};
        static const unsigned long empty = 0;
        const Slot *s = userdata;
        static const char exec_failed[] = "Cannot execute ",
                          move_failed[] = "Cannot move into the job's cgroup";
        const char *what = exec_failed, *name = s->path;
        size_t what_len = sizeof exec_failed - 1, name_len = s->path_len;
        long r = 0;

        /* The output first, so that a failure below is told on it: the job's, not ours. */
        if (s->output_fd >= 0) {
                r = raw_syscall(SYS_dup2, s->output_fd, STDOUT_FILENO, 0, 0);
                if (r >= 0)
                        r = raw_syscall(SYS_dup2, s->output_fd, STDERR_FILENO, 0, 0);
        }
        if (r >= 0 && s->procs_fd >= 0) {
                r = raw_syscall(SYS_write, s->procs_fd, (long) "0", 1, 0);
                if (r < 0) {
                        what = move_failed, what_len = sizeof move_failed - 1;
                        name = "", name_len = 0;
                }
        }
        if (r >= 0)
                r = raw_syscall(SYS_setpgid, 0, 0, 0, 0);
        for (size_t i = 0; r >= 0 && i < s->n_reset; i++)
                r = raw_syscall(SYS_rt_sigaction, s->reset[i], (long) &dfl, 0, sizeof empty);
        if (r >= 0)
                r = raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long) &empty, 0, sizeof empty);
        if (r >= 0)
                r = raw_syscall(SYS_execve, (long) s->path, (long) s->argv, (long) s->env, 0);

        /* Why, on what is now its stderr (the job's output, or ours). */
        long e = -r;
        struct iovec iov[] = {
                { (void *) what, what_len },      { (void *) name, name_len }, { (void *) ": ", 2 },
                { (void *) "Unknown error", 13 }, { (void *) "\n", 1 },
        };
        if (e > 0 && e < (long) ELEMENTSOF(reasons) && reasons[e].text)
                iov[3] = (struct iovec){ (void *) reasons[e].text, reasons[e].len };
        (void) raw_syscall(SYS_writev, STDERR_FILENO, (long) iov, ELEMENTSOF(iov), 0);
        (void) raw_syscall(SYS_exit_group, 127, 0, 0, 0);
        __builtin_unreachable();
}

/* clone3(args, size), or clone(flags, stack, parent_tid, child_tid, tls): system call `nr` with
 * arguments a..e, whose child calls fn(userdata) on the stack the arguments give and never returns into
 * our frames. The parent gets the pid, or -1 with errno. */
static pid_t clone_call(long nr, long a, long b, long c, long d, long e, int (*fn)(void *), void *userdata) {
        register long rax __asm__("rax") = nr;
        register long rdi __asm__("rdi") = a;
        register long rsi __asm__("rsi") = b;
        register long rdx __asm__("rdx") = c;
        register long r10 __asm__("r10") = d;
        register long r8 __asm__("r8") = e;
        register int (*r12)(void *) __asm__("r12") = fn;
        register void *r13 __asm__("r13") = userdata;

        __asm__ volatile("syscall\n\t"
                         "test %%rax, %%rax\n\t"
                         "jnz 1f\n\t"
                         /* The child, on the new stack: no frame to return to. */
                         "xor %%ebp, %%ebp\n\t"
                         "mov %%r13, %%rdi\n\t"
                         "call *%%r12\n\t"
                         "mov %%eax, %%edi\n\t"
                         "mov $231, %%eax\n\t" /* exit_group, should it ever return */
                         "syscall\n\t"
                         "hlt\n"
                         "1:"
                         : "+r"(rax)
                         : "r"(rdi), "r"(rsi), "r"(rdx), "r"(r10), "r"(r8), "r"(r12), "r"(r13)
                         : "rcx", "r11", "memory", "cc");
        if (rax < 0) {
                errno = (int) -rax;
                return -1;
        }
        return (pid_t) rax;
}

/* The child on slot `s` (with `flags`, born in `cgroup_fd` if >= 0) the way that works here; -1 with
 * errno EPERM/ENOSYS when none does. */
static pid_t clone_child(Slot *s, uint64_t flags, int cgroup_fd) {
        char *stack = (char *) s + SLOT_SIZE - STACK_SIZE;
        _cleanup_close_ int procs_fd = -EBADF;
        pid_t pid;

        if (way == WAY_CLONE3) {
                struct clone_args args = {
                        .flags = flags,
                        .exit_signal = SIGCHLD,
                        .stack = (uint64_t) (uintptr_t) stack,
                        .stack_size = STACK_SIZE,
                        .child_tid = (uint64_t) (uintptr_t) &s->busy,
                };
                if (cgroup_fd >= 0) {
                        args.flags |= CLONE_INTO_CGROUP;
                        args.cgroup = (uint64_t) cgroup_fd;
                }
                s->procs_fd = -EBADF;
                pid = clone_call(SYS_clone3, (long) &args, sizeof args, 0, 0, 0, child_main, s);
                if (pid >= 0 || (errno != ENOSYS && errno != EPERM))
                        return pid;
                /* Refused by a seccomp filter: clone then. Not under valgrind, which refuses clone3 too,
                 * and whose clone() takes CLONE_VM only with the other flags of a thread or of a vfork
                 * (it ends the program on any other): it preloads its vgpreload_*.so into what it runs. */
                if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 2 ||
                    strstr(getenv("LD_PRELOAD") ?: "", "/vgpreload_")) {
                        errno = ENOSYS;
                        return -1;
                }
                way = WAY_CLONE;
        }
        if (cgroup_fd >= 0) {
                /* The child's copy stays open until its exec (no CLONE_FILES); ours is closed on return. */
                procs_fd = openat(cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC | O_NOCTTY);
                if (procs_fd < 0)
                        return -1;
        }
        s->procs_fd = procs_fd;
        return clone_call(SYS_clone, (long) (flags | SIGCHLD), (long) (stack + STACK_SIZE), 0,
                          (long) &s->busy, 0, child_main, s);
}

static Slot *slot_map(void) {
        void *m = mmap(NULL, SLOT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1,
                       0);

        return m == MAP_FAILED ? NULL : m;
}

/* A slot no child uses any more, mapped on first use; else the one for a spawn that waits (`*ret_wait`
 * set), free whenever we run; NULL without memory. */
static Slot *slot_get(bool *ret_wait) {
        *ret_wait = false;
        for (size_t i = 0; i < SLOTS; i++) {
                if (!slots[i])
                        return (slots[i] = slot_map());
                if (__atomic_load_n(&slots[i]->busy, __ATOMIC_ACQUIRE) == 0)
                        return slots[i];
        }
        *ret_wait = true;
        if (!waited_slot)
                waited_slot = slot_map();
        return waited_slot;
}

/* `n` bytes of [*p, end), aligned for pointers; NULL when they do not fit. */
static void *arena_take(char **p, const char *end, size_t n) {
        char *q = (char *) (((uintptr_t) *p + 15) & ~(uintptr_t) 15);

        if (q > end || (size_t) (end - q) < n)
                return NULL;
        *p = q + n;
        return q;
}

/* A copy of the NULL-terminated `v` in [*p, end), or NULL when it does not fit. */
static char **arena_copy_strv(char *const *v, char **p, const char *end) {
        size_t n = 0;
        char **copy;

        while (v[n])
                n++;
        copy = arena_take(p, end, (n + 1) * sizeof(char *));
        if (!copy)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(v[i]) + 1;
                char *q = arena_take(p, end, len);

                if (!q)
                        return NULL;
                copy[i] = memcpy(q, v[i], len);
        }
        copy[n] = NULL;
        return copy;
}

int spawn_vm(const char *path, char *const argv[], char *const env[], int output_fd, int cgroup_fd,
             const int *reset, size_t n_reset, pid_t *ret_pid) {
        Slot *s;
        char *p, *stack, *copy;
        bool wait;
        pid_t pid;

        assert(path);
        assert(argv);
        assert(env);
        assert(ret_pid);

        if (way == WAY_NONE || n_reset > RESET_MAX)
                return 0;
        s = slot_get(&wait);
        if (!s)
                return 0;
        stack = (char *) s + SLOT_SIZE - STACK_SIZE;
        p = (char *) (s + 1);
        s->path_len = strlen(path);
        copy = arena_take(&p, stack, s->path_len + 1);
        if (!copy)
                return 0;
        s->path = memcpy(copy, path, s->path_len + 1);
        s->argv = arena_copy_strv(argv, &p, stack);
        s->env = s->argv ? arena_copy_strv(env, &p, stack) : NULL;
        if (!s->env)
                return 0;
        s->output_fd = output_fd;
        memcpy(s->reset, reset, n_reset * sizeof *reset);
        s->n_reset = n_reset;

        __atomic_store_n(&s->busy, 1, __ATOMIC_RELEASE);
        pid = clone_child(s, CLONE_VM | CLONE_CHILD_CLEARTID | (wait ? CLONE_VFORK : 0), cgroup_fd);
        if (pid < 0) {
                int e = errno;

                __atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
                /* Not there or filtered (ENOSYS, EPERM), or CLONE_INTO_CGROUP unknown: the slow way. */
                if (e != ENOSYS && e != EPERM && e != EINVAL && e != E2BIG)
                        return -e;
                way = WAY_NONE;
                return 0;
        }
        if (wait)
                n_waited++;
        /* What the child does, done here too, so that it holds when we return (the child has not
         * necessarily run yet): its group is there for kill(-pid). Fails once it has done its exec. */
        (void) setpgid(pid, pid);
        *ret_pid = pid;
        return 1;
}

const char *spawn_vm_way(void) {
        return way == WAY_CLONE3 ? "clone3" : way == WAY_CLONE ? "clone" : NULL;
}

unsigned long spawn_vm_n_waited(void) {
        return n_waited;
}

#else

const char *spawn_vm_way(void) {
        return NULL;
}

unsigned long spawn_vm_n_waited(void) {
        return 0;
}

int spawn_vm(const char *path, char *const argv[], char *const env[], int output_fd, int cgroup_fd,
             const int *reset, size_t n_reset, pid_t *ret_pid) {
        return 0;
}

#endif
