/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "job-table.h"
#include "macro.h"

#define T0 UINT64_C(1795788123000000)

static JobTableEvent event(uint64_t id, JobState state) {
        return (JobTableEvent){
                .id = id,
                .state = state,
                .exit_status = -1,
                .evicted_by = UINT64_MAX,
                .cpu_usec = UINT64_MAX,
                .memory_peak = UINT64_MAX,
        };
}

static int apply(JobTable *t, JobTableEntry *e, JobTableScheduler *s, JobState state, uint64_t now) {
        JobTableEvent ev = event(e->id, state);

        return job_table_apply(t, e, s, &ev, now);
}

static JobTableEntry *add(JobTable *t, uint64_t id) {
        JobTableEntry *e = NULL;

        assert_int_equal(job_table_add(t, id, 5, 1.5, T0 + id, NULL, &e), 0);
        assert_non_null(e);
        return e;
}

/* The counters against a count from scratch over every run in the table. */
static void check_counts(JobTable *t, JobTableScheduler **schedulers, size_t n_schedulers) {
        unsigned total[_JOB_TABLE_STATE_MAX] = {}, open;
        JobTableEntry *e;
        size_t n = 0;

        for (e = job_table_first(t); e; e = job_table_next(e)) {
                open = 0;
                for (unsigned i = 0; i < e->n_runs; i++) {
                        total[e->runs[i].state]++;
                        if (!job_table_state_is_terminal(e->runs[i].state))
                                open++;
                }
                total[JOB_TABLE_SENT] += e->n_legacy;
                assert_int_equal(e->n_open, open);
                assert_ptr_equal(job_table_get(t, e->id), e);
                n++;
        }
        assert_int_equal(job_table_size(t), n);
        for (int state = 0; state < _JOB_TABLE_STATE_MAX; state++)
                assert_int_equal(job_table_count(t, state), total[state]);

        for (size_t k = 0; k < n_schedulers; k++)
                for (int state = 0; state < _JOB_TABLE_STATE_MAX; state++) {
                        unsigned c = 0;

                        for (e = job_table_first(t); e; e = job_table_next(e))
                                for (unsigned i = 0; i < e->n_runs; i++)
                                        if (e->runs[i].scheduler == schedulers[k] &&
                                            e->runs[i].state == state)
                                                c++;
                        assert_int_equal(job_table_scheduler_count(schedulers[k], state), c);
                }
}

static void test_state_strings(void **state) {
        assert_string_equal(job_table_state_to_string(JOB_TABLE_SENT), "sent");
        assert_string_equal(job_table_state_to_string(_JOB_STATE_INVALID), "unknown");
        assert_null(job_table_state_to_string(_JOB_TABLE_STATE_MAX));
        assert_null(job_table_state_to_string(-1));
        for (int s = 0; s < _JOB_TABLE_STATE_MAX; s++) {
                const char *name = job_table_state_to_string(s);

                assert_non_null(name);
                assert_int_equal(job_table_state_from_string(name), s);
        }
        assert_string_equal(job_table_state_to_string(JOB_CANCELLED), "cancelled");
        assert_int_equal(job_table_state_from_string("unknown"), _JOB_STATE_INVALID);
        assert_int_equal(job_table_state_from_string("Sent"), _JOB_STATE_INVALID);
        assert_int_equal(job_table_state_from_string(""), _JOB_STATE_INVALID);
        assert_int_equal(job_table_state_from_string(NULL), _JOB_STATE_INVALID);

        assert_false(job_table_state_is_terminal(JOB_QUEUED));
        assert_false(job_table_state_is_terminal(JOB_RUNNING));
        assert_false(job_table_state_is_terminal(JOB_TABLE_SENT));
        assert_false(job_table_state_is_terminal(_JOB_STATE_INVALID));
        for (int s = JOB_DONE; s <= JOB_CANCELLED; s++)
                assert_true(job_table_state_is_terminal(s));
        assert_false(job_table_state_is_terminal(JOB_SUSPENDED));
        assert_false(job_table_state_is_terminal(JOB_REQUEUED));
}

