/* test_capi.c - a guest written against Hyperlight's C guest API (capiguest): every entry point,
 * both modes. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"

/* The panic context is at its minimum (256 bytes), so an abort message keeps 256 - 8 - 1 bytes
 * and the whole of it fits in an hl_error. */
#define PANIC_CONTEXT     256
#define ABORT_MESSAGE_MAX (PANIC_CONTEXT - 8 - 1)

typedef struct fixture {
    hl_sandbox *sb;
    rt_print print;
    unsigned echo_calls;
    int32_t void_arg;
    unsigned void_calls;
} fixture;

static int host_echo(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result,
                     void *user)
{
    fixture *f = user;
    f->echo_calls++;
    *result = args[0];
    return 0;
}

static int host_void(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result,
                     void *user)
{
    fixture *f = user;
    f->void_arg = args[0].u.i32;
    f->void_calls++;
    return 0;
}

static int host_fail(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result,
                     void *user)
{
    return hl_host_call_fail(call, "host says no to %d", args[0].u.i32);
}

/* HostArgs11: the eleven values as one string. */
static int host_args11(hl_host_call *call, const hl_value *a, size_t nargs, hl_value *result,
                       void *user)
{
    char *s = hl_host_call_alloc(call, 512);
    int n = snprintf(s, 512, "host: %s %d %lld %s %s %d %d %u %llu %d %.3f",
                     (const char *)a[0].u.buf.ptr, a[1].u.i32, (long long)a[2].u.i64,
                     (const char *)a[3].u.buf.ptr, (const char *)a[4].u.buf.ptr, a[5].u.b, a[6].u.b,
                     a[7].u.u32, (unsigned long long)a[8].u.u64, a[9].u.i32, a[10].u.f32);
    result->u.buf.ptr = s;
    result->u.buf.len = (size_t)n;
    return 0;
}

static const struct {
    const char *name;
    hl_type type;
} echoes[] = {
    {"HostEchoInt", HL_TYPE_I32},     {"HostEchoUInt", HL_TYPE_U32},
    {"HostEchoLong", HL_TYPE_I64},    {"HostEchoULong", HL_TYPE_U64},
    {"HostEchoFloat", HL_TYPE_F32},   {"HostEchoDouble", HL_TYPE_F64},
    {"HostEchoBool", HL_TYPE_BOOL},   {"HostEchoString", HL_TYPE_STRING},
    {"HostEchoBytes", HL_TYPE_BYTES},
};

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    hl_config cfg;
    rt_config(&cfg, "guest_panic_context_buffer_size = 256\n");
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_create(&f->sb, rt_guest("capiguest"), &cfg, &err), HL_OK);
    for (size_t i = 0; i < sizeof(echoes) / sizeof(echoes[0]); i++) {
        hl_type t = echoes[i].type;
        assert_int_equal(hl_sandbox_register(f->sb, echoes[i].name, t, &t, 1, host_echo, f, &err),
                         HL_OK);
    }
    hl_type i32 = HL_TYPE_I32;
    assert_int_equal(
        hl_sandbox_register(f->sb, "HostVoid", HL_TYPE_VOID, &i32, 1, host_void, f, &err), HL_OK);
    assert_int_equal(
        hl_sandbox_register(f->sb, "HostFail", HL_TYPE_I32, &i32, 1, host_fail, f, &err), HL_OK);
    const hl_type p11[] = {HL_TYPE_STRING, HL_TYPE_I32,  HL_TYPE_I64,  HL_TYPE_STRING,
                           HL_TYPE_STRING, HL_TYPE_BOOL, HL_TYPE_BOOL, HL_TYPE_U32,
                           HL_TYPE_U64,    HL_TYPE_I32,  HL_TYPE_F32};
    assert_int_equal(
        hl_sandbox_register(f->sb, "HostArgs11", HL_TYPE_STRING, p11, 11, host_args11, f, &err),
        HL_OK);
    hl_sandbox_set_print(f->sb, rt_print_capture, &f->print);
    if (hl_sandbox_initialize(f->sb, &err) != HL_OK) fail_msg("initialize: %s", err.message);
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

/* The text after "guest error N (Name): " of a call that must fail with that code. */
static char g_text[HL_ERROR_MESSAGE_MAX];
#define guest_error(sb, fn, code, ...)                                                             \
    guest_error_at(__FILE__, __LINE__, (sb), (fn), (code), __VA_ARGS__)
