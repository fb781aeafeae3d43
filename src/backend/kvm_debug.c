/* kvm_debug.c - the gdb remote stub's target on KVM: registers and memory of the vCPU, stops, and
 * the breakpoints of the debugger applied while the guest runs.
 *
 * How the guest stops for the debugger, on real hardware and under QEMU's software emulation of
 * SVM alike (scripts/vm-test.sh, where the tests run):
 *  - Exceptions. While a debugger is attached and the guest runs, the first byte of each of the
 *    sandbox's 32 exception stubs is a hlt: an exception (a fault, an int3, a #DB) lands on that
 *    hlt with every register as the CPU left it and the exception's frame on the kernel stack,
 *    and the host sees KVM_EXIT_HLT inside the stubs. (The stubs' own report, `mov al, VECTOR;
 *    out`, would lose al.) The vCPU is set back to the state the frame gives, so the debugger sees
 *    the faulting instruction; resumed with the fault's signal, the host delivers the exception
 *    to the unpatched stub, which reports it as always, and the call ends with its usual error.
 *  - Software breakpoints (Z0) are int3 bytes written into guest memory only while the guest runs
 *    and taken out at every stop and at the end of every run, so neither the snapshot nor a
 *    restore, nor the debugger's own reads, see them. Not KVM_GUESTDBG_USE_SW_BP: QEMU's emulation
 *    checks a nested hypervisor's intercept of `int n` for int3, not its intercept of #BP, so
 *    with it an int3 would still reach the guest's IDT there; through the IDT it works on both.
 *  - Hardware breakpoints and watchpoints (Z1-Z4) are loaded into the guest's own DR0-DR3 and DR7
 *    by the guest itself: a trampoline in the stubs' page (mov to each debug register, hlt), run
 *    with KVM's guest debugging off, so that KVM lets the guest write its debug registers. Not
 *    KVM_GUESTDBG_USE_HW_BP: QEMU loads DR7 from the VMCB at VMRUN without arming its emulated
 *    breakpoints, so registers KVM sets never fire there, while a guest's own `mov %dr7` arms
 *    them. They raise #DB in the guest, which stops at the patched stub; DR6 says which slot.
 *    Before a run ends the trampoline clears DR7 again, so the next run's reset (which writes the
 *    debug registers from outside) finds nothing armed: QEMU would otherwise keep them armed, and
 *    the guest's own registers never survive a call anyway.
 *  - Single steps use KVM_GUESTDBG_SINGLESTEP (KVM_EXIT_DEBUG after one instruction).
 *  - An interrupt (0x03, or a debugger attaching) kicks the vCPU as a cancellation does, with its
 *    own flag, and stops it where it is. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "backend/gdbstub.h"
#include "backend/kvm_internal.h"
#include "backend/x86_64.h"
#include "util/errfmt.h"
#include "util/syscount.h"

#define PAGE HL_KVM_PAGE
#define TRAMP_OFFSET 0x800u /* in the stubs' page, past the 32 stubs (the rest is hlt) */
#define DR6_INIT 0xFFFF0FF0ull
#define DR7_INIT 0x400ull
#define RFLAGS_RF (1ull << 16)

/* mov %rax,%dr0; mov %rbx,%dr1; mov %rcx,%dr2; mov %rdx,%dr3; mov %rsi,%dr6; mov %rdi,%dr7; hlt */
static const uint8_t tramp_code[] = {0x0F, 0x23, 0xC0, 0x0F, 0x23, 0xCB, 0x0F, 0x23, 0xD1, 0x0F, 0x23,
                                     0xDA, 0x0F, 0x23, 0xF6, 0x0F, 0x23, 0xFF, 0xF4};

enum { END, STOP, AGAIN };

struct hl_kvm_debug {
    hl_gdb_server *server;
    int stop_run;
    uint64_t runs;
    atomic_int kick;
    void (*pause)(void *ctx, int paused);
    void *pause_ctx;
    /* int3 bytes in guest memory while the guest runs (addresses kept after they are taken out:
     * a stop looks its int3 up there) */
    size_t nbp;
    int bp_in;
    uint64_t bp_addr[HL_GDB_MAX_SW_BREAKPOINTS], bp_off[HL_GDB_MAX_SW_BREAKPOINTS];
    uint8_t bp_orig[HL_GDB_MAX_SW_BREAKPOINTS];
    int stubs_in;
    uint8_t stub_orig[HL_X86_IDT_ENTRIES];
    /* the debug registers the trampoline loaded into the guest */
    int dr_loaded;
    uint64_t dr[4], dr7;
    hl_gdb_hw hw[HL_GDB_HW_SLOTS];
    uint32_t guest_debug; /* what KVM_SET_GUEST_DEBUG holds */
    /* the stop the debugger looks at */
    int pending_vector; /* an exception a resume with a signal delivers (-1: none) */
    uint64_t pending_error;
    int pending_end;    /* any resume ends the run (an abort, an access outside memory) */
    int stepping;       /* the last resume was a single step */
};

