/* SPDX-License-Identifier: MIT */
/*
 * The scheduling rules walked case by case against fake RunnerOps that record every call in a line
 * of text: "start:4" (start() called), "4:running" (state change), "stop:2:evicted" (stop() called),
 * "suspend:2" and "resume:2". Then, for each eviction mode, a long random run checked against a
 * model that the callbacks keep.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

#define MAX_ID 64

typedef struct Fake Fake;

struct Fake {
        Runner *runner;
        char log[4096];
        bool fail_start[MAX_ID];
        bool fail_suspend[MAX_ID];
        bool fail_resume[MAX_ID];
        bool ending[MAX_ID];
        unsigned freed[MAX_ID];
        /* Each job's last state change: the state, and the `old` it came with. */
        JobState last[MAX_ID];
        JobState last_old[MAX_ID];
        /* Called at the end of state_changed(), to call back into the runner. */
        void (*hook)(Fake *f, Job *j, JobState old);
        void (*start_hook)(Fake *f, Job *j);
        /* Called from a job's data_free(), to call back into the runner while it frees jobs. */
        void (*free_hook)(Fake *f, uint64_t id);
        int hook_result;
        unsigned nested; /* inside a hook */
};

typedef struct JobData {
        Fake *fake;
        uint64_t id;
} JobData;

static void logf_(Fake *f, const char *format, ...) _printf_(2, 3);
static void logf_(Fake *f, const char *format, ...) {
        size_t n = strlen(f->log);
        va_list ap;

        if (n > 0 && n < sizeof(f->log) - 1)
                f->log[n++] = ' ';
        va_start(ap, format);
        (void) vsnprintf(f->log + n, sizeof(f->log) - n, format, ap);
        va_end(ap);
}

/* What callbacks see at any time. */
static void check_counters(Runner *r) {
        assert_true(runner_n_running(r) <= runner_size(r));
        assert_true(runner_n_running(r) <= runner_n_alive(r));
}

/* What holds when a runner call returns. Inside callbacks a slot may be free for an instant while
 * jobs wait: between an eviction and the start of its replacement. */
static void check_invariants(Runner *r) {
        check_counters(r);
        if (runner_n_pending(r) > 0)
                assert_int_equal(runner_n_running(r), runner_size(r));
}

static int fake_start(Runner *r, Job *j, void *userdata) {
        Fake *f = userdata;

        assert_true(j->state == _JOB_STATE_INVALID || j->state == JOB_QUEUED || j->state == JOB_REQUEUED);
        logf_(f, "start:%" PRIu64, j->id);
        if (f->start_hook) {
                f->nested++;
                f->start_hook(f, j);
                f->nested--;
        }
        return f->fail_start[j->id] ? -ENOEXEC : 0;
}

static int fake_stop(Runner *r, Job *j, JobState reason, void *userdata) {
        Fake *f = userdata;

        assert_int_equal(j->state, reason);
        logf_(f, "stop:%" PRIu64 ":%s", j->id, job_state_to_string(reason));
        return 0;
}

static void fake_state_changed(Runner *r, Job *j, JobState old, void *userdata) {
        Fake *f = userdata;

        assert_int_not_equal(old, j->state);
        /* Thawed is the only way to be resumed; a terminal state is the last one. */
        if (j->state == JOB_RESUMED)
                assert_int_equal(old, JOB_SUSPENDED);
        assert_false(job_state_is_terminal(old));
        f->last[j->id] = j->state;
        f->last_old[j->id] = old;
        logf_(f, "%" PRIu64 ":%s", j->id, job_state_to_string(j->state));
        if (f->hook) {
                f->nested++;
                f->hook(f, j, old);
                f->nested--;
        }
}

static bool fake_ending(Runner *r, Job *j, void *userdata) {
        Fake *f = userdata;

        return f->ending[j->id];
}

/* The victim is still running, and the job that takes its slot waits and is strictly more urgent. */
static int fake_suspend(Runner *r, Job *j, void *userdata) {
        Fake *f = userdata;
        Job *by;

        assert_int_equal(j->state, JOB_RUNNING);
        by = runner_find(r, j->evicted_by);
        assert_non_null(by);
        assert_true(by->priority < j->priority);
        logf_(f, "suspend:%" PRIu64, j->id);
        return f->fail_suspend[j->id] ? -EPERM : 0;
}

static int fake_resume(Runner *r, Job *j, void *userdata) {
        Fake *f = userdata;

        assert_int_equal(j->state, JOB_SUSPENDED);
        logf_(f, "resume:%" PRIu64, j->id);
        return f->fail_resume[j->id] ? -ESRCH : 0;
}

static const RunnerOps fake_ops = {
        .start = fake_start,
        .stop = fake_stop,
        .state_changed = fake_state_changed,
        .ending = fake_ending,
        .suspend = fake_suspend,
        .resume = fake_resume,
};

static void job_data_free(void *p) {
        JobData *d = p;
        Fake *f = d->fake;

        f->freed[d->id]++;
        if (f->free_hook) {
                f->nested++;
                f->free_hook(f, d->id);
                f->nested--;
        }
        free(d);
}

static void fake_setup(Fake *f, unsigned size) {
        *f = (Fake){};
        assert_int_equal(runner_new(&f->runner, size, &fake_ops, f), 0);
}

static void fake_setup_evict(Fake *f, unsigned size, RunnerEvict mode, unsigned max_requeue,
                             unsigned max_suspended) {
        fake_setup(f, size);
        assert_int_equal(runner_set_evict(f->runner, mode, max_requeue, max_suspended), 0);
}

static void fake_teardown(Fake *f) {
        f->runner = runner_free(f->runner);
}

static int submit(Fake *f, uint64_t id, int priority) {
        JobData *d = malloc(sizeof(JobData));
        Job *j;
        int r;

        assert_true(id < MAX_ID);
        assert_non_null(d);
        assert_int_equal(job_new(&j, id, priority, 1.0), 0);
        *d = (JobData){ .fake = f, .id = id };
        j->data = d;
        j->data_free = job_data_free;

        r = runner_submit(f->runner, j);
        (f->nested ? check_counters : check_invariants)(f->runner);
        return r;
}

static int exited(Fake *f, uint64_t id, JobState final) {
        Job *j = runner_find(f->runner, id);
        int r;

        assert_non_null(j);
        r = runner_job_exited(f->runner, j, final);
        (f->nested ? check_counters : check_invariants)(f->runner);
        return r;
}

static int cancel(Fake *f, uint64_t id) {
        Job *j = runner_find(f->runner, id);
        int r;

        assert_non_null(j);
        r = runner_cancel(f->runner, j);
        (f->nested ? check_counters : check_invariants)(f->runner);
        return r;
}

/* Compares the calls recorded since the last check, then forgets them. */
static void expect_log(Fake *f, const char *expected) {
        assert_string_equal(f->log, expected);
        f->log[0] = '\0';
}

static void expect_counts(Fake *f, unsigned running, unsigned pending, unsigned alive) {
        assert_int_equal(runner_n_running(f->runner), running);
        assert_int_equal(runner_n_pending(f->runner), pending);
        assert_int_equal(runner_n_alive(f->runner), alive);
}

static void test_new(void **state) {
        static const RunnerOps no_start = { .stop = fake_stop }, no_stop = { .start = fake_start },
                               quiet = { .start = fake_start, .stop = fake_stop };
        Runner *r = NULL;
        Fake f = {};
        Job *j;

        assert_int_equal(runner_new(&r, 0, &fake_ops, &f), -EINVAL);
        assert_int_equal(runner_new(&r, 1, &no_start, &f), -EINVAL);
        assert_int_equal(runner_new(&r, 1, &no_stop, &f), -EINVAL);
        assert_int_equal(runner_new(&r, 1, NULL, &f), -EINVAL);
        assert_null(r);
        assert_null(runner_free(NULL));

        /* state_changed() is optional. */
        assert_int_equal(runner_new(&r, 4, &quiet, &f), 0);
        assert_int_equal(runner_size(r), 4);
        assert_int_equal(job_new(&j, 1, 0, 1), 0);
        assert_int_equal(j->state, _JOB_STATE_INVALID);
        assert_int_equal(runner_submit(r, j), 0);
        assert_int_equal(j->state, JOB_RUNNING);
        assert_string_equal(f.log, "start:1");
        assert_int_equal(runner_n_running(r), 1);
        assert_null(runner_free(r));
}

/* Rule 1. */
static void test_free_slots_start_now(void **state) {
        Fake f;

        fake_setup(&f, 3);
        assert_int_equal(submit(&f, 1, 10), 0);
        expect_log(&f, "start:1 1:running");
        assert_int_equal(submit(&f, 2, 0), 0);
        assert_int_equal(submit(&f, 3, 5), 0);
        expect_log(&f, "start:2 2:running start:3 3:running");
        expect_counts(&f, 3, 0, 3);
        assert_int_equal(runner_find(f.runner, 2)->state, JOB_RUNNING);
        fake_teardown(&f);
}

/* Rule 2 does not apply to equal or lower urgency: rule 3. */
static void test_equal_priority_waits(void **state) {
        Fake f;

        fake_setup(&f, 2);
        assert_int_equal(submit(&f, 1, 5), 0);
        assert_int_equal(submit(&f, 2, 3), 0);
        expect_log(&f, "start:1 1:running start:2 2:running");

        assert_int_equal(submit(&f, 3, 5), 0);
        assert_int_equal(submit(&f, 4, 9), 0);
        expect_log(&f, "3:queued 4:queued");
        expect_counts(&f, 2, 2, 2);
        assert_int_equal(runner_stats(f.runner)->evicted, 0);
        fake_teardown(&f);
}

/* Rule 2: the least urgent running job gives its slot to a strictly more urgent one. */
static void test_more_urgent_evicts_least_urgent(void **state) {
        Fake f;
        Job *victim;

        fake_setup(&f, 3);
        assert_int_equal(submit(&f, 1, 2), 0);
        assert_int_equal(submit(&f, 2, 8), 0);
        assert_int_equal(submit(&f, 3, 5), 0);
        expect_log(&f, "start:1 1:running start:2 2:running start:3 3:running");

        assert_int_equal(submit(&f, 4, 7), 0);
        expect_log(&f, "2:evicted stop:2:evicted start:4 4:running");
        victim = runner_find(f.runner, 2);
        assert_non_null(victim);
        assert_int_equal(victim->state, JOB_EVICTED);
        assert_int_equal(victim->evicted_by, 4);
        /* The victim's work is still being terminated: alive, but without a slot. */
        expect_counts(&f, 3, 0, 4);
        assert_int_equal(runner_stats(f.runner)->evicted, 1);

        /* Now 7 is the least urgent, and 7 is not strictly more urgent than 7. */
        assert_int_equal(submit(&f, 5, 7), 0);
        expect_log(&f, "5:queued");
        fake_teardown(&f);
}

static void test_evict_most_recent_among_equal(void **state) {
        Fake f;

        fake_setup(&f, 3);
        assert_int_equal(submit(&f, 1, 7), 0);
        assert_int_equal(submit(&f, 2, 7), 0);
        assert_int_equal(submit(&f, 3, 7), 0);
        expect_log(&f, "start:1 1:running start:2 2:running start:3 3:running");

        assert_int_equal(submit(&f, 4, 1), 0);
        expect_log(&f, "3:evicted stop:3:evicted start:4 4:running");
        assert_int_equal(submit(&f, 5, 6), 0);
        expect_log(&f, "2:evicted stop:2:evicted start:5 5:running");
        /* 5 started after 1 but is more urgent: 1 is the least urgent now. */
        assert_int_equal(submit(&f, 6, 6), 0);
        expect_log(&f, "1:evicted stop:1:evicted start:6 6:running");
        /* Equal 6s: the most recently started one, 6. */
        assert_int_equal(submit(&f, 7, 0), 0);
        expect_log(&f, "6:evicted stop:6:evicted start:7 7:running");
        assert_int_equal(runner_stats(f.runner)->evicted, 4);
        expect_counts(&f, 3, 0, 7);
        fake_teardown(&f);
}

/* Rules 3 and 4: priority order, FIFO among equals, as slots free. */
static void test_pending_order(void **state) {
        Fake f;

        fake_setup(&f, 1);
        assert_int_equal(submit(&f, 1, 0), 0);
        assert_int_equal(submit(&f, 2, 5), 0);
        assert_int_equal(submit(&f, 3, 2), 0);
        assert_int_equal(submit(&f, 4, 5), 0);
        assert_int_equal(submit(&f, 5, 2), 0);
        assert_int_equal(submit(&f, 6, 10), 0);
        assert_int_equal(submit(&f, 7, 0), 0);
        expect_log(&f, "start:1 1:running 2:queued 3:queued 4:queued 5:queued 6:queued 7:queued");
        expect_counts(&f, 1, 6, 1);

        assert_int_equal(exited(&f, 1, JOB_DONE), 0);
        expect_log(&f, "1:done start:7 7:running");
        assert_int_equal(exited(&f, 7, JOB_DONE), 0);
        expect_log(&f, "7:done start:3 3:running");
        assert_int_equal(exited(&f, 3, JOB_FAILED), 0);
        expect_log(&f, "3:failed start:5 5:running");
        assert_int_equal(exited(&f, 5, JOB_DONE), 0);
        expect_log(&f, "5:done start:2 2:running");
        assert_int_equal(exited(&f, 2, JOB_DONE), 0);
        expect_log(&f, "2:done start:4 4:running");
        assert_int_equal(exited(&f, 4, JOB_DONE), 0);
        expect_log(&f, "4:done start:6 6:running");
        assert_int_equal(exited(&f, 6, JOB_DONE), 0);
        expect_log(&f, "6:done");
        expect_counts(&f, 0, 0, 0);
        for (uint64_t id = 1; id <= 7; id++)
                assert_int_equal(f.freed[id], 1);
        fake_teardown(&f);
}

