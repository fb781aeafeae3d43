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
extern const cli_command cli_cmd_snapshot;

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
/* Warns (cli_warn) that a RunInProcess guest is not isolated; nothing for RunInHypervisor. */
void cli_warn_mode(hl_execution_mode mode);

/* Levenshtein distance of two short words (99 when either is over 32 bytes), for "did you
 * mean" suggestions. */
size_t cli_distance(const char *a, const char *b);

/* The host policy options of `check`, `config` and `run`: --policy FILE, --lock KEY,
 * --max KEY=VALUE, --min KEY=VALUE (repeatable, applied in order after the file) and
 * --forbid-in-process. */
typedef struct cli_policy_flag {
    char kind;        /* 'l' --lock, 'x' --max, 'n' --min */
    const char *text; /* KEY or KEY=VALUE */
} cli_policy_flag;

typedef struct cli_policy_args {
    const char *file;
    cli_policy_flag *flags; /* room for argc entries (cli_policy_args_init) */
    size_t flag_count;
    bool forbid_in_process;
    bool forbid_debugging;
    bool given; /* any policy option */
} cli_policy_args;

/* Prepares a for a command's argc arguments; false when memory runs out. */
bool cli_policy_args_init(cli_policy_args *a, int argc);
void cli_policy_args_free(cli_policy_args *a);

/* When argv[*i] is a policy option, stores it, advances *i and returns 1; returns 0 for another
 * argument and -1 (after a usage error) for a missing or bad value. */
int cli_policy_option(const cli_command *cmd, int argc, char **argv, int *i, cli_policy_args *a);

/* Builds the policy: the file (TOML: `locked`, `forbid_in_process`, `forbid_debugging`, [max],
 * [min]), then the
 * flags. Problems go to diags (the file's at their exact position) and summary gets the closing
 * line's words. HL_OK, HL_E_CONFIG (an invalid policy) or HL_E_NOMEM. */
hl_status cli_policy_build(const cli_policy_args *a, hl_policy *policy, hl_diag_list *diags,
                           char *summary, size_t size);

/* The policy options and the policy file format, for the commands' --help (options column 23). */
#define CLI_POLICY_OPTIONS_HELP                                                                    \
    "  --policy FILE        Apply the host policy in FILE to the hyperfile (see Host policy)\n"    \
    "  --lock KEY           The hyperfile may not set KEY (repeatable)\n"                          \
    "  --max KEY=VALUE      The hyperfile may not set KEY over VALUE (repeatable)\n"               \
    "  --min KEY=VALUE      The hyperfile may not set KEY under VALUE (repeatable)\n"              \
    "  --forbid-in-process  execution_mode = \"RunInProcess\" in the hyperfile is an error\n"      \
    "  --forbid-debugging   The hyperfile may not set gdb_port, gdb_stop, core_dump or\n"           \
    "                       core_dump_dir\n"
#define CLI_POLICY_FILE_HELP                                                                       \
    "Host policy: what a hyperfile may not change, as a host program sets it with\n"               \
    "hl_policy_lock(), hl_policy_cap(), hl_policy_forbid_in_process() and\n"                      \
    "hl_policy_forbid_debugging(). It binds the\n"                                                  \
    "hyperfile (top level and every profile) only; --set is host code and is not checked.\n"       \
    "A policy file is TOML; every part is optional:\n"                                             \
    "\n"                                                                                           \
    "    locked = [\"execution_mode\", \"kernel_stack_size\"]  # keys it may not set\n"            \
    "    forbid_in_process = true     # execution_mode = \"RunInProcess\" is an error\n"           \
    "    forbid_debugging = true      # no gdb port, no core files from the hyperfile\n"           \
    "    [max]                        # the largest value it may give a key\n"                     \
    "    input_data_size = \"1MiB\"\n"                                                             \
    "    max_execution_time = \"500ms\"\n"                                                         \
    "    [min]                        # the smallest\n"                                            \
    "    heap_size_override = \"64KiB\"\n"                                                         \
    "\n"                                                                                           \
    "Values are written as in a hyperfile. A capped stack_size_override or\n"                      \
    "heap_size_override refuses 0 (\"from the guest binary\"). The flags apply after the file.\n"

/* The options that build a configuration, shared by `config` and `run`: --hyperfile FILE,
 * --profile NAME, --set KEY=VALUE (repeatable) and the policy options. */
typedef struct cli_config_args {
    const char *hyperfile, *profile;
    const char **sets; /* room for argc entries (cli_config_args_init) */
    size_t set_count, set_room;
    char **owned;      /* the --set texts of --gdb and --core-dump */
    size_t nowned;
    cli_policy_args policy;
} cli_config_args;

/* Prepares a for a command's argc arguments; false when memory runs out. */
bool cli_config_args_init(cli_config_args *a, int argc);
void cli_config_args_free(cli_config_args *a);

/* When argv[*i] is --hyperfile, --profile, --set or a policy option, stores it, advances *i and
 * returns 1; returns 0 for another argument and -1 (after a usage error) for a missing or bad
 * value. */
int cli_config_option(const cli_command *cmd, int argc, char **argv, int *i, cli_config_args *a);

/* The debugging shorthands of `run` and `snapshot`: --gdb PORT (--set gdb_port=PORT) and
 * --core-dump DIR (--set core_dump=on-fault --set core_dump_dir=DIR), applied in order with the
 * other --set. Same returns as cli_config_option. */
int cli_debug_option(const cli_command *cmd, int argc, char **argv, int *i, cli_config_args *a);
#define CLI_CORE_DUMP_OPTION_HELP                                                                  \
    "  --core-dump DIR      Write an ELF core file to DIR if the guest faults, aborts or\n"      \
    "                       overflows its stack (--set core_dump=on-fault\n"                     \
    "                       --set core_dump_dir=DIR); open it with `gdb GUEST CORE`\n"

/* Checks the options together after parsing (--profile needs --hyperfile, ...); CLI_OK or the
 * status of a usage error. */
int cli_config_args_check(const cli_command *cmd, const cli_config_args *a);

/* Builds the effective configuration: the defaults, the hyperfile (`-`: standard input) with
 * its profile under the host policy, then each --set. Renders the diagnostics (warnings too) on
 * stderr. Returns CLI_OK, CLI_INVALID (an invalid hyperfile or --set value) or CLI_FAILED (out of
 * memory). */
int cli_config_build(const cli_config_args *a, hl_config *cfg);
/* The same with `base` (hyperfile TOML, shown as `base_name` in diagnostics) applied first, over
 * the defaults and under the host policy, as a hyperfile would be: what a snapshot brings. */
int cli_config_build_over(const cli_config_args *a, const char *base, const char *base_name, hl_config *cfg);

/* Prints a command's full help (usage line then help text) on out. */
void cli_print_help(const cli_command *cmd, FILE *out);

#endif
