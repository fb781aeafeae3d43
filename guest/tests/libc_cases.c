/* libc_cases.c - C library cases run on musl (libcguest) and glibc (test_libc), to compare. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "libc_cases.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lc_put(lc_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->p + b->len, room, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < room)
        b->len += (size_t)n;
    else
        b->p[b->len] = 0;
}

/* n, unknown to the compiler (which would warn about the truncations these cases are about) */
static size_t opaque(size_t n)
{
    volatile size_t v = n;
    return v;
}

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

/* An offset into s, or -1 for NULL. */
static long off(const void *s, const void *p)
{
    return p ? (long)((const char *)p - (const char *)s) : -1;
}

static void put_hex(lc_buf *b, const char *tag, const char *p, size_t n)
{
    lc_put(b, "%s:", tag);
    for (size_t i = 0; i < n; i++)
        lc_put(b, "%02x", (unsigned char)p[i]);
    lc_put(b, "\n");
}

static void strings_compare(lc_buf *b)
{
    static const char *const pairs[][2] = {
        {"abc", "abd"}, {"abc", "abc"}, {"ab", "abc"},  {"abc", "ab"},      {"", ""},
        {"", "a"},      {"\xff", "a"},  {"a\x80", "a"}, {"Hello", "hello"}, {"zz", "zza"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        lc_put(b, "strcmp %zu %d\n", i, sign(strcmp(pairs[i][0], pairs[i][1])));
        for (size_t n = 0; n < 5; n++)
            lc_put(b, "strncmp %zu %zu %d\n", i, n, sign(strncmp(pairs[i][0], pairs[i][1], n)));
    }
    static const char *const lens[] = {"", "a", "hello world", "tab\there", "\x7f\x80\xff"};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        lc_put(b, "strlen %zu %zu\n", i, strlen(lens[i]));
    char big[1001];
    for (size_t i = 0; i < 1000; i++) /* every alignment of the terminator */
        big[i] = (char)('a' + i % 26);
    for (size_t end = 990; end <= 1000; end++) {
        big[end] = 0;
        lc_put(b, "strlen big %zu %zu %zu\n", end, strlen(big), strlen(big + end % 7));
        big[end] = 'x';
    }
}

static void strings_copy(lc_buf *b)
{
    char buf[32];
    memset(buf, '#', sizeof(buf));
    lc_put(b, "strcpy %ld\n", off(buf, strcpy(buf, "copy me")));
    put_hex(b, "strcpy", buf, 12);
    memset(buf, '#', sizeof(buf));
    strncpy(buf, "abc", 10); /* pads with NULs to 10 */
    put_hex(b, "strncpy pad", buf, 12);
    memset(buf, '#', sizeof(buf));
    strncpy(buf, "abcdefghij", opaque(4)); /* no terminator */
    put_hex(b, "strncpy cut", buf, 6);
    strcpy(buf, "con");
    strcat(buf, "cat");
    strcat(buf, "");
    strcat(buf, "enate");
    lc_put(b, "strcat %s %zu\n", buf, strlen(buf));
    strncat(buf, "XYZ", opaque(2));
    lc_put(b, "strncat %s\n", buf);
    static const char orig[] = "duplicate";
    char *d = strdup(orig);
    lc_put(b, "strdup %s %d %d\n", d ? d : "(null)", d != NULL && d != orig,
           d ? (int)strlen(d) : -1);
    free(d);
    d = strndup("duplicate", 3);
    lc_put(b, "strndup %s\n", d ? d : "(null)");
    free(d);
}

static void strings_search(lc_buf *b)
{
    const char *s = "hello, world: hello again";
    static const int chars[] = {'h', 'o', ',', 'z', 0, 'n', 'l'};
    for (size_t i = 0; i < sizeof(chars) / sizeof(chars[0]); i++)
        lc_put(b, "strchr %d %ld %ld %ld\n", chars[i], off(s, strchr(s, chars[i])),
               off(s, strrchr(s, chars[i])), off(s, memchr(s, chars[i], strlen(s) + 1)));
    lc_put(b, "memchr short %ld\n", off(s, memchr(s, 'w', 5)));
    static const char *const needles[] = {"",      "hello", "world",        "again",
                                          "lo, w", "xyz",   "hello again!", "n"};
    for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
        lc_put(b, "strstr %zu %ld %ld\n", i, off(s, strstr(s, needles[i])),
               off(s, memmem(s, strlen(s), needles[i], strlen(needles[i]))));
    /* periodic and random haystacks over a two-letter alphabet: the two-way algorithm's hard cases
     */
    unsigned long long seed = 12345;
    char hay[300], needle[24];
    for (int round = 0; round < 200; round++) {
        size_t hn = 1 + lc_next(&seed) % (sizeof(hay) - 1),
               nn = 1 + lc_next(&seed) % (sizeof(needle) - 1);
        unsigned skew = (unsigned)(lc_next(&seed) % 8); /* mostly 'a': long partial matches */
        for (size_t i = 0; i < hn; i++)
            hay[i] = lc_next(&seed) % 8 < skew ? 'a' : 'b';
        for (size_t i = 0; i < nn; i++)
            needle[i] = lc_next(&seed) % 8 < skew ? 'a' : 'b';
        hay[hn] = needle[nn] = 0;
        if (round % 3 == 0 && nn < hn) /* plant it */
            memcpy(hay + lc_next(&seed) % (hn - nn + 1), needle, nn);
        lc_put(b, "strstr random %d %ld %ld\n", round, off(hay, strstr(hay, needle)),
               off(hay, memmem(hay, hn, needle, nn)));
    }
    lc_put(b, "strspn %zu %zu %zu %zu\n", strspn("aabbcdd", "ab"), strspn("xyz", "ab"),
           strspn("", "a"), strspn("abc", ""));
    lc_put(b, "strcspn %zu %zu %zu %zu\n", strcspn("aabbcdd", "cd"), strcspn("xyz", "ab"),
           strcspn("", "a"), strcspn("abc", ""));
    lc_put(b, "strpbrk %ld\n", off(s, strpbrk(s, ":,")));
}

static void strings_tokens(lc_buf *b)
{
    char text[] = "  a,b;;c d,,e  ;";
    int n = 0;
    for (char *t = strtok(text, ",; "); t; t = strtok(NULL, ",; "))
        lc_put(b, "strtok %d '%s' %ld\n", n++, t, off(text, t));
    char empty[] = ",,,";
    lc_put(b, "strtok none %d\n", strtok(empty, ",") == NULL);
    char r[] = "k1=v1&k2=v2";
    char *save = NULL;
    for (char *t = strtok_r(r, "&", &save); t; t = strtok_r(NULL, "&", &save))
        lc_put(b, "strtok_r '%s'\n", t);
    char up[257], low[257];
    for (int c = 0; c < 256; c++) {
        up[c] = (char)(toupper(c) == 0 ? 1 : toupper(c));
        low[c] = (char)(tolower(c) == 0 ? 1 : tolower(c));
    }
    put_hex(b, "toupper", up, 256);
    put_hex(b, "tolower", low, 256);
    int cls = 0;
    for (int c = 0; c < 256; c++)
        cls += !!isalpha(c) + 2 * !!isdigit(c) + 4 * !!isspace(c) + 8 * !!ispunct(c) +
               16 * !!isxdigit(c);
    lc_put(b, "ctype sum %d\n", cls);
}

void lc_strings(lc_buf *b)
{
    strings_compare(b);
    strings_copy(b);
    strings_search(b);
    strings_tokens(b);
}

void lc_strto(lc_buf *b)
{
    static const struct {
        const char *s;
        int base;
    } cases[] = {
        {"123", 10},
        {"  -123abc", 10},
        {"+42", 0},
        {"0x1f", 16},
        {"0x1f", 0},
        {"0X1F", 0},
        {"077", 0},
        {"077", 10},
        {"z", 36},
        {"Zz", 36},
        {"1012", 2},
        {"0x", 16},
        {"0x", 0},
        {"", 10},
        {"+", 10},
        {" \t\n12", 10},
        {"-0", 10},
        {"0b101", 0},
        {"0b101", 2},
        {"1e5", 10},
        {"9223372036854775807", 10},
        {"9223372036854775808", 10},
        {"-9223372036854775808", 10},
        {"-9223372036854775809", 10},
        {"18446744073709551615", 10},
        {"18446744073709551616", 10},
        {"-1", 10},
        {"-18446744073709551615", 10},
        {"-18446744073709551616", 10},
        {"7fffffffffffffff", 16},
        {"ffffffffffffffffff", 16},
        {"99999999999999999999999", 0},
        /* no base 1 or 37 (C does not allow them): glibc leaves *endptr alone, and under ASan its
         * strtol interceptor then reports an uninitialised pointer */
        {"0x10", 8},
        {"00", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *s = cases[i].s;
        char *end = NULL; /* glibc leaves it alone for a base C does not allow */
        errno = 0;
        long l = strtol(s, &end, cases[i].base);
        int e1 = errno;
        long o1 = off(s, end);
        errno = 0;
        end = NULL;
        unsigned long ul = strtoul(s, &end, cases[i].base);
        int e2 = errno;
        long o2 = off(s, end);
        errno = 0;
        end = NULL;
        long long ll = strtoll(s, &end, cases[i].base);
        int e3 = errno;
        long o3 = off(s, end);
        errno = 0;
        end = NULL;
        unsigned long long ull = strtoull(s, &end, cases[i].base);
        int e4 = errno;
        lc_put(b, "strto %zu '%s' %d: l %ld %ld %d ul %lu %ld %d ll %lld %ld %d ull %llu %ld %d\n",
               i, s, cases[i].base, l, o1, e1, ul, o2, e2, ll, o3, e3, ull, off(s, end), e4);
    }
    static const char *const dbl[] = {"1e999",
                                      "-1e999",
                                      "1e-400",
                                      "2.2250738585072014e-308",
                                      "4.9e-324",
                                      "0x1p-1074",
                                      "0x1.8p1",
                                      "inf",
                                      "-Infinity",
                                      "nan",
                                      "  .5e",
                                      "1e+",
                                      "0.0000000000000000000000000000001e-10",
                                      "1.7976931348623157e308",
                                      "1.7976931348623159e308",
                                      "abc"};
    for (size_t i = 0; i < sizeof(dbl) / sizeof(dbl[0]); i++) {
        char *end;
        errno = 0;
        double d = strtod(dbl[i], &end);
        lc_put(b, "strtod '%s' %a %ld %d\n", dbl[i], d, off(dbl[i], end), errno);
    }
}

void lc_scanf(lc_buf *b)
{
    int i1 = -1, i2 = -1, n = -1, c;
    unsigned u = 0, u2 = 0;
    double d = -1, d2 = -1;
    float f = -1;
    char s1[16] = "", s2[16] = "", ch[6] = "";
    long long ll = 0;
    c = sscanf("42 hello 3.25", "%d %15s %lf", &i1, s1, &d);
    lc_put(b, "scanf1 %d %d %s %a\n", c, i1, s1, d);
    c = sscanf("0x1F 0777 -12", "%i %i %i%n", &i1, &i2, &n, &n);
    lc_put(b, "scanf2 %d %d %d %d\n", c, i1, i2, n);
    c = sscanf("ff:10", "%x:%o", &u, &u2);
    lc_put(b, "scanf3 %d %u %u\n", c, u, u2);
    c = sscanf("abcDEF123", "%[a-z]%[A-Z]%d", s1, s2, &i1);
    lc_put(b, "scanf4 %d %s %s %d\n", c, s1, s2, i1);
    c = sscanf("skip 7 x", "%*s %d %c", &i1, &ch[0]);
    lc_put(b, "scanf5 %d %d %c\n", c, i1, ch[0]);
    c = sscanf("abcdefgh", "%5c%n", ch, &n);
    ch[5] = 0;
    lc_put(b, "scanf6 %d %s %d\n", c, ch, n);
    c = sscanf("", "%d", &i1);
    lc_put(b, "scanf7 %d\n", c);
    c = sscanf("x", "%d", &i1);
    lc_put(b, "scanf8 %d\n", c);
    c = sscanf("1.5e3 -inf 9223372036854775807", "%f %lf %lld", &f, &d, &ll);
    lc_put(b, "scanf9 %d %a %a %lld\n", c, (double)f, d, ll);
    c = sscanf("12abc", "%2d%n", &i1, &n);
    lc_put(b, "scanf10 %d %d %d\n", c, i1, n);
    c = sscanf("  key = value ", " %15[^= ] = %15s", s1, s2);
    lc_put(b, "scanf11 %d '%s' '%s'\n", c, s1, s2);
    c = sscanf("100%", "%d%%", &i1);
    lc_put(b, "scanf12 %d %d\n", c, i1);
    c = sscanf("0x1.8p3 1e-400", "%lf %lf", &d, &d2);
    lc_put(b, "scanf13 %d %a %a\n", c, d, d2);
}

void lc_snprintf(lc_buf *b)
{
    for (size_t n = 0; n <= 13; n++) {
        char buf[16];
        memset(buf, '#', sizeof(buf));
        int r = snprintf(buf, n, "%s-%d", "hello", 12345);
        put_hex(b, "snprintf", buf, sizeof(buf));
        lc_put(b, "snprintf %zu -> %d\n", n, r);
    }
    lc_put(b, "snprintf null %d\n", snprintf(NULL, 0, "%08.3f|%-6s|%+d", 3.14159, "ab", 5));
    char buf[8];
    lc_put(b, "snprintf long %d '%s'\n",
           snprintf(buf, opaque(sizeof(buf)), "%0*d", (int)opaque(20), 7), buf);
    lc_put(b, "snprintf pct %d '%s'\n", snprintf(buf, opaque(sizeof(buf)), "%%%c%%", 'x'), buf);
}

void lc_formats(lc_buf *b)
{
    static const char *const fmts[] = {
        "%g",    "%.0g",     "%.1g",   "%.3g",  "%.10g", "%.17g", "%#g",   "%#.3g",     "%+g",
        "% g",   "%12g",     "%-12g|", "%012g", "%e",    "%.0e",  "%.3e",  "%.16e",     "%#.0e",
        "%+.2e", "%E",       "%f",     "%.0f",  "%.1f",  "%.3f",  "%.20f", "%#.0f",     "%+08.2f",
        "% f",   "%-10.2f|", "%F",     "%a",    "%.0a",  "%.1a",  "%.3a",  "%.13a",     "%.20a",
        "%#a",   "%+a",      "%A",     "%20a",  "%G",    "%.25g", "%.40e", "%-+14.5e|",
    };
    static const double vals[] = {
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        0.1,
        1.0 / 3,
        2.5,
        3.5,
        -2.5,
        0.125,
        1e-5,
        1e-4,
        123456.0,
        1234567.0,
        1e15,
        1e16,
        1e17,
        1e21,
        1e22,
        1e23,
        1e100,
        1e300,
        1.7976931348623157e308,
        2.2250738585072014e-308,
        5e-324,
        1e-310,
        0.999999,
        9.9999995,
        99.5,
        0.05,
        0.15,
        0.25,
        0.35,
        1.5,
        15.5,
        255.0,
        65535.5,
        6.02214076e23,
        3.141592653589793,
        2.718281828459045,
        1.0 / 0.0,
        -1.0 / 0.0,
    };
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++)
        for (size_t j = 0; j < sizeof(vals) / sizeof(vals[0]); j++) {
            if (fpclassify(vals[j]) == FP_SUBNORMAL && strpbrk(fmts[i], "aA")) /* lc_subnormal_a */
                continue;
            lc_put(b, "%s ", fmts[i]);
            lc_put(b, fmts[i], vals[j]);
            lc_put(b, "\n");
        }
    static const char *const big[] = {"%.0f", "%f", "%.30e", "%.60g"};
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]);
         i++) { /* every digit of huge and tiny values */
        lc_put(b, "%s ", big[i]);
        lc_put(b, big[i], 1.7976931348623157e308);
        lc_put(b, " ");
        lc_put(b, big[i], 4.9406564584124654e-324);
        lc_put(b, "\n");
    }
}

