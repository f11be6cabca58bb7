/* SPDX-License-Identifier: MIT */
/*
 * The glue over TLS, end to end on loopback: a server context with a certificate for "localhost"
 * (made by the openssl command in a temporary directory, signed by a CA of the test's), clients
 * that trust that CA or not, tokens in the upgrade, and what each refusal says: an untrusted CA, a
 * name that is not the certificate's, clear text on the TLS port, a 401 from on_upgrade, a close
 * reason from the server, a client certificate that mutual TLS asks for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "harness.h"
#include "log.h"
#include "macro.h"
#include "ws.h"

static char dir[] = "/tmp/test-ws-tls.XXXXXX";
static char ca[128], other_ca[128], cert[128], key[128], client_cert[128], client_key[128];

typedef struct Side {
        WsConn *conn;
        bool opened, closed, failed;
        char reason[160];       /* on_connect_error's, or the close reason */
        char last[64];          /* the last message */
        char bearer[64];        /* server: what the last upgrade carried */
        bool secure, loopback;  /* server: the last upgrade's */
        unsigned refuse_status; /* server: what on_upgrade answers */
} Side;

/* One context serves both ends: libwebsockets 4.1 keeps the index of its OpenSSL data in a global,
 * which a second TLS context in the same process takes over, and the first one's client TLS
 * context is then never freed. The daemons have one context each. */
typedef struct Fixture {
        sd_event *event;
        WsContext *ctx;
        Side server, client;
        int port;
} Fixture;

static Side *side(WsConn *c, void *userdata) {
        Fixture *f = userdata;

        return ws_conn_is_client(c) ? &f->client : &f->server;
}

static void on_open(WsConn *c, void *userdata) {
        Side *s = side(c, userdata);

        s->conn = c;
        s->opened = true;
}

static void on_message(WsConn *c, const char *data, size_t size, void *userdata) {
        Side *s = side(c, userdata);

        (void) snprintf(s->last, sizeof s->last, "%.*s", (int) size, data);
        if (!ws_conn_is_client(c)) /* echo */
                assert_int_equal(ws_conn_send_text(c, data, size), 0);
}

static void on_close(WsConn *c, void *userdata) {
        Side *s = side(c, userdata);

        s->closed = true;
        s->conn = NULL;
        (void) snprintf(s->reason, sizeof s->reason, "%u %s", ws_conn_get_close_code(c),
                        ws_conn_get_close_reason(c));
}

static void on_connect_error(WsConn *c, const char *reason, void *userdata) {
        Side *s = side(c, userdata);

        s->failed = true;
        (void) snprintf(s->reason, sizeof s->reason, "%s", reason);
}

static unsigned on_upgrade(WsConn *c, const WsRequest *req, void *userdata) {
        Side *s = side(c, userdata);

        (void) snprintf(s->bearer, sizeof s->bearer, "%s", req->bearer ?: "");
        s->secure = req->secure;
        s->loopback = req->loopback;
        if (s->refuse_status == 0)
                ws_conn_set_rights(c, 7);
        return s->refuse_status;
}

static const WsHandlers handlers = {
        .on_open = on_open,
        .on_message = on_message,
        .on_close = on_close,
        .on_connect_error = on_connect_error,
        .on_upgrade = on_upgrade,
};

/* A TLS server on an ephemeral loopback port, and the client side of `client` (its TLS and token);
 * client_ca: mutual TLS. */
static Fixture *fixture_new(const char *client_ca, const WsConfig *client) {
        Fixture *f = calloc(1, sizeof *f);
        WsConfig c = client ? *client : (WsConfig){};
        int fd;

        assert_non_null(f);
        c.tls.cert = cert;
        c.tls.key = key;
        c.tls.client_ca = client_ca;
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(ws_context_new(&f->ctx, f->event, &c, &handlers, f), 0);
        fd = harness_listen_tcp(&f->port);
        assert_true(fd >= 0);
        assert_int_equal(ws_context_listen_tls(f->ctx, fd), 0);
        return f;
}

static void fixture_free(Fixture *f) {
        f->ctx = ws_context_free(f->ctx);
        sd_event_unref(f->event);
        free(f);
}

/* Runs the loop until *flag or 5 s. */
static bool run_until(Fixture *f, const bool *flag) {
        long long deadline = harness_now_ms() + 5000;

        while (!*flag && harness_now_ms() < deadline)
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
        return *flag;
}

static void connect_to(Fixture *f, const char *scheme, const char *host) {
        char url[128];

        (void) snprintf(url, sizeof url, "%s://%s:%d/", scheme, host, f->port);
        assert_int_equal(ws_context_connect(f->ctx, url, NULL), 0);
}

