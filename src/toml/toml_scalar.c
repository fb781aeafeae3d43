/* toml_scalar.c - TOML scalars: basic/literal/multi-line strings, integers, floats, dates and times. */
#include "toml/toml_parser.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ESCAPE_HELP_10 "valid escapes: \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX"
#define ESCAPE_HELP_11 "valid escapes: \\b \\t \\n \\f \\r \\e \\\" \\\\ \\xHH \\uXXXX \\UXXXXXXXX"

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes one escape at p->pos (the backslash) into scratch[*n]. */
static bool string_escape(tp *p, size_t *n)
{
    tp_mark m = tp_here(p);
    int e = tp_peek_at(p, 1);
    char c;
    switch (e) {
    case 'b': c = '\b'; break;
    case 't': c = '\t'; break;
    case 'n': c = '\n'; break;
    case 'f': c = '\f'; break;
    case 'r': c = '\r'; break;
    case '"': c = '"'; break;
    case '\\': c = '\\'; break;
    case 'e':
        if (!p->v11)
            goto bad;
        c = 0x1B;
        break;
    case 'x':
    case 'u':
    case 'U': {
        if (e == 'x' && !p->v11)
            goto bad;
        size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (size_t k = 0; k < digits; k++) {
            int h = hexval(tp_peek_at(p, 2 + k));
            if (h < 0)
                return tp_error(p, m, 2 + k + (tp_peek_at(p, 2 + k) >= 0), NULL,
                                "\\%c escape needs %zu hex digits", e, digits);
            cp = (cp << 4) | (uint32_t)h;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return tp_error(p, m, 2 + digits, "a Unicode scalar value is at most 10FFFF and not a surrogate (D800-DFFF)",
                            "invalid Unicode code point U+%04X in escape", cp);
        *n += utf8_encode(cp, p->scratch + *n);
        p->pos += 2 + digits;
        return true;
    }
    default:
        goto bad;
    }
    p->scratch[(*n)++] = c;
    p->pos += 2;
    return true;
bad:
    if (e < 0)
        return tp_error(p, m, 1, NULL, "unterminated escape sequence at end of input");
    if (e == '\n' || e == '\r')
        return tp_error(p, m, 1, "a backslash before a newline only works in a multi-line \"\"\" string",
                        "invalid escape at end of line");
    return tp_error(p, m, 2, p->v11 ? ESCAPE_HELP_11 : ESCAPE_HELP_10, "invalid escape sequence `\\%c`",
                    (e >= 0x20 && e < 0x7F) ? e : '?');
}

/* A backslash at the end of a line in a multi-line basic string: trims the newline and the
 * whitespace after it. At p->pos is the backslash, followed by whitespace. */
static bool line_ending_backslash(tp *p)
{
    tp_mark m = tp_here(p);
    size_t i = p->pos + 1;
    while (i < p->len && (p->src[i] == ' ' || p->src[i] == '\t'))
        i++;
    if (i < p->len && p->src[i] == '\r' && i + 1 < p->len && p->src[i + 1] == '\n')
        i++;
    if (i >= p->len || p->src[i] != '\n')
        return tp_error(p, m, 2, p->v11 ? ESCAPE_HELP_11 : ESCAPE_HELP_10,
                        "invalid escape sequence: a backslash followed by whitespace must end the line");
    p->pos = i + 1;
    tp_newline(p);
    for (;;) {
        int c = tp_peek(p);
        if (c == ' ' || c == '\t') {
            p->pos++;
        } else if (c == '\n') {
            p->pos++;
            tp_newline(p);
        } else if (c == '\r' && tp_peek_at(p, 1) == '\n') {
            p->pos += 2;
            tp_newline(p);
        } else {
            return true;
        }
    }
}

bool tp_string(tp *p, bool multiline, const char **out, size_t *outlen)
{
    tp_mark start = tp_here(p);
    const char q = p->src[p->pos];
    const bool basic = q == '"';
    const bool ml = multiline && tp_peek_at(p, 1) == q && tp_peek_at(p, 2) == q;
    p->pos += ml ? 3 : 1;
    if (ml) { /* a newline right after the opening delimiter is trimmed */
        if (tp_peek(p) == '\n') {
            p->pos++;
            tp_newline(p);
        } else if (tp_peek(p) == '\r' && tp_peek_at(p, 1) == '\n') {
            p->pos += 2;
            tp_newline(p);
        }
    }
    size_t n = 0;
    for (;;) {
        /* a run of ordinary characters is copied at once */
        size_t run = p->pos;
        while (run < p->len) {
            unsigned char c = (unsigned char)p->src[run];
            if (c == (unsigned char)q || c == '\\' || (c < 0x20 && c != '\t') || c == 0x7F)
                break;
            run++;
        }
        if (run > p->pos) {
            if (!tp_scratch(p, n + (run - p->pos) + 8))
                return false;
            memcpy(p->scratch + n, p->src + p->pos, run - p->pos);
            n += run - p->pos;
            p->pos = run;
        }
        if (!tp_scratch(p, n + 8))
            return false;
        int c = tp_peek(p);
        if (c < 0)
            return tp_error(p, start, ml ? 3 : 1,
                            ml ? (basic ? "close it with `\"\"\"`" : "close it with `'''`")
                               : (basic ? "close it with `\"` on the same line" : "close it with `'` on the same line"),
                            "unterminated string");
        if (c == q) {
            if (!ml) {
                p->pos++;
                break;
            }
            size_t k = 0;
            while (tp_peek_at(p, k) == q)
                k++;
            if (k < 3) {
                memset(p->scratch + n, q, k);
                n += k;
                p->pos += k;
                continue;
            }
            if (k > 5) {
                tp_mark m = tp_here(p);
                m.off += 5;
                return tp_error(p, m, k - 5, "escape quotes inside the string, like `\\\"`",
                                "too many quotes at the end of a multi-line string");
            }
            memset(p->scratch + n, q, k - 3);
            n += k - 3;
            p->pos += k;
            break;
        }
        if (c == '\\' && basic) {
            int e = tp_peek_at(p, 1);
            if (ml && (e == ' ' || e == '\t' || e == '\n' || e == '\r')) {
                if (!line_ending_backslash(p))
                    return false;
            } else if (!string_escape(p, &n)) {
                return false;
            }
            continue;
        }
        if (c == '\\') { /* a literal string keeps backslashes */
            p->scratch[n++] = '\\';
            p->pos++;
            continue;
        }
        if (c == '\n' && ml) {
            p->scratch[n++] = '\n';
            p->pos++;
            tp_newline(p);
            continue;
        }
        if (c == '\r' && ml && tp_peek_at(p, 1) == '\n') {
            p->scratch[n++] = '\n';
            p->pos += 2;
            tp_newline(p);
            continue;
        }
        if (c == '\n' || c == '\r') {
            if (c == '\r' && tp_peek_at(p, 1) != '\n')
                return tp_error_here(p, "a carriage return must be followed by a newline",
                                     "bare carriage return in a string");
            return tp_error(p, start, 1,
                            basic ? "close it with `\"` before the end of the line, or use `\"\"\"` for a multi-line string"
                                  : "close it with `'` before the end of the line, or use `'''` for a multi-line string",
                            "unterminated string");
        }
        return tp_error_here(p, basic ? "write control characters as escapes, like `\\u001F`"
                                      : "literal strings cannot hold control characters; use a basic string with an escape",
                             "control character U+%04X is not allowed in a string", (unsigned)c);
    }
    char *s = hl_toml__strdup(p->doc, p->scratch, n);
    if (!s)
        return false;
    *out = s;
    *outlen = n;
    return true;
}

/* ---- numbers ---- */

static bool is_digit_of(int c, int radix)
{
    if (radix == 16)
        return hexval(c) >= 0;
    return c >= '0' && c < '0' + radix;
}

/* Checks digits with underscores only between digits: [from, to). Returns digit count or -1. */
static long digits_ok(const char *s, size_t from, size_t to, int radix, size_t *bad)
{
    long count = 0;
    for (size_t i = from; i < to; i++) {
        if (s[i] == '_') {
            if (i == from || i + 1 >= to || !is_digit_of(s[i - 1], radix) || !is_digit_of(s[i + 1], radix)) {
                *bad = i;
                return -1;
            }
        } else if (is_digit_of(s[i], radix)) {
            count++;
        } else {
            *bad = i;
            return -1;
        }
    }
    return count;
}

static bool parse_radix_int(tp *p, tp_mark m, const char *s, size_t len, hl_toml_value *v)
{
    int radix = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
    const char *name = radix == 16 ? "hexadecimal" : radix == 8 ? "octal" : "binary";
    size_t bad = 0;
    long nd = digits_ok(s, 2, len, radix, &bad);
    if (nd <= 0) {
        if (nd == 0)
            return tp_error(p, m, len, NULL, "%s integer has no digits", name);
        tp_mark b = m;
        b.off += bad;
        return tp_error(p, b, 1, s[bad] == '_' ? "an underscore must sit between two digits" : NULL,
                        s[bad] == '_' ? "misplaced underscore in %s integer" : "invalid digit in %s integer", name);
    }
    uint64_t val = 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] == '_')
            continue;
        uint64_t d = (uint64_t)hexval(s[i]);
        if (val > (UINT64_C(0x7FFFFFFFFFFFFFFF) - d) / (uint64_t)radix)
            return tp_error(p, m, len, "integers are 64-bit signed: at most 9223372036854775807",
                            "integer out of range");
        val = val * (uint64_t)radix + d;
    }
    v->type = HL_TOML_INTEGER;
    v->u.i = (int64_t)val;
    return true;
}

