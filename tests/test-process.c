/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of Process with real children (true, false, sh, sleep, cat): results and exit statuses,
 * timeout, terminate with and without a cooperative child, nothing of a process group left behind,
 * done callbacks, environment and output, misuse, and freeing from every awkward place.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "process.h"
#include "spawn-vm.h"
#include "spawn-way.h"
#include "time-util.h"

/* Timing checks only guard against a wrong order of magnitude. */
#define SLACK_MSEC 5000

static long long now_msec(void) {
        return (long long) (now_usec(CLOCK_MONOTONIC) / USEC_PER_MSEC);
}

static void sleep_msec(int ms) {
        (void) nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L }, NULL);
}

/* Gone means no such pid, or a zombie: orphans are reaped by PID 1 (or not at all in some containers),
 * never by us. */
static bool pid_gone(pid_t pid) {
        char path[64], buf[512], *paren;
        ssize_t n;
        int fd;

        if (kill(pid, 0) < 0 && errno == ESRCH)
                return true;
        (void) snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return true;
        n = read(fd, buf, sizeof buf - 1);
        (void) close(fd);
        if (n <= 0)
                return true;
        buf[n] = 0;
        paren = strrchr(buf, ')');
        return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

static bool wait_pid_gone(pid_t pid, int timeout_ms) {
        long long end = now_msec() + timeout_ms;

        while (!pid_gone(pid)) {
                if (now_msec() > end)
                        return false;
                sleep_msec(10);
        }
        return true;
}

static void make_temp(char *path, size_t size) {
        int fd;

        (void) snprintf(path, size, "/tmp/test-process-XXXXXX");
        fd = mkstemp(path);
        assert_true(fd >= 0);
        (void) close(fd);
}

/* Polls a file until a child has written a pid into it. */
static pid_t read_pid_file(const char *path, int timeout_ms) {
        long long end = now_msec() + timeout_ms;

        for (;;) {
                FILE *f = fopen(path, "re");
                int pid = 0;

                if (f) {
                        if (fscanf(f, "%d", &pid) != 1)
                                pid = 0;
                        (void) fclose(f);
                }
                if (pid > 0)
                        return pid;
                assert_true(now_msec() < end);
                sleep_msec(10);
        }
}

/* Reads everything until EOF, or `stop` appears, or the timeout; returns the length. */
static size_t read_until(int fd, char *buf, size_t size, const char *stop, int timeout_ms) {
        long long end = now_msec() + timeout_ms;
        size_t n = 0;

        buf[0] = 0;
        while (n + 1 < size && !(stop && strstr(buf, stop))) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                long long left = end - now_msec();
                ssize_t k;

                if (left <= 0 || poll(&pfd, 1, (int) left) <= 0)
                        break;
                k = read(fd, buf + n, size - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t) k;
                buf[n] = 0;
        }
        return n;
}

static Process *start(sd_event *e, char *const argv[], char *const env[]) {
        Process *p = NULL;

        assert_int_equal(process_new(&p, e, argv, env), 0);
        assert_int_equal(process_start(p), 0);
        assert_true(process_is_running(p));
        assert_true(process_get_pid(p) > 0);
        return p;
}

/* Starts argv with its stdout and stderr into a pipe; returns the read end in *ret_out. */
static Process *start_with_output(sd_event *e, char *const argv[], char *const env[], int *ret_out) {
        Process *p = NULL;
        int fds[2];

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        assert_int_equal(process_new(&p, e, argv, env), 0);
        assert_int_equal(process_set_output_fd(p, fds[1]), 0);
        assert_int_equal(process_start(p), 0);
        /* The output is fixed once started. */
        assert_int_equal(process_set_output_fd(p, fds[1]), -EBUSY);
        (void) close(fds[1]);
        *ret_out = fds[0];
        return p;
}

/* Checks that what began at t0 took at least min_ms, and not an order of magnitude more. */
static void check_elapsed(long long t0, long long min_ms) {
        long long elapsed = now_msec() - t0;

        assert_true(elapsed >= min_ms);
        assert_true(elapsed < SLACK_MSEC);
}