typedef enum { F1, F2, F3, FREXP, LDEXP, LGAMMA } lc_kind;
static const struct {
    const char *name;
    lc_kind kind;
    int exact;
    double (*f1)(double);
    double (*f2)(double, double);
} lc_fns[] = {
    {"sin", F1, 0, sin, 0},      {"cos", F1, 0, cos, 0},       {"tan", F1, 0, tan, 0},
    {"exp", F1, 0, exp, 0},      {"log", F1, 0, log, 0},       {"log2", F1, 0, log2, 0},
    {"log10", F1, 0, log10, 0},  {"pow", F2, 0, 0, pow},       {"sqrt", F1, 1, sqrt, 0},
    {"cbrt", F1, 0, cbrt, 0},    {"atan2", F2, 0, 0, atan2},   {"sinh", F1, 0, sinh, 0},
    {"tanh", F1, 0, tanh, 0},    {"asin", F1, 0, asin, 0},     {"acos", F1, 0, acos, 0},
    {"atan", F1, 0, atan, 0},    {"expm1", F1, 0, expm1, 0},   {"log1p", F1, 0, log1p, 0},
    {"hypot", F2, 0, 0, hypot},  {"fmod", F2, 1, 0, fmod},     {"erf", F1, 0, erf, 0},
    {"lgamma", LGAMMA, 0, 0, 0}, {"tgamma", F1, 0, tgamma, 0}, {"fma", F3, 1, 0, 0},
    {"floor", F1, 1, floor, 0},  {"ceil", F1, 1, ceil, 0},     {"round", F1, 1, round, 0},
    {"trunc", F1, 1, trunc, 0},  {"frexp", FREXP, 1, 0, 0},    {"ldexp", LDEXP, 1, 0, 0},
};

