/* SPDX-License-Identifier: MIT */
/*
 * sched-ctl jobs: the bus's table of recent jobs ({"cmd":"jobs"}) as systemctl list-units prints
 * units: one row per job and scheduler that got it, how long it waited and ran there, a footer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl-internal.h"
#include "protocol.h"
#include "table.h"
#include "time-format.h"

enum {
        COLUMN_ID,
        COLUMN_PRIORITY,
        COLUMN_STATE,
        COLUMN_SCHEDULER,
        COLUMN_WAITED,
        COLUMN_RAN,
        COLUMN_DETAILS,
        _COLUMN_MAX,
};

static const TableColumn columns[_COLUMN_MAX] = {
        [COLUMN_ID] = { "ID", true },
        [COLUMN_PRIORITY] = { "PRIORITY", true },
        [COLUMN_STATE] = { "STATE", false },
        [COLUMN_SCHEDULER] = { "SCHEDULER", false },
        [COLUMN_WAITED] = { "WAITED", true },
        [COLUMN_RAN] = { "RAN", true },
        [COLUMN_DETAILS] = { "DETAILS", false },
};

static int jobs_hello(Ctl *c, char **ret) {
        return protocol_dump_jobs_request(c->config.state, c->config.scheduler, c->config.limit, ret, NULL);
}

static bool state_is_waiting(const char *state) {
        return streq_ptr(state, "sent") || streq_ptr(state, "queued");
}

/* WAITED: from submission to the start, or to now while it waits; until its end if it never
 * started. RAN: from the start to the end, or to now while it runs. "-" where neither applies. */
static void job_spans(json_t *job, json_t *entry, bool legacy, double now,
                      char waited[static FORMAT_TIMESPAN_MAX], char ran[static FORMAT_TIMESPAN_MAX]) {
        const char *state = json_get_string(entry, "state");
        double submitted, started, ended;
        bool have_submitted = json_get_double(job, "submitted", &submitted);
        bool have_started = json_get_double(entry, "started", &started);
        bool have_ended = json_get_double(entry, "ended", &ended);

        strcpy(waited, "-");
        strcpy(ran, "-");
        if (have_submitted) {
                if (have_started)
                        format_timespan(waited, FORMAT_TIMESPAN_MAX, timespan_usec(submitted, started));
                else if (have_ended)
                        format_timespan(waited, FORMAT_TIMESPAN_MAX, timespan_usec(submitted, ended));
                /* "sent" to a scheduler that never reports lasts forever: no wait to show. */
                else if (state_is_waiting(state) && !legacy)
                        format_timespan(waited, FORMAT_TIMESPAN_MAX, timespan_usec(submitted, now));
        }
        if (have_started) {
                if (have_ended)
                        format_timespan(ran, FORMAT_TIMESPAN_MAX, timespan_usec(started, ended));
                else if (streq_ptr(state, "running"))
                        format_timespan(ran, FORMAT_TIMESPAN_MAX, timespan_usec(started, now));
        }
}

/* One row: the job on one scheduler; `entry` is the job itself for a job that reached none. */
static int jobs_add_row(Ctl *c, Table *t, json_t *job, json_t *entry, double now) {
        char id[24] = "?", priority[24] = "-", waited[FORMAT_TIMESPAN_MAX], ran[FORMAT_TIMESPAN_MAX];
        bool none = entry == job;
        json_t *name = none ? NULL : json_object_get(entry, "name");
        _cleanup_free_ char *scheduler = none ? strdup("-") : ctl_scheduler_name(name, "(legacy)");
        _cleanup_free_ char *state = terminal_escape(json_get_string(entry, "state") ?: "?");
        _cleanup_free_ char *details = ctl_event_details(entry, 0);
        const TableText row[_COLUMN_MAX] = {
                [COLUMN_ID] = { id },
                [COLUMN_PRIORITY] = { priority },
                [COLUMN_STATE] = { state, ctl_state_color(json_get_string(entry, "state")) },
                [COLUMN_SCHEDULER] = { scheduler },
                [COLUMN_WAITED] = { waited },
                [COLUMN_RAN] = { ran },
                [COLUMN_DETAILS] = { details },
        };
        uint64_t u;

        if (!scheduler || !state || !details)
                return -ENOMEM;
        if (json_get_u64(job, "id", &u))
                (void) snprintf(id, sizeof id, "%" PRIu64, u);
        if (json_get_u64(job, "priority", &u))
                (void) snprintf(priority, sizeof priority, "%" PRIu64, u);
        job_spans(job, entry, !none && !json_is_string(name), now, waited, ran);

        return table_add_row(t, row);
}

/* Whether a scheduler's entry passes --state and --scheduler. */
static bool entry_matches(Ctl *c, json_t *entry) {
        if (c->config.state >= 0 &&
            !streq_ptr(json_get_string(entry, "state"), protocol_state_to_string(c->config.state)))
                return false;
        if (c->config.scheduler && !streq_ptr(json_get_string(entry, "name"), c->config.scheduler))
                return false;
        return true;
}

static int jobs_add_job(Ctl *c, Table *t, json_t *job, double now) {
        json_t *schedulers = json_object_get(job, "schedulers"), *entry;
        size_t i, shown = 0;
        int r;

        /* The bus picked the job because one of its schedulers matched: show that one only. */
        json_array_foreach(schedulers, i, entry) {
                if (!entry_matches(c, entry))
                        continue;
                r = jobs_add_row(c, t, job, entry, now);
                if (r < 0)
                        return r;
                shown++;
        }
        if (shown > 0)
                return 0;
        /* A job the bus dropped reached no scheduler; or no entry matched after all (a bus that
         * filters otherwise): show them all rather than hide a job the bus listed. */
        if (json_array_size(schedulers) == 0)
                return jobs_add_row(c, t, job, job, now);
        json_array_foreach(schedulers, i, entry) {
                r = jobs_add_row(c, t, job, entry, now);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int jobs_print(Ctl *c, json_t *msg) {
        _cleanup_(table_freep) Table *t = NULL;
        json_t *jobs = json_object_get(msg, "jobs"), *job;
        size_t i, n = json_array_size(jobs);
        double now = wallclock_now();
        uint64_t total;
        int r;

        r = table_new(&t, columns, _COLUMN_MAX);
        if (r < 0)
                return r;
        json_array_foreach(jobs, i, job) {
                r = jobs_add_job(c, t, job, now);
                if (r < 0)
                        return r;
        }

        /* --quiet: the rows alone, for a script that wants no legend. */
        if (table_rows(t) > 0)
                table_print(t, stdout, c->stdout_colors, !c->config.quiet);
        if (c->config.quiet)
                return 0;
        if (table_rows(t) > 0)
                putchar('\n');
        printf("%zu job%s listed", n, n == 1 ? "" : "s");
        if (json_get_u64(msg, "total", &total) && total > n)
                printf(" (%" PRIu64 " more; use --limit)", total - n);
        printf(".\n");
        return 0;
}

static void jobs_message(Ctl *c, json_t *msg) {
        ctl_take_answer(c, msg, "jobs", "the job list", "The bus refused the job list");
}

const CtlVerbOps ctl_jobs_ops = {
        .hello = jobs_hello,
        .message = jobs_message,
        .print = jobs_print,
};
