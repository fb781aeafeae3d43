/* test_hostcalls.c - guests calling host functions: every type, failures, missing functions, many calls, user data. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rt.h"

/* What a host function does, chosen by the test between calls (the guest call is synchronous). */
typedef struct host_ctl {
    unsigned calls;
    int wrong_type; /* answer with a value of another type */
    int use_alloc;  /* STRING/BYTES results from hl_host_call_alloc */
    const void *seen_user;
} host_ctl;

static int host_echo(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    host_ctl *c = user;
    c->calls++;
    c->seen_user = user;
    if (nargs != 1 || args[0].type != result->type)
        return hl_host_call_fail(call, "host_echo: unexpected arguments");
    hl_type type = result->type;
    *result = args[0];
    if (c->use_alloc && (type == HL_TYPE_STRING || type == HL_TYPE_BYTES)) {
        uint8_t *p = hl_host_call_alloc(call, args[0].u.buf.len + 1);
        if (!p)
            return hl_host_call_fail(call, "no memory");
        for (size_t i = 0; i < args[0].u.buf.len; i++) /* reversed, to see that this copy is used */
            p[i] = ((const uint8_t *)args[0].u.buf.ptr)[args[0].u.buf.len - 1 - i];
        p[args[0].u.buf.len] = 0;
        result->u.buf.ptr = p;
    }
    if (c->wrong_type)
        result->type = type == HL_TYPE_I64 ? HL_TYPE_U64 : HL_TYPE_I64;
    return 0;
}

static int host_big(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    size_t n = ((const host_ctl *)user)->calls;
    char *p = hl_host_call_alloc(call, n + 1);
    memset(p, 'q', n);
    p[n] = 0;
    result->u.buf.ptr = p;
    result->u.buf.len = n;
    return 0;
}

static const struct {
    const char *host, *guest;
    hl_type type;
} echoes[] = {
    {"host_echo_i32", "i32_via_host", HL_TYPE_I32},          {"host_echo_u32", "u32_via_host", HL_TYPE_U32},
    {"host_echo_i64", "i64_via_host", HL_TYPE_I64},          {"host_echo_u64", "u64_via_host", HL_TYPE_U64},
    {"host_echo_f32", "f32_via_host", HL_TYPE_F32},          {"host_echo_f64", "f64_via_host", HL_TYPE_F64},
    {"host_echo_bool", "bool_via_host", HL_TYPE_BOOL},       {"host_echo_string", "string_via_host", HL_TYPE_STRING},
    {"host_echo_bytes", "bytes_via_host", HL_TYPE_BYTES},
};
#define NECHO (sizeof(echoes) / sizeof(echoes[0]))

typedef struct fixture {
    hl_sandbox *sb;
    rt_hosts hosts;
    host_ctl ctl[NECHO];
    rt_print print;
} fixture;

static hl_sandbox *callback_sandbox(fixture *f, const char *toml)
{
    hl_config cfg;
    rt_config(&cfg, toml);
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("callbackguest"), &cfg, &err), HL_OK);
    rt_register_hosts(sb, &f->hosts);
    for (size_t i = 0; i < NECHO; i++) {
        hl_type t = echoes[i].type;
        assert_int_equal(hl_sandbox_register(sb, echoes[i].host, t, &t, 1, host_echo, &f->ctl[i], &err), HL_OK);
    }
    hl_sandbox_set_print(sb, rt_print_capture, &f->print);
    if (hl_sandbox_initialize(sb, &err) != HL_OK)
        fail_msg("initialize: %s", err.message);
    return sb;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->sb = callback_sandbox(f, "");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    hl_sandbox_destroy(f->sb);
    free(f);
    return 0;
}