static void check_run(char *const argv[], ProcessResult result, int exit_status) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;
        pid_t pid;

        assert_int_equal(sd_event_new(&e), 0);
        p = start(e, argv, NULL);
        pid = process_get_pid(p);
        assert_int_equal(process_get_result(p), _PROCESS_RESULT_INVALID);
        assert_int_equal(process_get_exit_status(p), -1);

        assert_int_equal(process_wait(p), result);
        assert_false(process_is_running(p));
        assert_int_equal(process_get_result(p), result);
        assert_int_equal(process_get_exit_status(p), exit_status);
        /* Reaped: no zombie left. */
        assert_int_equal(kill(pid, 0), -1);
        assert_int_equal(errno, ESRCH);
}

static void test_result_strings(void **state) {
        static const char *const names[] = { "success", "error", "timeout", "terminated" };

        /* Every result has a name of its own. */
        assert_int_equal(ELEMENTSOF(names), _PROCESS_RESULT_MAX);
        for (ProcessResult r = 0; r < _PROCESS_RESULT_MAX; r++)
                assert_string_equal(process_result_to_string(r), names[r]);
        assert_null(process_result_to_string(_PROCESS_RESULT_MAX));
        assert_null(process_result_to_string(_PROCESS_RESULT_INVALID));
}

static void test_true_success(void **state) {
        check_run((char *[]){ "true", NULL }, PROCESS_SUCCESS, 0);
}

static void test_false_error(void **state) {
        check_run((char *[]){ "false", NULL }, PROCESS_ERROR, 1);
}

static void test_exit_code(void **state) {
        check_run((char *[]){ "sh", "-c", "exit 3", NULL }, PROCESS_ERROR, 3);
}

static void test_foreign_signal(void **state) {
        check_run((char *[]){ "sh", "-c", "kill -KILL $$", NULL }, PROCESS_ERROR, 128 + SIGKILL);
}

static void test_command_not_found(void **state) {
        _cleanup_(process_freep) Process *p = NULL;

        assert_int_equal(process_new(&p, NULL, (char *[]){ "sched-no-such-command", NULL }, NULL), 0);
        assert_int_equal(process_start(p), -ENOENT);
        assert_false(process_is_running(p));
        assert_int_equal(process_wait(p), -ECHILD);
        assert_int_equal(process_new(&p, NULL, (char *[]){ NULL }, NULL), -EINVAL);
}

/* A command found and executable whose exec fails in the child (not a program: ENOEXEC). Where the
 * spawn waits for the exec (not x86-64, or clone3 and clone refused) the start fails with the child's
 * errno and no process is left; where it does not (clone3, or clone under a filter that refuses
 * clone3), the process runs and exits 127, with the reason on its output. */
static void test_exec_fails_in_child(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;
        _cleanup_close_ int out = -EBADF;
        char path[] = "/tmp/sched-test-noexec-XXXXXX", expected[128], buf[256];
        int fd = mkstemp(path), fds[2], r;

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "\x7f\x45\x4c\x46garbage", 11), 11);
        assert_int_equal(fchmod(fd, 0755), 0);
        assert_int_equal(close(fd), 0);

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        out = fds[0];
        assert_int_equal(process_new(&p, e, (char *[]){ path, NULL }, NULL), 0);
        assert_int_equal(process_set_output_fd(p, fds[1]), 0);
        r = process_start(p);
        (void) close(fds[1]);
        /* Only a spawn that waits for the exec sees it fail. */
        if (expected_spawn_way())
                assert_string_equal(spawn_vm_way(), expected_spawn_way());
        else
                assert_null(spawn_vm_way());
        if (!spawn_vm_way()) {
                assert_int_equal(r, -ENOEXEC);
                assert_false(process_is_running(p));
                /* Reaped: no child of ours is left, zombie or not. */
                assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
                assert_int_equal(errno, ECHILD);
        } else {
                assert_int_equal(r, 0);
                assert_int_equal(process_wait(p), PROCESS_ERROR);
                assert_int_equal(process_get_exit_status(p), 127);
                read_until(out, buf, sizeof buf, NULL, SLACK_MSEC);
                (void) snprintf(expected, sizeof expected, "Cannot execute %s: Exec format error\n", path);
                assert_string_equal(buf, expected);
        }
        assert_int_equal(unlink(path), 0);
}

