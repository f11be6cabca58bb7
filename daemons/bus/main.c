/* SPDX-License-Identifier: MIT */
/* sched-bus: parses the command line and runs the Bus. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "log.h"
#include "parse.h"

static void help(void) {
        printf("Usage: sched-bus [OPTIONS]\n"
               "\n"
               "WebSocket bus of sched-utils: producers submit jobs, every registered scheduler\n"
               "receives them (or one, with --dispatch=one). Takes its listening sockets from\n"
               "systemd (sched-bus.socket) or, started by hand, listens on " BUS_LISTEN_DEFAULT ".\n"
               "\n"
               "  -l, --listen=HOST:PORT     address to listen on without socket activation\n"
               "                             (default " BUS_LISTEN_DEFAULT ")\n"
               "      --state-dir=DIR        keep the job id counter and the held jobs in DIR, so\n"
               "                             that ids never repeat and held jobs survive a restart\n"
               "                             (default $STATE_DIRECTORY; none: in memory only)\n"
               "      --dispatch=MODE        broadcast: every scheduler runs every job (default);\n"
               "                             one: each job runs once, on the scheduler with room\n"
               "      --hold=N               jobs held while no scheduler can take them, in\n"
               "                             priority order; beyond, the least urgent is dropped\n"
               "                             (default 10000; 0: drop at once, as version 1 did)\n"
               "      --stall-timeout=SEC    close a client whose queued messages make no progress\n"
               "                             for SEC, 0 = never (default 10)\n"
               "      --allow-origin=ORIGIN  a web page origin (https://host:port) allowed to open\n"
               "                             a WebSocket besides the bus's own page; may repeat\n"
               "      --tls-cert=FILE        certificate (PEM, with its chain) of the TLS sockets:\n"
               "                             --listen, or those named tls (sched-bus-tls.socket)\n"
               "                             (default: the credential tls-cert, if any)\n"
               "      --tls-key=FILE         its private key (default: the credential tls-key)\n"
               "      --tls-client-ca=FILE   require client certificates signed by this CA\n"
               "                             (default: the credential tls-client-ca, if any)\n"
               "      --tokens=FILE          ROLE TOKEN lines (producer, scheduler, observer,\n"
               "                             admin): a client must present one (Authorization:\n"
               "                             Bearer) on TLS and non-loopback sockets; re-read on\n"
               "                             SIGHUP (default: the credential tokens, if any)\n"
               "      --insecure             serve an address beyond loopback without TLS and tokens\n"
               "      --max-frame=BYTES      largest message accepted, K/M suffixes (default 64K)\n"
               "      --max-queue=N          messages queued for one client before it is closed\n"
               "                             (default 16384; above a quarter of it, or of\n"
               "                             --max-queue-bytes, for a scheduler, producers wait)\n"
               "      --max-queue-bytes=BYTES  bytes queued for one client before it is closed\n"
               "                             (default 4M)\n"
               "      --max-clients=N        connections served at once, 0 = no limit (default 1024)\n"
               "      --max-clients-per-host=N  connections from one address beyond loopback, so\n"
               "                             that one host cannot take every slot, 0 = no limit\n"
               "                             (default 64)\n"
               "      --max-runtime=SEC      largest job runtime accepted (default 86400)\n"
               "      --exit-idle-time=SEC   when socket-activated, exit after SEC without a client\n"
               "      --identify-timeout=SEC close a connection that sends no valid frame within\n"
               "                             SEC, 0 = never (default 30)\n"
               "      --history=N            jobs the bus remembers for status, jobs and cancel\n"
               "                             (default 10000; ~250 bytes each, more with several\n"
               "                             schedulers)\n"
               "  -v, --verbose              log every forwarded job and connection\n"
               "  -h, --help                 show this help\n"
               "      --version              show the version\n"
               "\n"
               "Exit status: 0 on SIGTERM/SIGINT or idle exit, 1 on a setup error, 2 on bad usage.\n");
}

static int parse_argv(int argc, char *argv[], BusConfig *c) {
        enum {
                ARG_STATE_DIR = 0x100,
                ARG_MAX_FRAME,
                ARG_MAX_QUEUE,
                ARG_MAX_QUEUE_BYTES,
                ARG_MAX_CLIENTS,
                ARG_MAX_RUNTIME,
                ARG_EXIT_IDLE,
                ARG_IDENTIFY,
                ARG_HISTORY,
                ARG_DISPATCH,
                ARG_HOLD,
                ARG_STALL,
                ARG_ALLOW_ORIGIN,
                ARG_TLS_CERT,
                ARG_TLS_KEY,
                ARG_TLS_CLIENT_CA,
                ARG_TOKENS,
                ARG_INSECURE,
                ARG_MAX_CLIENTS_PER_HOST,
        };
        static const struct option options[] = {
                { "listen", required_argument, NULL, 'l' },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "max-frame", required_argument, NULL, ARG_MAX_FRAME },
                { "max-queue", required_argument, NULL, ARG_MAX_QUEUE },
                { "max-queue-bytes", required_argument, NULL, ARG_MAX_QUEUE_BYTES },
                { "max-clients", required_argument, NULL, ARG_MAX_CLIENTS },
                { "max-clients-per-host", required_argument, NULL, ARG_MAX_CLIENTS_PER_HOST },
                { "max-runtime", required_argument, NULL, ARG_MAX_RUNTIME },
                { "exit-idle-time", required_argument, NULL, ARG_EXIT_IDLE },
                { "identify-timeout", required_argument, NULL, ARG_IDENTIFY },
                { "history", required_argument, NULL, ARG_HISTORY },
                { "dispatch", required_argument, NULL, ARG_DISPATCH },
                { "hold", required_argument, NULL, ARG_HOLD },
                { "stall-timeout", required_argument, NULL, ARG_STALL },
                { "allow-origin", required_argument, NULL, ARG_ALLOW_ORIGIN },
                { "tls-cert", required_argument, NULL, ARG_TLS_CERT },
                { "tls-key", required_argument, NULL, ARG_TLS_KEY },
                { "tls-client-ca", required_argument, NULL, ARG_TLS_CLIENT_CA },
                { "tokens", required_argument, NULL, ARG_TOKENS },
                { "insecure", no_argument, NULL, ARG_INSECURE },
                PARSE_COMMON_OPTIONS,
                {},
        };
        uint64_t u;
        int opt, longindex, r = 0;

        assert(c);

        while ((opt = (longindex = -1, getopt_long(argc, argv, "l:vh", options, &longindex))) >= 0) {
                switch (opt) {
                case ARG_STATE_DIR:
                        c->state_dir = optarg;
                        break;
                case 'l':
                        free(c->listen);
                        c->listen = strdup(optarg);
                        break;
                case ARG_MAX_FRAME:
                        r = parse_size(optarg, 64, BUS_MAX_FRAME_LIMIT, &u);
                        c->max_frame = u;
                        break;
                case ARG_MAX_QUEUE:
                        r = parse_uint64(optarg, 1, 1u << 24, &u);
                        c->max_queue = u;
                        break;
                case ARG_MAX_QUEUE_BYTES:
                        r = parse_size(optarg, 1024, UINT64_C(1) << 32, &u);
                        c->max_queue_bytes = u;
                        break;
                case ARG_MAX_CLIENTS:
                        r = parse_unsigned(optarg, 0, 1000000, &c->max_clients);
                        break;
                case ARG_MAX_CLIENTS_PER_HOST:
                        r = parse_unsigned(optarg, 0, 1000000, &c->max_clients_per_host);
                        break;
                case ARG_MAX_RUNTIME:
                        r = parse_double(optarg, 0, 365.0 * 86400, &c->max_runtime);
                        break;
                case ARG_EXIT_IDLE:
                        r = parse_seconds(optarg, 365.0 * 86400, &c->exit_idle_usec);
                        break;
                case ARG_IDENTIFY:
                        r = parse_seconds(optarg, 86400, &c->identify_usec);
                        break;
                case ARG_HISTORY:
                        r = parse_uint64(optarg, 1, 10000000, &u);
                        c->history = u;
                        break;
                case ARG_DISPATCH:
                        c->dispatch = bus_dispatch_from_string(optarg);
                        r = c->dispatch < 0 ? -EINVAL : 0;
                        break;
                case ARG_HOLD:
                        r = parse_uint64(optarg, 0, 10000000, &u);
                        c->hold = u;
                        break;
                case ARG_STALL:
                        r = parse_seconds(optarg, 86400, &c->stall_usec);
                        break;
                case ARG_ALLOW_ORIGIN: {
                        size_t n = 0;
                        char **a;

                        while (c->allow_origins && c->allow_origins[n])
                                n++;
                        a = reallocarray(c->allow_origins, n + 2, sizeof(char *));
                        if (!a)
                                return log_oom();
                        a[n] = optarg; /* argv lives as long as we do */
                        a[n + 1] = NULL;
                        c->allow_origins = a;
                        break;
                }
                case ARG_TLS_CERT:
                        c->tls_cert = optarg;
                        break;
                case ARG_TLS_KEY:
                        c->tls_key = optarg;
                        break;
                case ARG_TLS_CLIENT_CA:
                        c->tls_client_ca = optarg;
                        break;
                case ARG_TOKENS:
                        c->tokens = optarg;
                        break;
                case ARG_INSECURE:
                        c->insecure = true;
                        break;
                default:
                        r = parse_common_option("sched-bus", opt, help);
                        if (r <= 0)
                                return r;
                        continue;
                }
                if (r < 0)
                        return parse_option_error("sched-bus", options, opt, longindex, optarg, r);
        }
        r = parse_no_arguments("sched-bus", argc, argv);
        if (r < 0)
                return r;
        return 1;
}

int main(int argc, char *argv[]) {
        BusConfig config = BUS_CONFIG_DEFAULT;
        Bus *b = NULL;
        int r;

        log_setup(argv[0]);
        r = parse_argv(argc, argv, &config);
        if (r <= 0) {
                free(config.listen);
                free(config.allow_origins);
                return r < 0 ? 2 : 0;
        }

        r = bus_new(&b, &config);
        free(config.listen);
        if (r < 0) {
                log_oom();
                free(config.allow_origins);
                return 1;
        }
        r = bus_run(b);
        bus_free(b);
        free(config.allow_origins);
        return r < 0 ? 1 : 0;
}
