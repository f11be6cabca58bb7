/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>

#include "job-log.h"
#include "job-output.h"
#include "ratelimit.h"
#include "time-util.h"

#define OUTPUT_LINE_MAX 2048
/* One read per wakeup, so that a job that writes without pause costs the loop a bounded slice. */
#define OUTPUT_READ_MAX (64 * 1024)
/* What is read at the job's end at the most: a writer that escaped the kill cannot keep us here. */
#define OUTPUT_DRAIN_READS 4
/* Lines logged per job; beyond, lines are counted and the count is logged. */
#define OUTPUT_LINES_INTERVAL_USEC USEC_PER_SEC
#define OUTPUT_LINES_BURST         100

struct JobOutput {
        uint64_t id;
        int priority;
        int read_fd;
        int write_fd; /* until the child is spawned */
        sd_event_source *source;
        RateLimit lines;
        size_t line_size;
        char line[OUTPUT_LINE_MAX];
};

JobOutput *job_output_free(JobOutput *o) {
        if (!o)
                return NULL;
        sd_event_source_disable_unref(o->source);
        safe_close(o->read_fd);
        safe_close(o->write_fd);
        return mfree(o);
}

static LogJob job_output_log_job(const JobOutput *o) {
        return (LogJob){ .id = o->id, .priority = o->priority, .runtime = -1, .state = _JOB_STATE_INVALID };
}

static void job_output_report_suppressed(JobOutput *o) {
        unsigned n = ratelimit_take_suppressed(&o->lines);
        LogJob lj = job_output_log_job(o);

        if (n > 0)
                log_job(LOG_NOTICE, &lj,
                        "Job %" PRIu64 ": %u lines of output suppressed (more than %u a second).", o->id, n,
                        OUTPUT_LINES_BURST);
}

static void job_output_flush_line(JobOutput *o, uint64_t now) {
        LogJob lj = job_output_log_job(o);
        char text[OUTPUT_LINE_MAX * 4 + 8];

        if (o->line_size == 0)
                return;
        if (ratelimit_below(&o->lines, now)) {
                job_output_report_suppressed(o);
                log_job(LOG_INFO, &lj, "job %" PRIu64 ": %s", o->id,
                        log_outside(o->line, o->line_size, text, sizeof text));
        }
        o->line_size = 0;
}

/* One read, its lines logged: the bytes read, 0 at end of file, or -errno (-EAGAIN: nothing yet). */
static ssize_t job_output_read(JobOutput *o) {
        char buf[OUTPUT_READ_MAX];
        uint64_t now;
        ssize_t n;

        n = read(o->read_fd, buf, sizeof buf);
        if (n < 0)
                return errno == EINTR ? -EAGAIN : -errno;
        now = now_usec(CLOCK_MONOTONIC);
        if (n == 0) {
                job_output_flush_line(o, now);
                return 0;
        }
        for (ssize_t i = 0; i < n; i++) {
                if (buf[i] == '\n' || o->line_size == sizeof o->line) {
                        job_output_flush_line(o, now);
                        if (buf[i] == '\n')
                                continue;
                }
                o->line[o->line_size++] = buf[i];
        }
        return n;
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        JobOutput *o = ASSERT_PTR(userdata);

        ssize_t n = job_output_read(o);

        if (n == 0 || (n < 0 && n != -EAGAIN))
                o->source = sd_event_source_disable_unref(o->source);
        return 0;
}

int job_output_new(JobOutput **ret, sd_event *e, uint64_t id, int priority, int *ret_write_fd) {
        _cleanup_(job_output_freep) JobOutput *o = NULL;
        int fds[2], r;

        assert(ret);
        assert(e);
        assert(ret_write_fd);

        o = calloc(1, sizeof *o);
        if (!o)
                return -ENOMEM;
        o->id = id;
        o->priority = priority;
        o->read_fd = o->write_fd = -EBADF;
        o->lines = RATELIMIT_INIT(OUTPUT_LINES_INTERVAL_USEC, OUTPUT_LINES_BURST);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        o->read_fd = fds[0];
        o->write_fd = fds[1];
        if (fcntl(o->read_fd, F_SETFL, O_NONBLOCK) < 0)
                return -errno;

        r = sd_event_add_io(e, &o->source, o->read_fd, EPOLLIN, on_output, o);
        if (r < 0)
                return r;
        /* Below timers, signals, child exits and the bus: those are never late for a chatty job. */
        (void) sd_event_source_set_priority(o->source, SD_EVENT_PRIORITY_NORMAL + 20);
        (void) sd_event_source_set_description(o->source, "job-output");

        *ret_write_fd = o->write_fd;
        *ret = TAKE_PTR(o);
        return 0;
}

void job_output_spawned(JobOutput *o) {
        assert(o);
        o->write_fd = safe_close(o->write_fd);
}

void job_output_drain(JobOutput *o) {
        assert(o);

        for (unsigned i = 0; o->source && i < OUTPUT_DRAIN_READS; i++)
                if (job_output_read(o) <= 0)
                        break;
        job_output_flush_line(o, 0);
        job_output_report_suppressed(o);
}
