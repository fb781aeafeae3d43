/* cli_policy.c - the host policy from the command line: a TOML policy file and its flags. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* the GNU strerror_r, which returns the message */
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hyperlight/toml.h"

#define POLICY_MAX_ERRORS 20
#define SIZE_EXPECTED     "expected an integer of bytes or a string like \"4MiB\""
#define DURATION_EXPECTED "expected an integer of milliseconds or a string like \"100ms\""
#define POLICY_KEYS                                                                                \
    "a policy file has `locked`, `forbid_in_process`, `forbid_debugging`, [max] and [min]"

bool cli_policy_args_init(cli_policy_args *a, int argc)
{
    memset(a, 0, sizeof *a);
    a->flags = calloc(argc > 0 ? (size_t)argc : 1, sizeof *a->flags);
    return a->flags != NULL;
}

void cli_policy_args_free(cli_policy_args *a)
{
    free(a->flags);
    a->flags = NULL;
}

int cli_policy_option(const cli_command *cmd, int argc, char **argv, int *i, cli_policy_args *a)
{
    static const struct {
        const char *name;
        char kind;
    } flags[] = {{"--lock", 'l'}, {"--max", 'x'}, {"--min", 'n'}};
    const char *value = NULL;
    int got;
    if (strcmp(argv[*i], "--forbid-in-process") == 0) {
        a->forbid_in_process = a->given = true;
        *i += 1;
        return 1;
    }
    if (strcmp(argv[*i], "--forbid-debugging") == 0) {
        a->forbid_debugging = a->given = true;
        *i += 1;
        return 1;
    }
    if ((got = cli_option_value(cmd, argc, argv, i, "--policy", &value)) != 0) {
        if (got < 0) return got;
        if (a->file != NULL) {
            cli_usage_error(cmd, "--policy is given twice ('%s' and '%s')", a->file, value);
            return -1;
        }
        if (value[0] == '\0') {
            cli_usage_error(cmd, "the policy file name is empty");
            return -1;
        }
        a->file = value;
        a->given = true;
        return 1;
    }
    for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) {
        if ((got = cli_option_value(cmd, argc, argv, i, flags[k].name, &value)) == 0) continue;
        if (got < 0) return got;
        if (flags[k].kind != 'l' && (strchr(value, '=') == NULL || value[0] == '=')) {
            cli_usage_error(cmd, "%s takes KEY=VALUE, got '%s'", flags[k].name, value);
            return -1;
        }
        a->flags[a->flag_count].kind = flags[k].kind;
        a->flags[a->flag_count++].text = value;
        a->given = true;
        return 1;
    }
    return 0;
}

/* ---- building the policy ---- */

/* The policy being built, the caps so far and where each came from. */
typedef struct builder {
    hl_policy *policy;
    hl_diag_list *diags;
    const char *file;   /* the policy file's name in diagnostics; NULL for the flags */
    const char *prefix; /* "--max input_data_size=1: " for a flag, "" in the file */
    size_t errors, file_errors;
    bool in_file; /* reading the policy file (a problem is the file's) */
    bool nomem;
    uint64_t min[HL_CFG_FIELD_COUNT], max[HL_CFG_FIELD_COUNT];
    bool capped[HL_CFG_FIELD_COUNT];
    hl_toml_span span[HL_CFG_FIELD_COUNT];    /* of the last cap of the field (file only) */
    const char *cap_file[HL_CFG_FIELD_COUNT]; /* NULL: the last cap came from a flag */
} builder;

/* Reports an error at span with an optional help line; without a span (a flag, as --set does)
 * the help goes in parentheses after the message. */
