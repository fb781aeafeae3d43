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
 * X(ID, key, type, flags, default, min, max, choices, doc, why_min)
 *   type:  SIZE (bytes), DURATION (milliseconds), ENUM (one of `choices`, stored as its index),
 *          INTEGER (a whole number), PATH (text: a file system path; default "", min/max unused)
 *   flags: HL_FIELD_ZERO_IS_AUTO - 0 means "take it from the guest binary"; min applies otherwise
 *          HL_FIELD_ZERO_IS_OFF  - 0 turns the feature off; min applies otherwise
 *          HL_FIELD_DEBUG        - a debugging setting (hl_policy_forbid_debugging locks it)
 *   min/max: the allowed range. A hyperfile value outside it is an error that states the range;
 *   a setter raises a value under min to min (Hyperlight's semantics) and says so. An ENUM's
 *   range is 0 to the number of choices minus one.
 *   choices: HL_CHOICES("name", ...) for an ENUM (a hyperfile writes the names), else NULL. */
#define HL_CHOICES(...) ((const char *const[]){__VA_ARGS__, (const char *)0})

#define HL_CONFIG_FIELDS(X)                                                                        \
    X(INPUT_DATA_SIZE, input_data_size, SIZE, 0, 0x4000, 256, 64 * HL_MiB, NULL,                   \
      "Size of the input data buffer (host-to-guest calls and host function results)",             \
      "one call must fit: a 16-byte header, a function name and a few arguments")                  \
    X(OUTPUT_DATA_SIZE, output_data_size, SIZE, 0, 0x4000, 256, 64 * HL_MiB, NULL,                 \
      "Size of the output data buffer (guest results and guest-to-host calls)",                    \
      "one result or host call must fit: a 16-byte header and a few values")                       \
    X(FUNCTION_DEFINITION_SIZE, function_definition_size, SIZE, 0, 0x1000, 256, 16 * HL_MiB, NULL, \
      "Size of the host function definitions buffer (read-only to the guest)",                     \
      "a 16-byte header and the definitions of a few host functions")                              \
    X(HOST_EXCEPTION_SIZE, host_exception_size, SIZE, 0, 0x4000, 64, 16 * HL_MiB, NULL,            \
      "Size of the host exception buffer (a failed host function's message, read-only to the "     \
      "guest)",                                                                                    \
      "a 16-byte header and a short message")                                                      \
    X(GUEST_ERROR_BUFFER_SIZE, guest_error_buffer_size, SIZE, 0, 0x100, 64, 16 * HL_MiB, NULL,     \
      "Size of the guest error buffer (error code and message of a failed guest call)",            \
      "an error code, a length and a short message")                                               \
    X(STACK_SIZE_OVERRIDE, stack_size_override, SIZE, HL_FIELD_ZERO_IS_AUTO, 0, 16 * HL_KiB,       \
      512 * HL_MiB, NULL, "Guest stack size; 0 takes it from the guest binary (64 KiB if it says nothing)", \
      "the guest runtime's dispatch and printf frames, a 16-byte stack cookie and guard margin")   \
    X(HEAP_SIZE_OVERRIDE, heap_size_override, SIZE, HL_FIELD_ZERO_IS_AUTO, 0, 4 * HL_KiB,          \
      512 * HL_MiB, NULL, "Guest heap size; 0 takes it from the guest binary (128 KiB if it says nothing)", \
      "one page: the allocator's header and a first block")                                        \
    X(KERNEL_STACK_SIZE, kernel_stack_size, SIZE, 0, 0x1000, 4 * HL_KiB, 16 * HL_MiB, NULL,        \
      "Size of the stack the guest's exception handlers run on",                                   \
      "one page: the CPU's exception frame and the handler that reports it")                       \
    X(MAX_EXECUTION_TIME, max_execution_time, DURATION, 0, 1000, 1, 65535, NULL,                   \
      "Longest a guest call may run before it is cancelled",                                       \
      "Hyperlight's range: at least 1 ms, at most 65535 ms (a 16-bit count of milliseconds)")      \
    X(MAX_INITIALIZATION_TIME, max_initialization_time, DURATION, 0, 2000, 1, 65535, NULL,         \
      "Longest the guest's initialisation may run",                                                \
      "Hyperlight's range: at least 1 ms, at most 65535 ms (a 16-bit count of milliseconds)")      \
    X(MAX_WAIT_FOR_CANCELLATION, max_wait_for_cancellation, DURATION, 0, 100, 10, 255, NULL,       \
      "Longest the host waits for a cancelled call to stop before it gives the sandbox up",        \
      "Hyperlight's range: a signal needs some milliseconds to land; at most 255 ms")              \
    X(GUEST_PANIC_CONTEXT_BUFFER_SIZE, guest_panic_context_buffer_size, SIZE, 0, 0x400, 256,       \
      16 * HL_MiB, NULL, "Size of the guest panic context buffer (the message of an abort or panic)", \
      "a length and a panic message long enough to locate the fault")                              \
    X(EXECUTION_MODE, execution_mode, ENUM, 0, HL_MODE_RUN_IN_HYPERVISOR,                          \
      HL_MODE_RUN_IN_HYPERVISOR, HL_MODE_RUN_IN_PROCESS, HL_CHOICES("RunInHypervisor", "RunInProcess"), \
      "Where the guest runs: \"RunInHypervisor\" (a KVM micro-VM) or \"RunInProcess\" (inside "    \
      "the host process, for debugging, no isolation)",                                            \
      "one of the two modes")                                                                      \
    X(GDB_PORT, gdb_port, INTEGER, HL_FIELD_ZERO_IS_OFF | HL_FIELD_DEBUG, 0, 1, 65535, NULL,       \
      "TCP port on 127.0.0.1 where a RunInHypervisor sandbox waits for gdb (0: no debugger); "     \
      "RunInProcess prints how to attach gdb to the host process instead",                         \
      "a TCP port number")                                                                         \
    X(GDB_STOP, gdb_stop, ENUM, HL_FIELD_DEBUG, HL_GDB_STOP_FIRST_CALL, HL_GDB_STOP_FIRST_CALL,    \
      HL_GDB_STOP_INITIALIZATION, HL_CHOICES("first-call", "initialization"),                      \
      "Where a sandbox with a gdb_port stops and waits for gdb to attach: at the entry of its "    \
      "first call, or of its initialisation",                                                      \
      "one of the two stops")                                                                      \
    X(CORE_DUMP, core_dump, ENUM, HL_FIELD_DEBUG, HL_CORE_DUMP_OFF, HL_CORE_DUMP_OFF,              \
      HL_CORE_DUMP_ALWAYS_ON_ERROR, HL_CHOICES("off", "on-fault", "always-on-error"),              \
      "When to write an ELF core file of the guest: \"on-fault\" when it faults, aborts, panics "  \
      "or overflows its stack; \"always-on-error\" also when a call is cancelled or fails",        \
      "one of the three choices")                                                                  \
    X(CORE_DUMP_DIR, core_dump_dir, PATH, HL_FIELD_DEBUG, 0, 0, HL_CONFIG_PATH_MAX - 1, NULL,      \
      "Directory the core files go to (\"\": the host process's working directory)",               \
      "a path shorter than HL_CONFIG_PATH_MAX bytes")

#endif
