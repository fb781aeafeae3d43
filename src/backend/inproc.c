/* inproc.c - the RunInProcess backend: the guest runs on the calling thread, in this process, unisolated. */
#include "backend/backend.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "backend/inproc_sys.h"
#include "backend/perms.h"
#include "sandbox/imageshare.h"
#include "util/errfmt.h"
#include "util/procid.h"
#include "util/syscount.h"

/* How it works. The guest's pages are mapped a second time (the "guest view") with the guest's
 * permissions: code executable, the host function and host exception regions read-only, guard
 * pages inaccessible. The guest runs on whatever thread calls run(), on its own stack region (each
 * thread that runs guests gets, at its first run, an alternate signal stack and Syscall User
 * Dispatch: inproc_sys.c). Signals tell the backend what happened:
 *  - a fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP) in guest code ends the run as a fault;
 *  - after the snapshot the backend records the pages the guest writes (restore copies those
 *    back from the snapshot). On Linux 6.7 and later, with userfaultfd's asynchronous write
 *    protection: the kernel resolves a first write by itself and marks the page written, and one
 *    PAGEMAP_SCAN at restore finds the written pages and protects them again (no signal, no
 *    mprotect per page). Otherwise (older kernels, or HL_INPROC_DIRTY=mprotect), writable pages
 *    are read-only in the guest view: the first write to a page faults, the page is recorded as
 *    dirty and made writable;
 *  - cancel() sends the cancel signal (hl_cancel_signal(): SIGRTMIN+5 unless the application
 *    chose another, cancel_signal.c) to the thread running the guest. run() runs guest code with
 *    the caller's signal mask minus that signal, and blocks it again while a host function runs
 *    (a host function's sleep or poll is not cut short; the cancellation takes effect when it
 *    returns to the guest, and the core gives up after max_wait_for_cancellation). The caller's
 *    mask is back when run() returns. The handler jumps out of the guest at once; a signal that
 *    finds no guest code running (a cancel that came late, or a stale one) does nothing.
 *  - guest code may leave EFLAGS.DF/AC, MXCSR and the x87 control word as it likes; every way
 *    back into host code (return, host call, signal) puts the host's state back first, and a
 *    host call gives the guest its own state back when it returns.
 * Signals that are not ours (another thread, or host code) go to the handlers installed before. */

#define PAGE 4096ull
#define PF_WRITABLE 1u
#define PF_DIRTY 2u  /* made writable in the guest view since the last restore */
#define PF_LISTED 4u /* in the dirty list */
#define PF_IMAGE 8u  /* mapped from the process's shared copy of the guest's image (imageshare.h) */

struct hl_backend {
    uintptr_t host_rsp;  /* offset 0: the trampoline's host stack */
    uint32_t host_mxcsr; /* offset 8: the host's MXCSR and (offset 12) x87 control word */
    uint16_t host_fcw;
    hl_inproc_sys sys;   /* offset 16: FS and system calls at every crossing */
    uint64_t peb_addr;
    uint8_t *guest;
    uint8_t *host; /* the host's view of the same pages (restore writes here) */
    uint64_t size, npages;
    hl_io_handler io;
    void *io_ctx;
    uint8_t *pflags;
    uint32_t *dirty;
    uint64_t ndirty;
    int tracking; /* mprotect tracking armed: a write fault to a writable page records it */
    int uffd;     /* >= 0: asynchronous userfaultfd write protection of the guest view */
    const hl_mem *image_mem; /* the sandbox's memory, when the view maps shared image pages */
    uint8_t *image_prot;     /* their protections, per page of the memory (PF_IMAGE pages only) */
    /* the thread of the run in progress (running): cancel() signals it under run_lock, so never
     * a thread that has finished the run (and may have exited) */
    pthread_mutex_t run_lock;
    uint64_t made_in; /* the process that made it (util/procid.h) */
    int abandoned;    /* a host function forked and this is the child: the run ended untouched */
    pthread_t thread;
    int running;
    atomic_int cancel_req;
    atomic_int in_guest;
    sigjmp_buf jb;
    hl_run_result *res;
    /* for the run in progress: its thread's state, the run it is nested in (or NULL), the
     * caller's signal mask (back on every way out), the mask guest code runs with (the caller's
     * without the cancel signal) and the cancel signal's set (blocked for host functions) */
    hl_inproc_thread *run_thread;
    hl_inproc_sys *outer;
    sigset_t caller_mask, guest_mask, host_mask, cancel_set;
    /* while a port write is served: what the trampoline saved on the guest's stack (see
     * crossing_regs), and the port */
    const uint64_t *crossing;
    uint32_t crossing_port;
};

_Static_assert(offsetof(struct hl_backend, host_rsp) == 0 &&
                   offsetof(struct hl_backend, host_mxcsr) == 8 &&
                   offsetof(struct hl_backend, host_fcw) == 12 && offsetof(struct hl_backend, sys) == 16,
               "the trampolines below use these offsets");

void hl_inproc_call_on_stack(uint64_t fn, uint64_t arg, uint64_t stack_top, struct hl_backend *b);
void hl_inproc_host_trampoline(uint64_t ctx, uint32_t port);
void hl_inproc_host_call(struct hl_backend *b, uint32_t port, const uint64_t *saved);

/* call_on_stack(fn, arg, stack_top, &save): saves rsp, switches to stack_top, calls fn(arg);
 * clears DF and AC as soon as the guest returns (inproc_run restores MXCSR and the x87 CW).
 * host_trampoline(ctx, port): called by the guest on its stack; saves the guest's flags, MXCSR
 * and x87 environment there, and its callee-saved registers (what a debugger needs to unwind the
 * guest from the call: hl_inproc_host_call gets their address), gives host code the ABI's state
 * (DF and AC clear, an empty x87 stack, the host's control words), switches to the host stack
 * (below the saved rsp) to run hl_inproc_host_call, then puts the guest's state back and returns
 * to the guest. The frame on the guest's stack, from the trampoline's rbp:
 *   +8 return address, 0 the guest's rbp, -8 its flags, -16 MXCSR, -48 x87 environment,
 *   -56 the backend, -72..-104 r15, r14, r13, r12, rbx (CROSSING_* below). */
