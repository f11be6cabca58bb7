/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "job-scope.h"
#include "list.h"
#include "log.h"
#include "macro.h"

#define MANAGER_SERVICE   "org.freedesktop.systemd1"
#define MANAGER_PATH      "/org/freedesktop/systemd1"
#define MANAGER_INTERFACE "org.freedesktop.systemd1.Manager"

/* The cgroup-based sandbox settings of a unit that a scope accepts too (systemd 252). Namespaces,
 * seccomp, capabilities and the user are per process: the job inherits ours. */
static const char *const sandbox_properties[] = {
        "IPAddressAllow", "IPAddressDeny", "IPIngressFilterPath", "IPEgressFilterPath",
        "DevicePolicy",   "DeviceAllow",   "SocketBindAllow",     "SocketBindDeny",
};

struct JobScopeStart {
        JobScope *scope; /* NULL once the JobScope is gone */
        char *unit;
        sd_bus_slot *call_slot; /* StartTransientUnit, until it answered */
        job_scope_ready_t ready;
        void *userdata;
        LIST_FIELDS(JobScopeStart, starts);
};

struct JobScope {
        sd_bus *bus;
        sd_bus_slot *job_removed_slot;
        /* Get replies of our own unit's sandbox_properties; NULL where it has the default. */
        sd_bus_message *sandbox[ELEMENTSOF(sandbox_properties)];
        JobScopeStart *starts; /* waiting for their start job to finish */
};

JobScopeStart *job_scope_start_free(JobScopeStart *st) {
        if (!st)
                return NULL;
        if (st->scope)
                LIST_REMOVE(starts, st->scope->starts, st);
        sd_bus_slot_unref(st->call_slot);
        free(st->unit);
        return mfree(st);
}

JobScope *job_scope_free(JobScope *s) {
        JobScopeStart *st;

        if (!s)
                return NULL;
        /* Their owners free them: they only lose their way back here. */
        while ((st = LIST_POP(starts, s->starts))) {
                st->scope = NULL;
                st->call_slot = sd_bus_slot_unref(st->call_slot);
        }
        for (size_t i = 0; i < ELEMENTSOF(s->sandbox); i++)
                sd_bus_message_unref(s->sandbox[i]);
        sd_bus_slot_unref(s->job_removed_slot);
        sd_bus_flush_close_unref(s->bus);
        return mfree(s);
}

/* The end of a pending start: forgotten, then reported (its owner may free itself in `ready`). */
static void job_scope_start_finish(JobScopeStart *st, int error, const char *message) {
        job_scope_ready_t ready = st->ready;
        void *userdata = st->userdata;

        assert(st);

        job_scope_start_free(st);
        ready(error, message, userdata);
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        JobScope *s = ASSERT_PTR(userdata);
        const char *path, *unit, *result;
        JobScopeStart *st;
        uint32_t id;
        char message[256];

        assert(m);

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        /* A scope's name is used by one job only, and only its start is ever waited for. */
        LIST_FOREACH (starts, st, s->starts)
                if (strcmp(st->unit, unit) == 0)
                        break;
        if (!st)
                return 0;
        if (strcmp(result, "done") == 0) {
                job_scope_start_finish(st, 0, NULL);
                return 0;
        }
        (void) snprintf(message, sizeof message, "scope %s: its start job ended \"%s\"", unit, result);
        job_scope_start_finish(st, -EIO, message);
        return 0;
}

static int on_start_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        JobScopeStart *st = ASSERT_PTR(userdata);
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *text;
        char message[256];
        size_t n;

        assert(m);

        st->call_slot = sd_bus_slot_unref(st->call_slot);
        if (!e)
                return 0; /* the end of its start job comes as JobRemoved */
        text = e->message ?: e->name;
        n = strlen(text);
        while (n > 0 && text[n - 1] == '.') /* the job's record ends the sentence */
                n--;
        (void) snprintf(message, sizeof message, "scope %s: %.*s", st->unit, (int) n, text);
        job_scope_start_finish(st, -(sd_bus_error_get_errno(e) ?: EIO), message);
        return 0;
}

