/* export_values.c - a config written as JSON or TOML; helpers the other writers share. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "config/export_internal.h"
#include "hyperlight/config_export.h"
#include "hyperlight/toml.h"
#include "util/json.h"

/* ---- shared helpers ---- */

void hl_export_json_string(FILE *out, const char *s) { hl_json_write_string(out, s, s ? strlen(s) : 0); }

void hl_export_toml_value(const hl_field_info *info, uint64_t value, char *buf, size_t size)
{
    switch (info->type) {
    case HL_FIELD_SIZE:
    case HL_FIELD_INTEGER:
        snprintf(buf, size, "%" PRIu64, value);
        break;
    case HL_FIELD_DURATION:
        snprintf(buf, size, "\"%" PRIu64 "ms\"", value);
        break;
    case HL_FIELD_ENUM:
        snprintf(buf, size, "\"%s\"", hl_field_choice_name(info, value));
        break;
    case HL_FIELD_PATH:
        snprintf(buf, size, "\"\""); /* the default; hl_export_toml_field gives a config's text */
        break;
    }
}

void hl_export_toml_field(const hl_config *cfg, hl_config_field f, char *buf, size_t size)
{
    const hl_field_info *info = hl_config_field_info(f);
    const char *text = hl_config_get_string(cfg, f);
    if (text != NULL)
        hl_quote(text, strlen(text), SIZE_MAX, buf, size);
    else
        hl_export_toml_value(info, hl_config_get(cfg, f), buf, size);
}

void hl_export_human_value(const hl_field_info *info, uint64_t value, char *buf, size_t size)
{
    char human[64];
    if (info->type == HL_FIELD_SIZE && value == 0 && (info->flags & HL_FIELD_ZERO_IS_AUTO)) {
        snprintf(buf, size, "0 (from the guest binary)");
    } else if (info->type == HL_FIELD_SIZE && value >= HL_KiB && value % HL_KiB == 0) {
        hl_format_size(value, human, sizeof human);
        snprintf(buf, size, "%s (%" PRIu64 ")", human, value);
    } else if (info->type == HL_FIELD_INTEGER && value == 0 && (info->flags & HL_FIELD_ZERO_IS_OFF)) {
        snprintf(buf, size, "0 (off)");
    } else if (info->type == HL_FIELD_PATH) {
        snprintf(buf, size, "\"\" (the working directory)");
    } else {
        hl_format_human(info, value, buf, size);
    }
}

void hl_export_human_range(const hl_field_info *info, char *buf, size_t size)
{
    hl_format_range(info, info->min, info->max, true, buf, size);
}

const char *hl_export_type_name(const hl_field_info *info)
{
    switch (info->type) {
    case HL_FIELD_SIZE:
        return "size";
    case HL_FIELD_DURATION:
        return "duration";
    case HL_FIELD_ENUM:
        return info->id == HL_CFG_EXECUTION_MODE ? "execution mode" : "choice";
    case HL_FIELD_INTEGER:
        return "integer";
    case HL_FIELD_PATH:
        return "path";
    }
    return "?";
}

/* The forms of every enum field, written once: "a string, exactly "a" or "b" (case matters)". */
static char enum_forms[HL_CFG_FIELD_COUNT][256];
static pthread_once_t enum_forms_once = PTHREAD_ONCE_INIT;

static void write_enum_forms(void)
{
    for (size_t f = 0; f < HL_CFG_FIELD_COUNT; f++) {
        const hl_field_info *info = hl_config_field_info((hl_config_field)f);
        if (info->type != HL_FIELD_ENUM) continue;
        char list[200];
        hl_format_range(info, 0, info->nchoices - 1, false, list, sizeof list);
        snprintf(enum_forms[f], sizeof enum_forms[f], "a string, exactly %s (case matters)", list);
    }
}

const char *hl_export_type_forms(const hl_field_info *info)
{
    switch (info->type) {
    case HL_FIELD_SIZE:
        return "an integer of bytes, or a string with a unit like \"512KiB\", \"4MiB\", "
               "\"1.5MiB\" (B, KiB, MiB, GiB, TiB; kB, MB, GB, TB)";
    case HL_FIELD_DURATION:
        return "an integer of milliseconds, or a string with a unit like \"100ms\", \"1.5s\", "
               "\"2000us\" (ns, us, ms, s)";
    case HL_FIELD_ENUM:
        pthread_once(&enum_forms_once, write_enum_forms);
        return enum_forms[info->id];
    case HL_FIELD_INTEGER:
        return "a whole number, written without quotes";
    case HL_FIELD_PATH:
        return "a string: a directory path, absolute or relative to the host process's working "
               "directory";
    }
    return "?";
}

int hl_export_status(FILE *out)
{
    return ferror(out) ? -1 : 0;
}

/* ---- the effective configuration ---- */

/* The value as JSON: sizes, durations and integers as numbers, an enum or a path as a string. */
static void json_value(FILE *out, const hl_config *cfg, hl_config_field f)
{
    const hl_field_info *info = hl_config_field_info(f);
    if (info->type == HL_FIELD_ENUM)
        hl_export_json_string(out, hl_field_choice_name(info, hl_config_get(cfg, f)));
    else if (info->type == HL_FIELD_PATH)
        hl_export_json_string(out, hl_config_get_string(cfg, f));
    else
        fprintf(out, "%" PRIu64, hl_config_get(cfg, f));
}