/* ---- memory through the guest's page tables ---- */

static int canonical(uint64_t va) { return (uint64_t)((int64_t)(va << 16) >> 16) == va; }

static int get_cr3(struct hl_backend *b, uint64_t *cr3)
{
    struct kvm_sregs s;
    if (hl_kvm_ioctl(b->vcpu, KVM_GET_SREGS, &s) < 0) return -1;
    *cr3 = s.cr3;
    return 0;
}

/* The offset in the sandbox's memory of guest virtual address va under cr3; -1 when unmapped.
 * The tables may be the guest's own: every entry is followed only inside the sandbox's memory. */
static int translate(struct hl_backend *b, uint64_t cr3, uint64_t va, uint64_t *off)
{
    if (!canonical(va)) return -1;
    uint64_t e = hl_x86_walk(b->host, b->size, b->base, cr3, va);
    if (!e) return -1;
    uint64_t pa = (e & HL_PTE_ADDR) | (va & (PAGE - 1));
    if (pa < b->base || pa - b->base >= b->size) return -1;
    *off = pa - b->base;
    return 0;
}

static size_t t_read_mem(void *ctx, uint64_t addr, uint8_t *buf, size_t len)
{
    struct hl_backend *b = ctx;
    uint64_t cr3, off;
    size_t done = 0;
    if (get_cr3(b, &cr3)) return 0;
    while (done < len) {
        uint64_t va = addr + done;
        if (va < addr || translate(b, cr3, va, &off)) break;
        size_t n = PAGE - (va & (PAGE - 1));
        if (n > len - done) n = len - done;
        memcpy(buf + done, b->host + off, n);
        done += n;
    }
    return done;
}

static int t_write_mem(void *ctx, uint64_t addr, const uint8_t *buf, size_t len)
{
    struct hl_backend *b = ctx;
    uint64_t cr3, off;
    if (get_cr3(b, &cr3) || addr + len < addr) return -1;
    for (size_t done = 0; done < len;) { /* all or nothing: every page first */
        uint64_t va = addr + done;
        if (translate(b, cr3, va, &off)) return -1;
        done += PAGE - (va & (PAGE - 1));
    }
    for (size_t done = 0; done < len;) {
        uint64_t va = addr + done;
        translate(b, cr3, va, &off);
        size_t n = PAGE - (va & (PAGE - 1));
        if (n > len - done) n = len - done;
        memcpy(b->host + off, buf + done, n);
        hl_kvm_mark_dirty(b, off / PAGE); /* restore undoes the debugger's writes too */
        done += n;
    }
    return 0;
}

/* ---- registers ---- */

/* The full x87 tag word from FXSAVE's abridged one: each register in use is valid, zero or
 * special by its contents (physical register i is ST((i - TOP) mod 8)). */
static uint32_t full_tags(uint8_t abridged, uint16_t fsw, const uint8_t fpr[8][16])
{
    unsigned top = (fsw >> 11) & 7;
    uint32_t tags = 0;
    for (unsigned i = 0; i < 8; i++) {
        unsigned t = 3; /* empty */
        if (abridged & (1u << i)) {
            const uint8_t *v = fpr[(i - top) & 7];
            unsigned exp = (unsigned)(v[8] | v[9] << 8) & 0x7FFF;
            int frac = 0;
            for (int k = 0; k < 8; k++) frac |= v[k];
            if (exp == 0x7FFF) t = 2;
            else if (exp == 0) t = frac ? 2 : 1;
            else t = (v[7] & 0x80) ? 0 : 2;
        }
        tags |= t << (2 * i);
    }
    return tags;
}

