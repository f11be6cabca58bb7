/* SPDX-License-Identifier: MIT */
/*
 * Where each job goes, and what happens when it cannot go yet.
 *
 * --dispatch=broadcast sends a job to every registered scheduler but its sender (version 1);
 * --dispatch=one sends it to a single one, chosen from the load the schedulers report: the most free
 * slots (round robin among equals), then a scheduler that does not report (they take turns), then the
 * scheduler where it evicts the least urgent running job. A job that finds none of these waits in the
 * bus, in priority order, and goes out as soon as a slot frees anywhere: a job committed to one
 * scheduler's queue could not move when another one's slot frees, so no slot idles while a job waits.
 * With --hold 0 it goes to the shortest queue (waiting jobs per slot) instead.
 *
 * Held jobs (Held, held.h): jobs with no scheduler to go to, kept in priority order up to --hold and
 * in the state directory, so that a restart or a crash of the bus loses none. Beyond the bound the
 * least urgent one is dropped, and its producer told. They are pumped out a bounded number per loop
 * pass.
 *
 * Backpressure: while a registered scheduler's send queue is above its high-water mark (or, under
 * --dispatch=one, the bus holds --hold jobs), the bus stops reading from producers, and TCP makes
 * them wait; it reads again once every such queue is back at its low-water mark. Only a peer whose
 * send queue makes no progress for --stall-timeout, or passes the hard bounds of --max-queue and
 * --max-queue-bytes, is closed.
 */
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-internal.h"
#include "event-util.h"
#include "job-log.h"
#include "string-table.h"

/* Held jobs sent per loop pass: the loop keeps serving everyone else in between. */
#define PUMP_BATCH 256
/* The held jobs' frames take at most this much (their parsed payloads a few times more): a bound
 * that does not depend on how large --max-frame lets each one be. */
#define HOLD_BYTES_MAX (64U * 1024U * 1024U)
/* A reporting scheduler that has this many jobs it has not reported started is not chosen. */
#define UNSTARTED_MIN 64

static const char *const bus_dispatch_table[_BUS_DISPATCH_MAX] = {
        [BUS_DISPATCH_BROADCAST] = "broadcast",
        [BUS_DISPATCH_ONE] = "one",
};

DEFINE_STRING_TABLE_LOOKUP(bus_dispatch, BusDispatch, _BUS_DISPATCH_MAX);

static void bus_pump_kick(Bus *b);

static bool bus_one(const Bus *b) {
        return b->config.dispatch == BUS_DISPATCH_ONE;
}

/* ---- backpressure ---- */

/* Whoever submits jobs is held back, whatever it registered as: a scheduler that also submits
 * would otherwise flood the others past the backpressure. */
static bool bus_client_feeds(const BusClient *c) {
        return c->role == ROLE_PRODUCER || c->n_submitted > 0;
}

static void bus_client_pause(Bus *b, BusClient *c, bool pause) {
        assert(b);
        assert(c);

        if (c->paused == pause || c->closing)
                return;
        c->paused = pause;
        ws_conn_pause_rx(c->conn, pause);
}

static bool bus_holds_too_many(const Bus *b) {
        return bus_one(b) && b->config.hold > 0 && b->n_schedulers > 0 &&
               held_size(b->held) >= b->config.hold;
}

/* Pauses or resumes the producers after anything that changes the two reasons to push back. */
static void bus_flow_update(Bus *b) {
        BusClient *c;
        bool want;

        assert(b);

        if (b->paused)
                want = b->n_high > 0 ||
                       (bus_holds_too_many(b) ||
                        (bus_one(b) && b->n_schedulers > 0 && held_size(b->held) > b->config.hold / 4 * 3));
        else
                want = b->n_high > 0 || bus_holds_too_many(b);
        if (want == b->paused)
                return;
        b->paused = want;
        if (want)
                b->n_pauses++;
        log_debug("%s reading from producers: %u scheduler queues above the high-water mark, %zu jobs held.",
                  want ? "Stopped" : "Resumed", b->n_high, held_size(b->held));
        LIST_FOREACH (clients, c, b->clients)
                if (bus_client_feeds(c))
                        bus_client_pause(b, c, want);
}

