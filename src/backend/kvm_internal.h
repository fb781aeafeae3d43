/* kvm_internal.h - the KVM backend's state, shared by kvm.c (the vCPU and its runs) and kvm_debug.c
 * (the gdb stub's target). */
#ifndef HL_KVM_INTERNAL_H
#define HL_KVM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "backend/kvm_state.h"

#define HL_KVM_PAGE 4096ull

struct hl_kvm_debug;

struct hl_backend {
    int kvm, vm, vcpu;
    int keeper; /* a second vCPU, run once: holds KVM's root of the nested page tables (kvm.c) */
    struct kvm_run *run;
    size_t run_size;
    uint8_t *host;
    uint64_t size, base;
    hl_io_handler io;
    void *io_ctx;
    pthread_t thread;
    int signal;
    uint64_t guest_sigmask; /* the vCPU's KVM_SET_SIGNAL_MASK: the running caller's mask, cancel open */
    atomic_int cancel_req;
    int abandoned;        /* a host function forked and this is the child: nothing of the run touched */
    hl_kvm_state *state0; /* the CPU state every run starts from */
    unsigned stub;        /* what the entry stub resets (HL_KVM_STUB_*); 0: runs do not start there */
    int sync_regs;        /* REGS, SREGS and VCPU_EVENTS through the run area (KVM_CAP_SYNC_REGS) */
    uint64_t stub_xcr0;   /* runs start at the entry stub with this XCR0 (0: no stub, ioctls) */
    uint64_t stubs_gpa, kstack_top, pt_gpa; /* where the exception stubs, the frame and the tables are */
    uint64_t *bitmap;                /* KVM's dirty log */
    /* Manual dirty-log protection (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2): restore re-protects only
     * the dirty pages that are not "hot". A page dirty at HL_KVM_HOT_AFTER restores in a row is
     * hot: left writable (no write fault per call), reported dirty by every KVM_GET_DIRTY_LOG,
     * copied back from the snapshot at every restore, written or not; every
     * HL_KVM_HOT_PERIOD restores all pages are protected again and earn it afresh. */
    int manual_protect;
    uint64_t *clear_bits; /* the pages to protect again (KVM_CLEAR_DIRTY_LOG) */
    uint8_t *streak;      /* per page: restores in a row that found it dirty; HOT when hot */
    uint32_t *seen;       /* per page: the restore that last found it dirty */
    uint32_t restores;
    atomic_uint_least64_t *host_bits; /* pages the host (or the debugger, on its thread) wrote */
    size_t bitmap_bytes;
    struct hl_kvm_debug *dbg; /* the gdb stub, when gdb_port is set */
};

#define HL_KVM_HOT_AFTER 3
#define HL_KVM_HOT 255
#define HL_KVM_HOT_PERIOD 1024

/* ioctl, retried on EINTR (except KVM_RUN). */
int hl_kvm_ioctl(int fd, unsigned long req, void *arg);

/* Why a debugged run loop returned early (hl_kvm_dx.kind). */
enum {
    HL_DX_NONE,
    HL_DX_INTERRUPT, /* the debugger's kick (an 0x03, or a debugger attaching) */
    HL_DX_DEBUG,     /* KVM_EXIT_DEBUG: a single step, or a debug register while stepping */
    HL_DX_TRAP,      /* the guest halted in a patched exception stub: an exception, regs holds it */
    HL_DX_MMIO,      /* an access outside memory or a port read: res holds the fault */
    HL_DX_ABORT,     /* the I/O handler ended the run (an abort, a panic) */
};

typedef struct hl_kvm_dx {
    int stubs_armed;       /* the stubs start with hlt: look for HL_DX_TRAP */
    atomic_int *kick;      /* the debugger's interrupt request */
    int kind;
    struct kvm_regs regs;  /* HL_DX_TRAP: the registers at the stub's hlt */
} hl_kvm_dx;

/* Runs the vCPU until the run ends (res), or, with dx, until a debugger event (dx->kind). */
hl_status hl_kvm_run_loop(struct hl_backend *b, hl_run_result *res, hl_error *err, hl_kvm_dx *dx);
/* The host wrote page `page` (any thread). */
void hl_kvm_mark_dirty(struct hl_backend *b, uint64_t page);
/* Completes an exit the host abandons without entering the guest (see kvm.c); HL_E_POISONED when
 * it cannot. Leaves immediate_exit set. */
hl_status hl_kvm_discard_pending(struct hl_backend *b, hl_error *err);

/* The value of the statistic `name` (a u64 counter) from a statistics file of KVM_GET_STATS_FD
 * (binary format, Linux 5.14+), whose header and descriptors are read first; -1 when it has none. */
int64_t hl_kvm_stat(int fd, const char *name);
/* 1 when KVM kept the nested page tables' root through the MMU reset every run starts with,
 * though no vCPU held it in between; 0 when it did not; -1 when that cannot be told (no
 * KVM_GET_STATS_FD: Linux before 5.14; a run that failed). vcpu (its run area `run`, on a VM of
 * its own whose memory the vCPU has not touched yet) runs twice to the hlt at hlt_gpa with sregs,
 * CR3's write-through bit flipped for the second run, between(ctx) called before it when not
 * NULL (tests): KVM's count of the page faults it fixed must grow in the first run only. */
int hl_kvm_roots_kept(int vcpu, struct kvm_run *run, const struct kvm_sregs *sregs, uint64_t hlt_gpa,
                      void (*between)(void *), void *ctx);
/* Tests: called with the probe's VM between its two runs (NULL: nothing). */
extern void (*hl_kvm_probe_between)(int vm);

/* kvm_debug.c */
hl_status hl_kvm_debug_start(struct hl_backend *b, const hl_debug_setup *setup, hl_error *err);
void hl_kvm_debug_free(struct hl_backend *b);
/* A run with the stub: waits for the debugger where asked, stops for it, applies its breakpoints. */
hl_status hl_kvm_debug_run(struct hl_backend *b, hl_run_result *res, hl_error *err);
/* After the run (and after its last exit was completed): takes the debug registers out of the
 * guest and tells the server the run is over. */
hl_status hl_kvm_debug_end(struct hl_backend *b, hl_error *err);

#endif
