/* toml_parse.c - the TOML parser's structure: lines, keys, [tables], [[arrays]], arrays, inline tables. */
#include "toml/toml_parser.h"

#include <stdlib.h>
#include <string.h>

typedef struct key_part {
    const char *s;
    size_t len;
    uint32_t hash;
    bool copied; /* s already lives in the document (a quoted key) */
    tp_mark mark;
    size_t end;
    hl_toml_span span; /* computed while parsing: a column found later could cost a rescan */
} key_part;

/* An array or inline table still open: the parser keeps them on a heap stack, not the C stack,
 * so that no nesting the limit allows (with HL_TOML_MAX_DEPTH_UNLIMITED, any that fits in memory)
 * can overflow the C stack. */
typedef struct open_value {
    hl_toml_value *v;  /* being filled; its type says array or inline table */
    tp_mark m;         /* its opening bracket */
    hl_toml_span span; /* from there, without the length (the column is found while it is cheap) */
    size_t base;       /* as the value of a key in an inline table: that key's first part */
} open_value;

typedef struct parser {
    tp t;
    key_part *parts; /* a stack: each keyval pushes its parts and pops them once its value is in */
    size_t nparts, parts_cap;
    open_value *open; /* open arrays and inline tables, innermost last */
    size_t depth, open_cap;
    size_t max_depth; /* the limit, SIZE_MAX for none */
} parser;

/* ---- keys ---- */

static bool push_part(parser *ps, key_part part)
{
    if (ps->nparts == ps->parts_cap) {
        size_t cap = ps->parts_cap ? ps->parts_cap * 2 : 16;
        key_part *n = realloc(ps->parts, cap * sizeof(*n));
        if (!n) {
            ps->t.doc->oom = true;
            return false;
        }
        ps->parts = n;
        ps->parts_cap = cap;
    }
    ps->parts[ps->nparts++] = part;
    return true;
}

/* Parses a (dotted) key, pushing its parts. */
static bool parse_key(parser *ps)
{
    tp *p = &ps->t;
    size_t count = 0;
    for (;;) {
        key_part part;
        memset(&part, 0, sizeof(part));
        part.mark = tp_here(p);
        int c = tp_peek(p);
        if (c == '"' || c == '\'') {
            if (tp_peek_at(p, 1) == c && tp_peek_at(p, 2) == c)
                return tp_error(p, part.mark, 3, "keys can be bare, \"basic\" or 'literal' strings",
                                "a multi-line string cannot be a key");
            if (!tp_string(p, false, &part.s, &part.len))
                return false;
            part.copied = true;
        } else {
            size_t e = p->pos;
            while (e < p->len && tp_is_bare_key_char((unsigned char)p->src[e]))
                e++;
            if (e == p->pos) {
                if (c < 0 || c == '\n' || c == '\r' || c == '=' || c == '#' || c == '.' || c == ']')
                    return tp_error_here(p, "bare keys use A-Z a-z 0-9 _ -; quote other keys, like \"my key\"",
                                         "expected a key");
                return tp_error_here(p, "bare keys use A-Z a-z 0-9 _ -; quote other keys, like \"my key\"",
                                     "invalid character in key");
            }
            part.s = p->src + p->pos;
            part.len = e - p->pos;
            p->pos = e;
        }
        part.end = p->pos;
        part.span = tp_span(p, part.mark, part.end);
        part.hash = hl_toml__hash(part.s, part.len);
        if (++count > ps->max_depth)
            return tp_error(p, part.mark, part.len, "raise hl_toml_options.max_depth to allow it",
                            "dotted key has more than %u parts", p->opt.max_depth);
        if (!push_part(ps, part))
            return false;
        tp_skip_ws(p);
        if (tp_peek(p) != '.')
            return true;
        p->pos++;
        tp_skip_ws(p);
    }
}

static hl_toml_span part_span(const key_part *k)
{
    return k->span;
}

static hl_toml_value *new_table(parser *ps, hl_toml_span span, uint8_t flags)
{
    hl_toml_value *t = hl_toml__new_value(ps->t.doc, HL_TOML_TABLE, span);
    if (t)
        t->flags = flags;
    return t;
}

