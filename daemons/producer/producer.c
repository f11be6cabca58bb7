/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-link.h"
#include "event-util.h"
#include "format-util.h"
#include "job-generator.h"
#include "job-log.h"
#include "log.h"
#include "producer.h"
#include "hashmap.h"
#include "protocol.h"
#include "ring.h"

/* How often a finished producer checks that its last frames left the send queue. */
#define DRAIN_POLL_USEC (5 * USEC_PER_MSEC)
/* Jobs made while the bus is away, sent when it is back; beyond, the oldest are lost (and said). */
#define BACKLOG_MAX 10000
/* Ids of dropped jobs named at the end; more are counted. */
#define DROPPED_NAMED_MAX 20

/* A job made while the bus was away. */
typedef struct PendingJob {
        int priority;
        double runtime;
} PendingJob;

struct Producer {
        ProducerConfig config;
        sd_event *event;
        BusLink *link;
        JobGenerator generator;
        sd_event_source *send_source, *deadline_source, *drain_source;

        uint64_t n_made;              /* jobs the schedule made */
        uint64_t n_sent;              /* handed to a connection */
        Ring backlog;                 /* PendingJob: made while the bus was away */
        uint64_t n_backlog_lost;      /* made while it was away, beyond BACKLOG_MAX */
        uint64_t n_accepted;          /* "accepted" from the bus, in the order sent */
        uint64_t n_unconfirmed;       /* sent, but the connection went before the bus answered */
        U64Map *unsettled;            /* accepted ids whose first event (where it went) is to come */
        uint64_t n_ended, n_not_done; /* final events */
        uint64_t dropped[DROPPED_NAMED_MAX], n_dropped;
        bool finishing;     /* every job is made */
        bool waiting;       /* drained, waiting for the bus's answers */
        uint64_t next_usec; /* CLOCK_MONOTONIC time of the next job */
        bool connected_once;
        char last_error[128]; /* why the last attempt failed, before the first connection */
        int exit_code;
};

Producer *producer_free(Producer *p) {
        if (!p)
                return NULL;
        p->link = bus_link_free(p->link);
        sd_event_source_disable_unref(p->send_source);
        sd_event_source_disable_unref(p->deadline_source);
        sd_event_source_disable_unref(p->drain_source);
        ring_done(&p->backlog);
        u64_map_free(p->unsettled);
        sd_event_unref(p->event);
        return mfree(p);
}

int producer_new(Producer **ret, const ProducerConfig *config) {
        _cleanup_free_ Producer *p = calloc(1, sizeof *p);
        int r;

        assert(ret);
        assert(config);

        if (!p)
                return -ENOMEM;
        r = u64_map_new(&p->unsettled);
        if (r < 0)
                return r;
        p->config = *config;
        p->backlog = RING_INIT(PendingJob);
        job_generator_init(&p->generator, config->have_seed ? config->seed : job_generator_random_seed(),
                           config->period, config->gauss, config->sigma);
        *ret = TAKE_PTR(p);
        return 0;
}

static void producer_exit(Producer *p, int code) {
        assert(p);

        p->exit_code = code;
        (void) sd_event_exit(p->event, code);
}

/* The last word: what the bus said of our jobs. Dropped ones are named; jobs that may be lost (sent
 * as the bus went away, or made beyond the backlog) are counted. */
static void producer_conclude(Producer *p, bool answered) {
        int code = 0;

        assert(p);

        if (p->n_dropped > 0) {
                char list[DROPPED_NAMED_MAX * 21 + 32] = "";
                size_t n = 0;

                for (uint64_t i = 0; i < MIN(p->n_dropped, (uint64_t) DROPPED_NAMED_MAX); i++)
                        n += (size_t) snprintf(list + n, sizeof list - n, "%s%" PRIu64, i ? ", " : "",
                                               p->dropped[i]);
                if (p->n_dropped > DROPPED_NAMED_MAX)
                        (void) snprintf(list + n, sizeof list - n, ", ...");
                log_error("The bus dropped %" PRIu64 " of %" PRIu64 " jobs: %s.", p->n_dropped, p->n_sent,
                          list);
                code = PRODUCER_EXIT_NOT_DONE;
        }
        if (p->n_unconfirmed + p->n_backlog_lost > 0) {
                log_error("%" PRIu64
                          " jobs may be lost: sent as the bus went away, or made while it was away "
                          "beyond %u waiting.",
                          p->n_unconfirmed + p->n_backlog_lost, BACKLOG_MAX);
                if (code == 0)
                        code = PRODUCER_EXIT_LOST;
        }
        if (p->config.wait && answered)
                log_info("All %" PRIu64 " jobs ended, %" PRIu64 " of them not done.", p->n_ended,
                         p->n_not_done);
        else if (code == 0)
                log_info("Sent %" PRIu64 " job%s, done.", p->n_sent, p->n_sent == 1 ? "" : "s");
        if (p->config.wait && p->n_not_done > 0 && code == 0)
                code = PRODUCER_EXIT_NOT_DONE;
        producer_exit(p, code);
}

