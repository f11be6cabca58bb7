/* SPDX-License-Identifier: MIT */
/*
 * Frame parsing and frame text for the wire protocol. Every check a remote client can fail maps to
 * exactly one error code; the detail text never carries raw input bytes, so the bus can log it and
 * send it back as a JSON string as is.
 */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format-util.h"
#include "macro.h"
#include "protocol-fast.h"
#include "protocol.h"
#include "string-table.h"

/* How much of a client-supplied name (an unknown "cmd", a bad "type") the detail quotes. */
#define QUOTE_MAX 32

const ProtocolEventCounter protocol_event_counters[PROTOCOL_EVENT_COUNTERS] = {
        { "evicted_by", offsetof(ProtocolEvent, evicted_by) },
        { "cpu_usec", offsetof(ProtocolEvent, cpu_usec) },
        { "memory_peak", offsetof(ProtocolEvent, memory_peak) },
};

static const char *const role_table[_ROLE_MAX] = {
        [ROLE_PRODUCER] = "producer",
        [ROLE_SCHEDULER] = "scheduler",
        [ROLE_OBSERVER] = "observer",
};

static const char *const command_table[_COMMAND_MAX] = {
        [COMMAND_REGISTER] = "register",   [COMMAND_JOB_REQUEST] = "job_request",
        [COMMAND_JOB_EVENT] = "job_event", [COMMAND_STATUS] = "status",
        [COMMAND_JOBS] = "jobs",           [COMMAND_CANCEL] = "cancel",
};

static const char *const protocol_error_table[_PROTOCOL_ERROR_MAX] = {
        [PROTOCOL_INVALID_JSON] = "invalid_json",       [PROTOCOL_INVALID_MESSAGE] = "invalid_message",
        [PROTOCOL_UNKNOWN_CMD] = "unknown_cmd",         [PROTOCOL_INVALID_TYPE] = "invalid_type",
        [PROTOCOL_INVALID_PAYLOAD] = "invalid_payload", [PROTOCOL_INVALID_PRIORITY] = "invalid_priority",
        [PROTOCOL_INVALID_RUNTIME] = "invalid_runtime", [PROTOCOL_INVALID_SCHEDULER] = "invalid_scheduler",
        [PROTOCOL_INVALID_REF] = "invalid_ref",         [PROTOCOL_INVALID_EVENT] = "invalid_event",
        [PROTOCOL_NOT_ALLOWED] = "not_allowed",         [PROTOCOL_INVALID_FILTER] = "invalid_filter",
        [PROTOCOL_INVALID_ID] = "invalid_id",           [PROTOCOL_UNKNOWN_JOB] = "unknown_job",
        [PROTOCOL_NOT_CANCELLABLE] = "not_cancellable", [PROTOCOL_FORBIDDEN] = "forbidden",
};

DEFINE_STRING_TABLE_LOOKUP(role, Role, _ROLE_MAX);
DEFINE_STRING_TABLE_LOOKUP(command, Command, _COMMAND_MAX);
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(protocol_error, ProtocolError, _PROTOCOL_ERROR_MAX);

/* Client text shown in a detail: at most `max` bytes, each non-printable or non-ASCII byte as '?'. */
static const char *printable(char *buf, size_t size, const char *s, size_t max) {
        size_t n = 0;

        assert(buf);
        assert(s);

        for (; s[n] && n < max && n + 4 < size; n++)
                buf[n] = s[n] >= 0x20 && s[n] < 0x7f ? s[n] : '?';
        if (s[n])
                n += (size_t) snprintf(buf + n, size - n, "...");
        buf[MIN(n, size - 1)] = '\0';
        return buf;
}

_printf_(3, 4) static int protocol_fail(ProtocolStatus *st, ProtocolError e, const char *format, ...) {
        va_list ap;

        assert(format);

        /* The caller may not want the details. */
        if (!st)
                return -EINVAL;

        st->error = e;
        va_start(ap, format);
        (void) vsnprintf(st->message, sizeof(st->message), format, ap);
        va_end(ap);
        return -EINVAL;
}

/* Any JSON value, so that a well-formed non-object is told apart from malformed text. NUL bytes stay
 * rejected (no JSON_ALLOW_NUL), and so does trailing garbage. */
static int protocol_load(json_t **ret, const void *data, size_t size, ProtocolStatus *st) {
        char text[JSON_ERROR_TEXT_LENGTH];
        json_error_t error;
        json_t *v;

        assert(ret);

        if (!data || size == 0)
                return protocol_fail(st, PROTOCOL_INVALID_JSON, "empty frame");

        v = json_loadb(data, size, JSON_DECODE_ANY, &error);
        if (!v)
                return protocol_fail(st, PROTOCOL_INVALID_JSON, "invalid JSON at offset %d: %s",
                                     error.position,
                                     printable(text, sizeof(text), error.text, sizeof(text)));

        *ret = v;
        return 0;
}

