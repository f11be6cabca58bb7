/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "macro.h"
#include "notify.h"

/* A datagram socket standing for the manager's: at a path, or abstract when path starts with '@'. */
static int manager_socket(const char *name) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = strlen(name);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        memcpy(sa.sun_path, name, n);
        if (name[0] == '@')
                sa.sun_path[0] = 0;
        assert_int_equal(bind(fd, (struct sockaddr *) &sa,
                              (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + (name[0] != '@'))),
                         0);
        return fd;
}

static void expect(int fd, const char *text) {
        char buf[256];
        ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);

        assert_true(n >= 0);
        buf[n] = 0;
        assert_string_equal(buf, text);
}

static void test_unset(void **state) {
        notify_reset();
        assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
        assert_int_equal(notify_text("STATUS=nobody"), 0);
}

/* Several messages over one socket, to a path and to an abstract name; after the manager's socket
 * went away, the next message finds the new one. */
static void check_messages(const char *name) {
        int fd = manager_socket(name);

        notify_reset();
        assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
        assert_int_equal(notify_text("STATUS=one"), 1);
        assert_int_equal(notify_text("STATUS=two"), 1);
        expect(fd, "STATUS=one");
        expect(fd, "STATUS=two");

        /* The manager restarts its socket: the kept one fails once, and the message still goes. */
        safe_close(fd);
        if (name[0] == '/')
                assert_int_equal(unlink(name), 0);
        fd = manager_socket(name);
        assert_int_equal(notify_text("STATUS=three"), 1);
        expect(fd, "STATUS=three");
        safe_close(fd);
        notify_reset();
}

static void test_path(void **state) {
        char name[] = "/tmp/sched-test-notify-XXXXXX";
        int fd = mkstemp(name);

        assert_true(fd >= 0);
        safe_close(fd);
        assert_int_equal(unlink(name), 0);
        check_messages(name);
        assert_int_equal(unlink(name), 0);
}

static void test_abstract(void **state) {
        char name[64];

        (void) snprintf(name, sizeof name, "@sched-test-notify-%d", (int) getpid());
        check_messages(name);
}

/* A path that fills sun_path leaves no room for its NUL: refused, no message. */
static void test_path_too_long(void **state) {
        char name[sizeof(((struct sockaddr_un *) NULL)->sun_path) + 1];

        memset(name, 'a', sizeof name - 1);
        name[0] = '/';
        name[sizeof name - 1] = 0;
        notify_reset();
        assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
        assert_true(notify_text("STATUS=nowhere") < 0);
        notify_reset();
}

/* A full queue drops the status rather than waiting. */
static void test_full_queue_does_not_block(void **state) {
        char name[64];
        int fd, r;

        (void) snprintf(name, sizeof name, "@sched-test-notify-full-%d", (int) getpid());
        fd = manager_socket(name);
        notify_reset();
        assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
        for (int i = 0; i < 100000; i++) {
                r = notify_text("STATUS=a status that nobody reads, again and again");
                if (r < 0)
                        break;
        }
        assert_int_equal(r, -EAGAIN);
        safe_close(fd);
        notify_reset();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_unset),
                cmocka_unit_test(test_path),
                cmocka_unit_test(test_abstract),
                cmocka_unit_test(test_path_too_long),
                cmocka_unit_test(test_full_queue_does_not_block),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