static int on_stall_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        Bus *b = ASSERT_PTR(userdata);
        BusClient *c, *next;
        bool busy = false;
        uint64_t now;

        b->stall_armed = false;
        (void) sd_event_now(b->event, CLOCK_MONOTONIC, &now);
        LIST_FOREACH_SAFE (clients, c, next, b->clients) {
                if (c->closing || ws_conn_queued_messages(c->conn) == 0)
                        continue;
                if (now < ws_conn_get_progress(c->conn) + b->config.stall_usec) {
                        busy = true;
                        continue;
                }
                b->n_closed_slow++;
                bus_log_client(
                        b, &b->conn_limit, c, LOG_WARNING,
                        "Closing client %s: it took nothing of its %zu queued messages (%zu bytes) for "
                        "%.1f s.",
                        bus_client_peer(c), ws_conn_queued_messages(c->conn), ws_conn_queued_bytes(c->conn),
                        (double) b->config.stall_usec / USEC_PER_SEC);
                bus_close_client(b, c, WS_CLOSE_POLICY, "stalled");
        }
        if (busy)
                bus_dispatch_sent(b, NULL);
        return 0;
}

void bus_dispatch_sent(Bus *b, BusClient *c) {
        int r;

        assert(b);

        if (c && !c->high && c->role == ROLE_SCHEDULER && ws_conn_queue_is_high(c->conn)) {
                c->high = true;
                b->n_high++;
                bus_flow_update(b);
        }
        if (b->stall_armed || b->config.stall_usec == 0)
                return;
        /* A quarter of the timeout late at most: cheap, and the timer only runs while queues are full. */
        r = event_timer_arm(b->event, &b->stall_source, b->config.stall_usec / 4, b->config.stall_usec / 8,
                            on_stall_timer, b, "bus-stall", false);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the timer for stalled clients, ignoring: %m");
        else
                b->stall_armed = true;
}

static void bus_client_not_high(Bus *b, BusClient *c) {
        if (!c->high)
                return;
        c->high = false;
        assert(b->n_high > 0);
        b->n_high--;
        bus_flow_update(b);
        bus_pump_kick(b);
}

void bus_dispatch_on_queue_low(Bus *b, BusClient *c) {
        assert(b);
        assert(c);

        bus_client_not_high(b, c);
}

/* A job submitted while the bus is pushing back is taken (it has been read), then its sender waits. */
static void bus_flow_after_job(Bus *b, BusClient *c) {
        if (b->paused && bus_client_feeds(c))
                bus_client_pause(b, c, true);
}

/* ---- job texts and sending ---- */

/* A job's payload as the bus has it: the producer's bytes (a job_request read without jansson,
 * valid during its frame's handling), or a tree (from jansson, or held). */
typedef struct Payload {
        json_t *json;
        const char *text;
        size_t size;
} Payload;

#define PAYLOAD_OF_FRAME(f) \
        ((Payload){ .json = (f)->payload, .text = (f)->payload_text, .size = (f)->payload_size })
#define PAYLOAD_OF_JSON(j) ((Payload){ .json = (j) })

/* A job's text for one kind of scheduler: the bare payload with its id (version 1) or wrapped as
 * {"cmd":"job","payload":...} (reporting schedulers). The producer's bytes are spliced in as they
 * came, without a tree; a tree is printed. NULL with *ret_why set when it cannot go. */
