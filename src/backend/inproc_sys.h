/* inproc_sys.h - RunInProcess: the guest's thread pointer (FS) and system calls (Syscall User Dispatch). */
#ifndef HL_INPROC_SYS_H
#define HL_INPROC_SYS_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* Code that may run while FS is the guest's: no thread-local storage, no stack protector, no
 * sanitizer runtime calls. */
#define HL_TLS_FREE __attribute__((no_stack_protector, no_sanitize("address", "undefined"), noinline))

typedef struct hl_inproc_sys hl_inproc_sys;

/* One thread's state for running in-process guests: made at the thread's first run, kept until it
 * exits (a pthread key's destructor frees it). Signal handlers find it from the alternate stack
 * they run on (registered here), without thread-local storage. */
typedef struct hl_inproc_thread {
    volatile uint8_t selector; /* Syscall User Dispatch's byte: ALLOW (0) or BLOCK (1) */
    uint8_t dispatch_on;       /* dispatch is set up on this thread (stays on, ALLOW, between runs) */
    uint8_t fs_is_guest;       /* FS holds the current run's guest_fs now */
    uint8_t altstack_for_life; /* ours is the thread's alternate stack (it had none): not swapped */
    int slot;                  /* in the registry of alternate stacks, or -1 */
    unsigned depth;            /* runs in progress on this thread (nested through host functions) */
    uint64_t dispatch_in;      /* the process dispatch was turned on in (util/procid.h) */
    hl_inproc_sys *cur;        /* the innermost run's state, NULL between runs */
    uint64_t host_fs;          /* this thread's own FS base (the C library's; it never changes) */
    void *altstack;
    size_t altstack_size;
    stack_t app_altstack;      /* the application's, swapped out while runs are in progress */
} hl_inproc_thread;

/* One sandbox's crossing state (a field of the in-process backend), for the run in progress. */
struct hl_inproc_sys {
    hl_inproc_thread *t;          /* the thread running it (set at run start, NULL after) */
    uint64_t host_fs, guest_fs;   /* guest_fs 0: the guest has not set one (it runs on the host's) */
    uintptr_t guest_lo, guest_hi; /* the guest's view: system calls from there are the guest's */
    const volatile uint64_t *syscall_entry; /* the PEB's: the guest runtime's system-call entry */
    uint64_t syscalls; /* made in signal handlers and crossings (no TLS there): the backend adds
                        * them to the thread's count (util/syscount.h) after each run */
};

/* Once per process (idempotent): the SIGSYS handler, and whether wrfsbase can be used. */
int hl_inproc_sys_install(void);
/* Whether this kernel has Syscall User Dispatch (Linux 5.11+): 0, or an errno. No side effect on
 * the calling thread. */
int hl_inproc_sys_check(void);
/* The calling thread's state, set up at its first call: an alternate signal stack registered,
 * Syscall User Dispatch on (selector ALLOW). NULL with *err an errno when that fails. The system
 * calls made are counted (util/syscount.h). */
hl_inproc_thread *hl_inproc_thread_get(int *err);
/* Around a run on the calling thread `t`: makes `s` the thread's current run (saving the one it
 * interrupts, a run nested through a host function, into *prev) and our alternate stack the
 * thread's (when the application has its own); and the reverse. Host state on both sides. */
int hl_inproc_run_begin(hl_inproc_thread *t, hl_inproc_sys *s, hl_inproc_sys **prev);
void hl_inproc_run_end(hl_inproc_thread *t, hl_inproc_sys *s, hl_inproc_sys *prev);

/* The crossings: into host code (selector ALLOW, the host's FS) and back into guest code. */
void hl_inproc_to_host(hl_inproc_sys *s);
void hl_inproc_to_guest(hl_inproc_sys *s);
uint64_t hl_inproc_read_fs(void);
/* For a handler of ours (fault or cancel signal) on a thread with a run in progress: what the
 * thread was running with (FS, the selector), saved, and the host's state set; then put back
 * exactly, on the handler's way back to where the signal landed (a guest, host code, or the
 * middle of a crossing). A handler that jumps out of the guest instead leaves the host's. */
typedef struct hl_inproc_interrupted {
    uint64_t fs;
    uint8_t selector, fs_is_guest;
} hl_inproc_interrupted;
void hl_inproc_handler_enter(hl_inproc_sys *s, hl_inproc_interrupted *was);
void hl_inproc_handler_leave(hl_inproc_sys *s, const hl_inproc_interrupted *was);
/* The thread whose alternate signal stack holds sp (a handler's stack), or NULL. */
hl_inproc_thread *hl_inproc_thread_of_stack(uintptr_t sp);

#endif
