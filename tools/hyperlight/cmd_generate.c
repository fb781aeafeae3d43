/* cmd_generate.c - `hyperlight init`, `schema`, `reference`: documents from the field table. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hyperlight/config_export.h"

static int run_init(int argc, char **argv);

const cli_command cli_cmd_init = {
    .name = "init",
    .summary = "Write a documented hyperfile template",
    .usage = "hyperlight init [FILE] [--force]",
    .help = "Writes a hyperfile template to FILE, or to standard output when FILE is missing or\n"
            "`-`. The template sets every key to its default, with a comment giving its meaning,\n"
            "type, default, allowed range and the reason for the bounds, and ends with commented\n"
            "example profiles. Loading it unchanged gives exactly the defaults.\n"
            "\n"
            "Options:\n"
            "  --force      Overwrite FILE if it exists (without it, an existing FILE is an error\n"
            "               and is left untouched)\n"
            "  -h, --help   Show this help\n"
            "\n"
            "Exit status: 0 written; 1 FILE exists or could not be written; 2 a usage error.\n",
    .run = run_init,
};

/* Writes the template to path; returns CLI_OK or CLI_FAILED after an error message. */
static int write_file(const char *path, bool force)
{
    /* "x" (C11): fail rather than replace a file that exists, with no window between a check
     * and the open. */
    FILE *out = fopen(path, force ? "w" : "wx");
    if (out == NULL) {
        if (errno == EEXIST)
            return cli_fail(CLI_FAILED, "`%s` already exists; pass --force to overwrite it", path);
        return cli_fail(CLI_FAILED, "could not create `%s`: %s", path, strerror(errno));
    }
    int written = hl_config_write_template(out);
    int saved_errno = errno;
    if (fclose(out) != 0 && written == 0) {
        written = -1;
        saved_errno = errno;
    }
    if (written != 0) {
        remove(path);
        return cli_fail(CLI_FAILED, "could not write `%s`: %s", path, strerror(saved_errno));
    }
    fprintf(stderr, "wrote %s; check it with `hyperlight check %s`\n", path, path);
    return CLI_OK;
}

static int run_init(int argc, char **argv)
{
    const cli_command *cmd = &cli_cmd_init;
    const char *path = NULL;
    bool force = false, options_done = false;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
        } else if (!options_done && strcmp(arg, "--force") == 0) {
            force = true;
        } else if (!options_done && cli_is_option(arg)) {
            return cli_usage_error(cmd, "unknown option '%s'", arg);
        } else if (path != NULL) {
            return cli_usage_error(cmd, "unexpected argument '%s' (init takes one FILE)", arg);
        } else {
            path = arg;
        }
    }
    if (path == NULL || strcmp(path, "-") == 0) {
        if (force) return cli_usage_error(cmd, "--force needs a FILE");
        return hl_config_write_template(stdout) == 0 ? CLI_OK : CLI_FAILED;
    }
    if (path[0] == '\0') return cli_usage_error(cmd, "the file name is empty");
    return write_file(path, force);
}
static int run_schema(int argc, char **argv);
static int run_reference(int argc, char **argv);

const cli_command cli_cmd_schema = {
    .name = "schema",
    .summary = "Print the JSON Schema of the hyperfile",
    .usage = "hyperlight schema",
    .help = "Prints a JSON Schema (draft 2020-12) of the hyperfile on standard output, generated\n"
            "from the same field table as the loader. Editors with TOML schema support use it\n"
            "for completion and checks, e.g. with Taplo / Even Better TOML:\n"
            "\n"
            "    hyperlight schema > hyperfile.schema.json\n"
            "    # then, first line of hyperfile.toml:\n"
            "    #:schema ./hyperfile.schema.json\n"
            "\n"
            "The schema checks keys, types, ranges of integers, the forms of strings with units\n"
            "and execution_mode; `hyperlight check` checks everything (ranges of values with\n"
            "units, the total memory size, profiles).\n"
            "\n"
            "Options:\n"
            "  -h, --help   Show this help\n"
            "\n"
            "Exit status: 0 printed; 1 standard output could not be written; 2 a usage error.\n",
    .run = run_schema,
};

const cli_command cli_cmd_reference = {
    .name = "reference",
    .summary = "Print the Markdown reference of every hyperfile key",
    .usage = "hyperlight reference",
    .help = "Prints, in Markdown, a table of every hyperfile key and one section per key with its\n"
            "type, unit, default, allowed range, the reason for the bounds and its meaning; the\n"
            "same text as the key reference in docs/hyperfile.md.\n"
            "\n"
            "Options:\n"
            "  -h, --help   Show this help\n"
            "\n"
            "Exit status: 0 printed; 1 standard output could not be written; 2 a usage error.\n",
    .run = run_reference,
};

/* Both commands take no arguments. */
static int no_arguments(const cli_command *cmd, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (cli_is_option(argv[i])) return cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        return cli_usage_error(cmd, "unexpected argument '%s' (%s takes none)", argv[i], cmd->name);
    }
    return CLI_OK;
}

static int run_schema(int argc, char **argv)
{
    int rc = no_arguments(&cli_cmd_schema, argc, argv);
    if (rc != CLI_OK) return rc;
    return hl_config_write_schema(stdout) == 0 ? CLI_OK : CLI_FAILED;
}

static int run_reference(int argc, char **argv)
{
    int rc = no_arguments(&cli_cmd_reference, argc, argv);
    if (rc != CLI_OK) return rc;
    return hl_config_write_reference(stdout) == 0 ? CLI_OK : CLI_FAILED;
}
