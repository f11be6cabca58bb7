/* SPDX-License-Identifier: MIT */
/* sched-ctl: parses the command line and runs Ctl. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "bus-link.h"
#include "ctl.h"
#include "log.h"
#include "parse.h"
#include "protocol.h"

static void help(void) {
        printf("Usage: sched-ctl [OPTIONS...] COMMAND ...\n"
               "\n"
               "Query and control the sched-bus job scheduler.\n"
               "\n"
               "Commands:\n"
               "  status                   show the bus, its schedulers and job counts (default)\n"
               "  jobs                     list recent jobs and where they ran\n"
               "  watch                    print job events as they happen, until Ctrl-C\n"
               "  submit                   submit one job and print its id\n"
               "  cancel ID...             cancel jobs\n"
               "\n"
               "Options:\n"
               "  -p, --priority P         submit: priority 0 (most urgent) .. 10 (default %d)\n"
               "  -r, --runtime SEC        submit: runtime in seconds (default %g)\n"
               "      --ref REF            submit: a string the bus echoes (default sched-ctl-PID)\n"
               "      --wait               submit: wait for the job's end; the exit status names it\n"
               "      --state STATE        jobs: only jobs with a scheduler in STATE (held: the\n"
               "                           jobs the bus holds for want of a scheduler)\n"
               "      --scheduler NAME     jobs: only jobs sent to the scheduler NAME\n"
               "  -n, --limit N            jobs: the newest N jobs, 1..%d (default %d)\n"
               "  -b, --bus URL            the bus (default $SCHED_BUS_URL, else " BUS_LINK_URL_DEFAULT
               ")\n" BUS_AUTH_HELP
               "      --timeout SEC        give up connecting or awaiting an answer after SEC (default 5)\n"
               "      --json               one JSON object per line, as the bus sends them\n"
               "  -q, --quiet              no informational output\n"
               "      --no-pager           do not pipe status and jobs into a pager\n"
               "  -v, --verbose            debug logging\n"
               "  -h, --help               show this help message and exit\n"
               "      --version            show the version\n"
               "\n"
               "Exit status: 0 success, 1 failure, 2 bad usage; submit --wait: the job's end,\n"
               "0 done, 3 failed, 4 timeout, 5 evicted, 6 cancelled, 7 interrupted, 8 dropped,\n"
               "9 unknown. See sched-ctl(1).\n",
               CTL_PRIORITY_DEFAULT, CTL_RUNTIME_DEFAULT, PROTOCOL_JOBS_LIMIT_MAX,
               PROTOCOL_JOBS_LIMIT_DEFAULT);
}

enum {
        ARG_REF = 0x100,
        ARG_WAIT,
        ARG_STATE,
        ARG_SCHEDULER,
        ARG_TIMEOUT,
        ARG_JSON,
        ARG_NO_PAGER,
        ARG_AUTH,
        _ARG_AUTH_END = ARG_AUTH + BUS_AUTH_N_OPTIONS - 1,
};

/* Options that belong to one verb: with any other, they are a mistake worth saying. */
static const struct {
        int opt;
        CtlVerb verb;
} verb_options[] = {
        { 'p', CTL_SUBMIT },      { 'r', CTL_SUBMIT },     { ARG_REF, CTL_SUBMIT },
        { ARG_WAIT, CTL_SUBMIT }, { ARG_STATE, CTL_JOBS }, { ARG_SCHEDULER, CTL_JOBS },
        { 'n', CTL_JOBS },
};

static CtlVerb option_verb(int opt) {
        for (size_t i = 0; i < ELEMENTSOF(verb_options); i++)
                if (verb_options[i].opt == opt)
                        return verb_options[i].verb;
        return _CTL_VERB_INVALID;
}

/* `given`: the verbs' options on the command line, in order. */
static int check_verb_options(const struct option *options, const int *given, size_t n, CtlVerb verb) {
        for (size_t i = 0; i < n; i++) {
                CtlVerb owner = option_verb(given[i]);
                const struct option *o = options;

                if (owner == verb)
                        continue;
                while (o->name && o->val != given[i])
                        o++;
                assert(o->name);
                fprintf(stderr, "sched-ctl: --%s is for '%s' only, not '%s'. Try 'sched-ctl --help'.\n",
                        o->name, ctl_verb_to_string(owner), ctl_verb_to_string(verb));
                return -EINVAL;
        }
        return 0;
}

static int usage_error(const char *message, const char *value) {
        fprintf(stderr, "sched-ctl: %s%s%s%s. Try 'sched-ctl --help'.\n", message, value ? " '" : "",
                value ?: "", value ? "'" : "");
        return -EINVAL;
}

/* A ref goes into the job_request as a JSON string: at most PROTOCOL_REF_MAX bytes of UTF-8. */
static int parse_ref(const char *s) {
        json_t *v;

        if (strlen(s) > PROTOCOL_REF_MAX)
                return -ERANGE;
        v = json_string(s); /* NULL for invalid UTF-8 */
        if (!v)
                return -EINVAL;
        json_decref(v);
        return 0;
}

/* The rest of the URL is judged when connecting; a URL of another scheme is a mistake of usage. */
static bool bus_url_is_valid(const char *url) {
        return (strncasecmp(url, "ws://", 5) == 0 && url[5]) ||
               (strncasecmp(url, "wss://", 6) == 0 && url[6]);
}

