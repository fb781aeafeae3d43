/* test_calls.c - guest calls: every value type echoed, printing, errors for bad calls, state, listing, lifecycle. */
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"

static int setup(void **state)
{
    *state = rt_sandbox("simpleguest", "");
    return 0;
}

static int teardown(void **state)
{
    hl_sandbox_destroy(*state);
    return 0;
}

static void test_echo_integers(void **state)
{
    hl_sandbox *sb = *state;
    const int32_t i32s[] = {INT32_MIN, INT32_MIN + 1, -1, 0, 1, 0x12345678, INT32_MAX};
    for (size_t i = 0; i < sizeof(i32s) / sizeof(i32s[0]); i++)
        assert_int_equal(rt_ok(sb, "echo_i32", RT_ARGS(hl_i32(i32s[i]))).u.i32, i32s[i]);
    const uint32_t u32s[] = {0, 1, 0x7FFFFFFFu, 0x80000000u, 0xDEADBEEFu, UINT32_MAX};
    for (size_t i = 0; i < sizeof(u32s) / sizeof(u32s[0]); i++)
        assert_int_equal(rt_ok(sb, "echo_u32", RT_ARGS(hl_u32(u32s[i]))).u.u32, u32s[i]);
    const int64_t i64s[] = {INT64_MIN, INT64_MIN + 1, -4294967296LL, -1, 0, 1, 4294967296LL, INT64_MAX};
    for (size_t i = 0; i < sizeof(i64s) / sizeof(i64s[0]); i++)
        assert_true(rt_ok(sb, "echo_i64", RT_ARGS(hl_i64(i64s[i]))).u.i64 == i64s[i]);
    const uint64_t u64s[] = {0, 1, 0xFFFFFFFFull, 0x100000000ull, 0x8000000000000000ull, UINT64_MAX};
    for (size_t i = 0; i < sizeof(u64s) / sizeof(u64s[0]); i++)
        assert_true(rt_ok(sb, "echo_u64", RT_ARGS(hl_u64(u64s[i]))).u.u64 == u64s[i]);
}

static void test_echo_floats(void **state)
{
    hl_sandbox *sb = *state;
    const float f32s[] = {0.0f, -0.0f, 1.5f, -3.25f, FLT_MIN, FLT_MAX, -FLT_MAX, FLT_TRUE_MIN, INFINITY, -INFINITY, NAN};
    for (size_t i = 0; i < sizeof(f32s) / sizeof(f32s[0]); i++) {
        float got = rt_ok(sb, "echo_f32", RT_ARGS(hl_f32(f32s[i]))).u.f32;
        assert_memory_equal(&got, &f32s[i], sizeof(float)); /* bit for bit: -0.0 and NaN too */
    }
    const double f64s[] = {0.0, -0.0, 3.141592653589793, -1e300, DBL_MIN, DBL_MAX, DBL_TRUE_MIN, INFINITY,
                           -INFINITY, NAN, -NAN};
    for (size_t i = 0; i < sizeof(f64s) / sizeof(f64s[0]); i++) {
        double got = rt_ok(sb, "echo_f64", RT_ARGS(hl_f64(f64s[i]))).u.f64;
        assert_memory_equal(&got, &f64s[i], sizeof(double));
    }
    /* a NaN with a payload keeps it */
    uint64_t bits = 0x7FF80000DEADBEEFull;
    double payload;
    memcpy(&payload, &bits, 8);
    double got = rt_ok(sb, "echo_f64", RT_ARGS(hl_f64(payload))).u.f64;
    assert_memory_equal(&got, &bits, 8);
    assert_true(signbit(rt_ok(sb, "echo_f64", RT_ARGS(hl_f64(-0.0))).u.f64));
    assert_true(signbit(rt_ok(sb, "echo_f32", RT_ARGS(hl_f32(-0.0f))).u.f32));
}

static void test_echo_bool(void **state)
{
    hl_sandbox *sb = *state;
    hl_value v = rt_ok(sb, "echo_bool", RT_ARGS(hl_bool(true)));
    assert_int_equal(v.type, HL_TYPE_BOOL);
    assert_true(v.u.b);
    assert_false(rt_ok(sb, "echo_bool", RT_ARGS(hl_bool(false))).u.b);
}

