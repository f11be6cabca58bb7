/* SPDX-License-Identifier: MIT */
/*
 * Following jobs on the bus: the table of the last --history jobs with their state on each
 * scheduler, the job events reporting schedulers send and the bus passes on (to observers, and to
 * the producer that submitted the job if it asked), and what any client may ask: status, jobs,
 * cancel. A client's events of one loop pass leave as one frame at the end of the pass, so that a
 * busy bus pays one WebSocket message per client and pass, not one per event.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bus-internal.h"
#include "format-util.h"
#include "job-log.h"
#include "log.h"
#include "time-util.h"

/* One event's text: fixed fields, and a reason of PROTOCOL_REASON_MAX bytes escaped (\u00XX). */
#define EVENT_TEXT_MAX (1024 + 6 * PROTOCOL_REASON_MAX)

/* A client's batch is sent before the end of the pass once it is this large: frames to clients stay
 * under 64 KiB, which any WebSocket client takes (the bus's own --max-frame default). */
#define BATCH_FLUSH_BYTES (64 * 1024 - EVENT_TEXT_MAX - 64)

static uint64_t bus_now_realtime(Bus *b) {
        uint64_t t;

        if (sd_event_now(b->event, CLOCK_REALTIME, &t) < 0)
                return now_usec(CLOCK_REALTIME);
        return t;
}

static void batch_flush(Bus *b, BusClient *c) {
        static const char head[] = "{\"event\":\"job\",", list_head[] = "{\"event\":\"job\",\"events\":[";
        WsMessage *m = NULL;
        int r;

        assert(b);
        assert(c);

        if (c->n_batch == 0)
                return;
        /* One event goes as {"event":"job",...}; more as {"event":"job","events":[{...},...]}. */
        if (c->n_batch == 1)
                r = ws_message_new_parts(&m,
                                         (const struct iovec[]){
                                                 { .iov_base = (void *) head, .iov_len = sizeof head - 1 },
                                                 { .iov_base = c->batch + 1, .iov_len = c->batch_size - 1 },
                                         },
                                         2);
        else
                r = ws_message_new_parts(
                        &m,
                        (const struct iovec[]){
                                { .iov_base = (void *) list_head, .iov_len = sizeof list_head - 1 },
                                { .iov_base = c->batch, .iov_len = c->batch_size },
                                { .iov_base = (void *) "]}", .iov_len = 2 },
                        },
                        3);
        c->batch_size = c->n_batch = 0;
        LIST_REMOVE(batched, b->batched, c);
        if (r < 0) {
                log_oom();
                return;
        }
        (void) bus_send(b, c, m);
        ws_message_unref(m);
}

static int on_batch(sd_event_source *s, void *userdata) {
        Bus *b = ASSERT_PTR(userdata);

        while (b->batched)
                batch_flush(b, b->batched);
        return 0;
}

static void batch_add(Bus *b, BusClient *c, const char *text, size_t n) {
        size_t need;

        assert(b);
        assert(c);
        assert(text);

        if (c->closing)
                return;
        need = c->batch_size + 1 + n;
        if (need > c->batch_alloc) {
                size_t alloc = MAX(need, MAX(c->batch_alloc * 2, (size_t) 4096));
                char *p = realloc(c->batch, alloc);

                if (!p) {
                        log_oom();
                        return;
                }
                c->batch = p;
                c->batch_alloc = alloc;
        }
        if (c->n_batch > 0)
                c->batch[c->batch_size++] = ',';
        memcpy(c->batch + c->batch_size, text, n);
        c->batch_size += n;
        if (c->n_batch++ == 0) {
                LIST_PREPEND(batched, b->batched, c);
                (void) sd_event_source_set_enabled(b->batch_source, SD_EVENT_ONESHOT);
        }
        if (c->batch_size >= BATCH_FLUSH_BYTES)
                batch_flush(b, c);
}

/* An appender over a fixed buffer, without printf on the way of every event; what does not fit is
 * cut, and `size` then equals `max`. */
typedef struct Text {
        char *buf;
        size_t size, max;
} Text;

