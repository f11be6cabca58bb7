/* SPDX-License-Identifier: MIT */
/*
 * bench-memory: the bus's memory per idle client. Starts sched-bus with room for the largest
 * count (--max-clients), then opens idle WebSocket connections to it in steps (default 0, 1000,
 * 5000) and reads the bus's RSS and private bytes at each step twice: once the bus has settled
 * (0.5 s after the last client, "fresh"), and once the clients have been idle long enough for the
 * bus to give their receive buffers back (--idle-wait, default 5 s: the bus does it after 2 to 4 s
 * without a frame, ws-rxpool.c). Each client does the handshake, registers (as a producer by
 * default) and then stays silent.
 *
 * The clients are plain blocking sockets that speak just enough RFC 6455 (an upgrade request and
 * one masked text frame): thousands of them cost the benchmark little, and nothing of the glue
 * under test runs on this side. Socket buffers live in the kernel and are not in the RSS.
 *
 * The clients never answer the bus's pings and, with --role none, never identify themselves: the
 * bus drops them after its identify timeout (30 s) or three ping intervals. A run takes seconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench-daemon.h"
#include "bench-option.h"
#include "bench-util.h"
#include "bench-ws.h"
#include "parse.h"

#define STEPS_MAX    16
#define SETTLE_NS    (500 * NSEC_PER_MSEC)
#define IO_TIMEOUT_S 5

typedef struct MemoryConfig {
        unsigned steps[STEPS_MAX];
        unsigned n_steps, runs;
        unsigned idle_wait_ms;
        const char *role; /* NULL: do not register */
        const char *bus_binary;
} MemoryConfig;

typedef struct Sample {
        double rss, private_bytes;
} Sample;

/* At one step: 0.5 s after its last client, and again after --idle-wait. */
typedef struct StepResult {
        Sample fresh, idle;
} StepResult;

/* An idle client: the upgrade and, with a role, its register frame; then it stays silent. */
static int client_open(int port, const char *role) {
        _cleanup_close_ int fd = -EBADF;
        unsigned char frame[BENCH_WS_HEADER_MAX + 96], rest[16];
        char url[64], reg[96];
        size_t h, n, n_rest;

        (void) snprintf(url, sizeof url, "ws://127.0.0.1:%d/", port);
        /* The bus sends nothing before the register: no bytes come after the answer. */
        fd = bench_ws_connect(url, (uint64_t) IO_TIMEOUT_S * 1000000000ULL, rest, sizeof rest, &n_rest);
        if (fd < 0)
                return fd;
        if (role) {
                n = (size_t) snprintf(reg, sizeof reg, "{\"cmd\": \"register\", \"type\": \"%s\"}", role);
                h = bench_ws_client_header(frame, BENCH_WS_TEXT, n);
                bench_ws_mask(frame + h, reg, n);
                if (send(fd, frame, h + n, MSG_NOSIGNAL) != (ssize_t) (h + n))
                        return -EIO;
        }
        return TAKE_FD(fd);
}

static int measure(pid_t pid, Sample *ret) {
        ProcStats st;
        uint64_t priv = 0;
        int r;

        r = proc_stats_read(pid, &st);
        if (r < 0)
                return r;
        (void) proc_private_bytes(pid, &priv);
        *ret = (Sample){ .rss = (double) st.rss_bytes, .private_bytes = (double) priv };
        return 0;
}

static void close_all(int *fds, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                fds[i] = safe_close(fds[i]);
}

static int memory_run(const MemoryConfig *c, int *fds, StepResult *ret) {
        _cleanup_(bench_daemon_freep) BenchDaemon *bus = NULL;
        unsigned max = c->steps[c->n_steps - 1], open = 0;
        char max_clients[32], url[64], *args[] = { (char *) "--max-clients", max_clients, NULL };
        int port, r = 0;

        (void) snprintf(max_clients, sizeof max_clients, "%u", max + 100);
        r = bench_daemon_start_bus(&bus, c->bus_binary, args, NULL, url, sizeof url);
        if (r < 0)
                return r;
        port = atoi(strrchr(url, ':') + 1);

        for (unsigned s = 0; s < c->n_steps && r >= 0; s++) {
                while (open < c->steps[s]) {
                        int fd = client_open(port, c->role);

                        if (fd < 0) {
                                fprintf(stderr, "bench-memory: client %u: %s\n", open + 1, strerror(-fd));
                                r = fd;
                                break;
                        }
                        fds[open++] = fd;
                        /* Keep the bus's notify queue from filling up while we are busy. */
                        if (open % 16 == 0)
                                bench_daemon_drain(bus);
                }
                if (r < 0)
                        break;
                bench_sleep_ns(SETTLE_NS);
                bench_daemon_drain(bus);
                r = measure(bench_daemon_pid(bus), &ret[s].fresh);
                if (r < 0)
                        break;
                bench_sleep_ns((uint64_t) c->idle_wait_ms * NSEC_PER_MSEC);
                bench_daemon_drain(bus);
                r = measure(bench_daemon_pid(bus), &ret[s].idle);
        }
        close_all(fds, open);
        return r;
}