static int parse_priority(json_t *obj, int *ret, ProtocolStatus *st) {
        json_int_t p;
        json_t *v;

        assert(obj);
        assert(ret);

        v = json_object_get(obj, "priority");
        if (!v)
                return protocol_fail(st, PROTOCOL_INVALID_PRIORITY, "\"priority\" is missing");

        /* 1.0 is a real for jansson: only JSON integers are priorities, as in the original. */
        p = json_is_integer(v) ? json_integer_value(v) : -1;
        if (p < PROTOCOL_PRIORITY_MIN || p > PROTOCOL_PRIORITY_MAX)
                return protocol_fail(st, PROTOCOL_INVALID_PRIORITY,
                                     "\"priority\" must be an integer from %d to %d", PROTOCOL_PRIORITY_MIN,
                                     PROTOCOL_PRIORITY_MAX);

        *ret = (int) p;
        return 0;
}

static int parse_runtime(json_t *obj, double max_runtime, double *ret, ProtocolStatus *st) {
        double r;
        json_t *v;

        assert(obj);
        assert(ret);

        v = json_object_get(obj, "runtime");
        if (!v)
                return protocol_fail(st, PROTOCOL_INVALID_RUNTIME, "\"runtime\" is missing");

        r = json_is_number(v) ? json_number_value(v) : -1;
        if (!(r >= 0 && r <= max_runtime))
                return protocol_fail(st, PROTOCOL_INVALID_RUNTIME,
                                     "\"runtime\" must be a number from 0 to %g", max_runtime);

        *ret = r + 0.0; /* -0 becomes 0 */
        return 0;
}

bool protocol_name_is_valid(const char *name) {
        size_t n;

        if (!name)
                return false;
        n = strlen(name);
        return n > 0 && n <= PROTOCOL_NAME_MAX &&
               strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:@/-") == n;
}

/* A non-negative JSON integer: an id or a counter. */
static bool get_u64(json_t *v, uint64_t *ret) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return false;
        *ret = (uint64_t) json_integer_value(v);
        return true;
}

/* A JSON integer from 0 to max. */
static bool get_bounded(json_t *v, uint64_t max, uint64_t *ret) {
        return get_u64(v, ret) && *ret <= max;
}

/* The optional "load" of a scheduler's register or job_event frame; `e` is the error code of that
 * frame. Absent: has_load stays false. */
static int parse_load(Frame *f, json_t *msg, ProtocolError e, ProtocolStatus *st) {
        uint64_t running, waiting, received, least = UINT64_MAX;
        json_t *load, *v;

        assert(f);
        assert(msg);

        load = json_object_get(msg, "load");
        if (!load)
                return 0;
        if (!json_is_object(load))
                return protocol_fail(st, e, "\"load\" is not an object");
        if (!get_bounded(json_object_get(load, "running"), PROTOCOL_LOAD_RUNNING_MAX, &running))
                return protocol_fail(st, e, "\"load\": \"running\" must be an integer from 0 to %d",
                                     PROTOCOL_LOAD_RUNNING_MAX);
        if (!get_bounded(json_object_get(load, "waiting"), PROTOCOL_LOAD_WAITING_MAX, &waiting))
                return protocol_fail(st, e, "\"load\": \"waiting\" must be an integer from 0 to %d",
                                     PROTOCOL_LOAD_WAITING_MAX);
        if (!get_bounded(json_object_get(load, "received"), PROTOCOL_LOAD_RECEIVED_MAX, &received))
                return protocol_fail(st, e, "\"load\": \"received\" must be an integer from 0 to %" PRIu64,
                                     PROTOCOL_LOAD_RECEIVED_MAX);
        v = json_object_get(load, "least");
        if (v && !get_bounded(v, PROTOCOL_PRIORITY_MAX, &least))
                return protocol_fail(st, e, "\"load\": \"least\" must be an integer from %d to %d",
                                     PROTOCOL_PRIORITY_MIN, PROTOCOL_PRIORITY_MAX);

        f->has_load = true;
        f->load = (ProtocolLoad){
                .running = (unsigned) running,
                .waiting = (unsigned) waiting,
                .received = received,
                .least_urgent = v ? (int) least : -1,
        };
        return 0;
}

static int parse_register(Frame *f, json_t *msg, double max_runtime, ProtocolStatus *st) {
        char quoted[QUOTE_MAX + 8];
        json_t *v, *name, *slots;
        const char *s;

        assert(f);
        assert(msg);

        v = json_object_get(msg, "type");
        if (!v)
                return protocol_fail(st, PROTOCOL_INVALID_TYPE, "\"type\" is missing");
        s = json_string_value(v);
        if (!s)
                return protocol_fail(st, PROTOCOL_INVALID_TYPE, "\"type\" is not a string");

        f->role = role_from_string(s);
        if (f->role < 0)
                return protocol_fail(st, PROTOCOL_INVALID_TYPE,
                                     "unknown type \"%s\", expected producer, scheduler or observer",
                                     printable(quoted, sizeof(quoted), s, QUOTE_MAX));

        v = json_object_get(msg, "events");
        if (v && !json_is_boolean(v))
                return protocol_fail(st, PROTOCOL_INVALID_MESSAGE, "\"events\" is not true or false");
        f->events = json_is_true(v);

        /* A scheduler that names itself reports on its jobs; one that does not is of version 1. */
        name = json_object_get(msg, "name");
        slots = json_object_get(msg, "slots");
        if (f->role != ROLE_SCHEDULER || (!name && !slots))
                return 0;
        if (!protocol_name_is_valid(json_string_value(name)))
                return protocol_fail(st, PROTOCOL_INVALID_SCHEDULER,
                                     "\"name\" must be 1 to %d characters of A-Z a-z 0-9 _ . : @ / -",
                                     PROTOCOL_NAME_MAX);
        if (!json_is_integer(slots) || json_integer_value(slots) < 1 ||
            json_integer_value(slots) > PROTOCOL_SLOTS_MAX)
                return protocol_fail(st, PROTOCOL_INVALID_SCHEDULER,
                                     "\"slots\" must be an integer from 1 to %d", PROTOCOL_SLOTS_MAX);
        strcpy(f->name, json_string_value(name));
        f->slots = (unsigned) json_integer_value(slots);
        return parse_load(f, msg, PROTOCOL_INVALID_SCHEDULER, st);
}

