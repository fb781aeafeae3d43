/* worker.c - the sandbox thread: runs jobs (create, initialise, call, exit) and enforces time limits. */
#include <errno.h>
#include <time.h>

#include "sandbox/sandbox_internal.h"
#include "util/errfmt.h"
#include "util/syscount.h"

static void *worker_main(void *arg)
{
    hl_sandbox *sb = arg;
    pthread_mutex_lock(&sb->mu);
    uint64_t mark = hl_sys_now();
    for (;;) {
        while (sb->job == JOB_NONE)
            pthread_cond_wait(&sb->cv_job, &sb->mu);
        job_kind kind = sb->job;
        pthread_mutex_unlock(&sb->mu);
        hl_backend_drain_cancel(); /* leftovers of an earlier job's cancellation */
        hl_sb_do_job(sb, kind);
        pthread_mutex_lock(&sb->mu);
        sb->job = JOB_NONE;
        sb->job_done = 1;
        hl_sys_add(2); /* the hand-off, this side: the wait for the job and the wake below */
        sb->job_syscalls = hl_sys_now() - mark; /* this thread's share of the job, its wait included */
        mark = hl_sys_now();
        pthread_cond_broadcast(&sb->cv_done);
        if (kind == JOB_EXIT)
            break;
        if (sb->abandoned) { /* the owner gave up on us while we were stuck: clean up alone */
            pthread_mutex_unlock(&sb->mu);
            hl_sb_do_job(sb, JOB_EXIT);
            hl_sb_free(sb);
            return NULL;
        }
    }
    pthread_mutex_unlock(&sb->mu);
    return NULL;
}

void hl_sb_run_finished(hl_sandbox *sb)
{
    pthread_mutex_lock(&sb->mu);
    sb->run_done = 1;
    pthread_cond_broadcast(&sb->cv_done);
    pthread_mutex_unlock(&sb->mu);
}

hl_status hl_sb_thread_start(hl_sandbox *sb, hl_error *err)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&sb->mu, NULL);
    pthread_cond_init(&sb->cv_job, &ca);
    pthread_cond_init(&sb->cv_done, &ca);
    pthread_condattr_destroy(&ca);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1024 * 1024); /* host functions run here */
    int rc = pthread_create(&sb->thread, &attr, worker_main, sb);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return hl_errorf(err, HL_E_NOMEM, "could not start the sandbox thread (error %d)", rc);
    sb->thread_started = 1;
    return HL_OK;
}

void hl_sb_debug_pause(void *ctx, int paused)
{
    hl_sandbox *sb = ctx;
    pthread_mutex_lock(&sb->mu);
    sb->dbg_paused = paused;
    pthread_cond_broadcast(&sb->cv_done);
    pthread_mutex_unlock(&sb->mu);
}

