/* test_libc.c - the libc battery: musl in a sandbox (libcguest) against the host's glibc. */
#include "rt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libc_cases.h"

void libc_test_roundtrip(void **state); /* test_libc_math.c */
void libc_test_math(void **state);

#define CONFIG                                                                                     \
    "max_execution_time = \"60s\"\nheap_size_override = \"16MiB\"\n"                               \
    "stack_size_override = \"1MiB\"\ninput_data_size = \"64KiB\"\noutput_data_size = \"512KiB\"\n"

static int group_setup(void **state)
{
    *state = rt_sandbox("libcguest", CONFIG);
    return 0;
}

static int group_teardown(void **state)
{
    hl_sandbox_destroy(*state);
    return 0;
}

/* Where musl's report legitimately differs from glibc's (docs/guest.md, "The C library"): C and
 * POSIX leave these open. Each must still show up exactly. */
static const struct {
    const char *list, *glibc, *musl;
} g_known[] = {
    /* no digits: POSIX allows EINVAL ("may fail"); musl sets it, glibc does not */
    {"strto", "strto 13 '' 10: l 0 0 0 ul 0 0 0 ll 0 0 0 ull 0 0 0",
     "strto 13 '' 10: l 0 0 22 ul 0 0 22 ll 0 0 22 ull 0 0 22"},
    {"strto", "strto 14 '+' 10: l 0 0 0 ul 0 0 0 ll 0 0 0 ull 0 0 0",
     "strto 14 '+' 10: l 0 0 22 ul 0 0 22 ll 0 0 22 ull 0 0 22"},
    {"strto", "strtod 'abc' 0x0p+0 0 0", "strtod 'abc' 0x0p+0 0 22"},
    /* a subnormal result: whether errno becomes ERANGE is implementation-defined (C11 7.22.1.3p10);
     * glibc sets it, musl only when the result is zero; and %a prints subnormals differently */
    {"strto", "strtod '4.9e-324' 0x0.0000000000001p-1022 8 34", "strtod '4.9e-324' 0x1p-1074 8 0"},
    {"strto", "strtod '0x1p-1074' 0x0.0000000000001p-1022 9 0", "strtod '0x1p-1074' 0x1p-1074 9 0"},
};

static int known(const char *list, const char *glibc, size_t glen, const char *musl, size_t mlen)
{
    for (size_t i = 0; i < sizeof(g_known) / sizeof(g_known[0]); i++)
        if (strcmp(g_known[i].list, list) == 0 && strlen(g_known[i].glibc) == glen &&
            memcmp(g_known[i].glibc, glibc, glen) == 0 && strlen(g_known[i].musl) == mlen &&
            memcmp(g_known[i].musl, musl, mlen) == 0)
            return 1;
    return 0;
}

/* Runs one case list of libc_cases.c in the guest (musl) and here (glibc): the texts must be equal
 * line by line but for g_known's lines, all of which must appear; returns the line count. */
static size_t same_report(hl_sandbox *sb, const char *list, void (*run)(lc_buf *))
{
    static char mine[512 * 1024];
    lc_buf b = {mine, 0, sizeof(mine)};
    mine[0] = 0;
    run(&b);
    hl_value v = rt_ok(sb, "report", RT_ARGS(hl_string(list)));
    const char *theirs = v.u.buf.ptr, *p = mine;
    size_t lines = 0, diffs = 0, known_diffs = 0, expected = 0;
    for (size_t i = 0; i < sizeof(g_known) / sizeof(g_known[0]); i++)
        expected += strcmp(g_known[i].list, list) == 0;
    while (*p || *theirs) {
        const char *e1 = strchr(p, '\n'), *e2 = strchr(theirs, '\n');
        assert_non_null(e1);
        assert_non_null(e2);
        if (known(list, p, (size_t)(e1 - p), theirs, (size_t)(e2 - theirs))) {
            known_diffs++;
        } else if (e1 - p != e2 - theirs || memcmp(p, theirs, (size_t)(e1 - p)) != 0) {
            print_error("%s, line %zu: glibc \"%.*s\", musl \"%.*s\"\n", list, lines + 1,
                        (int)(e1 - p), p, (int)(e2 - theirs), theirs);
            diffs++;
        }
        p = e1 + 1;
        theirs = e2 + 1;
        lines++;
    }
    assert_int_equal(diffs, 0);
    assert_int_equal(known_diffs, expected);
    assert_true(b.len < sizeof(mine) - 1); /* nothing was dropped */
    return lines;
}

