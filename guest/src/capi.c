/* capi.c - Hyperlight's C guest API over our runtime: registration, dispatch, errors, aborts, logs.
 */
#include "capi_internal.h"

/* Weak: a guest may leave it out, and then unregistered names are simply not found. */
hl_Vec *c_guest_dispatch_function(const hl_FunctionCall *function_call) __attribute__((weak));

typedef struct capi_fn {
    char *name;
    hl_CGuestFunc fn;
    uint32_t argc;
    hl_ParameterType params[HL_MAX_PARAMS];
    hl_ReturnType ret;
} capi_fn;

static capi_fn *g_fns;
static int g_nfns, g_capacity;
static hl_ErrorCode g_set_error; /* set by hl_set_error during the current call */

/* ---- types ---- */

int hlc_param_type(hl_ParameterType p, hl_type *out)
{
    static const hl_type map[] = {HL_TYPE_I32,    HL_TYPE_U32,  HL_TYPE_I64,
                                  HL_TYPE_U64,    HL_TYPE_F32,  HL_TYPE_F64,
                                  HL_TYPE_STRING, HL_TYPE_BOOL, HL_TYPE_BYTES};
    if ((unsigned)p >= sizeof(map) / sizeof(map[0])) return 0;
    *out = map[p];
    return 1;
}

hl_ParameterType hlc_param_of(hl_type t)
{
    static const hl_ParameterType map[HL_TYPE_COUNT] = {
        [HL_TYPE_I32] = hl_ParameterType_Int,       [HL_TYPE_U32] = hl_ParameterType_UInt,
        [HL_TYPE_I64] = hl_ParameterType_Long,      [HL_TYPE_U64] = hl_ParameterType_ULong,
        [HL_TYPE_F32] = hl_ParameterType_Float,     [HL_TYPE_F64] = hl_ParameterType_Double,
        [HL_TYPE_STRING] = hl_ParameterType_String, [HL_TYPE_BOOL] = hl_ParameterType_Bool,
        [HL_TYPE_BYTES] = hl_ParameterType_VecBytes};
    return (unsigned)t < HL_TYPE_COUNT ? map[t] : hl_ParameterType_Int;
}

int hlc_return_type(hl_ReturnType r, hl_type *out)
{
    if (r == hl_ReturnType_Void) {
        *out = HL_TYPE_VOID;
        return 1;
    }
    if (r == hl_ReturnType_VecBytes) {
        *out = HL_TYPE_BYTES;
        return 1;
    }
    return (unsigned)r < hl_ReturnType_Void && hlc_param_type((hl_ParameterType)r, out);
}

const char *hlc_param_name(hl_ParameterType p)
{
    static const char *const names[] = {"Int",    "UInt",   "Long", "ULong",   "Float",
                                        "Double", "String", "Bool", "VecBytes"};
    return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "Unknown";
}

const char *hlc_type_name(hl_type t)
{
    return t == HL_TYPE_VOID ? "Void" : hlc_param_name(hlc_param_of(t));
}

/* ---- registration ---- */

static capi_fn *find(const char *name)
{
    for (int i = 0; i < g_nfns; i++)
        if (strcmp(g_fns[i].name, name) == 0) return &g_fns[i];
    return 0;
}

void hl_register_function_definition(const char *function_name, hl_CGuestFunc func_ptr,
                                     uintptr_t param_no, const hl_ParameterType *params_type,
                                     hl_ReturnType return_type)
{
    const char *what = "hl_register_function_definition";
    if (!function_name || !*function_name) hlg_panic("%s: no function name", what);
    if (!func_ptr) hlg_panic("%s(\"%s\"): the function pointer is NULL", what, function_name);
    if (param_no > HL_MAX_PARAMS)
        hlg_panic("%s(\"%s\"): %lu parameters, at most %d", what, function_name,
                  (unsigned long)param_no, HL_MAX_PARAMS);
    if (param_no && !params_type) hlg_panic("%s(\"%s\"): no parameter types", what, function_name);
    hl_type ret, types[HL_MAX_PARAMS];
    if (!hlc_return_type(return_type, &ret))
        hlg_panic("%s(\"%s\"): invalid return type %d", what, function_name, (int)return_type);
    for (uintptr_t i = 0; i < param_no; i++)
        if (!hlc_param_type(params_type[i], &types[i]))
            hlg_panic("%s(\"%s\"): invalid type %d of parameter %lu", what, function_name,
                      (int)params_type[i], (unsigned long)i);
    capi_fn *f = find(function_name);
    if (f) { /* Hyperlight replaces the definition; the host's table keeps the first signature */
        if (f->argc != param_no || f->ret != return_type ||
            (param_no && memcmp(f->params, params_type, param_no * sizeof(*params_type)) != 0))
            hlg_panic("%s(\"%s\"): already registered with another signature", what, function_name);
        f->fn = func_ptr;
        return;
    }
    if (g_nfns == g_capacity) {
        int cap = g_capacity ? 2 * g_capacity : 16;
        capi_fn *grown = realloc(g_fns, (size_t)cap * sizeof(*grown));
        if (!grown) hlg_panic("%s(\"%s\"): out of heap memory", what, function_name);
        g_fns = grown;
        g_capacity = cap;
    }
    size_t len = strlen(function_name);
    char *name = malloc(len + 1);
    if (!name) hlg_panic("%s(\"%s\"): out of heap memory", what, function_name);
    memcpy(name, function_name, len + 1);
    int rc = hlg_register(name, ret, (int)param_no, types, NULL);
    if (rc)
        hlg_panic("%s(\"%s\"): the runtime refused it (error %d: %s)", what, function_name, rc,
                  rc == HL_GERR_TOO_MANY_GUEST_FUNCTIONS ? "too many guest functions"
                                                         : "name longer than 255 bytes");
    f = &g_fns[g_nfns++];
    f->name = name;
    f->fn = func_ptr;
    f->argc = (uint32_t)param_no;
    f->ret = return_type;
    for (uintptr_t i = 0; i < param_no; i++)
        f->params[i] = params_type[i];
}

