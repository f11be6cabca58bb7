/* SPDX-License-Identifier: MIT */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "id-map.h"
#include "job-table.h"

struct JobTableScheduler {
        LIST_FIELDS(JobTableScheduler, schedulers);
        unsigned n_ref; /* the bus's references plus the runs that point here */
        unsigned counts[_JOB_TABLE_STATE_MAX];
        uint64_t totals[_JOB_STATE_MAX]; /* runs that entered each state */
        JobTableHistogram wait, run;
        char name[];
};

const double job_table_bucket_bounds[JOB_TABLE_BUCKETS] = {
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600,
};

static void histogram_add(JobTableHistogram *h, uint64_t usec) {
        double v = (double) usec / 1e6;
        size_t i = 0;

        while (i < JOB_TABLE_BUCKETS && v > job_table_bucket_bounds[i])
                i++;
        h->counts[i]++;
        h->n++;
        h->sum += v;
}

uint64_t job_table_scheduler_total(const JobTableScheduler *s, JobState state) {
        assert(s);
        return state >= 0 && state < _JOB_STATE_MAX ? s->totals[state] : 0;
}

const JobTableHistogram *job_table_scheduler_wait(const JobTableScheduler *s) {
        assert(s);
        return &s->wait;
}

const JobTableHistogram *job_table_scheduler_run(const JobTableScheduler *s) {
        assert(s);
        return &s->run;
}

struct JobTable {
        IdMap *map; /* id -> JobTableEntry */
        size_t max;
        JobTableEntry *entries, *entries_tail;   /* all, by id */
        JobTableEntry *finished, *finished_tail; /* the final ones, the first to become final first */
        JobTableScheduler *schedulers;           /* a handful: found by walking */
        unsigned counts[_JOB_TABLE_STATE_MAX];
};

JobTableScheduler *job_table_scheduler_next(JobTable *t, JobTableScheduler *s) {
        assert(t);
        return s ? s->schedulers_next : t->schedulers;
}

/* The spec's order for a job's end when not every run says done: a failure on one scheduler is
 * not hidden behind an eviction or a cancel on another. */
static const JobState end_order[] = {
        JOB_FAILED, JOB_TIMEOUT, JOB_EVICTED, JOB_CANCELLED, JOB_INTERRUPTED, JOB_DROPPED,
};

const char *job_table_state_to_string(int state) {
        if (state == JOB_TABLE_SENT)
                return "sent";
        if (state == _JOB_STATE_INVALID)
                return "unknown";
        return job_state_to_string((JobState) state);
}

int job_table_state_from_string(const char *s) {
        if (s && strcmp(s, "sent") == 0)
                return JOB_TABLE_SENT;
        return job_state_from_string(s);
}

bool job_table_state_is_terminal(int state) {
        return state >= 0 && state < _JOB_STATE_MAX && job_state_is_terminal((JobState) state);
}

/* Every run is counted once in the table's counters and, for a reporting scheduler, once in its
 * own: in its current state, from the moment it is added until its entry is evicted. */
static void job_table_count_run(JobTable *t, const JobTableRun *r, bool add) {
        unsigned *c = &t->counts[r->state], *sc = r->scheduler ? &r->scheduler->counts[r->state] : NULL;

        if (add) {
                (*c)++;
                if (sc)
                        (*sc)++;
        } else {
                assert(*c > 0);
                (*c)--;
                if (sc) {
                        assert(*sc > 0);
                        (*sc)--;
                }
        }
}

JobTableScheduler *job_table_scheduler_ref(JobTable *t, const char *name) {
        JobTableScheduler *s;
        size_t l;

        assert(t);
        assert(name);

        LIST_FOREACH (schedulers, s, t->schedulers)
                if (strcmp(s->name, name) == 0) {
                        s->n_ref++;
                        return s;
                }

        l = strlen(name);
        s = calloc(1, offsetof(JobTableScheduler, name) + l + 1);
        if (!s)
                return NULL;
        memcpy(s->name, name, l + 1);
        s->n_ref = 1;
        LIST_PREPEND(schedulers, t->schedulers, s);
        return s;
}

