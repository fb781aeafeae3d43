/* cli_common.c - helpers of every command: usage errors, options, colour, diagnostics, config. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define RED_BOLD    "\033[1;31m"
#define YELLOW_BOLD "\033[1;33m"
#define RESET       "\033[0m"

bool cli_use_color(FILE *stream)
{
    const char *no_color = getenv("NO_COLOR");
    const char *term = getenv("TERM");
    if (no_color != NULL && no_color[0] != '\0') return false;
    if (term != NULL && strcmp(term, "dumb") == 0) return false;
    return isatty(fileno(stream)) == 1;
}

static void error_prefix(void)
{
    if (cli_use_color(stderr))
        fputs(RED_BOLD "error" RESET ": ", stderr);
    else
        fputs("error: ", stderr);
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    error_prefix();
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (cmd != NULL) {
        fprintf(stderr, "\nUsage: %s\n\nFor more information, try 'hyperlight %s --help'.\n",
                cmd->usage, cmd->name);
    } else {
        fputs("\nUsage: hyperlight COMMAND [ARGS]\n\n"
              "For more information, try 'hyperlight --help'.\n",
              stderr);
    }
    return CLI_INVALID;
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    if (cli_use_color(stderr))
        fputs(YELLOW_BOLD "warning" RESET ": ", stderr);
    else
        fputs("warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_warn_mode(hl_execution_mode mode)
{
    if (mode == HL_MODE_RUN_IN_PROCESS)
        cli_warn("execution_mode is RunInProcess: the guest is not isolated from this process "
                 "(RunInProcess is for debugging)");
}

size_t cli_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[33];
    if (la > 32 || lb > 32) return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

void cli_write_escaped(FILE *out, const char *s, size_t len, bool lines)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && !(lines && (c == '\n' || c == '\t'))) || c == 0x7F)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
}

int cli_fail(int status, const char *fmt, ...)
{
    char small[1024], *msg = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(small) && (msg = malloc((size_t)n + 1)) != NULL) {
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    if (msg == NULL) {
        msg = small;
        n = (int)strlen(small);
    }
    error_prefix();
    /* messages carry text from guests and files: control characters are shown, not obeyed */
    cli_write_escaped(stderr, msg, n < 0 ? 0 : strlen(msg), false);
    fputc('\n', stderr);
    if (msg != small) free(msg);
    return status;
}

bool cli_is_option(const char *arg)
{
    return arg[0] == '-' && arg[1] != '\0';
}

int cli_option_value(const cli_command *cmd, int argc, char **argv, int *i, const char *name,
                     const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0) return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        *i += 1;
        return 1;
    }
    if (arg[n] != '\0') return 0;
    if (*i + 1 >= argc) {
        cli_usage_error(cmd, "option '%s' needs a value", name);
        return -1;
    }
    *value = argv[*i + 1];
    *i += 2;
    return 1;
}

void cli_render_diags(const hl_diag_list *diags, const char *summary)
{
    size_t errors = hl_diag_error_count(diags);
    size_t warnings = hl_diag_warning_count(diags);
    bool color = cli_use_color(stderr);
    hl_diag_render_text(diags, stderr, color);
    if (errors == 0) return;
    error_prefix();
    fprintf(stderr, "%s (%zu error%s", summary, errors, errors == 1 ? "" : "s");
    if (warnings > 0) fprintf(stderr, ", %zu warning%s", warnings, warnings == 1 ? "" : "s");
    fputs(")\n", stderr);
}

char *cli_read_stdin(size_t *len)
{
    size_t cap = 65536, used = 0;
    char *buf = malloc(cap);
    if (buf == NULL) return NULL;
    for (;;) {
        if (cap - used < 4096) {
            char *grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                return NULL;
            }
            buf = grown;
            cap *= 2;
        }
        size_t n = fread(buf + used, 1, cap - used - 1, stdin);
        used += n;
        if (n == 0) {
            if (ferror(stdin)) {
                free(buf);
                return NULL;
            }
            break;
        }
    }
    buf[used] = '\0';
    *len = used;
    return buf;
}