__asm__(".text\n"
        ".globl hl_inproc_call_on_stack\n"
        ".hidden hl_inproc_call_on_stack\n"
        ".type hl_inproc_call_on_stack,@function\n"
        "hl_inproc_call_on_stack:\n"
        "    push %rbp\n"
        "    mov %rsp, %rbp\n"
        "    push %rbx\n"
        "    push %r12\n"
        "    push %r13\n"
        "    sub $8, %rsp\n"
        "    mov %rcx, %rbx\n"
        "    mov %rdi, %r12\n"
        "    mov %rsi, %r13\n"
        "    mov %rsp, (%rcx)\n"
        "    mov %rdx, %rsp\n"
        "    lea 16(%rbx), %rdi\n" /* b->sys: the guest's FS, system calls blocked */
        "    call hl_inproc_to_guest\n"
        "    mov %r13, %rdi\n"
        "    call *%r12\n"
        "    cld\n"
        "    pushfq\n"
        "    andq $~0x40000, (%rsp)\n"
        "    popfq\n"
        "    lea 16(%rbx), %rdi\n" /* the host's FS and system calls before any host code */
        "    call hl_inproc_to_host\n"
        "    lea -24(%rbp), %rsp\n"
        "    pop %r13\n"
        "    pop %r12\n"
        "    pop %rbx\n"
        "    pop %rbp\n"
        "    ret\n"
        ".size hl_inproc_call_on_stack, .-hl_inproc_call_on_stack\n"
        ".globl hl_inproc_host_trampoline\n"
        ".hidden hl_inproc_host_trampoline\n"
        ".type hl_inproc_host_trampoline,@function\n"
        "hl_inproc_host_trampoline:\n"
        "    push %rbp\n"
        "    mov %rsp, %rbp\n"
        "    pushfq\n" /* -8(%rbp): the guest's flags */
        "    sub $104, %rsp\n"
        "    mov %rdi, -56(%rbp)\n" /* -56(%rbp): the backend */
        "    mov %rbx, -104(%rbp)\n" /* the guest's callee-saved registers */
        "    mov %r12, -96(%rbp)\n"
        "    mov %r13, -88(%rbp)\n"
        "    mov %r14, -80(%rbp)\n"
        "    mov %r15, -72(%rbp)\n"
        "    stmxcsr -16(%rbp)\n" /* -16(%rbp): its MXCSR */
        "    fnstenv -48(%rbp)\n" /* -48(%rbp): its x87 environment (CW, SW, tags) */
        "    cld\n"
        "    pushfq\n"
        "    andq $~0x40000, (%rsp)\n"
        "    popfq\n"
        "    fninit\n"
        "    fldcw 12(%rdi)\n"
        "    ldmxcsr 8(%rdi)\n"
        "    mov (%rdi), %rax\n"
        "    sub $512, %rax\n"
        "    and $-16, %rax\n"
        "    mov %rax, %rsp\n"
        "    push %rdi\n"
        "    push %rsi\n"
        "    lea 16(%rdi), %rdi\n"
        "    call hl_inproc_to_host\n"
        "    pop %rsi\n"
        "    pop %rdi\n"
        "    lea -104(%rbp), %rdx\n"
        "    call hl_inproc_host_call\n"
        "    mov -56(%rbp), %rdi\n"
        "    lea 16(%rdi), %rdi\n"
        "    call hl_inproc_to_guest\n"
        "    lea -8(%rbp), %rsp\n"
        "    ldmxcsr -16(%rbp)\n"
        "    fldenv -48(%rbp)\n"
        "    popfq\n"
        "    pop %rbp\n"
        "    ret\n"
        ".size hl_inproc_host_trampoline, .-hl_inproc_host_trampoline\n");

static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP};
#define NFAULT (sizeof(fault_signals) / sizeof(fault_signals[0]))
/* the actions ours replaced: the fault signals', then the cancel signal's (written under
 * cancel_signal.c's lock, before a guest runs with the signal) */
static struct sigaction previous[NFAULT + 1];

static void chain(int sig, siginfo_t *si, void *uc)
{
    for (size_t i = 0; i < NFAULT; i++) {
        if (fault_signals[i] != sig)
            continue;
        const struct sigaction *old = &previous[i];
        if (old->sa_flags & SA_SIGINFO) {
            old->sa_sigaction(sig, si, uc);
        } else if (old->sa_handler == SIG_DFL || old->sa_handler == SIG_IGN) {
            /* not ours: put the old action back; the instruction faults again and the default
             * action (a core dump) happens as if we were not there */
            sigaction(sig, old, NULL);
        } else {
            old->sa_handler(sig);
        }
        return;
    }
}

static void leave_guest(struct hl_backend *b) __attribute__((noreturn));
static void leave_guest(struct hl_backend *b)
{
    atomic_store(&b->in_guest, 0);
    siglongjmp(b->jb, 1);
}

/* "SIGSEGV (write to a read-only page)": async-signal-safe (no stdio). */
static void describe_fault(hl_run_result *r, int sig, int code, int write)
{
    const char *name = sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGILL ? "SIGILL"
                       : sig == SIGFPE ? "SIGFPE" : "SIGTRAP";
    const char *why = "";
    if (sig == SIGSEGV)
        why = code == SEGV_MAPERR ? " (unmapped address)" : write ? " (write to memory the guest may not write)"
                                                                  : " (read or execute of memory the guest may not use)";
    else if (sig == SIGFPE)
        why = code == FPE_INTDIV ? " (integer divide by zero)" : " (arithmetic exception)";
    else if (sig == SIGILL)
        why = " (illegal or privileged instruction)";
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < sizeof(r->detail); p++)
        r->detail[n++] = *p;
    for (const char *p = why; *p && n + 1 < sizeof(r->detail); p++)
        r->detail[n++] = *p;
    r->detail[n] = '\0';
}

