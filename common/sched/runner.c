/* SPDX-License-Identifier: MIT */
/*
 * The Runner keeps three sets of jobs: `pending` (a Queue by priority, FIFO among equals), `alive`
 * (a list of jobs whose work exists: those holding a slot and those being terminated) and `dead`
 * (finished jobs, freed when the outermost runner call returns, so that no callback ever sees a
 * freed job). Jobs submitted but neither started nor announced as queued wait on `fresh`.
 *
 * Every public call that changes something runs between runner_enter() and runner_leave(); only the
 * outermost one fills free slots, in a loop, which is what makes callbacks safe to call back in.
 *
 * `by_id` finds a pending or alive job by id: a job goes in when submitted and out when buried.
 */
#include <assert.h>
#include <stdlib.h>

#include "id-map.h"
#include "queue.h"
#include "runner.h"
#include "string-table.h"

static const char *const runner_evict_table[_RUNNER_EVICT_MAX] = {
        [RUNNER_EVICT_KILL] = "kill",
        [RUNNER_EVICT_REQUEUE] = "requeue",
        [RUNNER_EVICT_SUSPEND] = "suspend",
};

DEFINE_STRING_TABLE_LOOKUP(runner_evict, RunnerEvict, _RUNNER_EVICT_MAX);

/* The place of a waiting job among those of its priority: a suspended one goes before the others,
 * then each in the order it first arrived, however often it came back. */
#define SUSPENDED_FIRST 0
#define WAITING_AFTER   (UINT64_C(1) << 63)

/* Recent ids that the index finds in one slot: more than a scheduler holds at once, most of the
 * time (ids from the bus count up). */
#define BY_ID_WINDOW 1024

struct Runner {
        unsigned size;
        RunnerOps ops;
        void *userdata;

        Queue *pending;
        IdMap *by_id; /* the pending and alive jobs */
        Job *alive;
        Job *fresh, *fresh_tail; /* a FIFO: jobs are announced in the order submitted */
        Job *dead;
        Job *starting; /* inside ops.start(): holds a slot but is not running yet */

        unsigned n_running; /* jobs holding a slot, `starting` included */
        unsigned n_alive;
        unsigned n_suspended;
        RunnerEvict evict;
        unsigned max_requeue, max_suspended;
        uint64_t arrival_seq;
        uint64_t start_seq;
        RunnerStats stats;

        unsigned depth; /* nesting of public calls; callbacks make it > 1 */
        bool stopping;
        bool keep; /* runner_stop_all(keep) */
};

int runner_new(Runner **ret, unsigned size, const RunnerOps *ops, void *userdata) {
        _cleanup_(runner_freep) Runner *r = NULL;
        int k;

        assert(ret);

        if (size == 0 || !ops || !ops->start || !ops->stop)
                return -EINVAL;

        r = calloc(1, sizeof(Runner));
        if (!r)
                return -ENOMEM;
        r->size = size;
        r->ops = *ops;
        r->userdata = userdata;

        k = queue_new(&r->pending);
        if (k < 0)
                return k;
        k = id_map_new(&r->by_id, BY_ID_WINDOW);
        if (k < 0)
                return k;

        *ret = TAKE_PTR(r);
        return 0;
}

int runner_set_evict(Runner *r, RunnerEvict mode, unsigned max_requeue, unsigned max_suspended) {
        assert(r);

        if (mode < 0 || mode >= _RUNNER_EVICT_MAX ||
            (mode == RUNNER_EVICT_SUSPEND && (!r->ops.suspend || !r->ops.resume)))
                return -EINVAL;
        r->evict = mode;
        r->max_requeue = max_requeue;
        r->max_suspended = max_suspended;
        return 0;
}

/* Waits in its place: see SUSPENDED_FIRST. */
static int runner_queue(Runner *r, Job *j) {
        assert(r);
        assert(j);

        return queue_push_at(r->pending, j, j->priority,
                             (j->state == JOB_SUSPENDED ? SUSPENDED_FIRST : WAITING_AFTER) + j->arrival_seq);
}

/* Frees the jobs buried so far. A data_free() may call back in and bury more: those wait for the next
 * round of runner_leave(), after the fresh jobs have been announced. A job submitted and then dropped
 * or cancelled by data_free() is still on the fresh list, and freeing it in this round would leave
 * runner_announce_queued() reading freed memory. */
