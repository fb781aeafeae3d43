/* hyperfile_check.c - checks the keys and values of one hyperfile table against the field table. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"
#include "config/hyperfile_internal.h"

#define SIZE_EXPECTED "expected an integer of bytes or a string like \"4MiB\""
#define DURATION_EXPECTED "expected an integer of milliseconds or a string like \"100ms\""
#define INTEGER_EXPECTED "expected an integer"
#define PATH_EXPECTED "expected a string holding a path, like \"/var/tmp/cores\""

void hl_loader_report(hl_loader *ld, hl_severity sev, const hl_toml_span *span, const char *help,
                      const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (sev == HL_SEV_ERROR)
        ld->errors++;
    if (ld->diags == NULL)
        return;
    int rc;
    if (span != NULL)
        rc = hl_diag_add(ld->diags, sev, ld->name, span->line, span->column, span->offset,
                         span->length, help, "%s", message);
    else
        rc = hl_diag_add(ld->diags, sev, ld->name, 0, 0, 0, 0, help, "%s", message);
    if (rc != 0)
        ld->nomem = true;
}

void hl_loader_key_text(const char *key, size_t len, char *buf, size_t size)
{
    bool bare = len > 0;
    for (size_t i = 0; i < len && bare; i++) {
        char c = key[i];
        bare = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    }
    if (bare && len < 64) {
        snprintf(buf, size, "`%.*s`", (int)len, key);
        return;
    }
    hl_quote(key, len, 48, buf, size);
}

/* "a boolean", "an array", ... for "must be a size, not a boolean". */
static const char *type_phrase(hl_toml_type t)
{
    switch (t) {
    case HL_TOML_TABLE: return "a table";
    case HL_TOML_ARRAY: return "an array";
    case HL_TOML_STRING: return "a string";
    case HL_TOML_INTEGER: return "an integer";
    case HL_TOML_FLOAT: return "a float";
    case HL_TOML_BOOL: return "a boolean";
    case HL_TOML_DATETIME: return "a date-time";
    case HL_TOML_DATETIME_LOCAL: return "a local date-time";
    case HL_TOML_DATE_LOCAL: return "a date";
    case HL_TOML_TIME_LOCAL: return "a time";
    }
    return "a value";
}

/* Reads the value of one setting: its type and form, then the range and the host's policy.
 * Returns true and stores the value when it is acceptable; else reports at the value. */
/* What the file must write for the field: "expected ..." help and "a size" for messages. */
static void expectation(const hl_field_info *info, char *expected, size_t size, const char **kind)
{
    switch (info->type) {
    case HL_FIELD_SIZE:
        snprintf(expected, size, "%s", SIZE_EXPECTED);
        *kind = "a size";
        return;
    case HL_FIELD_DURATION:
        snprintf(expected, size, "%s", DURATION_EXPECTED);
        *kind = "a duration";
        return;
    case HL_FIELD_INTEGER:
        snprintf(expected, size, "%s", INTEGER_EXPECTED);
        *kind = "an integer";
        return;
    case HL_FIELD_PATH:
        snprintf(expected, size, "%s", PATH_EXPECTED);
        *kind = "a string";
        return;
    case HL_FIELD_ENUM:
        break;
    }
    char list[256];
    hl_format_range(info, 0, info->nchoices - 1, false, list, sizeof list);
    snprintf(expected, size, "expected %s", list);
    *kind = "a string";
}

/* Reads the value of one setting: its type and form, then the range and the host's policy.
 * Returns true and stores the value (a PATH: its text, in the document) when it is acceptable;
 * else reports at the value. */
static bool read_value(hl_loader *ld, const hl_field_info *info, const hl_toml_value *v,
                       uint64_t *out, const char **text, size_t *text_len)
{
    hl_toml_span span = hl_toml_value_span(v);
    hl_toml_type t = hl_toml_type_of(v);
    hl_value_problem pb;
    uint64_t value = 0;
    char expected[320];
    const char *kind;
    expectation(info, expected, sizeof expected, &kind);
    bool string_ok = info->type != HL_FIELD_INTEGER;
    bool integer_ok = info->type == HL_FIELD_SIZE || info->type == HL_FIELD_DURATION ||
                      info->type == HL_FIELD_INTEGER;
    if (t == HL_TOML_STRING && info->type == HL_FIELD_PATH) {
        size_t len;
        const char *s = hl_toml_string(v, &len);
        if (!hl_path_check(info, s, len, &pb)) {
            hl_loader_report(ld, HL_SEV_ERROR, &span, pb.help[0] ? pb.help : NULL, "%s", pb.message);
            return false;
        }
        *text = s;
        *text_len = len;
        return true;
    } else if (t == HL_TOML_STRING && string_ok) {
        size_t len;
        const char *s = hl_toml_string(v, &len);
        if (!hl_value_parse_text(info, s, len, &value, &pb)) {
            hl_loader_report(ld, HL_SEV_ERROR, &span, pb.help[0] ? pb.help : NULL, "%s", pb.message);
            return false;
        }
    } else if (t == HL_TOML_INTEGER && integer_ok) {
        int64_t i = hl_toml_int(v);
        if (i < 0) {
            hl_loader_report(ld, HL_SEV_ERROR, &span, expected, "`%s` cannot be negative: %lld",
                             info->key, (long long)i);
            return false;
        }
        value = (uint64_t)i;
    } else {
        hl_loader_report(ld, HL_SEV_ERROR, &span, expected, "`%s` must be %s, not %s", info->key,
                         kind, type_phrase(t));
        return false;
    }
    if (hl_policy_check(ld->policy, info, value, &pb) != HL_POLICY_OK) {
        hl_loader_report(ld, HL_SEV_ERROR, &span, pb.help[0] ? pb.help : NULL, "%s", pb.message);
        return false;
    }
    *out = value;
    return true;
}

