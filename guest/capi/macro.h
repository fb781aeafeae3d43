/* macro.h (C API) - HYPERLIGHT_WRAP_FUNCTION and HYPERLIGHT_REGISTER_FUNCTION of Hyperlight's C
 * API. */
#ifndef HYPERLIGHT_GUEST_CAPI_MACRO_H
#define HYPERLIGHT_GUEST_CAPI_MACRO_H

#include "hyperlight_guest.h"

/* HYPERLIGHT_WRAP_FUNCTION(function, return_type, paramsc, param_types...), at file scope, makes
 * a wrapper `_call_<function>` that takes the arguments out of an hl_FunctionCall, calls the plain
 * C function and turns its value into a result; plus `_<function>_parameter_count`,
 * `_<function>_return_type` and `_<function>_parameter_types` for HYPERLIGHT_REGISTER_FUNCTION.
 * return_type and the param_types are hl_ReturnType / hl_ParameterType member names (Int, UInt,
 * Long, ULong, Float, Double, String, Bool; VecBytes as a parameter); paramsc is a literal 0..11.
 * A function returning bytes is registered with hl_register_function_definition directly.
 * Unlike Hyperlight's macro, a function returning void can be wrapped (return type Void). */
#define HYPERLIGHT_WRAP_FUNCTION(function, return_type, paramsc, ...)                              \
    HLC_WRAP_##paramsc(function, return_type, __VA_ARGS__)