/* More children at once than spawns can be between their clone and their exec, each with its own
 * arguments and environment (copied per spawn), and one whose environment is too big for the copy
 * (spawned the slower way): each runs its own command and ends as it should. */
static void test_many_at_once(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_free_ char *big = NULL;
        Process *p[80] = {};
        int out[80];

        assert_int_equal(sd_event_new(&e), 0);
        big = malloc(120 * 1024);
        assert_non_null(big);
        memcpy(big, "SCHED_BIG=", 10);
        memset(big + 10, 'x', 120 * 1024 - 11);
        big[120 * 1024 - 1] = 0;
        for (size_t i = 0; i < ELEMENTSOF(p); i++) {
                char arg[16], env[32];

                (void) snprintf(arg, sizeof arg, "%zu", i);
                (void) snprintf(env, sizeof env, "SCHED_N=%zu", i * 3);
                p[i] = start_with_output(
                        e, (char *[]){ "sh", "-c", "echo $0 $SCHED_N ${#SCHED_BIG}", arg, NULL },
                        (char *[]){ env, i == 40 ? big : NULL, NULL }, &out[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(p); i++) {
                char buf[64], expected[64];

                assert_int_equal(process_wait(p[i]), PROCESS_SUCCESS);
                read_until(out[i], buf, sizeof buf, NULL, SLACK_MSEC);
                (void) snprintf(expected, sizeof expected, "%zu %zu %d\n", i, i * 3,
                                i == 40 ? 120 * 1024 - 11 : 0);
                assert_string_equal(buf, expected);
                (void) close(out[i]);
                process_free(p[i]);
        }
}

/* Jobs one after the other never wait for a free slot: each child gives its slot back at its exec
 * (the kernel clears the slot's word, CLONE_CHILD_CLEARTID), whichever way it was made. */
static void test_slots_given_back(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        unsigned long waited = spawn_vm_n_waited();

        assert_int_equal(sd_event_new(&e), 0);
        for (int i = 0; i < 24; i++) {
                Process *p = start(e, (char *[]){ "true", NULL }, NULL);

                assert_int_equal(process_wait(p), PROCESS_SUCCESS);
                process_free(p);
        }
        assert_int_equal(spawn_vm_n_waited(), waited);
}

static void test_timeout(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;
        long long t0;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(process_new(&p, e, (char *[]){ "sleep", "30", NULL }, NULL), 0);
        assert_int_equal(process_set_timeout(p, 200 * USEC_PER_MSEC), 0);
        t0 = now_msec();
        assert_int_equal(process_start(p), 0);

        assert_int_equal(process_wait(p), PROCESS_TIMEOUT);
        check_elapsed(t0, 190);
        assert_int_equal(process_get_exit_status(p), 128 + SIGTERM);
}

/* A timeout that counts from a moment before the start: due 60 ms after it, not 200. */
static void test_timeout_origin(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;
        long long t0, elapsed;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(process_new(&p, e, (char *[]){ "sleep", "30", NULL }, NULL), 0);
        assert_int_equal(process_set_timeout(p, 200 * USEC_PER_MSEC), 0);
        process_set_timeout_origin(p, now_usec(CLOCK_MONOTONIC) - 140 * USEC_PER_MSEC);
        t0 = now_msec();
        assert_int_equal(process_start(p), 0);

        assert_int_equal(process_wait(p), PROCESS_TIMEOUT);
        elapsed = now_msec() - t0;
        assert_true(elapsed >= 50);
        assert_true(elapsed < 150);
}

static void test_timeout_after_start(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        p = start(e, (char *[]){ "sleep", "30", NULL }, NULL);
        assert_int_equal(process_set_timeout(p, 100 * USEC_PER_MSEC), 0);
        assert_int_equal(process_wait(p), PROCESS_TIMEOUT);
}

static int on_terminate_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        assert_int_equal(process_terminate(userdata), 0);
        /* A second request changes nothing. */
        assert_int_equal(process_terminate(userdata), 0);
        return 0;
}

static void test_terminate(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;
        _cleanup_(sd_event_source_unrefp) sd_event_source *timer = NULL;
        long long t0;

        assert_int_equal(sd_event_new(&e), 0);
        t0 = now_msec();
        p = start(e, (char *[]){ "sleep", "30", NULL }, NULL);
        assert_int_equal(sd_event_add_time_relative(e, &timer, CLOCK_MONOTONIC, 100 * USEC_PER_MSEC,
                                                    USEC_PER_MSEC, on_terminate_timer, p),
                         0);

        assert_int_equal(process_wait(p), PROCESS_TERMINATED);
        check_elapsed(t0, 90);
        assert_int_equal(process_get_exit_status(p), 128 + SIGTERM);
}

/* Starts `sh -c script` with that grace and its output in a pipe (read end in *ret_out), and returns
 * once the script printed "ready": its traps are in place, SIGTERM may come. */
static Process *start_ready(sd_event *e, const char *script, uint64_t grace_usec, int *ret_out) {
        Process *p = start_with_output(e, (char *[]){ "sh", "-c", (char *) script, NULL }, NULL, ret_out);
        char buf[64];

        assert_int_equal(process_set_grace(p, grace_usec), 0);
        read_until(*ret_out, buf, sizeof buf, "ready", SLACK_MSEC);
        assert_non_null(strstr(buf, "ready"));
        return p;
}

static void test_terminate_grace_sigkill(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;
        _cleanup_close_ int out = -EBADF;
        long long t0;

        assert_int_equal(sd_event_new(&e), 0);
        p = start_ready(e, "trap '' TERM; echo ready; exec sleep 30", 200 * USEC_PER_MSEC, &out);

        t0 = now_msec();
        assert_int_equal(process_terminate(p), 0);
        assert_int_equal(process_wait(p), PROCESS_TERMINATED);
        check_elapsed(t0, 190);
        assert_int_equal(process_get_exit_status(p), 128 + SIGKILL);
}

/* SIGTERM goes to every member of the group, not only to the leader: here the leader waits for a
 * member that only leaves on SIGTERM, so the whole thing ends long before the SIGKILL. */
static void test_terminate_signals_group(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;
        _cleanup_close_ int out = -EBADF;
        long long t0;
        char buf[256];

        assert_int_equal(sd_event_new(&e), 0);
        p = start_ready(e,
                        "trap 'wait; exit 0' TERM; "
                        "sh -c 'trap \"echo member-term; exit 0\" TERM; echo ready; "
                        "while :; do sleep 0.05; done' & wait",
                        3 * USEC_PER_SEC, &out);

        t0 = now_msec();
        assert_int_equal(process_terminate(p), 0);
        assert_int_equal(process_wait(p), PROCESS_TERMINATED);
        assert_true(now_msec() - t0 < 2500);
        assert_int_equal(process_get_exit_status(p), 0);
        read_until(out, buf, sizeof buf, NULL, SLACK_MSEC);
        assert_non_null(strstr(buf, "member-term"));
}

/* A shell that leaves a background grandchild in its group; returns the grandchild's pid. */
static Process *start_with_grandchild(sd_event *e, const char *pid_file, bool leader_waits, pid_t *ret_gc) {
        char script[512];
        Process *p;

        (void) snprintf(script, sizeof script, "sleep 30 & echo $! > %s%s", pid_file,
                        leader_waits ? "; sleep 30" : "");
        p = start(e, (char *[]){ "sh", "-c", script, NULL }, NULL);
        *ret_gc = read_pid_file(pid_file, SLACK_MSEC);
        assert_false(pid_gone(*ret_gc));
        return p;
}

/* Starts a shell that leaves a grandchild in its group, lets `end` finish the shell, and checks
 * that the grandchild goes with it. */
static void check_grandchild_gone(bool leader_waits, void (*end)(Process *p)) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;
        char path[64];
        pid_t gc;

        assert_int_equal(sd_event_new(&e), 0);
        make_temp(path, sizeof path);
        p = start_with_grandchild(e, path, leader_waits, &gc);
        end(p);
        assert_true(wait_pid_gone(gc, 2000));
        (void) unlink(path);
}

