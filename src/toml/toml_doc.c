/* toml_doc.c - the document: arena memory, tables with hashed lookup, arrays, public accessors. */
#include "toml/toml_internal.h"

#include <stdlib.h>
#include <string.h>

struct arena_chunk {
    arena_chunk *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

#define ARENA_CHUNK_MIN ((size_t)64 * 1024)

void *hl_toml__alloc(hl_toml_doc *doc, size_t size)
{
    size = (size + 15u) & ~(size_t)15u;
    arena_chunk *c = doc->chunks;
    if (!c || c->size - c->used < size) {
        size_t want = c ? c->size * 2 : ARENA_CHUNK_MIN;
        if (want > (size_t)16 << 20)
            want = (size_t)16 << 20;
        if (want < size)
            want = size;
        arena_chunk *n = malloc(sizeof(*n) + want);
        if (!n) {
            doc->oom = true;
            return NULL;
        }
        n->size = want;
        n->used = 0;
        if (c && c->size - c->used > want - size) {
            /* the old chunk still has more room than the new one would: keep using it */
            n->next = c->next;
            c->next = n;
            n->used = size;
            return n->data;
        }
        n->next = c;
        doc->chunks = c = n;
    }
    void *p = c->data + c->used;
    c->used += size;
    return p;
}

char *hl_toml__strdup(hl_toml_doc *doc, const char *s, size_t len)
{
    char *d = hl_toml__alloc(doc, len + 1);
    if (!d)
        return NULL;
    if (len)
        memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

hl_toml_value *hl_toml__new_value(hl_toml_doc *doc, hl_toml_type type, hl_toml_span span)
{
    hl_toml_value *v = hl_toml__alloc(doc, sizeof(*v));
    if (!v)
        return NULL;
    memset(v, 0, sizeof(*v));
    v->type = (uint8_t)type;
    v->span = span;
    return v;
}

uint32_t hl_toml__hash(const char *key, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    return h;
}

static bool key_eq(const hl_toml_entry *e, const char *key, size_t len, uint32_t h)
{
    return e->hash == h && e->keylen == len && memcmp(e->key, key, len) == 0;
}

hl_toml_entry *hl_toml__table_find(const hl_toml_value *t, const char *key, size_t len, uint32_t h)
{
    if (!t->u.tab.index) {
        for (uint32_t i = 0; i < t->u.tab.n; i++)
            if (key_eq(&t->u.tab.entries[i], key, len, h))
                return &t->u.tab.entries[i];
        return NULL;
    }
    uint32_t mask = t->u.tab.index_cap - 1;
    for (uint32_t slot = h & mask;; slot = (slot + 1) & mask) {
        uint32_t ix = t->u.tab.index[slot];
        if (!ix)
            return NULL;
        if (key_eq(&t->u.tab.entries[ix - 1], key, len, h))
            return &t->u.tab.entries[ix - 1];
    }
}

#define INDEX_THRESHOLD 8u

static bool rebuild_index(hl_toml_doc *doc, hl_toml_value *t, uint32_t cap)
{
    uint32_t *ix = hl_toml__alloc(doc, (size_t)cap * sizeof(*ix));
    if (!ix)
        return false;
    memset(ix, 0, (size_t)cap * sizeof(*ix));
    for (uint32_t i = 0; i < t->u.tab.n; i++) {
        uint32_t slot = t->u.tab.entries[i].hash & (cap - 1);
        while (ix[slot])
            slot = (slot + 1) & (cap - 1);
        ix[slot] = i + 1;
    }
    t->u.tab.index = ix;
    t->u.tab.index_cap = cap;
    return true;
}

hl_toml_entry *hl_toml__table_add(hl_toml_doc *doc, hl_toml_value *t, const char *key, size_t len,
                                  uint32_t h, hl_toml_span key_span, hl_toml_value *value)
{
    if (t->u.tab.n == UINT32_MAX - 1 || len > UINT32_MAX) {
        doc->oom = true;
        return NULL;
    }
    if (t->u.tab.n == t->u.tab.cap) {
        uint32_t cap = t->u.tab.cap ? t->u.tab.cap * 2 : 4;
        hl_toml_entry *e = hl_toml__alloc(doc, (size_t)cap * sizeof(*e));
        if (!e)
            return NULL;
        if (t->u.tab.n)
            memcpy(e, t->u.tab.entries, (size_t)t->u.tab.n * sizeof(*e));
        t->u.tab.entries = e;
        t->u.tab.cap = cap;
    }
    hl_toml_entry *e = &t->u.tab.entries[t->u.tab.n++];
    e->key = key;
    e->keylen = (uint32_t)len;
    e->hash = h;
    e->key_span = key_span;
    e->value = value;
    uint32_t n = t->u.tab.n;
    if (n > INDEX_THRESHOLD) {
        if (!t->u.tab.index || n * 2 > t->u.tab.index_cap) {
            uint32_t cap = t->u.tab.index_cap ? t->u.tab.index_cap * 2 : 32;
            while (n * 2 > cap)
                cap *= 2;
            if (!rebuild_index(doc, t, cap))
                return NULL;
        } else {
            uint32_t mask = t->u.tab.index_cap - 1, slot = h & mask;
            while (t->u.tab.index[slot])
                slot = (slot + 1) & mask;
            t->u.tab.index[slot] = n;
        }
    }
    return e;
}

bool hl_toml__array_push(hl_toml_doc *doc, hl_toml_value *arr, hl_toml_value *item)
{
    if (arr->u.arr.n == arr->u.arr.cap) {
        size_t cap = arr->u.arr.cap ? arr->u.arr.cap * 2 : 4;
        hl_toml_value **items = hl_toml__alloc(doc, cap * sizeof(*items));
        if (!items)
            return false;
        if (arr->u.arr.n)
            memcpy(items, arr->u.arr.items, arr->u.arr.n * sizeof(*items));
        arr->u.arr.items = items;
        arr->u.arr.cap = cap;
    }
    arr->u.arr.items[arr->u.arr.n++] = item;
    return true;
}

void hl_toml_doc_free(hl_toml_doc *doc)
{
    if (!doc)
        return;
    arena_chunk *c = doc->chunks;
    while (c) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(doc->errors);
    free(doc);
}

size_t hl_toml_doc_error_count(const hl_toml_doc *doc) { return doc ? doc->error_count : 0; }

const hl_toml_error *hl_toml_doc_error(const hl_toml_doc *doc, size_t i)
{
    return doc && i < doc->error_count ? &doc->errors[i] : NULL;
}

const hl_toml_value *hl_toml_doc_root(const hl_toml_doc *doc) { return doc ? doc->root : NULL; }

hl_toml_type hl_toml_type_of(const hl_toml_value *v) { return (hl_toml_type)v->type; }

hl_toml_span hl_toml_value_span(const hl_toml_value *v) { return v->span; }

const char *hl_toml_type_name(hl_toml_type type)
{
    switch (type) {
    case HL_TOML_TABLE: return "table";
    case HL_TOML_ARRAY: return "array";
    case HL_TOML_STRING: return "string";
    case HL_TOML_INTEGER: return "integer";
    case HL_TOML_FLOAT: return "float";
    case HL_TOML_BOOL: return "bool";
    case HL_TOML_DATETIME: return "datetime";
    case HL_TOML_DATETIME_LOCAL: return "datetime-local";
    case HL_TOML_DATE_LOCAL: return "date-local";
    case HL_TOML_TIME_LOCAL: return "time-local";
    }
    return "unknown";
}

size_t hl_toml_table_size(const hl_toml_value *t)
{
    return t && t->type == HL_TOML_TABLE ? t->u.tab.n : 0;
}

const hl_toml_value *hl_toml_table_getn(const hl_toml_value *t, const char *key, size_t keylen)
{
    if (!t || t->type != HL_TOML_TABLE || !key)
        return NULL;
    hl_toml_entry *e = hl_toml__table_find(t, key, keylen, hl_toml__hash(key, keylen));
    return e ? e->value : NULL;
}

const hl_toml_value *hl_toml_table_get(const hl_toml_value *t, const char *key)
{
    return key ? hl_toml_table_getn(t, key, strlen(key)) : NULL;
}

const hl_toml_value *hl_toml_table_at(const hl_toml_value *t, size_t i, const char **key,
                                      size_t *keylen, hl_toml_span *key_span)
{
    if (!t || t->type != HL_TOML_TABLE || i >= t->u.tab.n)
        return NULL;
    const hl_toml_entry *e = &t->u.tab.entries[i];
    if (key)
        *key = e->key;
    if (keylen)
        *keylen = e->keylen;
    if (key_span)
        *key_span = e->key_span;
    return e->value;
}

bool hl_toml_table_is_header(const hl_toml_value *t)
{
    return t && t->type == HL_TOML_TABLE && (t->flags & TF_HEADER);
}

size_t hl_toml_array_size(const hl_toml_value *a)
{
    return a && a->type == HL_TOML_ARRAY ? a->u.arr.n : 0;
}

const hl_toml_value *hl_toml_array_at(const hl_toml_value *a, size_t i)
{
    return a && a->type == HL_TOML_ARRAY && i < a->u.arr.n ? a->u.arr.items[i] : NULL;
}

const char *hl_toml_string(const hl_toml_value *v, size_t *len)
{
    if (!v || v->type != HL_TOML_STRING) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = v->u.str.len;
    return v->u.str.ptr;
}

int64_t hl_toml_int(const hl_toml_value *v) { return v && v->type == HL_TOML_INTEGER ? v->u.i : 0; }

double hl_toml_float(const hl_toml_value *v) { return v && v->type == HL_TOML_FLOAT ? v->u.f : 0.0; }

bool hl_toml_bool(const hl_toml_value *v) { return v && v->type == HL_TOML_BOOL && v->u.b; }

hl_toml_datetime hl_toml_datetime_of(const hl_toml_value *v)
{
    hl_toml_datetime zero = {0};
    if (!v || v->type < HL_TOML_DATETIME)
        return zero;
    return v->u.dt;
}

bool hl_toml_utf8_valid(const char *s, size_t len, size_t *bad_offset)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        /* ASCII fast path, 8 bytes at a time */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            cp = c & 0x07;
        } else {
            goto bad;
        }
        if (len - i < n)
            goto bad;
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                goto bad;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            goto bad;
        i += n;
    }
    return true;
bad:
    if (bad_offset)
        *bad_offset = i;
    return false;
}
