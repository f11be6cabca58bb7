/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-tokens.h"

typedef struct BusToken {
        unsigned char text[BUS_TOKEN_MAX]; /* zero-padded, so that every comparison is as long */
        size_t size;
        unsigned rights;
} BusToken;

struct BusTokens {
        BusToken *tokens;
        size_t n, n_allocated;
};

static const struct {
        const char *name;
        unsigned rights;
} roles[] = {
        { "producer", BUS_RIGHT_PRODUCER },
        { "scheduler", BUS_RIGHT_SCHEDULER },
        { "observer", BUS_RIGHT_OBSERVER },
        { "admin", BUS_RIGHTS_ALL },
};

BusTokens *bus_tokens_free(BusTokens *t) {
        if (!t)
                return NULL;
        if (t->tokens)
                explicit_bzero(t->tokens, t->n * sizeof *t->tokens);
        free(t->tokens);
        return mfree(t);
}

static unsigned role_rights(const char *name, size_t len) {
        for (size_t i = 0; i < ELEMENTSOF(roles); i++)
                if (strlen(roles[i].name) == len && strncmp(roles[i].name, name, len) == 0)
                        return roles[i].rights;
        return 0;
}

/* One line: blank, a comment, or "ROLE TOKEN". Adds to t; the error names the line only. */
static int bus_tokens_parse_line(BusTokens *t, char *line, const char *path, unsigned lineno, char *error,
                                 size_t error_size) {
        char *p = line, *role, *token;
        size_t role_len, token_len;
        unsigned rights;

        p += strspn(p, " \t");
        if (*p == 0 || *p == '#')
                return 0;
        role = p;
        role_len = strcspn(p, " \t");
        p += role_len;
        p += strspn(p, " \t");
        token = p;
        token_len = strcspn(p, " \t");
        p += token_len;
        p += strspn(p, " \t");

        rights = role_rights(role, role_len);
        if (rights == 0) {
                (void) snprintf(error, error_size,
                                "%s:%u: unknown role (producer, scheduler, observer or admin)", path,
                                lineno);
                return -EINVAL;
        }
        if (token_len == 0 || *p != 0) {
                (void) snprintf(error, error_size, "%s:%u: expected ROLE TOKEN", path, lineno);
                return -EINVAL;
        }
        token[token_len] = 0;
        if (!bus_token_is_valid(token) || token_len < BUS_TOKEN_MIN) {
                (void) snprintf(error, error_size,
                                "%s:%u: a token is %d to %d printable ASCII characters without spaces", path,
                                lineno, BUS_TOKEN_MIN, BUS_TOKEN_MAX);
                return -EINVAL;
        }
        if (t->n >= BUS_TOKENS_MAX) {
                (void) snprintf(error, error_size, "%s:%u: more than %d tokens", path, lineno,
                                BUS_TOKENS_MAX);
                return -E2BIG;
        }
        /* A token on several lines has the rights of all of them. */
        for (size_t i = 0; i < t->n; i++)
                if (t->tokens[i].size == token_len && memcmp(t->tokens[i].text, token, token_len) == 0) {
                        t->tokens[i].rights |= rights;
                        return 0;
                }
        if (t->n == t->n_allocated) {
                /* Grown as lines come; the old block's tokens are wiped before it goes. */
                size_t n = MAX(t->n_allocated * 2, (size_t) 16);
                BusToken *grown = calloc(n, sizeof *grown);

                if (!grown) {
                        (void) snprintf(error, error_size, "out of memory");
                        return -ENOMEM;
                }
                if (t->n > 0) {
                        memcpy(grown, t->tokens, t->n * sizeof *grown);
                        explicit_bzero(t->tokens, t->n * sizeof *grown);
                }
                free(t->tokens);
                t->tokens = grown;
                t->n_allocated = n;
        }
        t->tokens[t->n] = (BusToken){ .size = token_len, .rights = rights };
        memcpy(t->tokens[t->n].text, token, token_len);
        t->n++;
        return 0;
}

int bus_tokens_load(BusTokens **ret, const char *path, char *error, size_t error_size) {
        _cleanup_(bus_tokens_freep) BusTokens *t = NULL;
        char line[BUS_TOKEN_MAX + 64];
        unsigned lineno = 0;
        FILE *f;
        int r = 0;

        assert(ret);
        assert(path);
        assert(error);

        t = calloc(1, sizeof *t);
        if (!t) {
                (void) snprintf(error, error_size, "out of memory");
                return -ENOMEM;
        }
        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                (void) snprintf(error, error_size, "%s: %s", path, strerror(-r));
                return r;
        }
        while (r >= 0 && fgets(line, sizeof line, f)) {
                size_t len = strlen(line);

                lineno++;
                if (len > 0 && line[len - 1] != '\n' && !feof(f)) {
                        (void) snprintf(error, error_size, "%s:%u: line too long", path, lineno);
                        r = -EINVAL;
                        break;
                }
                line[strcspn(line, "\r\n")] = 0;
                r = bus_tokens_parse_line(t, line, path, lineno, error, error_size);
        }
        if (r >= 0 && ferror(f)) {
                r = -EIO;
                (void) snprintf(error, error_size, "%s: read error", path);
        }
        (void) fclose(f);
        explicit_bzero(line, sizeof line);
        if (r < 0)
                return r;
        if (t->n == 0) {
                (void) snprintf(error, error_size, "%s: no token", path);
                return -EINVAL;
        }
        *ret = TAKE_PTR(t);
        return 0;
}

unsigned bus_tokens_rights(const BusTokens *t, const char *token) {
        unsigned char given[BUS_TOKEN_MAX] = {};
        size_t size;
        unsigned rights = 0;

        assert(t);
        assert(token);

        size = strnlen(token, BUS_TOKEN_MAX + 1);
        if (size == 0 || size > BUS_TOKEN_MAX)
                return 0;
        memcpy(given, token, size);
        /* No early exit, neither within a token nor across them. */
        for (size_t i = 0; i < t->n; i++) {
                unsigned diff = (unsigned) (t->tokens[i].size ^ size);

                for (size_t k = 0; k < BUS_TOKEN_MAX; k++)
                        diff |= (unsigned) (t->tokens[i].text[k] ^ given[k]);
                unsigned equal = ((diff | (0U - diff)) >> (sizeof diff * 8 - 1)) ^ 1U; /* 1 iff diff == 0 */

                rights |= t->tokens[i].rights & (0U - equal); /* all ones iff equal: no branch */
        }
        explicit_bzero(given, sizeof given);
        return rights;
}

size_t bus_tokens_count(const BusTokens *t) {
        return t ? t->n : 0;
}

const char *bus_rights_to_string(unsigned rights, char *buf, size_t size) {
        size_t n = 0;

        assert(buf);
        assert(size > 0);

        buf[0] = 0;
        if ((rights & BUS_RIGHTS_ALL) == BUS_RIGHTS_ALL) {
                (void) snprintf(buf, size, "admin");
                return buf;
        }
        for (size_t i = 0; i + 1 < ELEMENTSOF(roles); i++)
                if (rights & roles[i].rights) {
                        int k = snprintf(buf + n, size - n, "%s%s", n ? "," : "", roles[i].name);

                        if (k < 0 || (size_t) k >= size - n)
                                break;
                        n += (size_t) k;
                }
        return buf;
}
