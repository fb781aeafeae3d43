/* diag_internal.h - the layout of hl_diag_list, shared by the list and its renderers. */
#ifndef HL_DIAG_INTERNAL_H
#define HL_DIAG_INTERNAL_H

#include <stddef.h>

#include "hyperlight/diag.h"

struct hl_diag_list {
    hl_diag *items; /* count used of cap; each item's strings are owned */
    size_t count, cap;
    char *source_name; /* the file the kept source belongs to, or NULL */
    char *source;      /* a NUL-terminated copy of the source, or NULL */
    size_t source_len;
};

#endif