/* Adds key part k to table t with value v (copying a bare key into the document). */
static bool add_entry(parser *ps, hl_toml_value *t, key_part *k, hl_toml_value *v)
{
    const char *key = k->s;
    if (!k->copied && !(key = hl_toml__strdup(ps->t.doc, k->s, k->len)))
        return false;
    return hl_toml__table_add(ps->t.doc, t, key, k->len, k->hash, part_span(k), v) != NULL;
}

static const char *describe(const hl_toml_value *v)
{
    if (v->type == HL_TOML_ARRAY)
        return (v->flags & AF_TABLES) ? "an array of tables" : "an array";
    if (v->type == HL_TOML_TABLE)
        return (v->flags & TF_INLINE) ? "an inline table" : "a table";
    if (v->type == HL_TOML_INTEGER)
        return "an integer";
    return v->type == HL_TOML_STRING ? "a string" : v->type == HL_TOML_FLOAT ? "a float"
                                                 : v->type == HL_TOML_BOOL ? "a bool" : "a date/time";
}

/* ---- values ---- */

/* A string, number, bool or date/time at p->pos, into v. */
static bool parse_scalar(parser *ps, hl_toml_value *v)
{
    tp *p = &ps->t;
    int c = tp_peek(p);
    if (c != '"' && c != '\'') return tp_bare_value(p, v);
    tp_mark m = tp_here(p);
    if (!tp_string(p, true, &v->u.str.ptr, &v->u.str.len)) return false;
    v->type = HL_TOML_STRING;
    v->span = tp_span(p, m, p->pos);
    return true;
}

/* The key and `=` of a key/value pair, and the whitespace after them. The key's parts are pushed
 * from *base on (and popped again on an error). */
static bool keyval_start(parser *ps, size_t *base)
{
    tp *p = &ps->t;
    *base = ps->nparts;
    if (!parse_key(ps)) {
        ps->nparts = *base;
        return false;
    }
    tp_skip_ws(p);
    if (tp_peek(p) != '=') {
        ps->nparts = *base;
        if (tp_peek(p) < 0 || tp_peek(p) == '\n' || tp_peek(p) == '\r' || tp_peek(p) == '#')
            return tp_error_here(p, "a key is followed by `=` and a value, like `key = 1`",
                                 "expected `=` after the key");
        return tp_error_here(
            p, "a key is followed by `=` and a value; quote keys with spaces, like \"my key\"",
            "expected `=` after the key");
    }
    p->pos++;
    tp_skip_ws(p);
    return true;
}

/* Puts the parsed value v into table under the key whose parts start at base, and pops them.
 * Tables on the dotted path are created (as dotted tables) or reused. The value is parsed before
 * it is attached, so that a bad value leaves nothing behind. */
static bool keyval_attach(parser *ps, hl_toml_value *table, size_t base, hl_toml_value *v)
{
    tp *p = &ps->t;
    hl_toml_value *t = table;
    size_t n = ps->nparts - base;
    size_t pstart = ps->parts[base].mark.off; /* the key's text, for messages */
    bool ok = false;
    for (size_t i = 0; i < n; i++) {
        key_part *k = &ps->parts[base + i];
        hl_toml_entry *e = hl_toml__table_find(t, k->s, k->len, k->hash);
        if (i + 1 == n) {
            if (e)
                tp_error(p, k->mark, k->end - k->mark.off, NULL,
                         "duplicate key `%.*s` (first defined on line %u)", (int)(k->end - pstart),
                         p->src + pstart, e->key_span.line);
            else
                ok = add_entry(ps, t, k, v);
            break;
        }
        if (!e) {
            hl_toml_value *sub = new_table(ps, part_span(k), TF_DOTTED);
            if (!sub || !add_entry(ps, t, k, sub))
                break;
            t = sub;
            continue;
        }
        hl_toml_value *sub = e->value;
        const char *why = NULL;
        if (sub->type != HL_TOML_TABLE)
            why = describe(sub);
        else if (sub->flags & TF_INLINE)
            why = "an inline table, which cannot be extended";
        else if (!(sub->flags & TF_DOTTED))
            why = "a table defined by a [header], which dotted keys cannot extend";
        if (why) {
            tp_error(p, k->mark, k->end - k->mark.off, NULL,
                     "cannot use `%.*s` as a table: it is already %s (line %u)",
                     (int)(k->end - pstart), p->src + pstart, why, e->key_span.line);
            break;
        }
        t = sub;
    }
    ps->nparts = base;
    return ok;
}

