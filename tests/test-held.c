/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "held.h"
#include "macro.h"

#define T0 UINT64_C(1795788123000000)

/* A state directory of its own for each test, removed at the end. */
typedef struct TestDir {
        char path[64];
        int fd;
} TestDir;

static void test_dir_open(TestDir *d) {
        strcpy(d->path, "/tmp/test-held-XXXXXX");
        assert_non_null(mkdtemp(d->path));
        d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(d->fd >= 0);
}

static void test_dir_close(TestDir *d) {
        (void) unlinkat(d->fd, HELD_FILE, 0);
        (void) unlinkat(d->fd, HELD_FILE ".tmp", 0);
        d->fd = safe_close(d->fd);
        assert_int_equal(rmdir(d->path), 0);
}

static off_t file_size(const TestDir *d) {
        struct stat st;

        assert_int_equal(fstatat(d->fd, HELD_FILE, &st, 0), 0);
        return st.st_size;
}

static void write_file(const TestDir *d, const char *text) {
        _cleanup_close_ int fd = openat(d->fd, HELD_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
}

static json_t *payload(uint64_t id) {
        json_t *p = json_pack("{s:I, s:s, s:{s:f, s:[i, b, n]}}", "n", (json_int_t) id, "cmd",
                              "sleep 1 \n\"x\"", "nested", "f", 0.1 * (double) id, "list", 1, 1);

        assert_non_null(p);
        return p;
}

static HeldJob *job(uint64_t id, int priority) {
        _cleanup_(json_decrefp) json_t *p = payload(id);
        HeldJob *j = held_job_new(id, priority, 0.5 + (double) id / 3, T0 + id, p);

        assert_non_null(j);
        assert_ptr_equal(j->payload, p);
        return j;
}

static void push(Held *h, uint64_t id, int priority) {
        HeldJob *j = job(id, priority);

        assert_int_equal(held_push(h, j), 0);
        assert_ptr_equal(held_get(h, id), j);
}

static void pop_expect(Held *h, uint64_t id) {
        _cleanup_(held_job_freep) HeldJob *j = held_pop(h);

        assert_non_null(j);
        assert_int_equal(j->id, id);
        assert_null(held_get(h, id));
}

/* The Held's order, against ids[] (dispatch order): iteration, counts, and each job whole. */
static void check_jobs(Held *h, const uint64_t *ids, const int *priorities, size_t n) {
        size_t i = 0, per[PROTOCOL_PRIORITY_MAX + 1] = {};

        for (HeldJob *j = held_first(h); j; j = held_next(h, j), i++) {
                _cleanup_(json_decrefp) json_t *p = NULL;

                assert_true(i < n);
                assert_int_equal(j->id, ids[i]);
                assert_int_equal(j->priority, priorities[i]);
                assert_true(j->runtime == 0.5 + (double) ids[i] / 3);
                assert_int_equal(j->submitted_usec, T0 + ids[i]);
                p = payload(ids[i]);
                assert_true(json_equal(j->payload, p));
                assert_ptr_equal(held_get(h, j->id), j);
                per[j->priority]++;
        }
        assert_int_equal(i, n);
        assert_int_equal(held_size(h), n);
        for (int p = 0; p <= PROTOCOL_PRIORITY_MAX; p++)
                assert_int_equal(held_count_priority(h, p), per[p]);
        if (n > 0) {
                assert_int_equal(held_peek(h)->id, ids[0]);
                assert_int_equal(held_peek_least(h)->id, ids[n - 1]);
        } else {
                assert_null(held_peek(h));
                assert_null(held_peek_least(h));
        }
}

static void test_order(void **state) {
        _cleanup_(held_freep) Held *h = NULL;
        /* pushed in this order ... */
        static const uint64_t in_ids[] = { 5, 1, 7, 3, 2, 8, 4, 6, 9 };
        static const int in_prio[] = { 3, 3, 0, 10, 3, 0, 10, 5, 3 };
        /* ... held in this one: by priority, then id. */
        static const uint64_t ids[] = { 7, 8, 1, 2, 5, 9, 6, 3, 4 };
        static const int prio[] = { 0, 0, 3, 3, 3, 3, 5, 10, 10 };

        assert_int_equal(held_new(&h, -EBADF, 100), 0);
        assert_int_equal(held_max(h), 100);
        check_jobs(h, NULL, NULL, 0);
        assert_null(held_pop(h));
        for (size_t i = 0; i < ELEMENTSOF(in_ids); i++)
                push(h, in_ids[i], in_prio[i]);
        check_jobs(h, ids, prio, ELEMENTSOF(ids));
        assert_int_equal(held_count_priority(h, -1), 0);
        assert_int_equal(held_count_priority(h, 11), 0);

        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                check_jobs(h, ids + i, prio + i, ELEMENTSOF(ids) - i);
                pop_expect(h, ids[i]);
        }
        check_jobs(h, NULL, NULL, 0);
}

