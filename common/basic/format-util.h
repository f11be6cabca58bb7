/* SPDX-License-Identifier: MIT */
/*
 * Numbers as text for people and for the wire alike. No state.
 */
#pragma once

#include <stddef.h>

/* A finite double as the shortest decimal text that reads back to exactly the same value (an
 * integral value as an integer: 7, 0.1, 1e-07, 2.5), as Python's repr() prints it. Needs the "C"
 * LC_NUMERIC locale (a dot), which our programs keep. Returns buf; 32 bytes are always enough. */
const char *format_double(char *buf, size_t size, double v);

#define FORMAT_DOUBLE_MAX 32
