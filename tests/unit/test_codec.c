/* test_codec.c - unit tests of the call/result codec: round trips, exact limits, hostile guest buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hyperlight/abi.h"
#include "sandbox/codec.h"

/* A heap copy of exactly n bytes, so that ASan reports any read past what the guest wrote. */
static uint8_t *exact(const void *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    if (n)
        memcpy(c, p, n);
    return c;
}

static void put32(uint8_t *p, size_t off, uint32_t v) { memcpy(p + off, &v, 4); }

static void assert_value_equal(const hl_value *a, const hl_value *b)
{
    assert_int_equal(a->type, b->type);
    switch (a->type) {
    case HL_TYPE_VOID: break;
    case HL_TYPE_I32: assert_int_equal(a->u.i32, b->u.i32); break;
    case HL_TYPE_U32: assert_int_equal(a->u.u32, b->u.u32); break;
    case HL_TYPE_I64: assert_true(a->u.i64 == b->u.i64); break;
    case HL_TYPE_U64: assert_true(a->u.u64 == b->u.u64); break;
    case HL_TYPE_F32: assert_memory_equal(&a->u.f32, &b->u.f32, 4); break;
    case HL_TYPE_F64: assert_memory_equal(&a->u.f64, &b->u.f64, 8); break;
    case HL_TYPE_BOOL: assert_int_equal(a->u.b, b->u.b); break;
    default:
        assert_int_equal(a->u.buf.len, b->u.buf.len);
        if (a->u.buf.len)
            assert_memory_equal(a->u.buf.ptr, b->u.buf.ptr, a->u.buf.len);
        if (a->type == HL_TYPE_STRING)
            assert_int_equal(((const char *)b->u.buf.ptr)[b->u.buf.len], 0);
    }
}

static const uint8_t blob[] = {0, 1, 2, 0, 0xFF, 0x80, 7};

/* One value of every type, edge values included. */
static size_t all_values(hl_value *v)
{
    size_t n = 0;
    v[n++] = hl_i32(-5);
    v[n++] = hl_u32(0xFFFFFFFFu);
    v[n++] = hl_i64(INT64_MIN);
    v[n++] = hl_u64(UINT64_MAX);
    v[n++] = hl_f32(-1.5f);
    v[n++] = hl_f64(3.141592653589793);
    v[n++] = hl_bool(true);
    v[n++] = hl_bool(false);
    v[n++] = hl_string("h\xc3\xa9llo, world");
    v[n++] = hl_string("");
    v[n++] = hl_bytes(blob, sizeof(blob));
    v[n++] = hl_bytes(NULL, 0);
    v[n++] = hl_string("1234567"); /* 7 bytes + NUL: exactly 8, no padding */
    v[n++] = hl_i32(INT32_MIN);
    v[n++] = hl_f64(-0.0);
    v[n++] = hl_u64(0);
    return n;
}