static bool parse_number(tp *p, tp_mark m, const char *s, size_t len, hl_toml_value *v)
{
    size_t i = 0;
    bool neg = false;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    if (len - i >= 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'o' || s[i + 1] == 'b')) {
        if (i)
            return tp_error(p, m, len, "only decimal integers can have a sign",
                            "a sign is not allowed on hexadecimal, octal or binary integers");
        return parse_radix_int(p, m, s, len, v);
    }
    /* integer part */
    size_t ip = i;
    while (i < len && (s[i] >= '0' && s[i] <= '9' ? 1 : s[i] == '_'))
        i++;
    size_t ip_end = i, frac = 0, frac_end = 0, ex = 0;
    bool is_float = false;
    if (i < len && s[i] == '.') {
        is_float = true;
        frac = ++i;
        while (i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            i++;
        frac_end = i;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        is_float = true;
        ex = ++i;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t ds = i;
        while (i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            i++;
        size_t bad = 0;
        if (digits_ok(s, ds, i, 10, &bad) <= 0)
            return tp_error(p, m, len, "an exponent is digits after `e`, like `1e6` or `2.5E-3`",
                            "invalid float exponent");
    }
    if (i != len) {
        tp_mark b = m;
        b.off += i;
        bool unit = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z');
        return tp_error(p, b, len - i,
                        unit ? "a number with a unit is not a TOML number: quote it, like \"4MiB\" or \"100ms\""
                             : "numbers are written like 42, -17, 0x2A, 3.14 or 6.02e23",
                        "invalid character in number");
    }
    size_t bad = 0;
    long nint = digits_ok(s, ip, ip_end, 10, &bad);
    if (nint <= 0) {
        if (nint == 0)
            return tp_error(p, m, len, "a number needs at least one digit before the point",
                            "invalid number");
        tp_mark b = m;
        b.off += bad;
        return tp_error(p, b, 1, "an underscore must sit between two digits", "misplaced underscore in number");
    }
    if (s[ip] == '0' && nint > 1)
        return tp_error(p, m, len, "remove the leading zeros (or use 0o for octal)",
                        "leading zeros are not allowed in numbers");
    if (frac) {
        long nf = digits_ok(s, frac, frac_end, 10, &bad);
        if (nf <= 0)
            return tp_error(p, m, len, "a decimal point needs digits on both sides, like `3.0`",
                            "invalid float");
    }
    (void)ex;
    if (is_float) {
        if (!tp_scratch(p, len + 1))
            return false;
        size_t n = 0;
        for (size_t k = 0; k < len; k++)
            if (s[k] != '_')
                p->scratch[n++] = s[k];
        p->scratch[n] = '\0';
        /* Too large a magnitude would round to infinity: an error, as for integers. Too small a
         * one rounds to a subnormal or zero, which IEEE 754 (and TOML) accept, ERANGE or not. */
        double f = strtod(p->scratch, NULL);
        if (isinf(f))
            return tp_error(p, m, len,
                            "floats are 64-bit (IEEE 754 binary64): -1.7976931348623157e308 to "
                            "1.7976931348623157e308; write inf for infinity",
                            "float out of range");
        v->type = HL_TOML_FLOAT;
        v->u.f = f;
        return true;
    }
    uint64_t val = 0, limit = neg ? UINT64_C(0x8000000000000000) : UINT64_C(0x7FFFFFFFFFFFFFFF);
    for (size_t k = ip; k < ip_end; k++) {
        if (s[k] == '_')
            continue;
        uint64_t d = (uint64_t)(s[k] - '0');
        if (val > (limit - d) / 10)
            return tp_error(p, m, len, "integers are 64-bit signed: -9223372036854775808 to 9223372036854775807",
                            "integer out of range");
        val = val * 10 + d;
    }
    v->type = HL_TOML_INTEGER;
    v->u.i = neg ? (int64_t)(0 - val) : (int64_t)val;
    return true;
}

/* ---- dates and times ---- */

static int two(const char *s) { return (s[0] - '0') * 10 + (s[1] - '0'); }

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool is_date_at(const char *s, size_t len)
{
    return len >= 10 && all_digits(s, 4) && s[4] == '-' && all_digits(s + 5, 2) && s[7] == '-' &&
           all_digits(s + 8, 2);
}

static bool is_time_start(const char *s, size_t len) { return len >= 3 && all_digits(s, 2) && s[2] == ':'; }

/* Parses HH:MM[:SS[.frac]] at s (len available); returns chars used, or 0 if malformed. */
static size_t parse_time(tp *p, const char *s, size_t len, hl_toml_datetime *dt)
{
    if (len < 5 || !all_digits(s, 2) || s[2] != ':' || !all_digits(s + 3, 2))
        return 0;
    dt->hour = (uint8_t)two(s);
    dt->minute = (uint8_t)two(s + 3);
    size_t i = 5;
    if (i < len && s[i] == ':') {
        if (len - i < 3 || !all_digits(s + i + 1, 2))
            return 0;
        dt->second = (uint8_t)two(s + i + 1);
        i += 3;
        if (i < len && s[i] == '.') {
            size_t f = ++i;
            uint32_t ns = 0, scale = 100000000;
            while (i < len && s[i] >= '0' && s[i] <= '9') {
                ns += (uint32_t)(s[i] - '0') * scale;
                scale /= 10;
                i++;
            }
            if (i == f)
                return 0;
            dt->nanosecond = ns;
        }
    } else if (!p->v11) {
        return 0; /* seconds are optional only from TOML 1.1 */
    }
    if (dt->hour > 23 || dt->minute > 59 || dt->second > 60)
        return 0;
    return i;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

static bool parse_datetime(tp *p, tp_mark m, const char *s, size_t len, hl_toml_value *v)
{
    const char *help = p->v11 ? "dates and times look like 1979-05-27, 07:32:00, 07:32 or 1979-05-27T07:32:00Z"
                              : "dates and times look like 1979-05-27, 07:32:00 or 1979-05-27T07:32:00Z";
    hl_toml_datetime dt;
    memset(&dt, 0, sizeof(dt));
    if (is_time_start(s, len)) {
        size_t n = parse_time(p, s, len, &dt);
        if (!n || n != len)
            return tp_error(p, m, len, help, "invalid time");
        v->type = HL_TOML_TIME_LOCAL;
        v->u.dt = dt;
        return true;
    }
    if (!is_date_at(s, len))
        return tp_error(p, m, len, help, "invalid date");
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + two(s + 2), mo = two(s + 5), d = two(s + 8);
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return tp_error(p, m, len, "months run 1-12 and days 1 to the month's length",
                        "invalid date: %.10s does not exist", s);
    dt.year = (int16_t)y;
    dt.month = (uint8_t)mo;
    dt.day = (uint8_t)d;
    if (len == 10) {
        v->type = HL_TOML_DATE_LOCAL;
        v->u.dt = dt;
        return true;
    }
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return tp_error(p, m, len, help, "invalid date-time");
    size_t n = parse_time(p, s + 11, len - 11, &dt);
    if (!n)
        return tp_error(p, m, len, help, "invalid time in date-time");
    size_t i = 11 + n;
    if (i == len) {
        v->type = HL_TOML_DATETIME_LOCAL;
        v->u.dt = dt;
        return true;
    }
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
        v->type = HL_TOML_DATETIME;
        v->u.dt = dt;
        return true;
    }
    if ((s[i] == '+' || s[i] == '-') && len - i == 6 && all_digits(s + i + 1, 2) && s[i + 3] == ':' &&
        all_digits(s + i + 4, 2) && two(s + i + 1) <= 23 && two(s + i + 4) <= 59) {
        int off = two(s + i + 1) * 60 + two(s + i + 4);
        dt.offset_minutes = (int16_t)(s[i] == '-' ? -off : off);
        v->type = HL_TOML_DATETIME;
        v->u.dt = dt;
        return true;
    }
    return tp_error(p, m, len, "an offset is `Z` or like `+07:00`", "invalid offset in date-time");
}

static bool is_token_char(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == '+' || c == '-' || c == '.' || c == ':';
}

bool tp_bare_value(tp *p, hl_toml_value *v)
{
    tp_mark m = tp_here(p);
    size_t end = p->pos;
    while (end < p->len && is_token_char((unsigned char)p->src[end]))
        end++;
    const char *s = p->src + p->pos;
    size_t len = end - p->pos;
    /* a date followed by a space and a time is one date-time */
    if (len == 10 && is_date_at(s, len) && end + 2 < p->len && p->src[end] == ' ' &&
        p->src[end + 1] >= '0' && p->src[end + 1] <= '9' && p->src[end + 2] >= '0' && p->src[end + 2] <= '9') {
        end++;
        while (end < p->len && is_token_char((unsigned char)p->src[end]))
            end++;
        len = end - p->pos;
    }
    if (len == 0) {
        int c = tp_peek(p);
        if (c < 0 || c == '\n' || c == '\r' || c == '#')
            return tp_error_here(p, "write a value after `=`, like `key = 1` or `key = \"text\"`",
                                 "expected a value");
        return tp_error_here(p, "a value is a string, number, bool, date, array or inline table",
                             "expected a value, found `%c`", (c >= 0x20 && c < 0x7F) ? c : '?');
    }
    bool ok;
    if ((len == 4 && !memcmp(s, "true", 4)) || (len == 5 && !memcmp(s, "false", 5))) {
        v->type = HL_TOML_BOOL;
        v->u.b = len == 4;
        ok = true;
    } else if ((len == 3 || len == 4) &&
               (!memcmp(s + len - 3, "inf", 3) || !memcmp(s + len - 3, "nan", 3)) &&
               (len == 3 || s[0] == '+' || s[0] == '-')) {
        v->type = HL_TOML_FLOAT;
        bool nan = s[len - 2] == 'a', neg = s[0] == '-';
        v->u.f = nan ? (neg ? -NAN : NAN) : (neg ? -INFINITY : INFINITY);
        ok = true;
    } else if (is_date_at(s, len) || is_time_start(s, len)) {
        ok = parse_datetime(p, m, s, len, v);
    } else if ((s[0] >= '0' && s[0] <= '9') || s[0] == '+' || s[0] == '-' || s[0] == '.') {
        ok = parse_number(p, m, s, len, v);
    } else {
        const char *help = "strings must be quoted: `key = \"text\"`";
        if (len >= 2 && len <= 5 && (!strncasecmp(s, "true", len) || !strncasecmp(s, "false", len)))
            help = "booleans are written `true` or `false`, in lower case";
        ok = tp_error(p, m, len, help, "invalid value `%.*s`", (int)(len > 40 ? 40 : len), s);
    }
    if (ok) {
        p->pos = end;
        v->span = tp_span(p, m, end);
    }
    return ok;
}
