/* SPDX-License-Identifier: MIT */
/*
 * What the bus serves over plain HTTP on its own port, beside the WebSocket: the dashboard (its
 * files built into the binary, web-assets.h), /metrics in the Prometheus text format 0.0.4, and
 * /healthz. All read-only. And which WebSocket upgrades a browser may make: one that carries an
 * Origin is taken only from the bus's own page or an origin of --allow-origin, so that no page a
 * local user visits can submit or cancel jobs.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bus-internal.h"
#include "log.h"
#include "web-assets.h"

/* What the page may do: nothing but its own files and its own WebSocket. */
#define PAGE_HEADERS                                                                         \
        "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; " \
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "    \
        "frame-ancestors 'none'\r\n"                                                         \
        "Referrer-Policy: no-referrer\r\n"                                                   \
        "X-Frame-Options: DENY\r\n"

#define TEXT_PLAIN "text/plain; charset=utf-8"

/* ---- the Origin of an upgrade ---- */

/* HOST[:PORT] as a browser sends it in Host: is it a name no one can rebind (an IP address, or
 * localhost)? A page of evil.example that a resolver turns into 127.0.0.1 sends Host: evil.example. */
static bool host_is_literal(const char *host) {
        char name[256];
        struct in6_addr a6;
        struct in_addr a4;
        size_t n;

        if (host[0] == '[') {
                n = strcspn(host + 1, "]");
                if (host[1 + n] != ']' || n >= sizeof name)
                        return false;
                memcpy(name, host + 1, n);
                name[n] = 0;
                return inet_pton(AF_INET6, name, &a6) == 1;
        }
        n = strcspn(host, ":");
        if (n >= sizeof name)
                return false;
        memcpy(name, host, n);
        name[n] = 0;
        return inet_pton(AF_INET, name, &a4) == 1 || strcasecmp(name, "localhost") == 0;
}

static bool origin_is_own(const char *origin, const char *host) {
        const char *rest;

        if (!host || !host_is_literal(host))
                return false;
        if (strncmp(origin, "http://", 7) == 0)
                rest = origin + 7;
        else if (strncmp(origin, "https://", 8) == 0)
                rest = origin + 8;
        else
                return false;
        return strcasecmp(rest, host) == 0;
}

bool bus_origin_allowed(Bus *b, const char *origin, const char *host) {
        assert(b);

        if (!origin)
                return true; /* not a browser: the Python and C clients send none */
        for (char **a = b->config.allow_origins; a && *a; a++)
                if (strcmp(*a, "*") == 0 || strcasecmp(*a, origin) == 0)
                        return true;
        return origin_is_own(origin, host);
}

/* ---- /metrics ---- */

typedef struct Out {
        char *buf;
        size_t size, alloc;
        bool failed;
} Out;

_printf_(2, 3) static void out_printf(Out *o, const char *format, ...) {
        va_list ap;
        int n;

        if (o->failed)
                return;
        for (;;) {
                va_start(ap, format);
                n = vsnprintf(o->buf + o->size, o->alloc - o->size, format, ap);
                va_end(ap);
                if (n < 0) {
                        o->failed = true;
                        return;
                }
                if ((size_t) n < o->alloc - o->size) {
                        o->size += (size_t) n;
                        return;
                }
                size_t alloc = MAX(o->alloc * 2, o->size + (size_t) n + 4096);
                char *p = realloc(o->buf, alloc);
                if (!p) {
                        o->failed = true;
                        return;
                }
                o->buf = p;
                o->alloc = alloc;
        }
}

