/* SPDX-License-Identifier: MIT */
/*
 * NULL-terminated string arrays (argv, environment lists) that their owner copies and frees. No
 * state.
 */
#pragma once

#include "macro.h"

/* Frees every string and the array; accepts NULL, returns NULL. */
char **strv_free(char **l);
/* A deep copy, or NULL when out of memory. */
char **strv_copy(char *const *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
