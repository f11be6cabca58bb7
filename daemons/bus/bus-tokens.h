/* SPDX-License-Identifier: MIT */
/*
 * BusTokens: the tokens file of --tokens (or the `tokens` credential), one "ROLE TOKEN" per line,
 * and what each token allows. Read at start and on SIGHUP; a token is looked up in time that does
 * not depend on how much of it matches any entry. Tokens never leave this module except as
 * rights, and its memory is wiped when freed. Owned by the Bus.
 */
#pragma once

#include <stddef.h>

#include "bus-auth.h"
#include "macro.h"

/* Rights of a connection, from its token. */
enum {
        BUS_RIGHT_PRODUCER = 1U << 0,  /* register as producer, submit jobs */
        BUS_RIGHT_SCHEDULER = 1U << 1, /* register as scheduler, report job events */
        BUS_RIGHT_OBSERVER = 1U << 2,  /* register as observer, /metrics */
        BUS_RIGHT_ADMIN = 1U << 3,     /* all of the above, and cancel */
        BUS_RIGHTS_ALL = (1U << 4) - 1,
};

#define BUS_TOKENS_MAX 4096 /* lines with a token */
#define BUS_TOKEN_MIN  16

typedef struct BusTokens BusTokens;

/* Parses the file. On failure, a negative errno and the reason (file and line, never a token's
 * text) in error. */
int bus_tokens_load(BusTokens **ret, const char *path, char *error, size_t error_size);
BusTokens *bus_tokens_free(BusTokens *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(BusTokens *, bus_tokens_free);

/* The rights of `token` (the union of its lines'; ADMIN includes all), 0 for an unknown one. Every
 * entry is compared, each in full. */
unsigned bus_tokens_rights(const BusTokens *t, const char *token);
size_t bus_tokens_count(const BusTokens *t);
/* "producer,observer": for log lines. */
const char *bus_rights_to_string(unsigned rights, char *buf, size_t size);