/* Every job made, sent and answered: accepted and placed (its first event), or with --wait ended. */
static void producer_maybe_done(Producer *p) {
        assert(p);

        if (!p->waiting || p->n_accepted + p->n_unconfirmed < p->n_sent)
                return;
        if (p->config.wait ? p->n_ended < p->n_accepted : u64_map_size(p->unsettled) > 0)
                return;
        producer_conclude(p, true);
}

static int on_answer_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Producer *p = ASSERT_PTR(userdata);

        if (p->n_accepted + p->n_unconfirmed < p->n_sent) {
                log_error("The bus acknowledged %" PRIu64 " of %" PRIu64
                          " jobs within %.1f s (a sched-bus that "
                          "does not report jobs?).",
                          p->n_accepted, p->n_sent, (double) p->config.connect_timeout_usec / USEC_PER_SEC);
                producer_exit(p, p->config.wait ? 1 : 0);
                return 0;
        }
        /* Accepted, but where they went was not heard of in time: a busy scheduler. Only --wait needs more.
         */
        if (!p->config.wait)
                producer_conclude(p, false);
        return 0;
}

static int on_drain(sd_event_source *s, uint64_t usec, void *userdata) {
        Producer *p = ASSERT_PTR(userdata);

        if (bus_link_is_connected(p->link) && bus_link_queued(p->link) == 0 && ring_size(&p->backlog) == 0) {
                if (p->config.wait)
                        log_info("Sent %" PRIu64 " job%s, waiting for them to end.", p->n_sent,
                                 p->n_sent == 1 ? "" : "s");
                p->waiting = true;
                (void) sd_event_add_time_relative(p->event, NULL, CLOCK_MONOTONIC,
                                                  p->config.connect_timeout_usec, USEC_PER_MSEC,
                                                  on_answer_timeout, p);
                producer_maybe_done(p);
                return 0;
        }
        (void) event_timer_arm(p->event, &s, DRAIN_POLL_USEC, 0, NULL, NULL, NULL, false);
        return 0;
}

/* Every job is made: wait for the last frames to leave and for the bus's answers. */
static void producer_finish(Producer *p) {
        int r;

        assert(p);

        p->finishing = true;
        (void) sd_event_source_set_enabled(p->send_source, SD_EVENT_OFF);
        r = sd_event_add_time_relative(p->event, &p->drain_source, CLOCK_MONOTONIC, 0, 0, on_drain, p);
        if (r < 0) {
                log_error_errno(r, "Failed to wait for the last frames to leave: %m");
                producer_exit(p, 1);
        }
}

