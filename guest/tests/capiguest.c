/* capiguest.c - a test guest written only against Hyperlight's C guest API (guest/capi): every
 * entry point. */
#include "hyperlight_guest.h"

#include <stdlib.h>
#include <string.h>

/* ---- echoes of every type, wrapped ---- */

static const char *echo(const char *s)
{
    return s;
}
static int32_t echo_int(int32_t v)
{
    return v;
}
static uint32_t echo_uint(uint32_t v)
{
    return v;
}
static int64_t echo_long(int64_t v)
{
    return v;
}
static uint64_t echo_ulong(uint64_t v)
{
    return v;
}
static float echo_float(float v)
{
    return v;
}
static double echo_double(double v)
{
    return v;
}
static bool echo_bool(bool v)
{
    return !!v;
}
static uint64_t bytes_len(hl_Vec v)
{
    return v.len;
}

static int g_touched;
static void do_nothing(void)
{
    g_touched = 1;
}

HYPERLIGHT_WRAP_FUNCTION(echo, String, 1, String)
HYPERLIGHT_WRAP_FUNCTION(echo_int, Int, 1, Int)
HYPERLIGHT_WRAP_FUNCTION(echo_uint, UInt, 1, UInt)
HYPERLIGHT_WRAP_FUNCTION(echo_long, Long, 1, Long)
HYPERLIGHT_WRAP_FUNCTION(echo_ulong, ULong, 1, ULong)
HYPERLIGHT_WRAP_FUNCTION(echo_float, Float, 1, Float)
HYPERLIGHT_WRAP_FUNCTION(echo_double, Double, 1, Double)
HYPERLIGHT_WRAP_FUNCTION(echo_bool, Bool, 1, Bool)
HYPERLIGHT_WRAP_FUNCTION(bytes_len, ULong, 1, VecBytes)
HYPERLIGHT_WRAP_FUNCTION(do_nothing, Void, 0)

/* ---- bytes results and void, registered directly ---- */

static hl_Vec *set_byte_array_to_zero(const hl_FunctionCall *call)
{
    hl_Vec in = call->parameters[0].value.VecBytes;
    uint8_t *zeros = calloc(in.len ? in.len : 1, 1);
    hl_Vec *r = hl_flatbuffer_result_from_Bytes(zeros, in.len);
    free(zeros);
    return r;
}

static hl_Vec *get_size_prefixed_buffer(const hl_FunctionCall *call)
{
    hl_Vec in = call->parameters[0].value.VecBytes;
    return hl_flatbuffer_result_from_Bytes(in.data, in.len);
}

static hl_Vec *void_direct(const hl_FunctionCall *call)
{
    return hl_flatbuffer_result_from_Void();
}

/* ---- 0 to 11 parameters: "Message: arg1:... argN:..." ---- */

static char g_msg[1024];
static size_t g_len;
static int g_arg;

static void put(const char *s)
{
    size_t n = strlen(s);
    if (g_len + n < sizeof(g_msg)) {
        memcpy(g_msg + g_len, s, n + 1);
        g_len += n;
    }
}