/* The guest's FS base: its thread pointer, or the host's when it has not set one. */
static uint64_t guest_fs_base(const struct hl_backend *b) { return b->sys.guest_fs ? b->sys.guest_fs : b->sys.host_fs; }

/* The registers a signal interrupted (async-signal-safe: assignments and memcpy). */
static void regs_of_context(const struct hl_backend *b, const ucontext_t *uc, hl_run_result *r)
{
    const greg_t *g = uc->uc_mcontext.gregs;
    hl_cpu_regs *o = &r->regs;
    memset(o, 0, sizeof(*o));
    o->rax = (uint64_t)g[REG_RAX], o->rbx = (uint64_t)g[REG_RBX], o->rcx = (uint64_t)g[REG_RCX];
    o->rdx = (uint64_t)g[REG_RDX], o->rsi = (uint64_t)g[REG_RSI], o->rdi = (uint64_t)g[REG_RDI];
    o->rbp = (uint64_t)g[REG_RBP], o->rsp = (uint64_t)g[REG_RSP];
    o->r8 = (uint64_t)g[REG_R8], o->r9 = (uint64_t)g[REG_R9], o->r10 = (uint64_t)g[REG_R10];
    o->r11 = (uint64_t)g[REG_R11], o->r12 = (uint64_t)g[REG_R12], o->r13 = (uint64_t)g[REG_R13];
    o->r14 = (uint64_t)g[REG_R14], o->r15 = (uint64_t)g[REG_R15];
    o->rip = (uint64_t)g[REG_RIP], o->rflags = (uint64_t)g[REG_EFL];
    uint64_t csgsfs = (uint64_t)g[REG_CSGSFS]; /* cs, gs, fs, ss: 16 bits each */
    o->cs = csgsfs & 0xFFFF, o->gs = (csgsfs >> 16) & 0xFFFF, o->fs = (csgsfs >> 32) & 0xFFFF;
    o->ss = (csgsfs >> 48) & 0xFFFF;
    o->fs_base = guest_fs_base(b);
    if (uc->uc_mcontext.fpregs) {
        memcpy(o->fxsave, uc->uc_mcontext.fpregs, sizeof(o->fxsave));
        o->has_fxsave = 1;
    }
    r->has_regs = 1;
}

/* The offsets (in uint64_t from the trampoline's save area at rbp - 104) of what it saved. */
enum { CROSSING_RBX, CROSSING_R12, CROSSING_R13, CROSSING_R14, CROSSING_R15, CROSSING_FLAGS = 12,
       CROSSING_RBP = 13, CROSSING_RET = 14, CROSSING_WORDS = 15 };

/* The guest's registers at its call of the host trampoline: what it left for the caller (the
 * callee-saved registers, rsp and rip as after the return, the flags, the call's arguments). */
static void crossing_regs(const struct hl_backend *b, hl_cpu_regs *o)
{
    const uint64_t *f = b->crossing;
    memset(o, 0, sizeof(*o));
    o->rbx = f[CROSSING_RBX], o->r12 = f[CROSSING_R12], o->r13 = f[CROSSING_R13];
    o->r14 = f[CROSSING_R14], o->r15 = f[CROSSING_R15];
    o->rbp = f[CROSSING_RBP], o->rip = f[CROSSING_RET];
    o->rsp = (uint64_t)(uintptr_t)(f + CROSSING_WORDS); /* past the return address */
    o->rflags = f[CROSSING_FLAGS];
    o->rdi = (uint64_t)(uintptr_t)b, o->rsi = b->crossing_port;
    uint16_t sel;
    __asm__ volatile("mov %%cs, %0" : "=r"(sel));
    o->cs = sel;
    __asm__ volatile("mov %%ss, %0" : "=r"(sel));
    o->ss = sel;
    o->fs_base = guest_fs_base(b);
}

