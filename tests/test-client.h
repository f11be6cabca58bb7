/* SPDX-License-Identifier: MIT */
/*
 * TestClient: a synchronous face on the project's WebSocket glue for integration tests and tools.
 * A TestNet owns one sd_event loop and one WsContext; each TestClient is one connection that records
 * every message it receives and how it ended. Calls run the loop until their condition holds or a
 * timeout passes, so a test reads top to bottom.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "ws.h"

typedef struct TestNet TestNet;

typedef struct TestClient {
        TestNet *net;
        WsConn *conn;
        bool open, closed, connect_failed;
        uint16_t close_code; /* the peer's close code once closed */
        char **messages;     /* received text messages, in order */
        size_t n_messages, n_allocated;
        struct TestClient *next;
} TestClient;

int test_net_new(TestNet **ret);
TestNet *test_net_free(TestNet *n);
sd_event *test_net_event(TestNet *n);

/* Runs the loop until cond(userdata) is true (0) or timeout_ms passes (-ETIMEDOUT). */
int test_net_run_until(TestNet *n, bool (*cond)(void *userdata), void *userdata, int timeout_ms);
/* Runs the loop for ms milliseconds. */
void test_net_run_for(TestNet *n, int ms);

/* Serves WebSocket on a new listening socket on 127.0.0.1 (port in *ret_port): the test plays the
 * bus for a daemon under test. Accepted connections become TestClients too. */
int test_net_listen(TestNet *n, int *ret_port);
/* Waits until `count` connections have been accepted in total; returns the newest in *ret. */
int test_net_wait_accepted(TestNet *n, size_t count, int timeout_ms, TestClient **ret);

/* Connects and waits for the handshake. -ECONNREFUSED when the connection fails, -ETIMEDOUT. */
int test_client_connect(TestNet *n, const char *url, TestClient **ret);
/* Starts connecting without waiting. */
int test_client_connect_async(TestNet *n, const char *url, TestClient **ret);
int test_client_send(TestClient *c, const char *text);
int test_client_send_size(TestClient *c, const char *data, size_t size);
/* Sends {"cmd":"register","type":ROLE} and runs the loop briefly so the bus has it. */
int test_client_register(TestClient *c, const char *role);
/* Waits until at least `count` messages have arrived in total. */
int test_client_wait_messages(TestClient *c, size_t count, int timeout_ms);
/* Waits until the connection is closed. */
int test_client_wait_closed(TestClient *c, int timeout_ms);
/* Message i (0-based), or NULL. */
const char *test_client_message(TestClient *c, size_t i);
void test_client_close(TestClient *c);
