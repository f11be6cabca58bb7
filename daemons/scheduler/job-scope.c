/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "job-scope.h"
#include "log.h"
#include "macro.h"

#define MANAGER_SERVICE   "org.freedesktop.systemd1"
#define MANAGER_PATH      "/org/freedesktop/systemd1"
#define MANAGER_INTERFACE "org.freedesktop.systemd1.Manager"

struct JobScope {
        sd_bus *bus;
};

JobScope *job_scope_free(JobScope *s) {
        if (!s)
                return NULL;
        sd_bus_flush_close_unref(s->bus);
        return mfree(s);
}

/* Scopes of this instance left by a previous run that was killed (SIGKILL, crash) hold jobs nobody
 * watches any more: stop them before taking new jobs. */
static int job_scope_stop_leftovers(JobScope *s, const char *instance) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *pattern = NULL;
        const char *unit;
        unsigned n = 0;
        int r;

        assert(s);
        assert(instance);

        if (asprintf(&pattern, "sched-job-%s-*.scope", instance) < 0)
                return -ENOMEM;
        r = sd_bus_call_method(s->bus, MANAGER_SERVICE, MANAGER_PATH, MANAGER_INTERFACE,
                               "ListUnitsByPatterns", &error, &reply, "asas", 0, 1, pattern);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ssssssouso)", &unit, NULL, NULL, NULL, NULL, NULL,
                                                  NULL, NULL, NULL, NULL)) > 0) {
                log_notice("Stopping %s, left by an earlier run of this scheduler.", unit);
                (void) job_scope_stop(s, unit);
                n++;
        }
        return r < 0 ? r : (int) n;
}

int job_scope_new(JobScope **ret, sd_event *e, bool user, const char *instance) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        JobScope *s;
        int r;

        assert(ret);
        assert(e);
        assert(instance);

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        r = user ? sd_bus_open_user(&s->bus) : sd_bus_open_system(&s->bus);
        if (r >= 0)
                r = sd_bus_call_method(s->bus, MANAGER_SERVICE, MANAGER_PATH, "org.freedesktop.DBus.Peer",
                                       "Ping", &error, &reply, "");
        if (r >= 0)
                r = sd_bus_attach_event(s->bus, e, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = job_scope_stop_leftovers(s, instance);
        if (r < 0) {
                job_scope_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        char *unit = ASSERT_PTR(userdata);
        const sd_bus_error *e = sd_bus_message_get_error(m);

        assert(m);

        /* A job that ended before its scope was made (or stopped) is not worth a warning. */
        if (e && !sd_bus_error_has_names(e, "org.freedesktop.systemd1.NoSuchUnit",
                                         "org.freedesktop.DBus.Error.UnixProcessIdUnknown"))
                log_warning("Scope %s: %s", unit, e->message ?: e->name);
        free(unit);
        return 0;
}

static int call_async(JobScope *s, sd_bus_message *m, const char *unit) {
        char *copy = strdup(unit);
        int r;

        assert(s);
        assert(m);
        assert(unit);

        if (!copy)
                return -ENOMEM;
        r = sd_bus_call_async(s->bus, NULL, m, on_reply, copy, 0);
        if (r < 0)
                free(copy);
        return r;
}

int job_scope_attach(JobScope *s, pid_t pid, const char *unit, const char *description) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        assert(s);
        assert(unit);
        assert(description);

        r = sd_bus_message_new_method_call(s->bus, &m, MANAGER_SERVICE, MANAGER_PATH, MANAGER_INTERFACE,
                                           "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", unit, "fail");
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sv)", 4, "Description", "s", description, "Slice", "s",
                                          JOB_SCOPE_SLICE, "PIDs", "au", 1, (uint32_t) pid, "CollectMode",
                                          "s", "inactive-or-failed");
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0)
                return r;
        return call_async(s, m, unit);
}

int job_scope_stop(JobScope *s, const char *unit) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        assert(s);
        assert(unit);

        if (!s)
                return -EINVAL;
        r = sd_bus_message_new_method_call(s->bus, &m, MANAGER_SERVICE, MANAGER_PATH, MANAGER_INTERFACE,
                                           "StopUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", unit, "replace");
        if (r < 0)
                return r;
        return call_async(s, m, unit);
}