static int t_get_regs(void *ctx, hl_gdb_regs *r)
{
    struct hl_backend *b = ctx;
    struct kvm_regs g;
    struct kvm_sregs s;
    struct kvm_fpu f;
    if (hl_kvm_ioctl(b->vcpu, KVM_GET_REGS, &g) < 0 || hl_kvm_ioctl(b->vcpu, KVM_GET_SREGS, &s) < 0 ||
        hl_kvm_ioctl(b->vcpu, KVM_GET_FPU, &f) < 0)
        return -1;
    memset(r, 0, sizeof(*r));
    uint64_t gpr[16] = {g.rax, g.rbx, g.rcx, g.rdx, g.rsi, g.rdi, g.rbp, g.rsp,
                        g.r8,  g.r9,  g.r10, g.r11, g.r12, g.r13, g.r14, g.r15};
    memcpy(r->gpr, gpr, sizeof(gpr));
    r->rip = g.rip;
    r->eflags = (uint32_t)g.rflags;
    r->seg[0] = s.cs.selector;
    r->seg[1] = s.ss.selector;
    r->seg[2] = s.ds.selector;
    r->seg[3] = s.es.selector;
    r->seg[4] = s.fs.selector;
    r->seg[5] = s.gs.selector;
    for (int i = 0; i < 8; i++) memcpy(r->st[i], f.fpr[i], 10);
    r->fctrl = f.fcw;
    r->fstat = f.fsw;
    r->ftag = full_tags(f.ftwx, f.fsw, (const uint8_t(*)[16])f.fpr);
    r->fioff = (uint32_t)f.last_ip;
    r->fiseg = (uint32_t)(f.last_ip >> 32);
    r->fooff = (uint32_t)f.last_dp;
    r->foseg = (uint32_t)(f.last_dp >> 32);
    r->fop = f.last_opcode & 0x7FF;
    memcpy(r->xmm, f.xmm, sizeof(r->xmm));
    r->mxcsr = f.mxcsr;
    r->fs_base = s.fs.base;
    r->gs_base = s.gs.base;
    return 0;
}

/* Writes what the debugger may change: the general registers, rip, eflags, the x87 and SSE state
 * and the FS/GS bases. Segment selectors are kept (the GDT decides what they may be). */
static int t_set_regs(void *ctx, const hl_gdb_regs *r)
{
    struct hl_backend *b = ctx;
    struct kvm_regs g;
    struct kvm_sregs s;
    struct kvm_fpu f;
    if (hl_kvm_ioctl(b->vcpu, KVM_GET_REGS, &g) < 0 || hl_kvm_ioctl(b->vcpu, KVM_GET_SREGS, &s) < 0 ||
        hl_kvm_ioctl(b->vcpu, KVM_GET_FPU, &f) < 0)
        return -1;
    __u64 *gpr[16] = {&g.rax, &g.rbx, &g.rcx, &g.rdx, &g.rsi, &g.rdi, &g.rbp, &g.rsp,
                         &g.r8,  &g.r9,  &g.r10, &g.r11, &g.r12, &g.r13, &g.r14, &g.r15};
    for (int i = 0; i < 16; i++) *gpr[i] = r->gpr[i];
    g.rip = r->rip;
    g.rflags = (g.rflags & ~0xFFFFFFFFull) | r->eflags;
    for (int i = 0; i < 8; i++) memcpy(f.fpr[i], r->st[i], 10);
    f.fcw = (uint16_t)r->fctrl;
    f.fsw = (uint16_t)r->fstat;
    uint8_t abridged = 0;
    for (unsigned i = 0; i < 8; i++)
        if (((r->ftag >> (2 * i)) & 3) != 3) abridged |= (uint8_t)(1u << i);
    f.ftwx = abridged;
    f.last_ip = (uint64_t)r->fiseg << 32 | r->fioff;
    f.last_dp = (uint64_t)r->foseg << 32 | r->fooff;
    f.last_opcode = (uint16_t)(r->fop & 0x7FF);
    memcpy(f.xmm, r->xmm, sizeof(f.xmm));
    f.mxcsr = r->mxcsr;
    int sregs_changed = s.fs.base != r->fs_base || s.gs.base != r->gs_base;
    s.fs.base = r->fs_base;
    s.gs.base = r->gs_base;
    if (hl_kvm_ioctl(b->vcpu, KVM_SET_REGS, &g) < 0 || hl_kvm_ioctl(b->vcpu, KVM_SET_FPU, &f) < 0 ||
        (sregs_changed && hl_kvm_ioctl(b->vcpu, KVM_SET_SREGS, &s) < 0))
        return -1;
    return 0;
}

