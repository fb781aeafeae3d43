/* procid.c - which process this is: a number in a page wiped at fork. */
#include "util/procid.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

static _Atomic uint64_t *g_id;       /* in the wiped page; or g_fallback */
_Atomic uint64_t *_Atomic hl_procid_slot; /* g_id, published for the inline fast path */
static _Atomic uint64_t g_fallback;  /* zeroed by the atfork handler when there is no such page */
static _Atomic uint64_t g_drawn;     /* ordinary memory: a child inherits how many were drawn */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void wipe_in_child(void) { atomic_store(&g_fallback, 0); }

static void set_up(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED && madvise(p, 4096, MADV_WIPEONFORK) == 0) {
        g_id = p;
    } else {
        if (p != MAP_FAILED)
            munmap(p, 4096);
        g_id = &g_fallback;
        pthread_atfork(NULL, NULL, wipe_in_child);
    }
    atomic_store_explicit(&hl_procid_slot, g_id, memory_order_release);
}

uint64_t hl_process_id_slow(void)
{
    pthread_once(&g_once, set_up);
    uint64_t v = atomic_load_explicit(g_id, memory_order_acquire);
    if (v)
        return v;
    /* a new process (or the first use): draw a number no ancestor drew, and agree on it */
    uint64_t mine = atomic_fetch_add(&g_drawn, 1) + 1;
    if (atomic_compare_exchange_strong(g_id, &v, mine))
        return mine;
    return v;
}

/* ---- locks made new in a forked child ---- */

#define MAX_PLOCKS 16
static hl_plock *g_plocks[MAX_PLOCKS];
static int g_nplocks;
static pthread_mutex_t g_plocks_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_plocks_once = PTHREAD_ONCE_INIT;

static void plocks_in_child(void)
{
    pthread_mutex_init(&g_plocks_mu, NULL);
    for (int i = 0; i < g_nplocks; i++)
        pthread_mutex_init(&g_plocks[i]->m, NULL);
}

static void plocks_set_up(void) { pthread_atfork(NULL, NULL, plocks_in_child); }

void hl_plock_lock(hl_plock *l)
{
    if (!atomic_load_explicit(&l->registered, memory_order_acquire)) {
        pthread_once(&g_plocks_once, plocks_set_up);
        pthread_mutex_lock(&g_plocks_mu);
        if (!atomic_load(&l->registered) && g_nplocks < MAX_PLOCKS) { /* more: not reset, as before */
            g_plocks[g_nplocks++] = l;
            atomic_store_explicit(&l->registered, 1, memory_order_release);
        }
        pthread_mutex_unlock(&g_plocks_mu);
    }
    pthread_mutex_lock(&l->m);
}

void hl_plock_unlock(hl_plock *l) { pthread_mutex_unlock(&l->m); }

void hl_keep_from_children(void *p, size_t len)
{
    if (p && len)
        (void)madvise(p, len, MADV_DONTFORK);
}