/* Rule 4 for a timeout: the most urgent pending job takes the slot. */
static void test_timeout_frees_slot(void **state) {
        Fake f;

        fake_setup(&f, 2);
        assert_int_equal(submit(&f, 1, 3), 0);
        assert_int_equal(submit(&f, 2, 3), 0);
        assert_int_equal(submit(&f, 3, 6), 0);
        assert_int_equal(submit(&f, 4, 4), 0);
        expect_log(&f, "start:1 1:running start:2 2:running 3:queued 4:queued");

        assert_int_equal(exited(&f, 2, JOB_TIMEOUT), 0);
        expect_log(&f, "2:timeout start:4 4:running");
        assert_int_equal(f.freed[2], 1);
        assert_int_equal(runner_stats(f.runner)->timeout, 1);
        expect_counts(&f, 2, 1, 2);
        fake_teardown(&f);
}

static void test_evicted_exit_starts_nothing(void **state) {
        Fake f;

        fake_setup(&f, 1);
        assert_int_equal(submit(&f, 1, 5), 0);
        assert_int_equal(submit(&f, 2, 1), 0);
        expect_log(&f, "start:1 1:running 1:evicted stop:1:evicted start:2 2:running");
        assert_int_equal(submit(&f, 3, 3), 0);
        expect_log(&f, "3:queued");
        expect_counts(&f, 1, 1, 2);

        /* The evicted job's process is gone: its `final` is ignored, no slot is freed. */
        assert_int_equal(f.freed[1], 0);
        assert_int_equal(exited(&f, 1, JOB_FAILED), 0);
        expect_log(&f, "");
        assert_int_equal(f.freed[1], 1);
        assert_null(runner_find(f.runner, 1));
        expect_counts(&f, 1, 1, 1);
        assert_int_equal(runner_stats(f.runner)->failed, 0);
        assert_int_equal(runner_stats(f.runner)->evicted, 1);

        /* The slot holder's exit is what starts job 3. */
        assert_int_equal(exited(&f, 2, JOB_DONE), 0);
        expect_log(&f, "2:done start:3 3:running");
        fake_teardown(&f);
}

static void test_start_failure_tries_next(void **state) {
        Fake f;

        fake_setup(&f, 1);
        f.fail_start[1] = true;
        assert_int_equal(submit(&f, 1, 5), 0);
        expect_log(&f, "start:1 1:failed");
        assert_int_equal(f.freed[1], 1);
        expect_counts(&f, 0, 0, 0);

        assert_int_equal(submit(&f, 2, 5), 0);
        f.fail_start[3] = f.fail_start[4] = true;
        assert_int_equal(submit(&f, 3, 1), 0); /* evicts 2, then fails */
        expect_log(&f, "start:2 2:running 2:evicted stop:2:evicted start:3 3:failed");
        expect_counts(&f, 0, 0, 1);

        assert_int_equal(submit(&f, 6, 0), 0);
        assert_int_equal(submit(&f, 4, 2), 0);
        assert_int_equal(submit(&f, 5, 3), 0);
        expect_log(&f, "start:6 6:running 4:queued 5:queued");
        assert_int_equal(exited(&f, 6, JOB_DONE), 0);
        expect_log(&f, "6:done start:4 4:failed start:5 5:running");
        assert_int_equal(runner_stats(f.runner)->failed, 3);
        fake_teardown(&f);
}

/* A long line of jobs that all fail to start: handled in a loop, not by recursion. */
static void test_start_failure_many(void **state) {
        enum {
                N = 20000
        };
        static const RunnerOps ops = { .start = fake_start, .stop = fake_stop };
        Runner *r;
        Fake f = {};
        Job *first;

        memset(f.fail_start, true, sizeof(f.fail_start));
        f.fail_start[1] = false;
        assert_int_equal(runner_new(&r, 1, &ops, &f), 0);
        assert_int_equal(job_new(&first, 1, 0, 1), 0);
        assert_int_equal(runner_submit(r, first), 0);
        for (unsigned i = 0; i < N; i++) {
                Job *j;

                assert_int_equal(job_new(&j, 2 + i % 10, 5, 1), 0);
                assert_int_equal(runner_submit(r, j), 0);
        }
        assert_int_equal(runner_n_pending(r), N);

        f.log[0] = '\0';
        assert_int_equal(runner_job_exited(r, first, JOB_DONE), 0);
        assert_int_equal(runner_stats(r)->failed, N);
        assert_int_equal(runner_n_pending(r), 0);
        assert_int_equal(runner_n_alive(r), 0);
        runner_free(r);
}

static void test_stop_all(void **state) {
        Fake f;

        fake_setup(&f, 2);
        assert_int_equal(submit(&f, 1, 5), 0);
        assert_int_equal(submit(&f, 2, 1), 0);
        assert_int_equal(submit(&f, 3, 6), 0);
        assert_int_equal(submit(&f, 4, 5), 0);
        assert_int_equal(submit(&f, 5, 0), 0); /* evicts 1 */
        expect_log(&f,
                   "start:1 1:running start:2 2:running 3:queued 4:queued 1:evicted stop:1:evicted start:5 "
                   "5:running");

        assert_int_equal(runner_stop_all(f.runner, false), 3);
        /* Pending first, most urgent first; then every running job. */
        assert_true(strncmp(f.log, "4:dropped 3:dropped ", 20) == 0);
        assert_non_null(strstr(f.log, "2:interrupted stop:2:interrupted"));
        assert_non_null(strstr(f.log, "5:interrupted stop:5:interrupted"));
        assert_null(strstr(f.log, "start:"));
        f.log[0] = '\0';
        assert_int_equal(f.freed[3] + f.freed[4], 2);
        expect_counts(&f, 0, 0, 3);
        assert_int_equal(runner_stats(f.runner)->dropped, 2);
        assert_int_equal(runner_stats(f.runner)->interrupted, 2);

        assert_int_equal(submit(&f, 6, 0), -ESHUTDOWN);
        expect_log(&f, "6:dropped");
        assert_int_equal(f.freed[6], 1);

        assert_int_equal(exited(&f, 2, JOB_DONE), 0);
        assert_int_equal(exited(&f, 1, JOB_FAILED), 0);
        assert_int_equal(exited(&f, 5, JOB_TIMEOUT), 0);
        expect_log(&f, "");
        expect_counts(&f, 0, 0, 0);
        assert_int_equal(runner_stop_all(f.runner, false), 0);
        fake_teardown(&f);
}

/* A job whose end is under way (it exited, or its timeout is killing it) is not evicted: the next
 * candidate is, or the urgent job waits for the slot the ending job frees. */
static void test_ending_job_not_evicted(void **state) {
        Fake f;

        fake_setup(&f, 2);
        assert_int_equal(submit(&f, 1, 5), 0);
        assert_int_equal(submit(&f, 2, 8), 0);
        expect_log(&f, "start:1 1:running start:2 2:running");

        /* 2 is the least urgent, but ending: 1 is evicted instead. */
        f.ending[2] = true;
        assert_int_equal(submit(&f, 3, 0), 0);
        expect_log(&f, "1:evicted stop:1:evicted start:3 3:running");

        /* Every other candidate is as urgent or ending: 4 waits, and starts when 2 ends. */
        assert_int_equal(submit(&f, 4, 1), 0);
        expect_log(&f, "4:queued");
        assert_int_equal(exited(&f, 2, JOB_TIMEOUT), 0);
        expect_log(&f, "2:timeout start:4 4:running");
        assert_int_equal(exited(&f, 1, JOB_DONE), 0);
        expect_log(&f, "");
        assert_int_equal(runner_stats(f.runner)->evicted, 1);
        assert_int_equal(runner_stats(f.runner)->timeout, 1);
        fake_teardown(&f);
}

static void test_counters(void **state) {
        const RunnerStats *st;
        Fake f;

        fake_setup(&f, 2);
        f.fail_start[9] = true;
        assert_int_equal(submit(&f, 1, 5), 0);
        assert_int_equal(submit(&f, 2, 5), 0);
        assert_int_equal(submit(&f, 3, 5), 0);
        assert_int_equal(submit(&f, 4, 5), 0);
        assert_int_equal(exited(&f, 1, JOB_DONE), 0);
        assert_int_equal(exited(&f, 2, JOB_TIMEOUT), 0);
        assert_int_equal(exited(&f, 3, JOB_FAILED), 0);
        assert_int_equal(submit(&f, 5, 0), 0); /* takes the slot 3 left */
        assert_int_equal(submit(&f, 9, 0), 0); /* evicts 4, then fails to start */
        assert_int_equal(submit(&f, 6, 1), 0); /* takes the slot 9 left */
        assert_int_equal(runner_stop_all(f.runner, false), 3);

        st = runner_stats(f.runner);
        assert_int_equal(st->done, 1);
        assert_int_equal(st->timeout, 1);
        assert_int_equal(st->failed, 2); /* 3 and 9 */
        assert_int_equal(st->evicted, 1);
        assert_int_equal(st->dropped, 0);
        assert_int_equal(st->interrupted, 2); /* 5 and 6 were running */
        assert_int_equal(st->cancelled, 0);
        fake_teardown(&f);
}

static void test_exited_errors(void **state) {
        Fake f;
        Job *j;

        fake_setup(&f, 1);
        assert_int_equal(submit(&f, 1, 5), 0);
        assert_int_equal(submit(&f, 2, 5), 0);
        expect_log(&f, "start:1 1:running 2:queued");

        j = runner_find(f.runner, 1);
        assert_int_equal(runner_job_exited(f.runner, j, JOB_RUNNING), -EINVAL);
        assert_int_equal(runner_job_exited(f.runner, j, JOB_EVICTED), -EINVAL);
        assert_int_equal(runner_job_exited(f.runner, j, _JOB_STATE_INVALID), -EINVAL);
        /* A pending job has no work to exit. */
        assert_int_equal(runner_job_exited(f.runner, runner_find(f.runner, 2), JOB_DONE), -ENOENT);
        assert_int_equal(runner_submit(f.runner, j), -EEXIST);
        expect_log(&f, "");
        expect_counts(&f, 1, 1, 1);
        assert_null(runner_find(f.runner, 42));
        fake_teardown(&f);
}

/* data_free runs once per job: at its end, or when the runner is freed with jobs still held. */
static void test_ownership(void **state) {
        Fake f;

        fake_setup(&f, 2);
        assert_int_equal(submit(&f, 1, 5), 0);
        assert_int_equal(submit(&f, 2, 5), 0);
        assert_int_equal(submit(&f, 3, 0), 0); /* evicts 2 */
        assert_int_equal(submit(&f, 4, 6), 0);
        expect_counts(&f, 2, 1, 3);
        for (uint64_t id = 1; id <= 4; id++)
                assert_int_equal(f.freed[id], 0);
        fake_teardown(&f);
        for (uint64_t id = 1; id <= 4; id++)
                assert_int_equal(f.freed[id], 1);
}

/* Callbacks that read and change the runner from inside. */
static void hook_reenter(Fake *f, Job *j, JobState old) {
        Runner *r = f->runner;

        check_counters(r);
        /* A queued job brings a more urgent one along; a finished one brings another. */
        if (j->id == 3 && j->state == JOB_QUEUED)
                assert_int_equal(submit(f, 10, 0), 0);
        if (j->id == 10 && j->state == JOB_DONE)
                assert_int_equal(submit(f, 11, 4), 0);
        /* The evicted job's process turns out to be gone already. */
        if (j->id == 2 && j->state == JOB_EVICTED)
                f->hook_result = runner_job_exited(r, j, JOB_DONE);
}

static void test_reentrant_callbacks(void **state) {
        Fake f;

        fake_setup(&f, 2);
        f.hook = hook_reenter;
        assert_int_equal(submit(&f, 1, 5), 0);
        assert_int_equal(submit(&f, 2, 5), 0);
        assert_int_equal(submit(&f, 3, 5), 0);
        /* Job 10 evicts job 2 from inside job 3's "queued"; 2's exit, reported from its own "evicted",
         * means stop() is not called for it. */
        expect_log(&f, "start:1 1:running start:2 2:running 3:queued 2:evicted start:10 10:running");
        assert_int_equal(f.hook_result, 0);
        assert_int_equal(f.freed[2], 1);
        expect_counts(&f, 2, 1, 2);

        assert_int_equal(exited(&f, 10, JOB_DONE), 0);
        /* 11 is submitted during 10's "done", 3 had waited longer at a lower urgency. */
        expect_log(&f, "10:done start:11 11:running");
        expect_counts(&f, 2, 1, 2);
        fake_teardown(&f);
}

static void start_hook_reenter(Fake *f, Job *j) {
        /* Not allowed to report its own exit from start(). */
        assert_int_equal(runner_job_exited(f->runner, j, JOB_DONE), -EBUSY);
        assert_int_equal(runner_n_running(f->runner), 1);
        if (j->id == 1)
                assert_int_equal(submit(f, 2, 0), 0);
}