static void test_repush_older(void **state) {
        _cleanup_(held_freep) Held *h = NULL;
        _cleanup_(held_job_freep) HeldJob *j = NULL;

        assert_int_equal(held_new(&h, -EBADF, 100), 0);
        for (uint64_t id = 1; id <= 4; id++)
                push(h, id, 5);
        push(h, 10, 2);

        /* Taken for dispatch, the dispatch failed, pushed back: it is first again. */
        assert_int_equal(held_peek(h)->id, 10);
        j = held_pop(h);
        assert_int_equal(held_peek(h)->id, 1);
        assert_int_equal(held_push(h, TAKE_PTR(j)), 0);
        assert_int_equal(held_peek(h)->id, 10);
        pop_expect(h, 10);

        j = held_pop(h);
        assert_int_equal(j->id, 1);
        push(h, 5, 5);
        assert_int_equal(held_push(h, TAKE_PTR(j)), 0);
        /* Into the middle and at the head of a list, walking back from its tail. */
        push(h, 100, 5);
        j = held_remove(h, held_get(h, 3));
        assert_int_equal(held_push(h, TAKE_PTR(j)), 0);
        check_jobs(h, (const uint64_t[]){ 1, 2, 3, 4, 5, 100 }, (const int[]){ 5, 5, 5, 5, 5, 5 }, 6);
}

static void test_peek_least(void **state) {
        _cleanup_(held_freep) Held *h = NULL;

        assert_int_equal(held_new(&h, -EBADF, 3), 0);
        push(h, 1, 7);
        assert_int_equal(held_peek_least(h)->id, 1);
        push(h, 2, 9);
        push(h, 3, 9);
        push(h, 4, 0);
        /* the newest of the least urgent */
        assert_int_equal(held_peek_least(h)->id, 3);
        held_job_free(held_remove(h, held_peek_least(h)));
        assert_int_equal(held_peek_least(h)->id, 2);
        held_job_free(held_remove(h, held_peek_least(h)));
        assert_int_equal(held_peek_least(h)->id, 1);
        held_job_free(held_remove(h, held_peek_least(h)));
        assert_int_equal(held_peek_least(h)->id, 4);
        /* the bound is the caller's: push goes beyond it */
        for (uint64_t id = 10; id < 20; id++)
                push(h, id, 10);
        assert_int_equal(held_size(h), 11);
        assert_int_equal(held_max(h), 3);
        assert_int_equal(held_peek_least(h)->id, 19);
        assert_int_equal(held_peek(h)->id, 4);
}

static void test_remove(void **state) {
        _cleanup_(held_freep) Held *h = NULL;

        assert_int_equal(held_new(&h, -EBADF, 100), 0);
        for (uint64_t id = 1; id <= 6; id++)
                push(h, id, (int) id % 2);
        /* 0: 2 4 6, 1: 1 3 5 */
        held_job_free(held_remove(h, held_get(h, 4))); /* middle */
        held_job_free(held_remove(h, held_get(h, 2))); /* head */
        held_job_free(held_remove(h, held_get(h, 5))); /* tail */
        assert_null(held_get(h, 4));
        assert_null(held_get(h, 2));
        assert_null(held_get(h, 5));
        check_jobs(h, (const uint64_t[]){ 6, 1, 3 }, (const int[]){ 0, 1, 1 }, 3);
        /* the tails were kept right: new jobs go after them */
        push(h, 7, 1);
        push(h, 8, 0);
        push(h, 4, 1);
        check_jobs(h, (const uint64_t[]){ 6, 8, 1, 3, 4, 7 }, (const int[]){ 0, 0, 1, 1, 1, 1 }, 6);
        held_job_free(held_remove(h, held_get(h, 6)));
        held_job_free(held_remove(h, held_get(h, 8)));
        check_jobs(h, (const uint64_t[]){ 1, 3, 4, 7 }, (const int[]){ 1, 1, 1, 1 }, 4);
        push(h, 2, 0);
        check_jobs(h, (const uint64_t[]){ 2, 1, 3, 4, 7 }, (const int[]){ 0, 1, 1, 1, 1 }, 5);
}