/* Opens the array or inline table at p->pos as v: checks the depth, pushes it, consumes the
 * bracket. base is as in open_value. */
static bool open_nested(parser *ps, hl_toml_value *v, size_t base)
{
    tp *p = &ps->t;
    if (ps->depth >= ps->max_depth)
        return tp_error_here(p, "raise hl_toml_options.max_depth to allow deeper nesting",
                             "arrays and inline tables nested more than %u deep", p->opt.max_depth);
    if (ps->depth == ps->open_cap) {
        size_t cap = ps->open_cap ? ps->open_cap * 2 : 16;
        open_value *grown =
            cap <= SIZE_MAX / sizeof(*grown) ? realloc(ps->open, cap * sizeof(*grown)) : NULL;
        if (!grown) {
            p->doc->oom = true;
            return false;
        }
        ps->open = grown;
        ps->open_cap = cap;
    }
    bool array = tp_peek(p) == '[';
    v->type = array ? HL_TOML_ARRAY : HL_TOML_TABLE;
    v->flags = array ? 0 : TF_INLINE;
    open_value o = {v, tp_here(p), tp_span(p, tp_here(p), p->pos), base};
    ps->open[ps->depth++] = o;
    p->pos++;
    return true;
}

/* What one step inside an open array or inline table did. */
typedef enum step {
    STEP_ERROR,  /* an error (recorded) */
    STEP_ITEM,   /* a scalar item or entry is in; a separator or the close comes next */
    STEP_OPENED, /* a nested array or inline table was opened */
    STEP_COMMA,  /* a comma was consumed; an item or entry (or, maybe, the close) comes next */
    STEP_CLOSE,  /* the closing bracket is at p->pos */
} step;

/* Starts the next value at p->pos: opens a nested array or inline table (base as in open_value),
 * or parses a scalar into a new value, returned in *out. */
static step value_step(parser *ps, size_t base, hl_toml_value **out)
{
    tp *p = &ps->t;
    hl_toml_value *v = hl_toml__new_value(p->doc, HL_TOML_BOOL, tp_span(p, tp_here(p), p->pos));
    *out = v;
    if (!v) return STEP_ERROR;
    if (tp_peek(p) == '[' || tp_peek(p) == '{')
        return open_nested(ps, v, base) ? STEP_OPENED : STEP_ERROR;
    return parse_scalar(ps, v) ? STEP_ITEM : STEP_ERROR;
}

/* One step in the open array o: after an item when `after`, else before one. */
static step array_step(parser *ps, open_value *o, bool after)
{
    tp *p = &ps->t;
    if (!tp_skip_ws_nl(p)) return STEP_ERROR;
    int c = tp_peek(p);
    if (c == ']') return STEP_CLOSE;
    if (c < 0) {
        tp_error(p, o->m, 1, "close the array with `]`", "unterminated array");
        return STEP_ERROR;
    }
    if (after) {
        if (c == ',') {
            p->pos++;
            return STEP_COMMA;
        }
        tp_error_here(p, "separate array items with commas, like `[1, 2, 3]`",
                      "expected `,` or `]` in array");
        return STEP_ERROR;
    }
    if (c == ',') {
        tp_error_here(p, "remove the extra comma", "expected a value before `,`");
        return STEP_ERROR;
    }
    hl_toml_value *item;
    hl_toml_value *arr = o->v; /* o moves if a nested value grows the stack */
    step s = value_step(ps, 0, &item);
    if (s == STEP_ITEM && !hl_toml__array_push(p->doc, arr, item)) return STEP_ERROR;
    return s;
}

