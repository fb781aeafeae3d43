/* export.h - HL_API, the mark on every function the shared library exports. */
#ifndef HYPERLIGHT_EXPORT_H
#define HYPERLIGHT_EXPORT_H

/* The library is compiled with -fvisibility=hidden and linked with a version script
 * (src/libhyperlight.map, version node HYPERLIGHT_1): a function is exported from
 * libhyperlight.so only when its declaration in a public header carries HL_API. Everything
 * else, the library's internal functions included, stays inside the library.
 * tests/abi/check_exports.py checks that the exported symbols are exactly the HL_API functions
 * declared in the public headers; docs/abi.md gives the rules. */
#if defined(__GNUC__) || defined(__clang__)
#define HL_API __attribute__((visibility("default")))
#else
#define HL_API
#endif

/* The first member of every struct a caller allocates and the library reads or fills (hl_config,
 * hl_policy, hl_error, hl_load_options, hl_sandbox_stats, hl_toml_options) is
 *     size_t struct_size;   set to sizeof(the struct) by the caller's own compilation
 * through the struct's init function or HL_..._INIT initialiser. Such structs only ever grow at
 * their end, and the library reads and writes only the first struct_size bytes, so a binary built
 * against an older header keeps working with a newer library. A struct_size under the first
 * release's size, or over HL_STRUCT_SIZE_MAX, is refused with HL_E_INVALID_ARG (a struct that was
 * never initialised). */
#define HL_STRUCT_SIZE_MAX 65536u

/* The initialiser behind HL_ERROR_INIT, HL_LOAD_OPTIONS_INIT, ...: struct_size set, the rest
 * zero. Designated in C, so that a member appended later draws no -Wmissing-field-initializers
 * in code compiled against the newer header. */
#ifdef __cplusplus
#define HL_STRUCT_INIT(type)                                                                       \
    {                                                                                              \
        sizeof(type)                                                                               \
    }
#else
#define HL_STRUCT_INIT(type)                                                                       \
    {                                                                                              \
        .struct_size = sizeof(type)                                                                \
    }
#endif

#endif
