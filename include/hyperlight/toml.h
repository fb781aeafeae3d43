/* toml.h - a generic TOML 1.0.0 / 1.1.0 parser that keeps the source position of everything. */
#ifndef HYPERLIGHT_TOML_H
#define HYPERLIGHT_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hyperlight/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* This module knows nothing of Hyperlight: it turns TOML text into a tree of values, each of
 * which remembers where it came from. A document owns all of its memory (one arena); values,
 * keys and strings stay valid until hl_toml_doc_free(). */

typedef enum hl_toml_version {
    HL_TOML_1_0 = 0, /* TOML 1.0.0 (the default) */
    HL_TOML_1_1 = 1, /* TOML 1.1.0: \e and \xHH escapes, optional seconds, multi-line inline tables */
} hl_toml_version;

typedef enum hl_toml_type {
    HL_TOML_TABLE,
    HL_TOML_ARRAY,
    HL_TOML_STRING,
    HL_TOML_INTEGER,
    HL_TOML_FLOAT,
    HL_TOML_BOOL,
    HL_TOML_DATETIME,       /* offset date-time: 1979-05-27T07:32:00Z */
    HL_TOML_DATETIME_LOCAL, /* local date-time: 1979-05-27T07:32:00 */
    HL_TOML_DATE_LOCAL,     /* local date: 1979-05-27 */
    HL_TOML_TIME_LOCAL,     /* local time: 07:32:00 */
} hl_toml_type;

/* A place in the source. line and column are 1-based; column counts Unicode code points (a tab
 * is one). offset and length are in bytes, so source[offset .. offset+length) is the exact text. */
typedef struct hl_toml_span {
    uint32_t line;
    uint32_t column;
    size_t offset;
    size_t length;
} hl_toml_span;

typedef struct hl_toml_datetime {
    int16_t year;          /* date part, when the type has one */
    uint8_t month, day;
    uint8_t hour, minute, second; /* time part, when the type has one */
    uint32_t nanosecond;
    int16_t offset_minutes; /* HL_TOML_DATETIME only: minutes east of UTC ("Z" is 0) */
} hl_toml_datetime;

/* Parser limits and options. Start from HL_TOML_OPTIONS_INIT (it sets struct_size: new members
 * are appended, and zero keeps meaning "the default"). Zero in any field means "use the
 * default". */
typedef struct hl_toml_options {
    size_t struct_size;      /* sizeof(hl_toml_options) as the caller compiled it */
    hl_toml_version version; /* HL_TOML_1_0 by default */
    size_t max_input_size;   /* bytes; default 256 MiB */
    uint32_t max_depth;      /* nesting of arrays, inline tables and dotted keys; default 256;
                                HL_TOML_MAX_DEPTH_UNLIMITED for no limit but memory */
    uint32_t max_errors;     /* errors collected before the parser gives up; default 1, i.e.
                                stop at the first; more makes it resynchronise at the next line */
} hl_toml_options;

#define HL_TOML_OPTIONS_INIT HL_STRUCT_INIT(hl_toml_options)

#define HL_TOML_DEFAULT_MAX_INPUT_SIZE ((size_t)256 << 20)
#define HL_TOML_DEFAULT_MAX_DEPTH 256u
/* max_depth: no limit on nesting. The parser keeps open arrays and inline tables on the heap, not
 * the C stack, so any depth that fits in memory parses; the library's own walks of a document
 * (freeing it included) do not recurse either. Meant for trusted input and conformance tools: the
 * default limit keeps untrusted input (hyperfiles) from making a caller that walks the tree
 * recursively run out of stack. */
#define HL_TOML_MAX_DEPTH_UNLIMITED UINT32_MAX

/* A syntax error: where it is, what is wrong, and (maybe NULL) what would be right. */
typedef struct hl_toml_error {
    hl_toml_span span;
    const char *message; /* "expected `=` after the key" */
    const char *help;    /* "a key is followed by `=` and a value, like `key = 1`", or NULL */
} hl_toml_error;

typedef struct hl_toml_doc hl_toml_doc;
typedef struct hl_toml_value hl_toml_value;

/* Parses len bytes of input (need not be NUL-terminated; NUL bytes are an error as TOML says).
 * options may be NULL. Returns NULL only when memory runs out, or when options' struct_size was
 * never set (or options from a newer header set members this library does not know). Always check
 * hl_toml_doc_error_count(): when it is non-zero the tree holds what parsed before (and, with
 * max_errors > 1, between) the errors, and must not be taken as the file's meaning. */
HL_API hl_toml_doc *hl_toml_parse(const char *input, size_t len, const hl_toml_options *options);

/* Frees the document and everything in it. NULL is allowed. */
HL_API void hl_toml_doc_free(hl_toml_doc *doc);

/* Number of syntax errors, and the i-th in source order. */
HL_API size_t hl_toml_doc_error_count(const hl_toml_doc *doc);
HL_API const hl_toml_error *hl_toml_doc_error(const hl_toml_doc *doc, size_t i);

/* The root table (never NULL for a non-NULL doc). */
HL_API const hl_toml_value *hl_toml_doc_root(const hl_toml_doc *doc);

/* Type and source span of a value. A table's span is its header ([a.b]) or its inline `{...}`;
 * an implicitly created table (a in [a.b]) has the span of what created it. */
HL_API hl_toml_type hl_toml_type_of(const hl_toml_value *v);
HL_API hl_toml_span hl_toml_value_span(const hl_toml_value *v);
/* "table", "array", "string", "integer", "float", "bool", "datetime", ... */
HL_API const char *hl_toml_type_name(hl_toml_type type);

/* Tables keep their keys in insertion order. hl_toml_table_get() is O(1) on average. */
HL_API size_t hl_toml_table_size(const hl_toml_value *table);
HL_API const hl_toml_value *hl_toml_table_get(const hl_toml_value *table, const char *key);
HL_API const hl_toml_value *hl_toml_table_getn(const hl_toml_value *table, const char *key,
                                               size_t keylen);
/* The i-th entry: its key (NUL-terminated; keylen counts bytes, a key may hold NUL), the key's
 * span where it was written (for a dotted key, the span of this one part), and its value. */
HL_API const hl_toml_value *hl_toml_table_at(const hl_toml_value *table, size_t i, const char **key,
                                             size_t *keylen, hl_toml_span *key_span);
/* True for a table that came from a [header] or [[header]] (not a dotted key or inline). */
HL_API bool hl_toml_table_is_header(const hl_toml_value *table);

HL_API size_t hl_toml_array_size(const hl_toml_value *array);
HL_API const hl_toml_value *hl_toml_array_at(const hl_toml_value *array, size_t i);

/* Scalar accessors; each returns a zero value when v has another type. Strings are
 * NUL-terminated, valid UTF-8, and may hold NUL (len says how many bytes). */
HL_API const char *hl_toml_string(const hl_toml_value *v, size_t *len);
HL_API int64_t hl_toml_int(const hl_toml_value *v);
HL_API double hl_toml_float(const hl_toml_value *v);
HL_API bool hl_toml_bool(const hl_toml_value *v);
HL_API hl_toml_datetime hl_toml_datetime_of(const hl_toml_value *v);

/* Validates UTF-8 (no surrogates, no overlongs). On failure returns false and, when bad_offset is
 * not NULL, stores the offset of the first bad byte. Useful to callers that show source lines. */
HL_API bool hl_toml_utf8_valid(const char *s, size_t len, size_t *bad_offset);

#ifdef __cplusplus
}
#endif
#endif
