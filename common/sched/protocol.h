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

#include <sys/uio.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "job-state.h"

#define PROTOCOL_PRIORITY_MIN 0
#define PROTOCOL_PRIORITY_MAX 10
#define PROTOCOL_MESSAGE_MAX  256
/* A reporting scheduler's name: 1..64 bytes of [A-Za-z0-9_.:@/-]. */
#define PROTOCOL_NAME_MAX  64
#define PROTOCOL_SLOTS_MAX 65535
/* A job_request's "ref" string, in bytes. */
#define PROTOCOL_REF_MAX 128
/* Events in one job_event frame. */
#define PROTOCOL_EVENTS_MAX 1024
#define PROTOCOL_REASON_MAX 256
#define PROTOCOL_SIGNAL_MAX 16
/* Jobs in one "jobs" answer. */
#define PROTOCOL_JOBS_LIMIT_DEFAULT 1000
#define PROTOCOL_JOBS_LIMIT_MAX     10000
/* The bus's pseudo-state of a job delivered to a scheduler that has not reported on it yet. */
#define PROTOCOL_STATE_SENT _JOB_STATE_MAX
/* The bus's pseudo-state of a job it holds, waiting for a scheduler (the job's, not a scheduler's). */
#define PROTOCOL_STATE_HELD (_JOB_STATE_MAX + 1)

typedef enum Role {
        ROLE_PRODUCER,
        ROLE_SCHEDULER,
        ROLE_OBSERVER, /* sees every job event */
        _ROLE_MAX,
        _ROLE_INVALID = -EINVAL,
} Role;

/* to_string: NULL for a value out of range; from_string: _INVALID for an unknown or NULL string. */
const char *role_to_string(Role r);
Role role_from_string(const char *s);

typedef enum Command {
        COMMAND_REGISTER,
        COMMAND_JOB_REQUEST,
        COMMAND_JOB_EVENT, /* reporting scheduler -> bus */
        COMMAND_STATUS,
        COMMAND_JOBS,
        COMMAND_CANCEL,
        _COMMAND_MAX,
        _COMMAND_INVALID = -EINVAL,
} Command;

Command command_from_string(const char *s);
const char *command_to_string(Command c);

