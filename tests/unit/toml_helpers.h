/* toml_helpers.h - assertions shared by the TOML parser's unit tests: parse or fail, exact errors, spans, lookups. */
#ifndef HL_TESTS_TOML_HELPERS_H
#define HL_TESTS_TOML_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hyperlight/toml.h"

#define assert_span(got, LINE, COL, OFF, LEN)                                                      \
    do {                                                                                           \
        hl_toml_span s_ = (got);                                                                   \
        if (s_.line != (LINE) || s_.column != (COL) || s_.offset != (size_t)(OFF) ||               \
            s_.length != (size_t)(LEN))                                                            \
            fail_msg("span %u:%u +%zu len %zu, expected %u:%u +%zu len %zu", s_.line, s_.column,   \
                     s_.offset, s_.length, (unsigned)(LINE), (unsigned)(COL), (size_t)(OFF),       \
                     (size_t)(LEN));                                                               \
    } while (0)

/* Parses src (strlen bytes) with the given version; fails the test on any error. */
static inline hl_toml_doc *parse_ver(const char *src, hl_toml_version version)
{
    hl_toml_options opt = HL_TOML_OPTIONS_INIT;
    opt.version = version;
    hl_toml_doc *doc = hl_toml_parse(src, strlen(src), &opt);
    assert_non_null(doc);
    if (hl_toml_doc_error_count(doc) > 0) {
        const hl_toml_error *e = hl_toml_doc_error(doc, 0);
        fail_msg("unexpected error at %u:%u: %s", e->span.line, e->span.column, e->message);
    }
    return doc;
}

static inline hl_toml_doc *parse(const char *src)
{
    return parse_ver(src, HL_TOML_1_0);
}

/* Parses len bytes that must give exactly one error (default options: stop at the first), at
 * line:col covering `length` bytes, whose message contains `needle`. */
static inline void expect_error_n(const char *src, size_t len, uint32_t line, uint32_t col, size_t length,
                           const char *needle)
{
    hl_toml_doc *doc = hl_toml_parse(src, len, NULL);
    assert_non_null(doc);
    if (hl_toml_doc_error_count(doc) != 1)
        fail_msg("expected one error for %s, got %zu", src, hl_toml_doc_error_count(doc));
    const hl_toml_error *e = hl_toml_doc_error(doc, 0);
    if (e->span.line != line || e->span.column != col || e->span.length != length)
        fail_msg("error \"%s\" at %u:%u len %zu, expected %u:%u len %zu", e->message, e->span.line,
                 e->span.column, e->span.length, line, col, length);
    if (!strstr(e->message, needle)) fail_msg("message \"%s\" lacks \"%s\"", e->message, needle);
    assert_null(hl_toml_doc_error(doc, 1));
    hl_toml_doc_free(doc);
}

static inline void expect_error(const char *src, uint32_t line, uint32_t col, size_t length,
                         const char *needle)
{
    expect_error_n(src, strlen(src), line, col, length, needle);
}

/* Parses src (default options) that must give exactly this one error: span, message and help. */
static inline void expect_exact(const char *src, uint32_t line, uint32_t col, size_t off, size_t length,
                         const char *message, const char *help)
{
    hl_toml_doc *doc = hl_toml_parse(src, strlen(src), NULL);
    assert_non_null(doc);
    if (hl_toml_doc_error_count(doc) != 1)
        fail_msg("expected one error for %s, got %zu", src, hl_toml_doc_error_count(doc));
    const hl_toml_error *e = hl_toml_doc_error(doc, 0);
    assert_span(e->span, line, col, off, length);
    assert_string_equal(e->message, message);
    if (help)
        assert_string_equal(e->help, help);
    else
        assert_null(e->help);
    hl_toml_doc_free(doc);
}

/* The span of key `name` where it was written in table t. */
static inline hl_toml_span key_span_of(const hl_toml_value *t, const char *name)
{
    hl_toml_span span = {0, 0, 0, 0};
    for (size_t i = 0; i < hl_toml_table_size(t); i++) {
        const char *key;
        size_t keylen;
        hl_toml_table_at(t, i, &key, &keylen, &span);
        if (keylen == strlen(name) && !memcmp(key, name, keylen)) return span;
    }
    fail_msg("no key %s", name);
    return span;
}

static inline const hl_toml_value *get(const hl_toml_value *t, const char *key)
{
    const hl_toml_value *v = hl_toml_table_get(t, key);
    if (!v) fail_msg("no key %s", key);
    return v;
}

#endif
