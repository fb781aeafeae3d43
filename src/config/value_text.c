/* value_text.c - values and keys as text: parsing sizes, durations, enums, integers, paths; ranges, quoting, typos. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/config_internal.h"

#define SIZE_FORMS                                                                                 \
    "expected a whole number of bytes, optionally followed by B, KiB, MiB or GiB (kB, MB, GB "     \
    "are powers of 1000), like \"4MiB\""
#define DURATION_FORMS "expected a number followed by ms or s, like \"100ms\""
#define INTEGER_FORMS "expected a whole number, like \"1234\""
#define MAX_FRACTION_DIGITS 9

typedef struct unit {
    const char *name;
    uint64_t scale; /* sizes: bytes; durations: nanoseconds */
} unit;

static const unit size_units[] = {
    {"", 1},          {"B", 1},           {"KiB", HL_KiB},          {"MiB", HL_MiB},
    {"GiB", HL_GiB},  {"TiB", 1024 * HL_GiB}, {"kB", 1000},        {"KB", 1000},
    {"MB", 1000000},  {"GB", 1000000000}, {"TB", 1000000000000ull},
};

#define NS_PER_MS 1000000ull
static const unit duration_units[] = {
    {"", NS_PER_MS}, {"ns", 1}, {"us", 1000}, {"\xC2\xB5s", 1000}, {"ms", NS_PER_MS},
    {"s", 1000 * NS_PER_MS},
};

/* A number as written: mantissa digits with `frac` of them after a point, then a unit. */
typedef struct number {
    bool negative;
    uint64_t mantissa;
    unsigned frac;
    const char *unit;
    size_t unit_len;
} number;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Scans [-]digits[_digits...][.digits][ ]unit. Returns 0, -1 when the text is not of that form,
 * -2 when the mantissa overflows or has too many decimals. */
static int scan_number(const char *s, size_t len, number *n)
{
    size_t i = 0;
    bool overflow = false;
    memset(n, 0, sizeof *n);
    if (i < len && s[i] == '-') {
        n->negative = true;
        i++;
    }
    if (i >= len || !is_digit(s[i]))
        return -1;
    bool in_frac = false;
    for (; i < len; i++) {
        char c = s[i];
        if (c == '_' && i + 1 < len && is_digit(s[i + 1]) && is_digit(s[i - 1]))
            continue;
        if (c == '.' && !in_frac && i + 1 < len && is_digit(s[i + 1])) {
            in_frac = true;
            continue;
        }
        if (!is_digit(c))
            break;
        unsigned d = (unsigned)(c - '0');
        if (n->mantissa > (UINT64_MAX - d) / 10)
            overflow = true;
        else
            n->mantissa = n->mantissa * 10 + d;
        if (in_frac && ++n->frac > MAX_FRACTION_DIGITS)
            overflow = true;
    }
    while (i < len && s[i] == ' ')
        i++;
    n->unit = s + i;
    n->unit_len = len - i;
    for (size_t k = i; k < len; k++)
        if (s[k] == ' ' || s[k] == '.' || s[k] == '_' || is_digit(s[k]) || s[k] == '-')
            return -1;
    return overflow ? -2 : 0;
}

static const unit *find_unit(const unit *units, size_t count, const char *name, size_t len)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(units[i].name) == len && memcmp(units[i].name, name, len) == 0)
            return &units[i];
    return NULL;
}

/* The unit matching name case-insensitively, for "did you mean". */
static const unit *find_unit_nocase(const unit *units, size_t count, const char *name, size_t len)
{
    for (size_t i = 0; i < count; i++)
        if (len > 0 && strlen(units[i].name) == len && strncasecmp(units[i].name, name, len) == 0)
            return &units[i];
    return NULL;
}

static uint64_t pow10u(unsigned k)
{
    uint64_t p = 1;
    while (k-- > 0)
        p *= 10;
    return p;
}

