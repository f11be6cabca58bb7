/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "table.h"
#include "terminal-escape.h"

typedef struct TableCell {
        char *text;
        Color color;
} TableCell;

struct Table {
        const TableColumn *columns;
        size_t n_columns;
        TableCell *cells;
        size_t n_cells, allocated;
};

int table_new(Table **ret, const TableColumn *columns, size_t n) {
        Table *t;

        assert(ret);
        assert(columns);
        assert(n > 0);

        t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->columns = columns;
        t->n_columns = n;
        *ret = t;
        return 0;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i].text);
        free(t->cells);
        return mfree(t);
}

static int table_add(Table *t, const char *text, Color color) {
        char *copy;

        if (t->n_cells == t->allocated) {
                size_t n = MAX(t->allocated * 2, (size_t) 64);
                TableCell *cells = reallocarray(t->cells, n, sizeof *cells);

                if (!cells)
                        return -ENOMEM;
                t->cells = cells;
                t->allocated = n;
        }
        copy = strdup(text ?: "");
        if (!copy)
                return -ENOMEM;
        t->cells[t->n_cells++] = (TableCell){ copy, color };
        return 0;
}

int table_add_row(Table *t, const TableText *row) {
        int r;

        assert(t);
        assert(row);

        for (size_t c = 0; c < t->n_columns; c++) {
                r = table_add(t, row[c].text, row[c].color);
                if (r < 0)
                        return r;
        }
        return 0;
}

size_t table_rows(const Table *t) {
        assert(t);
        return t->n_cells / t->n_columns;
}

static void table_print_cell(FILE *f, const char *text, Color color, bool colors, size_t width, bool right,
                             bool last) {
        size_t w = terminal_width(text), pad = width > w ? width - w : 0;

        if (right)
                fprintf(f, "%*s", (int) pad, "");
        if (colors && color != COLOR_NORMAL)
                fprintf(f, "%s%s%s", color_on(color), text, COLOR_OFF);
        else
                fputs(text, f);
        if (!right && !last)
                fprintf(f, "%*s", (int) pad, "");
        fputs(last ? "\n" : "  ", f);
}

void table_print(const Table *t, FILE *f, bool colors, bool header) {
        _cleanup_free_ size_t *widths = NULL;
        size_t rows;

        assert(t);
        assert(f);

        widths = calloc(t->n_columns, sizeof *widths);
        if (!widths)
                return;
        rows = table_rows(t);
        for (size_t c = 0; c < t->n_columns; c++) {
                widths[c] = header ? terminal_width(t->columns[c].header) : 0;
                for (size_t r = 0; r < rows; r++)
                        widths[c] = MAX(widths[c], terminal_width(t->cells[r * t->n_columns + c].text));
        }

        if (header)
                for (size_t c = 0; c < t->n_columns; c++)
                        table_print_cell(f, t->columns[c].header, COLOR_UNDERLINE, colors, widths[c],
                                         t->columns[c].right, c + 1 == t->n_columns);
        for (size_t r = 0; r < rows; r++) {
                const TableCell *row = &t->cells[r * t->n_columns];
                size_t last = t->n_columns - 1;

                /* Empty cells at the end of a row would leave blanks at the end of the line. */
                while (last > 0 && !row[last].text[0])
                        last--;
                for (size_t c = 0; c <= last; c++)
                        table_print_cell(f, row[c].text, row[c].color, colors, widths[c],
                                         t->columns[c].right, c == last);
        }
}