/* Whitespace inside an inline table: newlines and comments too in TOML 1.1, none in 1.0. */
static bool inline_table_ws(tp *p)
{
    if (p->v11) return tp_skip_ws_nl(p);
    tp_skip_ws(p);
    if (tp_peek(p) == '\n' || tp_peek(p) == '\r' || tp_peek(p) == '#')
        return tp_error_here(
            p, "TOML 1.0 inline tables must stay on one line: use a [table] for long ones",
            "newline in an inline table");
    return true;
}

/* One step in the open inline table o: after an entry when `after`, else before one. */
static step inline_table_step(parser *ps, open_value *o, bool after)
{
    tp *p = &ps->t;
    if (!inline_table_ws(p)) return STEP_ERROR;
    int c = tp_peek(p);
    if (c == '}') {
        if (!after && o->v->u.tab.n > 0 && !p->v11) {
            tp_error_here(p, "TOML 1.0 allows no comma after the last inline table entry",
                          "trailing comma in an inline table");
            return STEP_ERROR;
        }
        return STEP_CLOSE;
    }
    if (c < 0) {
        tp_error(p, o->m, 1, "close the inline table with `}`", "unterminated inline table");
        return STEP_ERROR;
    }
    if (after) {
        if (c == ',') {
            p->pos++;
            return STEP_COMMA;
        }
        tp_error_here(p, "separate entries with commas, like `{ a = 1, b = 2 }`",
                      "expected `,` or `}` in inline table");
        return STEP_ERROR;
    }
    size_t base;
    hl_toml_value *v, *table = o->v; /* o moves if a nested value grows the stack */
    if (!keyval_start(ps, &base)) return STEP_ERROR;
    step s = value_step(ps, base, &v);
    if (s == STEP_ERROR)
        ps->nparts = base;
    else if (s == STEP_ITEM && !keyval_attach(ps, table, base, v))
        return STEP_ERROR;
    return s;
}

/* Parses the value at p->pos into v. Arrays and inline tables, however deep, are parsed in one
 * loop over the open_value stack: each step works in the innermost open one. */
static bool parse_value(parser *ps, hl_toml_value *v)
{
    tp *p = &ps->t;
    if (tp_peek(p) != '[' && tp_peek(p) != '{') return parse_scalar(ps, v);
    if (!open_nested(ps, v, 0)) return false;
    bool after = false; /* just after an item or entry */
    while (ps->depth > 0) {
        open_value *o = &ps->open[ps->depth - 1];
        step s = o->v->type == HL_TOML_ARRAY ? array_step(ps, o, after)
                                             : inline_table_step(ps, o, after);
        if (s == STEP_ERROR) {
            ps->depth = 0;
            return false;
        }
        after = s == STEP_ITEM;
        if (s != STEP_CLOSE) continue;
        /* the innermost is complete: it becomes an item or entry of the one around it */
        p->pos++;
        open_value done = *o;
        done.v->span = done.span;
        done.v->span.length = p->pos - done.span.offset;
        if (--ps->depth == 0) break;
        open_value *outer = &ps->open[ps->depth - 1];
        bool ok = outer->v->type == HL_TOML_ARRAY ? hl_toml__array_push(p->doc, outer->v, done.v)
                                                  : keyval_attach(ps, outer->v, done.base, done.v);
        if (!ok) {
            ps->depth = 0;
            return false;
        }
        after = true;
    }
    return true;
}

/* key = value, into table (a [table] or the root). */
static bool parse_keyval(parser *ps, hl_toml_value *table)
{
    size_t base;
    if (!keyval_start(ps, &base)) return false;
    hl_toml_value *v =
        hl_toml__new_value(ps->t.doc, HL_TOML_BOOL, tp_span(&ps->t, tp_here(&ps->t), ps->t.pos));
    if (!v || !parse_value(ps, v)) {
        ps->nparts = base;
        return false;
    }
    return keyval_attach(ps, table, base, v);
}

/* ---- [table] and [[array of tables]] headers ---- */