/* ---- hooks ---- */

/* On the server's thread: stop the running guest, as a cancellation would, but for the debugger. */
static void interrupt(void *ctx)
{
    struct hl_backend *b = ctx;
    atomic_store(&b->dbg->kick, 1);
    b->run->immediate_exit = 1;
    pthread_kill(b->thread, b->signal);
}

static void pause_hook(void *ctx, int paused)
{
    struct hl_backend *b = ctx;
    if (b->dbg->pause) b->dbg->pause(b->dbg->pause_ctx, paused);
}

hl_status hl_kvm_debug_start(struct hl_backend *b, const hl_debug_setup *setup, hl_error *err)
{
    struct hl_kvm_debug *d = calloc(1, sizeof(*d));
    if (!d) return hl_errorf(err, HL_E_NOMEM, "out of memory");
    d->stop_run = setup->stop_run;
    d->pause = setup->pause;
    d->pause_ctx = setup->ctx;
    d->pending_vector = -1;
    d->dr7 = DR7_INIT;
    memcpy(b->host + (b->stubs_gpa - b->base) + TRAMP_OFFSET, tramp_code, sizeof(tramp_code));
    hl_gdb_server_hooks hooks = {{t_get_regs, t_set_regs, t_read_mem, t_write_mem, NULL}, b, interrupt, pause_hook};
    hl_status st = hl_gdb_server_start(&d->server, setup->port, setup->text_seg, &hooks, err);
    if (st) {
        free(d);
        return st;
    }
    b->dbg = d;
    return HL_OK;
}

void hl_kvm_debug_free(struct hl_backend *b)
{
    if (!b->dbg) return;
    hl_gdb_server_destroy(b->dbg->server);
    free(b->dbg);
    b->dbg = NULL;
}

/* ---- applying the debugger's state while the guest runs ---- */

static hl_status set_guest_debug(struct hl_backend *b, uint32_t control, hl_error *err)
{
    struct kvm_guest_debug g;
    memset(&g, 0, sizeof(g));
    g.control = control;
    if (hl_kvm_ioctl(b->vcpu, KVM_SET_GUEST_DEBUG, &g) < 0)
        return hl_errorf(err, HL_E_BACKEND, "KVM_SET_GUEST_DEBUG failed: %s", strerror(errno));
    b->dbg->guest_debug = control;
    return HL_OK;
}

/* DR7 (and DR0-3) for the four slots: local enables, RW (00 execute, 01 write, 11 read/write:
 * x86 has no read-only watch) and LEN (00 1, 01 2, 11 4, 10 8 bytes). */
static uint64_t dr7_of(const hl_gdb_hw *hw, uint64_t dr[4])
{
    uint64_t v = DR7_INIT;
    for (unsigned i = 0; i < HL_GDB_HW_SLOTS; i++) {
        dr[i] = hw[i].type ? hw[i].addr : 0;
        if (!hw[i].type) continue;
        uint64_t rw = hw[i].type == 1 ? 0 : hw[i].type == 2 ? 1 : 3;
        uint64_t len = hw[i].type == 1 || hw[i].len == 1 ? 0 : hw[i].len == 2 ? 1 : hw[i].len == 8 ? 2 : 3;
        v |= 1ull << (2 * i);
        v |= (rw | len << 2) << (16 + 4 * i);
    }
    return v;
}

/* Has the guest load dr0-3, DR6 = its initial value and dr7 into its debug registers (see the top
 * of the file), then puts the vCPU back as it was. */