static void test_every_type(void **state)
{
    fixture *f = *state;
    hl_sandbox *sb = f->sb;
    assert_int_equal(rt_ok(sb, "i32_via_host", RT_ARGS(hl_i32(INT32_MIN))).u.i32, INT32_MIN);
    assert_int_equal(rt_ok(sb, "i32_via_host", RT_ARGS(hl_i32(-1))).u.i32, -1);
    assert_int_equal(rt_ok(sb, "u32_via_host", RT_ARGS(hl_u32(UINT32_MAX))).u.u32, UINT32_MAX);
    assert_true(rt_ok(sb, "i64_via_host", RT_ARGS(hl_i64(INT64_MIN))).u.i64 == INT64_MIN);
    assert_true(rt_ok(sb, "i64_via_host", RT_ARGS(hl_i64(INT64_MAX))).u.i64 == INT64_MAX);
    assert_true(rt_ok(sb, "u64_via_host", RT_ARGS(hl_u64(UINT64_MAX))).u.u64 == UINT64_MAX);
    const float f32s[] = {-0.0f, FLT_MAX, FLT_TRUE_MIN, INFINITY, NAN};
    for (size_t i = 0; i < 5; i++) {
        float got = rt_ok(sb, "f32_via_host", RT_ARGS(hl_f32(f32s[i]))).u.f32;
        assert_memory_equal(&got, &f32s[i], 4);
    }
    const double f64s[] = {-0.0, DBL_MAX, DBL_TRUE_MIN, -INFINITY, NAN};
    for (size_t i = 0; i < 5; i++) {
        double got = rt_ok(sb, "f64_via_host", RT_ARGS(hl_f64(f64s[i]))).u.f64;
        assert_memory_equal(&got, &f64s[i], 8);
    }
    assert_true(rt_ok(sb, "bool_via_host", RT_ARGS(hl_bool(true))).u.b);
    assert_false(rt_ok(sb, "bool_via_host", RT_ARGS(hl_bool(false))).u.b);
    const char *s = "h\xC3\xA9llo, host \xF0\x9F\x98\x80";
    rt_buf_eq(rt_ok(sb, "string_via_host", RT_ARGS(hl_string(s))), HL_TYPE_STRING, s, strlen(s));
    rt_buf_eq(rt_ok(sb, "string_via_host", RT_ARGS(hl_string(""))), HL_TYPE_STRING, "", 0);
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)(255 - i);
    rt_buf_eq(rt_ok(sb, "bytes_via_host", RT_ARGS(hl_bytes(all, 256))), HL_TYPE_BYTES, all, 256);
    rt_buf_eq(rt_ok(sb, "bytes_via_host", RT_ARGS(hl_bytes(NULL, 0))), HL_TYPE_BYTES, "", 0);
    unsigned want_calls[NECHO] = {2, 1, 2, 1, 5, 5, 2, 2, 2};
    for (size_t i = 0; i < NECHO; i++) {
        assert_int_equal(f->ctl[i].calls, want_calls[i]);
        assert_ptr_equal(f->ctl[i].seen_user, &f->ctl[i]); /* each got its own user data */
    }
}

static void test_host_alloc_results(void **state)
{
    fixture *f = *state;
    host_ctl *str = &f->ctl[7], *bytes = &f->ctl[8];
    str->use_alloc = bytes->use_alloc = 1;
    rt_buf_eq(rt_ok(f->sb, "string_via_host", RT_ARGS(hl_string("abcdef"))), HL_TYPE_STRING, "fedcba", 6);
    rt_buf_eq(rt_ok(f->sb, "bytes_via_host", RT_ARGS(hl_bytes("\x01\x00\x02", 3))), HL_TYPE_BYTES, "\x02\x00\x01", 3);
    char *big = rt_pattern(5000, 0), *rev = rt_pattern(5000, 0);
    for (size_t i = 0; i < 5000; i++)
        rev[i] = big[4999 - i];
    rt_buf_eq(rt_ok(f->sb, "string_via_host", RT_ARGS(hl_string(big))), HL_TYPE_STRING, rev, 5000);
    free(big);
    free(rev);
}

static void test_add_and_many_calls(void **state)
{
    fixture *f = *state;
    assert_int_equal(rt_ok(f->sb, "add_via_host", RT_ARGS(hl_i32(40), hl_i32(2))).u.i32, 42);
    assert_int_equal(rt_ok(f->sb, "add_via_host", RT_ARGS(hl_i32(-50), hl_i32(8))).u.i32, -42);
    assert_int_equal(f->hosts.add_calls, 2);
    /* 1000 host calls in one guest call: sum of i + 1 for i < 1000 */
    assert_int_equal(rt_ok(f->sb, "call_count", RT_ARGS(hl_u32(1000))).u.i64, 500500);
    assert_int_equal(f->hosts.add_calls, 1002);
    assert_int_equal(rt_ok(f->sb, "call_count", RT_ARGS(hl_u32(0))).u.i64, 0);
    assert_int_equal(rt_ok(f->sb, "call_count", RT_ARGS(hl_u32(3))).u.i64, 6);
    assert_int_equal(f->hosts.add_calls, 1005);
    hl_sandbox_stats st = HL_SANDBOX_STATS_INIT;
    assert_int_equal(hl_sandbox_get_stats(f->sb, &st), HL_OK);
    assert_int_equal(st.calls, 5);
}