static void runner_free_dead(Runner *r) {
        Job *batch, *j;

        assert(r);

        batch = TAKE_PTR(r->dead);
        while ((j = LIST_POP(dead, batch)))
                job_free(j);
}

static bool job_is_alive(Runner *r, Job *j) {
        assert(r);
        assert(j);

        return j->alive_prev || r->alive == j;
}

static void alive_add(Runner *r, Job *j) {
        assert(r);
        assert(j);

        LIST_PREPEND(alive, r->alive, j);
        r->n_alive++;
}

static void alive_remove(Runner *r, Job *j) {
        assert(r);
        assert(j);
        assert(r->n_alive > 0);

        LIST_REMOVE(alive, r->alive, j);
        r->n_alive--;
}

Runner *runner_free(Runner *r) {
        Job *j;

        if (!r)
                return NULL;

        /* A suspended job is on both: it goes with the alive ones. */
        if (r->pending)
                while ((j = queue_pop(r->pending)))
                        if (j->state != JOB_SUSPENDED)
                                job_free(j);
        while ((j = r->alive)) {
                alive_remove(r, j);
                job_free(j);
        }
        while (r->dead)
                runner_free_dead(r);
        queue_free(r->pending);
        id_map_free(r->by_id);
        return mfree(r);
}

/* The job stays readable until the outermost runner call returns. */
static void runner_bury(Runner *r, Job *j) {
        assert(r);
        assert(j);

        /* A job dropped at submission was never in the index; one whose id another job had is not. */
        if (id_map_get(r->by_id, j->id) == j)
                assert_se(id_map_remove(r->by_id, j->id) == j);
        LIST_PREPEND(dead, r->dead, j);
}

static uint64_t *runner_counter(Runner *r, JobState state) {
        assert(r);

        switch (state) {
        case JOB_DONE:
                return &r->stats.done;
        case JOB_FAILED:
                return &r->stats.failed;
        case JOB_TIMEOUT:
                return &r->stats.timeout;
        case JOB_EVICTED:
                return &r->stats.evicted;
        case JOB_DROPPED:
                return &r->stats.dropped;
        case JOB_INTERRUPTED:
                return &r->stats.interrupted;
        case JOB_CANCELLED:
                return &r->stats.cancelled;
        case JOB_SUSPENDED:
                return &r->stats.suspended;
        case JOB_RESUMED:
                return &r->stats.resumed;
        case JOB_REQUEUED:
                return &r->stats.requeued;
        default:
                return NULL;
        }
}

/* Counters first, callback last: what the callback reads (STATUS=) is already current. */
static void runner_set_state(Runner *r, Job *j, JobState state) {
        uint64_t *counter;
        JobState old;

        assert(r);
        assert(j);

        old = j->state;
        counter = runner_counter(r, state);
        j->state = state;
        if (counter)
                (*counter)++;

        if (r->ops.state_changed)
                r->ops.state_changed(r, j, old, r->userdata);
}

static void runner_unqueue(Runner *r, Job *j);

/* Running, or resumed: a state only its own state_changed() callback sees, after which it runs. */
static bool job_is_running(const Job *j) {
        return j->state == JOB_RUNNING || j->state == JOB_RESUMED;
}

/* The job lost its slot (or, suspended, its place among the waiting jobs); its work keeps running
 * until stop() has ended it and the exit is reported. */
static void runner_terminate(Runner *r, Job *j, JobState reason, uint64_t evicted_by) {
        assert(r);
        assert(j);
        assert(job_is_running(j) || j->state == JOB_SUSPENDED);

        if (j->state == JOB_SUSPENDED) {
                runner_unqueue(r, j);
                assert(r->n_suspended > 0);
                r->n_suspended--;
        } else
                r->n_running--;
        if (reason == JOB_EVICTED || reason == JOB_REQUEUED)
                j->evicted_by = evicted_by;
        /* Requeued for a more urgent job: counted against --max-requeue. A stop's requeue is not. */
        if (reason == JOB_REQUEUED && evicted_by > 0)
                j->n_requeued++;
        runner_set_state(r, j, reason);

        /* The state callback may already have reported the exit, or cancelled it (then that is the
         * reason). */
        if (job_is_alive(r, j))
                (void) r->ops.stop(r, j, j->state, r->userdata);
}

