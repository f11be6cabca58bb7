/* SPDX-License-Identifier: MIT */
/*
 * Differential libFuzzer target for the job_request fast path: whenever
 * frame_parse_job_request_fast() takes a frame, the jansson path accepts it too, with the same
 * priority, runtime and ref, and the job the bus forwards from the producer's spliced bytes is the
 * object the jansson path prints from its tree, bare and wrapped. The fast path may decline what
 * jansson accepts: it is only slower then. A difference aborts, so the fuzzer reports it like a
 * crash.
 *
 * protocol.c is compiled into this program with its call of the fast path renamed to
 * fuzz_job_request_fast_off(), which declines everything: its frame_parse() is the jansson path for
 * job_request frames. Linked with fuzz-replay.c it replays the checked-in corpora under ctest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-check.h"
#include "macro.h"
#include "protocol-fast.h"
#include "protocol.h"

#define FUZZ_ID UINT64_C(9007199254740993) /* above 2^53: an id is an integer, not a double */

int fuzz_job_request_fast_off(Frame *f, const void *data, size_t size, double max_runtime);

int fuzz_job_request_fast_off(Frame *f, const void *data, size_t size, double max_runtime) {
        return 0;
}

/* The forwarded job from the spliced bytes, as a tree. */
static json_t *spliced(const Frame *f, bool wrapped) {
        char prefix[PROTOCOL_SPLICE_PREFIX_MAX];
        struct iovec parts[3];
        _cleanup_free_ char *text = NULL;
        size_t size, n = 0;
        json_t *v;

        size = protocol_splice_job(f->payload_text, f->payload_size, FUZZ_ID, wrapped, prefix, parts);
        text = malloc(size);
        check(text);
        for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                memcpy(text + n, parts[i].iov_base, parts[i].iov_len);
                n += parts[i].iov_len;
        }
        check(n == size);
        v = json_loadb(text, size, 0, NULL);
        check(v);
        return v;
}

/* The forwarded job as the jansson path prints it, as a tree. */
static json_t *dumped(json_t *payload, bool wrapped) {
        _cleanup_free_ char *text = NULL;
        json_t *v;

        check((wrapped ? protocol_dump_job_wrapped(payload, FUZZ_ID, &text, NULL)
                       : protocol_dump_job(payload, FUZZ_ID, &text, NULL)) == 0);
        v = json_loads(text, 0, NULL);
        check(v);
        return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ProtocolStatus st;
        Frame fast = { .command = _COMMAND_INVALID, .role = _ROLE_INVALID }, slow;
        int r;

        /* The bus refuses bigger frames before parsing. */
        if (size > FUZZ_FRAME_MAX)
                return 0;

        r = frame_parse_job_request_fast(&fast, data, size, FUZZ_MAX_RUNTIME);
        check(r == 0 || r == 1);
        if (r == 0) {
                /* Declined: nothing taken, nothing to free. */
                check(fast.command == _COMMAND_INVALID && !fast.payload_text && !fast.ref);
                return 0;
        }

        check(frame_parse(&slow, data, size, FUZZ_MAX_RUNTIME, &st) == 0);
        check(slow.command == COMMAND_JOB_REQUEST && fast.command == COMMAND_JOB_REQUEST);
        check(fast.role == slow.role && !fast.payload && !fast.msg && slow.payload);
        check(fast.priority == slow.priority);
        check(fast.runtime == slow.runtime);
        check(!fast.ref == !slow.ref);
        check(!fast.ref || json_equal(fast.ref, slow.ref));
        /* The bytes are the payload's: the tree made of them is the jansson path's. */
        check(fast.payload_text >= (const char *) data &&
              fast.payload_text + fast.payload_size <= (const char *) data + size);
        check(json_equal(frame_payload(&fast), slow.payload));
        for (int wrapped = 0; wrapped <= 1; wrapped++) {
                _cleanup_(json_decrefp) json_t *a = spliced(&fast, wrapped),
                                               *b = dumped(slow.payload, wrapped);

                check(json_equal(a, b));
        }

        frame_done(&slow);
        frame_done(&fast);
        return 0;
}
