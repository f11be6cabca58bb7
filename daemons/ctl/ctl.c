/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-link.h"
#include "ctl-internal.h"
#include "event-util.h"
#include "log.h"
#include "string-table.h"
#include "time-format.h"

static const char *const ctl_verb_table[_CTL_VERB_MAX] = {
        [CTL_STATUS] = "status", [CTL_JOBS] = "jobs",     [CTL_WATCH] = "watch",
        [CTL_SUBMIT] = "submit", [CTL_CANCEL] = "cancel",
};

DEFINE_STRING_TABLE_LOOKUP(ctl_verb, CtlVerb, _CTL_VERB_MAX);

static const CtlVerbOps *const ctl_verb_ops[_CTL_VERB_MAX] = {
        [CTL_STATUS] = &ctl_status_ops, [CTL_JOBS] = &ctl_jobs_ops,     [CTL_WATCH] = &ctl_watch_ops,
        [CTL_SUBMIT] = &ctl_submit_ops, [CTL_CANCEL] = &ctl_cancel_ops,
};

Ctl *ctl_free(Ctl *c) {
        if (!c)
                return NULL;
        c->link = bus_link_free(c->link);
        sd_event_source_disable_unref(c->deadline_source);
        sd_event_source_disable_unref(c->submit.tick_source);
        json_decref(c->answer);
        json_decref(c->submit.schedulers);
        free(c->submit.ref);
        sd_event_unref(c->event);
        pager_close(&c->pager);
        return mfree(c);
}

int ctl_new(Ctl **ret, const CtlConfig *config) {
        Ctl *c;

        assert(ret);
        assert(config);
        assert(config->verb >= 0 && config->verb < _CTL_VERB_MAX);

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->config = *config;
        c->ops = ctl_verb_ops[config->verb];
        c->stdout_colors = terminal_colors(STDOUT_FILENO);
        c->stderr_colors = terminal_colors(STDERR_FILENO);
        c->stderr_tty = isatty(STDERR_FILENO) > 0;
        *ret = c;
        return 0;
}

const char *ctl_bus_url(Ctl *c) {
        assert(c);
        return c->config.bus_url ?: BUS_LINK_URL_DEFAULT;
}

void ctl_exit(Ctl *c, int code) {
        assert(c);

        if (c->finished)
                return;
        c->finished = true;
        c->exit_code = code;
        ctl_disarm_deadline(c);
        (void) sd_event_exit(c->event, code);
}

void ctl_exit_oom(Ctl *c) {
        assert(c);

        ctl_error(c, "Out of memory.");
        ctl_exit(c, CTL_EXIT_FAILURE);
}

void ctl_clear_live_line(Ctl *c) {
        assert(c);

        if (!c->submit.live_line)
                return;
        fputs("\r\x1b[K", stderr);
        fflush(stderr);
        c->submit.live_line = false;
}

_printf_(3, 0) static void ctl_messagev(Ctl *c, bool error, const char *format, va_list ap) {
        int saved_errno = errno;

        ctl_clear_live_line(c);
        errno = saved_errno; /* for %m */
        if (error && c->stderr_colors)
                fputs(color_on(COLOR_RED), stderr);
        vfprintf(stderr, format, ap);
        if (error && c->stderr_colors)
                fputs(COLOR_OFF, stderr);
        fputc('\n', stderr);
        fflush(stderr);
}

void ctl_error(Ctl *c, const char *format, ...) {
        va_list ap;

        assert(c);

        va_start(ap, format);
        ctl_messagev(c, true, format, ap);
        va_end(ap);
}

void ctl_info(Ctl *c, const char *format, ...) {
        va_list ap;

        assert(c);

        if (c->config.quiet)
                return;
        va_start(ap, format);
        ctl_messagev(c, false, format, ap);
        va_end(ap);
}