/* Kept before the payload is checked, so that an error can echo it. */
static int parse_ref(Frame *f, json_t *msg, ProtocolStatus *st) {
        json_t *v;

        assert(f);
        assert(msg);

        v = json_object_get(msg, "ref");
        if (!v)
                return 0;
        if (!(json_is_integer(v) || (json_is_string(v) && json_string_length(v) <= PROTOCOL_REF_MAX)))
                return protocol_fail(st, PROTOCOL_INVALID_REF,
                                     "\"ref\" must be an integer or a string of at most %d bytes",
                                     PROTOCOL_REF_MAX);
        f->ref = json_incref(v);
        return 0;
}

static int parse_job_request(Frame *f, json_t *msg, double max_runtime, ProtocolStatus *st) {
        json_t *payload;
        int r;

        assert(f);
        assert(msg);

        r = parse_ref(f, msg, st);
        if (r < 0)
                return r;

        payload = json_object_get(msg, "payload");
        if (!payload)
                return protocol_fail(st, PROTOCOL_INVALID_PAYLOAD, "\"payload\" is missing");
        if (!json_is_object(payload))
                return protocol_fail(st, PROTOCOL_INVALID_PAYLOAD, "\"payload\" is not an object");

        r = parse_priority(payload, &f->priority, st);
        if (r < 0)
                return r;
        r = parse_runtime(payload, max_runtime, &f->runtime, st);
        if (r < 0)
                return r;

        f->payload = json_incref(payload);
        return 0;
}

static bool is_signal_name(const char *s) {
        size_t n = s ? strlen(s) : 0;

        return n > 0 && n <= PROTOCOL_SIGNAL_MAX && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == n;
}

/* One event object; `i` numbers it in the detail. */
static int parse_event(json_t *obj, size_t i, ProtocolEvent *ret, ProtocolStatus *st) {
        ProtocolEvent ev = PROTOCOL_EVENT_INIT(0, _JOB_STATE_INVALID);
        json_t *v;

        assert(ret);

        if (!json_is_object(obj))
                return protocol_fail(st, PROTOCOL_INVALID_EVENT, "event %zu is not an object", i);
        if (!get_u64(json_object_get(obj, "id"), &ev.id))
                return protocol_fail(st, PROTOCOL_INVALID_EVENT,
                                     "event %zu: \"id\" must be a non-negative integer", i);
        ev.state = job_state_from_string(json_string_value(json_object_get(obj, "state")));
        if (ev.state < 0)
                return protocol_fail(st, PROTOCOL_INVALID_EVENT, "event %zu: \"state\" is not a job state",
                                     i);

        v = json_object_get(obj, "exit_status");
        if (v) {
                if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 255)
                        return protocol_fail(st, PROTOCOL_INVALID_EVENT,
                                             "event %zu: \"exit_status\" must be an integer from 0 to 255",
                                             i);
                ev.exit_status = (int) json_integer_value(v);
        }
        v = json_object_get(obj, "signal");
        if (v) {
                if (!is_signal_name(json_string_value(v)))
                        return protocol_fail(st, PROTOCOL_INVALID_EVENT,
                                             "event %zu: \"signal\" must be 1 to %d of A-Z 0-9", i,
                                             PROTOCOL_SIGNAL_MAX);
                ev.signal = json_string_value(v);
        }
        v = json_object_get(obj, "reason");
        if (v) {
                if (!json_is_string(v) || json_string_length(v) > PROTOCOL_REASON_MAX)
                        return protocol_fail(st, PROTOCOL_INVALID_EVENT,
                                             "event %zu: \"reason\" must be a string of at most %d bytes", i,
                                             PROTOCOL_REASON_MAX);
                ev.reason = json_string_value(v);
        }
        for (size_t k = 0; k < PROTOCOL_EVENT_COUNTERS; k++) {
                v = json_object_get(obj, protocol_event_counters[k].key);
                if (v && !get_u64(v, protocol_event_counter(&ev, k)))
                        return protocol_fail(st, PROTOCOL_INVALID_EVENT,
                                             "event %zu: \"%s\" must be a non-negative integer", i,
                                             protocol_event_counters[k].key);
        }

        *ret = ev;
        return 0;
}

