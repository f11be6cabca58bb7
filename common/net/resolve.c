/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>

#include "resolve.h"

struct Resolve {
        int fd; /* ours of the pair; the worker owns the other end */
        sd_event_source *io_source;
        resolve_handler_t handler;
        void *userdata;
        ResolveAddress addresses[RESOLVE_ADDRESSES_MAX];
        size_t n_addresses;
};

/* What the worker owns: its end of the pair and a copy of the name. */
typedef struct ResolveRequest {
        int fd;
        char host[];
} ResolveRequest;

/* One datagram, the whole answer. */
typedef struct ResolveAnswer {
        int ret;
        int error;
        unsigned n_addresses;
        ResolveAddress addresses[RESOLVE_ADDRESSES_MAX];
} ResolveAnswer;

static void *resolve_worker(void *p) {
        static const struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
        ResolveRequest *req = p;
        ResolveAnswer answer = {};
        struct addrinfo *ai = NULL;

        answer.ret = getaddrinfo(req->host, NULL, &hints, &ai);
        answer.error = answer.ret == EAI_SYSTEM ? errno : 0;
        for (struct addrinfo *k = ai; k && answer.n_addresses < RESOLVE_ADDRESSES_MAX; k = k->ai_next)
                if (k->ai_addrlen <= sizeof(struct sockaddr_storage)) {
                        ResolveAddress *a = &answer.addresses[answer.n_addresses++];

                        memcpy(&a->sa, k->ai_addr, k->ai_addrlen);
                        a->len = k->ai_addrlen;
                }
        if (ai)
                freeaddrinfo(ai);

        /* Fails harmlessly when the lookup was cancelled: nobody reads the other end any more. */
        (void) send(req->fd, &answer, sizeof answer, MSG_NOSIGNAL);
        (void) safe_close(req->fd);
        free(req);
        return NULL;
}

static int resolve_start_worker(ResolveRequest *req) {
        pthread_attr_t attr;
        sigset_t all, saved;
        pthread_t thread;
        int r;

        assert(req);

        /* The worker takes no signal: sd-event's signalfd and child sources need them blocked in
         * every thread. */
        sigfillset(&all);
        r = pthread_sigmask(SIG_BLOCK, &all, &saved);
        if (r != 0)
                return -r;
        r = pthread_attr_init(&attr);
        if (r == 0) {
                r = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                if (r == 0)
                        r = pthread_create(&thread, &attr, resolve_worker, req);
                (void) pthread_attr_destroy(&attr);
        }
        (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);
        return -r;
}

static int on_answer(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Resolve *r = ASSERT_PTR(userdata);
        ResolveAnswer answer;
        ssize_t n;
        int ret, error;

        assert(s);

        n = recv(fd, &answer, sizeof answer, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n == (ssize_t) sizeof answer && answer.n_addresses <= RESOLVE_ADDRESSES_MAX) {
                ret = answer.ret;
                error = answer.error;
                r->n_addresses = ret == 0 ? answer.n_addresses : 0;
                memcpy(r->addresses, answer.addresses, r->n_addresses * sizeof r->addresses[0]);
        } else {
                ret = EAI_SYSTEM;
                error = n < 0 ? errno : EIO;
        }
        r->io_source = sd_event_source_disable_unref(r->io_source);
        r->fd = safe_close(r->fd);
        /* Last: the handler may free r. */
        r->handler(r, ret, error, r->userdata);
        return 0;
}

int resolve_new(Resolve **ret, sd_event *e, const char *host, resolve_handler_t handler, void *userdata) {
        _cleanup_(resolve_freep) Resolve *r = NULL;
        ResolveRequest *req;
        size_t len;
        int pair[2], k;

        assert(ret);
        assert(e);
        assert(host);
        assert(handler);

        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->fd = -EBADF;
        r->handler = handler;
        r->userdata = userdata;

        len = strlen(host);
        req = malloc(sizeof *req + len + 1);
        if (!req)
                return -ENOMEM;
        memcpy(req->host, host, len + 1);
        if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) < 0) {
                k = -errno;
                free(req);
                return k;
        }
        r->fd = pair[0];
        req->fd = pair[1];

        k = sd_event_add_io(e, &r->io_source, r->fd, EPOLLIN, on_answer, r);
        if (k >= 0)
                k = resolve_start_worker(req);
        if (k < 0) {
                (void) safe_close(req->fd);
                free(req);
                return k;
        }
        (void) sd_event_source_set_description(r->io_source, "resolve");
        *ret = TAKE_PTR(r);
        return 0;
}

Resolve *resolve_free(Resolve *r) {
        if (!r)
                return NULL;
        sd_event_source_disable_unref(r->io_source);
        (void) safe_close(r->fd);
        return mfree(r);
}

const ResolveAddress *resolve_get_addresses(Resolve *r, size_t *ret_n) {
        assert(r);
        assert(ret_n);

        *ret_n = r->n_addresses;
        return r->addresses;
}

const char *resolve_strerror(int ret, int error) {
        return ret == EAI_SYSTEM ? strerror(error) : gai_strerror(ret);
}

bool resolve_is_numeric(const char *host) {
        unsigned char buf[sizeof(struct in6_addr)];

        assert(host);
        return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}
