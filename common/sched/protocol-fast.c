/* SPDX-License-Identifier: MIT */
/*
 * job_event frames without jansson. The rules are parse_job_event()'s and parse_event()'s in
 * protocol.c, read as jansson would have built the tree: for a key given twice the last value counts
 * (json_object_set() replaces), so each field is judged on its last occurrence, and a frame with
 * "events" ignores its own top-level "id" and "state" whatever they hold. When in doubt this path
 * returns 0 and protocol.c's jansson path decides, with its error text: so for an invalid "load",
 * which this path reads as parse_load() does but does not explain.
 */
#include <stdlib.h>
#include <string.h>

#include "json-scan.h"
#include "macro.h"
#include "protocol-fast.h"

typedef enum Key {
        KEY_ID,
        KEY_STATE,
        KEY_EXIT_STATUS,
        KEY_SIGNAL,
        KEY_REASON,
        KEY_EVICTED_BY,
        KEY_CPU_USEC,
        KEY_MEMORY_PEAK,
        _KEY_EVENT_MAX, /* the keys above are the fields of an event */
        KEY_CMD = _KEY_EVENT_MAX,
        KEY_EVENTS,
        KEY_LOAD,
        KEY_OTHER,
} Key;

/* The members of "load". */
typedef enum LoadKey {
        LOAD_RUNNING,
        LOAD_WAITING,
        LOAD_RECEIVED,
        LOAD_LEAST,
        _LOAD_KEY_MAX,
        LOAD_OTHER = _LOAD_KEY_MAX,
} LoadKey;

/* Each member's largest value, as parse_load() bounds it; "least" alone is optional. */
static const uint64_t load_max[_LOAD_KEY_MAX] = {
        [LOAD_RUNNING] = PROTOCOL_LOAD_RUNNING_MAX,
        [LOAD_WAITING] = PROTOCOL_LOAD_WAITING_MAX,
        [LOAD_RECEIVED] = PROTOCOL_LOAD_RECEIVED_MAX,
        [LOAD_LEAST] = PROTOCOL_PRIORITY_MAX,
};

/* Longer than any key above, and than any job state's name. */
#define KEY_SIZE_MAX 16

#define FIELD(k)      (1u << (k))
#define FIELDS_NEEDED (FIELD(KEY_ID) | FIELD(KEY_STATE))
#define LOAD_NEEDED   (FIELD(LOAD_RUNNING) | FIELD(LOAD_WAITING) | FIELD(LOAD_RECEIVED))

/* One event while its object is read: the strings stay in the input until the frame is complete and
 * its size known. */
typedef struct EventScan {
        ProtocolEvent ev;
        JsonScanString signal, reason;
        unsigned present, invalid; /* FIELD() bits, as of each field's last occurrence */
} EventScan;

#define EVENT_SCAN_INIT ((EventScan){ .ev = PROTOCOL_EVENT_INIT(0, _JOB_STATE_INVALID) })

/* Most frames hold a few events: those need no allocation until the result. */
#define EVENTS_ON_STACK 16

typedef struct JobEventScan {
        JsonScan json;
        EventScan top; /* the frame itself, which is the event in the single form */
        bool has_events;
        bool has_load, load_valid; /* as of the last "load" */
        ProtocolLoad load;
        EventScan *events; /* events_buf, or malloc()ed once there are more */
        size_t n_events, n_allocated;
        EventScan events_buf[EVENTS_ON_STACK];
} JobEventScan;

static void job_event_scan_done(JobEventScan *js) {
        if (js->events != js->events_buf)
                free(js->events);
}

