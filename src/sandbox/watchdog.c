/* watchdog.c - time limits of guest runs, enforced by one thread for the whole process. */
#include "sandbox/watchdog.h"
#include "util/procid.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "util/errfmt.h"
#include "util/syscount.h"

/* Guest runs happen on their callers' threads; one watchdog thread, started by the first run
 * with a limit, keeps the list of runs in progress and sleeps until the earliest deadline. A run
 * registers with a lock and, only when its deadline is earlier than the one the watchdog sleeps
 * until, a wake-up. A run that ends does not wake it: the watchdog finds the list changed when its
 * timer goes off. So calls that follow each other with the same limit cost no system call here,
 * and the watchdog wakes about once per limit, not once per call. */

#define RESEND_NS 1000000 /* a cancel signal can land at an unlucky moment: sent again every ms */
#define FOREVER INT64_MAX

static hl_plock lock = HL_PLOCK_INIT; /* unlocked again in a forked child */
static pthread_cond_t cv;
static int started;       /* the thread runs (in this process: not after a fork) */
static int64_t wake_at = FOREVER; /* when the watchdog's sleep ends */
static int64_t recent;            /* the deadline of the run registered last */
static hl_watch *head;
static uint64_t owner; /* the process the thread and the list are of (util/procid.h) */

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* One pass over the runs: cancels the late ones; returns when the next thing is due. */
static int64_t tick(int64_t now)
{
    int64_t next = FOREVER;
    for (hl_watch *w = head; w; w = w->next) {
        if (w->paused || w->gave_up)
            continue;
        if (!w->fired && now < w->deadline) {
            next = min64(next, w->deadline);
            continue;
        }
        if (w->fired && now >= w->give_up) {
            w->gave_up = 1; /* cancel_req stays set: the run still ends as soon as it can */
            continue;
        }
        if (!w->fired || now >= w->resend) {
            if (!w->fired && now > w->deadline) /* the wait counts from the first cancel */
                w->give_up += now - w->deadline;
            w->fired = 1;
            w->cancel(w->ctx);
            w->resend = now + RESEND_NS;
        }
        next = min64(next, min64(w->resend, w->give_up));
    }
    return next;
}

static void *watchdog_main(void *arg)
{
    (void)arg;
    hl_plock_lock(&lock);
    for (;;) {
        int64_t now = now_ns();
        int64_t next = tick(now);
        /* nothing to watch: sleep until the last run's deadline all the same, so that the next
         * run, whose deadline is later when its limit is the same, need not wake the watchdog */
        if (next == FOREVER && recent > now)
            next = recent;
        wake_at = next;
        if (next == FOREVER) {
            pthread_cond_wait(&cv, &lock.m);
        } else {
            struct timespec t = {(time_t)(next / 1000000000), (long)(next % 1000000000)};
            pthread_cond_timedwait(&cv, &lock.m, &t);
        }
    }
    return NULL;
}

static void init_cv(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &ca);
    pthread_condattr_destroy(&ca);
}

/* Under the lock: a forked child finds the parent's state here (any fork: the process identity
 * says): no watchdog thread, a condition variable that may count the parent's waiter, runs that
 * are the parent's. It starts afresh. */
static void take_over(void)
{
    uint64_t me = hl_process_id();
    if (owner == me)
        return;
    if (owner) {
        init_cv();
        started = 0;
        wake_at = FOREVER;
        recent = 0;
        head = NULL;
    }
    owner = me;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void init_once(void)
{
    init_cv();
}

/* Under the lock. The thread takes no signal: the application's go to its own threads. */
static int start_thread(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t t;
    int rc = pthread_create(&t, &attr, watchdog_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        started = 1;
    return rc;
}

hl_status hl_watch_start(hl_watch *w, void (*cancel)(void *ctx), void *ctx, uint32_t limit_ms,
                         uint32_t cancel_wait_ms, hl_error *err)
{
    w->armed = 0;
    if (limit_ms == 0)
        return HL_OK;
    pthread_once(&once, init_once);
    w->cancel = cancel;
    w->ctx = ctx;
    w->deadline = now_ns() + (int64_t)limit_ms * 1000000;
    w->give_up = w->deadline + (int64_t)cancel_wait_ms * 1000000;
    w->resend = w->deadline;
    w->fired = w->gave_up = w->paused = 0;
    hl_plock_lock(&lock);
    take_over();
    if (!started) {
        int rc = start_thread();
        if (rc != 0) {
            hl_plock_unlock(&lock);
            return hl_errorf(err, HL_E_NOMEM, "could not start the watchdog thread that enforces time limits (error %d)",
                             rc);
        }
        hl_sys_add(1);
    }
    w->proc = owner;
    w->prev = NULL;
    w->next = head;
    if (head)
        head->prev = w;
    head = w;
    w->armed = 1;
    recent = w->deadline;
    if (w->deadline < wake_at) { /* earlier than the watchdog will look: wake it */
        wake_at = w->deadline;
        pthread_cond_signal(&cv);
        hl_sys_add(1);
    }
    hl_plock_unlock(&lock);
    return HL_OK;
}

int hl_watch_stop(hl_watch *w)
{
    if (!w->armed)
        return 0;
    hl_plock_lock(&lock);
    if (w->proc != hl_process_id()) { /* started before a fork, in the parent: not in this list */
        w->armed = 0;
        hl_plock_unlock(&lock);
        return 0;
    }
    if (w->prev)
        w->prev->next = w->next;
    else
        head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->armed = 0;
    int gave_up = w->gave_up;
    hl_plock_unlock(&lock);
    return gave_up;
}

void hl_watch_pause(hl_watch *w, int paused)
{
    hl_plock_lock(&lock);
    if (w->proc != hl_process_id()) {
        hl_plock_unlock(&lock);
        return;
    }
    if (w->armed && paused && !w->paused) {
        w->paused = 1;
        w->paused_at = now_ns();
    } else if (w->armed && !paused && w->paused) {
        int64_t held = now_ns() - w->paused_at;
        w->paused = 0;
        w->deadline += held;
        w->give_up += held;
        w->resend += held;
        int64_t due = w->fired ? w->resend : w->deadline;
        if (due < wake_at) {
            wake_at = due;
            pthread_cond_signal(&cv);
        }
    }
    hl_plock_unlock(&lock);
}

int hl_watch_fired(hl_watch *w)
{
    hl_plock_lock(&lock);
    int f = w->armed && w->fired;
    hl_plock_unlock(&lock);
    return f;
}
