/* test_libc_math.c - libc battery numbers: printf/strtod round trips, math ulp vs glibc. */
#include "rt.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libc_cases.h"

void libc_test_roundtrip(void **state);
void libc_test_math(void **state);

/* How many doubles the round trip covers: 100,000 (in the emulated VM too: about 8 s there), or
 * HL_LIBC_VALUES to scale it. The math functions get a fifth of it each. */
static size_t values_count(void)
{
    const char *e = getenv("HL_LIBC_VALUES");
    return e && atol(e) > 0 ? (size_t)atol(e) : 100000;
}

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

static uint64_t to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

/* A double of random sign and mantissa with a biased exponent in [lo, hi]. */
static double rand_exp(unsigned long long *s, unsigned lo, unsigned hi)
{
    uint64_t r = lc_next(s);
    uint64_t e = lo + lc_next(s) % (hi - lo + 1);
    return from_bits((r & 0x800FFFFFFFFFFFFFull) | e << 52);
}

/* The round trip's inputs: random bit patterns, subnormals, huge and tiny exponents, the special
 * values (signed zeros, infinities, NaNs with payloads, the limits), short decimals and neighbours
 * of powers of two. */
static double roundtrip_input(unsigned long long *s, size_t i)
{
    static const uint64_t specials[] = {
        0x0000000000000000ull, 0x8000000000000000ull, 0x7FF0000000000000ull, 0xFFF0000000000000ull,
        0x7FF8000000000000ull, 0xFFF8000000000000ull, 0x7FF0000000000001ull, 0x7FFC00000000BEEFull,
        0x7FEFFFFFFFFFFFFFull, 0x0010000000000000ull, 0x000FFFFFFFFFFFFFull, 0x0000000000000001ull,
        0x8000000000000001ull, 0x3FF0000000000000ull, 0x3FB999999999999Aull, 0x4340000000000000ull,
    };
    switch (i % 16) {
    case 8:
        return from_bits(lc_next(s) & 0x800FFFFFFFFFFFFFull); /* subnormal (or zero) */
    case 9:
        return rand_exp(s, 0x7E0, 0x7FE);
    case 10:
        return rand_exp(s, 1, 0x20);
    case 11:
        return from_bits(specials[(i / 16) % 16]);
    case 12: /* k * 10^e: decimal strings that are short */
        return (double)(lc_next(s) % 100000) * pow(10.0, (double)((int)(lc_next(s) % 600) - 300));
    case 13: { /* a power of two and its neighbours */
        uint64_t b = (1 + lc_next(s) % 0x7FE) << 52;
        return from_bits(b + lc_next(s) % 5 - 2);
    }
    default:
        return from_bits(lc_next(s)); /* any bit pattern: mostly normal, some NaN and infinity */
    }
}

void libc_test_roundtrip(void **state)
{
    hl_sandbox *sb = *state;
    enum { BATCH = 1024 }; /* 8 KiB of doubles per call */
    size_t total = values_count(), sub_a = 0, nan_count = 0, neg_nans = 0, compared = 0;
    unsigned long long seed = 0xD0B1E5ull;
    double x[BATCH];
    for (size_t done = 0; done < total; done += BATCH) {
        size_t n = total - done < BATCH ? total - done : BATCH;
        for (size_t i = 0; i < n; i++)
            x[i] = roundtrip_input(&seed, done + i);
        hl_value v = rt_ok(sb, "roundtrip", RT_ARGS(hl_bytes(x, n * sizeof(double))));
        const char *p = v.u.buf.ptr;
        unsigned bad, nan_sign;
        int first;
        assert_int_equal(sscanf(p, "bad %u %d %u", &bad, &first, &nan_sign), 3);
        if (bad)
            print_error("round trip of %a (bits %016llx) failed\n", x[first],
                        (unsigned long long)to_bits(x[first]));
        assert_int_equal(bad, 0);
        size_t neg_nan = 0;
        for (size_t i = 0; i < n; i++)
            neg_nan += isnan(x[i]) && signbit(x[i]);
        assert_int_equal(nan_sign, neg_nan); /* musl's strtod("-nan") is a positive NaN */
        neg_nans += neg_nan;
        p = strchr(p, '\n') + 1;
        for (size_t i = 0; i < n; i++) {
            char want[80], g[40], a[40];
            const char *nl = strchr(p, '\n');
            assert_non_null(nl);
            assert_int_equal(sscanf(p, "%39s %39s", g, a), 2);
            p = nl + 1;
            snprintf(want, sizeof(want), "%.17g", x[i]);
            assert_string_equal(g, want); /* %.17g: the same text as glibc's, always */
            nan_count += isnan(x[i]) != 0;
            snprintf(want, sizeof(want), "%a", x[i]);
            if (fpclassify(x[i]) == FP_SUBNORMAL) {
                /* %a of a subnormal: glibc writes 0x0.<13 hex digits>p-1022, musl normalises to
                 * 0x1.<hex>p-<exp>; both denote the value exactly */
                assert_memory_equal(a + (a[0] == '-'), "0x1", 3);
                assert_int_equal(to_bits(strtod(a, NULL)), to_bits(x[i]));
                sub_a++;
                continue;
            }
            assert_string_equal(a, want);
            compared++;
        }
        assert_int_equal(p - (const char *)v.u.buf.ptr, v.u.buf.len);
    }
    print_message(
        "libc round trip: %zu doubles (%zu NaN), %%.17g -> strtod gives the same bits for all but "
        "NaNs (a NaN; %zu \"-nan\" came back positive), %%.17g text equal to glibc's for all, %%a "
        "equal "
        "for %zu, %zu subnormals differ only in normalisation\n",
        total, nan_count, neg_nans, compared, sub_a);
}

