/* job.c - runs a sandbox's jobs (create, initialise, call, restore, exit) on the caller's thread, the guest's run under the watchdog. */
#include <signal.h>
#include <unistd.h>

#include "sandbox/sandbox_internal.h"
#include "util/errfmt.h"
#include "util/procid.h"
#include "util/syscount.h"
#include "util/tls.h"

/* A job runs on the thread that passed the sandbox's gate: the backend's vCPU (KVM_RUN may be
 * issued from any thread) or the in-process guest runs right there, and host functions and the
 * print function are called on that thread too. No hand-off, no thread per sandbox. The time
 * limit of the guest's run is the watchdog's (watchdog.c): it cancels the run from its own
 * thread. A run that a host function keeps from ending past max_wait_for_cancellation makes the
 * sandbox unusable when it finally ends: the caller waits for its own host function.
 *
 * One exception: on a backend where moving the guest to another thread costs much
 * (thread_move_costly: KVM, where KVM_RUN on a vCPU whose last run was on another thread may wait
 * for an RCU grace period, milliseconds), a sandbox whose runs have moved between threads twice
 * (initialised on one thread and called from another is one move, and costs once) is being
 * called by several threads: it gets a thread of its own, and from then on its jobs are handed
 * to that thread (two context switches per call, instead of a grace period per change). */

/* A number per thread, never given twice in the process (unlike a thread's addresses, which a
 * later thread may get when an earlier one has exited): which thread runs a job, and where a
 * run happened. */
static _Thread_local HL_TLS_IE uint64_t thread_number;
static _Atomic uint64_t threads_numbered;
static uint64_t this_thread(void)
{
    if (!thread_number)
        thread_number = atomic_fetch_add(&threads_numbered, 1) + 1;
    return thread_number;
}

/* The chain of calls this thread works for: its own number, except on a sandbox's own thread,
 * which runs a job for the thread that handed it over (and that waits for it) and works for that
 * thread's chain then. A host function of sandbox B, called through B's own thread from a host
 * function of A, is in A's chain: calling A from there would wait for itself, and is refused as
 * a call from A's own host function is. */
static _Thread_local HL_TLS_IE uint64_t working_for;
static uint64_t this_chain(void)
{
    return working_for ? working_for : this_thread();
}

int hl_sb_on_own_thread(const hl_sandbox *sb)
{
    return atomic_load(&((hl_sandbox *)sb)->runner) == this_chain();
}

/* A sandbox belongs to the process that made it: in a child of fork() its memory is still the
 * parent's (shared mappings, or none: MADV_DONTFORK), its vCPU cannot run (KVM refuses another
 * process) and its threads and locks are copies of the parent's, so there it can only be
 * destroyed. Which process it is comes from util/procid.h (seen after any kind of fork). */
void hl_sb_fork_mark(hl_sandbox *sb)
{
    sb->made_in = hl_process_id();
}

int hl_sb_forked(const hl_sandbox *sb)
{
    return sb->made_in != hl_process_id();
}

static void cancel_run(void *ctx)
{
    hl_sandbox *sb = ctx;
    sb->ops->cancel(sb->be);
}

hl_status hl_sb_run_begin(hl_sandbox *sb)
{
    hl_error e;
    hl_error_empty(&e);
    if (!sb->job_limit_ms)
        return HL_OK;
    hl_status st = hl_watch_start(&sb->watch, cancel_run, sb, sb->job_limit_ms, sb->job_cancel_wait_ms, &e);
    if (st)
        hl_error_copy(&sb->job_err, &e);
    return st;
}

void hl_sb_run_finished(hl_sandbox *sb)
{
    int watched = sb->watch.armed;
    if (hl_watch_stop(&sb->watch)) {
        sb->run_gave_up = 1;
        sb->state = SB_POISONED;
    }
    /* the watchdog is done with this run (it set `fired` under its lock): a cancel signal it sent
     * while the signal was blocked here (a host function ran, or the run was ending) would stay
     * pending on the caller's thread when the caller blocks it, for whatever the application does
     * with that signal later. cancel_req, not the signal, is what stops a run, an outer one's too */
    if (watched && sb->watch.fired)
        hl_backend_drain_cancel();
}

void hl_sb_debug_pause(void *ctx, int paused)
{
    hl_sandbox *sb = ctx;
    hl_watch_pause(&sb->watch, paused);
}

/* Runs the job on this thread: the sandbox's inputs are set, its outputs (job_status, job_err)
 * are written. */
static void run_job(hl_sandbox *sb, job_kind kind)
{
    uint64_t mark = hl_sys_now();
    int runs = sb->be && (kind == JOB_INIT || kind == JOB_CALL);
    if (runs)
        sb->ops->prepare(sb->be); /* cancel() signals this thread from now on */
    uint64_t outer = atomic_exchange(&sb->runner, this_chain());
    hl_sb_do_job(sb, kind);
    atomic_store(&sb->runner, outer);
    if (runs)
        sb->run_thread = this_thread();
    sb->job_syscalls = hl_sys_now() - mark;
}

