/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by every object: scoped cleanup (_cleanup_), ownership hand-over (TAKE_PTR,
 * TAKE_FD) and a few numeric and array macros. Header only; no state.
 */
#pragma once

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_     __attribute__((noreturn))

#define ELEMENTSOF(x)    (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b)        ((a) < (b) ? (a) : (b))
#define MAX(a, b)        ((a) > (b) ? (a) : (b))
#define CLAMP(x, lo, hi) MIN(MAX((x), (lo)), (hi))

/* Evaluates to p after asserting that it is not NULL: `Bus *b = ASSERT_PTR(userdata);`. */
#define ASSERT_PTR(p)                      \
        ({                                 \
                __typeof__(p) _p = (p);    \
                assert(_p);                \
                _p;                        \
        })

/* An assertion whose expression runs even with NDEBUG. */
#define assert_se(expr)                  \
        do {                             \
                if (!(expr))             \
                        abort();         \
        } while (0)

#define USEC_PER_SEC  UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define NSEC_PER_USEC UINT64_C(1000)

/* Hand over ownership: returns the value and leaves NULL (or -EBADF) behind, so the cleanup of the
 * old owner becomes a no-op. */
#define TAKE_PTR(p)                        \
        ({                                 \
                __typeof__(p) *_pp = &(p); \
                __typeof__(p) _v = *_pp;   \
                *_pp = NULL;               \
                _v;                        \
        })

#define TAKE_FD(fd)                \
        ({                         \
                int *_pfd = &(fd); \
                int _v = *_pfd;    \
                *_pfd = -EBADF;    \
                _v;                \
        })

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

/* Closes fd if valid, keeps errno, returns -EBADF so callers can write fd = safe_close(fd). */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void freep(void *p) {
        free(*(void **) p);
}

static inline void closep(int *fd) {
        (void) safe_close(*fd);
}

#define _cleanup_free_  _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Defines name##p(type **p) calling func(*p) when non-NULL, for _cleanup_(). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
        static inline void func##p(type *p) {   \
                if (*p)                         \
                        (void) func(*p);        \
        }