static hl_origin origin_of(const hl_config *cfg, hl_config_field f)
{
    unsigned o = cfg->origin[f];
    return o > HL_ORIGIN_HOST ? HL_ORIGIN_DEFAULT : (hl_origin)o;
}

/* True when the value came from a file whose name and line we know. */
static bool from_file(const hl_config *cfg, hl_config_field f)
{
    hl_origin o = origin_of(cfg, f);
    return (o == HL_ORIGIN_FILE || o == HL_ORIGIN_PROFILE) && cfg->source_name[0] != '\0';
}

int hl_config_write_json(const hl_config *cfg, FILE *out, bool with_origin)
{
    if (!hl_config_valid(cfg) || out == NULL) return -1;
    size_t count = hl_config_field_count();
    fputs("{\n", out);
    for (size_t i = 0; i < count; i++) {
        hl_config_field f = (hl_config_field)i;
        const hl_field_info *info = hl_config_field_info(f);
        fputs("  ", out);
        hl_export_json_string(out, info->key);
        fputs(": ", out);
        if (!with_origin) {
            json_value(out, cfg, f);
        } else {
            hl_origin o = origin_of(cfg, f);
            fputs("{\"value\": ", out);
            json_value(out, cfg, f);
            fputs(", \"origin\": ", out);
            hl_export_json_string(out, hl_origin_name(o));
            if (o == HL_ORIGIN_PROFILE && cfg->profile[0] != '\0') {
                fputs(", \"profile\": ", out);
                hl_export_json_string(out, cfg->profile);
            }
            if (from_file(cfg, f)) {
                fputs(", \"file\": ", out);
                hl_export_json_string(out, cfg->source_name);
                if (cfg->origin_line[f] != 0)
                    fprintf(out, ", \"line\": %" PRIu32, cfg->origin_line[f]);
            }
            fputc('}', out);
        }
        fputs(i + 1 < count ? ",\n" : "\n", out);
    }
    fputs("}\n", out);
    return hl_export_status(out);
}

/* The trailing comment that says where a value came from. */
static void origin_comment(const hl_config *cfg, hl_config_field f, char *buf, size_t size)
{
    hl_origin o = origin_of(cfg, f);
    switch (o) {
    case HL_ORIGIN_DEFAULT:
        snprintf(buf, size, "# default");
        return;
    case HL_ORIGIN_HOST:
        snprintf(buf, size, "# set by host");
        return;
    case HL_ORIGIN_FILE:
    case HL_ORIGIN_PROFILE:
        break;
    }
    char where[300];
    if (!from_file(cfg, f))
        snprintf(where, sizeof where, "%s", o == HL_ORIGIN_FILE ? "the hyperfile" : "a profile");
    else if (cfg->origin_line[f] != 0)
        snprintf(where, sizeof where, "%s:%" PRIu32, cfg->source_name, cfg->origin_line[f]);
    else
        snprintf(where, sizeof where, "%s", cfg->source_name);
    if (o == HL_ORIGIN_PROFILE && cfg->profile[0] != '\0')
        snprintf(buf, size, "# from %s [sandbox.%s]", where, cfg->profile);
    else
        snprintf(buf, size, "# from %s", where);
}

int hl_config_write_toml(const hl_config *cfg, FILE *out, bool with_origin)
{
    if (!hl_config_valid(cfg) || out == NULL) return -1;
    size_t count = hl_config_field_count();
    int width = 0;
    /* a quoted path with escapes; on the heap: as thread-local storage it made the library's
     * TLS block too large for initial-exec variables (util/tls.h) */
    enum { VALUE_SIZE = 2 * HL_CONFIG_PATH_MAX + 16 };
    char *value = malloc(VALUE_SIZE);
    if (!value) return -1;

    /* Align the origin comments in one column after the longest `key = value`. */
    for (size_t i = 0; i < count; i++) {
        const hl_field_info *info = hl_config_field_info((hl_config_field)i);
        hl_export_toml_field(cfg, (hl_config_field)i, value, VALUE_SIZE);
        int len = (int)(strlen(info->key) + 3 + strlen(value));
        if (len > width) width = len;
    }

    if (with_origin) {
        fputs("# Effective sandbox configuration", out);
        if (cfg->source_name[0] != '\0') {
            fprintf(out, " (hyperfile %s", cfg->source_name);
            if (cfg->profile[0] != '\0') fprintf(out, ", profile %s", cfg->profile);
            fputc(')', out);
        }
        fputc('\n', out);
    }
    fprintf(out, "hyperfile_version = %d\n", HL_HYPERFILE_VERSION);
    for (size_t i = 0; i < count; i++) {
        hl_config_field f = (hl_config_field)i;
        const hl_field_info *info = hl_config_field_info(f);
        hl_export_toml_field(cfg, f, value, VALUE_SIZE);
        if (!with_origin) {
            fprintf(out, "%s = %s\n", info->key, value);
        } else {
            char comment[400];
            origin_comment(cfg, f, comment, sizeof comment);
            int len = (int)(strlen(info->key) + 3 + strlen(value));
            fprintf(out, "%s = %s%*s  %s\n", info->key, value, width - len, "", comment);
        }
    }
    free(value);
    return hl_export_status(out);
}
