/* structsize.h - checking the struct_size of the structs callers allocate (docs/abi.md). */
#ifndef HL_UTIL_STRUCTSIZE_H
#define HL_UTIL_STRUCTSIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "hyperlight/error.h"

/* True when a caller's struct_size can be real: at least `min` (the smallest layout any header
 * had) and at most HL_STRUCT_SIZE_MAX. An unset (zero) or garbage size fails. */
bool hl_struct_size_ok(size_t size, size_t min);

/* An input struct from a newer header (size > ours) may be used only when every member this
 * library does not know is zero, i.e. left at its "as before" value: true then. */
bool hl_struct_tail_zero(const void *p, size_t size, size_t ours);

/* True when `struct_size` bytes hold the member that ends at `end` (offsetof + sizeof). */
#define HL_STRUCT_HAS(struct_size, type, member)                                                   \
    ((struct_size) >= offsetof(type, member) + sizeof(((type *)0)->member))

/* HL_OK when err is NULL or initialised; else writes HL_E_INVALID_ARG and a message into err's
 * first-release members (every hl_error a program can have holds them) and returns it. Every
 * public function taking an hl_error calls it first. */
hl_status hl_error_check(hl_error *err);

#endif