static void test_add_get_iterate(void **state) {
        static const uint64_t ids[] = { 5, 3, 7, 4, 100, 1 };
        static const uint64_t sorted[] = { 1, 3, 4, 5, 7, 100 };
        _cleanup_(job_table_freep) JobTable *t = NULL;
        JobTableEntry *e;
        size_t i;

        assert_int_equal(job_table_new(&t, 0), -EINVAL);
        assert_null(t);
        assert_int_equal(job_table_new(&t, 10), 0);
        assert_int_equal(job_table_max(t), 10);
        assert_null(job_table_first(t));
        assert_null(job_table_last(t));
        assert_null(job_table_get(t, 5));

        for (i = 0; i < ELEMENTSOF(ids); i++)
                assert_int_equal(job_table_add(t, ids[i], (int) i, 0.5 * (double) i, T0, NULL, NULL), 0);
        assert_int_equal(job_table_add(t, 4, 0, 0, T0, NULL, NULL), -EEXIST);
        assert_int_equal(job_table_size(t), ELEMENTSOF(ids));

        e = job_table_get(t, 7);
        assert_non_null(e);
        assert_int_equal(e->id, 7);
        assert_int_equal(e->priority, 2);
        assert_true(e->runtime == 1.0);
        assert_int_equal(e->submitted_usec, T0);
        assert_int_equal(e->n_runs, 0);
        assert_false(e->final);
        assert_int_equal(job_table_entry_end(e), _JOB_STATE_INVALID);

        /* Whatever order they came in, iteration goes by id. */
        for (i = 0, e = job_table_first(t); e; e = job_table_next(e), i++)
                assert_int_equal(e->id, sorted[i]);
        assert_int_equal(i, ELEMENTSOF(sorted));
        for (i = ELEMENTSOF(sorted), e = job_table_last(t); e; e = job_table_prev(e))
                assert_int_equal(e->id, sorted[--i]);
        assert_int_equal(i, 0);
        assert_null(job_table_free(NULL));
}

static void test_bounded_oldest_when_none_final(void **state) {
        _cleanup_(job_table_freep) JobTable *t = NULL;
        JobTableEntry *e;
        uint64_t want = 901;

        assert_int_equal(job_table_new(&t, 100), 0);
        for (uint64_t id = 1; id <= 1000; id++) {
                add(t, id);
                assert_true(job_table_size(t) <= 100);
        }
        assert_int_equal(job_table_size(t), 100);
        assert_null(job_table_get(t, 900));
        for (e = job_table_first(t); e; e = job_table_next(e))
                assert_int_equal(e->id, want++);
        assert_int_equal(want, 1001);

        /* A table of one keeps the newest. */
        t = job_table_free(t);
        assert_int_equal(job_table_new(&t, 1), 0);
        add(t, 1);
        add(t, 2);
        assert_int_equal(job_table_size(t), 1);
        assert_null(job_table_get(t, 1));
        assert_ptr_equal(job_table_first(t), job_table_last(t));
        assert_int_equal(job_table_first(t)->id, 2);
}

static void test_evicts_finished_first(void **state) {
        _cleanup_(job_table_freep) JobTable *t = NULL;
        JobTableScheduler *a;
        JobTableEntry *e;

        assert_int_equal(job_table_new(&t, 10), 0);
        a = job_table_scheduler_ref(t, "a");
        assert_non_null(a);
        for (uint64_t id = 1; id <= 10; id++) {
                e = add(t, id);
                assert_non_null(job_table_add_run(t, e, a, T0));
                assert_int_equal(job_table_delivered(t, e), 0);
        }
        /* They finish in the order 7, 3, 5: by an event, by a bus drop, by an event. */
        assert_int_equal(apply(t, job_table_get(t, 7), a, JOB_DONE, T0 + 1), 1);
        job_table_drop(t, job_table_get(t, 3), T0 + 2);
        assert_int_equal(apply(t, job_table_get(t, 5), a, JOB_FAILED, T0 + 3), 1);

        add(t, 11);
        assert_null(job_table_get(t, 7));
        add(t, 12);
        assert_null(job_table_get(t, 3));
        add(t, 13);
        assert_null(job_table_get(t, 5));
        /* None final any more: the oldest go. */
        add(t, 14);
        assert_null(job_table_get(t, 1));
        add(t, 15);
        assert_null(job_table_get(t, 2));
        assert_non_null(job_table_get(t, 4));
        assert_int_equal(job_table_size(t), 10);
        check_counts(t, &a, 1);
        job_table_scheduler_unref(t, a);
}

/* Many jobs through a small table, finishing in a random order; the table against a model of what
 * it must hold, and the counters against a count from scratch. */
