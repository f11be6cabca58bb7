/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "job-output.h"
#include "job-run.h"
#include "log.h"
#include "process.h"
#include "spawn-vm.h"

typedef struct JobRun {
        Job *job; /* the owner */
        Runner *runner;
        const JobRunConfig *config;
        bool cancelled;    /* terminated before its spawn */
        bool start_failed; /* spawned, but what had to follow failed: it is killed and ends failed */
        Process *process;
        JobScope *scope;
        JobScopeStart *scope_start; /* until its scope is there and it is released */
        void (*on_exited)(void *userdata);
        void *userdata;
        char *unit;        /* scope unit name, with --scope */
        char *scope_error; /* why its scope could not be made */
        JobOutput *output;
        uint64_t started_usec; /* CLOCK_MONOTONIC of its running record, job_run_set_started() */
} JobRun;

static void job_run_free(void *p) {
        JobRun *run = p;

        if (!run)
                return;
        run->process = process_free(run->process);
        job_scope_start_free(run->scope_start);
        if (run->unit) {
                /* Whatever left the job's process group is still in the scope: it goes with it (its
                 * first SIGTERM, as we only signal the group). Also a scope still being made. */
                (void) job_scope_stop(run->scope, run->unit);
                free(run->unit);
        }
        free(run->scope_error);
        job_output_free(run->output);
        free(run);
}

static JobState job_state_from_result(ProcessResult result) {
        switch (result) {
        case PROCESS_SUCCESS:
                return JOB_DONE;
        case PROCESS_TIMEOUT:
                return JOB_TIMEOUT;
        case PROCESS_TERMINATED:
                return JOB_EVICTED; /* only ever terminated by us for eviction or shutdown */
        default:
                return JOB_FAILED;
        }
}

static void on_process_done(Process *p, ProcessResult result, void *userdata) {
        JobRun *run = ASSERT_PTR(userdata);
        void (*on_exited)(void *) = run->on_exited;
        void *exited_userdata = run->userdata;

        assert(p);

        /* What it left re-parented to us goes before its end is recorded. */
        if (run->config->reaper) {
                job_reaper_remove_leader(run->config->reaper, process_get_pid(p));
                (void) job_reaper_collect(run->config->reaper, process_get_pid(p));
        }
        /* The group is gone: collect the last lines before the Job (and this JobRun) may be freed. */
        job_output_drain(run->output);
        /* An evicted or dropped job's final state is already set; the runner ignores ours then. */
        (void) runner_job_exited(run->runner, run->job,
                                 run->start_failed ? JOB_FAILED : job_state_from_result(result));
        if (on_exited)
                on_exited(exited_userdata);
}

static int job_run_argv(const Job *j, char **exec_argv, char ***ret_argv, char **ret_runtime) {
        static char sleep_cmd[] = "sleep";
        char **argv;

        assert(j);
        assert(ret_argv);
        assert(ret_runtime);

        if (exec_argv) {
                *ret_argv = exec_argv;
                *ret_runtime = NULL;
                return 0;
        }
        argv = calloc(3, sizeof(char *));
        if (!argv || asprintf(ret_runtime, "%.3f", j->runtime) < 0) {
                free(argv);
                return -ENOMEM;
        }
        argv[0] = sleep_cmd;
        argv[1] = *ret_runtime;
        *ret_argv = argv;
        return 0;
}

/* Once a run, after its first start: whether starts wait for each job's exec. Under a unit whose
 * seccomp filter refuses clone3 (RestrictNamespaces=) they should not; if they do, starts are slower. */
static void log_spawn_way_once(void) {
        static bool logged;
        const char *way;

        if (logged)
                return;
        logged = true;
        way = spawn_vm_way();
        if (!way)
                log_info("Jobs start waiting for their exec (clone3 and clone are refused here, or this is "
                         "not x86-64): fewer starts a second.");
        else if (strcmp(way, "clone") == 0)
                log_info("Jobs start without waiting for their exec (clone: a seccomp filter refuses "
                         "clone3).");
        else
                log_info("Jobs start without waiting for their exec (%s).", way);
}

