/* backend.h - the one interface every execution backend (in-process, KVM) implements. */
#ifndef HL_BACKEND_H
#define HL_BACKEND_H

#include <signal.h>
#include <stdint.h>

#include "hyperlight/sandbox.h"
#include "sandbox/elf.h"

/* Why a run ended. */
typedef enum hl_stop {
    HL_STOP_HALT,      /* the guest finished (KVM: hlt; in-process: returned) */
    HL_STOP_ABORT,     /* the I/O handler asked to stop (an abort, or a protocol error) */
    HL_STOP_CANCELLED, /* cancel() took effect */
    HL_STOP_FAULT,     /* an exception in guest code: vector/signal, address, rip */
    HL_STOP_PROTOCOL,  /* the guest broke the host/guest protocol (e.g. a forged report): detail */
    HL_STOP_DEBUGGER,  /* the debugger ended the run (gdb's `kill`) */
} hl_stop;

#define HL_VECTOR_NONE 0xFFFFFFFFu /* a fault that is not a CPU exception: see detail */

/* The guest's CPU state where a run stopped, as the guest sees it (guest addresses). Values the
 * backend could not know are 0. fxsave is the FXSAVE image (x87, MXCSR, XMM0-15) when
 * has_fxsave. Everything here comes from the guest: hostile, never a pointer to follow. */
typedef struct hl_cpu_regs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags;
    uint64_t cs, ss, ds, es, fs, gs;
    uint64_t fs_base, gs_base;
    uint8_t fxsave[512];
    int has_fxsave;
} hl_cpu_regs;

typedef struct hl_run_result {
    hl_stop stop;
    uint32_t vector;     /* KVM: x86 exception vector; in-process: the signal number */
    uint64_t error_code; /* KVM: the exception's error code; in-process: si_code */
    uint64_t fault_addr; /* the faulting data address, when has_fault_addr */
    int has_fault_addr;
    uint64_t rip;
    char detail[160];    /* what the backend can add, e.g. "triple fault" */
    /* The registers where the guest stopped, for every stop but HALT (has_regs 0 there):
     *  FAULT: at the faulting instruction (KVM: the CPU's exception frame for rip, rsp, rflags,
     *    cs and ss, rax from the host's stub; in-process: the signal's context);
     *  ABORT: where the guest signalled the host (KVM: at its `out`; in-process: at its call of
     *    the host trampoline: rip is the return address, rsp as after the return, the
     *    callee-saved registers, rdi/rsi the call's arguments, the others 0, no fxsave);
     *  CANCELLED: where the guest was interrupted (or its entry state when it never ran);
     *  PROTOCOL: where the guest made the forged report. */
    hl_cpu_regs regs;
    int has_regs;
} hl_run_result;

/* The core's handler for a guest signal (a port write). Runs on the job's thread while the
 * guest is paused; returns 0 to resume the guest, non-zero to end the run with HL_STOP_ABORT.
 * HL_IO_ABANDON: the process is a child forked by a host function, whose sandbox is the parent's:
 * the run ends at once, and the backend touches nothing the parent shares (the guest's memory and
 * stack, the vCPU's run area, the debugger's state). */
#define HL_IO_ABANDON 2
typedef int (*hl_io_handler)(void *ctx, uint32_t port);

/* The sandbox's memory: the mapping the host reads and writes (`host`: RW, except where it is
 * the backend's view, see host_in_view), the file it is mapped from, and where the snapshot lives
 * once it is taken. */
typedef struct hl_mem {
    /* The file holding the memory: the sandbox's memfd (mapped shared until initialisation; a
     * cow_restore backend's is sealed then and mapped privately), or, for a sandbox made from a
     * snapshot file on a cow_restore backend, that file (read-only, mapped privately from the
     * start; it belongs to the hl_snapshot). -1 when none. */
    int fd;
    uint64_t fd_off; /* where the memory starts in fd (a snapshot file's image offset; else 0) */
    int fd_owned;    /* fd is closed with the sandbox */
    uint8_t *host;
    uint64_t size;
    /* `host` is the backend's own view (cow_view), with the guest's permissions: the backend
     * unmaps it; pages the guest cannot read are not read there, and writes to pages it cannot
     * write go through host_access. */
    int host_in_view;
    /* For create(): the memory already holds the host-built regions and the loaded guest (a
     * snapshot file): the backend builds nothing into it. */
    int prebuilt;
    /* For create(): the guest address the sandbox's first byte must have (a snapshot file made
     * by a backend without fixed_base), or 0 for the backend's choice. The core has reserved
     * [want_base, want_base + size) with an inaccessible placeholder mapping (so that nothing
     * else lands there first); create() takes it over, maps over it, and unmaps it on failure. */
    uint64_t want_base;
    /* Pages of the loaded guest image mapped from a copy shared by this process's sandboxes of
     * that guest (sandbox/imageshare.c) rather than from fd, which has holes there: page
     * share_first + i of the memory when share_page[i]. share is NULL when none are. */
    struct hl_image_share *share;
    uint8_t *share_page;
    uint64_t share_first, share_npages;
    /* The snapshot mapped from another sandbox's sealed snapshot where their pages are equal
     * (sandbox/imageshare.h: `pool`, with pool_page[p] saying where page p comes from; fd has
     * holes where the other's is used), and the offer this sandbox's own snapshot became for
     * later sandboxes (`pool_reg`). NULL when none. */
    struct hl_init_share *pool, *pool_reg;
    uint8_t *pool_page;
} hl_mem;