/* b: the backend of the run in progress on this thread, or NULL. */
static void on_signal_body(struct hl_backend *b, int sig, siginfo_t *si, void *ucv)
{
    if (sig == hl_backend_current_signal()) {
        if (b && atomic_load(&b->in_guest) && atomic_load(&b->cancel_req)) {
            b->res->stop = HL_STOP_CANCELLED;
            regs_of_context(b, ucv, b->res);
            leave_guest(b);
        }
        return;
    }
    if (!b || !atomic_load(&b->in_guest)) {
        chain(sig, si, ucv);
        return;
    }
    ucontext_t *uc = ucv;
    uintptr_t addr = (uintptr_t)si->si_addr, base = (uintptr_t)b->guest;
    if (sig == SIGSEGV && b->tracking && addr >= base && addr - base < b->size &&
        (uc->uc_mcontext.gregs[REG_ERR] & 2)) {
        uint64_t page = (addr - base) / PAGE;
        if ((b->pflags[page] & (PF_WRITABLE | PF_DIRTY)) == PF_WRITABLE &&
            mprotect(b->guest + page * PAGE, PAGE, PROT_READ | PROT_WRITE) == 0) {
            b->sys.syscalls += 2; /* the mprotect and the rt_sigreturn (no TLS in handlers) */
            if (!(b->pflags[page] & PF_LISTED))
                b->dirty[b->ndirty++] = (uint32_t)page;
            b->pflags[page] |= PF_DIRTY | PF_LISTED;
            return; /* the write is retried and now succeeds */
        }
    }
    hl_run_result *r = b->res;
    r->stop = HL_STOP_FAULT;
    r->vector = (uint32_t)sig;
    r->error_code = (uint64_t)si->si_code;
    r->fault_addr = addr;
    r->has_fault_addr = sig == SIGSEGV || sig == SIGBUS;
    r->rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
    describe_fault(r, sig, si->si_code, (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0);
    regs_of_context(b, uc, r);
    leave_guest(b);
}

/* Every handled signal starts here, without thread-local storage: FS may be the guest's. The
 * thread is found from the alternate stack the handler runs on (ours only while a run is in
 * progress), and through it the run; host code gets the host's FS and system calls, and a return
 * into the guest gives them back. */
HL_TLS_FREE static void on_signal(int sig, siginfo_t *si, void *ucv)
{
    /* the kernel clears DF for a handler, not AC: a guest's AC must not fault the handler */
    __asm__ volatile("pushfq\n\tandq $~0x40000, (%%rsp)\n\tpopfq" ::: "memory", "cc");
    hl_inproc_thread *t = hl_inproc_thread_of_stack((uintptr_t)&sig);
    hl_inproc_sys *s = t ? t->cur : NULL;
    int in_guest = s && (t->fs_is_guest || t->selector);
    if (in_guest)
        hl_inproc_to_host(s);
    on_signal_body(s ? (struct hl_backend *)(void *)((char *)s - offsetof(struct hl_backend, sys)) : NULL, sig, si,
                   ucv);
    if (in_guest) /* back into the guest (a dirty page recorded, or a signal not for it) */
        hl_inproc_to_guest(s);
}

/* Installs our handler for sig, keeping the action it replaces in *prev; when it is ours
 * already, only its mask is brought up to date (the cancel signal may have changed). While a
 * handler runs, the other signals we handle are blocked: a cancel must not interrupt the
 * recording of a dirty page. */
static void install_one(int sig, int cancel, struct sigaction *prev)
{
    struct sigaction cur;
    if (sigaction(sig, NULL, &cur) != 0)
        return;
    int ours = (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_signal;
    if (ours && sigismember(&cur.sa_mask, cancel) == 1)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_signal;
    /* SA_RESTART: a cancel landing in a host function's system call must not make it fail with
     * EINTR (KVM_RUN still returns EINTR, and guest code is left by the handler itself) */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NFAULT; i++)
        sigaddset(&sa.sa_mask, fault_signals[i]);
    sigaddset(&sa.sa_mask, cancel);
    if (!ours)
        *prev = cur; /* chained from now on */
    sigaction(sig, &sa, NULL);
}

/* Called (under cancel_signal.c's lock) at every sandbox creation: an application (or a test
 * framework) may have installed its own handlers since; ours go back on top and chain to theirs. */
void hl_inproc_install_handlers(int cancel)
{
    for (size_t i = 0; i < NFAULT; i++)
        install_one(fault_signals[i], cancel, &previous[i]);
    install_one(cancel, cancel, &previous[NFAULT]);
}

void hl_inproc_release_signal(int old)
{
    struct sigaction cur;
    if (sigaction(old, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_signal)
        sigaction(old, &previous[NFAULT], NULL);
    memset(&previous[NFAULT], 0, sizeof(previous[NFAULT]));
}

/* From the trampoline, in host state. The cancel signal is blocked while the host function runs;
 * a cancel that arrives meanwhile stays pending until the guest would run again, and then ends
 * the run (in_guest is set before the signal is unblocked, so it cannot be missed; and
 * cancel_req is checked first). */
void hl_inproc_host_call(struct hl_backend *b, uint32_t port, const uint64_t *saved)
{
    if (port == HL_PORT_TLS) { /* the guest's C library set its thread pointer */
        b->sys.guest_fs = ((const hl_peb *)(uintptr_t)b->peb_addr)->thread_pointer;
        return;
    }
    atomic_store(&b->in_guest, 0);
    HL_SYS(pthread_sigmask(SIG_SETMASK, &b->host_mask, NULL)); /* the caller's, the cancel signal blocked */
    b->crossing = saved;
    b->crossing_port = port;
    int stop = b->io(b->io_ctx, port);
    if (stop == HL_IO_ABANDON) { /* a forked child: not even the registers on the guest's stack */
        b->abandoned = 1;
        b->res->stop = HL_STOP_ABORT;
        b->crossing = NULL;
        leave_guest(b);
    }
    if (stop || atomic_load(&b->cancel_req)) {
        b->res->stop = stop ? HL_STOP_ABORT : HL_STOP_CANCELLED;
        crossing_regs(b, &b->res->regs);
        b->res->has_regs = 1;
        b->crossing = NULL;
        leave_guest(b);
    }
    b->crossing = NULL;
    atomic_store(&b->in_guest, 1);
    /* the run's guest mask again, whatever the host function did to the mask */
    HL_SYS(pthread_sigmask(SIG_SETMASK, &b->guest_mask, NULL));
}

static int prot_of_perm(uint8_t perm)
{
    if (!(perm & HL_PERM_PRESENT))
        return PROT_NONE;
    return PROT_READ | ((perm & HL_PERM_WRITE) ? PROT_WRITE : 0) | ((perm & HL_PERM_EXEC) ? PROT_EXEC : 0);
}

static hl_status protect(struct hl_backend *b, uint64_t off, uint64_t len, int prot, hl_error *err)
{
    if (len == 0)
        return HL_OK;
    if (mprotect(b->guest + off, len, prot) != 0)
        return hl_errorf(err, HL_E_BACKEND, "mprotect of the guest view failed");
    if (prot & PROT_WRITE)
        for (uint64_t p = off / PAGE; p < (off + len) / PAGE; p++)
            b->pflags[p] |= PF_WRITABLE;
    return HL_OK;
}

/* Where guest views go: a random 2 MiB-aligned address in [GUEST_LO, GUEST_HI), far from where
 * the kernel places ordinary mappings (top-down from just below the stack) and the program's heap.
 * The guest's memory holds absolute addresses once it has run, so a snapshot file of it must be
 * mapped at the same address, in this process after the sandbox is gone, or in another process:
 * an address nothing else is likely to take makes that work. Inside ASan's application range. */
#define GUEST_LO 0x200000000000ull /* above ASan's shadow, which ends near 16 TiB */
#define GUEST_HI 0x600000000000ull

static uint8_t *map_guest_view(const hl_mem *mem)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
            break;
        uint64_t at = GUEST_LO + (r % ((GUEST_HI - GUEST_LO - mem->size) >> 21) << 21);
        void *p = mmap((void *)(uintptr_t)at, mem->size, PROT_NONE, MAP_SHARED | MAP_FIXED_NOREPLACE, mem->fd,
                       (off_t)mem->fd_off);
        if (p == (void *)(uintptr_t)at)
            return p;
        if (p != MAP_FAILED) /* before Linux 4.17 the flag is a hint */
            munmap(p, mem->size);
        else if (errno != EEXIST)
            break;
    }
    return mmap(NULL, mem->size, PROT_NONE, MAP_SHARED, mem->fd, (off_t)mem->fd_off);
}

