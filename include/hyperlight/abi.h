/* abi.h - the host/guest ABI: PEB, message encoding, ports, value types and error codes. */
#ifndef HYPERLIGHT_ABI_H
#define HYPERLIGHT_ABI_H

/* Shared by the host library and the freestanding guest runtime, so it uses only <stdint.h>.
 * Everything is little-endian and naturally aligned. The host trusts nothing a guest wrote
 * here: every length and address is checked before use. */
#include <stdint.h>

#define HL_ABI_VERSION 1u
#define HL_PEB_MAGIC 0x3142455048594C48ull /* "HLYPHEB1" */

/* Execution modes as the guest sees them (peb.run_mode). */
#define HL_RUN_HYPERVISOR 0u
#define HL_RUN_IN_PROCESS 1u

/* I/O ports a KVM guest writes to (Hyperlight's numbers); in-process the same numbers are passed
 * to peb.host_call. A guest call ends with `hlt` (KVM) or a return (in-process). */
#define HL_PORT_LOG 99u
#define HL_PORT_CALL_FUNCTION 101u
#define HL_PORT_ABORT 102u
#define HL_PORT_EXCEPTION 103u /* reserved: the host's exception stubs report a CPU exception */
#define HL_PORT_SERVICE 104u   /* the guest asks the host for the time or random bytes */
#define HL_PORT_TLS 105u       /* in-process: the guest's thread pointer changed (peb.thread_pointer) */

/* Value types of parameters and results. */
typedef enum hl_type {
    HL_TYPE_VOID = 0, /* results only */
    HL_TYPE_I32 = 1,
    HL_TYPE_U32 = 2,
    HL_TYPE_I64 = 3,
    HL_TYPE_U64 = 4,
    HL_TYPE_F32 = 5,
    HL_TYPE_F64 = 6,
    HL_TYPE_BOOL = 7,
    HL_TYPE_STRING = 8, /* UTF-8, length-counted, NUL-terminated in guest memory */
    HL_TYPE_BYTES = 9,
} hl_type;
#define HL_TYPE_COUNT 10
#define HL_MAX_PARAMS 16
#define HL_MAX_NAME_LEN 255

/* Hyperlight's guest error codes (ErrorCode in Hyperlight's schema). */
typedef enum hl_guest_error_code {
    HL_GERR_NONE = 0,
    HL_GERR_UNSUPPORTED_PARAMETER_TYPE = 2,
    HL_GERR_FUNCTION_NAME_NOT_PROVIDED = 3,
    HL_GERR_FUNCTION_NOT_FOUND = 4,
    HL_GERR_INCORRECT_NUMBER_OF_PARAMETERS = 5,
    HL_GERR_DISPATCH_POINTER_NOT_SET = 6,
    HL_GERR_OUTB_ERROR = 7,
    HL_GERR_UNKNOWN = 8,
    HL_GERR_STACK_OVERFLOW = 9,
    HL_GERR_GS_CHECK_FAILED = 10,
    HL_GERR_TOO_MANY_GUEST_FUNCTIONS = 11,
    HL_GERR_FAILURE_IN_DLMALLOC = 12,
    HL_GERR_MALLOC_FAILED = 13,
    HL_GERR_PARAMETER_TYPE_MISMATCH = 14,
    HL_GERR_GUEST_ERROR = 15,
    HL_GERR_ARRAY_LENGTH_PARAM_MISSING = 16,
    HL_GERR_HOST_FUNCTION_ERROR = 17,
} hl_guest_error_code;

typedef struct hl_region {
    uint64_t addr; /* guest address (KVM: guest physical = virtual; in-process: host address) */
    uint64_t size;
} hl_region;

/* The Process Environment Block: one page the host fills before the guest's first instruction.
 * The guest writes only dispatch_function (at initialisation). */
typedef struct hl_peb {
    uint64_t magic;
    uint32_t abi_version;
    uint32_t run_mode;
    uint64_t base, total_size; /* the whole sandbox */
    hl_region code;
    hl_region host_function_definitions; /* read-only to the guest */
    hl_region host_exception;            /* read-only to the guest */
    hl_region guest_error;
    hl_region input;
    hl_region output;
    hl_region panic_context;
    hl_region heap;
    hl_region stack; /* addr is the lowest address; the stack grows down from addr + size */
    hl_region kernel_stack;
    uint64_t stack_cookie_addr; /* 16 bytes the host fills and checks after every call */
    uint64_t dispatch_function; /* written by the guest runtime at initialisation */
    uint64_t host_call;         /* in-process: void (*)(uint64_t ctx, uint32_t port) */
    uint64_t host_call_ctx;
    uint64_t syscall_entry;  /* written by the guest runtime: where its system calls go */
    uint64_t thread_pointer; /* in-process: the guest's FS base, written before HL_PORT_TLS */
    uint64_t reserved[6];
} hl_peb;

