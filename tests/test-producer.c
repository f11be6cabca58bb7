/* SPDX-License-Identifier: MIT */
/*
 * Integration test of the real sched-producer binary against the real sched-bus, with a test client
 * registered as scheduler receiving what the producer submits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "test-client.h"

#if !defined(BUS_BINARY) || !defined(PRODUCER_BINARY)
#error "BUS_BINARY and PRODUCER_BINARY must be defined"
#endif

typedef struct Fixture {
        Daemon bus;
        int port;
        char url[64];
        TestNet *net;
        TestClient *sched;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        /* --hold 0: a job with no scheduler is dropped, which test_drops_named needs. */
        char *argv[] = { (char *) BUS_BINARY, (char *) "--hold", (char *) "0", NULL };
        int fd = harness_listen_tcp(&f->port);

        assert_true(fd >= 0);
        assert_int_equal(daemon_spawn(&f->bus, argv, fd, NULL), 0);
        close(fd);
        assert_int_equal(daemon_wait_notify(&f->bus, "READY=1", 10000, NULL, 0), 0);
        (void) snprintf(f->url, sizeof f->url, "ws://127.0.0.1:%d", f->port);
        assert_int_equal(test_net_new(&f->net), 0);
        assert_int_equal(test_client_connect(f->net, f->url, &f->sched), 0);
        assert_int_equal(test_client_register(f->sched, "scheduler"), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        test_net_free(f->net);
        if (f->bus.pid > 0)
                assert_int_equal(daemon_stop(&f->bus, SIGTERM, 10000), 0);
        daemon_cleanup(&f->bus);
        free(f);
        return 0;
}

/* Runs the producer with `args` to its end while the loop delivers; returns its exit status. */
static int run_producer(Fixture *f, Daemon *d, const char *const *args, int timeout_ms) {
        char *argv[32] = { (char *) PRODUCER_BINARY };
        long long deadline = harness_now_ms() + timeout_ms;
        size_t n = 1;
        int status;

        for (const char *const *a = args; a && *a; a++)
                argv[n++] = (char *) *a;
        argv[n] = NULL;
        assert_int_equal(daemon_spawn(d, argv, -1, NULL), 0);
        for (;;) {
                if (f)
                        test_net_run_for(f->net, 20);
                else
                        harness_sleep_ms(20);
                status = daemon_poll(d);
                if (status != -EAGAIN)
                        return status;
                if (harness_now_ms() > deadline)
                        return daemon_stop(d, SIGKILL, 1000);
        }
}

static void test_count_and_period(void **state) {
        Fixture *f = *state;
        const char *args[] = { "--bus", f->url, "-n", "5", "-p", "0.05", NULL };
        Daemon d;

        assert_int_equal(run_producer(f, &d, args, 10000), 0);
        assert_int_equal(test_client_wait_messages(f->sched, 5, 5000), 0);
        test_net_run_for(f->net, 100);
        assert_int_equal(f->sched->n_messages, 5);
        for (size_t i = 0; i < 5; i++) {
                json_t *j = json_loads(test_client_message(f->sched, i), 0, NULL);
                json_int_t p, r;

                assert_non_null(j);
                p = json_integer_value(json_object_get(j, "priority"));
                r = json_integer_value(json_object_get(j, "runtime"));
                assert_true(json_is_integer(json_object_get(j, "priority")));
                assert_true(json_is_integer(json_object_get(j, "runtime")));
                assert_in_range(p, 0, 10);
                assert_in_range(r, 3, 15);
                assert_true(json_is_integer(json_object_get(j, "id")));
                json_decref(j);
        }
        assert_int_equal(daemon_count_log(&d, "submitted priority="), 5);
        assert_int_equal(daemon_count_log(&d, "next in 0.050 s"), 4);
        assert_int_equal(daemon_count_log(&d, "the last of 5"), 1);
        daemon_cleanup(&d);
}