static void test_lookups_after_many_evictions(void **state) {
        enum {
                MAX = 500,
                N = 20000
        };
        _cleanup_(job_table_freep) JobTable *t = NULL;
        JobTableScheduler *s[3];
        bool *present = calloc(N + 1, sizeof(bool)), *final = calloc(N + 1, sizeof(bool));
        uint64_t *finish_order = calloc(N + 1, sizeof(uint64_t));
        size_t n_present = 0, finish_head = 0, finish_tail = 0;
        uint64_t oldest = 1;
        unsigned seed = 99;

        assert_non_null(present);
        assert_non_null(final);
        assert_non_null(finish_order);
        assert_int_equal(job_table_new(&t, MAX), 0);
        for (size_t k = 0; k < ELEMENTSOF(s); k++) {
                char name[8] = { 's', (char) ('0' + k) };

                s[k] = job_table_scheduler_ref(t, name);
                assert_non_null(s[k]);
        }

        for (uint64_t id = 1; id <= N; id++) {
                JobTableEntry *e;
                uint64_t victim = 0, fin;

                /* The model's victim: the earliest final one still present, else the oldest. */
                if (n_present == MAX) {
                        while (finish_head < finish_tail && !present[finish_order[finish_head]])
                                finish_head++;
                        if (finish_head < finish_tail)
                                victim = finish_order[finish_head++];
                        else {
                                while (!present[oldest])
                                        oldest++;
                                victim = oldest;
                        }
                        present[victim] = false;
                        n_present--;
                }
                e = add(t, id);
                present[id] = true;
                n_present++;
                if (victim)
                        assert_null(job_table_get(t, victim));

                for (size_t k = 0; k < ELEMENTSOF(s); k++)
                        if (rand_r(&seed) % 2)
                                assert_non_null(job_table_add_run(t, e, s[k], T0));
                if (job_table_delivered(t, e) == 1) {
                        final[id] = true;
                        finish_order[finish_tail++] = id;
                }

                /* Some present job gets an event, which may finish it. */
                fin = id - (uint64_t) rand_r(&seed) % MIN(id, (uint64_t) MAX);
                e = job_table_get(t, fin);
                assert_true(!!e == present[fin]);
                if (e && !final[fin]) {
                        JobState st = (JobState) (rand_r(&seed) % _JOB_STATE_MAX);
                        int r = apply(t, e, s[rand_r(&seed) % ELEMENTSOF(s)], st, T0 + id);

                        assert_true(r >= 0);
                        if (r == 1) {
                                final[fin] = true;
                                finish_order[finish_tail++] = fin;
                        }
                }
                if (id % 1000 == 0)
                        check_counts(t, s, ELEMENTSOF(s));
        }

        assert_int_equal(job_table_size(t), MAX);
        for (uint64_t id = 1; id <= N; id++) {
                JobTableEntry *e = job_table_get(t, id);

                assert_true(!!e == present[id]);
                if (e)
                        assert_int_equal(e->id, id);
        }
        check_counts(t, s, ELEMENTSOF(s));
        for (size_t k = 0; k < ELEMENTSOF(s); k++)
                job_table_scheduler_unref(t, s[k]);
        free(present);
        free(final);
        free(finish_order);
}

/* O(1) lookups: the bus's default history, sequential ids, after 100,000 jobs went through it, a
 * third of them finished: every entry still has its id's slot in the map's window. */
static void test_probe_bound(void **state) {
        _cleanup_(job_table_freep) JobTable *t = NULL;

        assert_int_equal(job_table_new(&t, 10000), 0);
        for (uint64_t id = 1; id <= 100000; id++) {
                JobTableEntry *e = add(t, id);

                if (id % 3 == 0)
                        job_table_drop(t, e, T0);
        }
        assert_int_equal(job_table_size(t), 10000);
        assert_int_equal(job_table_ids_outside_window(t), 0);
        assert_non_null(job_table_get(t, 100000));
        assert_null(job_table_get(t, 1));
}

