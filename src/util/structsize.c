/* structsize.c - checking the struct_size of the structs callers allocate (docs/abi.md). */
#include "util/structsize.h"

#include <stdio.h>

#include "hyperlight/export.h"

/* hl_error as the first release laid it out: every hl_error a program holds is at least this. */
#define HL_ERROR_SIZE_V1 (offsetof(hl_error, message) + HL_ERROR_MESSAGE_MAX)

bool hl_struct_size_ok(size_t size, size_t min)
{
    return size >= min && size <= HL_STRUCT_SIZE_MAX;
}

bool hl_struct_tail_zero(const void *p, size_t size, size_t ours)
{
    const unsigned char *b = p;
    for (size_t i = ours; i < size; i++)
        if (b[i] != 0) return false;
    return true;
}

hl_status hl_error_check(hl_error *err)
{
    if (err == NULL || hl_struct_size_ok(err->struct_size, HL_ERROR_SIZE_V1)) return HL_OK;
    err->status = HL_E_INVALID_ARG;
    err->guest_code = 0;
    snprintf(err->message, sizeof err->message,
             "the hl_error was not initialised (struct_size %zu): declare it as "
             "`hl_error err = HL_ERROR_INIT;` or call hl_error_init()",
             err->struct_size);
    return HL_E_INVALID_ARG;
}