/* The payloads without the bus-assigned id, joined. */
static char *payloads_without_id(TestClient *c, size_t from, size_t n) {
        char *out = calloc(1, 1);
        size_t size = 0;

        for (size_t i = from; i < from + n; i++) {
                json_t *j = json_loads(test_client_message(c, i), 0, NULL);
                char *s;

                assert_non_null(j);
                json_object_del(j, "id");
                s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
                out = realloc(out, size + strlen(s) + 2);
                strcpy(out + size, s);
                size += strlen(s);
                out[size++] = '\n';
                out[size] = 0;
                free(s);
                json_decref(j);
        }
        return out;
}

/* --wait: the ids the bus gave are logged, and the exit status says whether every job ended done. A
 * test client plays a reporting scheduler that ends each job with `end`. */
static int run_waiting_producer(Fixture *f, Daemon *d, const char *end) {
        const char *args[] = { PRODUCER_BINARY, "--bus",     f->url, "-n",     "2", "-p",
                               "0.05",          "--runtime", "1",    "--wait", NULL };
        long long deadline = harness_now_ms() + 15000;
        TestClient *rep;
        size_t answered = 0;
        int status;

        assert_int_equal(test_client_connect(f->net, f->url, &rep), 0);
        assert_int_equal(
                test_client_send(
                        rep, "{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"t@1\",\"slots\":1}"),
                0);
        test_net_run_for(f->net, 50);
        assert_int_equal(daemon_spawn(d, (char **) args, -1, NULL), 0);
        for (;;) {
                test_net_run_for(f->net, 20);
                for (; answered < rep->n_messages; answered++) {
                        json_t *j = json_loads(test_client_message(rep, answered), 0, NULL);
                        char frame[256];
                        json_int_t id;

                        assert_non_null(j);
                        id = json_integer_value(json_object_get(json_object_get(j, "payload"), "id"));
                        json_decref(j);
                        (void) snprintf(
                                frame, sizeof frame,
                                "{\"cmd\":\"job_event\",\"events\":[{\"id\":%lld,\"state\":\"running\"},"
                                "{\"id\":%lld,\"state\":\"%s\"}]}",
                                (long long) id, (long long) id, end);
                        assert_int_equal(test_client_send(rep, frame), 0);
                }
                status = daemon_poll(d);
                if (status != -EAGAIN)
                        break;
                assert_true(harness_now_ms() < deadline);
        }
        test_client_close(rep);
        return status;
}

static void test_wait(void **state) {
        Fixture *f = *state;
        Daemon d;

        assert_int_equal(run_waiting_producer(f, &d, "done"), 0);
        assert_int_equal(daemon_count_log(&d, "Job 1 submitted."), 1);
        assert_int_equal(daemon_count_log(&d, "Job 2 submitted."), 1);
        assert_int_equal(daemon_count_log(&d, "Job 2 ended: done on t@1."), 1);
        assert_int_equal(daemon_count_log(&d, "All 2 jobs ended, 0 of them not done."), 1);
        daemon_cleanup(&d);

        assert_int_equal(run_waiting_producer(f, &d, "failed"), 3);
        assert_int_equal(daemon_count_log(&d, "Job 3 ended: failed on t@1."), 1);
        daemon_cleanup(&d);
}

/* With no scheduler the bus drops the jobs: the producer names them and exits 3. */
static void test_drops_named(void **state) {
        Fixture *f = *state;
        const char *args[] = { "--bus", f->url, "-n", "3", "-p", "0.02", NULL };
        Daemon d;

        test_client_close(f->sched);
        f->sched = NULL;
        assert_int_equal(daemon_wait_status(&f->bus, "schedulers 0", 5000), 0);
        assert_int_equal(run_producer(f, &d, args, 10000), 3);
        assert_int_equal(daemon_count_log(&d, "The bus dropped 3 of 3 jobs: 1, 2, 3."), 1);
        assert_int_equal(daemon_count_log(&d, "Sent 3 jobs, done."), 0);
        daemon_cleanup(&d);
}