static WsMessage *job_text(Bus *b, const Payload *p, uint64_t id, bool wrapped, const char **ret_why) {
        _cleanup_free_ char *text = NULL;
        WsMessage *m = NULL;
        size_t size;
        int r;

        if (p->text) {
                char prefix[PROTOCOL_SPLICE_PREFIX_MAX];
                struct iovec parts[3];

                size = protocol_splice_job(p->text, p->size, id, wrapped, prefix, parts);
                r = ws_message_new_parts(&m, parts, ELEMENTSOF(parts));
        } else {
                r = wrapped ? protocol_dump_job_wrapped(p->json, id, &text, &size)
                            : protocol_dump_job(p->json, id, &text, &size);
                if (r >= 0)
                        r = ws_message_new(&m, text, size);
        }
        if (r < 0) {
                *ret_why = "out of memory";
                return NULL;
        }
        /* Numbers may print longer than they came in: what goes out obeys the same limit. */
        if (size > b->config.max_frame) {
                *ret_why = "payload too large once forwarded";
                return ws_message_unref(m);
        }
        return m;
}

/* The job ends here, dropped: counted, logged (rate-limited), its submitter told if it asked. */
static void bus_drop(Bus *b, const BusClient *c, JobTableEntry *e, uint64_t id, int priority, double runtime,
                     const char *why) {
        LogJob job = { .id = id, .priority = priority, .runtime = runtime, .state = JOB_DROPPED };
        char client[96];

        assert(b);
        assert(why);

        b->n_dropped++;
        bus_status_changed(b);
        if (e)
                e->held = false;
        bus_job_dropped(b, e, id, why);
        if (!log_ratelimit_allowed(&b->drop_limit, "dropped jobs"))
                return;
        (void) snprintf(client, sizeof client, "SCHED_CLIENT=%s", c ? bus_client_peer(c) : "unknown");
        log_job_extra(LOG_NOTICE, &job, LOG_FIELDS(client), "Job %" PRIu64 " dropped: %s.", id, why);
}

/* To every registered scheduler but `sender`. Returns how many took it; *ret_why when none could. */
static unsigned bus_broadcast(Bus *b, const BusClient *sender, JobTableEntry *e, uint64_t id,
                              const Payload *payload, const char **ret_why) {
        WsMessage *bare = NULL, *wrapped = NULL;
        bool want_bare = false, want_wrapped = false;
        unsigned n_reporters = 0, n_sent = 0;
        const char *why = NULL;
        BusClient *s, *next;

        LIST_FOREACH (schedulers, s, b->schedulers)
                if (s != sender) {
                        want_bare = want_bare || !s->reporter;
                        want_wrapped = want_wrapped || s->reporter;
                        n_reporters += !!s->reporter;
                }
        if (e)
                (void) job_table_reserve_runs(e, n_reporters); /* else one allocation per run */
        if (want_bare)
                bare = job_text(b, payload, id, false, &why);
        if (want_wrapped && !why)
                wrapped = job_text(b, payload, id, true, &why);
        if (!why)
                /* A slow scheduler may be closed (and unlinked) while we walk the list. */
                LIST_FOREACH_SAFE (schedulers, s, next, b->schedulers)
                        if (s != sender && bus_send(b, s, s->reporter ? wrapped : bare)) {
                                n_sent++;
                                bus_job_delivered_to(b, e, s);
                        }
        ws_message_unref(bare);
        ws_message_unref(wrapped);
        *ret_why = why ?: "every scheduler was too slow to take it";
        return n_sent;
}

/* To scheduler s alone (--dispatch=one). `j`, when not NULL, is the job as held: a reporting
 * scheduler keeps it until it reports the job started; otherwise it is freed. */