/* Registers a function wrapped by HYPERLIGHT_WRAP_FUNCTION under a name (in hyperlight_main). */
#define HYPERLIGHT_REGISTER_FUNCTION(name, function)                                               \
    hl_register_function_definition(name, &_call_##function, _##function##_parameter_count,        \
                                    _##function##_parameter_types, _##function##_return_type)

/* ---- implementation ---- */

/* The result of expr: hl_flatbuffer_result_from_<type>(expr), or for Void, expr then a void
 * result (a void expression cannot be an argument). */
#define HLC_RESULT(type, expr)  HLC_RESULT_##type(expr)
#define HLC_RESULT_Int(expr)    hl_flatbuffer_result_from_Int(expr)
#define HLC_RESULT_UInt(expr)   hl_flatbuffer_result_from_UInt(expr)
#define HLC_RESULT_Long(expr)   hl_flatbuffer_result_from_Long(expr)
#define HLC_RESULT_ULong(expr)  hl_flatbuffer_result_from_ULong(expr)
#define HLC_RESULT_Float(expr)  hl_flatbuffer_result_from_Float(expr)
#define HLC_RESULT_Double(expr) hl_flatbuffer_result_from_Double(expr)
#define HLC_RESULT_String(expr) hl_flatbuffer_result_from_String(expr)
#define HLC_RESULT_Bool(expr)   hl_flatbuffer_result_from_Bool(expr)
#define HLC_RESULT_Void(expr)   ((expr), hl_flatbuffer_result_from_Void())

/* Argument i, read as the union member named after its type. */
#define HLC_ARG(i, type) function_call->parameters[i].value.type

/* The definitions every arity shares: count, the parameter types and the call's arguments. */
#define HLC_DEFINE(function, return_type, count, args, ...)                                        \
    hl_Vec *_call_##function(const hl_FunctionCall *function_call)                                 \
    {                                                                                              \
        (void)function_call;                                                                       \
        return HLC_RESULT(return_type, function args);                                             \
    }                                                                                              \
    uintptr_t _##function##_parameter_count = count;                                               \
    hl_ReturnType _##function##_return_type = hl_ReturnType_##return_type;                         \
    hl_ParameterType _##function##_parameter_types[] = {__VA_ARGS__};

#define HLC_T(t) hl_ParameterType_##t

#define HLC_WRAP_0(f, r, ...) HLC_DEFINE(f, r, 0, (), (hl_ParameterType)0)
#define HLC_WRAP_1(f, r, a)   HLC_DEFINE(f, r, 1, (HLC_ARG(0, a)), HLC_T(a))
#define HLC_WRAP_2(f, r, a, b)                                                                     \
    HLC_DEFINE(f, r, 2, (HLC_ARG(0, a), HLC_ARG(1, b)), HLC_T(a), HLC_T(b))
#define HLC_WRAP_3(f, r, a, b, c)                                                                  \
    HLC_DEFINE(f, r, 3, (HLC_ARG(0, a), HLC_ARG(1, b), HLC_ARG(2, c)), HLC_T(a), HLC_T(b), HLC_T(c))
#define HLC_WRAP_4(f, r, a, b, c, d)                                                               \
    HLC_DEFINE(f, r, 4, (HLC_ARG(0, a), HLC_ARG(1, b), HLC_ARG(2, c), HLC_ARG(3, d)), HLC_T(a),    \
               HLC_T(b), HLC_T(c), HLC_T(d))
#define HLC_WRAP_5(f, r, a, b, c, d, e)                                                            \
    HLC_DEFINE(f, r, 5,                                                                            \
               (HLC_ARG(0, a), HLC_ARG(1, b), HLC_ARG(2, c), HLC_ARG(3, d), HLC_ARG(4, e)),        \
               HLC_T(a), HLC_T(b), HLC_T(c), HLC_T(d), HLC_T(e))
#define HLC_WRAP_6(f, r, a, b, c, d, e, g)                                                         \
    HLC_DEFINE(f, r, 6,                                                                            \
               (HLC_ARG(0, a), HLC_ARG(1, b), HLC_ARG(2, c), HLC_ARG(3, d), HLC_ARG(4, e),         \
                HLC_ARG(5, g)),                                                                    \
               HLC_T(a), HLC_T(b), HLC_T(c), HLC_T(d), HLC_T(e), HLC_T(g))
#define HLC_WRAP_7(f, r, a, b, c, d, e, g, h)                                                      \
    HLC_DEFINE(f, r, 7,                                                                            \
               (HLC_ARG(0, a), HLC_ARG(1, b), HLC_ARG(2, c), HLC_ARG(3, d), HLC_ARG(4, e),         \
                HLC_ARG(5, g), HLC_ARG(6, h)),                                                     \
               HLC_T(a), HLC_T(b), HLC_T(c), HLC_T(d), HLC_T(e), HLC_T(g), HLC_T(h))
#define HLC_WRAP_8(f, r, a, b, c, d, e, g, h, i)                                                   \
    HLC_DEFINE(f, r, 8,                                                                            \
               (HLC_ARG(0, a), HLC_ARG(1, b), HLC_ARG(2, c), HLC_ARG(3, d), HLC_ARG(4, e),         \
                HLC_ARG(5, g), HLC_ARG(6, h), HLC_ARG(7, i)),                                      \
               HLC_T(a), HLC_T(b), HLC_T(c), HLC_T(d), HLC_T(e), HLC_T(g), HLC_T(h), HLC_T(i))
#define HLC_WRAP_9(f, r, a, b, c, d, e, g, h, i, j)                                                \
    HLC_DEFINE(f, r, 9,                                                                            \
               (HLC_ARG(0, a), HLC_ARG(1, b), HLC_ARG(2, c), HLC_ARG(3, d), HLC_ARG(4, e),         \
                HLC_ARG(5, g), HLC_ARG(6, h), HLC_ARG(7, i), HLC_ARG(8, j)),                       \
               HLC_T(a), HLC_T(b), HLC_T(c), HLC_T(d), HLC_T(e), HLC_T(g), HLC_T(h), HLC_T(i),     \
               HLC_T(j))
#define HLC_WRAP_10(f, r, a, b, c, d, e, g, h, i, j, k)                                            \
    HLC_DEFINE(f, r, 10,                                                                           \
               (HLC_ARG(0, a), HLC_ARG(1, b), HLC_ARG(2, c), HLC_ARG(3, d), HLC_ARG(4, e),         \
                HLC_ARG(5, g), HLC_ARG(6, h), HLC_ARG(7, i), HLC_ARG(8, j), HLC_ARG(9, k)),        \
               HLC_T(a), HLC_T(b), HLC_T(c), HLC_T(d), HLC_T(e), HLC_T(g), HLC_T(h), HLC_T(i),     \
               HLC_T(j), HLC_T(k))
#define HLC_WRAP_11(f, r, a, b, c, d, e, g, h, i, j, k, l)                                         \
    HLC_DEFINE(f, r, 11,                                                                           \
               (HLC_ARG(0, a), HLC_ARG(1, b), HLC_ARG(2, c), HLC_ARG(3, d), HLC_ARG(4, e),         \
                HLC_ARG(5, g), HLC_ARG(6, h), HLC_ARG(7, i), HLC_ARG(8, j), HLC_ARG(9, k),         \
                HLC_ARG(10, l)),                                                                   \
               HLC_T(a), HLC_T(b), HLC_T(c), HLC_T(d), HLC_T(e), HLC_T(g), HLC_T(h), HLC_T(i),     \
               HLC_T(j), HLC_T(k), HLC_T(l))

#endif