/* ---- math ---- */

/* The distance in units in the last place between two doubles (0 for two NaNs, or equal values). */
static uint64_t ulp_dist(double a, double b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b) ? 0 : UINT64_MAX;
    if (a == b) return 0;
    int64_t ia = (int64_t)to_bits(a), ib = (int64_t)to_bits(b);
    ia = ia < 0 ? INT64_MIN - ia : ia; /* a monotonic integer line through -0 and +0 */
    ib = ib < 0 ? INT64_MIN - ib : ib;
    return ia > ib ? (uint64_t)ia - (uint64_t)ib : (uint64_t)ib - (uint64_t)ia;
}

typedef enum { ANY, UNI, WIDE, POS, INT } dom_kind;
typedef struct dom {
    dom_kind kind;
    double lo, hi; /* UNI, INT: the range; WIDE/POS: the biased exponents */
} dom;

/* One input: mostly from the domain, one in sixteen any bit pattern (NaN, infinities, zeros, huge).
 */
static double gen(unsigned long long *s, dom d, int dom_only)
{
    if (!dom_only && lc_next(s) % 16 == 0)
        return lc_next(s) % 4 ? from_bits(lc_next(s))
                              : from_bits(0x7FF0000000000000ull * (lc_next(s) % 2));
    double u = (double)(lc_next(s) >> 11) / 9007199254740992.0;
    switch (d.kind) {
    case UNI:
        return d.lo + (d.hi - d.lo) * u;
    case INT:
        return floor(d.lo + (d.hi - d.lo + 1) * u);
    case WIDE:
        return rand_exp(s, (unsigned)d.lo, (unsigned)d.hi);
    case POS:
        return fabs(rand_exp(s, (unsigned)d.lo, (unsigned)d.hi));
    default:
        return from_bits(lc_next(s));
    }
}

// clang-format off
#define U(a, b) {UNI, a, b}
#define W(a, b) {WIDE, a, b}
#define P(a, b) {POS, a, b}
#define N(a, b) {INT, a, b}
// clang-format on
#define E 0x3FF /* the biased exponent of 1.0 */

/* Each function, where its inputs come from, and how far musl's result may be from glibc's, in ulp:
 * 0 for the functions both libraries round correctly or compute exactly (sqrt, fma, fmod, floor,
 * ceil, round, trunc, frexp, ldexp); 1 where both are faithful (each below 1 ulp, so at most the
 * last bit apart; exp/log/log2/pow are ARM's optimized routines in both, glibc's x86-64 FMA builds
 * differ in a few last bits); more where one of them is looser on these inputs: cbrt 3 and tanh 3
 * (3 measured), sinh 2 (2), lgamma 2 (positive arguments; 2), tgamma 10 (8 measured: the loosest).
 * The worst measured is printed beside each bound. */