static void test_reentrant_start(void **state) {
        Fake f;

        fake_setup(&f, 1);
        f.start_hook = start_hook_reenter;
        assert_int_equal(submit(&f, 1, 5), 0);
        /* 2 is submitted while 1 is starting: it waits for 1 to be running, then evicts it. */
        expect_log(&f, "start:1 1:running 1:evicted stop:1:evicted start:2 2:running");
        expect_counts(&f, 1, 0, 2);
        fake_teardown(&f);
}

static void hook_stop_all(Fake *f, Job *j, JobState old) {
        if (j->id == 2 && j->state == JOB_QUEUED)
                assert_int_equal(runner_stop_all(f->runner, false), 1);
}

static void test_stop_all_from_callback(void **state) {
        Fake f;

        fake_setup(&f, 1);
        f.hook = hook_stop_all;
        assert_int_equal(submit(&f, 1, 5), 0);
        assert_int_equal(submit(&f, 2, 5), 0);
        expect_log(&f, "start:1 1:running 2:queued 2:dropped 1:interrupted stop:1:interrupted");
        expect_counts(&f, 0, 0, 1);
        assert_int_equal(f.freed[2], 1);
        fake_teardown(&f);
}

static void test_find(void **state) {
        Fake f;

        fake_setup(&f, 1);
        assert_int_equal(submit(&f, 1, 5), 0);
        assert_int_equal(submit(&f, 2, 7), 0);
        assert_int_equal(submit(&f, 3, 1), 0);
        assert_int_equal(runner_find(f.runner, 1)->state, JOB_EVICTED);
        assert_int_equal(runner_find(f.runner, 2)->state, JOB_QUEUED);
        assert_int_equal(runner_find(f.runner, 3)->state, JOB_RUNNING);
        assert_int_equal(runner_find(f.runner, 2)->priority, 7);
        assert_null(runner_find(f.runner, 4));
        assert_true(runner_find(f.runner, 3)->arrival_seq > runner_find(f.runner, 2)->arrival_seq);
        assert_true(runner_find(f.runner, 3)->start_seq > runner_find(f.runner, 1)->start_seq);
        assert_int_equal(runner_find(f.runner, 2)->start_seq, 0);
        fake_teardown(&f);
}

/* Lets the owner bound its queue: only a free slot or a strictly less urgent victim means "now". */
static void test_would_start(void **state) {
        Fake f;

        fake_setup(&f, 2);
        assert_true(runner_would_start(f.runner, 10));
        assert_int_equal(submit(&f, 1, 4), 0);
        assert_true(runner_would_start(f.runner, 10));
        assert_int_equal(submit(&f, 2, 6), 0);
        assert_false(runner_would_start(f.runner, 6));
        assert_false(runner_would_start(f.runner, 9));
        assert_true(runner_would_start(f.runner, 5));
        assert_true(runner_would_start(f.runner, 0));
        expect_log(&f, "start:1 1:running start:2 2:running");
        /* Asking changes nothing. */
        expect_counts(&f, 2, 0, 2);
        (void) runner_stop_all(f.runner, false);
        assert_false(runner_would_start(f.runner, 0));
        fake_teardown(&f);
}

/* With every slot taken, a job starts now exactly when it is more urgent than the least urgent. */
static void expect_least_urgent(Fake *f, int least) {
        assert_int_equal(runner_least_urgent(f->runner), least);
        if (runner_n_running(f->runner) < runner_size(f->runner))
                return;
        for (int p = 0; p <= 10; p++)
                assert_int_equal(runner_would_start(f->runner, p), least > p);
}

/* What a more urgent job would evict: running jobs only, not ending ones, not those being
 * terminated; pending jobs do not count. */
static void test_least_urgent(void **state) {
        Fake f;

        fake_setup(&f, 2);
        expect_least_urgent(&f, -1);
        assert_int_equal(submit(&f, 1, 4), 0);
        expect_least_urgent(&f, 4);
        assert_int_equal(submit(&f, 2, 6), 0);
        expect_least_urgent(&f, 6);
        assert_int_equal(submit(&f, 3, 9), 0);
        expect_log(&f, "start:1 1:running start:2 2:running 3:queued");
        expect_least_urgent(&f, 6);

        /* 2 is evicted: still alive, still a 6, but no longer holding a slot. */
        assert_int_equal(submit(&f, 4, 1), 0);
        expect_log(&f, "2:evicted stop:2:evicted start:4 4:running");
        expect_least_urgent(&f, 4);

        /* 1 is ending: it keeps its slot, but nothing can take it. */
        f.ending[1] = true;
        expect_least_urgent(&f, 1);

        /* 4 is cancelled: 3 takes its slot. */
        assert_int_equal(cancel(&f, 4), 0);
        expect_log(&f, "4:cancelled stop:4:cancelled start:3 3:running");
        expect_least_urgent(&f, 9);

        f.ending[3] = true;
        expect_least_urgent(&f, -1);
        f.ending[3] = false;
        (void) runner_stop_all(f.runner, false);
        expect_least_urgent(&f, -1);
        fake_teardown(&f);
}

/* A waiting job leaves the queue at once, its "cancelled" its last state change; the others keep
 * their order, FIFO among equals included. */
static void test_cancel_queued(void **state) {
        Fake f;

        fake_setup(&f, 1);
        assert_int_equal(submit(&f, 1, 0), 0);
        assert_int_equal(submit(&f, 2, 5), 0);
        assert_int_equal(submit(&f, 3, 3), 0);
        assert_int_equal(submit(&f, 4, 5), 0);
        assert_int_equal(submit(&f, 5, 3), 0);
        assert_int_equal(submit(&f, 6, 5), 0);
        expect_log(&f, "start:1 1:running 2:queued 3:queued 4:queued 5:queued 6:queued");

        /* The most urgent waiting job, then one among equals. */
        assert_int_equal(cancel(&f, 3), 0);
        expect_log(&f, "3:cancelled");
        assert_int_equal(cancel(&f, 4), 0);
        expect_log(&f, "4:cancelled");
        assert_int_equal(f.freed[3], 1);
        assert_int_equal(f.freed[4], 1);
        assert_null(runner_find(f.runner, 3));
        assert_null(runner_find(f.runner, 4));
        expect_counts(&f, 1, 3, 1);
        assert_int_equal(runner_stats(f.runner)->cancelled, 2);
        assert_int_equal(runner_stats(f.runner)->dropped, 0);

        assert_int_equal(exited(&f, 1, JOB_DONE), 0);
        expect_log(&f, "1:done start:5 5:running");
        assert_int_equal(exited(&f, 5, JOB_DONE), 0);
        expect_log(&f, "5:done start:2 2:running");
        assert_int_equal(exited(&f, 2, JOB_DONE), 0);
        expect_log(&f, "2:done start:6 6:running");

        /* The last waiting job: the queue is empty then. */
        assert_int_equal(submit(&f, 7, 9), 0);
        assert_int_equal(cancel(&f, 7), 0);
        expect_log(&f, "7:queued 7:cancelled");
        expect_counts(&f, 1, 0, 1);
        assert_int_equal(exited(&f, 6, JOB_DONE), 0);
        expect_log(&f, "6:done");
        for (uint64_t id = 1; id <= 7; id++)
                assert_int_equal(f.freed[id], 1);
        assert_int_equal(runner_stats(f.runner)->cancelled, 3);
        fake_teardown(&f);
}

/* A running job is terminated like an eviction: its slot goes to the next job at once, and its exit,
 * reported later, keeps "cancelled" and starts nothing. */
static void test_cancel_running(void **state) {
        Fake f;
        Job *j;

        fake_setup(&f, 2);
        assert_int_equal(submit(&f, 1, 5), 0);
        assert_int_equal(submit(&f, 2, 5), 0);
        assert_int_equal(submit(&f, 3, 7), 0);
        assert_int_equal(submit(&f, 4, 6), 0);
        assert_int_equal(submit(&f, 5, 8), 0);
        expect_log(&f, "start:1 1:running start:2 2:running 3:queued 4:queued 5:queued");

        assert_int_equal(cancel(&f, 1), 0);
        expect_log(&f, "1:cancelled stop:1:cancelled start:4 4:running");
        j = runner_find(f.runner, 1);
        assert_non_null(j);
        assert_int_equal(j->state, JOB_CANCELLED);
        assert_int_equal(j->evicted_by, 0);
        /* Its work is still being terminated: alive, without a slot. */
        expect_counts(&f, 2, 2, 3);
        assert_int_equal(f.freed[1], 0);
        assert_int_equal(runner_stats(f.runner)->cancelled, 1);
        assert_int_equal(runner_stats(f.runner)->evicted, 0);

        /* Being terminated, it is no victim: the most urgent newcomer evicts 4. */
        assert_int_equal(submit(&f, 6, 0), 0);
        expect_log(&f, "4:evicted stop:4:evicted start:6 6:running");

        assert_int_equal(exited(&f, 1, JOB_FAILED), 0);
        expect_log(&f, "");
        assert_int_equal(f.freed[1], 1);
        assert_null(runner_find(f.runner, 1));
        expect_counts(&f, 2, 2, 3);
        assert_int_equal(runner_stats(f.runner)->failed, 0);
        assert_int_equal(runner_stats(f.runner)->cancelled, 1);

        /* A shutdown interrupts the running jobs only. */
        assert_int_equal(cancel(&f, 2), 0);
        expect_log(&f, "2:cancelled stop:2:cancelled start:3 3:running");
        assert_int_equal(runner_stop_all(f.runner, false), 4); /* 2, 3, 4 and 6 */
        assert_null(strstr(f.log, "2:interrupted"));
        assert_non_null(strstr(f.log, "3:interrupted stop:3:interrupted"));
        f.log[0] = '\0';
        assert_int_equal(exited(&f, 2, JOB_DONE), 0);
        expect_log(&f, "");
        assert_int_equal(runner_stats(f.runner)->cancelled, 2);
        assert_int_equal(runner_stats(f.runner)->done, 0);
        fake_teardown(&f);
}

/* A job whose end is under way keeps it: its one record says how it really ended. */
static void test_cancel_ending(void **state) {
        Fake f;

        fake_setup(&f, 1);
        assert_int_equal(submit(&f, 1, 5), 0);
        assert_int_equal(submit(&f, 2, 5), 0);
        expect_log(&f, "start:1 1:running 2:queued");

        f.ending[1] = true;
        assert_int_equal(cancel(&f, 1), -EALREADY);
        expect_log(&f, "");
        assert_int_equal(runner_find(f.runner, 1)->state, JOB_RUNNING);
        expect_counts(&f, 1, 1, 1);
        assert_int_equal(runner_stats(f.runner)->cancelled, 0);

        assert_int_equal(exited(&f, 1, JOB_TIMEOUT), 0);
        expect_log(&f, "1:timeout start:2 2:running");
        fake_teardown(&f);
}

static void test_cancel_twice(void **state) {
        Fake f;
        Job *j;

        fake_setup(&f, 1);
        assert_int_equal(submit(&f, 1, 5), 0);
        assert_int_equal(submit(&f, 2, 5), 0);
        assert_int_equal(submit(&f, 3, 5), 0);
        expect_log(&f, "start:1 1:running 2:queued 3:queued");

        assert_int_equal(cancel(&f, 1), 0);
        expect_log(&f, "1:cancelled stop:1:cancelled start:2 2:running");
        assert_int_equal(cancel(&f, 1), -EALREADY);
        expect_log(&f, "");
        expect_counts(&f, 1, 1, 2);
        assert_int_equal(runner_stats(f.runner)->cancelled, 1);

        /* A cancelled waiting job is gone: a second cancel by id finds nothing. */
        assert_int_equal(cancel(&f, 3), 0);
        expect_log(&f, "3:cancelled");
        assert_null(runner_find(f.runner, 3));
        assert_int_equal(runner_stats(f.runner)->cancelled, 2);

        /* A job the runner never had. */
        assert_int_equal(job_new(&j, 9, 0, 1), 0);
        assert_int_equal(runner_cancel(f.runner, j), -ENOENT);
        job_free(j);
        expect_log(&f, "");
        expect_counts(&f, 1, 0, 2);
        fake_teardown(&f);
}

/* An evicted job being terminated already has its terminal state. */
static void test_cancel_evicted(void **state) {
        Fake f;

        fake_setup(&f, 1);
        assert_int_equal(submit(&f, 1, 5), 0);
        assert_int_equal(submit(&f, 2, 1), 0);
        expect_log(&f, "start:1 1:running 1:evicted stop:1:evicted start:2 2:running");

        assert_int_equal(cancel(&f, 1), -EALREADY);
        expect_log(&f, "");
        assert_int_equal(runner_find(f.runner, 1)->state, JOB_EVICTED);
        assert_int_equal(runner_stats(f.runner)->cancelled, 0);
        assert_int_equal(runner_stats(f.runner)->evicted, 1);
        expect_counts(&f, 1, 0, 2);
        fake_teardown(&f);
}