/* By size first, so that each name is compared with a memcmp() of constant size, inlined. */
static Key key_lookup(const JsonScanString *k) {
        char buf[KEY_SIZE_MAX];
        const char *s = json_scan_string_view(k, buf, sizeof(buf));

#define KEY_IS(name) (memcmp(s, name, sizeof(name) - 1) == 0)
        if (!s)
                return KEY_OTHER;
        switch (k->size) {
        case 2:
                return KEY_IS("id") ? KEY_ID : KEY_OTHER;
        case 3:
                return KEY_IS("cmd") ? KEY_CMD : KEY_OTHER;
        case 4:
                return KEY_IS("load") ? KEY_LOAD : KEY_OTHER;
        case 5:
                return KEY_IS("state") ? KEY_STATE : KEY_OTHER;
        case 6:
                return KEY_IS("signal")   ? KEY_SIGNAL
                       : KEY_IS("reason") ? KEY_REASON
                       : KEY_IS("events") ? KEY_EVENTS
                                          : KEY_OTHER;
        case 8:
                return KEY_IS("cpu_usec") ? KEY_CPU_USEC : KEY_OTHER;
        case 10:
                return KEY_IS("evicted_by") ? KEY_EVICTED_BY : KEY_OTHER;
        case 11:
                return KEY_IS("exit_status")   ? KEY_EXIT_STATUS
                       : KEY_IS("memory_peak") ? KEY_MEMORY_PEAK
                                               : KEY_OTHER;
        default:
                return KEY_OTHER;
        }
#undef KEY_IS
}

static LoadKey load_key_lookup(const JsonScanString *k) {
        char buf[KEY_SIZE_MAX];
        const char *s = json_scan_string_view(k, buf, sizeof(buf));

#define KEY_IS(name) (memcmp(s, name, sizeof(name) - 1) == 0)
        if (!s)
                return LOAD_OTHER;
        switch (k->size) {
        case 5:
                return KEY_IS("least") ? LOAD_LEAST : LOAD_OTHER;
        case 7:
                return KEY_IS("running") ? LOAD_RUNNING : KEY_IS("waiting") ? LOAD_WAITING : LOAD_OTHER;
        case 8:
                return KEY_IS("received") ? LOAD_RECEIVED : LOAD_OTHER;
        default:
                return LOAD_OTHER;
        }
#undef KEY_IS
}

/* job_state_from_string() on the string's value, without a NUL-terminated copy. */
static JobState state_lookup(const JsonScanString *str) {
        char buf[KEY_SIZE_MAX];
        const char *s = json_scan_string_view(str, buf, sizeof(buf));

        if (!s)
                return _JOB_STATE_INVALID;
        for (JobState i = 0; i < _JOB_STATE_MAX; i++) {
                const char *name = job_state_to_string(i);
                size_t k = 0;

                /* The value holds no NUL: a shorter name differs from it at its own NUL. */
                while (k < str->size && name[k] == s[k])
                        k++;
                if (k == str->size && name[k] == '\0')
                        return i;
        }
        return _JOB_STATE_INVALID;
}

/* As is_signal_name() in protocol.c: 1..16 of [A-Z0-9]. */
static bool signal_is_valid(const JsonScanString *str) {
        char buf[PROTOCOL_SIGNAL_MAX];
        const char *s = json_scan_string_view(str, buf, sizeof(buf));

        if (!s || str->size == 0)
                return false;
        for (size_t i = 0; i < str->size; i++)
                if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
                        return false;
        return true;
}

static bool get_u64(const JsonScan *j, int t, uint64_t *ret) {
        if (t != JSON_SCAN_INTEGER || j->integer < 0)
                return false;
        *ret = (uint64_t) j->integer;
        return true;
}

/* The value of field `key` of an event: judged and, if valid, stored. An invalid value is no error
 * yet: a later occurrence of the key may replace it. Returns 0, or the scan error. */
