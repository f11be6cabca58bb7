/* SPDX-License-Identifier: MIT */
/*
 * The bus's tokens file (bus-tokens.c) and a client's token file and credentials (bus-auth.c): what
 * parses, what each token allows, what is refused and how the refusal names the line without the
 * token's text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus-auth.h"
#include "bus-tokens.h"
#include "macro.h"

#define PRODUCER_TOKEN "prod-0123456789abcdef"
#define ADMIN_TOKEN    "admin-0123456789abcdef"

static char dir[] = "/tmp/test-bus-tokens.XXXXXX";

static const char *write_file(const char *name, const char *text) {
        static char path[256];
        FILE *f;

        (void) snprintf(path, sizeof path, "%s/%s", dir, name);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
        return path;
}

static void test_rights(void **state) {
        BusTokens *t = NULL;
        char error[256], buf[64];
        const char *path = write_file("tokens", "# the tokens\n"
                                                "\n"
                                                "producer " PRODUCER_TOKEN "\n"
                                                "  observer\t" PRODUCER_TOKEN "  \n"
                                                "scheduler sched-0123456789abcdef\r\n"
                                                "admin " ADMIN_TOKEN "\n");

        assert_int_equal(bus_tokens_load(&t, path, error, sizeof error), 0);
        assert_int_equal(bus_tokens_count(t), 3); /* the producer's two lines are one token */
        assert_int_equal(bus_tokens_rights(t, PRODUCER_TOKEN), BUS_RIGHT_PRODUCER | BUS_RIGHT_OBSERVER);
        assert_int_equal(bus_tokens_rights(t, "sched-0123456789abcdef"), BUS_RIGHT_SCHEDULER);
        assert_int_equal(bus_tokens_rights(t, ADMIN_TOKEN), BUS_RIGHTS_ALL);
        /* Near misses: a prefix, one more character, one character changed, nothing. */
        assert_int_equal(bus_tokens_rights(t, "prod-0123456789abcde"), 0);
        assert_int_equal(bus_tokens_rights(t, PRODUCER_TOKEN "0"), 0);
        assert_int_equal(bus_tokens_rights(t, "prod-0123456789abcdeF"), 0);
        assert_int_equal(bus_tokens_rights(t, ""), 0);
        assert_string_equal(bus_rights_to_string(BUS_RIGHT_PRODUCER | BUS_RIGHT_OBSERVER, buf, sizeof buf),
                            "producer,observer");
        assert_string_equal(bus_rights_to_string(BUS_RIGHTS_ALL, buf, sizeof buf), "admin");
        bus_tokens_free(t);
}

static void test_refused_files(void **state) {
        static const struct {
                const char *text, *error;
        } bad[] = {
                { "root " ADMIN_TOKEN "\n", ":1: unknown role" },
                { "# nothing\n\n", ": no token" },
                { "producer\n", ":1: expected ROLE TOKEN" },
                { "producer " PRODUCER_TOKEN " extra\n", ":1: expected ROLE TOKEN" },
                { "producer short\n", ":1: a token is 16 to 256" },
                { "\nproducer prod-0123456789abcdef\x01\n", ":2: a token is 16 to 256" },
        };
        char error[256];

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                BusTokens *t = NULL;
                const char *path = write_file("bad", bad[i].text);

                assert_int_equal(bus_tokens_load(&t, path, error, sizeof error), -EINVAL);
                assert_null(t);
                assert_non_null(strstr(error, bad[i].error));
                /* The reason names the line, never the token. */
                assert_null(strstr(error, "0123456789abcdef"));
        }
        assert_int_equal(bus_tokens_load(&(BusTokens *){ NULL }, "/nonexistent/tokens", error, sizeof error),
                         -ENOENT);
}

static void test_client_auth(void **state) {
        char error[256];
        BusAuth a;

        /* Only the first line counts, without its newline. */
        assert_int_equal(
                bus_auth_load(&a, &(BusAuthOptions){ .token_file = write_file("t", "tok-en1\nignored\n") },
                              error, sizeof error),
                0);
        assert_string_equal(a.token, "tok-en1");
        assert_null(a.ca);
        bus_auth_done(&a);
        assert_null(a.token);

        assert_int_equal(bus_auth_load(&a, &(BusAuthOptions){ .token_file = write_file("t", "two words\n") },
                                       error, sizeof error),
                         -EINVAL);
        assert_non_null(strstr(error, "does not start with a token"));
        assert_int_equal(
                bus_auth_load(&a, &(BusAuthOptions){ .ca = "/nonexistent/ca.crt" }, error, sizeof error),
                -ENOENT);
        assert_string_equal(error, "Cannot read --ca /nonexistent/ca.crt: No such file or directory");
        assert_int_equal(
                bus_auth_load(&a, &(BusAuthOptions){ .cert = write_file("c", "x") }, error, sizeof error),
                -EINVAL);

        /* From the credentials, when no option says otherwise. */
        (void) write_file("bus-token", "from-credential\n");
        (void) write_file("bus-ca", "PEM\n");
        assert_int_equal(setenv("CREDENTIALS_DIRECTORY", dir, 1), 0);
        assert_int_equal(bus_auth_load(&a, NULL, error, sizeof error), 0);
        assert_string_equal(a.token, "from-credential");
        assert_non_null(a.ca);
        assert_non_null(strstr(a.ca, "/bus-ca"));
        bus_auth_done(&a);
        assert_int_equal(bus_auth_load(&a,
                                       &(BusAuthOptions){ .token_file = write_file("t", "from-option\n") },
                                       error, sizeof error),
                         0);
        assert_string_equal(a.token, "from-option");
        bus_auth_done(&a);
        assert_int_equal(unsetenv("CREDENTIALS_DIRECTORY"), 0);
}

static int setup(void **state) {
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
        char command[128];

        (void) snprintf(command, sizeof command, "rm -rf %s", dir);
        return system(command) == 0 ? 0 : -1;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rights),
                cmocka_unit_test(test_refused_files),
                cmocka_unit_test(test_client_auth),
        };

        return cmocka_run_group_tests_name("bus-tokens", tests, setup, teardown);
}
