/* libc_cases.h - C library cases run on musl (libcguest) and glibc (test_libc), to compare. */
#ifndef HL_LIBC_CASES_H
#define HL_LIBC_CASES_H

#include <stddef.h>

/* A growing text report; lc_put appends printf-style (the text is dropped once it would not fit).
 */
typedef struct lc_buf {
    char *p;
    size_t len, cap;
} lc_buf;
void lc_put(lc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Each case list appends one line per case to b; the same list on both C libraries must give the
 * same text, byte for byte. */
void lc_strings(lc_buf *b);  /* strlen..strtok, memchr, memmem, strdup, strspn, toupper/tolower */
void lc_strto(lc_buf *b);    /* strtol/strtoul/strtoll/strtoull with bases, end pointers, ERANGE */
void lc_scanf(lc_buf *b);    /* sscanf conversions, counts, %n */
void lc_snprintf(lc_buf *b); /* snprintf truncation at every size, returned lengths */
void lc_formats(lc_buf *b);  /* %g %e %f %a with precisions and flags over fixed doubles */
/* %a of subnormals, where the C libraries legitimately differ (C leaves the leading digit open):
 * glibc writes 0x0.<digits>p-1022, musl normalises to 0x1.<digits>p-<exponent> */
void lc_subnormal_a(lc_buf *b);

/* The math functions compared: lc_math_arity gives how many doubles one evaluation of `name`
 * takes and gives (*in, *out; ldexp's exponent and frexp's come as doubles, lgamma gives its sign
 * too), or 0 for an unknown name. lc_math_eval evaluates n inputs into out. */
int lc_math_arity(const char *name, int *in, int *out);
void lc_math_eval(const char *name, const double *in, size_t n, double *out);
/* Functions whose results must be identical (correctly rounded or exact in both libraries). */
int lc_math_exact(const char *name);

/* A deterministic generator (splitmix64) for the cases and for the tests' random inputs. */
static inline unsigned long long lc_next(unsigned long long *s)
{
    unsigned long long z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif
