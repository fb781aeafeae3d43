/* hyperlight_guest.h (C API) - Hyperlight's C guest API, source compatible, over our guest SDK. */
#ifndef HYPERLIGHT_GUEST_CAPI_H
#define HYPERLIGHT_GUEST_CAPI_H

/* Guests written against Hyperlight's C guest API (hyperlight_guest_capi) include this header as
 * "hyperlight_guest.h": the guest/capi directory comes first on their include path, before our
 * own SDK's header of the same name. The names, types and enum values follow Hyperlight's; see
 * docs/guest-capi.md for what is supported and what differs. Implemented by
 * libhyperlight_guest_capi.a (guest/src/capi.c, guest/src/capi_values.c). */
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Parameter types (Hyperlight's ParameterType; our wire types i32 u32 i64 u64 f32 f64 string
 * bool bytes). */
typedef enum {
    hl_ParameterType_Int,
    hl_ParameterType_UInt,
    hl_ParameterType_Long,
    hl_ParameterType_ULong,
    hl_ParameterType_Float,
    hl_ParameterType_Double,
    hl_ParameterType_String,
    hl_ParameterType_Bool,
    hl_ParameterType_VecBytes,
} hl_ParameterType;

/* Return types (Hyperlight's ReturnType; Void is our void, VecBytes our bytes). */
typedef enum {
    hl_ReturnType_Int,
    hl_ReturnType_UInt,
    hl_ReturnType_Long,
    hl_ReturnType_ULong,
    hl_ReturnType_Float,
    hl_ReturnType_Double,
    hl_ReturnType_String,
    hl_ReturnType_Bool,
    hl_ReturnType_Void,
    hl_ReturnType_VecBytes,
} hl_ReturnType;

/* Guest error codes (Hyperlight's ErrorCode, spelling included; the same numbers as our
 * hl_guest_error_code). */
typedef enum {
    hl_ErrorCode_NoError = 0,
    hl_ErrorCode_UnsupportedParameterType = 2,
    hl_ErrorCode_GuestFunctionNameNotProvided = 3,
    hl_ErrorCode_GuestFunctionNotFound = 4,
    hl_ErrorCode_GuestFunctionIncorrecNoOfParameters = 5,
    hl_ErrorCode_GispatchFunctionPointerNotSet = 6,
    hl_ErrorCode_OutbError = 7,
    hl_ErrorCode_UnknownError = 8,
    hl_ErrorCode_StackOverflow = 9,
    hl_ErrorCode_GsCheckFailed = 10,
    hl_ErrorCode_TooManyGuestFunctions = 11,
    hl_ErrorCode_FailureInDlmalloc = 12,
    hl_ErrorCode_MallocFailed = 13,
    hl_ErrorCode_GuestFunctionParameterTypeMismatch = 14,
    hl_ErrorCode_GuestError = 15,
    hl_ErrorCode_ArrayLengthParamIsMissing = 16,
    hl_ErrorCode_HostFunctionError = 17,
} hl_ErrorCode;

/* Log levels (the Rust log crate's Level, a uintptr_t as in Hyperlight's generated header). */
enum {
    hl_Level_Error = 1,
    hl_Level_Warn,
    hl_Level_Info,
    hl_Level_Debug,
    hl_Level_Trace,
};
typedef uintptr_t hl_Level;

/* A byte buffer: a VecBytes argument (the call's own bytes) or a result made by the
 * hl_flatbuffer_result_from_* functions (an opaque encoding the runtime consumes). */
typedef struct {
    uint8_t *data;
    uintptr_t len;
} hl_Vec;

/* A parameter's value; the member to read is named after its hl_ParameterType. */
typedef union {
    int32_t Int;
    uint32_t UInt;
    int64_t Long;
    uint64_t ULong;
    float Float;
    double Double;
    bool Bool;
    char *String; /* NUL-terminated */
    hl_Vec VecBytes;
} hl_ParameterValue;

typedef struct {
    hl_ParameterType tag;
    hl_ParameterValue value;
} hl_Parameter;

