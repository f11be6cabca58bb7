/* SPDX-License-Identifier: MIT */
/*
 * no-clone3 COMMAND [ARGS...]: runs COMMAND under a seccomp filter that answers ENOSYS to clone3(), as
 * systemd's RestrictNamespaces= does (it cannot see clone3's flags, so it refuses the call whatever
 * they are). The tests run the spawn under it, to check the way taken where the shipped units apply.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "macro.h"

#if defined(__x86_64__) && defined(SYS_clone3)

int main(int argc, char *argv[]) {
        struct sock_filter filter[] = {
                /* Another architecture's calls (the x32 and i386 ABIs) are let through as they are. */
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog program = { .len = ELEMENTSOF(filter), .filter = filter };

        if (argc < 2) {
                fprintf(stderr, "Usage: %s COMMAND [ARGS...]\n", argv[0]);
                return 2;
        }
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
            prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) < 0) {
                perror("no-clone3: cannot install the seccomp filter");
                return 127;
        }
        execvp(argv[1], argv + 1);
        fprintf(stderr, "no-clone3: cannot execute %s: %m\n", argv[1]);
        return 127;
}

#else

int main(int argc, char *argv[]) {
        fprintf(stderr, "no-clone3: x86-64 only\n");
        return 127;
}

#endif
