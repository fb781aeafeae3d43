/* json.h - the one JSON string writer the library, the CLI and the decoder share. */
#ifndef HYPERLIGHT_JSON_H
#define HYPERLIGHT_JSON_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes s[0..len) to out as a JSON string literal: quotes, backslashes and control characters
 * escaped (\n \r \t \b \f, else \u00XX), valid UTF-8 kept as is, each byte of invalid UTF-8 as
 * \ufffd. s may hold NUL bytes; NULL is written as `null`. */
void hl_json_write_string(FILE *out, const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