/* The digits of the number as written, without its unit ("4", "1.5"). */
static void number_text(const char *text, const number *n, char *buf, size_t size)
{
    size_t len = (size_t)(n->unit - text);
    while (len > 0 && text[len - 1] == ' ')
        len--;
    snprintf(buf, size, "%.*s", (int)len, text);
}

static bool parse_size(const hl_field_info *info, const char *text, size_t len, const char *quoted,
                       uint64_t *value, hl_value_problem *pb)
{
    number n;
    int rc = scan_number(text, len, &n);
    char help[320], range[160], digits[64];
    if (rc == -1) {
        hl_problem_set(pb, SIZE_FORMS, "invalid size %s for `%s`", quoted, info->key);
        return false;
    }
    number_text(text, &n, digits, sizeof digits);
    if (n.negative) {
        hl_problem_set(pb, SIZE_FORMS, "`%s` cannot be negative: %s", info->key, quoted);
        return false;
    }
    const unit *u = find_unit(size_units, sizeof size_units / sizeof *size_units, n.unit, n.unit_len);
    if (u == NULL) {
        const unit *near = find_unit_nocase(size_units, 6, n.unit, n.unit_len);
        char c = n.unit_len ? n.unit[0] : 0;
        if (near != NULL && (near->name[1] == 'i' || near->name[0] == 'B'))
            snprintf(help, sizeof help, "did you mean \"%s%s\"? (units are case-sensitive)", digits,
                     near->name);
        else if (strchr("kKmMgGtT", c) != NULL && c != 0)
            snprintf(help, sizeof help,
                     "\"%.*s\" is ambiguous: write \"%s%ciB\" for powers of 1024 or \"%s%cB\" for "
                     "powers of 1000",
                     (int)n.unit_len, n.unit, digits, c == 'k' ? 'K' : (char)(c & ~0x20), digits,
                     c == 'K' || c == 'k' ? 'k' : (char)(c & ~0x20));
        else
            snprintf(help, sizeof help, "%s", SIZE_FORMS);
        hl_problem_set(pb, help, "invalid size %s for `%s`", quoted, info->key);
        return false;
    }
    hl_format_range(info, info->min, info->max, true, range, sizeof range);
    snprintf(help, sizeof help, "allowed: %s", range);
    if (rc == -2 || (u->scale > 1 && n.mantissa > UINT64_MAX / u->scale)) {
        hl_problem_set(pb, help, "size %s for `%s` is too large", quoted, info->key);
        return false;
    }
    uint64_t scaled = n.mantissa * u->scale, div = pow10u(n.frac);
    if (scaled % div != 0) {
        hl_problem_set(pb, "a size is a whole number of bytes, like \"1536\" or \"1.5KiB\"",
                       "size %s for `%s` is not a whole number of bytes", quoted, info->key);
        return false;
    }
    *value = scaled / div;
    return true;
}

