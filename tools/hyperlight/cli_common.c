/* cli_common.c - helpers of every command: usage errors, options, colour, diagnostics. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define RED_BOLD "\033[1;31m"
#define RESET    "\033[0m"

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

int cli_fail(int status, const char *fmt, ...)
{
    va_list ap;
    error_prefix();
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
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