static void test_echo_strings(void **state)
{
    hl_sandbox *sb = *state;
    const char *strs[] = {"", "x", "hello, sandbox", "h\xC3\xA9llo w\xC3\xB6rld \xE2\x9C\x93 \xF0\x9F\x98\x80",
                          "tab\there\nnewline"};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        rt_buf_eq(rt_ok(sb, "echo_string", RT_ARGS(hl_string(strs[i]))), HL_TYPE_STRING, strs[i], strlen(strs[i]));
    /* an embedded NUL is data: the length counts */
    hl_value nul = hl_string("");
    nul.u.buf.ptr = "a\0b\0c";
    nul.u.buf.len = 5;
    rt_buf_eq(rt_ok(sb, "echo_string", RT_ARGS(nul)), HL_TYPE_STRING, "a\0b\0c", 5);
    /* long: 10000 bytes (the default input buffer is 16 KiB) */
    char *big = rt_pattern(10000, 3);
    rt_buf_eq(rt_ok(sb, "echo_string", RT_ARGS(hl_string(big))), HL_TYPE_STRING, big, 10000);
    free(big);
}

static void test_echo_bytes(void **state)
{
    hl_sandbox *sb = *state;
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    rt_buf_eq(rt_ok(sb, "echo_bytes", RT_ARGS(hl_bytes(all, 256))), HL_TYPE_BYTES, all, 256);
    rt_buf_eq(rt_ok(sb, "echo_bytes", RT_ARGS(hl_bytes(NULL, 0))), HL_TYPE_BYTES, "", 0);
    rt_buf_eq(rt_ok(sb, "echo_bytes", RT_ARGS(hl_bytes("\0", 1))), HL_TYPE_BYTES, "\0", 1);
    /* every length around an 8-byte boundary comes back intact */
    for (size_t n = 1; n <= 17; n++)
        rt_buf_eq(rt_ok(sb, "echo_bytes", RT_ARGS(hl_bytes(all + 255 - n, n))), HL_TYPE_BYTES, all + 255 - n, n);
    assert_int_equal(rt_ok(sb, "sum_bytes", RT_ARGS(hl_bytes(all, 256))).u.u64, 255 * 256 / 2);
}

static void test_add_and_alloc(void **state)
{
    hl_sandbox *sb = *state;
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(2), hl_i32(3))).u.i32, 5);
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(-7), hl_i32(12))).u.i32, 5);
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(INT32_MIN), hl_i32(INT32_MAX))).u.i32, -1);
    assert_int_equal(rt_ok(sb, "calloc_realloc", RT_NOARGS).u.u32, 42);
    hl_value v = rt_ok(sb, "nothing", RT_NOARGS);
    assert_int_equal(v.type, HL_TYPE_VOID);
}

static void test_print(void **state)
{
    hl_sandbox *sb = *state;
    rt_print cap = {.len = 0};
    hl_sandbox_set_print(sb, rt_print_capture, &cap);
    assert_int_equal(rt_ok(sb, "print", RT_ARGS(hl_string("hello from the test\n"))).u.i32, 20);
    assert_string_equal(cap.text, "hello from the test\n");
    assert_int_equal(cap.chunks, 1);
    const char *utf8 = "\xC3\xA9t\xC3\xA9 \xE2\x9C\x93";
    assert_int_equal(rt_ok(sb, "print", RT_ARGS(hl_string(utf8))).u.i32, (int)strlen(utf8));
    assert_string_equal(cap.text, "hello from the test\n\xC3\xA9t\xC3\xA9 \xE2\x9C\x93");
    assert_int_equal(rt_ok(sb, "print", RT_ARGS(hl_string(""))).u.i32, 0);
    /* without a print function the output is dropped, the call still works */
    hl_sandbox_set_print(sb, NULL, NULL);
    assert_int_equal(rt_ok(sb, "print", RT_ARGS(hl_string("dropped"))).u.i32, 7);
    assert_int_equal(cap.chunks, 3);
}