static void test_cancel_after_stop_all(void **state) {
        Fake f;

        fake_setup(&f, 1);
        assert_int_equal(submit(&f, 1, 5), 0);
        assert_int_equal(submit(&f, 2, 5), 0);
        assert_int_equal(runner_stop_all(f.runner, false), 1);
        expect_log(&f, "start:1 1:running 2:queued 2:dropped 1:interrupted stop:1:interrupted");

        assert_int_equal(cancel(&f, 1), -ESHUTDOWN);
        expect_log(&f, "");
        assert_int_equal(runner_find(f.runner, 1)->state, JOB_INTERRUPTED);
        assert_int_equal(runner_stats(f.runner)->cancelled, 0);
        assert_int_equal(exited(&f, 1, JOB_DONE), 0);
        expect_log(&f, "");
        expect_counts(&f, 0, 0, 0);
        fake_teardown(&f);
}

/* Cancels from inside callbacks: of the running job when another is queued, of a job from its own
 * "running", of a job submitted in the same callback (never announced as queued), and a second one
 * from the job's own "cancelled". */
static void hook_cancel(Fake *f, Job *j, JobState old) {
        check_counters(f->runner);
        if (j->id == 2 && j->state == JOB_QUEUED)
                assert_int_equal(cancel(f, 1), 0);
        if (j->id == 1 && j->state == JOB_CANCELLED)
                f->hook_result = cancel(f, 1);
        if (j->id == 3 && j->state == JOB_RUNNING)
                assert_int_equal(cancel(f, 3), 0);
        if (j->id == 4 && j->state == JOB_RUNNING) {
                assert_int_equal(submit(f, 5, 0), 0);
                assert_int_equal(cancel(f, 5), 0);
                assert_int_equal(submit(f, 6, 5), 0);
        }
}

static void test_cancel_from_callback(void **state) {
        Fake f;

        fake_setup(&f, 1);
        f.hook = hook_cancel;
        f.hook_result = 1;
        assert_int_equal(submit(&f, 1, 5), 0);
        expect_log(&f, "start:1 1:running");

        /* 2's "queued" cancels 1: the outermost call gives 1's slot to 2. */
        assert_int_equal(submit(&f, 2, 5), 0);
        expect_log(&f, "2:queued 1:cancelled stop:1:cancelled start:2 2:running");
        assert_int_equal(f.hook_result, -EALREADY);
        expect_counts(&f, 1, 0, 2);

        /* 3 is cancelled as soon as it runs; 4 takes its slot in the same call. */
        assert_int_equal(submit(&f, 3, 5), 0);
        assert_int_equal(submit(&f, 4, 5), 0);
        expect_log(&f, "3:queued 4:queued");
        assert_int_equal(exited(&f, 2, JOB_DONE), 0);
        /* 5, submitted and cancelled inside 4's "running", goes straight from submitted to
         * cancelled: it is never announced as queued, and the more urgent 5 never starts. */
        expect_log(&f, "2:done start:3 3:running 3:cancelled stop:3:cancelled start:4 4:running 5:cancelled "
                       "6:queued");
        assert_int_equal(f.freed[5], 1);
        assert_null(runner_find(f.runner, 5));
        expect_counts(&f, 1, 1, 3);
        assert_int_equal(runner_stats(f.runner)->cancelled, 3);

        assert_int_equal(exited(&f, 1, JOB_DONE), 0);
        assert_int_equal(exited(&f, 3, JOB_DONE), 0);
        expect_log(&f, "");
        assert_int_equal(exited(&f, 4, JOB_DONE), 0);
        expect_log(&f, "4:done start:6 6:running");
        fake_teardown(&f);
}

/* Inside its own start() a job is neither pending nor running: it cannot be cancelled. Others can. */
static void start_hook_cancel(Fake *f, Job *j) {
        if (j->id == 2) {
                assert_int_equal(runner_cancel(f->runner, j), -EBUSY);
                assert_int_equal(cancel(f, 1), 0);
        }
}

static void test_cancel_from_start(void **state) {
        Fake f;

        fake_setup(&f, 2);
        f.start_hook = start_hook_cancel;
        assert_int_equal(submit(&f, 1, 5), 0);
        assert_int_equal(submit(&f, 3, 5), 0);
        expect_log(&f, "start:1 1:running start:3 3:running");
        assert_int_equal(submit(&f, 4, 5), 0);
        assert_int_equal(submit(&f, 2, 1), 0);
        /* 2 evicts 3; while 2 starts it cancels 1, whose slot goes to 4 after 2 runs. */
        expect_log(&f, "4:queued 3:evicted stop:3:evicted start:2 1:cancelled stop:1:cancelled 2:running "
                       "start:4 4:running");
        expect_counts(&f, 2, 0, 4);
        fake_teardown(&f);
}

/* A data_free() that submits and cancels a job, or submits one and stops the runner: the job is
 * still on the list of jobs to announce when it is buried, and must not be freed before that list
 * is done with it (ASan catches a use after free otherwise). */
static void free_hook_submit(Fake *f, uint64_t id) {
        if (id == 1) {
                assert_int_equal(submit(f, 2, 5), 0);
                assert_int_equal(cancel(f, 2), 0);
        }
        if (id == 2) {
                assert_int_equal(submit(f, 3, 5), 0);
                assert_int_equal(runner_stop_all(f->runner, false), 0);
        }
}

static void test_data_free_reenters(void **state) {
        Fake f;

        fake_setup(&f, 1);
        f.free_hook = free_hook_submit;
        assert_int_equal(submit(&f, 1, 5), 0);
        assert_int_equal(exited(&f, 1, JOB_DONE), 0);
        expect_log(&f, "start:1 1:running 1:done 2:cancelled 3:dropped");
        for (uint64_t id = 1; id <= 3; id++)
                assert_int_equal(f.freed[id], 1);
        expect_counts(&f, 0, 0, 0);
        fake_teardown(&f);
}

/* The tests below get their Fake from here, so that one that fails still frees its runner. */
static int fake_alloc(void **state) {
        Fake *f = calloc(1, sizeof(Fake));

        if (!f)
                return -1;
        *state = f;
        return 0;
}

static int fake_release(void **state) {
        Fake *f = *state;

        fake_teardown(f);
        free(f);
        return 0;
}

/* The same calls as expect_log() in any order: for a stop of several jobs, whose order is none of
 * our business. */
static int token_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static size_t log_tokens(char *s, char **tokens, size_t max) {
        size_t n = 0;

        for (char *t = strtok(s, " "); t; t = strtok(NULL, " ")) {
                assert_true(n < max);
                tokens[n++] = t;
        }
        qsort(tokens, n, sizeof(char *), token_cmp);
        return n;
}

static void expect_log_unordered(Fake *f, const char *expected) {
        char got[sizeof(f->log)], want[sizeof(f->log)], *g[64], *w[64];
        size_t ng, nw;

        assert_true(strlen(expected) < sizeof(want));
        strcpy(got, f->log);
        strcpy(want, expected);
        ng = log_tokens(got, g, 64);
        nw = log_tokens(want, w, 64);
        if (ng != nw)
                assert_string_equal(f->log, expected);
        for (size_t i = 0; i < ng; i++)
                if (strcmp(g[i], w[i]) != 0)
                        assert_string_equal(f->log, expected);
        f->log[0] = '\0';
}

/* runner_pending() as a set of ids, one bit each. */
static uint64_t pending_ids(Fake *f) {
        uint64_t ids = 0;
        Job *j;

        for (size_t i = 0; (j = runner_pending(f->runner, i)); i++) {
                assert_true(j->id < 64);
                assert_true(job_state_is_waiting(j->state));
                assert_false(ids & (UINT64_C(1) << j->id)); /* once each */
                ids |= UINT64_C(1) << j->id;
        }
        assert_int_equal(runner_n_pending(f->runner), __builtin_popcountll(ids));
        return ids;
}

#define IDS2(a, b)          ((UINT64_C(1) << (a)) | (UINT64_C(1) << (b)))
#define IDS3(a, b, c)       (IDS2(a, b) | (UINT64_C(1) << (c)))
#define IDS4(a, b, c, d)    (IDS3(a, b, c) | (UINT64_C(1) << (d)))
#define IDS5(a, b, c, d, e) (IDS4(a, b, c, d) | (UINT64_C(1) << (e)))

static void test_set_evict(void **state) {
        static const RunnerOps no_resume = { .start = fake_start,
                                             .stop = fake_stop,
                                             .suspend = fake_suspend },
                               no_suspend = { .start = fake_start,
                                              .stop = fake_stop,
                                              .resume = fake_resume };
        Runner *r;
        Fake *f = *state;

        assert_string_equal(runner_evict_to_string(RUNNER_EVICT_KILL), "kill");
        assert_string_equal(runner_evict_to_string(RUNNER_EVICT_REQUEUE), "requeue");
        assert_string_equal(runner_evict_to_string(RUNNER_EVICT_SUSPEND), "suspend");
        assert_null(runner_evict_to_string(_RUNNER_EVICT_MAX));
        assert_int_equal(runner_evict_from_string("suspend"), RUNNER_EVICT_SUSPEND);
        assert_int_equal(runner_evict_from_string("freeze"), _RUNNER_EVICT_INVALID);

        assert_int_equal(runner_new(&r, 1, &no_resume, f), 0);
        assert_int_equal(runner_set_evict(r, RUNNER_EVICT_SUSPEND, 1, 1), -EINVAL);
        assert_int_equal(runner_set_evict(r, _RUNNER_EVICT_MAX, 1, 1), -EINVAL);
        assert_int_equal(runner_set_evict(r, _RUNNER_EVICT_INVALID, 1, 1), -EINVAL);
        assert_int_equal(runner_set_evict(r, RUNNER_EVICT_REQUEUE, 1, 1), 0);
        runner_free(r);
        assert_int_equal(runner_new(&r, 1, &no_suspend, f), 0);
        assert_int_equal(runner_set_evict(r, RUNNER_EVICT_SUSPEND, 1, 1), -EINVAL);
        runner_free(r);

        /* A refused mode leaves the one in force: still kill. */
        fake_setup(f, 1);
        assert_int_equal(runner_set_evict(f->runner, RUNNER_EVICT_REQUEUE, 0, 0), 0);
        assert_int_equal(runner_set_evict(f->runner, RUNNER_EVICT_KILL, 3, 3), 0);
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 1), 0);
        expect_log(f, "start:1 1:running 1:evicted stop:1:evicted start:2 2:running");
        assert_int_equal(runner_find(f->runner, 1)->n_requeued, 0);
        fake_teardown(f);
}

/* Requeue: terminated as requeued, it waits again once its exit is reported and starts over; the
 * eviction after the last allowed requeue kills it. */
static void test_requeue_evicted(void **state) {
        Fake *f = *state;
        Job *j;

        fake_setup_evict(f, 1, RUNNER_EVICT_REQUEUE, 2, 0);
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 1), 0);
        expect_log(f, "start:1 1:running 1:requeued stop:1:requeued start:2 2:running");
        j = runner_find(f->runner, 1);
        assert_non_null(j);
        assert_int_equal(j->state, JOB_REQUEUED);
        assert_int_equal(j->evicted_by, 2);
        assert_int_equal(j->n_requeued, 1);
        /* Its old work is still being terminated: alive, no slot, not waiting yet. */
        expect_counts(f, 1, 0, 2);
        assert_int_equal(pending_ids(f), 0);
        assert_int_equal(runner_stats(f->runner)->requeued, 1);
        assert_int_equal(runner_stats(f->runner)->evicted, 0);

        /* 3 arrives after 1, and waits behind it although 1 comes back later. */
        assert_int_equal(submit(f, 3, 5), 0);
        expect_log(f, "3:queued");
        assert_int_equal(exited(f, 1, JOB_FAILED), 0);
        expect_log(f, "");
        expect_counts(f, 1, 2, 1);
        assert_int_equal(pending_ids(f), IDS2(1, 3));
        j = runner_find(f->runner, 1);
        assert_non_null(j);
        assert_int_equal(j->state, JOB_REQUEUED);
        assert_int_equal(f->freed[1], 0);
        assert_int_equal(runner_stats(f->runner)->failed, 0);
        /* Waiting, it has no work to exit. */
        assert_int_equal(runner_job_exited(f->runner, j, JOB_DONE), -ENOENT);

        assert_int_equal(exited(f, 2, JOB_DONE), 0);
        expect_log(f, "2:done start:1 1:running");
        assert_int_equal(submit(f, 4, 1), 0);
        expect_log(f, "1:requeued stop:1:requeued start:4 4:running");
        assert_int_equal(runner_find(f->runner, 1)->n_requeued, 2);
        assert_int_equal(runner_find(f->runner, 1)->evicted_by, 4);
        assert_int_equal(exited(f, 1, JOB_DONE), 0);
        assert_int_equal(exited(f, 4, JOB_DONE), 0);
        expect_log(f, "4:done start:1 1:running");

        /* max_requeue reached: evicted for good. */
        assert_int_equal(submit(f, 5, 1), 0);
        expect_log(f, "1:evicted stop:1:evicted start:5 5:running");
        j = runner_find(f->runner, 1);
        assert_int_equal(j->evicted_by, 5);
        assert_int_equal(j->n_requeued, 2);
        assert_int_equal(exited(f, 1, JOB_DONE), 0);
        expect_log(f, "");
        assert_null(runner_find(f->runner, 1));
        assert_int_equal(f->freed[1], 1);
        assert_int_equal(pending_ids(f), UINT64_C(1) << 3);

        assert_int_equal(exited(f, 5, JOB_DONE), 0);
        expect_log(f, "5:done start:3 3:running");
        assert_int_equal(exited(f, 3, JOB_DONE), 0);
        expect_log(f, "3:done");
        expect_counts(f, 0, 0, 0);
        for (uint64_t id = 1; id <= 5; id++)
                assert_int_equal(f->freed[id], 1);
        assert_int_equal(runner_stats(f->runner)->requeued, 2);
        assert_int_equal(runner_stats(f->runner)->evicted, 1);
        assert_int_equal(runner_stats(f->runner)->done, 4);
        assert_int_equal(runner_stats(f->runner)->failed, 0);
        fake_teardown(f);
}