static int event_field(JsonScan *j, EventScan *e, Key key) {
        int t = json_scan_next(j);
        bool valid = false;

        if (t < 0)
                return t;

        switch (key) {
        case KEY_ID:
                valid = get_u64(j, t, &e->ev.id);
                break;
        case KEY_STATE:
                if (t == JSON_SCAN_STRING) {
                        JobState s = state_lookup(&j->string);

                        valid = s >= 0;
                        if (valid)
                                e->ev.state = s;
                }
                break;
        case KEY_EXIT_STATUS:
                valid = t == JSON_SCAN_INTEGER && j->integer >= 0 && j->integer <= 255;
                if (valid)
                        e->ev.exit_status = (int) j->integer;
                break;
        case KEY_SIGNAL:
                valid = t == JSON_SCAN_STRING && signal_is_valid(&j->string);
                if (valid)
                        e->signal = j->string;
                break;
        case KEY_REASON:
                /* json_string_length(): the decoded size. */
                valid = t == JSON_SCAN_STRING && j->string.size <= PROTOCOL_REASON_MAX;
                if (valid)
                        e->reason = j->string;
                break;
        case KEY_EVICTED_BY:
                valid = get_u64(j, t, &e->ev.evicted_by);
                break;
        case KEY_CPU_USEC:
                valid = get_u64(j, t, &e->ev.cpu_usec);
                break;
        case KEY_MEMORY_PEAK:
                valid = get_u64(j, t, &e->ev.memory_peak);
                break;
        default:
                assert(false);
        }

        e->present |= FIELD(key);
        if (valid)
                e->invalid &= ~FIELD(key);
        else
                e->invalid |= FIELD(key);
        return json_scan_skip(j, t);
}

static bool event_is_valid(const EventScan *e) {
        return (e->present & FIELDS_NEEDED) == FIELDS_NEEDED && e->invalid == 0;
}

/* The members of an event object, its '{' read. Returns 1 for a valid event, 0 for an invalid one,
 * or the scan error. */
static int event_parse(JsonScan *j, EventScan *e) {
        *e = EVENT_SCAN_INIT;

        for (;;) {
                int t = json_scan_next(j), r;
                Key key;

                if (t < 0)
                        return t;
                if (t == JSON_SCAN_OBJECT_END)
                        return event_is_valid(e);

                assert(t == JSON_SCAN_KEY);
                key = key_lookup(&j->string);
                if (key < _KEY_EVENT_MAX)
                        r = event_field(j, e, key);
                else
                        r = json_scan_skip(j, json_scan_next(j));
                if (r < 0)
                        return r;
        }
}

static EventScan *events_add(JobEventScan *js) {
        if (js->n_events == js->n_allocated) {
                size_t n = js->n_allocated * 2;
                EventScan *a;

                if (js->events == js->events_buf) {
                        a = malloc(n * sizeof(EventScan));
                        if (a)
                                memcpy(a, js->events_buf, sizeof(js->events_buf));
                } else
                        a = realloc(js->events, n * sizeof(EventScan));
                if (!a)
                        return NULL;
                js->events = a;
                js->n_allocated = n;
        }
        return &js->events[js->n_events++];
}

/* The value of "events": an array of 1..PROTOCOL_EVENTS_MAX valid events. A later "events" replaces
 * it, as in jansson. Returns 1 if it is one, 0 if not, -ENOMEM, or the scan error. */
static int events_parse(JobEventScan *js) {
        JsonScan *j = &js->json;
        int t = json_scan_next(j);

        if (t != JSON_SCAN_ARRAY_BEGIN)
                return t < 0 ? t : 0;

        js->has_events = true;
        js->n_events = 0;
        for (;;) {
                EventScan *e;
                int r;

                t = json_scan_next(j);
                if (t < 0)
                        return t;
                /* No events: valid with a "load" only, which may still come. */
                if (t == JSON_SCAN_ARRAY_END)
                        return 1;
                if (t != JSON_SCAN_OBJECT_BEGIN || js->n_events >= PROTOCOL_EVENTS_MAX)
                        return 0;

                e = events_add(js);
                if (!e)
                        return -ENOMEM;
                r = event_parse(j, e);
                if (r <= 0)
                        return r;
        }
}

/* The value of "load", judged as parse_load() judges it: an object with "running", "waiting" and
 * "received" and maybe "least", each a JSON integer within its bound, other members ignored. For a
 * key given twice the last value counts, and a later "load" replaces this one. Returns 0 or the scan
 * error. */
