/* SPDX-License-Identifier: MIT */
/*
 * Job events and per-scheduler job entries as people read them: the watch line, the details of an
 * end, the colour of a state. Every string taken from the bus is escaped on its way out.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl-internal.h"
#include "format-util.h"
#include "time-format.h"

/* Column widths of the watch line: the longest state name, and a usual scheduler name. */
#define STATE_WIDTH     11
#define SCHEDULER_WIDTH 16

json_t *ctl_job_events(json_t *msg) {
        _cleanup_(json_decrefp) json_t *list = json_array();
        json_t *batch = json_object_get(msg, "events"), *ev;
        size_t i;

        if (!list)
                return NULL;
        if (!json_is_array(batch)) {
                if (json_array_append(list, msg) < 0)
                        return NULL;
                return TAKE_PTR(list);
        }
        json_array_foreach(batch, i, ev) {
                _cleanup_(json_decrefp) json_t *one = NULL;

                if (!json_is_object(ev))
                        continue;
                /* "event" first, as in a single event's frame. */
                one = json_pack("{s:s}", "event", "job");
                if (!one || json_object_update(one, ev) < 0 || json_array_append(list, one) < 0)
                        return NULL;
        }
        return TAKE_PTR(list);
}

Color ctl_state_color(const char *state) {
        static const struct {
                const char *state;
                Color color;
        } table[] = {
                { "done", COLOR_GREEN },     { "failed", COLOR_RED },       { "timeout", COLOR_RED },
                { "evicted", COLOR_YELLOW }, { "cancelled", COLOR_YELLOW }, { "interrupted", COLOR_YELLOW },
                { "dropped", COLOR_YELLOW }, { "unknown", COLOR_YELLOW },   { "running", COLOR_BOLD },
                { "resumed", COLOR_BOLD },   { "suspended", COLOR_YELLOW }, { "requeued", COLOR_YELLOW },
        };

        for (size_t i = 0; state && i < ELEMENTSOF(table); i++)
                if (strcmp(table[i].state, state) == 0)
                        return table[i].color;
        return COLOR_NORMAL;
}

void ctl_print_state(FILE *f, bool colors, const char *state, size_t width) {
        _cleanup_free_ char *text = terminal_escape(state ?: "?");
        Color color = colors ? ctl_state_color(state) : COLOR_NORMAL;
        size_t w;

        assert(f);

        if (!text)
                return;
        w = terminal_width(text);
        fprintf(f, "%s%s%s%*s", color_on(color), text, color == COLOR_NORMAL ? "" : COLOR_OFF,
                (int) (width > w ? width - w : 0), "");
}

/* Bytes as "512B", "4.0K", "12.3M", "1.5G" (powers of 1024). */
static const char *format_bytes(char *buf, size_t size, uint64_t bytes) {
        static const char suffixes[] = "KMGT";
        double v = (double) bytes;
        size_t i = 0;

        if (bytes < 1024) {
                (void) snprintf(buf, size, "%" PRIu64 "B", bytes);
                return buf;
        }
        for (v /= 1024; v >= 1024 && i + 1 < sizeof suffixes - 1; i++)
                v /= 1024;
        (void) snprintf(buf, size, "%.1f%c", v, suffixes[i]);
        return buf;
}

/* Appends ", " (unless first) and the formatted text to the stream. */
_printf_(2, 3) static void details_add(FILE *f, const char *format, ...) {
        va_list ap;

        if (ftell(f) > 0)
                fputs(", ", f);
        va_start(ap, format);
        vfprintf(f, format, ap);
        va_end(ap);
}

char *ctl_event_details(json_t *ev, unsigned flags) {
        _cleanup_free_ char *text = NULL, *sig = NULL, *reason = NULL, *end = NULL;
        char span[FORMAT_TIMESPAN_MAX], number[FORMAT_DOUBLE_MAX];
        const char *state = json_get_string(ev, "state");
        size_t size = 0;
        uint64_t u;
        double d;
        FILE *f;

        f = open_memstream(&text, &size);
        if (!f)
                return NULL;

        if ((flags & CTL_DETAILS_JOB) && json_get_u64(ev, "priority", &u))
                details_add(f, "priority %" PRIu64, u);
        if ((flags & CTL_DETAILS_JOB) && json_get_double(ev, "runtime", &d))
                details_add(f, "runtime %ss", format_double(number, sizeof number, d));
        /* "done" says exit status 0 already. */
        if (json_get_u64(ev, "exit_status", &u) && !(u == 0 && state && strcmp(state, "done") == 0))
                details_add(f, "exit status %" PRIu64, u);
        if (json_get_string(ev, "signal")) {
                sig = terminal_escape(json_get_string(ev, "signal"));
                if (sig)
                        details_add(f, "signal %s", sig);
        }
        if (json_get_u64(ev, "evicted_by", &u))
                details_add(f, "by job %" PRIu64, u);
        if (json_get_u64(ev, "cpu_usec", &u))
                details_add(f, "cpu %s", format_timespan(span, sizeof span, u));
        if (json_get_u64(ev, "memory_peak", &u))
                details_add(f, "memory peak %s", format_bytes(number, sizeof number, u));
        if (json_get_string(ev, "reason")) {
                reason = terminal_escape(json_get_string(ev, "reason"));
                if (reason)
                        details_add(f, "reason: %s", reason);
        }
        if ((flags & CTL_DETAILS_END) && json_is_true(json_object_get(ev, "final")) &&
            json_get_string(ev, "end")) {
                end = terminal_escape(json_get_string(ev, "end"));
                if (end)
                        details_add(f, "job ended: %s", end);
        }
        if (fclose(f) != 0)
                return mfree(TAKE_PTR(text));
        return TAKE_PTR(text);
}

char *ctl_scheduler_name(json_t *name, const char *null_name) {
        assert(null_name);

        if (!json_is_string(name))
                return strdup(null_name);
        return terminal_escape(json_string_value(name));
}

void ctl_print_event_line(FILE *f, bool colors, json_t *ev) {
        _cleanup_free_ char *scheduler = NULL, *details = NULL;
        const char *state = json_get_string(ev, "state");
        char clock[FORMAT_CLOCK_MAX], id[24] = "?";
        unsigned flags = CTL_DETAILS_END;
        double time;
        uint64_t u;

        assert(f);

        if (!json_get_double(ev, "time", &time))
                time = wallclock_now();
        if (json_get_u64(ev, "id", &u))
                (void) snprintf(id, sizeof id, "%" PRIu64, u);
        /* Priority and runtime when a job arrives somewhere; later events would only repeat them. */
        if (streq_ptr(state, "queued") || streq_ptr(state, "sent"))
                flags |= CTL_DETAILS_JOB;
        details = ctl_event_details(ev, flags);
        scheduler = ctl_scheduler_name(json_object_get(ev, "scheduler"), "(bus)");

        fprintf(f, "%s %6s ", format_clock(clock, sizeof clock, time), id);
        ctl_print_state(f, colors, state, STATE_WIDTH);
        /* No trailing blanks when there are no details. */
        if (details && *details)
                fprintf(f, " %-*s %s\n", SCHEDULER_WIDTH, scheduler ?: "?", details);
        else
                fprintf(f, " %s\n", scheduler ?: "?");
}
