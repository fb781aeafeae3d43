/* cmd_check.c - `hyperlight check FILE`: validates a hyperfile and reports every problem. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hyperlight/config.h"

static int run_check(int argc, char **argv);

const cli_command cli_cmd_check = {
    .name = "check",
    .summary = "Validate a hyperfile and report every problem in it",
    .usage = "hyperlight check FILE [--profile NAME] [--format text|json]\n"
             "                        [--policy FILE] [--lock KEY]... [--max KEY=VALUE]...\n"
             "                        [--min KEY=VALUE]... [--forbid-in-process]",
    .help =
        "Reads FILE (`-` for standard input) as a hyperfile (TOML 1.0.0) and reports every\n"
        "problem found: TOML syntax errors, unknown keys, wrong types, values out of range,\n"
        "a total memory size over the limit, a wrong hyperfile_version, an unknown\n"
        "profile, and what the host policy forbids. Diagnostics go to standard error; with\n"
        "text they point at the line and column of each problem (in colour when standard\n"
        "error is a terminal and NO_COLOR is not set).\n"
        "\n"
        "Options:\n"
        "  --profile NAME       Also apply the [sandbox.NAME] profile, and check that it exists\n"
        "  --format text|json   text (the default) or a JSON array of diagnostics, each\n"
        "                       {severity, message, file, line, column, offset, length, help},\n"
        "                       written to standard error (`[]` when there is none)\n"
        CLI_POLICY_OPTIONS_HELP
        "  -h, --help           Show this help\n"
        "\n"
        "In text format a valid file prints `FILE: ok` on standard output.\n"
        "\n"
        CLI_POLICY_FILE_HELP
        "\n"
        "Exit status: 0 the hyperfile is valid (warnings allowed); 2 it is not, or a usage\n"
        "error; 1 an internal failure (out of memory).\n",
    .run = run_check,
};

typedef enum { FORMAT_TEXT, FORMAT_JSON } check_format;

/* Loads path (or stdin for "-") into cfg with the options; diagnostics go to diags. */
static hl_status load(hl_config *cfg, const char *path, const hl_load_options *options,
                      hl_diag_list *diags, const char **name)
{
    if (strcmp(path, "-") != 0) {
        *name = path;
        return hl_config_load_file(cfg, path, options, diags);
    }
    *name = "<stdin>";
    size_t len = 0;
    char *text = cli_read_stdin(&len);
    if (text == NULL) {
        hl_diag_add(diags, HL_SEV_ERROR, NULL, 0, 0, 0, 0, NULL,
                    "could not read the hyperfile from standard input");
        return HL_E_IO;
    }
    hl_status status = hl_config_load_string(cfg, text, len, *name, options, diags);
    free(text);
    return status;
}

/* Parses the arguments; CLI_OK or the status of a usage error. */
static int parse_args(int argc, char **argv, const char **path, const char **profile,
                      const char **format_name, cli_policy_args *policy)
{
    const cli_command *cmd = &cli_cmd_check;
    bool options_done = false;
    for (int i = 1; i < argc;) {
        const char *arg = argv[i];
        int got;
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
            i++;
            continue;
        }
        if (!options_done && cli_is_option(arg)) {
            if ((got = cli_option_value(cmd, argc, argv, &i, "--profile", profile)) != 0 ||
                (got = cli_option_value(cmd, argc, argv, &i, "--format", format_name)) != 0 ||
                (got = cli_policy_option(cmd, argc, argv, &i, policy)) != 0) {
                if (got < 0) return CLI_INVALID;
                continue;
            }
            return cli_usage_error(cmd, "unknown option '%s'", arg);
        }
        if (*path != NULL)
            return cli_usage_error(cmd, "unexpected argument '%s' (check takes one FILE)", arg);
        *path = arg;
        i++;
    }
    if (*path == NULL) return cli_usage_error(cmd, "missing the hyperfile to check");
    return CLI_OK;
}

/* Renders the diagnostics in the format; CLI_FAILED when writing JSON fails, else rc. */
static int render(const hl_diag_list *diags, bool json, const char *summary, int rc)
{
    if (json) return hl_diag_render_json(diags, stderr) != 0 ? CLI_FAILED : rc;
    cli_render_diags(diags, summary);
    return rc;
}

static int check(const char *path, const char *profile, bool json, const cli_policy_args *pargs,
                 hl_diag_list *diags)
{
    hl_policy policy;
    char summary[512];
    if (pargs->given) {
        hl_status status = cli_policy_build(pargs, &policy, diags, summary, sizeof summary);
        if (status != HL_OK)
            return render(diags, json, summary, status == HL_E_NOMEM ? CLI_FAILED : CLI_INVALID);
    }
    hl_config cfg;
    hl_config_init(&cfg);
    hl_load_options options = {.struct_size = sizeof(hl_load_options),
                               .profile = profile,
                               .policy = pargs->given ? &policy : NULL};
    const char *name = path;
    hl_status status = load(&cfg, path, &options, diags, &name);
    if (status != HL_OK && hl_diag_error_count(diags) == 0)
        hl_diag_add(diags, HL_SEV_ERROR, NULL, 0, 0, 0, 0, NULL, "could not load `%s`: %s", name,
                    hl_status_str(status));

    int rc = status == HL_OK ? CLI_OK : (status == HL_E_NOMEM ? CLI_FAILED : CLI_INVALID);
    snprintf(summary, sizeof summary, "could not load `%s`", name);
    rc = render(diags, json, summary, rc);
    if (!json && rc == CLI_OK) {
        size_t warnings = hl_diag_warning_count(diags);
        printf("%s: ok", name);
        if (profile != NULL) printf(" (profile %s)", profile);
        if (warnings > 0) printf(", %zu warning%s", warnings, warnings == 1 ? "" : "s");
        putchar('\n');
    }
    return rc;
}

static int run_check(int argc, char **argv)
{
    const cli_command *cmd = &cli_cmd_check;
    const char *path = NULL, *profile = NULL, *format_name = "text";
    cli_policy_args pargs;
    if (!cli_policy_args_init(&pargs, argc)) return cli_fail(CLI_FAILED, "out of memory");
    int rc = parse_args(argc, argv, &path, &profile, &format_name, &pargs);
    if (rc != CLI_OK) {
        cli_policy_args_free(&pargs);
        return rc;
    }
    check_format format = FORMAT_TEXT;
    if (strcmp(format_name, "text") == 0)
        format = FORMAT_TEXT;
    else if (strcmp(format_name, "json") == 0)
        format = FORMAT_JSON;
    else
        rc = cli_usage_error(cmd, "unknown format '%s' (expected text or json)", format_name);
    if (rc == CLI_OK && profile != NULL && profile[0] == '\0')
        rc = cli_usage_error(cmd, "the profile name is empty");
    hl_diag_list *diags = rc == CLI_OK ? hl_diag_list_new() : NULL;
    if (rc == CLI_OK && diags == NULL) rc = cli_fail(CLI_FAILED, "out of memory");
    if (rc == CLI_OK) rc = check(path, profile, format == FORMAT_JSON, &pargs, diags);
    hl_diag_list_free(diags);
    cli_policy_args_free(&pargs);
    return rc;
}
