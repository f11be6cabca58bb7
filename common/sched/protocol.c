/* SPDX-License-Identifier: MIT */
/*
 * Frame parsing and frame text for the wire protocol. Every check a remote client can fail maps to
 * exactly one error code; the detail text never carries raw input bytes, so the bus can log it and
 * send it back as a JSON string as is.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format-util.h"
#include "macro.h"
#include "protocol.h"
#include "string-table.h"

/* How much of a client-supplied name (an unknown "cmd", a bad "type") the detail quotes. */
#define QUOTE_MAX 32

static const char *const role_table[_ROLE_MAX] = {
        [ROLE_PRODUCER] = "producer",
        [ROLE_SCHEDULER] = "scheduler",
};

static const char *const command_table[_COMMAND_MAX] = {
        [COMMAND_REGISTER] = "register",
        [COMMAND_JOB_REQUEST] = "job_request",
};

static const char *const protocol_error_table[_PROTOCOL_ERROR_MAX] = {
        [PROTOCOL_INVALID_JSON] = "invalid_json",       [PROTOCOL_INVALID_MESSAGE] = "invalid_message",
        [PROTOCOL_UNKNOWN_CMD] = "unknown_cmd",         [PROTOCOL_INVALID_TYPE] = "invalid_type",
        [PROTOCOL_INVALID_PAYLOAD] = "invalid_payload", [PROTOCOL_INVALID_PRIORITY] = "invalid_priority",
        [PROTOCOL_INVALID_RUNTIME] = "invalid_runtime",
};

DEFINE_STRING_TABLE_LOOKUP(role, Role, _ROLE_MAX);
DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(command, Command, _COMMAND_MAX);
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

static int parse_register(Frame *f, json_t *msg, double max_runtime, ProtocolStatus *st) {
        char quoted[QUOTE_MAX + 8];
        const char *s;
        json_t *v;

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
                                     "unknown type \"%s\", expected producer or scheduler",
                                     printable(quoted, sizeof(quoted), s, QUOTE_MAX));
        return 0;
}

static int parse_job_request(Frame *f, json_t *msg, double max_runtime, ProtocolStatus *st) {
        json_t *payload;
        int r;

        assert(f);
        assert(msg);

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

typedef int (*CommandParser)(Frame *f, json_t *msg, double max_runtime, ProtocolStatus *st);

static const CommandParser command_parsers[_COMMAND_MAX] = {
        [COMMAND_REGISTER] = parse_register,
        [COMMAND_JOB_REQUEST] = parse_job_request,
};

int frame_parse(Frame *ret, const void *data, size_t size, double max_runtime, ProtocolStatus *ret_status) {
        _cleanup_(json_decrefp) json_t *msg = NULL;
        char quoted[QUOTE_MAX + 8];
        Frame f = { .command = _COMMAND_INVALID, .role = _ROLE_INVALID };
        const char *cmd;
        json_t *v;
        int r;

        assert(ret);

        *ret = f;
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
        if (r < 0)
                return r;

        *ret = f;
        return 0;
}

void frame_done(Frame *f) {
        assert(f);

        json_decref(f->payload);
        f->payload = NULL;
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

int job_request_parse(JobRequest *ret, const void *data, size_t size, double max_runtime,
                      ProtocolStatus *ret_status) {
        _cleanup_(json_decrefp) json_t *job = NULL;
        JobRequest jr = {};
        int r;

        assert(ret);

        r = protocol_load(&job, data, size, ret_status);
        if (r < 0)
                return r;
        if (!json_is_object(job))
                return protocol_fail(ret_status, PROTOCOL_INVALID_PAYLOAD, "job is not a JSON object");

        r = parse_id(job, &jr, ret_status);
        if (r < 0)
                return r;
        r = parse_priority(job, &jr.priority, ret_status);
        if (r < 0)
                return r;
        r = parse_runtime(job, max_runtime, &jr.runtime, ret_status);
        if (r < 0)
                return r;

        *ret = jr;
        return 0;
}

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

int protocol_dump_error(const ProtocolStatus *st, char **ret, size_t *ret_size) {
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
            json_object_set_new(frame, "message", json_string(st->message)) < 0)
                return -ENOMEM;

        return protocol_dumps(frame, JSON_COMPACT, ret, ret_size);
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
