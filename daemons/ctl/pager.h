/* SPDX-License-Identifier: MIT */
/*
 * Pager: the child that pages sched-ctl's table output on a terminal, as systemctl does. Started
 * only when stdout is a terminal; $SYSTEMD_PAGER, then $PAGER, then less, then more; an empty value
 * or "cat" means none. less gets LESS=FRSXMK (or $SYSTEMD_LESS), so that output that fits on one
 * screen is printed and less quits at once. The owner starts it before printing and closes it at
 * the end; stdout goes into the pager between the two.
 */
#pragma once

#include <sys/types.h>

typedef struct Pager {
        pid_t pid; /* 0: no pager */
} Pager;

/* Does nothing (returns 0) when stdout is not a terminal or no pager is wanted. Does not log. */
int pager_open(Pager *p);
/* Flushes stdout, lets the pager finish and waits for it. A no-op without a pager. */
void pager_close(Pager *p);
