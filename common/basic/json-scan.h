/* SPDX-License-Identifier: MIT */
/*
 * JsonScan: a validating pull scanner over one JSON text in a byte buffer (not NUL-terminated), for
 * hot paths that cannot afford a tree of allocated values. It allocates nothing; the caller owns the
 * buffer, which must outlive the scanner and every string it hands out.
 *
 * It accepts exactly what jansson's json_loadb(JSON_DECODE_ANY) accepts (RFC 8259 and jansson's own
 * limits), so that a fast path built on it never takes a frame the jansson path would reject:
 *   - strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), anywhere in the text;
 *   - no control characters in strings, only the RFC escapes, \u surrogates only as a pair, no \u0000;
 *   - integers (no '.', 'e' or 'E') within int64, -ERANGE otherwise; reals that overflow a double are
 *     -ERANGE too (underflow to 0 is fine, as for strtod);
 *   - values nest at most JSON_SCAN_DEPTH_MAX deep, counting the top-level value as 1 (so 2048 empty
 *     nested arrays pass, a scalar inside 2048 arrays does not);
 *   - exactly one value, then only whitespace.
 * Duplicate keys are reported as they come: the caller decides (jansson keeps the last one).
 *
 * An error is sticky: every later call returns it again.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* jansson's JSON_PARSER_MAX_DEPTH. */
#define JSON_SCAN_DEPTH_MAX 2048

typedef enum JsonScanToken {
        JSON_SCAN_END, /* the one value is complete and only whitespace follows; returned again and again */
        JSON_SCAN_OBJECT_BEGIN,
        JSON_SCAN_OBJECT_END,
        JSON_SCAN_ARRAY_BEGIN,
        JSON_SCAN_ARRAY_END,
        JSON_SCAN_KEY, /* a member name, its ':' consumed: the next token is its value */
        JSON_SCAN_STRING,
        JSON_SCAN_INTEGER,
        JSON_SCAN_REAL,
        JSON_SCAN_TRUE,
        JSON_SCAN_FALSE,
        JSON_SCAN_NULL,
        _JSON_SCAN_TOKEN_MAX,
        _JSON_SCAN_TOKEN_INVALID = -EINVAL,
} JsonScanToken;

/* A key or string value as it stands in the input, already validated. Without escapes the raw bytes
 * are the value (size == raw_size); with them, json_scan_string_decode() writes the value. Never
 * holds a NUL byte. */
typedef struct JsonScanString {
        const char *raw; /* between the quotes */
        size_t raw_size;
        size_t size; /* decoded */
        bool escaped;
} JsonScanString;

typedef struct JsonScan {
        const uint8_t *start, *p, *end;
        int expect;                                 /* what the grammar allows next */
        int error;                                  /* sticky: 0 or a negative errno */
        unsigned depth;                             /* open containers */
        uint8_t is_object[JSON_SCAN_DEPTH_MAX / 8]; /* one bit per open container */

        /* The value of the token last returned. */
        JsonScanString string; /* KEY, STRING */
        int64_t integer;       /* INTEGER */
        const char *number;    /* INTEGER, REAL: the text, e.g. for strtod() */
        size_t number_size;
} JsonScan;

void json_scan_init(JsonScan *s, const void *data, size_t size);

/* The next token: a JsonScanToken (>= 0), or -EBADMSG (not JSON, or not UTF-8), -ERANGE (a number
 * jansson cannot hold), -ELOOP (nested too deep). */
int json_scan_next(JsonScan *s);

/* Finishes the value whose first token `t` (a value token, as json_scan_next() returned it) has just
 * been read: for OBJECT_BEGIN or ARRAY_BEGIN everything up to the matching end, validated as ever;
 * nothing for a scalar. Returns 0 or the scan error. */
int json_scan_skip(JsonScan *s, int t);

/* Offset of the next unread byte: where an error was found. */
size_t json_scan_offset(const JsonScan *s);

/* Writes the decoded value, str->size bytes, to `buf` (no NUL appended). Returns str->size. */
size_t json_scan_string_decode(const JsonScanString *str, char *buf);

/* The value of a string of at most `size` bytes: the raw bytes themselves if unescaped, else decoded
 * into `buf`. NULL if it is longer than `size`. The length is str->size. */
const char *json_scan_string_view(const JsonScanString *str, char *buf, size_t size);

/* Whether the string's value is exactly the `n` bytes at `s`. */
bool json_scan_string_equal(const JsonScanString *str, const char *s, size_t n);

/* The same for a string literal, inline: by size first, then (unescaped, as keys nearly always are)
 * one memcmp() of constant size, which the compiler turns into a few compares. */
#define JSON_SCAN_STRING_IS(str, literal)                                         \
        ((str)->size == sizeof(literal) - 1 &&                                    \
         (!(str)->escaped ? memcmp((str)->raw, literal, sizeof(literal) - 1) == 0 \
                          : json_scan_string_equal((str), literal, sizeof(literal) - 1)))
