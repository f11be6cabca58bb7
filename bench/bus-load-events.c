/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus-load-events.h"
#include "macro.h"

/* What a scheduler sends for one job, around its id (twice). */
#define FRAME_HEAD    "{\"cmd\":\"job_event\",\"events\":["
#define EVENTS_TAIL   "]"
#define FRAME_TAIL    "}"
#define EVENT_ID      "{\"id\":"
#define EVENT_RUNNING ",\"state\":\"running\"},"
#define EVENT_DONE    ",\"state\":\"done\",\"exit_status\":0,\"cpu_usec\":1000},"
/* The load member, as the C scheduler writes it (protocol.c load_format()), around two numbers. */
#define LOAD_RUNNING   ",\"load\":{\"running\":"
#define LOAD_RECEIVED  ",\"waiting\":0,\"received\":"
#define LOAD_TAIL      "}"
#define STRLEN(s)      (sizeof(s "") - 1)
#define U64_DIGITS     20
#define JOB_BYTES_MAX  (2 * (STRLEN(EVENT_ID) + U64_DIGITS) + STRLEN(EVENT_RUNNING) + STRLEN(EVENT_DONE))
#define JOBS_PER_FRAME (JOB_EVENTS_PER_FRAME_MAX / JOB_EVENTS_PER_JOB_AND_SCHEDULER)
#define LOAD_BYTES_MAX (STRLEN(LOAD_RUNNING) + STRLEN(LOAD_RECEIVED) + STRLEN(LOAD_TAIL) + 2 * U64_DIGITS)
#define FRAME_BYTES_MAX                                                                               \
        (STRLEN(FRAME_HEAD) + JOBS_PER_FRAME * JOB_BYTES_MAX + STRLEN(EVENTS_TAIL) + LOAD_BYTES_MAX + \
         STRLEN(FRAME_TAIL))

void job_event_batch_done(JobEventBatch *b) {
        free(b->ids);
        free(b->frame);
        *b = (JobEventBatch){};
}

int job_event_batch_add(JobEventBatch *b, uint64_t id) {
        if (b->n_ids == b->n_allocated) {
                size_t n = MAX(b->n_allocated * 2, (size_t) 1024);
                uint64_t *ids = realloc(b->ids, n * sizeof *ids);

                if (!ids)
                        return -ENOMEM;
                b->ids = ids;
                b->n_allocated = n;
        }
        b->ids[b->n_ids++] = id;
        b->n_received++;
        return 0;
}

static char *append(char *p, const char *s, size_t len) {
        memcpy(p, s, len);
        return p + len;
}

/* By hand, not snprintf(): the benchmark formats 2 x S events per job and must stay cheap next to
 * the bus it loads. */
static char *append_u64(char *p, uint64_t v) {
        char digits[U64_DIGITS];
        size_t n = 0;

        do
                digits[n++] = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        while (n > 0)
                *p++ = digits[--n];
        return p;
}

int job_event_batch_flush(JobEventBatch *b, int (*send)(const char *frame, size_t size, void *userdata),
                          void *userdata) {
        size_t done = 0;
        int r = 0;

        if (b->n_ids == 0)
                return 0;
        if (!b->frame) {
                b->frame = malloc(FRAME_BYTES_MAX);
                if (!b->frame)
                        return -ENOMEM;
        }
        while (done < b->n_ids && r >= 0) {
                size_t n = MIN(b->n_ids - done, (size_t) JOBS_PER_FRAME);
                char *p = append(b->frame, FRAME_HEAD, STRLEN(FRAME_HEAD));

                for (size_t i = done; i < done + n; i++) {
                        p = append(p, EVENT_ID, STRLEN(EVENT_ID));
                        p = append_u64(p, b->ids[i]);
                        p = append(p, EVENT_RUNNING, STRLEN(EVENT_RUNNING));
                        p = append(p, EVENT_ID, STRLEN(EVENT_ID));
                        p = append_u64(p, b->ids[i]);
                        p = append(p, EVENT_DONE, STRLEN(EVENT_DONE));
                }
                p--; /* the last event's comma */
                p = append(p, EVENTS_TAIL, STRLEN(EVENTS_TAIL));
                done += n;
                if (b->report_load) {
                        /* The jobs of the frames still to come hold a slot until their "done". */
                        p = append(p, LOAD_RUNNING, STRLEN(LOAD_RUNNING));
                        p = append_u64(p, b->n_ids - done);
                        p = append(p, LOAD_RECEIVED, STRLEN(LOAD_RECEIVED));
                        p = append_u64(p, b->n_received);
                        p = append(p, LOAD_TAIL, STRLEN(LOAD_TAIL));
                }
                p = append(p, FRAME_TAIL, STRLEN(FRAME_TAIL));
                r = send(b->frame, (size_t) (p - b->frame), userdata);
        }
        b->n_ids = 0;
        return r;
}