static hl_status trampoline(struct hl_backend *b, const uint64_t dr[4], uint64_t dr7, hl_error *err)
{
    struct kvm_regs saved, t;
    struct kvm_sregs sregs;
    const struct kvm_sregs *s0 = hl_kvm_state_sregs(b->state0);
    if (hl_kvm_ioctl(b->vcpu, KVM_GET_REGS, &saved) < 0 || hl_kvm_ioctl(b->vcpu, KVM_GET_SREGS, &sregs) < 0)
        return hl_errorf(err, HL_E_BACKEND, "reading the vCPU for the debug registers failed: %s", strerror(errno));
    /* the trampoline runs under the sandbox's own tables and segments */
    int swap = sregs.cr3 != s0->cr3 || sregs.cs.selector != s0->cs.selector || sregs.cr0 != s0->cr0 ||
               sregs.efer != s0->efer || sregs.idt.base != s0->idt.base;
    hl_status st = b->dbg->guest_debug ? set_guest_debug(b, 0, err) : HL_OK;
    if (st) return st;
    if (swap && hl_kvm_ioctl(b->vcpu, KVM_SET_SREGS, (void *)s0) < 0)
        return hl_errorf(err, HL_E_BACKEND, "KVM_SET_SREGS failed: %s", strerror(errno));
    memset(&t, 0, sizeof(t));
    t.rip = b->stubs_gpa + TRAMP_OFFSET;
    t.rax = dr[0];
    t.rbx = dr[1];
    t.rcx = dr[2];
    t.rdx = dr[3];
    t.rsi = DR6_INIT;
    t.rdi = dr7;
    t.rsp = saved.rsp;
    t.rflags = 2;
    const char *fail = NULL;
    int e = 0;
    if (hl_kvm_ioctl(b->vcpu, KVM_SET_REGS, &t) < 0) fail = "KVM_SET_REGS failed", e = errno;
    while (!fail) {
        if (HL_SYS(ioctl(b->vcpu, KVM_RUN, 0)) == 0) break;
        if (errno != EINTR && errno != EAGAIN) fail = "KVM_RUN failed", e = errno;
        else if (atomic_load(&b->cancel_req)) fail = "the call was cancelled";
        else b->run->immediate_exit = 0; /* the debugger's kick: the run loop sees it next */
    }
    hl_status fst = HL_E_BACKEND;
    if (!fail && (b->run->exit_reason != KVM_EXIT_HLT || hl_kvm_ioctl(b->vcpu, KVM_GET_REGS, &t) < 0 ||
                  t.rip != b->stubs_gpa + TRAMP_OFFSET + sizeof(tramp_code))) {
        /* The loader is guest code in guest memory: a ring-0 guest may have rewritten it (or
         * remapped its page) to end in an I/O or MMIO exit. KVM would complete that exit in the
         * next KVM_RUN, the next call's, continuing the guest's code there: complete it now. */
        fail = "the guest did not run the loader to its end";
        fst = HL_E_GUEST_PROTOCOL;
        hl_status dst = hl_kvm_discard_pending(b, NULL);
        b->run->immediate_exit = atomic_load(&b->cancel_req);
        if (dst) {
            fail = "the guest did not run the loader to its end, and its last exit could not be completed";
            fst = HL_E_POISONED;
        }
    }
    if ((swap && hl_kvm_ioctl(b->vcpu, KVM_SET_SREGS, &sregs) < 0) || hl_kvm_ioctl(b->vcpu, KVM_SET_REGS, &saved) < 0) {
        if (!fail) fail = "putting the vCPU back failed", e = errno;
    }
    if (fail)
        return hl_errorf(err, fst, "loading the debugger's hardware breakpoints into the debug registers: %s%s%s",
                         fail, e ? ": " : "", e ? strerror(e) : "");
    b->dbg->dr_loaded = dr7 != DR7_INIT;
    b->dbg->dr7 = dr7;
    memcpy(b->dbg->dr, dr, sizeof(b->dbg->dr));
    return HL_OK;
}

static void patch_stubs(struct hl_backend *b)
{
    struct hl_kvm_debug *d = b->dbg;
    uint8_t *page = b->host + (b->stubs_gpa - b->base);
    for (unsigned v = 0; v < HL_X86_IDT_ENTRIES; v++) {
        d->stub_orig[v] = page[v * HL_X86_STUB_STRIDE];
        page[v * HL_X86_STUB_STRIDE] = 0xF4; /* hlt */
    }
    hl_kvm_mark_dirty(b, (b->stubs_gpa - b->base) / PAGE);
    d->stubs_in = 1;
}

/* Takes every patch out of guest memory in the reverse order of arm(): the stubs' hlts, then the
 * int3s (in reverse, so that two addresses that share a byte come back right). A breakpoint may
 * share its byte with a stub (an address on the stubs' page, or one the guest's page tables map
 * there): only the exact reverse of the patching gives back the stub's own byte. */
