/* gate.c - one caller at a time per sandbox, destroy's wait, per-thread results. */
#include <stdlib.h>
#include <string.h>

#include "sandbox/sandbox_internal.h"
#include "util/errfmt.h"

/* The contract (documented in sandbox.h): a sandbox may be used from any thread, and from many at
 * once; the gate lets one caller in at a time and the others wait their turn, so every call
 * runs whole and returns its own result. The gate is not a mutex held for the call: waiters
 * sleep on a condition variable, so destroy can tell them to leave (HL_E_STATE) and wait until
 * the last one has gone before it frees anything. The thread running the sandbox's job (its host functions
 * and print function) is refused at the gate instead of waiting for itself. */

struct hl_result_slot {
    pthread_t thread;
    hl_buf buf; /* the STRING/BYTES data of this thread's last result */
};

void hl_sb_gate_init(hl_sandbox *sb)
{
    pthread_mutex_init(&sb->gate_mu, NULL);
    pthread_cond_init(&sb->gate_cv, NULL);
}

void hl_sb_gate_free(hl_sandbox *sb)
{
    for (size_t i = 0; i < sb->nslots; i++)
        hl_buf_free(&sb->slots[i].buf);
    free(sb->slots);
    sb->slots = NULL;
    sb->nslots = 0;
    if (hl_sb_forked(sb)) /* copies of the parent's, which may count its waiters: left be */
        return;
    pthread_mutex_destroy(&sb->gate_mu);
    pthread_cond_destroy(&sb->gate_cv);
}

hl_status hl_sb_enter(hl_sandbox *sb, const char *what, hl_error *err)
{
    if (hl_sb_forked(sb)) /* before the lock: a thread of the parent may have held it at the fork */
        return hl_errorf(err, HL_E_STATE,
                         "%s: the sandbox was made before this process was forked from its parent; in the "
                         "child it can only be destroyed (make a new one here)",
                         what);
    if (hl_sb_on_own_thread(sb))
        return hl_errorf(err, HL_E_STATE,
                         "%s: a host function or print function cannot use its own sandbox, or one "
                         "whose call led to it (it would wait for itself)",
                         what);
    pthread_mutex_lock(&sb->gate_mu);
    /* first come, first served: a thread that leaves and comes straight back (it still has the
     * CPU) must not overtake the ones woken to go in */
    uint64_t ticket = sb->gate_next++;
    sb->gate_waiting++;
    while ((sb->gate_busy || ticket != sb->gate_serving) && !sb->destroying)
        pthread_cond_wait(&sb->gate_cv, &sb->gate_mu);
    sb->gate_waiting--;
    if (sb->destroying) {
        pthread_cond_broadcast(&sb->gate_cv); /* destroy waits for the last waiter to leave */
        pthread_mutex_unlock(&sb->gate_mu);
        return hl_errorf(err, HL_E_STATE, "%s: the sandbox is being destroyed", what);
    }
    sb->gate_busy = 1;
    pthread_mutex_unlock(&sb->gate_mu);
    return HL_OK;
}

void hl_sb_leave(hl_sandbox *sb)
{
    if (hl_sb_forked(sb)) /* a call the parent made, ending in its forked child: nobody waits here */
        return;
    pthread_mutex_lock(&sb->gate_mu);
    sb->gate_busy = 0;
    sb->gate_serving++;
    pthread_cond_broadcast(&sb->gate_cv);
    pthread_mutex_unlock(&sb->gate_mu);
}

int hl_sb_begin_destroy(hl_sandbox *sb)
{
    if (hl_sb_on_own_thread(sb))
        return 0; /* from the sandbox's own callbacks: ignored, the sandbox stays valid */
    if (hl_sb_forked(sb)) { /* the callers it had are the parent's threads, not in this process */
        sb->destroying = 1;
        return 1;
    }
    pthread_mutex_lock(&sb->gate_mu);
    if (sb->destroying) { /* a second destroy (a caller's bug): leave the first one to it */
        pthread_mutex_unlock(&sb->gate_mu);
        return 0;
    }
    sb->destroying = 1;
    pthread_cond_broadcast(&sb->gate_cv);
    while (sb->gate_busy || sb->gate_waiting)
        pthread_cond_wait(&sb->gate_cv, &sb->gate_mu);
    pthread_mutex_unlock(&sb->gate_mu);
    return 1;
}

/* The calling thread's slot, created on its first call. NULL when memory runs out. */
static struct hl_result_slot *slot_of_caller(hl_sandbox *sb)
{
    pthread_t self = pthread_self();
    for (size_t i = 0; i < sb->nslots; i++)
        if (pthread_equal(sb->slots[i].thread, self)) return &sb->slots[i];
    struct hl_result_slot *n = realloc(sb->slots, (sb->nslots + 1) * sizeof(*n));
    if (!n) return NULL;
    sb->slots = n;
    memset(&n[sb->nslots], 0, sizeof(n[0]));
    n[sb->nslots].thread = self;
    return &n[sb->nslots++];
}

hl_status hl_sb_keep_result(hl_sandbox *sb, const hl_value *v, hl_error *err)
{
    if (v->type != HL_TYPE_STRING && v->type != HL_TYPE_BYTES) return HL_OK;
    struct hl_result_slot *s = slot_of_caller(sb);
    if (!s) return hl_errorf(err, HL_E_NOMEM, "out of memory keeping the call's result");
    /* the result's data lives in result_store: hand that buffer to the caller's slot and give the
     * slot's old buffer (the caller's previous result, no longer promised) to the next decode */
    hl_buf old = s->buf;
    s->buf = sb->result_store;
    sb->result_store = old;
    return HL_OK;
}