static hl_toml_value *parse_header(parser *ps, hl_toml_value *root)
{
    tp *p = &ps->t;
    tp_mark m = tp_here(p);
    bool aot = tp_peek_at(p, 1) == '[';
    p->pos += aot ? 2 : 1;
    tp_skip_ws(p);
    size_t base = ps->nparts;
    if (!parse_key(ps)) {
        ps->nparts = base;
        return NULL;
    }
    tp_skip_ws(p);
    if (tp_peek(p) != ']' || (aot && tp_peek_at(p, 1) != ']')) {
        ps->nparts = base;
        tp_error_here(p, aot ? "an array of tables header looks like `[[name]]`" : "a table header looks like `[name]`",
                      "expected `%s` to close the header", aot ? "]]" : "]");
        return NULL;
    }
    p->pos += aot ? 2 : 1;
    hl_toml_span hspan = tp_span(p, m, p->pos);
    hl_toml_value *t = root;
    size_t n = ps->nparts - base;
    size_t pstart = ps->parts[base].mark.off; /* the key's text, for messages */
    hl_toml_value *result = NULL;
    for (size_t i = 0; i < n; i++) {
        key_part *k = &ps->parts[base + i];
        hl_toml_entry *e = hl_toml__table_find(t, k->s, k->len, k->hash);
        bool last = i + 1 == n;
        if (!e) {
            hl_toml_value *sub =
                new_table(ps, last ? hspan : part_span(k), last ? TF_HEADER : TF_IMPLICIT);
            if (!sub)
                break;
            hl_toml_value *slot = sub;
            if (last && aot) {
                slot = hl_toml__new_value(p->doc, HL_TOML_ARRAY, hspan);
                if (!slot || !hl_toml__array_push(p->doc, slot, sub))
                    break;
                slot->flags = AF_TABLES;
            }
            if (!add_entry(ps, t, k, slot))
                break;
            t = sub;
            if (last)
                result = sub;
            continue;
        }
        hl_toml_value *v = e->value;
        uint32_t line = v->span.line;
        if (!last) {
            if (v->type == HL_TOML_ARRAY && (v->flags & AF_TABLES)) {
                t = v->u.arr.items[v->u.arr.n - 1];
                continue;
            }
            if (v->type == HL_TOML_TABLE && !(v->flags & TF_INLINE)) {
                t = v;
                continue;
            }
            tp_error(p, k->mark, k->end - k->mark.off, NULL,
                     "cannot use `%.*s` as a table: it is already %s (line %u)", (int)(k->end - pstart), p->src + pstart, describe(v),
                     e->key_span.line);
            break;
        }
        if (aot) {
            if (v->type == HL_TOML_ARRAY && (v->flags & AF_TABLES)) {
                hl_toml_value *sub = new_table(ps, hspan, TF_HEADER);
                if (sub && hl_toml__array_push(p->doc, v, sub))
                    result = sub;
                break;
            }
            tp_error(p, m, hspan.length, NULL, "cannot append to `%.*s` with [[...]]: it is already %s (line %u)",
                     (int)(k->end - pstart), p->src + pstart, describe(v), line);
            break;
        }
        if (v->type == HL_TOML_TABLE && !(v->flags & (TF_HEADER | TF_DOTTED | TF_INLINE))) {
            v->flags = (uint8_t)((v->flags & ~TF_IMPLICIT) | TF_HEADER);
            v->span = hspan;
            result = v;
            break;
        }
        if (v->type == HL_TOML_TABLE && (v->flags & TF_HEADER))
            tp_error(p, m, hspan.length, "each table can be defined by one [header] only; merge the two",
                     "table `%.*s` is defined twice (first on line %u)", (int)(k->end - pstart), p->src + pstart, line);
        else if (v->type == HL_TOML_TABLE && (v->flags & TF_DOTTED))
            tp_error(p, m, hspan.length, "a table made by dotted keys cannot be reopened by a [header]",
                     "table `%.*s` was already defined by dotted keys (line %u)", (int)(k->end - pstart), p->src + pstart, line);
        else
            tp_error(p, m, hspan.length, NULL, "cannot define `%.*s` as a table: it is already %s (line %u)",
                     (int)(k->end - pstart), p->src + pstart, describe(v), e->key_span.line);
        break;
    }
    ps->nparts = base;
    return result;
}

/* ---- the document ---- */

static void recover(tp *p)
{
    while (p->pos < p->len && p->src[p->pos] != '\n')
        p->pos++;
    if (p->pos < p->len) {
        p->pos++;
        tp_newline(p);
    }
}