static void disarm(struct hl_backend *b)
{
    struct hl_kvm_debug *d = b->dbg;
    if (d->stubs_in) {
        uint8_t *page = b->host + (b->stubs_gpa - b->base);
        for (unsigned v = 0; v < HL_X86_IDT_ENTRIES; v++) page[v * HL_X86_STUB_STRIDE] = d->stub_orig[v];
        d->stubs_in = 0;
    }
    if (d->bp_in) {
        for (size_t i = d->nbp; i-- > 0;)
            if (b->host[d->bp_off[i]] == 0xCC) b->host[d->bp_off[i]] = d->bp_orig[i];
        d->bp_in = 0;
    }
}

/* Delivers the pending exception as the CPU would have: its frame on the kernel stack, then the
 * (unpatched) stub, which reports it. */
static void deliver(struct hl_backend *b, struct kvm_regs *regs)
{
    struct hl_kvm_debug *d = b->dbg;
    unsigned v = (unsigned)d->pending_vector;
    int has_err = hl_x86_vector_has_error_code(v);
    uint64_t frame_at = b->kstack_top - (has_err ? 48 : 40);
    uint64_t f[6] = {d->pending_error, regs->rip, HL_X86_SEL_CODE, regs->rflags, regs->rsp, HL_X86_SEL_DATA};
    const uint64_t *w = has_err ? f : f + 1;
    size_t n = has_err ? 6 : 5;
    memcpy(b->host + (frame_at - b->base), w, n * 8);
    for (uint64_t p = (frame_at - b->base) / PAGE; p <= (frame_at - b->base + n * 8 - 1) / PAGE; p++)
        hl_kvm_mark_dirty(b, p);
    regs->rsp = frame_at;
    regs->rip = b->stubs_gpa + v * HL_X86_STUB_STRIDE;
    regs->rflags = 2;
}

/* Before the guest runs on: the debugger's breakpoints, registers and stepping. */
static hl_status arm(struct hl_backend *b, int attached, hl_gdb_resume *r, hl_error *err)
{
    struct hl_kvm_debug *d = b->dbg;
    uint64_t addrs[HL_GDB_MAX_SW_BREAKPOINTS];
    hl_gdb_hw hw[HL_GDB_HW_SLOTS];
    memset(hw, 0, sizeof(hw));
    size_t n = attached ? hl_gdb_server_breakpoints(d->server, addrs, HL_GDB_MAX_SW_BREAKPOINTS, hw) : 0;
    uint64_t dr[4];
    uint64_t dr7 = dr7_of(hw, dr);
    if (dr7 != d->dr7 || memcmp(dr, d->dr, sizeof(dr)) != 0) {
        hl_status st = trampoline(b, dr, dr7, err);
        if (st) return st;
    }
    memcpy(d->hw, hw, sizeof(hw));
    int del = attached && d->pending_vector >= 0 && r->signal != 0;
    int exec_slot = 0;
    for (unsigned i = 0; i < HL_GDB_HW_SLOTS; i++) exec_slot |= hw[i].type == 1;
    if (r->has_pc || del || exec_slot) {
        struct kvm_regs regs;
        if (hl_kvm_ioctl(b->vcpu, KVM_GET_REGS, &regs) < 0)
            return hl_errorf(err, HL_E_BACKEND, "KVM_GET_REGS failed: %s", strerror(errno));
        if (r->has_pc) regs.rip = r->pc;
        if (del) {
            deliver(b, &regs);
        } else {
            regs.rflags &= ~RFLAGS_RF;
            for (unsigned i = 0; i < HL_GDB_HW_SLOTS; i++) /* resume past an execute breakpoint */
                if (hw[i].type == 1 && hw[i].addr == regs.rip) regs.rflags |= RFLAGS_RF;
        }
        if (hl_kvm_ioctl(b->vcpu, KVM_SET_REGS, &regs) < 0)
            return hl_errorf(err, HL_E_BACKEND, "KVM_SET_REGS failed: %s", strerror(errno));
    }
    d->pending_vector = -1;
    r->has_pc = 0;
    r->signal = 0;
    d->stepping = attached && r->action == HL_GDB_ACT_STEP && !del;
    uint32_t control = d->stepping ? KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP : 0;
    if (control || d->guest_debug) { /* set again for every step: a step's exit may end it */
        hl_status st = set_guest_debug(b, control, err);
        if (st) return st;
    }
    if (!attached) return HL_OK;
    uint64_t cr3;
    d->nbp = 0;
    if (n && get_cr3(b, &cr3) == 0) {
        for (size_t i = 0; i < n; i++) {
            uint64_t off;
            if (translate(b, cr3, addrs[i], &off)) continue; /* unmapped now: nothing to patch */
            d->bp_addr[d->nbp] = addrs[i];
            d->bp_off[d->nbp] = off;
            d->bp_orig[d->nbp] = b->host[off];
            b->host[off] = 0xCC; /* int3 */
            hl_kvm_mark_dirty(b, off / PAGE); /* the restore repairs whatever the run left there */
            d->nbp++;
        }
        d->bp_in = 1;
    }
    if (!del) patch_stubs(b);
    return HL_OK;
}