static void end_by_timeout(Process *p) {
        assert_int_equal(process_set_timeout(p, 200 * USEC_PER_MSEC), 0);
        assert_int_equal(process_wait(p), PROCESS_TIMEOUT);
}

static void end_by_terminate(Process *p) {
        assert_int_equal(process_terminate(p), 0);
        assert_int_equal(process_wait(p), PROCESS_TERMINATED);
}

static void end_by_leader_exit(Process *p) {
        assert_int_equal(process_wait(p), PROCESS_SUCCESS);
        assert_int_equal(process_get_exit_status(p), 0);
}

static void test_timeout_kills_grandchild(void **state) {
        check_grandchild_gone(true, end_by_timeout);
}

static void test_terminate_kills_grandchild(void **state) {
        check_grandchild_gone(true, end_by_terminate);
}

static void test_leader_exit_kills_grandchild(void **state) {
        check_grandchild_gone(false, end_by_leader_exit);
}

typedef struct CallLog {
        int order[8];
        unsigned n;
        ProcessResult result;
        Process *free_me; /* freed by the callback that finds it set */
} CallLog;

static void on_done_record(CallLog *log, int index, Process *p, ProcessResult result) {
        assert_true(log->n < ELEMENTSOF(log->order));
        log->order[log->n++] = index;
        log->result = result;
        if (log->free_me == p)
                log->free_me = process_free(p);
}

