/* hyperfile.c - loads a hyperfile: reads it, parses it, checks it all, applies it to a config. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* the GNU strerror_r, which returns the message */
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "config/hyperfile_internal.h"
#include "util/file.h"
#include "util/structsize.h"

#define HL_HYPERFILE_MAX_ERRORS 20

/* Copies s into buf (size bytes), cutting it to fit. */
static void copy_text(char *buf, size_t size, const char *s)
{
    size_t n = strlen(s);
    if (n >= size)
        n = size - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
}

/* Reports each syntax error of the parse as a diagnostic at its span. */
static void report_syntax(hl_loader *ld, const hl_toml_doc *doc)
{
    for (size_t i = 0; i < hl_toml_doc_error_count(doc); i++) {
        const hl_toml_error *e = hl_toml_doc_error(doc, i);
        hl_loader_report(ld, HL_SEV_ERROR, &e->span, e->help, "%s", e->message);
    }
}

/* The `sandbox` table of profiles, or NULL when absent or not a table (reported). */
static const hl_toml_value *profiles_table(hl_loader *ld, const hl_toml_value *root)
{
    const char *key;
    size_t len;
    hl_toml_span key_span;
    for (size_t i = 0; i < hl_toml_table_size(root); i++) {
        const hl_toml_value *v = hl_toml_table_at(root, i, &key, &len, &key_span);
        if (v == NULL || len != 7 || memcmp(key, "sandbox", 7) != 0)
            continue;
        if (hl_toml_type_of(v) == HL_TOML_TABLE)
            return v;
        hl_loader_report(ld, HL_SEV_ERROR, &key_span,
                         "write each profile as a [sandbox.NAME] table",
                         "`sandbox` must be a table of profiles, not %s",
                         hl_toml_type_of(v) == HL_TOML_ARRAY ? "an array" : "a single value");
        return NULL;
    }
    return NULL;
}

/* Applies a layer over cfg with the given origin. */
static void apply_layer(hl_config *cfg, const hl_layer *layer, hl_origin origin)
{
    for (size_t f = 0; f < HL_CFG_FIELD_COUNT; f++) {
        if (!layer->set[f])
            continue;
        char *text = hl_config_text_slot(cfg, (hl_config_field)f);
        if (text != NULL) {
            memcpy(text, layer->text[f], layer->text_len[f]); /* checked: it fits */
            text[layer->text_len[f]] = '\0';
        } else {
            hl_config_set(cfg, (hl_config_field)f, layer->value[f]); /* checked: in range */
        }
        cfg->origin[f] = (uint8_t)origin;
        cfg->origin_line[f] = layer->key_span[f].line;
    }
}

/* Reports when base + top (+ profile) asks for more guest memory than the cap, at the value of
 * the largest size the file sets (in the profile if there is one). False when it did. */
static bool check_total(hl_loader *ld, const hl_config *base, const hl_layer *top,
                        const hl_layer *profile, const char *profile_name)
{
    hl_config cfg = *base;
    apply_layer(&cfg, top, HL_ORIGIN_FILE);
    if (profile != NULL)
        apply_layer(&cfg, profile, HL_ORIGIN_PROFILE);
    uint64_t total = hl_config_total_memory(&cfg);
    if (total <= HL_CONFIG_MAX_TOTAL_MEMORY)
        return true;
    const hl_layer *where = profile != NULL ? profile : top;
    int largest = -1;
    uint64_t largest_memory = 0;
    for (int pass = 0; pass < 2 && largest < 0; pass++) {
        for (size_t f = 0; f < HL_CFG_FIELD_COUNT; f++) {
            const hl_field_info *info = hl_config_field_info((hl_config_field)f);
            if (!where->set[f] || info->type != HL_FIELD_SIZE)
                continue;
            uint64_t m = hl_config_field_memory((hl_config_field)f, where->value[f]);
            if (largest < 0 || m > largest_memory) {
                largest = (int)f;
                largest_memory = m;
            }
        }
        where = top; /* a profile that sets no size: blame the top level */
    }
    char shown[96], cap[64], help[320];
    snprintf(shown, sizeof shown, "%llu bytes (%.1f MiB)", (unsigned long long)total,
             (double)total / (double)HL_MiB);
    hl_format_size(HL_CONFIG_MAX_TOTAL_MEMORY, cap, sizeof cap);
    snprintf(help, sizeof help,
             "the total counts every buffer, the stack and the heap, each rounded up to 4 KiB "
             "pages%s%s%s",
             largest >= 0 ? "; make `" : "",
             largest >= 0 ? hl_config_field_info((hl_config_field)largest)->key : "",
             largest >= 0 ? "` smaller" : "");
    const hl_toml_span *span = NULL;
    if (largest >= 0)
        span = profile != NULL && profile->set[largest] ? &profile->value_span[largest]
                                                        : &top->value_span[largest];
    hl_loader_report(ld, HL_SEV_ERROR, span, help,
                     "%s%s%sthe sandbox would need %s of guest memory, over the limit of %s",
                     profile_name ? "with profile " : "", profile_name ? profile_name : "",
                     profile_name ? ", " : "", shown, cap);
    return false;
}