void job_event_tally_done(JobEventTally *t) {
        free(t->per_job);
        *t = (JobEventTally){};
}

int job_event_tally_reset(JobEventTally *t, uint64_t n_jobs) {
        if (n_jobs > t->n_allocated || !t->per_job) {
                uint8_t *p = realloc(t->per_job, MAX(n_jobs, (uint64_t) 1));

                if (!p)
                        return -ENOMEM;
                t->per_job = p;
                t->n_allocated = n_jobs;
        }
        *t = (JobEventTally){ .per_job = t->per_job, .n_allocated = t->n_allocated, .n_jobs = n_jobs };
        memset(t->per_job, 0, n_jobs);
        return 0;
}

void job_event_tally_start(JobEventTally *t, uint64_t first_id) {
        t->first_id = first_id;
        t->started = true;
}

static const char *skip_space(const char *p) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                p++;
        return p;
}

/* p at a string's opening quote: the position after its closing one, or NULL. */
static const char *skip_string(const char *p) {
        for (p++; *p; p++)
                if (*p == '\\' && p[1])
                        p++;
                else if (*p == '"')
                        return p + 1;
        return NULL;
}

/* p at any value: the position of the ',', '}' or ']' after it, or NULL. Containers are skipped
 * whole. */
static const char *skip_value(const char *p) {
        unsigned depth = 0;

        for (;;) {
                switch (*p) {
                case 0:
                        return NULL;
                case '"':
                        p = skip_string(p);
                        if (!p)
                                return NULL;
                        continue;
                case '{':
                case '[':
                        depth++;
                        break;
                case '}':
                case ']':
                        if (depth == 0)
                                return p;
                        depth--;
                        break;
                case ',':
                        if (depth == 0)
                                return p;
                        break;
                }
                p++;
        }
}

typedef enum EventState {
        EVENT_STATE_NONE,
        EVENT_STATE_RUNNING,
        EVENT_STATE_DONE,
        EVENT_STATE_HELD, /* the bus's own: the job waits there for a free slot */
        EVENT_STATE_OTHER,
} EventState;

typedef struct JobEvent {
        bool has_id, final;
        uint64_t id;
        EventState state;
} JobEvent;

/* Whether p starts with lit (n bytes, no NUL among them); stops at the first difference, so never
 * reads past p's end. */
static inline bool starts_with(const char *p, const char *lit, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i] != lit[i])
                        return false;
        return true;
}

/* The unsigned decimal at p (a digit), saturating at UINT64_MAX as strtoull() does; *end after its
 * digits. */
static uint64_t parse_u64(const char *p, const char **end) {
        const char *q = p;
        uint64_t v = 0;

        for (; *q >= '0' && *q <= '9'; q++)
                v = v * 10 + (unsigned) (*q - '0');
        if (q - p > 19) { /* 19 digits always fit; more may not: again, with care */
                v = 0;
                for (const char *d = p; d < q; d++)
                        v = v > (UINT64_MAX - (unsigned) (*d - '0')) / 10 ? UINT64_MAX
                                                                          : v * 10 + (unsigned) (*d - '0');
        }
        if (end)
                *end = q;
        return v;
}

uint64_t job_event_parse_u64(const char *p) {
        return parse_u64(p, NULL);
}