static void test_print_fmt(void **state)
{
    hl_sandbox *sb = *state;
    rt_print cap = {.len = 0};
    hl_sandbox_set_print(sb, rt_print_capture, &cap);
    const char *want = "int 42, neg -42, hex 0x2a, str '   ab', pad [7   ], u64 12345678901234, float 3.142\n";
    assert_int_equal(rt_ok(sb, "print_fmt", RT_ARGS(hl_i32(42), hl_u64(12345678901234ull), hl_f64(3.14159))).u.i32,
                     (int)strlen(want));
    assert_string_equal(cap.text, want);
    cap.len = 0;
    want = "int -5, neg 5, hex 0xfffffffb, str '   ab', pad [7   ], u64 18446744073709551615, float -2.500\n";
    assert_int_equal(rt_ok(sb, "print_fmt", RT_ARGS(hl_i32(-5), hl_u64(UINT64_MAX), hl_f64(-2.5))).u.i32,
                     (int)strlen(want));
    assert_string_equal(cap.text, want);
    cap.len = 0;
    want = "int 0, neg 0, hex 0, str '   ab', pad [7   ], u64 0, float 0.000\n";
    rt_ok(sb, "print_fmt", RT_ARGS(hl_i32(0), hl_u64(0), hl_f64(0.0004)));
    assert_string_equal(cap.text, want);
    hl_sandbox_set_print(sb, NULL, NULL);
}

static void test_bad_calls(void **state)
{
    hl_sandbox *sb = *state;
    hl_error e = rt_fails(sb, "no_such_function", HL_E_GUEST_ERROR, 4, "guest function `no_such_function` not found",
                          RT_NOARGS);
    rt_contains(e.message, "GuestFunctionNotFound");
    rt_fails(sb, "", HL_E_GUEST_ERROR, 3, "no guest function name given", RT_NOARGS);
    e = rt_fails(sb, "add", HL_E_GUEST_ERROR, 5, "guest function `add` takes 2 parameters, got 1", RT_ARGS(hl_i32(1)));
    rt_contains(e.message, "GuestFunctionIncorrecNoOfParameters"); /* Hyperlight's spelling */
    rt_fails(sb, "add", HL_E_GUEST_ERROR, 5, "takes 2 parameters, got 3", RT_ARGS(hl_i32(1), hl_i32(2), hl_i32(3)));
    rt_fails(sb, "get_static", HL_E_GUEST_ERROR, 5, "takes 0 parameters, got 1", RT_ARGS(hl_i32(1)));
    rt_fails(sb, "echo_i32", HL_E_GUEST_ERROR, 5, "takes 1 parameter, got 0", RT_NOARGS);
    e = rt_fails(sb, "echo_i32", HL_E_GUEST_ERROR, 14, "parameter 1 of `echo_i32` is i32, got u32", RT_ARGS(hl_u32(1)));
    rt_contains(e.message, "ParameterTypeMismatch");
    rt_fails(sb, "add", HL_E_GUEST_ERROR, 14, "parameter 2 of `add` is i32, got string",
             RT_ARGS(hl_i32(1), hl_string("2")));
    rt_fails(sb, "echo_string", HL_E_GUEST_ERROR, 14, "is string, got bytes", RT_ARGS(hl_bytes("x", 1)));
    rt_fails(sb, "echo_f64", HL_E_GUEST_ERROR, 14, "is f64, got f32", RT_ARGS(hl_f32(1.0f)));
    /* the host refuses what it cannot encode */
    hl_value bad = hl_i32(1);
    bad.type = HL_TYPE_VOID;
    rt_fails(sb, "echo_i32", HL_E_INVALID_ARG, 0, "invalid type", RT_ARGS(bad));
    hl_value many[HL_MAX_PARAMS + 1];
    for (int i = 0; i <= HL_MAX_PARAMS; i++)
        many[i] = hl_i32(i);
    rt_fails(sb, "add", HL_E_INVALID_ARG, 0, "at most 16", many, HL_MAX_PARAMS + 1);
    char longname[300];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    rt_fails(sb, longname, HL_E_INVALID_ARG, 0, "longer than 255 bytes", RT_NOARGS);
    /* and still works */
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(20), hl_i32(22))).u.i32, 42);
}

