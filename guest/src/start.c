/* start.c - the guest's entry: musl's start-up around hyperlight_main, the CPU state, exits and aborts. */
#define _GNU_SOURCE
#include <elf.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_internal.h"
#include "hyperlight_guest.h"

#pragma weak fflush

void _start(hl_peb *peb);
void hlg_init_done(void);
void hlg_finish(void);
int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
                      void (*fini)(void), void (*ldso)(void));
extern const Elf64_Ehdr __ehdr_start; /* the linker's: the ELF header, loaded with the first segment */

static jmp_buf g_init_jb;
static uint64_t g_thread_pointer; /* the C library's thread pointer (FS base), set once at start-up */

#define MSR_STAR 0xC0000081u
#define MSR_LSTAR 0xC0000082u
#define MSR_FMASK 0xC0000084u
#define MSR_FS_BASE 0xC0000100u

static void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}


/* The host resets the vCPU before every run (with EFER.SCE set): each entry points `syscall` at
 * the runtime's entry again (ring 0 to ring 0, IF/TF/DF/AC cleared) and sets the thread pointer.
 * On AMD these MSRs are not intercepted by KVM: no exit (on Intel, STAR, LSTAR and SFMASK are). */
void hlg_arm_cpu(void)
{
    if (hlg_g_peb->run_mode == HL_RUN_IN_PROCESS)
        return; /* the host switches FS and traps system calls itself */
    wrmsr(MSR_STAR, (uint64_t)0x08 << 32);
    wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)&hlg_syscall_entry);
    wrmsr(MSR_FMASK, 0x47700); /* TF IF DF IOPL NT AC */
    if (g_thread_pointer)
        wrmsr(MSR_FS_BASE, g_thread_pointer);
}

void hlg_set_thread_pointer(uint64_t tp)
{
    g_thread_pointer = tp;
    if (hlg_g_peb->run_mode == HL_RUN_IN_PROCESS) {
        hlg_g_peb->thread_pointer = tp;
        hlg_signal_host(HL_PORT_TLS);
    } else {
        wrmsr(MSR_FS_BASE, tp);
    }
}

static int init_main(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    (void)envp;
    hyperlight_main();
    if (fflush)
        fflush(NULL);
    longjmp(g_init_jb, 1);
}

/* The host starts the guest here with the PEB's address. The C library starts up as for a static
 * program (TLS, stack protector canary, constructors) with an empty argv and environment, then
 * hyperlight_main registers the functions; the host snapshots what that leaves. */
void _start(hl_peb *peb)
{
    hlg_g_peb = peb;
    peb->syscall_entry = (uint64_t)(uintptr_t)&hlg_syscall_entry; /* in-process: where SIGSYS sends them */
    hlg_mem_init(peb->heap.addr, peb->heap.size);
    hlg_arm_cpu();
    static uint8_t random_bytes[16];
    if (hlg_host_service(HL_SERVICE_RANDOM, random_bytes, sizeof(random_bytes)) != 0)
        memset(random_bytes, 0x5A, sizeof(random_bytes));
    const Elf64_Ehdr *eh = &__ehdr_start;
    static char name[] = "guest";
    /* The process's start-up vector. Static, not on this stack: the C library keeps pointers into
     * it for good (environ, the auxiliary vector for getauxval), and every call reuses the stack
     * that initialisation ran on (an optimised build happened not to overwrite it; -O0 does, and
     * getenv then read a call's stack). */
    static size_t stack[18];
    const size_t vec[] = {
        0, /* argc */
        (size_t)name, 0, /* argv */
        0,            /* envp */
        AT_PHDR,   (size_t)eh + eh->e_phoff,
        AT_PHNUM,  eh->e_phnum,
        AT_PHENT,  eh->e_phentsize,
        AT_PAGESZ, 4096,
        AT_RANDOM, (size_t)random_bytes,
        AT_EXECFN, (size_t)name,
        AT_NULL,   0,
    };
    _Static_assert(sizeof(vec) == sizeof(stack), "the start-up vector's size");
    memcpy(stack, vec, sizeof(stack));
    if (setjmp(g_init_jb) == 0)
        __libc_start_main(init_main, 1, (char **)&stack[1], 0, 0, 0);
    hlg_init_done();
    hlg_finish();
}

__attribute__((noreturn)) void hlg_exit_call(int status)
{
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "the guest called exit(%d)", status);
    hlg_abort_msg((uint32_t)status, msg, (uint32_t)n);
}

__attribute__((noreturn)) void hlg_signal_call(int sig)
{
    char msg[64];
    int n = sig == SIGABRT ? snprintf(msg, sizeof(msg), "the guest called abort()")
                           : snprintf(msg, sizeof(msg), "the guest raised signal %d", sig);
    hlg_abort_msg(128u + (uint32_t)sig, msg, (uint32_t)n);
}

/* A failed assert() ends the call with the expression and where it is (replaces musl's, which
 * would print to stderr and abort without them). */
void __assert_fail(const char *expr, const char *file, int line, const char *func);
void __assert_fail(const char *expr, const char *file, int line, const char *func)
{
    char msg[512];
    int n = snprintf(msg, sizeof(msg), "assertion failed: %s (%s:%d, in %s)", expr, file, line, func);
    hlg_abort_msg(128u + SIGABRT, msg, (uint32_t)(n < (int)sizeof(msg) ? n : (int)sizeof(msg) - 1));
}

/* -fstack-protector: a smashed canary ends the call (musl's would crash). */
void __stack_chk_fail(void);
void __stack_chk_fail(void)
{
    static const char msg[] = "stack smashing detected: a guest function overran a stack buffer";
    hlg_abort_msg(128u + SIGABRT, msg, sizeof(msg) - 1);
}

void hlg_host_print(const void *text, size_t len)
{
    hl_region out = hlg_g_peb->output;
    if (out.size < sizeof(hl_msg_log) + 2)
        return;
    uint64_t cap = out.size - sizeof(hl_msg_log) - 1;
    const char *p = text;
    while (len) {
        size_t n = len < cap ? len : (size_t)cap;
        hl_msg_log *h = (hl_msg_log *)(uintptr_t)out.addr;
        memcpy(h + 1, p, n);
        ((char *)(h + 1))[n] = 0;
        h->magic = HL_MSG_LOG_MAGIC;
        h->len = (uint32_t)n;
        hlg_signal_host(HL_PORT_LOG);
        p += n;
        len -= n;
    }
}

int hlg_host_service(uint32_t kind, void *buf, size_t len)
{
    hl_region out = hlg_g_peb->output, in = hlg_g_peb->input;
    if (out.size < sizeof(hl_msg_service))
        return -1;
    hl_msg_service *q = (hl_msg_service *)(uintptr_t)out.addr;
    q->magic = HL_MSG_SERVICE_MAGIC;
    q->kind = kind;
    q->len = (uint32_t)len;
    q->status = 0;
    hlg_signal_host(HL_PORT_SERVICE);
    extern uint64_t hlg_host_result_offset(void);
    uint64_t off = hlg_host_result_offset();
    if (off > in.size || in.size - off < sizeof(hl_msg_service) + len)
        return -1;
    const hl_msg_service *a = (const hl_msg_service *)(uintptr_t)(in.addr + off);
    if (a->magic != HL_MSG_SERVICE_MAGIC || a->status != 0 || a->len != len)
        return -1;
    memcpy(buf, a + 1, len);
    return 0;
}