static void test_counters_through_events(void **state) {
        _cleanup_(job_table_freep) JobTable *t = NULL;
        JobTableScheduler *a, *b, *both[2];
        JobTableEntry *e;
        JobTableRun *ra, *rb;
        JobTableEvent ev;

        assert_int_equal(job_table_new(&t, 10), 0);
        both[0] = a = job_table_scheduler_ref(t, "a");
        both[1] = b = job_table_scheduler_ref(t, "b");
        e = add(t, 1);

        ra = job_table_add_run(t, e, a, T0 + 10);
        assert_non_null(ra);
        assert_int_equal(ra->state, JOB_TABLE_SENT);
        assert_int_equal(ra->sent_usec, T0 + 10);
        assert_int_equal(ra->exit_status, -1);
        assert_string_equal(ra->signal, "");
        assert_int_equal(ra->cpu_usec, UINT64_MAX);
        assert_non_null(job_table_add_run(t, e, b, T0 + 10));
        assert_int_equal(job_table_add_legacy(t, e), 0);
        assert_int_equal(job_table_delivered(t, e), 0);
        assert_int_equal(e->n_runs, 2);
        assert_int_equal(e->n_legacy, 1);
        assert_int_equal(e->n_open, 2);
        assert_int_equal(job_table_count(t, JOB_TABLE_SENT), 3);
        assert_int_equal(job_table_scheduler_count(a, JOB_TABLE_SENT), 1);
        assert_int_equal(job_table_scheduler_count(b, JOB_TABLE_SENT), 1);
        assert_int_equal(job_table_scheduler_count(a, _JOB_TABLE_STATE_MAX), 0);
        assert_int_equal(job_table_count(t, -1), 0);
        assert_int_equal(job_table_entry_summary(e), JOB_TABLE_SENT);

        assert_int_equal(apply(t, e, a, JOB_QUEUED, T0 + 20), 0);
        /* The same state again: no new transition time. */
        assert_int_equal(apply(t, e, a, JOB_QUEUED, T0 + 25), 0);
        assert_int_equal(apply(t, e, b, JOB_QUEUED, T0 + 21), 0);
        assert_int_equal(job_table_count(t, JOB_QUEUED), 2);
        assert_int_equal(job_table_count(t, JOB_TABLE_SENT), 1);
        assert_int_equal(job_table_entry_summary(e), JOB_QUEUED);
        assert_int_equal(apply(t, e, a, JOB_RUNNING, T0 + 30), 0);
        assert_int_equal(job_table_entry_summary(e), JOB_RUNNING);
        assert_int_equal(job_table_scheduler_count(a, JOB_RUNNING), 1);
        assert_int_equal(job_table_scheduler_count(a, JOB_QUEUED), 0);
        assert_int_equal(job_table_scheduler_count(b, JOB_QUEUED), 1);

        ev = event(1, JOB_DONE);
        ev.exit_status = 0;
        ev.cpu_usec = 1234;
        ev.memory_peak = 4096;
        assert_int_equal(job_table_apply(t, e, a, &ev, T0 + 40), 0);
        ra = job_table_find_run(e, a);
        assert_int_equal(ra->state, JOB_DONE);
        assert_int_equal(ra->queued_usec, T0 + 20);
        assert_int_equal(ra->started_usec, T0 + 30);
        assert_int_equal(ra->ended_usec, T0 + 40);
        assert_int_equal(ra->exit_status, 0);
        assert_int_equal(ra->cpu_usec, 1234);
        assert_int_equal(ra->memory_peak, 4096);
        assert_int_equal(ra->evicted_by, UINT64_MAX);
        assert_int_equal(e->n_open, 1);
        assert_false(e->final);

        /* Out of a terminal state: ignored, details and all. */
        ev = event(1, JOB_FAILED);
        ev.exit_status = 3;
        assert_int_equal(job_table_apply(t, e, a, &ev, T0 + 50), 0);
        assert_int_equal(apply(t, e, a, JOB_RUNNING, T0 + 50), 0);
        assert_int_equal(ra->state, JOB_DONE);
        assert_int_equal(ra->exit_status, 0);
        assert_int_equal(ra->ended_usec, T0 + 40);
        assert_int_equal(job_table_count(t, JOB_DONE), 1);
        assert_int_equal(job_table_count(t, JOB_FAILED), 0);
        assert_int_equal(job_table_count(t, JOB_RUNNING), 0);

        /* Straight from queued to evicted: never started. The event completes the job. */
        ev = event(1, JOB_EVICTED);
        ev.signal = "TERM";
        ev.evicted_by = 77;
        assert_int_equal(job_table_apply(t, e, b, &ev, T0 + 60), 1);
        rb = job_table_find_run(e, b);
        assert_int_equal(rb->started_usec, 0);
        assert_int_equal(rb->ended_usec, T0 + 60);
        assert_string_equal(rb->signal, "TERM");
        assert_int_equal(rb->evicted_by, 77);
        assert_true(e->final);
        assert_int_equal(e->n_open, 0);
        assert_int_equal(job_table_entry_end(e), JOB_EVICTED);
        /* The legacy scheduler's delivery is sent for ever (a count, no run); the job is listed by
         * its end. */
        assert_int_equal(e->n_legacy, 1);
        assert_null(job_table_find_run(e, NULL));
        assert_int_equal(job_table_entry_summary(e), JOB_EVICTED);
        assert_int_equal(apply(t, e, b, JOB_RUNNING, T0 + 70), 0);

        /* A state that is no JobState. */
        ev = event(1, (JobState) _JOB_STATE_MAX);
        assert_int_equal(job_table_apply(t, e, a, &ev, T0), -EINVAL);
        ev = event(1, (JobState) JOB_TABLE_SENT);
        assert_int_equal(job_table_apply(t, e, a, &ev, T0), -EINVAL);
        ev = event(1, _JOB_STATE_INVALID);
        assert_int_equal(job_table_apply(t, e, a, &ev, T0), -EINVAL);

        assert_int_equal(job_table_count(t, JOB_TABLE_SENT), 1);
        assert_int_equal(job_table_count(t, JOB_DONE), 1);
        assert_int_equal(job_table_count(t, JOB_EVICTED), 1);
        assert_int_equal(job_table_scheduler_count(b, JOB_EVICTED), 1);
        check_counts(t, both, 2);

        /* Evicted from the table, its runs leave every counter. */
        add(t, 2);
        job_table_drop(t, job_table_get(t, 2), T0);
        for (uint64_t id = 3; id <= 11; id++)
                add(t, id);
        assert_null(job_table_get(t, 1));
        for (int s = 0; s < _JOB_TABLE_STATE_MAX; s++) {
                assert_int_equal(job_table_count(t, s), 0);
                assert_int_equal(job_table_scheduler_count(a, s), 0);
                assert_int_equal(job_table_scheduler_count(b, s), 0);
        }
        job_table_scheduler_unref(t, a);
        job_table_scheduler_unref(t, b);
}

