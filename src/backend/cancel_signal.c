/* cancel_signal.c - the signal that cancels guest code: which one (hl_set_cancel_signal), when it may change, its mask. */
#include "backend/backend.h"
#include "util/procid.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "util/errfmt.h"
#include "util/structsize.h"
#include "util/syscount.h"

/* One signal for the whole process, like a process's signal handlers themselves. Hyperlight makes
 * it a per-sandbox setting (SandboxConfiguration's interrupt_vcpu_sigrtmin_offset, SIGRTMIN + 0
 * by default, checked against SIGRTMAX); here the in-process backend handles the signal itself
 * (it jumps out of guest code and chains nothing), so two sandboxes with two signals would need
 * two handlers for the same job: the choice is the application's, once, like any signal it
 * reserves. It may change only while no sandbox exists: a run blocks the signal on its thread
 * except while guest code runs, the KVM backend runs the guest with it unblocked, and a cancel
 * sends it; all three must agree for the sandbox's whole life. `live` counts sandboxes from the
 * start of their creation to their free. */

static hl_plock lock = HL_PLOCK_INIT; /* unlocked again in a forked child */
static int chosen; /* 0: the default */
static int live;   /* sandboxes that exist or are being created */
static int installed; /* the signal the in-process handler was installed for (0: none yet) */
static atomic_int current; /* the signal in use while sandboxes exist (read by any thread) */

static int default_signal(void) { return SIGRTMIN + HL_CANCEL_SIGNAL_DEFAULT_OFFSET; }

int hl_cancel_signal(void)
{
    hl_plock_lock(&lock);
    int sig = chosen ? chosen : default_signal();
    hl_plock_unlock(&lock);
    return sig;
}

hl_status hl_set_cancel_signal(int signo, hl_error *err)
{
    if (hl_error_check(err) != HL_OK)
        return HL_E_INVALID_ARG;
    hl_error_clear(err);
    if (signo != 0 && (signo < SIGRTMIN || signo > SIGRTMAX))
        return hl_errorf(err, HL_E_INVALID_ARG,
                         "hl_set_cancel_signal: %d is not a realtime signal (SIGRTMIN %d to SIGRTMAX %d, or 0 "
                         "for the default, SIGRTMIN+%d)",
                         signo, SIGRTMIN, SIGRTMAX, HL_CANCEL_SIGNAL_DEFAULT_OFFSET);
    hl_plock_lock(&lock);
    if (live > 0) {
        int n = live;
        hl_plock_unlock(&lock);
        return hl_errorf(err, HL_E_STATE,
                         "hl_set_cancel_signal: %d sandbox%s exist%s; the cancel signal can change only while "
                         "none does (destroy them first, or set it before creating the first)",
                         n, n == 1 ? "" : "es", n == 1 ? "s" : "");
    }
    int next = signo ? signo : default_signal();
    if (installed && installed != next) {
        /* give the old signal back to whatever handled it before us */
        hl_inproc_release_signal(installed);
        installed = 0;
    }
    chosen = signo;
    hl_plock_unlock(&lock);
    return HL_OK;
}

void hl_backend_sandbox_hold(void)
{
    hl_plock_lock(&lock);
    live++;
    hl_plock_unlock(&lock);
}

void hl_backend_sandbox_release(void)
{
    hl_plock_lock(&lock);
    live--;
    hl_plock_unlock(&lock);
}

int hl_backend_current_signal(void) { return atomic_load(&current); }

int hl_backend_cancel_signal(void)
{
    hl_plock_lock(&lock);
    int sig = chosen ? chosen : default_signal();
    atomic_store(&current, sig);
    hl_inproc_install_handlers(sig);
    installed = sig;
    hl_plock_unlock(&lock);
    return sig;
}

void hl_backend_drain_cancel(void)
{
    int sig = hl_backend_current_signal();
    if (!sig)
        return;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    struct timespec zero = {0, 0};
    while (HL_SYS(sigtimedwait(&set, NULL, &zero)) == sig)
        ;
}

/* Linux's layout, glibc's and musl's alike: signal n is bit n - 1 of the set's first 64 bits */
_Static_assert(sizeof(sigset_t) >= sizeof(uint64_t), "sigset_t holds the kernel's 64 signals first");

uint64_t hl_backend_guest_sigmask(const sigset_t *of)
{
    int cancel = hl_backend_current_signal();
    sigset_t cur;
    if (!of) {
        pthread_sigmask(SIG_BLOCK, NULL, &cur);
        of = &cur;
    }
    uint64_t mask; /* one load, not 64 sigismember calls: it is asked at every KVM call */
    memcpy(&mask, of, sizeof mask);
    if (cancel >= 1 && cancel <= 64)
        mask &= ~(1ull << (cancel - 1));
    return mask;
}