static int parse_steps(const char *s, void *userdata) {
        MemoryConfig *c = userdata;
        _cleanup_free_ char *copy = strdup(s);
        char *save = NULL;
        unsigned prev = 0;

        if (!copy)
                return -ENOMEM;
        c->n_steps = 0;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                unsigned v;
                int r = parse_unsigned(tok, 0, 15000, &v);

                if (r < 0)
                        return r;
                if (c->n_steps == STEPS_MAX || (c->n_steps > 0 && v <= prev))
                        return -EINVAL;
                c->steps[c->n_steps++] = prev = v;
        }
        return c->n_steps >= 2 && c->steps[0] == 0 ? 0 : -EINVAL;
}

static void help(void) {
        printf("Usage: bench-memory [OPTIONS]\n"
               "\n"
               "RSS of sched-bus with growing numbers of idle WebSocket clients, and the bytes\n"
               "each client costs.\n"
               "\n"
               "  --steps LIST          client counts, increasing, starting at 0 (default 0,1000,5000)\n"
               "  --role ROLE           what the clients register as: producer, scheduler or none\n"
               "                        (default producer)\n"
               "  --idle-wait MS        how long the clients stay idle before the second reading\n"
               "                        (default 5000; the bus gives an idle client's receive\n"
               "                        buffer back after 2 to 4 s)\n"
               "  --runs N              runs; the summary quotes medians (default 5)\n"
               "  --bus-binary PATH     (default " BUS_BINARY ")\n");
}

/* producer, scheduler, or none (NULL: the clients do not register). */
static int parse_role(const char *s, void *userdata) {
        const char **ret = userdata;

        if (strcmp(s, "none") == 0)
                *ret = NULL;
        else if (strcmp(s, "producer") == 0 || strcmp(s, "scheduler") == 0)
                *ret = s;
        else
                return -EINVAL;
        return 0;
}

static int parse_argv(int argc, char *argv[], MemoryConfig *c) {
        const BenchOption options[] = {
                BENCH_OPT_CUSTOM("steps", 0, parse_steps, c),
                BENCH_OPT_CUSTOM("role", 0, parse_role, &c->role),
                BENCH_OPT_UNSIGNED("idle-wait", 0, 0, 600000, &c->idle_wait_ms),
                BENCH_OPT_RUNS(&c->runs),
                BENCH_OPT_BUS_BINARY(&c->bus_binary),
        };

        return BENCH_PARSE_ARGV("bench-memory", help, options, argc, argv);
}

/* Per idle client, from 0 to the last step and from the step before it to the last, medians. */
static void per_client(const MemoryConfig *c, StepResult res[][STEPS_MAX], bool idle, double *ret_per,
                       double *ret_marginal) {
        unsigned last = c->n_steps - 1;
        double per[BENCH_RUNS_MAX], marginal[BENCH_RUNS_MAX];

        for (unsigned i = 0; i < c->runs; i++) {
                const Sample *zero = idle ? &res[i][0].idle : &res[i][0].fresh,
                             *prev = idle ? &res[i][last - 1].idle : &res[i][last - 1].fresh,
                             *top = idle ? &res[i][last].idle : &res[i][last].fresh;

                per[i] = (top->rss - zero->rss) / c->steps[last];
                marginal[i] = (top->rss - prev->rss) / (c->steps[last] - c->steps[last - 1]);
        }
        *ret_per = bench_median(per, c->runs);
        *ret_marginal = bench_median(marginal, c->runs);
}

static void print_row(const char *run, unsigned clients, const Sample *fresh, const Sample *idle,
                      const Sample *fresh0, const Sample *idle0) {
        printf("%-6s %-8u %10.0f %10.0f %12.0f %12.0f", run, clients, fresh->rss / 1024, idle->rss / 1024,
               fresh->private_bytes / 1024, idle->private_bytes / 1024);
        if (clients > 0)
                printf(" %10.0f %10.0f", (fresh->rss - fresh0->rss) / clients,
                       (idle->rss - idle0->rss) / clients);
        printf("\n");
}

