/* hyperlight_guest.h - the guest SDK: registering functions, calling the host, errors (with the C library). */
#ifndef HYPERLIGHT_GUEST_H
#define HYPERLIGHT_GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hyperlight/abi.h"

/* A guest program defines hyperlight_main(), which registers the guest's functions; the runtime
 * calls it once at initialisation, before the host takes its snapshot. Every call starts from
 * that snapshot (unless the host keeps a call context open), so state set in hyperlight_main()
 * is there for every call. */
void hyperlight_main(void);

/* A value passed to or returned from a function. Strings and bytes point into guest memory:
 * arguments stay valid for the whole call, host results until the next host call. */
typedef struct hlg_value {
    hl_type type;
    union {
        int32_t i32;
        uint32_t u32;
        int64_t i64;
        uint64_t u64;
        float f32;
        double f64;
        bool b;
        struct {
            const char *ptr;
            uint32_t len;
        } str; /* HL_TYPE_STRING and HL_TYPE_BYTES */
    } u;
} hlg_value;

/* A guest function. args holds the registered parameters, already type-checked; ret->type is
 * preset to the registered return type: fill ret->u. Return 0, or an error code (usually via
 * `return hlg_error(HL_GERR_GUEST_ERROR, "...")`). */
typedef int (*hlg_fn)(const hlg_value *args, hlg_value *ret);

/* Registers a guest function (call from hyperlight_main). Returns 0, or an error code when the
 * table is full or the name/signature is invalid. name must stay valid. fn NULL lists the function
 * for the host but sends its calls to hlg_fallback_dispatch, unchecked. */
int hlg_register(const char *name, hl_type ret, int argc, const hl_type *params, hlg_fn fn);

/* Optional, for a layer that dispatches by itself (the Hyperlight C API, guest/src/capi.c): when
 * the guest defines it, calls to names that have no function (not registered, or registered with
 * fn NULL) come here with their arguments decoded but not checked against any signature. ret->type
 * is preset to the registered return type (HL_TYPE_VOID for unknown names): set it and ret->u,
 * and return 0, or return an error code (usually via hlg_error). Without it such calls fail with
 * HL_GERR_FUNCTION_NOT_FOUND. */
int hlg_fallback_dispatch(const char *name, int argc, const hlg_value *args, hlg_value *ret);
/* hlg_register("add", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_I32, HL_TYPE_I32), add); */
#define HLG_PARAMS(...)                                                                            \
    (int)(sizeof((const hl_type[]){__VA_ARGS__}) / sizeof(hl_type)), (const hl_type[]){__VA_ARGS__}
#define HLG_NO_PARAMS 0, (const hl_type *)0

/* Records an error (code and formatted message, truncated to guest_error_buffer_size) for the
 * current call and returns code, so a function can `return hlg_error(...)`. */
int hlg_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Ends the current call at once: the host gets an abort error with code and message. */
__attribute__((noreturn)) void hlg_abort(uint32_t code, const char *message);
/* Ends the current call with a panic: the formatted message goes to the panic context region. */
__attribute__((noreturn)) void hlg_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Calls a host function. ret receives the result (its type is checked against ret_type). Returns
 * 0, or an error code; HL_GERR_HOST_FUNCTION_ERROR when the host function failed or the host did
 * not register `name` (Hyperlight's HostFunctionNotFound), whose message hlg_host_exception() then
 * gives ("host function `NAME` is not registered"). A guest function that returns that code
 * without calling hlg_error() fails with the host's message: "guest function `F` failed: ...". */
int hlg_call_host(const char *name, hl_type ret_type, hlg_value *ret, int argc, const hlg_value *args);
/* The last failed host function's message (NUL-terminated) and its length, or "" when none. */
const char *hlg_host_exception(uint32_t *len);

/* printf to the host (the host decides where it goes). Returns the characters written. */
int hlg_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int hlg_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int hlg_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The environment the host prepared (regions, run mode). */
const hl_peb *hlg_peb(void);

/* The C library's malloc family allocates from the heap region (heap_size_override) and returns
 * NULL when it is exhausted. This gives the bytes of the region not handed out to it yet. */
size_t hlg_heap_free(void);

/* Declares the stack and heap this guest wants (used when the hyperfile sets no override), as an
 * ELF note the host reads: HLG_RESOURCES(256 * 1024, 4 * 1024 * 1024); at file scope, once per
 * guest. The arguments are plain integer expressions (the assembler evaluates them). */
#define HLG_RESOURCES(stack_bytes, heap_bytes)                                                     \
    __asm__(".pushsection .note.hyperlight,\"a\",@note\n"                                          \
            ".balign 4\n.long 11, 16, 1\n.asciz \"Hyperlight\"\n.balign 4\n"                       \
            ".quad " #stack_bytes ", " #heap_bytes "\n.popsection")

#endif