static bool bus_send_one(Bus *b, BusClient *s, JobTableEntry *e, uint64_t id, const Payload *payload,
                         HeldJob *j, const char **ret_why) {
        _cleanup_(held_job_freep) HeldJob *owned = j;
        WsMessage *m;
        bool sent;

        m = job_text(b, payload, id, s->reporter, ret_why);
        if (!m)
                return false;
        sent = bus_send(b, s, m);
        ws_message_unref(m);
        if (!sent) {
                *ret_why = "its scheduler was too slow to take it";
                return false;
        }
        s->n_sent++;
        s->last_chosen = ++b->n_chosen;
        bus_job_delivered_to(b, e, s);
        if (s->unstarted && owned && held_push(s->unstarted, owned) >= 0)
                TAKE_PTR(owned);
        if (log_get_max_level() >= LOG_DEBUG)
                log_debug("Job %" PRIu64 " goes to %s (%s): %u slots, %u running, %u waiting.", id,
                          s->reporter ? job_table_scheduler_name(s->reporter)
                                      : "a scheduler that does not report",
                          bus_client_peer(s), s->slots, s->load.running, s->load.waiting);
        return true;
}

/* ---- choosing one scheduler ---- */

static unsigned bus_in_flight(const BusClient *s) {
        return s->n_sent > s->load.received ? (unsigned) MIN(s->n_sent - s->load.received, UINT_MAX) : 0;
}

static bool bus_better_turn(const BusClient *a, const BusClient *best) {
        return !best || a->last_chosen < best->last_chosen;
}

/* The scheduler a job of `priority` goes to now, NULL if it should wait in the bus (or, with
 * `must`, NULL only when there is no scheduler at all). */
static BusClient *bus_choose(Bus *b, int priority, const BusClient *sender, bool must) {
        BusClient *s, *best = NULL, *legacy = NULL;
        long best_free = 0;
        int best_least = priority;

        LIST_FOREACH (schedulers, s, b->schedulers) {
                long free_slots;

                if (s == sender || s->closing)
                        continue;
                if (!s->reporter) {
                        if (bus_better_turn(s, legacy))
                                legacy = s;
                        continue;
                }
                if (s->unstarted && held_size(s->unstarted) >= MAX(2 * s->slots, UNSTARTED_MIN))
                        continue; /* it does not say what it does with them */
                free_slots = (long) s->slots - (long) s->load.running - (long) bus_in_flight(s);
                if (free_slots > best_free ||
                    (free_slots > 0 && free_slots == best_free && bus_better_turn(s, best))) {
                        best = s;
                        best_free = free_slots;
                }
        }
        if (best)
                return best;
        if (legacy)
                return legacy;

        /* Where it evicts the least urgent job; only where the load is exact (nothing in flight). */
        LIST_FOREACH (schedulers, s, b->schedulers) {
                if (s == sender || s->closing || !s->reporter || bus_in_flight(s) > 0)
                        continue;
                if (s->load.least_urgent > best_least ||
                    (best && s->load.least_urgent == best_least && bus_better_turn(s, best))) {
                        best = s;
                        best_least = s->load.least_urgent;
                }
        }
        if (best || !must)
                return best;

        /* The shortest queue: fewest waiting jobs per slot. */
        uint64_t best_wait = 0;
        LIST_FOREACH (schedulers, s, b->schedulers) {
                if (s == sender || s->closing)
                        continue;
                uint64_t wait = s->load.waiting + bus_in_flight(s);
                if (!best || wait * best->slots < best_wait * s->slots ||
                    (wait * best->slots == best_wait * s->slots && bus_better_turn(s, best))) {
                        best = s;
                        best_wait = wait;
                }
        }
        return best;
}

static bool bus_has_scheduler(const Bus *b, const BusClient *sender) {
        const BusClient *s;

        LIST_FOREACH (schedulers, s, b->schedulers)
                if (s != sender && !s->closing)
                        return true;
        return false;
}

/* ---- held jobs ---- */