static void print_header(void) {
        printf("%-6s %-8s %10s %10s %12s %12s %10s %10s\n", "run", "clients", "RSS KiB", "idle",
               "private KiB", "idle", "B/client", "idle");
}

static void print_summary(const MemoryConfig *c, StepResult res[][STEPS_MAX]) {
        unsigned last = c->n_steps - 1;
        double per, marginal, idle_per, idle_marginal;

        printf("\n## summary: medians of %u runs (\"idle\": %u ms later, the clients still silent)\n",
               c->runs, c->idle_wait_ms);
        print_header();
        for (unsigned s = 0; s < c->n_steps; s++) {
                double v[6][BENCH_RUNS_MAX];

                for (unsigned i = 0; i < c->runs; i++) {
                        const StepResult *r = &res[i][s], *zero = &res[i][0];

                        v[0][i] = r->fresh.rss / 1024;
                        v[1][i] = r->idle.rss / 1024;
                        v[2][i] = r->fresh.private_bytes / 1024;
                        v[3][i] = r->idle.private_bytes / 1024;
                        v[4][i] = s > 0 ? (r->fresh.rss - zero->fresh.rss) / c->steps[s] : 0;
                        v[5][i] = s > 0 ? (r->idle.rss - zero->idle.rss) / c->steps[s] : 0;
                }
                printf("%-6s %-8u", "median", c->steps[s]);
                for (unsigned k = 0; k < (s > 0 ? 6U : 4U); k++)
                        printf(" %*.0f", k < 2 || k >= 4 ? 10 : 12, bench_median(v[k], c->runs));
                printf("\n");
        }
        per_client(c, res, false, &per, &marginal);
        per_client(c, res, true, &idle_per, &idle_marginal);
        printf("bytes per client, fresh: %.0f (0 -> %u clients), %.0f (%u -> %u)\n", per, c->steps[last],
               marginal, c->steps[last - 1], c->steps[last]);
        printf("bytes per client, idle:  %.0f (0 -> %u clients), %.0f (%u -> %u)\n", idle_per,
               c->steps[last], idle_marginal, c->steps[last - 1], c->steps[last]);
        printf("RESULT memory bytes_per_client=%.0f marginal=%.0f fresh=%.0f fresh_marginal=%.0f "
               "clients=%u\n",
               idle_per, idle_marginal, per, marginal, c->steps[last]);
}

int main(int argc, char *argv[]) {
        MemoryConfig config = { .steps = { 0, 1000, 5000 },
                                .n_steps = 3,
                                .runs = 5,
                                .idle_wait_ms = 5000,
                                .role = "producer",
                                .bus_binary = BUS_BINARY };
        StepResult(*res)[STEPS_MAX] = NULL;
        _cleanup_free_ int *fds = NULL;
        unsigned max;
        long limit;
        int r;

        r = parse_argv(argc, argv, &config);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        max = config.steps[config.n_steps - 1];
        limit = bench_raise_nofile(max + 256);
        if (limit < 0 || (unsigned long) limit < max + 64UL) {
                fprintf(stderr, "bench-memory: cannot raise the open file limit to %u.\n", max + 256);
                return 1;
        }
        res = calloc(config.runs, sizeof *res);
        fds = calloc(max, sizeof(int));
        if (!res || !fds)
                return 1;

        bench_print_header("bus memory per idle client (bench-memory)");
        printf("# clients register as %s; RSS is VmRSS, private is Private_Clean+Private_Dirty "
               "(smaps_rollup)\n",
               config.role ?: "nothing");
        print_header();
        for (unsigned i = 0; i < config.runs; i++) {
                r = memory_run(&config, fds, res[i]);
                if (r < 0) {
                        fprintf(stderr, "bench-memory: run %u: %s\n", i + 1, strerror(-r));
                        free(res);
                        return 1;
                }
                for (unsigned s = 0; s < config.n_steps; s++) {
                        char run[16];

                        (void) snprintf(run, sizeof run, "%u", i + 1);
                        print_row(run, config.steps[s], &res[i][s].fresh, &res[i][s].idle, &res[i][0].fresh,
                                  &res[i][0].idle);
                }
                fflush(stdout);
        }
        print_summary(&config, res);
        free(res);
        return 0;
}
