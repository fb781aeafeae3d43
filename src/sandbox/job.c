/* job.c - runs a sandbox's jobs (create, initialise, call, restore, exit) on the caller's thread, the guest's run under the watchdog. */
#include "sandbox/sandbox_internal.h"
#include "util/errfmt.h"
#include "util/syscount.h"

/* A job runs on the thread that passed the sandbox's gate: the backend's vCPU (KVM_RUN may be
 * issued from any thread) or the in-process guest runs right there, and host functions and the
 * print function are called on that thread too. No hand-off, no thread per sandbox. The time
 * limit of the guest's run is the watchdog's (watchdog.c): it cancels the run from its own
 * thread. A run that a host function keeps from ending past max_wait_for_cancellation makes the
 * sandbox unusable when it finally ends: the caller waits for its own host function. */

/* A per-thread address: unique among live threads, compared atomically. */
static _Thread_local char thread_mark;

int hl_sb_on_own_thread(const hl_sandbox *sb)
{
    return atomic_load(&((hl_sandbox *)sb)->runner) == (uintptr_t)&thread_mark;
}

static void cancel_run(void *ctx)
{
    hl_sandbox *sb = ctx;
    sb->ops->cancel(sb->be);
}

hl_status hl_sb_run_begin(hl_sandbox *sb)
{
    hl_error e = HL_ERROR_INIT;
    if (!sb->job_limit_ms)
        return HL_OK;
    hl_status st = hl_watch_start(&sb->watch, cancel_run, sb, sb->job_limit_ms, sb->job_cancel_wait_ms, &e);
    if (st)
        hl_error_copy(&sb->job_err, &e);
    return st;
}

void hl_sb_run_finished(hl_sandbox *sb)
{
    if (hl_watch_stop(&sb->watch)) {
        sb->run_gave_up = 1;
        sb->state = SB_POISONED;
    }
}

void hl_sb_debug_pause(void *ctx, int paused)
{
    hl_sandbox *sb = ctx;
    hl_watch_pause(&sb->watch, paused);
}

hl_status hl_sb_job(hl_sandbox *sb, job_kind kind, uint32_t timeout_ms, uint32_t cancel_wait_ms, hl_error *err)
{
    uint64_t mark = hl_sys_now();
    if (sb->be && (kind == JOB_INIT || kind == JOB_CALL))
        sb->ops->prepare(sb->be);
    sb->job_status = HL_OK;
    sb->job_limit_ms = timeout_ms;
    sb->job_cancel_wait_ms = cancel_wait_ms;
    sb->run_gave_up = 0;
    hl_error_clear(&sb->job_err);
    uintptr_t outer = atomic_exchange(&sb->runner, (uintptr_t)&thread_mark);
    hl_sb_do_job(sb, kind);
    atomic_store(&sb->runner, outer);
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
    uint64_t made = hl_sys_now() - mark;
    sb->stats.syscalls += made;
    if (kind == JOB_CALL)
        sb->stats.last_call_syscalls = made;
    return st;
}