static void test_failing_host_function(void **state)
{
    fixture *f = *state;
    char want[64];
    rt_expected_exception(want, 40);
    rt_buf_eq(rt_ok(f->sb, "call_failing", RT_ARGS(hl_i32(40))), HL_TYPE_STRING, want, 40);
    rt_buf_eq(rt_ok(f->sb, "call_failing", RT_ARGS(hl_i32(0))), HL_TYPE_STRING, "", 0);
    /* propagated by the guest as its own error: HostFunctionError (17) */
    hl_error e = rt_fails(f->sb, "call_failing_propagate", HL_E_GUEST_ERROR, 17, "host_fail: ", RT_ARGS(hl_i32(12)));
    assert_string_equal(rt_after(e.message, "host_fail: "), "ABCDEFGHIJKL");
    rt_contains(e.message, "HostFunctionError");
    assert_int_equal(f->hosts.fail_calls, 3);
    /* the message of one failure does not leak into the next call */
    rt_buf_eq(rt_ok(f->sb, "call_failing", RT_ARGS(hl_i32(3))), HL_TYPE_STRING, "ABC", 3);
}

static void test_missing_and_mismatched(void **state)
{
    fixture *f = *state;
    /* a host function nobody registered: HostFunctionError (17), as Hyperlight's host answers
     * HostFunctionNotFound, with the name in the host exception */
    assert_int_equal(rt_ok(f->sb, "call_missing", RT_NOARGS).u.i32, HL_GERR_HOST_FUNCTION_ERROR);
    /* a host function that answers with the wrong type */
    f->ctl[2].wrong_type = 1;
    rt_fails(f->sb, "i64_via_host", HL_E_GUEST_ERROR, 17, "host call `host_echo_i64` failed with code 17",
             RT_ARGS(hl_i64(5)));
    f->ctl[2].wrong_type = 0;
    assert_int_equal(rt_ok(f->sb, "i64_via_host", RT_ARGS(hl_i64(5))).u.i64, 5);
    assert_int_equal(f->ctl[2].calls, 2);
}

/* A guest function that fails with the code of a call to an unregistered host function, without
 * a message of its own: the caller's error names the missing host function. */
static void test_unregistered_host_function(void **state)
{
    fixture *f = *state;
    hl_value result;
    hl_error e = HL_ERROR_INIT;
    for (int round = 0; round < 2; round++) { /* and the sandbox stays usable */
        assert_int_equal(
            hl_sandbox_call(f->sb, "call_unregistered", RT_ARGS(hl_i32(7)), &result, &e),
            HL_E_GUEST_ERROR);
        assert_int_equal(e.status, HL_E_GUEST_ERROR);
        assert_int_equal(e.guest_code, HL_GERR_HOST_FUNCTION_ERROR);
        assert_string_equal(
            e.message, "guest error 17 (HostFunctionError): guest function `call_unregistered` "
                       "failed: host function `host_not_registered` is not registered");
        assert_int_equal(rt_ok(f->sb, "add_via_host", RT_ARGS(hl_i32(40), hl_i32(2))).u.i32, 42);
    }
    /* a guest that reads the host exception itself sees the same words */
    rt_buf_eq(rt_ok(f->sb, "call_failing", RT_ARGS(hl_i32(1))), HL_TYPE_STRING, "A", 1);
    assert_int_equal(f->hosts.fail_calls, 1);
}