static void text_add_raw(Text *t, const char *s, size_t n) {
        n = MIN(n, t->max - t->size);
        memcpy(t->buf + t->size, s, n);
        t->size += n;
}

static void text_add(Text *t, const char *s) {
        text_add_raw(t, s, strlen(s));
}

static void text_add_u64(Text *t, uint64_t v) {
        char digits[20];
        size_t n = 0;

        do
                digits[sizeof digits - ++n] = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        text_add_raw(t, digits + sizeof digits - n, n);
}

/* ,"key": */
static void text_add_key(Text *t, const char *key) {
        text_add(t, ",\"");
        text_add(t, key);
        text_add(t, "\":");
}

static void text_add_time(Text *t, const char *key, uint64_t usec) {
        unsigned ms = (unsigned) (usec % USEC_PER_SEC / USEC_PER_MSEC);
        char frac[4] = { '.', (char) ('0' + ms / 100), (char) ('0' + ms / 10 % 10), (char) ('0' + ms % 10) };

        if (usec == 0)
                return;
        text_add_key(t, key);
        text_add_u64(t, usec / USEC_PER_SEC);
        text_add_raw(t, frac, sizeof frac);
}

/* Text from a scheduler as a JSON string (jansson escapes it); nothing if it is not UTF-8. */
static void text_add_string(Text *t, const char *key, const char *value) {
        _cleanup_(json_decrefp) json_t *v = json_string(value);
        _cleanup_free_ char *quoted = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;

        if (!quoted)
                return;
        text_add_key(t, key);
        text_add(t, quoted);
}

/* The bus's own words (its reasons are ASCII without quotes or backslashes): no JSON encoder needed,
 * which matters while jobs wait in the bus, one event each. */
static void text_add_own_string(Text *t, const char *key, const char *value) {
        assert(!strpbrk(value, "\"\\"));

        text_add_key(t, key);
        text_add(t, "\"");
        text_add(t, value);
        text_add(t, "\"");
}

static const char *end_to_string(const JobTableEntry *e) {
        JobState end = job_table_entry_end(e);

        return end < 0 ? "unknown" : job_state_to_string(end);
}

/* The text of one event object: what happened (state on `scheduler`, NULL for the bus itself), the
 * job's priority and runtime if `facts` (its first event there: later ones would only repeat them),
 * the details (a scheduler's, `ev`; or the bus's own `reason`), and whether it completes the job. */
static size_t format_event(Bus *b, char *buf, size_t max, uint64_t id, const JobTableEntry *e, bool facts,
                           int state, const char *scheduler, const ProtocolEvent *ev, const char *reason,
                           bool final) {
        char number[FORMAT_DOUBLE_MAX];
        Text t = { .buf = buf, .max = max };

        text_add(&t, "{\"id\":");
        text_add_u64(&t, id);
        text_add(&t, ",\"state\":\"");
        text_add(&t, protocol_state_to_string(state));
        /* Names are [A-Za-z0-9_.:@/-] (checked at register): nothing to escape. */
        text_add(&t, "\",\"scheduler\":");
        if (scheduler) {
                text_add(&t, "\"");
                text_add(&t, scheduler);
                text_add(&t, "\"");
        } else
                text_add(&t, "null");
        text_add_time(&t, "time", bus_now_realtime(b));
        if (e && facts) {
                text_add_key(&t, "priority");
                text_add_u64(&t, (uint64_t) e->priority);
                text_add_key(&t, "runtime");
                if (e->runtime == (double) (uint64_t) e->runtime)
                        text_add_u64(&t, (uint64_t) e->runtime);
                else
                        text_add(&t, format_double(number, sizeof number, e->runtime));
        }
        if (ev) {
                if (ev->exit_status >= 0) {
                        text_add_key(&t, "exit_status");
                        text_add_u64(&t, (uint64_t) ev->exit_status);
                }
                if (ev->signal) { /* [A-Z0-9] only */
                        text_add_key(&t, "signal");
                        text_add(&t, "\"");
                        text_add(&t, ev->signal);
                        text_add(&t, "\"");
                }
                for (size_t i = 0; i < PROTOCOL_EVENT_COUNTERS; i++) {
                        uint64_t v = protocol_event_counter_get(ev, i);

                        if (v != UINT64_MAX) {
                                text_add_key(&t, protocol_event_counters[i].key);
                                text_add_u64(&t, v);
                        }
                }
                if (ev->reason)
                        text_add_string(&t, "reason", ev->reason);
        }
        if (reason)
                text_add_own_string(&t, "reason", reason);
        if (final) {
                text_add(&t, ",\"final\":true,\"end\":\"");
                text_add(&t, e ? end_to_string(e) : "unknown");
                text_add(&t, "\"");
        }
        text_add(&t, "}");
        /* Cut short (it cannot be, by EVENT_TEXT_MAX): better no event than broken JSON. */
        return t.size < t.max ? t.size : 0;
}

