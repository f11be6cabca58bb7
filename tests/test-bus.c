/* SPDX-License-Identifier: MIT */
/*
 * Integration test of the real sched-bus binary: socket activation through LISTEN_FDS, readiness and
 * status through our own NOTIFY_SOCKET, and several WebSocket clients on loopback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "test-client.h"

#ifndef BUS_BINARY
#error "BUS_BINARY must name the sched-bus binary"
#endif

typedef struct Fixture {
        Daemon bus;
        TestNet *net;
        int port;
        char url[64];
} Fixture;

/* Starts the bus socket-activated on an ephemeral port with extra arguments. */
static void fixture_start(Fixture *f, const char *const *extra_args) {
        char *argv[32] = { (char *) BUS_BINARY };
        size_t n = 1;
        int fd;

        for (const char *const *a = extra_args; a && *a && n < ELEMENTSOF(argv) - 1; a++)
                argv[n++] = (char *) *a;
        argv[n] = NULL;

        fd = harness_listen_tcp(&f->port);
        assert_true(fd >= 0);
        assert_int_equal(daemon_spawn(&f->bus, argv, fd, NULL), 0);
        close(fd);
        (void) snprintf(f->url, sizeof f->url, "ws://127.0.0.1:%d/", f->port);
        assert_int_equal(daemon_wait_notify(&f->bus, "READY=1", 10000, NULL, 0), 0);
        assert_int_equal(test_net_new(&f->net), 0);
}

/* Stops the bus of the fixture and starts a new one with other arguments. */
static void fixture_restart(Fixture *f, const char *const *args) {
        assert_int_equal(daemon_stop(&f->bus, SIGTERM, 10000), 0);
        daemon_cleanup(&f->bus);
        test_net_free(f->net);
        fixture_start(f, args);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        fixture_start(f, NULL);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        test_net_free(f->net);
        if (f->bus.pid > 0) {
                int status = daemon_stop(&f->bus, SIGTERM, 10000);
                /* Every test ends with a clean stop: exit 0 (under valgrind, no leak either). */
                if (status != 0) {
                        char *log = daemon_read_log(&f->bus);
                        fprintf(stderr, "bus exit status %d, log:\n%s\n", status, log);
                        free(log);
                }
                assert_int_equal(status, 0);
        }
        daemon_cleanup(&f->bus);
        free(f);
        return 0;
}

static TestClient *connect_as(Fixture *f, const char *role) {
        TestClient *c = NULL;

        assert_int_equal(test_client_connect(f->net, f->url, &c), 0);
        if (role)
                assert_int_equal(test_client_register(c, role), 0);
        return c;
}

static json_t *parse_message(TestClient *c, size_t i) {
        const char *text = test_client_message(c, i);
        json_t *j;

        assert_non_null(text);
        j = json_loads(text, 0, NULL);
        assert_non_null(j);
        return j;
}

static void assert_error_frame(TestClient *c, size_t i, const char *code) {
        json_t *j = parse_message(c, i);

        assert_string_equal(json_string_value(json_object_get(j, "error")), code);
        assert_true(json_is_string(json_object_get(j, "message")));
        assert_true(strlen(json_string_value(json_object_get(j, "message"))) > 0);
        json_decref(j);
}

/* Sends a valid job request, which the bus forwards to every scheduler. */
static void send_job(TestClient *c, int priority, int runtime) {
        char frame[128];

        (void) snprintf(frame, sizeof frame,
                        "{\"cmd\": \"job_request\", \"payload\": {\"priority\": %d, \"runtime\": %d}}",
                        priority, runtime);
        assert_int_equal(test_client_send(c, frame), 0);
}

/* After the bus refused something from another client: `producer` and `scheduler` are served as
 * before, a job from one reaches the other (its first message), and neither was closed. */
static void check_still_served(TestClient *producer, TestClient *scheduler, int priority, int runtime) {
        send_job(producer, priority, runtime);
        assert_int_equal(test_client_wait_messages(scheduler, 1, 5000), 0);
        assert_false(scheduler->closed);
        assert_false(producer->closed);
}

static void test_ready_and_status(void **state) {
        Fixture *f = *state;
        TestClient *p, *s;

        assert_int_equal(daemon_wait_status(&f->bus, "producers 0, schedulers 0", 5000), 0);
        s = connect_as(f, "scheduler");
        p = connect_as(f, "producer");
        assert_int_equal(daemon_wait_status(&f->bus, "producers 1, schedulers 1", 5000), 0);
        send_job(p, 1, 3);
        assert_int_equal(test_client_wait_messages(s, 1, 5000), 0);
        assert_int_equal(daemon_wait_status(&f->bus, "forwarded 1, held 0, dropped 0, errors 0", 5000), 0);
        test_client_close(s);
        assert_int_equal(test_client_wait_closed(s, 5000), 0);
        assert_int_equal(daemon_wait_status(&f->bus, "producers 1, schedulers 0", 5000), 0);
}

