/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "job-generator.h"
#include "macro.h"

static uint64_t rotl(uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
}

/* splitmix64 spreads one seed over the four words of state. */
static uint64_t splitmix64(uint64_t *x) {
        uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

        assert(x);

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

void job_generator_init(JobGenerator *g, uint64_t seed, double period, bool gauss, double sigma) {
        assert(g);

        *g = (JobGenerator){ .period = period, .sigma = sigma, .gauss = gauss };
        for (size_t i = 0; i < ELEMENTSOF(g->state); i++)
                g->state[i] = splitmix64(&seed);
}

uint64_t job_generator_random_seed(void) {
        uint64_t seed;

        if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == sizeof seed)
                return seed;
        return (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32);
}

uint64_t job_generator_next_u64(JobGenerator *g) {
        uint64_t *s = g->state;
        uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

        assert(g);

        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
}

double job_generator_uniform01(JobGenerator *g) {
        assert(g);

        return (double) (job_generator_next_u64(g) >> 11) * 0x1.0p-53;
}

int job_generator_uniform(JobGenerator *g, int lo, int hi) {
        uint64_t span = (uint64_t) ((int64_t) hi - lo) + 1, limit, v;

        assert(g);

        /* Rejection keeps every value equally likely. */
        limit = UINT64_MAX - UINT64_MAX % span;
        do
                v = job_generator_next_u64(g);
        while (v >= limit);
        return lo + (int) (v % span);
}

double job_generator_gauss(JobGenerator *g, double mu, double sigma) {
        double u, v, s;

        assert(g);

        if (g->have_spare) {
                g->have_spare = false;
                return mu + sigma * g->spare;
        }
        do {
                u = 2 * job_generator_uniform01(g) - 1;
                v = 2 * job_generator_uniform01(g) - 1;
                s = u * u + v * v;
        } while (s >= 1 || s == 0);
        s = sqrt(-2 * log(s) / s);
        g->spare = v * s;
        g->have_spare = true;
        return mu + sigma * u * s;
}

int job_generator_priority(JobGenerator *g) {
        assert(g);

        return job_generator_uniform(g, JOB_GENERATOR_PRIORITY_MIN, JOB_GENERATOR_PRIORITY_MAX);
}

int job_generator_runtime(JobGenerator *g) {
        assert(g);

        return job_generator_uniform(g, JOB_GENERATOR_RUNTIME_MIN, JOB_GENERATOR_RUNTIME_MAX);
}

double job_generator_wait(JobGenerator *g) {
        double w;

        assert(g);

        if (!g->gauss)
                return g->period;
        w = job_generator_gauss(g, g->period, g->sigma);
        return MAX(w, JOB_GENERATOR_WAIT_MIN);
}
