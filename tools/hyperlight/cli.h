/* cli.h - what the `hyperlight` command's files share: the command table entry and helpers. */
#ifndef HL_CLI_H
#define HL_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "hyperlight/diag.h"

/* Exit statuses of every command. */
enum {
    CLI_OK = 0,      /* success (for check: the hyperfile is valid) */
    CLI_FAILED = 1,  /* the command could not do its job: a write failed, a file exists, ... */
    CLI_INVALID = 2, /* a usage error, or an invalid hyperfile or --set value */
};

/* One command. run() gets argv[0] = the command's name and its arguments after it; `--help`
 * is handled before run() is called. */
typedef struct cli_command {
    const char *name;
    const char *summary; /* one line for `hyperlight --help` */
    const char *usage;   /* "hyperlight check FILE [--profile NAME] [--format text|json]" */
    const char *help;    /* the rest of `--help`: a description and the options */
    int (*run)(int argc, char **argv);
} cli_command;

extern const cli_command cli_cmd_check;
extern const cli_command cli_cmd_config;
extern const cli_command cli_cmd_init;
extern const cli_command cli_cmd_schema;
extern const cli_command cli_cmd_reference;

/* Prints "error: MESSAGE", the command's usage line and a pointer to --help on stderr, and
 * returns CLI_INVALID. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "error: MESSAGE" on stderr (in colour on a terminal) and returns status. */
int cli_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Options with a value, as `--name VALUE` or `--name=VALUE`. When argv[*i] is option `name`,
 * stores its value, advances *i past it and returns 1; returns 0 when argv[*i] is another
 * argument; returns -1 (after a usage error) when the value is missing. */
int cli_option_value(const cli_command *cmd, int argc, char **argv, int *i, const char *name,
                     const char **value);

/* True when argv[i] looks like an option (starts with '-' and is not "-"). */
bool cli_is_option(const char *arg);

/* Whether to colour what goes to stream: a terminal, NO_COLOR unset and TERM not "dumb". */
bool cli_use_color(FILE *stream);

/* Renders diagnostics as text on stderr (coloured on a terminal) and, when any error is among
 * them, a closing line "error: SUMMARY (N errors, M warnings)". */
void cli_render_diags(const hl_diag_list *diags, const char *summary);

/* Reads all of stdin into a malloc'ed buffer (NUL-terminated); NULL when memory runs out or the
 * read fails. *len gets the byte count. */
char *cli_read_stdin(size_t *len);

/* Prints a command's full help (usage line then help text) on out. */
void cli_print_help(const cli_command *cmd, FILE *out);

#endif