/* The bus restarts on the same socket (as under socket activation): the producer comes back, sends
 * what it made meanwhile, and every job it was told of reaches a scheduler. */
static void test_bus_restart_reconnects(void **state) {
        Fixture *f = *state;
        const char *args[] = { PRODUCER_BINARY, "--bus", f->url, "-n", "30", "-p", "0.05", NULL };
        char *bus_argv[] = { (char *) BUS_BINARY, NULL };
        TestClient *sched2;
        Daemon d;
        int fd, port, status;

        /* A bus of our own, on a socket we keep. */
        test_net_free(f->net);
        assert_int_equal(daemon_stop(&f->bus, SIGTERM, 10000), 0);
        daemon_cleanup(&f->bus);
        fd = harness_listen_tcp(&port);
        assert_true(fd >= 0);
        assert_int_equal(daemon_spawn(&f->bus, bus_argv, fd, NULL), 0);
        assert_int_equal(daemon_wait_notify(&f->bus, "READY=1", 10000, NULL, 0), 0);
        (void) snprintf(f->url, sizeof f->url, "ws://127.0.0.1:%d", port);
        assert_int_equal(test_net_new(&f->net), 0);
        assert_int_equal(test_client_connect(f->net, f->url, &f->sched), 0);
        assert_int_equal(test_client_register(f->sched, "scheduler"), 0);
        assert_int_equal(daemon_wait_status(&f->bus, "schedulers 1", 5000), 0);

        assert_int_equal(daemon_spawn(&d, (char **) args, -1, NULL), 0);
        assert_int_equal(test_client_wait_messages(f->sched, 5, 5000), 0);
        assert_int_equal(daemon_stop(&f->bus, SIGTERM, 10000), 0);
        daemon_cleanup(&f->bus);
        assert_int_equal(daemon_spawn(&f->bus, bus_argv, fd, NULL), 0);
        assert_int_equal(test_client_connect(f->net, f->url, &sched2), 0);
        assert_int_equal(test_client_register(sched2, "scheduler"), 0);
        for (int i = 0; i < 1000 && (status = daemon_poll(&d)) == -EAGAIN; i++)
                test_net_run_for(f->net, 20);
        close(fd);

        assert_int_equal(daemon_count_log(&d, "again; sending the"), 1);
        test_net_run_for(f->net, 200);
        if (status == 0)
                /* Nothing was in flight when the bus went: every job reached one of them. */
                assert_int_equal(f->sched->n_messages + sched2->n_messages, 30);
        else {
                assert_int_equal(status, 75);
                assert_int_equal(daemon_count_log(&d, "jobs may be lost"), 1);
                assert_true(f->sched->n_messages + sched2->n_messages >= 29);
        }
        assert_int_equal(daemon_count_log(&d, "dropped"), 0);
        daemon_cleanup(&d);
}

static void test_seed_reproducible(void **state) {
        Fixture *f = *state;
        const char *args[] = { "--bus", f->url, "-n",    "8",      "-p", "0.01",
                               "-g",    "-s",   "0.005", "--seed", "77", NULL };
        char *first, *second;
        Daemon d1, d2;

        assert_int_equal(run_producer(f, &d1, args, 10000), 0);
        assert_int_equal(test_client_wait_messages(f->sched, 8, 5000), 0);
        assert_int_equal(run_producer(f, &d2, args, 10000), 0);
        assert_int_equal(test_client_wait_messages(f->sched, 16, 5000), 0);
        first = payloads_without_id(f->sched, 0, 8);
        second = payloads_without_id(f->sched, 8, 8);
        assert_string_equal(first, second);
        /* The waits are the same sequence too. */
        {
                char *l1 = daemon_read_log(&d1), *l2 = daemon_read_log(&d2);
                char *a = strstr(l1, "submitted"), *b = strstr(l2, "submitted");
                assert_non_null(a);
                assert_non_null(b);
                assert_int_equal(strncmp(a, b, 60), 0);
                free(l1);
                free(l2);
        }
        free(first);
        free(second);
        daemon_cleanup(&d1);
        daemon_cleanup(&d2);
}