static const char *guest_error_at(const char *file, int line, hl_sandbox *sb, const char *fn,
                                  unsigned code, const hl_value *args, size_t n)
{
    hl_error e = rt_fails_at(file, line, sb, fn, HL_E_GUEST_ERROR, code, "guest error ", args, n);
    snprintf(g_text, sizeof(g_text), "%s", rt_after_at(file, line, e.message, "): "));
    return g_text;
}

/* Registration: each function is in the table the host reads, with Hyperlight's types mapped. */
static void test_signatures(void **state)
{
    fixture *f = *state;
    const hl_function_info *fi = hl_sandbox_find_function(f->sb, "Echo");
    assert_non_null(fi);
    assert_int_equal(fi->ret, HL_TYPE_STRING);
    assert_int_equal(fi->nparams, 1);
    assert_int_equal(fi->params[0], HL_TYPE_STRING);
    fi = hl_sandbox_find_function(f->sb, "Args11");
    assert_non_null(fi);
    const hl_type p11[] = {HL_TYPE_STRING, HL_TYPE_I32,  HL_TYPE_I64,  HL_TYPE_STRING,
                           HL_TYPE_STRING, HL_TYPE_BOOL, HL_TYPE_BOOL, HL_TYPE_U32,
                           HL_TYPE_U64,    HL_TYPE_I32,  HL_TYPE_F32};
    assert_int_equal(fi->nparams, 11);
    assert_memory_equal(fi->params, p11, sizeof(p11));
    fi = hl_sandbox_find_function(f->sb, "SetByteArrayToZero");
    assert_non_null(fi);
    assert_int_equal(fi->ret, HL_TYPE_BYTES);
    assert_int_equal(fi->params[0], HL_TYPE_BYTES);
    assert_int_equal(hl_sandbox_find_function(f->sb, "DoNothing")->ret, HL_TYPE_VOID);
    assert_int_equal(hl_sandbox_find_function(f->sb, "Twelve")->nparams, 12);
    assert_null(hl_sandbox_find_function(f->sb, "ThisIsNotARealFunctionButTheNameIsImportant"));
    /* "Replaced" was registered twice with one signature: listed once, the second function runs */
    size_t replaced = 0;
    for (size_t i = 0; i < hl_sandbox_function_count(f->sb); i++)
        replaced += strcmp(hl_sandbox_function(f->sb, i)->name, "Replaced") == 0;
    assert_int_equal(replaced, 1);
    assert_int_equal(rt_ok(f->sb, "Replaced", RT_NOARGS).u.i32, 2);
}

static void test_every_type(void **state)
{
    hl_sandbox *sb = ((fixture *)*state)->sb;
    const char *s = "h\xC3\xA9llo \xF0\x9F\x98\x80";
    rt_buf_eq(rt_ok(sb, "Echo", RT_ARGS(hl_string(s))), HL_TYPE_STRING, s, strlen(s));
    rt_buf_eq(rt_ok(sb, "Echo", RT_ARGS(hl_string(""))), HL_TYPE_STRING, "", 0);
    assert_int_equal(rt_ok(sb, "EchoInt", RT_ARGS(hl_i32(INT32_MIN))).u.i32, INT32_MIN);
    assert_int_equal(rt_ok(sb, "EchoUInt", RT_ARGS(hl_u32(UINT32_MAX))).u.u32, UINT32_MAX);
    assert_true(rt_ok(sb, "EchoLong", RT_ARGS(hl_i64(INT64_MIN))).u.i64 == INT64_MIN);
    assert_true(rt_ok(sb, "EchoULong", RT_ARGS(hl_u64(UINT64_MAX))).u.u64 == UINT64_MAX);
    const float f32s[] = {-0.0f, 1.5f, FLT_MAX, FLT_TRUE_MIN, INFINITY};
    for (size_t i = 0; i < 5; i++) {
        hl_value v = rt_ok(sb, "EchoFloat", RT_ARGS(hl_f32(f32s[i])));
        assert_int_equal(v.type, HL_TYPE_F32);
        assert_memory_equal(&v.u.f32, &f32s[i], 4);
    }
    const double f64s[] = {-0.0, 0.1, DBL_MAX, DBL_TRUE_MIN, -INFINITY};
    for (size_t i = 0; i < 5; i++) {
        hl_value v = rt_ok(sb, "EchoDouble", RT_ARGS(hl_f64(f64s[i])));
        assert_int_equal(v.type, HL_TYPE_F64);
        assert_memory_equal(&v.u.f64, &f64s[i], 8);
    }
    hl_value b = rt_ok(sb, "EchoBool", RT_ARGS(hl_bool(true)));
    assert_int_equal(b.type, HL_TYPE_BOOL);
    assert_true(b.u.b);
    assert_false(rt_ok(sb, "EchoBool", RT_ARGS(hl_bool(false))).u.b);
}

