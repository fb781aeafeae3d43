/* cmd_run.c - `hyperlight run`: calls a guest function in a sandbox and prints its result. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hyperlight/sandbox.h"
#include "util/json.h"

static int run_run(int argc, char **argv);

const cli_command cli_cmd_run = {
    .name = "run",
    .summary = "Call a guest function in a sandbox and print its result",
    .usage = "hyperlight run [--hyperfile FILE] [--profile NAME] [--set KEY=VALUE]...\n"
             "                      [--policy FILE] [--lock KEY]... [--max KEY=VALUE]...\n"
             "                      [--min KEY=VALUE]... [--forbid-in-process] [--forbid-debugging]\n"
             "                      [--gdb PORT] [--core-dump DIR]\n"
             "                      [--format text|json] GUEST FUNCTION [ARG...]\n"
             "       hyperlight run [OPTIONS] GUEST [--list] [--layout]\n"
             "       hyperlight run [OPTIONS] --snapshot FILE FUNCTION [ARG...]\n"
             "       hyperlight run [OPTIONS] --snapshot FILE [--list] [--layout]",
    .help =
        "Creates a sandbox from GUEST (a guest binary built with the guest SDK) with the\n"
        "configuration `hyperlight config` prints for the same options, initialises it, calls\n"
        "FUNCTION with each ARG converted to the type the guest registered for it, and prints\n"
        "the result on standard output. What the guest prints goes to standard output too\n"
        "(to standard error with --format json).\n"
        "\n"
        "With --snapshot FILE (written by `hyperlight snapshot`) there is no GUEST: the sandbox\n"
        "is created from the snapshot, without running the guest's initialisation again. The\n"
        "snapshot brings the sizes, execution_mode and time limits it was made with (checked\n"
        "against the host policy as a hyperfile's would be); --hyperfile and --set may change\n"
        "the time limits and debugging settings, and any size or mode they give must equal the\n"
        "snapshot's. --list and --layout read the snapshot without creating a sandbox.\n"
        "\n"
        "Options:\n"
        "  --hyperfile FILE     Load FILE (`-` for standard input); without it, the defaults\n"
        "  --profile NAME       Apply the hyperfile's [sandbox.NAME] profile (needs --hyperfile)\n"
        "  --set KEY=VALUE      Set a key after loading, as host code would (repeatable), e.g.\n"
        "                       --set execution_mode=RunInProcess --set max_execution_time=50ms\n"
        "  --gdb PORT           Wait for gdb on 127.0.0.1:PORT at the call's entry (the same as\n"
        "                       --set gdb_port=PORT; RunInProcess: print how to attach gdb)\n"
        CLI_CORE_DUMP_OPTION_HELP
        "  --snapshot FILE      Create the sandbox from the snapshot FILE instead of a GUEST\n"
        "  --format text|json   text (the default): the value alone (nothing for void);\n"
        "                       json: {\"function\": NAME, \"type\": TYPE, \"value\": VALUE}\n"
        "  --list               List the guest's functions, one per line: add(i32, i32) -> i32\n"
        "                       (json: an array of {\"name\", \"params\", \"returns\"})\n"
        "  --layout             Show the sandbox's memory layout: each region's offset and size\n"
        "                       in bytes, the total, and the stack and heap sizes in use\n"
        CLI_POLICY_OPTIONS_HELP
        "  -h, --help           Show this help\n"
        "\n"
        "Options go before FUNCTION: every word after it is an ARG, so `-5` is a number.\n"
        "A `--` ends the options, also right after FUNCTION (for a string like `--help`).\n"
        "\n"
        "Values (ARGs and results):\n"
        "  i32 u32 i64 u64      decimal or 0x hex, range-checked: 42, -7, 0xff\n"
        "  f32 f64              a decimal number, inf or nan: 1.5, -2e-3; results are printed\n"
        "                       with the fewest digits that read back to the same value (json:\n"
        "                       inf and nan as the strings \"inf\", \"-inf\", \"nan\")\n"
        "  bool                 true or false\n"
        "  string               as given; printed raw (json: a JSON string)\n"
        "  bytes                two hex digits per byte (0a1bff; '' is empty), or @FILE for\n"
        "                       the contents of FILE; printed as hex\n"
        "\n"
        "With execution_mode = RunInProcess the guest runs inside this process and is NOT\n"
        "isolated from it (a mode for debugging): a warning on standard error says so.\n"
        "\n"
        "Errors go to standard error as `error: MESSAGE` with a note giving the status (and\n"
        "the guest's error or abort code when there is one). This command registers no host\n"
        "functions: a guest that calls one fails with HostFunctionError (17) naming it.\n"
        "\n"
        CLI_POLICY_FILE_HELP
        "\n"
        "Exit status: 0 success; 1 the guest failed (error, abort, panic, fault, stack overflow,\n"
        "time limit) or could not be loaded or run; 2 a usage error, an invalid hyperfile, host\n"
        "policy or --set value, an unknown FUNCTION, the wrong number of ARGs or an ARG that\n"
        "does not convert.\n",
    .run = run_run,
};

typedef struct run_args {
    cli_config_args cfg; /* --hyperfile, --profile, --set, --gdb, --core-dump, the policy */
    const char *format;
    bool json, list, layout;
    const char *snapshot; /* --snapshot FILE: instead of a guest */
    const char *guest, *function;
    char **args;
    size_t nargs;
} run_args;