static EventState event_state_parse(const char *value) {
        if (strncmp(value, "\"running\"", 9) == 0)
                return EVENT_STATE_RUNNING;
        if (strncmp(value, "\"done\"", 6) == 0)
                return EVENT_STATE_DONE;
        if (strncmp(value, "\"held\"", 6) == 0)
                return EVENT_STATE_HELD;
        return EVENT_STATE_OTHER;
}

static bool key_is(const char *key, const char *end, const char *name) {
        size_t len = strlen(name);

        return (size_t) (end - key) == len + 2 && memcmp(key + 1, name, len) == 0;
}

/* One flat event object at p ('{'): its fields into *ret. The position after it, or NULL. Other
 * fields, nested values included, are skipped. */
static const char *event_parse(const char *p, JobEvent *ret) {
        *ret = (JobEvent){};
        p = skip_space(p + 1);
        while (*p == '"') {
                const char *key = p, *key_end = skip_string(p), *value;

                if (!key_end)
                        return NULL;
                p = skip_space(key_end);
                if (*p != ':')
                        return NULL;
                value = skip_space(p + 1);
                if (key_is(key, key_end, "id") && *value >= '0' && *value <= '9') {
                        ret->id = parse_u64(value, NULL);
                        ret->has_id = true;
                } else if (key_is(key, key_end, "state"))
                        ret->state = event_state_parse(value);
                else if (key_is(key, key_end, "final"))
                        ret->final = strncmp(value, "true", 4) == 0;
                p = skip_value(value);
                if (!p)
                        return NULL;
                p = skip_space(p);
                if (*p == ',')
                        p = skip_space(p + 1);
        }
        return *p == '}' ? p + 1 : NULL;
}

/* The end of a string at p (its opening quote) without escapes, or NULL. */
static const char *skip_plain_string(const char *p) {
        for (p++; *p != '"'; p++)
                if (*p == '\\' || *p == 0)
                        return NULL;
        return p + 1;
}

/* The shape sched-bus writes (and the null bus passes on from us): {"id":N,"state":"S" and then
 * ,"key":value fields whose values are plain strings, numbers, true, false or null, no whitespace}.
 * Read in one pass, without the general parser above that an observer would otherwise spend most of
 * its time in. NULL for anything else (whitespace, escapes, containers, a second id or state,
 * "final" not a boolean), which then goes to event_parse(): whatever this takes, that reads the
 * same. */
static const char *event_parse_fast(const char *p, JobEvent *ret) {
        const char *s;
        EventState state;
        bool final = false;
        uint64_t id;

        if (!starts_with(p, "{\"id\":", 6) || p[6] < '0' || p[6] > '9')
                return NULL;
        id = parse_u64(p + 6, &s);
        if (!starts_with(s, ",\"state\":\"", 10))
                return NULL;
        s += 10;
        if (starts_with(s, "running\"", 8)) {
                state = EVENT_STATE_RUNNING;
                s += 8;
        } else if (starts_with(s, "done\"", 5)) {
                state = EVENT_STATE_DONE;
                s += 5;
        } else if (starts_with(s, "held\"", 5)) {
                state = EVENT_STATE_HELD;
                s += 5;
        } else {
                state = EVENT_STATE_OTHER;
                s = skip_plain_string(s - 1);
                if (!s)
                        return NULL;
        }
        while (*s != '}') {
                bool is_final;

                if (*s != ',' || s[1] != '"')
                        return NULL;
                s++;
                if (starts_with(s, "\"id\"", 4) || starts_with(s, "\"state\"", 7))
                        return NULL;
                is_final = starts_with(s, "\"final\"", 7);
                s = skip_plain_string(s);
                if (!s || *s != ':')
                        return NULL;
                s++;
                if (starts_with(s, "true", 4) || starts_with(s, "false", 5)) {
                        if (is_final)
                                final = *s == 't'; /* the last one counts, as in event_parse() */
                        s += *s == 't' ? 4 : 5;
                } else if (is_final)
                        return NULL;
                else if (starts_with(s, "null", 4))
                        s += 4;
                else if (*s == '"') {
                        s = skip_plain_string(s);
                        if (!s)
                                return NULL;
                } else if ((*s >= '0' && *s <= '9') || *s == '-') {
                        do
                                s++;
                        while ((*s >= '0' && *s <= '9') || *s == '.' || *s == 'e' || *s == 'E' ||
                               *s == '+' || *s == '-');
                } else
                        return NULL;
        }
        *ret = (JobEvent){ .has_id = true, .id = id, .state = state, .final = final };
        return s + 1;
}