static void test_broadcast(void **state) {
        Fixture *f = *state;
        TestClient *sched[3], *p;

        for (size_t i = 0; i < ELEMENTSOF(sched); i++)
                sched[i] = connect_as(f, "scheduler");
        p = connect_as(f, "producer");

        assert_int_equal(
                test_client_send(p,
                                 "{\"cmd\": \"job_request\", \"payload\": "
                                 "{\"priority\": 2, \"runtime\": 4, \"owner\": \"ops\", \"tags\": [1, 2]}}"),
                0);
        assert_int_equal(test_client_send(p, "{\"cmd\": \"job_request\", \"payload\": "
                                             "{\"priority\": 0, \"runtime\": 0.5, \"id\": 999999}}"),
                         0);
        for (size_t i = 0; i < ELEMENTSOF(sched); i++) {
                json_t *a, *b;

                assert_int_equal(test_client_wait_messages(sched[i], 2, 5000), 0);
                a = parse_message(sched[i], 0);
                b = parse_message(sched[i], 1);
                assert_int_equal(json_integer_value(json_object_get(a, "priority")), 2);
                assert_int_equal(json_integer_value(json_object_get(a, "runtime")), 4);
                assert_string_equal(json_string_value(json_object_get(a, "owner")), "ops");
                assert_int_equal(json_array_size(json_object_get(a, "tags")), 2);
                assert_true(json_is_integer(json_object_get(a, "id")));
                /* Ids come from the bus, increase, and replace one the producer sent. */
                assert_true(json_integer_value(json_object_get(b, "id")) >
                            json_integer_value(json_object_get(a, "id")));
                assert_true(json_integer_value(json_object_get(b, "id")) != 999999);
                assert_true(json_real_value(json_object_get(b, "runtime")) == 0.5);
                json_decref(a);
                json_decref(b);
        }
        /* The producer gets nothing back. */
        test_net_run_for(f->net, 100);
        assert_int_equal(p->n_messages, 0);
}

static void test_not_back_to_sender(void **state) {
        Fixture *f = *state;
        TestClient *a = connect_as(f, "scheduler"), *b = connect_as(f, "scheduler");

        send_job(a, 5, 1);
        assert_int_equal(test_client_wait_messages(b, 1, 5000), 0);
        test_net_run_for(f->net, 150);
        assert_int_equal(a->n_messages, 0);
        assert_int_equal(b->n_messages, 1);
}

static void test_unregistered_sender_accepted(void **state) {
        Fixture *f = *state;
        TestClient *s = connect_as(f, "scheduler"), *anon = connect_as(f, NULL);

        send_job(anon, 3, 2);
        assert_int_equal(test_client_wait_messages(s, 1, 5000), 0);
        test_net_run_for(f->net, 100);
        assert_int_equal(anon->n_messages, 0);
}

/* --hold 0: version 1's behaviour, a job with no scheduler is dropped at once. */
static void test_dropped_without_scheduler(void **state) {
        static const char *const args[] = { "--hold", "0", NULL };
        Fixture *f = *state;
        TestClient *p;

        fixture_restart(f, args);
        p = connect_as(f, "producer");

        send_job(p, 3, 2);
        assert_int_equal(daemon_wait_log(&f->bus, "state=dropped", 1, 5000), 0);
        assert_int_equal(daemon_wait_status(&f->bus, "forwarded 0, held 0, dropped 1", 5000), 0);
        assert_true(daemon_count_log(&f->bus, "Job 1 dropped") == 1);
        assert_true(daemon_count_log(&f->bus, "job=1 ") + daemon_count_log(&f->bus, "job=1\n") >= 1);
}

static void test_every_error_code(void **state) {
        static const struct {
                const char *frame, *code;
        } cases[] = {
                { "{not json", "invalid_json" },
                { "\xff\xfe{}", "invalid_json" },
                { "[1, 2]", "invalid_message" },
                { "{\"type\": \"producer\"}", "invalid_message" },
                { "{\"cmd\": 7}", "invalid_message" },
                { "{\"cmd\": \"launch\"}", "unknown_cmd" },
                { "{\"cmd\": \"register\", \"type\": \"overlord\"}", "invalid_type" },
                { "{\"cmd\": \"register\"}", "invalid_type" },
                { "{\"cmd\": \"job_request\"}", "invalid_payload" },
                { "{\"cmd\": \"job_request\", \"payload\": [1]}", "invalid_payload" },
                { "{\"cmd\": \"job_request\", \"payload\": {\"priority\": 11, \"runtime\": 1}}",
                  "invalid_priority" },
                { "{\"cmd\": \"job_request\", \"payload\": {\"priority\": 1.5, \"runtime\": 1}}",
                  "invalid_priority" },
                { "{\"cmd\": \"job_request\", \"payload\": {\"priority\": \"3\", \"runtime\": 1}}",
                  "invalid_priority" },
                { "{\"cmd\": \"job_request\", \"payload\": {\"runtime\": 1}}", "invalid_priority" },
                { "{\"cmd\": \"job_request\", \"payload\": {\"priority\": 1, \"runtime\": -1}}",
                  "invalid_runtime" },
                { "{\"cmd\": \"job_request\", \"payload\": {\"priority\": 1, \"runtime\": \"5\"}}",
                  "invalid_runtime" },
                { "{\"cmd\": \"job_request\", \"payload\": {\"priority\": 1, \"runtime\": 1e9}}",
                  "invalid_runtime" },
        };
        Fixture *f = *state;
        TestClient *c = connect_as(f, "producer"), *s = connect_as(f, "scheduler");

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                assert_int_equal(test_client_send(c, cases[i].frame), 0);
                assert_int_equal(test_client_wait_messages(c, i + 1, 5000), 0);
                assert_error_frame(c, i, cases[i].code);
        }
        /* The connection is kept and still works. */
        assert_false(c->closed);
        send_job(c, 0, 0);
        assert_int_equal(test_client_wait_messages(s, 1, 5000), 0);
        assert_int_equal(s->n_messages, 1);
        char needle[64];
        (void) snprintf(needle, sizeof needle, "errors %zu", ELEMENTSOF(cases));
        assert_int_equal(daemon_wait_status(&f->bus, needle, 5000), 0);
}