/* Parses the arguments into a; returns CLI_OK or the status of a usage error. */
static int parse_args(int argc, char **argv, run_args *a)
{
    const cli_command *cmd = &cli_cmd_run;
    bool options_done = false;
    for (int i = 1; i < argc;) {
        const char *arg = argv[i];
        int got;
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
            i++;
            continue;
        }
        if (a->function != NULL) { /* everything after FUNCTION is an argument */
            a->args = argv + i;
            a->nargs = (size_t)(argc - i);
            break;
        }
        if (!options_done && cli_is_option(arg)) {
            if (strcmp(arg, "--list") == 0 || strcmp(arg, "--layout") == 0) {
                *(arg[3] == 'i' ? &a->list : &a->layout) = true;
                i++;
                continue;
            }
            if ((got = cli_debug_option(cmd, argc, argv, &i, &a->cfg)) != 0 ||
                (got = cli_option_value(cmd, argc, argv, &i, "--snapshot", &a->snapshot)) != 0 ||
                (got = cli_config_option(cmd, argc, argv, &i, &a->cfg)) != 0 ||
                (got = cli_option_value(cmd, argc, argv, &i, "--format", &a->format)) != 0) {
                if (got < 0) return CLI_INVALID;
                continue;
            }
            return cli_usage_error(cmd, "unknown option '%s'", arg);
        }
        if (a->guest == NULL && a->snapshot == NULL)
            a->guest = arg;
        else
            a->function = arg;
        i++;
    }
    if (a->snapshot != NULL && a->guest != NULL) { /* --snapshot came after the first word */
        if (a->function != NULL)
            return cli_usage_error(cmd, "--snapshot takes no GUEST (the snapshot holds it), got '%s'", a->guest);
        a->function = a->guest;
        a->guest = NULL;
    }
    if (strcmp(a->format, "text") != 0 && strcmp(a->format, "json") != 0)
        return cli_usage_error(cmd, "unknown format '%s' (expected text or json)", a->format);
    a->json = strcmp(a->format, "json") == 0;
    if (a->snapshot != NULL && a->snapshot[0] == '\0')
        return cli_usage_error(cmd, "the snapshot file name is empty");
    if (a->guest == NULL && a->snapshot == NULL)
        return cli_usage_error(cmd, "missing the GUEST binary (or --snapshot FILE)");
    if ((a->list || a->layout) && a->function != NULL)
        return cli_usage_error(cmd, "%s takes no FUNCTION, got '%s'",
                               a->list ? "--list" : "--layout", a->function);
    if (!a->list && !a->layout && a->function == NULL)
        return cli_usage_error(cmd, "missing the FUNCTION to call (--list shows the %s's)",
                               a->snapshot ? "snapshot" : "guest");
    return cli_config_args_check(cmd, &a->cfg);
}

/* ---- values ---- */

/* Writes s (len bytes) as a JSON string; invalid UTF-8 becomes U+FFFD. */
static void json_string(const char *s, size_t len) { hl_json_write_string(stdout, s, len); }

/* The shortest "%g" text of v that reads back to the same float (or double). */
static void format_float(double v, bool single, char *buf, size_t size)
{
    if (isnan(v)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, v < 0 ? "-inf" : "inf");
        return;
    }
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, v);
        if (single ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v) return;
    }
}

static void print_hex(const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        printf("%02x", p[i]);
}

