/* SPDX-License-Identifier: MIT */
/*
 * Differential libFuzzer target for the job_event fast path, two checks per input:
 *   - JsonScan accepts exactly the texts json_loadb(JSON_DECODE_ANY) accepts (but for jansson's
 *     stray NUL bytes, below), and a top-level string or integer has the same value;
 *   - whenever frame_parse_job_event_fast() takes a frame, the jansson path accepts it too, with the
 *     same events and load. The fast path may decline what jansson accepts: it is only slower then.
 * A difference aborts, so the fuzzer reports it like a crash.
 *
 * protocol.c is compiled into this program with its call of the fast path renamed to
 * fuzz_job_event_fast_off(), which declines everything: its frame_parse() is then the jansson path
 * alone, whether or not it tries the fast path first. Linked with fuzz-replay.c it replays the
 * checked-in corpus under ctest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-scan.h"
#include "fuzz-check.h"
#include "macro.h"
#include "protocol-fast.h"
#include "protocol.h"

int fuzz_job_event_fast_off(Frame *f, const void *data, size_t size);

int fuzz_job_event_fast_off(Frame *f, const void *data, size_t size) {
        return 0;
}

static bool string_same(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

static void check_same_event(const ProtocolEvent *a, const ProtocolEvent *b) {
        check(a->id == b->id);
        check(a->state == b->state);
        check(a->exit_status == b->exit_status);
        check(string_same(a->signal, b->signal));
        check(string_same(a->reason, b->reason));
        check(a->evicted_by == b->evicted_by);
        check(a->cpu_usec == b->cpu_usec);
        check(a->memory_peak == b->memory_peak);
}

/* The whole text through the scanner; returns its verdict. A top-level scalar is left in *ret_scalar
 * (its token) and in the scanner. */
static bool scan_all(JsonScan *s, const uint8_t *data, size_t size, int *ret_scalar) {
        int t;

        json_scan_init(s, data, size);
        t = json_scan_next(s);
        *ret_scalar = t;
        if (t == JSON_SCAN_OBJECT_BEGIN || t == JSON_SCAN_ARRAY_BEGIN)
                t = json_scan_skip(s, t);
        if (t < 0)
                return false;
        t = json_scan_next(s);
        check(t < 0 || t == JSON_SCAN_END);
        /* Errors are sticky, and so is the end. */
        check(json_scan_next(s) == t);
        return t == JSON_SCAN_END;
}

static void fuzz_scan(const uint8_t *data, size_t size) {
        _cleanup_(json_decrefp) json_t *v = NULL;
        JsonScan s;
        int scalar;
        bool ok;

        ok = scan_all(&s, data, size, &scalar);
        v = json_loadb((const char *) data, size, JSON_DECODE_ANY, NULL);
        /* jansson 2.14 skips a NUL byte right after a number, true, false or null ("[1\0]" loads:
         * the byte it puts back reads as its empty-buffer mark). JSON has no such thing: the scanner
         * refuses it, and the fast path leaves such a frame to jansson. */
        check(ok ? !!v : (!v || memchr(data, 0, size)));
        if (!ok)
                return;

        if (scalar == JSON_SCAN_STRING) {
                _cleanup_free_ char *buf = malloc(s.string.size + 1);

                check(buf);
                check(json_is_string(v) && json_string_length(v) == s.string.size);
                check(json_scan_string_decode(&s.string, buf) == s.string.size);
                check(memcmp(buf, json_string_value(v), s.string.size) == 0);
                check(json_scan_string_equal(&s.string, json_string_value(v), json_string_length(v)));
        } else if (scalar == JSON_SCAN_INTEGER)
                check(json_is_integer(v) && json_integer_value(v) == s.integer);
        else if (scalar == JSON_SCAN_REAL)
                check(json_is_real(v));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ProtocolStatus st;
        Frame fast = { .command = _COMMAND_INVALID, .role = _ROLE_INVALID }, slow;
        int r;

        /* The bus refuses bigger frames before parsing. */
        if (size > FUZZ_FRAME_MAX)
                return 0;

        fuzz_scan(data, size);

        r = frame_parse_job_event_fast(&fast, data, size);
        check(r == 0 || r == 1);
        if (r == 0) {
                /* Declined: nothing taken, nothing to free. */
                check(fast.command == _COMMAND_INVALID && !fast.events_array && fast.n_events == 0 &&
                      !fast.has_load);
                return 0;
        }

        check(frame_parse(&slow, data, size, FUZZ_MAX_RUNTIME, &st) == 0);
        check(slow.command == COMMAND_JOB_EVENT && fast.command == COMMAND_JOB_EVENT);
        check(fast.role == slow.role && !fast.payload && !fast.ref && !fast.msg);
        check(fast.n_events == slow.n_events);
        check(fast.has_load == slow.has_load);
        if (fast.has_load)
                check(fast.load.running == slow.load.running && fast.load.waiting == slow.load.waiting &&
                      fast.load.received == slow.load.received &&
                      fast.load.least_urgent == slow.load.least_urgent);
        for (size_t i = 0; i < fast.n_events; i++)
                check_same_event(&fast.events_array[i], &slow.events_array[i]);

        frame_done(&slow);
        frame_done(&fast);
        return 0;
}
