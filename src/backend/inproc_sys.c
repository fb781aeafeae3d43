/* inproc_sys.c - RunInProcess: the guest's thread pointer (FS) and system calls (Syscall User Dispatch). */
#include "backend/inproc_sys.h"
#include "util/procid.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <ucontext.h>

#include "util/syscount.h"
#include "util/tls.h"

/* A musl guest sets its own thread pointer (FS base) and makes system calls. In this process FS
 * belongs to glibc and system calls go to the kernel, so:
 *  - FS is the host's whenever host code runs and the guest's while guest code runs: switched at
 *    every crossing (entry and return, host calls, signal handlers), with wrfsbase when the CPU
 *    and kernel allow it, else arch_prctl;
 *  - Syscall User Dispatch blocks every system call while guest code runs (the selector byte is
 *    BLOCK then): the kernel raises SIGSYS instead, and the handler sends the guest's call to the
 *    guest runtime's own entry, as a CPU's `syscall` would under KVM. Host code that runs while
 *    the selector says BLOCK (a signal handler of ours) gets its call let through: the selector
 *    turns to ALLOW and the call is made again. Only the page of the C library's signal return
 *    (sa_restorer) is always allowed, so that handlers can return.
 * Guests run on whatever thread calls the API. Dispatch is per thread and its selector byte must
 * outlive it, so each thread that runs a guest gets an hl_inproc_thread at its first run, kept
 * until it exits: the byte (dispatch stays on between runs, selector ALLOW: one prctl per
 * thread, not two per run), and an alternate signal stack registered here. Signal handlers find
 * the thread from that stack, without thread-local storage (FS may be the guest's), and through
 * it the run in progress (`cur`, which a run nested through a host function saves and restores). */

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF 0
#define PR_SYS_DISPATCH_ON 1
#endif
#ifndef SYSCALL_DISPATCH_FILTER_ALLOW
#define SYSCALL_DISPATCH_FILTER_ALLOW 0
#define SYSCALL_DISPATCH_FILTER_BLOCK 1
#endif
#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003

#define MAX_THREADS 4096
#define ALTSTACK_SIZE (64 * 1024)
static struct {
    _Atomic uintptr_t lo, hi;
    _Atomic(hl_inproc_thread *) t;
} g_threads[MAX_THREADS];
static atomic_size_t g_nthreads; /* slots ever used */
static hl_plock g_lock = HL_PLOCK_INIT; /* unlocked again in a forked child */
static int g_fsgsbase = -1;
static uintptr_t g_restorer_page;
static struct sigaction g_previous; /* the SIGSYS action ours replaced (e.g. a seccomp trap handler) */
static atomic_int g_dispatch_known; /* 1: the kernel has Syscall User Dispatch (a thread set it up) */
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key; /* its destructor frees a thread's state when the thread exits */
static int g_key_err;
static _Thread_local HL_TLS_IE hl_inproc_thread *tls_thread;

#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2 /* si_code of a SIGSYS from Syscall User Dispatch */
#endif

static long raw_syscall2(long nr, long a, long b)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
    return r;
}

static long raw_syscall5(long nr, long a, long b, long c, long d, long e)
{
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    __asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
    return r;
}

HL_TLS_FREE uint64_t hl_inproc_read_fs(void)
{
    uint64_t v = 0;
    if (g_fsgsbase > 0)
        __asm__ volatile("rdfsbase %0" : "=r"(v));
    else
        raw_syscall2(158 /* arch_prctl */, ARCH_GET_FS, (long)&v);
    return v;
}

HL_TLS_FREE static void write_fs(hl_inproc_sys *s, uint64_t v)
{
    if (g_fsgsbase > 0) {
        __asm__ volatile("wrfsbase %0" : : "r"(v) : "memory");
    } else {
        raw_syscall2(158, ARCH_SET_FS, (long)v);
        s->syscalls++;
    }
}

