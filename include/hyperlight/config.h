/* config.h - sandbox configuration: defaults, setters, hyperfile loading, host policy. */
#ifndef HYPERLIGHT_CONFIG_H
#define HYPERLIGHT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hyperlight/diag.h"
#include "hyperlight/error.h"

#include "hyperlight/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hl_execution_mode {
    HL_MODE_RUN_IN_HYPERVISOR = 0, /* "RunInHypervisor": a KVM micro-VM (default) */
    HL_MODE_RUN_IN_PROCESS = 1,    /* "RunInProcess": inside the host process, no isolation */
} hl_execution_mode;

/* What the debugging settings choose (the values of `gdb_stop` and `core_dump`). */
typedef enum hl_gdb_stop {
    HL_GDB_STOP_FIRST_CALL = 0,     /* "first-call": the first guest call waits for gdb at its entry */
    HL_GDB_STOP_INITIALIZATION = 1, /* "initialization": initialisation waits for gdb at its entry */
} hl_gdb_stop;

typedef enum hl_core_dump_mode {
    HL_CORE_DUMP_OFF = 0,             /* "off" */
    HL_CORE_DUMP_ON_FAULT = 1,        /* "on-fault": a fault, abort, panic or stack overflow */
    HL_CORE_DUMP_ALWAYS_ON_ERROR = 2, /* "always-on-error": also a cancelled or failed call */
} hl_core_dump_mode;

/* Room for a PATH value in hl_config, its terminating NUL included (Linux's PATH_MAX). */
#define HL_CONFIG_PATH_MAX 4096

#include "hyperlight/config_fields.h"

typedef enum hl_field_type {
    HL_FIELD_SIZE = 0,     /* bytes */
    HL_FIELD_DURATION = 1, /* milliseconds */
    HL_FIELD_ENUM = 2,     /* one of the row's choices, stored as its index */
    HL_FIELD_INTEGER = 3,  /* a plain whole number (e.g. a TCP port) */
    HL_FIELD_PATH = 4,     /* a file system path, stored as text (HL_CONFIG_PATH_MAX bytes) */
    HL_FIELD_MODE = HL_FIELD_ENUM, /* the first release's name (execution_mode was its only enum) */
} hl_field_type;

#define HL_FIELD_ZERO_IS_AUTO 1u /* 0 means "take it from the guest binary"; min applies otherwise */
#define HL_FIELD_ZERO_IS_OFF 2u  /* 0 turns the feature off; min applies otherwise */
#define HL_FIELD_DEBUG 4u        /* a debugging setting: hl_policy_forbid_debugging() locks it */

/* HL_CFG_INPUT_DATA_SIZE, ... in table order, then HL_CFG_FIELD_COUNT. */
typedef enum hl_config_field {
#define HL_X_(ID, key, type, flags, def, min, max, choices, doc, why) HL_CFG_##ID,
    HL_CONFIG_FIELDS(HL_X_)
#undef HL_X_
        HL_CFG_FIELD_COUNT
} hl_config_field;

/* Everything the table says about one field. */
typedef struct hl_field_info {
    hl_config_field id;
    const char *key;  /* the hyperfile key, e.g. "input_data_size" */
    hl_field_type type;
    unsigned flags;   /* HL_FIELD_ZERO_IS_AUTO */
    uint64_t def, min, max;
    const char *unit; /* "bytes", "ms" or NULL */
    const char *doc;  /* one line */
    const char *why_min; /* the reason for the bounds */
    /* ENUM: the names of the values 0..nchoices-1, as a hyperfile writes them; NULL otherwise */
    const char *const *choices;
    size_t nchoices;
} hl_field_info;

/* Where a value came from; later origins win. */
typedef enum hl_origin {
    HL_ORIGIN_DEFAULT = 0,
    HL_ORIGIN_FILE,    /* the hyperfile's top level */
    HL_ORIGIN_PROFILE, /* a [sandbox.NAME] profile of the hyperfile */
    HL_ORIGIN_HOST,    /* host code (a setter, or the CLI's --set) */
} hl_origin;

