/* SPDX-License-Identifier: MIT */
/*
 * What a client of a remote bus presents and trusts: the CA its certificate must chain to, a client
 * certificate for mutual TLS, and a token. Each comes from its command-line option, else from the
 * systemd credential of the same purpose ($CREDENTIALS_DIRECTORY/bus-ca, bus-cert, bus-key,
 * bus-token; LoadCredential= in the unit), else is absent. Checked when loaded, so that a missing
 * file is an error that names it, not a failed handshake later. Start-up only: reads files.
 */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#define BUS_TOKEN_MAX 256

/* The options, as every client spells them. */
typedef struct BusAuthOptions {
        const char *ca, *cert, *key, *token_file;
} BusAuthOptions;

/* For a client's option table: ids from `base` to base + 3. */
/* clang-format off */
#define BUS_AUTH_OPTIONS(base)                                          \
        { "ca", required_argument, NULL, (base) },                      \
        { "cert", required_argument, NULL, (base) + 1 },                \
        { "key", required_argument, NULL, (base) + 2 },                 \
        { "token-file", required_argument, NULL, (base) + 3 }
/* clang-format on */
#define BUS_AUTH_N_OPTIONS 4

/* The lines of --help. */
#define BUS_AUTH_HELP                                                                       \
        "      --ca=FILE            CA certificates the bus's certificate must chain to\n"  \
        "                           (wss://; default: the credential bus-ca, else the\n"    \
        "                           system's store)\n"                                      \
        "      --cert=FILE          client certificate, for a bus that asks for one\n"      \
        "      --key=FILE           its key (default: the credentials bus-cert, bus-key)\n" \
        "      --token-file=FILE    file whose first line is the token for the bus\n"       \
        "                           (default: the credential bus-token, if any)\n"

/* Takes `opt` if it is one of BUS_AUTH_OPTIONS(base): true. */
bool bus_auth_parse_option(BusAuthOptions *o, int opt, int base, const char *arg);

typedef struct BusAuth {
        char *ca, *cert, *key; /* paths; NULL: the system's CA store, no client certificate */
        char *token;           /* the token itself; NULL: none */
} BusAuth;

/* Fills *a from the options (each may be NULL) and the credentials. On failure, returns a negative
 * errno and writes the reason, naming the file, to error. */
int bus_auth_load(BusAuth *a, const BusAuthOptions *o, char *error, size_t error_size);
/* Wipes the token and frees everything. */
void bus_auth_done(BusAuth *a);

/* $CREDENTIALS_DIRECTORY/name when that file exists (a new string, or NULL; -ENOMEM). */
int credential_find(const char *name, char **ret);
/* The file of option --FLAG when given, else the credential's when there is one, else NULL; a file
 * that cannot be read is an error (a negative errno), said in error ("Cannot read --FLAG PATH: ..."
 * or "Cannot read credential NAME PATH: ..."). */
int credential_or_option(const char *option, const char *flag, const char *credential, char **ret,
                         char *error, size_t error_size);
/* Whether s is a token: 1 to BUS_TOKEN_MAX printable ASCII characters, no space. */
bool bus_token_is_valid(const char *s);
