/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus-auth.h"
#include "macro.h"

int credential_find(const char *name, char **ret) {
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        char *path;

        assert(name);
        assert(ret);

        *ret = NULL;
        if (!dir || !*dir)
                return 0;
        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        if (access(path, F_OK) < 0) {
                free(path);
                return 0;
        }
        *ret = path;
        return 0;
}

bool bus_token_is_valid(const char *s) {
        size_t n = 0;

        assert(s);

        for (; s[n]; n++)
                if (s[n] <= ' ' || s[n] > '~')
                        return false;
        return n >= 1 && n <= BUS_TOKEN_MAX;
}

int credential_or_option(const char *option, const char *flag, const char *credential, char **ret,
                         char *error, size_t error_size) {
        char *path = NULL;
        int r;

        assert(ret);

        if (option) {
                path = strdup(option);
                if (!path)
                        return -ENOMEM;
        } else {
                r = credential_find(credential, &path);
                if (r < 0)
                        return r;
        }
        if (path && access(path, R_OK) < 0) {
                r = -errno;
                (void) snprintf(error, error_size, "Cannot read %s%s %s: %s", option ? "--" : "credential ",
                                option ? flag : credential, path, strerror(-r));
                free(path);
                return r;
        }
        *ret = path;
        return 0;
}

/* The first line of the file, which must be a token. */
static int bus_auth_read_token(const char *path, char **ret, char *error, size_t error_size) {
        char buf[BUS_TOKEN_MAX + 2] = {};
        FILE *f;
        int r = 0;

        assert(path);
        assert(ret);

        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                (void) snprintf(error, error_size, "Cannot read the token file %s: %s", path, strerror(-r));
                return r;
        }
        if (!fgets(buf, sizeof buf, f))
                buf[0] = 0;
        (void) fclose(f);
        buf[strcspn(buf, "\r\n")] = 0;
        if (!bus_token_is_valid(buf)) {
                (void) snprintf(error, error_size,
                                "The token file %s does not start with a token (1 to %d printable ASCII "
                                "characters without spaces on the first line)",
                                path, BUS_TOKEN_MAX);
                r = -EINVAL;
        } else {
                *ret = strdup(buf);
                if (!*ret)
                        r = -ENOMEM;
        }
        explicit_bzero(buf, sizeof buf);
        return r;
}

bool bus_auth_parse_option(BusAuthOptions *o, int opt, int base, const char *arg) {
        assert(o);

        if (opt < base || opt >= base + BUS_AUTH_N_OPTIONS)
                return false;
        *(opt == base       ? &o->ca
          : opt == base + 1 ? &o->cert
          : opt == base + 2 ? &o->key
                            : &o->token_file) = arg;
        return true;
}

int bus_auth_load(BusAuth *a, const BusAuthOptions *o, char *error, size_t error_size) {
        _cleanup_free_ char *token_path = NULL;
        const char *ca = o ? o->ca : NULL, *cert = o ? o->cert : NULL, *key = o ? o->key : NULL,
                   *token_file = o ? o->token_file : NULL;
        int r;

        assert(a);
        assert(error);

        *a = (BusAuth){};
        (void) snprintf(error, error_size, "Out of memory");
        r = credential_or_option(ca, "ca", "bus-ca", &a->ca, error, error_size);
        if (r >= 0)
                r = credential_or_option(cert, "cert", "bus-cert", &a->cert, error, error_size);
        if (r >= 0)
                r = credential_or_option(key, "key", "bus-key", &a->key, error, error_size);
        if (r >= 0 && !a->cert != !a->key) {
                (void) snprintf(error, error_size,
                                "A client certificate needs its key: give both --cert and --key");
                r = -EINVAL;
        }
        if (r >= 0)
                r = credential_or_option(token_file, "token-file", "bus-token", &token_path, error,
                                         error_size);
        if (r >= 0 && token_path)
                r = bus_auth_read_token(token_path, &a->token, error, error_size);
        if (r < 0)
                bus_auth_done(a);
        return r;
}

void bus_auth_done(BusAuth *a) {
        assert(a);

        if (a->token)
                explicit_bzero(a->token, strlen(a->token));
        a->token = mfree(a->token);
        a->ca = mfree(a->ca);
        a->cert = mfree(a->cert);
        a->key = mfree(a->key);
}
