/* SPDX-License-Identifier: MIT */
/*
 * Integration test of the real sched-scheduler binary with the real sched-bus: jobs submitted by a
 * test producer, behaviour observed from outside through the scheduler's log lines
 * (`job=ID priority=P state=S`), its NOTIFY_SOCKET and the process table. Jobs run
 * tests/test-job.sh, which leaves a grandchild behind unless the scheduler cleans up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "harness.h"
#include "spawn-way.h"
#include "test-client.h"

#if !defined(BUS_BINARY) || !defined(SCHEDULER_BINARY) || !defined(JOB_SCRIPT)
#error "BUS_BINARY, SCHEDULER_BINARY and JOB_SCRIPT must be defined"
#endif

typedef struct Fixture {
        char *sched_env[4]; /* extra environment of the scheduler, NULL-terminated */
        Daemon bus, sched;
        int listen_fd; /* kept open by the test, as systemd keeps the socket across bus restarts */
        int port;
        char url[64];
        char dir[64];
        TestNet *net;
        TestClient *producer;
} Fixture;

static void start_bus(Fixture *f) {
        char *argv[] = { (char *) BUS_BINARY, NULL };

        assert_int_equal(daemon_spawn(&f->bus, argv, f->listen_fd, NULL), 0);
        assert_int_equal(daemon_wait_notify(&f->bus, "READY=1", 10000, NULL, 0), 0);
}

/* Starts the scheduler alone; `args` go before its --exec, `exec` after it (NULL: the job script). */
static void spawn_scheduler(Fixture *f, const char *const *args, const char *const *exec) {
        char *argv[32] = { (char *) SCHEDULER_BINARY, (char *) "--bus", f->url };
        size_t n = 3;

        for (const char *const *a = args; a && *a; a++)
                argv[n++] = (char *) *a;
        argv[n++] = (char *) "--exec";
        if (exec)
                for (const char *const *a = exec; *a; a++)
                        argv[n++] = (char *) *a;
        else {
                argv[n++] = (char *) JOB_SCRIPT;
                argv[n++] = f->dir;
        }
        argv[n] = NULL;

        assert_int_equal(daemon_spawn(&f->sched, argv, -1, f->sched_env[0] ? f->sched_env : NULL), 0);
        assert_int_equal(daemon_wait_notify(&f->sched, "READY=1", 10000, NULL, 0), 0);
}

/* Starts bus and scheduler; `args` go to the scheduler before its --exec, `exec` after it (NULL:
 * the job script). */
static void fixture_start_exec(Fixture *f, const char *const *args, const char *const *exec) {
        spawn_scheduler(f, args, exec);
        assert_int_equal(daemon_wait_status(&f->sched, "bus connected", 10000), 0);
        /* Registered at the bus, not only sent: otherwise the first job could find no scheduler. */
        assert_int_equal(daemon_wait_status(&f->bus, "schedulers 1", 10000), 0);
        assert_int_equal(test_client_connect(f->net, f->url, &f->producer), 0);
        assert_int_equal(test_client_register(f->producer, "producer"), 0);
}