static void test_call_round_trip(void **state)
{
    (void)state;
    hl_value args[HL_MAX_PARAMS];
    size_t n = all_values(args);
    assert_int_equal(n, HL_MAX_PARAMS);
    uint64_t need = hl_codec_call_size("EchoEverything", args, n);
    uint8_t *buf = calloc(1, need);
    uint64_t len = 0;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_codec_write_call(buf, need, "EchoEverything", args, n, "input_data_size", &len, &err), HL_OK);
    assert_int_equal(len, need);
    /* the header and the name, exactly */
    hl_msg_call c;
    memcpy(&c, buf, sizeof(c));
    assert_int_equal(c.magic, HL_MSG_CALL_MAGIC);
    assert_int_equal(c.total_len, need);
    assert_int_equal(c.name_len, 14);
    assert_int_equal(c.argc, n);
    assert_memory_equal(buf + 16, "EchoEverything\0\0", 16);
    /* first value: i32 -5 sign-extended into 8 bytes */
    hl_msg_value h;
    memcpy(&h, buf + 32, sizeof(h));
    assert_int_equal(h.type, HL_TYPE_I32);
    assert_int_equal(h.len, 8);
    uint64_t raw;
    memcpy(&raw, buf + 40, 8);
    assert_true(raw == (uint64_t)(int64_t)-5);
    hl_buf store = {0};
    const char *name = NULL;
    hl_value out[HL_MAX_PARAMS];
    size_t nout = 0;
    assert_int_equal(hl_codec_read_call(buf, need, &store, &name, out, &nout, &err), HL_OK);
    assert_string_equal(name, "EchoEverything");
    assert_int_equal(nout, n);
    for (size_t i = 0; i < n; i++)
        assert_value_equal(&args[i], &out[i]);
    /* decoded data lives in the store, not in the guest's buffer */
    assert_true((const uint8_t *)out[8].u.buf.ptr >= store.data && (const uint8_t *)out[8].u.buf.ptr < store.data + store.len);
    /* a call with no arguments: header + name only */
    assert_int_equal(hl_codec_call_size("f", NULL, 0), 24);
    assert_int_equal(hl_codec_write_call(buf, 24, "f", NULL, 0, "input_data_size", &len, &err), HL_OK);
    assert_int_equal(hl_codec_read_call(buf, 24, &store, &name, out, &nout, &err), HL_OK);
    assert_string_equal(name, "f");
    assert_int_equal(nout, 0);
    hl_buf_free(&store);
    assert_null(store.data);
    free(buf);
}

static void test_result_round_trip(void **state)
{
    (void)state;
    hl_value vals[HL_MAX_PARAMS + 1];
    size_t n = all_values(vals);
    vals[n++] = (hl_value){.type = HL_TYPE_VOID};
    hl_buf store = {0};
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[256];
        hl_error err = HL_ERROR_INIT;
        memset(buf, 0xEE, sizeof(buf));
        assert_int_equal(hl_codec_write_result(buf, sizeof(buf), 0, &vals[i], "output_data_size", &err), HL_OK);
        hl_msg_result r;
        memcpy(&r, buf, sizeof(r));
        assert_int_equal(r.magic, HL_MSG_RESULT_MAGIC);
        assert_int_equal(r.status, 0);
        uint8_t *g = exact(buf, r.total_len);
        uint32_t status = 99;
        hl_value out;
        assert_int_equal(hl_codec_read_result(g, r.total_len, &store, &status, &out, &err), HL_OK);
        assert_int_equal(status, 0);
        assert_value_equal(&vals[i], &out);
        free(g);
    }
    /* an error status carries no value: 16 bytes */
    uint8_t buf[16];
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_codec_write_result(buf, 16, HL_GERR_FUNCTION_NOT_FOUND, NULL, "output_data_size", &err), HL_OK);
    uint32_t status = 0;
    hl_value out = hl_i32(77);
    assert_int_equal(hl_codec_read_result(buf, 16, &store, &status, &out, &err), HL_OK);
    assert_int_equal(status, HL_GERR_FUNCTION_NOT_FOUND);
    assert_int_equal(out.u.i32, 77); /* untouched */
    hl_buf_free(&store);
}

