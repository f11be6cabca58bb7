/* SPDX-License-Identifier: MIT */
/*
 * Text from outside (a peer's name, a reason, an error message) made harmless before it is printed
 * on a terminal, and the columns such text takes there. For text printed next to our own
 * `key=value` log tokens, escape_quoted() (escape.h). No state.
 */
#pragma once

#include <stddef.h>

/* Printable ASCII and valid UTF-8 stay; backslash, every control character (C0, DEL, C1), the
 * Unicode line separators and bidirectional overrides, and bytes that are not UTF-8 become \xNN
 * escapes, so that no such text can move the cursor, recolour the screen or reorder a line. NULL
 * reads as "". Returns a malloc()ed string, or NULL when out of memory. */
char *terminal_escape(const char *s);
/* Columns that an escaped string takes: its code points (wide characters count one). */
size_t terminal_width(const char *s);