/* ---- dispatch ---- */

/* Hyperlight's checks of a call against the registered signature, with its messages. */
static int check_call(const capi_fn *f, int argc, const hl_Parameter *params)
{
    if (argc > HLC_MAX_PARAMETERS)
        return hlg_error(HL_GERR_GUEST_ERROR,
                         "Function %s has too many parameters: %d (max allowed is %d).", f->name,
                         argc, HLC_MAX_PARAMETERS);
    if ((uint32_t)argc != f->argc)
        return hlg_error(HL_GERR_INCORRECT_NUMBER_OF_PARAMETERS,
                         "Called function %s with %d parameters but it takes %u.", f->name, argc,
                         f->argc);
    for (int i = 0; i < argc; i++)
        if (params[i].tag != f->params[i])
            return hlg_error(HL_GERR_PARAMETER_TYPE_MISMATCH,
                             "Expected parameter type %s for parameter index %d of function %s but "
                             "got %s.",
                             hlc_param_name(f->params[i]), i, f->name,
                             hlc_param_name(params[i].tag));
    return 0;
}

/* Every C API function is registered without a runtime function, so all of its calls, and those
 * to unknown names, come here. */
int hlg_fallback_dispatch(const char *name, int argc, const hlg_value *args, hlg_value *ret)
{
    hlc_results_release();
    hlc_host_reset();
    g_set_error = hl_ErrorCode_NoError;
    hl_Parameter params[HL_MAX_PARAMS];
    for (int i = 0; i < argc; i++) {
        params[i].tag = hlc_param_of(args[i].type);
        switch (args[i].type) {
        case HL_TYPE_I32:
            params[i].value.Int = args[i].u.i32;
            break;
        case HL_TYPE_U32:
            params[i].value.UInt = args[i].u.u32;
            break;
        case HL_TYPE_I64:
            params[i].value.Long = args[i].u.i64;
            break;
        case HL_TYPE_U64:
            params[i].value.ULong = args[i].u.u64;
            break;
        case HL_TYPE_F32:
            params[i].value.Float = args[i].u.f32;
            break;
        case HL_TYPE_F64:
            params[i].value.Double = args[i].u.f64;
            break;
        case HL_TYPE_BOOL:
            params[i].value.Bool = args[i].u.b;
            break;
        case HL_TYPE_STRING:
            params[i].value.String = (char *)args[i].u.str.ptr;
            break;
        default:
            params[i].value.VecBytes.data = (uint8_t *)args[i].u.str.ptr;
            params[i].value.VecBytes.len = args[i].u.str.len;
            break;
        }
    }
    const capi_fn *f = find(name);
    if (f) {
        int rc = check_call(f, argc, params);
        if (rc) return rc;
    }
    hl_FunctionCall call = {name, argc ? params : 0, (uintptr_t)argc,
                            f ? f->ret : hl_ReturnType_Void};
    hl_Vec *result = f                           ? f->fn(&call)
                     : c_guest_dispatch_function ? c_guest_dispatch_function(&call)
                                                 : 0;
    if (g_set_error != hl_ErrorCode_NoError)
        return (int)g_set_error; /* hl_set_error wrote the message */
    if (!result && f)
        return hlg_error(HL_GERR_GUEST_ERROR, "C guest function \"%s\" returned null", name);
    if (!result) return hlg_error(HL_GERR_FUNCTION_NOT_FOUND, "%s", name);
    if (hlc_take_result(result, ret) != 0)
        return hlg_error(HL_GERR_GUEST_ERROR,
                         "C guest function \"%s\" returned a value that no "
                         "hl_flatbuffer_result_from_* function made",
                         name);
    hl_type declared;
    if (f && hlc_return_type(f->ret, &declared) && ret->type != declared)
        return hlg_error(
            HL_GERR_GUEST_ERROR,
            "C guest function \"%s\" returned %s, but it is registered as returning %s", name,
            hlc_type_name(ret->type), hlc_type_name(declared));
    return 0;
}

/* ---- errors, aborts, logs ---- */

void hl_set_error(hl_ErrorCode err, const char *message)
{
    g_set_error = err;
    if (err != hl_ErrorCode_NoError) hlg_error((int)err, "%s", message ? message : "");
}

void hl_abort_with_code(int32_t err)
{
    hlg_abort((uint8_t)err, "");
}

void hl_abort_with_code_and_message(int32_t err, const char *message)
{
    hlg_abort((uint8_t)err, message ? message : "");
}

void hl_log(hl_Level level, const char *message, int32_t line, const char *file)
{
    static const char *const names[] = {"LOG", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"};
    const char *name = level < sizeof(names) / sizeof(names[0]) ? names[level] : names[0];
    hlg_printf("%s: %s (%s:%d)\n", name, message ? message : "", file ? file : "?", (int)line);
}
