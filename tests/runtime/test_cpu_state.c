/* test_cpu_state.c - a guest's CPU flags and FPU control state never reach host code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"

/* The bits of stateguest's `bits` argument. */
#define DIRTY_DF    1u
#define DIRTY_AC    2u
#define DIRTY_MXCSR 4u
#define DIRTY_FCW   8u
#define DIRTY_ALL   15u

/* The state the SysV ABI gives every C function (Linux's defaults for MXCSR and the x87 CW). */
#define HOST_MXCSR 0x1F80u
#define HOST_FCW   0x037Fu

/* Appends to problems what is wrong with the calling host code's state: flags and control words
 * first (read before anything can change them), then string functions, an unaligned access (a
 * SIGBUS with EFLAGS.AC set) and arithmetic (exact to the last bit). */
static void check_host_state(char *problems, size_t cap)
{
    uint64_t flags;
    uint32_t mxcsr;
    uint16_t fcw;
    __asm__ volatile("pushfq\n\tpopq %0\n\tstmxcsr %1\n\tfnstcw %2"
                     : "=r"(flags), "=m"(mxcsr), "=m"(fcw));
    char msg[256] = "";
    size_t n = 0;
#define PROBLEM(...)                                                                               \
    n += (size_t)snprintf(msg + n, n < sizeof(msg) ? sizeof(msg) - n : 0, __VA_ARGS__)
    if (flags & 0x400) PROBLEM("DF set; ");
    if (flags & 0x40000) PROBLEM("AC set; ");
    if ((mxcsr & 0xFFC0u) != HOST_MXCSR) PROBLEM("MXCSR %#x; ", mxcsr);
    if ((fcw & 0x1F3Fu) != (HOST_FCW & 0x1F3Fu)) PROBLEM("x87 CW %#x; ", fcw);
    /* the checks below run with the state reset, so they report only what the state broke */
    uint32_t m0 = HOST_MXCSR;
    uint16_t c0 = HOST_FCW;
    __asm__ volatile("cld\n\tpushfq\n\tandq $~0x40000, (%%rsp)\n\tpopfq\n\tldmxcsr %0\n\tfldcw %1"
                     :
                     : "m"(m0), "m"(c0)
                     : "memory", "cc");
    (void)c0;
    if (n >= sizeof(msg)) n = sizeof(msg) - 1;
    snprintf(problems + strlen(problems), cap - strlen(problems), "%s", msg);
#undef PROBLEM
}

/* String functions, an unaligned load and arithmetic in the state the host code has now. */
static void check_host_work(char *problems, size_t cap)
{
    char buf[32] = "0123456789abcdef";
    memmove(buf + 1, buf, 17);
    char text[32];
    snprintf(text, sizeof(text), "%d-%s", 42, "x");
    unsigned char raw[16] = {0, 0x44, 0x33, 0x22, 0x11};
    unsigned char *volatile at = raw + 1;
    uint32_t u;
    memcpy(&u, at, 4);
    volatile double one = 1.0, three = 3.0;
    volatile long double lone = 1.0L, lthree = 3.0L;
    double third = one / three;
    long double lthird = lone / lthree;
    const double want = 1.0 / 3.0;
    const long double lwant = 1.0L / 3.0L;
    const char *bad = memcmp(buf, "00123456789abcdef", 18) != 0        ? "memmove; "
                      : strcmp(text, "42-x") != 0 || strlen(text) != 4 ? "snprintf; "
                      : u != 0x11223344u                               ? "unaligned load; "
                      : memcmp(&third, &want, sizeof(want)) != 0       ? "double division; "
                      : memcmp(&lthird, &lwant, 10) != 0               ? "long double division; "
                                                                       : "";
    snprintf(problems + strlen(problems), cap - strlen(problems), "%s", bad);
}

typedef struct seen {
    char problems[512];
    rt_print print;
} seen;

static void print_check(void *user, const char *text, size_t len)
{
    seen *s = user;
    check_host_state(s->problems, sizeof(s->problems));
    check_host_work(s->problems, sizeof(s->problems));
    rt_print_capture(&s->print, text, len);
}

static int host_check(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result,
                      void *user)
{
    seen *s = user;
    check_host_state(s->problems, sizeof(s->problems));
    check_host_work(s->problems, sizeof(s->problems));
    result->u.i32 = args[0].u.i32 + 1;
    return 0;
}

static hl_sandbox *state_sandbox(seen *s)
{
    hl_config cfg;
    rt_config(&cfg, "");
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("stateguest"), &cfg, &err), HL_OK);
    const hl_type i = HL_TYPE_I32;
    assert_int_equal(hl_sandbox_register(sb, "host_check", HL_TYPE_I32, &i, 1, host_check, s, &err),
                     HL_OK);
    hl_sandbox_set_print(sb, print_check, s);
    if (hl_sandbox_initialize(sb, &err) != HL_OK) fail_msg("initialize: %s", err.message);
    return sb;
}

