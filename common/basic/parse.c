/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "parse.h"

int parse_uint64(const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        unsigned long long v;
        char *end;

        assert(ret);

        if (!s || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end != 0)
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_unsigned(const char *s, unsigned min, unsigned max, unsigned *ret) {
        uint64_t v;
        int r = parse_uint64(s, min, max, &v);

        assert(ret);

        if (r < 0)
                return r;
        *ret = (unsigned) v;
        return 0;
}

int parse_int(const char *s, int min, int max, int *ret) {
        bool negative = s && s[0] == '-';
        uint64_t v;
        long long x;
        int r;

        assert(ret);

        if (!s)
                return -EINVAL;
        /* A sign, then what parse_uint64() takes: the digits alone. */
        r = parse_uint64(s + (s[0] == '-' || s[0] == '+'), 0, (uint64_t) INT_MAX + negative, &v);
        if (r < 0)
                return r;
        x = negative ? -(long long) v : (long long) v;
        if (x < min || x > max)
                return -ERANGE;
        *ret = (int) x;
        return 0;
}

int parse_double(const char *s, double min, double max, double *ret) {
        double v;
        char *end;

        assert(ret);

        if (!s || !*s || isspace((unsigned char) s[0]))
                return -EINVAL;
        /* Decimal only: no hex floats, "inf" or "nan". */
        for (const char *p = s; *p; p++)
                if (!isdigit((unsigned char) *p) && !strchr("+-.eE", *p))
                        return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (errno == ERANGE || !isfinite(v))
                return -ERANGE;
        if (*end != 0 || end == s)
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_seconds(const char *s, double max_sec, uint64_t *ret_usec) {
        double v;
        int r = parse_double(s, 0, max_sec, &v);

        assert(ret_usec);

        if (r < 0)
                return r;
        *ret_usec = (uint64_t) llround(v * (double) USEC_PER_SEC);
        return 0;
}

int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        static const char suffixes[] = "KMG";
        uint64_t v, factor = 1;
        char buf[32];
        size_t n;
        int r;

        assert(ret);

        if (!s)
                return -EINVAL;
        n = strlen(s);
        if (n == 0 || n >= sizeof buf)
                return -EINVAL;
        memcpy(buf, s, n + 1);

        const char *suffix = strchr(suffixes, toupper((unsigned char) buf[n - 1]));
        if (suffix && buf[n - 1] != 0) {
                factor = UINT64_C(1) << (10 * (1 + (suffix - suffixes)));
                buf[--n] = 0;
        }
        r = parse_uint64(buf, 0, UINT64_MAX / factor, &v);
        if (r < 0)
                return r;
        v *= factor;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_option_error(const char *prog, const struct option *options, int opt, int longindex,
                       const char *value, int error) {
        const char *reason = error == -ERANGE ? "out of range" : "not valid";

        if (longindex >= 0)
                fprintf(stderr, "%s: invalid value '%s' for --%s: %s\n", prog, value,
                        options[longindex].name, reason);
        else
                fprintf(stderr, "%s: invalid value '%s' for -%c: %s\n", prog, value, opt, reason);
        return error;
}

int parse_common_option(const char *prog, int opt, void (*help)(void)) {
        assert(prog);
        assert(help);

        switch (opt) {
        case 'v':
                log_set_max_level(LOG_DEBUG);
                return 1;
        case 'h':
                help();
                return 0;
        case PARSE_ARG_VERSION:
                printf("%s " SCHED_VERSION "\n", prog);
                return 0;
        default:
                /* getopt said what was wrong. */
                fprintf(stderr, "Try '%s --help'.\n", prog);
                return -EINVAL;
        }
}

int parse_no_arguments(const char *prog, int argc, char *argv[]) {
        assert(prog);
        assert(argv);

        if (optind < argc) {
                fprintf(stderr, "%s: unexpected argument '%s'. Try '%s --help'.\n", prog, argv[optind],
                        prog);
                return -EINVAL;
        }
        return 1;
}