bool ctl_flush_stdout(Ctl *c, int code_on_epipe) {
        assert(c);

        if (fflush(stdout) == 0 && !ferror(stdout))
                return true;
        if (errno == EPIPE) {
                /* `sched-ctl watch | head -3`: the reader has all it wanted. */
                ctl_exit(c, code_on_epipe);
                return false;
        }
        ctl_error(c, "Failed to write to standard output: %m");
        ctl_exit(c, CTL_EXIT_FAILURE);
        return false;
}

/* Whether every real number in v reads back the same from `precision` significant digits. */
static bool json_reals_round_trip(json_t *v, int precision) {
        char buf[64];
        const char *key;
        json_t *item;
        size_t i;

        switch (json_typeof(v)) {
        case JSON_REAL:
                (void) snprintf(buf, sizeof buf, "%.*g", precision, json_real_value(v));
                return strtod(buf, NULL) == json_real_value(v);
        case JSON_OBJECT:
                json_object_foreach(v, key, item) {
                        if (!json_reals_round_trip(item, precision))
                                return false;
                }
                return true;
        case JSON_ARRAY:
                json_array_foreach(v, i, item) {
                        if (!json_reals_round_trip(item, precision))
                                return false;
                }
                return true;
        default:
                return true;
        }
}

void ctl_print_json(Ctl *c, json_t *v) {
        _cleanup_free_ char *text = NULL;
        int precision = 15;

        assert(c);
        assert(v);

        /* jansson writes reals with 17 digits: 0.2 would come out as 0.20000000000000001. The
         * fewest digits that give back the same doubles print what the bus sent (it writes at most
         * 15 significant digits) and lose nothing. */
        while (precision < 17 && !json_reals_round_trip(v, precision))
                precision++;
        text = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(precision));
        if (!text) {
                ctl_exit_oom(c);
                return;
        }
        fputs(text, stdout);
        fputc('\n', stdout);
        (void) ctl_flush_stdout(c, CTL_EXIT_SUCCESS);
}

bool json_get_u64(json_t *o, const char *key, uint64_t *ret) {
        json_t *v = json_object_get(o, key);

        assert(ret);

        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return false;
        *ret = (uint64_t) json_integer_value(v);
        return true;
}

bool json_get_double(json_t *o, const char *key, double *ret) {
        json_t *v = json_object_get(o, key);

        assert(ret);

        if (!json_is_number(v))
                return false;
        *ret = json_number_value(v);
        return true;
}

const char *json_get_string(json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key));
}

const char *ctl_event_name(json_t *msg) {
        return json_get_string(msg, "event");
}

bool ctl_bus_error(json_t *msg, const char **ret_code, const char **ret_message) {
        json_t *code = json_object_get(msg, "error");

        if (!code)
                return false;
        if (ret_code)
                *ret_code = json_string_value(code);
        if (ret_message)
                *ret_message = json_get_string(msg, "message");
        return true;
}

void ctl_report_bus_error(Ctl *c, json_t *msg, const char *prefix) {
        _cleanup_free_ char *code = NULL, *message = NULL;
        const char *raw_code = NULL, *raw_message = NULL;

        assert(c);
        assert(prefix);

        if (c->config.json)
                ctl_print_json(c, msg);
        (void) ctl_bus_error(msg, &raw_code, &raw_message);
        code = terminal_escape(raw_code ?: "unknown error");
        message = terminal_escape(raw_message ?: "no message");
        if (!code || !message) {
                ctl_error(c, "%s: out of memory.", prefix);
                return;
        }
        /* What a bus of version 1 answers to the frames it does not know. */
        if (streq_ptr(raw_code, "unknown_cmd") || streq_ptr(raw_code, "invalid_type"))
                ctl_error(c, "%s: %s (%s). Is the bus older than sched-ctl?", prefix, message, code);
        else
                ctl_error(c, "%s: %s (%s)", prefix, message, code);
}

bool ctl_expect_event(Ctl *c, json_t *msg, const char *event, const char *what, const char *refused) {
        assert(c);
        assert(event);
        assert(what);
        assert(refused);

        if (ctl_bus_error(msg, NULL, NULL)) {
                ctl_report_bus_error(c, msg, refused);
                ctl_exit(c, CTL_EXIT_FAILURE);
                return false;
        }
        if (!streq_ptr(ctl_event_name(msg), event)) {
                log_debug("Ignoring a frame from the bus that is not %s.", what);
                return false;
        }
        return true;
}