static void test_signature_mismatch(void **state)
{
    (void)state;
    /* host functions registered with other signatures than the guest uses */
    fixture *f = calloc(1, sizeof(*f));
    hl_config cfg;
    rt_config(&cfg, "");
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_create(&f->sb, rt_guest("callbackguest"), &cfg, &err), HL_OK);
    const hl_type i = HL_TYPE_I32, two[] = {HL_TYPE_I32, HL_TYPE_I32, HL_TYPE_I32};
    assert_int_equal(hl_sandbox_register(f->sb, "host_echo_u32", HL_TYPE_U32, &i, 1, host_echo, &f->ctl[0], &err), HL_OK);
    assert_int_equal(hl_sandbox_register(f->sb, "host_add", HL_TYPE_I32, two, 3, host_echo, &f->ctl[1], &err), HL_OK);
    assert_int_equal(hl_sandbox_register(f->sb, "host_echo_i32", HL_TYPE_I64, &i, 1, host_echo, &f->ctl[2], &err), HL_OK);
    /* registration errors */
    assert_int_equal(hl_sandbox_register(f->sb, "host_add", HL_TYPE_I32, two, 2, host_echo, NULL, &err), HL_E_INVALID_ARG);
    rt_contains(err.message, "host function `host_add` is already registered");
    hl_type bad = HL_TYPE_VOID;
    assert_int_equal(hl_sandbox_register(f->sb, "v", HL_TYPE_I32, &bad, 1, host_echo, NULL, &err), HL_E_INVALID_ARG);
    rt_contains(err.message, "parameter 1 of host function `v` has an invalid type");
    hl_type many[HL_MAX_PARAMS + 1] = {HL_TYPE_I32};
    for (int k = 0; k <= HL_MAX_PARAMS; k++)
        many[k] = HL_TYPE_I32;
    assert_int_equal(hl_sandbox_register(f->sb, "m", HL_TYPE_I32, many, HL_MAX_PARAMS + 1, host_echo, NULL, &err),
                     HL_E_INVALID_ARG);
    assert_int_equal(hl_sandbox_register(f->sb, "", HL_TYPE_I32, NULL, 0, host_echo, NULL, &err), HL_E_INVALID_ARG);
    assert_int_equal(hl_sandbox_register(f->sb, "n", HL_TYPE_I32, NULL, 0, NULL, NULL, &err), HL_E_INVALID_ARG);
    assert_int_equal(hl_sandbox_initialize(f->sb, &err), HL_OK);
    /* the guest checks the table: parameter type and count mismatches, no host call made */
    rt_fails(f->sb, "u32_via_host", HL_E_GUEST_ERROR, 14, "host call `host_echo_u32` failed with code 14",
             RT_ARGS(hl_u32(1)));
    rt_fails(f->sb, "add_via_host", HL_E_GUEST_ERROR, 5, "host_add failed (5)", RT_ARGS(hl_i32(1), hl_i32(2)));
    rt_fails(f->sb, "i32_via_host", HL_E_GUEST_ERROR, 14, "failed with code 14", RT_ARGS(hl_i32(1)));
    assert_int_equal(f->ctl[0].calls + f->ctl[1].calls + f->ctl[2].calls, 0);
    /* not registered: the host answers HostFunctionError (17) naming the function */
    rt_fails(f->sb, "f64_via_host", HL_E_GUEST_ERROR, 17,
             "host call `host_echo_f64` failed with code 17", RT_ARGS(hl_f64(1.0)));
    rt_buf_eq(rt_ok(f->sb, "call_failing", RT_ARGS(hl_i32(1))), HL_TYPE_STRING,
              "host function `host_fail` is not registered", 43);
    hl_sandbox_destroy(f->sb);
    free(f);
}

static void test_result_bounded_by_input(void **state)
{
    (void)state;
    /* a host function's result goes to the input buffer after the call message: too big is an error
     * for the guest (HostFunctionError), not an overflow */
    fixture *f = calloc(1, sizeof(*f));
    hl_config cfg;
    rt_config(&cfg, "input_data_size = 1024\n");
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_create(&f->sb, rt_guest("callbackguest"), &cfg, &err), HL_OK);
    const hl_type s = HL_TYPE_STRING;
    assert_int_equal(hl_sandbox_register(f->sb, "host_echo_string", HL_TYPE_STRING, &s, 1, host_big, &f->ctl[0], &err),
                     HL_OK);
    assert_int_equal(hl_sandbox_initialize(f->sb, &err), HL_OK);
    /* the call string_via_host("x") takes 32 + 16 = 48 bytes of input; the result (16 + 8 + len
     * and a NUL padded to 8) gets 1024 - 48 = 976 bytes: len 951 fits, 952 does not */
    f->ctl[0].calls = 951;
    hl_value v = rt_ok(f->sb, "string_via_host", RT_ARGS(hl_string("x")));
    assert_int_equal(v.u.buf.len, 951);
    f->ctl[0].calls = 952;
    rt_fails(f->sb, "string_via_host", HL_E_GUEST_ERROR, 17, "host call `host_echo_string` failed with code 17",
             RT_ARGS(hl_string("x")));
    f->ctl[0].calls = 10;
    rt_buf_eq(rt_ok(f->sb, "string_via_host", RT_ARGS(hl_string("x"))), HL_TYPE_STRING, "qqqqqqqqqq", 10);
    hl_sandbox_destroy(f->sb);
    free(f);
}