/* Total guest memory is capped (as in Hyperlight) near 1 GiB. */
#define HL_CONFIG_MAX_TOTAL_MEMORY (1 * HL_GiB)
/* Stack and heap sizes used when neither the config nor the guest binary gives one. */
#define HL_DEFAULT_GUEST_STACK_SIZE (64 * HL_KiB)
#define HL_DEFAULT_GUEST_HEAP_SIZE (128 * HL_KiB)
/* The hyperfile format versions this library reads. */
#define HL_HYPERFILE_VERSION 1
/* Hyperfiles larger than this are refused with an error (a real one is a few KiB). */
#define HL_HYPERFILE_MAX_SIZE ((size_t)1 << 20)

/* Room for settings in hl_config's and hl_policy's per-field arrays (and hl_policy.locked's
 * bits): fixed, so that a new row in the table does not move any member. */
#define HL_CONFIG_MAX_FIELDS 64

/* A sandbox configuration. Plain data: initialise it with hl_config_init(), then copy it with
 * `=`. Read the values directly (cfg.input_data_size, in bytes; durations in milliseconds;
 * execution_mode as an hl_execution_mode); change them with the setters so that checks and
 * origins stay right.
 *
 * ABI: the values come last, one per row of HL_CONFIG_FIELDS in table order (a uint64_t, or for a
 * PATH a char[HL_CONFIG_PATH_MAX] holding a NUL-terminated string), and rows are only ever
 * appended, so a newer library's hl_config only grows at its end. struct_size
 * (set by hl_config_init from the caller's sizeof) tells the library which values the caller's
 * struct holds: a value past struct_size is read as its default and never written, and a setter
 * or hyperfile key for it fails (see docs/abi.md). */
#define HL_FIELD_MEMBER_SIZE(key) uint64_t key;
#define HL_FIELD_MEMBER_DURATION(key) uint64_t key;
#define HL_FIELD_MEMBER_ENUM(key) uint64_t key;
#define HL_FIELD_MEMBER_INTEGER(key) uint64_t key;
#define HL_FIELD_MEMBER_PATH(key) char key[HL_CONFIG_PATH_MAX];

typedef struct hl_config {
    size_t struct_size;                         /* sizeof(hl_config) as the caller compiled it */
    uint8_t origin[HL_CONFIG_MAX_FIELDS];       /* hl_origin of each value */
    uint32_t origin_line[HL_CONFIG_MAX_FIELDS]; /* line in the hyperfile, 0 if not from a file */
    char source_name[256];                      /* the hyperfile's display name, "" if none */
    char profile[64];                           /* the profile loaded, "" if none */
#define HL_X_(ID, key, type, flags, def, min, max, choices, doc, why) HL_FIELD_MEMBER_##type(key)
    HL_CONFIG_FIELDS(HL_X_)
#undef HL_X_
} hl_config;

/* The table: hl_config_field_count() rows; info(f) for f < HL_CFG_FIELD_COUNT. */
HL_API size_t hl_config_field_count(void);
HL_API const hl_field_info *hl_config_field_info(hl_config_field f);
/* The field of a hyperfile key, or NULL. */
HL_API const hl_field_info *hl_config_field_find(const char *key);

/* Sets struct_size to `struct_size` and every field the struct holds to its default (origin
 * DEFAULT). Call it through hl_config_init(), which passes the caller's sizeof(hl_config).
 * HL_E_INVALID_ARG (nothing written) for NULL, or a size under the first field's end or over
 * HL_STRUCT_SIZE_MAX. */
HL_API hl_status hl_config_init_sized(hl_config *cfg, size_t struct_size);
/* Sets every field to its default (origin DEFAULT) and struct_size to sizeof(hl_config). Every
 * hl_config must be initialised with it (or be a copy of one that was) before any other use:
 * the functions below refuse a struct_size that was never set (HL_E_INVALID_ARG, or the failure
 * value of functions without a status). */
static inline void hl_config_init(hl_config *cfg)
{
    (void)hl_config_init_sized(cfg, sizeof *cfg);
}