static int load_parse(JobEventScan *js) {
        JsonScan *j = &js->json;
        ProtocolLoad l = { .least_urgent = -1 };
        unsigned present = 0, invalid = 0;
        int t = json_scan_next(j);

        if (t < 0)
                return t;
        js->has_load = true;
        js->load_valid = false;
        if (t != JSON_SCAN_OBJECT_BEGIN)
                return json_scan_skip(j, t);

        for (;;) {
                LoadKey key;
                bool valid;
                int r;

                t = json_scan_next(j);
                if (t < 0)
                        return t;
                if (t == JSON_SCAN_OBJECT_END)
                        break;

                assert(t == JSON_SCAN_KEY);
                key = load_key_lookup(&j->string);
                t = json_scan_next(j);
                if (t < 0)
                        return t;
                if (key != LOAD_OTHER) {
                        valid = t == JSON_SCAN_INTEGER && j->integer >= 0 &&
                                (uint64_t) j->integer <= load_max[key];
                        if (valid)
                                switch (key) {
                                case LOAD_RUNNING:
                                        l.running = (unsigned) j->integer;
                                        break;
                                case LOAD_WAITING:
                                        l.waiting = (unsigned) j->integer;
                                        break;
                                case LOAD_RECEIVED:
                                        l.received = (uint64_t) j->integer;
                                        break;
                                default:
                                        l.least_urgent = (int) j->integer;
                                }
                        present |= FIELD(key);
                        if (valid)
                                invalid &= ~FIELD(key);
                        else
                                invalid |= FIELD(key);
                }
                r = json_scan_skip(j, t);
                if (r < 0)
                        return r;
        }

        js->load_valid = (present & LOAD_NEEDED) == LOAD_NEEDED && invalid == 0;
        js->load = l;
        return 0;
}

/* The members of the frame, its '{' read. Returns 1 for a valid job_event frame, 0 if it is not one,
 * -ENOMEM, or the scan error. */
static int frame_scan(JobEventScan *js) {
        JsonScan *j = &js->json;
        bool is_job_event = false;

        for (;;) {
                int t = json_scan_next(j), r;
                Key key;

                if (t < 0)
                        return t;
                if (t == JSON_SCAN_OBJECT_END)
                        break;

                assert(t == JSON_SCAN_KEY);
                key = key_lookup(&j->string);
                switch (key) {
                case KEY_CMD:
                        /* Any other command is not ours: stop reading at once. (A later "cmd" could
                         * still make it a job_event for jansson; the jansson path reads those.) */
                        t = json_scan_next(j);
                        if (t != JSON_SCAN_STRING || !JSON_SCAN_STRING_IS(&j->string, "job_event"))
                                return t < 0 ? t : 0;
                        is_job_event = true;
                        r = 0;
                        break;
                case KEY_EVENTS:
                        r = events_parse(js);
                        if (r == 0)
                                return 0;
                        break;
                case KEY_LOAD:
                        r = load_parse(js);
                        break;
                case KEY_OTHER:
                        r = json_scan_skip(j, json_scan_next(j));
                        break;
                default:
                        r = event_field(j, &js->top, key);
                }
                if (r < 0)
                        return r;
        }

        /* Trailing garbage makes it invalid JSON. */
        if (json_scan_next(j) != JSON_SCAN_END)
                return 0;
        if (js->has_load && !js->load_valid)
                return 0;
        if (js->has_events)
                return is_job_event && (js->n_events > 0 || js->has_load);
        return is_job_event && event_is_valid(&js->top);
}

/* The strings of an event into the block, NUL-terminated. */
static const char *string_put(const JsonScanString *str, char **p) {
        const char *s = *p;

        *p += json_scan_string_decode(str, *p);
        *(*p)++ = '\0';
        return s;
}

/* One block for the events and, after them, their strings: frame_done() frees both. None for a
 * load-only report. */