/* Prints a scalar, a string or bytes as text (json: as a JSON value). */
static void print_value(const hl_value *v, bool json)
{
    char buf[64];
    switch (v->type) {
    case HL_TYPE_VOID:
        fputs(json ? "null" : "", stdout);
        break;
    case HL_TYPE_I32:
        printf("%" PRId32, v->u.i32);
        break;
    case HL_TYPE_U32:
        printf("%" PRIu32, v->u.u32);
        break;
    case HL_TYPE_I64:
        printf("%" PRId64, v->u.i64);
        break;
    case HL_TYPE_U64:
        printf("%" PRIu64, v->u.u64);
        break;
    case HL_TYPE_F32:
    case HL_TYPE_F64: {
        double d = v->type == HL_TYPE_F32 ? (double)v->u.f32 : v->u.f64;
        format_float(d, v->type == HL_TYPE_F32, buf, sizeof buf);
        if (json && !isfinite(d))
            printf("\"%s\"", buf);
        else
            fputs(buf, stdout);
        break;
    }
    case HL_TYPE_BOOL:
        fputs(v->u.b ? "true" : "false", stdout);
        break;
    case HL_TYPE_STRING:
        if (json)
            json_string(v->u.buf.ptr, v->u.buf.len);
        else
            cli_write_escaped(stdout, v->u.buf.ptr, v->u.buf.len, true);
        break;
    case HL_TYPE_BYTES:
        if (json) putchar('"');
        print_hex(v->u.buf.ptr, v->u.buf.len);
        if (json) putchar('"');
        break;
    }
}

/* Prints "name(i32, string) -> u64". */
static void print_signature(FILE *out, const hl_function_info *f)
{
    fprintf(out, "%s(", f->name);
    for (size_t i = 0; i < f->nparams; i++)
        fprintf(out, "%s%s", i ? ", " : "", hl_type_name(f->params[i]));
    fprintf(out, ") -> %s\n", hl_type_name(f->ret));
}

/* One signature per line (json: an array, no newline after it): the sandbox's functions, or the
 * snapshot's when sb is NULL. */
static void list_functions(const hl_sandbox *sb, const hl_snapshot *snap, bool json)
{
    size_t n = sb ? hl_sandbox_function_count(sb) : hl_snapshot_function_count(snap);
    if (json) putchar('[');
    for (size_t i = 0; i < n; i++) {
        const hl_function_info *f = sb ? hl_sandbox_function(sb, i) : hl_snapshot_function(snap, i);
        if (!json) {
            print_signature(stdout, f);
            continue;
        }
        printf("%s\n  {\"name\": ", i ? "," : "");
        json_string(f->name, strlen(f->name));
        fputs(", \"params\": [", stdout);
        for (size_t k = 0; k < f->nparams; k++)
            printf("%s\"%s\"", k ? ", " : "", hl_type_name(f->params[k]));
        printf("], \"returns\": \"%s\"}", hl_type_name(f->ret));
    }
    if (json) fputs(n ? "\n]" : "]", stdout);
}

/* The regions in address order with offsets and sizes, then the total (json: one object, no
 * newline after it). */
static void print_layout(const hl_layout *l, bool json)
{
    if (json) {
        printf("{\"total_size\": %" PRIu64 ", \"stack_size\": %" PRIu64 ", \"heap_size\": %" PRIu64
               ", \"regions\": [",
               l->total_size, l->stack_size, l->heap_size);
        for (int r = 0; r < HL_REGION_COUNT; r++)
            printf("%s\n  {\"name\": \"%s\", \"offset\": %" PRIu64 ", \"size\": %" PRIu64 "}",
                   r ? "," : "", hl_region_name((hl_region_id)r), l->region[r].offset,
                   l->region[r].size);
        fputs("\n]}", stdout);
        return;
    }
    printf("%-34s %10s %10s\n", "region", "offset", "size");
    for (int r = 0; r < HL_REGION_COUNT; r++)
        printf("%-34s 0x%08" PRIx64 " %10" PRIu64 "\n", hl_region_name((hl_region_id)r),
               l->region[r].offset, l->region[r].size);
    printf("%-34s %10s %10" PRIu64 "\n", "total", "", l->total_size);
    printf("stack %" PRIu64 " bytes, heap %" PRIu64 " bytes\n", l->stack_size, l->heap_size);
}

/* --list and --layout of a sandbox, or of a snapshot when sb is NULL; in json both together make
 * one object {"functions", "layout"}. */