static void test_guest_prints_through_host(void **state)
{
    fixture *f = *state;
    assert_int_equal(rt_ok(f->sb, "greet", RT_ARGS(hl_string("world"))).u.i32, 0);
    assert_string_equal(f->print.text, "hello from the guest, world!\n");
    rt_ok(f->sb, "greet", RT_ARGS(hl_string("\xC3\xA9")));
    assert_string_equal(f->print.text, "hello from the guest, world!\nhello from the guest, \xC3\xA9!\n");
    assert_int_equal(f->print.chunks, 2);
}

/* A host function that calls back into its own sandbox gets HL_E_STATE instead of a deadlock. */
static int host_reenter(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    hl_sandbox *sb = *(hl_sandbox **)user;
    hl_value v;
    hl_error err = HL_ERROR_INIT;
    result->u.i32 = (int32_t)hl_sandbox_call(sb, "call_missing", NULL, 0, &v, &err);
    if (!strstr(err.message, "cannot call into its own sandbox"))
        return hl_host_call_fail(call, "unexpected: %s", err.message);
    return 0;
}

static void test_host_function_reentry_refused(void **state)
{
    hl_config cfg;
    rt_config(&cfg, "");
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("callbackguest"), &cfg, &err), HL_OK);
    const hl_type p2[] = {HL_TYPE_I32, HL_TYPE_I32};
    assert_int_equal(hl_sandbox_register(sb, "host_add", HL_TYPE_I32, p2, 2, host_reenter, &sb, &err), HL_OK);
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_OK);
    assert_int_equal(rt_ok(sb, "add_via_host", RT_ARGS(hl_i32(1), hl_i32(2))).u.i32, HL_E_STATE);
    hl_sandbox_destroy(sb);
}

/* A host function that sleeps past the call's time limit: the cancellation waits for it and none
 * of its system calls fails with EINTR. */
typedef struct sleeper {
    int nanosleep_rc, nanosleep_errno, poll_rc, poll_errno;
    double took_ms;
} sleeper;

static int host_sleep(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result,
                      void *user)
{
    sleeper *s = user;
    double t0 = rt_now_ms();
    struct timespec ts = {0, (long)args[0].u.u32 * 1000000L};
    errno = 0;
    s->nanosleep_rc = nanosleep(&ts, NULL);
    s->nanosleep_errno = errno;
    errno = 0;
    s->poll_rc = poll(NULL, 0, (int)args[0].u.u32);
    s->poll_errno = errno;
    s->took_ms = rt_now_ms() - t0;
    return 0;
}

static void test_host_function_sleeps_through_cancellation(void **state)
{
    hl_config cfg;
    rt_config(&cfg, "max_execution_time = \"50ms\"\nmax_wait_for_cancellation = \"255ms\"\n");
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("callbackguest"), &cfg, &err), HL_OK);
    sleeper s;
    const hl_type u = HL_TYPE_U32;
    assert_int_equal(
        hl_sandbox_register(sb, "host_spin", HL_TYPE_VOID, &u, 1, host_sleep, &s, &err), HL_OK);
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_OK);
    int slept = 0;
    /* under emulation the guest can take longer than the limit to reach the host call: such a
     * call is cancelled before the host function runs, and is tried again */
    for (int i = 0; i < 20 && slept < 3; i++) {
        memset(&s, 0xFF, sizeof(s));
        /* 100 ms of nanosleep and 100 of poll: past the 50 ms limit, within the 255 ms wait */
        rt_fails(sb, "call_spinning", HL_E_CANCELLED, RT_ANY_CODE, "max_execution_time (50 ms)",
                 RT_ARGS(hl_u32(100)));
        assert_true(hl_sandbox_usable(sb));
        if (s.nanosleep_rc == -1 && s.nanosleep_errno == -1)
            continue; /* the host function did not run */
        assert_int_equal(s.nanosleep_rc, 0);
        assert_int_equal(s.nanosleep_errno, 0);
        assert_int_equal(s.poll_rc, 0);
        assert_int_equal(s.poll_errno, 0);
        assert_true(s.took_ms >= 200.0);
        slept++;
    }
    assert_int_equal(slept, 3);
    hl_sandbox_destroy(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_alloc_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_and_many_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_host_function, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_mismatched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unregistered_host_function, setup, teardown),
        cmocka_unit_test(test_signature_mismatch),
        cmocka_unit_test(test_host_function_reentry_refused),
        cmocka_unit_test(test_result_bounded_by_input),
        cmocka_unit_test_setup_teardown(test_guest_prints_through_host, setup, teardown),
        cmocka_unit_test(test_host_function_sleeps_through_cancellation),
    };
    return rt_run("hostcalls", tests);
}