/* max_requeue 0: requeue evicts at once, as kill does. */
static void test_requeue_zero(void **state) {
        Fake *f = *state;

        fake_setup_evict(f, 1, RUNNER_EVICT_REQUEUE, 0, 0);
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 1), 0);
        expect_log(f, "start:1 1:running 1:evicted stop:1:evicted start:2 2:running");
        assert_int_equal(runner_stats(f->runner)->requeued, 0);
        fake_teardown(f);
}

/* Jobs of one priority requeued in one order and reported exited in another come back in the order
 * they first arrived, before those that arrived later. */
static void test_requeue_keeps_arrival_order(void **state) {
        Fake *f = *state;

        fake_setup_evict(f, 3, RUNNER_EVICT_REQUEUE, 5, 0);
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 5), 0);
        assert_int_equal(submit(f, 3, 5), 0);
        expect_log(f, "start:1 1:running start:2 2:running start:3 3:running");
        assert_int_equal(submit(f, 4, 0), 0);
        assert_int_equal(submit(f, 5, 0), 0);
        assert_int_equal(submit(f, 6, 0), 0);
        expect_log(
                f,
                "3:requeued stop:3:requeued start:4 4:running 2:requeued stop:2:requeued start:5 5:running "
                "1:requeued stop:1:requeued start:6 6:running");
        assert_int_equal(submit(f, 7, 5), 0);
        assert_int_equal(submit(f, 8, 4), 0);
        expect_log(f, "7:queued 8:queued");

        assert_int_equal(exited(f, 2, JOB_DONE), 0);
        assert_int_equal(exited(f, 3, JOB_DONE), 0);
        assert_int_equal(exited(f, 1, JOB_DONE), 0);
        expect_log(f, "");
        expect_counts(f, 3, 5, 3);
        assert_int_equal(pending_ids(f), IDS5(1, 2, 3, 7, 8));

        assert_int_equal(exited(f, 4, JOB_DONE), 0);
        expect_log(f, "4:done start:8 8:running");
        assert_int_equal(exited(f, 8, JOB_DONE), 0);
        expect_log(f, "8:done start:1 1:running");
        assert_int_equal(exited(f, 5, JOB_DONE), 0);
        expect_log(f, "5:done start:2 2:running");
        assert_int_equal(exited(f, 6, JOB_DONE), 0);
        expect_log(f, "6:done start:3 3:running");
        assert_int_equal(exited(f, 1, JOB_DONE), 0);
        expect_log(f, "1:done start:7 7:running");
        assert_int_equal(runner_find(f->runner, 2)->n_requeued, 1);
        assert_int_equal(runner_find(f->runner, 3)->n_requeued, 1);
        assert_int_equal(runner_find(f->runner, 7)->n_requeued, 0);
        assert_int_equal(runner_stats(f->runner)->requeued, 3);
        fake_teardown(f);
}

/* Cancelled while its old work is being terminated, a requeued job ends cancelled and never waits
 * again; waiting again, it is cancelled like any waiting job. */
static void test_requeue_cancel(void **state) {
        Fake *f = *state;

        fake_setup_evict(f, 1, RUNNER_EVICT_REQUEUE, 3, 0);
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 1), 0);
        expect_log(f, "start:1 1:running 1:requeued stop:1:requeued start:2 2:running");

        /* Its termination is under way: no second stop(). */
        assert_int_equal(cancel(f, 1), 0);
        expect_log(f, "1:cancelled");
        assert_int_equal(runner_find(f->runner, 1)->state, JOB_CANCELLED);
        assert_int_equal(cancel(f, 1), -EALREADY);
        expect_log(f, "");
        assert_int_equal(submit(f, 3, 5), 0);
        expect_log(f, "3:queued");
        assert_int_equal(exited(f, 1, JOB_DONE), 0);
        expect_log(f, "");
        assert_null(runner_find(f->runner, 1));
        assert_int_equal(f->freed[1], 1);
        expect_counts(f, 1, 1, 1);
        assert_int_equal(pending_ids(f), UINT64_C(1) << 3);

        assert_int_equal(submit(f, 4, 0), 0);
        expect_log(f, "2:requeued stop:2:requeued start:4 4:running");
        assert_int_equal(exited(f, 2, JOB_DONE), 0);
        expect_log(f, "");
        assert_int_equal(pending_ids(f), IDS2(2, 3));
        assert_int_equal(cancel(f, 2), 0);
        expect_log(f, "2:cancelled");
        assert_null(runner_find(f->runner, 2));
        assert_int_equal(f->freed[2], 1);
        expect_counts(f, 1, 1, 1);

        assert_int_equal(exited(f, 4, JOB_DONE), 0);
        expect_log(f, "4:done start:3 3:running");
        assert_int_equal(runner_stats(f->runner)->cancelled, 2);
        assert_int_equal(runner_stats(f->runner)->requeued, 2);
        assert_int_equal(runner_stats(f->runner)->done, 1);
        fake_teardown(f);
}

/* Suspend: frozen while still running, the urgent job starts at once; thawed when a slot frees. */
static void test_suspend_resume(void **state) {
        Fake *f = *state;
        Job *j;

        fake_setup_evict(f, 2, RUNNER_EVICT_SUSPEND, 3, 2);
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 7), 0);
        expect_log(f, "start:1 1:running start:2 2:running");
        assert_int_equal(submit(f, 3, 1), 0);
        expect_log(f, "suspend:2 2:suspended start:3 3:running");
        j = runner_find(f->runner, 2);
        assert_non_null(j);
        assert_int_equal(j->state, JOB_SUSPENDED);
        assert_int_equal(j->evicted_by, 3);
        assert_int_equal(j->n_requeued, 0);
        assert_int_equal(runner_n_suspended(f->runner), 1);
        /* Alive, waiting, without a slot; and no victim for a more urgent job. */
        expect_counts(f, 2, 1, 3);
        assert_int_equal(pending_ids(f), UINT64_C(1) << 2);
        assert_int_equal(runner_least_urgent(f->runner), 5);
        assert_int_equal(f->freed[2], 0);
        assert_int_equal(runner_stats(f->runner)->suspended, 1);
        assert_int_equal(runner_stats(f->runner)->evicted + runner_stats(f->runner)->requeued, 0);

        assert_int_equal(submit(f, 4, 7), 0);
        expect_log(f, "4:queued");
        assert_int_equal(exited(f, 3, JOB_DONE), 0);
        expect_log(f, "3:done resume:2 2:resumed");
        assert_int_equal(f->last_old[2], JOB_SUSPENDED);
        assert_int_equal(j->state, JOB_RUNNING);
        assert_int_equal(runner_n_suspended(f->runner), 0);
        expect_counts(f, 2, 1, 2);
        assert_int_equal(runner_stats(f->runner)->resumed, 1);

        /* Running again, it is a victim again. */
        assert_int_equal(runner_least_urgent(f->runner), 7);
        assert_int_equal(submit(f, 5, 0), 0);
        expect_log(f, "suspend:2 2:suspended start:5 5:running");
        assert_int_equal(exited(f, 5, JOB_DONE), 0);
        expect_log(f, "5:done resume:2 2:resumed");
        assert_int_equal(exited(f, 2, JOB_DONE), 0);
        expect_log(f, "2:done start:4 4:running");
        assert_int_equal(f->freed[2], 1);
        assert_int_equal(exited(f, 1, JOB_DONE), 0);
        assert_int_equal(exited(f, 4, JOB_DONE), 0);
        expect_log(f, "1:done 4:done");
        expect_counts(f, 0, 0, 0);

        assert_int_equal(runner_stats(f->runner)->suspended, 2);
        assert_int_equal(runner_stats(f->runner)->resumed, 2);
        assert_int_equal(runner_stats(f->runner)->done, 5);
        assert_int_equal(runner_stats(f->runner)->requeued, 0);
        assert_int_equal(runner_stats(f->runner)->evicted, 0);
        fake_teardown(f);
}

/* Among equal priorities a suspended job goes first, even before a job that arrived earlier (here
 * one requeued because its suspend() failed, which keeps its early arrival). */
static void test_suspend_goes_first(void **state) {
        Fake *f = *state;

        fake_setup_evict(f, 2, RUNNER_EVICT_SUSPEND, 3, 2);
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 0), 0);
        f->fail_suspend[1] = true;
        assert_int_equal(submit(f, 3, 1), 0);
        expect_log(f, "start:1 1:running start:2 2:running suspend:1 1:requeued stop:1:requeued start:3 "
                      "3:running");
        assert_int_equal(submit(f, 4, 5), 0);
        expect_log(f, "4:queued");
        /* 4 starts while 1's old work is still being terminated. */
        assert_int_equal(exited(f, 2, JOB_DONE), 0);
        expect_log(f, "2:done start:4 4:running");
        assert_int_equal(exited(f, 1, JOB_FAILED), 0);
        expect_log(f, "");
        assert_int_equal(pending_ids(f), UINT64_C(1) << 1);

        assert_int_equal(submit(f, 5, 0), 0);
        expect_log(f, "suspend:4 4:suspended start:5 5:running");
        assert_int_equal(pending_ids(f), IDS2(1, 4));
        assert_true(runner_find(f->runner, 1)->arrival_seq < runner_find(f->runner, 4)->arrival_seq);

        assert_int_equal(exited(f, 5, JOB_DONE), 0);
        expect_log(f, "5:done resume:4 4:resumed");
        assert_int_equal(exited(f, 4, JOB_DONE), 0);
        expect_log(f, "4:done start:1 1:running");
        assert_int_equal(exited(f, 1, JOB_DONE), 0);
        expect_log(f, "1:done");
        fake_teardown(f);
}

/* Beyond max_suspended frozen jobs the victim is requeued, suspend() not even asked; once the
 * frozen one is thawed there is room again. */
static void test_suspend_max(void **state) {
        Fake *f = *state;

        fake_setup_evict(f, 3, RUNNER_EVICT_SUSPEND, 3, 1);
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 6), 0);
        assert_int_equal(submit(f, 3, 7), 0);
        expect_log(f, "start:1 1:running start:2 2:running start:3 3:running");
        assert_int_equal(submit(f, 4, 0), 0);
        expect_log(f, "suspend:3 3:suspended start:4 4:running");
        assert_int_equal(submit(f, 5, 0), 0);
        expect_log(f, "2:requeued stop:2:requeued start:5 5:running");
        assert_int_equal(runner_n_suspended(f->runner), 1);
        assert_int_equal(runner_find(f->runner, 2)->n_requeued, 1);
        assert_int_equal(runner_find(f->runner, 2)->evicted_by, 5);
        assert_int_equal(runner_stats(f->runner)->suspended, 1);
        assert_int_equal(runner_stats(f->runner)->requeued, 1);

        /* 2 (6) comes back before the frozen 3 (7): priority first. */
        assert_int_equal(exited(f, 2, JOB_DONE), 0);
        assert_int_equal(exited(f, 4, JOB_DONE), 0);
        expect_log(f, "4:done start:2 2:running");
        assert_int_equal(exited(f, 5, JOB_DONE), 0);
        expect_log(f, "5:done resume:3 3:resumed");
        assert_int_equal(runner_n_suspended(f->runner), 0);
        assert_int_equal(submit(f, 6, 0), 0);
        expect_log(f, "suspend:3 3:suspended start:6 6:running");
        assert_int_equal(exited(f, 6, JOB_DONE), 0);
        expect_log(f, "6:done resume:3 3:resumed");
        fake_teardown(f);
}

/* suspend() failing: requeued instead, or evicted once max_requeue is reached. */
static void test_suspend_fails(void **state) {
        Fake *f = *state;
        Job *j;

        fake_setup_evict(f, 1, RUNNER_EVICT_SUSPEND, 1, 2);
        f->fail_suspend[1] = true;
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 1), 0);
        expect_log(f, "start:1 1:running suspend:1 1:requeued stop:1:requeued start:2 2:running");
        j = runner_find(f->runner, 1);
        assert_int_equal(j->n_requeued, 1);
        assert_int_equal(j->evicted_by, 2);
        assert_int_equal(runner_n_suspended(f->runner), 0);
        expect_counts(f, 1, 0, 2);
        assert_int_equal(runner_stats(f->runner)->suspended, 0);

        assert_int_equal(exited(f, 1, JOB_DONE), 0);
        assert_int_equal(exited(f, 2, JOB_DONE), 0);
        expect_log(f, "2:done start:1 1:running");
        assert_int_equal(submit(f, 3, 0), 0);
        expect_log(f, "suspend:1 1:evicted stop:1:evicted start:3 3:running");
        assert_int_equal(runner_find(f->runner, 1)->evicted_by, 3);
        assert_int_equal(runner_stats(f->runner)->requeued, 1);
        assert_int_equal(runner_stats(f->runner)->evicted, 1);
        fake_teardown(f);
}

