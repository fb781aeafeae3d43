/* toml_decoder.c - toml-test's decoder protocol: TOML on stdin, tagged JSON on stdout or an error. */
#include "hyperlight/toml.h"
#include "util/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: toml-decoder [--toml 1.0|1.1]\n"
    "\n"
    "Reads a TOML document on standard input and writes it to standard output as the tagged\n"
    "JSON of toml-test's decoder protocol (tables as objects, arrays as arrays, every other\n"
    "value as {\"type\": T, \"value\": \"...\"}), exiting 0. When the document is not valid\n"
    "TOML it writes \"LINE:COL: message\" to standard error and exits 1. Arrays and inline\n"
    "tables may nest to any depth that fits in memory.\n"
    "\n"
    "  --toml VERSION  the TOML version to read: 1.0 (1.0.0, the default) or 1.1 (1.1.0)\n"
    "  --help          show this help\n";

/* Reads all of standard input (any bytes, NUL included). NULL when memory runs out. */
static char *read_all(FILE *in, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    for (;;) {
        if (n == cap) {
            char *grown = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                return NULL;
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, in);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(in)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Writes s[0..len) as a JSON string (the parser guarantees valid UTF-8). */
static void put_json_string(FILE *out, const char *s, size_t len) { hl_json_write_string(out, s, len); }

/* The shortest %g form that reads back as the same double, or inf/-inf/nan. */
static void format_float(double d, char *buf, size_t size)
{
    if (isnan(d)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(d)) {
        snprintf(buf, size, d < 0 ? "-inf" : "inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
    snprintf(buf, size, "%.17g", d);
}

static void put_date(char *buf, size_t size, const hl_toml_datetime *dt)
{
    snprintf(buf, size, "%04d-%02u-%02u", (int)dt->year, (unsigned)dt->month, (unsigned)dt->day);
}

/* HH:MM:SS plus the fraction of a second, when there is one, without trailing zeros. */
static void put_time(char *buf, size_t size, const hl_toml_datetime *dt)
{
    int n = snprintf(buf, size, "%02u:%02u:%02u", (unsigned)dt->hour, (unsigned)dt->minute,
                     (unsigned)dt->second);
    if (dt->nanosecond && n > 0 && (size_t)n < size) {
        char frac[16];
        snprintf(frac, sizeof frac, "%09" PRIu32, dt->nanosecond);
        size_t k = strlen(frac);
        while (k > 1 && frac[k - 1] == '0')
            frac[--k] = '\0';
        snprintf(buf + n, size - (size_t)n, ".%s", frac);
    }
}

/* The text of a scalar in the protocol's form; returns its type tag. */
static const char *scalar_text(const hl_toml_value *v, char *buf, size_t size)
{
    hl_toml_datetime dt;
    size_t n;
    switch (hl_toml_type_of(v)) {
    case HL_TOML_INTEGER:
        snprintf(buf, size, "%" PRId64, hl_toml_int(v));
        return "integer";
    case HL_TOML_FLOAT:
        format_float(hl_toml_float(v), buf, size);
        return "float";
    case HL_TOML_BOOL:
        snprintf(buf, size, "%s", hl_toml_bool(v) ? "true" : "false");
        return "bool";
    case HL_TOML_DATE_LOCAL:
        dt = hl_toml_datetime_of(v);
        put_date(buf, size, &dt);
        return "date-local";
    case HL_TOML_TIME_LOCAL:
        dt = hl_toml_datetime_of(v);
        put_time(buf, size, &dt);
        return "time-local";
    case HL_TOML_DATETIME_LOCAL:
    case HL_TOML_DATETIME:
        dt = hl_toml_datetime_of(v);
        put_date(buf, size, &dt);
        buf[10] = 'T';
        put_time(buf + 11, size - 11, &dt);
        if (hl_toml_type_of(v) == HL_TOML_DATETIME_LOCAL)
            return "datetime-local";
        n = strlen(buf);
        if (dt.offset_minutes == 0) {
            snprintf(buf + n, size - n, "Z");
        } else {
            int off = dt.offset_minutes < 0 ? -dt.offset_minutes : dt.offset_minutes;
            snprintf(buf + n, size - n, "%c%02d:%02d", dt.offset_minutes < 0 ? '-' : '+', off / 60,
                     off % 60);
        }
        return "datetime";
    default:
        buf[0] = '\0';
        return "string";
    }
}

static void put_scalar(FILE *out, const hl_toml_value *v)
{
    fputs("{\"type\":\"", out);
    if (hl_toml_type_of(v) == HL_TOML_STRING) {
        size_t len = 0;
        const char *s = hl_toml_string(v, &len);
        fputs("string\",\"value\":", out);
        put_json_string(out, s, len);
    } else {
        char buf[96];
        const char *type = scalar_text(v, buf, sizeof buf);
        fprintf(out, "%s\",\"value\":\"%s\"", type, buf);
    }
    putc('}', out);
}

/* One open table or array on the emitter's explicit stack (no recursion, so no nesting depth
 * the parser accepts can overflow the C stack here). */
typedef struct frame {
    const hl_toml_value *v;
    size_t i, n;
} frame;

typedef struct emitter {
    frame *stack;
    size_t depth, cap;
    FILE *out;
} emitter;

/* Writes a scalar, or opens a container and pushes it. false when memory runs out. */
static int open_value(emitter *e, const hl_toml_value *v)
{
    hl_toml_type t = hl_toml_type_of(v);
    if (t != HL_TOML_TABLE && t != HL_TOML_ARRAY) {
        put_scalar(e->out, v);
        return 1;
    }
    if (e->depth == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        frame *grown = realloc(e->stack, cap * sizeof *grown);
        if (!grown)
            return 0;
        e->stack = grown;
        e->cap = cap;
    }
    frame f = {v, 0, t == HL_TOML_TABLE ? hl_toml_table_size(v) : hl_toml_array_size(v)};
    e->stack[e->depth++] = f;
    putc(t == HL_TOML_TABLE ? '{' : '[', e->out);
    return 1;
}

static int emit(FILE *out, const hl_toml_value *root)
{
    emitter e = {NULL, 0, 0, out};
    int ok = open_value(&e, root);
    while (ok && e.depth > 0) {
        frame *f = &e.stack[e.depth - 1];
        int is_table = hl_toml_type_of(f->v) == HL_TOML_TABLE;
        if (f->i == f->n) {
            putc(is_table ? '}' : ']', out);
            e.depth--;
            continue;
        }
        if (f->i > 0)
            putc(',', out);
        const hl_toml_value *child;
        if (is_table) {
            const char *key = NULL;
            size_t keylen = 0;
            child = hl_toml_table_at(f->v, f->i, &key, &keylen, NULL);
            put_json_string(out, key, keylen);
            putc(':', out);
        } else {
            child = hl_toml_array_at(f->v, f->i);
        }
        f->i++;
        ok = open_value(&e, child);
    }
    free(e.stack);
    return ok;
}

int main(int argc, char **argv)
{
    hl_toml_options opt = HL_TOML_OPTIONS_INIT;
    /* TOML sets no nesting limit, and the emitter above has none */
    opt.max_depth = HL_TOML_MAX_DEPTH_UNLIMITED;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *ver = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--toml") && i + 1 < argc) {
            ver = argv[++i];
        } else if (!strncmp(a, "--toml=", 7)) {
            ver = a + 7;
        } else {
            fprintf(stderr, "toml-decoder: unknown argument `%s`\n%s", a, usage);
            return 2;
        }
        if (!strcmp(ver, "1.0") || !strcmp(ver, "1.0.0")) {
            opt.version = HL_TOML_1_0;
        } else if (!strcmp(ver, "1.1") || !strcmp(ver, "1.1.0")) {
            opt.version = HL_TOML_1_1;
        } else {
            fprintf(stderr, "toml-decoder: unknown TOML version `%s` (use 1.0 or 1.1)\n", ver);
            return 2;
        }
    }

    size_t len = 0;
    char *input = read_all(stdin, &len);
    if (!input) {
        fprintf(stderr, "toml-decoder: cannot read standard input\n");
        return 2;
    }
    hl_toml_doc *doc = hl_toml_parse(input, len, &opt);
    if (!doc) {
        free(input);
        fprintf(stderr, "toml-decoder: out of memory\n");
        return 2;
    }
    int status = 0;
    size_t nerr = hl_toml_doc_error_count(doc);
    if (nerr > 0) {
        for (size_t i = 0; i < nerr; i++) {
            const hl_toml_error *err = hl_toml_doc_error(doc, i);
            fprintf(stderr, "%" PRIu32 ":%" PRIu32 ": %s\n", err->span.line, err->span.column,
                    err->message);
            if (err->help)
                fprintf(stderr, "  help: %s\n", err->help);
        }
        status = 1;
    } else {
        static char outbuf[1 << 16];
        setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
        if (!emit(stdout, hl_toml_doc_root(doc))) {
            fprintf(stderr, "toml-decoder: out of memory\n");
            status = 2;
        } else {
            putchar('\n');
            if (fflush(stdout) != 0) {
                fprintf(stderr, "toml-decoder: cannot write standard output\n");
                status = 2;
            }
        }
    }
    hl_toml_doc_free(doc);
    free(input);
    return status;
}
