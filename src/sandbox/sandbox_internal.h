/* sandbox_internal.h - the sandbox object shared by the lifecycle, call, host-call and thread code. */
#ifndef HL_SANDBOX_INTERNAL_H
#define HL_SANDBOX_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "backend/backend.h"
#include "hyperlight/sandbox.h"
#include "sandbox/codec.h"
#include "sandbox/elf.h"
#include "sandbox/layout.h"
#include "sandbox/snapshot.h"
#include "sandbox/watchdog.h"

typedef struct host_fn {
    char *name;
    hl_function_info info; /* info.name == name */
    hl_host_fn fn;
    void *user;
} host_fn;

struct hl_host_call {
    hl_sandbox *sb;
    int failed;
    char message[1024];
    void *allocs[16];
    size_t nallocs;
};

typedef enum sb_state { SB_CREATED, SB_READY, SB_POISONED } sb_state;

typedef enum job_kind { JOB_NONE, JOB_CREATE, JOB_INIT, JOB_CALL, JOB_RESTORE, JOB_EXIT } job_kind;

struct hl_sandbox {
    const hl_config *cfg; /* the process's copy for sandboxes configured alike (procshare.h) */
    hl_layout layout;
    hl_elf_info elf;
    hl_mem mem;
    /* The state every call starts from, read-only: a shared view of the file it lives in (the
     * sealed memfd, or the snapshot file's image), which mem.host maps copy-on-write. */
    uint8_t *snapshot;
    int snapshot_borrowed; /* `snapshot` is the snapshot file's mapping (from->map): not unmapped */
    int snapshot_taken; /* initialisation is over: the state every call starts from is kept, in
                         * `snapshot` or (cow_restore) in the sealed mem.fd that mem.host maps
                         * privately */
    uint64_t snapshot_tp; /* the backend's guest thread pointer when the snapshot was taken */
    hl_snapshot *from;    /* the snapshot file the sandbox was made from (a reference), or NULL */
    uint8_t *reserved;    /* the placeholder at mem.want_base until the backend takes it over */
    const hl_backend_ops *ops;
    hl_backend *be;

    host_fn *hostfns;
    size_t nhostfns, caphostfns;
    hl_function_info *guestfns;
    size_t nguestfns;
    size_t last_fn; /* the index of the function called last (a guess, checked before use) */
    char *guestfn_names;
    struct hl_fn_share *guestfn_share; /* the table's owner once shared (procshare.h); NULL before */
    hl_print_fn print;
    void *print_user;

    sb_state state;
    int context_open;
    uint64_t host_result_off; /* where a host function's result goes in `input` */
    uint64_t dispatch;        /* the guest's dispatch function, checked at initialisation */
    uint8_t cookie[16];


    /* decoded data handed to the caller or to host functions */
    hl_buf result_store, call_store, msg_store;
    /* a guest protocol error found while handling a port write */
    hl_status io_status;
    char io_message[HL_ERROR_MESSAGE_MAX];

    hl_sandbox_stats stats;

    /* core dumps (coredump.c) */
    char *guest_path;       /* the guest ELF's absolute path; NULL when created from an image */
    uint64_t serial;        /* this sandbox's number in the process, from 1 */
    hl_run_result last_run; /* how the job's guest run ended (its registers for a core) */
    char *last_core; /* the last automatic core's path (HL_SB_CORE_PATH_MAX bytes), NULL if none */

    /* the job in progress (job.c): it runs on the thread that passed the gate */
    _Atomic uint64_t runner; /* that thread's number (job.c) while a job runs, else 0 */
    uint32_t job_limit_ms, job_cancel_wait_ms; /* the guest run's time limit (0: none) */
    hl_watch watch;  /* the run's registration with the watchdog */
    int run_gave_up; /* the run ended only after max_wait_for_cancellation: poisoned */
    uint64_t job_syscalls; /* system calls the thread that ran the last job made for it */
    /* Where the guest last ran (a thread number, job.c), how often a run moved to another thread, and
     * the sandbox's own thread once moving got expensive (job.c) */
    uint64_t run_thread;
    unsigned moves;
    int thread_on;
    uint64_t made_in;      /* the process that made it (util/procid.h; hl_sb_forked) */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_kind posted;  /* a job for the thread, JOB_NONE when none */
    uint64_t posted_chain; /* the chain of calls it is for (job.c) */
    int posted_done;
    /* the job's inputs and outputs */
    const char *call_name;
    const hl_value *call_args;
    size_t call_nargs;
    hl_value call_result;
    hl_status job_status;
    hl_error job_err;