static void test_strings(void **state)
{
    size_t n = same_report(*state, "strings", lc_strings);
    size_t m = same_report(*state, "strto", lc_strto);
    print_message("libc strings: %zu string cases and %zu strto*/strtod cases equal to glibc's but "
                  "for the %zu "
                  "known differences\n",
                  n, m, sizeof(g_known) / sizeof(g_known[0]));
}

static void test_scanf_snprintf(void **state)
{
    size_t n = same_report(*state, "scanf", lc_scanf);
    size_t m = same_report(*state, "snprintf", lc_snprintf);
    print_message(
        "libc sscanf/snprintf: %zu sscanf cases, %zu snprintf truncation cases equal to glibc's\n",
        n, m);
}

static void test_formats(void **state)
{
    size_t n = same_report(*state, "formats", lc_formats);
    /* %a of subnormals: musl normalises (glibc: "%a 0x0.0000000000001p-1022", "%.0a 0x0p-1022") */
    hl_value v = rt_ok(*state, "report", RT_ARGS(hl_string("subnormal_a")));
    assert_string_equal(v.u.buf.ptr,
                        "%a 0x1p-1074\n%a 0x1.2688b70e62bp-1030\n%a -0x1.ffffffffffffep-1023\n"
                        "%.0a 0x1p-1074\n%.0a 0x1p-1030\n%.0a -0x2p-1023\n"
                        "%.1a 0x1.0p-1074\n%.1a 0x1.2p-1030\n%.1a -0x2.0p-1023\n"
                        "%.3a 0x1.000p-1074\n%.3a 0x1.269p-1030\n%.3a -0x2.000p-1023\n"
                        "%#a 0x1.p-1074\n%#a 0x1.2688b70e62bp-1030\n%#a -0x1.ffffffffffffep-1023\n"
                        "%A 0X1P-1074\n%A 0X1.2688B70E62BP-1030\n%A -0X1.FFFFFFFFFFFFEP-1023\n"
                        "%20a            0x1p-1074\n%20a 0x1.2688b70e62bp-1030\n"
                        "%20a -0x1.ffffffffffffep-1023\n");
    print_message(
        "libc formats: %zu %%g/%%e/%%f/%%a conversions equal to glibc's; 21 %%a of subnormals "
        "normalised (musl) where glibc writes 0x0.<digits>p-1022\n",
        n);
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* qsort of random arrays (with duplicates, sorted, reversed) gives glibc's order; bsearch finds
 * every present key and no absent one. */
static void test_sort(void **state)
{
    enum { N = 3000, NP = 1000 };
    static int64_t v[N], sorted[N], probes[NP];
    unsigned long long s = 77;
    for (int round = 0; round < 6; round++) {
        size_t n = round == 0 ? 0 : round == 1 ? 1 : N - (size_t)round;
        for (size_t i = 0; i < n; i++)
            v[i] = round == 3   ? (int64_t)(lc_next(&s) % 50) /* many duplicates */
                   : round == 4 ? (int64_t)i                  /* already sorted */
                   : round == 5 ? (int64_t)(n - i)            /* reversed */
                                : (int64_t)lc_next(&s);
        for (size_t i = 0; i < NP; i++)
            probes[i] = i % 2 && n ? v[lc_next(&s) % n] : (int64_t)(lc_next(&s) % 60);
        hl_value r = rt_ok(*state, "sort", RT_ARGS(hl_bytes(v, n * 8), hl_bytes(probes, NP * 8)));
        assert_int_equal(r.u.buf.len, (n + NP) * 8);
        memcpy(sorted, v, n * 8);
        qsort(sorted, n, 8, cmp_i64);
        assert_memory_equal(r.u.buf.ptr, sorted, n * 8);
        const int64_t *idx = (const int64_t *)r.u.buf.ptr + n;
        for (size_t i = 0; i < NP; i++) {
            const int64_t *hit = bsearch(&probes[i], sorted, n, 8, cmp_i64);
            assert_int_equal(idx[i] >= 0, hit != NULL);
            if (hit) assert_int_equal(sorted[idx[i]], probes[i]);
        }
    }
}

static void test_setjmp(void **state)
{
    static const struct {
        uint32_t depth;
        int32_t val;
        const char *want;
    } cases[] = {
        {0, 5, "5 0 2"}, {1, 1, "1 0 2"}, {7, 42, "42 0 2"}, {200, -3, "-3 0 2"}, {50, 0, "1 0 2"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hl_value v = rt_ok(*state, "jump", RT_ARGS(hl_u32(cases[i].depth), hl_i32(cases[i].val)));
        assert_string_equal(v.u.buf.ptr, cases[i].want); /* longjmp(jb, 0) makes setjmp return 1 */
    }
}

static void test_heap(void **state)
{
    hl_value v = rt_ok(*state, "malloc_stress", RT_ARGS(hl_u64(99), hl_u32(20000)));
    unsigned ops, bad;
    size_t live_max;
    assert_int_equal(sscanf(v.u.buf.ptr, "%u %u %zu", &ops, &bad, &live_max), 3);
    assert_int_equal(ops, 20000);
    assert_int_equal(bad, 0);
    assert_true(live_max > 1000000); /* about a quarter of 256 slots at 32 KiB on average */
    static const uint64_t chunks[] = {1 << 20, 100000, 4000};
    for (size_t i = 0; i < 3; i++) {
        v = rt_ok(*state, "exhaust", RT_ARGS(hl_u64(chunks[i])));
        size_t n1, n2;
        int e1, huge, huge_errno, kept, ovf, usable;
        assert_int_equal(sscanf(v.u.buf.ptr, "%zu %d %zu %d %d %d %d %d", &n1, &e1, &n2, &huge,
                                &huge_errno, &kept, &ovf, &usable),
                         8);
        assert_true(n1 * chunks[i] > 14u << 20); /* most of the 16 MiB heap */
        assert_true(n1 * chunks[i] <= 16u << 20);
        assert_int_equal(n2, n1); /* everything freed came back */
        assert_int_equal(e1, ENOMEM);
        assert_int_equal(huge, 1);
        assert_int_equal(huge_errno, ENOMEM);
        assert_int_equal(kept, 1);
        assert_int_equal(ovf, 1);
        assert_int_equal(usable, 1);
        if (i == 0)
            print_message("libc malloc: 20000 random malloc/calloc/realloc/free intact (peak %zu "
                          "live bytes); "
                          "heap exhausted after %zu blocks of 1 MiB, twice, then usable\n",
                          live_max, n1);
    }
    assert_string_equal(rt_ok(*state, "jump", RT_ARGS(hl_u32(3), hl_i32(9))).u.buf.ptr, "9 0 2");
}

static void test_time(void **state)
{
    hl_value v = rt_ok(*state, "clocks", RT_ARGS(hl_u32(200000)));
    assert_int_equal(v.u.buf.len, 5 * 8);
    int64_t t[5];
    memcpy(t, v.u.buf.ptr, sizeof(t));
    assert_true(t[1] > t[0]); /* strictly forward across work */
    int64_t now = (int64_t)time(NULL);
    assert_true(t[2] >= now - 5 && t[2] <= now);
    assert_true(t[3] >= t[2] && t[3] <= t[2] + 1);
    struct timespec mono;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    int64_t here = (int64_t)mono.tv_sec * 1000000000 + mono.tv_nsec;
    assert_true(t[1] <= here && t[0] >= here - 60000000000ll); /* the host's own monotonic clock */
    v = rt_ok(*state, "clocks", RT_ARGS(hl_u32(1)));
    int64_t later;
    memcpy(&later, v.u.buf.ptr, 8);
    assert_true(later > t[1]); /* and across calls, though each call starts from the snapshot */
}

/* The start-up vector (argv, an empty environment, the auxiliary vector) outlives
 * initialisation: calls reuse the stack it ran on, and the C library keeps pointers into it. */
static void test_environment(void **state)
{
    for (uint64_t n = 0; n <= 65536; n = n ? n * 4 : 1024) {
        hl_value v = rt_ok(*state, "environment", RT_ARGS(hl_u64(n)));
        assert_string_equal(v.u.buf.ptr, "environ empty HOME=(none) PAGESZ=4096 PHNUM=yes");
    }
}

/* musl's rand(): seed = 6364136223846793005 * seed + 1, returning its top 31 bits; srand(s) sets
 * seed = s - 1. The same in every call, from any snapshot. */
static void test_rand(void **state)
{
    static const uint32_t seeds[] = {1, 42, 0, 0xFFFFFFFFu};
    for (size_t i = 0; i < 4; i++) {
        hl_value v = rt_ok(*state, "rand_seq", RT_ARGS(hl_u32(seeds[i]), hl_u32(1000)));
        assert_int_equal(v.u.buf.len, 4000);
        uint64_t seed = seeds[i] - 1u; /* unsigned arithmetic: srand(0) starts from 0xFFFFFFFF */
        const int32_t *r = v.u.buf.ptr;
        for (size_t k = 0; k < 1000; k++) {
            seed = 6364136223846793005ull * seed + 1;
            assert_int_equal(r[k], (int32_t)(seed >> 33));
        }
        hl_value again = rt_ok(*state, "rand_seq", RT_ARGS(hl_u32(seeds[i]), hl_u32(3)));
        uint64_t s2 = seeds[i] - 1u;
        s2 = 6364136223846793005ull * s2 + 1;
        assert_int_equal(((const int32_t *)again.u.buf.ptr)[0], (int32_t)(s2 >> 33));
    }
}

static void test_errno(void **state)
{
    hl_value v = rt_ok(*state, "errnos", RT_NOARGS);
    /* musl's math functions report through floating-point exceptions only (math_errhandling is
     * MATH_ERREXCEPT, 2), so sqrt(-1) and log(0) leave errno 0 where glibc sets EDOM and ERANGE;
     * strerror's texts are musl's own */
    assert_string_equal(v.u.buf.ptr,
                        "strtol=34 strtod_under=34 malloc=1,12 fopen=1,2 write=-1,9 read=-1,9 "
                        "sqrt=1,0 log=1,0 math_errhandling=2 "
                        "EDOM=33 ERANGE=34 ENOMEM=12 ENOENT=2 EBADF=9 "
                        "[Result not representable] [Out of memory] [No such file or directory]");
}

static void test_assert_exit_abort(void **state)
{
    hl_sandbox *sb = *state;
    assert_int_equal(rt_ok(sb, "assert", RT_ARGS(hl_i32(42))).u.i32, 42);
    int line = rt_ok(sb, "assert_line", RT_NOARGS).u.i32;
    char want[256];
    snprintf(want, sizeof(want),
             "assertion failed: answer == 42 (%s/guest/tests/libcguest_misc.c:%d, in do_assert)",
             HL_SOURCE_DIR, line);
    hl_error e =
        rt_fails(sb, "assert", HL_E_GUEST_ABORT, 134, "assertion failed: ", RT_ARGS(hl_i32(41)));
    rt_contains(e.message, want);
    assert_int_equal(rt_ok(sb, "assert", RT_ARGS(hl_i32(42))).u.i32, 42);
    rt_fails(sb, "exit", HL_E_GUEST_ABORT, 3, "the guest called exit(3)", RT_ARGS(hl_i32(3)));
    rt_fails(sb, "exit", HL_E_GUEST_ABORT, 0, "the guest called exit(0)", RT_ARGS(hl_i32(0)));
    rt_fails(sb, "abort", HL_E_GUEST_ABORT, 134, "the guest called abort()", RT_NOARGS);
    assert_true(hl_sandbox_usable(sb));
    assert_string_equal(rt_ok(sb, "jump", RT_ARGS(hl_u32(2), hl_i32(4))).u.buf.ptr, "4 0 2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(libc_test_roundtrip), cmocka_unit_test(test_formats),
        cmocka_unit_test(libc_test_math),      cmocka_unit_test(test_strings),
        cmocka_unit_test(test_environment),
        cmocka_unit_test(test_scanf_snprintf), cmocka_unit_test(test_sort),
        cmocka_unit_test(test_setjmp),         cmocka_unit_test(test_heap),
        cmocka_unit_test(test_time),           cmocka_unit_test(test_rand),
        cmocka_unit_test(test_errno),          cmocka_unit_test(test_assert_exit_abort),
    };
    return cmocka_run_group_tests_name(rt_group_name("libc"), tests, group_setup, group_teardown);
}
