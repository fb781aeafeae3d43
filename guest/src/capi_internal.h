/* capi_internal.h - what the two halves of the Hyperlight C API layer (capi.c, capi_values.c)
 * share. */
#ifndef HYPERLIGHT_GUEST_CAPI_INTERNAL_H
#define HYPERLIGHT_GUEST_CAPI_INTERNAL_H

/* Both headers are called hyperlight_guest.h: our SDK's comes from the include path, the C API's
 * by its place beside this directory. */
#include "../capi/hyperlight_guest.h"
#include "hyperlight_guest.h"

/* Hyperlight allows at most this many parameters in a call (GuestFunctionDefinition). */
#define HLC_MAX_PARAMETERS 11

/* hl_ParameterType -> our wire type; 0 when the value is not a valid hl_ParameterType. */
int hlc_param_type(hl_ParameterType p, hl_type *out);
/* Our wire type -> hl_ParameterType (every type but void has one). */
hl_ParameterType hlc_param_of(hl_type t);
/* hl_ReturnType -> our wire type; 0 when the value is not a valid hl_ReturnType. */
int hlc_return_type(hl_ReturnType r, hl_type *out);
/* Hyperlight's names of the types ("Int", "VecBytes", ...), as its messages print them. */
const char *hlc_param_name(hl_ParameterType p);
const char *hlc_type_name(hl_type t);

/* Turns a result from hl_flatbuffer_result_from_* into *out (strings and bytes stay in the
 * result's memory until hlc_results_release). Returns 0, or -1 when vec is not such a result. */
int hlc_take_result(hl_Vec *vec, hlg_value *out);
/* Frees the result taken for the previous call (called as each call starts). */
void hlc_results_release(void);
/* Forgets the last host call's result (called as each call starts). */
void hlc_host_reset(void);

#endif