static void *sandbox_thread(void *arg)
{
    hl_sandbox *sb = arg;
    pthread_mutex_lock(&sb->mu);
    for (;;) {
        while (sb->posted == JOB_NONE)
            pthread_cond_wait(&sb->cv, &sb->mu);
        job_kind kind = sb->posted;
        working_for = sb->posted_chain;
        pthread_mutex_unlock(&sb->mu);
        run_job(sb, kind);
        working_for = 0;
        /* A host function forked during the job, and this is the child: its one thread, with no
         * caller to hand the result to (the caller's thread is the parent's) and every signal
         * blocked. The child ends, with status 0 as when a process's last thread returns, but
         * without the parent's atexit handlers and stdio buffers (as a child of fork should). */
        if (hl_sb_forked(sb))
            _exit(0);
        pthread_mutex_lock(&sb->mu);
        sb->posted = JOB_NONE;
        sb->posted_done = 1;
        pthread_cond_broadcast(&sb->cv);
        if (kind == JOB_EXIT)
            break;
    }
    pthread_mutex_unlock(&sb->mu);
    return NULL;
}

/* Whether the job should go to the sandbox's own thread, starting it when the sandbox has just
 * shown that several threads call it. */
/* A sandbox's own thread started before a fork exists only in the parent, so the child runs the
 * sandbox's jobs itself (destroy: it must not wait for a thread that is not there). */
static int use_own_thread(hl_sandbox *sb, job_kind kind)
{
    if (sb->thread_on) {
        if (!hl_sb_forked(sb)) /* the thread was started after the sandbox was made */
            return 1;
        sb->thread_on = 0; /* a fork's child: its mutex and condition variable are copies, left be */
        return 0;
    }
    if (!sb->ops->thread_move_costly || (kind != JOB_INIT && kind != JOB_CALL) || !sb->run_thread ||
        sb->run_thread == this_thread() || ++sb->moves < 2)
        return 0;
    pthread_mutex_init(&sb->mu, NULL);
    pthread_cond_init(&sb->cv, NULL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1024 * 1024); /* host functions run there */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the application's signals go to its own threads */
    int rc = pthread_create(&sb->thread, &attr, sandbox_thread, sb);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) { /* no thread: the runs keep moving, slower but right */
        pthread_mutex_destroy(&sb->mu);
        pthread_cond_destroy(&sb->cv);
        return 0;
    }
    hl_sys_add(1);
    sb->thread_on = 1;
    return 1;
}

/* Hands the job to the sandbox's thread and waits for it (no limit here: the watchdog stops the
 * guest). The hand-off is counted as 4 system calls, a wake and a wait on each side, as a model:
 * whether the futex is needed depends on the scheduling, and the counts must not. */
static void hand_off(hl_sandbox *sb, job_kind kind)
{
    pthread_mutex_lock(&sb->mu);
    sb->posted = kind;
    sb->posted_chain = this_chain();
    sb->posted_done = 0;
    pthread_cond_broadcast(&sb->cv);
    while (!sb->posted_done)
        pthread_cond_wait(&sb->cv, &sb->mu);
    pthread_mutex_unlock(&sb->mu);
    sb->job_syscalls += 4;
    if (kind == JOB_EXIT) {
        pthread_join(sb->thread, NULL);
        pthread_mutex_destroy(&sb->mu);
        pthread_cond_destroy(&sb->cv);
        sb->thread_on = 0;
    }
}

hl_status hl_sb_job(hl_sandbox *sb, job_kind kind, uint32_t timeout_ms, uint32_t cancel_wait_ms, hl_error *err)
{
    sb->job_status = HL_OK;
    sb->job_limit_ms = timeout_ms;
    sb->job_cancel_wait_ms = cancel_wait_ms;
    sb->run_gave_up = 0;
    hl_error_clear(&sb->job_err);
    if (use_own_thread(sb, kind))
        hand_off(sb, kind);
    else
        run_job(sb, kind);
    hl_status st = sb->job_status;
    if (sb->run_gave_up) {
        sb->state = SB_POISONED;
        st = hl_errorf(err, HL_E_POISONED,
                       "the guest %s ran past its limit (%u ms) and could not be stopped within "
                       "max_wait_for_cancellation (%u ms), probably inside a host function: the "
                       "sandbox is unusable now; destroy it",
                       kind == JOB_INIT ? "initialisation" : "call", timeout_ms, cancel_wait_ms);
    } else if (err && st != HL_OK) {
        hl_error_copy(err, &sb->job_err);
    }
    sb->stats.syscalls += sb->job_syscalls;
    if (kind == JOB_CALL)
        sb->stats.last_call_syscalls = sb->job_syscalls;
    return st;
}