static int producer_send(Producer *p, int priority, double runtime) {
        _cleanup_free_ char *text = NULL;
        char ref[32];
        size_t size;
        int r;

        assert(p);

        /* The ref numbers our jobs; answers come in the order sent. */
        (void) snprintf(ref, sizeof ref, "%" PRIu64, p->n_sent + 1);
        r = protocol_dump_job_request_ref(priority, runtime, ref, &text, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to format a job: %m");
        r = bus_link_send(p->link, text, size);
        if (r < 0)
                return r;
        p->n_sent++;
        return 0;
}

/* Jobs made while the bus was away, in order, now that it is back. */
static int producer_send_backlog(Producer *p) {
        PendingJob *j;
        int r;

        assert(p);

        while ((j = ring_peek(&p->backlog))) {
                r = producer_send(p, j->priority, j->runtime);
                if (r < 0)
                        return r;
                (void) ring_pop(&p->backlog, NULL);
        }
        return 0;
}

static int producer_make_one(Producer *p, double *ret_wait) {
        int priority = p->config.priority >= 0 ? p->config.priority : job_generator_priority(&p->generator);
        double runtime = p->config.runtime >= 0 ? p->config.runtime : job_generator_runtime(&p->generator);
        double wait = job_generator_wait(&p->generator);
        char number[FORMAT_DOUBLE_MAX];
        int r = -ENOTCONN;

        assert(p);
        assert(ret_wait);

        p->n_made++;
        if (bus_link_is_connected(p->link) && ring_size(&p->backlog) == 0)
                r = producer_send(p, priority, runtime);
        if (r == -ENOTCONN || r == -ENOBUFS) {
                PendingJob j = { .priority = priority, .runtime = runtime }, oldest;

                log_debug("Bus away: job %" PRIu64 " kept for later (%zu waiting).", p->n_made,
                          ring_size(&p->backlog) + 1);
                /* Kept for when the bus is back; a very long absence loses the oldest. */
                if (ring_size(&p->backlog) >= BACKLOG_MAX && ring_pop(&p->backlog, &oldest))
                        p->n_backlog_lost++;
                r = ring_push(&p->backlog, &j, SIZE_MAX);
                if (r < 0)
                        return log_oom();
        } else if (r < 0)
                return log_error_errno(r, "Failed to send a job to %s: %m", bus_link_get_url(p->link));

        if (p->config.count > 0 && p->n_made >= p->config.count)
                log_info("submitted priority=%d runtime=%s, the last of %" PRIu64, priority,
                         format_double(number, sizeof number, runtime), p->config.count);
        else
                log_info("submitted priority=%d runtime=%s, next in %.3f s", priority,
                         format_double(number, sizeof number, runtime), wait);
        *ret_wait = wait;
        return 0;
}

static int on_send(sd_event_source *s, uint64_t usec, void *userdata) {
        Producer *p = ASSERT_PTR(userdata);
        double wait = 0;
        int r;

        r = producer_make_one(p, &wait);
        if (r < 0) {
                producer_exit(p, 1);
                return 0;
        }
        if (p->config.count > 0 && p->n_made >= p->config.count) {
                producer_finish(p);
                return 0;
        }

        /* The schedule is absolute: waits add up without the drift of each wakeup's lateness. */
        p->next_usec += (uint64_t) (wait * (double) USEC_PER_SEC);
        r = sd_event_source_set_time(s, p->next_usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (r < 0) {
                log_error_errno(r, "Failed to schedule the next job: %m");
                producer_exit(p, 1);
        }
        return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Producer *p = ASSERT_PTR(userdata);

        if (!p->connected_once) {
                log_error("Cannot reach the bus at %s within %.1f s%s%s%s. Is sched-bus running (systemctl "
                          "start sched-bus.socket)?",
                          bus_link_get_url(p->link), (double) p->config.connect_timeout_usec / USEC_PER_SEC,
                          p->last_error[0] ? " (" : "", p->last_error, p->last_error[0] ? ")" : "");
                producer_exit(p, PRODUCER_EXIT_UNAVAILABLE);
                return 0;
        }
        log_error("The bus at %s did not come back within %.1f s; %zu jobs made meanwhile are not sent.",
                  bus_link_get_url(p->link), (double) p->config.connect_timeout_usec / USEC_PER_SEC,
                  ring_size(&p->backlog));
        p->n_backlog_lost += ring_size(&p->backlog);
        producer_conclude(p, false);
        if (p->exit_code == 0 || p->exit_code == PRODUCER_EXIT_NOT_DONE)
                producer_exit(p, PRODUCER_EXIT_LOST);
        return 0;
}

static void on_link_connected(BusLink *l, void *userdata) {
        Producer *p = ASSERT_PTR(userdata);
        int r;

        assert(l);

        p->deadline_source = sd_event_source_disable_unref(p->deadline_source);
        if (p->connected_once) {
                log_info("Connected to %s again; sending the %zu jobs made meanwhile.", bus_link_get_url(l),
                         ring_size(&p->backlog));
                r = producer_send_backlog(p);
                if (r < 0 && r != -ENOTCONN && r != -ENOBUFS)
                        log_warning_errno(r, "Failed to send the jobs made meanwhile, keeping them: %m");
                return;
        }
        p->connected_once = true;
        log_info("Connected to %s as producer.", bus_link_get_url(l));

        (void) sd_event_now(p->event, CLOCK_MONOTONIC, &p->next_usec);
        r = sd_event_add_time(p->event, &p->send_source, CLOCK_MONOTONIC, p->next_usec, 1, on_send, p);
        if (r < 0) {
                log_error_errno(r, "Failed to schedule the first job: %m");
                producer_exit(p, 1);
                return;
        }
        (void) sd_event_source_set_description(p->send_source, "producer-send");
}

static void on_link_disconnected(BusLink *l, const char *reason, void *userdata) {
        Producer *p = ASSERT_PTR(userdata);
        uint64_t in_flight;
        int r;

        assert(l);
        assert(reason);

        /* Refused for its token or its certificate: trying again changes nothing. */
        if (bus_link_reason_is_final(reason)) {
                log_error("Cannot use the bus at %s: %s.", bus_link_get_url(l), reason);
                producer_exit(p, PRODUCER_EXIT_UNAVAILABLE);
                return;
        }
        if (!p->connected_once) {
                (void) snprintf(p->last_error, sizeof p->last_error, "%s", reason);
                log_debug("Bus at %s not reachable yet (%s), retrying.", bus_link_get_url(l), reason);
                return;
        }
        if (p->deadline_source)
                return; /* a failed attempt to come back: the deadline is running */

        /* What the bus did not answer for may or may not have reached it: not sent again (it would
         * run twice), counted. Where accepted jobs went, this connection will not hear any more. */
        in_flight = p->n_sent - p->n_accepted - p->n_unconfirmed;
        p->n_unconfirmed += in_flight;
        if (u64_map_size(p->unsettled) > 0) {
                p->unsettled = u64_map_free(p->unsettled);
                if (u64_map_new(&p->unsettled) < 0) {
                        log_oom();
                        producer_exit(p, 1);
                        return;
                }
        }
        log_warning("Lost the bus at %s (%s) after sending %" PRIu64 " jobs (%" PRIu64 " not answered); "
                    "reconnecting, for at most %.1f s.",
                    bus_link_get_url(l), reason, p->n_sent, in_flight,
                    (double) p->config.connect_timeout_usec / USEC_PER_SEC);
        r = sd_event_add_time_relative(p->event, &p->deadline_source, CLOCK_MONOTONIC,
                                       p->config.connect_timeout_usec, USEC_PER_MSEC, on_deadline, p);
        if (r < 0) {
                log_error_errno(r, "Failed to arm the reconnect deadline: %m");
                producer_exit(p, PRODUCER_EXIT_LOST);
        }
}

static void producer_on_job_event(Producer *p, json_t *ev) {
        const char *end = json_string_value(json_object_get(ev, "end"));
        const char *scheduler = json_string_value(json_object_get(ev, "scheduler"));
        json_t *id = json_object_get(ev, "id");
        uint64_t job;

        if (!json_is_integer(id) || json_integer_value(id) < 0)
                return;
        job = (uint64_t) json_integer_value(id);
        /* Its first event says where it went (or that it was dropped, or is held). */
        const char *state = json_string_value(json_object_get(ev, "state"));
        if (u64_map_remove(p->unsettled, job) && state && strcmp(state, "held") == 0) {
                LogJob lj = { .id = job, .priority = -1, .runtime = -1, .state = -1 };

                log_job(LOG_NOTICE, &lj, "Job %" PRIu64 " is held by the bus until a scheduler takes it.",
                        job);
        }

        /* Only words we know go into our log line. */
        if (!json_is_true(json_object_get(ev, "final")) || !end ||
            (job_state_from_string(end) < 0 && strcmp(end, "unknown") != 0))
                return;
        if (scheduler && !protocol_name_is_valid(scheduler))
                scheduler = NULL;
        p->n_ended++;
        if (strcmp(end, "done") != 0)
                p->n_not_done++;
        if (strcmp(end, "dropped") == 0) {
                if (p->n_dropped < DROPPED_NAMED_MAX)
                        p->dropped[p->n_dropped] = job;
                p->n_dropped++;
        }
        LogJob lj = { .id = job, .priority = -1, .runtime = -1, .state = -1 };
        log_job(strcmp(end, "done") == 0 ? LOG_INFO : LOG_NOTICE, &lj, "Job %" PRIu64 " ended: %s%s%s.",
                lj.id, end, scheduler ? " on " : "", scheduler ? scheduler : "");
}

static void on_link_message(BusLink *l, const char *data, size_t size, void *userdata) {
        _cleanup_(json_decrefp) json_t *msg = json_loadb(data, size, 0, NULL);
        Producer *p = ASSERT_PTR(userdata);
        const char *event = json_string_value(json_object_get(msg, "event"));
        char text[512 * 4 + 8];

        assert(l);

        /* One answer per job sent: more (a confused or hostile bus) is not kept. */
        if (event && strcmp(event, "accepted") == 0 && json_is_integer(json_object_get(msg, "id")) &&
            json_integer_value(json_object_get(msg, "id")) > 0 &&
            p->n_accepted + p->n_unconfirmed < p->n_sent) {
                LogJob lj = { .id = (uint64_t) json_integer_value(json_object_get(msg, "id")),
                              .priority = -1,
                              .runtime = -1,
                              .state = -1 };

                p->n_accepted++;
                if (u64_map_put(p->unsettled, lj.id, p) == -ENOMEM)
                        log_oom();
                log_job(LOG_INFO, &lj, "Job %" PRIu64 " submitted.", lj.id);
                return;
        }
        if (event && strcmp(event, "job") == 0) {
                json_t *list = json_object_get(msg, "events");

                if (json_is_array(list))
                        for (size_t i = 0; i < json_array_size(list); i++)
                                producer_on_job_event(p, json_array_get(list, i));
                else
                        producer_on_job_event(p, msg);
                producer_maybe_done(p);
                return;
        }
        /* Anything else is the bus rejecting a frame: show it, escaped (it is not our text). */
        log_warning("Bus says: %s", log_outside(data, MIN(size, (size_t) 512), text, sizeof text));
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Producer *p = ASSERT_PTR(userdata);

        log_info("Interrupted after sending %" PRIu64 " jobs.", p->n_sent);
        producer_exit(p, 0);
        return 0;
}

static int producer_setup(Producer *p) {
        static const BusLinkHandlers handlers = {
                .on_connected = on_link_connected,
                .on_disconnected = on_link_disconnected,
                .on_message = on_link_message,
        };
        _cleanup_free_ char *hello = NULL;
        char error[512];
        int r;

        assert(p);

        r = event_new_daemon(&p->event, on_signal, p);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m");

        r = sd_event_add_time_relative(p->event, &p->deadline_source, CLOCK_MONOTONIC,
                                       p->config.connect_timeout_usec, USEC_PER_MSEC, on_deadline, p);
        if (r < 0)
                return log_error_errno(r, "Failed to add the connect timer: %m");

        r = protocol_dump_register_events(&hello, NULL);
        if (r < 0)
                return log_oom();
        r = bus_link_new(&p->link, p->event, p->config.bus_url, hello, &handlers, p);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the connection to %s: %m",
                                       p->config.bus_url ?: BUS_LINK_URL_DEFAULT);
        r = bus_link_load_auth(p->link, &p->config.auth, error, sizeof error);
        if (r < 0)
                return log_error_errno(r, "%s.", error);
        r = bus_link_start(p->link);
        if (r == -EIO)
                return log_error_errno(r,
                                       "Failed to set up TLS for %s: a CA or client certificate that "
                                       "does not load (--ca, --cert, --key)?",
                                       bus_link_get_url(p->link));
        if (r < 0)
                log_debug_errno(r, "Failed to start connecting, retrying: %m");
        return 0;
}

int producer_run(Producer *p) {
        int r;

        assert(p);

        r = producer_setup(p);
        if (r < 0)
                return 1;
        r = sd_event_loop(p->event);
        if (r < 0) {
                log_error_errno(r, "Event loop failed: %m");
                return 1;
        }
        return p->exit_code;
}