/* Whether a Get reply holds the default: an empty list, or DevicePolicy "auto". Leaves it rewound. */
static bool sandbox_value_is_default(sd_bus_message *v) {
        const char *contents, *policy;
        bool is_default = false;
        char type;

        assert(v);

        if (sd_bus_message_peek_type(v, &type, &contents) > 0 && type == 'v' &&
            sd_bus_message_enter_container(v, 'v', contents) > 0) {
                if (contents[0] == 'a' && sd_bus_message_enter_container(v, 'a', contents + 1) > 0)
                        is_default = sd_bus_message_at_end(v, false) > 0;
                else if (contents[0] == 's' && sd_bus_message_read(v, "s", &policy) > 0)
                        is_default = strcmp(policy, "auto") == 0;
        }
        (void) sd_bus_message_rewind(v, true);
        return is_default;
}

/* Our unit's object path and D-Bus interface of its type (org.freedesktop.systemd1.Service, ...). */
static int job_scope_own_unit(JobScope *s, char **ret_path, char **ret_interface, char **ret_id) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL, *id = NULL;
        const char *p, *dot;
        int r;

        assert(s);

        r = sd_bus_call_method(s->bus, MANAGER_SERVICE, MANAGER_PATH, MANAGER_INTERFACE, "GetUnitByPID",
                               &error, &reply, "u", (uint32_t) 0);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &p);
        if (r < 0 || !(path = strdup(p)))
                return r < 0 ? r : -ENOMEM;
        r = sd_bus_get_property_string(s->bus, MANAGER_SERVICE, path, "org.freedesktop.systemd1.Unit", "Id",
                                       &error, &id);
        if (r < 0)
                return r;
        dot = strrchr(id, '.');
        if (!dot || !dot[1] ||
            asprintf(ret_interface, "org.freedesktop.systemd1.%c%s", toupper((unsigned char) dot[1]),
                     dot + 2) < 0)
                return -EINVAL;
        *ret_path = TAKE_PTR(path);
        *ret_id = TAKE_PTR(id);
        return 0;
}

