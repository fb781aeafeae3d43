/* error.h - status codes and the error object every fallible libhyperlight call fills. */
#ifndef HYPERLIGHT_ERROR_H
#define HYPERLIGHT_ERROR_H

#include <stddef.h>

#include "hyperlight/export.h"

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
    /* sandboxes */
    HL_E_ELF,            /* the guest binary is not a loadable static x86-64 PIE */
    HL_E_LAYOUT,         /* the guest's memory does not fit (total over the limit) */
    HL_E_TOO_LARGE,      /* arguments or a table do not fit their buffer (the key is named); a result
                            too large is the guest's error (HL_E_GUEST_ERROR, code 15) */
    HL_E_STATE,          /* the call does not fit the sandbox's state (e.g. not initialised) */
    HL_E_BACKEND,        /* the execution backend failed (e.g. /dev/kvm unusable) */
    HL_E_GUEST_PROTOCOL, /* the guest wrote something malformed */
    HL_E_GUEST_ERROR,    /* the guest function failed: guest_code has the error code */
    HL_E_GUEST_ABORT,    /* the guest aborted: guest_code has its abort code */
    HL_E_GUEST_PANIC,    /* the guest panicked */
    HL_E_GUEST_FAULT,    /* the guest hit an exception: guest_code has the vector (KVM) or signal */
    HL_E_STACK_OVERFLOW, /* the guest overflowed its stack */
    HL_E_CANCELLED,      /* the call ran past its time limit and was cancelled; the sandbox is fine */
    HL_E_POISONED,       /* the sandbox is unusable; only hl_sandbox_destroy is left */
} hl_status;

#define HL_ERROR_MESSAGE_MAX 512

/* Filled by every fallible function. Initialise it with HL_ERROR_INIT or hl_error_init() (which
 * set struct_size to the caller's sizeof: new members are appended, and the library fills only
 * what the caller's struct holds). A function given an hl_error whose struct_size was never set
 * fails with HL_E_INVALID_ARG and says so in message (status, guest_code and message are written,
 * nothing after them). The same hl_error may be reused for any number of calls. */
typedef struct hl_error {
    size_t struct_size; /* sizeof(hl_error) as the caller compiled it */
    hl_status status;
    unsigned guest_code; /* HL_E_GUEST_ERROR: Hyperlight's error code; HL_E_GUEST_ABORT: the abort
                            code; HL_E_GUEST_FAULT: the exception vector or signal; else 0 */
    char message[HL_ERROR_MESSAGE_MAX]; /* NUL-terminated, one line, no trailing newline */
} hl_error;

#define HL_ERROR_INIT HL_STRUCT_INIT(hl_error)

/* Sets err to HL_ERROR_INIT (no error, struct_size set). */
static inline void hl_error_init(hl_error *err)
{
    hl_error init = HL_ERROR_INIT;
    *err = init;
}

/* A short constant name for a status: "invalid argument", "out of memory", ... */
HL_API const char *hl_status_str(hl_status status);

/* Hyperlight's name of a guest error code: "GuestFunctionNotFound", ... ("Unknown" otherwise). */
HL_API const char *hl_guest_error_name(unsigned code);

#ifdef __cplusplus
}
#endif
#endif