static struct timespec after_ms(uint32_t ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static int before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void add_ns(struct timespec *t, int64_t ns)
{
    t->tv_sec += ns / 1000000000;
    t->tv_nsec += (long)(ns % 1000000000);
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static int64_t ns_between(const struct timespec *a, const struct timespec *b)
{
    return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 + (b->tv_nsec - a->tv_nsec);
}

/* Waits (holding sb->mu) until the job or its run is done or *deadline passes; returns whether it
 * is done. Time while a debugger holds the guest does not count: *deadline, and *also when not
 * NULL, move on by it. */
static int wait_done(hl_sandbox *sb, struct timespec *deadline, struct timespec *also)
{
    for (;;) {
        if (sb->job_done || sb->run_done) return 1;
        if (sb->dbg_paused) {
            struct timespec t0 = after_ms(0);
            while (sb->dbg_paused && !sb->job_done && !sb->run_done)
                pthread_cond_wait(&sb->cv_done, &sb->mu);
            struct timespec t1 = after_ms(0);
            int64_t held = ns_between(&t0, &t1);
            add_ns(deadline, held);
            if (also) add_ns(also, held);
            continue;
        }
        if (pthread_cond_timedwait(&sb->cv_done, &sb->mu, deadline) == ETIMEDOUT && !sb->dbg_paused)
            return sb->job_done || sb->run_done;
    }
}

hl_status hl_sb_job(hl_sandbox *sb, job_kind kind, uint32_t timeout_ms, uint32_t cancel_wait_ms, hl_error *err)
{
    uint64_t mark = hl_sys_now();
    if (sb->be && (kind == JOB_INIT || kind == JOB_CALL))
        sb->ops->prepare(sb->be);
    pthread_mutex_lock(&sb->mu);
    sb->job = kind;
    sb->job_done = 0;
    sb->run_done = 0;
    sb->dbg_paused = 0;
    sb->job_status = HL_OK;
    hl_error_clear(&sb->job_err);
    /* the hand-off, this side: the wake below and the wait for the end. Counted as one each, as
     * a model: whether a futex call is needed depends on the scheduling (the job may be done
     * before the wait), and the statistics must not depend on it */
    hl_sys_add(2);
    pthread_cond_signal(&sb->cv_job);
    if (timeout_ms == 0) {
        while (!sb->job_done)
            pthread_cond_wait(&sb->cv_done, &sb->mu);
    } else {
        struct timespec deadline = after_ms(timeout_ms);
        /* the limit covers the guest's run; the host's work after it (reading results, the
         * snapshot, the restore) is waited for without one */
        if (!wait_done(sb, &deadline, NULL)) {
            /* too long: cancel, and keep cancelling (a signal can land at an unlucky moment)
             * until the run ends or the wait for cancellation runs out */
            struct timespec give_up = after_ms(cancel_wait_ms);
            while (!sb->job_done && !sb->run_done) {
                pthread_mutex_unlock(&sb->mu);
                sb->ops->cancel(sb->be);
                pthread_mutex_lock(&sb->mu);
                struct timespec next = after_ms(1);
                if (!before(&next, &give_up))
                    next = give_up;
                wait_done(sb, &next, &give_up);
                struct timespec now = after_ms(0);
                if (!sb->job_done && !sb->run_done && !sb->dbg_paused && !before(&now, &give_up)) {
                    sb->state = SB_POISONED;
                    pthread_mutex_unlock(&sb->mu);
                    return hl_errorf(err, HL_E_POISONED,
                                     "the guest %s ran past its limit (%u ms) and could not be stopped within "
                                     "max_wait_for_cancellation (%u ms), probably inside a host function: the "
                                     "sandbox is unusable now; destroy it",
                                     kind == JOB_INIT ? "initialisation" : "call", timeout_ms, cancel_wait_ms);
                }
            }
        }
    }
    while (!sb->job_done)
        pthread_cond_wait(&sb->cv_done, &sb->mu);
    hl_status st = sb->job_status;
    uint64_t made = hl_sys_now() - mark + sb->job_syscalls;
    sb->stats.syscalls += made;
    if (kind == JOB_CALL) sb->stats.last_call_syscalls = made;
    if (err && st != HL_OK) hl_error_copy(err, &sb->job_err);
    pthread_mutex_unlock(&sb->mu);
    return st;
}

int hl_sb_thread_stop(hl_sandbox *sb)
{
    if (!sb->thread_started)
        return 1;
    pthread_mutex_lock(&sb->mu);
    if (sb->job != JOB_NONE && !sb->job_done) {
        sb->abandoned = 1;
        pthread_mutex_unlock(&sb->mu);
        pthread_detach(sb->thread);
        return 0;
    }
    sb->job = JOB_EXIT;
    sb->job_done = 0;
    pthread_cond_signal(&sb->cv_job);
    while (!sb->job_done)
        pthread_cond_wait(&sb->cv_done, &sb->mu);
    pthread_mutex_unlock(&sb->mu);
    pthread_join(sb->thread, NULL);
    return 1;
}
