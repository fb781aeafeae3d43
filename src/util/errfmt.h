/* errfmt.h - filling an hl_error: status plus a formatted one-line message. */
#ifndef HL_UTIL_ERRFMT_H
#define HL_UTIL_ERRFMT_H

#include "hyperlight/error.h"

/* Sets err (when not NULL) to status and the formatted message; returns status. */
hl_status hl_errorf(hl_error *err, hl_status status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Copies status, guest_code and message from src into dst (not NULL), keeping dst's struct_size. */
void hl_error_copy(hl_error *dst, const hl_error *src);

/* Clears err to HL_OK and an empty message (err may be NULL). */
void hl_error_clear(hl_error *err);

/* The library's own scratch error: as HL_ERROR_INIT leaves it but for the message's unused
 * bytes, which HL_ERROR_INIT zeroes (half a kilobyte, on every call's path). */
static inline void hl_error_empty(hl_error *err)
{
    err->struct_size = sizeof(*err);
    err->status = HL_OK;
    err->guest_code = 0;
    err->message[0] = '\0';
}

#endif