static void test_bytes_and_void(void **state)
{
    hl_sandbox *sb = ((fixture *)*state)->sb;
    uint8_t all[256], zeros[256] = {0};
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    rt_buf_eq(rt_ok(sb, "SetByteArrayToZero", RT_ARGS(hl_bytes(all, 256))), HL_TYPE_BYTES, zeros,
              256);
    rt_buf_eq(rt_ok(sb, "GetSizePrefixedBuffer", RT_ARGS(hl_bytes(all, 256))), HL_TYPE_BYTES, all,
              256);
    rt_buf_eq(rt_ok(sb, "GetSizePrefixedBuffer", RT_ARGS(hl_bytes(all, 0))), HL_TYPE_BYTES, "", 0);
    rt_buf_eq(rt_ok(sb, "SetByteArrayToZero", RT_ARGS(hl_bytes(all, 0))), HL_TYPE_BYTES, "", 0);
    hl_value n = rt_ok(sb, "BytesLen", RT_ARGS(hl_bytes(all, 200)));
    assert_int_equal(n.type, HL_TYPE_U64);
    assert_int_equal(n.u.u64, 200);
    assert_int_equal(rt_ok(sb, "DoNothing", RT_NOARGS).type, HL_TYPE_VOID);
    assert_int_equal(rt_ok(sb, "VoidDirect", RT_NOARGS).type, HL_TYPE_VOID);
}

/* 0 to 11 parameters, in the order of Hyperlight's PrintElevenArgs. */
static void test_arity(void **state)
{
    hl_sandbox *sb = ((fixture *)*state)->sb;
    const hl_value a[11] = {hl_string("hi"),   hl_i32(-2),          hl_i64(-3000000000LL),
                            hl_string("four"), hl_string(""),       hl_bool(true),
                            hl_bool(false),    hl_u32(4000000000u), hl_u64(UINT64_MAX),
                            hl_i32(INT32_MIN), hl_f32(3.25f)};
    const char *tail[11] = {" arg1:hi",           " arg2:-2",         " arg3:-3000000000",
                            " arg4:four",         " arg5:",           " arg6:true",
                            " arg7:false",        " arg8:4000000000", " arg9:18446744073709551615",
                            " arg10:-2147483648", " arg11:3250e-3"};
    char name[16], want[512] = "Message:";
    for (size_t n = 0; n <= 11; n++) {
        if (n) strcat(want, tail[n - 1]);
        snprintf(name, sizeof(name), "Args%zu", n);
        char expect[520];
        snprintf(expect, sizeof(expect), "%s.", want);
        rt_buf_eq(rt_ok_at(__FILE__, __LINE__, sb, name, n ? a : NULL, n), HL_TYPE_STRING, expect,
                  strlen(expect));
    }
}

