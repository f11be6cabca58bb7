/* SPDX-License-Identifier: MIT */
/*
 * What the fuzz targets share: the limits they feed the parser with, and check(), which aborts on a
 * broken invariant so that libFuzzer reports the input like a crash (and the replay under ctest
 * fails).
 */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_MAX_RUNTIME 3600.0
#define FUZZ_FRAME_MAX   (64 * 1024) /* the bus refuses bigger frames before parsing */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(expr)                                                                              \
        do {                                                                                     \
                if (!(expr)) {                                                                   \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                                 \
                }                                                                                \
        } while (0)
