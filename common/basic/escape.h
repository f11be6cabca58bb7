/* SPDX-License-Identifier: MIT */
/*
 * Quoting of text that comes from outside (a client's frame, a job's output) before it is printed
 * next to our own `key=value` tokens. No state.
 */
#pragma once

#include <stddef.h>

/* Writes the `n` bytes of `s` into `buf` as one double-quoted string that can never be read as one
 * of our tokens or as a line of its own: '"', '\\', '=' and every control byte (newlines included)
 * and DEL become backslash escapes (\", \\, \n, \t, \r, \xNN); other bytes stay as they are. Cut
 * with "..." before the closing quote when it does not fit `size` (at least 8). Returns buf. */
const char *escape_quoted(const char *s, size_t n, char *buf, size_t size);