/* A job's whole way with the additions of version 2: a reporting scheduler, an observer and a
 * producer that asked for its jobs' events, then status, jobs and cancel. */
static void test_following(void **state) {
        Fixture *f = *state;
        TestClient *rep, *legacy = connect_as(f, "scheduler"), *obs, *p, *ask = connect_as(f, NULL);
        json_t *j, *ev;

        assert_int_equal(test_client_connect(f->net, f->url, &rep), 0);
        assert_int_equal(
                test_client_send(
                        rep, "{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"r@2\",\"slots\":2}"),
                0);
        assert_int_equal(test_client_connect(f->net, f->url, &obs), 0);
        assert_int_equal(test_client_send(obs, "{\"cmd\":\"register\",\"type\":\"observer\"}"), 0);
        assert_int_equal(test_client_connect(f->net, f->url, &p), 0);
        assert_int_equal(test_client_send(p, "{\"cmd\":\"register\",\"type\":\"producer\",\"events\":true}"),
                         0);
        test_net_run_for(f->net, 100);

        assert_int_equal(test_client_send(p, "{\"cmd\":\"job_request\",\"payload\":{\"priority\":4,"
                                             "\"runtime\":9},\"ref\":\"a\"}"),
                         0);
        assert_int_equal(test_client_wait_messages(p, 1, 5000), 0);
        j = parse_message(p, 0);
        assert_string_equal(json_string_value(json_object_get(j, "event")), "accepted");
        assert_string_equal(json_string_value(json_object_get(j, "ref")), "a");
        json_int_t id = json_integer_value(json_object_get(j, "id"));
        json_decref(j);

        /* The reporting scheduler gets it wrapped, the version 1 one bare. */
        assert_int_equal(test_client_wait_messages(rep, 1, 5000), 0);
        assert_int_equal(test_client_wait_messages(legacy, 1, 5000), 0);
        j = parse_message(rep, 0);
        assert_string_equal(json_string_value(json_object_get(j, "cmd")), "job");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "payload"), "id")), id);
        json_decref(j);
        j = parse_message(legacy, 0);
        assert_null(json_object_get(j, "cmd"));
        assert_int_equal(json_integer_value(json_object_get(j, "id")), id);
        json_decref(j);

        /* Its event reaches the observer and the producer, with the job's facts. */
        char frame[256];
        (void) snprintf(frame, sizeof frame, "{\"cmd\":\"job_event\",\"id\":%lld,\"state\":\"running\"}",
                        (long long) id);
        assert_int_equal(test_client_send(rep, frame), 0);
        assert_int_equal(test_client_wait_messages(obs, 1, 5000), 0);
        assert_int_equal(test_client_wait_messages(p, 2, 5000), 0);
        ev = parse_message(obs, 0);
        assert_string_equal(json_string_value(json_object_get(ev, "event")), "job");
        assert_string_equal(json_string_value(json_object_get(ev, "state")), "running");
        assert_string_equal(json_string_value(json_object_get(ev, "scheduler")), "r@2");
        assert_int_equal(json_integer_value(json_object_get(ev, "priority")), 4);
        assert_null(json_object_get(ev, "final"));
        json_decref(ev);

        /* Status and jobs, from a client that never registered. */
        assert_int_equal(test_client_send(ask, "{\"cmd\":\"status\"}"), 0);
        assert_int_equal(test_client_wait_messages(ask, 1, 5000), 0);
        j = parse_message(ask, 0);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "bus"), "schedulers")), 2);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "states"), "running")), 1);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "states"), "sent")), 1);
        json_decref(j);
        assert_int_equal(test_client_send(ask, "{\"cmd\":\"jobs\",\"state\":\"running\"}"), 0);
        assert_int_equal(test_client_wait_messages(ask, 2, 5000), 0);
        j = parse_message(ask, 1);
        assert_int_equal(json_integer_value(json_object_get(j, "total")), 1);
        assert_int_equal(
                json_integer_value(json_object_get(json_array_get(json_object_get(j, "jobs"), 0), "id")),
                id);
        json_decref(j);

        /* Cancel: to the reporting scheduler only; its cancelled event ends the job for everyone. */
        (void) snprintf(frame, sizeof frame, "{\"cmd\":\"cancel\",\"id\":%lld}", (long long) id);
        assert_int_equal(test_client_send(ask, frame), 0);
        assert_int_equal(test_client_wait_messages(ask, 3, 5000), 0);
        j = parse_message(ask, 2);
        assert_string_equal(json_string_value(json_object_get(j, "event")), "cancelling");
        assert_int_equal(json_integer_value(json_object_get(j, "schedulers")), 1);
        json_decref(j);
        assert_int_equal(test_client_wait_messages(rep, 2, 5000), 0);
        j = parse_message(rep, 1);
        assert_string_equal(json_string_value(json_object_get(j, "cmd")), "cancel");
        json_decref(j);
        assert_int_equal(daemon_wait_log(&f->bus, "cancels job", 1, 5000), 0);
        (void) snprintf(frame, sizeof frame,
                        "{\"cmd\":\"job_event\",\"events\":[{\"id\":%lld,\"state\":\"cancelled\"}]}",
                        (long long) id);
        assert_int_equal(test_client_send(rep, frame), 0);
        assert_int_equal(test_client_wait_messages(p, 3, 5000), 0);
        ev = parse_message(p, 2);
        assert_true(json_is_true(json_object_get(ev, "final")));
        assert_string_equal(json_string_value(json_object_get(ev, "end")), "cancelled");
        json_decref(ev);
        assert_int_equal(test_client_send(ask, frame + 0), 0); /* a job_event from a non-scheduler */
        assert_int_equal(test_client_wait_messages(ask, 4, 5000), 0);
        assert_error_frame(ask, 3, "not_allowed");
        (void) snprintf(frame, sizeof frame, "{\"cmd\":\"cancel\",\"id\":%lld}", (long long) id);
        assert_int_equal(test_client_send(ask, frame), 0);
        assert_int_equal(test_client_wait_messages(ask, 5, 5000), 0);
        assert_error_frame(ask, 4, "not_cancellable");
        /* The legacy scheduler heard nothing of all this. */
        test_net_run_for(f->net, 100);
        assert_int_equal(legacy->n_messages, 1);
}

