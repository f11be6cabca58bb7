/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "terminal-escape.h"

/* The length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one; its code point. */
static size_t utf8_decode(const unsigned char *s, uint32_t *ret) {
        size_t n;
        uint32_t c, min;

        if (s[0] < 0x80) {
                *ret = s[0];
                return 1;
        }
        if ((s[0] & 0xe0) == 0xc0)
                n = 2, c = s[0] & 0x1f, min = 0x80;
        else if ((s[0] & 0xf0) == 0xe0)
                n = 3, c = s[0] & 0x0f, min = 0x800;
        else if ((s[0] & 0xf8) == 0xf0)
                n = 4, c = s[0] & 0x07, min = 0x10000;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                /* The NUL that ends the string is not a continuation byte: no read past it. */
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3f);
        }
        /* Overlong forms, surrogates and values past Unicode are not UTF-8. */
        if (c < min || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
                return 0;
        *ret = c;
        return n;
}

static bool code_point_is_safe(uint32_t c) {
        if (c < 0x20 || c == 0x7f || c == '\\')
                return false;
        if (c >= 0x80 && c <= 0x9f) /* C1: some terminals act on CSI as U+009B */
                return false;
        if (c == 0x2028 || c == 0x2029) /* line and paragraph separators */
                return false;
        if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) /* bidi overrides */
                return false;
        return true;
}

char *terminal_escape(const char *s) {
        const unsigned char *p = (const unsigned char *) (s ?: "");
        size_t len = strlen((const char *) p), k = 0;
        char *buf = malloc(len * 4 + 1); /* every byte as \xNN at worst */

        if (!buf)
                return NULL;
        while (*p) {
                uint32_t c = 0;
                size_t n = utf8_decode(p, &c);

                if (n > 0 && code_point_is_safe(c)) {
                        memcpy(buf + k, p, n);
                        k += n;
                        p += n;
                        continue;
                }
                /* One escape per byte of the sequence, or for the stray byte alone. */
                for (size_t i = 0; i < MAX(n, (size_t) 1); i++)
                        k += (size_t) snprintf(buf + k, 5, "\\x%02x", p[i]);
                p += MAX(n, (size_t) 1);
        }
        buf[k] = 0;
        return buf;
}

size_t terminal_width(const char *s) {
        size_t n = 0;

        assert(s);

        for (; *s; s++)
                if (((unsigned char) *s & 0xc0) != 0x80)
                        n++;
        return n;
}