static int frame_fill(Frame *f, const JobEventScan *js) {
        const EventScan *events = js->has_events ? js->events : &js->top;
        size_t n = js->has_events ? js->n_events : 1, strings = 0;
        ProtocolEvent *a = NULL;
        char *p;

        for (size_t i = 0; i < n; i++) {
                if (events[i].present & FIELD(KEY_SIGNAL))
                        strings += events[i].signal.size + 1;
                if (events[i].present & FIELD(KEY_REASON))
                        strings += events[i].reason.size + 1;
        }

        if (n > 0) {
                a = malloc(n * sizeof(ProtocolEvent) + strings);
                if (!a)
                        return -ENOMEM;

                p = (char *) (a + n);
                for (size_t i = 0; i < n; i++) {
                        a[i] = events[i].ev;
                        if (events[i].present & FIELD(KEY_SIGNAL))
                                a[i].signal = string_put(&events[i].signal, &p);
                        if (events[i].present & FIELD(KEY_REASON))
                                a[i].reason = string_put(&events[i].reason, &p);
                }
        }

        *f = (Frame){
                .command = COMMAND_JOB_EVENT,
                .role = _ROLE_INVALID,
                .events_array = a,
                .n_events = n,
                .has_load = js->has_load,
                .load = js->load,
        };
        return 1;
}

int frame_parse_job_event_fast(Frame *f, const void *data, size_t size) {
        _cleanup_(job_event_scan_done) JobEventScan js;
        int r;

        /* Field by field: zeroing the whole (events_buf is 2 KiB) would cost a one-event frame a
         * tenth of its time, and each event is initialized when it begins. */
        js.events = js.events_buf;
        js.n_allocated = EVENTS_ON_STACK;
        js.n_events = 0;
        js.has_events = false;
        js.has_load = false;

        assert(f);

        if (!data || size == 0)
                return 0;

        json_scan_init(&js.json, data, size);
        if (json_scan_next(&js.json) != JSON_SCAN_OBJECT_BEGIN)
                return 0;
        js.top = EVENT_SCAN_INIT;

        r = frame_scan(&js);
        if (r == -ENOMEM)
                return r;
        if (r <= 0)
                return 0;

        return frame_fill(f, &js);
}

/* ---- job_request ---- */

/* A number as jansson's json_number_value() gives it: the integer's value, or the real's strtod(). */
/* A real's text as strtod() reads it; false for one of 64 characters or more (jansson reads those
 * too: it judges them). */
static bool real_value(const char *text, size_t size, double *ret) {
        char buf[64];

        if (size >= sizeof(buf))
                return false;
        memcpy(buf, text, size);
        buf[size] = 0;
        *ret = strtod(buf, NULL);
        return true;
}

static bool number_value(const JsonScan *j, int t, double *ret) {
        if (t == JSON_SCAN_INTEGER) {
                *ret = (double) j->integer;
                return true;
        }
        return t == JSON_SCAN_REAL && real_value(j->number, j->number_size, ret);
}

/* The payload's rules, whichever path read it. */
static bool priority_valid(int64_t v) {
        return v >= PROTOCOL_PRIORITY_MIN && v <= PROTOCOL_PRIORITY_MAX;
}

static bool runtime_valid(double v, double max_runtime) {
        return v >= 0 && v <= max_runtime;
}

/* The payload object, its '{' just read: priority and runtime judged, "id" and repeated keys
 * declined, the rest skipped. Returns 1 when valid, 0 to decline, or the scan error. */
