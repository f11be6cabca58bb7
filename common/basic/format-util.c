/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "format-util.h"
#include "macro.h"

const char *format_double(char *buf, size_t size, double v) {
        assert(buf);
        assert(size > 0);

        if (v == floor(v) && fabs(v) <= 0x1p53) {
                (void) snprintf(buf, size, "%.0f", v + 0.0); /* + 0.0: no "-0" */
                return buf;
        }
        for (int precision = 1; precision <= 17; precision++) {
                (void) snprintf(buf, size, "%.*g", precision, v);
                if (strtod(buf, NULL) == v)
                        break;
        }
        return buf;
}