static void metric_head(Out *o, const char *name, const char *type, const char *help) {
        out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metric_histogram(Out *o, const char *name, const char *scheduler, const JobTableHistogram *h) {
        uint64_t cumulative = 0;

        for (size_t i = 0; i < JOB_TABLE_BUCKETS; i++) {
                cumulative += h->counts[i];
                out_printf(o, "%s_bucket{scheduler=\"%s\",le=\"%g\"} %" PRIu64 "\n", name, scheduler,
                           job_table_bucket_bounds[i], cumulative);
        }
        out_printf(o, "%s_bucket{scheduler=\"%s\",le=\"+Inf\"} %" PRIu64 "\n", name, scheduler, h->n);
        out_printf(o, "%s_sum{scheduler=\"%s\"} %.6f\n", name, scheduler, h->sum);
        out_printf(o, "%s_count{scheduler=\"%s\"} %" PRIu64 "\n", name, scheduler, h->n);
}

/* Scheduler names are [A-Za-z0-9_.:@/-] (checked at register): nothing to escape in a label. */
static char *bus_metrics(Bus *b, size_t *ret_size) {
        static const struct {
                const char *role;
                size_t offset;
        } roles[] = {
                { "producer", offsetof(Bus, n_producers) },
                { "scheduler", offsetof(Bus, n_schedulers) },
                { "observer", offsetof(Bus, n_observers) },
                { "unregistered", offsetof(Bus, n_unidentified) },
        };
        /* The bus's own counters, each a uint64_t of Bus. */
        static const struct {
                const char *name, *help;
                size_t offset;
        } counters[] = {
                { "sched_bus_jobs_submitted_total", "Jobs submitted to the bus.",
                  offsetof(Bus, n_submitted) },
                { "sched_bus_jobs_forwarded_total", "Jobs the bus sent to schedulers.",
                  offsetof(Bus, n_forwarded) },
                { "sched_bus_jobs_dropped_total",
                  "Jobs the bus dropped (no scheduler and no room to hold them).",
                  offsetof(Bus, n_dropped) },
                { "sched_bus_jobs_redispatched_total",
                  "Jobs given to another scheduler after theirs went away.", offsetof(Bus, n_redispatched) },
                { "sched_bus_bad_frames_total", "Frames the bus rejected with an error.",
                  offsetof(Bus, n_errors) },
                { "sched_bus_clients_closed_slow_total",
                  "Clients closed because they did not take what the bus sent.",
                  offsetof(Bus, n_closed_slow) },
                { "sched_bus_websockets_refused_total",
                  "WebSocket upgrades refused for their Origin (a web page that is not the bus's).",
                  offsetof(Bus, n_refused_origin) },
                { "sched_bus_tokens_refused_total",
                  "Connections and /metrics requests refused for a missing or unknown token (HTTP 401).",
                  offsetof(Bus, n_refused_token) },
                { "sched_bus_forbidden_total", "Frames refused because the token does not allow them.",
                  offsetof(Bus, n_forbidden) },
                { "sched_bus_producer_pauses_total",
                  "Times the bus stopped reading producers for a slow scheduler.", offsetof(Bus, n_pauses) },
        };
        JobTableScheduler *s;
        BusClient *c;
        Out o = {};

        for (size_t i = 0; i < ELEMENTSOF(counters); i++) {
                metric_head(&o, counters[i].name, "counter", counters[i].help);
                out_printf(&o, "%s %" PRIu64 "\n", counters[i].name,
                           *(const uint64_t *) ((const char *) b + counters[i].offset));
        }

        metric_head(&o, "sched_bus_clients", "gauge", "Connected clients by role.");
        for (size_t i = 0; i < ELEMENTSOF(roles); i++)
                out_printf(&o, "sched_bus_clients{role=\"%s\"} %u\n", roles[i].role,
                           *(const unsigned *) ((const char *) b + roles[i].offset));
        metric_head(&o, "sched_bus_held_jobs", "gauge", "Jobs the bus holds, waiting for a scheduler.");
        out_printf(&o, "sched_bus_held_jobs %zu\n", held_size(b->held));
        metric_head(&o, "sched_bus_producers_paused", "gauge", "1 while the bus does not read producers.");
        out_printf(&o, "sched_bus_producers_paused %d\n", b->paused);

        metric_head(&o, "sched_scheduler_slots", "gauge", "Slots of each connected reporting scheduler.");
        LIST_FOREACH (schedulers, c, b->schedulers)
                if (c->reporter)
                        out_printf(&o, "sched_scheduler_slots{scheduler=\"%s\"} %u\n",
                                   job_table_scheduler_name(c->reporter), c->slots);
        metric_head(&o, "sched_scheduler_running", "gauge",
                    "Jobs holding a slot, as the scheduler reported.");
        LIST_FOREACH (schedulers, c, b->schedulers)
                if (c->reporter)
                        out_printf(&o, "sched_scheduler_running{scheduler=\"%s\"} %u\n",
                                   job_table_scheduler_name(c->reporter),
                                   job_table_scheduler_count(c->reporter, JOB_RUNNING));
        metric_head(&o, "sched_scheduler_waiting", "gauge", "Jobs waiting on the scheduler for a slot.");
        LIST_FOREACH (schedulers, c, b->schedulers)
                if (c->reporter)
                        out_printf(&o, "sched_scheduler_waiting{scheduler=\"%s\"} %u\n",
                                   job_table_scheduler_name(c->reporter),
                                   job_table_scheduler_count(c->reporter, JOB_QUEUED) +
                                           job_table_scheduler_count(c->reporter, JOB_SUSPENDED) +
                                           job_table_scheduler_count(c->reporter, JOB_REQUEUED));

        metric_head(&o, "sched_jobs_total", "counter",
                    "Jobs that entered each state on each reporting scheduler.");
        for (s = job_table_scheduler_next(b->jobs, NULL); s; s = job_table_scheduler_next(b->jobs, s))
                for (JobState st = 0; st < _JOB_STATE_MAX; st++)
                        out_printf(&o, "sched_jobs_total{scheduler=\"%s\",state=\"%s\"} %" PRIu64 "\n",
                                   job_table_scheduler_name(s), job_state_to_string(st),
                                   job_table_scheduler_total(s, st));
        metric_head(&o, "sched_job_wait_seconds", "histogram",
                    "Time from a job's submission to its first start on the scheduler.");
        for (s = job_table_scheduler_next(b->jobs, NULL); s; s = job_table_scheduler_next(b->jobs, s))
                metric_histogram(&o, "sched_job_wait_seconds", job_table_scheduler_name(s),
                                 job_table_scheduler_wait(s));
        metric_head(&o, "sched_job_run_seconds", "histogram", "Time from a job's start to its end.");
        for (s = job_table_scheduler_next(b->jobs, NULL); s; s = job_table_scheduler_next(b->jobs, s))
                metric_histogram(&o, "sched_job_run_seconds", job_table_scheduler_name(s),
                                 job_table_scheduler_run(s));
        if (o.failed) {
                free(o.buf);
                return NULL;
        }
        *ret_size = o.size;
        return o.buf;
}

/* ---- routes ---- */

int bus_on_http(Bus *b, const WsRequest *req, WsHttpResponse *ret) {
        static const char not_found[] = "Not found. This bus serves /, /metrics and /healthz.\n";
        static const char need_token[] =
                "An observer or admin token is needed: Authorization: Bearer TOKEN.\n";
        const char *path;

        assert(b);
        assert(req);
        assert(ret);

        path = req->path ?: "/";
        if (strcmp(path, "/healthz") == 0) {
                *ret = (WsHttpResponse){
                        .status = b->stopping ? 503 : 200,
                        .content_type = TEXT_PLAIN,
                        .body = b->stopping ? "stopping\n" : "ok\n",
                        .size = b->stopping ? strlen("stopping\n") : strlen("ok\n"),
                };
                return 0;
        }
        if (strcmp(path, "/metrics") == 0) {
                size_t size;
                char *text;

                /* What the bus knows of every job: behind a token where one is needed. */
                if (!(bus_request_rights(b, req) & BUS_RIGHT_OBSERVER)) {
                        b->n_refused_token++;
                        *ret = (WsHttpResponse){ .status = 401,
                                                 .content_type = TEXT_PLAIN,
                                                 .body = need_token,
                                                 .size = strlen(need_token),
                                                 .headers = "WWW-Authenticate: Bearer\r\n" };
                        return 0;
                }
                text = bus_metrics(b, &size);

                if (!text)
                        return -ENOMEM;
                *ret = (WsHttpResponse){
                        .status = 200,
                        .content_type = "text/plain; version=0.0.4; charset=utf-8",
                        .body = text,
                        .size = size,
                        .owned = text,
                };
                return 0;
        }
        for (const WebAsset *a = web_assets; a->path; a++)
                if (strcmp(path, a->path) == 0 ||
                    (strcmp(path, "/index.html") == 0 && strcmp(a->path, "/") == 0)) {
                        *ret = (WsHttpResponse){
                                .status = 200,
                                .content_type = a->content_type,
                                .body = a->data,
                                .size = a->size,
                                .headers = PAGE_HEADERS,
                        };
                        return 0;
                }
        *ret = (WsHttpResponse){
                .status = 404, .content_type = TEXT_PLAIN, .body = not_found, .size = strlen(not_found)
        };
        return 0;
}