/* Counts one event (or receipt) of job id; false when it is not one of the run's jobs. */
static bool tally_count_id(JobEventTally *t, uint64_t id) {
        uint64_t i;

        if (!t->started || id < t->first_id) {
                t->n_before++;
                return false;
        }
        i = id - t->first_id;
        if (i >= t->n_jobs) {
                t->n_outside++;
                return false;
        }
        if (t->per_job[i] < UINT8_MAX)
                t->per_job[i]++;
        t->n_events++;
        return true;
}

static void tally_count(JobEventTally *t, const JobEvent *e) {
        /* Not a scheduler's event: counted apart, so that the run's count and check stay the same. */
        if (e->state == EVENT_STATE_HELD) {
                t->n_held += t->started && e->id >= t->first_id && e->id - t->first_id < t->n_jobs;
                return;
        }
        if (!tally_count_id(t, e->id))
                return;
        t->n_running += e->state == EVENT_STATE_RUNNING;
        t->n_done += e->state == EVENT_STATE_DONE;
        t->n_other_state += e->state != EVENT_STATE_RUNNING && e->state != EVENT_STATE_DONE;
        t->n_final += e->final;
}

void job_event_tally_add_receipt(JobEventTally *t, uint64_t id) {
        (void) tally_count_id(t, id);
}

static int tally_add_events(JobEventTally *t, const char *frame) {
        const char *events = strstr(frame, "\"events\"");
        JobEvent e;
        int n = 0;

        if (!events) {
                if (*frame != '{' || !event_parse(frame, &e) || !e.has_id)
                        return -EBADMSG;
                tally_count(t, &e);
                return 1;
        }
        events = skip_space(events + STRLEN("\"events\""));
        if (*events != ':')
                return -EBADMSG;
        events = skip_space(events + 1);
        if (*events != '[')
                return -EBADMSG;
        for (const char *p = skip_space(events + 1); *p == '{'; n++) {
                const char *next = event_parse_fast(p, &e);

                p = next ?: event_parse(p, &e);
                if (!p || !e.has_id)
                        return n > 0 ? n : -EBADMSG;
                tally_count(t, &e);
                p = skip_space(p);
                if (*p == ',')
                        p = skip_space(p + 1);
        }
        return n > 0 ? n : -EBADMSG;
}

int job_event_tally_add(JobEventTally *t, const char *frame) {
        uint64_t before = t->n_events;
        int n = tally_add_events(t, frame);

        if (t->n_events > before)
                t->n_frames++;
        return n;
}

JobEventCheck job_event_tally_check(const JobEventTally *t, unsigned per_job, bool expect_final) {
        JobEventCheck c = {
                .want_per_state = t->n_jobs * (per_job / 2),
                .want_final = expect_final ? t->n_jobs : 0,
        };

        for (uint64_t i = 0; i < t->n_jobs; i++) {
                if (t->per_job[i] == per_job) {
                        c.n_exact++;
                        continue;
                }
                if (t->per_job[i] < per_job)
                        c.n_fewer++;
                else
                        c.n_more++;
                if (c.n_fewer + c.n_more == 1) {
                        c.first_off_id = t->first_id + i;
                        c.first_off_count = t->per_job[i];
                }
        }
        c.ok = c.n_exact == t->n_jobs && t->n_running == c.want_per_state && t->n_done == c.want_per_state &&
               t->n_other_state == 0 && t->n_final == c.want_final && t->n_outside == 0;
        return c;
}