/* The new messages' errors, each answered and the connection kept. */
static void test_following_errors(void **state) {
        static const struct {
                const char *frame, *code;
        } cases[] = {
                { "{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"a b\",\"slots\":1}",
                  "invalid_scheduler" },
                { "{\"cmd\":\"job_request\",\"payload\":{\"priority\":1,\"runtime\":1},\"ref\":[1]}",
                  "invalid_ref" },
                { "{\"cmd\":\"job_event\",\"id\":1,\"state\":\"done\"}", "not_allowed" },
                { "{\"cmd\":\"jobs\",\"state\":\"lost\"}", "invalid_filter" },
                { "{\"cmd\":\"cancel\",\"id\":\"x\"}", "invalid_id" },
                { "{\"cmd\":\"cancel\",\"id\":424242}", "unknown_job" },
        };
        Fixture *f = *state;
        TestClient *c = connect_as(f, NULL), *s;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                assert_int_equal(test_client_send(c, cases[i].frame), 0);
                assert_int_equal(test_client_wait_messages(c, i + 1, 5000), 0);
                assert_error_frame(c, i, cases[i].code);
        }
        /* A reporting scheduler's bad event: rejected whole. */
        assert_int_equal(test_client_connect(f->net, f->url, &s), 0);
        assert_int_equal(
                test_client_send(s,
                                 "{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"s\",\"slots\":1}"),
                0);
        assert_int_equal(
                test_client_send(
                        s, "{\"cmd\":\"job_event\",\"events\":[{\"id\":1,\"state\":\"done\"},{\"id\":2}]}"),
                0);
        assert_int_equal(test_client_wait_messages(s, 1, 5000), 0);
        assert_error_frame(s, 0, "invalid_event");
        assert_false(c->closed);
        assert_false(s->closed);
}

/* --history bounds the table: the oldest finished jobs go first. */
static void test_history_bound(void **state) {
        static const char *const args[] = { "--history", "3", "--hold", "0", NULL };
        Fixture *f = *state;
        TestClient *p, *ask;
        json_t *j;

        fixture_restart(f, args);
        p = connect_as(f, "producer");
        ask = connect_as(f, NULL);
        for (int i = 0; i < 5; i++)
                send_job(p, 1, 1); /* no scheduler: dropped, each final at once */
        assert_int_equal(daemon_wait_log(&f->bus, "state=dropped", 5, 5000), 0);
        assert_int_equal(test_client_send(ask, "{\"cmd\":\"jobs\"}"), 0);
        assert_int_equal(test_client_wait_messages(ask, 1, 5000), 0);
        j = parse_message(ask, 0);
        assert_int_equal(json_integer_value(json_object_get(j, "total")), 3);
        assert_int_equal(
                json_integer_value(json_object_get(json_array_get(json_object_get(j, "jobs"), 0), "id")), 3);
        json_decref(j);
        assert_int_equal(test_client_send(ask, "{\"cmd\":\"cancel\",\"id\":1}"), 0);
        assert_int_equal(test_client_wait_messages(ask, 2, 5000), 0);
        assert_error_frame(ask, 1, "unknown_job");
}

/* A client's own text in a rejected frame is quoted and escaped in the bus's log: it cannot forge a
 * job's tokens or a line of its own. */
static void test_client_text_escaped(void **state) {
        Fixture *f = *state;
        TestClient *c = connect_as(f, "producer");

        assert_int_equal(test_client_send(c, "{\"cmd\": \"x job=77 state=done\"}"), 0);
        assert_int_equal(test_client_wait_messages(c, 1, 5000), 0);
        assert_error_frame(c, 0, "unknown_cmd");
        assert_int_equal(daemon_wait_log(&f->bus, "unknown_cmd", 1, 5000), 0);
        assert_int_equal(daemon_count_log(&f->bus, " job=77"), 0);
        assert_int_equal(daemon_count_log(&f->bus, "job\\x3d77 state\\x3ddone"), 1);
}