    /* the gate every public entry point passes: one caller at a time (gate.c) */
    pthread_mutex_t gate_mu;
    pthread_cond_t gate_cv;
    int gate_busy, gate_waiting, destroying;
    uint64_t gate_next, gate_serving; /* tickets: callers go in in the order they came */
    struct hl_result_slot *slots; /* each calling thread's last STRING/BYTES result */
    size_t nslots;
};

/* The longest path of a core file the sandbox writes, with its terminating 0. */
#define HL_SB_CORE_PATH_MAX (HL_CONFIG_PATH_MAX + 256)

/* For tests: the first page of the memory that differs from the snapshot, -1 when none does, -2
 * before the snapshot. Call it between calls (on any thread, with no call in progress). */
int64_t hl_sb_memory_diff(hl_sandbox *sb);

/* Marks in map (one byte per page of mem, not cleared first) the pages that hold data in the
 * file mem lives in (SEEK_DATA/SEEK_HOLE over [fd_off, fd_off + size)), and the pages mapped from
 * the shared copy of the guest's image (imageshare.h). 1 when it could tell,
 * 0 when the file cannot say (no fd, no SEEK_DATA). */
int hl_sb_fd_data_pages(const hl_mem *mem, uint8_t *map, uint64_t npages);

/* Host memory of a region. */
static inline uint8_t *sb_region(hl_sandbox *sb, hl_region_id id) { return sb->mem.host + sb->layout.region[id].offset; }
static inline uint64_t sb_region_size(const hl_sandbox *sb, hl_region_id id) { return sb->layout.region[id].size; }

/* Records that the host wrote [off, off+len) of the memory (restore copies those pages back). */
void hl_sb_host_wrote(hl_sandbox *sb, uint64_t off, uint64_t len);

/* The I/O handler given to the backend (hostcall.c). */
int hl_sb_io(void *ctx, uint32_t port);
/* Ends the run with a protocol (or other) error found while serving a port; returns 1. */
int hl_sb_io_fail(hl_sandbox *sb, hl_status st, const char *msg);
/* HL_PORT_SERVICE: the time and random bytes for the guest's C library (services.c). */
int hl_sb_serve_service(hl_sandbox *sb);
void hl_sb_free_hostfns(hl_sandbox *sb);

/* Whether the calling thread is running a job of sb (a host function or print function of it),
 * or works for the chain of calls that runs it (a host function of another sandbox called from
 * one of sb's, on that sandbox's own thread): job.c. */
int hl_sb_on_own_thread(const hl_sandbox *sb);
/* Records which process made the sandbox (at its making); hl_sb_forked: 1 in a child of fork()
 * made since, where the sandbox can only be destroyed. */
void hl_sb_fork_mark(hl_sandbox *sb);
int hl_sb_forked(const hl_sandbox *sb);
/* The gate (gate.c). enter waits for the callers before it (HL_E_STATE on a thread running
 * a job of the sandbox, or once destroy has begun); leave lets the next one in. begin_destroy refuses on the
 * thread running a job of the sandbox (returns 0), else turns waiting callers away, waits for the one inside
 * and returns 1: the caller may then free the sandbox. keep_result moves a STRING/BYTES
 * result's data into the calling thread's own buffer (valid until that thread's next call). */
void hl_sb_gate_init(hl_sandbox *sb);
void hl_sb_gate_free(hl_sandbox *sb);
hl_status hl_sb_enter(hl_sandbox *sb, const char *what, hl_error *err);
void hl_sb_leave(hl_sandbox *sb);
int hl_sb_begin_destroy(hl_sandbox *sb);
hl_status hl_sb_keep_result(hl_sandbox *sb, const hl_value *v, hl_error *err);

/* Jobs (job.c). hl_sb_job runs one on the calling thread (the one inside the gate). timeout_ms 0
 * runs the guest without a limit; otherwise, past it the run is cancelled, and a run that has not
 * ended cancel_wait_ms later poisons the sandbox (when it ends). */
hl_status hl_sb_job(hl_sandbox *sb, job_kind kind, uint32_t timeout_ms, uint32_t cancel_wait_ms, hl_error *err);
/* Around the guest's run within a job: the time limit starts (an error in job_err when the
 * watchdog cannot be started) and stops. */
hl_status hl_sb_run_begin(hl_sandbox *sb);
void hl_sb_run_finished(hl_sandbox *sb);
/* The backend's debugger hook: the debugger holds the guest (1) or lets it go (0). The time
 * limit does not count the time held. */
void hl_sb_debug_pause(void *sb, int paused);
/* The job itself (sandbox.c), on the thread running it. */
void hl_sb_do_job(hl_sandbox *sb, job_kind kind);
void hl_sb_free(hl_sandbox *sb);

#endif