/* A job with one reporting run per state in `states` (then all of them done unless listed). */
static JobState end_of(const JobState *states, size_t n) {
        _cleanup_(job_table_freep) JobTable *t = NULL;
        JobTableScheduler *s[8];
        JobTableEntry *e;
        int r = 0;

        assert_true(n <= ELEMENTSOF(s));
        assert_int_equal(job_table_new(&t, 1), 0);
        e = add(t, 1);
        for (size_t i = 0; i < n; i++) {
                char name[8] = { 's', (char) ('0' + i) };

                s[i] = job_table_scheduler_ref(t, name);
                assert_non_null(job_table_add_run(t, e, s[i], T0));
        }
        assert_int_equal(job_table_delivered(t, e), n == 0);
        for (size_t i = 0; i < n; i++) {
                assert_false(e->final);
                r = apply(t, e, s[i], states[i], T0 + 1);
                assert_int_equal(r, i == n - 1);
        }
        assert_true(e->final);
        for (size_t i = 0; i < n; i++)
                job_table_scheduler_unref(t, s[i]);
        return job_table_entry_end(e);
}

static void test_end(void **state) {
        /* In the order of precedence. */
        static const JobState bad[] = {
                JOB_FAILED, JOB_TIMEOUT, JOB_EVICTED, JOB_CANCELLED, JOB_INTERRUPTED, JOB_DROPPED,
        };

        assert_int_equal(end_of((JobState[]){ JOB_DONE }, 1), JOB_DONE);
        assert_int_equal(end_of((JobState[]){ JOB_DONE, JOB_DONE, JOB_DONE }, 3), JOB_DONE);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(end_of(&bad[i], 1), bad[i]);
                assert_int_equal(end_of((JobState[]){ JOB_DONE, bad[i] }, 2), bad[i]);
                assert_int_equal(end_of((JobState[]){ bad[i], JOB_DONE }, 2), bad[i]);
                for (size_t j = i + 1; j < ELEMENTSOF(bad); j++) {
                        assert_int_equal(end_of((JobState[]){ bad[i], bad[j] }, 2), bad[i]);
                        assert_int_equal(end_of((JobState[]){ bad[j], JOB_DONE, bad[i] }, 3), bad[i]);
                }
        }
        /* Delivered to nothing at all (the bus should have dropped it): final, end unknown. */
        assert_int_equal(end_of(NULL, 0), _JOB_STATE_INVALID);
}

