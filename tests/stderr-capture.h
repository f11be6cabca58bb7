/* SPDX-License-Identifier: MIT */
/*
 * StderrCapture: for unit tests of code that writes to stderr (the log). stderr goes to an unlinked
 * temporary file between begin and end; end puts the old stderr back and returns what was written.
 * The caller owns the StderrCapture, usually on its stack.
 */
#pragma once

#define STDERR_CAPTURE_MAX 8192

typedef struct StderrCapture {
        int fd;    /* the temporary file stderr writes to meanwhile */
        int saved; /* the real stderr */
        char text[STDERR_CAPTURE_MAX];
} StderrCapture;

void stderr_capture_begin(StderrCapture *c);
/* Restores stderr and returns what was written meanwhile (NUL-terminated, in c->text). */
const char *stderr_capture_end(StderrCapture *c);

/* Runs `fn` with stderr captured and returns what it wrote; valid until the next call. */
const char *stderr_capture_run(void (*fn)(void));