static int job_run_spawn_process(JobRun *run, const JobRunConfig *config, int output_fd) {
        char env_id[48], env_priority[48], env_runtime[64];
        char *env[] = { env_id, env_priority, env_runtime, NULL };
        _cleanup_free_ char *runtime = NULL;
        const Job *j = run->job;
        char **argv = NULL;
        int r;

        assert(run);
        assert(config);

        (void) snprintf(env_id, sizeof env_id, "SCHED_JOB_ID=%" PRIu64, j->id);
        (void) snprintf(env_priority, sizeof env_priority, "SCHED_JOB_PRIORITY=%d", j->priority);
        (void) snprintf(env_runtime, sizeof env_runtime, "SCHED_JOB_RUNTIME=%g", j->runtime);

        r = job_run_argv(j, config->exec_argv, &argv, &runtime);
        if (r < 0)
                return r;
        r = process_new(&run->process, config->event, argv, env);
        if (argv != config->exec_argv)
                free(argv);
        if (r < 0)
                return r;

        /* The timeout counts from the running record, written as the job took its slot (a loop
         * pass before this, or more in a burst), not from the spawn: the record's time is the
         * start sched-scheduler(8) promises the timeout counts from. */
        if (config->timeout_usec > 0)
                (void) process_set_timeout(run->process, config->timeout_usec);
        process_set_timeout_origin(run->process, run->started_usec);
        (void) process_set_grace(run->process, config->grace_usec);
        if (config->cgroups && job_cgroups_pool(config->cgroups)) {
                char label[24];

                (void) snprintf(label, sizeof label, "%" PRIu64, j->id);
                r = process_set_cgroup_pool(run->process, job_cgroups_pool(config->cgroups), label);
                if (r < 0)
                        return r;
        } else if (config->cgroups && job_cgroups_parent(config->cgroups)) {
                _cleanup_free_ char *cgroup = job_cgroups_path_of(config->cgroups, j->id);

                if (!cgroup)
                        return -ENOMEM;
                r = process_set_cgroup(run->process, cgroup);
                if (r < 0)
                        return r;
        }
        r = process_set_output_fd(run->process, output_fd);
        if (r >= 0)
                r = process_add_done_callback(run->process, on_process_done, run);
        /* With a scope, it runs nothing until it is inside it. */
        if (r >= 0 && config->scope)
                r = process_start_held(run->process);
        else if (r >= 0) {
                r = process_start(run->process);
                if (r >= 0)
                        log_spawn_way_once();
        }
        if (r >= 0 && config->reaper)
                r = job_reaper_add_leader(config->reaper, process_get_pid(run->process), j->id);
        return r;
}

/* The held job's scope is there: it may run. Or it is not: it must not run at all, and ends failed. */
static void on_scope_ready(int error, const char *message, void *userdata) {
        JobRun *run = ASSERT_PTR(userdata);

        run->scope_start = NULL;
        if (error >= 0)
                error = process_release(run->process);
        if (error >= 0)
                return;
        run->job->error = error;
        run->scope_error = strdup(message ?: strerror(-error));
        run->start_failed = true;
        /* No scope to stop: none was made, or it goes when the killed child leaves it empty. */
        run->unit = mfree(run->unit);
        (void) process_terminate(run->process);
}

static int job_run_start_scope(JobRun *run, const JobRunConfig *config) {
        char description[128];

        assert(run);

        if (asprintf(&run->unit, "sched-job-%s-%" PRIu64 ".scope", config->instance, run->job->id) < 0) {
                run->unit = NULL;
                return -ENOMEM;
        }
        (void) snprintf(description, sizeof description, "sched-utils job %" PRIu64 " (priority %d)",
                        run->job->id, run->job->priority);
        run->scope = config->scope;
        /* Its stop (of what left the job's process group) ends in SIGKILL after the same grace. */
        return job_scope_start(config->scope, process_get_pid(run->process), run->unit, description,
                               config->grace_usec, on_scope_ready, run, &run->scope_start);
}

int job_run_new(Job *j, const JobRunConfig *config, Runner *runner) {
        JobRun *run;

        assert(j);
        assert(config);
        assert(runner);

        /* From inside the done callback of its last run (a requeued job that starts again at once):
         * that is safe, the callback touches nothing of it after reporting the exit. */
        if (j->data && j->data_free)
                j->data_free(j->data);
        j->data = NULL;
        j->data_free = NULL;

        run = calloc(1, sizeof *run);
        if (!run)
                return -ENOMEM;
        run->job = j;
        run->runner = runner;
        run->config = config;
        run->on_exited = config->on_exited;
        run->userdata = config->userdata;
        j->data = run;
        j->data_free = job_run_free;
        return 0;
}

