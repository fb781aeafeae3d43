/* diag_render.c - renders a diagnostic list as Cargo/rustc-style text or as a JSON array. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "diag/diag_internal.h"
#include "hyperlight/diag.h"
#include "util/json.h"

#define TAB_WIDTH 4
#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD, shown for bytes that cannot be shown */

#define ANSI_RESET "\033[0m"
#define ANSI_BOLD "\033[1m"
#define ANSI_RED "\033[1;31m"
#define ANSI_YELLOW "\033[1;33m"
#define ANSI_GREEN "\033[1;32m"
#define ANSI_BLUE "\033[1;34m"

/* The length of the well-formed UTF-8 sequence at s (n bytes available), storing its code point,
 * or 0 when the bytes there are not UTF-8 (overlongs, surrogates, truncation, > U+10FFFF). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

/* True for code points that must not reach a terminal raw (C0 and C1 controls, DEL). */
static bool is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp < 0xA0);
}

/* Writes text (a message, a file name, help) with controls and bad bytes as U+FFFD. */
static void put_clean(FILE *out, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_decode(s + i, n - i, &cp);
        if (len == 0 || is_control(cp)) {
            fputs(REPLACEMENT, out);
            i += len ? len : 1;
        } else {
            fwrite(s + i, 1, len, out);
            i += len;
        }
    }
}

/* One step through a source line: how many bytes the character at p takes and how many display
 * columns it fills; writes it (tabs expanded, unprintables as U+FFFD) when out is not NULL. */
static size_t source_step(const unsigned char *p, size_t avail, size_t col, size_t *width, FILE *out)
{
    uint32_t cp;
    size_t len = utf8_decode(p, avail, &cp);
    if (len == 1 && cp == '\t') {
        *width = TAB_WIDTH - col % TAB_WIDTH;
        for (size_t i = 0; out && i < *width; i++)
            fputc(' ', out);
        return 1;
    }
    *width = 1;
    if (len == 0 || is_control(cp)) {
        if (out)
            fputs(REPLACEMENT, out);
        return len ? len : 1;
    }
    if (out)
        fwrite(p, 1, len, out);
    return len;
}

/* Display column reached at byte `upto` of the line [start, end). */
static size_t display_column(const unsigned char *start, const unsigned char *end, const unsigned char *upto)
{
    size_t col = 0;
    for (const unsigned char *p = start; p < end && p < upto;) {
        size_t w;
        p += source_step(p, (size_t)(end - p), col, &w, NULL);
        col += w;
    }
    return col;
}

