/* callbackguest.c - the test guest that calls host functions: every type, failures, spinning hosts. */
#include "hyperlight_guest.h"

/* Calls host function `host_echo_<type>` with the argument and returns what it answered. */
static int via_host(const char *host_fn, const hlg_value *a, hlg_value *r)
{
    hlg_value out;
    int rc = hlg_call_host(host_fn, a[0].type, &out, 1, a);
    if (rc)
        return hlg_error(rc, "host call `%s` failed with code %d", host_fn, rc);
    if (a[0].type == HL_TYPE_STRING || a[0].type == HL_TYPE_BYTES) {
        char *copy = malloc(out.u.str.len + 1); /* host results live until the next host call */
        if (!copy)
            return hlg_error(HL_GERR_MALLOC_FAILED, "no heap");
        memcpy(copy, out.u.str.ptr, out.u.str.len);
        copy[out.u.str.len] = 0;
        out.u.str.ptr = copy;
    }
    *r = out;
    return 0;
}

#define VIA(NAME)                                                                                  \
    static int NAME##_via_host(const hlg_value *a, hlg_value *r) { return via_host("host_echo_" #NAME, a, r); }
VIA(i32)
VIA(u32)
VIA(i64)
VIA(u64)
VIA(f32)
VIA(f64)
VIA(bool)
VIA(string)
VIA(bytes)

static int add_via_host(const hlg_value *a, hlg_value *r)
{
    hlg_value out;
    int rc = hlg_call_host("host_add", HL_TYPE_I32, &out, 2, a);
    if (rc)
        return hlg_error(rc, "host_add failed (%d)", rc);
    r->u.i32 = out.u.i32;
    return 0;
}

/* Calls host_fail and returns the host's exception message as the guest read it. */
static int call_failing(const hlg_value *a, hlg_value *r)
{
    hlg_value out;
    int rc = hlg_call_host("host_fail", HL_TYPE_I32, &out, 1, a);
    if (rc != HL_GERR_HOST_FUNCTION_ERROR)
        return hlg_error(HL_GERR_GUEST_ERROR, "expected the host function to fail, got %d", rc);
    uint32_t len;
    const char *msg = hlg_host_exception(&len);
    char *copy = malloc(len + 1);
    if (!copy)
        return hlg_error(HL_GERR_MALLOC_FAILED, "no heap");
    memcpy(copy, msg, len + 1);
    r->u.str.ptr = copy;
    r->u.str.len = len;
    return 0;
}

/* Propagates a failing host call as this function's error. */
static int call_failing_propagate(const hlg_value *a, hlg_value *r)
{
    hlg_value out;
    int rc = hlg_call_host("host_fail", HL_TYPE_I32, &out, 1, a);
    uint32_t len;
    const char *msg = hlg_host_exception(&len);
    return hlg_error(rc, "host_fail: %s", msg);
}

static int call_spinning(const hlg_value *a, hlg_value *r)
{
    hlg_value out;
    int rc = hlg_call_host("host_spin", HL_TYPE_VOID, &out, 1, a);
    if (rc)
        return hlg_error(rc, "host_spin failed (%d)", rc);
    return 0;
}

static int call_missing(const hlg_value *a, hlg_value *r)
{
    r->u.i32 = hlg_call_host("host_not_there", HL_TYPE_VOID, 0, 0, 0);
    return 0;
}

/* Calls a host function that no host registers and fails with the bare code (no hlg_error):
 * the runtime's message names the missing function. */
static int call_unregistered(const hlg_value *a, hlg_value *r)
{
    hlg_value out;
    return hlg_call_host("host_not_registered", HL_TYPE_I32, &out, 1, a);
}

static int call_count(const hlg_value *a, hlg_value *r)
{
    int64_t total = 0;
    for (uint32_t i = 0; i < a[0].u.u32; i++) {
        hlg_value arg[2] = {{.type = HL_TYPE_I32, .u.i32 = (int32_t)i}, {.type = HL_TYPE_I32, .u.i32 = 1}}, out;
        int rc = hlg_call_host("host_add", HL_TYPE_I32, &out, 2, arg);
        if (rc)
            return hlg_error(rc, "host_add failed at %u", i);
        total += out.u.i32;
    }
    r->u.i64 = total;
    return 0;
}

static int greet(const hlg_value *a, hlg_value *r)
{
    hlg_printf("hello from the guest, %s!\n", a[0].u.str.ptr);
    r->u.i32 = 0;
    return 0;
}

void hyperlight_main(void)
{
    hlg_register("i32_via_host", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_I32), i32_via_host);
    hlg_register("u32_via_host", HL_TYPE_U32, HLG_PARAMS(HL_TYPE_U32), u32_via_host);
    hlg_register("i64_via_host", HL_TYPE_I64, HLG_PARAMS(HL_TYPE_I64), i64_via_host);
    hlg_register("u64_via_host", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_U64), u64_via_host);
    hlg_register("f32_via_host", HL_TYPE_F32, HLG_PARAMS(HL_TYPE_F32), f32_via_host);
    hlg_register("f64_via_host", HL_TYPE_F64, HLG_PARAMS(HL_TYPE_F64), f64_via_host);
    hlg_register("bool_via_host", HL_TYPE_BOOL, HLG_PARAMS(HL_TYPE_BOOL), bool_via_host);
    hlg_register("string_via_host", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_STRING), string_via_host);
    hlg_register("bytes_via_host", HL_TYPE_BYTES, HLG_PARAMS(HL_TYPE_BYTES), bytes_via_host);
    hlg_register("add_via_host", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_I32, HL_TYPE_I32), add_via_host);
    hlg_register("call_failing", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_I32), call_failing);
    hlg_register("call_failing_propagate", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_I32), call_failing_propagate);
    hlg_register("call_spinning", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U32), call_spinning);
    hlg_register("call_missing", HL_TYPE_I32, HLG_NO_PARAMS, call_missing);
    hlg_register("call_unregistered", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_I32), call_unregistered);
    hlg_register("call_count", HL_TYPE_I64, HLG_PARAMS(HL_TYPE_U32), call_count);
    hlg_register("greet", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_STRING), greet);
}