typedef struct hl_backend hl_backend;

/* A gdb remote stub for the backend's guest (docs/debugging.md). */
typedef struct hl_debug_setup {
    uint16_t port;        /* listens on 127.0.0.1:port */
    uint64_t text_seg;    /* where the guest ELF's first loadable segment was loaded (qOffsets) */
    int stop_run;         /* the run that first waits for a debugger: 0 initialisation, 1 the first call */
    /* on the job's thread: the debugger holds the guest (1) or lets it go (0); time limits
     * do not count while it is held */
    void (*pause)(void *ctx, int paused);
    void *ctx;
} hl_debug_setup;

/* The core calls a backend's ops one at a time per sandbox, each on the thread of the job that
 * needs it: the caller of the public function, any thread, and not always the same one from job
 * to job ("the job's thread" below). Jobs of other sandboxes may run on the same thread inside a
 * run of this one (a host function calling another sandbox). */
typedef struct hl_backend_ops {
    const char *name;
    /* True when the guest runs from mem.host itself (KVM maps that address): after
     * initialisation the core can then remap mem.host as a private copy-on-write mapping of the
     * sealed memfd, which becomes the snapshot (mapped read-only for restore to copy from), so
     * the snapshot costs no copy and no memory of its own, and restore may drop long runs of
     * pages. A backend with a view of its own (in-process) has cow_view instead. */
    int cow_restore;
    /* True when running the guest on another thread than the last run's costs much (KVM: before
     * Linux changed how it tracks a vCPU's thread, KVM_RUN waits for an RCU grace period when the
     * thread changes): a sandbox called from thread after thread then gets a thread of its own. */
    int thread_move_costly;
    /* Guest address where the sandbox's first byte will live (KVM: fixed; in-process: wherever
     * create() maps the guest view). Called before create(); 0 means "decided by create". */
    uint64_t fixed_base;
    /* On the job's thread: prepares to run the guest in mem laid out as `layout` (the core has
     * loaded the ELF; elf gives segment permissions). *base receives the guest base address
     * (mem->want_base when set, or an error). */
    hl_status (*create)(hl_backend **out, const hl_mem *mem, const hl_layout *layout, const hl_elf_info *elf,
                        hl_io_handler io, void *io_ctx, uint64_t *base, hl_error *err);
    /* Writes the regions the host builds for this layout into `system` (the page tables
     * region, zeroed by the caller, layout->region[HL_REGION_PAGE_TABLES].size bytes, for a
     * sandbox at layout->base): KVM's page tables, GDT/TSS, IDT and exception stubs. NULL for a
     * backend that builds none there (in-process: the region stays zero). create() uses it; a
     * snapshot file's are compared with what it builds. */
    hl_status (*build_system)(const hl_layout *layout, const hl_elf_info *elf, uint8_t *system, hl_error *err);
    /* Fills what the backend decides in the PEB: run_mode, host_call, host_call_ctx. */
    void (*fill_peb)(hl_backend *b, hl_peb *peb);
    /* On the job's thread, before its run (and before its time limit starts): forget an earlier
     * cancel(); cancel() signals this thread from now on. */
    void (*prepare)(hl_backend *b);
    /* On the job's thread: runs from `entry` with `arg` as the first argument and the stack at
     * `stack_top`, until the guest halts, aborts, faults or is cancelled. Nothing of the run may
     * resume in a later one; a backend that cannot ensure that returns HL_E_POISONED. */
    hl_status (*run)(hl_backend *b, uint64_t entry, uint64_t arg, uint64_t stack_top, hl_run_result *res,
                     hl_error *err);
    /* Any thread: makes a run in progress end with HL_STOP_CANCELLED as soon as possible. */
    void (*cancel)(hl_backend *b);
    /* On the job's thread: from now on, record the pages the guest writes. */
    hl_status (*track_dirty)(hl_backend *b, hl_error *err);
    /* On the job's thread: the host wrote page `page` through its own view; restore copies it
     * back too (counted once even if the guest wrote it as well). NULL: restore finds such
     * pages by itself. */
    void (*mark_dirty)(hl_backend *b, uint64_t page);
    /* On the job's thread: returns every page the guest wrote (or the host marked) since
     * tracking began or the last restore to its contents in `snapshot` (same layout as mem) and
     * starts recording afresh. Pages are copied back, which keeps them mapped for the next call;
     * with `may_drop` (mem.host is a private copy-on-write mapping of the snapshot, see
     * cow_restore) long runs of dirty pages are dropped instead (MADV_DONTNEED): they read the
     * snapshot again and give their memory back. A cow_view backend drops every page written
     * in its view (and ignores snapshot and may_drop). Adds the number of pages restored to
     * *pages. An error leaves the memory unknown: the core poisons the sandbox. */
    hl_status (*restore)(hl_backend *b, const uint8_t *snapshot, int may_drop, uint64_t *pages,
                         hl_error *err);
    /* On the job's thread, while the guest waits for the host (from the I/O handler: a host
     * call, a log, a service) or after a run until the next: the guest's registers now, as
     * hl_run_result describes them for an ABORT. Returns 1, or 0 when the backend cannot know
     * them (in-process, outside a host call). */
    int (*current_regs)(hl_backend *b, hl_cpu_regs *regs);
    /* The guest's thread pointer the backend keeps between runs (in-process: the FS base the
     * guest's C library set, loaded while guest code runs), 0 when it has none; and setting it
     * (a sandbox made from a snapshot file). NULL for a backend that keeps none (KVM: the guest
     * sets its own at every entry). Between jobs, or on the job's thread. */
    uint64_t (*thread_pointer)(hl_backend *b);
    void (*set_thread_pointer)(hl_backend *b, uint64_t tp);
    /* On the job's thread. */
    void (*destroy)(hl_backend *b);
    /* Optional (NULL: the backend has no debugger): on the job's thread, after create, before
     * the first run: serve a gdb remote debugger as `setup` says (HL_E_IO when the port cannot
     * be listened on). */
    hl_status (*debug_start)(hl_backend *b, const hl_debug_setup *setup, hl_error *err);
    /* Optional, for a backend with a view of its own of the memory (NULL: the guest runs from
     * mem.host): after create, before the first run, the core has mapped pages of the loaded
     * image from the process's shared copy (mem->share, sandbox/imageshare.h) into mem.host and
     * punched them out of mem->fd; the backend maps them into its view too, with the guest's
     * permissions for layout and elf. */
    hl_status (*share_image)(hl_backend *b, const hl_mem *mem, const hl_layout *layout, const hl_elf_info *elf,
                             hl_error *err);
    /* Optional, for a backend with a view of its own (NULL: cow_restore or copies): on the
     * job's thread, when the snapshot is taken, before the core seals mem->fd and unmaps
     * mem.host. The view becomes a private copy-on-write mapping of mem->fd (the snapshot), with
     * the shared image pages and the guest's permissions, and *view receives its address: the
     * core's mem.host from then on (host_in_view). Restore drops what was written there. An
     * error leaves the backend poisoned. */
    hl_status (*cow_view)(hl_backend *b, const hl_mem *mem, uint8_t **view, hl_error *err);
    /* With cow_view, on the job's thread: opens bytes [off, off + len) of the view for the host
     * to write (open 1) where the guest may not, and gives the guest's permissions back
     * (open 0). 0, or -1 when it could not. */
    int (*host_access)(hl_backend *b, uint64_t off, uint64_t len, int open);
} hl_backend_ops;