static void report(builder *b, const hl_toml_span *span, const char *help, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(builder *b, const hl_toml_span *span, const char *help, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    b->errors++;
    if (b->in_file || b->file != NULL) b->file_errors++;
    int rc =
        span != NULL
            ? hl_diag_add(b->diags, HL_SEV_ERROR, b->file, span->line, span->column, span->offset,
                          span->length, help, "%s%s", b->prefix, message)
            : hl_diag_add(b->diags, HL_SEV_ERROR, NULL, 0, 0, 0, 0, NULL, "%s%s%s%s%s", b->prefix,
                          message, help ? " (" : "", help ? help : "", help ? ")" : "");
    if (rc != 0) b->nomem = true;
}

/* The hyperfile key closest to word (a likely typo), or NULL. */
static const char *near_key(const char *word)
{
    const char *best = NULL;
    size_t best_distance = 3;
    for (size_t i = 0; i < hl_config_field_count(); i++) {
        const char *key = hl_config_field_info((hl_config_field)i)->key;
        size_t d = cli_distance(word, key);
        if (d < best_distance) {
            best_distance = d;
            best = key;
        }
    }
    return best;
}

/* Reports an unknown hyperfile key `key` (where: " in `locked`", " in [max]", ""). */
static void unknown_key(builder *b, const hl_toml_span *span, const char *key, const char *where)
{
    char help[160] = "`hyperlight reference` lists the hyperfile keys";
    const char *near = near_key(key);
    if (near != NULL) snprintf(help, sizeof help, "did you mean `%s`?", near);
    report(b, span, help, "unknown key `%.64s`%s", key, where);
}

/* Splits the library's one-line "<message> (<help>)" at its last parenthesis group. */
static void split_message(const char *text, char *msg, size_t msize, char *help, size_t hsize)
{
    size_t n = strlen(text), cut = n;
    help[0] = '\0';
    if (n > 0 && text[n - 1] == ')') {
        int depth = 0;
        for (size_t i = n; i-- > 0;) {
            depth += text[i] == ')' ? 1 : text[i] == '(' ? -1 : 0;
            if (depth == 0) {
                if (i > 0 && text[i - 1] == ' ') {
                    cut = i - 1;
                    snprintf(help, hsize, "%.*s", (int)(n - i - 2), text + i + 1);
                }
                break;
            }
        }
    }
    snprintf(msg, msize, "%.*s", (int)cut, text);
}

/* Parses text as a value of info (as --set reads it: strict, range-checked); reports at span. */
static bool parse_value(builder *b, const hl_field_info *info, const char *text,
                        const hl_toml_span *span, uint64_t *value)
{
    hl_config scratch;
    hl_config_init(&scratch);
    hl_error err = HL_ERROR_INIT;
    if (hl_config_set_text(&scratch, info->key, text, HL_ORIGIN_HOST, &err) == HL_OK) {
        *value = hl_config_get(&scratch, info->id);
        return true;
    }
    char msg[HL_ERROR_MESSAGE_MAX], help[HL_ERROR_MESSAGE_MAX];
    split_message(err.message[0] ? err.message : hl_status_str(err.status), msg, sizeof msg, help,
                  sizeof help);
    report(b, span, help[0] ? help : NULL, "%s", msg);
    return false;
}

/* Records a maximum (is_max) or minimum of field info. */
static void set_cap(builder *b, const hl_field_info *info, bool is_max, uint64_t value,
                    const hl_toml_span *span)
{
    *(is_max ? &b->max[info->id] : &b->min[info->id]) = value;
    b->capped[info->id] = true;
    b->cap_file[info->id] = b->file;
    if (span != NULL) b->span[info->id] = *span;
}

/* Refuses a cap of a field without a range: an enum (execution_mode, ...) or a path. */
static bool cappable(builder *b, const hl_field_info *info, bool is_max, const hl_toml_span *span)
{
    if (info->type != HL_FIELD_ENUM && info->type != HL_FIELD_PATH) return true;
    char help[160];
    if (info->id == HL_CFG_EXECUTION_MODE)
        snprintf(help, sizeof help, "%s",
                 b->file ? "write `forbid_in_process = true` to refuse RunInProcess"
                         : "use --forbid-in-process to refuse RunInProcess");
    else
        snprintf(help, sizeof help, b->file ? "lock it: `locked = [\"%s\"]`" : "lock it: --lock %s",
                 info->key);
    report(b, span, help, "`%s` has no %s", info->key, is_max ? "maximum" : "minimum");
    return false;
}

/* ---- the policy file ---- */

static const char *type_phrase(hl_toml_type t)
{
    switch (t) {
    case HL_TOML_TABLE:
        return "a table";
    case HL_TOML_ARRAY:
        return "an array";
    case HL_TOML_STRING:
        return "a string";
    case HL_TOML_INTEGER:
        return "an integer";
    case HL_TOML_FLOAT:
        return "a float";
    case HL_TOML_BOOL:
        return "a boolean";
    default:
        return "a date or time";
    }
}

/* locked = ["key", ...] */
static void read_locked(builder *b, const hl_toml_value *v)
{
    hl_toml_span span = hl_toml_value_span(v);
    if (hl_toml_type_of(v) != HL_TOML_ARRAY) {
        report(b, &span, "write the keys as an array, like `locked = [\"execution_mode\"]`",
               "`locked` must be an array of hyperfile keys, not %s",
               type_phrase(hl_toml_type_of(v)));
        return;
    }
    for (size_t i = 0; i < hl_toml_array_size(v); i++) {
        const hl_toml_value *item = hl_toml_array_at(v, i);
        span = hl_toml_value_span(item);
        if (hl_toml_type_of(item) != HL_TOML_STRING) {
            report(b, &span, "write each key as a string, like \"execution_mode\"",
                   "`locked` holds hyperfile keys, not %s", type_phrase(hl_toml_type_of(item)));
            continue;
        }
        const char *key = hl_toml_string(item, NULL);
        const hl_field_info *info = hl_config_field_find(key);
        if (info == NULL)
            unknown_key(b, &span, key, " in `locked`");
        else
            hl_policy_lock(b->policy, info->id);
    }
}

/* [max] or [min]: key = value, as in a hyperfile. */
static void read_caps(builder *b, const hl_toml_value *table, bool is_max,
                      const hl_toml_span *key_span)
{
    const char *name = is_max ? "max" : "min";
    if (hl_toml_type_of(table) != HL_TOML_TABLE) {
        report(b, key_span, "write a [max] or [min] table of hyperfile keys and values",
               "`%s` must be a table, not %s", name, type_phrase(hl_toml_type_of(table)));
        return;
    }
    for (size_t i = 0; i < hl_toml_table_size(table); i++) {
        const char *key;
        size_t len;
        hl_toml_span kspan;
        const hl_toml_value *v = hl_toml_table_at(table, i, &key, &len, &kspan);
        const hl_field_info *info = hl_config_field_find(key);
        char where[16];
        snprintf(where, sizeof where, " in [%s]", name);
        if (info == NULL) {
            unknown_key(b, &kspan, key, where);
            continue;
        }
        if (!cappable(b, info, is_max, &kspan)) continue;
        hl_toml_span span = hl_toml_value_span(v);
        hl_toml_type t = hl_toml_type_of(v);
        const char *expected = info->type == HL_FIELD_SIZE       ? SIZE_EXPECTED
                               : info->type == HL_FIELD_DURATION ? DURATION_EXPECTED
                                                                 : "expected an integer";
        char text[32];
        const char *value_text = text;
        if (t == HL_TOML_STRING) {
            value_text = hl_toml_string(v, NULL);
        } else if (t == HL_TOML_INTEGER && hl_toml_int(v) >= 0) {
            snprintf(text, sizeof text, "%lld", (long long)hl_toml_int(v));
        } else if (t == HL_TOML_INTEGER) {
            report(b, &span, expected, "`%s` cannot be negative: %lld", info->key,
                   (long long)hl_toml_int(v));
            continue;
        } else {
            report(b, &span, expected, "`%s` must be %s, not %s", info->key,
                   info->type == HL_FIELD_SIZE       ? "a size"
                   : info->type == HL_FIELD_DURATION ? "a duration"
                                                     : "an integer",
                   type_phrase(t));
            continue;
        }
        uint64_t value;
        if (parse_value(b, info, value_text, &span, &value)) set_cap(b, info, is_max, value, &span);
    }
}

static void read_document(builder *b, const hl_toml_doc *doc)
{
    const hl_toml_value *root = hl_toml_doc_root(doc);
    for (size_t i = 0; i < hl_toml_table_size(root); i++) {
        const char *key;
        size_t len;
        hl_toml_span kspan;
        const hl_toml_value *v = hl_toml_table_at(root, i, &key, &len, &kspan);
        if (strcmp(key, "locked") == 0) {
            read_locked(b, v);
        } else if (strcmp(key, "forbid_in_process") == 0) {
            hl_toml_span span = hl_toml_value_span(v);
            if (hl_toml_type_of(v) != HL_TOML_BOOL)
                report(b, &span, "write `forbid_in_process = true` or `false`",
                       "`forbid_in_process` must be a boolean, not %s",
                       type_phrase(hl_toml_type_of(v)));
            else if (hl_toml_bool(v))
                hl_policy_forbid_in_process(b->policy);
        } else if (strcmp(key, "forbid_debugging") == 0) {
            hl_toml_span span = hl_toml_value_span(v);
            if (hl_toml_type_of(v) != HL_TOML_BOOL)
                report(b, &span, "write `forbid_debugging = true` or `false`",
                       "`forbid_debugging` must be a boolean, not %s",
                       type_phrase(hl_toml_type_of(v)));
            else if (hl_toml_bool(v))
                hl_policy_forbid_debugging(b->policy);
        } else if (strcmp(key, "max") == 0 || strcmp(key, "min") == 0) {
            read_caps(b, v, key[1] == 'a', &kspan);
        } else {
            static const char *const names[] = {"locked", "forbid_in_process", "forbid_debugging",
                                                "max", "min"};
            char help[160] = POLICY_KEYS;
            for (size_t k = 0; k < 5; k++)
                if (cli_distance(key, names[k]) < 3)
                    snprintf(help, sizeof help, "did you mean `%s`?", names[k]);
            if (hl_config_field_find(key) != NULL)
                snprintf(help, sizeof help, "a hyperfile key goes in `locked`, [max] or [min]");
            report(b, &kspan, help, "unknown key `%.64s` in the policy file", key);
        }
    }
}

/* Reads the whole file (at most HL_HYPERFILE_MAX_SIZE bytes); 0 or an errno value. */
static int read_whole(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return errno;
    char *buf = malloc(HL_HYPERFILE_MAX_SIZE + 2);
    if (buf == NULL) {
        fclose(f);
        return ENOMEM;
    }
    size_t n = fread(buf, 1, HL_HYPERFILE_MAX_SIZE + 1, f);
    int e = ferror(f) ? EIO : n > HL_HYPERFILE_MAX_SIZE ? EFBIG : 0;
    fclose(f);
    if (e != 0) {
        free(buf);
        return e;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

static void load_file(builder *b, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    int e = read_whole(path, &text, &len);
    if (e != 0) {
        char why[256];
        if (e == ENOMEM) b->nomem = true;
        b->in_file = true;
        report(b, NULL, NULL, "could not read the policy file `%s`: %s", path,
               e == EFBIG ? "larger than 1 MiB" : strerror_r(e, why, sizeof why));
        b->in_file = false;
        return;
    }
    hl_toml_options topt = {
        .struct_size = sizeof(topt), .version = HL_TOML_1_0, .max_errors = POLICY_MAX_ERRORS};
    hl_toml_doc *doc = hl_toml_parse(text, len, &topt);
    if (doc == NULL || hl_diag_list_set_source(b->diags, path, text, len) != 0) {
        b->nomem = true;
    } else {
        b->file = path;
        size_t first = hl_diag_count(b->diags);
        for (size_t i = 0; i < hl_toml_doc_error_count(doc); i++) {
            const hl_toml_error *err = hl_toml_doc_error(doc, i);
            report(b, &err->span, err->help, "%s", err->message);
        }
        if (hl_toml_doc_error_count(doc) == 0) read_document(b, doc);
        if (hl_diag_list_sort(b->diags, first) != 0) b->nomem = true;
        b->file = NULL;
    }
    hl_toml_doc_free(doc);
    free(text);
}

/* ---- the flags ---- */

static void apply_flag(builder *b, const cli_policy_flag *flag)
{
    char prefix[160], key[128];
    const char *name = flag->kind == 'l' ? "--lock" : flag->kind == 'x' ? "--max" : "--min";
    snprintf(prefix, sizeof prefix, "%s %.120s: ", name, flag->text);
    b->prefix = prefix;
    const char *eq = flag->kind == 'l' ? NULL : strchr(flag->text, '=');
    size_t klen = eq ? (size_t)(eq - flag->text) : strlen(flag->text);
    snprintf(key, sizeof key, "%.*s", (int)(klen < sizeof key ? klen : sizeof key - 1), flag->text);
    const hl_field_info *info = hl_config_field_find(key);
    uint64_t value;
    if (info == NULL)
        unknown_key(b, NULL, key, "");
    else if (flag->kind == 'l')
        hl_policy_lock(b->policy, info->id);
    else if (cappable(b, info, flag->kind == 'x', NULL) &&
             parse_value(b, info, eq + 1, NULL, &value))
        set_cap(b, info, flag->kind == 'x', value, NULL);
    b->prefix = "";
}

/* A value of info for people: "4 KiB", "1536 B", "500 ms". */
static void human(const hl_field_info *info, uint64_t v, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB"};
    size_t u = 0;
    if (info->type == HL_FIELD_DURATION) {
        snprintf(buf, size, "%llu ms", (unsigned long long)v);
        return;
    }
    if (info->type != HL_FIELD_SIZE) {
        snprintf(buf, size, "%llu", (unsigned long long)v);
        return;
    }
    while (u < 3 && v != 0 && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    snprintf(buf, size, "%llu %s", (unsigned long long)v, units[u]);
}

/* Applies every cap (a minimum over its maximum is an error at the later one). */
static void apply_caps(builder *b)
{
    for (size_t f = 0; f < HL_CFG_FIELD_COUNT; f++) {
        if (!b->capped[f]) continue;
        const hl_field_info *info = hl_config_field_info((hl_config_field)f);
        if (hl_policy_cap(b->policy, info->id, b->min[f], b->max[f]) == HL_OK) continue;
        char lo[32], hi[32];
        human(info, b->min[f], lo, sizeof lo);
        human(info, b->max[f], hi, sizeof hi);
        b->file = b->cap_file[f];
        report(b, b->file ? &b->span[f] : NULL, "the minimum must not be over the maximum",
               "the host's range for `%s` is empty: minimum %s, maximum %s", info->key, lo, hi);
        b->file = NULL;
    }
}

hl_status cli_policy_build(const cli_policy_args *a, hl_policy *policy, hl_diag_list *diags,
                           char *summary, size_t size)
{
    builder *b = calloc(1, sizeof *b);
    if (b == NULL) return HL_E_NOMEM;
    hl_policy_init(policy);
    b->policy = policy;
    b->diags = diags;
    b->prefix = "";
    for (size_t f = 0; f < HL_CFG_FIELD_COUNT; f++) {
        const hl_field_info *info = hl_config_field_info((hl_config_field)f);
        b->min[f] = info->min;
        b->max[f] = info->max;
    }
    if (a->file != NULL) load_file(b, a->file);
    if (a->forbid_in_process) hl_policy_forbid_in_process(policy);
    if (a->forbid_debugging) hl_policy_forbid_debugging(policy);
    for (size_t i = 0; i < a->flag_count; i++)
        apply_flag(b, &a->flags[i]);
    if (b->errors == 0) apply_caps(b);
    if (b->file_errors > 0)
        snprintf(summary, size, "could not load the host policy `%s`", a->file);
    else
        snprintf(summary, size, "invalid host policy");
    hl_status status = b->nomem ? HL_E_NOMEM : b->errors ? HL_E_CONFIG : HL_OK;
    free(b);
    return status;
}