static void show_guest(const hl_sandbox *sb, const hl_snapshot *snap, const run_args *a)
{
    bool both = a->list && a->layout;
    if (a->json && both) fputs("{\"functions\": ", stdout);
    if (a->list) list_functions(sb, snap, a->json);
    if (a->json && both) fputs(",\n\"layout\": ", stdout);
    if (a->layout) print_layout(sb ? hl_sandbox_layout(sb) : hl_snapshot_layout(snap), a->json);
    if (a->json) fputs(both ? "}\n" : "\n", stdout);
}

/* ---- arguments ---- */

typedef enum { CONV_OK, CONV_BAD, CONV_RANGE } conv_result;

/* An unsigned magnitude in decimal or 0x hex, the whole text; CONV_RANGE over UINT64_MAX. */
static conv_result parse_magnitude(const char *text, uint64_t *out)
{
    int base = 10;
    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        text += 2;
    }
    const char *digits = base == 16 ? "0123456789abcdefABCDEF" : "0123456789";
    if (text[0] == '\0' || text[strspn(text, digits)] != '\0') return CONV_BAD;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, base);
    if (*end != '\0') return CONV_BAD;
    if (errno == ERANGE) return CONV_RANGE;
    *out = (uint64_t)v;
    return CONV_OK;
}

static conv_result parse_signed(const char *text, int64_t min, int64_t max, int64_t *out)
{
    bool negative = text[0] == '-';
    uint64_t m = 0;
    conv_result r = parse_magnitude(text + (negative || text[0] == '+'), &m);
    if (r != CONV_OK) return r;
    if (negative) {
        if (m > (uint64_t)(-(min + 1)) + 1) return CONV_RANGE;
        *out = m == 0 ? 0 : -(int64_t)(m - 1) - 1;
    } else {
        if (m > (uint64_t)max) return CONV_RANGE;
        *out = (int64_t)m;
    }
    return CONV_OK;
}

static conv_result parse_unsigned(const char *text, uint64_t max, uint64_t *out)
{
    conv_result r = parse_magnitude(text + (text[0] == '+'), out);
    if (r == CONV_OK && *out > max) return CONV_RANGE;
    if (r == CONV_BAD && text[0] == '-' && parse_magnitude(text + 1, out) == CONV_OK)
        return CONV_RANGE;
    return r;
}

static conv_result parse_float(const char *text, bool single, double *out)
{
    if (text[0] == '\0' || strchr(" \t\n\v\f\r", text[0]) != NULL) return CONV_BAD;
    char *end = NULL;
    errno = 0;
    double d = single ? (double)strtof(text, &end) : strtod(text, &end);
    if (*end != '\0') return CONV_BAD;
    if (errno == ERANGE && isinf(d)) return CONV_RANGE;
    *out = d;
    return CONV_OK;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads a whole file into a malloc'ed buffer; NULL with errno set on failure. */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    size_t cap = 4096, used = 0;
    unsigned char *buf = malloc(cap);
    while (buf != NULL) {
        if (used == cap) {
            unsigned char *grown = realloc(buf, cap * 2);
            if (grown == NULL) break;
            buf = grown;
            cap *= 2;
        }
        size_t n = fread(buf + used, 1, cap - used, f);
        used += n;
        if (n == 0) {
            if (!ferror(f)) {
                fclose(f);
                *len = used;
                return buf;
            }
            errno = EIO;
            break;
        }
    }
    int saved = buf == NULL ? ENOMEM : errno;
    free(buf);
    fclose(f);
    errno = saved;
    return NULL;
}

/* The help line of a type: what its text must look like. */
static const char *expected_text(hl_type type)
{
    switch (type) {
    case HL_TYPE_I32:
        return "an integer from -2147483648 to 2147483647, decimal or 0x hex";
    case HL_TYPE_U32:
        return "an integer from 0 to 4294967295, decimal or 0x hex";
    case HL_TYPE_I64:
        return "an integer from -9223372036854775808 to 9223372036854775807, decimal or 0x hex";
    case HL_TYPE_U64:
        return "an integer from 0 to 18446744073709551615, decimal or 0x hex";
    case HL_TYPE_F32:
        return "a number (1.5, -2e-3, inf, nan) within +-3.4028235e38";
    case HL_TYPE_F64:
        return "a number (1.5, -2e-3, inf, nan) within +-1.7976931348623157e308";
    case HL_TYPE_BOOL:
        return "true or false";
    case HL_TYPE_BYTES:
        return "two hex digits per byte, like 0a1bff, or @FILE to read a file";
    default:
        return "a value";
    }
}

