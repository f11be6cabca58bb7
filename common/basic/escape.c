/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "macro.h"

/* The escape of byte c into out (at most 4 bytes plus a NUL); its length. */
static size_t escape_byte(unsigned char c, char out[5]) {
        switch (c) {
        case '"':
        case '\\':
                out[0] = '\\';
                out[1] = (char) c;
                return 2;
        case '\n':
                return (size_t) snprintf(out, 5, "\\n");
        case '\t':
                return (size_t) snprintf(out, 5, "\\t");
        case '\r':
                return (size_t) snprintf(out, 5, "\\r");
        default:
                if (c < 0x20 || c == 0x7f || c == '=')
                        return (size_t) snprintf(out, 5, "\\x%02x", c);
                out[0] = (char) c;
                return 1;
        }
}

const char *escape_quoted(const char *s, size_t n, char *buf, size_t size) {
        size_t k = 0, total = 2; /* the quotes */
        bool cut;

        assert(s || n == 0);
        assert(buf);
        assert(size >= 8);

        for (size_t i = 0; i < n; i++) {
                char e[5];

                total += escape_byte((unsigned char) s[i], e);
        }
        cut = total + 1 > size;

        buf[k++] = '"';
        for (size_t i = 0; i < n; i++) {
                char e[5];
                size_t l = escape_byte((unsigned char) s[i], e);

                /* When cut, room must stay for `..."` and the NUL. */
                if (cut && k + l + 5 > size)
                        break;
                memcpy(buf + k, e, l);
                k += l;
        }
        if (cut) {
                memcpy(buf + k, "...", 3);
                k += 3;
        }
        buf[k++] = '"';
        buf[k] = 0;
        return buf;
}