/* Whether anyone gets the events of this job: formatting one costs more than the rest of its way. */
static bool bus_has_audience(Bus *b, const JobTableEntry *e) {
        return b->observers || (e && e->owner);
}

/* To every observer, and to the job's submitter if it asked for its jobs' events. */
static void bus_emit(Bus *b, const JobTableEntry *e, const char *text, size_t n) {
        BusClient *o;

        assert(b);

        if (n == 0)
                return;
        LIST_FOREACH (observers, o, b->observers)
                batch_add(b, o, text, n);
        if (e && e->owner && ((BusClient *) e->owner)->role != ROLE_OBSERVER)
                batch_add(b, e->owner, text, n);
}

void bus_scheduler_event(Bus *b, BusClient *s, bool up) {
        const char *name = s->reporter ? job_table_scheduler_name(s->reporter) : NULL;
        char text[128 + PROTOCOL_NAME_MAX];
        BusClient *o, *next;
        int n;

        assert(b);
        assert(s);

        if (!b->observers || b->stopping)
                return;
        /* Names are [A-Za-z0-9_.:@/-] (checked at register): nothing to escape. */
        n = snprintf(text, sizeof text, "{\"event\":\"scheduler\",\"name\":%s%s%s,\"slots\":%u,\"up\":%s}",
                     name ? "\"" : "", name ?: "null", name ? "\"" : "", s->reporter ? s->slots : 0,
                     up ? "true" : "false");
        if (n < 0 || (size_t) n >= sizeof text)
                return;
        LIST_FOREACH_SAFE (observers, o, next, b->observers)
                (void) bus_send_text(b, o, text, (size_t) n);
}

