/* SPDX-License-Identifier: MIT */
/*
 * Table: rows of text cells printed in aligned columns, like systemctl list-units: a header
 * (underlined on a colour terminal), two blanks between columns, numbers aligned right, no trailing
 * blanks. Cells are copied; their text must already be safe for a terminal (terminal_escape()).
 * Owned by the verb that prints it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "macro.h"
#include "terminal.h"

typedef struct TableColumn {
        const char *header;
        bool right; /* aligned right: numbers and durations */
} TableColumn;

typedef struct Table Table;

/* `columns` (n of them) must outlive the table. */
int table_new(Table **ret, const TableColumn *columns, size_t n);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);

/* One cell of a row; a cell's text is copied. */
typedef struct TableText {
        const char *text; /* NULL: empty */
        Color color;
} TableText;

/* The next row: `row` holds one cell per column. -ENOMEM. */
int table_add_row(Table *t, const TableText *row);
size_t table_rows(const Table *t);
/* With `header`, the header line first. `colors`: the cells' colours and the header's underline. */
void table_print(const Table *t, FILE *f, bool colors, bool header);
