/* main.c - the `hyperlight` command: global options, `help`, dispatch to the commands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hyperlight/config.h"
#include "hyperlight/version.h"

static int run_help(int argc, char **argv);

/* `hyperlight help [COMMAND]`: a command like the others, so `help --help` and `help help` work. */
static const cli_command cmd_help = {
    .name = "help",
    .summary = "Show the help of a command",
    .usage = "hyperlight help [COMMAND]",
    .help = "Prints the help of COMMAND on standard output, as `hyperlight COMMAND --help` does;\n"
            "without COMMAND, the list of commands (as `hyperlight --help` does).\n"
            "\n"
            "Options:\n"
            "  -h, --help   Show this help\n"
            "\n"
            "Exit status: 0 success; 2 an unknown COMMAND or a usage error.\n",
    .run = run_help,
};

/* The commands, in the order `hyperlight --help` lists them. A new command is one file defining
 * a cli_command and one line here. */
static const cli_command *const commands[] = {
    &cli_cmd_run,  &cli_cmd_snapshot, &cli_cmd_check,     &cli_cmd_config,
    &cli_cmd_init, &cli_cmd_schema,   &cli_cmd_reference, &cmd_help,
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(commands[i]->name, name) == 0) return commands[i];
    return NULL;
}

static void print_main_help(FILE *out)
{
    fprintf(out,
            "hyperlight %s - run functions in micro-VM sandboxes configured by a hyperfile.toml\n"
            "\n"
            "Usage: hyperlight [--version] [--help] COMMAND [ARGS]\n"
            "\n"
            "Commands:\n",
            hl_version());
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fputs("\n"
          "Options:\n"
          "  -h, --help     Show this help (after a command: that command's help)\n"
          "  -V, --version  Show the version of hyperlight and of the hyperfile format\n"
          "\n"
          "Run 'hyperlight help COMMAND' or 'hyperlight COMMAND --help' for a command's options.\n"
          "Exit status: 0 success; 1 the command failed (a file could not be written, ...);\n"
          "2 a usage error, or an invalid hyperfile or value.\n",
          out);
}

static void print_version(void)
{
    printf("hyperlight %s (hyperfile format %d, TOML 1.0.0)\n", hl_version(), HL_HYPERFILE_VERSION);
}

static int unknown_command(const char *name)
{
    const cli_command *best = NULL;
    size_t best_distance = 3;
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        size_t d = cli_distance(name, commands[i]->name);
        if (d < best_distance) {
            best_distance = d;
            best = commands[i];
        }
    }
    if (best != NULL)
        return cli_usage_error(NULL, "unknown command '%s' (did you mean '%s'?)", name, best->name);
    return cli_usage_error(NULL, "unknown command '%s'", name);
}

/* `hyperlight help [COMMAND]` (its own --help is handled by main, as for every command) */
static int run_help(int argc, char **argv)
{
    if (argc < 2) {
        print_main_help(stdout);
        return CLI_OK;
    }
    if (argc > 2)
        return cli_usage_error(&cmd_help, "'help' takes one command name, got %d arguments",
                               argc - 1);
    if (cli_is_option(argv[1])) return cli_usage_error(&cmd_help, "unknown option '%s'", argv[1]);
    const cli_command *cmd = find_command(argv[1]);
    if (cmd == NULL) return unknown_command(argv[1]);
    cli_print_help(cmd, stdout);
    return CLI_OK;
}

/* True when the command's arguments ask for its help (before a `--`). */
static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return true;
    }
    return false;
}

static int finish(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fputs("error: could not write to standard output\n", stderr);
        return status == CLI_OK ? CLI_FAILED : status;
    }
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_main_help(stderr);
        return CLI_INVALID;
    }
    const char *first = argv[1];
    if (strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0) {
        print_main_help(stdout);
        return finish(CLI_OK);
    }
    if (strcmp(first, "--version") == 0 || strcmp(first, "-V") == 0) {
        print_version();
        return finish(CLI_OK);
    }
    if (cli_is_option(first)) return cli_usage_error(NULL, "unknown option '%s'", first);

    const cli_command *cmd = find_command(first);
    if (cmd == NULL) return unknown_command(first);
    /* One sandbox per process: the library's idle vCPU, which spares a process that makes
     * sandboxes one after another KVM's switching on and off, would be one VM more to make and
     * destroy (runtime.md). Unless the environment says otherwise. */
    setenv("HL_KVM_ANCHOR", "0", 0);
    if (wants_help(argc - 1, argv + 1)) {
        cli_print_help(cmd, stdout);
        return finish(CLI_OK);
    }
    return finish(cmd->run(argc - 1, argv + 1));
}
