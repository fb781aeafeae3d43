/* cmd_config.c - `hyperlight config`: the effective configuration and where it came from. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hyperlight/config.h"
#include "hyperlight/config_export.h"

static int run_config(int argc, char **argv);

const cli_command cli_cmd_config = {
    .name = "config",
    .summary = "Print the effective configuration (defaults, hyperfile, profile, --set)",
    .usage = "hyperlight config [--hyperfile FILE] [--profile NAME] [--set KEY=VALUE]...\n"
             "                         [--format toml|json] [--show-origin]",
    .help =
        "Prints the configuration a sandbox would get: the defaults, overridden by the\n"
        "hyperfile's top level, then by the selected profile, then by each --set (as host code\n"
        "would set it after loading).\n"
        "\n"
        "Options:\n"
        "  --hyperfile FILE     Load FILE (`-` for standard input); without it, the defaults\n"
        "  --profile NAME       Apply the hyperfile's [sandbox.NAME] profile (needs --hyperfile)\n"
        "  --set KEY=VALUE      Set a key after loading, as host code would (repeatable). VALUE\n"
        "                       is written as in a hyperfile without quotes: 4MiB, 100ms,\n"
        "                       RunInProcess. Out of range is an error, never clamped.\n"
        "  --format toml|json   toml (the default): a hyperfile that loads back to the same\n"
        "                       values; json: one object keyed by the hyperfile keys, sizes in\n"
        "                       bytes, durations in milliseconds, execution_mode a string\n"
        "  --show-origin        Say where each value came from: in toml as a trailing comment\n"
        "                       (# default, # from FILE:LINE, # set by host), in json by making\n"
        "                       each value an object {value, origin, profile?, file?, line?}\n"
        "  -h, --help           Show this help\n"
        "\n"
        "Problems with the hyperfile or a --set value are reported on standard error as\n"
        "`hyperlight check` does, and nothing is printed on standard output.\n"
        "\n"
        "Exit status: 0 success; 2 an invalid hyperfile or --set value, or a usage error;\n"
        "1 standard output could not be written.\n",
    .run = run_config,
};

typedef struct config_args {
    const char *hyperfile, *profile, *format;
    bool show_origin;
    const char **sets;
    size_t set_count;
} config_args;

/* Parses the arguments into a; returns CLI_OK or the status of a usage error. */
static int parse_args(int argc, char **argv, config_args *a)
{
    const cli_command *cmd = &cli_cmd_config;
    for (int i = 1; i < argc;) {
        const char *arg = argv[i], *value = NULL;
        int got;
        if (strcmp(arg, "--show-origin") == 0) {
            a->show_origin = true;
            i++;
            continue;
        }
        if ((got = cli_option_value(cmd, argc, argv, &i, "--hyperfile", &a->hyperfile)) != 0 ||
            (got = cli_option_value(cmd, argc, argv, &i, "--profile", &a->profile)) != 0 ||
            (got = cli_option_value(cmd, argc, argv, &i, "--format", &a->format)) != 0) {
            if (got < 0) return CLI_INVALID;
            continue;
        }
        if ((got = cli_option_value(cmd, argc, argv, &i, "--set", &value)) != 0) {
            if (got < 0) return CLI_INVALID;
            if (strchr(value, '=') == NULL || value[0] == '=')
                return cli_usage_error(cmd, "--set takes KEY=VALUE, got '%s'", value);
            a->sets[a->set_count++] = value;
            continue;
        }
        if (cli_is_option(arg)) return cli_usage_error(cmd, "unknown option '%s'", arg);
        return cli_usage_error(cmd, "unexpected argument '%s' (use --hyperfile FILE)", arg);
    }
    if (strcmp(a->format, "toml") != 0 && strcmp(a->format, "json") != 0)
        return cli_usage_error(cmd, "unknown format '%s' (expected toml or json)", a->format);
    if (a->profile != NULL && a->hyperfile == NULL)
        return cli_usage_error(cmd, "--profile needs --hyperfile FILE");
    if (a->profile != NULL && a->profile[0] == '\0')
        return cli_usage_error(cmd, "the profile name is empty");
    return CLI_OK;
}

static hl_status load(hl_config *cfg, const config_args *a, hl_diag_list *diags)
{
    hl_load_options options = {.profile = a->profile, .policy = NULL};
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
    hl_error err = {0};
    if (hl_config_set_text(cfg, key, eq + 1, HL_ORIGIN_HOST, &err) == HL_OK) return true;
    hl_diag_add(diags, HL_SEV_ERROR, NULL, 0, 0, 0, 0, NULL, "--set %s: %s", assignment,
                err.message[0] ? err.message : hl_status_str(err.status));
    return false;
}

static int run_config(int argc, char **argv)
{
    config_args a = {.format = "toml"};
    a.sets = calloc((size_t)argc, sizeof *a.sets);
    if (a.sets == NULL) return cli_fail(CLI_FAILED, "out of memory");
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK) {
        free(a.sets);
        return rc;
    }

    hl_diag_list *diags = hl_diag_list_new();
    if (diags == NULL) {
        free(a.sets);
        return cli_fail(CLI_FAILED, "out of memory");
    }
    hl_config cfg;
    hl_config_init(&cfg);
    const char *name = NULL;
    bool ok = true, loaded = true;
    if (a.hyperfile != NULL) {
        name = strcmp(a.hyperfile, "-") == 0 ? "<stdin>" : a.hyperfile;
        hl_status status = load(&cfg, &a, diags);
        if (status != HL_OK) {
            ok = loaded = false;
            if (hl_diag_error_count(diags) == 0)
                hl_diag_add(diags, HL_SEV_ERROR, NULL, 0, 0, 0, 0, NULL, "could not load `%s`: %s",
                            name, hl_status_str(status));
        }
    }
    for (size_t i = 0; i < a.set_count; i++)
        ok = apply_set(&cfg, a.sets[i], diags) && ok;

    if (hl_diag_count(diags) > 0) {
        char summary[512];
        if (!loaded)
            snprintf(summary, sizeof summary, "could not load `%s`", name);
        else
            snprintf(summary, sizeof summary, "invalid --set value");
        cli_render_diags(diags, summary);
    }
    if (ok) {
        int written = strcmp(a.format, "json") == 0
                          ? hl_config_write_json(&cfg, stdout, a.show_origin)
                          : hl_config_write_toml(&cfg, stdout, a.show_origin);
        rc = written == 0 ? CLI_OK : CLI_FAILED;
    } else {
        rc = CLI_INVALID;
    }
    hl_diag_list_free(diags);
    free(a.sets);
    return rc;
}