/* Argument checks with Hyperlight's codes and messages. */
static void test_argument_errors(void **state)
{
    hl_sandbox *sb = ((fixture *)*state)->sb;
    assert_string_equal(guest_error(sb, "Echo", 5, RT_ARGS(hl_string("a"), hl_string("b"))),
                        "Called function Echo with 2 parameters but it takes 1.");
    assert_string_equal(guest_error(sb, "Echo", 5, RT_NOARGS),
                        "Called function Echo with 0 parameters but it takes 1.");
    assert_string_equal(
        guest_error(sb, "Echo", 14, RT_ARGS(hl_i32(1))),
        "Expected parameter type String for parameter index 0 of function Echo but got Int.");
    assert_string_equal(
        guest_error(sb, "Args3", 14, RT_ARGS(hl_string("a"), hl_i32(1), hl_u64(2))),
        "Expected parameter type Long for parameter index 2 of function Args3 but got ULong.");
    assert_string_equal(guest_error(sb, "BytesLen", 14, RT_ARGS(hl_string("a"))),
                        "Expected parameter type VecBytes for parameter index 0 of function "
                        "BytesLen but got String.");
    assert_string_equal(
        guest_error(sb, "EchoBool", 14, RT_ARGS(hl_f64(1))),
        "Expected parameter type Bool for parameter index 0 of function EchoBool but got Double.");
    hl_value twelve[12];
    for (int i = 0; i < 12; i++)
        twelve[i] = hl_i32(i);
    assert_string_equal(guest_error(sb, "Args11", 15, twelve, 12),
                        "Function Args11 has too many parameters: 12 (max allowed is 11).");
    assert_string_equal(guest_error(sb, "Twelve", 15, twelve, 12),
                        "Function Twelve has too many parameters: 12 (max allowed is 11).");
    assert_string_equal(guest_error(sb, "Twelve", 5, twelve, 11),
                        "Called function Twelve with 11 parameters but it takes 12.");
    assert_int_equal(rt_ok(sb, "EchoInt", RT_ARGS(hl_i32(5))).u.i32, 5); /* the sandbox is fine */
}

static void test_set_error_and_bad_results(void **state)
{
    hl_sandbox *sb = ((fixture *)*state)->sb;
    assert_string_equal(
        guest_error(sb, "SetErrorAndReturn", 15, RT_ARGS(hl_i32(15), hl_string("it failed"))),
        "it failed");
    assert_string_equal(
        guest_error(sb, "SetErrorAndReturn", 13, RT_ARGS(hl_i32(13), hl_string(""))), "");
    assert_int_equal(
        rt_ok(sb, "SetErrorAndReturn", RT_ARGS(hl_i32(0), hl_string("no error"))).u.i32, 42);
    assert_string_equal(guest_error(sb, "CallMalloc", 15, RT_ARGS(hl_i32(-1))), "Malloc Failed");
    assert_int_equal(rt_ok(sb, "CallMalloc", RT_ARGS(hl_i32(4096))).u.i32, 4096);
    assert_string_equal(guest_error(sb, "ReturnsNull", 15, RT_ARGS(hl_i32(1))),
                        "C guest function \"ReturnsNull\" returned null");
    assert_string_equal(guest_error(sb, "WrongResultType", 15, RT_NOARGS),
                        "C guest function \"WrongResultType\" returned String, but it is "
                        "registered as returning Int");
    assert_string_equal(
        guest_error(sb, "ForeignResult", 15, RT_NOARGS),
        "C guest function \"ForeignResult\" returned a value that no hl_flatbuffer_result_from_* "
        "function made");
}

static void test_aborts(void **state)
{
    hl_sandbox *sb = ((fixture *)*state)->sb;
    hl_error e = rt_fails(sb, "GuestAbortWithCode", HL_E_GUEST_ABORT, 7, NULL, RT_ARGS(hl_i32(7)));
    assert_string_equal(e.message,
                        "the guest aborted the call to `GuestAbortWithCode` with code 7: ");
    /* Hyperlight sends the code as one byte */
    rt_fails(sb, "GuestAbortWithCode", HL_E_GUEST_ABORT, 0x34,
             "with code 52: ", RT_ARGS(hl_i32(0x1234)));
    rt_fails(sb, "GuestAbortWithCode", HL_E_GUEST_ABORT, 255,
             "with code 255: ", RT_ARGS(hl_i32(-1)));
    e = rt_fails(sb, "GuestAbortWithMessage", HL_E_GUEST_ABORT, 9, NULL,
                 RT_ARGS(hl_i32(9), hl_string("bye \xE2\x9C\x97")));
    assert_string_equal(
        e.message,
        "the guest aborted the call to `GuestAbortWithMessage` with code 9: bye \xE2\x9C\x97");
    /* a message longer than the panic context is cut to fit it, exactly */
    char *big = rt_pattern(5000, 0);
    e = rt_fails(sb, "GuestAbortWithMessage", HL_E_GUEST_ABORT, 200, NULL,
                 RT_ARGS(hl_i32(200), hl_string(big)));
    const char *msg = rt_after(e.message, "with code 200: ");
    assert_int_equal(strlen(msg), ABORT_MESSAGE_MAX);
    assert_memory_equal(msg, big, ABORT_MESSAGE_MAX);
    free(big);
    assert_int_equal(rt_ok(sb, "EchoInt", RT_ARGS(hl_i32(3))).u.i32, 3); /* the sandbox is fine */
}

