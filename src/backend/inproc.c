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
 *  - at the snapshot the view becomes a private copy-on-write mapping of the sealed memfd
 *    (the snapshot) and the host's view too (mem.host): one view, with the guest's permissions.
 *    What the guest, the host or a debugger writes becomes a private copy of the page; restore
 *    finds those (pages of the view that are not the file's: one PAGEMAP_SCAN on Linux 6.7 and
 *    later, else a read of /proc/self/pagemap; HL_INPROC_DIRTY=pagemap forces the read) and
 *    drops them (MADV_DONTNEED), so they read the snapshot again. No signal, no mprotect and no
 *    copy per page;
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

struct hl_backend {
    uintptr_t host_rsp;  /* offset 0: the trampoline's host stack */
    uint32_t host_mxcsr; /* offset 8: the host's MXCSR and (offset 12) x87 control word */
    uint16_t host_fcw;
    hl_inproc_sys sys;   /* offset 16: FS and system calls at every crossing */
    uint64_t peb_addr;
    uint8_t *guest;
    uint64_t size, npages;
    hl_io_handler io;
    void *io_ctx;
    uint8_t *prot; /* the guest's protection of each page of the view (PROT_*) */
    int cow;       /* the view is the snapshot's private copy-on-write mapping (and mem.host) */
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
    uintptr_t addr = (uintptr_t)si->si_addr;
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
    hl_inproc_interrupted was;
    if (s)
        hl_inproc_handler_enter(s, &was);
    on_signal_body(s ? (struct hl_backend *)(void *)((char *)s - offsetof(struct hl_backend, sys)) : NULL, sig, si,
                   ucv);
    if (s) /* back to where the signal landed (a signal not for the guest), as it was */
        hl_inproc_handler_leave(s, &was);
}

/* Installs our handler for sig, keeping the action it replaces in *prev; when it is ours
 * already, only its mask is brought up to date (the cancel signal may have changed). While a
 * handler runs, the other signals we handle are blocked: a cancel must not interrupt the
 * handling of a fault. */
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
    memset(b->prot + off / PAGE, prot, len / PAGE);
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
    b->npages = mem->size / PAGE;
    b->io = io;
    b->io_ctx = io_ctx;
    b->made_in = hl_process_id();
    b->prot = calloc(b->npages ? b->npages : 1, 1);
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
    if (!b->prot || b->guest == MAP_FAILED) {
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
    free(b->prot);
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
     * kill the process (the kernel forces the default action) */
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

/* ---- the snapshot's copy-on-write view, and what the calls wrote there ---- */

/* The uapi of Linux 6.7 that Debian 12's headers (6.1) lack; the kernel says at run time. */
struct hl_page_region {
    uint64_t start, end, categories;
};
struct hl_pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted,
        category_mask, category_anyof_mask, return_mask;
};
#define HL_PAGEMAP_SCAN _IOWR('f', 16, struct hl_pm_scan_arg)
#define HL_PAGE_IS_FILE (1ull << 2)
#define HL_PAGE_IS_PRESENT (1ull << 3)
#define HL_PAGE_IS_SWAPPED (1ull << 4)
/* /proc/self/pagemap entries (Documentation/admin-guide/mm/pagemap.rst) */
#define HL_PM_PRESENT (1ull << 63)
#define HL_PM_SWAP (1ull << 62)
#define HL_PM_FILE (1ull << 61)

/* /proc/self/pagemap, opened once per process (again after a fork). */
static hl_plock pagemap_lock = HL_PLOCK_INIT; /* unlocked again in a forked child */
static int pagemap_fd = -1;
static pid_t pagemap_pid;
/* PAGEMAP_SCAN works (1), does not (0: older kernels, or HL_INPROC_DIRTY=pagemap), unknown (-1) */
static atomic_int scan_works = -1;

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

/* Drops the private copies of pages [first, first + n) of the view: they read the snapshot (or
 * the shared image) again, and their memory is given back. */
static hl_status drop(struct hl_backend *b, uint64_t first, uint64_t n, uint64_t *pages, hl_error *err)
{
    if (first > b->npages || n > b->npages - first)
        return hl_errorf(err, HL_E_POISONED, "the scan of the guest's written pages returned pages outside it");
    if (n && HL_SYS(madvise(b->guest + first * PAGE, n * PAGE, MADV_DONTNEED)) != 0)
        return hl_errorf(err, HL_E_POISONED, "could not drop the pages the call wrote: %s", strerror(errno));
    *pages += n;
    return HL_OK;
}