/* Converts text to a value of type; bytes data is malloc'ed into *owned. Reports a bad text
 * (naming the argument, its type and the text) and returns CLI_INVALID. */
static int convert_arg(const hl_function_info *f, size_t index, const char *text, hl_value *v,
                       unsigned char **owned)
{
    hl_type type = f->params[index];
    conv_result r = CONV_OK;
    int64_t s = 0;
    uint64_t u = 0;
    double d = 0;
    switch (type) {
    case HL_TYPE_I32:
        if ((r = parse_signed(text, INT32_MIN, INT32_MAX, &s)) == CONV_OK) *v = hl_i32((int32_t)s);
        break;
    case HL_TYPE_I64:
        if ((r = parse_signed(text, INT64_MIN, INT64_MAX, &s)) == CONV_OK) *v = hl_i64(s);
        break;
    case HL_TYPE_U32:
        if ((r = parse_unsigned(text, UINT32_MAX, &u)) == CONV_OK) *v = hl_u32((uint32_t)u);
        break;
    case HL_TYPE_U64:
        if ((r = parse_unsigned(text, UINT64_MAX, &u)) == CONV_OK) *v = hl_u64(u);
        break;
    case HL_TYPE_F32:
        if ((r = parse_float(text, true, &d)) == CONV_OK) *v = hl_f32((float)d);
        break;
    case HL_TYPE_F64:
        if ((r = parse_float(text, false, &d)) == CONV_OK) *v = hl_f64(d);
        break;
    case HL_TYPE_BOOL:
        r = strcmp(text, "true") == 0 || strcmp(text, "false") == 0 ? CONV_OK : CONV_BAD;
        if (r == CONV_OK) *v = hl_bool(text[0] == 't');
        break;
    case HL_TYPE_STRING:
        *v = hl_string(text);
        break;
    case HL_TYPE_BYTES: {
        size_t len = 0;
        if (text[0] == '@') {
            *owned = read_file(text + 1, &len);
            if (*owned == NULL)
                return cli_fail(CLI_INVALID, "could not read `%s` for argument %zu of `%s`: %s",
                                text + 1, index + 1, f->name, strerror(errno));
        } else {
            size_t n = strlen(text);
            r = n % 2 == 0 ? CONV_OK : CONV_BAD;
            for (size_t i = 0; r == CONV_OK && i < n; i++)
                if (hex_digit(text[i]) < 0) r = CONV_BAD;
            if (r == CONV_OK && (*owned = malloc(n / 2 + 1)) == NULL)
                return cli_fail(CLI_FAILED, "out of memory");
            for (size_t i = 0; r == CONV_OK && i < n / 2; i++)
                (*owned)[i] =
                    (unsigned char)(hex_digit(text[2 * i]) * 16 + hex_digit(text[2 * i + 1]));
            len = n / 2;
        }
        if (r == CONV_OK) *v = hl_bytes(*owned, len);
        break;
    }
    default:
        r = CONV_BAD;
        break;
    }
    if (r == CONV_OK) return CLI_OK;
    cli_fail(CLI_INVALID, "invalid %s \"%s\" for argument %zu of `%s`%s", hl_type_name(type), text,
             index + 1, f->name, r == CONV_RANGE ? ": out of range" : "");
    fprintf(stderr, "  = help: expected %s\n  = note: ", expected_text(type));
    print_signature(stderr, f);
    return CLI_INVALID;
}

/* ---- running ---- */

static void print_to(void *user, const char *text, size_t len)
{
    cli_write_escaped((FILE *)user, text, len, true);
}

/* Reports a library error: the message, then the status and any guest code. */
static int runtime_error(const hl_error *err, hl_execution_mode mode)
{
    hl_status st = err->status;
    bool config = st == HL_E_CONFIG || st == HL_E_RANGE || st == HL_E_POLICY ||
                  st == HL_E_UNKNOWN_KEY || st == HL_E_LAYOUT;
    int rc = config ? CLI_INVALID : CLI_FAILED;
    cli_fail(rc, "%s", err->message[0] ? err->message : hl_status_str(st));
    if (st == HL_E_GUEST_ERROR)
        fprintf(stderr, "  = note: %s, code %u (%s)\n", hl_status_str(st), err->guest_code,
                hl_guest_error_name(err->guest_code));
    else if (st == HL_E_GUEST_ABORT)
        fprintf(stderr, "  = note: %s, code %u\n", hl_status_str(st), err->guest_code);
    else if (st == HL_E_GUEST_FAULT)
        fprintf(stderr, "  = note: %s, %s %u\n", hl_status_str(st),
                mode == HL_MODE_RUN_IN_PROCESS ? "signal" : "vector", err->guest_code);
    else
        fprintf(stderr, "  = note: %s\n", hl_status_str(st));
    return rc;
}