static void on_done_0(Process *p, ProcessResult result, void *userdata) {
        on_done_record(userdata, 0, p, result);
}

static void on_done_1(Process *p, ProcessResult result, void *userdata) {
        on_done_record(userdata, 1, p, result);
}

static void on_done_2(Process *p, ProcessResult result, void *userdata) {
        on_done_record(userdata, 2, p, result);
}

static void test_callbacks_in_order_once(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;
        CallLog log = {};

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(process_new(&p, e, (char *[]){ "false", NULL }, NULL), 0);
        assert_int_equal(process_add_done_callback(p, on_done_0, &log), 0);
        assert_int_equal(process_add_done_callback(p, on_done_1, &log), 0);
        assert_int_equal(process_start(p), 0);
        assert_int_equal(process_add_done_callback(p, on_done_2, &log), 0);
        assert_int_equal(process_add_done_callback(p, NULL, &log), -EINVAL);

        assert_int_equal(process_wait(p), PROCESS_ERROR);
        for (int i = 0; i < 5; i++)
                (void) sd_event_run(e, 10 * USEC_PER_MSEC);
        assert_int_equal(log.n, 3);
        for (int i = 0; i < 3; i++)
                assert_int_equal(log.order[i], i);
        assert_int_equal(log.result, PROCESS_ERROR);
        assert_int_equal(process_add_done_callback(p, on_done_0, &log), -ESTALE);
}

static void test_free_in_callback_during_wait(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        Process *p = NULL;
        CallLog log = {};

        assert_int_equal(sd_event_new(&e), 0);
        p = start(e, (char *[]){ "true", NULL }, NULL);
        log.free_me = p;
        assert_int_equal(process_add_done_callback(p, on_done_0, &log), 0);
        assert_int_equal(process_add_done_callback(p, on_done_1, &log), 0);

        /* Freed by the first callback while process_wait() still holds it. */
        assert_int_equal(process_wait(p), PROCESS_SUCCESS);
        assert_null(log.free_me);
        assert_int_equal(log.n, 1);
}

