/* SPDX-License-Identifier: MIT */
/*
 * sched-ctl status: one snapshot of the bus ({"cmd":"status"}), printed as systemctl status prints
 * a unit: the bus, its schedulers, and how many (job, scheduler) pairs are in each state.
 */
#include <inttypes.h>
#include <string.h>

#include "ctl-internal.h"
#include "protocol.h"
#include "table.h"
#include "time-format.h"

/* The width of the keys of the bus's lines ("  Clients: ..."), as systemctl status aligns them. */
#define KEY_WIDTH 9

/* The order of the "States:" line: a job's life, then anything newer buses may add. */
static const char *const state_order[] = {
        "sent",   "queued",  "suspended", "requeued",  "running",     "done",
        "failed", "timeout", "evicted",   "cancelled", "interrupted", "dropped",
};

static int status_hello(Ctl *c, char **ret) {
        return protocol_dump_status_request(ret, NULL);
}

static void print_key(const char *key) {
        printf("%*s: ", KEY_WIDTH, key);
}

/* "N thing" or "N things" after `sep`; nothing when the bus did not say. */
static void print_count(json_t *o, const char *key, const char *singular, const char *plural,
                        const char **sep) {
        uint64_t n;

        if (!json_get_u64(o, key, &n))
                return;
        printf("%s%" PRIu64 " %s", *sep, n, n == 1 ? singular : plural);
        *sep = ", ";
}

static void status_print_bus(Ctl *c, json_t *bus) {
        _cleanup_free_ char *version =
                terminal_escape(json_get_string(bus, "version") ?: "(unknown version)");
        _cleanup_free_ char *url = terminal_escape(ctl_bus_url(c));
        char span[FORMAT_TIMESPAN_MAX];
        const char *sep = "";
        uint64_t n, max;
        double uptime;

        printf("%ssched-bus%s %s at %s\n", c->stdout_colors ? color_on(COLOR_BOLD) : "",
               c->stdout_colors ? COLOR_OFF : "", version ?: "?", url ?: "?");
        if (json_get_u64(bus, "pid", &n)) {
                print_key("PID");
                printf("%" PRIu64 "\n", n);
        }
        if (json_get_double(bus, "uptime", &uptime)) {
                print_key("Uptime");
                /* Whole seconds: "0" alone would not read as a time. */
                printf("%s\n",
                       uptime < 1 ? "0s" : format_timespan(span, sizeof span, timespan_usec(0, uptime)));
        }

        print_key("Clients");
        print_count(bus, "producers", "producer", "producers", &sep);
        print_count(bus, "schedulers", "scheduler", "schedulers", &sep);
        print_count(bus, "observers", "observer", "observers", &sep);
        /* This very request is one of the connections. */
        if (json_get_u64(bus, "clients", &n))
                printf("%s%" PRIu64 " connection%s in all", sep, n, n == 1 ? "" : "s");
        putchar('\n');

        sep = "";
        print_key("Jobs");
        print_count(bus, "submitted", "submitted", "submitted", &sep);
        print_count(bus, "forwarded", "forwarded", "forwarded", &sep);
        print_count(bus, "held", "held", "held", &sep);
        print_count(bus, "dropped", "dropped", "dropped", &sep);
        putchar('\n');

        /* A bus of version 1.x before delivery modes says nothing of them. */
        const char *dispatch = json_get_string(bus, "dispatch");
        if (dispatch && (strcmp(dispatch, "broadcast") == 0 || strcmp(dispatch, "one") == 0)) {
                print_key("Dispatch");
                printf("%s", strcmp(dispatch, "one") == 0 ? "one scheduler per job"
                                                          : "every scheduler runs every job");
                if (json_get_u64(bus, "hold_max", &max))
                        printf(", holds up to %" PRIu64 " jobs", max);
                if (json_is_true(json_object_get(bus, "producers_paused")))
                        printf(", producers paused (a scheduler is behind)");
                putchar('\n');
        }

        if (json_get_u64(bus, "history", &n) && json_get_u64(bus, "history_max", &max)) {
                print_key("History");
                printf("%" PRIu64 "/%" PRIu64 " jobs\n", n, max);
        }
}

static void print_state_count(Ctl *c, const char *state, uint64_t n, const char **sep) {
        printf("%s%" PRIu64 " ", *sep, n);
        ctl_print_state(stdout, c->stdout_colors, state, 0);
        *sep = ", ";
}

static void status_print_states(Ctl *c, json_t *states) {
        const char *sep = "", *key;
        json_t *v;
        uint64_t n;

        if (!json_is_object(states))
                return;
        print_key("States");
        for (size_t i = 0; i < ELEMENTSOF(state_order); i++)
                if (json_get_u64(states, state_order[i], &n) && n > 0)
                        print_state_count(c, state_order[i], n, &sep);
        json_object_foreach(states, key, v) {
                bool known = false;

                for (size_t i = 0; i < ELEMENTSOF(state_order); i++)
                        known = known || strcmp(key, state_order[i]) == 0;
                if (!known && json_get_u64(states, key, &n) && n > 0)
                        print_state_count(c, key, n, &sep);
        }
        printf("%s\n", *sep ? "" : "none");
}

static int status_add_scheduler(Table *t, json_t *s) {
        _cleanup_free_ char *name = ctl_scheduler_name(json_object_get(s, "name"), "(legacy)");
        _cleanup_free_ char *peer = terminal_escape(json_get_string(s, "peer") ?: "-");
        bool reports = json_is_true(json_object_get(s, "reports"));
        char slots[48] = "-", queued[24] = "-";
        uint64_t running, total, n;

        if (!name || !peer)
                return -ENOMEM;
        /* A scheduler that does not report (the Python one) has no slots and no queue the bus knows. */
        if (reports && json_get_u64(s, "slots", &total)) {
                if (!json_get_u64(s, "running", &running))
                        running = 0;
                (void) snprintf(slots, sizeof slots, "%" PRIu64 "/%" PRIu64, running, total);
        }
        if (reports && json_get_u64(s, "queued", &n))
                (void) snprintf(queued, sizeof queued, "%" PRIu64, n);

        return table_add_row(t, (const TableText[]){ { name }, { peer }, { slots }, { queued } });
}

static int status_print(Ctl *c, json_t *msg) {
        static const TableColumn columns[] = {
                { "SCHEDULER", false },
                { "PEER", false },
                { "SLOTS", true },
                { "QUEUED", true },
        };
        _cleanup_(table_freep) Table *t = NULL;
        json_t *schedulers = json_object_get(msg, "schedulers"), *s;
        size_t i;
        int r;

        r = table_new(&t, columns, ELEMENTSOF(columns));
        if (r < 0)
                return r;
        json_array_foreach(schedulers, i, s) {
                r = status_add_scheduler(t, s);
                if (r < 0)
                        return r;
        }

        status_print_bus(c, json_object_get(msg, "bus"));
        status_print_states(c, json_object_get(msg, "states"));
        putchar('\n');
        if (table_rows(t) == 0) {
                printf("No scheduler is registered.\n");
                return 0;
        }
        table_print(t, stdout, c->stdout_colors, true);
        return 0;
}

static void status_message(Ctl *c, json_t *msg) {
        ctl_take_answer(c, msg, "status", "the status", "The bus refused the status request");
}

const CtlVerbOps ctl_status_ops = {
        .hello = status_hello,
        .message = status_message,
        .print = status_print,
};