static void test_log(void **state)
{
    fixture *f = *state;
    static const char *const levels[] = {"LOG", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "LOG"};
    for (int64_t level = 0; level <= 6; level++) {
        f->print.len = 0;
        assert_int_equal(
            rt_ok(f->sb, "LogAt",
                  RT_ARGS(hl_string("a message"), hl_i64(level), hl_i32(42), hl_string("x/y.c")))
                .u.i32,
            42);
        char want[128];
        snprintf(want, sizeof(want), "%s: a message (x/y.c:42)\n", levels[level]);
        assert_int_equal(f->print.len, strlen(want));
        assert_memory_equal(f->print.text, want, strlen(want));
    }
    /* the LOG macro passes the guest's own __FILE__ and __LINE__ */
    f->print.len = 0;
    assert_int_equal(rt_ok(f->sb, "LogMessage", RT_ARGS(hl_string("hello"), hl_i64(3))).u.i64, 3);
    f->print.text[f->print.len] = 0;
    assert_memory_equal(f->print.text, "INFO: hello (", 13);
    rt_contains(f->print.text, "capiguest.c:");
    assert_int_equal(f->print.text[f->print.len - 2], ')');
    assert_int_equal(f->print.text[f->print.len - 1], '\n');
}

/* c_guest_dispatch_function serves names that are not registered; NULL is "not found". */
static void test_fallback(void **state)
{
    hl_sandbox *sb = ((fixture *)*state)->sb;
    hl_value v = rt_ok(sb, "ThisIsNotARealFunctionButTheNameIsImportant", RT_NOARGS);
    assert_int_equal(v.type, HL_TYPE_I32);
    assert_int_equal(v.u.i32, 99);
    const char *want =
        "Message: FallbackDescribe ret=8 arg1:Int arg2:UInt arg3:Long arg4:ULong arg5:Float "
        "arg6:Double arg7:String arg8:Bool arg9:VecBytes.";
    rt_buf_eq(rt_ok(sb, "FallbackDescribe",
                    RT_ARGS(hl_i32(1), hl_u32(2), hl_i64(3), hl_u64(4), hl_f32(5), hl_f64(6),
                            hl_string("7"), hl_bool(true), hl_bytes("9", 1))),
              HL_TYPE_STRING, want, strlen(want));
    rt_buf_eq(rt_ok(sb, "FallbackBytes", RT_ARGS(hl_bytes("\0\1\2", 3))), HL_TYPE_BYTES, "\0\1\2",
              3);
    assert_string_equal(guest_error(sb, "NotThere", 4, RT_ARGS(hl_i32(1))), "NotThere");
    assert_string_equal(guest_error(sb, "FallbackBytes", 4, RT_ARGS(hl_string("not bytes"))),
                        "FallbackBytes");
}

static void test_host_calls(void **state)
{
    fixture *f = *state;
    hl_sandbox *sb = f->sb;
    assert_int_equal(rt_ok(sb, "HostInt", RT_ARGS(hl_i32(INT32_MIN))).u.i32, INT32_MIN);
    assert_int_equal(rt_ok(sb, "HostUInt", RT_ARGS(hl_u32(UINT32_MAX))).u.u32, UINT32_MAX);
    assert_true(rt_ok(sb, "HostLong", RT_ARGS(hl_i64(INT64_MIN))).u.i64 == INT64_MIN);
    assert_true(rt_ok(sb, "HostULong", RT_ARGS(hl_u64(UINT64_MAX))).u.u64 == UINT64_MAX);
    float fl = rt_ok(sb, "HostFloat", RT_ARGS(hl_f32(-2.5f))).u.f32;
    assert_true(fl == -2.5f);
    double db = rt_ok(sb, "HostDouble", RT_ARGS(hl_f64(DBL_TRUE_MIN))).u.f64;
    assert_true(db == DBL_TRUE_MIN);
    assert_true(rt_ok(sb, "HostBool", RT_ARGS(hl_bool(true))).u.b);
    assert_false(rt_ok(sb, "HostBool", RT_ARGS(hl_bool(false))).u.b);
    rt_buf_eq(rt_ok(sb, "HostString", RT_ARGS(hl_string("round trip"))), HL_TYPE_STRING,
              "round trip", 10);
    rt_buf_eq(rt_ok(sb, "HostString", RT_ARGS(hl_string(""))), HL_TYPE_STRING, "", 0);
    rt_buf_eq(rt_ok(sb, "HostBytes", RT_ARGS(hl_bytes("\xFF\0\x01", 3))), HL_TYPE_BYTES,
              "\xFF\0\x01", 3);
    rt_buf_eq(rt_ok(sb, "HostBytes", RT_ARGS(hl_bytes("", 0))), HL_TYPE_BYTES, "", 0);
    assert_int_equal(f->echo_calls, 12);
    assert_int_equal(rt_ok(sb, "HostVoidCall", RT_ARGS(hl_i32(41))).u.i32, 42);
    assert_int_equal(f->void_calls, 1);
    assert_int_equal(f->void_arg, 41);
    const char *want = "host: s -1 -9000000000 t u 1 0 7 18446744073709551615 -5 0.125";
    rt_buf_eq(rt_ok(sb, "HostArgs11Call",
                    RT_ARGS(hl_string("s"), hl_i32(-1), hl_i64(-9000000000LL), hl_string("t"),
                            hl_string("u"), hl_bool(true), hl_bool(false), hl_u32(7),
                            hl_u64(UINT64_MAX), hl_i32(-5), hl_f32(0.125f))),
              HL_TYPE_STRING, want, strlen(want));
}

