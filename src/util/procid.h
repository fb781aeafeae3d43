/* procid.h - which process this is, in a way a fork cannot fool: no system call, no atfork handler needed. */
#ifndef HL_PROCID_H
#define HL_PROCID_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A number for the calling process, never 0, that differs in every process forked from it (by
 * fork(), _Fork(), vfork's exec-less child excepted, or a raw clone without CLONE_VM): it lives in
 * a page the kernel wipes in a child (MADV_WIPEONFORK), and a child draws its own at its first
 * use, larger than any its ancestors drew. Where the kernel lacks MADV_WIPEONFORK (before 4.14)
 * the process's pid is compared at every call instead (a system call; HL_PROCID=pid in the
 * environment forces that, for tests). Thread-safe and
 * async-signal-safe once the first call has returned. Two loads, no call, once set up: it is
 * asked several times per guest call. */
extern _Atomic uint64_t *_Atomic hl_procid_slot; /* procid.c's; NULL before the first use */
uint64_t hl_process_id_slow(void);
static inline uint64_t hl_process_id(void)
{
    _Atomic uint64_t *p = atomic_load_explicit(&hl_procid_slot, memory_order_acquire);
    uint64_t v = p ? atomic_load_explicit(p, memory_order_acquire) : 0;
    return v ? v : hl_process_id_slow();
}

/* Memory a forked child must not get a copy of (MADV_DONTFORK over [p, p + len)): a guest's
 * memory and everything mapped from it. A new mapping over part of it does not inherit the
 * advice: call again after every remapping. Best effort (a failure leaves the range as it was). */
void hl_keep_from_children(void *p, size_t len);

/* A process-wide lock that a forked child gets back unlocked: one that another thread of the
 * parent held at the fork would otherwise stay held for ever in the child (whose copy of that
 * thread does not exist). The lock remembers the process it was made new in (hl_process_id()):
 * the first to take it in another process makes it new there, so every fork is seen, _Fork() and
 * raw clones too, with no atfork handler. For the library's own module-level locks: never held
 * while application code runs, and never by a thread that forks (a child of the holder itself,
 * e.g. one made by _Fork() in a signal handler that interrupted the holder, would get it back
 * unlocked while that holder's copy goes on). A condition variable waits on `m` in the
 * holder's process only. */
typedef struct hl_plock {
    pthread_mutex_t m;
    _Atomic uint64_t proc; /* the process `m` was made new in (0: none yet); the top bit: being made */
} hl_plock;
#define HL_PLOCK_INIT {PTHREAD_MUTEX_INITIALIZER, 0}
void hl_plock_lock(hl_plock *l);
void hl_plock_unlock(hl_plock *l);

#endif