/* The CODE of an error frame. */
typedef enum ProtocolError {
        PROTOCOL_INVALID_JSON,
        PROTOCOL_INVALID_MESSAGE, /* not an object, or "cmd" missing or not a string */
        PROTOCOL_UNKNOWN_CMD,
        PROTOCOL_INVALID_TYPE,
        PROTOCOL_INVALID_PAYLOAD,
        PROTOCOL_INVALID_PRIORITY,
        PROTOCOL_INVALID_RUNTIME,
        PROTOCOL_INVALID_SCHEDULER, /* a scheduler register with a bad name or slots */
        PROTOCOL_INVALID_REF,
        PROTOCOL_INVALID_EVENT,
        PROTOCOL_NOT_ALLOWED, /* job_event from a client that is not a reporting scheduler */
        PROTOCOL_INVALID_FILTER,
        PROTOCOL_INVALID_ID,
        PROTOCOL_UNKNOWN_JOB,
        PROTOCOL_NOT_CANCELLABLE,
        PROTOCOL_FORBIDDEN, /* the connection's token does not allow it */
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

/* One job state change a reporting scheduler tells the bus. Strings point into the frame (its msg, or
 * its events_array block) and live as long as it does. */
typedef struct ProtocolEvent {
        uint64_t id;
        JobState state;
        int exit_status;    /* -1: none */
        const char *signal; /* NULL: none; else 1..16 of [A-Z0-9] ("KILL") */
        const char *reason; /* NULL: none; else at most PROTOCOL_REASON_MAX bytes of UTF-8 */
        uint64_t evicted_by, cpu_usec, memory_peak; /* UINT64_MAX: none */
} ProtocolEvent;

/* The counters among an event's details, by their wire names: one table for every reader and
 * writer of events. */
typedef struct ProtocolEventCounter {
        const char *key;
        size_t offset; /* of the uint64_t in ProtocolEvent */
} ProtocolEventCounter;

#define PROTOCOL_EVENT_COUNTERS 3
extern const ProtocolEventCounter protocol_event_counters[PROTOCOL_EVENT_COUNTERS];

static inline uint64_t *protocol_event_counter(ProtocolEvent *ev, size_t i) {
        return (uint64_t *) ((char *) ev + protocol_event_counters[i].offset);
}

static inline uint64_t protocol_event_counter_get(const ProtocolEvent *ev, size_t i) {
        return *(const uint64_t *) ((const char *) ev + protocol_event_counters[i].offset);
}

#define PROTOCOL_EVENT_INIT(i, s)                   \
        ((ProtocolEvent){ .id = (i),                \
                          .state = (s),             \
                          .exit_status = -1,        \
                          .evicted_by = UINT64_MAX, \
                          .cpu_usec = UINT64_MAX,   \
                          .memory_peak = UINT64_MAX })

/* A reporting scheduler's load when it sent the frame that carries it: the "load" member of its
 * register and job_event frames, for a bus that chooses where each job goes. On the wire
 * "load":{"running":R,"waiting":W,"received":N[,"least":P]}, "least" left out when -1; unknown
 * members are ignored, as everywhere. */
typedef struct ProtocolLoad {
        /* Jobs holding a slot: running, or ending (exited, or being killed at their timeout). An
         * evicted or cancelled job gives its slot up at once, while it is still being terminated. */
        unsigned running;
        unsigned waiting; /* jobs in its pending queue */
        /* Jobs it received on this connection to the bus, counted from 0 at each connect. */
        uint64_t received;
        /* The highest priority number among the jobs holding a slot that could be evicted; -1: none. */
        int least_urgent;
} ProtocolLoad;

/* The bounds of a valid load; "least" is a priority (sent only when >= 0). */
#define PROTOCOL_LOAD_RUNNING_MAX  PROTOCOL_SLOTS_MAX
#define PROTOCOL_LOAD_WAITING_MAX  INT32_MAX
#define PROTOCOL_LOAD_RECEIVED_MAX (UINT64_C(1) << 53) /* an exact double, for any JSON reader */

/* One validated client -> bus frame. */
typedef struct Frame {
        Command command;
        Role role;                        /* register only, else _ROLE_INVALID */
        bool events;                      /* register as producer: wants "accepted" and its jobs' events */
        char name[PROTOCOL_NAME_MAX + 1]; /* register as scheduler: "" for one that does not report */
        unsigned slots;                   /* with name */
        json_t *payload; /* job_request only: an owned reference to the payload object, extra fields
                          * included; NULL otherwise, and for a job_request read without jansson,
                          * which has payload_text instead (frame_payload() makes the tree) */
        /* job_request read without jansson: the payload object's bytes in the parsed buffer (valid
         * as long as it is), '{' to '}', validated, with priority, runtime and no "id" member */
        const char *payload_text;
        size_t payload_size;
        json_t *ref;    /* job_request: an owned reference to its "ref" (string or integer); NULL: none */
        int priority;   /* job_request only */
        double runtime; /* job_request only */
        ProtocolEvent *events_array; /* job_event: n_events of them (malloc()ed); n_events is 0 only in
                                      * a load-only report (has_load) */
        size_t n_events;
        /* register as scheduler with name and slots, job_event: "load" was sent, and is in `load` */
        bool has_load;
        ProtocolLoad load;
        int state_filter;             /* jobs: a JobState, PROTOCOL_STATE_SENT or _HELD; -1: any */
        const char *scheduler_filter; /* jobs: NULL: any */
        unsigned limit;               /* jobs */
        uint64_t id;                  /* cancel */
        json_t *msg;                  /* the parsed frame, which the strings above point into; NULL
                                       * for a job_event read without jansson, whose strings follow
                                       * the events in the events_array block */
} Frame;

/* Parses and validates `size` bytes (need not be NUL-terminated; NUL bytes are rejected). A runtime
 * above `max_runtime` seconds is invalid_runtime. Returns 0 with *ret filled, or -EINVAL with
 * *ret_status (may be NULL) filled and *ret empty but for `ref`, kept when it was valid so that the
 * error can echo it; frame_done() is needed after either. */
int frame_parse(Frame *ret, const void *data, size_t size, double max_runtime, ProtocolStatus *ret_status);

/* Drops the references and the events; the Frame may be reused. */
void frame_done(Frame *f);

/* A job_request's payload as a tree: f->payload, made from f->payload_text the first time it is
 * needed (the bus needs it only for jobs it holds). NULL without memory. */
json_t *frame_payload(Frame *f);

/* A forwarded job's text from a payload that is valid JSON text with at least one member and no
 * "id" (Frame.payload_text): the same object protocol_dump_job() (wrapped: _wrapped()) makes of
 * its tree, the producer's bytes spliced in as they came. The parts (prefix, payload minus its
 * '{', suffix) go into `parts` (3 iovecs), the prefix's bytes into `buf`. */
#define PROTOCOL_SPLICE_PREFIX_MAX 64
size_t protocol_splice_job(const char *payload, size_t size, uint64_t id, bool wrapped,
                           char buf[static PROTOCOL_SPLICE_PREFIX_MAX], struct iovec parts[static 3]);

/* A job as a scheduler receives it from the bus: the payload object with the bus-assigned "id". */
typedef struct JobRequest {
        uint64_t id;
        bool has_id; /* false when the sender was not a bus (no "id" field) */
        int priority;
        double runtime;
} JobRequest;

/* Same priority/runtime validation as frame_parse(). Bad JSON is invalid_json; a non-object, or an
 * "id" that is not a non-negative integer, is invalid_payload. On -EINVAL *ret holds what was valid
 * before the field that is not: id and has_id (has_id false if the id was not read), priority and
 * runtime (-1 if not read). */
int job_request_parse(JobRequest *ret, const void *data, size_t size, double max_runtime,
                      ProtocolStatus *ret_status);

/* What a reporting scheduler receives: a job, bare (from a bus of version 1) or as
 * {"cmd":"job","payload":{...}}, or {"cmd":"cancel","id":ID}. */
typedef enum BusMessageKind {
        BUS_MESSAGE_JOB,
        BUS_MESSAGE_CANCEL,
} BusMessageKind;

typedef struct BusMessage {
        BusMessageKind kind;
        JobRequest job; /* BUS_MESSAGE_JOB */
        uint64_t id;    /* BUS_MESSAGE_CANCEL */
} BusMessage;

/* On -EINVAL *ret is filled as far as it was read, as job_request_parse() fills its JobRequest: a
 * job the scheduler cannot take (a runtime above its own limit) but that has a valid id still has
 * kind BUS_MESSAGE_JOB and job.has_id, so that it can be reported; job.has_id is false for anything
 * else rejected. */
int bus_message_parse(BusMessage *ret, const void *data, size_t size, double max_runtime,
                      ProtocolStatus *ret_status);

/* Bus -> scheduler: `payload` (an object, not modified) with "id" set to `id`, replacing one the
 * producer sent. Compact JSON. -EINVAL if payload is not an object, -ERANGE if id > INT64_MAX,
 * -ENOMEM. `ret_size` (may be NULL) gets strlen(*ret). */
int protocol_dump_job(json_t *payload, uint64_t id, char **ret, size_t *ret_size);

/* Bus -> reporting scheduler: {"cmd":"job","payload":PAYLOAD+id}. Errors as protocol_dump_job(). */
int protocol_dump_job_wrapped(json_t *payload, uint64_t id, char **ret, size_t *ret_size);

/* Bus -> client: {"error":CODE,"message":DETAIL[,"ref":REF]}, compact. `ref` may be NULL. -EINVAL on
 * an invalid code, -ENOMEM. */
int protocol_dump_error(const ProtocolStatus *st, json_t *ref, char **ret, size_t *ret_size);

/* Bus -> client: {"event":"accepted","id":ID[,"ref":REF]}. */
int protocol_dump_accepted(uint64_t id, json_t *ref, char **ret, size_t *ret_size);

/* Bus -> client: {"event":"cancelling","id":ID,"schedulers":N}. */
int protocol_dump_cancelling(uint64_t id, unsigned n_schedulers, char **ret, size_t *ret_size);

/* Reporting scheduler -> bus: one job_event frame with n (1..PROTOCOL_EVENTS_MAX) events; the single
 * form for one. `load` (may be NULL: no "load" member) is appended as the frame's last member, and
 * with it n may be 0: {"cmd":"job_event","events":[],"load":{...}}. -EINVAL for n out of range, an
 * event the bus would reject or a load out of bounds, -ENOMEM. */
int protocol_dump_job_events(const ProtocolEvent *events, size_t n, const ProtocolLoad *load, char **ret,
                             size_t *ret_size);

/* The fields of one event as JSON members, appended to `obj` (the details that are set). */
int protocol_event_to_json(const ProtocolEvent *ev, json_t *obj);

/* Client -> bus frames, byte for byte as the original Python clients send them
 * (json.dumps() separators): {"cmd": "register", "type": "producer"} and
 * {"cmd": "job_request", "payload": {"priority": 3, "runtime": 7}}. An integral runtime prints as an
 * integer, any other as the shortest decimal that reads back to the same double. -EINVAL for a role,
 * priority or runtime that frame_parse() would reject (runtime unbounded here), -ENOMEM. */
int protocol_dump_register(Role role, char **ret, size_t *ret_size);
int protocol_dump_job_request(int priority, double runtime, char **ret, size_t *ret_size);

/* Version 2 client -> bus frames (compact JSON):
 *   {"cmd":"register","type":"producer","events":true}
 *   {"cmd":"register","type":"scheduler","name":NAME,"slots":S[,"load":{...}]}
 *                                                                  -EINVAL for a bad name, slots or load
 *   {"cmd":"job_request","payload":{"priority":P,"runtime":R},"ref":REF}   REF may be NULL (none)
 *   {"cmd":"status"}
 *   {"cmd":"jobs"[,"state":S][,"scheduler":NAME][,"limit":L]}   state < 0, NULL, 0: not sent
 *   {"cmd":"cancel","id":ID}                                     also bus -> reporting scheduler */
int protocol_dump_register_events(char **ret, size_t *ret_size);
int protocol_dump_register_scheduler(const char *name, unsigned slots, const ProtocolLoad *load, char **ret,
                                     size_t *ret_size);
int protocol_dump_job_request_ref(int priority, double runtime, const char *ref, char **ret,
                                  size_t *ret_size);
int protocol_dump_status_request(char **ret, size_t *ret_size);
int protocol_dump_jobs_request(int state, const char *scheduler, unsigned limit, char **ret,
                               size_t *ret_size);
int protocol_dump_cancel(uint64_t id, char **ret, size_t *ret_size);

/* Whether `name` is a valid reporting scheduler name. */
bool protocol_name_is_valid(const char *name);
/* A state name: a JobState's, "sent" for PROTOCOL_STATE_SENT, "held" for PROTOCOL_STATE_HELD.
 * NULL / -EINVAL. */
const char *protocol_state_to_string(int state);
int protocol_state_from_string(const char *s);