/* The eviction policy: the job a more urgent one may take the slot of. The least urgent running
 * job, and among those the most recently started, which loses the least work. A job whose end is
 * already under way is passed by: it is leaving anyway, and evicting it would record a lie. */
static Job *runner_pick_victim(Runner *r) {
        Job *victim = NULL, *j;

        assert(r);

        LIST_FOREACH (alive, j, r->alive) {
                if (!job_is_running(j))
                        continue;
                if (r->ops.ending && r->ops.ending(r, j, r->userdata))
                        continue;
                if (!victim || j->priority > victim->priority ||
                    (j->priority == victim->priority && j->start_seq > victim->start_seq))
                        victim = j;
        }
        return victim;
}

static void runner_start(Runner *r, Job *j) {
        int k;

        assert(r);
        assert(j);

        j->start_seq = ++r->start_seq;
        alive_add(r, j);
        r->n_running++;

        r->starting = j;
        k = r->ops.start(r, j, r->userdata);
        r->starting = NULL;

        if (k < 0) {
                alive_remove(r, j);
                r->n_running--;
                j->error = k;
                runner_set_state(r, j, JOB_FAILED);
                runner_bury(r, j);
                return;
        }

        runner_set_state(r, j, JOB_RUNNING);
        /* runner_stop_all() from a callback of start() passed this job by. */
        if (r->stopping && j->state == JOB_RUNNING && job_is_alive(r, j))
                runner_terminate(r, j, r->keep ? JOB_REQUEUED : JOB_INTERRUPTED, 0);
}

/* A suspended job gets a slot again. */
static void runner_resume(Runner *r, Job *j) {
        int k;

        assert(r);
        assert(j);
        assert(j->state == JOB_SUSPENDED);
        assert(r->n_suspended > 0);

        r->n_suspended--;
        r->n_running++;
        j->start_seq = ++r->start_seq;
        k = r->ops.resume(r, j, r->userdata);
        if (k < 0) {
                /* It cannot go on: its work ends here, as a stop's would, and the slot it was given
                 * goes back. */
                j->error = k;
                r->n_running--;
                runner_set_state(r, j, JOB_INTERRUPTED);
                if (job_is_alive(r, j))
                        (void) r->ops.stop(r, j, j->state, r->userdata);
                return;
        }
        runner_set_state(r, j, JOB_RESUMED);
        /* Resumed is a record: from now on it runs like any other. */
        if (j->state == JOB_RESUMED)
                j->state = JOB_RUNNING;
}

/* The victim loses its slot to the job `by`: frozen, terminated to start over, or evicted. */
static void runner_evict(Runner *r, Job *victim, uint64_t by) {
        assert(r);
        assert(victim);

        if (r->evict == RUNNER_EVICT_SUSPEND && r->n_suspended < r->max_suspended) {
                victim->evicted_by = by;
                if (r->ops.suspend(r, victim, r->userdata) >= 0) {
                        r->n_running--;
                        r->n_suspended++;
                        victim->state = JOB_SUSPENDED; /* its place in the queue depends on it */
                        if (runner_queue(r, victim) < 0) {
                                /* No room to wait: it is not frozen for nothing. */
                                r->n_suspended--;
                                r->n_running++;
                                victim->state = JOB_RUNNING;
                                (void) r->ops.resume(r, victim, r->userdata);
                                runner_terminate(r, victim, JOB_EVICTED, by);
                                return;
                        }
                        victim->state = JOB_RUNNING;
                        runner_set_state(r, victim, JOB_SUSPENDED);
                        return;
                }
        }
        if (r->evict != RUNNER_EVICT_KILL && victim->n_requeued < r->max_requeue)
                runner_terminate(r, victim, JOB_REQUEUED, by);
        else
                runner_terminate(r, victim, JOB_EVICTED, by);
}

/* Rules 1-3: fill free slots with the most urgent pending jobs, and let a pending job evict the
 * victim when it is strictly more urgent. Looks at the queue again after every callback. */
static void runner_dispatch(Runner *r) {
        Job *j;

        assert(r);

        while (!r->stopping && (j = queue_peek(r->pending))) {
                if (r->n_running >= r->size) {
                        Job *victim = runner_pick_victim(r);

                        if (!victim || victim->priority <= j->priority)
                                return;
                        runner_evict(r, victim, j->id);
                        continue;
                }

                (void) queue_pop(r->pending);
                if (j->state == JOB_SUSPENDED)
                        runner_resume(r, j);
                else
                        runner_start(r, j);
        }
}