static int job_request_payload(JsonScan *j, double max_runtime, Frame *f) {
        bool has_priority = false, has_runtime = false;
        int t;

        for (;;) {
                t = json_scan_next(j);
                if (t < 0)
                        return t;
                if (t == JSON_SCAN_OBJECT_END)
                        return has_priority && has_runtime;
                if (t != JSON_SCAN_KEY)
                        return 0;

                if (JSON_SCAN_STRING_IS(&j->string, "priority")) {
                        if (has_priority)
                                return 0;
                        has_priority = true;
                        t = json_scan_next(j);
                        if (t < 0)
                                return t;
                        if (t != JSON_SCAN_INTEGER || !priority_valid(j->integer))
                                return 0; /* invalid: jansson says why */
                        f->priority = (int) j->integer;
                } else if (JSON_SCAN_STRING_IS(&j->string, "runtime")) {
                        double r;

                        if (has_runtime)
                                return 0;
                        has_runtime = true;
                        t = json_scan_next(j);
                        if (t < 0)
                                return t;
                        if (!number_value(j, t, &r) || !runtime_valid(r, max_runtime))
                                return 0;
                        f->runtime = r + 0.0; /* -0 becomes 0 */
                } else if (JSON_SCAN_STRING_IS(&j->string, "id"))
                        return 0;
                else {
                        t = json_scan_next(j);
                        if (t < 0)
                                return t;
                        t = json_scan_skip(j, t);
                        if (t < 0)
                                return t;
                }
        }
}

/* "ref": an integer, or a string of at most PROTOCOL_REF_MAX bytes, as a tree for the error frames
 * and the job table. Returns 1, 0 to decline, or an error. */
static int job_request_ref(JsonScan *j, int t, json_t **ret) {
        if (t == JSON_SCAN_INTEGER)
                *ret = json_integer(j->integer);
        else if (t == JSON_SCAN_STRING && j->string.size <= PROTOCOL_REF_MAX) {
                char buf[PROTOCOL_REF_MAX + 1];

                (void) json_scan_string_decode(&j->string, buf);
                *ret = json_stringn(buf, j->string.size);
        } else
                return 0;
        return *ret ? 1 : -ENOMEM;
}

/* ---- job_request as our clients and the Python ones write it ----
 *
 * One tight pass for the frame's usual layout: {"cmd":"job_request","payload":{...}} with an
 * optional "ref" after the payload, no whitespace but one space after ':' and ',' (as json.dumps()
 * puts it), a payload of flat members whose keys and string values are printable ASCII without
 * escapes, whose numbers are integers of at most 18 digits or reals with a fraction and no
 * exponent, or true, false, null. Whatever else (nesting, escapes, UTF-8, other spacing, another
 * order) declines to the scanner below, which reads any JSON jansson reads. */

typedef struct Canon {
        const char *p, *end;
} Canon;

/* What the payload says; the Frame is filled once it is all valid. */
typedef struct CanonJob {
        const char *text;
        size_t size;
        int priority;
        double runtime;
} CanonJob;

