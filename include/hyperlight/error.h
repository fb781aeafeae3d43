/* error.h - status codes and the error object every fallible libhyperlight call fills. */
#ifndef HYPERLIGHT_ERROR_H
#define HYPERLIGHT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Every fallible function returns one of these; HL_OK is zero. The library never exits, aborts
 * or prints: a failure is a status plus a message in an hl_error (or diagnostics in a list). */
typedef enum hl_status {
    HL_OK = 0,
    HL_E_INVALID_ARG, /* a NULL or nonsensical argument from the caller */
    HL_E_NOMEM,       /* memory ran out */
    HL_E_IO,          /* a file could not be read or written */
    HL_E_CONFIG,      /* a hyperfile or a configuration value is invalid (see the diagnostics) */
    HL_E_RANGE,       /* a value is outside the allowed range */
    HL_E_POLICY,      /* the host's policy forbids the value */
    HL_E_UNKNOWN_KEY, /* no such configuration key */
} hl_status;

#define HL_ERROR_MESSAGE_MAX 512

typedef struct hl_error {
    hl_status status;
    char message[HL_ERROR_MESSAGE_MAX]; /* NUL-terminated, one line, no trailing newline */
} hl_error;

/* A short constant name for a status: "invalid argument", "out of memory", ... */
const char *hl_status_str(hl_status status);

#ifdef __cplusplus
}
#endif
#endif