/* Sends one job through a fresh producer and scheduler and returns the id the scheduler got. */
static uint64_t forward_one(Fixture *f) {
        TestClient *s = connect_as(f, "scheduler"), *p = connect_as(f, "producer");
        json_t *j;
        uint64_t id;

        send_job(p, 1, 1);
        assert_int_equal(test_client_wait_messages(s, 1, 5000), 0);
        j = parse_message(s, 0);
        assert_true(json_is_integer(json_object_get(j, "id")));
        id = (uint64_t) json_integer_value(json_object_get(j, "id"));
        json_decref(j);
        test_client_close(s);
        test_client_close(p);
        return id;
}

static uint64_t read_id_file(const char *dir) {
        char path[128];
        unsigned long long v = 0;
        FILE *file;

        (void) snprintf(path, sizeof path, "%s/next-job-id", dir);
        file = fopen(path, "re");
        assert_non_null(file);
        assert_int_equal(fscanf(file, "%llu", &v), 1);
        fclose(file);
        return v;
}

/* Job ids never repeat on one bus: not after a restart, not after kill -9. */
static void test_job_ids_survive_restart(void **state) {
        Fixture *f = *state;
        char dir[] = "/tmp/sched-test-state-XXXXXX", cmd[64];
        const char *args[] = { "--state-dir", dir, NULL };
        uint64_t first, second, third;

        assert_non_null(mkdtemp(dir));
        fixture_restart(f, args);
        first = forward_one(f);
        assert_int_equal(first, 1);
        assert_int_equal(forward_one(f), 2);
        /* The whole first block is reserved before any id of it goes out. */
        assert_true(read_id_file(dir) > 2);

        fixture_restart(f, args);
        second = forward_one(f);
        assert_true(second > 2);
        assert_true(daemon_count_log(&f->bus, "Job ids from") == 1);

        /* A crash: nothing is written at exit, and still no id comes back. */
        assert_int_equal(daemon_stop(&f->bus, SIGKILL, 10000), 128 + SIGKILL);
        daemon_cleanup(&f->bus);
        test_net_free(f->net);
        fixture_start(f, args);
        third = forward_one(f);
        assert_true(third > second);

        /* A counter file that holds no number: the bus refuses to start, saying why. */
        assert_int_equal(daemon_stop(&f->bus, SIGTERM, 10000), 0);
        daemon_cleanup(&f->bus);
        test_net_free(f->net);
        f->net = NULL;
        (void) snprintf(cmd, sizeof cmd, "echo garbage > %s/next-job-id", dir);
        assert_int_equal(system(cmd), 0);
        {
                char *argv[] = { (char *) BUS_BINARY, (char *) "--state-dir", dir, NULL };
                int fd = harness_listen_tcp(&f->port);

                assert_int_equal(daemon_spawn(&f->bus, argv, fd, NULL), 0);
                close(fd);
                assert_int_equal(daemon_stop(&f->bus, 0, 10000), 1);
                assert_true(daemon_count_log(&f->bus, "next-job-id") >= 1);
                daemon_cleanup(&f->bus);
        }
        fixture_start(f, NULL);
        (void) snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

static void test_oversized_frame(void **state) {
        Fixture *f = *state;
        TestClient *s = connect_as(f, "scheduler"), *p = connect_as(f, "producer");
        size_t size = 70 * 1024;
        char *data = malloc(size);
        int fd;

        /* Valid JSON shape, just too large: the bus must not read it to the end. */
        memset(data, ' ', size);
        data[0] = '{';
        data[size - 1] = '}';
        fd = harness_raw_ws_connect(f->port);
        assert_true(fd >= 0);
        assert_int_equal(harness_raw_ws_send(fd, 1, true, data, size), 0);
        assert_int_equal(harness_raw_ws_read_close(fd, 5000), 1009);
        close(fd);

        /* The same in fragments that each fit but add up to too much. */
        fd = harness_raw_ws_connect(f->port);
        assert_true(fd >= 0);
        assert_int_equal(harness_raw_ws_send(fd, 1, false, data, 40 * 1024), 0);
        (void) harness_raw_ws_send(fd, 0, true, data, 30 * 1024);
        assert_int_equal(harness_raw_ws_read_close(fd, 5000), 1009);
        close(fd);
        free(data);

        /* Everybody else is served as before. */
        check_still_served(p, s, 4, 1);
}

static void test_frame_just_under_limit(void **state) {
        Fixture *f = *state;
        TestClient *s = connect_as(f, "scheduler"), *p = connect_as(f, "producer");
        const char *head =
                "{\"cmd\": \"job_request\", \"payload\": {\"priority\": 1, \"runtime\": 1, \"pad\": \"";
        size_t size = 60 * 1024, n = strlen(head);
        char *data = malloc(size + 1);

        memcpy(data, head, n);
        memset(data + n, 'x', size - n - 3);
        memcpy(data + size - 3, "\"}}", 3);
        data[size] = 0;
        assert_int_equal(test_client_send_size(p, data, size), 0);
        free(data);
        assert_int_equal(test_client_wait_messages(s, 1, 5000), 0);
        assert_true(strlen(test_client_message(s, 0)) > 60000);
        assert_false(p->closed);
}

/* A scheduler that never reads does not lose the others anything: the bus stops reading from the
 * producer while that scheduler's queue is above its high-water mark, closes it once it has made no
 * progress for --stall-timeout, and then the reader that keeps up gets every job. */
static void test_silent_reader_stalls_then_closed(void **state) {
        static const char reg[] = "{\"cmd\": \"register\", \"type\": \"scheduler\"}";
        Fixture *f = *state;
        const char *args[] = { "--max-queue", "64", "--stall-timeout", "2", "-v", NULL };
        TestClient *fast, *p;
        char frame[1200], pad[1025];
        enum {
                N = 8000
        };
        int slow;

        fixture_restart(f, args);

        /* A raw client that registers as a scheduler and never reads. */
        slow = harness_raw_ws_connect(f->port);
        assert_true(slow >= 0);
        assert_int_equal(harness_raw_ws_send(slow, 1, true, reg, sizeof reg - 1), 0);
        fast = connect_as(f, "scheduler");
        assert_int_equal(daemon_wait_status(&f->bus, "producers 0, schedulers 2", 5000), 0);
        p = connect_as(f, "producer");
        memset(pad, 'x', sizeof pad - 1);
        pad[sizeof pad - 1] = 0;

        long long start = harness_now_ms();
        for (int i = 0; i < N; i++) {
                (void) snprintf(frame, sizeof frame,
                                "{\"cmd\": \"job_request\", \"payload\": {\"priority\": 1, \"runtime\": 1, "
                                "\"pad\": \"%s\"}}",
                                pad);
                assert_int_equal(test_client_send(p, frame), 0);
        }
        assert_int_equal(test_client_wait_messages(fast, N, 30000), 0);
        /* Held back while the silent one filled up: the producer waited, nothing was lost. */
        assert_true(daemon_count_log(&f->bus, "Stopped reading from producers") >= 1);
        /* Not before the stall timeout, and only the silent one. */
        assert_true(harness_now_ms() - start >= 1900);
        assert_int_equal(daemon_count_log(&f->bus, "took nothing of its"), 1);
        assert_int_equal(daemon_count_log(&f->bus, "send queue is full"), 0);
        assert_false(fast->closed);
        assert_false(p->closed);
        assert_int_equal(daemon_wait_status(&f->bus, "producers 1, schedulers 1", 10000), 0);
        assert_int_equal(daemon_wait_status(&f->bus, "dropped 0", 1000), 0);

        /* The bus goes on serving the others. */
        send_job(p, 4, 1);
        assert_int_equal(test_client_wait_messages(fast, N + 1, 5000), 0);
        close(slow);
}

/* With no scheduler, jobs wait in the bus (priority order, FIFO among equals) and go to the first
 * scheduler that registers; beyond --hold the least urgent one is dropped. */
static void test_held_until_scheduler(void **state) {
        static const char *const args[] = { "--hold", "4", NULL };
        static const int prio[] = { 5, 1, 5, 9, 0 };
        static const int expect[] = { 0, 1, 5, 5 }; /* the 9 is dropped when the fifth comes */
        Fixture *f = *state;
        TestClient *p, *s;

        fixture_restart(f, args);
        p = connect_as(f, "producer");
        for (size_t i = 0; i < ELEMENTSOF(prio); i++)
                send_job(p, prio[i], (int) i + 1);
        assert_int_equal(daemon_wait_status(&f->bus, "held 4, dropped 1", 5000), 0);
        assert_int_equal(daemon_count_log(&f->bus, "Job 4 dropped: 4 jobs are held already"), 1);

        s = connect_as(f, "scheduler");
        assert_int_equal(test_client_wait_messages(s, 4, 5000), 0);
        for (size_t i = 0; i < ELEMENTSOF(expect); i++) {
                json_t *j = parse_message(s, i);

                assert_int_equal(json_integer_value(json_object_get(j, "priority")), expect[i]);
                json_decref(j);
        }
        /* FIFO among the two 5s: job 1 (runtime 1) before job 3 (runtime 3). */
        json_t *a = parse_message(s, 2), *b = parse_message(s, 3);
        assert_int_equal(json_integer_value(json_object_get(a, "id")), 1);
        assert_int_equal(json_integer_value(json_object_get(b, "id")), 3);
        json_decref(a);
        json_decref(b);
        assert_int_equal(daemon_wait_status(&f->bus, "forwarded 4, held 0, dropped 1", 5000), 0);
}

/* Held jobs are in the state directory: a bus stopped (SIGTERM) or killed (SIGKILL) with jobs held
 * gives them, with their ids, to the first scheduler after its restart; and none twice. */
static void test_held_survive_restart(void **state) {
        Fixture *f = *state;
        char dir[] = "/tmp/test-bus-held-XXXXXX";
        const char *args[] = { "--state-dir", dir, NULL };
        TestClient *p, *s;

        assert_non_null(mkdtemp(dir));
        for (int sig = SIGTERM, round = 0; round < 2; round++, sig = SIGKILL) {
                fixture_restart(f, args);
                p = connect_as(f, "producer");
                for (int i = 0; i < 3; i++)
                        send_job(p, 2 + i, 1);
                assert_int_equal(daemon_wait_status(&f->bus, "held 3", 5000), 0);
                if (sig == SIGKILL) {
                        (void) daemon_stop(&f->bus, SIGKILL, 5000);
                        daemon_cleanup(&f->bus);
                        test_net_free(f->net);
                        fixture_start(f, args);
                } else
                        fixture_restart(f, args);
                assert_int_equal(daemon_wait_log(&f->bus, "3 jobs held before the last stop", 1, 5000), 0);
                s = connect_as(f, "scheduler");
                assert_int_equal(test_client_wait_messages(s, 3, 5000), 0);
                test_net_run_for(f->net, 300);
                assert_int_equal(s->n_messages, 3);
                for (int i = 0; i < 3; i++) {
                        json_t *j = parse_message(s, (size_t) i);

                        assert_int_equal(json_integer_value(json_object_get(j, "priority")), 2 + i);
                        json_decref(j);
                }
                assert_int_equal(daemon_wait_status(&f->bus, "held 0", 5000), 0);
        }
        /* Delivered ones are not held again. */
        fixture_restart(f, args);
        assert_int_equal(daemon_count_log(&f->bus, "held before the last stop"), 0);
        char cmd[64];
        (void) snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

static void test_many_clients(void **state) {
        Fixture *f = *state;
        enum {
                N = 200
        };
        TestClient *c[N], *p;

        for (size_t i = 0; i < N; i++)
                assert_int_equal(test_client_connect_async(f->net, f->url, &c[i]), 0);
        for (size_t i = 0; i < N; i++) {
                long long deadline = harness_now_ms() + 10000;
                while (!c[i]->open && !c[i]->closed && harness_now_ms() < deadline)
                        test_net_run_for(f->net, 10);
                assert_true(c[i]->open);
                assert_int_equal(test_client_send(c[i], "{\"cmd\": \"register\", \"type\": \"scheduler\"}"),
                                 0);
        }
        assert_int_equal(daemon_wait_status(&f->bus, "schedulers 200", 10000), 0);
        p = connect_as(f, "producer");
        send_job(p, 7, 3);
        for (size_t i = 0; i < N; i++)
                assert_int_equal(test_client_wait_messages(c[i], 1, 10000), 0);
}

static void test_sigterm(void **state) {
        Fixture *f = *state;
        TestClient *s = connect_as(f, "scheduler"), *p = connect_as(f, "producer");
        long long t0;

        /* The clients answer the close while the bus stops: run the loop meanwhile. */
        assert_int_equal(kill(f->bus.pid, SIGTERM), 0);
        t0 = harness_now_ms();
        assert_int_equal(test_client_wait_closed(s, 5000), 0);
        assert_int_equal(test_client_wait_closed(p, 5000), 0);
        assert_int_equal(s->close_code, 1001);
        assert_int_equal(p->close_code, 1001);
        assert_int_equal(daemon_stop(&f->bus, 0, 5000), 0);
        assert_true(harness_now_ms() - t0 < 1000);
        assert_int_equal(daemon_wait_notify(&f->bus, "STOPPING=1", 1000, NULL, 0), 0);
}

static void test_max_clients(void **state) {
        Fixture *f = *state;
        const char *args[] = { "--max-clients", "2", NULL };
        TestClient *a, *b, *c = NULL;

        fixture_restart(f, args);

        a = connect_as(f, "scheduler");
        b = connect_as(f, "producer");
        assert_true(test_client_connect(f->net, f->url, &c) < 0);
        assert_int_equal(daemon_wait_log(&f->bus, "--max-clients", 1, 5000), 0);
        /* The two served clients are unharmed. */
        check_still_served(b, a, 7, 3);
}

static void test_exit_idle(void **state) {
        Fixture *f = *state;
        const char *args[] = { "--exit-idle-time", "0.5", NULL };
        TestClient *c;

        fixture_restart(f, args);

        c = connect_as(f, "producer");
        harness_sleep_ms(800);
        /* Still running: a client is connected. */
        assert_true(harness_pid_alive(f->bus.pid));
        test_client_close(c);
        assert_int_equal(test_client_wait_closed(c, 5000), 0);
        assert_int_equal(daemon_stop(&f->bus, 0, 5000), 0);
}

static void test_silent_client_closed(void **state) {
        Fixture *f = *state;
        const char *args[] = { "--identify-timeout", "0.6", NULL };
        TestClient *silent, *talker;

        fixture_restart(f, args);
        silent = connect_as(f, NULL);
        talker = connect_as(f, "scheduler");
        assert_int_equal(test_client_wait_closed(silent, 5000), 0);
        assert_int_equal(silent->close_code, 1008);
        assert_int_equal(daemon_wait_log(&f->bus, "no register or job within 0.6 s", 1, 5000), 0);
        test_net_run_for(f->net, 700);
        assert_false(talker->closed);
}

static void test_too_many_bad_frames(void **state) {
        Fixture *f = *state;
        TestClient *bad = connect_as(f, NULL), *s = connect_as(f, "scheduler"),
                   *p = connect_as(f, "producer");

        for (int i = 0; i < 60 && !bad->closed; i++)
                (void) test_client_send(bad, "{not json");
        assert_int_equal(test_client_wait_closed(bad, 5000), 0);
        assert_int_equal(bad->close_code, 1008);
        /* Bad frames before the limit got their error frames (the close drops what was still queued). */
        assert_in_range(bad->n_messages, 1, 50);
        for (size_t i = 0; i < bad->n_messages; i++)
                assert_error_frame(bad, i, "invalid_json");
        assert_int_equal(daemon_wait_log(&f->bus, "too many bad frames", 1, 5000), 0);
        check_still_served(p, s, 1, 1);
}

static void test_forward_too_large(void **state) {
        Fixture *f = *state;
        const char *args[] = { "--max-frame", "2K", NULL };
        TestClient *s, *p;
        char frame[2048] =
                "{\"cmd\": \"job_request\", \"payload\": {\"priority\": 1, \"runtime\": 1, \"v\": [0.1";
        char with_id[2048] = "{\"cmd\": \"job_request\", \"payload\": {\"id\": 5, \"priority\": 1, "
                             "\"runtime\": 1, \"v\": [0.1";
        json_t *j;

        for (int i = 0; i < 150; i++) {
                strcat(frame, ",0.1");
                strcat(with_id, ",0.1");
        }
        strcat(frame, "]}}");
        strcat(with_id, "]}}");
        assert_true(strlen(with_id) < 2048);

        fixture_restart(f, args);
        s = connect_as(f, "scheduler");
        p = connect_as(f, "producer");

        /* The payload goes out as it came, its numbers as the producer wrote them. */
        assert_int_equal(test_client_send(p, frame), 0);
        assert_int_equal(test_client_wait_messages(s, 1, 5000), 0);
        assert_non_null(strstr(test_client_message(s, 0), "[0.1,0.1,0.1"));

        /* One the bus must rewrite (its own "id" replaces the producer's) is printed from its tree,
         * where 0.1 prints as 0.10000000000000001: the frame fits, the forwarded job would not. */
        assert_int_equal(test_client_send(p, with_id), 0);
        assert_int_equal(test_client_wait_messages(p, 1, 5000), 0);
        j = json_loads(test_client_message(p, 0), 0, NULL);
        assert_string_equal(json_string_value(json_object_get(j, "error")), "invalid_payload");
        assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "once forwarded"));
        json_decref(j);

        /* Nobody was disconnected and the next job goes through. */
        send_job(p, 1, 1);
        assert_int_equal(test_client_wait_messages(s, 2, 5000), 0);
        assert_false(s->closed);
        assert_false(p->closed);
}