static void test_limits(void **state)
{
    (void)state;
    hl_value args[2] = {hl_string("0123456789abcdef"), hl_u64(1)};
    uint64_t need = hl_codec_call_size("Fn", args, 2);
    assert_int_equal(need, 24 + 8 + 24 + 16);
    uint8_t *buf = malloc(need);
    uint64_t len;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_codec_write_call(buf, need, "Fn", args, 2, "input_data_size", &len, &err), HL_OK);
    assert_int_equal(hl_codec_write_call(buf, need - 1, "Fn", args, 2, "input_data_size", &len, &err), HL_E_TOO_LARGE);
    assert_int_equal(err.status, HL_E_TOO_LARGE);
    assert_non_null(strstr(err.message, "needs 72 bytes, more than input_data_size (71 bytes): raise input_data_size"));
    assert_int_equal(hl_codec_write_call(buf, need - 1, "Fn", args, 2, "output_data_size", &len, &err), HL_E_TOO_LARGE);
    assert_non_null(strstr(err.message, "raise output_data_size"));
    /* results */
    hl_value s = hl_string("abc");
    assert_int_equal(hl_codec_write_result(buf, 32, 0, &s, "output_data_size", &err), HL_OK);
    assert_int_equal(hl_codec_write_result(buf, 31, 0, &s, "output_data_size", &err), HL_E_TOO_LARGE);
    assert_non_null(strstr(err.message, "a result of 32 bytes does not fit in output_data_size (31 bytes)"));
    assert_int_equal(hl_codec_write_result(buf, 15, 5, NULL, "input_data_size", &err), HL_E_TOO_LARGE);
    assert_non_null(strstr(err.message, "raise input_data_size"));
    /* function tables: 16 + 32 per entry + names */
    hl_function_info fns[2] = {{.name = "add", .ret = HL_TYPE_I32, .nparams = 2, .params = {HL_TYPE_I32, HL_TYPE_I32}},
                               {.name = "log", .ret = HL_TYPE_VOID, .nparams = 1, .params = {HL_TYPE_STRING}}};
    uint8_t *tbl = malloc(88);
    assert_int_equal(hl_codec_write_fn_table(tbl, 88, HL_MSG_HOSTFN_MAGIC, fns, 2, "function_definition_size", &err), HL_OK);
    free(tbl);
    assert_int_equal(hl_codec_write_fn_table(buf, 87, HL_MSG_HOSTFN_MAGIC, fns, 2, "function_definition_size", &err),
                     HL_E_TOO_LARGE);
    assert_non_null(strstr(err.message, "needs 88 bytes, more than function_definition_size (87 bytes)"));
    free(buf);
    /* caller mistakes: INVALID_ARG */
    char longname[HL_MAX_NAME_LEN + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    uint8_t big[1024];
    assert_int_equal(hl_codec_write_call(big, sizeof(big), longname, NULL, 0, "input_data_size", &len, &err), HL_E_INVALID_ARG);
    longname[HL_MAX_NAME_LEN] = 0;
    assert_int_equal(hl_codec_write_call(big, sizeof(big), longname, NULL, 0, "input_data_size", &len, &err), HL_OK);
    hl_value many[HL_MAX_PARAMS + 1];
    for (int i = 0; i <= HL_MAX_PARAMS; i++)
        many[i] = hl_i32(i);
    assert_int_equal(hl_codec_write_call(big, sizeof(big), "f", many, HL_MAX_PARAMS + 1, "input_data_size", &len, &err),
                     HL_E_INVALID_ARG);
    hl_value v = {.type = HL_TYPE_VOID};
    assert_int_equal(hl_codec_write_call(big, sizeof(big), "f", &v, 1, "input_data_size", &len, &err), HL_E_INVALID_ARG);
    v.type = (hl_type)HL_TYPE_COUNT;
    assert_int_equal(hl_codec_write_call(big, sizeof(big), "f", &v, 1, "input_data_size", &len, &err), HL_E_INVALID_ARG);
}