static hl_status inproc_create(hl_backend **out, const hl_mem *mem, const hl_layout *l, const hl_elf_info *elf,
                               hl_io_handler io, void *io_ctx, uint64_t *base, hl_error *err)
{
    hl_backend_cancel_signal(); /* the handlers (again: an application may have replaced them) */
    struct hl_backend *b = calloc(1, sizeof(*b));
    if (!b) {
        if (mem->want_base)
            munmap((void *)(uintptr_t)mem->want_base, mem->size);
        return hl_errorf(err, HL_E_NOMEM, "out of memory");
    }
    pthread_mutex_init(&b->run_lock, NULL);
    b->size = mem->size;
    b->host = mem->host;
    b->npages = mem->size / PAGE;
    b->io = io;
    b->io_ctx = io_ctx;
    b->uffd = -1;
    b->made_in = hl_process_id();
    b->pflags = calloc(b->npages, 1);
    b->dirty = calloc(b->npages, sizeof(uint32_t));
    hl_status st = HL_OK;
    if (mem->want_base) {
        /* a snapshot file's memory holds absolute addresses: over the core's placeholder there */
        b->guest = mmap((void *)(uintptr_t)mem->want_base, mem->size, PROT_NONE, MAP_SHARED | MAP_FIXED, mem->fd,
                        (off_t)mem->fd_off);
        if (b->guest == MAP_FAILED) {
            b->guest = NULL;
            st = hl_errorf(err, HL_E_NOMEM, "could not map the guest's memory at %#llx (%llu bytes): %s",
                           (unsigned long long)mem->want_base, (unsigned long long)mem->size, strerror(errno));
            goto fail;
        }
    } else {
        b->guest = map_guest_view(mem);
    }
    if (!b->pflags || !b->dirty || b->guest == MAP_FAILED) {
        if (b->guest == MAP_FAILED)
            b->guest = NULL;
        st = hl_errorf(err, HL_E_NOMEM, "could not map the guest's memory (%llu bytes)",
                       (unsigned long long)mem->size);
        goto fail;
    }
    /* a forked child gets no copy of the view: a guest resumed there (a host function forked)
     * cannot run, nor write into the parent's sandbox */
    hl_keep_from_children(b->guest, mem->size);
    b->sys.guest_lo = (uintptr_t)b->guest;
    b->sys.guest_hi = (uintptr_t)b->guest + mem->size;
    /* the threads that run the guest set dispatch up at their first run; whether the kernel has
     * it is known now, without touching this thread */
    int e = hl_inproc_sys_install() != 0 ? errno : hl_inproc_sys_check();
    if (e) {
        st = hl_errorf(err, HL_E_BACKEND,
                       "RunInProcess needs Linux's Syscall User Dispatch (Linux 5.11 or later) to keep the guest's "
                       "system calls from the host kernel: %s",
                       strerror(e));
        goto fail;
    }
    /* the guest's permissions, page by page, applied in runs of equal permissions */
    uint8_t *perms = malloc(b->npages ? b->npages : 1);
    if (!perms) {
        st = hl_errorf(err, HL_E_NOMEM, "out of memory");
        goto fail;
    }
    hl_backend_page_perms(l, elf, 0, perms);
    for (uint64_t p = 0; p < b->npages && !st;) {
        uint64_t q = p;
        while (q < b->npages && perms[q] == perms[p])
            q++;
        st = protect(b, p * PAGE, (q - p) * PAGE, prot_of_perm(perms[p]), err);
        p = q;
    }
    free(perms);
    if (st)
        goto fail;
    *base = (uint64_t)(uintptr_t)b->guest;
    *out = b;
    return HL_OK;
fail:
    if (mem->want_base) /* the placeholder, or the view that replaced it: ours either way */
        munmap((void *)(uintptr_t)mem->want_base, mem->size);
    else if (b->guest && b->guest != MAP_FAILED)
        munmap(b->guest, mem->size);
    pthread_mutex_destroy(&b->run_lock);
    free(b->pflags);
    free(b->dirty);
    free(b);
    return st;
}

static void inproc_fill_peb(hl_backend *b, hl_peb *peb)
{
    peb->run_mode = HL_RUN_IN_PROCESS;
    peb->host_call = (uint64_t)(uintptr_t)&hl_inproc_host_trampoline;
    peb->host_call_ctx = (uint64_t)(uintptr_t)b;
}

static void inproc_prepare(hl_backend *b) { atomic_store(&b->cancel_req, 0); }

/* A run on the calling thread, which may already be inside another in-process run (a host
 * function of sandbox A calling sandbox B): the thread's current run is saved and put back
 * (hl_inproc_run_begin/end), and the signal mask is the caller's again on the way out. System
 * calls when the thread is set up, FSGSBASE is there and no host function is called: two (the
 * mask opened for the guest, and put back), plus two when the application has its own
 * alternate signal stack on the thread (ours swapped in and out). */