int bus_setup_jobs(Bus *b) {
        int r;

        assert(b);

        r = job_table_new(&b->jobs, b->config.history);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the job table: %m");
        r = sd_event_add_defer(b->event, &b->batch_source, on_batch, b);
        if (r < 0)
                return log_error_errno(r, "Failed to add the event batch source: %m");
        /* After the WebSocket work of the pass, which is what fills the batches. */
        (void) sd_event_source_set_priority(b->batch_source, SD_EVENT_PRIORITY_NORMAL + 10);
        (void) sd_event_source_set_enabled(b->batch_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(b->batch_source, "bus-event-batch");
        b->start_usec = now_usec(CLOCK_MONOTONIC);
        return 0;
}

void bus_done_jobs(Bus *b) {
        assert(b);

        b->batch_source = sd_event_source_disable_unref(b->batch_source);
        b->jobs = job_table_free(b->jobs);
}

void bus_jobs_forget_client(Bus *b, BusClient *c) {
        assert(b);
        assert(c);

        if (c->n_batch > 0) {
                LIST_REMOVE(batched, b->batched, c);
                c->n_batch = c->batch_size = 0;
        }
        if (c->owns_jobs && b->jobs)
                job_table_forget_owner(b->jobs, c);
        c->owns_jobs = false;
}

JobTableEntry *bus_job_submitted(Bus *b, BusClient *c, uint64_t id, const Frame *f) {
        _cleanup_free_ char *text = NULL;
        JobTableEntry *e = NULL;
        size_t size;
        int r;

        assert(b);
        assert(c);
        assert(f);

        b->submit_usec = bus_now_realtime(b);
        r = job_table_add(b->jobs, id, f->priority, f->runtime, b->submit_usec, c->events ? c : NULL, &e);
        if (r < 0) {
                log_oom();
                e = NULL;
        } else if (c->events)
                c->owns_jobs = true;

        if (!f->ref && !c->events)
                return e;
        if (protocol_dump_accepted(id, f->ref, &text, &size) < 0)
                log_oom();
        else
                (void) bus_send_text(b, c, text, size);
        return e;
}

void bus_job_delivered_to(Bus *b, JobTableEntry *e, BusClient *s) {
        assert(b);
        assert(s);

        if (!e)
                return;
        if (!s->reporter)
                (void) job_table_add_legacy(b->jobs, e); /* past 65535 such schedulers: not counted */
        else if (!job_table_add_run(b->jobs, e, s->reporter, b->submit_usec))
                log_oom();
}

void bus_job_delivered(Bus *b, JobTableEntry *e) {
        char text[EVENT_TEXT_MAX];

        assert(b);

        /* Only schedulers that never report got it: nothing more will be known. */
        if (e && job_table_delivered(b->jobs, e) > 0 && bus_has_audience(b, e))
                bus_emit(b, e, text,
                         format_event(b, text, sizeof text, e->id, e, true, JOB_TABLE_SENT, NULL, NULL, NULL,
                                      true));
}

void bus_job_held(Bus *b, JobTableEntry *e, const char *why) {
        char text[EVENT_TEXT_MAX];

        assert(b);
        assert(why);

        if (e && bus_has_audience(b, e))
                bus_emit(b, e, text,
                         format_event(b, text, sizeof text, e->id, e, true, PROTOCOL_STATE_HELD, NULL, NULL,
                                      why, false));
}

void bus_job_dropped(Bus *b, JobTableEntry *e, uint64_t id, const char *why) {
        char text[EVENT_TEXT_MAX];

        assert(b);
        assert(why);

        if (e)
                job_table_drop(b->jobs, e, bus_now_realtime(b));
        if (bus_has_audience(b, e))
                bus_emit(
                        b, e, text,
                        format_event(b, text, sizeof text, id, e, true, JOB_DROPPED, NULL, NULL, why, true));
}

void bus_on_job_event(Bus *b, BusClient *c, Frame *f) {
        const char *name;

        assert(b);
        assert(c);
        assert(f);

        if (!c->reporter)
                return bus_reply_errorf(b, c, PROTOCOL_NOT_ALLOWED,
                                        "job events come from schedulers registered with a name and slots");

        name = job_table_scheduler_name(c->reporter);
        for (size_t i = 0; i < f->n_events; i++) {
                const ProtocolEvent *ev = &f->events_array[i];
                JobTableEntry *e = job_table_get(b->jobs, ev->id);
                const JobTableRun *run = e ? job_table_find_run(e, c->reporter) : NULL;
                bool first = !run || run->state == JOB_TABLE_SENT;
                char text[EVENT_TEXT_MAX];
                int final = 0;

                if (e) {
                        JobTableEvent te = {
                                .id = ev->id,
                                .state = ev->state,
                                .exit_status = ev->exit_status,
                                .signal = ev->signal,
                                .evicted_by = ev->evicted_by,
                                .cpu_usec = ev->cpu_usec,
                                .memory_peak = ev->memory_peak,
                        };

                        final = job_table_apply(b->jobs, e, c->reporter, &te, bus_now_realtime(b));
                        if (final < 0) {
                                log_oom();
                                final = 0;
                        }
                }
                /* An id the table does not hold (too old, or a scheduler's own) still goes to observers. */
                if (bus_has_audience(b, e))
                        bus_emit(b, e, text,
                                 format_event(b, text, sizeof text, ev->id, e, first, ev->state, name, ev,
                                              NULL, final > 0));
        }
        bus_dispatch_reported(b, c, f);
        bus_status_changed(b);
}

static int json_set_time(json_t *obj, const char *key, uint64_t usec) {
        if (usec == 0)
                return 0;
        return json_object_set_new(obj, key, json_real((double) (usec / USEC_PER_MSEC) / 1000.0));
}

static bool json_set_u64(json_t *obj, const char *key, uint64_t v) {
        return v == UINT64_MAX || v > INT64_MAX ||
               json_object_set_new(obj, key, json_integer((json_int_t) v)) >= 0;
}

static json_t *status_scheduler(const BusClient *s) {
        json_t *o = json_object();

        if (!o)
                return NULL;
        if (json_object_set_new(o, "name",
                                s->reporter ? json_string(job_table_scheduler_name(s->reporter))
                                            : json_null()) < 0 ||
            json_object_set_new(o, "peer", json_string(bus_client_peer(s))) < 0 ||
            json_object_set_new(o, "reports", json_boolean(s->reporter)) < 0)
                return json_decref(o), NULL;
        if (s->reporter &&
            (json_object_set_new(o, "slots", json_integer(s->slots)) < 0 ||
             json_object_set_new(o, "running",
                                 json_integer(job_table_scheduler_count(s->reporter, JOB_RUNNING))) < 0 ||
             json_object_set_new(o, "queued",
                                 json_integer(job_table_scheduler_count(s->reporter, JOB_QUEUED))) < 0))
                return json_decref(o), NULL;
        return o;
}

static int bus_reply_json(Bus *b, BusClient *c, json_t *frame) {
        _cleanup_free_ char *text = NULL;

        if (!frame)
                return log_oom();
        /* Times are seconds with milliseconds: 13 digits print them without noise. */
        text = json_dumps(frame, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(13));
        if (!text)
                return log_oom();
        (void) bus_send_text(b, c, text, strlen(text));
        return 0;
}

void bus_on_status(Bus *b, BusClient *c, Frame *f) {
        _cleanup_(json_decrefp) json_t *frame = NULL;
        json_t *bus, *schedulers, *states;
        BusClient *s;

        assert(b);
        assert(c);

        frame = json_object();
        bus = json_pack("{s:s, s:i, s:I, s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I}", "version",
                        SCHED_VERSION, "pid", (int) getpid(), "uptime",
                        (json_int_t) ((now_usec(CLOCK_MONOTONIC) - b->start_usec) / USEC_PER_SEC), "clients",
                        (int) b->n_clients, "producers", (int) b->n_producers, "schedulers",
                        (int) b->n_schedulers, "observers", (int) b->n_observers, "submitted",
                        (json_int_t) b->n_submitted, "forwarded", (json_int_t) b->n_forwarded, "dropped",
                        (json_int_t) b->n_dropped, "history", (json_int_t) job_table_size(b->jobs),
                        "history_max", (json_int_t) job_table_max(b->jobs));
        if (bus &&
            (json_object_set_new(bus, "dispatch", json_string(bus_dispatch_to_string(b->config.dispatch))) <
                     0 ||
             json_object_set_new(bus, "held", json_integer((json_int_t) held_size(b->held))) < 0 ||
             json_object_set_new(bus, "hold_max", json_integer((json_int_t) b->config.hold)) < 0 ||
             json_object_set_new(bus, "producers_paused", json_boolean(b->paused)) < 0 ||
             json_object_set_new(bus, "pauses", json_integer((json_int_t) b->n_pauses)) < 0 ||
             json_object_set_new(bus, "redispatched", json_integer((json_int_t) b->n_redispatched)) < 0))
                json_decref(TAKE_PTR(bus));
        schedulers = json_array();
        states = json_object();
        if (!frame || !bus || !schedulers || !states ||
            json_object_set_new(frame, "event", json_string("status")) < 0 ||
            json_object_set_new(frame, "bus", bus) < 0 ||
            json_object_set_new(frame, "schedulers", schedulers) < 0 ||
            json_object_set_new(frame, "states", states) < 0) {
                json_decref(bus);
                json_decref(schedulers);
                json_decref(states);
                log_oom();
                return;
        }
        /* Oldest registration first, as they were connected. */
        LIST_FOREACH (schedulers, s, b->schedulers)
                if (json_array_insert_new(schedulers, 0, status_scheduler(s)) < 0)
                        return (void) log_oom();
        for (int state = 0; state < _JOB_TABLE_STATE_MAX; state++)
                if (json_object_set_new(states, protocol_state_to_string(state),
                                        json_integer(job_table_count(b->jobs, state))) < 0)
                        return (void) log_oom();
        (void) bus_reply_json(b, c, frame);
}

static bool entry_matches(const JobTableEntry *e, const Frame *f) {
        bool state = f->state_filter < 0, scheduler = !f->scheduler_filter;

        if (f->state_filter == PROTOCOL_STATE_HELD)
                return e->held && !e->final && scheduler;
        if (!state && (job_table_entry_summary(e) == f->state_filter ||
                       (f->state_filter == JOB_TABLE_SENT && e->n_legacy > 0)))
                state = true;
        for (unsigned i = 0; i < e->n_runs && !(state && scheduler); i++) {
                const JobTableRun *run = &e->runs[i];

                if (run->state == f->state_filter)
                        state = true;
                if (f->scheduler_filter && run->scheduler &&
                    strcmp(job_table_scheduler_name(run->scheduler), f->scheduler_filter) == 0)
                        scheduler = true;
        }
        return state && scheduler;
}

static json_t *job_run_json(const JobTableRun *run) {
        json_t *o = json_object();

        if (!o)
                return NULL;
        if (json_object_set_new(o, "name",
                                run->scheduler ? json_string(job_table_scheduler_name(run->scheduler))
                                               : json_null()) < 0 ||
            json_object_set_new(o, "state", json_string(protocol_state_to_string(run->state))) < 0 ||
            json_set_time(o, "sent", run->sent_usec) < 0 ||
            json_set_time(o, "queued", run->queued_usec) < 0 ||
            json_set_time(o, "started", run->started_usec) < 0 ||
            json_set_time(o, "ended", run->ended_usec) < 0 ||
            (run->exit_status >= 0 &&
             json_object_set_new(o, "exit_status", json_integer(run->exit_status)) < 0) ||
            (run->signal[0] && json_object_set_new(o, "signal", json_string(run->signal)) < 0) ||
            !json_set_u64(o, "evicted_by", run->evicted_by) || !json_set_u64(o, "cpu_usec", run->cpu_usec) ||
            !json_set_u64(o, "memory_peak", run->memory_peak))
                return json_decref(o), NULL;
        return o;
}

static json_t *job_entry_json(const JobTableEntry *e) {
        json_t *o = json_object(), *runs = json_array();

        if (!o || !runs || json_object_set_new(o, "id", json_integer((json_int_t) e->id)) < 0 ||
            json_object_set_new(o, "priority", json_integer(e->priority)) < 0 ||
            json_object_set_new(o, "runtime", json_real(e->runtime)) < 0 ||
            json_set_time(o, "submitted", e->submitted_usec) < 0 ||
            json_object_set_new(
                    o, "state",
                    json_string(e->final  ? end_to_string(e)
                                : e->held ? protocol_state_to_string(PROTOCOL_STATE_HELD)
                                          : protocol_state_to_string(job_table_entry_summary(e)))) < 0 ||
            (e->final && json_object_set_new(o, "end", json_string(end_to_string(e))) < 0) ||
            json_object_set_new(o, "schedulers", runs) < 0) {
                json_decref(o);
                return NULL;
        }
        for (unsigned i = 0; i < e->n_runs; i++)
                if (json_array_append_new(runs, job_run_json(&e->runs[i])) < 0)
                        return json_decref(o), NULL;
        /* Schedulers that do not report: it went there at its submit time, and is sent for good. */
        for (unsigned i = 0; i < e->n_legacy; i++)
                if (json_array_append_new(runs, job_run_json(&(JobTableRun){ .state = JOB_TABLE_SENT,
                                                                             .sent_usec = e->submitted_usec,
                                                                             .exit_status = -1,
                                                                             .evicted_by = UINT64_MAX,
                                                                             .cpu_usec = UINT64_MAX,
                                                                             .memory_peak = UINT64_MAX })) <
                    0)
                        return json_decref(o), NULL;
        return o;
}

void bus_on_jobs(Bus *b, BusClient *c, Frame *f) {
        _cleanup_(json_decrefp) json_t *frame = NULL;
        json_t *list = json_array();
        size_t total = 0;

        assert(b);
        assert(c);
        assert(f);

        frame = json_pack("{s:s}", "event", "jobs");
        if (!frame || !list || json_object_set_new(frame, "jobs", list) < 0) {
                log_oom();
                return;
        }
        /* The newest `limit` matches, listed oldest first; the walk is bounded by --history. */
        for (JobTableEntry *e = job_table_last(b->jobs); e; e = job_table_prev(e)) {
                if (!entry_matches(e, f))
                        continue;
                if (total++ < f->limit && json_array_insert_new(list, 0, job_entry_json(e)) < 0)
                        return (void) log_oom();
        }
        if (json_object_set_new(frame, "total", json_integer((json_int_t) total)) < 0)
                return (void) log_oom();
        (void) bus_reply_json(b, c, frame);
}

void bus_on_cancel(Bus *b, BusClient *c, Frame *f) {
        _cleanup_free_ char *text = NULL, *reply = NULL;
        JobTableEntry *e;
        unsigned n = 0;
        size_t size;

        assert(b);
        assert(c);
        assert(f);

        e = job_table_get(b->jobs, f->id);
        if (!e)
                return bus_reply_errorf(b, c, PROTOCOL_UNKNOWN_JOB,
                                        "job %" PRIu64 " is not among the last %zu jobs of this bus", f->id,
                                        job_table_max(b->jobs));
        if (e->final)
                return bus_reply_errorf(b, c, PROTOCOL_NOT_CANCELLABLE, "job %" PRIu64 " has ended (%s)",
                                        f->id, end_to_string(e));
        if (bus_dispatch_cancel_held(b, f->id)) {
                char event[EVENT_TEXT_MAX];

                /* It never left the bus: ended here, and said like every other end. */
                if (bus_has_audience(b, e))
                        bus_emit(b, e, event,
                                 format_event(b, event, sizeof event, e->id, e, true, JOB_CANCELLED, NULL,
                                              NULL, "cancelled while held by the bus", true));
        } else {
                if (protocol_dump_cancel(f->id, &text, &size) < 0)
                        return (void) log_oom();

                /* Every connection of each scheduler that holds it and has not finished it. */
                for (unsigned i = 0; i < e->n_runs; i++) {
                        const JobTableRun *run = &e->runs[i];
                        BusClient *s, *next;

                        if (!run->scheduler || job_table_state_is_terminal(run->state))
                                continue;
                        LIST_FOREACH_SAFE (schedulers, s, next, b->schedulers)
                                if (s->reporter == run->scheduler)
                                        n += bus_send_text(b, s, text, size);
                }
                if (n == 0)
                        return bus_reply_errorf(
                                b, c, PROTOCOL_NOT_CANCELLABLE,
                                "job %" PRIu64 " is on no connected scheduler that can cancel it", f->id);
        }
        LogJob lj = { .id = e->id, .priority = e->priority, .runtime = e->runtime, .state = -1 };
        char client[96];
        (void) snprintf(client, sizeof client, "SCHED_CLIENT=%s", bus_client_peer(c));
        if (!log_ratelimit_allowed(&b->cancel_limit, "cancels"))
                ;
        else if (n > 0)
                log_job_extra(LOG_NOTICE, &lj, LOG_FIELDS(client),
                              "Client %s cancels job %" PRIu64 " on %u scheduler%s.", bus_client_peer(c),
                              e->id, n, n == 1 ? "" : "s");
        else
                log_job_extra(LOG_NOTICE, &lj, LOG_FIELDS(client),
                              "Client %s cancelled job %" PRIu64 ", which the bus held.", bus_client_peer(c),
                              e->id);
        if (protocol_dump_cancelling(f->id, n, &reply, &size) < 0)
                return (void) log_oom();
        (void) bus_send_text(b, c, reply, size);
}
