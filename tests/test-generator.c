/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "job-generator.h"

#define DRAWS 10000

static void test_ranges_and_coverage(void **state) {
        bool seen_runtime[JOB_GENERATOR_RUNTIME_MAX + 1] = {};
        bool seen_priority[JOB_GENERATOR_PRIORITY_MAX + 1] = {};
        JobGenerator g;

        job_generator_init(&g, 42, 5, false, 2);
        for (int i = 0; i < DRAWS; i++) {
                int rt = job_generator_runtime(&g), pr = job_generator_priority(&g);

                assert_in_range(rt, JOB_GENERATOR_RUNTIME_MIN, JOB_GENERATOR_RUNTIME_MAX);
                assert_in_range(pr, JOB_GENERATOR_PRIORITY_MIN, JOB_GENERATOR_PRIORITY_MAX);
                seen_runtime[rt] = true;
                seen_priority[pr] = true;
        }
        for (int v = JOB_GENERATOR_RUNTIME_MIN; v <= JOB_GENERATOR_RUNTIME_MAX; v++)
                assert_true(seen_runtime[v]);
        for (int v = JOB_GENERATOR_PRIORITY_MIN; v <= JOB_GENERATOR_PRIORITY_MAX; v++)
                assert_true(seen_priority[v]);
}

static void test_uniform_is_flat(void **state) {
        int counts[11] = {};
        JobGenerator g;

        job_generator_init(&g, 7, 5, false, 2);
        for (int i = 0; i < 110000; i++)
                counts[job_generator_uniform(&g, 0, 10)]++;
        /* Each bucket expects 10000; 5 % is over 15 standard deviations. */
        for (int v = 0; v <= 10; v++)
                assert_in_range(counts[v], 9500, 10500);
}

static void test_gauss_moments(void **state) {
        double sum = 0, sum2 = 0, mean, sd;
        JobGenerator g;

        /* Period 20, sigma 2: the 0.005 floor is 10 sigma away and does not bend the moments. */
        job_generator_init(&g, 1234, 20, true, 2);
        for (int i = 0; i < DRAWS; i++) {
                double w = job_generator_wait(&g);

                assert_true(w >= JOB_GENERATOR_WAIT_MIN);
                sum += w;
                sum2 += w * w;
        }
        mean = sum / DRAWS;
        sd = sqrt(sum2 / DRAWS - mean * mean);
        assert_true(fabs(mean - 20) < 20 * 0.05);
        assert_true(fabs(sd - 2) < 2 * 0.05);
}

static void test_gauss_floor(void **state) {
        unsigned floored = 0;
        JobGenerator g;

        /* The seed's defaults: period 5, sigma 2 — with period 0.1 most draws hit the floor. */
        job_generator_init(&g, 99, 0.1, true, 2);
        for (int i = 0; i < DRAWS; i++) {
                double w = job_generator_wait(&g);

                assert_true(w >= JOB_GENERATOR_WAIT_MIN);
                floored += w == JOB_GENERATOR_WAIT_MIN;
        }
        assert_true(floored > DRAWS / 3);
}

static void test_fixed_period(void **state) {
        JobGenerator g;

        job_generator_init(&g, 5, 0.25, false, 2);
        for (int i = 0; i < 100; i++)
                assert_true(job_generator_wait(&g) == 0.25);
}

static void test_same_seed_same_sequence(void **state) {
        JobGenerator a, b, c;
        bool differs = false;

        job_generator_init(&a, 2024, 5, true, 2);
        job_generator_init(&b, 2024, 5, true, 2);
        job_generator_init(&c, 2025, 5, true, 2);
        for (int i = 0; i < 1000; i++) {
                assert_int_equal(job_generator_runtime(&a), job_generator_runtime(&b));
                assert_int_equal(job_generator_priority(&a), job_generator_priority(&b));
                assert_true(job_generator_wait(&a) == job_generator_wait(&b));
                differs |= job_generator_next_u64(&a) != job_generator_next_u64(&c);
                (void) job_generator_next_u64(&b);
        }
        assert_true(differs);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ranges_and_coverage), cmocka_unit_test(test_uniform_is_flat),
                cmocka_unit_test(test_gauss_moments),       cmocka_unit_test(test_gauss_floor),
                cmocka_unit_test(test_fixed_period),        cmocka_unit_test(test_same_seed_same_sequence),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
