/* export_schema.c - the JSON Schema (draft 2020-12) of the hyperfile, from the field table. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "config/export_internal.h"
#include "hyperlight/config_export.h"

/* What the loader accepts in a string (value_text.c): a number (underscores between digits, an
 * optional fraction), optional spaces, and an optional unit. The loader also checks that the
 * result is a whole number of bytes or milliseconds and in range, which a pattern cannot. */
#define NUMBER_PATTERN   "^[0-9](_?[0-9])*([.][0-9](_?[0-9])*)? *"
#define SIZE_PATTERN     NUMBER_PATTERN "(B|KiB|MiB|GiB|TiB|kB|KB|MB|GB|TB)?$"
#define DURATION_PATTERN NUMBER_PATTERN "(ns|us|\xC2\xB5s|ms|s)?$"

static void indent(FILE *out, int level)
{
    for (int i = 0; i < level; i++)
        fputs("  ", out);
}

/* `"key": ` at the given level. */
static void key(FILE *out, int level, const char *name)
{
    indent(out, level);
    hl_export_json_string(out, name);
    fputs(": ", out);
}

/* The description of a field: its doc line, default and range, for editors' hover text. */
static void field_description(FILE *out, const hl_field_info *info)
{
    char def[96], range[160], text[1400];
    hl_export_human_value(info, info->def, def, sizeof def);
    hl_export_human_range(info, range, sizeof range);
    size_t n = strlen(info->doc);
    snprintf(text, sizeof text, "%s%s Default: %s. Allowed: %s (%s).", info->doc,
             (n > 0 && info->doc[n - 1] == '.') ? "" : ".", def, range, info->why_min);
    hl_export_json_string(out, text);
}

/* The schema of one field's value, as an object opened at `level` (the caller wrote the key). */
static void field_schema(FILE *out, const hl_field_info *info, int level)
{
    fputs("{\n", out);
    key(out, level + 1, "description");
    field_description(out, info);
    fputs(",\n", out);
    key(out, level + 1, "default");
    if (info->type == HL_FIELD_SIZE || info->type == HL_FIELD_INTEGER) {
        fprintf(out, "%" PRIu64 ",\n", info->def);
    } else {
        char literal[64];
        hl_export_toml_value(info, info->def, literal, sizeof literal);
        fprintf(out, "%s,\n", literal); /* a quoted string: also valid JSON */
    }

    if (info->type == HL_FIELD_ENUM) {
        key(out, level + 1, "enum");
        fputc('[', out);
        for (uint64_t v = info->min; v <= info->max; v++) {
            hl_export_json_string(out, info->choices[v]);
            if (v < info->max) fputs(", ", out);
        }
        fputs("]\n", out);
    } else if (info->type == HL_FIELD_PATH) {
        key(out, level + 1, "type");
        fputs("\"string\",\n", out);
        key(out, level + 1, "maxLength");
        fprintf(out, "%" PRIu64 ",\n", info->max);
        key(out, level + 1, "pattern");
        hl_export_json_string(out, "^[^\\u0000-\\u001f\\u007f]*$");
        fputc('\n', out);
    } else if (info->type == HL_FIELD_INTEGER) {
        key(out, level + 1, "anyOf");
        fputs("[\n", out);
        if (info->flags & HL_FIELD_ZERO_IS_OFF) {
            indent(out, level + 2);
            fputs("{\"const\": 0, \"description\": \"off\"},\n", out);
        }
        indent(out, level + 2);
        fprintf(out, "{\"type\": \"integer\", \"minimum\": %" PRIu64 ", \"maximum\": %" PRIu64 "}\n",
                info->min, info->max);
        indent(out, level + 1);
        fputs("]\n", out);
    } else {
        key(out, level + 1, "anyOf");
        fputs("[\n", out);
        if (info->flags & HL_FIELD_ZERO_IS_AUTO) {
            indent(out, level + 2);
            fputs("{\"const\": 0, \"description\": \"take it from the guest binary\"},\n", out);
        }
        indent(out, level + 2);
        fprintf(out,
                "{\"type\": \"integer\", \"minimum\": %" PRIu64 ", \"maximum\": %" PRIu64
                ", \"description\": \"%s\"},\n",
                info->min, info->max, info->type == HL_FIELD_SIZE ? "bytes" : "milliseconds");
        indent(out, level + 2);
        fprintf(out, "{\"$ref\": \"#/$defs/%s\"}\n",
                info->type == HL_FIELD_SIZE ? "size_string" : "duration_string");
        indent(out, level + 1);
        fputs("]\n", out);
    }
    indent(out, level);
    fputc('}', out);
}