static const struct {
    const char *name;
    dom in[3];
    unsigned bound;
} g_math[] = {
    {"sin", {W(E - 30, E + 30)}, 1},
    {"cos", {W(E - 30, E + 30)}, 1},
    {"tan", {W(E - 30, E + 30)}, 1},
    {"exp", {U(-745, 710)}, 1},
    {"log", {P(1, 0x7FE)}, 1},
    {"log2", {P(1, 0x7FE)}, 1},
    {"log10", {P(1, 0x7FE)}, 1},
    {"pow", {P(E - 8, E + 8), U(-60, 60)}, 1},
    {"sqrt", {P(0, 0x7FE)}, 0},
    {"cbrt", {W(0, 0x7FE)}, 3},
    {"atan2", {W(E - 40, E + 40), W(E - 40, E + 40)}, 1},
    {"sinh", {U(-720, 720)}, 2},
    {"tanh", {U(-25, 25)}, 3},
    {"asin", {U(-1, 1)}, 1},
    {"acos", {U(-1, 1)}, 1},
    {"atan", {W(E - 40, E + 40)}, 1},
    {"expm1", {U(-50, 709)}, 1},
    {"log1p", {W(E - 60, E + 60)}, 1},
    {"hypot", {W(E - 500, E + 500), W(E - 500, E + 500)}, 1},
    {"fmod", {W(1, 0x7FE), W(1, 0x7FE)}, 0},
    {"erf", {U(-6, 6)}, 1},
    {"lgamma", {P(E - 20, E + 9)}, 2},
    {"tgamma", {U(-170, 171.6)}, 10},
    {"fma", {W(E - 200, E + 200), W(E - 200, E + 200), W(E - 400, E + 400)}, 0},
    {"floor", {W(E - 10, E + 60)}, 0},
    {"ceil", {W(E - 10, E + 60)}, 0},
    {"round", {W(E - 10, E + 60)}, 0},
    {"trunc", {W(E - 10, E + 60)}, 0},
    {"frexp", {W(0, 0x7FE)}, 0},
    {"ldexp", {W(1, 0x7FE), N(-1100, 1100)}, 0},
};

void libc_test_math(void **state)
{
    hl_sandbox *sb = *state;
    enum { MAXIN = 4096 }; /* 32 KiB of doubles per call */
    size_t per_fn = values_count() / 5;
    static double in[MAXIN], want[MAXIN], got[MAXIN];
    char summary[4096];
    size_t slen = 0, total = 0;
    for (size_t f = 0; f < sizeof(g_math) / sizeof(g_math[0]); f++) {
        const char *name = g_math[f].name;
        int nin, nout;
        assert_true(lc_math_arity(name, &nin, &nout));
        assert_int_equal(lc_math_exact(name), g_math[f].bound == 0);
        unsigned long long seed = 0x5EEDull + f;
        uint64_t worst = 0;
        size_t at_worst = 0, differ = 0;
        double worst_x[3] = {0};
        for (size_t done = 0; done < per_fn;) {
            size_t n = MAXIN / (size_t)(nin > nout ? nin : nout);
            n = per_fn - done < n ? per_fn - done : n;
            for (size_t k = 0; k < n; k++) {
                int dom_only =
                    lc_next(&seed) % 2; /* both arguments in their domains half the time */
                for (int j = 0; j < nin; j++)
                    in[k * (size_t)nin + (size_t)j] = gen(&seed, g_math[f].in[j], dom_only);
            }
            hl_value v =
                rt_ok(sb, "math",
                      RT_ARGS(hl_string(name), hl_bytes(in, n * (size_t)nin * sizeof(double))));
            assert_int_equal(v.u.buf.len, n * (size_t)nout * sizeof(double));
            memcpy(got, v.u.buf.ptr, v.u.buf.len);
            lc_math_eval(name, in, n, want);
            for (size_t k = 0; k < n * (size_t)nout; k++) {
                uint64_t d = ulp_dist(got[k], want[k]);
                differ += d != 0;
                if (d > worst) {
                    worst = d;
                    memcpy(worst_x, in + k / (size_t)nout * (size_t)nin,
                           (size_t)nin * sizeof(double));
                    at_worst = k;
                }
            }
            done += n;
        }
        total += per_fn;
        if (worst > g_math[f].bound)
            print_error(
                "%s(%a, %a, %a): musl and glibc are %llu ulp apart (output %zu), the bound is %u\n",
                name, worst_x[0], worst_x[1], worst_x[2], (unsigned long long)worst,
                at_worst % (size_t)nout, g_math[f].bound);
        assert_true(worst <= g_math[f].bound);
        slen += (size_t)snprintf(summary + slen, sizeof(summary) - slen,
                                 "%s%s %llu/%u (%zu differ)", f ? ", " : "", name,
                                 (unsigned long long)worst, g_math[f].bound, differ);
    }
    print_message(
        "libc math: %zu functions x %zu inputs = %zu evaluations; worst ulp vs glibc/bound: %s\n",
        sizeof(g_math) / sizeof(g_math[0]), per_fn, total, summary);
}
