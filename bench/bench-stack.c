/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "bench-stack.h"
#include "bench-util.h"

#define CONNECTED_TIMEOUT_NS (10 * NSEC_PER_SEC)

static bool scheduler_connected(void *userdata) {
        BenchStack *s = userdata;

        return strstr(bench_daemon_status(s->scheduler), "bus connected") != NULL;
}

int bench_stack_connect(BenchStack *s, const char *url, bench_status_t cb, void *userdata) {
        int r;

        assert(s);
        assert(s->bus);
        assert(s->scheduler);
        assert(url);

        r = bench_net_new(&s->net, NULL);
        if (r < 0)
                return r;
        r = bench_daemon_attach(s->bus, bench_net_event(s->net), NULL, NULL);
        if (r < 0)
                return r;
        r = bench_daemon_attach(s->scheduler, bench_net_event(s->net), cb, userdata);
        if (r < 0)
                return r;
        if (cb)
                cb(s->scheduler, bench_daemon_status(s->scheduler), bench_now_ns(), userdata);
        r = bench_net_run_until(s->net, scheduler_connected, s, CONNECTED_TIMEOUT_NS);
        if (r < 0)
                return r;
        r = bench_conn_connect(s->net, url, &s->producer);
        if (r < 0)
                return r;
        return bench_conn_register(s->producer, "producer");
}

void bench_stack_done(BenchStack *s) {
        assert(s);

        s->scheduler = bench_daemon_free(s->scheduler);
        s->bus = bench_daemon_free(s->bus);
        s->net = bench_net_free(s->net);
        s->producer = NULL;
}
