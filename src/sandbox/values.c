/* values.c - typed values: constructors for strings and bytes, and the names of value types. */
#include <string.h>

#include "hyperlight/sandbox.h"

static const char *const type_names[HL_TYPE_COUNT] = {"void", "i32", "u32",  "i64",    "u64",
                                                      "f32",  "f64", "bool", "string", "bytes"};

const char *hl_type_name(hl_type type)
{
    return (unsigned)type < HL_TYPE_COUNT ? type_names[type] : "unknown";
}

hl_type hl_type_from_name(const char *name)
{
    for (int i = 0; name && i < HL_TYPE_COUNT; i++)
        if (strcmp(name, type_names[i]) == 0)
            return (hl_type)i;
    return (hl_type)HL_TYPE_COUNT;
}

hl_value hl_string(const char *s)
{
    hl_value v;
    memset(&v, 0, sizeof(v));
    v.type = HL_TYPE_STRING;
    v.u.buf.ptr = s ? s : "";
    v.u.buf.len = s ? strlen(s) : 0;
    return v;
}

hl_value hl_bytes(const void *p, size_t len)
{
    hl_value v;
    memset(&v, 0, sizeof(v));
    v.type = HL_TYPE_BYTES;
    v.u.buf.ptr = p;
    v.u.buf.len = p ? len : 0;
    return v;
}