/* Lists the profiles of the file in help: "the profiles are `dev`, `prod`". */
static void list_profiles(const hl_toml_value *profiles, const char *wanted, char *help, size_t size)
{
    size_t n = profiles ? hl_toml_table_size(profiles) : 0, used = 0, shown = 0;
    help[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *key;
        size_t len;
        const hl_toml_value *v = hl_toml_table_at(profiles, i, &key, &len, NULL);
        if (v == NULL || hl_toml_type_of(v) != HL_TOML_TABLE)
            continue;
        char name[128];
        hl_loader_key_text(key, len, name, sizeof name);
        int w = snprintf(help + used, size - used, "%s%s", shown ? ", " : "the profiles are ", name);
        if (w < 0 || (size_t)w >= size - used) {
            help[used] = '\0';
            break;
        }
        used += (size_t)w;
        shown++;
    }
    if (shown == 0)
        snprintf(help, size, "the file defines no profiles: add a [sandbox.%.64s] table", wanted);
}

/* Checks the whole document; fills top and (when one is selected and found) profile. */
static void check_document(hl_loader *ld, const hl_toml_doc *doc, const hl_config *base,
                           const char *wanted, hl_layer *top, hl_layer *selected, bool *found)
{
    const hl_toml_value *root = hl_toml_doc_root(doc);
    bool syntax_ok = hl_toml_doc_error_count(doc) == 0;
    hl_loader_read_table(ld, root, NULL, top);
    /* a total over the cap at the top level is reported once, not again for every profile */
    bool top_total_ok = !syntax_ok || check_total(ld, base, top, NULL, NULL);
    const hl_toml_value *profiles = profiles_table(ld, root);
    hl_layer *scratch = calloc(1, sizeof *scratch);
    if (scratch == NULL) {
        ld->nomem = true;
        return;
    }
    for (size_t i = 0; profiles != NULL && i < hl_toml_table_size(profiles); i++) {
        const char *key;
        size_t len;
        hl_toml_span key_span;
        const hl_toml_value *v = hl_toml_table_at(profiles, i, &key, &len, &key_span);
        char name[128];
        hl_loader_key_text(key, len, name, sizeof name);
        if (v == NULL || hl_toml_type_of(v) != HL_TOML_TABLE) {
            char help[256], plain[128];
            /* `dev` -> dev; a quoted name stays quoted, as a TOML header needs it */
            snprintf(plain, sizeof plain, "%.*s", name[0] == '`' ? (int)strlen(name) - 2 : (int)strlen(name),
                     name[0] == '`' ? name + 1 : name);
            snprintf(help, sizeof help, "write the profile as a [sandbox.%s] table", plain);
            hl_loader_report(ld, HL_SEV_ERROR, &key_span, help, "profile %s must be a table, not a value",
                             name);
            continue;
        }
        bool chosen = wanted != NULL && strlen(key) == len && strcmp(key, wanted) == 0;
        hl_layer *layer = chosen ? selected : scratch;
        memset(scratch, 0, sizeof *scratch);
        hl_loader_read_table(ld, v, name, layer);
        if (chosen)
            *found = true;
        if (syntax_ok && top_total_ok)
            check_total(ld, base, top, layer, name);
    }
    free(scratch);
    if (wanted != NULL && !*found && syntax_ok) {
        char help[512], shown[128];
        list_profiles(profiles, wanted, help, sizeof help);
        hl_loader_key_text(wanted, strlen(wanted), shown, sizeof shown);
        hl_loader_report(ld, HL_SEV_ERROR, NULL, help, "no profile %s in %s", shown, ld->name);
    }
}

/* Options from any header: initialised, and nothing set that this library does not know. */
static bool options_valid(const hl_load_options *options)
{
    return options == NULL || (hl_struct_size_ok(options->struct_size, sizeof *options) &&
                               hl_struct_tail_zero(options, options->struct_size, sizeof *options));
}

/* A key the file sets for a value the caller's hl_config does not hold (a program built against
 * an older header) is an error at the key: the program could not see or pass on the value. */
static void check_held(hl_loader *ld, const hl_config *cfg, const hl_layer *layer)
{
    for (size_t f = 0; f < HL_CFG_FIELD_COUNT; f++)
        if (layer->set[f] && !hl_config_holds(cfg, (hl_config_field)f))
            hl_loader_report(ld, HL_SEV_ERROR, &layer->key_span[f],
                             "rebuild the program against this version's hyperlight/config.h",
                             "`%s` is newer than the program's hl_config",
                             hl_config_field_info((hl_config_field)f)->key);
}