static void put_u64(uint64_t v)
{
    char d[24];
    int i = (int)sizeof(d) - 1;
    d[i] = 0;
    do
        d[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    put(d + i);
}

static void put_i64(int64_t v)
{
    if (v < 0) put("-");
    put_u64(v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

static void next(void)
{
    put(" arg");
    put_u64((uint64_t)++g_arg);
    put(":");
}

static void begin(void)
{
    g_len = 0;
    g_arg = 0;
    g_msg[0] = 0;
    put("Message:");
}

static void s_(const char *s)
{
    next(), put(s);
}
static void i_(int64_t v)
{
    next(), put_i64(v);
}
static void u_(uint64_t v)
{
    next(), put_u64(v);
}
static void b_(bool v)
{
    next(), put(v ? "true" : "false");
}
static void f_(float v)
{
    next(), put_i64((int64_t)(v * 1000.0f)), put("e-3");
}
static const char *end(void)
{
    return put("."), g_msg;
}

typedef const char *S;
static S args0(void)
{
    return begin(), end();
}
static S args1(S a)
{
    return begin(), s_(a), end();
}
static S args2(S a, int32_t b)
{
    return begin(), s_(a), i_(b), end();
}
static S args3(S a, int32_t b, int64_t c)
{
    return begin(), s_(a), i_(b), i_(c), end();
}
static S args4(S a, int32_t b, int64_t c, S d)
{
    return begin(), s_(a), i_(b), i_(c), s_(d), end();
}
static S args5(S a, int32_t b, int64_t c, S d, S e)
{
    return begin(), s_(a), i_(b), i_(c), s_(d), s_(e), end();
}
static S args6(S a, int32_t b, int64_t c, S d, S e, bool f)
{
    return begin(), s_(a), i_(b), i_(c), s_(d), s_(e), b_(f), end();
}
static S args7(S a, int32_t b, int64_t c, S d, S e, bool f, bool g)
{
    return begin(), s_(a), i_(b), i_(c), s_(d), s_(e), b_(f), b_(g), end();
}
static S args8(S a, int32_t b, int64_t c, S d, S e, bool f, bool g, uint32_t h)
{
    return begin(), s_(a), i_(b), i_(c), s_(d), s_(e), b_(f), b_(g), u_(h), end();
}
static S args9(S a, int32_t b, int64_t c, S d, S e, bool f, bool g, uint32_t h, uint64_t i)
{
    return begin(), s_(a), i_(b), i_(c), s_(d), s_(e), b_(f), b_(g), u_(h), u_(i), end();
}
static S args10(S a, int32_t b, int64_t c, S d, S e, bool f, bool g, uint32_t h, uint64_t i,
                int32_t j)
{
    return begin(), s_(a), i_(b), i_(c), s_(d), s_(e), b_(f), b_(g), u_(h), u_(i), i_(j), end();
}
static S args11(S a, int32_t b, int64_t c, S d, S e, bool f, bool g, uint32_t h, uint64_t i,
                int32_t j, float k)
{
    return begin(), s_(a), i_(b), i_(c), s_(d), s_(e), b_(f), b_(g), u_(h), u_(i), i_(j), f_(k),
           end();
}

HYPERLIGHT_WRAP_FUNCTION(args0, String, 0)
HYPERLIGHT_WRAP_FUNCTION(args1, String, 1, String)
HYPERLIGHT_WRAP_FUNCTION(args2, String, 2, String, Int)
HYPERLIGHT_WRAP_FUNCTION(args3, String, 3, String, Int, Long)
HYPERLIGHT_WRAP_FUNCTION(args4, String, 4, String, Int, Long, String)
HYPERLIGHT_WRAP_FUNCTION(args5, String, 5, String, Int, Long, String, String)
HYPERLIGHT_WRAP_FUNCTION(args6, String, 6, String, Int, Long, String, String, Bool)
HYPERLIGHT_WRAP_FUNCTION(args7, String, 7, String, Int, Long, String, String, Bool, Bool)
HYPERLIGHT_WRAP_FUNCTION(args8, String, 8, String, Int, Long, String, String, Bool, Bool, UInt)
HYPERLIGHT_WRAP_FUNCTION(args9, String, 9, String, Int, Long, String, String, Bool, Bool, UInt,
                         ULong)
HYPERLIGHT_WRAP_FUNCTION(args10, String, 10, String, Int, Long, String, String, Bool, Bool, UInt,
                         ULong, Int)
HYPERLIGHT_WRAP_FUNCTION(args11, String, 11, String, Int, Long, String, String, Bool, Bool, UInt,
                         ULong, Int, Float)

/* ---- errors, aborts, logs ---- */

static int32_t set_error_and_return(int32_t code, const char *message)
{
    hl_set_error((hl_ErrorCode)code, message);
    return 42;
}

static int32_t call_malloc(int32_t size)
{
    void *p = malloc((size_t)(uint32_t)size);
    if (!p) hl_set_error(hl_ErrorCode_GuestError, "Malloc Failed");
    free(p);
    return size;
}

static int32_t guest_abort_with_code(int32_t code)
{
    hl_abort_with_code(code);
}

static int32_t guest_abort_with_message(int32_t code, const char *message)
{
    hl_abort_with_code_and_message(code, message);
}

static int64_t log_message(const char *message, int64_t level)
{
    LOG((hl_Level)level, message);
    return level;
}

static int32_t log_at(const char *message, int64_t level, int32_t line, const char *file)
{
    hl_log((hl_Level)level, message, line, file);
    return line;
}

static hl_Vec *returns_null(const hl_FunctionCall *call)
{
    return NULL;
}
static hl_Vec *wrong_result_type(const hl_FunctionCall *call)
{
    return hl_flatbuffer_result_from_String("x");
}
static hl_Vec *foreign_result(const hl_FunctionCall *call)
{
    static uint8_t junk[64];
    static hl_Vec v = {junk, sizeof(junk)};
    return &v;
}

static int32_t replaced_first(void)
{
    return 1;
}
static int32_t replaced_second(void)
{
    return 2;
}
static hl_Vec *twelve(const hl_FunctionCall *call)
{
    return hl_flatbuffer_result_from_Int(12);
}

HYPERLIGHT_WRAP_FUNCTION(set_error_and_return, Int, 2, Int, String)
HYPERLIGHT_WRAP_FUNCTION(call_malloc, Int, 1, Int)
HYPERLIGHT_WRAP_FUNCTION(guest_abort_with_code, Int, 1, Int)
HYPERLIGHT_WRAP_FUNCTION(guest_abort_with_message, Int, 2, Int, String)
HYPERLIGHT_WRAP_FUNCTION(log_message, Long, 2, String, Long)
HYPERLIGHT_WRAP_FUNCTION(log_at, Int, 4, String, Long, Int, String)
HYPERLIGHT_WRAP_FUNCTION(replaced_first, Int, 0)
HYPERLIGHT_WRAP_FUNCTION(replaced_second, Int, 0)

/* ---- host calls ---- */

/* Calls host function name with one parameter; the result is read by the caller. */
static void call1(const char *name, hl_Parameter p, hl_ReturnType ret)
{
    hl_FunctionCall call = {
        .function_name = name, .parameters = &p, .parameters_len = 1, .return_type = ret};
    hl_call_host_function(&call);
}

#define P(T, v) ((hl_Parameter){.tag = hl_ParameterType_##T, .value = {.T = (v)}})

static int32_t host_int(int32_t v)
{
    return call1("HostEchoInt", P(Int, v), hl_ReturnType_Int), hl_get_host_return_value_as_Int();
}
static uint32_t host_uint(uint32_t v)
{
    return call1("HostEchoUInt", P(UInt, v), hl_ReturnType_UInt),
           hl_get_host_return_value_as_UInt();
}
static int64_t host_long(int64_t v)
{
    return call1("HostEchoLong", P(Long, v), hl_ReturnType_Long),
           hl_get_host_return_value_as_Long();
}
static uint64_t host_ulong(uint64_t v)
{
    return call1("HostEchoULong", P(ULong, v), hl_ReturnType_ULong),
           hl_get_host_return_value_as_ULong();
}
static float host_float(float v)
{
    return call1("HostEchoFloat", P(Float, v), hl_ReturnType_Float),
           hl_get_host_return_value_as_Float();
}
static double host_double(double v)
{
    return call1("HostEchoDouble", P(Double, v), hl_ReturnType_Double),
           hl_get_host_return_value_as_Double();
}
static bool host_bool(bool v)
{
    return call1("HostEchoBool", P(Bool, v), hl_ReturnType_Bool),
           hl_get_host_return_value_as_Bool();
}
static const char *host_string(const char *v)
{
    call1("HostEchoString", P(String, (char *)v), hl_ReturnType_String);
    return hl_get_host_return_value_as_String(); /* a heap copy, freed with the snapshot */
}

static hl_Vec *host_bytes(const hl_FunctionCall *in)
{
    call1("HostEchoBytes", P(VecBytes, in->parameters[0].value.VecBytes), hl_ReturnType_VecBytes);
    hl_Vec *v = hl_get_host_return_value_as_VecBytes();
    hl_Vec *r = hl_flatbuffer_result_from_Bytes(v->data, v->len);
    free(v->data);
    free(v);
    return r;
}

static int32_t host_void(int32_t v)
{
    call1("HostVoid", P(Int, v), hl_ReturnType_Void);
    return v + 1;
}

static const char *host_args11(S a, int32_t b, int64_t c, S d, S e, bool f, bool g, uint32_t h,
                               uint64_t i, int32_t j, float k)
{
    hl_Parameter p[11] = {P(String, (char *)a), P(Int, b),  P(Long, c), P(String, (char *)d),
                          P(String, (char *)e), P(Bool, f), P(Bool, g), P(UInt, h),
                          P(ULong, i),          P(Int, j),  P(Float, k)};
    hl_FunctionCall call = {"HostArgs11", p, 11, hl_ReturnType_String};
    hl_call_host_function(&call);
    return hl_get_host_return_value_as_String();
}

static int32_t host_fail(int32_t v)
{
    return call1("HostFail", P(Int, v), hl_ReturnType_Int), 0;
}
static int32_t host_missing(int32_t v)
{
    return call1("NoSuchHostFunction", P(Int, v), hl_ReturnType_Int), 0;
}
static int32_t host_wrong_return(int32_t v)
{
    return call1("HostEchoInt", P(Int, v), hl_ReturnType_Long), 0;
}
static int32_t get_twice(int32_t v)
{
    call1("HostEchoInt", P(Int, v), hl_ReturnType_Int);
    return hl_get_host_return_value_as_Int() + hl_get_host_return_value_as_Int();
}
static int64_t get_wrong_type(int32_t v)
{
    call1("HostEchoInt", P(Int, v), hl_ReturnType_Int);
    return hl_get_host_return_value_as_Long();
}

HYPERLIGHT_WRAP_FUNCTION(host_int, Int, 1, Int)
HYPERLIGHT_WRAP_FUNCTION(host_uint, UInt, 1, UInt)
HYPERLIGHT_WRAP_FUNCTION(host_long, Long, 1, Long)
HYPERLIGHT_WRAP_FUNCTION(host_ulong, ULong, 1, ULong)
HYPERLIGHT_WRAP_FUNCTION(host_float, Float, 1, Float)
HYPERLIGHT_WRAP_FUNCTION(host_double, Double, 1, Double)
HYPERLIGHT_WRAP_FUNCTION(host_bool, Bool, 1, Bool)
HYPERLIGHT_WRAP_FUNCTION(host_string, String, 1, String)
HYPERLIGHT_WRAP_FUNCTION(host_void, Int, 1, Int)
HYPERLIGHT_WRAP_FUNCTION(host_args11, String, 11, String, Int, Long, String, String, Bool, Bool,
                         UInt, ULong, Int, Float)
HYPERLIGHT_WRAP_FUNCTION(host_fail, Int, 1, Int)
HYPERLIGHT_WRAP_FUNCTION(host_missing, Int, 1, Int)
HYPERLIGHT_WRAP_FUNCTION(host_wrong_return, Int, 1, Int)
HYPERLIGHT_WRAP_FUNCTION(get_twice, Int, 1, Int)
HYPERLIGHT_WRAP_FUNCTION(get_wrong_type, Long, 1, Int)

/* ---- registration ---- */

void hyperlight_main(void)
{
    HYPERLIGHT_REGISTER_FUNCTION("Echo", echo);
    HYPERLIGHT_REGISTER_FUNCTION("EchoInt", echo_int);
    HYPERLIGHT_REGISTER_FUNCTION("EchoUInt", echo_uint);
    HYPERLIGHT_REGISTER_FUNCTION("EchoLong", echo_long);
    HYPERLIGHT_REGISTER_FUNCTION("EchoULong", echo_ulong);
    HYPERLIGHT_REGISTER_FUNCTION("EchoFloat", echo_float);
    HYPERLIGHT_REGISTER_FUNCTION("EchoDouble", echo_double);
    HYPERLIGHT_REGISTER_FUNCTION("EchoBool", echo_bool);
    HYPERLIGHT_REGISTER_FUNCTION("BytesLen", bytes_len);
    HYPERLIGHT_REGISTER_FUNCTION("DoNothing", do_nothing);
    hl_ParameterType bytes[] = {hl_ParameterType_VecBytes};
    hl_register_function_definition("SetByteArrayToZero", set_byte_array_to_zero, 1, bytes,
                                    hl_ReturnType_VecBytes);
    hl_register_function_definition("GetSizePrefixedBuffer", get_size_prefixed_buffer, 1, bytes,
                                    hl_ReturnType_VecBytes);
    hl_register_function_definition("VoidDirect", void_direct, 0, NULL, hl_ReturnType_Void);
    HYPERLIGHT_REGISTER_FUNCTION("Args0", args0);
    HYPERLIGHT_REGISTER_FUNCTION("Args1", args1);
    HYPERLIGHT_REGISTER_FUNCTION("Args2", args2);
    HYPERLIGHT_REGISTER_FUNCTION("Args3", args3);
    HYPERLIGHT_REGISTER_FUNCTION("Args4", args4);
    HYPERLIGHT_REGISTER_FUNCTION("Args5", args5);
    HYPERLIGHT_REGISTER_FUNCTION("Args6", args6);
    HYPERLIGHT_REGISTER_FUNCTION("Args7", args7);
    HYPERLIGHT_REGISTER_FUNCTION("Args8", args8);
    HYPERLIGHT_REGISTER_FUNCTION("Args9", args9);
    HYPERLIGHT_REGISTER_FUNCTION("Args10", args10);
    HYPERLIGHT_REGISTER_FUNCTION("Args11", args11);
    HYPERLIGHT_REGISTER_FUNCTION("SetErrorAndReturn", set_error_and_return);
    HYPERLIGHT_REGISTER_FUNCTION("CallMalloc", call_malloc);
    HYPERLIGHT_REGISTER_FUNCTION("GuestAbortWithCode", guest_abort_with_code);
    HYPERLIGHT_REGISTER_FUNCTION("GuestAbortWithMessage", guest_abort_with_message);
    HYPERLIGHT_REGISTER_FUNCTION("LogMessage", log_message);
    HYPERLIGHT_REGISTER_FUNCTION("LogAt", log_at);
    hl_ParameterType one_int[] = {hl_ParameterType_Int};
    hl_register_function_definition("ReturnsNull", returns_null, 1, one_int, hl_ReturnType_Int);
    hl_register_function_definition("WrongResultType", wrong_result_type, 0, NULL,
                                    hl_ReturnType_Int);
    hl_register_function_definition("ForeignResult", foreign_result, 0, NULL, hl_ReturnType_Int);
    HYPERLIGHT_REGISTER_FUNCTION("Replaced", replaced_first);
    HYPERLIGHT_REGISTER_FUNCTION("Replaced", replaced_second); /* same signature: replaces */
    hl_ParameterType ints12[12];
    for (int i = 0; i < 12; i++)
        ints12[i] = hl_ParameterType_Int;
    hl_register_function_definition("Twelve", twelve, 12, ints12, hl_ReturnType_Int);
    HYPERLIGHT_REGISTER_FUNCTION("HostInt", host_int);
    HYPERLIGHT_REGISTER_FUNCTION("HostUInt", host_uint);
    HYPERLIGHT_REGISTER_FUNCTION("HostLong", host_long);
    HYPERLIGHT_REGISTER_FUNCTION("HostULong", host_ulong);
    HYPERLIGHT_REGISTER_FUNCTION("HostFloat", host_float);
    HYPERLIGHT_REGISTER_FUNCTION("HostDouble", host_double);
    HYPERLIGHT_REGISTER_FUNCTION("HostBool", host_bool);
    HYPERLIGHT_REGISTER_FUNCTION("HostString", host_string);
    hl_register_function_definition("HostBytes", host_bytes, 1, bytes, hl_ReturnType_VecBytes);
    HYPERLIGHT_REGISTER_FUNCTION("HostVoidCall", host_void);
    HYPERLIGHT_REGISTER_FUNCTION("HostArgs11Call", host_args11);
    HYPERLIGHT_REGISTER_FUNCTION("HostFailCall", host_fail);
    HYPERLIGHT_REGISTER_FUNCTION("HostMissingCall", host_missing);
    HYPERLIGHT_REGISTER_FUNCTION("HostWrongReturn", host_wrong_return);
    HYPERLIGHT_REGISTER_FUNCTION("GetTwice", get_twice);
    HYPERLIGHT_REGISTER_FUNCTION("GetWrongType", get_wrong_type);
}

/* ---- names that are not registered ---- */

hl_Vec *c_guest_dispatch_function(const hl_FunctionCall *call)
{
    if (strcmp(call->function_name, "ThisIsNotARealFunctionButTheNameIsImportant") == 0)
        return hl_flatbuffer_result_from_Int(99);
    if (strcmp(call->function_name, "FallbackDescribe") == 0) {
        static const char *const tags[] = {"Int",    "UInt",   "Long", "ULong",   "Float",
                                           "Double", "String", "Bool", "VecBytes"};
        begin();
        put(" ");
        put(call->function_name);
        put(" ret=");
        put_u64((uint64_t)call->return_type);
        for (uintptr_t i = 0; i < call->parameters_len; i++)
            s_(tags[call->parameters[i].tag]);
        return hl_flatbuffer_result_from_String(end());
    }
    if (strcmp(call->function_name, "FallbackBytes") == 0 && call->parameters_len == 1 &&
        call->parameters[0].tag == hl_ParameterType_VecBytes)
        return hl_flatbuffer_result_from_Bytes(call->parameters[0].value.VecBytes.data,
                                               call->parameters[0].value.VecBytes.len);
    return NULL;
}