/* Linux 6.7+: one PAGEMAP_SCAN lists the runs of pages that are not the file's (present or
 * swapped out; the zero page too, which only KSM would put there, over a page a call cleared).
 * 1 when the kernel has no such ioctl (nothing was dropped). */
static int restore_by_scan(struct hl_backend *b, uint64_t *pages, hl_status *st, hl_error *err)
{
    struct hl_page_region vec[64];
    uint64_t start = (uintptr_t)b->guest, end = start + b->size;
    int fd = pagemap();
    while (start < end && !*st) {
        struct hl_pm_scan_arg a = {.size = sizeof a,
                                   .start = start,
                                   .end = end,
                                   .vec = (uintptr_t)vec,
                                   .vec_len = sizeof vec / sizeof vec[0],
                                   .category_inverted = HL_PAGE_IS_FILE,
                                   .category_mask = HL_PAGE_IS_FILE,
                                   .category_anyof_mask = HL_PAGE_IS_PRESENT | HL_PAGE_IS_SWAPPED,
                                   .return_mask = HL_PAGE_IS_FILE};
        long got = fd < 0 ? -1 : HL_SYS(ioctl(fd, HL_PAGEMAP_SCAN, &a));
        if (got < 0 && start == (uintptr_t)b->guest && (fd < 0 || errno == ENOTTY || errno == EINVAL))
            return 1; /* before Linux 6.7: the scan is not there */
        if (got < 0) {
            *st = hl_errorf(err, HL_E_POISONED, "PAGEMAP_SCAN of the guest's written pages failed: %s",
                            strerror(errno));
            break;
        }
        for (long i = 0; i < got && !*st; i++) {
            if (vec[i].start < start || vec[i].end > end || vec[i].end <= vec[i].start ||
                (vec[i].start | vec[i].end) % PAGE)
                *st = hl_errorf(err, HL_E_POISONED, "PAGEMAP_SCAN returned a region outside the guest");
            else
                *st = drop(b, (vec[i].start - (uintptr_t)b->guest) / PAGE, (vec[i].end - vec[i].start) / PAGE,
                           pages, err);
        }
        if (!*st && a.walk_end <= start) /* no progress: cannot happen; never loop, never skip */
            *st = hl_errorf(err, HL_E_POISONED, "PAGEMAP_SCAN of the guest's written pages stopped short");
        start = a.walk_end;
    }
    return 0;
}

/* Before Linux 6.7: the same from /proc/self/pagemap's entries, read in chunks. */
static hl_status restore_by_read(struct hl_backend *b, uint64_t *pages, hl_error *err)
{
    uint64_t e[1024];
    int fd = pagemap();
    if (fd < 0)
        return hl_errorf(err, HL_E_POISONED, "could not open /proc/self/pagemap: %s", strerror(errno));
    uint64_t run = 0, nrun = 0;
    for (uint64_t p = 0; p < b->npages;) {
        uint64_t n = b->npages - p < 1024 ? b->npages - p : 1024;
        off_t at = (off_t)(((uintptr_t)b->guest / PAGE + p) * sizeof e[0]);
        if (HL_SYS(pread(fd, e, n * sizeof e[0], at)) != (ssize_t)(n * sizeof e[0]))
            return hl_errorf(err, HL_E_POISONED, "reading /proc/self/pagemap failed: %s", strerror(errno));
        for (uint64_t i = 0; i < n; i++, p++) {
            if ((e[i] & (HL_PM_PRESENT | HL_PM_SWAP)) && !(e[i] & HL_PM_FILE)) {
                if (!nrun) run = p;
                nrun++;
                continue;
            }
            if (!nrun) continue;
            hl_status st = drop(b, run, nrun, pages, err);
            nrun = 0;
            if (st) return st;
        }
    }
    return drop(b, run, nrun, pages, err);
}

/* Every page that is not the snapshot's (or the shared image's) is a private copy that the
 * guest, the host or a debugger wrote since the last restore: dropped. */