void cli_print_help(const cli_command *cmd, FILE *out)
{
    fprintf(out, "%s\n\nUsage: %s\n\n%s", cmd->summary, cmd->usage, cmd->help);
}

bool cli_config_args_init(cli_config_args *a, int argc)
{
    memset(a, 0, sizeof *a);
    a->set_room = argc > 0 ? (size_t)argc : 1;
    a->sets = calloc(a->set_room, sizeof *a->sets);
    if (a->sets == NULL || !cli_policy_args_init(&a->policy, argc)) {
        free(a->sets);
        a->sets = NULL;
        return false;
    }
    return true;
}

void cli_config_args_free(cli_config_args *a)
{
    for (size_t i = 0; i < a->nowned; i++)
        free(a->owned[i]);
    free(a->owned);
    a->owned = NULL;
    a->nowned = 0;
    free(a->sets);
    a->sets = NULL;
    cli_policy_args_free(&a->policy);
}

int cli_config_option(const cli_command *cmd, int argc, char **argv, int *i, cli_config_args *a)
{
    const char *value = NULL;
    int got;
    if ((got = cli_option_value(cmd, argc, argv, i, "--hyperfile", &a->hyperfile)) != 0 ||
        (got = cli_option_value(cmd, argc, argv, i, "--profile", &a->profile)) != 0 ||
        (got = cli_policy_option(cmd, argc, argv, i, &a->policy)) != 0)
        return got;
    if ((got = cli_option_value(cmd, argc, argv, i, "--set", &value)) <= 0) return got;
    if (strchr(value, '=') == NULL || value[0] == '=') {
        cli_usage_error(cmd, "--set takes KEY=VALUE, got '%s'", value);
        return -1;
    }
    a->sets[a->set_count++] = value;
    return 1;
}

/* Adds "KEYVALUE" as a --set (applied in order with the other --set); false when memory (or
 * room) runs out. A repeated shorthand is applied again: the last wins. */
static bool add_shorthand(cli_config_args *a, const char *key, const char *value)
{
    if (a->set_count >= a->set_room) return false; /* `--core-dump=DIR` repeated past argc */
    size_t n = strlen(key) + strlen(value) + 1;
    char *text = malloc(n);
    if (text == NULL) return false;
    snprintf(text, n, "%s%s", key, value);
    char **grown = realloc(a->owned, (a->nowned + 1) * sizeof *grown);
    if (grown == NULL) {
        free(text);
        return false;
    }
    a->owned = grown;
    a->owned[a->nowned++] = text;
    a->sets[a->set_count++] = text;
    return true;
}

int cli_debug_option(const cli_command *cmd, int argc, char **argv, int *i, cli_config_args *a)
{
    const char *arg = argv[*i], *value;
    int got;
    if ((got = cli_option_value(cmd, argc, argv, i, "--gdb", &value)) == 0 &&
        (got = cli_option_value(cmd, argc, argv, i, "--core-dump", &value)) == 0)
        return 0;
    if (got < 0) return -1;
    if (!add_shorthand(a, arg[2] == 'g' ? "gdb_port=" : "core_dump_dir=", value) ||
        (arg[2] == 'c' && !add_shorthand(a, "core_dump=", "on-fault"))) {
        cli_fail(CLI_FAILED, "out of memory");
        return -1;
    }
    return 1;
}

int cli_config_args_check(const cli_command *cmd, const cli_config_args *a)
{
    if (a->profile != NULL && a->hyperfile == NULL)
        return cli_usage_error(cmd, "--profile needs --hyperfile FILE");
    if (a->profile != NULL && a->profile[0] == '\0')
        return cli_usage_error(cmd, "the profile name is empty");
    return CLI_OK;
}