static void test_refused(void **state) {
        _cleanup_(held_freep) Held *h = NULL;
        _cleanup_(held_job_freep) HeldJob *j = NULL;

        assert_int_equal(held_new(&h, -EBADF, 100), 0);
        push(h, 5, 3);
        /* the id is held, at another priority too: not taken */
        j = job(5, 3);
        assert_int_equal(held_push(h, j), -EEXIST);
        assert_false(j->linked);
        j->priority = 8;
        assert_int_equal(held_push(h, j), -EEXIST);
        j = held_job_free(j);
        check_jobs(h, (const uint64_t[]){ 5 }, (const int[]){ 3 }, 1);

        j = job(6, 11);
        assert_int_equal(held_push(h, j), -EINVAL);
        j->priority = -1;
        assert_int_equal(held_push(h, j), -EINVAL);
        j->priority = 10;
        j->runtime = NAN;
        assert_int_equal(held_push(h, j), -EINVAL);
        j->runtime = -1;
        assert_int_equal(held_push(h, j), -EINVAL);
        j->runtime = 1;
        j->id = 0;
        assert_int_equal(held_push(h, j), -EINVAL);
        j->id = (uint64_t) INT64_MAX + 1;
        assert_int_equal(held_push(h, j), -EINVAL);
        j->id = 6;
        assert_int_equal(held_size(h), 1);
        assert_int_equal(held_push(h, TAKE_PTR(j)), 0);
        assert_int_equal(held_size(h), 2);
}

static Held *held_open(const TestDir *d, int expect_loaded, size_t expect_bad) {
        Held *h = NULL;
        size_t bad = SIZE_MAX;

        assert_int_equal(held_new(&h, d->fd, 1000), 0);
        assert_int_equal(held_load(h, &bad), expect_loaded);
        assert_int_equal(bad, expect_bad);
        return h;
}

static void test_persist(void **state) {
        _cleanup_(held_freep) Held *h = NULL, *h2 = NULL;
        uint64_t ids[64];
        int prio[64];
        size_t n = 0;
        TestDir d;

        test_dir_open(&d);
        h = held_open(&d, 0, 0);
        assert_int_equal(file_size(&d), 0);
        for (uint64_t id = 1; id <= 60; id++)
                push(h, id, (int) (id * 7 % 11));
        assert_int_equal(held_flush(h), 0);
        assert_true(file_size(&d) > 0);
        assert_int_equal(held_flush(h), 0); /* nothing more */
        for (int i = 0; i < 12; i++)
                held_job_free(held_pop(h));
        held_job_free(held_remove(h, held_get(h, 60)));
        held_job_free(held_remove(h, held_peek_least(h)));
        assert_int_equal(held_flush(h), 0);

        for (HeldJob *j = held_first(h); j; j = held_next(h, j), n++) {
                ids[n] = j->id;
                prio[n] = j->priority;
        }
        assert_int_equal(n, 46);

        /* What a bus killed here leaves: the first Held is still alive and has flushed. */
        h2 = held_open(&d, 46, 0);
        check_jobs(h2, ids, prio, n);
        h2 = held_free(h2);

        /* Records not flushed are not in the file. */
        push(h, 100, 0);
        held_job_free(held_pop(h));
        held_job_free(held_pop(h));
        h = held_free(h);
        h = held_open(&d, 46, 0);
        check_jobs(h, ids, prio, n);

        /* Appending after a load, and a job pushed back with an older id. */
        pop_expect(h, ids[0]);
        push(h, ids[0], prio[0]);
        push(h, 200, 10);
        ids[n] = 200;
        prio[n++] = 10;
        assert_int_equal(held_flush(h), 0);
        h = held_free(h);
        h = held_open(&d, 47, 0);
        check_jobs(h, ids, prio, n);

        h = held_free(h);
        test_dir_close(&d);
}