static hl_status inproc_restore(hl_backend *b, const uint8_t *snapshot, int may_drop, uint64_t *pages,
                                hl_error *err)
{
    (void)snapshot;
    (void)may_drop;
    if (!b->cow)
        return hl_errorf(err, HL_E_POISONED, "restore before the snapshot");
    hl_status st = HL_OK;
    if (atomic_load(&scan_works) < 0) {
        const char *force = getenv("HL_INPROC_DIRTY");
        if (force && strcmp(force, "pagemap") == 0)
            atomic_store(&scan_works, 0);
    }
    if (atomic_load(&scan_works) != 0) {
        if (restore_by_scan(b, pages, &st, err) == 0) {
            atomic_store(&scan_works, 1);
            return st;
        }
        atomic_store(&scan_works, 0);
    }
    return restore_by_read(b, pages, err);
}

/* A page of the view mapped from the process's shared copy of the guest's image. */
static int image_page(const hl_mem *mem, uint64_t p)
{
    return mem->share && p >= mem->share_first && p - mem->share_first < mem->share_npages &&
           mem->share_page[p - mem->share_first];
}

/* At the snapshot (the core seals mem->fd next): the view becomes a private copy-on-write
 * mapping of mem->fd, with the guest's permissions, run by run; it is mem.host from now on. The
 * shared image pages are private mappings of the image's copy already, and stay. */
static hl_status inproc_cow_view(hl_backend *b, const hl_mem *mem, uint8_t **view, hl_error *err)
{
    for (uint64_t p = 0; p < b->npages;) {
        if (image_page(mem, p)) {
            p++;
            continue;
        }
        uint64_t q = p;
        while (q < b->npages && !image_page(mem, q) && b->prot[q] == b->prot[p])
            q++;
        /* on failure the run is left inaccessible, still the view's to unmap */
        if (hl_map_over_run(b->guest + p * PAGE, (q - p) * PAGE, b->prot[p], MAP_PRIVATE | MAP_NORESERVE, mem->fd,
                            mem->fd_off + p * PAGE) != 0)
            return hl_errorf(err, HL_E_POISONED, "could not map the guest's memory copy-on-write: %s",
                             strerror(errno));
        p = q;
    }
    hl_keep_from_children(b->guest, b->size); /* what the new mappings lost */
    b->cow = 1;
    *view = b->guest;
    return HL_OK;
}

/* Nothing to arm: every write to the copy-on-write view makes a private copy, which restore
 * finds. */
static hl_status inproc_track_dirty(hl_backend *b, hl_error *err)
{
    if (!b->cow)
        return hl_errorf(err, HL_E_POISONED, "dirty-page tracking before the snapshot");
    return HL_OK;
}

/* The host writes through the view, with the guest's permissions: pages the guest may not write
 * (the host exception region) are opened for the write and closed again. */
static int inproc_host_access(hl_backend *b, uint64_t off, uint64_t len, int open)
{
    if (!b->cow || len == 0)
        return 0;
    if (off >= b->size || len > b->size - off)
        return -1;
    uint64_t first = off / PAGE, last = (off + len - 1) / PAGE;
    for (uint64_t p = first; p <= last; p++)
        if (!(b->prot[p] & PROT_WRITE) &&
            HL_SYS(mprotect(b->guest + p * PAGE, PAGE, open ? PROT_READ | PROT_WRITE : b->prot[p])) != 0) {
            /* the pages opened so far are closed again; one left open (mprotect failing twice)
             * lets the guest write there, and the restore still undoes what it writes */
            for (uint64_t q = first; open && q < p; q++)
                if (!(b->prot[q] & PROT_WRITE)) (void)HL_SYS(mprotect(b->guest + q * PAGE, PAGE, b->prot[q]));
            return -1;
        }
    return 0;
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
    if (b->made_in == hl_process_id()) { /* in a forked child the view is not there (MADV_DONTFORK) */
        munmap(b->guest, b->size);
        pthread_mutex_destroy(&b->run_lock);
    }
    free(b->prot);
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
    free(perms);
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
    .restore = inproc_restore,
    .cow_view = inproc_cow_view,
    .host_access = inproc_host_access,
    .current_regs = inproc_current_regs,
    .thread_pointer = inproc_thread_pointer,
    .set_thread_pointer = inproc_set_thread_pointer,
    .destroy = inproc_destroy,
    .share_image = inproc_share_image,
};