static void test_free_in_callback_from_loop(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        Process *p = NULL;
        CallLog log = {};
        pid_t pid;

        assert_int_equal(sd_event_new(&e), 0);
        p = start(e, (char *[]){ "sh", "-c", "exit 5", NULL }, NULL);
        pid = process_get_pid(p);
        log.free_me = p;
        assert_int_equal(process_add_done_callback(p, on_done_0, &log), 0);
        assert_int_equal(process_add_done_callback(p, on_done_1, &log), 0);

        for (long long end = now_msec() + SLACK_MSEC; log.n == 0 && now_msec() < end;)
                assert_true(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
        assert_int_equal(log.n, 1); /* the callbacks after the free are not called */
        assert_int_equal(log.result, PROCESS_ERROR);
        assert_null(log.free_me);
        /* The loop reaped the leader after the callback, even though its source was freed. */
        assert_int_equal(kill(pid, 0), -1);
        assert_int_equal(errno, ESRCH);
}

static void test_free_while_running(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        Process *p;
        char path[64];
        CallLog log = {};
        pid_t pid, gc;

        assert_int_equal(sd_event_new(&e), 0);
        make_temp(path, sizeof path);
        p = start_with_grandchild(e, path, true, &gc);
        pid = process_get_pid(p);
        assert_int_equal(process_add_done_callback(p, on_done_0, &log), 0);

        assert_null(process_free(p));
        /* Killed at once, reaped by the loop afterwards: process_free() never waits. */
        for (long long end = now_msec() + SLACK_MSEC; kill(pid, 0) == 0 && now_msec() < end;)
                (void) sd_event_run(e, 10 * USEC_PER_MSEC);
        assert_int_equal(kill(pid, 0), -1); /* killed and reaped, not a zombie */
        assert_int_equal(errno, ESRCH);
        assert_true(wait_pid_gone(gc, 2000));
        (void) sd_event_run(e, 0);
        assert_int_equal(log.n, 0);
        assert_null(process_free(NULL));
        (void) unlink(path);
}

static void test_env_extra(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;
        _cleanup_close_ int out = -EBADF;
        char buf[256];

        assert_int_equal(setenv("TEST_PROCESS_INHERITED", "kept", 1), 0);
        assert_int_equal(setenv("TEST_PROCESS_OVERRIDDEN", "old", 1), 0);
        assert_int_equal(sd_event_new(&e), 0);
        p = start_with_output(e,
                              (char *[]){ "sh", "-c",
                                          "echo \"$TEST_PROCESS_INHERITED $TEST_PROCESS_OVERRIDDEN "
                                          "$SCHED_JOB_ID\"; env | grep -c TEST_PROCESS_OVERRIDDEN=",
                                          NULL },
                              (char *[]){ "SCHED_JOB_ID=42", "TEST_PROCESS_OVERRIDDEN=new", NULL }, &out);
        assert_int_equal(process_wait(p), PROCESS_SUCCESS);

        read_until(out, buf, sizeof buf, NULL, SLACK_MSEC);
        assert_string_equal(buf, "kept new 42\n1\n");
        (void) unsetenv("TEST_PROCESS_INHERITED");
        (void) unsetenv("TEST_PROCESS_OVERRIDDEN");
}

static void test_output_fd(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;
        _cleanup_close_ int out = -EBADF;
        char buf[256];

        assert_int_equal(sd_event_new(&e), 0);
        p = start_with_output(e, (char *[]){ "sh", "-c", "echo out; echo err >&2", NULL }, NULL, &out);

        assert_int_equal(process_wait(p), PROCESS_SUCCESS);
        read_until(out, buf, sizeof buf, NULL, SLACK_MSEC);
        assert_string_equal(buf, "out\nerr\n");
}

/* A held child exists (pid, group) but runs nothing until released; then it runs with its output and
 * environment as usual. */
static void test_held_release(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;
        _cleanup_close_ int out = -EBADF;
        int fds[2];
        char buf[256];

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        assert_int_equal(process_new(&p, e, (char *[]){ "sh", "-c", "echo ran $SCHED_JOB_ID", NULL },
                                     (char *[]){ "SCHED_JOB_ID=7", NULL }),
                         0);
        assert_int_equal(process_set_output_fd(p, fds[1]), 0);
        assert_int_equal(process_release(p), -ESRCH); /* not started */
        assert_int_equal(process_start_held(p), 0);
        (void) close(fds[1]);
        out = fds[0];
        assert_true(process_is_running(p));
        assert_int_equal(getpgid(process_get_pid(p)), process_get_pid(p));

        /* Held: nothing runs, however long we wait. */
        for (int i = 0; i < 10; i++)
                (void) sd_event_run(e, 20 * USEC_PER_MSEC);
        assert_true(process_is_running(p));
        assert_int_equal(read_until(out, buf, sizeof buf, NULL, 100), 0);

        assert_int_equal(process_release(p), 0);
        assert_int_equal(process_release(p), 0); /* once is enough */
        assert_int_equal(process_wait(p), PROCESS_SUCCESS);
        read_until(out, buf, sizeof buf, NULL, SLACK_MSEC);
        assert_string_equal(buf, "ran 7\n");
}

/* A held child that is terminated, or freed, never runs its command. */
static void test_held_never_released(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        char path[64], *argv[] = { "sh", "-c", NULL, NULL };
        _cleanup_free_ char *cmd = NULL;
        Process *p = NULL;
        struct stat st;
        pid_t pid;

        make_temp(path, sizeof path);
        assert_true(asprintf(&cmd, "echo ran >%s", path) > 0);
        argv[2] = cmd;
        assert_int_equal(sd_event_new(&e), 0);

        assert_int_equal(process_new(&p, e, argv, NULL), 0);
        assert_int_equal(process_start_held(p), 0);
        assert_int_equal(process_terminate(p), 0);
        assert_int_equal(process_wait(p), PROCESS_TERMINATED);
        assert_int_equal(process_get_exit_signal(p), SIGTERM);
        p = process_free(p);

        assert_int_equal(process_new(&p, e, argv, NULL), 0);
        assert_int_equal(process_start_held(p), 0);
        pid = process_get_pid(p);
        p = process_free(p);
        assert_true(wait_pid_gone(pid, SLACK_MSEC));

        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, 0);
        (void) unlink(path);
}

