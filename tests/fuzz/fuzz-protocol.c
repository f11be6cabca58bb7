/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the wire protocol: every input goes through both parsers, and whatever they
 * accept or reject must dump to a frame that parses back to the same facts. A broken round trip
 * aborts, so the fuzzer reports it like a crash. The same file is linked with fuzz-replay.c into a
 * plain program that replays the checked-in corpus under ctest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-check.h"
#include "macro.h"
#include "protocol.h"

static void check_error_frame(const ProtocolStatus *st) {
        _cleanup_(json_decrefp) json_t *back = NULL;
        _cleanup_free_ char *s = NULL;

        check(protocol_error_to_string(st->error));
        check(memchr(st->message, 0, sizeof(st->message)));
        check(protocol_dump_error(st, NULL, &s, NULL) == 0);
        back = json_loads(s, 0, NULL);
        check(json_is_object(back));
        check(strcmp(json_string_value(json_object_get(back, "error")),
                     protocol_error_to_string(st->error)) == 0);
}

static void check_load(const ProtocolLoad *l) {
        check(l->running <= PROTOCOL_LOAD_RUNNING_MAX && l->waiting <= PROTOCOL_LOAD_WAITING_MAX);
        check(l->received <= PROTOCOL_LOAD_RECEIVED_MAX);
        check(l->least_urgent >= -1 && l->least_urgent <= PROTOCOL_PRIORITY_MAX);
}

static bool load_same(const ProtocolLoad *a, const ProtocolLoad *b) {
        return a->running == b->running && a->waiting == b->waiting && a->received == b->received &&
               a->least_urgent == b->least_urgent;
}

static void check_job(const JobRequest *jr) {
        check(jr->priority >= PROTOCOL_PRIORITY_MIN && jr->priority <= PROTOCOL_PRIORITY_MAX);
        check(jr->runtime >= 0 && jr->runtime <= FUZZ_MAX_RUNTIME);
}

/* Bus side: what the bus forwards, the scheduler must accept with the same priority and runtime. */
static void fuzz_frame(const uint8_t *data, size_t size, uint64_t id) {
        _cleanup_free_ char *job = NULL;
        ProtocolStatus st;
        JobRequest jr;
        Frame f;

        if (frame_parse(&f, data, size, FUZZ_MAX_RUNTIME, &st) < 0) {
                check(!f.payload && !f.events_array);
                check(!f.ref || json_is_string(f.ref) || json_is_integer(f.ref));
                check_error_frame(&st);
                frame_done(&f);
                return;
        }

        check(f.command >= 0 && f.command < _COMMAND_MAX);
        switch (f.command) {
        case COMMAND_REGISTER:
                check(role_to_string(f.role) && !f.payload);
                check(!f.name[0] || (protocol_name_is_valid(f.name) && f.slots >= 1));
                check(!f.has_load || f.name[0]);
                if (f.name[0]) {
                        _cleanup_free_ char *back = NULL;
                        Frame g;

                        if (f.has_load)
                                check_load(&f.load);
                        check(protocol_dump_register_scheduler(f.name, f.slots, f.has_load ? &f.load : NULL,
                                                               &back, NULL) == 0);
                        check(frame_parse(&g, back, strlen(back), FUZZ_MAX_RUNTIME, NULL) == 0);
                        check(g.role == ROLE_SCHEDULER && strcmp(g.name, f.name) == 0 && g.slots == f.slots);
                        check(g.has_load == f.has_load && (!f.has_load || load_same(&g.load, &f.load)));
                        frame_done(&g);
                }
                frame_done(&f);
                return;
        case COMMAND_JOB_EVENT: {
                _cleanup_free_ char *back = NULL;
                Frame g;

                /* What a scheduler sends, the bus reads back the same. */
                check((f.n_events >= 1 || f.has_load) && f.n_events <= PROTOCOL_EVENTS_MAX);
                if (f.has_load)
                        check_load(&f.load);
                check(protocol_dump_job_events(f.events_array, f.n_events, f.has_load ? &f.load : NULL,
                                               &back, NULL) == 0);
                check(frame_parse(&g, back, strlen(back), FUZZ_MAX_RUNTIME, NULL) == 0);
                check(g.command == COMMAND_JOB_EVENT && g.n_events == f.n_events);
                check(g.has_load == f.has_load && (!f.has_load || load_same(&g.load, &f.load)));
                for (size_t i = 0; i < f.n_events; i++)
                        check(g.events_array[i].id == f.events_array[i].id &&
                              g.events_array[i].state == f.events_array[i].state &&
                              g.events_array[i].exit_status == f.events_array[i].exit_status);
                frame_done(&g);
                frame_done(&f);
                return;
        }
        case COMMAND_STATUS:
        case COMMAND_CANCEL:
                frame_done(&f);
                return;
        case COMMAND_JOBS:
                check(f.limit >= 1 && f.limit <= PROTOCOL_JOBS_LIMIT_MAX);
                check(f.state_filter < 0 || protocol_state_to_string(f.state_filter));
                frame_done(&f);
                return;
        default:
                break;
        }

        /* Read without jansson: the bytes, of which the tree is made when asked for. */
        check(!f.payload_text || !f.payload);
        check(json_is_object(frame_payload(&f)));
        check(protocol_dump_job(f.payload, id, &job, NULL) == 0);
        check(job_request_parse(&jr, job, strlen(job), FUZZ_MAX_RUNTIME, NULL) == 0);
        check(jr.has_id && jr.id == id);
        check(jr.priority == f.priority && jr.runtime == f.runtime);
        frame_done(&f);
}

/* Scheduler and producer side: a job the producer could send again reads back unchanged. */
static void fuzz_job(const uint8_t *data, size_t size) {
        _cleanup_free_ char *req = NULL;
        ProtocolStatus st;
        JobRequest jr;
        Frame f;

        if (job_request_parse(&jr, data, size, FUZZ_MAX_RUNTIME, &st) < 0) {
                check_error_frame(&st);
                return;
        }

        check_job(&jr);
        check(jr.has_id || jr.id == 0);
        check(protocol_dump_job_request(jr.priority, jr.runtime, &req, NULL) == 0);
        check(frame_parse(&f, req, strlen(req), FUZZ_MAX_RUNTIME, NULL) == 0);
        check(f.command == COMMAND_JOB_REQUEST && f.priority == jr.priority && f.runtime == jr.runtime);
        frame_done(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint64_t id = 0;

        /* The bus refuses bigger frames before parsing. */
        if (size > FUZZ_FRAME_MAX)
                return 0;

        memcpy(&id, data, MIN(size, sizeof(id)));
        fuzz_frame(data, size, id & INT64_MAX);
        fuzz_job(data, size);
        return 0;
}