static void test_end_special(void **state) {
        _cleanup_(job_table_freep) JobTable *t = NULL;
        JobTableScheduler *a, *b, *c;
        JobTableEntry *e;

        assert_int_equal(job_table_new(&t, 10), 0);
        a = job_table_scheduler_ref(t, "a");
        b = job_table_scheduler_ref(t, "b");
        c = job_table_scheduler_ref(t, "c");

        /* Dropped by the bus: final at once, once. */
        e = add(t, 1);
        job_table_drop(t, e, T0);
        assert_true(e->final);
        assert_true(e->dropped);
        assert_int_equal(e->n_runs, 0);
        assert_int_equal(job_table_entry_end(e), JOB_DROPPED);
        assert_int_equal(job_table_entry_summary(e), JOB_DROPPED);
        assert_int_equal(job_table_delivered(t, e), 0);
        job_table_drop(t, e, T0);

        /* Only to schedulers that do not report: final when delivered, end unknown, listed as
         * sent. */
        e = add(t, 2);
        assert_int_equal(job_table_add_legacy(t, e), 0);
        assert_int_equal(job_table_add_legacy(t, e), 0);
        assert_int_equal(e->n_runs, 0);
        assert_int_equal(e->n_legacy, 2);
        assert_int_equal(e->n_open, 0);
        assert_false(e->final);
        assert_int_equal(job_table_delivered(t, e), 1);
        assert_true(e->final);
        assert_int_equal(job_table_entry_end(e), _JOB_STATE_INVALID);
        assert_string_equal(job_table_state_to_string(job_table_entry_end(e)), "unknown");
        assert_int_equal(job_table_entry_summary(e), JOB_TABLE_SENT);
        assert_int_equal(job_table_delivered(t, e), 0);
        assert_int_equal(job_table_count(t, JOB_TABLE_SENT), 2);

        /* A stray event of a reporting scheduler on it afterwards: recorded, but the job stays
         * final with the end it had. */
        assert_int_equal(apply(t, e, a, JOB_RUNNING, T0 + 5), 0);
        assert_int_equal(e->n_runs, 1);
        assert_int_equal(job_table_find_run(e, a)->sent_usec, 0);
        assert_int_equal(job_table_find_run(e, a)->started_usec, T0 + 5);
        assert_int_equal(job_table_entry_summary(e), JOB_TABLE_SENT);
        assert_int_equal(apply(t, e, a, JOB_FAILED, T0 + 6), 0);
        assert_true(e->final);
        assert_int_equal(job_table_entry_end(e), _JOB_STATE_INVALID);
        assert_int_equal(job_table_scheduler_count(a, JOB_FAILED), 1);

        /* A reporting scheduler done and a legacy one: done, listed as done although the legacy run
         * is sent for ever. */
        e = add(t, 3);
        assert_non_null(job_table_add_run(t, e, a, T0));
        assert_int_equal(job_table_add_legacy(t, e), 0);
        assert_int_equal(job_table_delivered(t, e), 0);
        assert_int_equal(job_table_entry_summary(e), JOB_TABLE_SENT);
        assert_int_equal(apply(t, e, a, JOB_DONE, T0 + 1), 1);
        assert_int_equal(job_table_entry_end(e), JOB_DONE);
        assert_int_equal(job_table_entry_summary(e), JOB_DONE);

        /* Dropped by the bus after a delivery was recorded: listed as dropped, not as sent. */
        e = add(t, 6);
        assert_non_null(job_table_add_run(t, e, a, T0));
        job_table_drop(t, e, T0);
        assert_true(e->final);
        assert_int_equal(e->n_open, 1);
        assert_int_equal(job_table_entry_end(e), JOB_DROPPED);
        assert_int_equal(job_table_entry_summary(e), JOB_DROPPED);
        /* Its run can still end (the scheduler got it after all); the job stays dropped, once. */
        assert_int_equal(apply(t, e, a, JOB_DONE, T0 + 1), 0);
        assert_int_equal(e->n_open, 0);
        assert_int_equal(job_table_entry_end(e), JOB_DROPPED);

        /* An event before any delivery was recorded creates the run; the job ends with it. */
        e = add(t, 4);
        assert_int_equal(apply(t, e, a, JOB_CANCELLED, T0 + 1), 1);
        assert_int_equal(e->n_runs, 1);
        assert_int_equal(job_table_find_run(e, a)->sent_usec, 0);
        assert_int_equal(job_table_entry_end(e), JOB_CANCELLED);
        assert_int_equal(job_table_entry_summary(e), JOB_CANCELLED);

        /* The summary of a job still going: running beats queued beats sent, wherever. */
        e = add(t, 5);
        assert_non_null(job_table_add_run(t, e, a, T0));
        assert_non_null(job_table_add_run(t, e, b, T0));
        assert_non_null(job_table_add_run(t, e, c, T0));
        assert_int_equal(job_table_delivered(t, e), 0);
        assert_int_equal(job_table_entry_end(e), _JOB_STATE_INVALID);
        assert_int_equal(apply(t, e, c, JOB_FAILED, T0), 0);
        assert_int_equal(job_table_entry_summary(e), JOB_TABLE_SENT);
        assert_int_equal(apply(t, e, b, JOB_QUEUED, T0), 0);
        assert_int_equal(job_table_entry_summary(e), JOB_QUEUED);
        assert_int_equal(apply(t, e, a, JOB_RUNNING, T0), 0);
        assert_int_equal(job_table_entry_summary(e), JOB_RUNNING);
        assert_int_equal(job_table_entry_end(e), _JOB_STATE_INVALID);
        assert_int_equal(apply(t, e, a, JOB_DONE, T0), 0);
        assert_int_equal(apply(t, e, b, JOB_DONE, T0), 1);
        assert_int_equal(job_table_entry_end(e), JOB_FAILED);
        assert_int_equal(job_table_entry_summary(e), JOB_FAILED);

        check_counts(t, (JobTableScheduler *[]){ a, b, c }, 3);
        job_table_scheduler_unref(t, a);
        job_table_scheduler_unref(t, b);
        job_table_scheduler_unref(t, c);
}

