/* SPDX-License-Identifier: MIT */
/*
 * A scheduler whose bus URL names a host that stops resolving: the lookup hangs on a name server
 * that never answers, and the scheduler's loop must go on meanwhile (job timeouts on time, SIGTERM
 * obeyed). Everything runs in a network and mount namespace of the test's own: only loopback, a
 * private /etc/hosts naming the bus, a private resolv.conf and nsswitch.conf whose one name server is
 * a UDP socket of the test's on 127.0.0.1:53. No query can leave the machine. Needs root (or
 * CAP_SYS_ADMIN); skipped (77) where namespaces cannot be made.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "test-client.h"

#if !defined(BUS_BINARY) || !defined(SCHEDULER_BINARY) || !defined(JOB_SCRIPT)
#error "BUS_BINARY, SCHEDULER_BINARY and JOB_SCRIPT must be defined"
#endif

#define BUS_NAME    "bus.sched.test"
#define TIMEOUT_MS  1000 /* the scheduler's -t */
#define MAX_LATE_MS 100  /* generous: on time is a few ms; a blocked loop is seconds late */
#define N_JOBS      6
#define HOSTS_NAMED "127.0.0.1 localhost\n127.0.0.1 " BUS_NAME "\n"
#define HOSTS_PLAIN "127.0.0.1 localhost\n"
#define RESOLV_CONF "nameserver 127.0.0.1\noptions timeout:5 attempts:2\n"
#define NSSWITCH    "hosts: files dns\n"

static char etc_dir[64];
static int dns_fd = -EBADF; /* the name server that never answers */

typedef struct Fixture {
        Daemon bus, sched;
        int listen_fd;
        char dir[64];
        TestNet *net;
        TestClient *producer;
} Fixture;

static int write_file(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = write(fd, text, strlen(text));
        close(fd);
        return n == (ssize_t) strlen(text) ? 0 : -EIO;
}

/* The private file at `name` in etc_dir, bind-mounted over /etc/`name`. Rewritten in place later:
 * the mount holds the inode, and glibc reads hosts again on every lookup. */
static int bind_etc_file(const char *name, const char *text) {
        char source[128], target[128];
        int r;

        (void) snprintf(source, sizeof source, "%s/%s", etc_dir, name);
        (void) snprintf(target, sizeof target, "/etc/%s", name);
        r = write_file(source, text);
        if (r < 0)
                return r;
        return mount(source, target, NULL, MS_BIND, NULL) < 0 ? -errno : 0;
}

static int write_hosts(const char *text) {
        char path[128];

        (void) snprintf(path, sizeof path, "%s/hosts", etc_dir);
        return write_file(path, text);
}

static void remove_etc_dir(void) {
        static const char *const names[] = { "hosts", "resolv.conf", "nsswitch.conf" };
        char path[128];

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                (void) snprintf(path, sizeof path, "%s/%s", etc_dir, names[i]);
                (void) unlink(path);
        }
        (void) rmdir(etc_dir);
}

