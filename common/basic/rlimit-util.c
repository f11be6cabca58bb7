/* SPDX-License-Identifier: MIT */
#include <sys/resource.h>

#include "macro.h"
#include "rlimit-util.h"

int rlimit_nofile_raise(uint64_t want) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        if (rl.rlim_cur >= want)
                return 0;
        rl.rlim_cur = MIN((rlim_t) want, rl.rlim_max);
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        return 0;
}