HL_TLS_FREE void hl_inproc_to_host(hl_inproc_sys *s)
{
    hl_inproc_thread *t = s->t;
    t->selector = SYSCALL_DISPATCH_FILTER_ALLOW;
    if (t->fs_is_guest) {
        write_fs(s, s->host_fs);
        t->fs_is_guest = 0;
    }
}

HL_TLS_FREE void hl_inproc_to_guest(hl_inproc_sys *s)
{
    hl_inproc_thread *t = s->t;
    if (s->guest_fs) {
        write_fs(s, s->guest_fs);
        t->fs_is_guest = 1;
    }
    if (t->dispatch_on)
        t->selector = SYSCALL_DISPATCH_FILTER_BLOCK;
}

/* The thread's state is read as it is, not as the flags say: a signal may land inside a crossing,
 * between its FS write and its flag, where the flags are wrong for a moment. */
HL_TLS_FREE void hl_inproc_handler_enter(hl_inproc_sys *s, hl_inproc_interrupted *was)
{
    hl_inproc_thread *t = s->t;
    was->selector = t->selector;
    was->fs_is_guest = t->fs_is_guest;
    t->selector = SYSCALL_DISPATCH_FILTER_ALLOW; /* before arch_prctl, where FSGSBASE is missing */
    was->fs = hl_inproc_read_fs();
    if (was->fs != s->host_fs)
        write_fs(s, s->host_fs);
    t->fs_is_guest = 0;
}

HL_TLS_FREE void hl_inproc_handler_leave(hl_inproc_sys *s, const hl_inproc_interrupted *was)
{
    hl_inproc_thread *t = s->t;
    if (was->fs != s->host_fs)
        write_fs(s, was->fs);
    t->fs_is_guest = was->fs_is_guest;
    t->selector = was->selector;
}

HL_TLS_FREE hl_inproc_thread *hl_inproc_thread_of_stack(uintptr_t sp)
{
    size_t n = atomic_load(&g_nthreads);
    for (size_t i = 0; i < n; i++) {
        /* t first: a slot being reused publishes its range before its thread */
        hl_inproc_thread *t = atomic_load(&g_threads[i].t);
        if (t && sp >= atomic_load(&g_threads[i].lo) && sp < atomic_load(&g_threads[i].hi))
            return t;
    }
    return NULL;
}

/* SIGSYS from Syscall User Dispatch. A call from the guest's code goes to the guest runtime's
 * entry (rcx = where to return, r11 = the flags, rax = the number, as `syscall` leaves them);
 * a call from anywhere else is host code: allowed from now on, and made again. */
HL_TLS_FREE static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    greg_t *g = uc->uc_mcontext.gregs;
    hl_inproc_thread *t = hl_inproc_thread_of_stack((uintptr_t)&uc);
    hl_inproc_sys *s = t ? t->cur : NULL;
    if (si->si_code != SYS_USER_DISPATCH) { /* not ours (seccomp, kill): the handler before us */
        if (g_previous.sa_flags & SA_SIGINFO)
            g_previous.sa_sigaction(sig, si, ucv);
        else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN)
            g_previous.sa_handler(sig);
        else if (g_previous.sa_handler == SIG_DFL) /* as if we were not there: the default action */
            sigaction(SIGSYS, &g_previous, NULL), raise(SIGSYS);
        return;
    }
    uintptr_t at = (uintptr_t)si->si_call_addr;
    if (s) s->syscalls++; /* the handler's rt_sigreturn */
    if (s && at >= s->guest_lo && at < s->guest_hi) {
        uint64_t entry = s->syscall_entry ? *s->syscall_entry : 0;
        if (entry < s->guest_lo || entry >= s->guest_hi) { /* no runtime to serve it: it fails */
            g[REG_RAX] = -ENOSYS;
            return;
        }
        g[REG_RCX] = g[REG_RIP];
        g[REG_R11] = g[REG_EFL];
        g[REG_RIP] = (greg_t)entry;
        return;
    }
    if (t)
        t->selector = SYSCALL_DISPATCH_FILTER_ALLOW;
    g[REG_RIP] -= 2; /* the `syscall` instruction again, now allowed (rax holds its number again) */
}