/* ---- messages ----
 * A call (host->guest at the start of `input`; guest->host at the start of `output`):
 *     hl_msg_call, then the name (name_len bytes and a NUL), padded to 8, then argc values.
 * A value: hl_msg_value, then `len` payload bytes padded to 8. Scalars have an 8-byte payload
 * (i32/u32/bool zero- or sign-extended, f32 as its 4 bytes in the low half).
 * A result (guest->host at the start of `output`; a host function's result for the guest in
 * `input` at the first 8-aligned offset after the call message): hl_msg_result, then one value
 * when status is 0. A failed guest call leaves status = its error code and fills guest_error. */
#define HL_MSG_CALL_MAGIC 0x4C4C4143u   /* "CALL" */
#define HL_MSG_RESULT_MAGIC 0x544C5352u /* "RSLT" */
#define HL_MSG_LOG_MAGIC 0x20474F4Cu    /* "LOG " */
#define HL_MSG_SERVICE_MAGIC 0x56524553u /* "SERV" */

/* A service request (HL_PORT_SERVICE) at the start of `output`; the host answers at the host
 * result offset in `input` with an hl_msg_service whose status is 0 and `len` bytes after it. */
typedef struct hl_msg_service {
    uint32_t magic;
    uint32_t kind; /* HL_SERVICE_* */
    uint32_t len;  /* bytes wanted (request) or given (answer) */
    uint32_t status;
} hl_msg_service;
#define HL_SERVICE_CLOCK_REALTIME 1u  /* 8 bytes: nanoseconds since the epoch */
#define HL_SERVICE_CLOCK_MONOTONIC 2u /* 8 bytes: nanoseconds of a monotonic clock */
#define HL_SERVICE_RANDOM 3u          /* len random bytes, at most HL_SERVICE_RANDOM_MAX */
#define HL_SERVICE_RANDOM_MAX 256u

typedef struct hl_msg_call {
    uint32_t magic;
    uint32_t total_len; /* the whole message, header included */
    uint32_t name_len;
    uint32_t argc;
} hl_msg_call;

typedef struct hl_msg_value {
    uint32_t type; /* hl_type */
    uint32_t len;  /* payload bytes, before padding */
} hl_msg_value;

typedef struct hl_msg_result {
    uint32_t magic;
    uint32_t total_len;
    uint32_t status; /* hl_guest_error_code, 0 on success */
    uint32_t reserved;
} hl_msg_result;

/* A log line (HL_PORT_LOG) at the start of `output`: header then `len` bytes of text. */
typedef struct hl_msg_log {
    uint32_t magic;
    uint32_t len;
} hl_msg_log;

/* guest_error region: code, then message length, then the message (truncated to fit). */
typedef struct hl_guest_error_hdr {
    uint64_t code;
    uint32_t len;
    uint32_t reserved;
} hl_guest_error_hdr;

/* host_exception and panic_context regions: a length, then that many bytes of message. */
/* panic_context code of a panic (an abort carries the code the guest chose). */
#define HL_PANIC_CODE 0xFFFFFFFFu

typedef struct hl_message_hdr {
    uint32_t len;
    uint32_t code; /* panic_context: the abort code; host_exception: 0 */
} hl_message_hdr;

/* host_function_definitions region: header, then count entries, then their names. */
typedef struct hl_host_fn_table {
    uint32_t magic; /* HL_MSG_HOSTFN_MAGIC */
    uint32_t count;
    uint32_t total_len;
    uint32_t reserved;
} hl_host_fn_table;
#define HL_MSG_HOSTFN_MAGIC 0x4E464F48u /* "HOFN" */

typedef struct hl_fn_def {
    uint32_t name_off; /* offset of the NUL-terminated name from the table's start */
    uint32_t name_len;
    uint8_t ret;                  /* hl_type */
    uint8_t argc;
    uint8_t params[HL_MAX_PARAMS]; /* hl_type each */
    uint8_t reserved[6];
} hl_fn_def;

/* The guest's functions, written to `output` at the end of initialisation: the same shape,
 * magic HL_MSG_GUESTFN_MAGIC. */
#define HL_MSG_GUESTFN_MAGIC 0x4E465547u /* "GUFN" */

/* ELF note by which a guest asks for stack and heap sizes (section .note.hyperlight). */
#define HL_NOTE_NAME "Hyperlight"
#define HL_NOTE_TYPE_RESOURCES 1u
typedef struct hl_note_resources {
    uint64_t stack_size;
    uint64_t heap_size;
} hl_note_resources;

#endif