static hl_status inproc_run(hl_backend *b, uint64_t entry, uint64_t arg, uint64_t stack_top, hl_run_result *res,
                            hl_error *err)
{
    memset(res, 0, sizeof(*res));
    int e = 0;
    hl_inproc_thread *t = hl_inproc_thread_get(&e);
    if (!t)
        return hl_errorf(err, HL_E_BACKEND, "RunInProcess could not set this thread up to run a guest "
                         "(its alternate signal stack, Syscall User Dispatch): %s", strerror(e));
    hl_inproc_sys *outer = NULL;
    if ((e = hl_inproc_run_begin(t, &b->sys, &outer)) != 0)
        return hl_errorf(err, HL_E_BACKEND, "RunInProcess could not put its alternate signal stack in place: %s",
                         strerror(e));
    b->run_thread = t;
    b->outer = outer;
    b->res = res;
    b->peb_addr = arg;
    b->sys.syscall_entry = &((const hl_peb *)(uintptr_t)arg)->syscall_entry;
    __asm__ volatile("fnstcw %0\n\tstmxcsr %1" : "=m"(b->host_fcw), "=m"(b->host_mxcsr));
    sigemptyset(&b->cancel_set);
    sigaddset(&b->cancel_set, hl_backend_current_signal());
    /* guest code runs with the cancel signal and the fault signals open, whatever the caller
     * blocks (a worker thread that blocks every signal): a fault with its signal blocked would
     * kill the process (the kernel forces the default action), and the mprotect dirty tracking
     * takes a SIGSEGV at the first write to each page */
    sigset_t open = b->cancel_set;
    for (size_t i = 0; i < NFAULT; i++)
        sigaddset(&open, fault_signals[i]);
    pthread_mutex_lock(&b->run_lock); /* cancel() may signal this thread from now on */
    b->thread = pthread_self();
    b->running = 1;
    pthread_mutex_unlock(&b->run_lock);
    /* one system call: the caller's mask comes back, the cancel signal is open. A cancel pending
     * from before (this run's prepare() reset cancel_req) is delivered now and does nothing:
     * in_guest is still 0. */
    HL_SYS(pthread_sigmask(SIG_UNBLOCK, &open, &b->caller_mask));
    b->guest_mask = b->caller_mask;
    b->host_mask = b->caller_mask;
    sigdelset(&b->guest_mask, hl_backend_current_signal());
    for (size_t i = 0; i < NFAULT; i++)
        sigdelset(&b->guest_mask, fault_signals[i]);
    sigaddset(&b->host_mask, hl_backend_current_signal());
    if (sigsetjmp(b->jb, 0) == 0) { /* no mask saved: the caller's is set below on every way out */
        atomic_store(&b->in_guest, 1);
        if (atomic_load(&b->cancel_req)) { /* cancelled before it ran: its entry state */
            atomic_store(&b->in_guest, 0);
            res->stop = HL_STOP_CANCELLED;
            res->regs.rip = entry;
            res->regs.rsp = stack_top - 8;
            res->regs.rdi = arg;
            res->regs.fs_base = guest_fs_base(b);
            res->has_regs = 1;
        } else {
            hl_inproc_call_on_stack(entry, arg, stack_top, b);
            atomic_store(&b->in_guest, 0);
            res->stop = HL_STOP_HALT;
        }
    }
    /* however the guest ended (return, or a signal handler's jump), the host's state again */
    __asm__ volatile(
        "cld\n\tpushfq\n\tandq $~0x40000, (%%rsp)\n\tpopfq\n\tfninit\n\tfldcw %0\n\tldmxcsr %1"
        :
        : "m"(b->host_fcw), "m"(b->host_mxcsr)
        : "memory", "cc");
    /* a handler's jump left its own mask (the fault and cancel signals blocked); a host call's
     * abort left the cancel signal blocked: the caller's mask, whichever way */
    HL_SYS(pthread_sigmask(SIG_SETMASK, &b->caller_mask, NULL));
    if (b->abandoned) /* a forked child: the parent's watchdog may have held it at the fork */
        pthread_mutex_init(&b->run_lock, NULL);
    pthread_mutex_lock(&b->run_lock);
    b->running = 0;
    pthread_mutex_unlock(&b->run_lock);
    hl_inproc_run_end(b->run_thread, &b->sys, b->outer);
    b->run_thread = NULL;
    /* the handlers' and crossings' own system calls (no TLS there) */
    hl_sys_add(b->sys.syscalls);
    b->sys.syscalls = 0;
    return HL_OK;
}

/* Any thread, any time: a run in progress ends as soon as its guest code runs (now, or when its
 * host function returns); with no run in progress only cancel_req is set (prepare() clears it
 * before the next). */
static void inproc_cancel(hl_backend *b)
{
    atomic_store(&b->cancel_req, 1);
    pthread_mutex_lock(&b->run_lock);
    if (b->running)
        pthread_kill(b->thread, hl_backend_current_signal());
    pthread_mutex_unlock(&b->run_lock);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- dirty pages through userfaultfd's asynchronous write protection (Linux 6.7+) ---- */

/* The uapi of Linux 6.7 that Debian 12's headers (6.1) lack; the kernel says at run time. */
#define HL_UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1ull << 12)
#define HL_UFFD_FEATURE_WP_UNPOPULATED (1ull << 13)
#define HL_UFFD_FEATURE_WP_ASYNC (1ull << 15)
#define HL_UFFD_USER_MODE_ONLY 1
struct hl_page_region {
    uint64_t start, end, categories;
};
struct hl_pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted,
        category_mask, category_anyof_mask, return_mask;
};
#define HL_PAGEMAP_SCAN _IOWR('f', 16, struct hl_pm_scan_arg)
#define HL_PAGE_IS_WRITTEN (1ull << 1)
#define HL_PM_SCAN_WP_MATCHING (1ull << 0)
#define HL_PM_SCAN_CHECK_WPASYNC (1ull << 1)

/* /proc/self/pagemap, opened once per process (again after a fork). */
static hl_plock pagemap_lock = HL_PLOCK_INIT; /* unlocked again in a forked child */
static int pagemap_fd = -1;
static pid_t pagemap_pid;

static int pagemap(void)
{
    hl_plock_lock(&pagemap_lock);
    if (pagemap_fd < 0 || pagemap_pid != getpid()) {
        if (pagemap_fd >= 0) close(pagemap_fd);
        pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        pagemap_pid = getpid();
    }
    int fd = pagemap_fd;
    hl_plock_unlock(&pagemap_lock);
    return fd;
}

/* Arms asynchronous write protection over the whole guest view; 0, or -1 (nothing changed) when
 * the kernel cannot (then the mprotect tracking is used). */
