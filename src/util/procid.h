/* procid.h - which process this is, in a way a fork cannot fool: no system call, no atfork handler needed. */
#ifndef HL_PROCID_H
#define HL_PROCID_H

#include <stdint.h>

/* A number for the calling process, never 0, that differs in every process forked from it (by
 * fork(), _Fork(), vfork's exec-less child excepted, or a raw clone without CLONE_VM): it lives in
 * a page the kernel wipes in a child (MADV_WIPEONFORK), and a child draws its own at its first
 * use, larger than any its ancestors drew. Where the kernel lacks MADV_WIPEONFORK a pthread_atfork
 * handler does the wiping (then only forks that run atfork handlers are seen). Thread-safe and
 * async-signal-safe once the first call has returned. */
uint64_t hl_process_id(void);

#endif
