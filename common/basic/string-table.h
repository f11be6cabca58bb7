/* SPDX-License-Identifier: MIT */
/*
 * Enum <-> string tables, defined once per enum instead of a switch ladder per direction. The enum
 * counts from 0 to _NAME_MAX - 1 and the table has a string for every value; from_string returns
 * -EINVAL (the enum's _INVALID) for an unknown or NULL string. Header only.
 */
#pragma once

#include <errno.h>
#include <string.h>

#define DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, max) \
        const char *name##_to_string(type v) {                \
                if ((int) v < 0 || (int) v >= (int) (max))    \
                        return NULL;                          \
                return name##_table[v];                       \
        }

#define DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, max)                 \
        type name##_from_string(const char *s) {                                \
                if (!s)                                                         \
                        return (type) -EINVAL;                                  \
                for (int i = 0; i < (int) (max); i++)                           \
                        if (name##_table[i] && strcmp(name##_table[i], s) == 0) \
                                return (type) i;                                \
                return (type) -EINVAL;                                          \
        }

#define DEFINE_STRING_TABLE_LOOKUP(name, type, max)           \
        DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, max) \
        DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, max)
