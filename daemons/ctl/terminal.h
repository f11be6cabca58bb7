/* SPDX-License-Identifier: MIT */
/*
 * What sched-ctl may do on a terminal: colours (only on a terminal, never with $NO_COLOR or
 * TERM=dumb) and the terminal's width; text from the bus goes through terminal_escape()
 * (terminal-escape.h) before it is printed there. No state beyond the environment it reads.
 */
#pragma once

#include <stdbool.h>

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
