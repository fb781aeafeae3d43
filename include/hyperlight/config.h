/* config.h - sandbox configuration: defaults, setters, hyperfile loading, host policy. */
#ifndef HYPERLIGHT_CONFIG_H
#define HYPERLIGHT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hyperlight/diag.h"
#include "hyperlight/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hl_execution_mode {
    HL_MODE_RUN_IN_HYPERVISOR = 0, /* "RunInHypervisor": a KVM micro-VM (default) */
    HL_MODE_RUN_IN_PROCESS = 1,    /* "RunInProcess": inside the host process, no isolation */
} hl_execution_mode;

#include "hyperlight/config_fields.h"

typedef enum hl_field_type {
    HL_FIELD_SIZE,     /* bytes */
    HL_FIELD_DURATION, /* milliseconds */
    HL_FIELD_MODE,     /* hl_execution_mode */
} hl_field_type;

#define HL_FIELD_ZERO_IS_AUTO 1u

/* HL_CFG_INPUT_DATA_SIZE, ... in table order, then HL_CFG_FIELD_COUNT. */
typedef enum hl_config_field {
#define HL_X_(ID, key, type, flags, def, min, max, doc, why) HL_CFG_##ID,
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

/* A sandbox configuration. Plain data: copy it with `=`. Read the values directly
 * (cfg.input_data_size, in bytes; durations in milliseconds; execution_mode as an
 * hl_execution_mode); change them with the setters so that checks and origins stay right. */
typedef struct hl_config {
#define HL_X_(ID, key, type, flags, def, min, max, doc, why) uint64_t key;
    HL_CONFIG_FIELDS(HL_X_)
#undef HL_X_
    uint8_t origin[HL_CFG_FIELD_COUNT];       /* hl_origin of each value */
    uint32_t origin_line[HL_CFG_FIELD_COUNT]; /* line in the hyperfile, 0 if not from a file */
    char source_name[256];                    /* the hyperfile's display name, "" if none */
    char profile[64];                         /* the profile loaded, "" if none */
} hl_config;

/* The table: hl_config_field_count() rows; info(f) for f < HL_CFG_FIELD_COUNT. */
size_t hl_config_field_count(void);
const hl_field_info *hl_config_field_info(hl_config_field f);
/* The field of a hyperfile key, or NULL. */
const hl_field_info *hl_config_field_find(const char *key);

/* Sets every field to its default (origin DEFAULT). */
void hl_config_init(hl_config *cfg);

/* What a setter did with the value. */
typedef enum hl_set_result {
    HL_SET_OK = 0,        /* stored as given */
    HL_SET_RAISED = 1,    /* under the minimum: raised to it (Hyperlight's semantics) */
    HL_SET_DEFAULTED = 2, /* a zero duration: the default was stored (Hyperlight's semantics) */
    HL_SET_TOO_LARGE = -1, /* over the maximum: nothing stored */
    HL_SET_BAD_FIELD = -2, /* no such field, or a bad execution mode value: nothing stored */
} hl_set_result;

/* The generic setter and getter; the value is in the field's unit. Origin becomes HOST (and
 * origin_line 0). In this order: a bad field, or a mode other than the two, is HL_SET_BAD_FIELD;
 * a value over max is HL_SET_TOO_LARGE (nothing stored); a zero duration stores the default
 * (HL_SET_DEFAULTED); a zero for a ZERO_IS_AUTO field stores 0, "auto" (HL_SET_OK); a value
 * under min stores min (HL_SET_RAISED). The getter returns 0 for a bad field. */
hl_set_result hl_config_set(hl_config *cfg, hl_config_field f, uint64_t value);
uint64_t hl_config_get(const hl_config *cfg, hl_config_field f);

/* One named setter and getter per field, e.g.
 *     hl_set_result hl_config_set_input_data_size(hl_config *cfg, uint64_t bytes);
 *     uint64_t      hl_config_get_input_data_size(const hl_config *cfg);
 * Durations take milliseconds; execution_mode takes an hl_execution_mode. */
#define HL_X_(ID, key, type, flags, def, min, max, doc, why)                                      \
    hl_set_result hl_config_set_##key(hl_config *cfg, uint64_t value);                             \
    uint64_t hl_config_get_##key(const hl_config *cfg);
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
 * suggests the nearest whole ms ("2ms"). Modes: exactly "RunInHypervisor" or "RunInProcess". */
hl_status hl_config_set_text(hl_config *cfg, const char *key, const char *text, hl_origin origin,
                             hl_error *err);

/* Formats a field's value as text that hl_config_set_text() reads back: sizes as integers of
 * bytes ("16384"), durations as "100ms", the mode as "RunInProcess" (no quotes). Returns the
 * length snprintf would have written, or -1 (buf set to "") for a bad field or NULL cfg. */
int hl_config_format_value(const hl_config *cfg, hl_config_field f, char *buf, size_t size);

/* Guest memory the config asks for: the sum of every size field, each rounded up to a 4 KiB
 * page, a 0 stack or heap override counted at HL_DEFAULT_GUEST_STACK_SIZE / _HEAP_SIZE
 * (saturating, never wrapping). Hyperfile loading rejects a total over
 * HL_CONFIG_MAX_TOTAL_MEMORY; setters do not check it (compare the result yourself). */
uint64_t hl_config_total_memory(const hl_config *cfg);

/* True when both configs hold the same values (origins are not compared). When they differ and
 * first_diff is not NULL, it receives the first differing field. */
bool hl_config_equal(const hl_config *a, const hl_config *b, hl_config_field *first_diff);

const char *hl_origin_name(hl_origin origin);       /* "default", "hyperfile", "profile", "host" */
/* A short constant name for a status ("out of memory", ...) is hl_status_str() in error.h. */
const char *hl_execution_mode_name(hl_execution_mode mode); /* "RunInHypervisor", ... */

/* ---- Host policy (HIP story 3: an end user's hyperfile cannot weaken the host's choices) ---- */

typedef struct hl_policy {
    uint64_t locked;                       /* bit f set: a hyperfile may not set field f */
    uint64_t cap_min[HL_CFG_FIELD_COUNT];  /* narrowed ranges (init: the table's) */
    uint64_t cap_max[HL_CFG_FIELD_COUNT];
    bool forbid_in_process;                /* RunInProcess from a hyperfile is an error */
} hl_policy;

/* Nothing locked, the table's ranges, RunInProcess allowed. A policy binds hyperfiles only:
 * host code (setters, hl_config_set_text) is never checked against it. */
void hl_policy_init(hl_policy *policy);
/* A hyperfile that sets f (top level or any profile) gets an error at the key: "`f` is locked
 * by the host". HL_E_INVALID_ARG for a bad field. */
hl_status hl_policy_lock(hl_policy *policy, hl_config_field f);
/* Narrows f's allowed range for hyperfiles: a value outside gets a range error stating the
 * host's range ("allowed by the host: 1 KiB to 1 MiB"). For a ZERO_IS_AUTO field a capped range
 * also refuses 0 ("from the guest binary" could be anything). min..max must lie inside the
 * table's range: else HL_E_RANGE (nothing changed); HL_E_INVALID_ARG for a bad field. */
hl_status hl_policy_cap(hl_policy *policy, hl_config_field f, uint64_t min, uint64_t max);
/* `execution_mode = "RunInProcess"` in a hyperfile becomes an error at the value. */
void hl_policy_forbid_in_process(hl_policy *policy);

/* ---- Hyperfiles ---- */

typedef struct hl_load_options {
    const char *profile;      /* a [sandbox.NAME] profile to apply over the top level, or NULL */
    const hl_policy *policy;  /* the host's policy, or NULL */
} hl_load_options;

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
 * On any error cfg is left unchanged and HL_E_CONFIG (or HL_E_IO, HL_E_NOMEM) is returned;
 * diags (may be NULL) receives the diagnostics and a copy of the source, so it can render them
 * later. Warnings do not fail. */
hl_status hl_config_load_file(hl_config *cfg, const char *path, const hl_load_options *options,
                              hl_diag_list *diags);
/* The same from memory; `name` is shown in diagnostics (e.g. "hyperfile.toml"; NULL:
 * "<string>"). I/O errors from hl_config_load_file() are diagnostics without a position:
 * "could not read `PATH`: <strerror>". */
hl_status hl_config_load_string(hl_config *cfg, const char *text, size_t len, const char *name,
                                const hl_load_options *options, hl_diag_list *diags);

#ifdef __cplusplus
}
#endif
#endif
