/* SPDX-License-Identifier: MIT */
/*
 * Tests of a Process born in a cgroup of its own (cgroup.c, process.c, process-spawn.c) on this
 * machine's real cgroup2 mount, as root: nothing a job starts (setsid included) is alive once its end
 * is reported, terminate reaches every process of the cgroup, the CPU figure is there, the cgroup is
 * removed, a missing command fails the start; and cgroups lent by a CgroupPool (cgroup-pool.c) come
 * back labelled, thawed and emptied, or are removed. Each test works in a cgroup directory of its own,
 * created under the cgroup2 mount and removed after; nothing else is written. Skipped (with a
 * message) where cgroup2 is not mounted or not writable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "harness.h"
#include "process.h"
#include "spawn-vm.h"
#include "spawn-way.h"
#include "time-util.h"

typedef struct Fixture {
        char dir[512]; /* ours: sched-test-XXXXXX under the cgroup2 mount */
        char job[600]; /* the Process's cgroup, inside it */
        sd_event *event;
} Fixture;

static int setup(void **state) {
        _cleanup_free_ char *mount = NULL;
        Fixture *f;

        if (cgroup_find_mount(&mount) < 0) {
                fprintf(stderr, "SKIP: cgroup2 is not mounted\n");
                return 0;
        }
        f = calloc(1, sizeof *f);
        assert_non_null(f);
        (void) snprintf(f->dir, sizeof f->dir, "%s/sched-test-XXXXXX", mount);
        if (!mkdtemp(f->dir)) {
                fprintf(stderr, "SKIP: cannot create a cgroup under %s: %m\n", mount);
                free(f);
                return 0;
        }
        (void) snprintf(f->job, sizeof f->job, "%s/job-1", f->dir);
        assert_int_equal(sd_event_new(&f->event), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        if (!f)
                return 0;
        sd_event_unref(f->event);
        assert_int_equal(rmdir(f->dir), 0); /* empty: the Process removed its cgroup */
        free(f);
        return 0;
}

static Fixture *fixture(void **state) {
        if (!*state)
                skip();
        return *state;
}

/* Gone: no such pid, or a zombie (orphans are reaped by whoever adopted them). */
static bool pid_gone(pid_t pid) {
        return !harness_pid_alive(pid);
}

static bool dir_exists(const char *path) {
        struct stat st;

        return stat(path, &st) >= 0;
}

/* Runs the loop (which reaps and removes what a freed Process left) until `path` is gone and `pid` (if
 * > 0) too, for 5 s at most. */
static void run_until_removed(Fixture *f, const char *path, pid_t pid) {
        long long end = harness_now_ms() + 5000;

        while ((dir_exists(path) || (pid > 0 && !pid_gone(pid))) && harness_now_ms() < end)
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
}

/* A Process in the fixture's job cgroup whose output comes back on *ret_out. */
static Process *start_in_cgroup(Fixture *f, const char *script, int *ret_out) {
        Process *p;
        int fds[2];

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        assert_int_equal(process_new(&p, f->event, (char *[]){ "sh", "-c", (char *) script, NULL }, NULL),
                         0);
        assert_int_equal(process_set_cgroup(p, f->job), 0);
        assert_int_equal(process_set_output_fd(p, fds[1]), 0);
        assert_int_equal(process_start(p), 0);
        (void) close(fds[1]);
        *ret_out = fds[0];
        return p;
}

static pid_t read_pid(int fd) {
        char buf[64] = {};
        ssize_t n = read(fd, buf, sizeof buf - 1);

        assert_true(n > 0);
        return (pid_t) atoi(buf);
}

static void test_setsid_grandchild_gone_at_end(void **state) {
        Fixture *f = fixture(state);
        _cleanup_close_ int out = -EBADF;
        uint64_t cpu = UINT64_MAX, memory_peak;
        Process *p;
        pid_t gc;

        p = start_in_cgroup(
                f, "setsid sleep 300 & echo $!; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done", &out);
        gc = read_pid(out);
        assert_true(gc > 0 && !pid_gone(gc));
        assert_true(dir_exists(f->job));
        assert_int_equal(process_wait(p), PROCESS_SUCCESS);
        /* Reported only once the cgroup was empty: nothing of it is alive now, without waiting. */
        assert_true(pid_gone(gc));
        assert_false(dir_exists(f->job));
        process_get_usage(p, &cpu, &memory_peak);
        assert_true(cpu > 0 && cpu < 60 * USEC_PER_SEC);
        fprintf(stderr, "job used %" PRIu64 " µs of CPU\n", cpu);
        process_free(p);
}

static void test_terminate_reaches_every_process(void **state) {
        Fixture *f = fixture(state);
        _cleanup_close_ int out = -EBADF;
        Process *p;
        pid_t gc;

        /* The grandchild ignores SIGTERM and left the group: only cgroup.kill gets it. */
        p = start_in_cgroup(
                f, "setsid sh -c 'trap \"\" TERM; while :; do sleep 1; done' & echo $!; sleep 300", &out);
        assert_int_equal(process_set_grace(p, 200 * USEC_PER_MSEC), 0);
        gc = read_pid(out);
        assert_true(gc > 0);
        assert_int_equal(process_terminate(p), 0);
        assert_int_equal(process_wait(p), PROCESS_TERMINATED);
        assert_true(pid_gone(gc));
        assert_false(dir_exists(f->job));
        process_free(p);
}

static void test_missing_command(void **state) {
        Fixture *f = fixture(state);
        Process *p;

        assert_int_equal(process_new(&p, f->event, (char *[]){ "sched-test-no-such-command", NULL }, NULL),
                         0);
        assert_int_equal(process_set_cgroup(p, f->job), 0);
        assert_int_equal(process_start(p), -ENOENT);
        assert_false(dir_exists(f->job));
        process_free(p);
        assert_int_equal(process_new(&p, f->event, (char *[]){ "/nonexistent/command", NULL }, NULL), 0);
        assert_int_equal(process_set_cgroup(p, f->job), 0);
        assert_int_equal(process_start(p), -ENOENT);
        assert_false(dir_exists(f->job));
        process_free(p);
}

static void test_free_while_running(void **state) {
        Fixture *f = fixture(state);
        _cleanup_close_ int out = -EBADF;
        Process *p;
        pid_t gc;

        p = start_in_cgroup(f, "setsid sleep 300 & echo $!; sleep 300", &out);
        gc = read_pid(out);
        process_free(p); /* never waits: the loop reaps and removes */
        run_until_removed(f, f->job, -1);
        assert_false(dir_exists(f->job));
        assert_true(pid_gone(gc));
}

/* The leader runs in its cgroup from its first instruction of the command on, whichever way it was
 * made: what it reads in /proc/self/cgroup is the job cgroup. */
static void test_born_in_cgroup(void **state) {
        Fixture *f = fixture(state);
        _cleanup_close_ int out = -EBADF;
        _cleanup_free_ char *mount = NULL;
        const char *way;
        char buf[1024] = {}, expected[1024], *line;
        Process *p;

        p = start_in_cgroup(f, "exec cat /proc/self/cgroup", &out);
        assert_int_equal(process_wait(p), PROCESS_SUCCESS);
        assert_true(read(out, buf, sizeof buf - 1) > 0);
        assert_int_equal(cgroup_find_mount(&mount), 0);
        /* The cgroup2 line (a hybrid hierarchy lists the v1 ones too). */
        (void) snprintf(expected, sizeof expected, "0::%s", f->job + strlen(mount));
        line = strncmp(buf, "0::", 3) == 0 ? buf : strstr(buf, "\n0::");
        assert_non_null(line);
        line += *line == '\n';
        line[strcspn(line, "\n")] = 0;
        assert_string_equal(line, expected);
        way = spawn_vm_way();
        fprintf(stderr, "spawned with %s\n", way ?: "a spawn that waits for the exec");
        if (expected_spawn_way())
                assert_string_equal(way, expected_spawn_way());
        else
                assert_null(way);
        process_free(p);
}

/* Terminated at once after its start, with `grace`: the job ends terminated with `status` within
 * `max_ms`, 10 times in a row. The leader may not have written itself into its cgroup yet (clone). */
static void terminate_at_once(Fixture *f, uint64_t grace, int status, long long max_ms) {
        _cleanup_close_ int out = -EBADF;
        long long t0;
        Process *p;

        for (int i = 0; i < 10; i++) {
                t0 = harness_now_ms();
                p = start_in_cgroup(f, "exec sleep 300", &out);
                assert_int_equal(process_set_grace(p, grace), 0);
                assert_int_equal(process_terminate(p), 0);
                assert_int_equal(process_wait(p), PROCESS_TERMINATED);
                assert_int_equal(process_get_exit_status(p), status);
                assert_true(harness_now_ms() - t0 < max_ms);
                process_free(p);
                out = safe_close(out);
        }
}

/* SIGTERM at once after the start reaches the leader, even one that has not written itself into its
 * cgroup yet: the job ends terminated without waiting for the grace's SIGKILL. */
static void test_terminate_at_once(void **state) {
        terminate_at_once(fixture(state), 20 * USEC_PER_SEC, 128 + SIGTERM, 10000);
}

/* `text` written to the file `name` of the directory `dir`: 0, or -1 with errno. */
static int write_in(const char *dir, const char *name, const char *text) {
        char path[1024];
        ssize_t n;
        int fd;

        (void) snprintf(path, sizeof path, "%s/%s", dir, name);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        n = write(fd, text, strlen(text));
        (void) close(fd);
        return n == (ssize_t) strlen(text) ? 0 : -1;
}

/* SIGKILL at once after the start (no grace, or the Process freed) reaches the leader too, even one
 * not in its cgroup yet: cgroup.kill alone would find the cgroup empty and let it in to run. */
static void test_kill_at_once(void **state) {
        Fixture *f = fixture(state);
        _cleanup_close_ int out = -EBADF;
        Process *p;
        pid_t pid;

        terminate_at_once(f, 0, 128 + SIGKILL, 2500);
        for (int i = 0; i < 10; i++) {
                p = start_in_cgroup(f, "exec sleep 300", &out);
                pid = process_get_pid(p);
                process_free(p);
                run_until_removed(f, f->job, pid);
                assert_true(pid_gone(pid));
                assert_false(dir_exists(f->job));
                out = safe_close(out);
        }
}

/* A cgroup that takes no process (a domain cgroup beside a threaded one is "domain invalid"): the
 * command never runs. A spawn born in the cgroup, or that waits for the child's move, fails the start;
 * a child of clone that cannot move exits 127 and says why on the job's output. */
static void test_cgroup_refuses_processes(void **state) {
        Fixture *f = fixture(state);
        _cleanup_close_ int out = -EBADF;
        char domain[600], threaded[640], job[640], buf[256] = {};
        Process *p;
        int fds[2], r;

        (void) snprintf(domain, sizeof domain, "%s/domain", f->dir);
        (void) snprintf(threaded, sizeof threaded, "%s/threaded", domain);
        (void) snprintf(job, sizeof job, "%s/job", domain);
        assert_int_equal(mkdir(domain, 0755), 0);
        assert_int_equal(mkdir(threaded, 0755), 0);
        if (write_in(threaded, "cgroup.type", "threaded") < 0) {
                assert_int_equal(rmdir(threaded), 0);
                assert_int_equal(rmdir(domain), 0);
                fprintf(stderr, "SKIP: no threaded cgroups here\n");
                skip();
        }
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        out = fds[0];
        assert_int_equal(process_new(&p, f->event, (char *[]){ "sh", "-c", "echo ran", NULL }, NULL), 0);
        assert_int_equal(process_set_cgroup(p, job), 0);
        assert_int_equal(process_set_output_fd(p, fds[1]), 0);
        r = process_start(p);
        (void) close(fds[1]);
        if (r < 0)
                assert_int_equal(r, -EOPNOTSUPP);
        else {
                assert_string_equal(spawn_vm_way(), "clone");
                assert_int_equal(process_wait(p), PROCESS_ERROR);
                assert_int_equal(process_get_exit_status(p), 127);
        }
        assert_true(read(out, buf, sizeof buf - 1) >= 0);
        assert_string_equal(buf,
                            r < 0 ? "" : "Cannot move into the job's cgroup: Operation not supported\n");
        process_free(p);
        run_until_removed(f, job, -1);
        assert_int_equal(rmdir(threaded), 0);
        assert_int_equal(rmdir(domain), 0);
}

/* Runs `script` in a cgroup lent by `pool` labelled "7" to its end; returns the Process (ended). */
static Process *run_lent(Fixture *f, CgroupPool *pool, const char *script) {
        Process *p;

        assert_int_equal(process_new(&p, f->event, (char *[]){ "sh", "-c", (char *) script, NULL }, NULL),
                         0);
        assert_int_equal(process_set_cgroup_pool(p, pool, "7"), 0);
        assert_int_equal(process_start(p), 0);
        assert_int_equal(process_wait(p), PROCESS_SUCCESS);
        return p;
}

/* A lent cgroup carries its label while lent and comes back empty and unlabelled, to be lent again;
 * each borrower's CPU time is its own. One its process made a child cgroup in is not lent again. A
 * Process freed while running leaves its lent cgroup to be killed and removed. Freeing the pool
 * removes the cgroups it has back. */
static void test_pool(void **state) {
        Fixture *f = fixture(state);
        _cleanup_(cgroup_pool_freep) CgroupPool *pool = NULL;
        char slot0[600], sub[640], script[700], label[16];
        uint64_t cpu1, cpu2, peak;
        Process *p;
        int r;

        r = cgroup_pool_new(&pool, f->event, f->dir, "slot");
        if (r == -EOPNOTSUPP) {
                fprintf(stderr, "SKIP: cgroups under %s have memory.peak or no user xattrs\n", f->dir);
                skip();
        }
        assert_int_equal(r, 0);
        (void) snprintf(slot0, sizeof slot0, "%s/slot-0", f->dir);
        assert_true(dir_exists(slot0));
        assert_int_equal(cgroup_pool_n_free(pool), 1);

        p = run_lent(f, pool, "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done");
        process_get_usage(p, &cpu1, &peak);
        process_free(p);
        assert_int_equal(cgroup_pool_n_free(pool), 1);
        assert_int_equal(cgroup_get_label(slot0, label, sizeof label), -ENODATA);
        p = run_lent(f, pool, "exit 0");
        process_get_usage(p, &cpu2, &peak);
        process_free(p);
        fprintf(stderr, "busy borrower %" PRIu64 " µs, idle one %" PRIu64 " µs\n", cpu1, cpu2);
        assert_true(cpu1 > 20000 && cpu1 != UINT64_MAX);
        assert_true(cpu2 < cpu1 / 2);
        assert_int_equal(cgroup_pool_n_free(pool), 1);

        /* A setting its borrower wrote (here: no child cgroups allowed) would outlive it: removed, not
         * lent again; the next loan makes slot-1. A write to cgroup.freeze is undone instead (a job
         * that froze itself: test-scheduler's test_cgroup_frozen_by_job). */
        (void) snprintf(script, sizeof script, "echo 0 > '%s/cgroup.max.descendants'", slot0);
        p = run_lent(f, pool, script);
        process_free(p);
        assert_int_equal(cgroup_pool_n_free(pool), 0);
        run_until_removed(f, slot0, -1);
        assert_false(dir_exists(slot0));
        (void) snprintf(slot0, sizeof slot0, "%s/slot-1", f->dir);
        (void) snprintf(script, sizeof script, "echo 0 > '%s/cgroup.freeze'", slot0);
        p = run_lent(f, pool, script);
        process_free(p);
        assert_int_equal(cgroup_pool_n_free(pool), 1);
        p = run_lent(f, pool, "exit 0"); /* not born frozen: it ends */
        process_free(p);

        /* A child cgroup inside: removed, not lent again; the next loan makes slot-2. */
        (void) snprintf(sub, sizeof sub, "%s/sub", slot0);
        (void) snprintf(script, sizeof script, "mkdir '%s'", sub);
        p = run_lent(f, pool, script);
        assert_true(dir_exists(sub)); /* made by the job, as root */
        process_free(p);
        assert_int_equal(cgroup_pool_n_free(pool), 0);
        /* Its job has ended: no label left for a successor to take it for one cut short. */
        assert_int_equal(cgroup_get_label(slot0, label, sizeof label), -ENODATA);
        /* Its removal waits for the child, which is the job's to remove: here, ours. */
        assert_int_equal(rmdir(sub), 0);
        assert_int_equal(rmdir(slot0), 0);
        assert_int_equal(process_new(&p, f->event, (char *[]){ "sleep", "300", NULL }, NULL), 0);
        assert_int_equal(process_set_cgroup_pool(p, pool, "8"), 0);
        assert_int_equal(process_start(p), 0);
        (void) snprintf(sub, sizeof sub, "%s/slot-2", f->dir);
        assert_int_equal(cgroup_get_label(sub, label, sizeof label), 0);
        assert_string_equal(label, "8");
        process_free(p); /* never waits: killed, removed by the loop */
        run_until_removed(f, sub, -1);
        assert_false(dir_exists(sub));
        p = run_lent(f, pool, "exit 0"); /* slot-3, back in the pool */
        process_free(p);
        assert_int_equal(cgroup_pool_n_free(pool), 1);
        pool = cgroup_pool_free(pool); /* and removed with it: the fixture's directory is empty */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_setsid_grandchild_gone_at_end, setup, teardown),
                cmocka_unit_test_setup_teardown(test_terminate_reaches_every_process, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_command, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_while_running, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pool, setup, teardown),
                cmocka_unit_test_setup_teardown(test_born_in_cgroup, setup, teardown),
                cmocka_unit_test_setup_teardown(test_terminate_at_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kill_at_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cgroup_refuses_processes, setup, teardown),
        };

        return cmocka_run_group_tests_name("cgroup", tests, NULL, NULL);
}