void job_table_scheduler_unref(JobTable *t, JobTableScheduler *s) {
        assert(t);

        if (!s)
                return;
        assert(s->n_ref > 0);
        if (--s->n_ref > 0)
                return;
        LIST_REMOVE(schedulers, t->schedulers, s);
        free(s);
}

const char *job_table_scheduler_name(const JobTableScheduler *s) {
        assert(s);
        return s->name;
}

unsigned job_table_scheduler_count(const JobTableScheduler *s, int state) {
        assert(s);
        return state >= 0 && state < _JOB_TABLE_STATE_MAX ? s->counts[state] : 0;
}

unsigned job_table_count(const JobTable *t, int state) {
        assert(t);
        return state >= 0 && state < _JOB_TABLE_STATE_MAX ? t->counts[state] : 0;
}

int job_table_new(JobTable **ret, size_t max_entries) {
        _cleanup_(job_table_freep) JobTable *t = NULL;
        int r;

        assert(ret);

        if (max_entries == 0)
                return -EINVAL;
        t = calloc(1, sizeof(JobTable));
        if (!t)
                return -ENOMEM;
        t->max = max_entries;
        r = id_map_new(&t->map, max_entries);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

JobTable *job_table_free(JobTable *t) {
        JobTableEntry *e, *en;
        JobTableScheduler *s, *sn;

        if (!t)
                return NULL;
        /* Everything goes at once, so no counter or reference needs keeping on the way. */
        LIST_FOREACH_SAFE (entries, e, en, t->entries) {
                free(e->runs);
                free(e);
        }
        LIST_FOREACH_SAFE (schedulers, s, sn, t->schedulers)
                free(s);
        id_map_free(t->map);
        return mfree(t);
}

size_t job_table_size(const JobTable *t) {
        assert(t);
        return id_map_size(t->map);
}

size_t job_table_max(const JobTable *t) {
        assert(t);
        return t->max;
}

/* Removes e with every trace of it: its runs leave the counters and release their schedulers. The
 * memory (entry and runs array) is returned, for the entry that takes its place. */
static JobTableEntry *job_table_evict(JobTable *t, JobTableEntry *e) {
        assert(t->counts[JOB_TABLE_SENT] >= e->n_legacy);
        t->counts[JOB_TABLE_SENT] -= e->n_legacy;
        for (unsigned i = 0; i < e->n_runs; i++) {
                job_table_count_run(t, &e->runs[i], false);
                job_table_scheduler_unref(t, e->runs[i].scheduler);
        }
        assert_se(id_map_remove(t->map, e->id) == e);

        if (t->entries_tail == e)
                t->entries_tail = e->entries_prev;
        LIST_REMOVE(entries, t->entries, e);
        if (e->final) {
                if (t->finished_tail == e)
                        t->finished_tail = e->finished_prev;
                LIST_REMOVE(finished, t->finished, e);
        }
        return e;
}

static JobTableEntry *job_table_entry_free(JobTableEntry *e) {
        if (!e)
                return NULL;
        free(e->runs);
        return mfree(e);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(JobTableEntry *, job_table_entry_free);

int job_table_add(JobTable *t, uint64_t id, int priority, double runtime, uint64_t now_usec, void *owner,
                  JobTableEntry **ret) {
        _cleanup_(job_table_entry_freep) JobTableEntry *e = NULL;
        JobTableRun *runs;
        JobTableEntry *after;
        uint16_t n_runs_alloc;
        int r;

        assert(t);

        /* The bus's ids only grow: one above the newest needs no lookup. */
        if ((!t->entries_tail || id <= t->entries_tail->id) && id_map_get(t->map, id))
                return -EEXIST;

        /* Evict before inserting, so that the map never holds more than max keys: one key over
         * would make an old entry leave the window of recent ids. The put needs memory only when an
         * entry that stayed a whole window of ids moves out of it. The evicted
         * entry's memory, runs array included, becomes the new entry's: a full table allocates
         * nothing per job. */
        if (id_map_size(t->map) >= t->max)
                e = job_table_evict(t, t->finished ?: t->entries);
        else
                e = calloc(1, sizeof(JobTableEntry));
        if (!e)
                return -ENOMEM;
        runs = e->runs;
        n_runs_alloc = e->n_runs_alloc;
        *e = (JobTableEntry){
                .id = id,
                .priority = priority,
                .end = _JOB_STATE_INVALID,
                .runtime = runtime,
                .submitted_usec = now_usec,
                .owner = owner,
                .runs = runs,
                .n_runs_alloc = n_runs_alloc,
        };

        r = id_map_put(t->map, id, e);
        if (r < 0)
                return r;

        /* The bus's ids only grow: the new entry goes last, found in one step. */
        for (after = t->entries_tail; after && after->id > id; after = after->entries_prev)
                ;
        LIST_INSERT_AFTER(entries, t->entries, after, e);
        if (after == t->entries_tail)
                t->entries_tail = e;

        if (ret)
                *ret = e;
        TAKE_PTR(e);
        return 0;
}

JobTableEntry *job_table_get(JobTable *t, uint64_t id) {
        assert(t);
        return id_map_get(t->map, id);
}

JobTableRun *job_table_find_run(JobTableEntry *e, const JobTableScheduler *s) {
        assert(e);

        if (!s)
                return NULL;
        for (unsigned i = 0; i < e->n_runs; i++)
                if (e->runs[i].scheduler == s)
                        return &e->runs[i];
        return NULL;
}

int job_table_reserve_runs(JobTableEntry *e, unsigned n) {
        JobTableRun *runs;

        assert(e);

        n = MIN(n, (unsigned) JOB_TABLE_RUNS_MAX);
        if (n <= e->n_runs_alloc)
                return 0;
        runs = reallocarray(e->runs, n, sizeof(JobTableRun));
        if (!runs)
                return -ENOMEM;
        e->runs = runs;
        e->n_runs_alloc = (uint16_t) n;
        return 0;
}

int job_table_add_legacy(JobTable *t, JobTableEntry *e) {
        assert(t);
        assert(e);

        if (e->n_legacy >= JOB_TABLE_RUNS_MAX)
                return -E2BIG;
        e->n_legacy++;
        t->counts[JOB_TABLE_SENT]++;
        return 0;
}

JobTableRun *job_table_add_run(JobTable *t, JobTableEntry *e, JobTableScheduler *s, uint64_t now_usec) {
        JobTableRun *runs, *r;

        assert(t);
        assert(e);
        assert(s);

        /* Two connections of one name are one scheduler: the bus keys job states by name. */
        r = job_table_find_run(e, s);
        if (r)
                return r;

        /* Grown one at a time unless reserved: a job goes to a few schedulers, and a spare slot
         * would cost every job of the history 96 bytes. */
        if (e->n_runs >= JOB_TABLE_RUNS_MAX)
                return NULL;
        if (e->n_runs >= e->n_runs_alloc) {
                runs = reallocarray(e->runs, e->n_runs + 1, sizeof(JobTableRun));
                if (!runs)
                        return NULL;
                e->runs = runs;
                e->n_runs_alloc = e->n_runs + 1;
        }
        r = &e->runs[e->n_runs++];
        *r = (JobTableRun){
                .scheduler = s,
                .state = JOB_TABLE_SENT,
                .sent_usec = now_usec,
                .exit_status = -1,
                .evicted_by = UINT64_MAX,
                .cpu_usec = UINT64_MAX,
                .memory_peak = UINT64_MAX,
        };
        s->n_ref++;
        e->n_open++;
        job_table_count_run(t, r, true);
        return r;
}

static JobState job_table_entry_compute_end(const JobTableEntry *e) {
        unsigned seen = 0;
        bool reporting = false, all_done = true;

        if (e->dropped)
                return JOB_DROPPED;
        if (e->cancelled)
                return JOB_CANCELLED;
        for (unsigned i = 0; i < e->n_runs; i++) {
                const JobTableRun *r = &e->runs[i];

                reporting = true;
                if (r->state != JOB_DONE)
                        all_done = false;
                if (job_table_state_is_terminal(r->state))
                        seen |= 1u << r->state;
        }
        if (!reporting)
                return _JOB_STATE_INVALID;
        if (all_done)
                return JOB_DONE;
        for (size_t i = 0; i < ELEMENTSOF(end_order); i++)
                if (seen & (1u << end_order[i]))
                        return end_order[i];
        return _JOB_STATE_INVALID;
}

/* The end is fixed here, so that the one final event the bus sends and every later listing agree,
 * whatever stray event comes after. */
static void job_table_finalize(JobTable *t, JobTableEntry *e) {
        assert(!e->final);

        e->final = true;
        e->end = (signed char) job_table_entry_compute_end(e);
        LIST_INSERT_AFTER(finished, t->finished, t->finished_tail, e);
        t->finished_tail = e;
}

static void job_table_run_set_details(JobTableRun *r, const JobTableEvent *ev) {
        if (ev->exit_status >= 0)
                r->exit_status = ev->exit_status;
        if (ev->signal) {
                size_t l = strnlen(ev->signal, sizeof(r->signal) - 1);

                memcpy(r->signal, ev->signal, l);
                r->signal[l] = 0;
        }
        if (ev->evicted_by != UINT64_MAX)
                r->evicted_by = ev->evicted_by;
        if (ev->cpu_usec != UINT64_MAX)
                r->cpu_usec = ev->cpu_usec;
        if (ev->memory_peak != UINT64_MAX)
                r->memory_peak = ev->memory_peak;
}

int job_table_apply(JobTable *t, JobTableEntry *e, JobTableScheduler *s, const JobTableEvent *ev,
                    uint64_t now_usec) {
        JobTableRun *r;
        JobState state;

        assert(t);
        assert(e);
        assert(s);
        assert(ev);
        assert(ev->id == e->id);

        if ((int) ev->state < 0 || ev->state >= _JOB_STATE_MAX)
                return -EINVAL;

        r = job_table_find_run(e, s);
        if (!r) {
                /* Not recorded as delivered there: sent_usec stays 0, "not reached". */
                r = job_table_add_run(t, e, s, 0);
                if (!r)
                        return -ENOMEM;
        }
        /* A terminal state is the run's one record: a late or repeated event must not reopen it
         * or rewrite how it ended. */
        if (job_table_state_is_terminal(r->state))
                return 0;

        job_table_run_set_details(r, ev);
        /* Resumed is running again, where it stopped: its start time stays the first one. */
        state = ev->state == JOB_RESUMED ? JOB_RUNNING : ev->state;
        if ((int) state == r->state)
                return 0;

        job_table_count_run(t, r, false);
        r->state = state;
        job_table_count_run(t, r, true);
        s->totals[ev->state]++;
        if (ev->state == JOB_RUNNING && r->started_usec == 0 && now_usec >= e->submitted_usec)
                histogram_add(&s->wait, now_usec - e->submitted_usec);
        else if (job_table_state_is_terminal(state) && r->started_usec > 0 && now_usec >= r->started_usec)
                histogram_add(&s->run, now_usec - r->started_usec);

        if (state == JOB_QUEUED)
                r->queued_usec = now_usec;
        else if (state == JOB_RUNNING) {
                if (ev->state == JOB_RUNNING) /* a requeued job starts over: its last start */
                        r->started_usec = now_usec;
        } else if (!job_table_state_is_terminal(state))
                ; /* suspended or requeued: waiting again, still open */
        else {
                r->ended_usec = now_usec;
                assert(e->n_open > 0);
                e->n_open--;
                if (e->n_open == 0 && !e->final) {
                        job_table_finalize(t, e);
                        return 1;
                }
        }
        return 0;
}

int job_table_delivered(JobTable *t, JobTableEntry *e) {
        assert(t);
        assert(e);

        if (e->final || e->n_open > 0)
                return 0;
        job_table_finalize(t, e);
        return 1;
}

void job_table_drop(JobTable *t, JobTableEntry *e, uint64_t now_usec) {
        assert(t);
        assert(e);

        if (e->final)
                return;
        e->dropped = true;
        job_table_finalize(t, e);
}

void job_table_cancel(JobTable *t, JobTableEntry *e) {
        assert(t);
        assert(e);

        if (e->final)
                return;
        e->cancelled = true;
        job_table_finalize(t, e);
}

bool job_table_remove_run(JobTable *t, JobTableEntry *e, JobTableScheduler *s) {
        JobTableRun *r;

        assert(t);
        assert(e);

        r = job_table_find_run(e, s);
        if (!r || job_table_state_is_terminal(r->state))
                return false;
        job_table_count_run(t, r, false);
        assert(e->n_open > 0);
        e->n_open--;
        job_table_scheduler_unref(t, r->scheduler);
        /* The array keeps its order but for this hole: the last run moves into it. */
        *r = e->runs[--e->n_runs];
        return true;
}

JobState job_table_entry_end(const JobTableEntry *e) {
        assert(e);
        return e->final ? (JobState) e->end : _JOB_STATE_INVALID;
}

int job_table_entry_summary(const JobTableEntry *e) {
        int waiting = -1;
        JobState end;

        assert(e);

        if (e->final) {
                end = job_table_entry_end(e);
                return end < 0 ? JOB_TABLE_SENT : (int) end;
        }
        for (unsigned i = 0; i < e->n_runs; i++) {
                if (e->runs[i].state == JOB_RUNNING)
                        return JOB_RUNNING;
                /* Suspended or requeued says more than queued. */
                if (job_state_is_waiting(e->runs[i].state) && (waiting < 0 || waiting == JOB_QUEUED))
                        waiting = e->runs[i].state;
        }
        /* Not final: some run is still sent (or, before delivered(), there is none yet); deliveries to
         * schedulers that do not report are sent for good. */
        return waiting >= 0 ? waiting : JOB_TABLE_SENT;
}

void job_table_forget_owner(JobTable *t, void *owner) {
        JobTableEntry *e;

        assert(t);

        if (!owner)
                return;
        LIST_FOREACH (entries, e, t->entries)
                if (e->owner == owner)
                        e->owner = NULL;
}

JobTableEntry *job_table_first(JobTable *t) {
        assert(t);
        return t->entries;
}

JobTableEntry *job_table_last(JobTable *t) {
        assert(t);
        return t->entries_tail;
}

JobTableEntry *job_table_next(JobTableEntry *e) {
        assert(e);
        return e->entries_next;
}

JobTableEntry *job_table_prev(JobTableEntry *e) {
        assert(e);
        return e->entries_prev;
}

/* What glibc's malloc takes for a request on 64 bits: the size plus an 8-byte header, rounded up
 * to 16, at least 32. */
static size_t malloc_chunk_bytes(size_t n) {
        return MAX((n + 8 + 15) & ~(size_t) 15, (size_t) 32);
}

size_t job_table_entry_bytes(unsigned n_runs) {
        return malloc_chunk_bytes(sizeof(JobTableEntry)) +
               (n_runs > 0 ? malloc_chunk_bytes((size_t) n_runs * sizeof(JobTableRun)) : 0) +
               id_map_bytes_per_id();
}

size_t job_table_ids_outside_window(const JobTable *t) {
        assert(t);
        return id_map_overflow_size(t->map);
}