/* resume() failing: the job is interrupted (stop() follows) and the slot goes to the next job. */
static void test_resume_fails(void **state) {
        Fake *f = *state;
        Job *j;

        fake_setup_evict(f, 1, RUNNER_EVICT_SUSPEND, 3, 2);
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 3, 6), 0);
        assert_int_equal(submit(f, 2, 1), 0);
        expect_log(f, "start:1 1:running 3:queued suspend:1 1:suspended start:2 2:running");
        f->fail_resume[1] = true;
        assert_int_equal(exited(f, 2, JOB_DONE), 0);
        expect_log(f, "2:done resume:1 1:interrupted stop:1:interrupted start:3 3:running");
        j = runner_find(f->runner, 1);
        assert_non_null(j);
        assert_int_equal(j->state, JOB_INTERRUPTED);
        assert_int_equal(j->error, -ESRCH);
        assert_int_equal(runner_n_suspended(f->runner), 0);
        expect_counts(f, 1, 0, 2);
        assert_int_equal(runner_stats(f->runner)->interrupted, 1);
        assert_int_equal(runner_stats(f->runner)->resumed, 0);

        assert_int_equal(exited(f, 1, JOB_DONE), 0);
        expect_log(f, "");
        assert_int_equal(f->freed[1], 1);
        expect_counts(f, 1, 0, 1);
        /* Its last reported state was "suspended": that is what it left. */
        assert_int_equal(f->last_old[1], JOB_SUSPENDED);
        fake_teardown(f);
}

/* A suspended job is cancelled while frozen: stop() at once, and no slot is taken or freed. */
static void test_cancel_suspended(void **state) {
        Fake *f = *state;

        fake_setup_evict(f, 2, RUNNER_EVICT_SUSPEND, 3, 2);
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 7), 0);
        assert_int_equal(submit(f, 3, 7), 0);
        assert_int_equal(submit(f, 4, 1), 0);
        expect_log(f,
                   "start:1 1:running start:2 2:running 3:queued suspend:2 2:suspended start:4 4:running");
        expect_counts(f, 2, 2, 3);

        assert_int_equal(cancel(f, 2), 0);
        expect_log(f, "2:cancelled stop:2:cancelled");
        assert_int_equal(runner_find(f->runner, 2)->state, JOB_CANCELLED);
        assert_int_equal(runner_n_suspended(f->runner), 0);
        expect_counts(f, 2, 1, 3);
        assert_int_equal(pending_ids(f), UINT64_C(1) << 3);
        assert_int_equal(cancel(f, 2), -EALREADY);

        assert_int_equal(exited(f, 2, JOB_DONE), 0);
        expect_log(f, "");
        assert_int_equal(f->freed[2], 1);
        expect_counts(f, 2, 1, 2);
        assert_int_equal(exited(f, 4, JOB_DONE), 0);
        expect_log(f, "4:done start:3 3:running");
        assert_int_equal(runner_stats(f->runner)->cancelled, 1);
        assert_int_equal(runner_stats(f->runner)->resumed, 0);
        assert_int_equal(runner_stats(f->runner)->done, 1);
        fake_teardown(f);
}

/* A frozen job killed from outside: its exit ends it and it leaves the queue. */
static void test_suspended_exits(void **state) {
        Fake *f = *state;

        fake_setup_evict(f, 1, RUNNER_EVICT_SUSPEND, 3, 2);
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 1), 0);
        assert_int_equal(submit(f, 3, 5), 0);
        expect_log(f, "start:1 1:running suspend:1 1:suspended start:2 2:running 3:queued");
        assert_int_equal(exited(f, 1, JOB_EVICTED), -EINVAL);
        assert_int_equal(exited(f, 1, JOB_FAILED), 0);
        expect_log(f, "1:failed");
        assert_null(runner_find(f->runner, 1));
        assert_int_equal(f->freed[1], 1);
        assert_int_equal(runner_n_suspended(f->runner), 0);
        expect_counts(f, 1, 1, 1);
        assert_int_equal(pending_ids(f), UINT64_C(1) << 3);
        assert_int_equal(exited(f, 2, JOB_DONE), 0);
        expect_log(f, "2:done start:3 3:running");
        assert_int_equal(runner_stats(f->runner)->failed, 1);
        assert_int_equal(runner_stats(f->runner)->resumed, 0);
        fake_teardown(f);
}

/* A stop the jobs survive: runner_pending() lists exactly the waiting ones, which are let go
 * without a state change; running and suspended jobs are stopped as requeued. */
static void test_stop_all_keep(void **state) {
        Fake *f = *state;

        fake_setup_evict(f, 2, RUNNER_EVICT_SUSPEND, 3, 1);
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 6), 0);
        assert_int_equal(submit(f, 3, 1), 0);
        assert_int_equal(submit(f, 4, 7), 0);
        assert_int_equal(submit(f, 5, 0), 0);
        expect_log(f, "start:1 1:running start:2 2:running suspend:2 2:suspended start:3 3:running 4:queued "
                      "1:requeued stop:1:requeued start:5 5:running");
        assert_int_equal(exited(f, 1, JOB_DONE), 0);
        assert_int_equal(submit(f, 6, 8), 0);
        assert_int_equal(submit(f, 7, 0), 0); /* 3 is requeued, its old work still running */
        expect_log(f, "6:queued 3:requeued stop:3:requeued start:7 7:running");
        expect_counts(f, 2, 4, 4);
        assert_int_equal(runner_n_suspended(f->runner), 1);
        assert_int_equal(pending_ids(f), IDS4(1, 2, 4, 6));

        assert_int_equal(runner_stop_all(f->runner, true), 4); /* 2, 3, 5 and 7 */
        expect_log_unordered(f, "2:requeued stop:2:requeued 5:requeued stop:5:requeued 7:requeued "
                                "stop:7:requeued");
        assert_int_equal(pending_ids(f), 0);
        assert_int_equal(runner_n_suspended(f->runner), 0);
        expect_counts(f, 0, 0, 4);
        assert_int_equal(f->freed[1] + f->freed[4] + f->freed[6], 3);
        assert_int_equal(f->freed[2] + f->freed[3] + f->freed[5] + f->freed[7], 0);
        assert_int_equal(f->last[4], JOB_QUEUED);
        assert_int_equal(runner_find(f->runner, 2)->state, JOB_REQUEUED);
        assert_int_equal(runner_stats(f->runner)->dropped, 0);
        assert_int_equal(runner_stats(f->runner)->interrupted, 0);
        assert_int_equal(runner_stats(f->runner)->requeued, 5);

        assert_int_equal(submit(f, 8, 0), -ESHUTDOWN);
        expect_log(f, "8:dropped");
        for (uint64_t id = 2; id <= 7; id++)
                if (id != 4 && id != 6)
                        assert_int_equal(exited(f, id, JOB_DONE), 0);
        expect_log(f, "");
        expect_counts(f, 0, 0, 0);
        for (uint64_t id = 1; id <= 8; id++)
                assert_int_equal(f->freed[id], 1);
        fake_teardown(f);
}

/* Without keep, suspended jobs are interrupted like running ones and waiting ones dropped. */
static void test_stop_all_suspended(void **state) {
        Fake *f = *state;

        fake_setup_evict(f, 1, RUNNER_EVICT_SUSPEND, 3, 2);
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 1), 0);
        assert_int_equal(submit(f, 3, 6), 0);
        expect_log(f, "start:1 1:running suspend:1 1:suspended start:2 2:running 3:queued");
        assert_int_equal(runner_stop_all(f->runner, false), 2);
        expect_log_unordered(f,
                             "1:interrupted stop:1:interrupted 3:dropped 2:interrupted stop:2:interrupted");
        assert_int_equal(runner_n_suspended(f->runner), 0);
        expect_counts(f, 0, 0, 2);
        assert_int_equal(exited(f, 1, JOB_DONE), 0);
        assert_int_equal(exited(f, 2, JOB_DONE), 0);
        expect_log(f, "");
        assert_int_equal(runner_stats(f->runner)->interrupted, 2);
        assert_int_equal(runner_stats(f->runner)->dropped, 1);
        assert_int_equal(runner_stats(f->runner)->requeued, 0);
        fake_teardown(f);
}

/* A plain stop while a requeued job's old work is still being terminated: nobody keeps that job, so
 * it must still get its one terminal record. */
static void test_stop_all_requeued_terminating(void **state) {
        Fake *f = *state;

        fake_setup_evict(f, 1, RUNNER_EVICT_REQUEUE, 3, 0);
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 1), 0);
        expect_log(f, "start:1 1:running 1:requeued stop:1:requeued start:2 2:running");
        assert_int_equal(runner_stop_all(f->runner, false), 2);
        /* 1 would have waited again: nothing waits after a stop that keeps nothing. Its termination
         * is under way already: no second stop(). */
        expect_log(f, "1:interrupted 2:interrupted stop:2:interrupted");
        assert_int_equal(exited(f, 1, JOB_DONE), 0);
        assert_int_equal(exited(f, 2, JOB_DONE), 0);
        expect_counts(f, 0, 0, 0);
        assert_int_equal(f->freed[1], 1);
        assert_true(job_state_is_terminal(f->last[1]));
        fake_teardown(f);
}

/* runner_stop_all(keep) from inside start(): the job that was starting is kept too. */
static void start_hook_stop_keep(Fake *f, Job *j) {
        if (j->id == 1)
                assert_int_equal(runner_stop_all(f->runner, true), 1); /* its exit is to come */
}

static void test_stop_all_keep_from_start(void **state) {
        Fake *f = *state;

        fake_setup_evict(f, 1, RUNNER_EVICT_REQUEUE, 3, 0);
        f->start_hook = start_hook_stop_keep;
        assert_int_equal(submit(f, 1, 5), 0);
        expect_log(f, "start:1 1:running 1:requeued stop:1:requeued");
        expect_counts(f, 0, 0, 1);
        fake_teardown(f);
}

/* runner_free() while a job is frozen: it is both waiting and alive, and is freed once. Last in the
 * list: a double free aborts an ASan build. */
static void test_free_suspended(void **state) {
        Fake *f = *state;
        Runner *r;

        fake_setup_evict(f, 1, RUNNER_EVICT_SUSPEND, 3, 2);
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 1), 0);
        assert_int_equal(submit(f, 3, 6), 0);
        expect_log(f, "start:1 1:running suspend:1 1:suspended start:2 2:running 3:queued");
        r = TAKE_PTR(f->runner);
        assert_null(runner_free(r));
        for (uint64_t id = 1; id <= 3; id++)
                assert_int_equal(f->freed[id], 1);
}

/* A thawed job's exit reported from its own "resumed", as from its own "running": its slot is freed
 * and it ends with the state reported. */
static void hook_exit_resumed(Fake *f, Job *j, JobState old) {
        if (j->id == 1 && j->state == JOB_RESUMED)
                f->hook_result = runner_job_exited(f->runner, j, JOB_DONE);
}

static void test_exit_from_resumed(void **state) {
        Fake *f = *state;

        fake_setup_evict(f, 1, RUNNER_EVICT_SUSPEND, 3, 2);
        f->hook = hook_exit_resumed;
        f->hook_result = 1;
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 1), 0);
        assert_int_equal(submit(f, 3, 6), 0);
        expect_log(f, "start:1 1:running suspend:1 1:suspended start:2 2:running 3:queued");
        assert_int_equal(exited(f, 2, JOB_DONE), 0);
        assert_int_equal(f->hook_result, 0);
        assert_int_equal(f->freed[1], 1);
        expect_log(f, "2:done resume:1 1:resumed 1:done start:3 3:running");
        expect_counts(f, 1, 0, 1);
        fake_teardown(f);
}

/* Cancelled from its own "resumed", as from its own "running". */
static void hook_cancel_resumed(Fake *f, Job *j, JobState old) {
        if (j->id == 1 && j->state == JOB_RESUMED)
                f->hook_result = runner_cancel(f->runner, j);
}

static void test_cancel_from_resumed(void **state) {
        Fake *f = *state;

        fake_setup_evict(f, 1, RUNNER_EVICT_SUSPEND, 3, 2);
        f->hook = hook_cancel_resumed;
        f->hook_result = 1;
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 1), 0);
        assert_int_equal(submit(f, 3, 6), 0);
        assert_int_equal(exited(f, 2, JOB_DONE), 0);
        assert_int_equal(f->hook_result, 0);
        expect_log(f, "start:1 1:running suspend:1 1:suspended start:2 2:running 3:queued 2:done resume:1 "
                      "1:resumed 1:cancelled stop:1:cancelled start:3 3:running");
        fake_teardown(f);
}

/* Cancelled from its own "requeued", before stop() was called: stop() then carries the state the
 * job is in. */
static void hook_cancel_requeued(Fake *f, Job *j, JobState old) {
        if (j->id == 1 && j->state == JOB_REQUEUED)
                f->hook_result = runner_cancel(f->runner, j);
}

static void test_cancel_from_requeued(void **state) {
        Fake *f = *state;

        fake_setup_evict(f, 1, RUNNER_EVICT_REQUEUE, 3, 0);
        f->hook = hook_cancel_requeued;
        f->hook_result = 1;
        assert_int_equal(submit(f, 1, 5), 0);
        assert_int_equal(submit(f, 2, 1), 0);
        assert_int_equal(f->hook_result, 0);
        assert_int_equal(exited(f, 1, JOB_DONE), 0);
        assert_null(runner_find(f->runner, 1));
        expect_log(f, "start:1 1:running 1:requeued 1:cancelled stop:1:cancelled start:2 2:running");
        fake_teardown(f);
}

