/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's files (daemons/bus/web/), built into the binary by cmake/embed.cmake: the bus
 * serves them from memory, nothing is read or fetched at run time.
 */
#pragma once

#include <stddef.h>

typedef struct WebAsset {
        const char *path; /* "/" for index.html, else "/NAME" */
        const char *content_type;
        const unsigned char *data; /* `size` bytes, then a NUL */
        size_t size;
} WebAsset;

/* Ends with an entry whose path is NULL. */
extern const WebAsset web_assets[];
