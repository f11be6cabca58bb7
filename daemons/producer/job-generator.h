/* SPDX-License-Identifier: MIT */
/*
 * JobGenerator: the producer's source of test jobs and waits — runtime uniform in 3..15, priority
 * uniform in 0..10, the wait either the fixed period or max(gauss(period, sigma), 0.005). A seeded
 * xoshiro256** generator, so the same seed gives the same sequence. Embedded by value in its owner.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define JOB_GENERATOR_RUNTIME_MIN  3
#define JOB_GENERATOR_RUNTIME_MAX  15
#define JOB_GENERATOR_PRIORITY_MIN 0
#define JOB_GENERATOR_PRIORITY_MAX 10
#define JOB_GENERATOR_WAIT_MIN     0.005

typedef struct JobGenerator {
        uint64_t state[4];
        double period, sigma;
        bool gauss;
        bool have_spare; /* Box-Muller makes normal deviates in pairs */
        double spare;
} JobGenerator;

void job_generator_init(JobGenerator *g, uint64_t seed, double period, bool gauss, double sigma);
/* A seed from the kernel's random pool, for runs without --seed. */
uint64_t job_generator_random_seed(void);

uint64_t job_generator_next_u64(JobGenerator *g);
/* Uniform integer in [lo, hi]. */
int job_generator_uniform(JobGenerator *g, int lo, int hi);
/* Uniform double in [0, 1). */
double job_generator_uniform01(JobGenerator *g);
double job_generator_gauss(JobGenerator *g, double mu, double sigma);

int job_generator_priority(JobGenerator *g);
int job_generator_runtime(JobGenerator *g);
/* Seconds until the next job. */
double job_generator_wait(JobGenerator *g);