/* The random runs: a model of every job, kept from the callbacks alone, checked against the runner
 * after every call and every callback. The model knows the rules, not the runner's data structures:
 * a job waits from its submit, from its "suspended" and from the exit of its requeued work, until
 * start() or resume() takes it; it holds a slot from start() or resume() until it leaves; its work
 * lives from start() until its exit is reported. */
typedef struct SimJob {
        int priority;
        uint64_t arrival;  /* order of submit: the one place among its equals it ever has */
        uint64_t started;  /* order of the last start() or resume() */
        JobState state;    /* the last one reported; resumed reads as running */
        bool waiting;      /* in the queue */
        bool suspended;    /* waiting frozen */
        bool slot;         /* holds a slot */
        bool work;         /* started, its exit not reported yet */
        bool requeue_wait; /* requeued: waits again once its exit is reported */
        bool starting, resuming, stop_due;
        bool suspend_ok, suspend_failed; /* what suspend() answered for the eviction under way */
        unsigned n_terminal, n_requeued, freed;
} SimJob;

typedef struct Sim {
        Runner *runner;
        RunnerEvict mode;
        unsigned size, max_requeue, max_suspended;
        SimJob *jobs; /* by id, 1..n_jobs */
        unsigned n_jobs, n_submitted;
        uint64_t rng, start_counter;
        unsigned n_slots, n_waiting, n_work, n_suspended;
        uint64_t counts[_JOB_STATE_MAX]; /* state changes into each state */
        unsigned depth;                  /* inside a runner call made by the simulation */
        unsigned evictions_checked, starts_checked, nested_exits;
} Sim;

typedef struct SimData {
        Sim *sim;
        uint64_t id;
} SimData;

/* splitmix64: the same runs on every machine for a given seed. */
static uint64_t sim_rand(Sim *s) {
        uint64_t z = (s->rng += UINT64_C(0x9E3779B97F4A7C15));

        z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
        return z ^ (z >> 31);
}

static unsigned sim_below(Sim *s, unsigned n) {
        return (unsigned) (sim_rand(s) % n);
}

static SimJob *sim_job(Sim *s, uint64_t id) {
        assert_true(id >= 1 && id <= s->n_submitted);
        return &s->jobs[id];
}

/* The order of the queue: priority, then a suspended job first, then arrival. */
static bool sim_before(const SimJob *a, const SimJob *b) {
        if (a->priority != b->priority)
                return a->priority < b->priority;
        if (a->suspended != b->suspended)
                return a->suspended;
        return a->arrival < b->arrival;
}

/* The job taken from the queue is the first of all those waiting. */
static void sim_check_first(Sim *s, uint64_t id) {
        SimJob *m = sim_job(s, id);

        for (uint64_t i = 1; i <= s->n_submitted; i++)
                if (i != id && s->jobs[i].waiting && !sim_before(m, &s->jobs[i]))
                        fail_msg("job %" PRIu64 " (priority %d, arrival %" PRIu64
                                 "%s) taken before job %" PRIu64 " (priority %d, arrival %" PRIu64 "%s)",
                                 id, m->priority, m->arrival, m->suspended ? ", suspended" : "", i,
                                 s->jobs[i].priority, s->jobs[i].arrival,
                                 s->jobs[i].suspended ? ", suspended" : "");
}

/* What holds at every callback, once the model took the callback in. */
static void sim_check_counters(Sim *s) {
        Runner *r = s->runner;

        assert_true(s->n_slots <= s->size);
        assert_int_equal(runner_n_running(r), s->n_slots);
        assert_int_equal(runner_n_pending(r), s->n_waiting);
        assert_int_equal(runner_n_alive(r), s->n_work);
        assert_int_equal(runner_n_suspended(r), s->n_suspended);
        assert_true(s->n_suspended <= s->max_suspended);
}

/* What holds when a call of the simulation returns. */
static void sim_check(Sim *s) {
        const RunnerStats *st = runner_stats(s->runner);
        int least = -1;

        sim_check_counters(s);
        if (s->n_waiting > 0)
                assert_int_equal(s->n_slots, s->size);
        for (uint64_t id = 1; id <= s->n_submitted; id++) {
                SimJob *m = &s->jobs[id];

                assert_false(m->starting || m->resuming || m->stop_due || m->suspend_ok ||
                             m->suspend_failed);
                assert_true(m->n_terminal <= 1);
                /* Freed exactly when it has ended and its work is gone. */
                assert_int_equal(m->freed, m->n_terminal == 1 && !m->work ? 1 : 0);
                if (m->slot)
                        least = MAX(least, m->priority);
        }
        assert_int_equal(runner_least_urgent(s->runner), least);
        assert_int_equal(st->done, s->counts[JOB_DONE]);
        assert_int_equal(st->failed, s->counts[JOB_FAILED]);
        assert_int_equal(st->timeout, s->counts[JOB_TIMEOUT]);
        assert_int_equal(st->evicted, s->counts[JOB_EVICTED]);
        assert_int_equal(st->dropped, s->counts[JOB_DROPPED]);
        assert_int_equal(st->interrupted, s->counts[JOB_INTERRUPTED]);
        assert_int_equal(st->cancelled, s->counts[JOB_CANCELLED]);
        assert_int_equal(st->suspended, s->counts[JOB_SUSPENDED]);
        assert_int_equal(st->resumed, s->counts[JOB_RESUMED]);
        assert_int_equal(st->requeued, s->counts[JOB_REQUEUED]);
}

/* An eviction of `v` (it still holds its slot in the model): all slots taken, the job that takes the
 * slot waits at the head of the queue and is strictly more urgent, and `v` is the least urgent
 * running job, the most recently started among equals. */
static void sim_check_eviction(Sim *s, Job *v) {
        SimJob *m = sim_job(s, v->id), *by;

        assert_true(m->slot);
        assert_int_equal(s->n_slots, s->size);
        by = sim_job(s, v->evicted_by);
        assert_true(by->waiting);
        sim_check_first(s, v->evicted_by);
        if (by->priority >= m->priority)
                fail_msg("job %" PRIu64 " (priority %d) evicted by job %" PRIu64 " (priority %d)", v->id,
                         m->priority, v->evicted_by, by->priority);
        for (uint64_t id = 1; id <= s->n_submitted; id++) {
                SimJob *o = &s->jobs[id];

                if (id == v->id || !o->slot)
                        continue;
                assert_true(o->priority < m->priority ||
                            (o->priority == m->priority && o->started < m->started));
        }
        s->evictions_checked++;
}

static void sim_take_slot(Sim *s, SimJob *m) {
        assert_false(m->slot);
        assert_true(s->n_slots < s->size);
        m->slot = true;
        s->n_slots++;
        m->started = ++s->start_counter;
}

static void sim_leave_slot(Sim *s, SimJob *m) {
        assert_true(m->slot);
        m->slot = false;
        s->n_slots--;
}

static void sim_unwait(Sim *s, SimJob *m) {
        assert_true(m->waiting);
        m->waiting = false;
        s->n_waiting--;
        if (m->suspended) {
                m->suspended = false;
                s->n_suspended--;
        }
}

static int sim_start(Runner *r, Job *j, void *userdata) {
        Sim *s = userdata;
        SimJob *m = sim_job(s, j->id);

        assert_int_equal(m->n_terminal, 0);
        assert_true(m->waiting && !m->suspended && !m->work);
        assert_true(j->state == _JOB_STATE_INVALID || j->state == JOB_QUEUED || j->state == JOB_REQUEUED);
        sim_check_first(s, j->id);
        sim_unwait(s, m);
        sim_take_slot(s, m);
        m->work = true;
        s->n_work++;
        m->starting = true;
        s->starts_checked++;
        sim_check_counters(s);
        return sim_below(s, 100) < 3 ? -ENOEXEC : 0;
}

static int sim_resume(Runner *r, Job *j, void *userdata) {
        Sim *s = userdata;
        SimJob *m = sim_job(s, j->id);

        assert_int_equal(s->mode, RUNNER_EVICT_SUSPEND);
        assert_int_equal(j->state, JOB_SUSPENDED);
        assert_true(m->suspended && m->work);
        sim_check_first(s, j->id);
        sim_unwait(s, m);
        sim_take_slot(s, m);
        m->resuming = true;
        s->starts_checked++;
        sim_check_counters(s);
        return sim_below(s, 100) < 5 ? -ESRCH : 0;
}

static int sim_suspend(Runner *r, Job *j, void *userdata) {
        Sim *s = userdata;
        SimJob *m = sim_job(s, j->id);
        bool fail = sim_below(s, 100) < 15;

        assert_int_equal(s->mode, RUNNER_EVICT_SUSPEND);
        assert_int_equal(j->state, JOB_RUNNING);
        assert_true(s->n_suspended < s->max_suspended);
        sim_check_eviction(s, j);
        sim_check_counters(s);
        m->suspend_ok = !fail;
        m->suspend_failed = fail;
        return fail ? -EPERM : 0;
}

static int sim_exit(Sim *s, uint64_t id, JobState final);

static int sim_stop(Runner *r, Job *j, JobState reason, void *userdata) {
        Sim *s = userdata;
        SimJob *m = sim_job(s, j->id);

        assert_int_equal(j->state, reason);
        assert_int_equal(m->state, reason);
        assert_true(m->stop_due && m->work);
        assert_true(reason == JOB_EVICTED || reason == JOB_REQUEUED || reason == JOB_CANCELLED ||
                    reason == JOB_INTERRUPTED);
        m->stop_due = false;
        /* Sometimes the work is gone at once: its exit is reported from inside stop(). */
        if (sim_below(s, 100) < 10) {
                s->nested_exits++;
                assert_int_equal(sim_exit(s, j->id, JOB_DONE), 0);
        }
        return 0;
}

/* A victim losing its slot (evicted or requeued): only when suspending was impossible or failed,
 * and only once its requeues are used up for an eviction. */
static void sim_victim(Sim *s, Job *j, SimJob *m) {
        sim_check_eviction(s, j);
        if (s->mode == RUNNER_EVICT_SUSPEND)
                assert_true(m->suspend_failed || s->n_suspended >= s->max_suspended);
        m->suspend_failed = false;
        sim_leave_slot(s, m);
        m->stop_due = true;
}

static void sim_state_changed(Runner *r, Job *j, JobState old, void *userdata) {
        Sim *s = userdata;
        SimJob *m = sim_job(s, j->id);
        JobState new = j->state;

        /* The `old` of a failed resume is checked by test_resume_fails(); here it may be either. */
        if (!(m->resuming && new == JOB_INTERRUPTED &&old == JOB_RUNNING))
                assert_int_equal(old, m->state);
        if (m->n_terminal > 0)
                fail_msg("job %" PRIu64 ": %s after its terminal %s", j->id, job_state_to_string(new),
                         job_state_to_string(m->state));
        s->counts[new]++;

        switch (new) {
        case JOB_QUEUED:
                assert_true(m->waiting && old == _JOB_STATE_INVALID);
                break;
        case JOB_RUNNING:
                assert_true(m->starting && m->slot);
                m->starting = false;
                break;
        case JOB_RESUMED:
                assert_true(m->resuming && m->slot);
                m->resuming = false;
                break;
        case JOB_SUSPENDED:
                assert_true(m->suspend_ok && m->slot);
                m->suspend_ok = false;
                sim_leave_slot(s, m);
                m->waiting = m->suspended = true;
                s->n_waiting++;
                s->n_suspended++;
                break;
        case JOB_REQUEUED:
                assert_int_not_equal(s->mode, RUNNER_EVICT_KILL);
                sim_victim(s, j, m);
                m->requeue_wait = true;
                assert_true(++m->n_requeued <= s->max_requeue);
                assert_int_equal(j->n_requeued, m->n_requeued);
                break;
        case JOB_EVICTED:
                if (s->mode != RUNNER_EVICT_KILL)
                        assert_int_equal(m->n_requeued, s->max_requeue);
                sim_victim(s, j, m);
                break;
        case JOB_CANCELLED:
                if (m->slot) {
                        sim_leave_slot(s, m);
                        m->stop_due = true;
                } else if (m->waiting) {
                        m->stop_due = m->suspended; /* frozen work is stopped; no work otherwise */
                        assert_int_equal(m->work, m->suspended);
                        sim_unwait(s, m);
                } else {
                        /* Requeued, its old work still being terminated: no second stop(). */
                        assert_true(m->requeue_wait && m->work);
                        m->requeue_wait = false;
                }
                break;
        case JOB_INTERRUPTED:
                /* Only a failed resume interrupts in these runs. */
                assert_true(m->resuming && m->slot);
                m->resuming = false;
                sim_leave_slot(s, m);
                m->stop_due = true;
                break;
        case JOB_DONE:
        case JOB_FAILED:
        case JOB_TIMEOUT:
                if (m->starting) {
                        /* start() failed: no work, the slot goes back. */
                        assert_int_equal(new, JOB_FAILED);
                        m->starting = false;
                        sim_leave_slot(s, m);
                        m->work = false;
                        s->n_work--;
                } else if (m->slot)
                        sim_leave_slot(s, m);
                else {
                        /* Frozen work killed from outside: it leaves the queue. */
                        assert_true(m->suspended);
                        sim_unwait(s, m);
                }
                break;
        default:
                fail_msg("job %" PRIu64 ": unexpected %s", j->id, job_state_to_string(new));
        }

        if (job_state_is_terminal(new))
                m->n_terminal++;
        m->state = new == JOB_RESUMED ? JOB_RUNNING : new;
        sim_check_counters(s);
}

