/* SPDX-License-Identifier: MIT */
/*
 * Times for people, as systemd writes them: spans ("1.234s", "2min 3s", "1h 5min") and wall-clock
 * times of day with milliseconds, from microseconds or from the seconds since the epoch (a double)
 * that the wire carries. No state.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define FORMAT_TIMESPAN_MAX 64
#define FORMAT_CLOCK_MAX    32

/* Below a millisecond in us ("250us"), below a second in ms ("12ms"), below a minute in seconds
 * with up to three decimals ("1.234s", "5s"), from a minute on in whole units ("2min 3s", "1h 5min",
 * "3d 2h"). 0 is "0". Cut to fit `size`, always terminated. Returns buf. */
const char *format_timespan(char *buf, size_t size, uint64_t usec);
/* The span from `from` to `to`, wall-clock seconds since the epoch; 0 when negative (clocks of two
 * machines need not agree). */
uint64_t timespan_usec(double from, double to);

/* Seconds since the epoch as the local "HH:MM:SS.mmm". Returns buf. */
const char *format_clock(char *buf, size_t size, double epoch);
/* The wall clock now, in seconds since the epoch. */
double wallclock_now(void);
