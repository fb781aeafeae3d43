/* diag.c - the diagnostic list: owned copies of messages and of the source they point into. */
#include "hyperlight/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/diag_internal.h"

hl_diag_list *hl_diag_list_new(void)
{
    return calloc(1, sizeof(hl_diag_list));
}

static void free_items(hl_diag_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free((char *)list->items[i].message);
        free((char *)list->items[i].file);
        free((char *)list->items[i].help);
    }
    free(list->items);
    list->items = NULL;
    list->count = 0;
    list->cap = 0;
}

static void free_source(hl_diag_list *list)
{
    free(list->source_name);
    free(list->source);
    list->source_name = NULL;
    list->source = NULL;
    list->source_len = 0;
}

void hl_diag_list_clear(hl_diag_list *list)
{
    if (list == NULL)
        return;
    free_items(list);
    free_source(list);
}

void hl_diag_list_free(hl_diag_list *list)
{
    if (list == NULL)
        return;
    hl_diag_list_clear(list);
    free(list);
}

/* A copy of s (NULL stays NULL); *failed is set when memory runs out. */
static char *dup_or_null(const char *s, bool *failed)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    if (copy == NULL) {
        *failed = true;
        return NULL;
    }
    memcpy(copy, s, n + 1);
    return copy;
}

int hl_diag_list_set_source(hl_diag_list *list, const char *name, const char *text, size_t len)
{
    if (list == NULL || name == NULL || (text == NULL && len > 0))
        return -1;
    bool failed = false;
    char *name_copy = dup_or_null(name, &failed);
    char *text_copy = malloc(len + 1);
    if (failed || text_copy == NULL) {
        free(name_copy);
        free(text_copy);
        return -1;
    }
    if (len > 0)
        memcpy(text_copy, text, len);
    text_copy[len] = '\0';
    free_source(list);
    list->source_name = name_copy;
    list->source = text_copy;
    list->source_len = len;
    return 0;
}

/* Formats into a fresh heap string, or NULL when memory runs out. */
static char *vformat(const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

int hl_diag_add(hl_diag_list *list, hl_severity sev, const char *file, uint32_t line,
                uint32_t column, size_t offset, size_t length, const char *help,
                const char *fmt, ...)
{
    if (list == NULL || fmt == NULL)
        return -1;
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 8;
        if (cap > SIZE_MAX / sizeof(hl_diag))
            return -1;
        hl_diag *grown = realloc(list->items, cap * sizeof(hl_diag));
        if (grown == NULL)
            return -1;
        list->items = grown;
        list->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *message = vformat(fmt, ap);
    va_end(ap);
    bool failed = message == NULL;
    char *file_copy = dup_or_null(file, &failed);
    char *help_copy = dup_or_null(help, &failed);
    if (failed) {
        free(message);
        free(file_copy);
        free(help_copy);
        return -1;
    }
    hl_diag *d = &list->items[list->count++];
    d->severity = sev;
    d->message = message;
    d->file = file_copy;
    d->line = line;
    d->column = column;
    d->offset = offset;
    d->length = length;
    d->help = help_copy;
    return 0;
}

size_t hl_diag_count(const hl_diag_list *list)
{
    return list ? list->count : 0;
}

static size_t count_severity(const hl_diag_list *list, hl_severity sev)
{
    size_t n = 0;
    for (size_t i = 0; list != NULL && i < list->count; i++)
        n += list->items[i].severity == sev;
    return n;
}

size_t hl_diag_error_count(const hl_diag_list *list)
{
    return count_severity(list, HL_SEV_ERROR);
}

size_t hl_diag_warning_count(const hl_diag_list *list)
{
    return count_severity(list, HL_SEV_WARNING);
}

const hl_diag *hl_diag_at(const hl_diag_list *list, size_t i)
{
    if (list == NULL || i >= list->count)
        return NULL;
    return &list->items[i];
}

typedef struct ranked {
    hl_diag diag;
    size_t index; /* the original place, so that equal positions keep their order */
} ranked;

static int compare_ranked(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    /* no position (line 0) sorts last */
    uint64_t la = a->diag.line ? a->diag.line : UINT64_MAX, lb = b->diag.line ? b->diag.line : UINT64_MAX;
    if (la != lb)
        return la < lb ? -1 : 1;
    if (a->diag.column != b->diag.column)
        return a->diag.column < b->diag.column ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

int hl_diag_list_sort(hl_diag_list *list, size_t from)
{
    if (list == NULL)
        return -1;
    if (from >= list->count || list->count - from < 2)
        return 0;
    size_t n = list->count - from;
    ranked *tmp = malloc(n * sizeof *tmp);
    if (tmp == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        tmp[i].diag = list->items[from + i];
        tmp[i].index = i;
    }
    qsort(tmp, n, sizeof *tmp, compare_ranked);
    for (size_t i = 0; i < n; i++)
        list->items[from + i] = tmp[i].diag;
    free(tmp);
    return 0;
}

const char *hl_diag_severity_name(hl_severity sev)
{
    switch (sev) {
    case HL_SEV_ERROR:
        return "error";
    case HL_SEV_WARNING:
        return "warning";
    case HL_SEV_NOTE:
        return "note";
    }
    return "error";
}
