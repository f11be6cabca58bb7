/* SPDX-License-Identifier: MIT */
/* sched-scheduler: parses the command line and runs the Scheduler. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bus-link.h"
#include "log.h"
#include "parse.h"
#include "protocol.h"
#include "runner.h"
#include "scheduler.h"

static void help(void) {
        printf("Usage: sched-scheduler [OPTIONS] [--exec COMMAND [ARG...]]\n"
               "\n"
               "Receives jobs from sched-bus and runs each as a child process on SIZE slots in\n"
               "priority order (0 is the most urgent): a more urgent job evicts the least urgent\n"
               "running one, jobs are terminated at their timeout.\n"
               "\n"
               "  -s, --size=SIZE          job slots (default 5)\n"
               "  -t, --timeout=SEC        terminate a job running longer, 0 = never (default 10)\n"
               "  -b, --bus=URL            bus to connect to (default " BUS_LINK_URL_DEFAULT
               ")\n" BUS_AUTH_HELP
               "      --grace=SEC          SIGTERM to SIGKILL delay when terminating (default 2)\n"
               "      --status-interval=SEC  STATUS= to the service manager at most this often\n"
               "                           (default 0.1; 0: at every change)\n"
               "      --max-runtime=SEC    largest job runtime accepted (default 86400)\n"
               "      --max-pending=N      jobs waiting for a slot; beyond, new jobs that would\n"
               "                           wait are dropped (default 10000)\n"
               "      --evict=MODE         what a more urgent job does to the least urgent one:\n"
               "                           kill (default: evicted, its work lost); requeue (it is\n"
               "                           terminated and waits again in its place, to start over);\n"
               "                           suspend (it is frozen, and thawed when a slot frees)\n"
               "      --max-requeue=N      requeues of one job; the next eviction kills it\n"
               "                           (default 3)\n"
               "      --max-suspended=N    jobs frozen at once; beyond, the victim is requeued\n"
               "                           (default: as many as slots)\n"
               "      --state-dir=DIR      keep the pending jobs in DIR across restarts and crashes\n"
               "                           (default $STATE_DIRECTORY; none: in memory only)\n"
               "      --cgroup=MODE        where each job's cgroup (job-ID) goes, so that nothing a\n"
               "                           job starts outlives it: auto (default): our own cgroup\n"
               "                           when systemd delegated it (Delegate=yes), we move into\n"
               "                           its leaf 'supervisor'; self: our own cgroup, always;\n"
               "                           PATH: that cgroup2 directory (made if missing, removed\n"
               "                           at exit); off: no cgroups. Without one: the job's\n"
               "                           process group, and what it leaves re-parented to us\n"
               "                           (child subreaper) is killed at its end. The startup\n"
               "                           log line says which mode is in force, and where.\n"
               "      --scope              run each job in its own transient scope unit\n"
               "                           (sched-job-INSTANCE-ID.scope in "
               "sched-jobs.slice)\n"
               "      --user               with --scope: use the user's service manager\n"
               "      --instance=NAME      name used in scope units (default: the size)\n"
               "      --name=NAME          how the bus and sched-ctl know this scheduler\n"
               "                           (default HOSTNAME@INSTANCE)\n"
               "      --exec COMMAND...    the job command and its arguments: all that follows.\n"
               "                           Default: the test job, `sleep RUNTIME`. Each job gets\n"
               "                           SCHED_JOB_ID, SCHED_JOB_PRIORITY, SCHED_JOB_RUNTIME.\n"
               "  -v, --verbose            debug logging\n"
               "  -h, --help               show this help\n"
               "      --version            show the version\n"
               "\n"
               "SIGTERM or SIGINT terminates every job and exits 0: under --evict=requeue or\n"
               "suspend its jobs wait in DIR for the next start, under kill they end there.\n"
               "Exit status 1 on a setup error, 2 on bad usage.\n");
}

/* --exec takes every argument after it, so cut the command line there before getopt sees it. */
static int split_exec(int *argc, char *argv[], SchedulerConfig *c) {
        assert(argc);
        assert(c);

        for (int i = 1; i < *argc; i++) {
                if (strcmp(argv[i], "--") == 0)
                        return 0;
                if (strcmp(argv[i], "--exec") != 0)
                        continue;
                if (i + 1 >= *argc) {
                        fprintf(stderr, "sched-scheduler: --exec needs a command.\n");
                        return -EINVAL;
                }
                c->exec_argv = argv + i + 1; /* argv is NULL-terminated */
                *argc = i;
                return 0;
        }
        return 0;
}