/* PAGEMAP_SCAN walks every page of the range (about 3 ns each here: 0.2 ms for 256 MiB), the
 * mprotect tracking pays per written page (a fault and an mprotect, some microseconds): above
 * this size the scan costs more than a typical call's faults, so large sandboxes keep mprotect. */
#define WP_ASYNC_MAX_PAGES (64ull * 1024 * 1024 / PAGE)

static int wp_async_arm(struct hl_backend *b)
{
    const char *force = getenv("HL_INPROC_DIRTY");
    if (force && strcmp(force, "mprotect") == 0) return -1;
    if (b->npages > WP_ASYNC_MAX_PAGES) return -1;
    if (pagemap() < 0) return -1;
    int fd = (int)HL_SYS(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
    if (fd < 0) /* unprivileged, with vm.unprivileged_userfaultfd = 0: user-mode faults only */
        fd = (int)HL_SYS(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | HL_UFFD_USER_MODE_ONLY));
    if (fd < 0) return -1;
    const uint64_t want = HL_UFFD_FEATURE_WP_ASYNC | HL_UFFD_FEATURE_WP_UNPOPULATED |
                          HL_UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
    struct uffdio_api api = {.api = UFFD_API, .features = want};
    struct uffdio_register reg = {.range = {(uintptr_t)b->guest, b->size}, .mode = UFFDIO_REGISTER_MODE_WP};
    struct uffdio_writeprotect wp = {.range = {(uintptr_t)b->guest, b->size}, .mode = UFFDIO_WRITEPROTECT_MODE_WP};
    if (HL_SYS(ioctl(fd, UFFDIO_API, &api)) != 0 || (api.features & want) != want ||
        HL_SYS(ioctl(fd, UFFDIO_REGISTER, &reg)) != 0 || HL_SYS(ioctl(fd, UFFDIO_WRITEPROTECT, &wp)) != 0) {
        close(fd); /* closing unregisters */
        return -1;
    }
    b->uffd = fd;
    return 0;
}

/* Restores the pages written since the last scan (and those the host marked) from the snapshot,
 * protecting the written ones again in the same PAGEMAP_SCAN. */
static hl_status wp_async_restore(struct hl_backend *b, const uint8_t *snapshot, uint64_t *pages, hl_error *err)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < b->ndirty; i++) { /* what the host wrote through its own view */
        uint64_t p = b->dirty[i];
        memcpy(b->host + p * PAGE, snapshot + p * PAGE, PAGE);
        b->pflags[p] |= PF_DIRTY; /* restored: not counted again below */
        n++;
    }
    struct hl_page_region vec[64];
    uint64_t start = (uintptr_t)b->guest, end = start + b->size;
    hl_status st = HL_OK;
    while (start < end && !st) {
        struct hl_pm_scan_arg a = {.size = sizeof a,
                                   .flags = HL_PM_SCAN_WP_MATCHING | HL_PM_SCAN_CHECK_WPASYNC,
                                   .start = start,
                                   .end = end,
                                   .vec = (uintptr_t)vec,
                                   .vec_len = sizeof vec / sizeof vec[0],
                                   .category_mask = HL_PAGE_IS_WRITTEN,
                                   .return_mask = HL_PAGE_IS_WRITTEN};
        long got = HL_SYS(ioctl(pagemap(), HL_PAGEMAP_SCAN, &a));
        if (got < 0) {
            st = hl_errorf(err, HL_E_POISONED, "PAGEMAP_SCAN of the guest's written pages failed: %s",
                           strerror(errno));
            break;
        }
        for (long i = 0; i < got && !st; i++) {
            if (vec[i].start < start || vec[i].end > end || vec[i].end <= vec[i].start ||
                (vec[i].start | vec[i].end) % PAGE) {
                st = hl_errorf(err, HL_E_POISONED, "PAGEMAP_SCAN returned a region outside the guest");
                break;
            }
            uint64_t off = vec[i].start - (uintptr_t)b->guest, len = vec[i].end - vec[i].start;
            for (uint64_t p = off / PAGE; p < (off + len) / PAGE; p++) {
                n += !(b->pflags[p] & PF_DIRTY);
                /* a shared image page: only a debugger writes there (the guest's permissions
                 * forbid it), into the guest view's private copy, which mem.host does not see:
                 * dropped, the view reads the shared copy again */
                if ((b->pflags[p] & PF_IMAGE) && HL_SYS(madvise(b->guest + p * PAGE, PAGE, MADV_DONTNEED)) != 0)
                    st = hl_errorf(err, HL_E_POISONED, "could not restore a page of the guest's code: %s",
                                   strerror(errno));
                else if (!(b->pflags[p] & PF_IMAGE))
                    memcpy(b->host + p * PAGE, snapshot + p * PAGE, PAGE);
            }
        }
        if (a.walk_end <= start) break; /* no progress: cannot happen; never loop */
        start = a.walk_end;
    }
    for (uint64_t i = 0; i < b->ndirty; i++)
        b->pflags[b->dirty[i]] &= (uint8_t) ~(PF_DIRTY | PF_LISTED);
    b->ndirty = 0;
    *pages += n;
    return st;
}

