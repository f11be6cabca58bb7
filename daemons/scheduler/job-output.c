/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>

#include "job-log.h"
#include "job-output.h"

#define OUTPUT_LINE_MAX 2048

struct JobOutput {
        uint64_t id;
        int priority;
        int read_fd;
        int write_fd; /* until the child is spawned */
        sd_event_source *source;
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

static void job_output_flush_line(JobOutput *o) {
        LogJob lj = { .id = o->id, .priority = o->priority, .runtime = -1, .state = _JOB_STATE_INVALID };

        assert(o);

        if (o->line_size == 0)
                return;
        log_job(LOG_INFO, &lj, "job %" PRIu64 ": %.*s", o->id, (int) o->line_size, o->line);
        o->line_size = 0;
}

/* Reads what the job wrote; returns false at end of file. */
static bool job_output_read(JobOutput *o) {
        char buf[4096];
        ssize_t n;

        assert(o);

        for (;;) {
                n = read(o->read_fd, buf, sizeof buf);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR;
                if (n == 0) {
                        job_output_flush_line(o);
                        return false;
                }
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == '\n' || o->line_size == sizeof o->line) {
                                job_output_flush_line(o);
                                if (buf[i] == '\n')
                                        continue;
                        }
                        o->line[o->line_size++] = buf[i];
                }
        }
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        JobOutput *o = ASSERT_PTR(userdata);

        if (!job_output_read(o))
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
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        o->read_fd = fds[0];
        o->write_fd = fds[1];
        if (fcntl(o->read_fd, F_SETFL, O_NONBLOCK) < 0)
                return -errno;

        r = sd_event_add_io(e, &o->source, o->read_fd, EPOLLIN, on_output, o);
        if (r < 0)
                return r;
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

        if (o->source)
                (void) job_output_read(o);
        job_output_flush_line(o);
}