void ctl_take_answer(Ctl *c, json_t *msg, const char *event, const char *what, const char *refused) {
        assert(c);

        if (!ctl_expect_event(c, msg, event, what, refused))
                return;
        if (c->config.json)
                ctl_print_json(c, msg);
        else
                c->answer = json_incref(msg);
        ctl_exit(c, CTL_EXIT_SUCCESS);
}

void ctl_arm_deadline(Ctl *c) {
        int r;

        assert(c);

        r = event_timer_arm(c->event, &c->deadline_source, c->config.timeout_usec, USEC_PER_MSEC, NULL, NULL,
                            NULL, false);
        if (r < 0)
                log_debug_errno(r, "Failed to arm the deadline, waiting without one: %m");
}

void ctl_disarm_deadline(Ctl *c) {
        assert(c);

        (void) sd_event_source_set_enabled(c->deadline_source, SD_EVENT_OFF);
}

int ctl_send(Ctl *c, char *text) {
        _cleanup_free_ char *owned = text;
        int r;

        assert(c);

        if (!owned) {
                ctl_exit_oom(c);
                return -ENOMEM;
        }
        r = bus_link_send(c->link, owned, strlen(owned));
        if (r < 0) {
                errno = -r;
                ctl_error(c, "Failed to send to the bus at %s: %m", ctl_bus_url(c));
                ctl_exit(c, CTL_EXIT_FAILURE);
        }
        return r;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Ctl *c = ASSERT_PTR(userdata);
        char span[FORMAT_TIMESPAN_MAX];

        format_timespan(span, sizeof span, c->config.timeout_usec);
        if (!c->connected_once)
                ctl_error(c,
                          "Cannot reach the bus at %s within %s. Is sched-bus running? "
                          "(systemctl start sched-bus.socket)",
                          ctl_bus_url(c), span);
        else if (c->config.verb == CTL_SUBMIT)
                /* A bus of version 1 takes the job but never answers: say what may have happened. */
                ctl_error(c,
                          "The bus at %s did not accept the job within %s (a bus older than sched-ctl "
                          "takes jobs without answering).",
                          ctl_bus_url(c), span);
        else
                ctl_error(c, "The bus at %s did not answer within %s.", ctl_bus_url(c), span);
        ctl_exit(c, CTL_EXIT_FAILURE);
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Ctl *c = ASSERT_PTR(userdata);

        if (c->ops->interrupted)
                c->ops->interrupted(c);
        else {
                ctl_clear_live_line(c);
                ctl_exit(c, CTL_EXIT_FAILURE);
        }
        return 0;
}

static void on_link_connected(BusLink *l, void *userdata) {
        Ctl *c = ASSERT_PTR(userdata);

        c->connected_once = true;
        log_debug("Connected to %s.", ctl_bus_url(c));
        if (c->ops->connected)
                c->ops->connected(c);
}

static void on_link_disconnected(BusLink *l, const char *reason, void *userdata) {
        Ctl *c = ASSERT_PTR(userdata);
        _cleanup_free_ char *why = terminal_escape(reason);

        if (c->finished)
                return;
        if (!c->connected_once) {
                ctl_error(c, "Failed to connect to the bus at %s: %s.%s", ctl_bus_url(c), why ?: reason,
                          bus_link_reason_is_final(reason)
                                  ? ""
                                  : " Is sched-bus running? (systemctl start sched-bus.socket)");
                ctl_exit(c, CTL_EXIT_FAILURE);
                return;
        }
        if (c->ops->lost) {
                c->ops->lost(c, why ?: reason);
                return;
        }
        ctl_error(c, "Lost the bus at %s (%s).", ctl_bus_url(c), why ?: reason);
        ctl_exit(c, CTL_EXIT_FAILURE);
}

