/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "macro.h"
#include "parse.h"
#include "terminal.h"

bool terminal_colors(int fd) {
        const char *term = getenv("TERM");

        /* https://no-color.org: present and not empty. */
        if (getenv("NO_COLOR") && *getenv("NO_COLOR"))
                return false;
        if (term && strcmp(term, "dumb") == 0)
                return false;
        return isatty(fd) > 0;
}

const char *color_on(Color c) {
        static const char *const table[_COLOR_MAX] = {
                [COLOR_NORMAL] = "",           [COLOR_GREEN] = "\x1b[0;32m", [COLOR_RED] = "\x1b[0;31m",
                [COLOR_YELLOW] = "\x1b[0;33m", [COLOR_BOLD] = "\x1b[0;1m",   [COLOR_UNDERLINE] = "\x1b[0;4m",
        };

        return c >= 0 && c < _COLOR_MAX ? table[c] : "";
}

unsigned terminal_columns(int fd) {
        struct winsize ws = {};
        unsigned columns;

        if (ioctl(fd, TIOCGWINSZ, &ws) >= 0 && ws.ws_col > 0)
                return ws.ws_col;
        if (parse_unsigned(getenv("COLUMNS"), 1, 65535, &columns) >= 0)
                return columns;
        return 80;
}
