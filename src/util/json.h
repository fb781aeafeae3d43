/* json.h - the one JSON string writer the library, the CLI and the decoder share (internal). */
#ifndef HL_UTIL_JSON_H
#define HL_UTIL_JSON_H

#include <stddef.h>
#include <stdio.h>

/* Writes s[0..len) to out as a JSON string literal: quotes, backslashes and control characters
 * escaped (\n \r \t \b \f, else \u00XX), valid UTF-8 kept as is, each byte of invalid UTF-8 as
 * \ufffd. s may hold NUL bytes; NULL is written as `null`. */
void hl_json_write_string(FILE *out, const char *s, size_t len);

#endif