static void test_bad_lines(void **state) {
        /* Two jobs survive: 3 and 9. Twelve lines are bad; "-999" is only ignored. */
        static const char text[] =
                "+{\"id\":3,\"priority\":4,\"runtime\":1.5,\"submitted\":1795788123000000,"
                "\"payload\":{\"a\":[1,2]}}\n"
                "garbage\n"
                "\n"
                "+{\"id\":4,\"priority\":11,\"runtime\":1,\"submitted\":1,\"payload\":{}}\n"
                "+{\"id\":5,\"priority\":1,\"runtime\":-1,\"submitted\":1,\"payload\":{}}\n"
                "+{\"id\":6,\"priority\":1,\"runtime\":1,\"submitted\":1,\"payload\":[]}\n"
                "+{\"id\":0,\"priority\":1,\"runtime\":1,\"submitted\":1,\"payload\":{}}\n"
                "+{\"id\":\"7\",\"priority\":1,\"runtime\":1,\"submitted\":1,\"payload\":{}}\n"
                "+{\"id\":8,\"priority\":1,\"runtime\":1,\"submitted\":1,\"payload\":{}} x\n"
                "+{\"id\":3,\"priority\":0,\"runtime\":1,\"submitted\":1,\"payload\":{}}\n" /* id held */
                "-abc\n"
                "-\n"
                "-999\n"
                "+{\"id\":9,\"priority\":0,\"runtime\":2,\"submitted\":5,\"payload\":{\"b\":\"\\u0000\"}}\n"
                "+{\"id\":10,\"priority\":0,\"runtime\":2,\"submitted\":5,\"payload\":{}}\n"
                "-10\n"
                "+{\"id\":11,\"priority\":0,\"runtime\":2,\"submitted\":5,\"payl"; /* cut short */
        _cleanup_(held_freep) Held *h = NULL;
        TestDir d;

        test_dir_open(&d);
        write_file(&d, text);

        h = held_open(&d, 2, 12);
        assert_int_equal(held_peek(h)->id, 9);
        assert_true(held_peek(h)->runtime == 2);
        assert_int_equal(held_peek(h)->submitted_usec, 5);
        assert_int_equal(held_peek_least(h)->id, 3);
        assert_int_equal(held_peek_least(h)->priority, 4);
        assert_int_equal(held_peek_least(h)->submitted_usec, T0);
        assert_true(held_peek_least(h)->runtime == 1.5);
        assert_int_equal(
                json_integer_value(json_array_get(json_object_get(held_peek_least(h)->payload, "a"), 1)), 2);

        /* Rewritten compacted: two lines, that load without a bad one. */
        assert_true(file_size(&d) < 200);
        h = held_free(h);
        h = held_open(&d, 2, 0);
        assert_int_equal(held_peek(h)->id, 9);
        assert_int_equal(json_string_length(json_object_get(held_peek(h)->payload, "b")), 1);

        h = held_free(h);
        test_dir_close(&d);
}

static void test_truncate_when_empty(void **state) {
        _cleanup_(held_freep) Held *h = NULL;
        TestDir d;

        test_dir_open(&d);
        h = held_open(&d, 0, 0);
        for (uint64_t id = 1; id <= 5; id++)
                push(h, id, 2);
        assert_int_equal(held_flush(h), 0);
        assert_true(file_size(&d) > 0);
        while (held_size(h) > 0)
                held_job_free(held_pop(h));
        assert_int_equal(held_flush(h), 0);
        assert_int_equal(file_size(&d), 0);

        /* and appending goes on from there */
        push(h, 6, 2);
        assert_int_equal(held_flush(h), 0);
        assert_true(file_size(&d) > 0);
        h = held_free(h);
        h = held_open(&d, 1, 0);
        assert_int_equal(held_peek(h)->id, 6);
        held_job_free(held_pop(h));
        assert_int_equal(held_flush(h), 0);
        assert_int_equal(file_size(&d), 0);
        h = held_free(h);
        h = held_open(&d, 0, 0);

        h = held_free(h);
        test_dir_close(&d);
}