static void test_listen_by_hand(void **state) {
        Fixture *f = *state;
        char listen[32], url[64];
        char *argv[] = { (char *) BUS_BINARY, (char *) "--listen", listen, NULL };
        Daemon d;
        TestClient *c = NULL;
        int port = harness_free_port();

        assert_true(port > 0);
        (void) snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
        (void) snprintf(url, sizeof url, "ws://127.0.0.1:%d", port);
        assert_int_equal(daemon_spawn(&d, argv, -1, NULL), 0);
        assert_int_equal(daemon_wait_notify(&d, "READY=1", 10000, NULL, 0), 0);
        assert_int_equal(test_client_connect(f->net, url, &c), 0);
        assert_int_equal(daemon_count_log(&d, listen), 1);
        assert_int_equal(daemon_stop(&d, SIGTERM, 10000), 0);
        daemon_cleanup(&d);
}

static void test_bad_usage(void **state) {
        char *argv[] = { (char *) BUS_BINARY, (char *) "--max-frame", (char *) "lots", NULL };
        char *argv2[] = { (char *) BUS_BINARY, (char *) "--listen", (char *) "256.0.0.1:1", NULL };
        Daemon d;

        assert_int_equal(daemon_spawn(&d, argv, -1, NULL), 0);
        assert_int_equal(daemon_stop(&d, 0, 10000), 2);
        assert_true(daemon_count_log(&d, "--max-frame") >= 1);
        daemon_cleanup(&d);

        assert_int_equal(daemon_spawn(&d, argv2, -1, NULL), 0);
        assert_int_equal(daemon_stop(&d, 0, 10000), 1);
        assert_true(daemon_count_log(&d, "Failed to listen on 256.0.0.1:1") == 1);
        daemon_cleanup(&d);
}