/* A call: a guest function's (arguments valid for the call) or one the guest makes to the host. */
typedef struct {
    const char *function_name;
    const hl_Parameter *parameters; /* NULL when parameters_len is 0 */
    uintptr_t parameters_len;
    hl_ReturnType return_type;
} hl_FunctionCall;

/* A guest function: returns a result made by an hl_flatbuffer_result_from_* function. */
typedef hl_Vec *(*hl_CGuestFunc)(const hl_FunctionCall *function_call);

/* ---- provided by the guest ---- */

/* Registers the guest's functions; called once at initialisation. */
void hyperlight_main(void);
/* Serves calls to names that were not registered: returns a result, or NULL for "not found"
 * (the caller then gets GuestFunctionNotFound with the name as message). Optional here. */
hl_Vec *c_guest_dispatch_function(const hl_FunctionCall *function_call);

/* ---- guest functions ---- */

/* Registers func_ptr under function_name (copied) with param_no parameters of the given types.
 * Registering a name again with the same signature replaces its function. An invalid or
 * conflicting registration ends initialisation with a panic naming the problem. */
void hl_register_function_definition(const char *function_name, hl_CGuestFunc func_ptr,
                                     uintptr_t param_no, const hl_ParameterType *params_type,
                                     hl_ReturnType return_type);

/* Results of a guest function, one per return type (String copies value; Bytes copies len bytes
 * of data). */
hl_Vec *hl_flatbuffer_result_from_Int(int32_t value);
hl_Vec *hl_flatbuffer_result_from_UInt(uint32_t value);
hl_Vec *hl_flatbuffer_result_from_Long(int64_t value);
hl_Vec *hl_flatbuffer_result_from_ULong(uint64_t value);
hl_Vec *hl_flatbuffer_result_from_Float(float value);
hl_Vec *hl_flatbuffer_result_from_Double(double value);
hl_Vec *hl_flatbuffer_result_from_String(const char *value);
hl_Vec *hl_flatbuffer_result_from_Bool(bool value);
hl_Vec *hl_flatbuffer_result_from_Void(void);
hl_Vec *hl_flatbuffer_result_from_Bytes(const uint8_t *data, uintptr_t len);

/* ---- host functions ---- */

/* Calls a host function; a failure (unknown function, wrong arguments, the host function's own
 * error) ends the guest call with a panic "Failed to call host function ...". */
void hl_call_host_function(const hl_FunctionCall *function_call);
/* The last host call's result, once (a second read or the wrong type panics). String and
 * VecBytes results are fresh heap copies the guest may free. */
int32_t hl_get_host_return_value_as_Int(void);
uint32_t hl_get_host_return_value_as_UInt(void);
int64_t hl_get_host_return_value_as_Long(void);
uint64_t hl_get_host_return_value_as_ULong(void);
bool hl_get_host_return_value_as_Bool(void);
float hl_get_host_return_value_as_Float(void);
double hl_get_host_return_value_as_Double(void);
const char *hl_get_host_return_value_as_String(void);
hl_Vec *hl_get_host_return_value_as_VecBytes(void);

/* ---- errors, aborts, logs ---- */

/* Fails the current call with err and message once the guest function returns (NoError: no
 * effect). */
void hl_set_error(hl_ErrorCode err, const char *message);
/* Ends the call at once: the host reports an abort with code err & 0xFF (Hyperlight sends one
 * byte) and the message (truncated to guest_panic_context_buffer_size). */
__attribute__((noreturn)) void hl_abort_with_code(int32_t err);
__attribute__((noreturn)) void hl_abort_with_code_and_message(int32_t err, const char *message);
/* Sends "LEVEL: message (file:line)" to the host's print function. */
void hl_log(hl_Level level, const char *message, int32_t line, const char *file);
#define LOG(level, message) hl_log(level, message, __LINE__, __FILE__)

#ifdef __cplusplus
}
#endif

#include "macro.h"

#endif
