/* SPDX-License-Identifier: MIT */
/*
 * sched-ctl cancel ID...: one cancel request after the other, each sent when the previous one is
 * answered (the bus answers on the same connection in order, and an error frame names no id), and
 * one line for each answer. Fails if any of them failed.
 */
#include <inttypes.h>
#include <stdio.h>

#include "ctl-internal.h"
#include "log.h"
#include "protocol.h"

static int cancel_hello(Ctl *c, char **ret) {
        assert(c->config.n_ids > 0);
        return protocol_dump_cancel(c->config.ids[0], ret, NULL);
}

static void cancel_next(Ctl *c) {
        char *text = NULL;
        int r;

        c->cancel.next++;
        if (c->cancel.next >= c->config.n_ids) {
                if (ctl_flush_stdout(c, CTL_EXIT_FAILURE))
                        ctl_exit(c, c->cancel.failed ? CTL_EXIT_FAILURE : CTL_EXIT_SUCCESS);
                return;
        }
        r = protocol_dump_cancel(c->config.ids[c->cancel.next], &text, NULL);
        if (r < 0)
                text = NULL; /* ctl_send() says it */
        if (ctl_send(c, text) >= 0)
                ctl_arm_deadline(c);
}

static void cancel_message(Ctl *c, json_t *msg) {
        uint64_t id = c->config.ids[c->cancel.next], n;
        char prefix[64];

        if (ctl_bus_error(msg, NULL, NULL)) {
                (void) snprintf(prefix, sizeof prefix, "Failed to cancel job %" PRIu64, id);
                ctl_report_bus_error(c, msg, prefix);
                c->cancel.failed = true;
                cancel_next(c);
                return;
        }
        if (!streq_ptr(ctl_event_name(msg), "cancelling")) {
                log_debug("Ignoring a frame from the bus that is not an answer to cancel.");
                return;
        }

        if (c->config.json)
                ctl_print_json(c, msg);
        else if (!c->config.quiet) {
                (void) json_get_u64(msg, "id", &id);
                if (!json_get_u64(msg, "schedulers", &n))
                        printf("Cancelling job %" PRIu64 ".\n", id);
                else if (n == 0) /* it had not left the bus: ended at once */
                        printf("Cancelled job %" PRIu64 ", which the bus held.\n", id);
                else
                        printf("Cancelling job %" PRIu64 " on %" PRIu64 " scheduler%s.\n", id, n,
                               n == 1 ? "" : "s");
        }
        cancel_next(c);
}

const CtlVerbOps ctl_cancel_ops = {
        .hello = cancel_hello,
        .message = cancel_message,
};