static void test_fixed_values(void **state) {
        Fixture *f = *state;
        const char *args[] = { "--bus",      f->url, "-n",        "3",    "-p", "0.01",
                               "--priority", "0",    "--runtime", "0.25", NULL };
        Daemon d;

        assert_int_equal(run_producer(f, &d, args, 10000), 0);
        assert_int_equal(test_client_wait_messages(f->sched, 3, 5000), 0);
        for (size_t i = 0; i < 3; i++) {
                json_t *j = json_loads(test_client_message(f->sched, i), 0, NULL);

                assert_int_equal(json_integer_value(json_object_get(j, "priority")), 0);
                assert_true(json_number_value(json_object_get(j, "runtime")) == 0.25);
                json_decref(j);
        }
        daemon_cleanup(&d);
}

static void test_unreachable(void **state) {
        char url[64];
        const char *args[] = { "--bus", url, "--connect-timeout", "0.6", NULL };
        Daemon d;
        long long t0;

        (void) snprintf(url, sizeof url, "ws://127.0.0.1:%d", harness_free_port());
        t0 = harness_now_ms();
        assert_int_equal(run_producer(NULL, &d, args, 10000), 69);
        assert_true(harness_now_ms() - t0 >= 500);
        assert_int_equal(daemon_count_log(&d, "Cannot reach the bus at"), 1);
        daemon_cleanup(&d);
}

static void test_bus_lost(void **state) {
        Fixture *f = *state;
        char *argv[] = {
                (char *) PRODUCER_BINARY,     (char *) "--bus", f->url, (char *) "-p", (char *) "0.05",
                (char *) "--connect-timeout", (char *) "1",     NULL
        };
        Daemon d;

        /* The bus goes for good: the producer tries to get it back for --connect-timeout, then
         * gives up with 75. */
        assert_int_equal(daemon_spawn(&d, argv, -1, NULL), 0);
        assert_int_equal(test_client_wait_messages(f->sched, 3, 5000), 0);
        assert_int_equal(daemon_stop(&f->bus, SIGKILL, 5000), 128 + SIGKILL);
        assert_int_equal(daemon_stop(&d, 0, 15000), 75);
        assert_int_equal(daemon_count_log(&d, "Lost the bus"), 1);
        assert_true(daemon_count_log(&d, "after sending") == 1);
        assert_int_equal(daemon_count_log(&d, "did not come back within 1.0 s"), 1);
        daemon_cleanup(&d);
}

static void test_bad_usage(void **state) {
        static const char *const cases[][4] = {
                { "-p", "soon", NULL }, { "--priority", "11", NULL }, { "--runtime", "-1", NULL },
                { "-n", "0", NULL },    { "--frobnicate", NULL },     { "extra", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Daemon d;

                assert_int_equal(run_producer(NULL, &d, cases[i], 5000), 2);
                assert_true(daemon_count_log(&d, "sched-producer") >= 1);
                daemon_cleanup(&d);
        }
}

int main(int argc, char *argv[]) {
        struct CMUnitTest tests[] = {
                cmocka_unit_test(test_count_and_period),  cmocka_unit_test(test_wait),
                cmocka_unit_test(test_drops_named),       cmocka_unit_test(test_bus_restart_reconnects),
                cmocka_unit_test(test_seed_reproducible), cmocka_unit_test(test_fixed_values),
                cmocka_unit_test(test_unreachable),       cmocka_unit_test(test_bus_lost),
                cmocka_unit_test(test_bad_usage),
        };

        return harness_run_tests("producer", tests, ELEMENTSOF(tests), setup, teardown, argc, argv);
}
