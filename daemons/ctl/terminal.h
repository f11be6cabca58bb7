/* SPDX-License-Identifier: MIT */
/*
 * What sched-ctl may do on a terminal: colours (only on a terminal, never with $NO_COLOR or
 * TERM=dumb), the terminal's width, and text from the bus made harmless before it is printed there.
 * No state beyond the environment it reads.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef enum Color {
        COLOR_NORMAL,
        COLOR_GREEN,
        COLOR_RED,
        COLOR_YELLOW,
        COLOR_BOLD,
        COLOR_UNDERLINE,
        _COLOR_MAX,
} Color;

/* Whether fd is a terminal that gets colours: a tty, $NO_COLOR unset, $TERM not "dumb". */
bool terminal_colors(int fd);
/* The escape sequence that starts `c` ("" for COLOR_NORMAL), and the one that ends any. */
const char *color_on(Color c);
#define COLOR_OFF "\x1b[0m"

/* The width of the terminal on fd: TIOCGWINSZ, else $COLUMNS, else 80. */
unsigned terminal_columns(int fd);

/* Text that came from the bus (a scheduler's name, a reason, an error message), for a terminal:
 * printable ASCII and valid UTF-8 stay; backslash, every control character (C0, DEL, C1), the
 * Unicode line separators and bidirectional overrides, and bytes that are not UTF-8 become \xNN
 * escapes, so that no such text can move the cursor, recolour the screen or reorder a line.
 * Returns a malloc()ed string, or NULL when out of memory. */
char *terminal_escape(const char *s);
/* Columns that an escaped string takes: its code points (wide characters count one). */
size_t terminal_width(const char *s);