/* Inline at each call, so that each memcmp() has a constant size and becomes a compare or two. */
static inline __attribute__((always_inline)) bool canon_lit(Canon *c, const char *lit, size_t n) {
        if ((size_t) (c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
                return false;
        c->p += n;
        return true;
}

/* ':' or ',' and the one space json.dumps() puts after it. */
static bool canon_sep(Canon *c, char sep) {
        if (c->p >= c->end || *c->p != sep)
                return false;
        c->p++;
        if (c->p < c->end && *c->p == ' ')
                c->p++;
        return true;
}

/* A string of printable ASCII without '"' or '\\', on its opening quote: its bytes. */
static bool canon_string(Canon *c, const char **ret, size_t *ret_size) {
        const char *begin;

        if (c->p >= c->end || *c->p != '"')
                return false;
        begin = ++c->p;
        while (c->p < c->end && *c->p >= 0x20 && *c->p <= 0x7e && *c->p != '"' && *c->p != '\\')
                c->p++;
        if (c->p >= c->end || *c->p != '"')
                return false;
        *ret = begin;
        *ret_size = (size_t) (c->p++ - begin);
        return true;
}

static const char *canon_digits(const char *p, const char *end) {
        while (p < end && *p >= '0' && *p <= '9')
                p++;
        return p;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?, at most 18 digits before the point and 40 in all: no integer
 * overflows, no real does. *ret_real: whether it had a fraction. */
static bool canon_number(Canon *c, const char **ret, size_t *ret_size, bool *ret_real) {
        const char *begin = c->p, *int_begin, *q;

        if (c->p < c->end && *c->p == '-')
                c->p++;
        int_begin = c->p;
        q = canon_digits(c->p, c->end);
        if (q == int_begin || q - int_begin > 18 || (*int_begin == '0' && q - int_begin > 1))
                return false;
        c->p = q;
        *ret_real = c->p < c->end && *c->p == '.';
        if (*ret_real) {
                q = canon_digits(++c->p, c->end);
                if (q == c->p || q - begin > 40)
                        return false;
                c->p = q;
        }
        /* An exponent: the scanner judges it. */
        if (c->p < c->end && (*c->p == 'e' || *c->p == 'E'))
                return false;
        *ret = begin;
        *ret_size = (size_t) (c->p - begin);
        return true;
}

/* A member's value that is not an object or array, skipped. */
static bool canon_skip_value(Canon *c) {
        const char *v;
        size_t n;
        bool real;

        if (c->p >= c->end)
                return false;
        switch (*c->p) {
        case '"':
                return canon_string(c, &v, &n);
        case 't':
                return canon_lit(c, "true", 4);
        case 'f':
                return canon_lit(c, "false", 5);
        case 'n':
                return canon_lit(c, "null", 4);
        default:
                return canon_number(c, &v, &n, &real);
        }
}

/* The value of an integer canon_number() took: at most 18 digits, so no overflow. */
static int64_t canon_integer_value(const char *v, size_t n) {
        bool negative = *v == '-';
        int64_t x = 0;

        for (size_t i = negative; i < n; i++)
                x = x * 10 + (v[i] - '0');
        return negative ? -x : x;
}

static bool canon_integer(Canon *c, int64_t *ret) {
        const char *v;
        size_t n;
        bool real;

        if (!canon_number(c, &v, &n, &real) || real)
                return false;
        *ret = canon_integer_value(v, n);
        return true;
}

static bool canon_runtime(Canon *c, double *ret) {
        const char *v;
        size_t n;
        bool real;

        if (!canon_number(c, &v, &n, &real))
                return false;
        if (!real) {
                *ret = (double) canon_integer_value(v, n);
                return true;
        }
        return real_value(v, n, ret);
}

/* A key canon_string() read, against a literal. */
#define CANON_KEY_IS(key, n, literal) \
        ((n) == sizeof(literal) - 1 && memcmp((key), literal, sizeof(literal) - 1) == 0)

/* The payload, on its '{': 1 when valid, 0 to decline. */
static int canon_payload(Canon *c, double max_runtime, CanonJob *r) {
        bool has_priority = false, has_runtime = false;

        r->text = c->p;
        if (!canon_lit(c, "{", 1))
                return 0;
        if (c->p < c->end && *c->p == '}')
                return 0; /* no priority: the scanner's path says why */
        for (;;) {
                const char *key;
                size_t n;

                if (!canon_string(c, &key, &n) || !canon_sep(c, ':'))
                        return 0;
                if (CANON_KEY_IS(key, n, "priority")) {
                        int64_t v;

                        if (has_priority || !canon_integer(c, &v) || !priority_valid(v))
                                return 0;
                        has_priority = true;
                        r->priority = (int) v;
                } else if (CANON_KEY_IS(key, n, "runtime")) {
                        double v;

                        if (has_runtime || !canon_runtime(c, &v) || !runtime_valid(v, max_runtime))
                                return 0;
                        has_runtime = true;
                        r->runtime = v + 0.0; /* -0 becomes 0 */
                } else if (CANON_KEY_IS(key, n, "id"))
                        return 0;
                else if (!canon_skip_value(c))
                        return 0;

                if (c->p < c->end && *c->p == '}')
                        break;
                if (!canon_sep(c, ','))
                        return 0;
        }
        c->p++;
        r->size = (size_t) (c->p - r->text);
        return has_priority && has_runtime;
}

/* "ref": an integer, or a string of at most PROTOCOL_REF_MAX bytes. 1, 0 to decline, -ENOMEM. */
static int canon_ref(Canon *c, json_t **ret) {
        const char *v;
        size_t n;

        if (c->p < c->end && *c->p == '"') {
                if (!canon_string(c, &v, &n) || n > PROTOCOL_REF_MAX)
                        return 0;
                *ret = json_stringn(v, n);
        } else {
                int64_t x;

                if (!canon_integer(c, &x))
                        return 0;
                *ret = json_integer(x);
        }
        return *ret ? 1 : -ENOMEM;
}

static int job_request_canonical(Frame *f, const void *data, size_t size, double max_runtime) {
        _cleanup_(json_decrefp) json_t *ref = NULL;
        Canon c = { .p = data, .end = (const char *) data + size };
        CanonJob job = {};
        int k;

        if (!canon_lit(&c, "{\"cmd\"", 6) || !canon_sep(&c, ':') || !canon_lit(&c, "\"job_request\"", 13) ||
            !canon_sep(&c, ',') || !canon_lit(&c, "\"payload\"", 9) || !canon_sep(&c, ':'))
                return 0;
        k = canon_payload(&c, max_runtime, &job);
        if (k <= 0)
                return k;
        if (c.p < c.end && *c.p == ',') {
                if (!canon_sep(&c, ',') || !canon_lit(&c, "\"ref\"", 5) || !canon_sep(&c, ':'))
                        return 0;
                k = canon_ref(&c, &ref);
                if (k <= 0)
                        return k;
        }
        if (!canon_lit(&c, "}", 1) || c.p != c.end)
                return 0;

        *f = (Frame){
                .command = COMMAND_JOB_REQUEST,
                .role = _ROLE_INVALID,
                .payload_text = job.text,
                .payload_size = job.size,
                .ref = TAKE_PTR(ref),
                .priority = job.priority,
                .runtime = job.runtime,
        };
        return 1;
}

int frame_parse_job_request_fast(Frame *f, const void *data, size_t size, double max_runtime) {
        _cleanup_(json_decrefp) json_t *ref = NULL;
        Frame r = { .command = COMMAND_JOB_REQUEST, .role = _ROLE_INVALID };
        bool has_cmd = false, has_ref = false;
        JsonScan j;
        int t, k;

        assert(f);

        k = job_request_canonical(f, data, size, max_runtime);
        if (k != 0)
                return k;

        json_scan_init(&j, data, size);
        if (json_scan_next(&j) != JSON_SCAN_OBJECT_BEGIN)
                return 0;
        for (;;) {
                t = json_scan_next(&j);
                if (t < 0)
                        return 0;
                if (t == JSON_SCAN_OBJECT_END)
                        break;
                if (t != JSON_SCAN_KEY)
                        return 0;

                if (JSON_SCAN_STRING_IS(&j.string, "cmd")) {
                        if (has_cmd || json_scan_next(&j) != JSON_SCAN_STRING ||
                            !JSON_SCAN_STRING_IS(&j.string, "job_request"))
                                return 0;
                        has_cmd = true;
                } else if (JSON_SCAN_STRING_IS(&j.string, "ref")) {
                        if (has_ref)
                                return 0;
                        has_ref = true;
                        k = job_request_ref(&j, json_scan_next(&j), &ref);
                        if (k <= 0)
                                return k;
                } else if (JSON_SCAN_STRING_IS(&j.string, "payload")) {
                        if (r.payload_text || json_scan_next(&j) != JSON_SCAN_OBJECT_BEGIN)
                                return 0;
                        r.payload_text = (const char *) j.p - 1;
                        k = job_request_payload(&j, max_runtime, &r);
                        if (k <= 0)
                                return 0;
                        r.payload_size = (size_t) ((const char *) j.p - r.payload_text);
                } else {
                        t = json_scan_next(&j);
                        if (t < 0 || json_scan_skip(&j, t) < 0)
                                return 0;
                }
        }
        if (json_scan_next(&j) != JSON_SCAN_END || !has_cmd || !r.payload_text)
                return 0;

        r.ref = TAKE_PTR(ref);
        *f = r;
        return 1;
}
