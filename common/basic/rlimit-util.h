/* SPDX-License-Identifier: MIT */
/*
 * Resource limits a daemon sets for itself at start. No state.
 */
#pragma once

#include <stdint.h>

/* Raises the soft RLIMIT_NOFILE to `want` (at most the hard limit); never lowers it. */
int rlimit_nofile_raise(uint64_t want);