/* What a setter did with the value. */
typedef enum hl_set_result {
    HL_SET_OK = 0,        /* stored as given */
    HL_SET_RAISED = 1,    /* under the minimum: raised to it (Hyperlight's semantics) */
    HL_SET_DEFAULTED = 2, /* a zero duration: the default was stored (Hyperlight's semantics) */
    HL_SET_TOO_LARGE = -1, /* over the maximum: nothing stored */
    HL_SET_BAD_FIELD = -2, /* no such field, or a bad execution mode value: nothing stored */
} hl_set_result;

/* The generic setter and getter; the value is in the field's unit (an enum's: its index). Origin
 * becomes HOST (and origin_line 0). In this order: a bad field, a PATH field, or an enum value
 * past its choices is HL_SET_BAD_FIELD;
 * a value over max is HL_SET_TOO_LARGE (nothing stored); a zero duration stores the default
 * (HL_SET_DEFAULTED); a zero for a ZERO_IS_AUTO or ZERO_IS_OFF field stores 0 (HL_SET_OK); a value
 * under min stores min (HL_SET_RAISED). The getter returns 0 for a bad field. */
HL_API hl_set_result hl_config_set(hl_config *cfg, hl_config_field f, uint64_t value);
HL_API uint64_t hl_config_get(const hl_config *cfg, hl_config_field f);
/* The same for PATH fields (hl_config_set/get refuse them: HL_SET_BAD_FIELD, 0). The setter
 * copies `text` (NULL or "" clears it): HL_SET_TOO_LARGE (nothing stored) when it does not fit
 * in HL_CONFIG_PATH_MAX bytes with its NUL, HL_SET_BAD_FIELD for a field that is not a PATH or a
 * text with control characters. The getter returns the stored text ("" by default), or NULL for
 * a field that is not a PATH; it points into cfg. */
HL_API hl_set_result hl_config_set_string(hl_config *cfg, hl_config_field f, const char *text);
HL_API const char *hl_config_get_string(const hl_config *cfg, hl_config_field f);

/* One named setter and getter per field, e.g.
 *     hl_set_result hl_config_set_input_data_size(hl_config *cfg, uint64_t bytes);
 *     uint64_t      hl_config_get_input_data_size(const hl_config *cfg);
 *     hl_set_result hl_config_set_core_dump_dir(hl_config *cfg, const char *path);
 *     const char   *hl_config_get_core_dump_dir(const hl_config *cfg);
 * Durations take milliseconds; an enum takes its value (hl_execution_mode, hl_core_dump_mode,
 * ...); a PATH takes and gives text (hl_config_set_string / hl_config_get_string). */
#define HL_FIELD_CTYPE_SIZE uint64_t
#define HL_FIELD_CTYPE_DURATION uint64_t
#define HL_FIELD_CTYPE_ENUM uint64_t
#define HL_FIELD_CTYPE_INTEGER uint64_t
#define HL_FIELD_CTYPE_PATH const char *
#define HL_X_(ID, key, type, flags, def, min, max, choices, doc, why)                              \
    HL_API hl_set_result hl_config_set_##key(hl_config *cfg, HL_FIELD_CTYPE_##type value);         \
    HL_API HL_FIELD_CTYPE_##type hl_config_get_##key(const hl_config *cfg);
HL_CONFIG_FIELDS(HL_X_)
#undef HL_X_

/* Sets a field from text as the CLI's --set and a hyperfile string would. Strict: a value out
 * of range is an error (nothing is clamped, a zero duration is not "the default"). Records
 * `origin` (origin_line 0). Returns HL_OK; HL_E_UNKNOWN_KEY (with a "did you mean" in the
 * message when a key is close), HL_E_CONFIG for text of the wrong form, HL_E_RANGE out of range,
 * HL_E_INVALID_ARG for NULLs; on error cfg is unchanged and err (may be NULL) holds one line:
 * "<message> (<help>)", the same words a hyperfile diagnostic uses.
 *
 * Sizes: a whole number of bytes, digits with optional `_` between them and an optional
 * fraction, then optionally (a space and) a unit: B; KiB, MiB, GiB, TiB (powers of 1024);
 * kB/KB, MB, GB, TB (powers of 1000, as SI says). "8192", "4096B", "512KiB", "1.5KiB", "2 MiB",
 * "64kB". Ambiguous units (K, M, G, Kb, mb, ...) and case mistakes (mib) are errors whose help
 * gives the two readings. The result must be whole bytes ("1.3KiB" is an error).
 * Durations: a number then ns, us (or µs), ms or s; a bare number is milliseconds: "100ms",
 * "2s", "1.5s", "2000us", "250". The resolution is 1 ms: "1500us" is an error whose help
 * suggests the nearest whole ms ("2ms"). Enums: exactly one of the field's choices
 * ("RunInProcess", "on-fault"). Integers: decimal digits ("9000"). Paths: the text as it is
 * (no control characters; longer than HL_CONFIG_PATH_MAX - 1 bytes is HL_E_RANGE). */
