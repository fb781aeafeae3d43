/* config_internal.h - helpers shared by the config model, the value parsers and the hyperfile loader. */
#ifndef HL_CONFIG_INTERNAL_H
#define HL_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hyperlight/config.h"

/* What is wrong with a value, in the words of a diagnostic: a one-line message and a help line
 * (the expected form, the allowed range or a suggestion); help may be empty. */
typedef struct hl_value_problem {
    char message[320];
    char help[320];
} hl_value_problem;

/* Fills a problem with printf-style text; help may be NULL. */
void hl_problem_set(hl_value_problem *pb, const char *help, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses the text form of a value of the field (sizes "4MiB", "512KiB", "8192", "1.5KiB";
 * durations "100ms", "2s", "2000us", "100"; modes "RunInProcess"). The range is not checked.
 * Returns true and stores the value (bytes, milliseconds or hl_execution_mode), or returns
 * false and describes the problem. */
bool hl_value_parse_text(const hl_field_info *info, const char *text, size_t len, uint64_t *value,
                         hl_value_problem *pb);

/* Checks value against [min, max] (0 also passes for a ZERO_IS_AUTO field when allow_auto).
 * `who` names the range's author in the help ("" for the table's, "by the host " for a cap). */
bool hl_value_check_range(const hl_field_info *info, uint64_t value, uint64_t min, uint64_t max,
                          bool allow_auto, const char *who, hl_value_problem *pb);

/* A size for people, exact: "4 MiB", "512 KiB", "1536 B", "1 GiB". */
void hl_format_size(uint64_t bytes, char *buf, size_t size);
/* A value of the field for people: "4 MiB", "100 ms", "RunInProcess". */
void hl_format_human(const hl_field_info *info, uint64_t value, char *buf, size_t size);
/* The allowed range for people: "256 B to 64 MiB", "1 ms to 65535 ms",
 * "0 (from the guest binary), or 16 KiB to 512 MiB", "\"RunInHypervisor\" or \"RunInProcess\"". */
void hl_format_range(const hl_field_info *info, uint64_t min, uint64_t max, bool allow_auto,
                     char *buf, size_t size);

/* Writes text as a double-quoted string with TOML escapes for quotes, backslashes and controls,
 * shortened with "..." past max_chars bytes of input. */
void hl_quote(const char *text, size_t len, size_t max_chars, char *buf, size_t size);

/* The closest of `count` candidates to `word` (edit distance, case-insensitively, or one holding
 * the other), or NULL when none is close enough to be a likely typo. */
const char *hl_suggest(const char *word, size_t len, const char *const *candidates, size_t count);

/* True for a cfg whose struct_size was set (by hl_config_init). */
bool hl_config_valid(const hl_config *cfg);
/* True when the caller's cfg (valid) holds field f: its struct_size reaches f's value. */
bool hl_config_holds(const hl_config *cfg, hl_config_field f);
/* A whole hl_config from a caller's (any struct_size): the values it holds, defaults for the
 * rest; full->struct_size keeps the caller's. HL_E_INVALID_ARG for an uninitialised cfg. */
hl_status hl_config_import(hl_config *full, const hl_config *cfg);
/* Writes back into the caller's cfg what its struct_size holds (struct_size is kept). */
void hl_config_export(hl_config *cfg, const hl_config *full);
/* True for a policy whose struct_size was set (by hl_policy_init). */
bool hl_policy_valid(const hl_policy *policy);

/* The policy's range for a field and whether it narrows the table's. */
void hl_policy_range(const hl_policy *policy, const hl_field_info *info, uint64_t *min,
                     uint64_t *max, bool *capped);
bool hl_policy_is_locked(const hl_policy *policy, hl_config_field f);

typedef enum hl_policy_verdict {
    HL_POLICY_OK,
    HL_POLICY_OUT_OF_RANGE, /* outside the table's range */
    HL_POLICY_CAPPED,       /* outside the host's narrower range */
    HL_POLICY_FORBIDDEN,    /* RunInProcess when the host forbids it */
} hl_policy_verdict;

/* Checks a hyperfile's value against the table's range as narrowed by the policy (may be NULL)
 * and against forbid_in_process; on failure describes the problem. Locks are checked apart. */
hl_policy_verdict hl_policy_check(const hl_policy *policy, const hl_field_info *info,
                                  uint64_t value, hl_value_problem *pb);

/* The name of an ENUM field's value ("RunInProcess", "on-fault"), or "?" for a bad value. */
const char *hl_field_choice_name(const hl_field_info *info, uint64_t value);
/* The text of a PATH field in cfg (writable), or NULL for other fields. */
char *hl_config_text_slot(hl_config *cfg, hl_config_field f);
/* True when a PATH's text has no control characters. */
bool hl_path_text_ok(const char *text, size_t len);
/* Checks a PATH value (length, NUL and control characters); false with the problem. */
bool hl_path_check(const hl_field_info *info, const char *text, size_t len, hl_value_problem *pb);

/* Guest memory of one size field as counted by hl_config_total_memory(). */
uint64_t hl_config_field_memory(hl_config_field f, uint64_t value);

#define HL_PAGE_SIZE 4096u

#endif