static void fixture_start(Fixture *f, const char *const *args) {
        fixture_start_exec(f, args, NULL);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        f->listen_fd = harness_listen_tcp(&f->port);
        assert_true(f->listen_fd >= 0);
        (void) snprintf(f->url, sizeof f->url, "ws://127.0.0.1:%d", f->port);
        (void) snprintf(f->dir, sizeof f->dir, "/tmp/sched-test-jobs-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        start_bus(f);
        assert_int_equal(test_net_new(&f->net), 0);
        *state = f;
        return 0;
}

static pid_t grandchild_of(Fixture *f, unsigned id) {
        char path[128];
        int pid = -1;
        FILE *file;

        (void) snprintf(path, sizeof path, "%s/grandchild-%u", f->dir, id);
        for (int i = 0; i < 200; i++) {
                file = fopen(path, "re");
                if (file) {
                        int k = fscanf(file, "%d", &pid);
                        fclose(file);
                        if (k == 1)
                                return pid;
                }
                harness_sleep_ms(10);
        }
        return -1;
}

static bool pid_gone(pid_t pid) {
        for (int i = 0; i < 300; i++) {
                if (!harness_pid_alive(pid))
                        return true;
                harness_sleep_ms(10);
        }
        return false;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[128];

        test_net_free(f->net);
        if (f->sched.pid > 0)
                assert_int_equal(daemon_stop(&f->sched, SIGTERM, 15000), 0);
        if (f->bus.pid > 0)
                assert_int_equal(daemon_stop(&f->bus, SIGTERM, 10000), 0);
        daemon_cleanup(&f->sched);
        daemon_cleanup(&f->bus);
        close(f->listen_fd);
        (void) snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        (void) !system(cmd);
        free(f);
        return 0;
}

static void submit(Fixture *f, int priority, double runtime) {
        char frame[160];

        (void) snprintf(frame, sizeof frame,
                        "{\"cmd\": \"job_request\", \"payload\": {\"priority\": %d, \"runtime\": %g}}",
                        priority, runtime);
        assert_int_equal(test_client_send(f->producer, frame), 0);
        test_net_run_for(f->net, 30);
}

/* The line number in `log` of the first line with `job=ID ` and `state=STATE`, or -1; the lines it
 * went through are cut at their ends, and *ret_line (if not NULL) is the one found. */
static int find_event(char *log, unsigned id, const char *state, char **ret_line) {
        char job[32], st[32];
        int n = 0;

        (void) snprintf(job, sizeof job, " job=%u ", id);
        (void) snprintf(st, sizeof st, " state=%s", state);
        for (char *line = log, *end; line && *line; line = end ? end + 1 : NULL, n++) {
                end = strchr(line, '\n');
                if (end)
                        *end = 0;
                if (strstr(line, job) && strstr(line, st)) {
                        if (ret_line)
                                *ret_line = line;
                        return n;
                }
        }
        return -1;
}

/* The line number of the first log line with `job=ID ` and `state=STATE`, or -1. */
static int event_line(Fixture *f, unsigned id, const char *state) {
        _cleanup_free_ char *log = daemon_read_log(&f->sched);

        return find_event(log, id, state, NULL);
}

/* That line, malloc'ed; fails the test when there is none. */
static char *event_text(Fixture *f, unsigned id, const char *state) {
        _cleanup_free_ char *log = daemon_read_log(&f->sched);
        char *line = NULL, *copy;

        assert_true(find_event(log, id, state, &line) >= 0);
        copy = strdup(line);
        assert_non_null(copy);
        return copy;
}

static void wait_event(Fixture *f, unsigned id, const char *state, int timeout_ms) {
        long long deadline = harness_now_ms() + timeout_ms;

        while (event_line(f, id, state) < 0) {
                if (harness_now_ms() > deadline) {
                        char *log = daemon_read_log(&f->sched);
                        fprintf(stderr, "no job=%u state=%s in:\n%s\n", id, state, log);
                        free(log);
                        fail();
                }
                harness_sleep_ms(10);
        }
}

/* Milliseconds of the local timestamp that starts a log line with job=ID and state=STATE. */
static double event_time(Fixture *f, unsigned id, const char *state) {
        _cleanup_free_ char *line = event_text(f, id, state);
        int hh, mm;
        double ss;

        assert_int_equal(sscanf(line, "%*4d-%*2d-%*2dT%2d:%2d:%lf", &hh, &mm, &ss), 3);
        return ((hh * 60 + mm) * 60 + ss) * 1000;
}

static void test_eviction_rules(void **state) {
        Fixture *f = *state;
        const char *args[] = { "-s", "2", "-t", "60", NULL };

        fixture_start(f, args);
        submit(f, 5, 30); /* 1 */
        submit(f, 5, 30); /* 2 */
        wait_event(f, 1, "running", 5000);
        wait_event(f, 2, "running", 5000);

        /* Equal priority does not evict: it waits. */
        submit(f, 5, 1); /* 3 */
        wait_event(f, 3, "queued", 5000);
        assert_int_equal(daemon_wait_status(&f->sched, "running 2/2, pending 1", 5000), 0);

        /* Strictly more urgent: evicts the least urgent, among equals the most recently started (2). */
        submit(f, 2, 30); /* 4 */
        wait_event(f, 2, "evicted", 5000);
        wait_event(f, 4, "running", 5000);
        assert_int_equal(event_line(f, 1, "evicted"), -1);
        assert_true(daemon_count_log(&f->sched, "evicted_by=4") >= 1);
        assert_int_equal(daemon_wait_status(&f->sched, "evicted 1", 5000), 0);

        /* Job 1 (priority 5) is now the least urgent running; 0 evicts it. */
        submit(f, 0, 30); /* 5 */
        wait_event(f, 1, "evicted", 5000);
        wait_event(f, 5, "running", 5000);
        assert_int_equal(event_line(f, 4, "evicted"), -1);
        assert_int_equal(event_line(f, 3, "running"), -1);
}

/* Cancel through the bus: a waiting job leaves the queue, a running one is terminated and its slot
 * goes to the next at once; the bus hears each end (an observer sees the events). */
static void test_cancel(void **state) {
        Fixture *f = *state;
        const char *args[] = { "-s", "1", "-t", "60", "--grace", "0.5", NULL };
        TestClient *obs;

        fixture_start(f, args);
        assert_int_equal(test_client_connect(f->net, f->url, &obs), 0);
        assert_int_equal(test_client_send(obs, "{\"cmd\":\"register\",\"type\":\"observer\"}"), 0);
        test_net_run_for(f->net, 50);
        submit(f, 5, 30); /* 1 */
        submit(f, 5, 30); /* 2 */
        submit(f, 5, 30); /* 3 */
        wait_event(f, 1, "running", 5000);
        wait_event(f, 3, "queued", 5000);

        assert_int_equal(test_client_send(f->producer, "{\"cmd\":\"cancel\",\"id\":2}"), 0);
        wait_event(f, 2, "cancelled", 5000);
        assert_int_equal(event_line(f, 1, "cancelled"), -1);
        assert_int_equal(daemon_wait_status(&f->sched, "running 1/1, pending 1", 5000), 0);

        assert_int_equal(test_client_send(f->producer, "{\"cmd\":\"cancel\",\"id\":1}"), 0);
        wait_event(f, 1, "cancelled", 5000);
        wait_event(f, 3, "running", 5000);
        assert_true(event_line(f, 1, "cancelled") < event_line(f, 3, "running"));
        assert_int_equal(daemon_wait_status(&f->sched, "cancelled 2", 5000), 0);

        /* Each event reached the bus: queued/running/cancelled of 1..3, in batches or not. */
        long long deadline = harness_now_ms() + 5000;
        unsigned n_cancelled = 0;
        while (n_cancelled < 2 && harness_now_ms() < deadline) {
                n_cancelled = 0;
                test_net_run_for(f->net, 20);
                for (size_t i = 0; i < obs->n_messages; i++)
                        for (const char *p = test_client_message(obs, i);
                             (p = strstr(p, "\"state\":\"cancelled\"")); p++)
                                n_cancelled++;
        }
        assert_int_equal(n_cancelled, 2);
}

static void test_pending_order(void **state) {
        Fixture *f = *state;
        const char *args[] = { "-s", "2", "-t", "60", NULL };

        fixture_start(f, args);
        submit(f, 0, 0.6); /* 1 */
        submit(f, 0, 0.6); /* 2 */
        wait_event(f, 2, "running", 5000);
        submit(f, 8, 0.2); /* 3 */
        submit(f, 5, 0.2); /* 4 */
        submit(f, 5, 0.2); /* 5 */
        submit(f, 7, 0.2); /* 6 */
        for (unsigned id = 3; id <= 6; id++)
                wait_event(f, id, "queued", 5000);

        for (unsigned id = 1; id <= 6; id++)
                wait_event(f, id, "done", 10000);
        /* Most urgent first, FIFO among equals: 4, 5, 6, 3. */
        assert_true(event_line(f, 4, "running") < event_line(f, 5, "running"));
        assert_true(event_line(f, 5, "running") < event_line(f, 6, "running"));
        assert_true(event_line(f, 6, "running") < event_line(f, 3, "running"));
        assert_int_equal(daemon_wait_status(&f->sched, "running 0/2, pending 0, done 6", 5000), 0);
}

static void test_timeout_kills_group(void **state) {
        Fixture *f = *state;
        const char *args[] = { "-s", "2", "-t", "0.5", "--grace", "1", NULL };
        pid_t grandchild;
        double delay;

        fixture_start(f, args);
        submit(f, 3, 30); /* 1 */
        wait_event(f, 1, "running", 5000);
        grandchild = grandchild_of(f, 1);
        assert_true(grandchild > 0);
        assert_true(harness_pid_alive(grandchild));
        wait_event(f, 1, "timeout", 5000);
        delay = event_time(f, 1, "timeout") - event_time(f, 1, "running");
        /* Generous bound for loaded machines; bench/ measures the precision. */
        assert_true(delay >= 450 && delay < 1500);
        assert_true(pid_gone(grandchild));
        assert_int_equal(daemon_wait_status(&f->sched, "timeout 1", 5000), 0);
}

static void test_evicted_group_gone(void **state) {
        Fixture *f = *state;
        const char *args[] = { "-s", "1", "-t", "60", NULL };
        pid_t grandchild;

        fixture_start(f, args);
        submit(f, 6, 30); /* 1 */
        wait_event(f, 1, "running", 5000);
        grandchild = grandchild_of(f, 1);
        assert_true(grandchild > 0);
        submit(f, 1, 30); /* 2 */
        wait_event(f, 1, "evicted", 5000);
        assert_true(pid_gone(grandchild));
}

static void test_failed_and_output(void **state) {
        Fixture *f = *state;
        const char *args[] = { "-s", "2", NULL };

        fixture_start(f, args);
        submit(f, 9, 1); /* 1: the job script exits 3 for priority 9 */
        wait_event(f, 1, "failed", 5000);
        assert_true(daemon_count_log(&f->sched, "exit status 3") >= 1);
        assert_int_equal(daemon_count_log(&f->sched, " exit_status=3"), 1);
        /* The job's stdout reaches the log, tagged with its id. */
        assert_true(daemon_count_log(&f->sched, "hello from job 1 priority 9") >= 1);
        assert_int_equal(daemon_wait_status(&f->sched, "failed 1", 5000), 0);
        submit(f, 4, 0.1); /* 2 */
        wait_event(f, 2, "done", 5000);
}

/* Starts the scheduler of argv (whose --bus value is `url`, filled here) against a bus the test
 * plays, on a port of its own: the scheduler's connection, accepted. */
static TestClient *spawn_on_fake_bus(Fixture *f, TestNet **ret_bus, char **argv, char *url,
                                     size_t url_size) {
        TestClient *sched = NULL;
        int port;

        assert_int_equal(test_net_new(ret_bus), 0);
        assert_int_equal(test_net_listen(*ret_bus, &port), 0);
        (void) snprintf(url, url_size, "ws://127.0.0.1:%d", port);
        assert_int_equal(daemon_spawn(&f->sched, argv, -1, NULL), 0);
        assert_int_equal(test_net_wait_accepted(*ret_bus, 1, 10000, &sched), 0);
        return sched;
}

static void test_bad_payloads(void **state) {
        Fixture *f = *state;
        TestNet *fake_bus;
        TestClient *sched;
        char url[64], *argv[] = {
                (char *) SCHEDULER_BINARY, (char *) "--bus", url, (char *) "-s", (char *) "2", NULL
        };

        /* The test plays the bus, to send what a real bus never would. */
        sched = spawn_on_fake_bus(f, &fake_bus, argv, url, sizeof url);
        assert_int_equal(test_client_wait_messages(sched, 1, 5000), 0);
        assert_non_null(strstr(test_client_message(sched, 0), "\"scheduler\""));

        const char *bad[] = {
                "not json",
                "[]",
                "{\"priority\": 1}",
                "{\"priority\": 11, \"runtime\": 1, \"id\": 5}",
                "{\"priority\": 1, \"runtime\": -2, \"id\": 6}",
                "{\"priority\": \"1\", \"runtime\": 1, \"id\": 7}",
                "{\"priority\": 1, \"runtime\": 1, \"id\": -7}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(test_client_send(sched, bad[i]), 0);
        /* A payload without id (a Python bus sends none) gets a local one. */
        assert_int_equal(test_client_send(sched, "{\"priority\": 2, \"runtime\": 0.1}"), 0);
        assert_int_equal(test_client_send(sched, "{\"priority\": 2, \"runtime\": 0.1, \"id\": 40}"), 0);
        test_net_run_for(fake_bus, 100);
        wait_event(f, 40, "done", 5000);
        /* Those with an id are jobs the bus sent: dropped, and told. */
        wait_event(f, 5, "dropped", 5000);
        wait_event(f, 6, "dropped", 5000);
        wait_event(f, 7, "dropped", 5000);
        assert_true(daemon_count_log(&f->sched, "Ignoring a message from the bus") >= ELEMENTSOF(bad) - 3);
        assert_int_equal(daemon_wait_status(&f->sched, "done 2", 5000), 0);
        assert_true(harness_pid_alive(f->sched.pid));
        test_net_free(fake_bus);
}

/* Whether a job_event frame reports job `id` in `state`, in either form. */
static bool frame_has_event(json_t *frame, unsigned id, const char *state) {
        json_t *events = json_object_get(frame, "events"), *ev;
        size_t i;

        if (!events)
                return json_integer_value(json_object_get(frame, "id")) == id &&
                       strcmp(json_string_value(json_object_get(frame, "state")) ?: "", state) == 0;
        json_array_foreach(events, i, ev) if (json_integer_value(json_object_get(ev, "id")) == id &&
                                              strcmp(json_string_value(json_object_get(ev, "state")) ?: "",
                                                     state) == 0) return true;
        return false;
}

/* A frame's load as "running=R waiting=W received=N least=P" (P -1 when left out), "none" without. */
static const char *load_text(json_t *frame, char *buf, size_t size) {
        json_t *load = json_object_get(frame, "load"), *least;

        if (!load)
                return "none";
        least = json_object_get(load, "least");
        assert_true(!least || json_integer_value(least) >= 0);
        (void) snprintf(buf, size, "running=%lld waiting=%lld received=%lld least=%lld",
                        json_integer_value(json_object_get(load, "running")),
                        json_integer_value(json_object_get(load, "waiting")),
                        json_integer_value(json_object_get(load, "received")),
                        least ? json_integer_value(least) : -1LL);
        return buf;
}

/* Waits for the frame that reports job `id` in `state` and compares its load. */
static void expect_event_load(TestNet *net, TestClient *c, unsigned id, const char *state,
                              const char *load) {
        long long deadline = harness_now_ms() + 5000;

        for (size_t i = 0;;) {
                char buf[128];

                for (; i < c->n_messages; i++) {
                        json_t *frame = json_loads(test_client_message(c, i), 0, NULL);
                        bool found;

                        assert_non_null(frame);
                        found = frame_has_event(frame, id, state);
                        if (found)
                                assert_string_equal(load_text(frame, buf, sizeof buf), load);
                        json_decref(frame);
                        if (found)
                                return;
                }
                if (harness_now_ms() > deadline)
                        fail_msg("no frame with job %u %s", id, state);
                test_net_run_for(net, 10);
        }
}

/* Message i of the connection: its "cmd" and its load. */
static void expect_message_load(TestClient *c, size_t i, const char *cmd, const char *load) {
        json_t *frame = json_loads(test_client_message(c, i), 0, NULL);
        char buf[128];

        assert_non_null(frame);
        assert_string_equal(json_string_value(json_object_get(frame, "cmd")), cmd);
        assert_string_equal(load_text(frame, buf, sizeof buf), load);
        json_decref(frame);
}

/* The load in the scheduler's frames, as the test playing the bus sees it: computed when each frame
 * is made, `received` counted per connection, the load alone after each connect. */
static void test_load_reports(void **state) {
        Fixture *f = *state;
        TestNet *fake_bus;
        TestClient *sched;
        char url[64], *argv[] = {
                (char *) SCHEDULER_BINARY, (char *) "--bus", url,           (char *) "-s", (char *) "1",
                (char *) "--max-runtime",  (char *) "60",    (char *) "-t", (char *) "60", NULL
        };

        sched = spawn_on_fake_bus(f, &fake_bus, argv, url, sizeof url);
        assert_int_equal(test_client_wait_messages(sched, 2, 5000), 0);
        expect_message_load(sched, 0, "register", "running=0 waiting=0 received=0 least=-1");
        expect_message_load(sched, 1, "job_event", "running=0 waiting=0 received=0 least=-1");
        assert_non_null(strstr(test_client_message(sched, 1), "\"events\":[]"));

        assert_int_equal(
                test_client_send(sched,
                                 "{\"cmd\":\"job\",\"payload\":{\"priority\":5,\"runtime\":30,\"id\":1}}"),
                0);
        expect_event_load(fake_bus, sched, 1, "running", "running=1 waiting=0 received=1 least=5");
        assert_int_equal(
                test_client_send(sched,
                                 "{\"cmd\":\"job\",\"payload\":{\"priority\":7,\"runtime\":30,\"id\":2}}"),
                0);
        expect_event_load(fake_bus, sched, 2, "queued", "running=1 waiting=1 received=2 least=5");
        /* Beyond its --max-runtime: still a job received, and an event. */
        assert_int_equal(
                test_client_send(sched,
                                 "{\"cmd\":\"job\",\"payload\":{\"priority\":1,\"runtime\":61,\"id\":3}}"),
                0);
        expect_event_load(fake_bus, sched, 3, "dropped", "running=1 waiting=1 received=3 least=5");
        assert_int_equal(
                test_client_send(sched,
                                 "{\"cmd\":\"job\",\"payload\":{\"priority\":2,\"runtime\":30,\"id\":4}}"),
                0);
        expect_event_load(fake_bus, sched, 4, "running", "running=1 waiting=1 received=4 least=2");
        wait_event(f, 1, "evicted", 5000);

        /* The bus goes away and comes back: the register, then the load of now, counted afresh. */
        test_client_close(sched);
        assert_int_equal(test_net_wait_accepted(fake_bus, 2, 10000, &sched), 0);
        assert_int_equal(test_client_wait_messages(sched, 2, 5000), 0);
        expect_message_load(sched, 1, "job_event", "running=1 waiting=1 received=0 least=2");
        assert_int_equal(
                test_client_send(sched,
                                 "{\"cmd\":\"job\",\"payload\":{\"priority\":9,\"runtime\":30,\"id\":5}}"),
                0);
        expect_event_load(fake_bus, sched, 5, "queued", "running=1 waiting=2 received=1 least=2");
        test_net_free(fake_bus);
}

static void test_bus_restart(void **state) {
        Fixture *f = *state;
        const char *args[] = { "-s", "2", "-t", "60", NULL };

        fixture_start(f, args);
        submit(f, 3, 4); /* 1 */
        wait_event(f, 1, "running", 5000);

        /* The bus dies hard; the socket stays (as systemd keeps it). */
        assert_int_equal(daemon_stop(&f->bus, SIGKILL, 5000), 128 + SIGKILL);
        daemon_cleanup(&f->bus);
        assert_int_equal(daemon_wait_status(&f->sched, "bus connecting", 5000), 0);
        harness_sleep_ms(300);
        start_bus(f);
        assert_int_equal(daemon_wait_log(&f->sched, "registered as scheduler", 2, 10000), 0);
        assert_int_equal(daemon_wait_status(&f->bus, "schedulers 1", 10000), 0);

        /* New jobs arrive through the new bus, whose ids start again at 1 while the old job 1 still
         * runs: the new one runs under an id of the scheduler's own, and neither is lost. */
        assert_int_equal(test_client_connect(f->net, f->url, &f->producer), 0);
        assert_int_equal(test_client_register(f->producer, "producer"), 0);
        submit(f, 4, 0.1);
        assert_int_equal(daemon_wait_log(&f->sched, "still in use here", 1, 5000), 0);
        assert_int_equal(daemon_wait_log(&f->sched, "state=done", 1, 5000), 0);
        assert_int_equal(event_line(f, 1, "done"), -1);

        /* The running job was not disturbed. */
        wait_event(f, 1, "done", 10000);
        assert_int_equal(event_line(f, 1, "evicted"), -1);
        assert_int_equal(daemon_wait_status(&f->sched, "done 2", 5000), 0);
}

static void test_max_pending(void **state) {
        Fixture *f = *state;
        const char *args[] = { "-s", "1", "-t", "60", "--max-pending", "2", NULL };

        fixture_start(f, args);
        submit(f, 5, 30); /* 1: runs */
        submit(f, 5, 1);  /* 2: waits */
        submit(f, 6, 1);  /* 3: waits */
        wait_event(f, 3, "queued", 5000);
        submit(f, 5, 1); /* 4: would wait, the queue is full */
        wait_event(f, 4, "dropped", 5000);
        assert_int_equal(daemon_count_log(&f->sched, "--max-pending"), 1);
        submit(f, 1, 1); /* 5: would not wait: evicts 1 */
        wait_event(f, 1, "evicted", 5000);
        wait_event(f, 5, "running", 5000);
        assert_int_equal(event_line(f, 4, "running"), -1);
}

static void test_sigterm_terminates_jobs(void **state) {
        Fixture *f = *state;
        const char *args[] = { "-s", "3", "-t", "60", "--grace", "1", NULL };
        pid_t grandchildren[3];

        fixture_start(f, args);
        for (unsigned id = 1; id <= 3; id++)
                submit(f, 4, 60);
        submit(f, 4, 60); /* 4: pending */
        for (unsigned id = 1; id <= 3; id++) {
                wait_event(f, id, "running", 5000);
                grandchildren[id - 1] = grandchild_of(f, id);
                assert_true(grandchildren[id - 1] > 0);
        }
        assert_int_equal(daemon_wait_status(&f->sched, "running 3/3, pending 1", 5000), 0);

        long long t0 = harness_now_ms();
        assert_int_equal(daemon_stop(&f->sched, SIGTERM, 10000), 0);
        /* SIGTERM to each group, SIGKILL only after the grace: a sleeping shell goes at once. */
        assert_true(harness_now_ms() - t0 < 5000);
        assert_int_equal(daemon_wait_notify(&f->sched, "STOPPING=1", 1000, NULL, 0), 0);
        for (unsigned i = 0; i < 3; i++)
                assert_true(pid_gone(grandchildren[i]));
        assert_int_equal(event_line(f, 4, "running"), -1);
}

/* How many terminal records (done, failed, timeout, evicted, interrupted, dropped) each job id in
 * 1..n has in the log, in counts[1..n]; returns the total. */
static unsigned count_terminal_records(Fixture *f, unsigned n, unsigned *counts) {
        static const char *const terminal[] = { "done",        "failed",  "timeout",  "evicted",
                                                "interrupted", "dropped", "cancelled" };
        _cleanup_free_ char *log = daemon_read_log(&f->sched);
        unsigned total = 0;

        memset(counts, 0, (n + 1) * sizeof *counts);
        for (char *line = log, *end; line && *line; line = end ? end + 1 : NULL) {
                const char *job, *state;
                unsigned id;

                end = strchr(line, '\n');
                if (end)
                        *end = 0;
                job = strstr(line, " job=");
                state = strstr(line, " state=");
                if (!job || !state || sscanf(job, " job=%u ", &id) != 1 || id == 0 || id > n)
                        continue;
                for (size_t i = 0; i < ELEMENTSOF(terminal); i++)
                        if (strcmp(state + 7, terminal[i]) == 0 ||
                            (strncmp(state + 7, terminal[i], strlen(terminal[i])) == 0 &&
                             state[7 + strlen(terminal[i])] == ' ')) {
                                counts[id]++;
                                total++;
                        }
        }
        return total;
}

/* Sends `n` job requests as fast as the connection takes them. */
/* Sends a frame from the producer, waiting while its send queue is full. */
static void send_waiting(Fixture *f, const char *frame) {
        int r;

        while ((r = test_client_send(f->producer, frame)) == -ENOBUFS)
                test_net_run_for(f->net, 5);
        assert_int_equal(r, 0);
}

static void submit_burst(Fixture *f, unsigned n, int priority, double runtime) {
        char frame[160];

        (void) snprintf(frame, sizeof frame,
                        "{\"cmd\": \"job_request\", \"payload\": {\"priority\": %d, \"runtime\": %g}}",
                        priority, runtime);
        for (unsigned i = 0; i < n; i++)
                send_waiting(f, frame);
        test_net_run_for(f->net, 30);
}

static void wait_terminal_records(Fixture *f, unsigned n, int timeout_ms) {
        _cleanup_free_ unsigned *counts = calloc(n + 1, sizeof *counts);
        long long deadline = harness_now_ms() + timeout_ms;
        unsigned total;

        while ((total = count_terminal_records(f, n, counts)) < n && harness_now_ms() < deadline)
                harness_sleep_ms(50);
        assert_int_equal(total, n);
        for (unsigned id = 1; id <= n; id++)
                if (counts[id] != 1) {
                        fprintf(stderr, "job %u has %u terminal records\n", id, counts[id]);
                        fail();
                }
}

/* A burst beyond --max-pending: the urgent job that arrives behind it still runs, evicting, and
 * every job id ends in exactly one terminal record, none rate-limited away. */
static void test_burst_accounting(void **state) {
        Fixture *f = *state;
        const char *args[] = { "-s", "2", "-t", "60", "--max-pending", "20", "--grace", "0.5", NULL };

        fixture_start(f, args);
        submit_burst(f, 100, 5, 30); /* 1..100: 2 run, 20 wait, 78 dropped */
        submit(f, 0, 0.2);           /* 101: evicts 2 */
        wait_event(f, 101, "running", 10000);
        wait_event(f, 2, "evicted", 5000);
        wait_event(f, 101, "done", 10000);
        assert_int_equal(daemon_count_log(&f->sched, "--max-pending"), 78);

        assert_int_equal(daemon_stop(&f->sched, SIGTERM, 10000), 0);
        wait_terminal_records(f, 101, 1000);
        wait_event(f, 1, "interrupted", 0);
        wait_event(f, 22, "dropped", 0);
}

/* The bus dies in the middle of a burst: the frames the scheduler had read but not decided on go
 * with the connection, as unread ones do. No job of it starts once the loss is logged. The
 * scheduler's environment is too big for a spawn that does not wait for the exec (spawn-vm.h), so
 * that each spawn takes long enough for frames to wait while the bus dies. */
static void test_bus_lost_mid_burst(void **state) {
        Fixture *f = *state;
        const char *args[] = { "-s", "600", "-t", "60", "--grace", "0.2", NULL };
        static char pad[112 * 1024];
        _cleanup_free_ char *log = NULL;
        const char *lost, *p;

        memcpy(pad, "SCHED_TEST_PAD=", 15);
        memset(pad + 15, 'x', sizeof pad - 16);
        f->sched_env[0] = pad;
        fixture_start(f, args);
        f->sched_env[0] = NULL;
        submit_burst(f, 600, 5, 3);
        assert_int_equal(daemon_stop(&f->bus, SIGKILL, 5000), 128 + SIGKILL);
        daemon_cleanup(&f->bus);
        assert_int_equal(daemon_wait_log(&f->sched, "unavailable", 1, 5000), 0);
        harness_sleep_ms(500);

        log = daemon_read_log(&f->sched);
        assert_non_null(log);
        lost = strstr(log, "unavailable");
        assert_non_null(lost);
        p = strstr(lost, " state=running");
        if (p) {
                fprintf(stderr, "a job started after the bus was lost: %.*s\n", 80, p);
                fail();
        }
        assert_non_null(strstr(log, "frames of the lost bus connection undecided"));
}

/* A burst of starts, cancels behind their jobs: while each start waits for its spawn, what comes
 * next waits in order (the scheduler's inbox, past 64 frames the bus's socket), so every cancel
 * finds its job, started or not, and nothing else is cancelled. */
static void test_burst_cancels_in_order(void **state) {
        Fixture *f = *state;
        const char *args[] = { "-s", "200", "-t", "60", "--grace", "0.5", NULL };
        const unsigned n = 300;
        char frame[96];

        fixture_start(f, args);
        for (unsigned id = 1; id <= n; id++) {
                send_waiting(f,
                             "{\"cmd\": \"job_request\", \"payload\": {\"priority\": 5, \"runtime\": 1}}");
                if (id % 3 != 0)
                        continue;
                (void) snprintf(frame, sizeof frame, "{\"cmd\":\"cancel\",\"id\":%u}", id);
                send_waiting(f, frame);
        }
        wait_terminal_records(f, n, 30000);
        for (unsigned id = 1; id <= n; id++) {
                bool cancelled = event_line(f, id, "cancelled") >= 0;

                if (cancelled != (id % 3 == 0)) {
                        fprintf(stderr, "job %u: %s\n", id, cancelled ? "cancelled" : "not cancelled");
                        fail();
                }
        }
        assert_int_equal(daemon_count_log(&f->sched, "not here"), 0);
}

static void test_burst_12000(void **state) {
        Fixture *f = *state;
        const char *args[] = { "-s", "2", "-t", "60", "--max-pending", "100", "--grace", "0.5", NULL };
        const unsigned n = 12000;

        fixture_start(f, args);
        submit_burst(f, n, 5, 30);
        assert_int_equal(daemon_wait_log(&f->sched, "--max-pending", n - 102, 60000), 0);
        assert_int_equal(daemon_stop(&f->sched, SIGTERM, 10000), 0);
        wait_terminal_records(f, n, 1000);
}

static long rss_kb_of(pid_t pid) {
        char path[64], line[256];
        long kb = -1;
        FILE *status;

        (void) snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        status = fopen(path, "re");
        assert_non_null(status);
        while (fgets(line, sizeof line, status))
                if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
                        break;
        fclose(status);
        assert_true(kb > 0);
        return kb;
}

/* A job that writes without pause: the loop stays on time, memory stays bounded, the lines that
 * were left out are counted, and what the job wrote cannot forge our tokens. Memory is measured as
 * what the scheduler's RSS gained while the job wrote, so that a sanitizer's own baseline does not
 * count. */
static void test_chatty_job(void **state) {
        Fixture *f = *state;
        const char *args[] = { "-s", "2", "-t", "2", "--grace", "0.5", NULL };
        const char *exec[] = { "sh", "-c", "echo 'job=77 state=done'; exec yes", NULL };
        double running, timeout;
        long rss_kb, rss_start_kb;

        fixture_start_exec(f, args, exec);
        submit(f, 3, 60); /* 1 */
        wait_event(f, 1, "running", 5000);
        harness_sleep_ms(200);
        rss_start_kb = rss_kb_of(f->sched.pid);
        harness_sleep_ms(1300);
        rss_kb = rss_kb_of(f->sched.pid);
        assert_true(rss_kb - rss_start_kb < 4 * 1024);

        wait_event(f, 1, "timeout", 5000);
        running = event_time(f, 1, "running");
        timeout = event_time(f, 1, "timeout");
        fprintf(stderr, "timeout after %.1f ms (due 2000), RSS %ld kB (%+ld kB while the job wrote)\n",
                timeout - running, rss_kb, rss_kb - rss_start_kb);
        assert_true(timeout - running >= 1990 && timeout - running < 2500);
        assert_true(daemon_count_log(&f->sched, "lines of output suppressed") >= 1);
        /* The job's own text is quoted and escaped: no token of job 77 anywhere. */
        assert_int_equal(daemon_count_log(&f->sched, " job=77"), 0);
        assert_true(daemon_count_log(&f->sched, "job\\x3d77 state\\x3ddone") >= 1);

        submit(f, 3, 60); /* 2: chatty too, then SIGTERM to the scheduler */
        wait_event(f, 2, "running", 5000);
        harness_sleep_ms(300);
        long long t0 = harness_now_ms();
        assert_int_equal(daemon_stop(&f->sched, SIGTERM, 10000), 0);
        fprintf(stderr, "stopped %lld ms after SIGTERM\n", harness_now_ms() - t0);
        assert_true(harness_now_ms() - t0 < 1000);
        wait_event(f, 2, "interrupted", 0);
}

/* A cgroup directory of the test's own under the cgroup2 mount (/sys/fs/cgroup/unified on a hybrid
 * system, else /sys/fs/cgroup); the scheduler gets `PARENT/jobs`, which it creates and removes. Skips
 * the test where there is none to make. */
static void make_test_cgroup(char *dir, size_t size) {
        static const char *const mounts[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
        struct statfs fs;

        for (size_t i = 0; i < ELEMENTSOF(mounts); i++) {
                if (statfs(mounts[i], &fs) < 0 || fs.f_type != 0x63677270 /* CGROUP2_SUPER_MAGIC */)
                        continue;
                (void) snprintf(dir, size, "%s/sched-test-XXXXXX", mounts[i]);
                if (mkdtemp(dir))
                        return;
                fprintf(stderr, "SKIP: cannot create a cgroup under %s: %m\n", mounts[i]);
                skip();
        }
        fprintf(stderr, "SKIP: cgroup2 is not mounted\n");
        skip();
}

static bool path_exists(const char *path) {
        struct stat st;

        return stat(path, &st) >= 0;
}

/* The job leaves a grandchild in a session of its own, then ends: with --cgroup=MODE nothing of it
 * may be alive once its terminal record is there. */
static void check_setsid_grandchild(Fixture *f, const char *cgroup_arg, bool cgroup_mode) {
        const char *args[] = { "-s", "2", "-t", "60", cgroup_arg, NULL };
        const char *exec[] = { "sh", "-c",
                               "setsid sleep 300 & echo $! > \"$0/grandchild-$SCHED_JOB_ID\"; "
                               "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done",
                               f->dir, NULL };
        pid_t grandchild;

        fixture_start_exec(f, args, exec);
        submit(f, 3, 1); /* 1 */
        wait_event(f, 1, "running", 5000);
        grandchild = grandchild_of(f, 1);
        assert_true(grandchild > 0);
        wait_event(f, 1, "done", 10000);
        if (cgroup_mode) {
                /* Recorded only once its cgroup was empty. */
                assert_false(harness_pid_alive(grandchild));
                assert_true(daemon_count_log(&f->sched, "cpu_usec=") >= 1);
        } else
                /* Killed before the record, reaped right after it. */
                assert_true(pid_gone(grandchild));
}

/* cpu_usec= on the record of job ID in STATE; -1 when it has none. */
static long long event_cpu_usec(Fixture *f, unsigned id, const char *state) {
        _cleanup_free_ char *line = event_text(f, id, state);
        const char *cpu = strstr(line, " cpu_usec=");

        return cpu ? strtoll(cpu + 10, NULL, 10) : -1;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)

/* How many bytes `dir`/`name` has to read (cgroup files say 0 to stat). */
static ssize_t read_bytes(const char *dir, const char *name) {
        char path[512], buf[4096];
        _cleanup_close_ int fd = -EBADF;

        (void) snprintf(path, sizeof path, "%s/%s", dir, name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        return read(fd, buf, sizeof buf);
}

/* The directories under `dir`. */
static unsigned count_subdirs(const char *dir) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *de;
        unsigned n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && de->d_name[0] != '.')
                        n++;
        return n;
}

/* Jobs one after the other get the same cgroup, labelled with the job's id while it is the job's; each
 * job's CPU time is its own, not the cgroup's since it was made. */
static void test_cgroup_reused(void **state) {
        Fixture *f = *state;
        char dir[256], jobs[300], arg[320], slot[340], label[32];
        const char *args[] = { "-s", "1", "-t", "60", arg, NULL };
        const char *exec[] = { "sh", "-c",
                               "[ $SCHED_JOB_ID = 1 ] || exit 0; i=0; while [ $i -lt 300000 ]; do "
                               "i=$((i+1)); done",
                               NULL };
        ssize_t n;

        make_test_cgroup(dir, sizeof dir);
        (void) snprintf(jobs, sizeof jobs, "%s/jobs", dir);
        (void) snprintf(arg, sizeof arg, "--cgroup=%s", jobs);
        (void) snprintf(slot, sizeof slot, "%s/slot-0", jobs);
        fixture_start_exec(f, args, exec);
        submit(f, 3, 1); /* 1: a busy loop */
        wait_event(f, 1, "running", 5000);
        n = getxattr(slot, "user.sched_label", label, sizeof label - 1);
        assert_true(n > 0);
        label[n] = 0;
        assert_string_equal(label, "1");
        wait_event(f, 1, "done", 30000);
        submit(f, 3, 1); /* 2: nothing */
        wait_event(f, 2, "done", 10000);

        assert_int_equal(count_subdirs(jobs), 1);
        assert_true(getxattr(slot, "user.sched_label", label, sizeof label) < 0 && errno == ENODATA);
        assert_true(event_cpu_usec(f, 1, "done") > 100000);
        assert_true(event_cpu_usec(f, 2, "done") >= 0);
        assert_true(event_cpu_usec(f, 2, "done") < 50000);
        /* At exit the scheduler removes its cgroups and the parent it made. */
        assert_int_equal(daemon_stop(&f->sched, SIGTERM, 10000), 0);
        assert_false(path_exists(jobs));
        assert_int_equal(rmdir(dir), 0);
}

/* A job that freezes its own cgroup (its files are writable by it) and is killed at its timeout: the
 * next job in that cgroup is not born frozen. */
static void test_cgroup_frozen_by_job(void **state) {
        Fixture *f = *state;
        char dir[256], jobs[300], arg[320];
        const char *args[] = { "-s", "1", "-t", "1", "--grace", "0.2", arg, NULL };
        const char *exec[] = {
                "sh", "-c",
                "[ $SCHED_JOB_ID = 1 ] || exit 0; echo 1 > \"$0/slot-0/cgroup.freeze\"; sleep 30", jobs, NULL
        };

        make_test_cgroup(dir, sizeof dir);
        (void) snprintf(jobs, sizeof jobs, "%s/jobs", dir);
        (void) snprintf(arg, sizeof arg, "--cgroup=%s", jobs);
        fixture_start_exec(f, args, exec);
        submit(f, 3, 1); /* 1: freezes itself */
        wait_event(f, 1, "timeout", 10000);
        submit(f, 3, 1); /* 2 */
        wait_event(f, 2, "done", 5000);
        assert_int_equal(count_subdirs(jobs), 1);
        assert_int_equal(daemon_stop(&f->sched, SIGTERM, 10000), 0);
        assert_int_equal(rmdir(dir), 0);
}

static void test_cgroup_setsid_grandchild(void **state) {
        Fixture *f = *state;
        char dir[256], jobs[300], arg[320];

        make_test_cgroup(dir, sizeof dir);
        (void) snprintf(jobs, sizeof jobs, "%s/jobs", dir);
        (void) snprintf(arg, sizeof arg, "--cgroup=%s", jobs);
        check_setsid_grandchild(f, arg, true);
        assert_true(daemon_count_log(&f->sched, jobs) >= 1); /* the startup line says where */
        /* Its cgroup is empty, ready for the next job. */
        assert_int_equal(count_subdirs(jobs), 1);
        assert_int_equal(read_bytes(jobs, "slot-0/cgroup.procs"), 0);
        /* At exit the scheduler removes the parent it made. */
        assert_int_equal(daemon_stop(&f->sched, SIGTERM, 10000), 0);
        assert_int_equal(rmdir(dir), 0);
}

static void test_fallback_setsid_grandchild(void **state) {
        Fixture *f = *state;

        check_setsid_grandchild(f, "--cgroup=off", false);
        assert_int_equal(daemon_count_log(&f->sched, "fallback: process groups and child subreaper"), 1);
}

/* Two long jobs (1 and 2) whose grandchildren are in *ret, then SIGKILL of the scheduler: nobody
 * cleans up. `ledger_entry` (may be NULL) must exist before the kill. */
/* With ledger_dir (the fallback): once both jobs are noted there. The note follows the spawn, so a
 * job can be running, even have forked, a moment before it (the longer under valgrind). */
static void start_two_jobs_then_kill9(Fixture *f, const char *const *args, pid_t ret[2],
                                      const char *ledger_dir) {
        fixture_start(f, args);
        submit(f, 3, 60); /* 1 */
        submit(f, 4, 60); /* 2 */
        for (unsigned id = 1; id <= 2; id++) {
                wait_event(f, id, "running", 5000);
                ret[id - 1] = grandchild_of(f, id);
                assert_true(ret[id - 1] > 0);
                if (ledger_dir) {
                        char entry[128];
                        long long deadline = harness_now_ms() + 5000;

                        (void) snprintf(entry, sizeof entry, "%s/%u", ledger_dir, id);
                        while (!path_exists(entry) && harness_now_ms() < deadline)
                                harness_sleep_ms(10);
                        assert_true(path_exists(entry));
                }
        }
        assert_int_equal(daemon_stop(&f->sched, SIGKILL, 5000), 128 + SIGKILL);
        daemon_cleanup(&f->sched);
        harness_sleep_ms(100);
        for (unsigned i = 0; i < 2; i++)
                assert_true(harness_pid_alive(ret[i]));
}

/* kill -9 of the scheduler leaves its jobs running; the next one with the same --cgroup kills them,
 * records each as interrupted and removes their cgroups. */
static void test_cgroup_restart_after_kill9(void **state) {
        Fixture *f = *state;
        char dir[256], jobs[300], arg[320], path[340];
        const char *args[] = { "-s", "2", "-t", "60", arg, NULL };
        pid_t grandchildren[2];

        make_test_cgroup(dir, sizeof dir);
        (void) snprintf(jobs, sizeof jobs, "%s/jobs", dir);
        (void) snprintf(arg, sizeof arg, "--cgroup=%s", jobs);
        start_two_jobs_then_kill9(f, args, grandchildren, NULL);
        spawn_scheduler(f, args, NULL);
        for (unsigned id = 1; id <= 2; id++) {
                wait_event(f, id, "interrupted", 5000);
                assert_false(harness_pid_alive(grandchildren[id - 1]));
                (void) snprintf(path, sizeof path, "%s/slot-%u", jobs, id - 1);
                assert_false(path_exists(path));
        }
        assert_int_equal(count_subdirs(jobs), 0);
        assert_int_equal(daemon_count_log(&f->sched, "state=interrupted"), 2);
        assert_int_equal(daemon_stop(&f->sched, SIGTERM, 10000), 0);
        /* The parent was the killed scheduler's to remove; the second one found it. */
        assert_int_equal(rmdir(jobs), 0);
        assert_int_equal(rmdir(dir), 0);
}

/* Without cgroups a scheduler killed with SIGKILL leaves its jobs running; the next one finds them in
 * the ledger of its runtime directory, kills their process groups and records each interrupted. */
static void test_fallback_restart_after_kill9(void **state) {
        Fixture *f = *state;
        char run_dir[] = "/tmp/sched-test-run-XXXXXX", env[64], path[64];
        const char *args[] = { "-s", "2", "-t", "60", "--cgroup=off", NULL };
        pid_t grandchildren[2];

        assert_non_null(mkdtemp(run_dir));
        (void) snprintf(env, sizeof env, "RUNTIME_DIRECTORY=%s", run_dir);
        f->sched_env[0] = env;
        (void) snprintf(path, sizeof path, "%s/1", run_dir);
        start_two_jobs_then_kill9(f, args, grandchildren, run_dir);
        spawn_scheduler(f, args, NULL);
        for (unsigned id = 1; id <= 2; id++) {
                wait_event(f, id, "interrupted", 5000);
                assert_true(pid_gone(grandchildren[id - 1]));
        }
        assert_int_equal(daemon_count_log(&f->sched, "state=interrupted"), 2);
        /* The record knows what the ledger knew. */
        assert_true(event_line(f, 1, "interrupted") >= 0 &&
                    daemon_count_log(&f->sched, "job=1 priority=3") >= 1);
        assert_false(path_exists(path));
        assert_int_equal(daemon_stop(&f->sched, SIGTERM, 10000), 0);
        assert_int_equal(rmdir(run_dir), 0);
        f->sched_env[0] = NULL;
}

/* How a job ended is on its record: the signal that killed it; and a job already being killed at
 * its timeout is not evicted in its grace period (its record says timeout), the urgent job waits for
 * its slot instead. */
static void test_end_facts(void **state) {
        Fixture *f = *state;
        const char *args[] = { "-s", "1", "-t", "1", "--grace", "3", NULL };
        const char *exec[] = {
                "sh", "-c",
                "case $SCHED_JOB_PRIORITY in 1) kill -SEGV $$;; 5) trap '' TERM; sleep 30;; esac; exit 0",
                NULL
        };

        fixture_start_exec(f, args, exec);
        submit(f, 1, 1); /* 1: killed by SIGSEGV */
        wait_event(f, 1, "failed", 5000);
        assert_true(daemon_count_log(&f->sched, " signal=SEGV") == 1);

        submit(f, 5, 1); /* 2: ignores SIGTERM: killed only at the end of the grace */
        wait_event(f, 2, "running", 5000);
        harness_sleep_ms(1500); /* its timeout has fired */
        submit(f, 0, 0.1);      /* 3: more urgent, but 2 is already leaving */
        wait_event(f, 3, "queued", 5000);
        wait_event(f, 2, "timeout", 5000);
        wait_event(f, 3, "done", 5000);
        assert_int_equal(event_line(f, 2, "evicted"), -1);
        assert_true(daemon_count_log(&f->sched, " signal=KILL") == 1);
}

/* The first start says, once, whether starts wait for the exec, and which call spares them the wait. */
static void test_spawn_way_logged(void **state) {
        Fixture *f = *state;
        const char *args[] = { "-s", "2", NULL };
        const char *way = expected_spawn_way();
        char needle[96];

        fixture_start(f, args);
        submit(f, 5, 0.1); /* 1 */
        submit(f, 5, 0.1); /* 2 */
        wait_event(f, 1, "done", 5000);
        wait_event(f, 2, "done", 5000);
        if (way)
                (void) snprintf(needle, sizeof needle, "Jobs start without waiting for their exec (%s%s",
                                way, strcmp(way, "clone") == 0 ? ":" : ")");
        else
                (void) snprintf(needle, sizeof needle, "Jobs start waiting for their exec");
        assert_int_equal(daemon_count_log(&f->sched, "Jobs start "), 1);
        assert_int_equal(daemon_count_log(&f->sched, needle), 1);
}

static void test_no_bus_at_start(void **state) {
        Fixture *f = *state;
        char url[64], *argv[] = { (char *) SCHEDULER_BINARY, (char *) "--bus", url, NULL };

        (void) snprintf(url, sizeof url, "ws://127.0.0.1:%d", harness_free_port());
        assert_int_equal(daemon_spawn(&f->sched, argv, -1, NULL), 0);
        /* Ready even while the bus is unreachable, and says so. */
        assert_int_equal(daemon_wait_notify(&f->sched, "READY=1", 10000, NULL, 0), 0);
        assert_int_equal(daemon_wait_status(&f->sched, "bus connecting", 5000), 0);
        assert_int_equal(daemon_wait_log(&f->sched, "unavailable", 2, 5000), 0);
}

static void test_scope_without_manager(void **state) {
        Fixture *f = *state;
        char *argv[] = { (char *) SCHEDULER_BINARY, (char *) "--scope", NULL };
        /* No manager answers on this bus address: --scope must refuse to start, not run without. */
        char *env[] = { (char *) "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/sched-test-bus", NULL };

        assert_int_equal(daemon_spawn(&f->sched, argv, -1, env), 0);
        assert_int_equal(daemon_stop(&f->sched, 0, 10000), 1);
        assert_int_equal(daemon_count_log(&f->sched, "--scope: cannot reach the system service manager"), 1);
        assert_int_equal(daemon_wait_notify(&f->sched, "READY=1", 100, NULL, 0), -ETIMEDOUT);
}

static void test_bad_usage(void **state) {
        Fixture *f = *state;
        char *argv[] = { (char *) SCHEDULER_BINARY, (char *) "-s", (char *) "0", NULL };

        assert_int_equal(daemon_spawn(&f->sched, argv, -1, NULL), 0);
        assert_int_equal(daemon_stop(&f->sched, 0, 10000), 2);
        assert_true(daemon_count_log(&f->sched, "out of range") == 1);
}

int main(int argc, char *argv[]) {
        struct CMUnitTest tests[] = {
                cmocka_unit_test(test_eviction_rules),
                cmocka_unit_test(test_cancel),
                cmocka_unit_test(test_pending_order),
                cmocka_unit_test(test_timeout_kills_group),
                cmocka_unit_test(test_evicted_group_gone),
                cmocka_unit_test(test_failed_and_output),
                cmocka_unit_test(test_bad_payloads),
                cmocka_unit_test(test_load_reports),
                cmocka_unit_test(test_bus_restart),
                cmocka_unit_test(test_bus_lost_mid_burst),
                cmocka_unit_test(test_max_pending),
                cmocka_unit_test(test_sigterm_terminates_jobs),
                cmocka_unit_test(test_burst_accounting),
                cmocka_unit_test(test_burst_cancels_in_order),
                cmocka_unit_test(test_burst_12000),
                cmocka_unit_test(test_chatty_job),
                cmocka_unit_test(test_cgroup_reused),
                cmocka_unit_test(test_cgroup_frozen_by_job),
                cmocka_unit_test(test_cgroup_setsid_grandchild),
                cmocka_unit_test(test_fallback_setsid_grandchild),
                cmocka_unit_test(test_cgroup_restart_after_kill9),
                cmocka_unit_test(test_fallback_restart_after_kill9),
                cmocka_unit_test(test_end_facts),
                cmocka_unit_test(test_spawn_way_logged),
                cmocka_unit_test(test_no_bus_at_start),
                cmocka_unit_test(test_scope_without_manager),
                cmocka_unit_test(test_bad_usage),
        };

        return harness_run_tests("scheduler", tests, ELEMENTSOF(tests), setup, teardown, argc, argv);
}
