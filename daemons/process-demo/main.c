/* SPDX-License-Identifier: MIT */
/* sched-process-demo: parses the command line and runs the demo's scenarios. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"
#include "log.h"
#include "parse.h"

static void help(void) {
        printf("Usage: sched-process-demo [-s F] [-v] [-h] [--version] COMMAND\n"
               "\n"
               "A tour of the process module: each scenario runs `sleep` children on an sd-event\n"
               "loop and checks the result it must give.\n"
               "\n"
               "Commands:\n"
               "  raw [N]      N processes sleeping 1..N s, polled until all are done (default 3)\n"
               "  wait         a 3 s process, waited on                      -> success\n"
               "  callback     a 3 s process with a done callback            -> success\n"
               "  timeout      a 300 s process with a 5 s timeout            -> timeout\n"
               "  terminate    a 300 s process terminated after 5 s          -> terminated\n"
               "  all          each of the above in turn\n"
               "\n"
               "  -s, --scale F    multiply every duration by F (e.g. 0.1 for a quick run)\n"
               "  -v, --verbose    debug logging\n"
               "  -h, --help       show this help message and exit\n"
               "      --version    show the version\n"
               "\n"
               "Exit status: 0 every result as expected, 1 otherwise, 2 bad usage,\n"
               "128+N when stopped by signal N (SIGINT, SIGTERM).\n");
}

static _printf_(1, 2) int usage_error(const char *format, ...) {
        va_list ap;

        fprintf(stderr, "sched-process-demo: ");
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'sched-process-demo --help'.\n");
        return -EINVAL;
}

/* COMMAND and its arguments, after the options. */
static int parse_command(int argc, char *argv[], DemoConfig *c, DemoCommand *ret) {
        DemoCommand command;

        assert(c);
        assert(ret);

        if (optind >= argc)
                return usage_error("missing COMMAND");
        command = demo_command_from_string(argv[optind]);
        if (command < 0)
                return usage_error("unknown command '%s'", argv[optind]);
        optind++;

        if (command == DEMO_RAW && optind < argc) {
                if (parse_unsigned(argv[optind], 1, DEMO_RAW_COUNT_MAX, &c->raw_count) < 0)
                        return usage_error("raw: N must be a number of processes in 1..64, not '%s'",
                                           argv[optind]);
                optind++;
        }
        if (optind < argc)
                return usage_error("unexpected argument '%s'", argv[optind]);
        *ret = command;
        return 1;
}

static int parse_argv(int argc, char *argv[], DemoConfig *c, DemoCommand *ret) {
        static const struct option options[] = {
                { "scale", required_argument, NULL, 's' },
                PARSE_COMMON_OPTIONS,
                {},
        };
        int opt, r;

        assert(c);
        assert(ret);

        /* Options may come before or after COMMAND ("all --scale 0.1"): getopt moves them first. */
        while ((opt = getopt_long(argc, argv, "s:vh", options, NULL)) >= 0) {
                switch (opt) {
                case 's':
                        if (parse_double(optarg, 0.001, 100, &c->scale) < 0)
                                return usage_error("invalid --scale '%s' (a number in 0.001..100)", optarg);
                        break;
                default:
                        r = parse_common_option("sched-process-demo", opt, help);
                        if (r <= 0)
                                return r;
                        continue;
                }
        }
        return parse_command(argc, argv, c, ret);
}

int main(int argc, char *argv[]) {
        DemoConfig config = DEMO_CONFIG_DEFAULT;
        DemoCommand command = _DEMO_COMMAND_INVALID;
        int r;

        log_setup(argv[0]);
        r = parse_argv(argc, argv, &config, &command);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        return demo_run(&config, command);
}
