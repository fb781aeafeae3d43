/* guest_internal.h - what the guest runtime's files share: the PEB, host signals, memory, the CPU. */
#ifndef HLG_GUEST_INTERNAL_H
#define HLG_GUEST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hyperlight/abi.h"

extern hl_peb *hlg_g_peb;

/* Tells the host something: an `out` to a port under KVM, a call in-process. */
void hlg_signal_host(uint32_t port);
/* Sends text to the host's print callback (in chunks that fit `output`). */
void hlg_host_print(const void *text, size_t len);
/* Asks the host for a service (HL_SERVICE_*); copies len bytes of the answer to buf. 0 or -1. */
int hlg_host_service(uint32_t kind, void *buf, size_t len);

/* The heap region serves brk and anonymous mmap (syscall.c). */
void hlg_mem_init(uint64_t addr, uint64_t size);
uint64_t hlg_mem_free(void);

/* The CPU state every entry needs (KVM: system-call MSRs and FS base, reset by the host before
 * every run; in-process: the host switches FS on entry). */
void hlg_arm_cpu(void);
void hlg_set_thread_pointer(uint64_t tp);

/* End the call: exit(status) and a fatal signal (abort()) become guest aborts. */
__attribute__((noreturn)) void hlg_exit_call(int status);
__attribute__((noreturn)) void hlg_signal_call(int sig);
__attribute__((noreturn)) void hlg_abort_msg(uint32_t code, const char *msg, uint32_t len);

void hlg_syscall_entry(void);

#endif