static void test_state_restored(void **state)
{
    hl_sandbox *sb = *state;
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
    hl_value v = rt_ok(sb, "set_static", RT_ARGS(hl_i64(99)));
    assert_int_equal(v.type, HL_TYPE_VOID);
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
    /* heap allocations vanish too: the heap is whole again */
    uint64_t free0 = rt_ok(sb, "heap_free", RT_NOARGS).u.u64;
    rt_ok(sb, "allocate", RT_ARGS(hl_u64(50000)));
    assert_int_equal(rt_ok(sb, "heap_free", RT_NOARGS).u.u64, free0);
}

static void test_context_keeps_state(void **state)
{
    hl_sandbox *sb = *state;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_context_end(sb, &err), HL_E_STATE);
    rt_contains(err.message, "no call context is open");
    assert_int_equal(hl_sandbox_context_begin(sb, &err), HL_OK);
    assert_int_equal(hl_sandbox_context_begin(sb, &err), HL_E_STATE);
    rt_contains(err.message, "already open");
    rt_ok(sb, "set_static", RT_ARGS(hl_i64(-123456789012LL)));
    assert_true(rt_ok(sb, "get_static", RT_NOARGS).u.i64 == -123456789012LL);
    rt_ok(sb, "set_static", RT_ARGS(hl_i64(100)));
    uint64_t free0 = rt_ok(sb, "heap_free", RT_NOARGS).u.u64;
    rt_ok(sb, "allocate", RT_ARGS(hl_u64(4000)));
    assert_true(rt_ok(sb, "heap_free", RT_NOARGS).u.u64 < free0); /* the C library took pages for it */
    /* a failing call inside the context does not undo the state either */
    rt_fails(sb, "fail_with", HL_E_GUEST_ERROR, 15, "inside", RT_ARGS(hl_i32(15), hl_string("inside")));
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 100);
    assert_int_equal(hl_sandbox_context_end(sb, &err), HL_OK);
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
    assert_true(rt_ok(sb, "heap_free", RT_NOARGS).u.u64 == free0);
    /* a second context starts from the snapshot */
    assert_int_equal(hl_sandbox_context_begin(sb, &err), HL_OK);
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
    rt_ok(sb, "set_static", RT_ARGS(hl_i64(5)));
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 5);
    assert_int_equal(hl_sandbox_context_end(sb, &err), HL_OK);
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
}

static void test_function_listing(void **state)
{
    hl_sandbox *sb = *state;
    static const char *const names[] = {
        "echo_i32", "echo_u32", "echo_i64", "echo_u64", "echo_f32", "echo_f64", "echo_bool", "echo_string",
        "echo_bytes", "add", "print", "print_fmt", "set_static", "get_static", "allocate", "heap_free",
        "calloc_realloc", "recurse", "stack_alloc", "spin", "abort_with", "panic", "fail_with", "write_readonly",
        "read_address", "huge_output", "region_size", "sum_bytes", "dirty_pages", "nothing", "divide_by_zero",
        "invalid_opcode", "breakpoint", "exec_data", "unknown_port", "triple_fault", "read_outside", "arm_breakpoint",
        "debug_register", "breakpoint_target"};
    size_t n = sizeof(names) / sizeof(names[0]);
    assert_int_equal(hl_sandbox_function_count(sb), n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(hl_sandbox_function(sb, i)->name, names[i]);
        assert_ptr_equal(hl_sandbox_find_function(sb, names[i]), hl_sandbox_function(sb, i));
    }
    assert_null(hl_sandbox_function(sb, n));
    assert_null(hl_sandbox_find_function(sb, "no_such_function"));
    assert_null(hl_sandbox_find_function(sb, "echo"));
    const hl_function_info *f = hl_sandbox_find_function(sb, "print_fmt");
    assert_int_equal(f->ret, HL_TYPE_I32);
    assert_int_equal(f->nparams, 3);
    assert_int_equal(f->params[0], HL_TYPE_I32);
    assert_int_equal(f->params[1], HL_TYPE_U64);
    assert_int_equal(f->params[2], HL_TYPE_F64);
    f = hl_sandbox_find_function(sb, "abort_with");
    assert_int_equal(f->ret, HL_TYPE_VOID);
    assert_int_equal(f->nparams, 2);
    assert_int_equal(f->params[0], HL_TYPE_U32);
    assert_int_equal(f->params[1], HL_TYPE_STRING);
    f = hl_sandbox_find_function(sb, "echo_bytes");
    assert_int_equal(f->ret, HL_TYPE_BYTES);
    assert_int_equal(f->nparams, 1);
    assert_int_equal(f->params[0], HL_TYPE_BYTES);
    f = hl_sandbox_find_function(sb, "spin");
    assert_int_equal(f->ret, HL_TYPE_VOID);
    assert_int_equal(f->nparams, 0);
    f = hl_sandbox_find_function(sb, "get_static");
    assert_int_equal(f->ret, HL_TYPE_I64);
    assert_int_equal(f->nparams, 0);
    assert_int_equal(hl_sandbox_mode(sb), rt_mode());
}

