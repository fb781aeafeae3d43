/* cli.h - what the `hyperlight` command's files share: the command table entry and helpers. */
#ifndef HL_CLI_H
#define HL_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "hyperlight/config.h"
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
extern const cli_command cli_cmd_run;

/* Prints "error: MESSAGE", the command's usage line and a pointer to --help on stderr, and
 * returns CLI_INVALID. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "error: MESSAGE" on stderr (in colour on a terminal) and returns status. */
int cli_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes s with control characters as \xHH (lines: newlines and tabs pass), so that text from a
 * guest cannot move the cursor, clear the screen or forge lines. */
void cli_write_escaped(FILE *out, const char *s, size_t len, bool lines);

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

/* Prints "warning: MESSAGE" on stderr (in colour on a terminal). */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Levenshtein distance of two short words (99 when either is over 32 bytes), for "did you
 * mean" suggestions. */
size_t cli_distance(const char *a, const char *b);

/* The options that build a configuration, shared by `config` and `run`: --hyperfile FILE,
 * --profile NAME and --set KEY=VALUE (repeatable). */
typedef struct cli_config_args {
    const char *hyperfile, *profile;
    const char **sets; /* room for argc entries (cli_config_args_init) */
    size_t set_count;
} cli_config_args;

/* Prepares a for a command's argc arguments; false when memory runs out. */
bool cli_config_args_init(cli_config_args *a, int argc);
void cli_config_args_free(cli_config_args *a);

/* When argv[*i] is --hyperfile, --profile or --set, stores it, advances *i and returns 1;
 * returns 0 for another argument and -1 (after a usage error) for a missing or bad value. */
int cli_config_option(const cli_command *cmd, int argc, char **argv, int *i, cli_config_args *a);

/* Checks the options together after parsing (--profile needs --hyperfile, ...); CLI_OK or the
 * status of a usage error. */
int cli_config_args_check(const cli_command *cmd, const cli_config_args *a);

/* Builds the effective configuration: the defaults, the hyperfile (`-`: standard input) with
 * its profile, then each --set. Renders the diagnostics (warnings too) on stderr. Returns
 * CLI_OK, CLI_INVALID (an invalid hyperfile or --set value) or CLI_FAILED (out of memory). */
int cli_config_build(const cli_config_args *a, hl_config *cfg);

/* Prints a command's full help (usage line then help text) on out. */
void cli_print_help(const cli_command *cmd, FILE *out);

#endif
