/* config_fields.h - THE table of sandbox settings; everything about a setting follows from its row. */
#ifndef HYPERLIGHT_CONFIG_FIELDS_H
#define HYPERLIGHT_CONFIG_FIELDS_H

#define HL_KiB (1024ull)
#define HL_MiB (1024ull * 1024ull)
#define HL_GiB (1024ull * 1024ull * 1024ull)

/* One row per hyperfile key. The struct hl_config, its defaults, the setters and getters, the
 * hyperfile mapping, `hyperlight init`'s template, the JSON Schema and docs/hyperfile.md are all
 * generated from this table: adding a setting is adding one row.
 *
 * X(ID, key, type, flags, default, min, max, doc, why_min)
 *   type:  SIZE (bytes), DURATION (milliseconds), MODE (hl_execution_mode)
 *   flags: HL_FIELD_ZERO_IS_AUTO - 0 means "take it from the guest binary"; min applies otherwise
 *   min/max: the allowed range. A hyperfile value outside it is an error that states the range;
 *   a setter raises a value under min to min (Hyperlight's semantics) and says so. */
#define HL_CONFIG_FIELDS(X)                                                                        \
    X(INPUT_DATA_SIZE, input_data_size, SIZE, 0, 0x4000, 256, 64 * HL_MiB,                         \
      "Size of the input data buffer (host-to-guest calls and host function results)",             \
      "one call must fit: a 16-byte header, a function name and a few arguments")                  \
    X(OUTPUT_DATA_SIZE, output_data_size, SIZE, 0, 0x4000, 256, 64 * HL_MiB,                       \
      "Size of the output data buffer (guest results and guest-to-host calls)",                    \
      "one result or host call must fit: a 16-byte header and a few values")                       \
    X(FUNCTION_DEFINITION_SIZE, function_definition_size, SIZE, 0, 0x1000, 256, 16 * HL_MiB,       \
      "Size of the host function definitions buffer (read-only to the guest)",                     \
      "a 16-byte header and the definitions of a few host functions")                              \
    X(HOST_EXCEPTION_SIZE, host_exception_size, SIZE, 0, 0x4000, 64, 16 * HL_MiB,                  \
      "Size of the host exception buffer (a failed host function's message, read-only to the "     \
      "guest)",                                                                                    \
      "a 16-byte header and a short message")                                                      \
    X(GUEST_ERROR_BUFFER_SIZE, guest_error_buffer_size, SIZE, 0, 0x100, 64, 16 * HL_MiB,           \
      "Size of the guest error buffer (error code and message of a failed guest call)",            \
      "an error code, a length and a short message")                                               \
    X(STACK_SIZE_OVERRIDE, stack_size_override, SIZE, HL_FIELD_ZERO_IS_AUTO, 0, 16 * HL_KiB,       \
      512 * HL_MiB, "Guest stack size; 0 takes it from the guest binary (64 KiB if it says nothing)", \
      "the guest runtime's dispatch and printf frames, a 16-byte stack cookie and guard margin")   \
    X(HEAP_SIZE_OVERRIDE, heap_size_override, SIZE, HL_FIELD_ZERO_IS_AUTO, 0, 4 * HL_KiB,          \
      512 * HL_MiB, "Guest heap size; 0 takes it from the guest binary (128 KiB if it says nothing)", \
      "one page: the allocator's header and a first block")                                       \
    X(KERNEL_STACK_SIZE, kernel_stack_size, SIZE, 0, 0x1000, 4 * HL_KiB, 16 * HL_MiB,              \
      "Size of the stack the guest's exception handlers run on",                                   \
      "one page: the CPU's exception frame and the handler that reports it")                       \
    X(MAX_EXECUTION_TIME, max_execution_time, DURATION, 0, 1000, 1, 65535,                         \
      "Longest a guest call may run before it is cancelled",                                       \
      "Hyperlight's range: at least 1 ms, at most 65535 ms (a 16-bit count of milliseconds)")     \
    X(MAX_INITIALIZATION_TIME, max_initialization_time, DURATION, 0, 2000, 1, 65535,               \
      "Longest the guest's initialisation may run",                                                \
      "Hyperlight's range: at least 1 ms, at most 65535 ms (a 16-bit count of milliseconds)")     \
    X(MAX_WAIT_FOR_CANCELLATION, max_wait_for_cancellation, DURATION, 0, 100, 10, 255,             \
      "Longest the host waits for a cancelled call to stop before it gives the sandbox up",        \
      "Hyperlight's range: a signal needs some milliseconds to land; at most 255 ms")             \
    X(GUEST_PANIC_CONTEXT_BUFFER_SIZE, guest_panic_context_buffer_size, SIZE, 0, 0x400, 256,       \
      16 * HL_MiB, "Size of the guest panic context buffer (the message of an abort or panic)",    \
      "a length and a panic message long enough to locate the fault")                              \
    X(EXECUTION_MODE, execution_mode, MODE, 0, HL_MODE_RUN_IN_HYPERVISOR,                          \
      HL_MODE_RUN_IN_HYPERVISOR, HL_MODE_RUN_IN_PROCESS,                                           \
      "Where the guest runs: \"RunInHypervisor\" (a KVM micro-VM) or \"RunInProcess\" (inside "    \
      "the host process, for debugging, no isolation)",                                            \
      "one of the two modes")

#endif
