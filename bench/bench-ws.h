/* SPDX-License-Identifier: MIT */
/*
 * The client side of RFC 6455 without libwebsockets, for load generators that must stay cheap next
 * to the bus they load: the upgrade on a blocking socket (as bench-memory's idle clients do it),
 * the header of a server frame, and masked client frames. No I/O loop and no state: bench-net.c
 * runs the connections (bench_conn_connect_raw()).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest frame header: 2 bytes, a 64-bit length, the masking key. */
#define BENCH_WS_HEADER_MAX 14

enum {
        BENCH_WS_CONTINUATION = 0x0,
        BENCH_WS_TEXT = 0x1,
        BENCH_WS_BINARY = 0x2,
        BENCH_WS_CLOSE = 0x8,
        BENCH_WS_PING = 0x9,
        BENCH_WS_PONG = 0xa,
};

/* Connects to ws://HOST:PORT[/PATH] (a numeric address or a name getaddrinfo() knows) and does the
 * upgrade, waiting up to timeout_ns for each step; checks the answer's 101 and
 * Sec-WebSocket-Accept. Returns the socket, blocking still, or -errno (-EPROTO: no WebSocket
 * server). Bytes that came after the answer's head (frames) are copied to rest: *ret_rest of them,
 * at most rest_max. */
int bench_ws_connect(const char *url, uint64_t timeout_ns, void *rest, size_t rest_max, size_t *ret_rest);

/* Writes the header of a final client frame of `opcode` with a payload of `size` bytes, masking
 * key included, to p (BENCH_WS_HEADER_MAX bytes of room); returns its length. The payload that
 * follows must be written with bench_ws_mask(). */
size_t bench_ws_client_header(unsigned char *p, unsigned opcode, uint64_t size);
/* Copies size bytes from src to dst masked with the key bench_ws_client_header() wrote (a fixed
 * one: RFC 6455 wants an unpredictable key against proxies that cache, which loopback has none of;
 * the server unmasks every byte whatever the key). dst and src may be the same. */
void bench_ws_mask(void *dst, const void *src, size_t size);

typedef struct BenchWsFrame {
        bool fin;
        unsigned opcode;
        size_t header_size;
        uint64_t size; /* of the payload */
} BenchWsFrame;

/* The header of a server frame at p, of which avail bytes are there: 1 with *ret filled in, 0 when
 * more bytes are needed to know, -EPROTO when it is no valid server frame (masked, reserved bits or
 * opcodes, a control frame fragmented or over 125 bytes, a length over 2^63). */
int bench_ws_parse_header(const void *p, size_t avail, BenchWsFrame *ret);
