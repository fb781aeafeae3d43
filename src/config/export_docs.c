/* export_docs.c - the documented hyperfile template and the Markdown key reference. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"
#include "config/export_internal.h"
#include "hyperlight/config_export.h"

#define WRAP_WIDTH 96

/* Writes text as comment lines that start with prefix, wrapped at spaces to WRAP_WIDTH columns.
 * A word longer than the line stays whole. */
static void write_wrapped(FILE *out, const char *prefix, const char *text)
{
    size_t plen = strlen(prefix);
    size_t avail = WRAP_WIDTH > plen + 20 ? WRAP_WIDTH - plen : 20;
    const char *p = text;
    while (*p) {
        size_t len = strlen(p);
        size_t take = len;
        if (len > avail) {
            take = avail;
            /* a space after a digit joins a number to its unit: "512 MiB" stays whole */
            while (take > 0 && (p[take] != ' ' || (p[take - 1] >= '0' && p[take - 1] <= '9')))
                take--;
            if (take == 0) { /* one long word: break after it */
                take = avail;
                while (p[take] && p[take] != ' ')
                    take++;
            }
        }
        fprintf(out, "%s%.*s\n", prefix, (int)take, p);
        p += take;
        while (*p == ' ')
            p++;
    }
}

/* The doc line of a field as a sentence (with a final period). */
static void sentence(const char *doc, char *buf, size_t size)
{
    size_t n = strlen(doc);
    snprintf(buf, size, "%s%s", doc, (n > 0 && doc[n - 1] == '.') ? "" : ".");
}

/* ---- the template ---- */

/* The commented-out example profiles; a line whose key is not in the table is left out. */
static const struct {
    const char *key, *value, *comment;
} example_profile[] = {
    {NULL, "debug", "step through the guest with a debugger: no isolation, generous time"},
    {"execution_mode", "\"RunInProcess\"", "inside this process, for debugging only"},
    {"max_execution_time", "\"60s\"", NULL},
    {"max_initialization_time", "\"60s\"", NULL},
    {NULL, "ci", "fail fast in continuous integration"},
    {"max_execution_time", "\"250ms\"", NULL},
    {"max_initialization_time", "\"500ms\"", NULL},
};

static void write_template_field(FILE *out, const hl_field_info *info)
{
    char text[1024], def[96], range[160], literal[64];
    sentence(info->doc, text, sizeof text);
    fprintf(out, "\n# %s\n", info->key);
    write_wrapped(out, "#   ", text);
    hl_export_human_value(info, info->def, def, sizeof def);
    hl_export_human_range(info, range, sizeof range);
    if (info->type == HL_FIELD_ENUM) {
        snprintf(text, sizeof text, "Default: %s. Allowed: %s (exactly, case matters).", def,
                 range);
        write_wrapped(out, "#   ", text);
    } else if (info->type == HL_FIELD_PATH) {
        snprintf(text, sizeof text, "Type: %s. Default: %s.", hl_export_type_forms(info), def);
        write_wrapped(out, "#   ", text);
    } else {
        if (info->type == HL_FIELD_INTEGER)
            snprintf(text, sizeof text, "Type: %s. Default: %s. Allowed: %s.",
                     hl_export_type_name(info), def, range);
        else
            snprintf(text, sizeof text, "Type: %s in %s. Default: %s. Allowed: %s.",
                     hl_export_type_name(info),
                     info->type == HL_FIELD_SIZE ? "bytes" : "milliseconds", def, range);
        write_wrapped(out, "#   ", text);
        snprintf(text, sizeof text, "Why these bounds: %s.", info->why_min);
        write_wrapped(out, "#   ", text);
    }
    hl_export_toml_value(info, info->def, literal, sizeof literal);
    fprintf(out, "%s = %s\n", info->key, literal);
}

int hl_config_write_template(FILE *out)
{
    fputs(
        "# hyperfile.toml - sandbox settings for hyperlight (hyperfile format 1, TOML 1.0.0).\n"
        "#\n"
        "# Written by `hyperlight init`. Every key below is set to its default, so this file as\n"
        "# it stands changes nothing: edit the values you want to change and delete the others\n"
        "# if you like (a key that is left out takes its default).\n"
        "#\n"
        "# Sizes are an integer of bytes (underscores allowed: 4_194_304) or a string with a unit\n"
        "# (\"512KiB\", \"4MiB\"). Durations are an integer of milliseconds or a string with a\n"
        "# unit (\"100ms\", \"2s\"). A value outside its allowed range is an error, never "
        "clamped.\n"
        "#\n"
        "# Check a file with `hyperlight check FILE`; see what takes effect, and where each value\n"
        "# comes from, with `hyperlight config --hyperfile FILE --show-origin`.\n"
        "\n"
        "# The version of the hyperfile format. 1 is the only version so far; optional.\n",
        out);
    fprintf(out, "hyperfile_version = %d\n", HL_HYPERFILE_VERSION);

    for (size_t i = 0; i < hl_config_field_count(); i++)
        write_template_field(out, hl_config_field_info((hl_config_field)i));

    fputs("\n"
          "# Profiles. A [sandbox.NAME] table is a named variant of the settings above: it takes\n"
          "# the same keys, inherits every value set at the top level and overrides the ones it\n"
          "# sets. Select one with `hyperlight config --profile NAME` (host code: the profile\n"
          "# field of hl_load_options). Two examples, uncomment to use:\n",
          out);
    for (size_t i = 0; i < sizeof example_profile / sizeof example_profile[0]; i++) {
        if (example_profile[i].key == NULL) {
            fprintf(out, "#\n# [sandbox.%s]  # %s\n", example_profile[i].value,
                    example_profile[i].comment);
        } else if (hl_config_field_find(example_profile[i].key) != NULL) {
            fprintf(out, "# %s = %s", example_profile[i].key, example_profile[i].value);
            if (example_profile[i].comment) fprintf(out, "  # %s", example_profile[i].comment);
            fputc('\n', out);
        }
    }
    return hl_export_status(out);
}

