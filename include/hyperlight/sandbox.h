/* sandbox.h - sandboxes: create from a guest binary and a config, register host functions, call guests. */
#ifndef HYPERLIGHT_SANDBOX_H
#define HYPERLIGHT_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hyperlight/abi.h"
#include "hyperlight/config.h"
#include "hyperlight/error.h"

#include "hyperlight/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A typed value: a guest function's argument or result, or a host function's. For STRING
 * (UTF-8, len excludes the NUL that always follows) and BYTES, ptr/len describe the data. */
typedef struct hl_value {
    hl_type type;
    union {
        int32_t i32;
        uint32_t u32;
        int64_t i64;
        uint64_t u64;
        float f32;
        double f64;
        bool b;
        struct {
            const void *ptr;
            size_t len;
        } buf;
    } u;
} hl_value;

static inline hl_value hl_i32(int32_t v) { hl_value x = {HL_TYPE_I32, {.i32 = v}}; return x; }
static inline hl_value hl_u32(uint32_t v) { hl_value x = {HL_TYPE_U32, {.u32 = v}}; return x; }
static inline hl_value hl_i64(int64_t v) { hl_value x = {HL_TYPE_I64, {.i64 = v}}; return x; }
static inline hl_value hl_u64(uint64_t v) { hl_value x = {HL_TYPE_U64, {.u64 = v}}; return x; }
static inline hl_value hl_f32(float v) { hl_value x = {HL_TYPE_F32, {.f32 = v}}; return x; }
static inline hl_value hl_f64(double v) { hl_value x = {HL_TYPE_F64, {.f64 = v}}; return x; }
static inline hl_value hl_bool(bool v) { hl_value x = {HL_TYPE_BOOL, {.b = v}}; return x; }
/* s must stay valid while the value is used; len is strlen(s). */
HL_API hl_value hl_string(const char *s);
HL_API hl_value hl_bytes(const void *p, size_t len);

/* "i32", "string", ... and the reverse (HL_TYPE_COUNT when unknown). */
HL_API const char *hl_type_name(hl_type type);
HL_API hl_type hl_type_from_name(const char *name);

/* A guest function's signature, as the guest registered it. */
typedef struct hl_function_info {
    const char *name;
    hl_type ret;
    size_t nparams;
    hl_type params[HL_MAX_PARAMS];
} hl_function_info;

/* ---- host functions ---- */

typedef struct hl_host_call hl_host_call;

/* A host function: args has the registered parameters (checked); fill *result (its type is
 * preset to the registered return type) and return 0, or return hl_host_call_fail(...). Runs on
 * the thread that made the call (hl_sandbox_call's caller), with the cancel signal blocked: its
 * system calls (sleep, poll, read) are never interrupted by a cancellation, which takes effect
 * when it returns; the caller waits for it however long it takes. It runs with the
 * C ABI's CPU state (DF and AC clear, the host's MXCSR and x87 control word) whatever the guest
 * left. STRING/BYTES results must stay valid until the function returns (hl_host_call_alloc
 * gives such memory). */
typedef int (*hl_host_fn)(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result,
                          void *user);

/* Fails the host call with a message the guest reads from the host exception region (truncated
 * to host_exception_size). Returns -1, for `return hl_host_call_fail(call, "...")`. */
