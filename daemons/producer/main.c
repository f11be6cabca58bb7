/* SPDX-License-Identifier: MIT */
/* sched-producer: parses the command line and runs the Producer. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bus-link.h"
#include "job-generator.h"
#include "log.h"
#include "parse.h"
#include "producer.h"

static void help(void) {
        printf("Usage: sched-producer [-h] [-p PERIOD] [-g] [-s SIGMA] [OPTIONS]\n"
               "\n"
               "Submits test jobs to sched-bus: runtime uniform in 3..15 s, priority uniform in\n"
               "0..10 (0 is the most urgent), one every PERIOD seconds.\n"
               "\n"
               "  -p, --period PERIOD      seconds between jobs (default 5)\n"
               "  -g, --gauss              wait max(gauss(PERIOD, SIGMA), 0.005) s instead\n"
               "  -s, --sigma SIGMA        standard deviation for --gauss (default 2)\n"
               "  -n, --count COUNT        exit 0 after COUNT jobs (default: run until stopped)\n"
               "      --seed N             seed the generator: the same N gives the same jobs\n"
               "      --priority P         fixed priority 0..10 for every job\n"
               "      --runtime R          fixed runtime in seconds for every job\n"
               "  -b, --bus URL            bus to connect to (default " BUS_LINK_URL_DEFAULT
               ")\n" BUS_AUTH_HELP
               "      --connect-timeout SEC  give up reaching the bus, or getting it back once lost,\n"
               "                           after SEC (default 5)\n"
               "  -w, --wait               with --count: after the last job, wait until every job\n"
               "                           has ended; exit 3 if one did not end done\n"
               "  -v, --verbose            debug logging\n"
               "  -h, --help               show this help message and exit\n"
               "      --version            show the version\n"
               "\n"
               "Each job's id is logged when the bus accepts it, and its end when it ends. A lost\n"
               "bus is reconnected to (with backoff); jobs due meanwhile are sent when it is back.\n"
               "Exit status: 0 done or interrupted, 1 failure, 2 bad usage, 3 the bus dropped a\n"
               "job (named in the log) or, with --wait, a job did not end done, 69 bus\n"
               "unreachable, 75 bus lost for good or jobs that may be lost.\n");
}

static int parse_argv(int argc, char *argv[], ProducerConfig *c) {
        enum {
                ARG_SEED = 0x100,
                ARG_PRIORITY,
                ARG_RUNTIME,
                ARG_CONNECT_TIMEOUT,
                ARG_AUTH,
                _ARG_AUTH_END = ARG_AUTH + BUS_AUTH_N_OPTIONS - 1,
        };
        static const struct option options[] = {
                { "period", required_argument, NULL, 'p' },
                { "gauss", no_argument, NULL, 'g' },
                { "sigma", required_argument, NULL, 's' },
                { "count", required_argument, NULL, 'n' },
                { "seed", required_argument, NULL, ARG_SEED },
                { "priority", required_argument, NULL, ARG_PRIORITY },
                { "runtime", required_argument, NULL, ARG_RUNTIME },
                { "bus", required_argument, NULL, 'b' },
                BUS_AUTH_OPTIONS(ARG_AUTH),
                { "connect-timeout", required_argument, NULL, ARG_CONNECT_TIMEOUT },
                { "wait", no_argument, NULL, 'w' },
                PARSE_COMMON_OPTIONS,
                {},
        };
        int opt, longindex, r;

        assert(c);

        while ((opt = (longindex = -1, getopt_long(argc, argv, "p:gs:n:b:wvh", options, &longindex))) >= 0) {
                r = 0;
                switch (opt) {
                case 'p':
                        r = parse_double(optarg, 0.001, 86400, &c->period);
                        break;
                case 'g':
                        c->gauss = true;
                        break;
                case 'w':
                        c->wait = true;
                        break;
                case 's':
                        r = parse_double(optarg, 0, 86400, &c->sigma);
                        break;
                case 'n':
                        r = parse_uint64(optarg, 1, UINT64_MAX, &c->count);
                        break;
                case ARG_SEED:
                        r = parse_uint64(optarg, 0, UINT64_MAX, &c->seed);
                        c->have_seed = true;
                        break;
                case ARG_PRIORITY:
                        r = parse_int(optarg, JOB_GENERATOR_PRIORITY_MIN, JOB_GENERATOR_PRIORITY_MAX,
                                      &c->priority);
                        break;
                case ARG_RUNTIME:
                        r = parse_double(optarg, 0, 86400, &c->runtime);
                        break;
                case 'b':
                        c->bus_url = optarg;
                        break;
                case ARG_CONNECT_TIMEOUT:
                        r = parse_seconds(optarg, 3600, &c->connect_timeout_usec);
                        break;
                default:
                        if (bus_auth_parse_option(&c->auth, opt, ARG_AUTH, optarg))
                                break;
                        r = parse_common_option("sched-producer", opt, help);
                        if (r <= 0)
                                return r;
                        continue;
                }
                if (r < 0)
                        return parse_option_error("sched-producer", options, opt, longindex, optarg, r);
        }
        r = parse_no_arguments("sched-producer", argc, argv);
        if (r < 0)
                return r;
        if (c->wait && c->count == 0) {
                fprintf(stderr, "sched-producer: --wait needs --count: without it there is no last job.\n");
                return -EINVAL;
        }
        return 1;
}

int main(int argc, char *argv[]) {
        ProducerConfig config = PRODUCER_CONFIG_DEFAULT;
        Producer *p = NULL;
        int r;

        log_setup(argv[0]);
        r = parse_argv(argc, argv, &config);
        if (r <= 0)
                return r < 0 ? 2 : 0;

        r = producer_new(&p, &config);
        if (r < 0) {
                log_oom();
                return 1;
        }
        r = producer_run(p);
        producer_free(p);
        return r;
}
