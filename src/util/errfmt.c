/* errfmt.c - filling an hl_error: status plus a formatted one-line message. */
#include "util/errfmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

hl_status hl_errorf(hl_error *err, hl_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void hl_error_copy(hl_error *dst, const hl_error *src)
{
    dst->status = src->status;
    dst->guest_code = src->guest_code;
    /* up to the NUL: the bytes after it may be undefined (hl_error_empty), and must not reach
     * the caller's struct */
    size_t n = strnlen(src->message, sizeof dst->message - 1);
    memcpy(dst->message, src->message, n);
    dst->message[n] = '\0';
}

void hl_error_clear(hl_error *err)
{
    if (err) {
        err->status = HL_OK;
        err->guest_code = 0;
        err->message[0] = '\0';
    }
}

const char *hl_status_str(hl_status status)
{
    switch (status) {
    case HL_OK: return "ok";
    case HL_E_INVALID_ARG: return "invalid argument";
    case HL_E_NOMEM: return "out of memory";
    case HL_E_IO: return "input/output error";
    case HL_E_CONFIG: return "invalid configuration";
    case HL_E_RANGE: return "value out of range";
    case HL_E_POLICY: return "forbidden by the host's policy";
    case HL_E_UNKNOWN_KEY: return "unknown configuration key";
    case HL_E_ELF: return "invalid guest binary";
    case HL_E_LAYOUT: return "guest memory does not fit";
    case HL_E_TOO_LARGE: return "data does not fit its buffer";
    case HL_E_STATE: return "wrong sandbox state";
    case HL_E_BACKEND: return "execution backend error";
    case HL_E_GUEST_PROTOCOL: return "malformed data from the guest";
    case HL_E_GUEST_ERROR: return "guest error";
    case HL_E_GUEST_ABORT: return "guest aborted";
    case HL_E_GUEST_PANIC: return "guest panicked";
    case HL_E_GUEST_FAULT: return "guest fault";
    case HL_E_STACK_OVERFLOW: return "guest stack overflow";
    case HL_E_CANCELLED: return "cancelled";
    case HL_E_POISONED: return "sandbox unusable";
    }
    return "unknown status";
}

const char *hl_guest_error_name(unsigned code)
{
    static const char *const names[] = {
        [0] = "NoError",
        [2] = "UnsupportedParameterType",
        [3] = "GuestFunctionNameNotProvided",
        [4] = "GuestFunctionNotFound",
        [5] = "GuestFunctionIncorrecNoOfParameters",
        [6] = "GispatchFunctionPointerNotSet",
        [7] = "OutbError",
        [8] = "UnknownError",
        [9] = "StackOverflow",
        [10] = "GsCheckFailed",
        [11] = "TooManyGuestFunctions",
        [12] = "FailureInDlmalloc",
        [13] = "MallocFailed",
        [14] = "GuestFunctionParameterTypeMismatch",
        [15] = "GuestError",
        [16] = "ArrayLengthParamIsMissing",
        [17] = "HostFunctionError",
    };
    return code < sizeof(names) / sizeof(names[0]) && names[code] ? names[code] : "Unknown";
}