/* A failed host call or a misused result ends the guest call with a panic, as Hyperlight's
 * expect(). */
static void test_host_call_failures(void **state)
{
    hl_sandbox *sb = ((fixture *)*state)->sb;
    const char *p = "the guest panicked in the call to `";
    hl_error e =
        rt_fails(sb, "HostFailCall", HL_E_GUEST_PANIC, HL_PANIC_CODE, p, RT_ARGS(hl_i32(3)));
    assert_string_equal(rt_after(e.message, "`: "),
                        "Failed to call host function \"HostFail\": host says no to 3");
    e = rt_fails(sb, "HostMissingCall", HL_E_GUEST_PANIC, HL_PANIC_CODE, p, RT_ARGS(hl_i32(3)));
    assert_string_equal(
        rt_after(e.message, "`: "),
        "Failed to call host function \"NoSuchHostFunction\": host function `NoSuchHostFunction` "
        "is not registered");
    e = rt_fails(sb, "HostWrongReturn", HL_E_GUEST_PANIC, HL_PANIC_CODE, p, RT_ARGS(hl_i32(3)));
    assert_string_equal(
        rt_after(e.message, "`: "),
        "Failed to call host function \"HostEchoInt\": parameter or return type mismatch");
    e = rt_fails(sb, "GetTwice", HL_E_GUEST_PANIC, HL_PANIC_CODE, p, RT_ARGS(hl_i32(3)));
    assert_string_equal(rt_after(e.message, "`: "), "Unable to get host return value as int");
    e = rt_fails(sb, "GetWrongType", HL_E_GUEST_PANIC, HL_PANIC_CODE, p, RT_ARGS(hl_i32(3)));
    assert_string_equal(rt_after(e.message, "`: "), "Unable to get host return value as long");
    assert_int_equal(rt_ok(sb, "HostInt", RT_ARGS(hl_i32(8))).u.i32, 8); /* the sandbox is fine */
}

/* Inside a call context (no restore between calls) results, host values and errors do not leak
 * from one call into the next. */
static void test_context(void **state)
{
    hl_sandbox *sb = ((fixture *)*state)->sb;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_context_begin(sb, &err), HL_OK);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(rt_ok(sb, "HostInt", RT_ARGS(hl_i32(i))).u.i32, i);
        rt_buf_eq(rt_ok(sb, "Echo", RT_ARGS(hl_string("again"))), HL_TYPE_STRING, "again", 5);
    }
    assert_string_equal(
        guest_error(sb, "SetErrorAndReturn", 15, RT_ARGS(hl_i32(15), hl_string("once"))), "once");
    assert_int_equal(rt_ok(sb, "EchoInt", RT_ARGS(hl_i32(1))).u.i32, 1);
    assert_int_equal(hl_sandbox_context_end(sb, &err), HL_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_signatures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytes_and_void, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_argument_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_error_and_bad_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aborts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_call_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context, setup, teardown),
    };
    return rt_run("capi", tests);
}