static void test_fn_table_round_trip(void **state)
{
    (void)state;
    hl_function_info fns[3] = {
        {.name = "PrintOutput", .ret = HL_TYPE_I32, .nparams = 1, .params = {HL_TYPE_STRING}},
        {.name = "Nothing", .ret = HL_TYPE_VOID, .nparams = 0},
        {.name = "Sixteen", .ret = HL_TYPE_BYTES, .nparams = HL_MAX_PARAMS},
    };
    for (int k = 0; k < HL_MAX_PARAMS; k++)
        fns[2].params[k] = (hl_type)(1 + k % 9);
    uint8_t buf[512];
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_codec_write_fn_table(buf, sizeof(buf), HL_MSG_GUESTFN_MAGIC, fns, 3, "output_data_size", &err), HL_OK);
    hl_host_fn_table t;
    memcpy(&t, buf, sizeof(t));
    assert_int_equal(t.count, 3);
    assert_int_equal(t.total_len, 16 + 3 * 32 + 12 + 8 + 8);
    uint8_t *g = exact(buf, t.total_len);
    hl_function_info *out;
    size_t n;
    char *names;
    assert_int_equal(hl_codec_read_fn_table(g, t.total_len, &out, &n, &names, &err), HL_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(out[i].name, fns[i].name);
        assert_int_equal(out[i].ret, fns[i].ret);
        assert_int_equal(out[i].nparams, fns[i].nparams);
        for (size_t k = 0; k < fns[i].nparams; k++)
            assert_int_equal(out[i].params[k], fns[i].params[k]);
    }
    free(out);
    free(names);
    free(g);
    /* an empty table */
    assert_int_equal(hl_codec_write_fn_table(buf, sizeof(buf), HL_MSG_GUESTFN_MAGIC, NULL, 0, "output_data_size", &err), HL_OK);
    assert_int_equal(hl_codec_read_fn_table(buf, 16, &out, &n, &names, &err), HL_OK);
    assert_int_equal(n, 0);
    free(out);
    free(names);
}

/* Runs read_result on exactly `len` bytes of m and expects `want` (an error) without a crash. */
static void result_fails(const uint8_t *m, size_t len, hl_status want, const char *phrase)
{
    uint8_t *g = exact(m, len);
    hl_buf store = {0};
    uint32_t status;
    hl_value out;
    hl_error err = HL_ERROR_INIT;
    hl_status st = hl_codec_read_result(g, len, &store, &status, &out, &err);
    if (st != want || (phrase && !strstr(err.message, phrase)))
        fail_msg("read_result: status %d, message \"%s\"", st, err.message);
    hl_buf_free(&store);
    free(g);
}

static void mk_result(uint8_t *m, uint32_t total, uint32_t type, uint32_t len)
{
    memset(m, 0, 64);
    put32(m, 0, HL_MSG_RESULT_MAGIC);
    put32(m, 4, total);
    put32(m, 16, type);
    put32(m, 20, len);
}

static void test_hostile_results(void **state)
{
    (void)state;
    uint8_t m[64];
    const hl_status P = HL_E_GUEST_PROTOCOL;
    mk_result(m, 32, HL_TYPE_I64, 8);
    put32(m, 0, HL_MSG_CALL_MAGIC);
    result_fails(m, 32, P, "malformed message (magic 0x4c4c4143");
    mk_result(m, 33, HL_TYPE_I64, 8);
    result_fails(m, 32, P, "length 33, buffer 32 bytes"); /* total_len past the buffer */
    mk_result(m, 15, HL_TYPE_I64, 8);
    result_fails(m, 32, P, "malformed message"); /* smaller than the header */
    mk_result(m, 0xFFFFFFFF, HL_TYPE_I64, 8);
    result_fails(m, 32, P, "malformed message");
    for (size_t len = 0; len < 16; len++) { /* buffers too small for a header */
        mk_result(m, 16, HL_TYPE_VOID, 0);
        result_fails(m, len, P, "too small");
    }
    mk_result(m, 16, HL_TYPE_I64, 8); /* status 0 but no value */
    result_fails(m, 32, P, "malformed result value");
    mk_result(m, 20, HL_TYPE_I64, 8); /* half a value header */
    result_fails(m, 20, P, "malformed result value");
    mk_result(m, 28, HL_TYPE_I64, 8); /* payload cut short */
    result_fails(m, 28, P, "malformed result value");
    mk_result(m, 32, HL_TYPE_I64, 4); /* scalar length not 8 */
    result_fails(m, 32, P, "malformed result value");
    mk_result(m, 32, HL_TYPE_COUNT, 8); /* unknown types */
    result_fails(m, 32, P, "malformed result value");
    mk_result(m, 32, 0xFFFFFFFF, 8);
    result_fails(m, 32, P, "malformed result value");
    mk_result(m, 24, HL_TYPE_VOID, 1); /* void with a length */
    result_fails(m, 24, P, "malformed result value");
    static const uint32_t lens[] = {0xFFFFFFFF, 0xFFFFFFF8, 0x7FFFFFFF, 40, 17, 16};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) { /* string/bytes lengths past the end */
        mk_result(m, 40, HL_TYPE_STRING, lens[i]);
        result_fails(m, 40, P, "malformed result value");
        mk_result(m, 40, HL_TYPE_BYTES, lens[i]);
        result_fails(m, 40, P, "malformed result value");
    }
    /* the largest string that fits: 15 bytes + NUL in a 40-byte message */
    mk_result(m, 40, HL_TYPE_STRING, 15);
    memcpy(m + 24, "fifteen bytes!!", 16);
    uint8_t *g = exact(m, 40);
    hl_buf store = {0};
    uint32_t status;
    hl_value out;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_codec_read_result(g, 40, &store, &status, &out, &err), HL_OK);
    assert_int_equal(out.u.buf.len, 15);
    assert_string_equal(out.u.buf.ptr, "fifteen bytes!!");
    hl_buf_free(&store);
    free(g);
}