/* ---- why the guest stopped ---- */

static hl_gdb_why why_of(int type)
{
    return type == 1 ? HL_GDB_WHY_HWBREAK : type == 2 ? HL_GDB_WHY_WATCH : type == 3 ? HL_GDB_WHY_RWATCH
                                                                                   : HL_GDB_WHY_AWATCH;
}

/* A debug exception with DR6 = dr6: one of the debugger's slots? */
static int slot_hit(struct hl_kvm_debug *d, uint64_t dr6, hl_gdb_stop_info *stop)
{
    if (!d->dr_loaded) return 0;
    for (unsigned i = 0; i < HL_GDB_HW_SLOTS; i++)
        if ((dr6 & (1ull << i)) && d->hw[i].type) {
            *stop = (hl_gdb_stop_info){HL_GDB_SIGTRAP, why_of(d->hw[i].type), d->hw[i].addr};
            return 1;
        }
    return 0;
}

static int ours_bp(const struct hl_kvm_debug *d, uint64_t addr)
{
    for (size_t i = 0; i < d->nbp; i++)
        if (d->bp_addr[i] == addr) return 1;
    return 0;
}

static void protocol_end(hl_run_result *res, const char *fmt, unsigned v, unsigned long long x,
                         unsigned long long y)
{
    res->stop = HL_STOP_PROTOCOL;
    res->vector = HL_VECTOR_NONE;
    snprintf(res->detail, sizeof(res->detail), fmt, v, x, y);
}

/* The guest halted on a patched stub: an exception. Puts the vCPU back at the state the CPU's
 * frame records, so the debugger sees the instruction, and says which stop it is. */
static int trap(struct hl_backend *b, hl_kvm_dx *dx, hl_run_result *res, hl_gdb_stop_info *stop)
{
    struct hl_kvm_debug *d = b->dbg;
    unsigned v = (unsigned)((dx->regs.rip - 1 - b->stubs_gpa) / HL_X86_STUB_STRIDE);
    int has_err = hl_x86_vector_has_error_code(v);
    uint64_t frame_at = b->kstack_top - (has_err ? 48 : 40);
    if (dx->regs.rsp != frame_at) {
        protocol_end(res, "forged exception: vector %u's stub ran with rsp %#llx, not on the CPU's exception frame (%#llx)",
                     v, (unsigned long long)dx->regs.rsp, (unsigned long long)frame_at);
        return END;
    }
    uint64_t f[6] = {0};
    memcpy(has_err ? f : f + 1, b->host + (frame_at - b->base), (has_err ? 6 : 5) * 8);
    /* f: error code, rip, cs, rflags, rsp, ss */
    if (f[2] != HL_X86_SEL_CODE) {
        protocol_end(res, "forged exception: vector %u with an impossible frame (cs %#llx, error code %#llx)", v,
                     (unsigned long long)f[2], (unsigned long long)f[0]);
        return END;
    }
    struct kvm_regs regs = dx->regs;
    regs.rip = f[1];
    regs.rflags = f[3];
    regs.rsp = f[4];
    *stop = (hl_gdb_stop_info){hl_gdb_signal_of_vector(v), HL_GDB_WHY_SIGNAL, 0};
    struct kvm_debugregs dbg;
    if (v == 3 && ours_bp(d, f[1] - 1)) {
        regs.rip = f[1] - 1; /* back onto the breakpoint's address */
        stop->why = HL_GDB_WHY_SWBREAK;
    } else if (v == 1 && hl_kvm_ioctl(b->vcpu, KVM_GET_DEBUGREGS, &dbg) == 0 && slot_hit(d, dbg.dr6, stop)) {
        dbg.dr6 = DR6_INIT; /* the next hit sets its own bit */
        hl_kvm_ioctl(b->vcpu, KVM_SET_DEBUGREGS, &dbg);
    } else { /* the guest's own exception: a resume with its signal delivers it */
        d->pending_vector = (int)v;
        d->pending_error = f[0];
    }
    if (hl_kvm_ioctl(b->vcpu, KVM_SET_REGS, &regs) < 0) {
        res->stop = HL_STOP_FAULT;
        res->vector = v;
        snprintf(res->detail, sizeof(res->detail), "%s (vector %u): KVM_SET_REGS failed: %s", hl_x86_vector_name(v), v,
                 strerror(errno));
        return END;
    }
    return STOP;
}

