/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <unistd.h>

#include "stderr-capture.h"

void stderr_capture_begin(StderrCapture *c) {
        char path[] = "/tmp/test-log-XXXXXX";

        c->fd = mkstemp(path);
        assert_true(c->fd >= 0);
        (void) unlink(path);
        c->saved = dup(STDERR_FILENO);
        assert_true(c->saved >= 0);
        assert_true(dup2(c->fd, STDERR_FILENO) >= 0);
}

const char *stderr_capture_end(StderrCapture *c) {
        ssize_t n;

        assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
        close(c->saved);
        n = pread(c->fd, c->text, sizeof c->text - 1, 0);
        assert_true(n >= 0);
        c->text[n] = 0;
        close(c->fd);
        return c->text;
}

const char *stderr_capture_run(void (*fn)(void)) {
        static StderrCapture c;

        stderr_capture_begin(&c);
        fn();
        return stderr_capture_end(&c);
}