static int parse_job_event(Frame *f, json_t *msg, double max_runtime, ProtocolStatus *st) {
        json_t *list = json_object_get(msg, "events");
        size_t n;
        int r;

        assert(f);
        assert(msg);

        r = parse_load(f, msg, PROTOCOL_INVALID_EVENT, st);
        if (r < 0)
                return r;

        if (list && !json_is_array(list))
                return protocol_fail(st, PROTOCOL_INVALID_EVENT, "\"events\" is not an array");
        n = list ? json_array_size(list) : 1;
        /* No events at all: a scheduler that only tells its load. */
        if (n == 0 && f->has_load)
                return 0;
        if (n < 1 || n > PROTOCOL_EVENTS_MAX)
                return protocol_fail(st, PROTOCOL_INVALID_EVENT,
                                     "\"events\" must hold 1 to %d events (none only with \"load\")",
                                     PROTOCOL_EVENTS_MAX);

        f->events_array = calloc(n, sizeof(ProtocolEvent));
        if (!f->events_array)
                return protocol_fail(st, PROTOCOL_INVALID_EVENT, "out of memory");
        for (size_t i = 0; i < n; i++) {
                r = parse_event(list ? json_array_get(list, i) : msg, i, &f->events_array[i], st);
                if (r < 0)
                        return r;
        }
        f->n_events = n;
        return 0;
}

static int parse_status(Frame *f, json_t *msg, double max_runtime, ProtocolStatus *st) {
        return 0;
}

static int parse_jobs(Frame *f, json_t *msg, double max_runtime, ProtocolStatus *st) {
        json_t *v;

        assert(f);
        assert(msg);

        f->state_filter = -1;
        f->limit = PROTOCOL_JOBS_LIMIT_DEFAULT;
        v = json_object_get(msg, "state");
        if (v) {
                f->state_filter = protocol_state_from_string(json_string_value(v));
                if (f->state_filter < 0)
                        return protocol_fail(st, PROTOCOL_INVALID_FILTER, "\"state\" is not a job state");
        }
        v = json_object_get(msg, "scheduler");
        if (v) {
                if (!protocol_name_is_valid(json_string_value(v)))
                        return protocol_fail(st, PROTOCOL_INVALID_FILTER,
                                             "\"scheduler\" is not a scheduler name");
                f->scheduler_filter = json_string_value(v);
        }
        v = json_object_get(msg, "limit");
        if (v) {
                if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                    json_integer_value(v) > PROTOCOL_JOBS_LIMIT_MAX)
                        return protocol_fail(st, PROTOCOL_INVALID_FILTER,
                                             "\"limit\" must be an integer from 1 to %d",
                                             PROTOCOL_JOBS_LIMIT_MAX);
                f->limit = (unsigned) json_integer_value(v);
        }
        return 0;
}

static int parse_cancel(Frame *f, json_t *msg, double max_runtime, ProtocolStatus *st) {
        assert(f);
        assert(msg);

        if (!get_u64(json_object_get(msg, "id"), &f->id))
                return protocol_fail(st, PROTOCOL_INVALID_ID, "\"id\" must be a non-negative integer");
        return 0;
}

typedef int (*CommandParser)(Frame *f, json_t *msg, double max_runtime, ProtocolStatus *st);

static const CommandParser command_parsers[_COMMAND_MAX] = {
        [COMMAND_REGISTER] = parse_register,   [COMMAND_JOB_REQUEST] = parse_job_request,
        [COMMAND_JOB_EVENT] = parse_job_event, [COMMAND_STATUS] = parse_status,
        [COMMAND_JOBS] = parse_jobs,           [COMMAND_CANCEL] = parse_cancel,
};

/* Whether a frame mentions "job_event" or "job_request" (the first of them that comes): the
 * candidates for a fast path. A frame that spells its command with escapes goes to jansson. */
static Command frame_fast_kind(const void *data, size_t size) {
        static const char request[] = "{\"cmd\":\"job_request\"",
                          request_spaced[] = "{\"cmd\": \"job_request\"";
        const char *p = data, *end = p + size;

        /* How our clients and the Python ones write it, seen at once. */
        if ((size >= sizeof request - 1 && memcmp(p, request, sizeof request - 1) == 0) ||
            (size >= sizeof request_spaced - 1 && memcmp(p, request_spaced, sizeof request_spaced - 1) == 0))
                return COMMAND_JOB_REQUEST;
        while (p && p < end) {
                p = memmem(p, (size_t) (end - p), "job_", 4);
                if (!p)
                        break;
                p += 4;
                if ((size_t) (end - p) >= 5 && memcmp(p, "event", 5) == 0)
                        return COMMAND_JOB_EVENT;
                if ((size_t) (end - p) >= 7 && memcmp(p, "request", 7) == 0)
                        return COMMAND_JOB_REQUEST;
        }
        return _COMMAND_INVALID;
}

