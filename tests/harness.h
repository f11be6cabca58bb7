/* SPDX-License-Identifier: MIT */
/*
 * Harness for the integration tests: runs a real daemon binary the way systemd would — listening
 * socket through LISTEN_FDS/LISTEN_PID, readiness and status through its own NOTIFY_SOCKET — with
 * stderr captured in a file the test can search. One Daemon per spawned process, owned by the test.
 *
 * SCHED_TEST_WRAPPER (e.g. "valgrind --leak-check=full --error-exitcode=99") is put in front of the
 * command line when set, so the same tests check the daemons under valgrind.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HARNESS_NOTIFY_MAX 4096

typedef struct NotifySink NotifySink;

typedef struct Daemon {
        pid_t pid;
        NotifySink *notify; /* its NOTIFY_SOCKET and what came through it; the harness's own */
        char notify_path[108];
        char log_path[256];
        int exit_status; /* like a shell: code, or 128 + signal; -1 while running */
} Daemon;

/* Reads every running daemon's notify socket. sd_notify() blocks a daemon once 10 datagrams wait
 * (net.unix.max_dgram_qlen; systemd raises it to 512 and reads at once), so every wait of the
 * harness and of the test client loop calls this. */
void harness_drain_notify(void);

/* A listening TCP socket on 127.0.0.1 with an ephemeral port. */
int harness_listen_tcp(int *ret_port);
/* A port that nobody listens on (bound once and closed). */
int harness_free_port(void);

/* Starts argv[0] (a path) with the given listening fd passed as fd 3 (or -1 for none) and extra
 * environment ("K=V" strings, NULL-terminated, may be NULL). */
int daemon_spawn(Daemon *d, char *const argv[], int listen_fd, char *const env_extra[]);

/* Waits until a notify datagram has a line starting with `prefix` (e.g. "READY=1"). Fills `buf`
 * with that whole line when given. Returns 0, or -ETIMEDOUT. */
int daemon_wait_notify(Daemon *d, const char *prefix, int timeout_ms, char *buf, size_t size);
/* Like daemon_wait_notify() for a STATUS= line containing `needle`. */
int daemon_wait_status(Daemon *d, const char *needle, int timeout_ms);

/* Waits until the captured stderr contains `needle` `count` times. Returns 0 or -ETIMEDOUT. */
int daemon_wait_log(Daemon *d, const char *needle, unsigned count, int timeout_ms);
unsigned daemon_count_log(Daemon *d, const char *needle);
/* The whole captured stderr, malloc'ed. */
char *daemon_read_log(Daemon *d);

/* Sends `sig` and waits up to timeout_ms for the exit. Returns the exit status (shell-style), or
 * -ETIMEDOUT (then the daemon is SIGKILLed). */
int daemon_stop(Daemon *d, int sig, int timeout_ms);
/* The exit status if the daemon has exited (reaping it), else -EAGAIN. Never kills. */
int daemon_poll(Daemon *d);
/* Kills (if running), reaps and removes the temporary files. Safe to call twice. */
void daemon_cleanup(Daemon *d);

/* A bare WebSocket client, for what the glue's client would not send: handshake without subprotocol,
 * then frames exactly as asked. The calls that read take `wait` (may be NULL): when given, they never
 * block, and call wait(userdata) while no byte is ready, so that a test running the server in its own
 * process (test-ws) turns the server's loop there. */

/* Connects to 127.0.0.1:port over a blocking socket and does the handshake. Returns the fd. */
int harness_raw_ws_connect(int port);
/* The client's side of the handshake on a connected socket: 0 once the server accepted it (status 101
 * and the right accept key); -ETIMEDOUT, -ECONNRESET, or -EPROTO. */
int harness_raw_ws_handshake(int fd, int timeout_ms, void (*wait)(void *userdata), void *userdata);
/* Writes one masked client frame into `out` (room for size + 14 bytes) and returns its length:
 * `opcode` 1 text, 2 binary, 0 continuation, 8 close; `fin` whether it ends the message. */
size_t harness_raw_ws_frame(uint8_t *out, int opcode, bool fin, const void *data, size_t size);
/* Sends one frame as harness_raw_ws_frame() makes it. */
int harness_raw_ws_send(int fd, int opcode, bool fin, const void *data, size_t size);
/* Reads server frames until a close frame, and returns its status code (1005 when it has none);
 * -ETIMEDOUT, or -ECONNRESET when the connection ended without one. Counts the text frames before the
 * close in *ret_n_text when given. */
int harness_raw_ws_read_frames(int fd, int timeout_ms, unsigned *ret_n_text, void (*wait)(void *userdata),
                               void *userdata);
/* harness_raw_ws_read_frames() without counting or `wait`, for a server in another process. */
int harness_raw_ws_read_close(int fd, int timeout_ms);

/* The main() of an integration test: runs, as cmocka group `name`, the tests named on the command
 * line (exact names, or a prefix ending in '*'); all when none is named. A name that matches nothing
 * is an error: exits 1, so a typo cannot pass. Each test without a setup of its own runs between
 * `setup` and `teardown`, the file's fixture: a fresh daemon for every test. */
struct CMUnitTest;
int harness_run_tests(const char *name, struct CMUnitTest *tests, size_t n, int (*setup)(void **state),
                      int (*teardown)(void **state), int argc, char *argv[]);

/* Whether a process with that pid exists (zombies count as gone). */
bool harness_pid_alive(pid_t pid);
/* Monotonic milliseconds. */
long long harness_now_ms(void);
void harness_sleep_ms(int ms);