static void test_roundtrip_with_token(void **state) {
        Fixture *f = fixture_new(NULL, &(WsConfig){ .tls = { .client = true, .ca = ca },
                                                    .bearer = "s3cret-token-0123456789" });

        connect_to(f, "wss", "localhost");
        assert_true(run_until(f, &f->client.opened));
        assert_true(f->server.secure);
        assert_true(f->server.loopback);
        assert_string_equal(f->server.bearer, "s3cret-token-0123456789");
        assert_int_equal(ws_conn_get_rights(f->server.conn), 7);

        assert_int_equal(ws_conn_send_text(f->client.conn, "hello over TLS", 14), 0);
        while (strcmp(f->client.last, "hello over TLS") != 0)
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
        fixture_free(f);
}

/* An IPv6 address in a wss:// URL: the certificate is checked against the address itself. */
static void test_ipv6_address(void **state) {
        Fixture *f = fixture_new(NULL, &(WsConfig){ .tls = { .client = true, .ca = ca } });
        struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        socklen_t len = sizeof sa;
        char url[64];
        int fd;

        fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(fd >= 0);
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                /* No ::1 on this machine's lo: nothing to check, and said so. */
                fprintf(stderr, "test_ipv6_address: cannot bind [::1]: %m\n");
                close(fd);
                fixture_free(f);
                skip();
        }
        assert_int_equal(listen(fd, 16), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        assert_int_equal(ws_context_listen_tls(f->ctx, fd), 0);
        (void) snprintf(url, sizeof url, "wss://[::1]:%u/", (unsigned) ntohs(sa.sin6_port));
        assert_int_equal(ws_context_connect(f->ctx, url, NULL), 0);
        assert_true(run_until(f, &f->client.opened));
        assert_true(f->server.secure);
        fixture_free(f);
}

static void test_refused_401(void **state) {
        Fixture *f = fixture_new(NULL, &(WsConfig){ .tls = { .client = true, .ca = ca } });

        f->server.refuse_status = 401;
        connect_to(f, "wss", "localhost");
        assert_true(run_until(f, &f->client.failed));
        assert_false(f->server.opened);
        assert_string_equal(f->server.bearer, ""); /* none sent */
        assert_non_null(strstr(f->client.reason, "HTTP 401 Unauthorized"));
        fixture_free(f);
}

static void test_untrusted_ca(void **state) {
        Fixture *f = fixture_new(NULL, &(WsConfig){ .tls = { .client = true, .ca = other_ca } });

        connect_to(f, "wss", "localhost");
        assert_true(run_until(f, &f->client.failed));
        assert_false(f->server.opened);
        assert_non_null(strstr(f->client.reason, "TLS: the server's certificate is not trusted"));
        fixture_free(f);
}

static void test_name_mismatch(void **state) {
        Fixture *f = fixture_new(NULL, &(WsConfig){ .tls = { .client = true, .ca = ca } });

        /* The certificate names localhost only, not the address. */
        connect_to(f, "wss", "127.0.0.1");
        assert_true(run_until(f, &f->client.failed));
        assert_non_null(strstr(f->client.reason, "does not match 127.0.0.1"));
        fixture_free(f);
}

static void test_clear_text_on_tls_port(void **state) {
        Fixture *f = fixture_new(NULL, NULL);

        connect_to(f, "ws", "localhost");
        assert_true(run_until(f, &f->client.failed));
        assert_false(f->server.opened);
        assert_non_null(strstr(f->client.reason, "HTTP 400"));
        assert_non_null(strstr(f->client.reason, "wss://"));
        fixture_free(f);
}

static void test_wss_needs_tls_client(void **state) {
        Fixture *f = fixture_new(NULL, NULL);
        char url[64];

        (void) snprintf(url, sizeof url, "wss://localhost:%d/", f->port);
        assert_int_equal(ws_context_connect(f->ctx, url, NULL), -EPROTONOSUPPORT);
        fixture_free(f);
}

static void test_close_reason(void **state) {
        Fixture *f = fixture_new(NULL, &(WsConfig){ .tls = { .client = true, .ca = ca } });

        connect_to(f, "wss", "localhost");
        assert_true(run_until(f, &f->server.opened));
        assert_true(run_until(f, &f->client.opened));
        ws_conn_close(f->server.conn, WS_CLOSE_POLICY, "forbidden: \x01not\nyours");
        assert_true(run_until(f, &f->client.closed));
        /* The peer's text, printable only. */
        assert_string_equal(f->client.reason, "1008 forbidden: ?not?yours");
        fixture_free(f);
}

