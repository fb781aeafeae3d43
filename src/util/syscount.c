/* syscount.c - the per-thread system call counter (syscount.h). */
#include "util/syscount.h"

_Thread_local HL_TLS_IE uint64_t hl_syscalls_tls;