int frame_parse(Frame *ret, const void *data, size_t size, double max_runtime, ProtocolStatus *ret_status) {
        _cleanup_(json_decrefp) json_t *msg = NULL;
        char quoted[QUOTE_MAX + 8];
        const char *cmd;
        json_t *v;
        Frame f;
        int r;

        assert(ret);

        *ret = (Frame){ .command = _COMMAND_INVALID, .role = _ROLE_INVALID };
        /* Schedulers send eight job_event frames per job: those go through the fast path, and what it
         * does not take, jansson judges (with the error text for a bad one). A frame without the word
         * is not one (or spells it with escapes, which jansson reads as well): no scan for it. */
        /* Producers send one job_request per job, which the bus forwards as it came: no tree
         * either. One pass over the frame finds which of the two it may be. */
        switch (frame_fast_kind(data, size)) {
        case COMMAND_JOB_EVENT:
                r = frame_parse_job_event_fast(ret, data, size);
                if (r > 0)
                        return 0;
                break;
        case COMMAND_JOB_REQUEST:
                r = frame_parse_job_request_fast(ret, data, size, max_runtime);
                if (r > 0)
                        return 0;
                break;
        default:
                break;
        }

        f = *ret;
        r = protocol_load(&msg, data, size, ret_status);
        if (r < 0)
                return r;
        if (!json_is_object(msg))
                return protocol_fail(ret_status, PROTOCOL_INVALID_MESSAGE, "frame is not a JSON object");

        v = json_object_get(msg, "cmd");
        if (!v)
                return protocol_fail(ret_status, PROTOCOL_INVALID_MESSAGE, "\"cmd\" is missing");
        cmd = json_string_value(v);
        if (!cmd)
                return protocol_fail(ret_status, PROTOCOL_INVALID_MESSAGE, "\"cmd\" is not a string");

        f.command = command_from_string(cmd);
        if (f.command < 0)
                return protocol_fail(ret_status, PROTOCOL_UNKNOWN_CMD, "unknown command \"%s\"",
                                     printable(quoted, sizeof(quoted), cmd, QUOTE_MAX));

        r = command_parsers[f.command](&f, msg, max_runtime, ret_status);
        if (r < 0) {
                /* Only the ref survives a rejection, for the error frame to echo. */
                ret->ref = TAKE_PTR(f.ref);
                f.msg = NULL;
                frame_done(&f);
                return r;
        }

        f.msg = TAKE_PTR(msg);
        *ret = f;
        return 0;
}

void frame_done(Frame *f) {
        assert(f);

        json_decref(f->payload);
        f->payload = NULL;
        f->payload_text = NULL;
        f->payload_size = 0;
        json_decref(f->ref);
        f->ref = NULL;
        f->events_array = mfree(f->events_array);
        f->n_events = 0;
        f->has_load = false;
        f->scheduler_filter = NULL;
        json_decref(f->msg);
        f->msg = NULL;
}

static int parse_id(json_t *obj, JobRequest *jr, ProtocolStatus *st) {
        json_t *v;

        assert(obj);
        assert(jr);

        v = json_object_get(obj, "id");
        if (!v)
                return 0;
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return protocol_fail(st, PROTOCOL_INVALID_PAYLOAD, "\"id\" must be a non-negative integer");

        jr->id = (uint64_t) json_integer_value(v);
        jr->has_id = true;
        return 0;
}

/* A job object as the bus forwards it: id (optional), priority, runtime. What was valid is kept
 * in *ret even when a later field is not, priority and runtime being -1 until read. */
static int parse_job(json_t *job, JobRequest *ret, double max_runtime, ProtocolStatus *st) {
        JobRequest jr = { .priority = -1, .runtime = -1 };
        int r;

        assert(ret);

        if (!json_is_object(job))
                r = protocol_fail(st, PROTOCOL_INVALID_PAYLOAD, "job is not a JSON object");
        else
                r = parse_id(job, &jr, st);
        if (r >= 0)
                r = parse_priority(job, &jr.priority, st);
        if (r >= 0)
                r = parse_runtime(job, max_runtime, &jr.runtime, st);

        *ret = jr;
        return r;
}

int job_request_parse(JobRequest *ret, const void *data, size_t size, double max_runtime,
                      ProtocolStatus *ret_status) {
        _cleanup_(json_decrefp) json_t *job = NULL;
        int r;

        assert(ret);

        r = protocol_load(&job, data, size, ret_status);
        if (r < 0)
                return r;
        return parse_job(job, ret, max_runtime, ret_status);
}

int bus_message_parse(BusMessage *ret, const void *data, size_t size, double max_runtime,
                      ProtocolStatus *ret_status) {
        _cleanup_(json_decrefp) json_t *msg = NULL;
        BusMessage m = { .kind = BUS_MESSAGE_JOB };
        const char *cmd;
        json_t *v;
        int r;

        assert(ret);

        *ret = m;
        r = protocol_load(&msg, data, size, ret_status);
        if (r < 0)
                return r;

        /* A bus of version 1 sends the bare job, which has no "cmd". */
        v = json_object_get(msg, "cmd");
        cmd = json_string_value(v);
        if (!v)
                r = parse_job(msg, &m.job, max_runtime, ret_status);
        else if (cmd && strcmp(cmd, "job") == 0)
                r = parse_job(json_object_get(msg, "payload"), &m.job, max_runtime, ret_status);
        else if (cmd && strcmp(cmd, "cancel") == 0) {
                m.kind = BUS_MESSAGE_CANCEL;
                r = get_u64(json_object_get(msg, "id"), &m.id)
                            ? 0
                            : protocol_fail(ret_status, PROTOCOL_INVALID_ID,
                                            "\"id\" must be a non-negative integer");
        } else
                r = protocol_fail(ret_status, PROTOCOL_UNKNOWN_CMD, "unknown command from the bus");
        /* A rejected job with a valid id too: the scheduler reports on it. */
        *ret = m;
        return r;
}

