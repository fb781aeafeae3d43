/* hyperfile_internal.h - the hyperfile loader's state, shared by its reading and checking halves. */
#ifndef HL_HYPERFILE_INTERNAL_H
#define HL_HYPERFILE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hyperlight/config.h"
#include "hyperlight/diag.h"
#include "hyperlight/toml.h"

/* The values one table of the file (the top level or one profile) sets, already checked. */
typedef struct hl_layer {
    bool set[HL_CFG_FIELD_COUNT];
    uint64_t value[HL_CFG_FIELD_COUNT];
    const char *text[HL_CFG_FIELD_COUNT]; /* a PATH's text, in the parsed document */
    size_t text_len[HL_CFG_FIELD_COUNT];
    hl_toml_span key_span[HL_CFG_FIELD_COUNT];
    hl_toml_span value_span[HL_CFG_FIELD_COUNT];
} hl_layer;

typedef struct hl_loader {
    const char *name;         /* the display name of the file */
    const hl_policy *policy;  /* may be NULL */
    hl_diag_list *diags;      /* may be NULL */
    size_t errors;            /* errors found, whether or not diags records them */
    bool nomem;               /* a diagnostic could not be recorded */
} hl_loader;

/* Adds a diagnostic at span (NULL: about the file as a whole, no position); counts errors. */
void hl_loader_report(hl_loader *ld, hl_severity sev, const hl_toml_span *span, const char *help,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Checks every key of a table: the top level (profile == NULL; `hyperfile_version` is checked
 * and `sandbox` skipped, the caller handles it) or a profile (profile: its name as shown in
 * messages, from hl_loader_key_text()). Each valid setting
 * goes into layer; each problem becomes a diagnostic. */
void hl_loader_read_table(hl_loader *ld, const hl_toml_value *table, const char *profile,
                          hl_layer *layer);

/* The key as shown in a message: `name` when it is a bare key, else a quoted string. */
void hl_loader_key_text(const char *key, size_t len, char *buf, size_t size);

#endif