/* Holds a job (taking j): beyond --hold the least urgent held job is dropped, which may be j. */
static void bus_hold(Bus *b, const BusClient *c, JobTableEntry *e, HeldJob *j) {
        _cleanup_(held_job_freep) HeldJob *owned = j;
        int r;

        assert(b);
        assert(j);

        r = held_push(b->held, owned);
        if (r < 0) {
                const char *why = r == -ENOMEM ? "out of memory" : "it is held already";

                return bus_drop(b, c, e, j->id, j->priority, j->runtime, why);
        }
        TAKE_PTR(owned);
        if (e && !e->held) {
                e->held = true;
                bus_job_held(b, e,
                             bus_has_scheduler(b, NULL) ? "waiting for a free slot"
                                                        : "no scheduler registered");
        }
        bus_status_changed(b);
        while (held_size(b->held) > b->config.hold || held_bytes(b->held) > HOLD_BYTES_MAX) {
                _cleanup_(held_job_freep) HeldJob *victim = held_remove(b->held, held_peek_least(b->held));
                const BusClient *submitter = victim == j ? c : NULL; /* else another one's job */
                char why[96];

                if (victim == j)
                        j = NULL;
                if (held_size(b->held) >= b->config.hold)
                        (void) snprintf(why, sizeof why, "%zu jobs are held already (--hold)",
                                        b->config.hold);
                else
                        (void) snprintf(why, sizeof why, "the held jobs take %u MiB already",
                                        HOLD_BYTES_MAX / 1024 / 1024);
                bus_drop(b, submitter, job_table_get(b->jobs, victim->id), victim->id, victim->priority,
                         victim->runtime, why);
        }
}

/* Sends the first held job where it goes now. Returns false when it cannot go yet. */
static bool bus_pump_one(Bus *b) {
        JobTableEntry *e;
        const char *why = NULL;
        HeldJob *j;

        j = held_peek(b->held);
        if (!j)
                return false;
        e = job_table_get(b->jobs, j->id);
        if (bus_one(b)) {
                BusClient *s = bus_choose(b, j->priority, NULL, false);
                uint64_t id = j->id;
                int priority = j->priority;
                double runtime = j->runtime;

                if (!s)
                        return false;
                j = held_pop(b->held);
                if (e)
                        e->held = false;
                /* j goes with it (to its unstarted jobs, or freed): only its copies are used after. */
                if (!bus_send_one(b, s, e, id, &PAYLOAD_OF_JSON(j->payload), j, &why)) {
                        bus_drop(b, NULL, e, id, priority, runtime, why);
                        return true;
                }
        } else {
                _cleanup_(held_job_freep) HeldJob *popped = held_pop(b->held);

                if (e)
                        e->held = false;
                if (bus_broadcast(b, NULL, e, popped->id, &PAYLOAD_OF_JSON(popped->payload), &why) == 0) {
                        bus_drop(b, NULL, e, popped->id, popped->priority, popped->runtime, why);
                        return true;
                }
        }
        b->n_forwarded++;
        bus_job_delivered(b, e);
        return true;
}

static int on_pump(sd_event_source *src, void *userdata) {
        Bus *b = ASSERT_PTR(userdata);
        unsigned n;

        for (n = 0; n < PUMP_BATCH; n++)
                if (b->n_high > 0 || !bus_has_scheduler(b, NULL) || !bus_pump_one(b))
                        break;
        if (n < PUMP_BATCH)
                (void) sd_event_source_set_enabled(src, SD_EVENT_OFF);
        if (n > 0) {
                bus_status_changed(b);
                bus_flow_update(b);
        }
        bus_dispatch_flush(b);
        return 0;
}

/* Something changed that may let held jobs go: a scheduler came, reported, drained its queue. */
static void bus_pump_kick(Bus *b) {
        if (b->pump_source && held_size(b->held) > 0 && !b->stopping)
                (void) sd_event_source_set_enabled(b->pump_source, SD_EVENT_ONESHOT);
}

void bus_dispatch_flush(Bus *b) {
        int r;

        assert(b);

        r = held_flush(b->held);
        if (r < 0 && log_ratelimit_allowed(&b->drop_limit, "held job records"))
                log_error_errno(r, "Failed to record held jobs in the state directory, they are kept in "
                                   "memory only: %m");
}

/* ---- the protocol's side ---- */

