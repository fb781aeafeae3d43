/* cmd_snapshot.c - `hyperlight snapshot`: initialises a guest and saves its snapshot to a file. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hyperlight/sandbox.h"

static int run_snapshot(int argc, char **argv);

const cli_command cli_cmd_snapshot = {
    .name = "snapshot",
    .summary = "Initialise a guest and save its snapshot, for `run --snapshot`",
    .usage = "hyperlight snapshot [--hyperfile FILE] [--profile NAME] [--set KEY=VALUE]...\n"
             "                           [--policy FILE] [--lock KEY]... [--max KEY=VALUE]...\n"
             "                           [--min KEY=VALUE]... [--forbid-in-process]\n"
             "                           [--forbid-debugging] [--core-dump DIR]\n"
             "                           GUEST -o FILE",
    .help =
        "Creates a sandbox from GUEST with the configuration `hyperlight config` prints for the\n"
        "same options, initialises it (the guest's hyperlight_main runs) and writes its\n"
        "snapshot to FILE: the memory every call starts from, the configuration, the layout\n"
        "and the guest's functions. `hyperlight run --snapshot FILE FUNCTION [ARG...]` then\n"
        "calls a function without running the initialisation again. The file is replaced\n"
        "atomically (written beside FILE, then renamed); pages of zeros are not stored (a\n"
        "sparse file). Like `run`, this command registers no host functions. On success it\n"
        "prints one line on standard error: what was written.\n"
        "\n"
        "A RunInProcess snapshot holds absolute addresses of this process's memory: a sandbox\n"
        "made from it must get the same address, which is free in a new process but taken\n"
        "while another sandbox from the same snapshot lives in that process.\n"
        "\n"
        "Options:\n"
        "  -o, --output FILE    Where to write the snapshot (required)\n"
        "  --hyperfile FILE     Load FILE (`-` for standard input); without it, the defaults\n"
        "  --profile NAME       Apply the hyperfile's [sandbox.NAME] profile (needs --hyperfile)\n"
        "  --set KEY=VALUE      Set a key after loading, as host code would (repeatable)\n"
        CLI_CORE_DUMP_OPTION_HELP
        CLI_POLICY_OPTIONS_HELP
        "  -h, --help           Show this help\n"
        "\n"
        "Exit status: 0 written; 1 the guest's initialisation failed or FILE could not be\n"
        "written; 2 a usage error, an invalid hyperfile, host policy or --set value.\n",
    .run = run_snapshot,
};

static int run_snapshot(int argc, char **argv)
{
    const cli_command *cmd = &cli_cmd_snapshot;
    cli_config_args ca;
    if (!cli_config_args_init(&ca, argc)) return cli_fail(CLI_FAILED, "out of memory");
    const char *guest = NULL, *output = NULL;
    int rc = CLI_OK;
    bool options_done = false;
    for (int i = 1; i < argc && rc == CLI_OK;) {
        const char *arg = argv[i];
        int got;
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
            i++;
            continue;
        }
        if (!options_done && cli_is_option(arg)) {
            if ((got = cli_option_value(cmd, argc, argv, &i, "--output", &output)) != 0 ||
                (got = cli_option_value(cmd, argc, argv, &i, "-o", &output)) != 0 ||
                (strncmp(arg, "--core-dump", 11) == 0 && (got = cli_debug_option(cmd, argc, argv, &i, &ca)) != 0) ||
                (got = cli_config_option(cmd, argc, argv, &i, &ca)) != 0) {
                if (got < 0) rc = CLI_INVALID;
                continue;
            }
            rc = cli_usage_error(cmd, "unknown option '%s'", arg);
            break;
        }
        if (guest != NULL) {
            rc = cli_usage_error(cmd, "unexpected argument '%s' (snapshot takes one GUEST)", arg);
            break;
        }
        guest = arg;
        i++;
    }
    if (rc == CLI_OK && guest == NULL) rc = cli_usage_error(cmd, "missing the GUEST binary");
    if (rc == CLI_OK && output == NULL) rc = cli_usage_error(cmd, "missing -o FILE, where to write the snapshot");
    if (rc == CLI_OK && output[0] == '\0') rc = cli_usage_error(cmd, "the output file name is empty");
    if (rc == CLI_OK) rc = cli_config_args_check(cmd, &ca);
    hl_config cfg;
    if (rc == CLI_OK) rc = cli_config_build(&ca, &cfg);
    if (rc != CLI_OK) {
        cli_config_args_free(&ca);
        return rc;
    }
    hl_execution_mode mode = (hl_execution_mode)cfg.execution_mode;
    cli_warn_mode(mode);
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    hl_status st = hl_sandbox_create(&sb, guest, &cfg, &err);
    if (st == HL_OK) st = hl_sandbox_initialize(sb, &err);
    if (st == HL_OK) st = hl_snapshot_save(sb, output, &err);
    if (st != HL_OK) {
        bool config = st == HL_E_CONFIG || st == HL_E_RANGE || st == HL_E_POLICY ||
                      st == HL_E_UNKNOWN_KEY || st == HL_E_LAYOUT;
        rc = cli_fail(config ? CLI_INVALID : CLI_FAILED, "%s", err.message[0] ? err.message : hl_status_str(st));
        fprintf(stderr, "  = note: %s\n", hl_status_str(st));
    } else {
        const hl_layout *l = hl_sandbox_layout(sb);
        fprintf(stderr, "wrote %s: %s, %zu guest function%s, %llu KiB of guest memory; call one with "
                        "`hyperlight run --snapshot %s FUNCTION [ARG...]`\n",
                output, hl_execution_mode_name(mode), hl_sandbox_function_count(sb),
                hl_sandbox_function_count(sb) == 1 ? "" : "s", (unsigned long long)(l->total_size >> 10),
                output);
    }
    hl_sandbox_destroy(sb);
    cli_config_args_free(&ca);
    return rc;
}