/* The signal cancel() sends to the thread running the guest (hl_cancel_signal(),
 * cancel_signal.c); installs the process-wide handlers (again: an application may have replaced
 * them). A backend blocks it on the running thread for the length of a run, except while guest
 * code runs (in-process: around the guest's code; KVM: through KVM_SET_SIGNAL_MASK for KVM_RUN),
 * so that it never interrupts host code (host functions, the core). */
int hl_backend_cancel_signal(void);
/* The signal in use, for any thread and signal handlers (0 before the first sandbox). Fixed
 * while any sandbox exists. */
int hl_backend_current_signal(void);
/* Discards the cancel signals pending on the calling (sandbox) thread: re-sent while a host
 * function ran, they would otherwise queue up (a realtime signal) and interrupt the next runs;
 * cancel_req is what says whether a run is cancelled, the signal only wakes the thread. */
void hl_backend_drain_cancel(void);
/* The signal mask `of` (NULL: the calling thread's) without the cancel signal, as the kernel's
 * 64-bit mask (bit n-1 for signal n): the mask to run guest code with. */
uint64_t hl_backend_guest_sigmask(const sigset_t *of);
/* A sandbox begins to exist (at the start of its creation) / has been freed: the cancel signal
 * may change only while none exists. */
void hl_backend_sandbox_hold(void);
void hl_backend_sandbox_release(void);
/* inproc.c, under cancel_signal.c's lock: puts the in-process handler on the fault signals and
 * on `cancel` (chaining to the actions found there); gives `old` its earlier action back. */
void hl_inproc_install_handlers(int cancel);
void hl_inproc_release_signal(int old);

extern const hl_backend_ops hl_backend_inproc;
extern const hl_backend_ops hl_backend_kvm;

#endif
