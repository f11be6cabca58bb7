/* SPDX-License-Identifier: MIT */
/*
 * bench-timeout-job: the job that bench-timeout has sched-scheduler run. It notes CLOCK_MONOTONIC
 * as soon as main() runs, waits SCHED_JOB_RUNTIME seconds for a SIGTERM, and appends one line to
 * FILE: "ID START_NS TERM_NS" (TERM_NS 0 when no SIGTERM came), then exits 0. CLOCK_MONOTONIC is
 * the same clock in every process, so the benchmark can compare it with its own.
 *
 * `bench-timeout-job --probe` writes only its start time to stdout: the benchmark measures with it
 * how long after posix_spawn() returns a job's main() begins.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

int main(int argc, char *argv[]) {
        uint64_t start = now_ns(), term = 0;
        const char *id = getenv("SCHED_JOB_ID"), *runtime = getenv("SCHED_JOB_RUNTIME");
        double seconds = runtime ? strtod(runtime, NULL) : 0;
        struct timespec wait;
        char line[96];
        sigset_t ss;
        int fd, n;

        if (argc == 2 && strcmp(argv[1], "--probe") == 0) {
                printf("%" PRIu64 "\n", start);
                return 0;
        }
        if (argc != 2) {
                fprintf(stderr, "Usage: bench-timeout-job FILE | --probe\n");
                return 2;
        }

        /* Taken synchronously: the time is read the moment the wait ends, not in a handler. */
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        (void) sigprocmask(SIG_BLOCK, &ss, NULL);
        wait.tv_sec = (time_t) seconds;
        wait.tv_nsec = (long) ((seconds - (double) wait.tv_sec) * 1e9);
        for (;;) {
                int sig = sigtimedwait(&ss, NULL, &wait);

                if (sig == SIGTERM)
                        term = now_ns();
                if (sig >= 0 || errno != EINTR)
                        break;
        }

        n = snprintf(line, sizeof line, "%s %" PRIu64 " %" PRIu64 "\n", id ?: "0", start, term);
        fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        /* One write() with O_APPEND: lines of concurrent jobs never interleave. */
        if (fd < 0 || write(fd, line, (size_t) n) != n)
                return 1;
        close(fd);
        return 0;
}
