/* diag.h - diagnostics: errors and warnings that point at a span of a source file. */
#ifndef HYPERLIGHT_DIAG_H
#define HYPERLIGHT_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hyperlight/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hl_severity {
    HL_SEV_ERROR,
    HL_SEV_WARNING,
    HL_SEV_NOTE,
} hl_severity;

/* One diagnostic. file may be NULL (not about a file); line/column are 1-based and 0 when the
 * diagnostic has no position; offset/length are bytes into the source; help may be NULL. */
typedef struct hl_diag {
    hl_severity severity;
    const char *message;
    const char *file;
    uint32_t line;
    uint32_t column;
    size_t offset;
    size_t length;
    const char *help;
} hl_diag;

/* A list of diagnostics that also keeps a copy of the source they point into, so that it can be
 * rendered after the file is gone. Owns all of its strings. */
typedef struct hl_diag_list hl_diag_list;

HL_API hl_diag_list *hl_diag_list_new(void);
HL_API void hl_diag_list_free(hl_diag_list *list);
/* Forget every diagnostic and the source. */
HL_API void hl_diag_list_clear(hl_diag_list *list);

/* Keeps a copy of the source text that later diagnostics of file `name` point into. */
HL_API int hl_diag_list_set_source(hl_diag_list *list, const char *name, const char *text,
                                   size_t len);

/* Appends a diagnostic (strings are copied). Returns 0, or -1 when memory runs out. */
HL_API int hl_diag_add(hl_diag_list *list, hl_severity sev, const char *file, uint32_t line,
                       uint32_t column, size_t offset, size_t length, const char *help,
                       const char *fmt, ...) __attribute__((format(printf, 9, 10)));

HL_API size_t hl_diag_count(const hl_diag_list *list);
HL_API size_t hl_diag_error_count(const hl_diag_list *list);
HL_API size_t hl_diag_warning_count(const hl_diag_list *list);
HL_API const hl_diag *hl_diag_at(const hl_diag_list *list, size_t i);

/* Orders the diagnostics from index `from` on by position (line, then column), keeping the
 * order of those at the same place; those without a position go last. Returns 0, or -1 when
 * memory runs out (the order is then unchanged). */
HL_API int hl_diag_list_sort(hl_diag_list *list, size_t from);

/* "error", "warning" or "note". */
HL_API const char *hl_diag_severity_name(hl_severity sev);

/* Renders every diagnostic in the shape of Cargo/rustc:
 *     error: invalid duration "100xs" for `max_execution_time`
 *       --> hyperfile.toml:17:22
 *        |
 *     17 | max_execution_time = "100xs"
 *        |                      ^^^^^^^ expected a number followed by ms or s, like "100ms"
 *
 * The arrow is indented by the gutter width (the digits of the line number), as rustc does.
 * Carets cover the span's display columns (code points; a tab advances to the next multiple
 * of 4 columns, in the source line and under it alike); a span running past the end of its line
 * is underlined to the end of the line; an empty span gets one caret. Control characters and
 * bytes that are not UTF-8 are shown as U+FFFD. The help follows the carets; a diagnostic
 * without a source line shows it as `  = help: ...` instead. Every diagnostic is followed by a
 * blank line. color adds ANSI colours (callers pass isatty()). Returns 0 or -1 on a write
 * error. */
HL_API int hl_diag_render_text(const hl_diag_list *list, FILE *out, bool color);

/* Renders the list as a JSON array of {severity, message, file, line, column, offset, length,
 * help}, one object per line; file and help are null when absent; "[]" when empty. Ends with a
 * newline. Returns 0 or -1 on a write error. */
HL_API int hl_diag_render_json(const hl_diag_list *list, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