static bool parse_duration(const hl_field_info *info, const char *text, size_t len,
                           const char *quoted, uint64_t *value, hl_value_problem *pb)
{
    number n;
    int rc = scan_number(text, len, &n);
    char help[320], digits[64];
    if (rc == -1) {
        hl_problem_set(pb, DURATION_FORMS, "invalid duration %s for `%s`", quoted, info->key);
        return false;
    }
    number_text(text, &n, digits, sizeof digits);
    if (n.negative) {
        hl_problem_set(pb, DURATION_FORMS, "`%s` cannot be negative: %s", info->key, quoted);
        return false;
    }
    const unit *u = find_unit(duration_units, sizeof duration_units / sizeof *duration_units,
                              n.unit, n.unit_len);
    if (u == NULL) {
        const unit *near = find_unit_nocase(duration_units, 6, n.unit, n.unit_len);
        if (near != NULL)
            snprintf(help, sizeof help, "did you mean \"%s%s\"? (units are case-sensitive)", digits,
                     near->name);
        else if (n.unit_len == 1 && (n.unit[0] == 'm' || n.unit[0] == 'M'))
            snprintf(help, sizeof help,
                     "\"%c\" is ambiguous: write \"%sms\" for milliseconds or \"%ss\" for seconds",
                     n.unit[0], digits, digits);
        else
            snprintf(help, sizeof help, "%s", DURATION_FORMS);
        hl_problem_set(pb, help, "invalid duration %s for `%s`", quoted, info->key);
        return false;
    }
    uint64_t div = pow10u(n.frac) * NS_PER_MS; /* at most 1e15 */
    if (rc == -2 || n.mantissa > UINT64_MAX / u->scale) {
        char range[160];
        hl_format_range(info, info->min, info->max, true, range, sizeof range);
        snprintf(help, sizeof help, "allowed: %s", range);
        hl_problem_set(pb, help, "duration %s for `%s` is too large", quoted, info->key);
        return false;
    }
    uint64_t scaled = n.mantissa * u->scale, q = scaled / div, r = scaled % div;
    if (r != 0) {
        uint64_t nearest = q + (r >= div - r);
        snprintf(help, sizeof help, "the resolution is 1 ms: write \"%llums\"",
                 (unsigned long long)(nearest ? nearest : 1));
        hl_problem_set(pb, help, "duration %s for `%s` is not a whole number of milliseconds",
                       quoted, info->key);
        return false;
    }
    *value = q;
    return true;
}