static int job_run_spawn_all(JobRun *run) {
        int out_write, r;

        r = job_output_new(&run->output, run->config->event, run->job->id, run->job->priority, &out_write);
        if (r < 0)
                return r;
        r = job_run_spawn_process(run, run->config, out_write);
        if (r < 0)
                return r;
        job_output_spawned(run->output);

        if (run->config->scope) {
                r = job_run_start_scope(run, run->config);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The job has no process and never will: its end, reported as the process would have. */
static void job_run_end_unspawned(JobRun *run) {
        void (*on_exited)(void *) = run->on_exited;
        void *exited_userdata = run->userdata;

        /* An evicted or interrupted job keeps that state; one that could not start failed. */
        (void) runner_job_exited(run->runner, run->job, JOB_FAILED);
        if (on_exited)
                on_exited(exited_userdata);
}

void job_run_set_started(Job *j, uint64_t usec) {
        JobRun *run;

        assert(j);

        run = j->data;
        if (run && !run->process)
                run->started_usec = usec;
}

int job_run_spawn(Job *j) {
        JobRun *run;
        int r;

        assert(j);
        run = ASSERT_PTR(j->data);
        assert(!run->process);

        if (run->cancelled) {
                job_run_end_unspawned(run);
                return 0;
        }
        r = job_run_spawn_all(run);
        if (r < 0) {
                j->error = r;
                /* With a process that started, the end comes from it. */
                if (run->process && process_is_running(run->process)) {
                        run->start_failed = true;
                        (void) process_terminate(run->process);
                        return r;
                }
                run->process = process_free(run->process);
                job_run_end_unspawned(run);
                return r;
        }
        return 1;
}

int job_run_terminate(Job *j) {
        assert(j);

        JobRun *run = j->data;

        if (!run)
                return -ESRCH;
        if (!run->process) {
                run->cancelled = true;
                return 0;
        }
        /* One SIGTERM: to the job's process group only. Its scope is stopped once the job ended. */
        return process_terminate(run->process);
}

int job_run_suspend(Job *j) {
        JobRun *run;

        assert(j);

        run = j->data;
        if (!run || !run->process || run->scope_start)
                return -ESRCH;
        return process_freeze(run->process);
}

int job_run_resume(Job *j) {
        JobRun *run;

        assert(j);

        run = j->data;
        if (!run || !run->process)
                return -ESRCH;
        return process_thaw(run->process);
}

uint64_t job_run_get_frozen_usec(const Job *j) {
        const JobRun *run;

        assert(j);

        run = j->data;
        return run && run->process ? process_get_frozen_usec(run->process) : 0;
}

void job_run_get_usage(const Job *j, uint64_t *ret_cpu_usec, uint64_t *ret_memory_peak) {
        const JobRun *run;

        assert(j);
        assert(ret_cpu_usec);
        assert(ret_memory_peak);

        run = j->data;
        *ret_cpu_usec = *ret_memory_peak = UINT64_MAX;
        if (!run || !run->process)
                return;
        process_get_usage(run->process, ret_cpu_usec, ret_memory_peak);
}

int job_run_get_exit(const Job *j, int *ret_status, int *ret_signal) {
        const JobRun *run;

        assert(j);
        assert(ret_status);
        assert(ret_signal);

        run = j->data;
        if (!run || !run->process || process_get_exit_status(run->process) < 0)
                return -ENODATA;
        *ret_status = process_get_exit_status(run->process);
        *ret_signal = process_get_exit_signal(run->process);
        return 0;
}

bool job_run_is_ending(const Job *j) {
        const JobRun *run;

        assert(j);

        run = j->data;
        return run && run->process && process_is_ending(run->process);
}

const char *job_run_describe_exit(const Job *j) {
        static char buf[320];
        const JobRun *run = j->data;
        int status = run && run->process ? process_get_exit_status(run->process) : -1;

        assert(j);

        if (j->error < 0) {
                (void) snprintf(buf, sizeof buf, "could not start: %s",
                                run && run->scope_error ? run->scope_error : strerror(-j->error));
                return buf;
        }
        if (status < 0)
                return "did not start";
        if (status > 128 && sigabbrev_np(status - 128))
                (void) snprintf(buf, sizeof buf, "killed by signal %s", sigabbrev_np(status - 128));
        else
                (void) snprintf(buf, sizeof buf, "exit status %d", status);
        return buf;
}

pid_t job_run_get_pid(const Job *j) {
        const JobRun *run;

        assert(j);

        run = j->data;
        return run && run->process ? process_get_pid(run->process) : 0;
}
