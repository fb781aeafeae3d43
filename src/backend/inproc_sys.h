/* inproc_sys.h - RunInProcess: the guest's thread pointer (FS) and system calls (Syscall User Dispatch). */
#ifndef HL_INPROC_SYS_H
#define HL_INPROC_SYS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Code that may run while FS is the guest's: no thread-local storage, no stack protector, no
 * sanitizer runtime calls. */
#define HL_TLS_FREE __attribute__((no_stack_protector, no_sanitize("address", "undefined"), noinline))

/* One sandbox thread's crossing state (a field of the in-process backend). */
typedef struct hl_inproc_sys {
    volatile uint8_t selector; /* Syscall User Dispatch: ALLOW (0) or BLOCK (1) */
    uint8_t dispatch_on;       /* dispatch is set up on this thread */
    uint8_t fs_is_guest;       /* FS holds guest_fs now */
    int slot;                  /* in the registry of alternate stacks, or -1 */
    uint64_t host_fs, guest_fs; /* guest_fs 0: the guest has not set one (it runs on the host's) */
    uintptr_t guest_lo, guest_hi; /* the guest's view: system calls from there are the guest's */
    const volatile uint64_t *syscall_entry; /* the PEB's: the guest runtime's system-call entry */
    uint64_t syscalls; /* made in signal handlers and crossings (no TLS there): the backend adds
                        * them to the thread's count (util/syscount.h) after each run */
} hl_inproc_sys;

/* Once per process (idempotent): the SIGSYS handler, and whether wrfsbase can be used. */
int hl_inproc_sys_install(void);
/* On the sandbox thread: registers its alternate signal stack and turns Syscall User Dispatch on
 * (selector ALLOW). Returns 0, or an errno (ENOSYS/EINVAL: the kernel has no Syscall User
 * Dispatch, Linux 5.11+). */
int hl_inproc_sys_start(hl_inproc_sys *s, uintptr_t altstack, size_t altstack_size);
/* On the sandbox thread: turns dispatch off and forgets the stack. */
void hl_inproc_sys_stop(hl_inproc_sys *s);

/* The crossings: into host code (selector ALLOW, the host's FS) and back into guest code. */
void hl_inproc_to_host(hl_inproc_sys *s);
void hl_inproc_to_guest(hl_inproc_sys *s);
uint64_t hl_inproc_read_fs(void);
/* The sandbox whose alternate signal stack holds sp (a handler's stack), or NULL. */
hl_inproc_sys *hl_inproc_sys_of_stack(uintptr_t sp);

#endif