static int install_locked(void)
{
    if (g_fsgsbase < 0)
        g_fsgsbase = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
    struct sigaction cur;
    if (sigaction(SIGSYS, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sigsys)
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, &g_previous) != 0)
        return -1;
    if (sigaction(SIGSYS, NULL, &cur) == 0)
        g_restorer_page = (uintptr_t)cur.sa_restorer & ~(uintptr_t)4095;
    return 0;
}

int hl_inproc_sys_install(void)
{
    hl_plock_lock(&g_lock); /* one installer: the replaced action is saved once */
    int r = install_locked();
    hl_plock_unlock(&g_lock);
    return r;
}

int hl_inproc_sys_check(void)
{
    if (!g_restorer_page)
        return ENOSYS;
    if (atomic_load(&g_dispatch_known))
        return 0;
    if (tls_thread && tls_thread->dispatch_on)
        return 0;
    /* turning dispatch off where it is not on changes nothing, and fails on a kernel without it */
    long r = raw_syscall5(157 /* prctl */, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
    hl_sys_add(1);
    if (r < 0)
        return (int)-r;
    atomic_store(&g_dispatch_known, 1);
    return 0;
}

static void unregister(hl_inproc_thread *t)
{
    hl_plock_lock(&g_lock);
    if (t->slot >= 0)
        atomic_store(&g_threads[t->slot].t, NULL);
    t->slot = -1;
    hl_plock_unlock(&g_lock);
}

/* The thread is exiting (the key's destructor, on that thread): dispatch off, our alternate
 * stack given up. Nothing of a run can be in progress: a thread cannot exit from inside one
 * (a host function that called pthread_exit would leave it mid-run: not supported). */
static void thread_exit(void *p)
{
    hl_inproc_thread *t = p;
    tls_thread = NULL;
    if (t->dispatch_on)
        raw_syscall5(157, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
    t->dispatch_on = 0;
    unregister(t);
    if (t->altstack_for_life) {
        stack_t cur;
        /* unless the application has put its own there since (then it is not ours to touch) */
        if (sigaltstack(NULL, &cur) == 0 && cur.ss_sp == t->altstack && !(cur.ss_flags & SS_ONSTACK)) {
            stack_t off = {.ss_flags = SS_DISABLE};
            sigaltstack(&off, NULL);
        }
    }
    munmap(t->altstack, t->altstack_size);
    free(t);
}

/* In a child of fork, the forking thread is the only one left and the kernel has turned its
 * dispatch off (fork and exec clear it): the next run sets it up again. */
static void after_fork_child(void)
{
    if (tls_thread)
        tls_thread->dispatch_on = 0;
}

static void make_key(void)
{
    g_key_err = pthread_key_create(&g_key, thread_exit);
    if (!g_key_err)
        g_key_err = pthread_atfork(NULL, NULL, after_fork_child);
}

/* Syscall User Dispatch on for this thread, its selector in t (ALLOW). */
static int dispatch_on(hl_inproc_thread *t)
{
    t->selector = SYSCALL_DISPATCH_FILTER_ALLOW;
    long r = raw_syscall5(157 /* prctl */, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, (long)g_restorer_page,
                          4096, (long)&t->selector);
    hl_sys_add(1);
    if (r < 0)
        return (int)-r;
    t->dispatch_on = 1;
    t->dispatch_in = hl_process_id();
    atomic_store(&g_dispatch_known, 1);
    return 0;
}

hl_inproc_thread *hl_inproc_thread_get(int *err)
{
    hl_inproc_thread *t = tls_thread;
    /* the kernel turns dispatch off in a forked child, which the atfork handler may not have seen
     * (_Fork(), a raw clone): the process it was turned on in says */
    if (t && t->dispatch_on && t->dispatch_in == hl_process_id())
        return t;
    if (t) { /* after a fork */
        if ((*err = dispatch_on(t)) != 0)
            return NULL;
        return t;
    }
    pthread_once(&g_key_once, make_key);
    if (g_key_err) {
        *err = g_key_err;
        return NULL;
    }
    if (hl_inproc_sys_install() != 0) {
        *err = errno;
        return NULL;
    }
    if (!g_restorer_page) {
        *err = ENOSYS;
        return NULL;
    }
    t = calloc(1, sizeof(*t));
    if (!t) {
        *err = ENOMEM;
        return NULL;
    }
    t->slot = -1;
    t->altstack_size = ALTSTACK_SIZE;
    t->altstack = HL_SYS(mmap(NULL, t->altstack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (t->altstack == MAP_FAILED) {
        *err = errno;
        free(t);
        return NULL;
    }
    /* a thread without an alternate stack gets ours for its life; one with the application's
     * (or a sanitizer's) keeps it, and ours is swapped in around each run */
    stack_t cur;
    int e = 0;
    if (HL_SYS(sigaltstack(NULL, &cur)) != 0) {
        e = errno;
    } else if (cur.ss_flags & SS_ONSTACK) {
        e = EPERM; /* called from a signal handler on the application's stack */
    } else if (cur.ss_flags & SS_DISABLE) {
        stack_t ours = {.ss_sp = t->altstack, .ss_size = t->altstack_size, .ss_flags = 0};
        if (HL_SYS(sigaltstack(&ours, NULL)) != 0)
            e = errno;
        else
            t->altstack_for_life = 1;
    }
    if (!e) {
        hl_plock_lock(&g_lock);
        size_t n = atomic_load(&g_nthreads), slot = n;
        for (size_t i = 0; i < n; i++)
            if (!atomic_load(&g_threads[i].t)) {
                slot = i;
                break;
            }
        if (slot == MAX_THREADS) {
            e = EAGAIN;
        } else {
            atomic_store(&g_threads[slot].lo, (uintptr_t)t->altstack);
            atomic_store(&g_threads[slot].hi, (uintptr_t)t->altstack + t->altstack_size);
            atomic_store(&g_threads[slot].t, t);
            if (slot == n)
                atomic_store(&g_nthreads, n + 1);
            t->slot = (int)slot;
        }
        hl_plock_unlock(&g_lock);
    }
    if (!e) {
        t->host_fs = hl_inproc_read_fs();
        if (g_fsgsbase <= 0)
            hl_sys_add(1); /* arch_prctl */
        e = pthread_setspecific(g_key, t);
    }
    if (!e)
        e = dispatch_on(t);
    if (e) {
        pthread_setspecific(g_key, NULL);
        unregister(t);
        if (t->altstack_for_life) {
            stack_t off = {.ss_flags = SS_DISABLE};
            sigaltstack(&off, NULL);
        }
        munmap(t->altstack, t->altstack_size);
        free(t);
        *err = e;
        return NULL;
    }
    tls_thread = t;
    return t;
}

int hl_inproc_run_begin(hl_inproc_thread *t, hl_inproc_sys *s, hl_inproc_sys **prev)
{
    if (t->depth == 0 && !t->altstack_for_life) {
        stack_t ours = {.ss_sp = t->altstack, .ss_size = t->altstack_size, .ss_flags = 0};
        if (HL_SYS(sigaltstack(&ours, &t->app_altstack)) != 0)
            return errno;
    }
    t->depth++;
    *prev = t->cur;
    s->t = t;
    s->host_fs = t->host_fs;
    s->syscalls = 0;
    atomic_signal_fence(memory_order_seq_cst); /* s complete before a handler can find it */
    t->cur = s;
    atomic_signal_fence(memory_order_seq_cst);
    return 0;
}

void hl_inproc_run_end(hl_inproc_thread *t, hl_inproc_sys *s, hl_inproc_sys *prev)
{
    /* the crossing back into host code left the selector ALLOW and the host's FS, which is what
     * the run this one was nested in (if any) had in its host function: nothing else to restore */
    atomic_signal_fence(memory_order_seq_cst);
    t->cur = prev;
    atomic_signal_fence(memory_order_seq_cst);
    s->t = NULL;
    if (--t->depth == 0 && !t->altstack_for_life)
        HL_SYS(sigaltstack(&t->app_altstack, NULL));
}
