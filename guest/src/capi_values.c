/* capi_values.c - Hyperlight's C guest API over our runtime: results, host calls and their values.
 */
#include "capi_internal.h"

/* A result made by hl_flatbuffer_result_from_*: the guest holds &vec, whose data points at magic
 * (so a foreign hl_Vec is told apart); strings and bytes follow, NUL-terminated. */
#define HLC_RESULT_MAGIC 0x52434C48u /* "HLCR" */
typedef struct hlc_result {
    hl_Vec vec;
    uint32_t magic;
    uint32_t reserved;
    hlg_value value;
    char payload[];
} hlc_result;
#define HLC_RESULT_HEADER (sizeof(hlc_result) - offsetof(hlc_result, magic))

static hlc_result *g_taken; /* the result of the current call, freed as the next one starts */

static hlg_value g_host_value; /* the last host call's result, until a getter takes it */
static int g_host_value_set;

static hl_Vec *make(hl_type type, const void *data, size_t len)
{
    if (len > UINT32_MAX - 1)
        hlg_panic("hl_flatbuffer_result_from_%s: %lu bytes, at most %u", hlc_type_name(type),
                  (unsigned long)len, UINT32_MAX - 1);
    size_t extra = type == HL_TYPE_STRING || type == HL_TYPE_BYTES ? len + 1 : 0;
    hlc_result *r = malloc(sizeof(*r) + extra);
    if (!r)
        hlg_panic("hl_flatbuffer_result_from_%s: out of heap memory for %lu bytes",
                  hlc_type_name(type), (unsigned long)(sizeof(*r) + extra));
    memset(r, 0, sizeof(*r));
    r->magic = HLC_RESULT_MAGIC;
    r->vec.data = (uint8_t *)&r->magic;
    r->vec.len = HLC_RESULT_HEADER + extra;
    r->value.type = type;
    if (extra) {
        if (len) memcpy(r->payload, data, len);
        r->payload[len] = 0;
        r->value.u.str.ptr = r->payload;
        r->value.u.str.len = (uint32_t)len;
    } else if (len) {
        memcpy(&r->value.u, data, len);
    }
    return &r->vec;
}

hl_Vec *hl_flatbuffer_result_from_Int(int32_t value)
{
    return make(HL_TYPE_I32, &value, sizeof(value));
}
hl_Vec *hl_flatbuffer_result_from_UInt(uint32_t value)
{
    return make(HL_TYPE_U32, &value, sizeof(value));
}
hl_Vec *hl_flatbuffer_result_from_Long(int64_t value)
{
    return make(HL_TYPE_I64, &value, sizeof(value));
}
hl_Vec *hl_flatbuffer_result_from_ULong(uint64_t value)
{
    return make(HL_TYPE_U64, &value, sizeof(value));
}
hl_Vec *hl_flatbuffer_result_from_Float(float value)
{
    return make(HL_TYPE_F32, &value, sizeof(value));
}
hl_Vec *hl_flatbuffer_result_from_Double(double value)
{
    return make(HL_TYPE_F64, &value, sizeof(value));
}
hl_Vec *hl_flatbuffer_result_from_Void(void)
{
    return make(HL_TYPE_VOID, 0, 0);
}

hl_Vec *hl_flatbuffer_result_from_Bool(bool value)
{
    return make(HL_TYPE_BOOL, &value, sizeof(value));
}

hl_Vec *hl_flatbuffer_result_from_String(const char *value)
{
    if (!value) hlg_panic("hl_flatbuffer_result_from_String: the string is NULL");
    return make(HL_TYPE_STRING, value, strlen(value));
}

hl_Vec *hl_flatbuffer_result_from_Bytes(const uint8_t *data, uintptr_t len)
{
    if (!data && len)
        hlg_panic("hl_flatbuffer_result_from_Bytes: data is NULL, len is %lu", (unsigned long)len);
    return make(HL_TYPE_BYTES, data, len);
}

int hlc_take_result(hl_Vec *vec, hlg_value *out)
{
    hlc_result *r = (hlc_result *)vec;
    if (!vec || vec->data != (uint8_t *)&r->magic || vec->len < HLC_RESULT_HEADER ||
        r->magic != HLC_RESULT_MAGIC)
        return -1;
    r->magic = 0; /* taken: returning it again is refused */
    *out = r->value;
    hlc_results_release();
    g_taken = r;
    return 0;
}

void hlc_results_release(void)
{
    free(g_taken);
    g_taken = 0;
}

/* ---- host calls ---- */

void hlc_host_reset(void)
{
    g_host_value_set = 0;
}

static const char *host_error(int rc)
{
    switch (rc) {
    case HL_GERR_FUNCTION_NOT_FOUND:
        return "no such host function";
    case HL_GERR_INCORRECT_NUMBER_OF_PARAMETERS:
        return "wrong number of parameters";
    case HL_GERR_PARAMETER_TYPE_MISMATCH:
        return "parameter or return type mismatch";
    case HL_GERR_HOST_FUNCTION_ERROR:
        return hlg_host_exception(0);
    default:
        return "the call could not be made";
    }
}

