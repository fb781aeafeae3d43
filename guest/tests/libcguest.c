/* libcguest.c - the libc battery's guest: musl's formatting, parsing and math, for test_libc. */
#include <math.h>

#include "hyperlight_guest.h"
#include "libc_cases.h"

HLG_RESOURCES(262144, 16777216);

void libcguest_register_misc(void); /* libcguest_misc.c */

#define REPORT_MAX (512 * 1024)

/* report(which) -> the text of one case list of libc_cases.c, run on musl. */
static int report(const hlg_value *a, hlg_value *r)
{
    static const struct {
        const char *name;
        void (*run)(lc_buf *);
    } lists[] = {{"strings", lc_strings}, {"strto", lc_strto},
                 {"scanf", lc_scanf},     {"snprintf", lc_snprintf},
                 {"formats", lc_formats}, {"subnormal_a", lc_subnormal_a}};
    lc_buf b = {malloc(REPORT_MAX), 0, REPORT_MAX};
    if (!b.p) return hlg_error(HL_GERR_MALLOC_FAILED, "no room for the report");
    b.p[0] = 0;
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        if (strcmp(a[0].u.str.ptr, lists[i].name) == 0) {
            lists[i].run(&b);
            r->u.str.ptr = b.p;
            r->u.str.len = (uint32_t)b.len;
            return 0;
        }
    return hlg_error(HL_GERR_GUEST_ERROR, "no case list \"%s\"", a[0].u.str.ptr);
}

/* roundtrip(doubles) -> "bad <count> <first index> <NaNs whose sign was lost>\n" then "<%.17g>
 * <%a>\n" per value: every value is formatted with %.17g and parsed back with strtod, which must
 * give the same bits (NaNs: a NaN; C carries no payload through text, and musl's strtod drops the
 * sign of "-nan", counted apart). */
static int roundtrip(const hlg_value *a, hlg_value *r)
{
    size_t n = a[0].u.str.len / sizeof(double);
    size_t cap = 64 + n * 64;
    char *out = malloc(cap);
    if (!out) return hlg_error(HL_GERR_MALLOC_FAILED, "no room for %zu values", n);
    size_t len =
        (size_t)snprintf(out, cap, "bad %-10u %-10d %-10u\n", 0u, -1, 0u); /* rewritten below */
    unsigned bad = 0, nan_sign = 0;
    int first = -1;
    for (size_t i = 0; i < n; i++) {
        double x, y;
        memcpy(&x, a[0].u.str.ptr + i * sizeof(double), sizeof(x));
        char g[40];
        snprintf(g, sizeof(g), "%.17g", x);
        char *end;
        y = strtod(g, &end);
        int same = isnan(x) ? isnan(y) != 0 : memcmp(&x, &y, sizeof(x)) == 0;
        nan_sign += isnan(x) && isnan(y) && signbit(x) != signbit(y);
        if (!same || *end != 0) {
            bad++;
            if (first < 0) first = (int)i;
        }
        len += (size_t)snprintf(out + len, cap - len, "%s %a\n", g, x);
    }
    char head[48];
    snprintf(head, sizeof(head), "bad %-10u %-10d %-10u\n", bad, first, nan_sign);
    memcpy(out, head, strlen(head));
    r->u.str.ptr = out;
    r->u.str.len = (uint32_t)len;
    return 0;
}

/* math(name, inputs) -> the outputs of lc_math_eval on musl, as doubles. */
static int math(const hlg_value *a, hlg_value *r)
{
    int in, outn;
    if (!lc_math_arity(a[0].u.str.ptr, &in, &outn))
        return hlg_error(HL_GERR_GUEST_ERROR, "no math function \"%s\"", a[0].u.str.ptr);
    size_t n = a[1].u.str.len / sizeof(double) / (size_t)in;
    double *x = malloc(n * (size_t)in * sizeof(double) + 1),
           *y = malloc(n * (size_t)outn * sizeof(double) + 1);
    if (!x || !y) return hlg_error(HL_GERR_MALLOC_FAILED, "no room for %zu inputs", n);
    memcpy(x, a[1].u.str.ptr, n * (size_t)in * sizeof(double)); /* the argument may be unaligned */
    lc_math_eval(a[0].u.str.ptr, x, n, y);
    r->u.str.ptr = (const char *)y;
    r->u.str.len = (uint32_t)(n * (size_t)outn * sizeof(double));
    return 0;
}

void hyperlight_main(void)
{
    hlg_register("report", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_STRING), report);
    hlg_register("roundtrip", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_BYTES), roundtrip);
    hlg_register("math", HL_TYPE_BYTES, HLG_PARAMS(HL_TYPE_STRING, HL_TYPE_BYTES), math);
    libcguest_register_misc();
}