/* After any call, the host's own code and the next calls work exactly. */
static void check_after(hl_sandbox *sb, unsigned bits)
{
    char problems[512] = "";
    check_host_state(problems, sizeof(problems));
    check_host_work(problems, sizeof(problems));
    if (problems[0]) fail_msg("after a guest left state %#x, host code has: %s", bits, problems);
    char *big = rt_pattern(3000, bits);
    rt_buf_eq(rt_ok(sb, "echo_string", RT_ARGS(hl_string(big))), HL_TYPE_STRING, big, 3000);
    free(big);
    double third = rt_ok(sb, "divide", RT_ARGS(hl_f64(1.0), hl_f64(3.0))).u.f64;
    const double want = 1.0 / 3.0;
    if (memcmp(&third, &want, sizeof(want)) != 0)
        fail_msg("after a guest left state %#x, the next call's 1/3 is %a, not %a", bits, third,
                 want);
    assert_int_equal(rt_ok(sb, "dirty_return", RT_ARGS(hl_u32(0))).type, HL_TYPE_VOID);
}

static const unsigned variants[] = {DIRTY_DF, DIRTY_AC, DIRTY_MXCSR, DIRTY_FCW, DIRTY_ALL};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

/* Code compiled for AVX runs as a guest as it does in-process: under KVM the guest starts with
 * CR4.OSXSAVE on and XCR0 enabling AVX (without it, `vpaddd` faults). */
static void test_avx_runs(void **state)
{
    seen s = {0};
    hl_sandbox *sb = state_sandbox(&s);
    uint64_t got = rt_ok(sb, "avx2_sum", RT_ARGS(hl_u32(1000))).u.u64;
    if (got == ~0ull) {
        print_message("no AVX2 on this CPU: skipped\n");
        hl_sandbox_destroy(sb);
        skip();
    }
    assert_int_equal(got, 2 * (8 * 1000 + 28));
    assert_int_equal(rt_ok(sb, "avx2_sum", RT_ARGS(hl_u32(7))).u.u64, 2 * (8 * 7 + 28));
    hl_sandbox_destroy(sb);
}

static void test_guest_returns_with_state_changed(void **state)
{
    seen s = {0};
    hl_sandbox *sb = state_sandbox(&s);
    for (size_t i = 0; i < NVARIANTS; i++) {
        for (int round = 0; round < 3; round++) {
            assert_int_equal(rt_ok(sb, "dirty_return", RT_ARGS(hl_u32(variants[i]))).type,
                             HL_TYPE_VOID);
            check_after(sb, variants[i]);
        }
    }
    hl_sandbox_destroy(sb);
}

static void test_guest_faults_with_state_changed(void **state)
{
    seen s = {0};
    hl_sandbox *sb = state_sandbox(&s);
    /* in-process: SIGILL (4), the signal; KVM: #UD (6), the vector */
    unsigned code = rt_mode() == HL_MODE_RUN_IN_PROCESS ? 4 : 6;
    for (size_t i = 0; i < NVARIANTS; i++) {
        rt_fails(sb, "dirty_fault", HL_E_GUEST_FAULT, code,
                 "the guest faulted in the call to `dirty_fault`", RT_ARGS(hl_u32(variants[i])));
        check_after(sb, variants[i]);
    }
    hl_sandbox_destroy(sb);
}

static void test_guest_prints_with_state_changed(void **state)
{
    seen s = {0};
    hl_sandbox *sb = state_sandbox(&s);
    char want[256] = "";
    for (size_t i = 0; i < NVARIANTS; i++) {
        /* the print callback runs in a clean state; the guest finds its own state unchanged */
        int32_t got =
            rt_ok(sb, "dirty_print", RT_ARGS(hl_u32(variants[i]), hl_string("state!"))).u.i32;
        assert_int_equal(got, (int32_t)variants[i] + 16 * 6);
        strcat(want, "state!");
        if (s.problems[0])
            fail_msg("the print callback, entered with state %#x, found: %s", variants[i],
                     s.problems);
        assert_string_equal(s.print.text, want);
        check_after(sb, variants[i]);
    }
    hl_sandbox_destroy(sb);
}

static void test_guest_calls_host_with_state_changed(void **state)
{
    seen s = {0};
    hl_sandbox *sb = state_sandbox(&s);
    for (size_t i = 0; i < NVARIANTS; i++) {
        unsigned bits = variants[i] & ~(DIRTY_DF | DIRTY_AC); /* the C library needs DF clear, no AC */
        int64_t got =
            rt_ok(sb, "dirty_host_call", RT_ARGS(hl_u32(variants[i]), hl_i32(41 + (int)i))).u.i64;
        assert_int_equal(got, (int64_t)(42 + i) * 16 + bits);
        if (s.problems[0])
            fail_msg("host_check, entered with state %#x, found: %s", bits, s.problems);
        check_after(sb, bits);
    }
    hl_sandbox_destroy(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avx_runs),
        cmocka_unit_test(test_guest_returns_with_state_changed),
        cmocka_unit_test(test_guest_faults_with_state_changed),
        cmocka_unit_test(test_guest_prints_with_state_changed),
        cmocka_unit_test(test_guest_calls_host_with_state_changed),
    };
    return rt_run("cpu_state", tests);
}
