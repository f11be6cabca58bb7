/* SPDX-License-Identifier: MIT */
/*
 * UvEvent: a libuv loop that runs inside an sd-event loop, so that libwebsockets (which on Debian 12
 * only knows its own poll loop or libuv, libev, glib) shares the one thread and the one loop of a
 * daemon. uv's epoll fd is watched by an sd-event io source; a prepare callback on that source runs
 * the uv loop without blocking before every sd-event poll and arms one sd-event timer for uv's next
 * timeout. Owned by its user (the WsContext); the sd_event outlives it.
 */
#pragma once

#include <sys/types.h>
#include <systemd/sd-event.h>

/* Before uv.h: its sys/param.h keeps a MIN and MAX defined first, macro.h would not. */
#include "macro.h"

#include <uv.h>

typedef struct UvEvent UvEvent;

int uv_event_new(UvEvent **ret, sd_event *e);
/* Closes every handle still open on the loop, runs it until they are gone, then frees it. */
UvEvent *uv_event_free(UvEvent *u);
DEFINE_TRIVIAL_CLEANUP_FUNC(UvEvent *, uv_event_free);

uv_loop_t *uv_event_get_loop(UvEvent *u);

/* Runs whatever uv has ready now, without blocking. For shutdown paths that must make progress
 * while sd-event is not running; returns whether the loop still has active handles. */
bool uv_event_run_once(UvEvent *u);
