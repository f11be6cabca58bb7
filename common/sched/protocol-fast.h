/* SPDX-License-Identifier: MIT */
/*
 * The fast path of frame_parse() for job_event frames, private to the protocol: a reporting
 * scheduler sends eight of them per job, and building a jansson tree for each costs ten times what
 * the bus can spend on one. It reads the frame in one pass with JsonScan and takes only frames the
 * jansson path accepts, with the same events; anything else, the jansson path sees and judges.
 */
#pragma once

#include <stddef.h>

#include "protocol.h"

/* Returns 1 with *f filled as frame_parse() fills it for the same bytes, but for f->msg, which stays
 * NULL: the signal and reason strings live in the malloc()ed block of f->events_array, after the
 * events, so that frame_done() frees them together. Returns 0, *f untouched, for anything else: not
 * a job_event, invalid JSON, an invalid event, and a few valid frames it leaves to jansson too (a
 * "cmd" other than "job_event" that a later "cmd" replaces; an invalid "events" that a later one
 * replaces; a NUL byte right after a number or literal, which jansson 2.14 skips). -ENOMEM leaves
 * *f untouched as well. The caller falls back to jansson for anything but 1. */
int frame_parse_job_event_fast(Frame *f, const void *data, size_t size);

/* The same for job_request frames: returns 1 with *f filled as frame_parse() fills it, but for
 * f->payload and f->msg, which stay NULL: the payload is f->payload_text, the bytes of the payload
 * object in `data`. Declines (0, *f untouched) anything but a valid job_request whose top-level
 * "cmd", "ref" and "payload" and whose payload's "priority" and "runtime" each come once, and whose
 * payload has no "id" (the bus's would have to replace it): jansson judges those. -ENOMEM too. */
int frame_parse_job_request_fast(Frame *f, const void *data, size_t size, double max_runtime);