static int unknown_function(const hl_sandbox *sb, const run_args *a)
{
    const char *best = NULL;
    size_t best_distance = 3;
    for (size_t i = 0; i < hl_sandbox_function_count(sb); i++) {
        const char *name = hl_sandbox_function(sb, i)->name;
        size_t d = cli_distance(a->function, name);
        if (d < best_distance) {
            best_distance = d;
            best = name;
        }
    }
    if (best != NULL)
        cli_fail(CLI_INVALID, "the guest has no function `%s` (did you mean `%s`?)", a->function,
                 best);
    else
        cli_fail(CLI_INVALID, "the guest has no function `%s`", a->function);
    if (a->snapshot)
        fprintf(stderr, "  = help: `hyperlight run --snapshot %s --list` lists its functions\n", a->snapshot);
    else
        fprintf(stderr, "  = help: `hyperlight run %s --list` lists its functions\n", a->guest);
    return CLI_INVALID;
}

/* Converts the arguments, calls the function and prints its result. */
static int call_function(hl_sandbox *sb, const run_args *a)
{
    const hl_function_info *f = hl_sandbox_find_function(sb, a->function);
    if (f == NULL) return unknown_function(sb, a);
    if (a->nargs != f->nparams) {
        if (f->nparams == 0)
            cli_fail(CLI_INVALID, "`%s` takes no arguments, got %zu", f->name, a->nargs);
        else
            cli_fail(CLI_INVALID, "`%s` takes %zu argument%s, got %zu", f->name, f->nparams,
                     f->nparams == 1 ? "" : "s", a->nargs);
        fputs("  = note: ", stderr);
        print_signature(stderr, f);
        return CLI_INVALID;
    }
    hl_value args[HL_MAX_PARAMS];
    unsigned char *owned[HL_MAX_PARAMS] = {NULL};
    int rc = CLI_OK;
    for (size_t i = 0; i < f->nparams && rc == CLI_OK; i++)
        rc = convert_arg(f, i, a->args[i], &args[i], &owned[i]);
    if (rc == CLI_OK) {
        hl_value result = {0};
        hl_error err = HL_ERROR_INIT;
        if (hl_sandbox_call(sb, f->name, args, f->nparams, &result, &err) != HL_OK) {
            rc = runtime_error(&err, hl_sandbox_mode(sb));
        } else if (a->json) {
            fputs("{\"function\": ", stdout);
            json_string(f->name, strlen(f->name));
            printf(", \"type\": \"%s\", \"value\": ", hl_type_name(f->ret));
            print_value(&result, true);
            fputs("}\n", stdout);
        } else if (f->ret != HL_TYPE_VOID) {
            print_value(&result, false);
            putchar('\n');
        }
    }
    for (size_t i = 0; i < HL_MAX_PARAMS; i++)
        free(owned[i]);
    return rc;
}

/* True once a debugger (gdb) has attached to this process (/proc/self/status: TracerPid). */
static bool traced(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    bool yes = false;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "TracerPid:", 10) == 0) yes = atoi(line + 10) != 0;
    if (f) fclose(f);
    return yes;
}

/* With gdb_port: says on stderr how to debug the guest. RunInHypervisor: the sandbox waits for
 * gdb on the port at the call's (or initialisation's) entry. RunInProcess: gdb attaches to this
 * process; the commands that give it the guest's symbols are printed, and the run waits until a
 * debugger is attached. */