static void test_string_without_nul(void **state)
{
    (void)state;
    /* a string the guest did not NUL-terminate (len 8, padding 'X'): the API promises a NUL after it */
    uint8_t m[64];
    mk_result(m, 40, HL_TYPE_STRING, 8);
    memset(m + 24, 'X', 16);
    uint8_t *g = exact(m, 40);
    hl_buf store = {0};
    uint32_t status;
    hl_value out;
    hl_error err = HL_ERROR_INIT;
    hl_status st = hl_codec_read_result(g, 40, &store, &status, &out, &err);
    hl_buf_free(&store);
    free(g);
    if (st == HL_OK) {
        print_message("REGRESSION (fixed bug): src/sandbox/codec.c:140-146 (get_value) accepts a STRING whose byte after len "
                      "is not NUL (result {type 8, len 8} + \"XXXXXXXXXXXXXXXX\"): the decoded value breaks "
                      "hl_value's 'NUL always follows' promise; it should be HL_E_GUEST_PROTOCOL\n");
        fail();
    }
    assert_int_equal(st, HL_E_GUEST_PROTOCOL);
}

static void call_fails(const uint8_t *m, size_t len, const char *phrase)
{
    uint8_t *g = exact(m, len);
    hl_buf store = {0};
    const char *name = NULL;
    hl_value args[HL_MAX_PARAMS];
    size_t n = 99;
    hl_error err = HL_ERROR_INIT;
    hl_status st = hl_codec_read_call(g, len, &store, &name, args, &n, &err);
    if (st != HL_E_GUEST_PROTOCOL || (phrase && !strstr(err.message, phrase)))
        fail_msg("read_call: status %d, message \"%s\"", st, err.message);
    assert_null(name);
    hl_buf_free(&store);
    free(g);
}

static size_t mk_call(uint8_t *m, const char *name, uint32_t argc)
{
    hl_value args[HL_MAX_PARAMS];
    for (uint32_t i = 0; i < argc && i < HL_MAX_PARAMS; i++)
        args[i] = hl_i32((int32_t)i);
    uint64_t len = 0;
    memset(m, 0, 512);
    assert_int_equal(hl_codec_write_call(m, 512, name, args, argc, "output_data_size", &len, NULL), HL_OK);
    return (size_t)len;
}

