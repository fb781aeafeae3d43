/* procid.c - which process this is: a number in a page wiped at fork. */
#include "util/procid.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

static _Atomic uint64_t *g_id;       /* in the wiped page; NULL without one */
_Atomic uint64_t *_Atomic hl_procid_slot; /* g_id, published for the inline fast path */
static _Atomic uint64_t g_fallback;  /* without the page: the drawing process's pid << 32 | its number */
static _Atomic uint64_t g_drawn;     /* ordinary memory: a child inherits how many were drawn */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void set_up(void)
{
    const char *force = getenv("HL_PROCID"); /* "pid": the fallback of older kernels (tests) */
    if (force && strcmp(force, "pid") == 0)
        return;
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED && madvise(p, 4096, MADV_WIPEONFORK) == 0) {
        g_id = p;
        atomic_store_explicit(&hl_procid_slot, g_id, memory_order_release);
    } else if (p != MAP_FAILED) {
        munmap(p, 4096);
    }
}

uint64_t hl_process_id_slow(void)
{
    pthread_once(&g_once, set_up);
    if (g_id) {
        uint64_t v = atomic_load_explicit(g_id, memory_order_acquire);
        if (v)
            return v;
        /* a new process (or the first use): draw a number no ancestor drew, and agree on it */
        uint64_t mine = atomic_fetch_add(&g_drawn, 1) + 1;
        if (atomic_compare_exchange_strong(g_id, &v, mine))
            return mine;
        return v;
    }
    /* No page the kernel wipes (before Linux 4.14, or refused): the pid says whether the number
     * was drawn in this process, a system call per check on those kernels only. An atfork
     * handler would not see _Fork() or a raw clone. (A descendant that got a dead ancestor's
     * recycled pid, with nothing drawn in between, would pass for it.) */
    uint64_t pid = (uint32_t)getpid();
    uint64_t v = atomic_load_explicit(&g_fallback, memory_order_acquire);
    while (v >> 32 != pid) {
        uint64_t mine = pid << 32 | (uint32_t)(atomic_fetch_add(&g_drawn, 1) + 1);
        if (atomic_compare_exchange_strong(&g_fallback, &v, mine))
            return mine & 0xFFFFFFFFu;
    }
    return v & 0xFFFFFFFFu;
}

/* ---- locks made new in a forked child ---- */

#define PLOCK_MAKING (UINT64_C(1) << 63) /* process numbers are counts: never this large */

void hl_plock_lock(hl_plock *l)
{
    uint64_t me = hl_process_id();
    uint64_t seen = atomic_load_explicit(&l->proc, memory_order_acquire);
    unsigned waits = 0;
    while (seen != me) {
        /* a process in which no thread has taken it yet: any holder is another process's */
        if (seen == (me | PLOCK_MAKING)) { /* another thread of this process is at it */
            if (++waits < 64) {
                sched_yield();
            } else { /* it may have a lower real-time priority than this thread: let it run */
                struct timespec t = {0, 50000};
                nanosleep(&t, NULL);
            }
            seen = atomic_load_explicit(&l->proc, memory_order_acquire);
        } else if (atomic_compare_exchange_weak_explicit(&l->proc, &seen, me | PLOCK_MAKING, memory_order_acquire,
                                                         memory_order_acquire)) {
            pthread_mutex_init(&l->m, NULL);
            atomic_store_explicit(&l->proc, me, memory_order_release);
            break;
        }
    }
    pthread_mutex_lock(&l->m);
}

void hl_plock_unlock(hl_plock *l) { pthread_mutex_unlock(&l->m); }

void hl_keep_from_children(void *p, size_t len)
{
    if (p && len)
        (void)madvise(p, len, MADV_DONTFORK);
}
