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
             "                         [--policy FILE] [--lock KEY]... [--max KEY=VALUE]...\n"
             "                         [--min KEY=VALUE]... [--forbid-in-process]\n"
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
        CLI_POLICY_OPTIONS_HELP
        "  -h, --help           Show this help\n"
        "\n"
        "Problems with the hyperfile, the host policy or a --set value are reported on\n"
        "standard error as `hyperlight check` does, and nothing is printed on standard output.\n"
        "\n"
        CLI_POLICY_FILE_HELP
        "\n"
        "Exit status: 0 success; 2 an invalid hyperfile, host policy or --set value, or a usage\n"
        "error; 1 standard output could not be written.\n",
    .run = run_config,
};

typedef struct config_args {
    cli_config_args cfg; /* --hyperfile, --profile, --set */
    const char *format;
    bool show_origin;
} config_args;

/* Parses the arguments into a; returns CLI_OK or the status of a usage error. */
static int parse_args(int argc, char **argv, config_args *a)
{
    const cli_command *cmd = &cli_cmd_config;
    for (int i = 1; i < argc;) {
        const char *arg = argv[i];
        int got;
        if (strcmp(arg, "--show-origin") == 0) {
            a->show_origin = true;
            i++;
            continue;
        }
        if ((got = cli_config_option(cmd, argc, argv, &i, &a->cfg)) != 0 ||
            (got = cli_option_value(cmd, argc, argv, &i, "--format", &a->format)) != 0) {
            if (got < 0) return CLI_INVALID;
            continue;
        }
        if (cli_is_option(arg)) return cli_usage_error(cmd, "unknown option '%s'", arg);
        return cli_usage_error(cmd, "unexpected argument '%s' (use --hyperfile FILE)", arg);
    }
    if (strcmp(a->format, "toml") != 0 && strcmp(a->format, "json") != 0)
        return cli_usage_error(cmd, "unknown format '%s' (expected toml or json)", a->format);
    return cli_config_args_check(cmd, &a->cfg);
}

static int run_config(int argc, char **argv)
{
    config_args a = {.format = "toml"};
    if (!cli_config_args_init(&a.cfg, argc)) return cli_fail(CLI_FAILED, "out of memory");
    int rc = parse_args(argc, argv, &a);
    hl_config cfg;
    if (rc == CLI_OK) rc = cli_config_build(&a.cfg, &cfg);
    if (rc == CLI_OK) {
        int written = strcmp(a.format, "json") == 0
                          ? hl_config_write_json(&cfg, stdout, a.show_origin)
                          : hl_config_write_toml(&cfg, stdout, a.show_origin);
        rc = written == 0 ? CLI_OK : CLI_FAILED;
    }
    cli_config_args_free(&a.cfg);
    return rc;
}