/* Jobs that neither started nor failed during the dispatch wait: say so. Jobs submitted by these
 * callbacks are left for the next dispatch. Returns true when a callback ran, since it may have left
 * work. */
static bool runner_announce_queued(Runner *r) {
        Job *batch, *j;
        bool any = false;

        assert(r);

        batch = TAKE_PTR(r->fresh);
        r->fresh_tail = NULL;
        while ((j = LIST_POP(fresh, batch))) {
                if (j->state == _JOB_STATE_INVALID) {
                        runner_set_state(r, j, JOB_QUEUED);
                        any = true;
                }
        }
        return any;
}

static void runner_enter(Runner *r) {
        assert(r);

        r->depth++;
}

static void runner_leave(Runner *r) {
        assert(r);
        assert(r->depth > 0);

        /* The depth stays 1 meanwhile: calls from callbacks (data_free included) only add work to
         * this loop. */
        while (r->depth == 1) {
                runner_dispatch(r);
                if (runner_announce_queued(r))
                        continue;
                if (!r->dead)
                        break;
                runner_free_dead(r);
        }
        r->depth--;
}

/* Indexes a job by its id. A second job with an id already there stays out of the index, as
 * runner_find() always found the first one. -ENOMEM. */
static int runner_index(Runner *r, Job *j) {
        int k = id_map_put(r->by_id, j->id, j);

        return k == -EEXIST ? 0 : k;
}

int runner_submit(Runner *r, Job *j) {
        int k;

        assert(r);
        assert(j);

        if (j->state != _JOB_STATE_INVALID)
                return -EEXIST;

        runner_enter(r);
        j->arrival_seq = ++r->arrival_seq;
        k = r->stopping ? -ESHUTDOWN : runner_index(r, j);
        if (k >= 0)
                k = runner_queue(r, j); /* on failure, runner_bury() takes it out of the index */
        if (k < 0) {
                runner_set_state(r, j, JOB_DROPPED);
                runner_bury(r, j);
        } else {
                LIST_INSERT_AFTER(fresh, r->fresh, r->fresh_tail, j);
                r->fresh_tail = j;
        }
        runner_leave(r);
        return k;
}

int runner_job_exited(Runner *r, Job *j, JobState final) {
        assert(r);
        assert(j);

        if (j == r->starting)
                return -EBUSY;
        if (!job_is_alive(r, j))
                return -ENOENT;
        if ((job_is_running(j) || j->state == JOB_SUSPENDED) && final != JOB_DONE && final != JOB_FAILED &&
            final != JOB_TIMEOUT)
                return -EINVAL;

        runner_enter(r);
        alive_remove(r, j);
        /* An evicted, interrupted or cancelled job already gave up its slot and had its last state
         * change. A requeued one waits again, unless the runner is stopping (its caller keeps it). A
         * suspended one died frozen (killed from outside): it leaves its place. */
        if (j->state == JOB_SUSPENDED) {
                runner_unqueue(r, j);
                r->n_suspended--;
                runner_set_state(r, j, final);
        } else if (job_is_running(j)) {
                r->n_running--;
                runner_set_state(r, j, final);
        } else if (j->state == JOB_REQUEUED && !r->stopping) {
                if (runner_queue(r, j) >= 0) {
                        runner_leave(r);
                        return 0;
                }
                runner_set_state(r, j, JOB_DROPPED);
        }
        runner_bury(r, j);
        runner_leave(r);
        return 0;
}

static bool runner_is_pending(Runner *r, Job *j) {
        Job *i;

        assert(r);
        assert(j);

        for (size_t k = 0; (i = queue_get(r->pending, k)); k++)
                if (i == j)
                        return true;
        return false;
}

/* The Queue gives up only its head, so every pending job is popped and pushed back but `j`, in the
 * order they came out: priority order and FIFO among equals stay as they were. The popped jobs wait
 * on their `dead` links, which no pending job uses, so nothing is allocated. The pushes cannot fail:
 * the heap does not shrink when popped, so the room the jobs left is still there. O(n log n); a
 * queue_remove() in queue.c would make this O(log n) after the O(n) search. */
static void runner_unqueue(Runner *r, Job *j) {
        Job *head = NULL, *tail = NULL, *i;

        assert(r);
        assert(j);

        while ((i = queue_pop(r->pending))) {
                if (i == j)
                        continue;
                LIST_INSERT_AFTER(dead, head, tail, i);
                tail = i;
        }
        while ((i = LIST_POP(dead, head)))
                assert_se(runner_queue(r, i) >= 0);
}