static hl_status inproc_track_dirty(hl_backend *b, hl_error *err)
{
    if (b->uffd >= 0 || wp_async_arm(b) == 0) {
        b->ndirty = 0;
        return HL_OK;
    }
    /* The shared image pages, mapped privately so far, become a shared read-only mapping of the
     * sealed copy: without userfaultfd nothing would notice a debugger's write to a private copy
     * there, and to a shared one it is refused (as to any read-only shared mapping). */
    if (b->image_mem) {
        if (hl_image_share_map(b->image_mem, b->guest, 0) != 0)
            return hl_errorf(err, HL_E_POISONED, "could not map the guest's code again: %s", strerror(errno));
        for (uint64_t p = 0; p < b->npages; p++)
            if ((b->pflags[p] & PF_IMAGE) && HL_SYS(mprotect(b->guest + p * PAGE, PAGE, b->image_prot[p])) != 0)
                return hl_errorf(err, HL_E_POISONED, "mprotect of the guest's code failed");
    }
    /* every writable page becomes read-only, in runs of consecutive pages */
    for (uint64_t p = 0; p < b->npages;) {
        if (!(b->pflags[p] & PF_WRITABLE)) {
            p++;
            continue;
        }
        uint64_t q = p;
        while (q < b->npages && (b->pflags[q] & PF_WRITABLE))
            b->pflags[q++] &= (uint8_t) ~(PF_DIRTY | PF_LISTED);
        if (HL_SYS(mprotect(b->guest + p * PAGE, (q - p) * PAGE, PROT_READ)) != 0)
            return hl_errorf(err, HL_E_BACKEND, "mprotect failed while arming dirty-page tracking");
        p = q;
    }
    b->ndirty = 0;
    b->tracking = 1;
    return HL_OK;
}

static void inproc_mark_dirty(hl_backend *b, uint64_t page)
{
    if (page < b->npages && (b->tracking || b->uffd >= 0) && !(b->pflags[page] & PF_LISTED)) {
        b->pflags[page] |= PF_LISTED;
        b->dirty[b->ndirty++] = (uint32_t)page;
    }
}

static hl_status inproc_restore(hl_backend *b, const uint8_t *snapshot, int may_drop, uint64_t *pages,
                                hl_error *err)
{
    (void)may_drop; /* never: mem.host and the guest view share the memfd (image pages aside) */
    if (b->uffd >= 0)
        return wp_async_restore(b, snapshot, pages, err);
    uint64_t n = b->ndirty;
    if (n > 1)
        qsort(b->dirty, n, sizeof(uint32_t), cmp_u32);
    for (uint64_t i = 0; i < n;) { /* runs of consecutive pages */
        uint64_t j = i + 1;
        while (j < n && b->dirty[j] == b->dirty[j - 1] + 1)
            j++;
        uint64_t off = (uint64_t)b->dirty[i] * PAGE, len = (j - i) * PAGE;
        memcpy(b->host + off, snapshot + off, len);
        for (uint64_t k = i; k < j;) { /* re-arm the pages the guest had made writable */
            uint64_t m = k;
            while (m < j && (b->pflags[b->dirty[m]] & PF_DIRTY))
                m++;
            if (m > k && HL_SYS(mprotect(b->guest + (uint64_t)b->dirty[k] * PAGE, (m - k) * PAGE, PROT_READ)) != 0)
                return hl_errorf(err, HL_E_BACKEND, "mprotect failed while restoring the snapshot");
            for (uint64_t x = k; x < (m > k ? m : k + 1); x++)
                b->pflags[b->dirty[x]] &= (uint8_t) ~(PF_DIRTY | PF_LISTED);
            k = m > k ? m : k + 1;
        }
        i = j;
    }
    b->ndirty = 0;
    *pages += n;
    return HL_OK;
}

static int inproc_current_regs(hl_backend *b, hl_cpu_regs *out)
{
    if (!b->crossing)
        return 0;
    crossing_regs(b, out);
    return 1;
}

static uint64_t inproc_thread_pointer(hl_backend *b) { return b->sys.guest_fs; }

static void inproc_set_thread_pointer(hl_backend *b, uint64_t tp) { b->sys.guest_fs = tp; }

static void inproc_destroy(hl_backend *b)
{
    if (!b)
        return;
    if (b->uffd >= 0) close(b->uffd);
    if (b->made_in == hl_process_id()) { /* in a forked child the view is not there (MADV_DONTFORK) */
        munmap(b->guest, b->size);
        pthread_mutex_destroy(&b->run_lock);
    }
    free(b->pflags);
    free(b->dirty);
    free(b->image_prot);
    free(b);
}

/* The image pages the process's sandboxes of this guest share (sandbox/imageshare.h), in the
 * guest view too, with the guest's permissions again (the new mappings came read-only). */
static hl_status inproc_share_image(hl_backend *b, const hl_mem *mem, const hl_layout *l, const hl_elf_info *elf,
                                    hl_error *err)
{
    if (!mem->share)
        return HL_OK;
    if (hl_image_share_map_view(mem, b->guest) != 0)
        return hl_errorf(err, HL_E_NOMEM, "could not map the guest's code: %s", strerror(errno));
    uint8_t *perms = malloc(b->npages ? b->npages : 1);
    if (!perms)
        return hl_errorf(err, HL_E_NOMEM, "out of memory");
    hl_backend_page_perms(l, elf, 0, perms);
    hl_status st = HL_OK;
    uint64_t first = mem->share_first, end = mem->share_first + mem->share_npages;
    for (uint64_t p = first; p < end && !st;) {
        uint64_t q = p;
        while (q < end && perms[q] == perms[p])
            q++;
        st = protect(b, p * PAGE, (q - p) * PAGE, prot_of_perm(perms[p]), err);
        p = q;
    }
    for (uint64_t p = first; p < end && !st; p++)
        if (mem->share_page[p - first]) {
            b->pflags[p] |= PF_IMAGE;
            perms[p] = (uint8_t)prot_of_perm(perms[p]);
        }
    if (!st) {
        b->image_mem = mem;
        b->image_prot = perms; /* kept: the mprotect tracking maps these pages again */
    } else {
        free(perms);
    }
    return st;
}

const hl_backend_ops hl_backend_inproc = {
    .name = "in-process",
    .fixed_base = 0,
    .create = inproc_create,
    .fill_peb = inproc_fill_peb,
    .prepare = inproc_prepare,
    .run = inproc_run,
    .cancel = inproc_cancel,
    .track_dirty = inproc_track_dirty,
    .mark_dirty = inproc_mark_dirty,
    .restore = inproc_restore,
    .current_regs = inproc_current_regs,
    .thread_pointer = inproc_thread_pointer,
    .set_thread_pointer = inproc_set_thread_pointer,
    .destroy = inproc_destroy,
    .share_image = inproc_share_image,
};
