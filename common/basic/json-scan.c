/* SPDX-License-Identifier: MIT */
/*
 * The JSON pull scanner: one pass over the bytes, a small state for the grammar and a bit per open
 * container. Every rule mirrors jansson 2.14 (load.c, utf.c, strconv.c), because a frame this scanner
 * accepts skips the jansson parser altogether: where jansson says no, so must we.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-scan.h"
#include "macro.h"

enum {
        EXPECT_VALUE,       /* the top-level value, or a member's value after its key */
        EXPECT_FIRST_KEY,   /* after '{': a key or '}' */
        EXPECT_FIRST_VALUE, /* after '[': a value or ']' */
        EXPECT_NEXT,        /* after a value in a container: ',' or the container's end */
        EXPECT_EOF,         /* after the top-level value: only whitespace */
};

/* Bytes that stand for themselves in a string: printable ASCII but for '"' and '\\'. Control
 * characters, escapes and UTF-8 sequences leave the fast loop. */
static const bool string_plain[256] = {
        [0x20 ... 0x21] = true, /* '"' is 0x22 */
        [0x23 ... 0x5b] = true, /* '\\' is 0x5c */
        [0x5d ... 0x7f] = true,
};

/* Significant digits handed to strtod() when a real is near DBL_MAX: DBL_MAX plus half an ulp, the
 * value above which strtod() overflows, is an integer of 309 digits, so 767 digits and a sticky
 * non-zero digit for whatever was cut off compare with it exactly as the full text does. */
#define REAL_DIGITS_MAX 767

void json_scan_init(JsonScan *s, const void *data, size_t size) {
        assert(s);
        assert(data || size == 0);

        /* Field by field: is_object[] needs no zeroing (a bit is set or cleared when its container
         * opens), and clearing it would cost a short frame more than scanning it. */
        s->start = s->p = data;
        /* Not data + 0 for a NULL data: that is undefined even though nothing is read. */
        s->end = size > 0 ? (const uint8_t *) data + size : data;
        s->expect = EXPECT_VALUE;
        s->error = 0;
        s->depth = 0;
        s->string = (JsonScanString){};
        s->integer = 0;
        s->number = NULL;
        s->number_size = 0;
}

static int scan_fail(JsonScan *s, const uint8_t *p, int error) {
        s->p = p;
        s->error = error;
        return error;
}

static const uint8_t *skip_whitespace(const uint8_t *p, const uint8_t *end) {
        while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
                p++;
        return p;
}

static bool in_object(const JsonScan *s) {
        assert(s->depth > 0);
        return s->is_object[(s->depth - 1) / 8] & (1u << ((s->depth - 1) % 8));
}

/* After a complete value: what follows depends on whether it was the top-level one. */
static int scalar_done(JsonScan *s, const uint8_t *p, int token) {
        s->p = p;
        s->expect = s->depth > 0 ? EXPECT_NEXT : EXPECT_EOF;
        return token;
}

static int container_begin(JsonScan *s, bool object) {
        unsigned d = s->depth;

        if (object)
                s->is_object[d / 8] |= (uint8_t) (1u << (d % 8));
        else
                s->is_object[d / 8] &= (uint8_t) ~(1u << (d % 8));
        s->depth++;
        s->p++;
        s->expect = object ? EXPECT_FIRST_KEY : EXPECT_FIRST_VALUE;
        return object ? JSON_SCAN_OBJECT_BEGIN : JSON_SCAN_ARRAY_BEGIN;
}

static int container_end(JsonScan *s) {
        int token = in_object(s) ? JSON_SCAN_OBJECT_END : JSON_SCAN_ARRAY_END;

        s->depth--;
        return scalar_done(s, s->p + 1, token);
}