static void read_version(hl_loader *ld, const hl_toml_value *v, const hl_toml_span *key_span,
                         const char *profile)
{
    hl_toml_span span = hl_toml_value_span(v);
    if (profile != NULL) {
        hl_loader_report(ld, HL_SEV_ERROR, key_span, "move it to the top of the file",
                         "`hyperfile_version` belongs at the top level, not in profile %s",
                         profile);
    } else if (hl_toml_type_of(v) != HL_TOML_INTEGER) {
        hl_loader_report(ld, HL_SEV_ERROR, &span, "write `hyperfile_version = 1`",
                         "`hyperfile_version` must be an integer, not %s",
                         type_phrase(hl_toml_type_of(v)));
    } else if (hl_toml_int(v) != HL_HYPERFILE_VERSION) {
        char help[128];
        snprintf(help, sizeof help, "this version of hyperlight reads hyperfile_version %d only",
                 HL_HYPERFILE_VERSION);
        hl_loader_report(ld, HL_SEV_ERROR, &span, help, "unsupported hyperfile_version %lld",
                         (long long)hl_toml_int(v));
    }
}

static void report_unknown(hl_loader *ld, const char *key, size_t len, const hl_toml_span *span,
                           const char *profile)
{
    const char *names[HL_CFG_FIELD_COUNT + 2];
    size_t n = 0;
    for (size_t i = 0; i < HL_CFG_FIELD_COUNT; i++)
        names[n++] = hl_config_field_info((hl_config_field)i)->key;
    if (profile == NULL) {
        names[n++] = "hyperfile_version";
        names[n++] = "sandbox";
    }
    char shown[128], help[160] = "`hyperlight init` writes a template with every key";
    hl_loader_key_text(key, len, shown, sizeof shown);
    const char *near = hl_suggest(key, len, names, n);
    if (near != NULL)
        snprintf(help, sizeof help, "did you mean `%s`?", near);
    if (profile != NULL && len == 7 && memcmp(key, "sandbox", 7) == 0)
        hl_loader_report(ld, HL_SEV_ERROR, span, "a profile is a [sandbox.NAME] table at the top",
                         "profiles do not nest: `sandbox` in profile %s", profile);
    else if (profile != NULL)
        hl_loader_report(ld, HL_SEV_ERROR, span, help, "unknown key %s in profile %s", shown,
                         profile);
    else
        hl_loader_report(ld, HL_SEV_ERROR, span, help, "unknown key %s", shown);
}

void hl_loader_read_table(hl_loader *ld, const hl_toml_value *table, const char *profile,
                          hl_layer *layer)
{
    size_t count = hl_toml_table_size(table);
    for (size_t i = 0; i < count; i++) {
        const char *key;
        size_t len;
        hl_toml_span key_span;
        const hl_toml_value *v = hl_toml_table_at(table, i, &key, &len, &key_span);
        if (v == NULL)
            continue;
        if (strlen(key) == len && strcmp(key, "hyperfile_version") == 0) {
            read_version(ld, v, &key_span, profile);
            continue;
        }
        if (profile == NULL && strlen(key) == len && strcmp(key, "sandbox") == 0)
            continue;
        const hl_field_info *info = strlen(key) == len ? hl_config_field_find(key) : NULL;
        if (info == NULL) {
            report_unknown(ld, key, len, &key_span, profile);
            continue;
        }
        if (hl_policy_is_locked(ld->policy, info->id)) {
            hl_loader_report(ld, HL_SEV_ERROR, &key_span,
                             (info->flags & HL_FIELD_DEBUG)
                                 ? "the host does not let a hyperfile turn on debugging (a gdb "
                                   "port, core files): remove the line"
                                 : "the host sets this value itself: remove the line",
                             "`%s` is locked by the host", info->key);
            continue;
        }
        uint64_t value = 0;
        const char *text = NULL;
        size_t text_len = 0;
        if (read_value(ld, info, v, &value, &text, &text_len)) {
            layer->set[info->id] = true;
            layer->value[info->id] = value;
            layer->text[info->id] = text;
            layer->text_len[info->id] = text_len;
            layer->key_span[info->id] = key_span;
            layer->value_span[info->id] = hl_toml_value_span(v);
        }
    }
}