static int loopback_up(void) {
        struct ifreq ifr = { .ifr_name = "lo" };
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

        if (fd < 0)
                return -errno;
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                r = -errno;
        ifr.ifr_flags |= IFF_UP;
        if (r == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                r = -errno;
        close(fd);
        return r;
}

static int dns_listen(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_port = htons(53),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

        dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (dns_fd < 0)
                return -errno;
        return bind(dns_fd, (struct sockaddr *) &sa, sizeof sa) < 0 ? -errno : 0;
}

/* The namespaces and the files in them. 77 when namespaces are not available here, 1 on failure. */
static int enter_private_network(void) {
        int r;

        if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
                fprintf(stderr,
                        "SKIP: cannot make a network and mount namespace (unshare: %s); needs root\n",
                        strerror(errno));
                return 77;
        }
        (void) snprintf(etc_dir, sizeof etc_dir, "/tmp/sched-test-resolve-XXXXXX");
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 || !mkdtemp(etc_dir)) {
                perror("private mounts");
                return 1;
        }
        r = loopback_up();
        if (r >= 0)
                r = bind_etc_file("hosts", HOSTS_NAMED);
        if (r >= 0)
                r = bind_etc_file("resolv.conf", RESOLV_CONF);
        if (r >= 0)
                r = bind_etc_file("nsswitch.conf", NSSWITCH);
        if (r >= 0)
                r = dns_listen();
        if (r < 0) {
                fprintf(stderr, "Failed to set up the private network: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}

/* Datagrams the name server got within timeout_ms (it answers none); 0 drains what an earlier test
 * left. */
static unsigned dns_wait_queries(int timeout_ms) {
        long long deadline = harness_now_ms() + timeout_ms;
        unsigned n = 0;
        char buf[512];

        for (;;) {
                struct pollfd p = { .fd = dns_fd, .events = POLLIN };
                long long left = deadline - harness_now_ms();

                while (recv(dns_fd, buf, sizeof buf, MSG_DONTWAIT) >= 0)
                        n++;
                if (n > 0 || left <= 0)
                        return n;
                (void) poll(&p, 1, (int) left);
        }
}

/* Two jobs at a time, each timed out after TIMEOUT_MS; the bus by name. */
static void start_scheduler(Fixture *f, int port) {
        char url[64], timeout[16];
        char *argv[] = { (char *) SCHEDULER_BINARY,
                         (char *) "--bus",
                         url,
                         (char *) "-s",
                         (char *) "2",
                         (char *) "-t",
                         timeout,
                         (char *) "--exec",
                         (char *) JOB_SCRIPT,
                         f->dir,
                         NULL };

        (void) snprintf(url, sizeof url, "ws://" BUS_NAME ":%d", port);
        (void) snprintf(timeout, sizeof timeout, "%g", TIMEOUT_MS / 1000.0);
        assert_int_equal(daemon_spawn(&f->sched, argv, -1, NULL), 0);
        assert_int_equal(daemon_wait_status(&f->bus, "schedulers 1", 10000), 0);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        char *bus_argv[] = { (char *) BUS_BINARY, NULL };
        char url[64];
        int port;

        assert_non_null(f);
        assert_int_equal(write_hosts(HOSTS_NAMED), 0);
        (void) dns_wait_queries(0);
        f->listen_fd = harness_listen_tcp(&port);
        assert_true(f->listen_fd >= 0);
        (void) snprintf(f->dir, sizeof f->dir, "/tmp/sched-test-jobs-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        assert_int_equal(daemon_spawn(&f->bus, bus_argv, f->listen_fd, NULL), 0);
        assert_int_equal(daemon_wait_notify(&f->bus, "READY=1", 10000, NULL, 0), 0);
        start_scheduler(f, port);

        (void) snprintf(url, sizeof url, "ws://127.0.0.1:%d", port);
        assert_int_equal(test_net_new(&f->net), 0);
        assert_int_equal(test_client_connect(f->net, url, &f->producer), 0);
        assert_int_equal(test_client_register(f->producer, "producer"), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        Daemon *daemons[] = { &f->sched, &f->bus };
        char path[128];

        test_net_free(f->net);
        for (size_t i = 0; i < ELEMENTSOF(daemons); i++) {
                if (daemons[i]->pid > 0)
                        assert_int_equal(daemon_stop(daemons[i], SIGTERM, 15000), 0);
                daemon_cleanup(daemons[i]);
        }
        close(f->listen_fd);
        /* What tests/test-job.sh leaves: one file per job. */
        for (unsigned id = 1; id <= N_JOBS; id++) {
                (void) snprintf(path, sizeof path, "%s/grandchild-%u", f->dir, id);
                (void) unlink(path);
        }
        assert_int_equal(rmdir(f->dir), 0);
        free(f);
        return 0;
}

static void submit_jobs(Fixture *f, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                assert_int_equal(test_client_send(f->producer, "{\"cmd\": \"job_request\", \"payload\": "
                                                               "{\"priority\": 3, \"runtime\": 30}}"),
                                 0);
        test_net_run_for(f->net, 50);
}

/* The bus name stops resolving and the bus goes: the scheduler's next connection attempt looks the
 * name up, and that lookup now waits for the silent name server. */
static void make_bus_unresolvable(Fixture *f) {
        assert_int_equal(write_hosts(HOSTS_PLAIN), 0);
        assert_int_equal(daemon_stop(&f->bus, SIGKILL, 5000), 128 + SIGKILL);
        assert_true(dns_wait_queries(5000) > 0);
}

/* Local time of day, in ms, of the log line with " job=ID " and " state=STATE", or -1 while there is
 * none. The scheduler starts each plain stderr line with an ISO timestamp to the millisecond. */
static double job_state_ms(Fixture *f, unsigned id, const char *state) {
        _cleanup_free_ char *log = daemon_read_log(&f->sched);
        char want_id[32], want_state[32];
        double ms = -1;

        (void) snprintf(want_id, sizeof want_id, " job=%u ", id);
        (void) snprintf(want_state, sizeof want_state, " state=%s", state);
        for (char *save = NULL, *line = strtok_r(log, "\n", &save); line && ms < 0;
             line = strtok_r(NULL, "\n", &save)) {
                int hh, mm;
                double ss;

                if (strstr(line, want_id) && strstr(line, want_state) &&
                    sscanf(line, "%*d-%*d-%*dT%d:%d:%lf", &hh, &mm, &ss) == 3)
                        ms = ((hh * 60 + mm) * 60 + ss) * 1000;
        }
        return ms;
}

static double wait_job_state(Fixture *f, unsigned id, const char *state, int timeout_ms) {
        long long deadline = harness_now_ms() + timeout_ms;
        double ms;

        while ((ms = job_state_ms(f, id, state)) < 0) {
                if (harness_now_ms() > deadline) {
                        fprintf(stderr, "no job=%u state=%s within %d ms\n", id, state, timeout_ms);
                        fail();
                }
                harness_sleep_ms(10);
        }
        return ms;
}

static void test_timeouts_while_resolving(void **state) {
        Fixture *f = *state;
        double worst = 0;

        submit_jobs(f, N_JOBS);
        (void) wait_job_state(f, 2, "running", 5000);
        make_bus_unresolvable(f);

        /* Two at a time, each killed after 1 s, the next two started in their place: all of it while
         * the lookup hangs (the name server gives up after 2 x 5 s). */
        for (unsigned id = 1; id <= N_JOBS; id++) {
                double running = wait_job_state(f, id, "running", 30000);
                double late = wait_job_state(f, id, "timeout", 30000) - running - TIMEOUT_MS;

                printf("# job %u: timeout %.0f ms late\n", id, late);
                worst = late > worst ? late : worst;
                assert_true(late < MAX_LATE_MS);
        }
        printf("# worst lateness of %d timeouts while the bus name was being looked up: %.0f ms\n", N_JOBS,
               worst);
        /* The lookup was still under way all along. */
        assert_int_equal(daemon_count_log(&f->sched, "cannot resolve"), 0);
}

static void test_sigterm_while_resolving(void **state) {
        Fixture *f = *state;
        long long start;

        submit_jobs(f, 2);
        (void) wait_job_state(f, 2, "running", 5000);
        make_bus_unresolvable(f);
        harness_sleep_ms(200);

        start = harness_now_ms();
        assert_int_equal(daemon_stop(&f->sched, SIGTERM, 15000), 0);
        printf("# SIGTERM while the bus name was being looked up: exited after %lld ms\n",
               harness_now_ms() - start);
        assert_true(harness_now_ms() - start < 3000);
        assert_int_equal(daemon_count_log(&f->sched, "cannot resolve"), 0);
}

/* The lookup fails in the end (the name server never answered); the scheduler says why and looks the
 * name up again on its next attempt, which finds it. */
static void test_reconnect_after_failed_lookup(void **state) {
        Fixture *f = *state;
        char *argv[] = { (char *) BUS_BINARY, NULL };

        make_bus_unresolvable(f);
        assert_int_equal(daemon_wait_log(&f->sched, "(cannot resolve " BUS_NAME ": ", 1, 30000), 0);
        assert_int_equal(write_hosts(HOSTS_NAMED), 0);
        daemon_cleanup(&f->bus);
        assert_int_equal(daemon_spawn(&f->bus, argv, f->listen_fd, NULL), 0);
        assert_int_equal(daemon_wait_log(&f->sched, "registered as scheduler", 2, 15000), 0);
}

int main(int argc, char *argv[]) {
        struct CMUnitTest tests[] = {
                cmocka_unit_test(test_timeouts_while_resolving),
                cmocka_unit_test(test_sigterm_while_resolving),
                cmocka_unit_test(test_reconnect_after_failed_lookup),
        };
        int r = enter_private_network();

        if (r != 0)
                return r;
        setvbuf(stdout, NULL, _IOLBF, 0);
        r = harness_run_tests("resolve", tests, ELEMENTSOF(tests), setup, teardown, argc, argv);
        remove_etc_dir();
        return r;
}