/* Reads the sandbox our scopes copy. Without it (we are in no unit the manager knows) they get none. */
static void job_scope_read_sandbox(JobScope *s) {
        _cleanup_free_ char *path = NULL, *interface = NULL, *id = NULL;
        char copied[256] = "";
        int r;

        assert(s);

        r = job_scope_own_unit(s, &path, &interface, &id);
        if (r < 0) {
                log_warning_errno(r,
                                  "--scope: cannot read the sandbox of our own unit, scopes get none: %m");
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(sandbox_properties); i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

                r = sd_bus_call_method(s->bus, MANAGER_SERVICE, path, "org.freedesktop.DBus.Properties",
                                       "Get", NULL, &reply, "ss", interface, sandbox_properties[i]);
                if (r < 0 || sandbox_value_is_default(reply))
                        continue;
                s->sandbox[i] = TAKE_PTR(reply);
                (void) snprintf(copied + strlen(copied), sizeof copied - strlen(copied), " %s",
                                sandbox_properties[i]);
        }
        log_info("--scope: job scopes get the sandbox of %s:%s.", id,
                 copied[0] ? copied : " nothing to copy");
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

/* Started as root only for the D-Bus connection, which keeps the identity it was made with: from here
 * on the scheduler, and every job it forks, is SCHED_SCOPE_USER. No longer dumpable (the kernel's doing,
 * kept on purpose), so that a job cannot take the connection from us. */
int job_scope_drop_privileges(void) {
        const char *name = getenv(JOB_SCOPE_USER_ENV);
        struct passwd *pw;

        if (!name || geteuid() != 0)
                return 0;
        errno = 0;
        pw = getpwnam(name);
        if (!pw)
                return log_error_errno(errno > 0 ? -errno : -ESRCH, "--scope: no user %s (%s=): %m", name,
                                       JOB_SCOPE_USER_ENV);
        if (pw->pw_uid == 0)
                return log_error_errno(-EINVAL, "--scope: %s=%s is root.", JOB_SCOPE_USER_ENV, name);
        if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
            setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
                return log_error_errno(-errno, "--scope: cannot become %s: %m", name);
        log_info("--scope: connected to the service manager as root; scheduler and jobs run as %s (uid %u).",
                 name, (unsigned) pw->pw_uid);
        return unsetenv(JOB_SCOPE_USER_ENV) < 0 ? -errno : 0;
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
        /* Before any start: its JobRemoved must not be missed. */
        if (r >= 0)
                r = sd_bus_match_signal(s->bus, &s->job_removed_slot, MANAGER_SERVICE, MANAGER_PATH,
                                        MANAGER_INTERFACE, "JobRemoved", on_job_removed, s);
        if (r >= 0)
                r = sd_bus_attach_event(s->bus, e, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0) {
                job_scope_read_sandbox(s);
                r = job_scope_stop_leftovers(s, instance);
        }

        if (r < 0) {
                job_scope_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

static int append_properties(JobScope *s, sd_bus_message *m, pid_t pid, const char *description,
                             uint64_t stop_timeout_usec) {
        int r;

        assert(s);
        assert(m);

        r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)(sv)", "Description", "s", description,
                                          "Slice", "s", JOB_SCOPE_SLICE, "PIDs", "au", 1, (uint32_t) pid,
                                          "CollectMode", "s", "inactive-or-failed", "TimeoutStopUSec", "t",
                                          stop_timeout_usec);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(sandbox_properties); i++) {
                if (!s->sandbox[i])
                        continue;
                r = sd_bus_message_rewind(s->sandbox[i], true);
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'r', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", sandbox_properties[i]);
                if (r >= 0)
                        r = sd_bus_message_copy(m, s->sandbox[i], false);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

int job_scope_start(JobScope *s, pid_t pid, const char *unit, const char *description,
                    uint64_t stop_timeout_usec, job_scope_ready_t ready, void *userdata,
                    JobScopeStart **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        JobScopeStart *st;
        int r;

        assert(s);
        assert(pid > 0);
        assert(unit);
        assert(description);
        assert(ready);
        assert(ret);

        r = sd_bus_message_new_method_call(s->bus, &m, MANAGER_SERVICE, MANAGER_PATH, MANAGER_INTERFACE,
                                           "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", unit, "fail");
        if (r >= 0)
                r = append_properties(s, m, pid, description, stop_timeout_usec);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0)
                return r;

        st = calloc(1, sizeof *st);
        if (!st || !(st->unit = strdup(unit))) {
                free(st);
                return -ENOMEM;
        }
        st->ready = ready;
        st->userdata = userdata;
        r = sd_bus_call_async(s->bus, &st->call_slot, m, on_start_reply, st, 0);
        if (r < 0) {
                job_scope_start_free(st);
                return r;
        }
        st->scope = s;
        LIST_PREPEND(starts, s->starts, st);
        *ret = st;
        return 0;
}

static int on_stop_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        char *unit = ASSERT_PTR(userdata);
        const sd_bus_error *e = sd_bus_message_get_error(m);

        assert(m);

        /* A scope that emptied (and went) by itself is not worth a warning. */
        if (e && !sd_bus_error_has_names(e, "org.freedesktop.systemd1.NoSuchUnit"))
                log_warning("Stopping scope %s: %s", unit, e->message ?: e->name);
        free(unit);
        return 0;
}

int job_scope_stop(JobScope *s, const char *unit) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        char *copy;
        int r;

        assert(s);
        assert(unit);

        r = sd_bus_message_new_method_call(s->bus, &m, MANAGER_SERVICE, MANAGER_PATH, MANAGER_INTERFACE,
                                           "StopUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", unit, "replace");
        if (r < 0)
                return r;
        copy = strdup(unit);
        if (!copy)
                return -ENOMEM;
        r = sd_bus_call_async(s->bus, NULL, m, on_stop_reply, copy, 0);
        if (r < 0)
                free(copy);
        return r;
}
