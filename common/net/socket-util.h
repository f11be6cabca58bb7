/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets of a server: the ones systemd passes (socket activation) or one bound by hand
 * from an address on the command line. Start-up only: the address lookup may block. No state.
 */
#pragma once

#include <stdbool.h>

/* Parses "HOST:PORT", "[V6]:PORT" or "PORT" (every address) and returns a bound, listening,
 * non-blocking, close-on-exec stream socket. -EINVAL for a bad address, -EADDRNOTAVAIL when HOST
 * does not resolve. */
int socket_listen_address(const char *address, int *ret_fd);

/* How many sockets systemd passed (from SD_LISTEN_FDS_START on, unset from the environment), each
 * checked to be a listening TCP stream socket; -EPROTOTYPE for one that is not, with its number in
 * *ret_bad_fd. 0 when not socket-activated. *ret_names (may be NULL) gets their names
 * (FileDescriptorName=; "unknown" without LISTEN_FDNAMES), a strv the caller frees (NULL for 0). */
int socket_activation_fds(int *ret_bad_fd, char ***ret_names);

struct sockaddr_storage;
/* Whether an address is loopback (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104) or AF_UNIX: only this
 * machine has it. */
bool sockaddr_is_loopback(const struct sockaddr_storage *sa);

/* Whether a socket is bound to a loopback address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104) or is an
 * AF_UNIX socket: only this machine can reach it. A negative errno when getsockname() fails. */
int socket_is_loopback(int fd);
