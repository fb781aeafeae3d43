/* syscount.h - counts the system calls the library makes, per thread, for the statistics and the benchmark. */
#ifndef HL_UTIL_SYSCOUNT_H
#define HL_UTIL_SYSCOUNT_H

#include <stdint.h>

#include "util/tls.h"

/* System calls this thread has made through the library: every ioctl, mprotect, madvise,
 * signal-mask change and thread hand-off (a futex wait or wake, counted once per wait that
 * blocked or per wake sent) on a sandbox's behalf. A counter, not a trace: it costs an increment. */
extern _Thread_local HL_TLS_IE uint64_t hl_syscalls_tls;

/* Counts one system call and evaluates to `call`: HL_SYS(ioctl(fd, KVM_RUN, 0)). */
#define HL_SYS(call) (hl_syscalls_tls++, (call))
/* Counts n system calls made some other way (e.g. inside pthread functions). */
static inline void hl_sys_add(uint64_t n) { hl_syscalls_tls += n; }
static inline uint64_t hl_sys_now(void) { return hl_syscalls_tls; }

#endif