void hl_call_host_function(const hl_FunctionCall *function_call)
{
    const char *what = "Failed to call host function";
    g_host_value_set = 0;
    if (!function_call || !function_call->function_name)
        hlg_panic("%s: no function call or name", what);
    const char *name = function_call->function_name;
    uintptr_t argc = function_call->parameters_len;
    if (argc > HL_MAX_PARAMS || (argc && !function_call->parameters))
        hlg_panic("%s \"%s\": %lu parameters (at most %d)", what, name, (unsigned long)argc,
                  HL_MAX_PARAMS);
    hlg_value args[HL_MAX_PARAMS];
    for (uintptr_t i = 0; i < argc; i++) {
        const hl_Parameter *p = &function_call->parameters[i];
        if (!hlc_param_type(p->tag, &args[i].type))
            hlg_panic("%s \"%s\": parameter %lu has invalid type %d", what, name, (unsigned long)i,
                      (int)p->tag);
        switch (p->tag) {
        case hl_ParameterType_Int:
            args[i].u.i32 = p->value.Int;
            break;
        case hl_ParameterType_UInt:
            args[i].u.u32 = p->value.UInt;
            break;
        case hl_ParameterType_Long:
            args[i].u.i64 = p->value.Long;
            break;
        case hl_ParameterType_ULong:
            args[i].u.u64 = p->value.ULong;
            break;
        case hl_ParameterType_Float:
            args[i].u.f32 = p->value.Float;
            break;
        case hl_ParameterType_Double:
            args[i].u.f64 = p->value.Double;
            break;
        case hl_ParameterType_Bool:
            args[i].u.b = p->value.Bool;
            break;
        case hl_ParameterType_String: {
            const char *s = p->value.String ? p->value.String : "";
            size_t len = strlen(s);
            if (len > UINT32_MAX - 1)
                hlg_panic("%s \"%s\": parameter %lu is too long", what, name, (unsigned long)i);
            args[i].u.str.ptr = s;
            args[i].u.str.len = (uint32_t)len;
            break;
        }
        default:
            if ((!p->value.VecBytes.data && p->value.VecBytes.len) ||
                p->value.VecBytes.len > UINT32_MAX - 1)
                hlg_panic("%s \"%s\": parameter %lu has invalid bytes", what, name,
                          (unsigned long)i);
            args[i].u.str.ptr = (const char *)p->value.VecBytes.data;
            args[i].u.str.len = (uint32_t)p->value.VecBytes.len;
            break;
        }
    }
    hl_type ret;
    if (!hlc_return_type(function_call->return_type, &ret))
        hlg_panic("%s \"%s\": invalid return type %d", what, name, (int)function_call->return_type);
    int rc = hlg_call_host(name, ret, &g_host_value, (int)argc, args);
    if (rc) hlg_panic("%s \"%s\": %s", what, name, host_error(rc));
    g_host_value_set = 1;
}

/* Takes the last host call's result, which must be of type t. */
static hlg_value take(hl_type t, const char *as)
{
    if (!g_host_value_set || g_host_value.type != t)
        hlg_panic("Unable to get host return value as %s", as);
    g_host_value_set = 0;
    return g_host_value;
}

int32_t hl_get_host_return_value_as_Int(void)
{
    return take(HL_TYPE_I32, "int").u.i32;
}
uint32_t hl_get_host_return_value_as_UInt(void)
{
    return take(HL_TYPE_U32, "uint").u.u32;
}
int64_t hl_get_host_return_value_as_Long(void)
{
    return take(HL_TYPE_I64, "long").u.i64;
}
uint64_t hl_get_host_return_value_as_ULong(void)
{
    return take(HL_TYPE_U64, "ulong").u.u64;
}
bool hl_get_host_return_value_as_Bool(void)
{
    return take(HL_TYPE_BOOL, "bool").u.b;
}
float hl_get_host_return_value_as_Float(void)
{
    return take(HL_TYPE_F32, "float").u.f32;
}
double hl_get_host_return_value_as_Double(void)
{
    return take(HL_TYPE_F64, "double").u.f64;
}

/* A heap copy of len bytes and a NUL. */
static char *copy(const char *p, uint32_t len, const char *as)
{
    char *c = malloc((size_t)len + 1);
    if (!c) hlg_panic("Unable to get host return value as %s: out of heap memory", as);
    if (len) memcpy(c, p, len);
    c[len] = 0;
    return c;
}

const char *hl_get_host_return_value_as_String(void)
{
    hlg_value v = take(HL_TYPE_STRING, "string");
    return copy(v.u.str.ptr, v.u.str.len, "string");
}

hl_Vec *hl_get_host_return_value_as_VecBytes(void)
{
    hlg_value v = take(HL_TYPE_BYTES, "bytes");
    hl_Vec *vec = malloc(sizeof(*vec));
    if (!vec) hlg_panic("Unable to get host return value as bytes: out of heap memory");
    vec->data = (uint8_t *)copy(v.u.str.ptr, v.u.str.len, "bytes");
    vec->len = v.u.str.len;
    return vec;
}
