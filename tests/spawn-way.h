/* SPDX-License-Identifier: MIT */
/*
 * The way spawn_vm() (spawn-vm.h) should make children in this test run: SCHED_TEST_SPAWN_WAY when set
 * (ctest sets it for the runs under tests/no-clone3.c's filter, where the daemon's environment is not
 * the test's; empty means none), else what this process finds: "clone3" where the call is there,
 * "clone" where a seccomp filter refuses it (a container's profile), none (NULL) under valgrind or
 * elsewhere than x86-64.
 */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline const char *expected_spawn_way(void) {
        const char *way = getenv("SCHED_TEST_SPAWN_WAY");

        if (way)
                return *way ? way : NULL;
#if defined(__x86_64__) && defined(SYS_clone3)
        /* clone3 without arguments: EINVAL where it is there, ENOSYS where refused. */
        if (syscall(SYS_clone3, NULL, 0) < 0 && errno == EINVAL)
                return "clone3";
        if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2 && !strstr(getenv("LD_PRELOAD") ?: "", "/vgpreload_"))
                return "clone";
#endif
        return NULL;
}