int main(int argc, char *argv[]) {
        struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ready_and_status),
                cmocka_unit_test(test_broadcast),
                cmocka_unit_test(test_not_back_to_sender),
                cmocka_unit_test(test_unregistered_sender_accepted),
                cmocka_unit_test(test_dropped_without_scheduler),
                cmocka_unit_test(test_every_error_code),
                cmocka_unit_test(test_following),
                cmocka_unit_test(test_following_errors),
                cmocka_unit_test(test_history_bound),
                cmocka_unit_test(test_client_text_escaped),
                cmocka_unit_test(test_job_ids_survive_restart),
                cmocka_unit_test(test_oversized_frame),
                cmocka_unit_test(test_frame_just_under_limit),
                cmocka_unit_test(test_silent_reader_stalls_then_closed),
                cmocka_unit_test(test_held_until_scheduler),
                cmocka_unit_test(test_held_survive_restart),
                cmocka_unit_test(test_many_clients),
                cmocka_unit_test(test_sigterm),
                cmocka_unit_test(test_max_clients),
                cmocka_unit_test(test_exit_idle),
                cmocka_unit_test(test_silent_client_closed),
                cmocka_unit_test(test_too_many_bad_frames),
                cmocka_unit_test(test_forward_too_large),
                cmocka_unit_test(test_listen_by_hand),
                cmocka_unit_test(test_bad_usage),
        };

        return harness_run_tests("bus", tests, ELEMENTSOF(tests), setup, teardown, argc, argv);
}