HL_API hl_status hl_config_set_text(hl_config *cfg, const char *key, const char *text,
                                    hl_origin origin, hl_error *err);

/* Formats a field's value as text that hl_config_set_text() reads back: sizes as integers of
 * bytes ("16384"), durations as "100ms", the mode as "RunInProcess" (no quotes). Returns the
 * length snprintf would have written, or -1 (buf set to "") for a bad field or NULL cfg. */
HL_API int hl_config_format_value(const hl_config *cfg, hl_config_field f, char *buf, size_t size);

/* Guest memory the config asks for: the sum of every size field, each rounded up to a 4 KiB
 * page, a 0 stack or heap override counted at HL_DEFAULT_GUEST_STACK_SIZE / _HEAP_SIZE
 * (saturating, never wrapping). Hyperfile loading rejects a total over
 * HL_CONFIG_MAX_TOTAL_MEMORY; setters do not check it (compare the result yourself). */
HL_API uint64_t hl_config_total_memory(const hl_config *cfg);

/* True when both configs hold the same values (origins are not compared). When they differ and
 * first_diff is not NULL, it receives the first differing field. */
HL_API bool hl_config_equal(const hl_config *a, const hl_config *b, hl_config_field *first_diff);

HL_API const char *hl_origin_name(hl_origin origin); /* "default", "hyperfile", "profile", "host" */
/* A short constant name for a status ("out of memory", ...) is hl_status_str() in error.h. */
HL_API const char *hl_execution_mode_name(hl_execution_mode mode); /* "RunInHypervisor", ... */

/* ---- Host policy (HIP story 3: an end user's hyperfile cannot weaken the host's choices) ---- */

/* A host policy. Initialise it with hl_policy_init() and change it with the functions below.
 * ABI: new members are appended; struct_size is the caller's sizeof (docs/abi.md). */
typedef struct hl_policy {
    size_t struct_size;                     /* sizeof(hl_policy) as the caller compiled it */
    uint64_t locked;                        /* bit f set: a hyperfile may not set field f */
    bool forbid_in_process;                 /* RunInProcess from a hyperfile is an error */
    uint64_t cap_min[HL_CONFIG_MAX_FIELDS]; /* narrowed ranges (init: the table's) */
    uint64_t cap_max[HL_CONFIG_MAX_FIELDS];
} hl_policy;

/* Nothing locked, the table's ranges, RunInProcess allowed; struct_size set to `struct_size`.
 * Call it through hl_policy_init(). HL_E_INVALID_ARG (nothing written) for NULL or a size under
 * this release's sizeof(hl_policy) or over HL_STRUCT_SIZE_MAX. */
HL_API hl_status hl_policy_init_sized(hl_policy *policy, size_t struct_size);
/* Nothing locked, the table's ranges, RunInProcess allowed. A policy binds hyperfiles only:
 * host code (setters, hl_config_set_text) is never checked against it. The functions below and
 * the loader refuse a policy whose struct_size was never set (HL_E_INVALID_ARG). */
static inline void hl_policy_init(hl_policy *policy)
{
    (void)hl_policy_init_sized(policy, sizeof *policy);
}
/* A hyperfile that sets f (top level or any profile) gets an error at the key: "`f` is locked
 * by the host". HL_E_INVALID_ARG for a bad field. */
HL_API hl_status hl_policy_lock(hl_policy *policy, hl_config_field f);
/* Narrows f's allowed range for hyperfiles: a value outside gets a range error stating the
 * host's range ("allowed by the host: 1 KiB to 1 MiB"). For a ZERO_IS_AUTO field a capped range
 * also refuses 0 ("from the guest binary" could be anything). min..max must lie inside the
 * table's range: else HL_E_RANGE (nothing changed); HL_E_INVALID_ARG for a bad field. */