HL_API int hl_host_call_fail(hl_host_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Memory that lives until the host call's result has been copied to the guest. NULL if out. */
HL_API void *hl_host_call_alloc(hl_host_call *call, size_t size);

/* Where the guest's printf output goes. The library prints nothing by itself: without a print
 * function the guest's output is dropped. */
typedef void (*hl_print_fn)(void *user, const char *text, size_t len);

/* ---- sandboxes ---- */

/* Threads. Different sandboxes are independent: use each from any thread, many at once. One
 * sandbox may also be shared by threads: every function below that touches its state (create's
 * result aside) may be called from several threads at once, and the calls are serialised by the
 * sandbox's own gate: a second caller waits until the first has returned, then runs whole, and
 * gets its own result, never another thread's. Waiting, rather than failing with HL_E_STATE,
 * because a sandbox runs one guest call at a time anyway, so sharing it is a queue either way and
 * waiting spares every caller a retry loop; the time limits count from when a call's turn comes.
 * Deadlocks between two calls are the caller's to avoid: a host function of sandbox A that calls
 * sandbox B while another thread's call into B has a host function calling A waits for ever.
 * A call runs on the calling thread: the guest (KVM's vCPU, or the in-process guest) runs there,
 * host functions and the print function are called there, and no thread is started for it (one
 * watchdog thread per process enforces time limits). A host function of sandbox A may call
 * sandbox B; B's call then runs on the same thread, inside A's (on KVM, a sandbox that several
 * threads call gets a thread of its own, and B's call may run there: it still counts as inside
 * A's).
 * From the sandbox's own callbacks (its host functions and print function, during its call), and
 * from callbacks of the sandboxes that call leads to (B's, in a call into B from A's host
 * function): hl_sandbox_call, initialize, register and context_begin/end fail with HL_E_STATE
 * (they would wait for the call that runs the callback); set_print, get_stats, usable, dump_core and
 * last_core work; destroy is ignored (see hl_sandbox_destroy). The function table, layout, config and mode are fixed at
 * initialisation and may be read from any thread once hl_sandbox_initialize has returned.
 * Processes: a sandbox belongs to the process that made it. A forked child (fork(), _Fork(), a
 * raw clone) gets no copy of any sandbox's guest memory, and the sandboxes made before the fork
 * can only be destroyed there: hl_sandbox_usable is false, everything else fails with
 * HL_E_STATE. A host function that forks returns in both processes; in the child the call ends
 * there with HL_E_STATE, the guest running no further and nothing written into the parent's
 * sandbox. When the sandbox ran on a thread of its own (see above), the child has no thread of
 * the caller's to return to: it ends with _exit(0) when the host function returns. */

typedef struct hl_sandbox hl_sandbox;

/* The cancel signal. A call past its time limit is stopped by sending a realtime signal to the
 * thread running it (KVM: it makes KVM_RUN return; RunInProcess: its handler leaves guest code).
 * The library blocks it on that thread while the call runs except while guest code runs (and
 * gives the thread its own mask back when the call returns), installs a handler for
 * it when a sandbox is created, and ignores it elsewhere; an application must not use the same
 * signal for its own purposes. One signal for the whole process, SIGRTMIN +
 * HL_CANCEL_SIGNAL_DEFAULT_OFFSET unless changed (Hyperlight's SandboxConfiguration has the same
 * choice as interrupt_vcpu_sigrtmin_offset). */
#define HL_CANCEL_SIGNAL_DEFAULT_OFFSET 5

/* Chooses the cancel signal: signo from SIGRTMIN to SIGRTMAX (e.g. SIGRTMIN + 2), or 0 for the
 * default. Allowed before the first sandbox is created, or later while none exists (every
 * sandbox destroyed): HL_E_STATE otherwise,
 * HL_E_INVALID_ARG for a signal outside the realtime range. The signal given up gets back the
 * action it had before the library installed its handler. Thread-safe. */
HL_API hl_status hl_set_cancel_signal(int signo, hl_error *err);
/* The cancel signal in use, or that the next sandbox will use. */
HL_API int hl_cancel_signal(void);

/* The memory layout: regions in address order, page-aligned. */
typedef enum hl_region_id {
    HL_REGION_PAGE_TABLES,
    HL_REGION_CODE,
    HL_REGION_PEB,
    HL_REGION_HOST_FUNCTIONS,
    HL_REGION_HOST_EXCEPTION,
    HL_REGION_GUEST_ERROR,
    HL_REGION_INPUT,
    HL_REGION_OUTPUT,
    HL_REGION_PANIC_CONTEXT,
    HL_REGION_HEAP,
    HL_REGION_STACK_GUARD,
    HL_REGION_STACK,
    HL_REGION_KERNEL_STACK_GUARD,
    HL_REGION_KERNEL_STACK,
    HL_REGION_BOOT_STACK_GUARD,
    HL_REGION_BOOT_STACK,
    HL_REGION_COUNT
} hl_region_id;

#define HL_PAGE_SIZE 4096u

typedef struct hl_layout_region {
    uint64_t offset; /* from the sandbox's base */
    uint64_t size;   /* a multiple of HL_PAGE_SIZE (0 never: every region has a page at least) */
} hl_layout_region;

typedef struct hl_layout {
    uint64_t base;       /* guest address of offset 0 */
    uint64_t total_size; /* bytes of guest memory */
    hl_layout_region region[HL_REGION_COUNT];
    uint64_t stack_size, heap_size; /* as used: config override, else the guest's note, else default */
} hl_layout;

HL_API const char *hl_region_name(hl_region_id id);

/* Creates a sandbox from a guest binary (a static x86-64 PIE ELF) and a config (copied). Loads
 * and lays out the guest; nothing runs yet. With RunInHypervisor this fails with a clear message
 * when /dev/kvm cannot be used. */
HL_API hl_status hl_sandbox_create(hl_sandbox **out, const char *guest_path, const hl_config *cfg,
                                   hl_error *err);
HL_API hl_status hl_sandbox_create_from_image(hl_sandbox **out, const void *elf, size_t len,
                                              const hl_config *cfg, hl_error *err);

/* Registers a host function the guest can call (before hl_sandbox_initialize; HL_E_STATE after,
 * or from a callback). The table of host functions must fit in function_definition_size. */
HL_API hl_status hl_sandbox_register(hl_sandbox *sb, const char *name, hl_type ret,
                                     const hl_type *params, size_t nparams, hl_host_fn fn,
                                     void *user, hl_error *err);

/* Sets (fn NULL: removes) the print function. Any time, from any thread: it waits for a call in
 * progress, so a print function is never replaced while the guest prints. */
HL_API void hl_sandbox_set_print(hl_sandbox *sb, hl_print_fn fn, void *user);

/* Runs the guest's initialisation (hyperlight_main), bounded by max_initialization_time, reads
 * the guest's functions and takes the snapshot every call starts from. For a sandbox made from a
 * snapshot file (hl_sandbox_create_from_snapshot) no guest code runs: it checks that the
 * registered host functions are exactly the snapshot's (HL_E_CONFIG naming the first difference;
 * the sandbox stays as created) and makes the sandbox ready. */
HL_API hl_status hl_sandbox_initialize(hl_sandbox *sb, hl_error *err);

/* Calls a guest function. On success *result holds the value (STRING/BYTES data valid until the
 * calling thread's next call on sb, or sb's destroy: each calling thread has its own). A call
 * that runs past max_execution_time is cancelled (HL_E_CANCELLED) and the sandbox stays usable;
 * one that cannot be stopped within max_wait_for_cancellation (a host function that ran on)
 * makes the sandbox unusable (HL_E_POISONED, returned when the host function returns). After each call memory returns to the snapshot, unless a call context is open.
 * Waits for another thread's call on sb to end first (see Threads above). */
HL_API hl_status hl_sandbox_call(hl_sandbox *sb, const char *function, const hl_value *args,
                                 size_t nargs, hl_value *result, hl_error *err);

/* Between begin and end, calls keep the state they leave (no restore); end restores. The context
 * belongs to the sandbox, not to a thread: calls other threads make meanwhile keep state too. */
HL_API hl_status hl_sandbox_context_begin(hl_sandbox *sb, hl_error *err);
HL_API hl_status hl_sandbox_context_end(hl_sandbox *sb, hl_error *err);

/* The guest's functions (after initialisation). */
HL_API size_t hl_sandbox_function_count(const hl_sandbox *sb);
HL_API const hl_function_info *hl_sandbox_function(const hl_sandbox *sb, size_t i);
HL_API const hl_function_info *hl_sandbox_find_function(const hl_sandbox *sb, const char *name);

HL_API const hl_layout *hl_sandbox_layout(const hl_sandbox *sb);
HL_API const hl_config *hl_sandbox_config(const hl_sandbox *sb);
/* The execution mode; RunInProcess means the guest is NOT isolated from the host process. */
HL_API hl_execution_mode hl_sandbox_mode(const hl_sandbox *sb);
/* false once a call could not be cancelled in time; such a sandbox only accepts destroy. Waits
 * for a call in progress (from a callback, answers at once). */
HL_API bool hl_sandbox_usable(const hl_sandbox *sb);

/* Counters. Start from HL_SANDBOX_STATS_INIT (it sets struct_size: new counters are appended
 * and only those the caller's struct holds are written). */
typedef struct hl_sandbox_stats {
    size_t struct_size; /* sizeof(hl_sandbox_stats) as the caller compiled it */
    uint64_t calls;
    uint64_t last_restore_pages; /* pages restored (copied back or dropped) by the last restore */
    uint64_t last_restore_ns;
    uint64_t core_dumps;      /* core files written automatically (the core_dump setting) */
    uint64_t last_core_bytes; /* size of the last core file written (automatic or on demand) */
    uint64_t last_core_ns;    /* and how long writing it took */
    /* System calls the library made for this sandbox, counted by the library itself: ioctls
     * (KVM_RUN and the vCPU state), mprotect, madvise, signal masks, and the watchdog's wake-up
     * when a call's deadline is earlier than the one it sleeps until. In total, and for the
     * last hl_sandbox_call (its restore included). */
    uint64_t syscalls;
    uint64_t last_call_syscalls;
    /* How long the last guest run took (initialisation or call): the backend's run, from the
     * vCPU's reset (KVM) to the guest's end, its host calls included; not the arguments'
     * encoding, the result's decoding or the restore. */
    uint64_t last_run_ns;
} hl_sandbox_stats;
#define HL_SANDBOX_STATS_INIT HL_STRUCT_INIT(hl_sandbox_stats)
/* Fills stats (all counters zero for NULL sb or a sandbox being destroyed); waits for a call in
 * progress. HL_E_INVALID_ARG (nothing written) for NULL stats or an unset struct_size. */
HL_API hl_status hl_sandbox_get_stats(const hl_sandbox *sb, hl_sandbox_stats *stats);

/* ---- core dumps (docs/debugging.md) ----
 *
 * With the core_dump setting (hl_config.core_dump: HL_CORE_DUMP_ON_FAULT, or
 * HL_CORE_DUMP_ALWAYS_ON_ERROR), a call or initialisation that ends abnormally writes an ELF core
 * file of the guest into core_dump_dir (the current directory when ""), before the memory is
 * restored, named core.<guest>.<pid>.<sandbox number>.<unix time> (".1", ".2"... appended when
 * the name exists). `gdb GUEST CORE` then shows where the guest was. The call's status does not
 * change; its message ends with "; core dumped to PATH", or "; core dump not written: WHY".
 * On fault: a CPU exception or signal (stack overflow, triple fault included), an abort or panic,
 * a protocol violation. Always on error: also a call cancelled at its time limit and a guest
 * function that returned an error. Core files are created with mode 0600 and never replace a
 * file; only the memory the guest has ever touched is written. */

/* Writes a core file of the guest now. path NULL: a new file in core_dump_dir, named as above;
 * else exactly that file (HL_E_IO if it exists). The path written goes to `written` (may be NULL;
 * truncated to written_size, NUL-terminated; HL_CONFIG_PATH_MAX + 256 bytes always suffice).
 *  - From the sandbox's own host function or print function: the guest as it is at that host
 *    call, its registers where it called the host (gdb shows the guest's callers).
 *  - Between calls: the state the next call starts from (registers at the guest's entry), or,
 *    inside a call context, the memory as the last call left it.
 * HL_E_IO (why in err) when the file cannot be created or written (nothing is left behind);
 * HL_E_POISONED for an unusable sandbox; waits for a call in progress on another thread. */
HL_API hl_status hl_sandbox_dump_core(hl_sandbox *sb, const char *path, char *written,
                                      size_t written_size, hl_error *err);

/* The path of the last core file the core_dump setting wrote for sb ("" if none): copied into
 * buf (truncated to size, NUL-terminated; buf may be NULL with size 0); returns its length. */
HL_API size_t hl_sandbox_last_core(const hl_sandbox *sb, char *buf, size_t size);

/* ---- snapshot files (docs/snapshots.md) ----
 *
 * An initialised sandbox's snapshot (the state every call starts from) can be saved to a file,
 * and sandboxes created from that file without running the guest's initialisation again:
 *
 *     hl_snapshot_save(sb, "guest.hls", &err);            // once, from an initialised sandbox
 *     hl_snapshot *snap;
 *     hl_snapshot_open(&snap, "guest.hls", &err);          // reads and verifies the file once
 *     hl_config cfg;
 *     hl_config_init(&cfg);
 *     hl_snapshot_get_config(snap, &cfg);                  // or the host's own config: it must
 *     cfg.max_execution_time = 50;                         // agree on every size and the mode
 *     hl_sandbox *sb;
 *     hl_sandbox_create_from_snapshot(&sb, snap, &cfg, &err);
 *     hl_sandbox_register(sb, "host_add", ...);            // the host functions it was made with
 *     hl_sandbox_initialize(sb, &err);                     // checks them; runs no guest code
 *     hl_snapshot_close(snap);                             // sandboxes keep what they need
 *
 * Everything read from a file is treated as hostile: a truncated, corrupted or forged file is an
 * error (HL_E_CONFIG, its message beginning "snapshot `PATH`: "), never a crash; HL_E_IO when
 * the file cannot be read. On KVM, sandboxes made from one file share its pages (the page
 * cache) until they write them. The file must not be changed in place while it is open (replace
 * it by renaming a new file over it, as hl_snapshot_save does). */

/* Writes sb's snapshot to path: the memory every call starts from (never the state of an open
 * call context), the config it was made with (the debugging settings left at their defaults:
 * they belong to the host that runs a sandbox), its layout, the guest's function table, the host
 * function table and what the guest's entry needs. Atomic: a temporary file in the same
 * directory, written, synced and renamed over path (mode 0644 less the umask). Pages that hold
 * only zeros are not written (holes of a sparse file). sb must be initialised and usable:
 * HL_E_STATE otherwise (HL_E_POISONED for an unusable one), and from the sandbox's own
 * callbacks; HL_E_IO (why in err) when the file cannot be written (nothing is left behind).
 * Waits for a call in progress on another thread. */
HL_API hl_status hl_snapshot_save(hl_sandbox *sb, const char *path, hl_error *err);

typedef struct hl_snapshot hl_snapshot;

/* Opens a snapshot file: reads it and verifies everything once (format, checksums of the header,
 * the sections and the memory image, the config, the layout against the one the config and the
 * guest's ELF information give, the function tables, the regions the host builds). The file stays
 * mapped until the hl_snapshot and every sandbox made from it are gone. HL_E_IO when it cannot be
 * read, HL_E_CONFIG when it is not a valid snapshot (the message says what is wrong). */
HL_API hl_status hl_snapshot_open(hl_snapshot **out, const char *path, hl_error *err);
/* Releases the caller's reference (NULL allowed); sandboxes made from it keep theirs. An open
 * snapshot is read-only: any number of threads may create sandboxes from it at once; close it
 * once the last hl_sandbox_create_from_snapshot that uses it has returned. */
HL_API void hl_snapshot_close(hl_snapshot *snap);

/* What the snapshot holds, valid while snap is open. The mode it runs in: */
HL_API hl_execution_mode hl_snapshot_mode(const hl_snapshot *snap);
/* The config it was made with, into cfg (initialised with hl_config_init: the values its
 * struct_size holds; origins are "default"). HL_E_INVALID_ARG for NULL or an uninitialised cfg. */
HL_API hl_status hl_snapshot_get_config(const hl_snapshot *snap, hl_config *cfg);
HL_API const hl_layout *hl_snapshot_layout(const hl_snapshot *snap);
/* The guest's functions, as hl_sandbox_function gives them. */
HL_API size_t hl_snapshot_function_count(const hl_snapshot *snap);
HL_API const hl_function_info *hl_snapshot_function(const hl_snapshot *snap, size_t i);
/* The host functions the sandbox was initialised with (the guest calls them by name): a sandbox
 * made from the snapshot must register exactly these. */
HL_API size_t hl_snapshot_host_function_count(const hl_snapshot *snap);
HL_API const hl_function_info *hl_snapshot_host_function(const hl_snapshot *snap, size_t i);

/* Creates a sandbox from an open snapshot, without running the guest's initialisation: it takes
 * the snapshot's memory, layout and guest function table. cfg must agree with the snapshot on
 * everything that shapes memory (every size setting and execution_mode): otherwise HL_E_CONFIG,
 * naming the first setting that differs with both values ("the snapshot was made with
 * input_data_size = 16384, the config asks for 32768"); the time limits and the debugging
 * settings are taken from cfg. Then register the host functions the snapshot was made with
 * (hl_snapshot_host_function) and call hl_sandbox_initialize, which runs no guest code: it checks
 * that the registered host functions are exactly the snapshot's (HL_E_CONFIG naming the first
 * difference; the sandbox stays as created, so a missing one can still be registered) and makes
 * the sandbox ready. RunInProcess: the snapshot's memory holds absolute addresses, so the sandbox
 * must get exactly the snapshot's guest address, which one sandbox at a time can have in a
 * process (HL_E_BACKEND when it is taken); its memory is a private copy. */
HL_API hl_status hl_sandbox_create_from_snapshot(hl_sandbox **out, const hl_snapshot *snap,
                                                 const hl_config *cfg, hl_error *err);
/* ---- debugging (docs/debugging.md) ---- */

/* Where the guest's code is, for a debugger. Start from HL_DEBUG_INFO_INIT (it sets struct_size:
 * new members are appended and only those the caller's struct holds are written). */
typedef struct hl_debug_info {
    size_t struct_size;      /* sizeof(hl_debug_info) as the caller compiled it */
    hl_execution_mode mode;
    const char *guest_path;  /* the guest binary (absolute when it could be resolved) as
                              * hl_sandbox_create opened it; NULL from an image. Valid while the
                              * sandbox lives */
    uint64_t load_offset;    /* added to every address of the guest's ELF file (a PIE linked at 0
                              * is loaded at this address): gdb's `add-symbol-file GUEST -o OFFSET` */
    uint64_t code_address;   /* the guest address of the code region (RunInProcess: an address in
                              * this process) */
    uint16_t gdb_port;       /* RunInHypervisor with gdb_port set: the gdb remote stub listens on
                              * 127.0.0.1:gdb_port; 0 otherwise */
} hl_debug_info;
#define HL_DEBUG_INFO_INIT HL_STRUCT_INIT(hl_debug_info)
/* Fills info for sb (any thread, once hl_sandbox_create has returned). HL_E_INVALID_ARG for a NULL
 * sandbox (info then holds zeros), or NULL info or an unset struct_size (nothing written). */
HL_API hl_status hl_sandbox_debug_info(const hl_sandbox *sb, hl_debug_info *info);
/* Writes into buf (size bytes, always NUL-terminated when size > 0) the gdb commands that give a
 * debugger the guest's symbols where it runs, one per line ('\n' between them), and returns the
 * length snprintf would have written (docs/debugging.md):
 *  - RunInHypervisor with gdb_port: `target remote 127.0.0.1:PORT`, for gdb started on the guest
 *    binary (the stub tells it the load address);
 *  - RunInProcess, for a gdb attached to this process: `add-symbol-file "GUEST" -o 0xOFFSET`,
 *    then `set mem inaccessible-by-default off` and `mem START END ro` for each executable
 *    segment (gdb cannot write int3 into the guest's read-only code, so there it uses hardware
 *    breakpoints), then `handle SIGSEGV nostop noprint pass` and `handle SIGSYS nostop noprint
 *    pass` (the library's write tracking and system call dispatch).
 * -1 (buf "") for a NULL sandbox, RunInHypervisor without gdb_port, or a sandbox created from an
 * image in RunInProcess (no file to name: hl_sandbox_debug_info gives the load offset). */
HL_API int hl_sandbox_gdb_command(const hl_sandbox *sb, char *buf, size_t size);

/* Destroys the sandbox (NULL allowed). A call running on another thread is waited for; callers
 * still waiting for their turn get HL_E_STATE. It must be the last use of sb: no thread may
 * start using sb once destroy has been called. Called from the sandbox's own host function or
 * print function it does nothing (the sandbox stays valid and the call goes on; destroy it after
 * the call has returned). From the moment destroy returns, none of its host functions or its print
 * function is called again, so their user data may be freed right after destroy. */
HL_API void hl_sandbox_destroy(hl_sandbox *sb);

#ifdef __cplusplus
}
#endif
#endif