/* ---- the Markdown reference ---- */

/* Writes a value as Markdown code: `16384`. */
static void md_code_value(FILE *out, const hl_field_info *info, uint64_t value)
{
    char literal[64];
    hl_export_toml_value(info, value, literal, sizeof literal);
    fprintf(out, "`%s`", literal);
}

/* Writes text with the characters that would break a table cell escaped. */
static void md_cell(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '|')
            fputs("\\|", out);
        else
            fputc(*p, out);
    }
}

static void write_reference_field(FILE *out, const hl_field_info *info)
{
    char text[1024], human[96], range[160];
    sentence(info->doc, text, sizeof text);
    fprintf(out, "\n### `%s`\n\n%s\n\n", info->key, text);

    fprintf(out, "- Type: %s: %s.\n", hl_export_type_name(info), hl_export_type_forms(info));
    if (info->unit) fprintf(out, "- Unit: %s.\n", info->unit);

    fputs("- Default: ", out);
    md_code_value(out, info, info->def);
    if (info->type == HL_FIELD_SIZE && info->def == 0 && (info->flags & HL_FIELD_ZERO_IS_AUTO)) {
        fputs(" (take it from the guest binary)", out);
    } else if (info->type == HL_FIELD_SIZE) {
        hl_format_size(info->def, human, sizeof human);
        fprintf(out, " (%s)", human);
    } else if (info->def == 0 && (info->flags & HL_FIELD_ZERO_IS_OFF)) {
        fputs(" (off)", out);
    } else if (info->type == HL_FIELD_PATH) {
        fputs(" (the host process's working directory)", out);
    }
    fputs(".\n", out);

    /* Without the "0 (from the guest binary)" part, which the line states first. */
    hl_format_range(info, info->min, info->max, false, range, sizeof range);
    fputs("- Allowed: ", out);
    if (info->type == HL_FIELD_PATH) {
        fprintf(out, "any path of at most %llu bytes without control characters",
                (unsigned long long)info->max);
    } else if (info->type == HL_FIELD_ENUM) {
        for (uint64_t v = info->min; v <= info->max; v++) {
            md_code_value(out, info, v);
            fputs(v == info->max ? "" : (v + 1 == info->max ? " or " : ", "), out);
        }
    } else {
        if (info->flags & HL_FIELD_ZERO_IS_AUTO) {
            md_code_value(out, info, 0);
            fputs(" (take it from the guest binary), or ", out);
        } else if (info->flags & HL_FIELD_ZERO_IS_OFF) {
            md_code_value(out, info, 0);
            fputs(" (off), or ", out);
        }
        md_code_value(out, info, info->min);
        fputs(" to ", out);
        md_code_value(out, info, info->max);
        if (info->type == HL_FIELD_SIZE) fprintf(out, " (%s)", range);
    }
    fputs(".\n", out);
    if (info->type != HL_FIELD_ENUM && info->type != HL_FIELD_PATH)
        fprintf(out, "- Why these bounds: %s.\n", info->why_min);
    if (info->flags & HL_FIELD_DEBUG)
        fputs("- A debugging setting: a host policy with `forbid_debugging` (hl_policy_forbid_debugging) "
              "locks it.\n", out);
}

int hl_config_write_reference(FILE *out)
{
    fputs("| Key | Type | Default | Allowed | Meaning |\n"
          "|---|---|---|---|---|\n",
          out);
    for (size_t i = 0; i < hl_config_field_count(); i++) {
        const hl_field_info *info = hl_config_field_info((hl_config_field)i);
        char def[96], range[160];
        hl_export_human_value(info, info->def, def, sizeof def);
        hl_export_human_range(info, range, sizeof range);
        fprintf(out, "| [`%s`](#%s) | %s | ", info->key, info->key, hl_export_type_name(info));
        md_cell(out, def);
        fputs(" | ", out);
        md_cell(out, range);
        fputs(" | ", out);
        md_cell(out, info->doc);
        fputs(" |\n", out);
    }
    for (size_t i = 0; i < hl_config_field_count(); i++)
        write_reference_field(out, hl_config_field_info((hl_config_field)i));
    return hl_export_status(out);
}