static int host_nop(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    return 0;
}

static void test_lifecycle_errors(void **state)
{
    (void)state;
    hl_config cfg;
    rt_config(&cfg, "");
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("simpleguest"), &cfg, &err), HL_OK);
    assert_int_equal(hl_sandbox_function_count(sb), 0);
    assert_true(hl_sandbox_usable(sb));
    hl_value v;
    assert_int_equal(hl_sandbox_call(sb, "add", RT_ARGS(hl_i32(1), hl_i32(2)), &v, &err), HL_E_STATE);
    assert_int_equal(err.status, HL_E_STATE);
    rt_contains(err.message, "hl_sandbox_initialize");
    assert_int_equal(hl_sandbox_context_begin(sb, &err), HL_E_STATE);
    assert_int_equal(hl_sandbox_register(sb, "host_nop", HL_TYPE_VOID, NULL, 0, host_nop, NULL, &err), HL_OK);
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "late", HL_TYPE_VOID, NULL, 0, host_nop, NULL, &err), HL_E_STATE);
    rt_contains(err.message, "host function `late` must be registered before hl_sandbox_initialize");
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_E_STATE);
    rt_contains(err.message, "already initialised");
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(1), hl_i32(2))).u.i32, 3);
    assert_int_equal(hl_sandbox_call(NULL, "add", NULL, 0, &v, &err), HL_E_INVALID_ARG);
    assert_int_equal(hl_sandbox_call(sb, NULL, NULL, 0, &v, &err), HL_E_INVALID_ARG);
    assert_int_equal(hl_sandbox_call(sb, "add", NULL, 2, &v, &err), HL_E_INVALID_ARG);
    assert_int_equal(hl_sandbox_initialize(NULL, &err), HL_E_INVALID_ARG);
    hl_sandbox_stats st = HL_SANDBOX_STATS_INIT;
    hl_sandbox_get_stats(sb, &st);
    assert_int_equal(st.calls, 1);
    hl_sandbox_destroy(sb);
    hl_sandbox_destroy(NULL);

    sb = (hl_sandbox *)&cfg;
    assert_int_equal(hl_sandbox_create(&sb, HL_BINARY_DIR "/no/such/guest", &cfg, &err), HL_E_IO);
    assert_null(sb);
    rt_contains(err.message, "cannot open guest binary");
    assert_int_equal(hl_sandbox_create_from_image(&sb, "not an ELF file at all, just text", 33, &cfg, &err), HL_E_ELF);
    assert_null(sb);
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("simpleguest"), NULL, &err), HL_E_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_echo_integers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_floats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_bool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_and_alloc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_print, setup, teardown),
        cmocka_unit_test_setup_teardown(test_print_fmt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_restored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_keeps_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_function_listing, setup, teardown),
        cmocka_unit_test(test_lifecycle_errors),
    };
    return rt_run("calls", tests);
}
