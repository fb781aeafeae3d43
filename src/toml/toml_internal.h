/* toml_internal.h - the TOML document's in-memory shapes, shared by the parser and the accessors. */
#ifndef HL_TOML_INTERNAL_H
#define HL_TOML_INTERNAL_H

#include "hyperlight/toml.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Table flags: how a table came to be, which decides what may still be added to it. */
enum {
    TF_IMPLICIT = 1u << 0, /* created as a parent by a [a.b] header; may be defined once later */
    TF_HEADER = 1u << 1,   /* defined by a [header] or [[header]] */
    TF_DOTTED = 1u << 2,   /* created by a dotted key; dotted keys may add to it */
    TF_INLINE = 1u << 3,   /* an inline table: sealed */
    AF_TABLES = 1u << 4,   /* an array of tables made by [[header]]: may be appended to */
};

typedef struct hl_toml_entry {
    const char *key;
    uint32_t keylen;
    uint32_t hash;
    hl_toml_span key_span;
    hl_toml_value *value;
} hl_toml_entry;

struct hl_toml_value {
    uint8_t type;
    uint8_t flags;
    hl_toml_span span;
    union {
        struct {
            const char *ptr;
            size_t len;
        } str;
        int64_t i;
        double f;
        bool b;
        hl_toml_datetime dt;
        struct {
            hl_toml_value **items;
            size_t n, cap;
        } arr;
        struct {
            hl_toml_entry *entries;
            uint32_t n, cap;
            uint32_t *index; /* open addressing over entries (index+1, 0 = empty), or NULL */
            uint32_t index_cap;
        } tab;
    } u;
};

typedef struct arena_chunk arena_chunk;

struct hl_toml_doc {
    arena_chunk *chunks;
    hl_toml_value *root;
    hl_toml_error *errors;
    size_t error_count, error_cap;
    bool oom;
};

/* Arena: memory freed with the document. NULL on exhaustion (and doc->oom set). */
void *hl_toml__alloc(hl_toml_doc *doc, size_t size);
char *hl_toml__strdup(hl_toml_doc *doc, const char *s, size_t len);
hl_toml_value *hl_toml__new_value(hl_toml_doc *doc, hl_toml_type type, hl_toml_span span);

uint32_t hl_toml__hash(const char *key, size_t len);
/* Finds a key in a table; NULL when absent. */
hl_toml_entry *hl_toml__table_find(const hl_toml_value *t, const char *key, size_t len, uint32_t h);
/* Appends a key known to be absent. Returns the entry, or NULL when memory runs out. */
hl_toml_entry *hl_toml__table_add(hl_toml_doc *doc, hl_toml_value *t, const char *key, size_t len,
                                  uint32_t h, hl_toml_span key_span, hl_toml_value *value);
/* Appends an item. false when memory runs out. */
bool hl_toml__array_push(hl_toml_doc *doc, hl_toml_value *arr, hl_toml_value *item);

#endif