static void test_compaction(void **state) {
        _cleanup_(held_freep) Held *h = NULL;
        off_t line, max_seen = 0;
        uint64_t id = 1;
        TestDir d;

        test_dir_open(&d);
        h = held_open(&d, 0, 0);
        /* A bound on the "+" lines of these jobs: ids of 5 digits, reals of 17. */
        push(h, 29999, 10);
        assert_int_equal(held_flush(h), 0);
        line = file_size(&d) + 8;
        held_job_free(held_pop(h));

        /* 20 live, through many push/pop cycles, flushed after each; never all popped at once, so
         * the file is never truncated: only compaction keeps it small. */
        for (; id <= 20; id++)
                push(h, id, (int) (id % 11));
        for (int i = 0; i < 30000; i++, id++) {
                push(h, id, (int) (id % 11));
                held_job_free(held_pop(h));
                assert_int_equal(held_flush(h), 0);
                max_seen = MAX(max_seen, file_size(&d));
        }
        /* At most 2 * 20 + HELD_SLACK records before a rewrite, "-" lines being the shorter. */
        assert_true(max_seen <= (2 * 20 + HELD_SLACK + 2) * line);
        assert_true(max_seen > 100 * line); /* it did grow: the records were appended */
        assert_int_equal(held_size(h), 20);

        h = held_free(h);
        h = held_open(&d, 20, 0);
        assert_true(file_size(&d) <= 20 * line);
        h = held_free(h);
        test_dir_close(&d);
}

static void test_write_error(void **state) {
        _cleanup_(held_freep) Held *h = NULL;
        struct rlimit saved, small;
        uint64_t ids[11];
        int prio[11];
        TestDir d;

        test_dir_open(&d);
        h = held_open(&d, 0, 0);
        for (uint64_t id = 1; id <= 10; id++) {
                ids[id - 1] = id;
                prio[id - 1] = 4;
                push(h, id, 4);
        }

        /* A file that cannot grow: the flush fails, part of the buffer may be written. */
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
        small = saved;
        small.rlim_cur = 300;
        assert_se(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
        assert_int_equal(held_flush(h), -EFBIG);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
        check_jobs(h, ids, prio, 10);

        /* Nothing more is buffered, and the next flush puts the file right. */
        push(h, 11, 4);
        ids[10] = 11;
        prio[10] = 4;
        assert_int_equal(held_flush(h), 0);
        assert_int_equal(held_flush(h), 0);
        h = held_free(h);
        h = held_open(&d, 11, 0);
        check_jobs(h, ids, prio, 11);

        h = held_free(h);
        test_dir_close(&d);
}

static void test_memory_only(void **state) {
        _cleanup_(held_freep) Held *h = NULL;
        size_t bad = 7;

        assert_int_equal(held_new(&h, -EBADF, 10), 0);
        assert_int_equal(held_load(h, &bad), 0);
        assert_int_equal(bad, 0);
        for (uint64_t id = 1; id <= 2000; id++)
                push(h, id, 3);
        assert_int_equal(held_flush(h), 0);
        for (uint64_t id = 1; id <= 1990; id++)
                pop_expect(h, id);
        assert_int_equal(held_flush(h), 0);
        assert_int_equal(held_size(h), 10);
        assert_int_equal(held_peek(h)->id, 1991);
        assert_int_equal(held_peek_least(h)->id, 2000);
}

static void test_job_size(void **state) {
        /* The header's promise: an 80-byte malloc chunk per job. */
        assert_int_equal(sizeof(HeldJob), 64);
}

/* held_bytes() follows every way in and out. */
static void test_bytes(void **state) {
        _cleanup_(held_freep) Held *h = NULL;
        _cleanup_(json_decrefp) json_t *payload = json_pack("{s:i, s:i}", "priority", 1, "runtime", 2);
        HeldJob *j;

        assert_int_equal(held_new(&h, -EBADF, 10), 0);
        for (uint64_t id = 1; id <= 3; id++) {
                j = held_job_new(id, (int) id, 1, 0, payload);
                assert_non_null(j);
                j->bytes = 100 * id;
                assert_int_equal(held_push(h, j), 0);
        }
        assert_int_equal(held_bytes(h), 600);
        held_job_free(held_pop(h));
        assert_int_equal(held_bytes(h), 500);
        held_job_free(held_remove(h, held_get(h, 3)));
        assert_int_equal(held_bytes(h), 200);
        held_job_free(held_remove(h, held_peek_least(h)));
        assert_int_equal(held_bytes(h), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_order),       cmocka_unit_test(test_repush_older),
                cmocka_unit_test(test_peek_least),  cmocka_unit_test(test_remove),
                cmocka_unit_test(test_refused),     cmocka_unit_test(test_persist),
                cmocka_unit_test(test_bad_lines),   cmocka_unit_test(test_truncate_when_empty),
                cmocka_unit_test(test_compaction),  cmocka_unit_test(test_write_error),
                cmocka_unit_test(test_memory_only), cmocka_unit_test(test_job_size),
                cmocka_unit_test(test_bytes),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