static int parse_argv(int argc, char *argv[], CtlConfig *c, uint64_t **ret_ids) {
        static const struct option options[] = {
                { "priority", required_argument, NULL, 'p' },
                { "runtime", required_argument, NULL, 'r' },
                { "ref", required_argument, NULL, ARG_REF },
                { "wait", no_argument, NULL, ARG_WAIT },
                { "state", required_argument, NULL, ARG_STATE },
                { "scheduler", required_argument, NULL, ARG_SCHEDULER },
                { "limit", required_argument, NULL, 'n' },
                { "bus", required_argument, NULL, 'b' },
                BUS_AUTH_OPTIONS(ARG_AUTH),
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "json", no_argument, NULL, ARG_JSON },
                { "quiet", no_argument, NULL, 'q' },
                { "no-pager", no_argument, NULL, ARG_NO_PAGER },
                PARSE_COMMON_OPTIONS,
                {},
        };
        int given[16];
        size_t n_given = 0;
        _cleanup_free_ uint64_t *ids = NULL;
        int opt, longindex, r;
        const char *e;

        assert(c);
        assert(ret_ids);

        while ((opt = (longindex = -1, getopt_long(argc, argv, "p:r:n:b:qvh", options, &longindex))) >= 0) {
                r = 0;
                switch (opt) {
                case 'p':
                        r = parse_int(optarg, PROTOCOL_PRIORITY_MIN, PROTOCOL_PRIORITY_MAX, &c->priority);
                        break;
                case 'r':
                        r = parse_double(optarg, 0, CTL_RUNTIME_MAX, &c->runtime);
                        break;
                case ARG_REF:
                        r = parse_ref(optarg);
                        c->ref = optarg;
                        break;
                case ARG_WAIT:
                        c->wait = true;
                        break;
                case ARG_STATE:
                        c->state = protocol_state_from_string(optarg);
                        r = c->state < 0 ? -EINVAL : 0;
                        break;
                case ARG_SCHEDULER:
                        r = protocol_name_is_valid(optarg) ? 0 : -EINVAL;
                        c->scheduler = optarg;
                        break;
                case 'n':
                        r = parse_unsigned(optarg, 1, PROTOCOL_JOBS_LIMIT_MAX, &c->limit);
                        break;
                case 'b':
                        r = bus_url_is_valid(optarg) ? 0 : -EINVAL;
                        c->bus_url = optarg;
                        break;
                case ARG_TIMEOUT:
                        r = parse_seconds(optarg, 3600, &c->timeout_usec);
                        if (r >= 0 && c->timeout_usec == 0)
                                r = -ERANGE;
                        break;
                case ARG_JSON:
                        c->json = true;
                        break;
                case 'q':
                        c->quiet = true;
                        break;
                case ARG_NO_PAGER:
                        c->pager = false;
                        break;
                default:
                        if (bus_auth_parse_option(&c->auth, opt, ARG_AUTH, optarg))
                                break;
                        r = parse_common_option("sched-ctl", opt, help);
                        if (r <= 0)
                                return r;
                        continue;
                }
                if (r < 0)
                        return parse_option_error("sched-ctl", options, opt, longindex, optarg, r);
                if (option_verb(opt) >= 0 && n_given < ELEMENTSOF(given))
                        given[n_given++] = opt;
        }

        e = getenv("SCHED_BUS_URL");
        if (!c->bus_url && e && *e) {
                if (!bus_url_is_valid(e))
                        return usage_error("$SCHED_BUS_URL is not a ws:// URL", e);
                c->bus_url = e;
        }

        /* Like systemctl: options anywhere, the first word the command, status without one. */
        if (optind < argc) {
                c->verb = ctl_verb_from_string(argv[optind]);
                if (c->verb < 0)
                        return usage_error("unknown command", argv[optind]);
                optind++;
        }
        r = check_verb_options(options, given, n_given, c->verb);
        if (r < 0)
                return r;

        if (c->verb != CTL_CANCEL)
                return parse_no_arguments("sched-ctl", argc, argv);
        if (optind >= argc)
                return usage_error("cancel needs the id of at least one job", NULL);
        c->n_ids = (size_t) (argc - optind);
        ids = calloc(c->n_ids, sizeof *ids);
        if (!ids)
                return log_oom();
        for (size_t i = 0; i < c->n_ids; i++)
                if (parse_uint64(argv[optind + i], 0, INT64_MAX, &ids[i]) < 0)
                        return usage_error("not a job id", argv[optind + i]);
        c->ids = ids;
        *ret_ids = TAKE_PTR(ids);
        return 1;
}

int main(int argc, char *argv[]) {
        CtlConfig config = CTL_CONFIG_DEFAULT;
        _cleanup_free_ uint64_t *ids = NULL;
        Ctl *c = NULL;
        int r;

        log_setup(argv[0]);
        r = parse_argv(argc, argv, &config, &ids);
        if (r <= 0)
                return r < 0 ? CTL_EXIT_USAGE : CTL_EXIT_SUCCESS;

        r = ctl_new(&c, &config);
        if (r < 0) {
                log_oom();
                return CTL_EXIT_FAILURE;
        }
        r = ctl_run(c);
        ctl_free(c);
        return r;
}