static unsigned digits(uint32_t n)
{
    unsigned d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

static void put_spaces(FILE *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fputc(' ', out);
}

static const char *severity_color(hl_severity sev)
{
    return sev == HL_SEV_WARNING ? ANSI_YELLOW : sev == HL_SEV_NOTE ? ANSI_GREEN : ANSI_RED;
}

/* The gutter: `width` spaces (or the line number) then " |". */
static void put_gutter(FILE *out, bool color, unsigned width, uint32_t line_no)
{
    if (color)
        fputs(ANSI_BLUE, out);
    if (line_no > 0)
        fprintf(out, "%*u |", (int)width, line_no);
    else {
        put_spaces(out, width);
        fputs(" |", out);
    }
    if (color)
        fputs(ANSI_RESET, out);
}

/* The source line and the caret line under d's span, when the list holds d's source. */
static bool put_snippet(const hl_diag_list *list, const hl_diag *d, FILE *out, bool color, unsigned width)
{
    if (d->line == 0 || d->file == NULL || list->source == NULL || list->source_name == NULL ||
        strcmp(d->file, list->source_name) != 0 || d->offset > list->source_len)
        return false;
    const unsigned char *src = (const unsigned char *)list->source;
    size_t len = list->source_len, off = d->offset;
    size_t line_start = off, line_end = off;
    while (line_start > 0 && src[line_start - 1] != '\n')
        line_start--;
    while (line_end < len && src[line_end] != '\n')
        line_end++;
    if (line_end > line_start && src[line_end - 1] == '\r')
        line_end--;
    if (off > line_end)
        off = line_end;
    size_t span_end = d->length > line_end - off ? line_end : off + d->length;

    const unsigned char *start = src + line_start, *end = src + line_end;
    put_gutter(out, color, width, 0);
    fputc('\n', out);
    put_gutter(out, color, width, d->line);
    if (end > start)
        fputc(' ', out);
    size_t col = 0;
    for (const unsigned char *p = start; p < end;) {
        size_t w;
        p += source_step(p, (size_t)(end - p), col, &w, out);
        col += w;
    }
    fputc('\n', out);

    size_t c0 = display_column(start, end, src + off);
    size_t c1 = display_column(start, end, src + span_end);
    size_t carets = c1 > c0 ? c1 - c0 : 1;
    put_gutter(out, color, width, 0);
    fputc(' ', out);
    put_spaces(out, c0);
    if (color)
        fputs(severity_color(d->severity), out);
    for (size_t i = 0; i < carets; i++)
        fputc('^', out);
    if (d->help != NULL) {
        fputc(' ', out);
        put_clean(out, d->help);
    }
    if (color)
        fputs(ANSI_RESET, out);
    fputc('\n', out);
    return true;
}

static void render_one(const hl_diag_list *list, const hl_diag *d, FILE *out, bool color)
{
    if (color)
        fprintf(out, "%s%s" ANSI_RESET ANSI_BOLD ": ", severity_color(d->severity),
                hl_diag_severity_name(d->severity));
    else
        fprintf(out, "%s: ", hl_diag_severity_name(d->severity));
    put_clean(out, d->message);
    if (color)
        fputs(ANSI_RESET, out);
    fputc('\n', out);

    unsigned width = d->line > 0 ? digits(d->line) : 1;
    if (d->file != NULL) {
        put_spaces(out, width);
        if (color)
            fputs(ANSI_BLUE "-->" ANSI_RESET " ", out);
        else
            fputs("--> ", out);
        put_clean(out, d->file);
        if (d->line > 0)
            fprintf(out, ":%u:%u", d->line, d->column);
        fputc('\n', out);
    }
    if (!put_snippet(list, d, out, color, width) && d->help != NULL) {
        put_spaces(out, width + 1);
        if (color)
            fputs(ANSI_BLUE "=" ANSI_RESET ANSI_BOLD " help" ANSI_RESET ": ", out);
        else
            fputs("= help: ", out);
        put_clean(out, d->help);
        fputc('\n', out);
    }
    fputc('\n', out);
}

int hl_diag_render_text(const hl_diag_list *list, FILE *out, bool color)
{
    if (out == NULL)
        return -1;
    for (size_t i = 0; list != NULL && i < list->count; i++)
        render_one(list, &list->items[i], out, color);
    return ferror(out) ? -1 : 0;
}

/* Writes s as a JSON string (quotes included), or null. */
static void put_json_string(FILE *out, const char *s) { hl_json_write_string(out, s, s ? strlen(s) : 0); }

int hl_diag_render_json(const hl_diag_list *list, FILE *out)
{
    if (out == NULL)
        return -1;
    size_t n = list ? list->count : 0;
    fputc('[', out);
    for (size_t i = 0; i < n; i++) {
        const hl_diag *d = &list->items[i];
        fputs(i ? ",\n  {" : "\n  {", out);
        fputs("\"severity\": ", out);
        put_json_string(out, hl_diag_severity_name(d->severity));
        fputs(", \"message\": ", out);
        put_json_string(out, d->message);
        fputs(", \"file\": ", out);
        put_json_string(out, d->file);
        fprintf(out, ", \"line\": %u, \"column\": %u, \"offset\": %zu, \"length\": %zu, \"help\": ",
                d->line, d->column, d->offset, d->length);
        put_json_string(out, d->help);
        fputc('}', out);
    }
    fputs(n ? "\n]\n" : "]\n", out);
    return ferror(out) ? -1 : 0;
}
