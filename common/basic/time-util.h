/* SPDX-License-Identifier: MIT */
/*
 * The one clock reader of the project: microseconds on a given clock (CLOCK_MONOTONIC for every
 * timeout, deadline and rate limit). No state.
 */
#pragma once

#include <stdint.h>
#include <time.h>

uint64_t now_usec(clockid_t clock);