static int classify(struct hl_backend *b, hl_run_result *res, hl_kvm_dx *dx, int attached, hl_gdb_stop_info *stop)
{
    struct hl_kvm_debug *d = b->dbg;
    switch (dx->kind) {
    case HL_DX_INTERRUPT: {
        int sig = hl_gdb_server_take_interrupt(d->server);
        if (!sig) return AGAIN; /* a kick left over */
        *stop = (hl_gdb_stop_info){sig, HL_GDB_WHY_SIGNAL, 0};
        return STOP;
    }
    case HL_DX_DEBUG:
        if (!slot_hit(d, b->run->debug.arch.dr6, stop)) *stop = (hl_gdb_stop_info){HL_GDB_SIGTRAP, HL_GDB_WHY_SIGNAL, 0};
        return STOP;
    case HL_DX_TRAP: return trap(b, dx, res, stop);
    case HL_DX_MMIO:
    case HL_DX_ABORT:
        if (!attached) return END;
        d->pending_end = 1;
        *stop = (hl_gdb_stop_info){dx->kind == HL_DX_MMIO ? HL_GDB_SIGSEGV : HL_GDB_SIGABRT, HL_GDB_WHY_SIGNAL, 0};
        return STOP;
    default: return END;
    }
}

static hl_status killed(hl_run_result *res)
{
    res->stop = HL_STOP_DEBUGGER;
    res->vector = HL_VECTOR_NONE;
    snprintf(res->detail, sizeof(res->detail), "killed by the debugger");
    return HL_OK;
}

hl_status hl_kvm_debug_run(struct hl_backend *b, hl_run_result *res, hl_error *err)
{
    struct hl_kvm_debug *d = b->dbg;
    hl_gdb_resume r = {HL_GDB_ACT_CONTINUE, 0, 0, 0};
    int wait_attach = d->stop_run >= 0 && d->runs == (uint64_t)d->stop_run;
    d->runs++;
    d->pending_vector = -1;
    d->pending_end = 0;
    d->stepping = 0;
    if (hl_gdb_server_begin_run(d->server, wait_attach, &r) && r.action == HL_GDB_ACT_KILL) return killed(res);
    for (;;) {
        int attached = hl_gdb_server_attached(d->server);
        hl_status st = arm(b, attached, &r, err);
        if (st) {
            disarm(b);
            return st;
        }
        hl_kvm_dx dx = {.stubs_armed = d->stubs_in, .kick = &d->kick, .kind = HL_DX_NONE};
        memset(res, 0, sizeof(*res));
        st = hl_kvm_run_loop(b, res, err, &dx);
        if (b->abandoned) /* a forked child: the guest's memory and the debugger are the parent's */
            return st;
        disarm(b);
        if (st) return st;
        hl_gdb_stop_info stop;
        int c = classify(b, res, &dx, attached, &stop);
        if (c == END) return HL_OK;
        if (c == AGAIN) continue;
        d->stepping = 0;
        hl_gdb_server_stop(d->server, &stop, &r);
        if (r.action == HL_GDB_ACT_KILL) return killed(res);
        if (d->pending_end) return HL_OK; /* res holds how it ends */
    }
}

hl_status hl_kvm_debug_end(struct hl_backend *b, hl_error *err)
{
    struct hl_kvm_debug *d = b->dbg;
    hl_status st = HL_OK;
    disarm(b);
    if (d->dr_loaded) {
        static const uint64_t zero[4];
        st = trampoline(b, zero, DR7_INIT, err);
        d->dr_loaded = 0;
        d->dr7 = DR7_INIT;
        memset(d->dr, 0, sizeof(d->dr));
    }
    if (d->guest_debug) {
        hl_status gst = set_guest_debug(b, 0, st ? NULL : err);
        if (!st) st = gst;
    }
    hl_gdb_server_end_run(d->server, d->stepping ? HL_GDB_SIGTRAP : 0);
    d->stepping = 0;
    return st;
}