static void on_link_message(BusLink *l, const char *data, size_t size, void *userdata) {
        Ctl *c = ASSERT_PTR(userdata);
        _cleanup_(json_decrefp) json_t *msg = NULL;
        json_error_t error;

        /* After the end, the rest of what the bus sent is not ours to judge. */
        if (c->finished)
                return;
        msg = json_loadb(data, size, 0, &error);
        if (!json_is_object(msg)) {
                log_debug("Ignoring a frame from the bus that is not a JSON object (%s).",
                          msg ? "not an object" : error.text);
                return;
        }
        c->ops->message(c, msg);
}

static int ctl_setup(Ctl *c) {
        static const BusLinkHandlers handlers = {
                .on_connected = on_link_connected,
                .on_disconnected = on_link_disconnected,
                .on_message = on_link_message,
        };
        _cleanup_free_ char *hello = NULL;
        char error[512];
        int r;

        assert(c);

        r = event_new_daemon(&c->event, on_signal, c);
        if (r < 0) {
                errno = -r;
                ctl_error(c, "Failed to set up the event loop: %m");
                return r;
        }
        r = event_timer_arm(c->event, &c->deadline_source, c->config.timeout_usec, USEC_PER_MSEC,
                            on_deadline, c, "ctl-deadline", false);
        if (r < 0) {
                errno = -r;
                ctl_error(c, "Failed to add the deadline: %m");
                return r;
        }

        r = c->ops->hello(c, &hello);
        if (r < 0) {
                ctl_error(c, "Out of memory.");
                return r;
        }
        r = bus_link_new(&c->link, c->event, c->config.bus_url, hello, &handlers, c);
        if (r < 0) {
                errno = -r;
                ctl_error(c, "Failed to set up the connection to %s: %m",
                          c->config.bus_url ?: BUS_LINK_URL_DEFAULT);
                return r;
        }
        r = bus_link_load_auth(c->link, &c->config.auth, error, sizeof error);
        if (r < 0) {
                ctl_error(c, "%s.", error);
                return r;
        }
        bus_link_set_reconnect(c->link, false);
        r = bus_link_start(c->link);
        if (r < 0) {
                if (r == -EINVAL)
                        ctl_error(c,
                                  "Cannot use the bus URL %s: expected ws:// or wss://HOST[:PORT][/PATH].",
                                  ctl_bus_url(c));
                else if (r == -EIO)
                        ctl_error(c,
                                  "Failed to set up TLS for %s: a CA or client certificate that does not "
                                  "load (--ca, --cert, --key)?",
                                  ctl_bus_url(c));
                else {
                        errno = -r;
                        ctl_error(c, "Failed to connect to %s: %m", ctl_bus_url(c));
                }
                return r;
        }
        return 0;
}

int ctl_run(Ctl *c) {
        int r;

        assert(c);

        r = ctl_setup(c);
        if (r < 0)
                return CTL_EXIT_FAILURE;
        r = sd_event_loop(c->event);
        if (r < 0) {
                errno = -r;
                ctl_error(c, "Event loop failed: %m");
                return CTL_EXIT_FAILURE;
        }
        ctl_clear_live_line(c);
        /* Done with the bus: a reader may take their time in the pager. */
        c->link = bus_link_free(c->link);
        if (c->exit_code == CTL_EXIT_SUCCESS && c->answer && c->ops->print) {
                if (c->config.pager)
                        (void) pager_open(&c->pager);
                r = c->ops->print(c, c->answer);
                if (r < 0) {
                        ctl_error(c, "Out of memory.");
                        c->exit_code = CTL_EXIT_FAILURE;
                }
        }
        /* A reader that went away early (`| head`, q in the pager) had all it wanted. */
        if ((fflush(stdout) != 0 || ferror(stdout)) && errno != EPIPE && c->exit_code == CTL_EXIT_SUCCESS) {
                ctl_error(c, "Failed to write to standard output: %m");
                c->exit_code = CTL_EXIT_FAILURE;
        }
        pager_close(&c->pager);
        return c->exit_code;
}