const char *protocol_state_to_string(int state) {
        if (state == PROTOCOL_STATE_HELD)
                return "held";
        return state == PROTOCOL_STATE_SENT ? "sent" : job_state_to_string(state);
}

int protocol_state_from_string(const char *s) {
        if (s && strcmp(s, "sent") == 0)
                return PROTOCOL_STATE_SENT;
        if (s && strcmp(s, "held") == 0)
                return PROTOCOL_STATE_HELD;
        return job_state_from_string(s);
}

_printf_(3, 4) static int protocol_printf(char **ret, size_t *ret_size, const char *format, ...);

static int protocol_dumps(json_t *v, size_t flags, char **ret, size_t *ret_size) {
        char *s;

        assert(v);
        assert(ret);

        s = json_dumps(v, flags);
        if (!s)
                return -ENOMEM;
        if (ret_size)
                *ret_size = strlen(s);
        *ret = s;
        return 0;
}

json_t *frame_payload(Frame *f) {
        assert(f);

        if (!f->payload && f->payload_text)
                f->payload = json_loadb(f->payload_text, f->payload_size, 0, NULL);
        return f->payload;
}

size_t protocol_splice_job(const char *payload, size_t size, uint64_t id, bool wrapped,
                           char buf[static PROTOCOL_SPLICE_PREFIX_MAX], struct iovec parts[static 3]) {
        int n;

        assert(payload);
        assert(size >= 2 && payload[0] == '{');

        /* {"id":N, then the members as they came, through the payload's own '}'. By hand: printf
         * is a tenth of the bus's time per job. */
        static const char head[] = "{\"cmd\":\"job\",\"payload\":{\"id\":";
        char digits[20];
        size_t k = 0, n0 = wrapped ? sizeof head - 1 : strlen("{\"id\":");

        memcpy(buf, wrapped ? head : "{\"id\":", n0);
        do
                digits[k++] = (char) ('0' + id % 10);
        while ((id /= 10) > 0);
        for (n = (int) n0; k > 0;)
                buf[n++] = digits[--k];
        buf[n++] = ',';
        assert(n < PROTOCOL_SPLICE_PREFIX_MAX);
        parts[0] = (struct iovec){ .iov_base = buf, .iov_len = (size_t) n };
        parts[1] = (struct iovec){ .iov_base = (void *) (payload + 1), .iov_len = size - 1 };
        parts[2] = (struct iovec){ .iov_base = (void *) "}", .iov_len = wrapped };
        return (size_t) n + size - 1 + wrapped;
}

int protocol_dump_job(json_t *payload, uint64_t id, char **ret, size_t *ret_size) {
        _cleanup_(json_decrefp) json_t *job = NULL;

        assert(ret);

        if (!json_is_object(payload))
                return -EINVAL;
        if (id > INT64_MAX)
                return -ERANGE;

        /* A shallow copy: the bus keeps the payload as the producer sent it. */
        job = json_copy(payload);
        if (!job)
                return -ENOMEM;
        if (json_object_set_new(job, "id", json_integer((json_int_t) id)) < 0)
                return -ENOMEM;

        return protocol_dumps(job, JSON_COMPACT, ret, ret_size);
}

int protocol_dump_job_wrapped(json_t *payload, uint64_t id, char **ret, size_t *ret_size) {
        static const char head[] = "{\"cmd\":\"job\",\"payload\":";
        _cleanup_free_ char *job = NULL;
        size_t size;
        char *s;
        int r;

        assert(ret);

        /* The bare job's text inside a frame: one dump, not a second tree to build and print. */
        r = protocol_dump_job(payload, id, &job, &size);
        if (r < 0)
                return r;
        s = malloc(sizeof head - 1 + size + 2);
        if (!s)
                return -ENOMEM;
        memcpy(s, head, sizeof head - 1);
        memcpy(s + sizeof head - 1, job, size);
        memcpy(s + sizeof head - 1 + size, "}", 2);
        if (ret_size)
                *ret_size = sizeof head - 1 + size + 1;
        *ret = s;
        return 0;
}

int protocol_dump_error(const ProtocolStatus *st, json_t *ref, char **ret, size_t *ret_size) {
        _cleanup_(json_decrefp) json_t *frame = NULL;
        const char *code;

        assert(st);
        assert(ret);

        code = protocol_error_to_string(st->error);
        if (!code)
                return -EINVAL;

        frame = json_object();
        if (!frame)
                return -ENOMEM;
        /* json_string() refuses invalid UTF-8; the message is ASCII by construction. */
        if (json_object_set_new(frame, "error", json_string(code)) < 0 ||
            json_object_set_new(frame, "message", json_string(st->message)) < 0 ||
            (ref && json_object_set(frame, "ref", ref) < 0))
                return -ENOMEM;

        return protocol_dumps(frame, JSON_COMPACT | JSON_PRESERVE_ORDER, ret, ret_size);
}

