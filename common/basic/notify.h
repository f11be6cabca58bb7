/* SPDX-License-Identifier: MIT */
/*
 * notify_text(): sd_notify() over one socket kept open. libsystemd's sd_notify() makes, tunes and
 * closes a socket for every message (ten system calls), which a daemon that says STATUS= on every
 * job change pays per job. Here the socket is made and connected to $NOTIFY_SOCKET once, and is
 * non-blocking: a message that finds the manager's queue full is dropped (-EAGAIN), never waited
 * for, since it is only ever a status. An address this does not know (not a path nor an abstract
 * name), or a socket that fails, falls back to sd_notify() for that message. One per process.
 */
#pragma once

/* What sd_notify() returns: > 0 sent, 0 no $NOTIFY_SOCKET, < 0 a negative errno. */
int notify_text(const char *text);
/* Closes the socket; the next message makes it again (as after a change of $NOTIFY_SOCKET). */
void notify_reset(void);
