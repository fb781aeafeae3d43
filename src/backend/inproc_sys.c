/* inproc_sys.c - RunInProcess: the guest's thread pointer (FS) and system calls (Syscall User Dispatch). */
#include "backend/inproc_sys.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <ucontext.h>

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
 * Signal handlers find their sandbox without thread-local storage (FS may be the guest's): every
 * sandbox thread's alternate signal stack is registered here with its backend. */

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
static struct {
    _Atomic uintptr_t lo, hi;
    _Atomic(hl_inproc_sys *) sys;
} g_threads[MAX_THREADS];
static atomic_size_t g_nthreads; /* slots ever used */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_fsgsbase = -1;
static uintptr_t g_restorer_page;
static struct sigaction g_previous; /* the SIGSYS action ours replaced (e.g. a seccomp trap handler) */

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
    s->selector = SYSCALL_DISPATCH_FILTER_ALLOW;
    if (s->fs_is_guest) {
        write_fs(s, s->host_fs);
        s->fs_is_guest = 0;
    }
}

HL_TLS_FREE void hl_inproc_to_guest(hl_inproc_sys *s)
{
    if (s->guest_fs) {
        write_fs(s, s->guest_fs);
        s->fs_is_guest = 1;
    }
    if (s->dispatch_on)
        s->selector = SYSCALL_DISPATCH_FILTER_BLOCK;
}

HL_TLS_FREE hl_inproc_sys *hl_inproc_sys_of_stack(uintptr_t sp)
{
    size_t n = atomic_load(&g_nthreads);
    for (size_t i = 0; i < n; i++) {
        hl_inproc_sys *s = atomic_load(&g_threads[i].sys);
        if (s && sp >= atomic_load(&g_threads[i].lo) && sp < atomic_load(&g_threads[i].hi))
            return s;
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
    hl_inproc_sys *s = hl_inproc_sys_of_stack((uintptr_t)&uc);
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
    if (s)
        s->selector = SYSCALL_DISPATCH_FILTER_ALLOW;
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
    pthread_mutex_lock(&g_lock); /* one installer: the replaced action is saved once */
    int r = install_locked();
    pthread_mutex_unlock(&g_lock);
    return r;
}

int hl_inproc_sys_start(hl_inproc_sys *s, uintptr_t altstack, size_t altstack_size)
{
    pthread_mutex_lock(&g_lock);
    size_t n = atomic_load(&g_nthreads), slot = n;
    for (size_t i = 0; i < n; i++)
        if (!atomic_load(&g_threads[i].sys)) {
            slot = i;
            break;
        }
    if (slot == MAX_THREADS) {
        pthread_mutex_unlock(&g_lock);
        return ENOMEM;
    }
    atomic_store(&g_threads[slot].lo, altstack);
    atomic_store(&g_threads[slot].hi, altstack + altstack_size);
    atomic_store(&g_threads[slot].sys, s);
    if (slot == n)
        atomic_store(&g_nthreads, n + 1);
    s->slot = (int)slot;
    pthread_mutex_unlock(&g_lock);
    s->selector = SYSCALL_DISPATCH_FILTER_ALLOW;
    if (!g_restorer_page)
        return ENOSYS;
    long r = raw_syscall5(157 /* prctl */, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, (long)g_restorer_page,
                          4096, (long)&s->selector);
    if (r < 0)
        return (int)-r;
    s->dispatch_on = 1;
    return 0;
}

void hl_inproc_sys_stop(hl_inproc_sys *s)
{
    if (s->dispatch_on)
        raw_syscall5(157, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
    s->dispatch_on = 0;
    pthread_mutex_lock(&g_lock);
    if (s->slot >= 0)
        atomic_store(&g_threads[s->slot].sys, NULL);
    s->slot = -1;
    pthread_mutex_unlock(&g_lock);
}