static void test_mutual_tls(void **state) {
        Fixture *f = fixture_new(ca, &(WsConfig){ .tls = { .client = true, .ca = ca } });

        connect_to(f, "wss", "localhost");
        assert_true(run_until(f, &f->client.failed));
        assert_false(f->server.opened);
        fixture_free(f);

        f = fixture_new(ca, &(WsConfig){ .tls = { .client = true,
                                                  .ca = ca,
                                                  .client_cert = client_cert,
                                                  .client_key = client_key } });
        connect_to(f, "wss", "localhost");
        assert_true(run_until(f, &f->client.opened));
        fixture_free(f);
}

static void test_bad_files(void **state) {
        WsContext *ctx = NULL;
        sd_event *e = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        /* A key that is not the certificate's. */
        assert_int_equal(ws_context_new(&ctx, e, &(WsConfig){ .tls = { .cert = cert, .key = client_key } },
                                        &handlers, NULL),
                         -EIO);
        assert_null(ctx);
        assert_int_equal(ws_context_new(&ctx, e,
                                        &(WsConfig){ .tls = { .client = true, .ca = "/nonexistent" } },
                                        &handlers, NULL),
                         -ENOENT);
        /* No certificate: no TLS listener. */
        assert_int_equal(ws_context_new(&ctx, e, NULL, &handlers, NULL), 0);
        assert_int_equal(ws_context_listen_tls(ctx, harness_listen_tcp(&(int){ 0 })), -EINVAL);
        ws_context_free(ctx);
        sd_event_unref(e);
}

static void test_parse_url(void **state) {
        char host[64], path[64];
        bool tls;
        int port;

        assert_int_equal(
                ws_parse_url("wss://bus.example/x", host, sizeof host, &port, path, sizeof path, &tls), 0);
        assert_true(tls);
        assert_int_equal(port, 443);
        assert_string_equal(host, "bus.example");
        assert_string_equal(path, "/x");
        assert_int_equal(ws_parse_url("ws://[::1]:8101", host, sizeof host, &port, path, sizeof path, &tls),
                         0);
        assert_false(tls);
        assert_int_equal(port, 8101);
        assert_string_equal(host, "::1");
        assert_int_equal(ws_parse_url("https://x", host, sizeof host, &port, path, sizeof path, &tls),
                         -EINVAL);
}

/* The CA, a second CA nobody trusts, the server's certificate for localhost, a client's. */
static int make_certificates(void **state) {
        char command[4096];

        assert_non_null(mkdtemp(dir));
        (void) snprintf(ca, sizeof ca, "%s/ca.crt", dir);
        (void) snprintf(other_ca, sizeof other_ca, "%s/other-ca.crt", dir);
        (void) snprintf(cert, sizeof cert, "%s/server.crt", dir);
        (void) snprintf(key, sizeof key, "%s/server.key", dir);
        (void) snprintf(client_cert, sizeof client_cert, "%s/client.crt", dir);
        (void) snprintf(client_key, sizeof client_key, "%s/client.key", dir);
        (void) snprintf(
                command, sizeof command,
                "(set -e; cd %s; "
                "ec='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'; "
                "openssl req -x509 $ec -keyout ca.key -out ca.crt -days 2 -subj /CN=ca; "
                "openssl req -x509 $ec -keyout other-ca.key -out other-ca.crt -days 2 -subj /CN=other; "
                "openssl req $ec -keyout server.key -out server.csr -subj /CN=localhost; "
                "printf 'subjectAltName=DNS:localhost,IP:::1\\n' >ext; "
                "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
                "-extfile ext -out server.crt; "
                "openssl req $ec -keyout client.key -out client.csr -subj /CN=client; "
                "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
                "-out client.crt) >%s/openssl.log 2>&1",
                dir, dir);
        if (system(command) != 0) {
                fprintf(stderr,
                        "test-ws-tls: the openssl command failed, see %s/openssl.log "
                        "(scripts/deps.sh installs openssl)\n",
                        dir);
                return -1;
        }
        return 0;
}

static int remove_certificates(void **state) {
        char command[256];

        (void) snprintf(command, sizeof command, "rm -rf %s", dir);
        return system(command) == 0 ? 0 : -1;
}

int main(int argc, char *argv[]) {
        struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip_with_token),
                cmocka_unit_test(test_ipv6_address),
                cmocka_unit_test(test_refused_401),
                cmocka_unit_test(test_untrusted_ca),
                cmocka_unit_test(test_name_mismatch),
                cmocka_unit_test(test_clear_text_on_tls_port),
                cmocka_unit_test(test_wss_needs_tls_client),
                cmocka_unit_test(test_close_reason),
                cmocka_unit_test(test_mutual_tls),
                cmocka_unit_test(test_bad_files),
                cmocka_unit_test(test_parse_url),
        };

        log_setup("test-ws-tls");
        if (argc > 1)
                cmocka_set_test_filter(argv[1]); /* one test by name, or a glob */
        return cmocka_run_group_tests_name("ws-tls", tests, make_certificates, remove_certificates);
}