static void parse_document(parser *ps, hl_toml_value *root)
{
    tp *p = &ps->t;
    hl_toml_value *cur = root;
    while (p->pos < p->len && !p->doc->oom) {
        tp_skip_ws(p);
        int c = tp_peek(p);
        bool ok = true;
        if (c == '#' || c == '\n' || c == '\r' || c < 0) {
            ok = tp_line_end(p, "a comment");
        } else if (c == '[') {
            hl_toml_value *t = parse_header(ps, root);
            if (!t) {
                ok = false;
                cur = new_table(ps, tp_span(p, tp_here(p), p->pos), TF_HEADER); /* a dead end */
                if (!cur)
                    return;
            } else {
                cur = t;
                ok = tp_line_end(p, "the table header");
            }
        } else {
            ok = parse_keyval(ps, cur) && tp_line_end(p, "the value");
        }
        if (!ok) {
            if (p->doc->oom || p->doc->error_count >= p->opt.max_errors)
                return;
            recover(p);
        }
    }
}

static void locate(const char *s, size_t off, tp_mark *m)
{
    m->line = 1;
    m->line_start = 0;
    for (size_t i = 0; i < off; i++)
        if (s[i] == '\n') {
            m->line++;
            m->line_start = i + 1;
        }
    m->off = off;
}

/* Options from any header: struct_size set, and nothing set this parser does not know (checked
 * here rather than with util/structsize.h: src/toml builds on its own for the benchmarks). */
static bool options_ok(const hl_toml_options *o)
{
    if (o->struct_size < sizeof *o || o->struct_size > HL_STRUCT_SIZE_MAX) return false;
    for (size_t i = sizeof *o; i < o->struct_size; i++)
        if (((const unsigned char *)o)[i] != 0) return false;
    return true;
}

hl_toml_doc *hl_toml_parse(const char *input, size_t len, const hl_toml_options *options)
{
    if (options && !options_ok(options)) return NULL;
    hl_toml_doc *doc = calloc(1, sizeof(*doc));
    if (!doc)
        return NULL;
    parser ps;
    memset(&ps, 0, sizeof(ps));
    tp *p = &ps.t;
    if (options)
        p->opt = *options;
    if (!p->opt.max_input_size)
        p->opt.max_input_size = HL_TOML_DEFAULT_MAX_INPUT_SIZE;
    if (!p->opt.max_depth)
        p->opt.max_depth = HL_TOML_DEFAULT_MAX_DEPTH;
    ps.max_depth = p->opt.max_depth == HL_TOML_MAX_DEPTH_UNLIMITED ? SIZE_MAX : p->opt.max_depth;
    if (!p->opt.max_errors)
        p->opt.max_errors = 1;
    p->v11 = p->opt.version == HL_TOML_1_1;
    p->src = input ? input : "";
    p->len = input ? len : 0;
    p->line = 1;
    p->cache_col = 1;
    p->doc = doc;
    if (p->len >= 3 && !memcmp(p->src, "\xEF\xBB\xBF", 3)) /* a UTF-8 byte order mark */
        p->pos = p->line_start = p->cache_line_start = p->cache_pos = 3;
    hl_toml_span zero = {1, 1, 0, 0};
    doc->root = new_table(&ps, zero, TF_HEADER);
    if (doc->root) {
        size_t bad = 0;
        if (p->len > p->opt.max_input_size) {
            tp_error(p, tp_here(p), 0, "raise hl_toml_options.max_input_size to read it",
                     "input is %zu bytes, more than the limit of %zu", p->len, p->opt.max_input_size);
        } else if (!hl_toml_utf8_valid(p->src, p->len, &bad)) {
            tp_mark m;
            locate(p->src, bad, &m);
            tp_error(p, m, 1, "TOML files must be valid UTF-8; re-save the file as UTF-8",
                     "invalid UTF-8 byte 0x%02X", (unsigned char)p->src[bad]);
        } else {
            parse_document(&ps, doc->root);
        }
    }
    free(ps.parts);
    free(ps.open);
    free(p->scratch);
    if (doc->oom || !doc->root) {
        hl_toml_doc_free(doc);
        return NULL;
    }
    return doc;
}