hl_status hl_config_load_string(hl_config *cfg, const char *text, size_t len, const char *name,
                                const hl_load_options *options, hl_diag_list *diags)
{
    if (cfg == NULL || (text == NULL && len > 0))
        return HL_E_INVALID_ARG;
    if (text == NULL)
        text = "";
    hl_loader ld = {
        .name = name ? name : "<string>",
        .diags = diags,
    };
    const char *bad = !hl_config_valid(cfg) ? "the hl_config was not initialised (hl_config_init)"
                      : !options_valid(options) ? "the hl_load_options were not initialised "
                                                  "(HL_LOAD_OPTIONS_INIT), or set members this "
                                                  "library does not know"
                      : options && options->policy && !hl_policy_valid(options->policy)
                          ? "the hl_policy was not initialised (hl_policy_init), or sets members "
                            "this library does not know"
                          : NULL;
    if (bad != NULL) {
        hl_loader_report(&ld, HL_SEV_ERROR, NULL, NULL, "%s", bad);
        return ld.nomem ? HL_E_NOMEM : HL_E_INVALID_ARG;
    }
    ld.policy = options ? options->policy : NULL;
    hl_config full;
    hl_config_import(&full, cfg);
    const char *wanted = options ? options->profile : NULL;
    if (len > HL_HYPERFILE_MAX_SIZE) {
        char shown[64], limit[64];
        hl_format_size(len, shown, sizeof shown);
        hl_format_size(HL_HYPERFILE_MAX_SIZE, limit, sizeof limit);
        hl_loader_report(&ld, HL_SEV_ERROR, NULL, NULL,
                         "`%s` is too large for a hyperfile: %s (the limit is %s)", ld.name, shown,
                         limit);
        return ld.nomem ? HL_E_NOMEM : HL_E_CONFIG;
    }
    if (wanted != NULL && strlen(wanted) >= sizeof cfg->profile) {
        hl_loader_report(&ld, HL_SEV_ERROR, NULL, NULL,
                         "the profile name is too long: %zu bytes (at most %zu)", strlen(wanted),
                         sizeof cfg->profile - 1);
        return ld.nomem ? HL_E_NOMEM : HL_E_CONFIG;
    }
    if (diags != NULL && hl_diag_list_set_source(diags, ld.name, text, len) != 0)
        return HL_E_NOMEM;

    hl_toml_options topt = {
        .struct_size = sizeof topt,
        .version = HL_TOML_1_0,
        .max_input_size = HL_HYPERFILE_MAX_SIZE,
        .max_errors = HL_HYPERFILE_MAX_ERRORS,
    };
    hl_toml_doc *doc = hl_toml_parse(text, len, &topt);
    hl_layer *layers = calloc(2, sizeof *layers);
    if (doc == NULL || layers == NULL) {
        hl_toml_doc_free(doc);
        free(layers);
        return HL_E_NOMEM;
    }
    size_t first = hl_diag_count(diags);
    report_syntax(&ld, doc);
    bool found = false;
    check_document(&ld, doc, &full, wanted, &layers[0], &layers[1], &found);
    check_held(&ld, cfg, &layers[0]);
    if (found) check_held(&ld, cfg, &layers[1]);
    if (diags != NULL && hl_diag_list_sort(diags, first) != 0)
        ld.nomem = true;

    hl_status status = ld.nomem ? HL_E_NOMEM : ld.errors ? HL_E_CONFIG : HL_OK;
    if (status == HL_OK) {
        apply_layer(&full, &layers[0], HL_ORIGIN_FILE);
        if (found) apply_layer(&full, &layers[1], HL_ORIGIN_PROFILE);
        copy_text(full.source_name, sizeof full.source_name, ld.name);
        copy_text(full.profile, sizeof full.profile, found ? wanted : "");
        hl_config_export(cfg, &full);
    }
    hl_toml_doc_free(doc); /* after applying: the layers' texts point into it */
    free(layers);
    return status;
}

/* Reports an I/O problem with path (no position: there is no text to point into). */
static hl_status io_error(hl_diag_list *diags, const char *path, int err)
{
    char buf[256];
    const char *why = strerror_r(err, buf, sizeof buf);
    if (diags != NULL &&
        hl_diag_add(diags, HL_SEV_ERROR, NULL, 0, 0, 0, 0, NULL, "could not read `%s`: %s", path,
                    why) != 0)
        return HL_E_NOMEM;
    return HL_E_IO;
}

hl_status hl_config_load_file(hl_config *cfg, const char *path, const hl_load_options *options,
                              hl_diag_list *diags)
{
    if (cfg == NULL || path == NULL)
        return HL_E_INVALID_ARG;
    /* read at most one byte past the limit: hl_config_load_string() reports the size */
    char *buf;
    size_t used;
    int e = hl_read_file(path, HL_HYPERFILE_MAX_SIZE, &buf, &used);
    if (e == ENOMEM)
        return HL_E_NOMEM;
    if (e != 0)
        return io_error(diags, path, e);
    hl_status status = hl_config_load_string(cfg, buf, used, path, options, diags);
    free(buf);
    return status;
}