static void sim_data_free(void *p) {
        SimData *d = p;

        d->sim->jobs[d->id].freed++;
        free(d);
}

static const RunnerOps sim_ops = {
        .start = sim_start,
        .stop = sim_stop,
        .state_changed = sim_state_changed,
        .suspend = sim_suspend,
        .resume = sim_resume,
};

static void sim_submit(Sim *s, int priority) {
        SimData *d = malloc(sizeof(SimData));
        uint64_t id = ++s->n_submitted;
        SimJob *m = &s->jobs[id];
        Job *j;

        assert_true(id <= s->n_jobs);
        assert_non_null(d);
        assert_int_equal(job_new(&j, id, priority, 1.0), 0);
        *d = (SimData){ .sim = s, .id = id };
        j->data = d;
        j->data_free = sim_data_free;
        *m = (SimJob){ .priority = priority, .arrival = id, .state = _JOB_STATE_INVALID, .waiting = true };
        s->n_waiting++;

        s->depth++;
        assert_int_equal(runner_submit(s->runner, j), 0);
        s->depth--;
        sim_check(s);
}

/* The exit of a job's work; `final` counts only for a job holding a slot or frozen. */
static int sim_exit(Sim *s, uint64_t id, JobState final) {
        SimJob *m = sim_job(s, id);
        bool ends = m->slot || m->suspended;
        Job *j = runner_find(s->runner, id);
        int k;

        assert_non_null(j);
        assert_true(m->work && !m->stop_due);
        m->work = false;
        s->n_work--;
        if (m->requeue_wait) {
                /* Back in the queue, at its first arrival's place. */
                m->requeue_wait = false;
                m->waiting = true;
                s->n_waiting++;
        }
        s->depth++;
        k = runner_job_exited(s->runner, j, final);
        s->depth--;
        if (ends)
                assert_int_equal(m->state, final);
        if (s->depth == 0)
                sim_check(s);
        return k;
}

static void sim_cancel(Sim *s, uint64_t id) {
        SimJob *m = sim_job(s, id);
        Job *j = runner_find(s->runner, id);
        int expected;

        if (!j) {
                assert_true(m->n_terminal == 1 && !m->work);
                return;
        }
        if (m->waiting || m->slot || m->requeue_wait)
                expected = 0;
        else {
                assert_true(m->work && m->n_terminal == 1);
                expected = -EALREADY;
        }
        s->depth++;
        assert_int_equal(runner_cancel(s->runner, j), expected);
        s->depth--;
        if (expected == 0)
                assert_int_equal(m->state, JOB_CANCELLED);
        sim_check(s);
}

/* A job whose work is alive, frozen ones seldom (they are killed from outside); 0 if none. */
static uint64_t sim_pick_work(Sim *s) {
        uint64_t start, frozen = 0;

        if (s->n_submitted == 0)
                return 0;
        start = 1 + sim_below(s, s->n_submitted);
        for (uint64_t k = 0; k < s->n_submitted; k++) {
                uint64_t id = 1 + (start - 1 + k) % s->n_submitted;
                SimJob *m = &s->jobs[id];

                if (!m->work)
                        continue;
                if (!m->suspended)
                        return id;
                frozen = id;
        }
        return frozen != 0 && sim_below(s, 4) == 0 ? frozen : 0;
}

/* A job the runner still holds: waiting, running or being terminated; 0 if none. */
static uint64_t sim_pick_held(Sim *s) {
        uint64_t start;

        if (s->n_submitted == 0)
                return 0;
        start = 1 + sim_below(s, s->n_submitted);
        for (uint64_t k = 0; k < s->n_submitted; k++) {
                uint64_t id = 1 + (start - 1 + k) % s->n_submitted;

                if (s->jobs[id].waiting || s->jobs[id].work)
                        return id;
        }
        return 0;
}

static void sim_exit_random(Sim *s) {
        static const JobState finals[] = { JOB_DONE, JOB_DONE, JOB_DONE, JOB_FAILED, JOB_TIMEOUT };
        uint64_t id = sim_pick_work(s);

        if (id > 0)
                assert_int_equal(sim_exit(s, id, finals[sim_below(s, ELEMENTSOF(finals))]), 0);
}

static void sim_run(RunnerEvict mode, uint64_t seed, unsigned n_jobs) {
        Sim s = { .mode = mode, .rng = seed, .n_jobs = n_jobs };
        unsigned steps = 0;

        s.size = 3 + sim_below(&s, 3);
        s.max_requeue = 2 + sim_below(&s, 2);
        s.max_suspended = 1 + sim_below(&s, 2);
        print_message("[ SEED     ] %s: seed %" PRIu64
                      ", %u jobs, size %u, max_requeue %u, max_suspended %u\n",
                      runner_evict_to_string(mode), seed, n_jobs, s.size, s.max_requeue, s.max_suspended);
        s.jobs = calloc(n_jobs + 1, sizeof(SimJob));
        assert_non_null(s.jobs);
        assert_int_equal(runner_new(&s.runner, s.size, &sim_ops, &s), 0);
        assert_int_equal(runner_set_evict(s.runner, mode, s.max_requeue, s.max_suspended), 0);

        while (s.n_submitted < n_jobs) {
                unsigned roll = sim_below(&s, 100);

                if (roll < 45)
                        sim_submit(&s, (int) sim_below(&s, 11));
                else if (roll < 88)
                        sim_exit_random(&s);
                else if (roll < 96) {
                        uint64_t id = sim_below(&s, 2) ? sim_pick_held(&s) : 0;

                        if (id == 0 && s.n_submitted > 0)
                                id = 1 + sim_below(&s, s.n_submitted);
                        if (id > 0)
                                sim_cancel(&s, id);
                } else {
                        /* What a newcomer of any priority would do now. */
                        int p = (int) sim_below(&s, 11), least = runner_least_urgent(s.runner);

                        assert_int_equal(runner_would_start(s.runner, p), s.n_slots < s.size || least > p);
                }
        }

        /* Drain: report exits until nothing is left. */
        while (runner_n_alive(s.runner) > 0 || runner_n_pending(s.runner) > 0) {
                assert_true(++steps < 100 * n_jobs);
                sim_exit_random(&s);
        }
        sim_check(&s);

        for (uint64_t id = 1; id <= n_jobs; id++) {
                SimJob *m = &s.jobs[id];

                if (m->n_terminal != 1)
                        fail_msg("job %" PRIu64 ": %u terminal states, last %s", id, m->n_terminal,
                                 job_state_to_string(m->state));
                assert_int_equal(m->freed, 1);
                assert_false(m->work || m->waiting || m->slot);
        }
        assert_int_equal(s.n_slots + s.n_waiting + s.n_work + s.n_suspended, 0);
        assert_int_equal(s.counts[JOB_DONE] + s.counts[JOB_FAILED] + s.counts[JOB_TIMEOUT] +
                                 s.counts[JOB_EVICTED] + s.counts[JOB_INTERRUPTED] + s.counts[JOB_CANCELLED],
                         n_jobs);

        /* The run went through what it is meant to check. */
        assert_true(s.counts[JOB_DONE] > 0 && s.counts[JOB_CANCELLED] > 0 && s.counts[JOB_QUEUED] > 0);
        assert_true(s.evictions_checked > 0 && s.starts_checked > n_jobs / 2 && s.nested_exits > 0);
        if (mode == RUNNER_EVICT_KILL)
                assert_true(s.counts[JOB_EVICTED] > 0 &&
                            s.counts[JOB_REQUEUED] + s.counts[JOB_SUSPENDED] == 0);
        else
                assert_true(s.counts[JOB_REQUEUED] > 0);
        if (mode == RUNNER_EVICT_SUSPEND)
                assert_true(s.counts[JOB_SUSPENDED] > 0 && s.counts[JOB_RESUMED] > 0);
        else
                assert_int_equal(s.counts[JOB_SUSPENDED], 0);
        print_message("[ SEED     ] %" PRIu64 " evictions, %" PRIu64 " requeued, %" PRIu64
                      " suspended, %" PRIu64 " resumed, %" PRIu64 " cancelled, %" PRIu64 " done\n",
                      s.counts[JOB_EVICTED], s.counts[JOB_REQUEUED], s.counts[JOB_SUSPENDED],
                      s.counts[JOB_RESUMED], s.counts[JOB_CANCELLED], s.counts[JOB_DONE]);

        s.runner = runner_free(s.runner);
        free(s.jobs);
}

/* TEST_RUNNER_SEED=N replays one seed. */
static void sim_runs(RunnerEvict mode) {
        static const uint64_t seeds[] = { 1, 20240611, 0xC0FFEE };
        const char *e = getenv("TEST_RUNNER_SEED");

        if (e) {
                sim_run(mode, strtoull(e, NULL, 0), 600);
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(seeds); i++)
                sim_run(mode, seeds[i], 600);
}

static void test_random_kill(void **state) {
        sim_runs(RUNNER_EVICT_KILL);
}

static void test_random_requeue(void **state) {
        sim_runs(RUNNER_EVICT_REQUEUE);
}

static void test_random_suspend(void **state) {
        sim_runs(RUNNER_EVICT_SUSPEND);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_new),
                cmocka_unit_test(test_free_slots_start_now),
                cmocka_unit_test(test_equal_priority_waits),
                cmocka_unit_test(test_more_urgent_evicts_least_urgent),
                cmocka_unit_test(test_evict_most_recent_among_equal),
                cmocka_unit_test(test_pending_order),
                cmocka_unit_test(test_timeout_frees_slot),
                cmocka_unit_test(test_evicted_exit_starts_nothing),
                cmocka_unit_test(test_start_failure_tries_next),
                cmocka_unit_test(test_start_failure_many),
                cmocka_unit_test(test_stop_all),
                cmocka_unit_test(test_ending_job_not_evicted),
                cmocka_unit_test(test_counters),
                cmocka_unit_test(test_exited_errors),
                cmocka_unit_test(test_ownership),
                cmocka_unit_test(test_reentrant_callbacks),
                cmocka_unit_test(test_reentrant_start),
                cmocka_unit_test(test_stop_all_from_callback),
                cmocka_unit_test(test_find),
                cmocka_unit_test(test_would_start),
                cmocka_unit_test(test_least_urgent),
                cmocka_unit_test(test_cancel_queued),
                cmocka_unit_test(test_cancel_running),
                cmocka_unit_test(test_cancel_ending),
                cmocka_unit_test(test_cancel_twice),
                cmocka_unit_test(test_cancel_evicted),
                cmocka_unit_test(test_cancel_after_stop_all),
                cmocka_unit_test(test_cancel_from_callback),
                cmocka_unit_test(test_cancel_from_start),
                cmocka_unit_test(test_data_free_reenters),
                cmocka_unit_test_setup_teardown(test_set_evict, fake_alloc, fake_release),
                cmocka_unit_test_setup_teardown(test_requeue_evicted, fake_alloc, fake_release),
                cmocka_unit_test_setup_teardown(test_requeue_zero, fake_alloc, fake_release),
                cmocka_unit_test_setup_teardown(test_requeue_keeps_arrival_order, fake_alloc, fake_release),
                cmocka_unit_test_setup_teardown(test_requeue_cancel, fake_alloc, fake_release),
                cmocka_unit_test_setup_teardown(test_suspend_resume, fake_alloc, fake_release),
                cmocka_unit_test_setup_teardown(test_suspend_goes_first, fake_alloc, fake_release),
                cmocka_unit_test_setup_teardown(test_suspend_max, fake_alloc, fake_release),
                cmocka_unit_test_setup_teardown(test_suspend_fails, fake_alloc, fake_release),
                cmocka_unit_test_setup_teardown(test_resume_fails, fake_alloc, fake_release),
                cmocka_unit_test_setup_teardown(test_cancel_suspended, fake_alloc, fake_release),
                cmocka_unit_test_setup_teardown(test_suspended_exits, fake_alloc, fake_release),
                cmocka_unit_test_setup_teardown(test_stop_all_keep, fake_alloc, fake_release),
                cmocka_unit_test_setup_teardown(test_stop_all_suspended, fake_alloc, fake_release),
                cmocka_unit_test_setup_teardown(test_stop_all_requeued_terminating, fake_alloc,
                                                fake_release),
                cmocka_unit_test_setup_teardown(test_stop_all_keep_from_start, fake_alloc, fake_release),
                cmocka_unit_test_setup_teardown(test_exit_from_resumed, fake_alloc, fake_release),
                cmocka_unit_test_setup_teardown(test_cancel_from_resumed, fake_alloc, fake_release),
                cmocka_unit_test_setup_teardown(test_cancel_from_requeued, fake_alloc, fake_release),
                cmocka_unit_test(test_random_kill),
                cmocka_unit_test(test_random_requeue),
                cmocka_unit_test(test_random_suspend),
                cmocka_unit_test_setup_teardown(test_free_suspended, fake_alloc, fake_release),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