/* `"properties": {...}` with a $ref per field (and the extra top-level keys when top). */
static void properties(FILE *out, int level, bool top)
{
    size_t count = hl_config_field_count();
    key(out, level, "properties");
    fputs("{\n", out);
    if (top) {
        key(out, level + 1, "hyperfile_version");
        fputs("{\n", out);
        key(out, level + 2, "description");
        hl_export_json_string(out, "The version of the hyperfile format; 1 is the only version "
                                   "so far. Optional.");
        fputs(",\n", out);
        key(out, level + 2, "const");
        fprintf(out, "%d\n", HL_HYPERFILE_VERSION);
        indent(out, level + 1);
        fputs("},\n", out);
    }
    for (size_t i = 0; i < count; i++) {
        const hl_field_info *info = hl_config_field_info((hl_config_field)i);
        key(out, level + 1, info->key);
        fprintf(out, "{\"$ref\": \"#/$defs/%s\"}", info->key);
        fputs(i + 1 < count || top ? ",\n" : "\n", out);
    }
    if (top) {
        key(out, level + 1, "sandbox");
        fputs("{\n", out);
        key(out, level + 2, "description");
        hl_export_json_string(out, "Named profiles: [sandbox.NAME] takes the same keys as the top "
                                   "level, inherits the values set there and overrides the ones "
                                   "it sets.");
        fputs(",\n", out);
        key(out, level + 2, "type");
        fputs("\"object\",\n", out);
        key(out, level + 2, "additionalProperties");
        fputs("{\"$ref\": \"#/$defs/profile\"}\n", out);
        indent(out, level + 1);
        fputs("}\n", out);
    }
    indent(out, level);
    fputs("},\n", out);
}

int hl_config_write_schema(FILE *out)
{
    size_t count = hl_config_field_count();
    fputs("{\n", out);
    key(out, 1, "$schema");
    fputs("\"https://json-schema.org/draft/2020-12/schema\",\n", out);
    key(out, 1, "title");
    fputs("\"hyperfile.toml\",\n", out);
    key(out, 1, "description");
    hl_export_json_string(out, "Sandbox settings for hyperlight (hyperfile format 1, read as TOML "
                               "1.0.0). Generated from the field table by `hyperlight schema`.");
    fputs(",\n", out);
    key(out, 1, "type");
    fputs("\"object\",\n", out);
    properties(out, 1, true);
    key(out, 1, "additionalProperties");
    fputs("false,\n", out);

    key(out, 1, "$defs");
    fputs("{\n", out);
    key(out, 2, "size_string");
    fputs("{\n", out);
    key(out, 3, "description");
    hl_export_json_string(out, "A size as a string: a number and an optional unit (B, KiB, "
                               "MiB, GiB, TiB; kB, MB, GB, TB), like \"8192\", \"512KiB\", "
                               "\"1.5MiB\". The loader checks that it is a whole number of bytes "
                               "in range.");
    fputs(",\n", out);
    key(out, 3, "type");
    fputs("\"string\",\n", out);
    key(out, 3, "pattern");
    hl_export_json_string(out, SIZE_PATTERN);
    fputc('\n', out);
    indent(out, 2);
    fputs("},\n", out);

    key(out, 2, "duration_string");
    fputs("{\n", out);
    key(out, 3, "description");
    hl_export_json_string(out, "A duration as a string: a number and a unit (ns, us, ms, s; "
                               "none means ms), like \"100ms\", \"1.5s\", \"2000us\". The loader "
                               "checks that it is a whole number of milliseconds in range.");
    fputs(",\n", out);
    key(out, 3, "type");
    fputs("\"string\",\n", out);
    key(out, 3, "pattern");
    hl_export_json_string(out, DURATION_PATTERN);
    fputc('\n', out);
    indent(out, 2);
    fputs("},\n", out);

    key(out, 2, "profile");
    fputs("{\n", out);
    key(out, 3, "description");
    hl_export_json_string(out, "A [sandbox.NAME] profile: the keys of the top level, each "
                               "overriding the value set there.");
    fputs(",\n", out);
    key(out, 3, "type");
    fputs("\"object\",\n", out);
    properties(out, 3, false);
    key(out, 3, "additionalProperties");
    fputs("false\n", out);
    indent(out, 2);
    fputs("},\n", out);

    for (size_t i = 0; i < count; i++) {
        const hl_field_info *info = hl_config_field_info((hl_config_field)i);
        key(out, 2, info->key);
        field_schema(out, info, 2);
        fputs(i + 1 < count ? ",\n" : "\n", out);
    }
    indent(out, 1);
    fputs("}\n}\n", out);
    return hl_export_status(out);
}