HL_API hl_status hl_policy_cap(hl_policy *policy, hl_config_field f, uint64_t min, uint64_t max);
/* `execution_mode = "RunInProcess"` in a hyperfile becomes an error at the value.
 * HL_E_INVALID_ARG for NULL or an uninitialised policy. */
HL_API hl_status hl_policy_forbid_in_process(hl_policy *policy);
/* Locks every debugging setting (the fields flagged HL_FIELD_DEBUG: gdb_port, gdb_stop,
 * core_dump, core_dump_dir): a hyperfile that sets one gets "`KEY` is locked by the host", so an
 * end user's file can neither open a debugger port nor write core files. Host code may still set
 * them. HL_E_INVALID_ARG for NULL or an uninitialised policy. */
HL_API hl_status hl_policy_forbid_debugging(hl_policy *policy);

/* ---- Hyperfiles ---- */

/* Options of the loaders. Start from HL_LOAD_OPTIONS_INIT (it sets struct_size; new members
 * are appended and their zero means "as before"); or pass NULL for no profile and no policy:
 *     hl_load_options opt = HL_LOAD_OPTIONS_INIT;
 *     opt.profile = "ci"; */
typedef struct hl_load_options {
    size_t struct_size;       /* sizeof(hl_load_options) as the caller compiled it */
    const char *profile;      /* a [sandbox.NAME] profile to apply over the top level, or NULL */
    const hl_policy *policy;  /* the host's policy, or NULL */
} hl_load_options;
#define HL_LOAD_OPTIONS_INIT HL_STRUCT_INIT(hl_load_options)

/* Applies a hyperfile over cfg (call hl_config_init() first, or set host defaults first: the
 * file overrides them; host code that sets values after loading overrides the file). Reads
 * TOML 1.0.0, at most HL_HYPERFILE_MAX_SIZE bytes. Omitted keys keep cfg's values.
 *
 * Every problem is reported, not just the first, each at its exact span (the key for unknown and
 * locked keys, the value for type, form and range errors), sorted by position: up to 20 TOML
 * syntax errors; unknown keys (with "did you mean"); wrong types; negative sizes; values out of
 * range (the help states the range, nothing is clamped); bad size, duration and mode strings;
 * hyperfile_version other than the integer 1; a total memory (hl_config_total_memory) over
 * HL_CONFIG_MAX_TOTAL_MEMORY, for the top level and for each profile; the policy's locks, caps
 * and forbid_in_process; an unknown profile (no position; the help lists the file's profiles).
 * Profiles: `[sandbox.NAME]` tables take the same keys as the top level and inherit from it;
 * every profile is checked even when another (or none) is selected.
 *
 * On success: values from the top level get origin HL_ORIGIN_FILE, those from the selected
 * profile HL_ORIGIN_PROFILE, with origin_line the key's line; source_name and profile are set.
 * A key for a value past cfg's struct_size (a program built against an older header) is an error
 * at the key. HL_E_INVALID_ARG (a diagnostic says why) for an uninitialised cfg, options or
 * policy, or options from a newer header that set members this library does not know.
 * On any error cfg is left unchanged and HL_E_CONFIG (or HL_E_IO, HL_E_NOMEM) is returned;
 * diags (may be NULL) receives the diagnostics and a copy of the source, so it can render them
 * later. Warnings do not fail. */
HL_API hl_status hl_config_load_file(hl_config *cfg, const char *path,
                                     const hl_load_options *options, hl_diag_list *diags);
/* The same from memory; `name` is shown in diagnostics (e.g. "hyperfile.toml"; NULL:
 * "<string>"). I/O errors from hl_config_load_file() are diagnostics without a position:
 * "could not read `PATH`: <strerror>". */
HL_API hl_status hl_config_load_string(hl_config *cfg, const char *text, size_t len,
                                       const char *name, const hl_load_options *options,
                                       hl_diag_list *diags);

#ifdef __cplusplus
}
#endif
#endif