void bus_on_job_request(Bus *b, BusClient *c, Frame *f) {
        const char *why = NULL;
        JobTableEntry *e;
        BusClient *s = NULL;
        uint64_t id;
        int r;

        assert(b);
        assert(c);
        assert(f);

        r = job_ids_next(b->ids, &id);
        if (r < 0) {
                /* No id that could not come again after a crash: the job is refused, said to the client. */
                if (log_ratelimit_allowed(&b->drop_limit, "dropped jobs"))
                        log_error_errno(r, "Failed to reserve job ids, refusing a job from %s: %m",
                                        bus_client_peer(c));
                ProtocolStatus st = { .error = PROTOCOL_INVALID_PAYLOAD };
                (void) snprintf(st.message, sizeof st.message, "the bus cannot assign a job id: %s",
                                strerror(-r));
                return bus_reply_error(b, c, &st, f->ref);
        }
        c->n_submitted++;
        b->n_submitted++;
        e = bus_job_submitted(b, c, id, f);
        bus_flow_after_job(b, c);

        /* Behind the jobs held already (unless, more urgent than all of them, it goes somewhere now:
         * they could not), or held itself when nothing takes it now. */
        if (bus_has_scheduler(b, c) &&
            (held_size(b->held) == 0 || (bus_one(b) && f->priority < held_peek(b->held)->priority)) &&
            (!bus_one(b) || (s = bus_choose(b, f->priority, c, b->config.hold == 0)))) {
                bool sent;

                if (s) {
                        HeldJob *j = NULL;

                        if (s->unstarted) {
                                j = frame_payload(f) ? held_job_new(id, f->priority, f->runtime,
                                                                    b->submit_usec, f->payload)
                                                     : NULL;
                                if (!j)
                                        return bus_drop(b, c, e, id, f->priority, f->runtime,
                                                        "out of memory");
                        }
                        sent = bus_send_one(b, s, e, id, &PAYLOAD_OF_FRAME(f), j, &why);
                } else
                        sent = bus_broadcast(b, c, e, id, &PAYLOAD_OF_FRAME(f), &why) > 0;
                if (!sent) {
                        bus_reply_errorf(b, c, PROTOCOL_INVALID_PAYLOAD, "job %" PRIu64 " not forwarded: %s",
                                         id, why);
                        return bus_drop(b, c, e, id, f->priority, f->runtime, why);
                }
                b->n_forwarded++;
                bus_job_delivered(b, e);
                bus_status_changed(b);
                return;
        }

        if (b->config.hold == 0)
                return bus_drop(b, c, e, id, f->priority, f->runtime, "no scheduler registered");
        HeldJob *j = frame_payload(f) ? held_job_new(id, f->priority, f->runtime, b->submit_usec, f->payload)
                                      : NULL;
        if (!j)
                return bus_drop(b, c, e, id, f->priority, f->runtime, "out of memory");
        j->bytes = b->frame_size;
        bus_hold(b, c, e, j);
        bus_pump_kick(b);
        bus_flow_update(b);
}

void bus_dispatch_registered(Bus *b, BusClient *c, const Frame *f) {
        int r;

        assert(b);
        assert(c);
        assert(f);

        if (f->has_load)
                c->load = f->load;
        bus_scheduler_event(b, c, true);
        if (bus_one(b) && c->reporter && !c->unstarted) {
                r = held_new(&c->unstarted, -EBADF, SIZE_MAX);
                if (r < 0)
                        log_oom();
        }
        bus_pump_kick(b);
        bus_flow_update(b);
}

void bus_dispatch_reported(Bus *b, BusClient *c, const Frame *f) {
        assert(b);
        assert(c);
        assert(f);

        if (c->unstarted)
                for (size_t i = 0; i < f->n_events; i++) {
                        const ProtocolEvent *ev = &f->events_array[i];
                        HeldJob *j;

                        if (ev->state == JOB_QUEUED)
                                continue;
                        j = held_get(c->unstarted, ev->id);
                        if (j)
                                held_job_free(held_remove(c->unstarted, j));
                }
        if (f->has_load) {
                c->load = f->load;
                bus_pump_kick(b);
        }
}

