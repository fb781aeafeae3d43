/* toml_parser.h - the parser's state and the helpers its parts (text, structure, scalars) share. */
#ifndef HL_TOML_PARSER_H
#define HL_TOML_PARSER_H

#include "toml/toml_internal.h"

/* A position: byte offset plus the line it is on and where that line starts. */
typedef struct tp_mark {
    size_t off;
    size_t line_start;
    uint32_t line;
} tp_mark;

typedef struct tp {
    const char *src;
    size_t len;
    size_t pos;
    uint32_t line;     /* 1-based line of pos */
    size_t line_start; /* offset of that line's first byte */
    /* column cache: code points from cache_line_start to cache_pos */
    size_t cache_line_start, cache_pos;
    uint32_t cache_col;
    hl_toml_doc *doc;
    hl_toml_options opt;
    bool v11;
    char *scratch; /* reusable buffer for decoded strings and number text */
    size_t scratch_cap;
} tp;

static inline tp_mark tp_here(const tp *p)
{
    tp_mark m = {p->pos, p->line_start, p->line};
    return m;
}

static inline int tp_peek(const tp *p) { return p->pos < p->len ? (unsigned char)p->src[p->pos] : -1; }
static inline int tp_peek_at(const tp *p, size_t k)
{
    return p->pos + k < p->len ? (unsigned char)p->src[p->pos + k] : -1;
}

/* Call after consuming a '\n' at pos-1. */
static inline void tp_newline(tp *p)
{
    p->line++;
    p->line_start = p->pos;
}

/* The span from mark m to the current position (or to `end`). */
hl_toml_span tp_span(tp *p, tp_mark m, size_t end);
/* Records an error at [m, m+len) ("help" may be NULL). Always returns false. */
bool tp_error(tp *p, tp_mark m, size_t len, const char *help, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* An error at the current position, one character long (the character there, if any). */
bool tp_error_here(tp *p, const char *help, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Makes room for n bytes in the scratch buffer; false when memory runs out. */
bool tp_scratch(tp *p, size_t n);

/* Whitespace (toml_text.c, but for tp_skip_ws). Spaces and tabs: */
static inline void tp_skip_ws(tp *p)
{
    while (p->pos < p->len && (p->src[p->pos] == ' ' || p->src[p->pos] == '\t'))
        p->pos++;
}
/* Consumes a newline (LF or CRLF) at pos if there is one. */
bool tp_eat_newline(tp *p);
/* Whitespace, newlines and comments, as allowed inside arrays (and TOML 1.1 inline tables). */
bool tp_skip_ws_nl(tp *p);
/* After an expression: whitespace, an optional comment, then a newline or the end; `what` names
 * the expression in the error. */
bool tp_line_end(tp *p, const char *what);

/* Scalars (toml_scalar.c). Each parses at p->pos and leaves p->pos after the value. */
/* A quoted string or quoted key; multi-line forms allowed when `multiline`. */
bool tp_string(tp *p, bool multiline, const char **out, size_t *outlen);
/* A number, bool, date, time or datetime starting at p->pos, into v (type and payload). */
bool tp_bare_value(tp *p, hl_toml_value *v);

static inline bool tp_is_bare_key_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

#endif