static void test_one_run_per_name(void **state) {
        _cleanup_(job_table_freep) JobTable *t = NULL;
        JobTableScheduler *a1, *a2;
        JobTableEntry *e;
        JobTableRun *r;

        assert_int_equal(job_table_new(&t, 10), 0);
        /* Two connections of one scheduler name. */
        a1 = job_table_scheduler_ref(t, "a");
        a2 = job_table_scheduler_ref(t, "a");
        assert_ptr_equal(a1, a2);
        assert_string_equal(job_table_scheduler_name(a1), "a");

        e = add(t, 1);
        r = job_table_add_run(t, e, a1, T0);
        assert_ptr_equal(job_table_add_run(t, e, a2, T0 + 1), r);
        assert_int_equal(r->sent_usec, T0);
        assert_int_equal(e->n_runs, 1);
        assert_int_equal(e->n_open, 1);
        assert_int_equal(job_table_scheduler_count(a1, JOB_TABLE_SENT), 1);
        assert_int_equal(job_table_count(t, JOB_TABLE_SENT), 1);
        job_table_scheduler_unref(t, a1);
        job_table_scheduler_unref(t, a2);
}

static void test_scheduler_refcounts(void **state) {
        _cleanup_(job_table_freep) JobTable *t = NULL;
        JobTableScheduler *a, *again, *b;
        JobTableEntry *e;

        assert_int_equal(job_table_new(&t, 2), 0);
        a = job_table_scheduler_ref(t, "name.with:odd@chars/-_");
        assert_non_null(a);
        e = add(t, 1);
        assert_non_null(job_table_add_run(t, e, a, T0));
        assert_int_equal(apply(t, e, a, JOB_RUNNING, T0), 0);

        /* The scheduler went away: its name stays while its run does, with its counters. */
        job_table_scheduler_unref(t, a);
        assert_string_equal(job_table_scheduler_name(a), "name.with:odd@chars/-_");
        assert_int_equal(job_table_scheduler_count(a, JOB_RUNNING), 1);
        again = job_table_scheduler_ref(t, "name.with:odd@chars/-_");
        assert_ptr_equal(again, a);
        job_table_scheduler_unref(t, again);

        /* Its run leaves with the entry, and the name with it (ASan and valgrind see a leak or a
         * use after free); a new reference starts from zero. */
        add(t, 2);
        add(t, 3);
        assert_null(job_table_get(t, 1));
        assert_int_equal(job_table_count(t, JOB_RUNNING), 0);
        b = job_table_scheduler_ref(t, "name.with:odd@chars/-_");
        assert_non_null(b);
        for (int s = 0; s < _JOB_TABLE_STATE_MAX; s++)
                assert_int_equal(job_table_scheduler_count(b, s), 0);

        /* Freed with the table, references and all. */
        e = job_table_get(t, 3);
        assert_non_null(job_table_add_run(t, e, b, T0));
        assert_non_null(job_table_scheduler_ref(t, "still-referenced"));
        job_table_scheduler_unref(t, NULL);
}

static void test_forget_owner(void **state) {
        _cleanup_(job_table_freep) JobTable *t = NULL;
        int x, y;
        JobTableEntry *e;

        assert_int_equal(job_table_new(&t, 10), 0);
        /* 1, 5: x; 2, 4: y; 3, 6: nobody. */
        for (uint64_t id = 1; id <= 6; id++) {
                void *owner = id % 3 == 0 ? NULL : id % 2 ? (void *) &x : (void *) &y;

                assert_int_equal(job_table_add(t, id, 0, 0, T0, owner, NULL), 0);
        }
        job_table_forget_owner(t, &x);
        job_table_forget_owner(t, NULL);
        for (e = job_table_first(t); e; e = job_table_next(e))
                assert_ptr_equal(e->owner, e->id % 3 == 0 || e->id % 2 ? NULL : &y);
        job_table_forget_owner(t, &y);
        for (e = job_table_first(t); e; e = job_table_next(e))
                assert_null(e->owner);
}

/* --evict=suspend|requeue: a run goes back and forth without ending; resumed is running again from
 * its first start, requeued starts over (a new start). The bus's own ends: a held job cancelled, a
 * run taken back from a scheduler that left. */