void bus_dispatch_scheduler_left(Bus *b, BusClient *c) {
        _cleanup_(held_freep) Held *unstarted = NULL;
        unsigned n = 0;
        HeldJob *j;

        assert(b);
        assert(c);

        bus_client_not_high(b, c);
        bus_scheduler_event(b, c, false);
        unstarted = TAKE_PTR(c->unstarted);
        if (!unstarted || b->stopping)
                return;
        while ((j = held_pop(unstarted))) {
                JobTableEntry *e = job_table_get(b->jobs, j->id);

                if (e && c->reporter)
                        (void) job_table_remove_run(b->jobs, e, c->reporter);
                b->n_redispatched++;
                n++;
                bus_hold(b, NULL, e, j);
        }
        if (n == 0)
                return;
        bus_log_client(b, &b->conn_limit, c, LOG_NOTICE,
                       "Scheduler %s left with %u job%s it had not started: they go to another one.",
                       bus_client_peer(c), n, n == 1 ? "" : "s");
        bus_dispatch_flush(b);
        bus_pump_kick(b);
}

bool bus_dispatch_cancel_held(Bus *b, uint64_t id) {
        HeldJob *j;
        JobTableEntry *e;

        assert(b);

        j = held_get(b->held, id);
        if (!j)
                return false;
        held_job_free(held_remove(b->held, j));
        bus_dispatch_flush(b);
        e = job_table_get(b->jobs, id);
        if (e) {
                e->held = false;
                job_table_cancel(b->jobs, e);
        }
        bus_flow_update(b);
        return true;
}

int bus_setup_dispatch(Bus *b) {
        _cleanup_close_ int dir_fd = -EBADF;
        size_t n_bad = 0;
        HeldJob *j;
        int r;

        assert(b);

        if (b->state_dir) {
                dir_fd = open(b->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dir_fd < 0)
                        return log_error_errno(errno, "Failed to open the state directory %s: %m",
                                               b->state_dir);
        }
        r = held_new(&b->held, dir_fd, b->config.hold);
        if (r < 0)
                return log_oom();
        r = held_load(b->held, &n_bad);
        if (r < 0)
                return log_error_errno(r, "Failed to read the held jobs in the state directory: %m");
        if (n_bad > 0)
                log_warning("Skipped %zu unreadable records of held jobs in the state directory.", n_bad);
        if (r > 0)
                log_info("%d jobs held before the last stop are waiting for a scheduler.", r);
        /* Their table entries, so that they can be followed and cancelled. */
        for (j = held_first(b->held); j; j = held_next(b->held, j)) {
                JobTableEntry *e = NULL;

                if (job_table_add(b->jobs, j->id, j->priority, j->runtime, j->submitted_usec, NULL, &e) >= 0)
                        e->held = true;
        }

        r = sd_event_add_defer(b->event, &b->pump_source, on_pump, b);
        if (r < 0)
                return log_error_errno(r, "Failed to add the held job source: %m");
        /* After the WebSocket work of the pass, so that what came in goes first. */
        (void) sd_event_source_set_priority(b->pump_source, SD_EVENT_PRIORITY_NORMAL + 5);
        (void) sd_event_source_set_enabled(b->pump_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(b->pump_source, "bus-held-pump");
        log_info("Dispatch: %s; up to %zu jobs held while no scheduler takes them%s.",
                 bus_dispatch_to_string(b->config.dispatch), b->config.hold,
                 dir_fd >= 0 ? ", kept in the state directory" : ", in memory only (no state directory)");
        return 0;
}

void bus_done_dispatch(Bus *b) {
        assert(b);

        if (b->held)
                bus_dispatch_flush(b);
        b->pump_source = sd_event_source_disable_unref(b->pump_source);
        b->stall_source = sd_event_source_disable_unref(b->stall_source);
        b->held = held_free(b->held);
}
