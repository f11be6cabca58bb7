/* SPDX-License-Identifier: MIT */
/*
 * The way spawn_vm() (spawn-vm.h) should make children in this test run: SCHED_TEST_SPAWN_WAY when set
 * (ctest sets "clone" for the runs under tests/no-clone3.c's filter; empty means none, as under
 * valgrind), else "clone3" on x86-64 and none (NULL) elsewhere.
 */
#pragma once

#include <stdlib.h>

static inline const char *expected_spawn_way(void) {
        const char *way = getenv("SCHED_TEST_SPAWN_WAY");

        if (way)
                return *way ? way : NULL;
#if defined(__x86_64__)
        return "clone3";
#else
        return NULL;
#endif
}