int runner_cancel(Runner *r, Job *j) {
        assert(r);
        assert(j);

        if (r->stopping)
                return -ESHUTDOWN;
        if (j == r->starting)
                return -EBUSY;

        if (job_is_alive(r, j)) {
                /* Requeued, its old work still being terminated: it will not wait again. */
                if (j->state == JOB_REQUEUED) {
                        runner_enter(r);
                        runner_set_state(r, j, JOB_CANCELLED);
                        runner_leave(r);
                        return 0;
                }
                /* A job whose end is under way keeps the one record that says how it really ended, as
                 * for eviction. One being terminated already is in its terminal state. */
                if ((!job_is_running(j) && j->state != JOB_SUSPENDED) ||
                    (job_is_running(j) && r->ops.ending && r->ops.ending(r, j, r->userdata)))
                        return -EALREADY;

                runner_enter(r);
                runner_terminate(r, j, JOB_CANCELLED, 0);
                runner_leave(r);
                return 0;
        }

        if (!runner_is_pending(r, j))
                return -ENOENT;

        /* A fresh job stays on the fresh list: runner_announce_queued() passes it by, and it is freed
         * only after that (runner_free_dead()). */
        runner_enter(r);
        runner_unqueue(r, j);
        runner_set_state(r, j, JOB_CANCELLED);
        runner_bury(r, j);
        runner_leave(r);
        return 0;
}

static Job *runner_first_in(Runner *r, JobState state) {
        Job *j;

        assert(r);

        LIST_FOREACH (alive, j, r->alive)
                if (j->state == state)
                        return j;
        return NULL;
}

int runner_stop_all(Runner *r, bool keep) {
        Job *j;

        assert(r);

        runner_enter(r);
        r->stopping = true;
        r->keep = keep;
        /* Frozen work cannot wait for the next start: it ends, to start over then. */
        while ((j = runner_first_in(r, JOB_SUSPENDED)))
                runner_terminate(r, j, keep ? JOB_REQUEUED : JOB_INTERRUPTED, 0);
        /* Requeued, its work still ending: it would wait again, but nothing waits any more. */
        if (!keep)
                for (j = r->alive; j; j = j->alive_next)
                        if (j->state == JOB_REQUEUED)
                                runner_set_state(r, j, JOB_INTERRUPTED);
        while ((j = queue_pop(r->pending))) {
                if (!keep)
                        runner_set_state(r, j, JOB_DROPPED);
                runner_bury(r, j);
        }
        while ((j = runner_first_in(r, JOB_RUNNING)) || (j = runner_first_in(r, JOB_RESUMED)))
                runner_terminate(r, j, keep ? JOB_REQUEUED : JOB_INTERRUPTED, 0);
        runner_leave(r);

        return (int) r->n_alive;
}

Job *runner_pending(Runner *r, size_t i) {
        assert(r);

        return queue_get(r->pending, i);
}

Job *runner_alive_next(Runner *r, Job *j) {
        assert(r);

        return j ? j->alive_next : r->alive;
}

unsigned runner_n_suspended(Runner *r) {
        assert(r);

        return r->n_suspended;
}

unsigned runner_size(Runner *r) {
        assert(r);

        return r->size;
}

unsigned runner_n_running(Runner *r) {
        assert(r);

        return r->n_running;
}

unsigned runner_n_pending(Runner *r) {
        assert(r);

        return (unsigned) queue_size(r->pending);
}

unsigned runner_n_alive(Runner *r) {
        assert(r);

        return r->n_alive;
}

const RunnerStats *runner_stats(Runner *r) {
        assert(r);

        return &r->stats;
}

Job *runner_find(Runner *r, uint64_t id) {
        assert(r);

        return id_map_get(r->by_id, id);
}

bool runner_would_start(Runner *r, int priority) {
        Job *victim;

        assert(r);

        if (r->stopping)
                return false;
        if (r->n_running < r->size)
                return true;
        victim = runner_pick_victim(r);
        return victim && victim->priority > priority;
}

int runner_least_urgent(Runner *r) {
        Job *victim;

        assert(r);

        victim = runner_pick_victim(r);
        return victim ? victim->priority : -1;
}