static void test_suspend_requeue_and_bus_ends(void **state) {
        _cleanup_(job_table_freep) JobTable *t = NULL;
        JobTableScheduler *a, *b;
        JobTableEntry *e, *f, *g;
        JobTableRun *r;

        assert_int_equal(job_table_new(&t, 10), 0);
        a = job_table_scheduler_ref(t, "a");
        b = job_table_scheduler_ref(t, "b");
        e = add(t, 1);
        assert_non_null(job_table_add_run(t, e, a, T0));
        assert_int_equal(job_table_delivered(t, e), 0);

        assert_int_equal(apply(t, e, a, JOB_RUNNING, T0 + 1), 0);
        assert_int_equal(apply(t, e, a, JOB_SUSPENDED, T0 + 2), 0);
        r = job_table_find_run(e, a);
        assert_int_equal(r->state, JOB_SUSPENDED);
        assert_int_equal(e->n_open, 1);
        assert_false(e->final);
        assert_int_equal(job_table_entry_summary(e), JOB_SUSPENDED);
        assert_int_equal(job_table_scheduler_count(a, JOB_SUSPENDED), 1);
        assert_int_equal(job_table_scheduler_count(a, JOB_RUNNING), 0);

        assert_int_equal(apply(t, e, a, JOB_RESUMED, T0 + 3), 0);
        assert_int_equal(r->state, JOB_RUNNING);
        assert_int_equal(r->started_usec, T0 + 1); /* where it stopped, not a new start */
        assert_int_equal(job_table_scheduler_count(a, JOB_RUNNING), 1);

        assert_int_equal(apply(t, e, a, JOB_REQUEUED, T0 + 4), 0);
        assert_int_equal(job_table_entry_summary(e), JOB_REQUEUED);
        assert_int_equal(apply(t, e, a, JOB_RUNNING, T0 + 5), 0);
        assert_int_equal(r->started_usec, T0 + 5); /* it started over */
        assert_int_equal(apply(t, e, a, JOB_DONE, T0 + 6), 1);
        assert_true(e->final);
        assert_int_equal(job_table_entry_end(e), JOB_DONE);
        check_counts(t, (JobTableScheduler *[]){ a, b }, 2);

        /* Taken back from a, sent to b: its one run is b's. */
        f = add(t, 2);
        assert_non_null(job_table_add_run(t, f, a, T0));
        assert_int_equal(apply(t, f, a, JOB_QUEUED, T0 + 1), 0);
        assert_true(job_table_remove_run(t, f, a));
        assert_false(job_table_remove_run(t, f, a));
        assert_int_equal(f->n_runs, 0);
        assert_int_equal(f->n_open, 0);
        assert_non_null(job_table_add_run(t, f, b, T0 + 2));
        assert_int_equal(apply(t, f, b, JOB_DONE, T0 + 3), 1);
        assert_int_equal(job_table_entry_end(f), JOB_DONE);
        check_counts(t, (JobTableScheduler *[]){ a, b }, 2);

        /* Cancelled while the bus held it. */
        g = add(t, 3);
        job_table_cancel(t, g);
        assert_true(g->final);
        assert_int_equal(job_table_entry_end(g), JOB_CANCELLED);
        job_table_drop(t, g, T0); /* final already: nothing changes */
        assert_int_equal(job_table_entry_end(g), JOB_CANCELLED);

        job_table_scheduler_unref(t, a);
        job_table_scheduler_unref(t, b);
}

static void test_entry_bytes(void **state) {
        /* The sizes the header promises: runs are most of a job's memory. */
        assert_int_equal(sizeof(JobTableRun), 96);
        assert_int_equal(sizeof(JobTableEntry), 88);
        assert_true(job_table_entry_bytes(0) < job_table_entry_bytes(1));
        assert_true(job_table_entry_bytes(4) - job_table_entry_bytes(1) >= 3 * sizeof(JobTableRun));
        /* The budget: the default history of 10,000 jobs to one scheduler stays under 2.56 MB. A
         * field more in the entry moves it to the next malloc size class and over this line. */
        assert_true(job_table_entry_bytes(1) <= 256);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_state_strings),
                cmocka_unit_test(test_add_get_iterate),
                cmocka_unit_test(test_bounded_oldest_when_none_final),
                cmocka_unit_test(test_evicts_finished_first),
                cmocka_unit_test(test_lookups_after_many_evictions),
                cmocka_unit_test(test_probe_bound),
                cmocka_unit_test(test_counters_through_events),
                cmocka_unit_test(test_end),
                cmocka_unit_test(test_end_special),
                cmocka_unit_test(test_one_run_per_name),
                cmocka_unit_test(test_scheduler_refcounts),
                cmocka_unit_test(test_forget_owner),
                cmocka_unit_test(test_suspend_requeue_and_bus_ends),
                cmocka_unit_test(test_entry_bytes),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