static int lc_find(const char *name)
{
    for (size_t i = 0; i < sizeof(lc_fns) / sizeof(lc_fns[0]); i++)
        if (strcmp(lc_fns[i].name, name) == 0) return (int)i;
    return -1;
}

int lc_math_arity(const char *name, int *in, int *out)
{
    int i = lc_find(name);
    if (i < 0) return 0;
    static const int ins[] = {1, 2, 3, 1, 2, 1}, outs[] = {1, 1, 1, 2, 1, 2};
    *in = ins[lc_fns[i].kind];
    *out = outs[lc_fns[i].kind];
    return 1;
}

int lc_math_exact(const char *name)
{
    int i = lc_find(name);
    return i >= 0 && lc_fns[i].exact;
}

void lc_math_eval(const char *name, const double *in, size_t n, double *out)
{
    int i = lc_find(name), e;
    if (i < 0) return;
    for (size_t k = 0; k < n; k++) {
        switch (lc_fns[i].kind) {
        case F1:
            out[k] = lc_fns[i].f1(in[k]);
            break;
        case F2:
            out[k] = lc_fns[i].f2(in[2 * k], in[2 * k + 1]);
            break;
        case F3:
            out[k] = fma(in[3 * k], in[3 * k + 1], in[3 * k + 2]);
            break;
        case FREXP:
            out[2 * k] = frexp(in[k], &e);
            out[2 * k + 1] =
                in[k] == in[k] && in[k] - in[k] == 0 ? e : 0; /* unspecified for inf, nan */
            break;
        case LDEXP:
            out[k] = ldexp(in[2 * k], (int)in[2 * k + 1]);
            break;
        case LGAMMA:
            out[2 * k] = lgamma_r(in[k], &e);
            out[2 * k + 1] = e;
            break;
        }
    }
}

void lc_subnormal_a(lc_buf *b)
{
    static const char *const fmts[] = {"%a", "%.0a", "%.1a", "%.3a", "%#a", "%A", "%20a"};
    static const double vals[] = {4.9406564584124654e-324, 1e-310, -2.2250738585072009e-308};
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++)
        for (size_t j = 0; j < sizeof(vals) / sizeof(vals[0]); j++) {
            lc_put(b, "%s ", fmts[i]);
            lc_put(b, fmts[i], vals[j]);
            lc_put(b, "\n");
        }
}