static int parse_argv(int argc, char *argv[], SchedulerConfig *c) {
        assert(c);

        enum {
                ARG_GRACE = 0x100,
                ARG_STATUS_INTERVAL,
                ARG_MAX_RUNTIME,
                ARG_MAX_PENDING,
                ARG_SCOPE,
                ARG_USER,
                ARG_INSTANCE,
                ARG_CGROUP,
                ARG_NAME,
                ARG_EVICT,
                ARG_MAX_REQUEUE,
                ARG_MAX_SUSPENDED,
                ARG_STATE_DIR,
                ARG_AUTH,
                _ARG_AUTH_END = ARG_AUTH + BUS_AUTH_N_OPTIONS - 1,
        };
        static const struct option options[] = {
                { "size", required_argument, NULL, 's' },
                { "timeout", required_argument, NULL, 't' },
                { "bus", required_argument, NULL, 'b' },
                BUS_AUTH_OPTIONS(ARG_AUTH),
                { "grace", required_argument, NULL, ARG_GRACE },
                { "status-interval", required_argument, NULL, ARG_STATUS_INTERVAL },
                { "max-runtime", required_argument, NULL, ARG_MAX_RUNTIME },
                { "max-pending", required_argument, NULL, ARG_MAX_PENDING },
                { "scope", no_argument, NULL, ARG_SCOPE },
                { "user", no_argument, NULL, ARG_USER },
                { "instance", required_argument, NULL, ARG_INSTANCE },
                { "cgroup", required_argument, NULL, ARG_CGROUP },
                { "name", required_argument, NULL, ARG_NAME },
                { "evict", required_argument, NULL, ARG_EVICT },
                { "max-requeue", required_argument, NULL, ARG_MAX_REQUEUE },
                { "max-suspended", required_argument, NULL, ARG_MAX_SUSPENDED },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                PARSE_COMMON_OPTIONS,
                {},
        };
        int opt, longindex, r;

        r = split_exec(&argc, argv, c);
        if (r < 0)
                return r;

        while ((opt = (longindex = -1, getopt_long(argc, argv, "s:t:b:vh", options, &longindex))) >= 0) {
                r = 0;
                switch (opt) {
                case 's':
                        r = parse_unsigned(optarg, 1, 4096, &c->size);
                        break;
                case 't':
                        r = parse_seconds(optarg, 365.0 * 86400, &c->timeout_usec);
                        break;
                case 'b':
                        c->bus_url = optarg;
                        break;
                case ARG_GRACE:
                        r = parse_seconds(optarg, 3600, &c->grace_usec);
                        break;
                case ARG_STATUS_INTERVAL:
                        r = parse_seconds(optarg, 60, &c->status_interval_usec);
                        break;
                case ARG_MAX_RUNTIME:
                        r = parse_double(optarg, 0, 365.0 * 86400, &c->max_runtime);
                        break;
                case ARG_MAX_PENDING:
                        r = parse_unsigned(optarg, 1, 10000000, &c->max_pending);
                        break;
                case ARG_SCOPE:
                        c->scope = true;
                        break;
                case ARG_USER:
                        c->user = true;
                        break;
                case ARG_NAME:
                        if (!protocol_name_is_valid(optarg)) {
                                fprintf(stderr,
                                        "sched-scheduler: --name must be 1 to %d characters of A-Z a-z 0-9 "
                                        "_ . "
                                        ": @ / -\n",
                                        PROTOCOL_NAME_MAX);
                                return -EINVAL;
                        }
                        c->name = optarg;
                        break;
                case ARG_INSTANCE:
                        c->instance = optarg;
                        break;
                case ARG_EVICT:
                        c->evict = runner_evict_from_string(optarg);
                        r = c->evict < 0 ? -EINVAL : 0;
                        break;
                case ARG_MAX_REQUEUE:
                        r = parse_unsigned(optarg, 0, 1000000, &c->max_requeue);
                        break;
                case ARG_MAX_SUSPENDED:
                        r = parse_unsigned(optarg, 1, 1000000, &c->max_suspended);
                        break;
                case ARG_STATE_DIR:
                        c->state_dir = optarg;
                        break;
                case ARG_CGROUP:
                        if (optarg[0] != '/' && strcmp(optarg, "auto") != 0 && strcmp(optarg, "self") != 0 &&
                            strcmp(optarg, "off") != 0)
                                r = -EINVAL;
                        else
                                c->cgroup = optarg;
                        break;
                default:
                        if (bus_auth_parse_option(&c->auth, opt, ARG_AUTH, optarg))
                                break;
                        r = parse_common_option("sched-scheduler", opt, help);
                        if (r <= 0)
                                return r;
                        continue;
                }
                if (r < 0)
                        return parse_option_error("sched-scheduler", options, opt, longindex, optarg, r);
        }
        r = parse_no_arguments("sched-scheduler", argc, argv);
        if (r < 0)
                return r;
        if (c->scope && c->cgroup && strcmp(c->cgroup, "auto") != 0 && strcmp(c->cgroup, "off") != 0) {
                fprintf(stderr,
                        "sched-scheduler: --scope puts each job in a scope unit, which is its cgroup: "
                        "no --cgroup=%s with it.\n",
                        c->cgroup);
                return -EINVAL;
        }
        if (c->user && !c->scope) {
                fprintf(stderr, "sched-scheduler: --user only makes sense with --scope.\n");
                return -EINVAL;
        }
        return 1;
}

int main(int argc, char *argv[]) {
        SchedulerConfig config = SCHEDULER_CONFIG_DEFAULT;
        Scheduler *s = NULL;
        int r;

        log_setup(argv[0]);
        r = parse_argv(argc, argv, &config);
        if (r <= 0)
                return r < 0 ? 2 : 0;

        r = scheduler_new(&s, &config);
        if (r < 0) {
                log_oom();
                return 1;
        }
        r = scheduler_run(s);
        scheduler_free(s);
        return r < 0 ? 1 : 0;
}
