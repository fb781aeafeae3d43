/* toml_text.c - the TOML parser's text level: positions, errors, whitespace, comments, newlines. */
#include "toml/toml_parser.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- positions and errors ---- */

static uint32_t column_of(tp *p, tp_mark m)
{
    if (p->cache_line_start != m.line_start || p->cache_pos > m.off) {
        p->cache_line_start = m.line_start;
        p->cache_pos = m.line_start;
        p->cache_col = 1;
    }
    uint32_t col = p->cache_col;
    for (size_t i = p->cache_pos; i < m.off && i < p->len; i++)
        col += ((unsigned char)p->src[i] & 0xC0) != 0x80;
    p->cache_pos = m.off;
    p->cache_col = col;
    return col;
}

hl_toml_span tp_span(tp *p, tp_mark m, size_t end)
{
    hl_toml_span s;
    s.line = m.line;
    s.column = column_of(p, m);
    s.offset = m.off;
    s.length = end > m.off ? end - m.off : 0;
    return s;
}

static bool verror(tp *p, tp_mark m, size_t len, const char *help, const char *fmt, va_list ap)
{
    hl_toml_doc *doc = p->doc;
    if (doc->error_count == doc->error_cap) {
        size_t cap = doc->error_cap ? doc->error_cap * 2 : 4;
        hl_toml_error *e = realloc(doc->errors, cap * sizeof(*e));
        if (!e) {
            doc->oom = true;
            return false;
        }
        doc->errors = e;
        doc->error_cap = cap;
    }
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    if (m.off > p->len) m.off = p->len;
    if (len > p->len - m.off) len = p->len - m.off;
    hl_toml_error *e = &doc->errors[doc->error_count];
    e->span = tp_span(p, m, m.off + len);
    e->message = hl_toml__strdup(doc, buf, strlen(buf));
    e->help = help;
    if (e->message) doc->error_count++;
    return false;
}

bool tp_error(tp *p, tp_mark m, size_t len, const char *help, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(p, m, len, help, fmt, ap);
    va_end(ap);
    return false;
}

bool tp_error_here(tp *p, const char *help, const char *fmt, ...)
{
    size_t len = p->pos < p->len ? 1 : 0;
    if (len && ((unsigned char)p->src[p->pos] & 0x80)) /* the whole UTF-8 character */
        while (p->pos + len < p->len && ((unsigned char)p->src[p->pos + len] & 0xC0) == 0x80)
            len++;
    va_list ap;
    va_start(ap, fmt);
    verror(p, tp_here(p), len, help, fmt, ap);
    va_end(ap);
    return false;
}

bool tp_scratch(tp *p, size_t n)
{
    if (n <= p->scratch_cap) return true;
    size_t cap = p->scratch_cap ? p->scratch_cap : 256;
    while (cap < n)
        cap *= 2;
    char *s = realloc(p->scratch, cap);
    if (!s) {
        p->doc->oom = true;
        return false;
    }
    p->scratch = s;
    p->scratch_cap = cap;
    return true;
}

/* ---- whitespace, comments, newlines ---- */

/* At '#': consumes the comment up to (not including) the line end. */
static bool skip_comment(tp *p)
{
    p->pos++;
    while (p->pos < p->len) {
        unsigned char c = (unsigned char)p->src[p->pos];
        if (c == '\n') return true;
        if (c == '\r') {
            if (tp_peek_at(p, 1) == '\n') return true;
            return tp_error_here(p, "a carriage return must be followed by a newline",
                                 "bare carriage return in a comment");
        }
        if ((c < 0x20 && c != '\t') || c == 0x7F)
            return tp_error_here(p, "comments cannot hold control characters",
                                 "control character U+%04X in a comment", (unsigned)c);
        p->pos++;
    }
    return true;
}

/* Consumes a newline at pos if there is one. */
bool tp_eat_newline(tp *p)
{
    if (tp_peek(p) == '\n') {
        p->pos++;
        tp_newline(p);
        return true;
    }
    if (tp_peek(p) == '\r' && tp_peek_at(p, 1) == '\n') {
        p->pos += 2;
        tp_newline(p);
        return true;
    }
    return false;
}

/* Whitespace, newlines and comments, as allowed inside arrays (and TOML 1.1 inline tables). */
bool tp_skip_ws_nl(tp *p)
{
    for (;;) {
        tp_skip_ws(p);
        int c = tp_peek(p);
        if (c == '#') {
            if (!skip_comment(p)) return false;
        } else if (!tp_eat_newline(p)) {
            if (c == '\r')
                return tp_error_here(p, "a carriage return must be followed by a newline",
                                     "bare carriage return");
            return true;
        }
    }
}

/* After an expression: whitespace, an optional comment, then a newline or the end. */
bool tp_line_end(tp *p, const char *what)
{
    tp_skip_ws(p);
    if (tp_peek(p) == '#' && !skip_comment(p)) return false;
    if (p->pos >= p->len || tp_eat_newline(p)) return true;
    if (tp_peek(p) == '\r')
        return tp_error_here(p, "a carriage return must be followed by a newline",
                             "bare carriage return");
    return tp_error_here(p, "put each key/value pair and each [table] header on its own line",
                         "expected a newline after %s", what);
}