static void test_hostile_calls(void **state)
{
    (void)state;
    uint8_t m[512];
    size_t len = mk_call(m, "HostPrint", 2); /* 16 + 16 + 2*16 = 64 */
    assert_int_equal(len, 64);
    put32(m, 0, HL_MSG_RESULT_MAGIC);
    call_fails(m, len, "malformed message");
    len = mk_call(m, "HostPrint", 2);
    put32(m, 4, 65);
    call_fails(m, len, "length 65, buffer 64");
    len = mk_call(m, "HostPrint", 2);
    put32(m, 4, 8);
    call_fails(m, len, "malformed message");
    for (size_t l = 0; l < 16; l++)
        call_fails(m, l, "too small");
    static const uint32_t name_lens[] = {0, HL_MAX_NAME_LEN + 1, 0xFFFFFFFF, 48, 64};
    for (size_t i = 0; i < sizeof(name_lens) / sizeof(name_lens[0]); i++) {
        len = mk_call(m, "HostPrint", 2);
        put32(m, 8, name_lens[i]);
        call_fails(m, len, "malformed host call");
    }
    len = mk_call(m, "HostPrint", 2);
    put32(m, 12, HL_MAX_PARAMS + 1);
    call_fails(m, len, "17 arguments");
    put32(m, 12, 0xFFFFFFFF);
    call_fails(m, len, "malformed host call");
    len = mk_call(m, "HostPrint", 2);
    m[16 + 4] = 0; /* "Host\0rint" */
    call_fails(m, len, "NUL byte");
    len = mk_call(m, "HostPrint", 2);
    put32(m, 12, 3); /* one argument more than written */
    call_fails(m, len, "malformed argument 3 for `HostPrint`");
    len = mk_call(m, "HostPrint", 2);
    put32(m, 48, HL_TYPE_VOID); /* second argument void */
    put32(m, 52, 0);
    call_fails(m, len, "malformed argument 2");
    len = mk_call(m, "HostPrint", 2);
    put32(m, 48, 42); /* unknown type */
    call_fails(m, len, "malformed argument 2");
    len = mk_call(m, "HostPrint", 2);
    put32(m, 4, 60); /* cuts the second value's payload */
    call_fails(m, 60, "malformed argument 2");
    len = mk_call(m, "HostPrint", 2);
    put32(m, 48, HL_TYPE_BYTES);
    put32(m, 52, 0xFFFFFFF9); /* length that overflows when padded */
    call_fails(m, len, "malformed argument 2");
    /* the name's terminator is ours: a name running into the padding is cut at name_len */
    len = mk_call(m, "HostPrint", 0);
    memset(m + 16 + 9, 'Z', 7);
    uint8_t *g = exact(m, len);
    hl_buf store = {0};
    const char *name;
    hl_value args[HL_MAX_PARAMS];
    size_t n;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_codec_read_call(g, len, &store, &name, args, &n, &err), HL_OK);
    assert_string_equal(name, "HostPrint");
    /* 16 arguments are fine */
    free(g);
    len = mk_call(m, "f", HL_MAX_PARAMS);
    g = exact(m, len);
    assert_int_equal(hl_codec_read_call(g, len, &store, &name, args, &n, &err), HL_OK);
    assert_int_equal(n, HL_MAX_PARAMS);
    assert_int_equal(args[15].u.i32, 15);
    hl_buf_free(&store);
    free(g);
}

static void table_fails(const uint8_t *m, size_t len, hl_status want, const char *phrase)
{
    uint8_t *g = exact(m, len);
    hl_function_info *fns = (hl_function_info *)1;
    size_t n = 99;
    char *names = (char *)1;
    hl_error err = HL_ERROR_INIT;
    hl_status st = hl_codec_read_fn_table(g, len, &fns, &n, &names, &err);
    if (st != want || (phrase && !strstr(err.message, phrase)))
        fail_msg("read_fn_table: status %d, message \"%s\"", st, err.message);
    assert_null(fns);
    assert_null(names);
    assert_int_equal(n, 0);
    free(g);
}

/* A valid guest table with two entries ("ab", "cde") in m; returns its length (96 + 7). */
static size_t mk_table(uint8_t *m)
{
    hl_function_info fns[2] = {{.name = "ab", .ret = HL_TYPE_I32, .nparams = 1, .params = {HL_TYPE_I64}},
                               {.name = "cde", .ret = HL_TYPE_VOID, .nparams = 0}};
    memset(m, 0, 256);
    assert_int_equal(hl_codec_write_fn_table(m, 256, HL_MSG_GUESTFN_MAGIC, fns, 2, "output_data_size", NULL), HL_OK);
    return 16 + 2 * 32 + 3 + 4;
}