/* A held start looks the command up first: a missing one fails the start. */
static void test_held_command_not_found(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(process_new(&p, e, (char *[]){ "/nonexistent/command", NULL }, NULL), 0);
        assert_int_equal(process_start_held(p), -ENOENT);
        assert_false(process_is_running(p));
}

/* The parent blocks SIGCHLD and ignores SIGPIPE, like a daemon; the child must see neither. */
static void test_child_signal_state(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;
        _cleanup_close_ int out = -EBADF;
        static const int reset[] = { SIGTERM, SIGINT, SIGCHLD, SIGHUP, SIGPIPE };
        struct sigaction old_pipe;
        unsigned long long ignored;
        char buf[4096], *line;
        sigset_t mask;

        assert_int_equal(sigaction(SIGPIPE, &(struct sigaction){ .sa_handler = SIG_IGN }, &old_pipe), 0);
        assert_int_equal(sd_event_new(&e), 0);
        p = start_with_output(e, (char *[]){ "cat", "/proc/self/status", NULL }, NULL, &out);
        assert_int_equal(sigprocmask(SIG_SETMASK, NULL, &mask), 0);
        assert_true(sigismember(&mask, SIGCHLD));
        assert_int_equal(process_wait(p), PROCESS_SUCCESS);
        (void) sigaction(SIGPIPE, &old_pipe, NULL);

        read_until(out, buf, sizeof buf, NULL, SLACK_MSEC);
        line = strstr(buf, "SigBlk:");
        assert_non_null(line);
        assert_int_equal(strncmp(line, "SigBlk:\t0000000000000000\n", 25), 0);
        /* Only the signals we reset: whoever runs the tests may ignore others (SIGQUIT, ...). */
        line = strstr(buf, "SigIgn:");
        assert_non_null(line);
        ignored = strtoull(line + strlen("SigIgn:"), NULL, 16);
        for (size_t i = 0; i < ELEMENTSOF(reset); i++)
                assert_false(ignored & (UINT64_C(1) << (reset[i] - 1)));
}

