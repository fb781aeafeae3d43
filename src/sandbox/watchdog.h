/* watchdog.h - time limits of guest runs, enforced by one thread for the whole process. */
#ifndef HL_WATCHDOG_H
#define HL_WATCHDOG_H

#include <stdint.h>

#include "hyperlight/error.h"

/* A guest run under a time limit. The run itself happens on the caller's thread; the watchdog
 * thread calls cancel(ctx) once the limit has passed, and again every millisecond until the run
 * ends or the wait for cancellation runs out (then gave_up is set and it stops). It never touches
 * a watch after hl_watch_stop() returned: the owner may free it then. */
typedef struct hl_watch {
    void (*cancel)(void *ctx);
    void *ctx;
    int64_t deadline, give_up, resend; /* CLOCK_MONOTONIC, ns */
    int64_t paused_at;
    int armed, fired, gave_up, paused;
    uint64_t proc; /* the process it was started in (util/procid.h): a watch from before a fork
                    * is not in the child's list */
    struct hl_watch *prev, *next;
} hl_watch;

/* Starts watching: cancel(ctx) after limit_ms, give up cancel_wait_ms later. limit_ms 0: no
 * limit (nothing is registered). HL_E_NOMEM when the watchdog thread cannot be started. */
hl_status hl_watch_start(hl_watch *w, void (*cancel)(void *ctx), void *ctx, uint32_t limit_ms,
                         uint32_t cancel_wait_ms, hl_error *err);
/* Stops watching; returns 1 when the wait for cancellation ran out before (the run could not be
 * stopped in time), else 0. Safe on a watch that was never started. */
int hl_watch_stop(hl_watch *w);
/* A debugger holds the guest (1) or lets it go (0): the time held does not count. */
void hl_watch_pause(hl_watch *w, int paused);
/* Whether the limit has passed (cancel was called at least once). */
int hl_watch_fired(hl_watch *w);

#endif