static int hex_value(uint8_t c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        c |= 0x20;
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* The four hex digits of a \u escape; -1 if they are not. */
static int32_t hex4(const uint8_t *p, const uint8_t *end) {
        int32_t v = 0;

        if (end - p < 4)
                return -1;
        for (size_t i = 0; i < 4; i++) {
                int h = hex_value(p[i]);

                if (h < 0)
                        return -1;
                v = v << 4 | h;
        }
        return v;
}

static size_t utf8_size(uint32_t cp) {
        return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

static bool utf8_continuation(uint8_t c, uint8_t lo, uint8_t hi) {
        return c >= lo && c <= hi;
}

/* The length of the well-formed UTF-8 sequence of 2 to 4 bytes at p, or 0. The ranges of the second
 * byte exclude what jansson's utf8_check_full() rejects: overlong forms, surrogates (ED A0..BF) and
 * code points above U+10FFFF. */
static size_t utf8_check(const uint8_t *p, const uint8_t *end) {
        size_t avail = (size_t) (end - p), n;
        uint8_t c = p[0], lo = 0x80, hi = 0xbf;

        if (c >= 0xc2 && c <= 0xdf)
                n = 2;
        else if (c >= 0xe0 && c <= 0xef) {
                n = 3;
                if (c == 0xe0)
                        lo = 0xa0;
                else if (c == 0xed)
                        hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                n = 4;
                if (c == 0xf0)
                        lo = 0x90;
                else if (c == 0xf4)
                        hi = 0x8f;
        } else
                return 0;

        if (avail < n || !utf8_continuation(p[1], lo, hi))
                return 0;
        for (size_t i = 2; i < n; i++)
                if (!utf8_continuation(p[i], 0x80, 0xbf))
                        return 0;
        return n;
}

/* The escape at p (p[0] == '\\'), already known valid: its code point, and how many input bytes it
 * takes (2, 6, or 12 for a surrogate pair). */
static uint32_t escape_decode(const uint8_t *p, size_t *ret_size) {
        int32_t hi, lo;

        switch (p[1]) {
        case 'b':
                *ret_size = 2;
                return '\b';
        case 'f':
                *ret_size = 2;
                return '\f';
        case 'n':
                *ret_size = 2;
                return '\n';
        case 'r':
                *ret_size = 2;
                return '\r';
        case 't':
                *ret_size = 2;
                return '\t';
        case 'u':
                break;
        default: /* '"', '\\', '/' */
                *ret_size = 2;
                return p[1];
        }

        hi = hex4(p + 2, p + 6);
        if (hi < 0xd800 || hi > 0xdbff) {
                *ret_size = 6;
                return (uint32_t) hi;
        }
        lo = hex4(p + 8, p + 12);
        *ret_size = 12;
        return 0x10000 + ((uint32_t) (hi - 0xd800) << 10) + (uint32_t) (lo - 0xdc00);
}

/* Validates the escape at p (p[0] == '\\') as jansson does: the RFC's escapes only, \u with four hex
 * digits, a high surrogate only when a low one follows as the next escape, and no \u0000 (jansson
 * refuses NUL without JSON_ALLOW_NUL). Returns the input bytes it takes and the decoded size. */
static size_t escape_check(const uint8_t *p, const uint8_t *end, size_t *ret_decoded) {
        int32_t hi, lo;

        if (end - p < 2)
                return 0;
        switch (p[1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
                *ret_decoded = 1;
                return 2;
        case 'u':
                break;
        default:
                return 0;
        }

        hi = hex4(p + 2, end);
        if (hi <= 0 || (hi >= 0xdc00 && hi <= 0xdfff))
                return 0;
        if (hi < 0xd800 || hi > 0xdbff) {
                *ret_decoded = utf8_size((uint32_t) hi);
                return 6;
        }
        if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
                return 0;
        lo = hex4(p + 8, end);
        if (lo < 0xdc00 || lo > 0xdfff)
                return 0;
        *ret_decoded = 4;
        return 12;
}

/* A string at s->p (on its opening quote) into s->string. */
static int scan_string(JsonScan *s) {
        const uint8_t *p = s->p + 1, *end = s->end, *begin = p;
        size_t saved = 0; /* how much shorter the decoded value is than the raw text */
        bool escaped = false;

        for (;;) {
                size_t n, decoded;

                while (p < end && string_plain[*p])
                        p++;
                if (p >= end)
                        return scan_fail(s, p, -EBADMSG);
                if (*p == '"')
                        break;
                if (*p == '\\') {
                        n = escape_check(p, end, &decoded);
                        if (n == 0)
                                return scan_fail(s, p, -EBADMSG);
                        saved += n - decoded;
                        escaped = true;
                } else {
                        /* A control character, or the start of a UTF-8 sequence. */
                        n = *p < 0x80 ? 0 : utf8_check(p, end);
                        if (n == 0)
                                return scan_fail(s, p, -EBADMSG);
                }
                p += n;
        }

        s->string = (JsonScanString){
                .raw = (const char *) begin,
                .raw_size = (size_t) (p - begin),
                .size = (size_t) (p - begin) - saved,
                .escaped = escaped,
        };
        s->p = p + 1;
        return 0;
}

/* Where the first significant digit of a real stands: the value is in [10^(e-1), 10^e). */
static bool real_first_digit(const uint8_t *int_begin, const uint8_t *int_end, const uint8_t *frac_begin,
                             const uint8_t *frac_end, int64_t exponent, const uint8_t **ret_digit,
                             int64_t *ret_e) {
        const uint8_t *q;

        for (q = int_begin; q < int_end && *q == '0'; q++)
                ;
        if (q < int_end) {
                *ret_digit = q;
                *ret_e = (int64_t) (int_end - q) + exponent;
                return true;
        }
        for (q = frac_begin; q < frac_end && *q == '0'; q++)
                ;
        if (q < frac_end) {
                *ret_digit = q;
                *ret_e = exponent - (int64_t) (q - frac_begin);
                return true;
        }
        return false; /* zero */
}

/* Whether strtod() overflows on this real, as jansson's jsonp_strtod() checks (underflow to zero or a
 * subnormal is accepted). Only a value in [1e308, 1e309) needs strtod() itself; it is handed the
 * significant digits as an integer with an exponent, so that no decimal point meets the locale. */
static bool real_overflows(const uint8_t *int_begin, const uint8_t *int_end, const uint8_t *frac_begin,
                           const uint8_t *frac_end, int64_t exponent) {
        char buf[REAL_DIGITS_MAX + 2 + 24];
        const uint8_t *digit;
        size_t m = 0;
        bool sticky = false;
        double v;
        int64_t e;

        if (!real_first_digit(int_begin, int_end, frac_begin, frac_end, exponent, &digit, &e))
                return false;
        if (e <= 308)
                return false;
        if (e >= 310)
                return true;

        for (const uint8_t *q = digit; q < frac_end; q++) {
                if (q == int_end) {
                        q = frac_begin;
                        if (q >= frac_end)
                                break;
                }
                if (m < REAL_DIGITS_MAX)
                        buf[m++] = (char) *q;
                else if (*q != '0')
                        sticky = true;
        }
        if (sticky)
                buf[m++] = '1';
        (void) snprintf(buf + m, sizeof(buf) - m, "e%" PRId64, e - (int64_t) m);

        errno = 0;
        v = strtod(buf, NULL);
        return errno == ERANGE && isinf(v);
}

/* A number at s->p: jansson's grammar, int64 range for integers, no overflow for reals. */
static int scan_number(JsonScan *s) {
        const uint8_t *p = s->p, *end = s->end, *int_begin, *int_end, *frac_begin, *frac_end;
        bool negative = false, real = false;
        int64_t exponent = 0;
        uint64_t mag = 0;

        if (*p == '-') {
                negative = true;
                p++;
        }
        int_begin = p;
        if (p < end && *p == '0')
                p++;
        else if (p < end && *p >= '1' && *p <= '9')
                while (p < end && *p >= '0' && *p <= '9')
                        p++;
        else
                return scan_fail(s, p, -EBADMSG);
        int_end = p;
        /* "01": jansson reads no leading zeros. */
        if (p < end && *p >= '0' && *p <= '9')
                return scan_fail(s, p, -EBADMSG);

        frac_begin = frac_end = int_end;
        if (p < end && *p == '.') {
                frac_begin = ++p;
                if (p >= end || *p < '0' || *p > '9')
                        return scan_fail(s, p, -EBADMSG);
                while (p < end && *p >= '0' && *p <= '9')
                        p++;
                frac_end = p;
                real = true;
        }
        if (p < end && (*p == 'e' || *p == 'E')) {
                bool exp_negative = false;

                p++;
                if (p < end && (*p == '+' || *p == '-'))
                        exp_negative = *p++ == '-';
                if (p >= end || *p < '0' || *p > '9')
                        return scan_fail(s, p, -EBADMSG);
                /* Saturates far beyond any exponent that can matter, and far from int64's end. */
                for (; p < end && *p >= '0' && *p <= '9'; p++)
                        if (exponent < INT64_C(100000000000000))
                                exponent = exponent * 10 + (*p - '0');
                if (exp_negative)
                        exponent = -exponent;
                real = true;
        }

        s->number = (const char *) s->p;
        s->number_size = (size_t) (p - s->p);
        if (real) {
                if (real_overflows(int_begin, int_end, frac_begin, frac_end, exponent))
                        return scan_fail(s, s->p, -ERANGE);
                return scalar_done(s, p, JSON_SCAN_REAL);
        }

        /* Without leading zeros, 19 digits fit in a uint64 and 20 are beyond int64 anyway. */
        if (int_end - int_begin > 19)
                return scan_fail(s, s->p, -ERANGE);
        for (const uint8_t *q = int_begin; q < int_end; q++)
                mag = mag * 10 + (uint64_t) (*q - '0');
        if (mag > (uint64_t) INT64_MAX + negative)
                return scan_fail(s, s->p, -ERANGE);
        s->integer = negative ? (int64_t) (0 - mag) : (int64_t) mag;
        return scalar_done(s, p, JSON_SCAN_INTEGER);
}

static int scan_literal(JsonScan *s, const char *word, size_t n, int token) {
        if ((size_t) (s->end - s->p) < n || memcmp(s->p, word, n) != 0)
                return scan_fail(s, s->p, -EBADMSG);
        return scalar_done(s, s->p + n, token);
}

static int scan_value(JsonScan *s) {
        int r;

        if (s->p >= s->end)
                return scan_fail(s, s->p, -EBADMSG);
        /* jansson counts every value, scalars too, against its depth limit. */
        if (s->depth >= JSON_SCAN_DEPTH_MAX)
                return scan_fail(s, s->p, -ELOOP);

        switch (*s->p) {
        case '{':
                return container_begin(s, true);
        case '[':
                return container_begin(s, false);
        case '"':
                r = scan_string(s);
                if (r < 0)
                        return r;
                return scalar_done(s, s->p, JSON_SCAN_STRING);
        case 't':
                return scan_literal(s, "true", 4, JSON_SCAN_TRUE);
        case 'f':
                return scan_literal(s, "false", 5, JSON_SCAN_FALSE);
        case 'n':
                return scan_literal(s, "null", 4, JSON_SCAN_NULL);
        case '-':
        case '0' ... '9':
                return scan_number(s);
        default:
                return scan_fail(s, s->p, -EBADMSG);
        }
}

static int scan_key(JsonScan *s) {
        const uint8_t *p;
        int r;

        if (s->p >= s->end || *s->p != '"')
                return scan_fail(s, s->p, -EBADMSG);
        r = scan_string(s);
        if (r < 0)
                return r;
        p = skip_whitespace(s->p, s->end);
        if (p >= s->end || *p != ':')
                return scan_fail(s, p, -EBADMSG);
        s->p = skip_whitespace(p + 1, s->end);
        s->expect = EXPECT_VALUE;
        return JSON_SCAN_KEY;
}

int json_scan_next(JsonScan *s) {
        const uint8_t *p;

        assert(s);

        if (s->error < 0)
                return s->error;

        p = s->p = skip_whitespace(s->p, s->end);
        switch (s->expect) {
        case EXPECT_VALUE:
                return scan_value(s);
        case EXPECT_FIRST_KEY:
                if (p < s->end && *p == '}')
                        return container_end(s);
                return scan_key(s);
        case EXPECT_FIRST_VALUE:
                if (p < s->end && *p == ']')
                        return container_end(s);
                return scan_value(s);
        case EXPECT_NEXT:
                if (p >= s->end)
                        return scan_fail(s, p, -EBADMSG);
                if (*p == ',') {
                        s->p = skip_whitespace(p + 1, s->end);
                        return in_object(s) ? scan_key(s) : scan_value(s);
                }
                if (*p == (in_object(s) ? '}' : ']'))
                        return container_end(s);
                return scan_fail(s, p, -EBADMSG);
        case EXPECT_EOF:
                if (p < s->end)
                        return scan_fail(s, p, -EBADMSG);
                return JSON_SCAN_END;
        default:
                assert(false);
                return scan_fail(s, p, -EBADMSG);
        }
}

int json_scan_skip(JsonScan *s, int t) {
        unsigned depth;

        assert(s);

        if (t < 0)
                return t;
        if (t != JSON_SCAN_OBJECT_BEGIN && t != JSON_SCAN_ARRAY_BEGIN)
                return 0;

        depth = s->depth - 1;
        for (;;) {
                int r = json_scan_next(s);

                if (r < 0)
                        return r;
                if ((r == JSON_SCAN_OBJECT_END || r == JSON_SCAN_ARRAY_END) && s->depth == depth)
                        return 0;
        }
}

size_t json_scan_offset(const JsonScan *s) {
        assert(s);
        return (size_t) (s->p - s->start);
}

static size_t utf8_encode(uint32_t cp, char *buf) {
        if (cp < 0x80) {
                buf[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                buf[0] = (char) (0xc0 | cp >> 6);
                buf[1] = (char) (0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                buf[0] = (char) (0xe0 | cp >> 12);
                buf[1] = (char) (0x80 | (cp >> 6 & 0x3f));
                buf[2] = (char) (0x80 | (cp & 0x3f));
                return 3;
        }
        buf[0] = (char) (0xf0 | cp >> 18);
        buf[1] = (char) (0x80 | (cp >> 12 & 0x3f));
        buf[2] = (char) (0x80 | (cp >> 6 & 0x3f));
        buf[3] = (char) (0x80 | (cp & 0x3f));
        return 4;
}

size_t json_scan_string_decode(const JsonScanString *str, char *buf) {
        const char *p, *end;
        char *t = buf;

        assert(str);
        assert(buf || str->size == 0);

        if (!str->escaped) {
                if (str->size > 0)
                        memcpy(buf, str->raw, str->size);
                return str->size;
        }

        for (p = str->raw, end = str->raw + str->raw_size; p < end;) {
                const char *bs = memchr(p, '\\', (size_t) (end - p));
                size_t n;

                if (!bs)
                        bs = end;
                memcpy(t, p, (size_t) (bs - p));
                t += bs - p;
                if (bs == end)
                        break;
                t += utf8_encode(escape_decode((const uint8_t *) bs, &n), t);
                p = bs + n;
        }

        assert((size_t) (t - buf) == str->size);
        return str->size;
}

const char *json_scan_string_view(const JsonScanString *str, char *buf, size_t size) {
        assert(str);

        if (str->size > size)
                return NULL;
        if (!str->escaped)
                return str->raw;
        json_scan_string_decode(str, buf);
        return buf;
}

bool json_scan_string_equal(const JsonScanString *str, const char *s, size_t n) {
        const char *p, *end;

        assert(str);
        assert(s || n == 0);

        if (str->size != n)
                return false;
        if (!str->escaped)
                return n == 0 || memcmp(str->raw, s, n) == 0;

        /* Escape by escape, so that a long value needs no buffer. */
        for (p = str->raw, end = str->raw + str->raw_size; p < end;) {
                char c[4];
                size_t m, k;

                if (*p != '\\') {
                        if (*p++ != *s++)
                                return false;
                        continue;
                }
                k = utf8_encode(escape_decode((const uint8_t *) p, &m), c);
                if (memcmp(c, s, k) != 0)
                        return false;
                s += k;
                p += m;
        }
        return true;
}
