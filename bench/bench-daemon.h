/* SPDX-License-Identifier: MIT */
/*
 * BenchDaemon: one daemon under measurement, started the way systemd starts it — listening socket
 * as fd 3 through LISTEN_FDS/LISTEN_PID, readiness, status and watchdog pings through a
 * NOTIFY_SOCKET the benchmark owns — with stderr sent where the benchmark says (a file, /dev/null).
 * Owned by the benchmark that spawned it; freeing it stops the daemon.
 *
 * SCHED_BENCH_WRAP="NAME=COMMAND ARGS" runs the daemon named NAME under a profiler, e.g.
 * SCHED_BENCH_WRAP="sched-scheduler=perf record -g -o /tmp/sched.data --".
 *
 * The notify socket can be watched from an sd-event loop, so a benchmark that runs its own clients
 * on that loop sees every STATUS= change as it happens (and drains the socket promptly: a full
 * datagram queue would block the daemon's sd_notify()).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct BenchDaemon BenchDaemon;

/* Called for every STATUS= line, with the time it was read (bench_now_ns()). */
typedef void (*bench_status_t)(BenchDaemon *d, const char *status, uint64_t now_ns, void *userdata);

/* Starts argv[0] (a path). listen_fd: passed as fd 3 with LISTEN_FDS=1, or -1. stderr_path: where
 * stdout and stderr go (NULL: /dev/null). env_extra: "K=V" strings, NULL-terminated, may be NULL. */
int bench_daemon_spawn(BenchDaemon **ret, char *const argv[], int listen_fd, const char *stderr_path,
                       char *const env_extra[]);
/* SIGTERM, up to 5 s for the exit, then SIGKILL; removes the notify socket. */
BenchDaemon *bench_daemon_free(BenchDaemon *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(BenchDaemon *, bench_daemon_free);

pid_t bench_daemon_pid(BenchDaemon *d);

/* Waits (polling the notify socket) until READY=1 came. -ETIMEDOUT, or -ECHILD if the daemon died. */
int bench_daemon_wait_ready(BenchDaemon *d, int timeout_ms);
/* Reads every queued notify datagram. */
void bench_daemon_drain(BenchDaemon *d);
/* Watches the notify socket from `e`: each datagram is read when it arrives, STATUS= lines go to cb. */
int bench_daemon_attach(BenchDaemon *d, sd_event *e, bench_status_t cb, void *userdata);

/* The last STATUS= text ("" before any), and how many WATCHDOG=1 pings and datagrams came. */
const char *bench_daemon_status(BenchDaemon *d);
unsigned bench_daemon_n_watchdog(BenchDaemon *d);
unsigned bench_daemon_n_datagrams(BenchDaemon *d);

/* A listening TCP socket on 127.0.0.1 with an ephemeral port (for LISTEN_FDS). */
int bench_listen_tcp(int *ret_port);

/* Starts sched-bus at `binary` on a fresh loopback socket (socket activation), with `extra_args`
 * (NULL-terminated, may be NULL) after its name, and waits for READY=1. *ret_url gets
 * "ws://127.0.0.1:PORT". */
int bench_daemon_start_bus(BenchDaemon **ret, const char *binary, char *const extra_args[],
                           const char *stderr_path, char *ret_url, size_t url_size);

/* The number after `key` in a STATUS= text: "done" in "running 0/8, done 17, ..." gives 17. -1 if
 * the key is not there. */
long long bench_status_number(const char *status, const char *key);