/* "\"a\" or \"b\"", "\"a\", \"b\" or \"c\"", "\"a\" only": the choices from min to max. */
static void choice_list(const hl_field_info *info, uint64_t min, uint64_t max, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    if (min == max) {
        snprintf(buf, size, "\"%s\" only", hl_field_choice_name(info, min));
        return;
    }
    for (uint64_t v = min; v <= max && used < size; v++) {
        int w = snprintf(buf + used, size - used, "%s\"%s\"", v == min ? "" : v == max ? " or " : ", ",
                         hl_field_choice_name(info, v));
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* What a message calls a value of the field: "execution mode" for execution_mode, else "value". */
static const char *enum_noun(const hl_field_info *info)
{
    return info->id == HL_CFG_EXECUTION_MODE ? "execution mode" : "value";
}

static bool parse_enum(const hl_field_info *info, const char *text, size_t len, const char *quoted,
                       uint64_t *value, hl_value_problem *pb)
{
    for (uint64_t m = 0; m < info->nchoices; m++) {
        if (strlen(info->choices[m]) == len && memcmp(info->choices[m], text, len) == 0) {
            *value = m;
            return true;
        }
    }
    char help[320];
    const char *near = NULL;
    for (size_t m = 0; m < info->nchoices && near == NULL; m++)
        if (strlen(info->choices[m]) == len && strncasecmp(info->choices[m], text, len) == 0)
            near = info->choices[m];
    if (near != NULL) {
        snprintf(help, sizeof help, "did you mean \"%s\"? (the names are case-sensitive)", near);
    } else if ((near = hl_suggest(text, len, info->choices, info->nchoices)) != NULL) {
        snprintf(help, sizeof help, "did you mean \"%s\"?", near);
    } else {
        char list[256];
        choice_list(info, 0, info->nchoices - 1, list, sizeof list);
        snprintf(help, sizeof help, "expected %s", list);
    }
    hl_problem_set(pb, help, "invalid %s %s for `%s`", enum_noun(info), quoted, info->key);
    return false;
}

static bool parse_integer(const hl_field_info *info, const char *text, size_t len,
                          const char *quoted, uint64_t *value, hl_value_problem *pb)
{
    uint64_t v = 0;
    bool ok = len > 0;
    for (size_t i = 0; i < len && ok; i++) {
        if (text[i] < '0' || text[i] > '9') {
            ok = false;
        } else if (v > (UINT64_MAX - (uint64_t)(text[i] - '0')) / 10) {
            char range[160], help[200];
            hl_format_range(info, info->min, info->max, true, range, sizeof range);
            snprintf(help, sizeof help, "allowed: %s", range);
            hl_problem_set(pb, help, "`%s` is too large: %s", info->key, quoted);
            return false;
        } else {
            v = v * 10 + (uint64_t)(text[i] - '0');
        }
    }
    if (!ok) {
        hl_problem_set(pb, INTEGER_FORMS, "invalid integer %s for `%s`", quoted, info->key);
        return false;
    }
    *value = v;
    return true;
}

bool hl_path_check(const hl_field_info *info, const char *text, size_t len, hl_value_problem *pb)
{
    char quoted[128];
    hl_quote(text, len, 48, quoted, sizeof quoted);
    if (len > info->max) {
        char help[160];
        snprintf(help, sizeof help, "a path has at most %llu bytes", (unsigned long long)info->max);
        hl_problem_set(pb, help, "`%s` is too long: %zu bytes", info->key, len);
        return false;
    }
    if (memchr(text, '\0', len) != NULL || !hl_path_text_ok(text, len)) {
        hl_problem_set(pb, "a path cannot hold control characters or NUL",
                       "invalid path %s for `%s`", quoted, info->key);
        return false;
    }
    return true;
}

bool hl_value_parse_text(const hl_field_info *info, const char *text, size_t len, uint64_t *value,
                         hl_value_problem *pb)
{
    char quoted[128];
    hl_quote(text, len, 48, quoted, sizeof quoted);
    if (memchr(text, '\0', len) != NULL) {
        hl_problem_set(pb, NULL, "invalid value %s for `%s`: it holds a NUL character", quoted,
                       info->key);
        return false;
    }
    switch (info->type) {
    case HL_FIELD_SIZE:
        return parse_size(info, text, len, quoted, value, pb);
    case HL_FIELD_DURATION:
        return parse_duration(info, text, len, quoted, value, pb);
    case HL_FIELD_ENUM:
        return parse_enum(info, text, len, quoted, value, pb);
    case HL_FIELD_INTEGER:
        return parse_integer(info, text, len, quoted, value, pb);
    case HL_FIELD_PATH:
        break; /* text, not a number: hl_path_check */
    }
    hl_problem_set(pb, NULL, "`%s` is not a number", info->key);
    return false;
}

void hl_format_size(uint64_t bytes, char *buf, size_t size)
{
    static const struct {
        uint64_t scale;
        const char *name;
    } units[] = {{HL_GiB, "GiB"}, {HL_MiB, "MiB"}, {HL_KiB, "KiB"}};
    for (size_t i = 0; i < 3; i++) {
        if (bytes != 0 && bytes % units[i].scale == 0) {
            snprintf(buf, size, "%llu %s", (unsigned long long)(bytes / units[i].scale),
                     units[i].name);
            return;
        }
    }
    snprintf(buf, size, "%llu B", (unsigned long long)bytes);
}

void hl_format_human(const hl_field_info *info, uint64_t value, char *buf, size_t size)
{
    switch (info->type) {
    case HL_FIELD_SIZE:
        hl_format_size(value, buf, size);
        return;
    case HL_FIELD_DURATION:
        snprintf(buf, size, "%llu ms", (unsigned long long)value);
        return;
    case HL_FIELD_ENUM:
        snprintf(buf, size, "%s", hl_field_choice_name(info, value));
        return;
    case HL_FIELD_INTEGER:
        snprintf(buf, size, "%llu", (unsigned long long)value);
        return;
    case HL_FIELD_PATH:
        snprintf(buf, size, "a path");
        return;
    }
}

void hl_format_range(const hl_field_info *info, uint64_t min, uint64_t max, bool allow_auto,
                     char *buf, size_t size)
{
    if (info->type == HL_FIELD_ENUM) {
        choice_list(info, min, max, buf, size);
        return;
    }
    if (info->type == HL_FIELD_PATH) {
        snprintf(buf, size, "a path of at most %llu bytes", (unsigned long long)max);
        return;
    }
    char lo[64], hi[64];
    hl_format_human(info, min, lo, sizeof lo);
    hl_format_human(info, max, hi, sizeof hi);
    if (allow_auto && (info->flags & HL_FIELD_ZERO_IS_AUTO))
        snprintf(buf, size, "0 (from the guest binary), or %s to %s", lo, hi);
    else if (allow_auto && (info->flags & HL_FIELD_ZERO_IS_OFF))
        snprintf(buf, size, "0 (off), or %s to %s", lo, hi);
    else
        snprintf(buf, size, "%s to %s", lo, hi);
}

void hl_quote(const char *text, size_t len, size_t max_chars, char *buf, size_t size)
{
    if (size < 6) { /* too small for even `"..."` */
        if (size > 0)
            buf[0] = '\0';
        return;
    }
    size_t o = 0, shown = len;
    bool cut = false;
    if (shown > max_chars) {
        shown = max_chars;
        while (shown > 0 && ((unsigned char)text[shown] & 0xC0) == 0x80)
            shown--; /* do not cut a UTF-8 sequence */
        cut = true;
    }
    buf[o++] = '"';
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)text[i];
        char piece[8];
        if (c == '"' || c == '\\')
            snprintf(piece, sizeof piece, "\\%c", c);
        else if (c == '\n')
            snprintf(piece, sizeof piece, "\\n");
        else if (c == '\t')
            snprintf(piece, sizeof piece, "\\t");
        else if (c == '\r')
            snprintf(piece, sizeof piece, "\\r");
        else if (c < 0x20 || c == 0x7F)
            snprintf(piece, sizeof piece, "\\u%04X", c);
        else
            snprintf(piece, sizeof piece, "%c", c);
        size_t n = strlen(piece);
        if (o + n + 5 > size) { /* keep room for `..."` and the NUL */
            cut = true;
            break;
        }
        memcpy(buf + o, piece, n);
        o += n;
    }
    if (cut) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

/* Optimal string alignment distance, ASCII case folded; words longer than 64 bytes count as
 * far from everything. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    enum { MAXW = 64 };
    if (la > MAXW || lb > MAXW)
        return SIZE_MAX;
    unsigned char d[MAXW + 1][MAXW + 1]; /* distances never exceed 64: a byte each */
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (unsigned char)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (unsigned char)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            char x = (char)tolower((unsigned char)a[i - 1]), y = (char)tolower((unsigned char)b[j - 1]);
            unsigned best = d[i - 1][j - 1] + (unsigned)(x != y);
            if (d[i - 1][j] + 1u < best)
                best = d[i - 1][j] + 1u;
            if (d[i][j - 1] + 1u < best)
                best = d[i][j - 1] + 1u;
            if (i > 1 && j > 1 && x == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == y && d[i - 2][j - 2] + 1u < best)
                best = d[i - 2][j - 2] + 1u;
            d[i][j] = (unsigned char)best;
        }
    }
    return d[la][lb];
}

/* True when the shorter of a and b (at least 6 bytes) appears in the other, ignoring case. */
static bool holds(const char *a, size_t la, const char *b, size_t lb)
{
    if (la < lb) {
        const char *t = a;
        a = b, b = t;
        size_t tl = la;
        la = lb, lb = tl;
    }
    if (lb < 6)
        return false;
    for (size_t i = 0; i + lb <= la; i++)
        if (strncasecmp(a + i, b, lb) == 0)
            return true;
    return false;
}

const char *hl_suggest(const char *word, size_t len, const char *const *candidates, size_t count)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX, limit = len / 3 > 2 ? len / 3 : 2;
    for (size_t i = 0; i < count; i++) {
        size_t lc = strlen(candidates[i]);
        size_t d = edit_distance(word, len, candidates[i], lc);
        bool close = d <= limit || holds(word, len, candidates[i], lc);
        if (close && (best == NULL || d < best_d)) {
            best = candidates[i];
            best_d = d;
        }
    }
    return best;
}
