/* fuzz_toml.c - libFuzzer target: the TOML parser must survive any input, in both TOML versions. */
#include "hyperlight/toml.h"

#include <stddef.h>
#include <stdint.h>

/* Walks the whole tree so that every accessor runs on what the parser built. */
static size_t walk(const hl_toml_value *v, unsigned depth)
{
    size_t n = 1;
    hl_toml_span s = hl_toml_value_span(v);
    n += s.line + s.column;
    switch (hl_toml_type_of(v)) {
    case HL_TOML_TABLE:
        for (size_t i = 0; i < hl_toml_table_size(v); i++) {
            const char *key;
            size_t keylen;
            hl_toml_span ks;
            const hl_toml_value *c = hl_toml_table_at(v, i, &key, &keylen, &ks);
            n += walk(c, depth + 1) + (hl_toml_table_getn(v, key, keylen) == c);
        }
        break;
    case HL_TOML_ARRAY:
        for (size_t i = 0; i < hl_toml_array_size(v); i++)
            n += walk(hl_toml_array_at(v, i), depth + 1);
        break;
    case HL_TOML_STRING: {
        size_t len;
        const char *str = hl_toml_string(v, &len);
        n += len && str[len - 1];
        break;
    }
    default:
        break;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    hl_toml_options opt = HL_TOML_OPTIONS_INIT;
    opt.version = (data[0] & 1) ? HL_TOML_1_1 : HL_TOML_1_0;
    opt.max_errors = (data[0] & 2) ? 8 : 1;
    opt.max_depth = 64;
    hl_toml_doc *doc = hl_toml_parse((const char *)data + 1, size - 1, &opt);
    if (!doc)
        return 0;
    for (size_t i = 0; i < hl_toml_doc_error_count(doc); i++) {
        const hl_toml_error *e = hl_toml_doc_error(doc, i);
        if (e->span.offset + e->span.length > size - 1 || e->span.line == 0 || e->span.column == 0)
            __builtin_trap(); /* an error must point inside the input */
    }
    if (hl_toml_doc_error_count(doc) == 0)
        (void)walk(hl_toml_doc_root(doc), 0);
    hl_toml_doc_free(doc);
    return 0;
}
