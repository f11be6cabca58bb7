/* SPDX-License-Identifier: MIT */
/*
 * The scheduling rules walked case by case against fake RunnerOps that record every call in a line
 * of text: "start:4" (start() called), "4:running" (state change), "stop:2:evicted" (stop() called).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "runner.h"

#define MAX_ID 64

typedef struct Fake Fake;

struct Fake {
        Runner *runner;
        char log[4096];
        bool fail_start[MAX_ID];
        bool ending[MAX_ID];
        unsigned freed[MAX_ID];
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

        assert_int_equal(j->state == _JOB_STATE_INVALID || j->state == JOB_QUEUED, true);
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

static const RunnerOps fake_ops = {
        .start = fake_start,
        .stop = fake_stop,
        .state_changed = fake_state_changed,
        .ending = fake_ending,
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
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