static unsigned count_fds(void) {
        unsigned n = 0;

        for (int fd = 0; fd < 1024; fd++)
                if (fcntl(fd, F_GETFD) >= 0)
                        n++;
        return n;
}

/* The pidfd and the timers go with the Process, whichever way it ends. */
static void test_no_fd_leak(void **state) {
        unsigned before = count_fds();
        sd_event *e = NULL;
        Process *p = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        for (int i = 0; i < 3; i++) {
                p = start(e, (char *[]){ "sleep", "30", NULL }, NULL);
                assert_int_equal(process_set_timeout(p, i == 0 ? 10 * USEC_PER_MSEC : 0), 0);
                if (i == 0)
                        assert_int_equal(process_wait(p), PROCESS_TIMEOUT);
                else if (i == 1) {
                        assert_int_equal(process_terminate(p), 0);
                        assert_int_equal(process_wait(p), PROCESS_TERMINATED);
                }
                p = process_free(p);
        }
        e = sd_event_unref(e);
        assert_int_equal(count_fds(), before);
}

static void test_start_twice(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        p = start(e, (char *[]){ "true", NULL }, NULL);
        assert_int_equal(process_start(p), -EBUSY);
        assert_int_equal(process_wait(p), PROCESS_SUCCESS);
        assert_int_equal(process_start(p), -EBUSY);
}

static void test_not_started(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(process_new(&p, e, (char *[]){ "true", NULL }, NULL), 0);
        assert_int_equal(process_wait(p), -ECHILD);
        assert_int_equal(process_terminate(p), -ESRCH);
        assert_false(process_is_running(p));
        assert_int_equal(process_get_pid(p), 0);
        assert_int_equal(process_get_result(p), _PROCESS_RESULT_INVALID);
        assert_int_equal(process_get_exit_status(p), -1);
}

static void test_finished(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(process_freep) Process *p = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        p = start(e, (char *[]){ "sh", "-c", "exit 7", NULL }, NULL);
        assert_int_equal(process_wait(p), PROCESS_ERROR);
        assert_int_equal(process_terminate(p), -ESRCH);
        assert_int_equal(process_wait(p), PROCESS_ERROR);
        assert_int_equal(process_get_result(p), PROCESS_ERROR);
        assert_int_equal(process_get_exit_status(p), 7);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_result_strings),
                cmocka_unit_test(test_true_success),
                cmocka_unit_test(test_false_error),
                cmocka_unit_test(test_exit_code),
                cmocka_unit_test(test_foreign_signal),
                cmocka_unit_test(test_command_not_found),
                cmocka_unit_test(test_exec_fails_in_child),
                cmocka_unit_test(test_many_at_once),
                cmocka_unit_test(test_slots_given_back),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_timeout_origin),
                cmocka_unit_test(test_timeout_after_start),
                cmocka_unit_test(test_terminate),
                cmocka_unit_test(test_terminate_grace_sigkill),
                cmocka_unit_test(test_terminate_signals_group),
                cmocka_unit_test(test_timeout_kills_grandchild),
                cmocka_unit_test(test_terminate_kills_grandchild),
                cmocka_unit_test(test_leader_exit_kills_grandchild),
                cmocka_unit_test(test_callbacks_in_order_once),
                cmocka_unit_test(test_free_in_callback_during_wait),
                cmocka_unit_test(test_free_in_callback_from_loop),
                cmocka_unit_test(test_free_while_running),
                cmocka_unit_test(test_env_extra),
                cmocka_unit_test(test_output_fd),
                cmocka_unit_test(test_held_release),
                cmocka_unit_test(test_held_never_released),
                cmocka_unit_test(test_held_command_not_found),
                cmocka_unit_test(test_child_signal_state),
                cmocka_unit_test(test_no_fd_leak),
                cmocka_unit_test(test_start_twice),
                cmocka_unit_test(test_not_started),
                cmocka_unit_test(test_finished),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