static void announce_debugger(hl_sandbox *sb, const hl_config *cfg)
{
    char cmds[4096];
    if (hl_sandbox_gdb_command(sb, cmds, sizeof cmds) < 0) return;
    if (cfg->execution_mode != HL_MODE_RUN_IN_PROCESS) {
        fprintf(stderr, "hyperlight: waiting for gdb on 127.0.0.1:%llu; in another terminal:\n"
                        "    gdb GUEST -ex '%s'\n",
                (unsigned long long)cfg->gdb_port, cmds);
        return;
    }
    fprintf(stderr, "hyperlight: RunInProcess: attach gdb to this process and give it the guest's "
                    "symbols:\n    gdb -p %ld\n", (long)getpid());
    for (char *line = strtok(cmds, "\n"); line; line = strtok(NULL, "\n"))
        fprintf(stderr, "    (gdb) %s\n", line);
    fprintf(stderr, "    (gdb) continue\nhyperlight: waiting for a debugger to attach...\n");
    while (!traced())
        usleep(100 * 1000);
}

static void free_run_args(run_args *a) { cli_config_args_free(&a->cfg); }

/* What a snapshot brings to the config, as hyperfile text: every size, the mode and every time
 * limit that is not its default (the debugging settings are the host's, never the snapshot's).
 * NULL when memory runs out. */
static char *snapshot_toml(const hl_snapshot *snap)
{
    hl_config made, defaults;
    hl_config_init(&made);
    hl_config_init(&defaults);
    if (hl_snapshot_get_config(snap, &made) != HL_OK) return NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL) return NULL;
    for (size_t i = 0; i < hl_config_field_count(); i++) {
        const hl_field_info *fi = hl_config_field_info((hl_config_field)i);
        if ((fi->flags & HL_FIELD_DEBUG) || (fi->type != HL_FIELD_SIZE && fi->type != HL_FIELD_DURATION &&
                                             fi->id != HL_CFG_EXECUTION_MODE) ||
            hl_config_get(&made, fi->id) == hl_config_get(&defaults, fi->id))
            continue;
        char value[64];
        hl_config_format_value(&made, fi->id, value, sizeof value);
        fprintf(f, fi->type == HL_FIELD_SIZE ? "%s = %s\n" : "%s = \"%s\"\n", fi->key, value);
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static int run_run(int argc, char **argv)
{
    run_args a = {.format = "text"};
    if (!cli_config_args_init(&a.cfg, argc)) return cli_fail(CLI_FAILED, "out of memory");
    int rc = parse_args(argc, argv, &a);
    hl_config cfg;
    hl_snapshot *snap = NULL;
    hl_error err = HL_ERROR_INIT;
    if (rc == CLI_OK && a.snapshot != NULL) {
        if (hl_snapshot_open(&snap, a.snapshot, &err) != HL_OK) {
            rc = runtime_error(&err, HL_MODE_RUN_IN_HYPERVISOR);
        } else {
            char *base = snapshot_toml(snap);
            size_t n = strlen(a.snapshot) + 32;
            char *name = malloc(n);
            if (base == NULL || name == NULL) {
                rc = cli_fail(CLI_FAILED, "out of memory");
            } else {
                snprintf(name, n, "%s (its config)", a.snapshot);
                rc = cli_config_build_over(&a.cfg, base, name, &cfg);
            }
            free(base);
            free(name);
        }
    } else if (rc == CLI_OK) {
        rc = cli_config_build(&a.cfg, &cfg);
    }
    if (rc != CLI_OK) {
        hl_snapshot_close(snap);
        free_run_args(&a);
        return rc;
    }
    hl_execution_mode mode = (hl_execution_mode)cfg.execution_mode;
    cli_warn_mode(mode);

    hl_sandbox *sb = NULL;
    if (snap != NULL && (a.list || a.layout)) {
        show_guest(NULL, snap, &a); /* the snapshot says it all: no sandbox needed */
    } else if ((snap != NULL ? hl_sandbox_create_from_snapshot(&sb, snap, &cfg, &err)
                             : hl_sandbox_create(&sb, a.guest, &cfg, &err)) != HL_OK) {
        rc = runtime_error(&err, mode);
    } else {
        /* In json mode stdout carries only the JSON: the guest's output goes to stderr. */
        hl_sandbox_set_print(sb, print_to, a.json ? stderr : stdout);
        if (cfg.gdb_port) announce_debugger(sb, &cfg);
        if (hl_sandbox_initialize(sb, &err) != HL_OK)
            rc = runtime_error(&err, mode);
        else if (a.list || a.layout)
            show_guest(sb, NULL, &a);
        else
            rc = call_function(sb, &a);
    }
    hl_sandbox_destroy(sb);
    hl_snapshot_close(snap);
    free_run_args(&a);
    return rc;
}