int protocol_dump_accepted(uint64_t id, json_t *ref, char **ret, size_t *ret_size) {
        _cleanup_(json_decrefp) json_t *frame = NULL;

        assert(ret);

        if (id > INT64_MAX)
                return -ERANGE;
        frame = json_pack("{s:s, s:I}", "event", "accepted", "id", (json_int_t) id);
        if (!frame || (ref && json_object_set(frame, "ref", ref) < 0))
                return -ENOMEM;
        return protocol_dumps(frame, JSON_COMPACT | JSON_PRESERVE_ORDER, ret, ret_size);
}

int protocol_dump_cancelling(uint64_t id, unsigned n_schedulers, char **ret, size_t *ret_size) {
        assert(ret);

        if (id > INT64_MAX)
                return -ERANGE;
        return protocol_printf(ret, ret_size,
                               "{\"event\":\"cancelling\",\"id\":%" PRIu64 ",\"schedulers\":%u}", id,
                               n_schedulers);
}

int protocol_event_to_json(const ProtocolEvent *ev, json_t *obj) {
        assert(ev);
        assert(obj);

        if (ev->id > INT64_MAX || !job_state_to_string(ev->state))
                return -EINVAL;
        if (json_object_set_new(obj, "id", json_integer((json_int_t) ev->id)) < 0 ||
            json_object_set_new(obj, "state", json_string(job_state_to_string(ev->state))) < 0)
                return -ENOMEM;
        if (ev->exit_status >= 0 &&
            json_object_set_new(obj, "exit_status", json_integer(ev->exit_status)) < 0)
                return -ENOMEM;
        if (ev->signal && json_object_set_new(obj, "signal", json_string(ev->signal)) < 0)
                return -ENOMEM;
        for (size_t k = 0; k < PROTOCOL_EVENT_COUNTERS; k++) {
                uint64_t v = protocol_event_counter_get(ev, k);

                /* UINT64_MAX: not known; beyond INT64_MAX: not a JSON integer for jansson. */
                if (v <= INT64_MAX && json_object_set_new(obj, protocol_event_counters[k].key,
                                                          json_integer((json_int_t) v)) < 0)
                        return -ENOMEM;
        }
        /* json_string() refuses invalid UTF-8: a reason that is not is left out. */
        if (ev->reason) {
                json_t *reason = json_string(ev->reason);
                if (reason && json_object_set_new(obj, "reason", reason) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static bool load_is_valid(const ProtocolLoad *l) {
        assert(l);

        return l->running <= PROTOCOL_LOAD_RUNNING_MAX && l->waiting <= PROTOCOL_LOAD_WAITING_MAX &&
               l->received <= PROTOCOL_LOAD_RECEIVED_MAX && l->least_urgent >= -1 &&
               l->least_urgent <= PROTOCOL_PRIORITY_MAX;
}

/* "load":{...} with its longest numbers, and room to spare. */
#define LOAD_MEMBER_MAX 128

/* The "load" member as text, to end a frame with: the one writer of it. -EINVAL if out of bounds. */
static int load_format(const ProtocolLoad *l, char *buf, size_t size) {
        char least[32] = "";

        assert(l);
        assert(buf);

        if (!load_is_valid(l))
                return -EINVAL;
        if (l->least_urgent >= 0)
                (void) snprintf(least, sizeof least, ",\"least\":%d", l->least_urgent);
        (void) snprintf(buf, size, "\"load\":{\"running\":%u,\"waiting\":%u,\"received\":%" PRIu64 "%s}",
                        l->running, l->waiting, l->received, least);
        return 0;
}

/* The events as jansson builds them: the frame's members but "load". */
static int job_events_to_json(const ProtocolEvent *events, size_t n, json_t **ret) {
        _cleanup_(json_decrefp) json_t *frame = NULL, *list = NULL;
        int r;

        assert(events || n == 0);
        assert(ret);

        frame = json_pack("{s:s}", "cmd", "job_event");
        if (!frame)
                return -ENOMEM;
        if (n == 1) {
                r = protocol_event_to_json(&events[0], frame);
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(frame);
                return 0;
        }
        list = json_array();
        if (!list)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_t *obj = json_object();

                if (!obj || json_array_append_new(list, obj) < 0)
                        return -ENOMEM;
                r = protocol_event_to_json(&events[i], obj);
                if (r < 0)
                        return r;
        }
        if (json_object_set(frame, "events", list) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(frame);
        return 0;
}

int protocol_dump_job_events(const ProtocolEvent *events, size_t n, const ProtocolLoad *load, char **ret,
                             size_t *ret_size) {
        _cleanup_(json_decrefp) json_t *frame = NULL;
        _cleanup_free_ char *text = NULL;
        char member[LOAD_MEMBER_MAX];
        size_t size;
        int r;

        assert(events || n == 0);
        assert(ret);

        if ((n == 0 && !load) || n > PROTOCOL_EVENTS_MAX)
                return -EINVAL;
        if (load) {
                r = load_format(load, member, sizeof member);
                if (r < 0)
                        return r;
        }
        r = job_events_to_json(events, n, &frame);
        if (r < 0)
                return r;
        if (!load)
                return protocol_dumps(frame, JSON_COMPACT | JSON_PRESERVE_ORDER, ret, ret_size);

        /* The load goes in as text after the events, from the same writer as the register's. */
        r = protocol_dumps(frame, JSON_COMPACT | JSON_PRESERVE_ORDER, &text, &size);
        if (r < 0)
                return r;
        assert(size > 0 && text[size - 1] == '}');
        return protocol_printf(ret, ret_size, "%.*s,%s}", (int) (size - 1), text, member);
}

_printf_(3, 4) static int protocol_printf(char **ret, size_t *ret_size, const char *format, ...) {
        va_list ap;
        char *s;
        int n;

        assert(ret);
        assert(format);

        va_start(ap, format);
        n = vasprintf(&s, format, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;

        if (ret_size)
                *ret_size = (size_t) n;
        *ret = s;
        return 0;
}

int protocol_dump_register(Role role, char **ret, size_t *ret_size) {
        const char *type = role_to_string(role);

        assert(ret);

        if (!type)
                return -EINVAL;
        return protocol_printf(ret, ret_size, "{\"cmd\": \"register\", \"type\": \"%s\"}", type);
}

int protocol_dump_job_request(int priority, double runtime, char **ret, size_t *ret_size) {
        char number[FORMAT_DOUBLE_MAX];

        assert(ret);

        if (priority < PROTOCOL_PRIORITY_MIN || priority > PROTOCOL_PRIORITY_MAX)
                return -EINVAL;
        if (!isfinite(runtime) || runtime < 0)
                return -EINVAL;

        /* As Python's repr() prints what the original producer sends. */
        return protocol_printf(
                ret, ret_size,
                "{\"cmd\": \"job_request\", \"payload\": {\"priority\": %d, \"runtime\": %s}}", priority,
                format_double(number, sizeof number, runtime));
}

int protocol_dump_register_events(char **ret, size_t *ret_size) {
        assert(ret);

        return protocol_printf(ret, ret_size,
                               "{\"cmd\":\"register\",\"type\":\"producer\",\"events\":true}");
}

int protocol_dump_register_scheduler(const char *name, unsigned slots, const ProtocolLoad *load, char **ret,
                                     size_t *ret_size) {
        char member[LOAD_MEMBER_MAX] = "";

        assert(ret);

        /* The name's characters need no JSON escaping. */
        if (!protocol_name_is_valid(name) || slots < 1 || slots > PROTOCOL_SLOTS_MAX)
                return -EINVAL;
        if (load && load_format(load, member, sizeof member) < 0)
                return -EINVAL;
        return protocol_printf(
                ret, ret_size,
                "{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"%s\",\"slots\":%u%s%s}", name,
                slots, load ? "," : "", member);
}

int protocol_dump_job_request_ref(int priority, double runtime, const char *ref, char **ret,
                                  size_t *ret_size) {
        _cleanup_free_ char *quoted = NULL;
        char number[FORMAT_DOUBLE_MAX];

        assert(ret);

        if (priority < PROTOCOL_PRIORITY_MIN || priority > PROTOCOL_PRIORITY_MAX)
                return -EINVAL;
        if (!isfinite(runtime) || runtime < 0)
                return -EINVAL;
        if (ref) {
                _cleanup_(json_decrefp) json_t *v = NULL;

                if (strlen(ref) > PROTOCOL_REF_MAX)
                        return -EINVAL;
                v = json_string(ref);
                if (!v)
                        return -EINVAL; /* not UTF-8 */
                quoted = json_dumps(v, JSON_ENCODE_ANY);
                if (!quoted)
                        return -ENOMEM;
        }
        return protocol_printf(ret, ret_size,
                               "{\"cmd\":\"job_request\",\"payload\":{\"priority\":%d,\"runtime\":%s}%s%s}",
                               priority, format_double(number, sizeof number, runtime),
                               quoted ? ",\"ref\":" : "", quoted ?: "");
}

int protocol_dump_status_request(char **ret, size_t *ret_size) {
        assert(ret);

        return protocol_printf(ret, ret_size, "{\"cmd\":\"status\"}");
}

int protocol_dump_jobs_request(int state, const char *scheduler, unsigned limit, char **ret,
                               size_t *ret_size) {
        _cleanup_(json_decrefp) json_t *frame = NULL;

        assert(ret);

        if (state >= 0 && !protocol_state_to_string(state))
                return -EINVAL;
        if (scheduler && !protocol_name_is_valid(scheduler))
                return -EINVAL;
        if (limit > PROTOCOL_JOBS_LIMIT_MAX)
                return -EINVAL;
        frame = json_pack("{s:s}", "cmd", "jobs");
        if (!frame)
                return -ENOMEM;
        if ((state >= 0 &&
             json_object_set_new(frame, "state", json_string(protocol_state_to_string(state))) < 0) ||
            (scheduler && json_object_set_new(frame, "scheduler", json_string(scheduler)) < 0) ||
            (limit > 0 && json_object_set_new(frame, "limit", json_integer(limit)) < 0))
                return -ENOMEM;
        return protocol_dumps(frame, JSON_COMPACT | JSON_PRESERVE_ORDER, ret, ret_size);
}

int protocol_dump_cancel(uint64_t id, char **ret, size_t *ret_size) {
        assert(ret);

        if (id > INT64_MAX)
                return -ERANGE;
        return protocol_printf(ret, ret_size, "{\"cmd\":\"cancel\",\"id\":%" PRIu64 "}", id);
}