static void test_hostile_tables(void **state)
{
    (void)state;
    uint8_t m[256];
    const hl_status P = HL_E_GUEST_PROTOCOL;
    size_t len = mk_table(m);
    for (size_t l = 0; l < 16; l++)
        table_fails(m, l, P, "too small");
    put32(m, 0, HL_MSG_HOSTFN_MAGIC);
    table_fails(m, len, P, "did not write its function table");
    len = mk_table(m);
    table_fails(m, len - 1, HL_E_TOO_LARGE, "needs 87 bytes, more than output_data_size (86 bytes)");
    put32(m, 8, 0xFFFFFFFF);
    table_fails(m, len, HL_E_TOO_LARGE, "raise output_data_size");
    put32(m, 8, 15);
    table_fails(m, len, P, "malformed");
    len = mk_table(m);
    put32(m, 4, 3); /* three entries do not fit in 87 bytes */
    table_fails(m, len, P, "malformed");
    put32(m, 4, 0xFFFFFFFF);
    table_fails(m, len, P, "malformed");
    /* entry 1 (at 48): name_off, name_len, ret, argc, params */
    struct {
        size_t off;
        uint32_t v;
        int width;
        const char *phrase;
    } cases[] = {
        {48, 15, 4, "entry 1"},          {48, 0xFFFFFFFF, 4, "entry 1"}, {48, 87, 4, "entry 1"},
        {48, 84, 4, "entry 1"},          {52, 0, 4, "entry 1"},          {52, 256, 4, "entry 1"},
        {52, 0xFFFFFFFF, 4, "entry 1"},  {52, 2, 4, "entry 1"},          {52, 4, 4, "entry 1"},
        {56, HL_TYPE_COUNT, 1, "entry 1"}, {56, 0xFF, 1, "entry 1"},     {57, HL_MAX_PARAMS + 1, 1, "entry 1"},
        {26, 0, 1, "entry 0 of the guest's function table has a bad parameter type"},
        {26, HL_TYPE_COUNT, 1, "bad parameter type"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        len = mk_table(m);
        if (cases[i].width == 4)
            put32(m, cases[i].off, cases[i].v);
        else
            m[cases[i].off] = (uint8_t)cases[i].v;
        table_fails(m, len, P, cases[i].phrase);
    }
    /* a name with a NUL inside, and a name whose terminator is not NUL */
    len = mk_table(m);
    m[83 + 1] = 0; /* "c\0e" */
    table_fails(m, len, P, "entry 1");
    len = mk_table(m);
    m[80 + 2] = '!'; /* "ab!" where the NUL should be */
    table_fails(m, len, P, "entry 0");
    /* the last name's NUL is the last byte: a message one byte shorter cuts it */
    len = mk_table(m);
    put32(m, 8, (uint32_t)len - 1);
    table_fails(m, len, P, "entry 1");
}

static void test_messages(void **state)
{
    (void)state;
    hl_buf store = {0};
    uint32_t code;
    size_t len;
    uint8_t m[64];
    hl_message_hdr h = {5, 42};
    memcpy(m, &h, 8);
    memcpy(m + 8, "hello", 5);
    uint8_t *g = exact(m, 13);
    assert_string_equal(hl_codec_read_message(g, 13, &store, &code, &len), "hello");
    assert_int_equal(code, 42);
    assert_int_equal(len, 5);
    /* a length past the region is cut to the region; so is UINT32_MAX */
    h.len = 0xFFFFFFFF;
    memcpy(g, &h, 8);
    assert_string_equal(hl_codec_read_message(g, 13, &store, &code, &len), "hello");
    assert_int_equal(len, 5);
    h.len = 6;
    memcpy(g, &h, 8);
    assert_string_equal(hl_codec_read_message(g, 13, &store, &code, &len), "hello");
    free(g);
    /* regions smaller than a header read as empty with code 0 */
    for (size_t n = 0; n < 8; n++) {
        g = exact(m, n);
        code = 7;
        assert_string_equal(hl_codec_read_message(g, n, &store, &code, &len), "");
        assert_int_equal(code, 0);
        assert_int_equal(len, 0);
        free(g);
    }
    /* guest error: code (8 bytes), length, reserved, then the text */
    hl_guest_error_hdr e = {HL_GERR_GUEST_ERROR, 3, 0};
    memcpy(m, &e, 16);
    memcpy(m + 16, "bad!", 4);
    uint64_t gcode;
    g = exact(m, 20);
    assert_string_equal(hl_codec_read_guest_error(g, 20, &store, &gcode, &len), "bad");
    assert_int_equal(gcode, HL_GERR_GUEST_ERROR);
    e.len = 0xFFFFFFFF;
    memcpy(g, &e, 16);
    assert_string_equal(hl_codec_read_guest_error(g, 20, &store, &gcode, &len), "bad!");
    assert_int_equal(len, 4);
    free(g);
    for (size_t n = 0; n < 16; n++) {
        g = exact(m, n);
        gcode = 7;
        assert_string_equal(hl_codec_read_guest_error(g, n, &store, &gcode, &len), "");
        assert_int_equal(gcode, 0);
        free(g);
    }
    /* hl_buf_set grows and always terminates */
    char big[1000];
    memset(big, 'q', sizeof(big));
    uint8_t *p = hl_buf_set(&store, big, sizeof(big));
    assert_non_null(p);
    assert_int_equal(store.len, sizeof(big));
    assert_true(store.cap > sizeof(big));
    assert_int_equal(p[sizeof(big)], 0);
    hl_buf_free(&store);
}

/* Deterministic mutations of valid messages: every reader returns OK or an error, never crashes. */
static void test_mutations(void **state)
{
    (void)state;
    uint8_t seeds[3][512];
    size_t lens[3];
    lens[0] = mk_call(seeds[0], "MutateMe", 5);
    hl_value s = hl_string("a string result");
    hl_codec_write_result(seeds[1], 512, 0, &s, "output_data_size", NULL);
    lens[1] = 16 + 8 + 16;
    lens[2] = mk_table(seeds[2]);
    uint64_t x = 88172645463325252ull;
    hl_buf store = {0};
    for (int iter = 0; iter < 30000; iter++) {
        int k = iter % 3;
        uint8_t m[512];
        memcpy(m, seeds[k], lens[k]);
        size_t len = lens[k];
        for (int flips = 0; flips < 1 + iter % 4; flips++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t at = (size_t)(x % len);
            if (x & (1ull << 40))
                m[at] = (uint8_t)(x >> 48);
            else
                m[at] ^= (uint8_t)(1u << ((x >> 32) & 7));
        }
        if ((x >> 60) == 0)
            len = (size_t)((x >> 20) % (len + 1));
        uint8_t *g = exact(m, len);
        hl_value v[HL_MAX_PARAMS];
        const char *name;
        size_t n;
        uint32_t status;
        hl_status st = hl_codec_read_call(g, len, &store, &name, v, &n, NULL);
        assert_true(st == HL_OK || st == HL_E_GUEST_PROTOCOL);
        st = hl_codec_read_result(g, len, &store, &status, v, NULL);
        assert_true(st == HL_OK || st == HL_E_GUEST_PROTOCOL);
        hl_function_info *fns;
        char *names;
        st = hl_codec_read_fn_table(g, len, &fns, &n, &names, NULL);
        assert_true(st == HL_OK || st == HL_E_GUEST_PROTOCOL || st == HL_E_TOO_LARGE);
        free(fns);
        free(names);
        free(g);
    }
    hl_buf_free(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_round_trip), cmocka_unit_test(test_result_round_trip),
        cmocka_unit_test(test_limits),          cmocka_unit_test(test_fn_table_round_trip),
        cmocka_unit_test(test_hostile_results), cmocka_unit_test(test_string_without_nul),
        cmocka_unit_test(test_hostile_calls),
        cmocka_unit_test(test_hostile_tables),  cmocka_unit_test(test_messages),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