static hl_status load_hyperfile(hl_config *cfg, const cli_config_args *a, const hl_policy *policy,
                                hl_diag_list *diags)
{
    hl_load_options options = {
        .struct_size = sizeof(hl_load_options), .profile = a->profile, .policy = policy};
    if (strcmp(a->hyperfile, "-") != 0)
        return hl_config_load_file(cfg, a->hyperfile, &options, diags);
    size_t len = 0;
    char *text = cli_read_stdin(&len);
    if (text == NULL) {
        hl_diag_add(diags, HL_SEV_ERROR, NULL, 0, 0, 0, 0, NULL,
                    "could not read the hyperfile from standard input");
        return HL_E_IO;
    }
    hl_status status = hl_config_load_string(cfg, text, len, "<stdin>", &options, diags);
    free(text);
    return status;
}

/* Applies one --set KEY=VALUE; a problem becomes an error diagnostic. */
static bool apply_set(hl_config *cfg, const char *assignment, hl_diag_list *diags)
{
    const char *eq = strchr(assignment, '=');
    char key[128];
    size_t klen = (size_t)(eq - assignment);
    if (klen >= sizeof key) {
        hl_diag_add(diags, HL_SEV_ERROR, NULL, 0, 0, 0, 0, NULL, "--set %s: the key is too long",
                    assignment);
        return false;
    }
    memcpy(key, assignment, klen);
    key[klen] = '\0';
    hl_error err = HL_ERROR_INIT;
    if (hl_config_set_text(cfg, key, eq + 1, HL_ORIGIN_HOST, &err) == HL_OK) return true;
    hl_diag_add(diags, HL_SEV_ERROR, NULL, 0, 0, 0, 0, NULL, "--set %s: %s", assignment,
                err.message[0] ? err.message : hl_status_str(err.status));
    return false;
}

int cli_config_build(const cli_config_args *a, hl_config *cfg)
{
    return cli_config_build_over(a, NULL, NULL, cfg);
}

int cli_config_build_over(const cli_config_args *a, const char *base, const char *base_name, hl_config *cfg)
{
    hl_diag_list *diags = hl_diag_list_new();
    if (diags == NULL) return cli_fail(CLI_FAILED, "out of memory");
    hl_config_init(cfg);
    hl_policy policy;
    char summary[512];
    if (a->policy.given) {
        hl_status status = cli_policy_build(&a->policy, &policy, diags, summary, sizeof summary);
        if (status != HL_OK) {
            cli_render_diags(diags, summary);
            hl_diag_list_free(diags);
            return status == HL_E_NOMEM ? cli_fail(CLI_FAILED, "out of memory") : CLI_INVALID;
        }
    }
    const char *name = NULL;
    bool ok = true, loaded = true;
    if (base != NULL) {
        hl_load_options options = {.struct_size = sizeof(hl_load_options),
                                   .policy = a->policy.given ? &policy : NULL};
        hl_status status = hl_config_load_string(cfg, base, strlen(base), base_name, &options, diags);
        if (status != HL_OK) {
            ok = loaded = false;
            name = base_name;
            if (hl_diag_error_count(diags) == 0)
                hl_diag_add(diags, HL_SEV_ERROR, NULL, 0, 0, 0, 0, NULL, "could not load `%s`: %s", name,
                            hl_status_str(status));
        }
    }
    if (loaded && a->hyperfile != NULL) {
        name = strcmp(a->hyperfile, "-") == 0 ? "<stdin>" : a->hyperfile;
        hl_status status = load_hyperfile(cfg, a, a->policy.given ? &policy : NULL, diags);
        if (status != HL_OK) {
            ok = loaded = false;
            if (hl_diag_error_count(diags) == 0)
                hl_diag_add(diags, HL_SEV_ERROR, NULL, 0, 0, 0, 0, NULL, "could not load `%s`: %s",
                            name, hl_status_str(status));
        }
    }
    for (size_t i = 0; i < a->set_count; i++)
        ok = apply_set(cfg, a->sets[i], diags) && ok;

    if (hl_diag_count(diags) > 0) {
        if (!loaded)
            snprintf(summary, sizeof summary, "could not load `%s`", name);
        else
            snprintf(summary, sizeof summary, "invalid --set value");
        cli_render_diags(diags, summary);
    }
    hl_diag_list_free(diags);
    return ok ? CLI_OK : CLI_INVALID;
}
