/* SPDX-License-Identifier: MIT */
/*
 * LoadProcs: the processes of bench-bus-load's load (issue 17) and what they share. The benchmark
 * forks its workers as soon as its options are parsed, before any socket or loop exists, and owns
 * them through its LoadProcs: a SOCK_SEQPACKET control socket pair to each (the parent's side of
 * the commands, each answered within a bounded time), whether each is still there, their CPU time,
 * their reaping at the end. A worker runs the function given to procs_new() (worker_main() in
 * bus-load.c: its part of each bus's Load) with a copy of its own, `self` its number. Everything
 * else goes through one MAP_SHARED|MAP_ANONYMOUS mapping made before the fork (Shared: per bus a
 * LoadShared of C11 atomics, and the latency samples), and one eventfd through which a worker's
 * receiver wakes the producer. Knows nothing of the protocol or of a Load.
 */
#pragma once

#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CONNS_MAX    256 /* connections of one role to one bus */
#define TARGETS_MAX  3   /* buses of one comparison: a LoadShared each */
#define PROCS_MAX    16
#define URL_MAX      256
#define BUS_NAME_MAX 32

/* Set by SIGINT or SIGTERM in the parent (bus-load.c): the run going on fails, the buses and
 * workers are stopped in order. */
extern volatile sig_atomic_t interrupted;

/* One receiver connection's figures, written by the process that holds it alone; a cache line of
 * their own, as their neighbours' are written by other processes. */
typedef struct ReceiverShared {
        alignas(64) _Atomic uint64_t received; /* jobs of the run */
        _Atomic uint64_t probes;               /* probes, ever */
        _Atomic uint64_t last_ns;              /* the run's last receipt (bench_now_ns()) */
} ReceiverShared;

/* One bus's load as every process sees it. The producer's process starts and ends runs. When it
 * waits (for the window to open, or all sent, for the last receipts) it says so with `waiting` and
 * `wait_for`, a count that every receiver must reach (that the receivers reach in all, under
 * --dispatch=one), and the receiver that completes it wakes the producer (load_receive()). */
typedef struct LoadShared {
        _Atomic bool running, paced;
        _Atomic bool broken, refused, closed; /* by any process: the run fails */
        alignas(64) _Atomic bool waiting;
        _Atomic uint64_t wait_for;
        ReceiverShared receivers[CONNS_MAX];
} LoadShared;

/* The shared mapping: a LoadShared per bus (the Target's number) and the latency samples of the
 * run going on (one at a time). */
typedef struct Shared {
        LoadShared loads[TARGETS_MAX];
        alignas(64) _Atomic uint64_t n_latencies;
        uint64_t latencies_max;
        double latencies[]; /* µs */
} Shared;

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_BOOL_LOCK_FREE == 2,
               "shared between processes: the atomics must be lock-free");

/* The processes of the load and what they share. The parent's copy owns the workers (it reaps
 * them); each worker has a copy of its own, with `self` its number. */
typedef struct LoadProcs {
        Shared *shared;
        size_t shared_size;
        int wake_fd;        /* eventfd: a worker's receiver wakes the producer */
        unsigned n_workers; /* the receivers are in workers 1 .. n_workers, round robin; 0: here */
        unsigned self;      /* 0: the parent; k: worker k */
        pid_t parent;
        pid_t pids[PROCS_MAX]; /* worker k is [k - 1]; 0 once reaped */
        int fds[PROCS_MAX];    /* the parent's end of each worker's control socket */
        bool dead;             /* a worker is gone (said once) */
} LoadProcs;

typedef enum WorkerOp {
        WORKER_OPEN,
        WORKER_CLOSE,
} WorkerOp;

/* What the parent asks of a worker over its control socket (SOCK_SEQPACKET: one datagram each). The
 * answer is an int: 0, or -errno. */
typedef struct WorkerCommand {
        WorkerOp op;
        unsigned slot;         /* the bus: its LoadShared */
        unsigned n_schedulers; /* OPEN: the load's receivers, of which the worker takes its share */
        char name[BUS_NAME_MAX];
        char url[URL_MAX];
} WorkerCommand;

/* What worker p->self does in its process, `fd` its control socket, `userdata` what the parent gave
 * procs_new() (the fork copied it); returns the worker's exit status. */
typedef int (*ProcsWorkerMain)(LoadProcs *p, int fd, const void *userdata);

/* The cores but one, for the bus. */
unsigned procs_default(void);
/* The shared mapping, with room for n_samples latency samples, and the eventfd, then n_procs - 1 workers,
 * each running worker_main(). */
int procs_new(LoadProcs **ret, unsigned n_procs, uint64_t n_samples, ProcsWorkerMain worker_main,
              const void *userdata);
/* Hangs up on every worker and reaps them (SIGKILL for one that has not gone within 5 s). */
LoadProcs *procs_free(LoadProcs *p);

/* Whether this process holds receiver i. */
bool procs_holds(const LoadProcs *p, unsigned i);
/* A worker's receiver wakes the producer. */
void procs_wake(LoadProcs *p);
/* Worker k is gone (its control socket hung up): said once, with how it ended. */
void procs_note_gone(LoadProcs *p, unsigned k);
/* Sends worker k a command and waits up to timeout_ns for its answer. -ECHILD if it is gone. */
int procs_command(LoadProcs *p, unsigned k, const WorkerCommand *cmd, uint64_t timeout_ns);
/* CPU time of every process of the load: this one and the workers. */
uint64_t procs_cpu_ns(const LoadProcs *p);
/* CPU time of a process, ns; 0 for pid <= 0 (unknown). */
int process_cpu(pid_t pid, uint64_t *ret);
