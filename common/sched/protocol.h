/* SPDX-License-Identifier: MIT */
/*
 * The wire protocol between producers, the bus and schedulers (DESIGN.md, "Wire protocol"): parsing
 * and validation of incoming frames and the text of every outgoing frame. Pure functions over
 * jansson, no I/O and no logging: the caller logs and replies.
 *
 * Parsers accept any bytes (the caller has already bounded the size); a rejected frame comes back as
 * -EINVAL with a ProtocolStatus that holds the error code for the error frame and a printable-ASCII
 * detail that is safe to log. Dump functions return a malloc()ed, NUL-terminated string owned by
 * the caller.
 *
 * Limits inherited from jansson: integers beyond the signed 64-bit range, reals that overflow a
 * double and nesting deeper than 2048 levels are invalid JSON; hence a job id is at most INT64_MAX.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define PROTOCOL_PRIORITY_MIN 0
#define PROTOCOL_PRIORITY_MAX 10
#define PROTOCOL_MESSAGE_MAX  256

typedef enum Role {
        ROLE_PRODUCER,
        ROLE_SCHEDULER,
        _ROLE_MAX,
        _ROLE_INVALID = -EINVAL,
} Role;

/* to_string: NULL for a value out of range; from_string: _INVALID for an unknown or NULL string. */
const char *role_to_string(Role r);
Role role_from_string(const char *s);

typedef enum Command {
        COMMAND_REGISTER,
        COMMAND_JOB_REQUEST,
        _COMMAND_MAX,
        _COMMAND_INVALID = -EINVAL,
} Command;

Command command_from_string(const char *s);

/* The CODE of an error frame. */
typedef enum ProtocolError {
        PROTOCOL_INVALID_JSON,
        PROTOCOL_INVALID_MESSAGE, /* not an object, or "cmd" missing or not a string */
        PROTOCOL_UNKNOWN_CMD,
        PROTOCOL_INVALID_TYPE,
        PROTOCOL_INVALID_PAYLOAD,
        PROTOCOL_INVALID_PRIORITY,
        PROTOCOL_INVALID_RUNTIME,
        _PROTOCOL_ERROR_MAX,
        _PROTOCOL_ERROR_INVALID = -EINVAL,
} ProtocolError;

const char *protocol_error_to_string(ProtocolError e);

/* Why a frame was rejected. `message` is printable ASCII: bytes taken from the input are replaced by
 * '?' unless printable, and shortened. */
typedef struct ProtocolStatus {
        ProtocolError error;
        char message[PROTOCOL_MESSAGE_MAX];
} ProtocolStatus;

/* One validated client -> bus frame. */
typedef struct Frame {
        Command command;
        Role role;       /* register only, else _ROLE_INVALID */
        json_t *payload; /* job_request only: an owned reference to the payload object, extra fields
                          * included; NULL otherwise */
        int priority;    /* job_request only */
        double runtime;  /* job_request only */
} Frame;

/* Parses and validates `size` bytes (need not be NUL-terminated; NUL bytes are rejected). A runtime
 * above `max_runtime` seconds is invalid_runtime. Returns 0 with *ret filled, or -EINVAL with
 * *ret_status (may be NULL) filled and *ret empty; frame_done() is safe after either. */
int frame_parse(Frame *ret, const void *data, size_t size, double max_runtime, ProtocolStatus *ret_status);

/* Drops the payload reference; the Frame may be reused. */
void frame_done(Frame *f);

/* A job as a scheduler receives it from the bus: the payload object with the bus-assigned "id". */
typedef struct JobRequest {
        uint64_t id;
        bool has_id; /* false when the sender was not a bus (no "id" field) */
        int priority;
        double runtime;
} JobRequest;

/* Same priority/runtime validation as frame_parse(). Bad JSON is invalid_json; a non-object, or an
 * "id" that is not a non-negative integer, is invalid_payload. */
int job_request_parse(JobRequest *ret, const void *data, size_t size, double max_runtime,
                      ProtocolStatus *ret_status);

/* Bus -> scheduler: `payload` (an object, not modified) with "id" set to `id`, replacing one the
 * producer sent. Compact JSON. -EINVAL if payload is not an object, -ERANGE if id > INT64_MAX,
 * -ENOMEM. `ret_size` (may be NULL) gets strlen(*ret). */
int protocol_dump_job(json_t *payload, uint64_t id, char **ret, size_t *ret_size);

/* Bus -> client: {"error":CODE,"message":DETAIL}, compact. -EINVAL on an invalid code, -ENOMEM. */
int protocol_dump_error(const ProtocolStatus *st, char **ret, size_t *ret_size);

/* Client -> bus frames, byte for byte as the original Python clients send them
 * (json.dumps() separators): {"cmd": "register", "type": "producer"} and
 * {"cmd": "job_request", "payload": {"priority": 3, "runtime": 7}}. An integral runtime prints as an
 * integer, any other as the shortest decimal that reads back to the same double. -EINVAL for a role,
 * priority or runtime that frame_parse() would reject (runtime unbounded here), -ENOMEM. */
int protocol_dump_register(Role role, char **ret, size_t *ret_size);
int protocol_dump_job_request(int priority, double runtime, char **ret, size_t *ret_size);
