/* syscall.c - the guest's system calls: what musl asks of a kernel, served inside the sandbox. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#include "guest_internal.h"

/* The entry of every `syscall` a guest makes. Under KVM the CPU jumps here in ring 0 (LSTAR) with
 * the return address in rcx and the flags in r11, on the caller's stack; in-process the host's
 * SIGSYS handler (Syscall User Dispatch) sets up the same. The Linux ABI keeps every register but
 * rax, rcx and r11, so the C handler runs between saves of the argument registers and the SSE
 * state, below the caller's red zone. */
__asm__(".text\n"
        ".globl hlg_syscall_entry\n"
        ".type hlg_syscall_entry,@function\n"
        "hlg_syscall_entry:\n"
        /* unwind information: the caller's rsp is the entry's, its rip is in rcx, then on the
         * stack (a debugger shows the code that made the system call above this frame) */
        "    .cfi_startproc\n"
        "    .cfi_def_cfa %rsp, 0\n"
        "    .cfi_register %rip, %rcx\n"
        "    lea -128(%rsp), %rsp\n" /* the interrupted code's red zone */
        "    .cfi_adjust_cfa_offset 128\n"
        "    push %rcx\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    .cfi_offset %rip, -136\n"
        "    push %r11\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    push %rbp\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    .cfi_offset %rbp, -152\n"
        "    mov %rsp, %rbp\n"
        "    .cfi_def_cfa_register %rbp\n"
        "    push %rdi\n    push %rsi\n    push %rdx\n    push %r10\n    push %r8\n    push %r9\n"
        "    and $-64, %rsp\n"
        "    sub $528, %rsp\n"
        "    fxsave64 16(%rsp)\n"
        "    mov -48(%rbp), %r9\n"
        "    mov %r9, (%rsp)\n" /* a6 */
        "    mov %rax, %rdi\n"
        "    mov -8(%rbp), %rsi\n"
        "    mov -16(%rbp), %rdx\n"
        "    mov -24(%rbp), %rcx\n"
        "    mov -32(%rbp), %r8\n"
        "    mov -40(%rbp), %r9\n"
        "    cld\n"
        "    call hlg_syscall\n"
        "    fxrstor64 16(%rsp)\n"
        "    lea -48(%rbp), %rsp\n"
        "    pop %r9\n    pop %r8\n    pop %r10\n    pop %rdx\n    pop %rsi\n    pop %rdi\n"
        "    pop %rbp\n"
        "    .cfi_def_cfa %rsp, 144\n"
        "    .cfi_restore %rbp\n"
        "    popfq\n" /* the caller's flags (r11) */
        "    .cfi_adjust_cfa_offset -8\n"
        "    pop %rcx\n"
        "    .cfi_adjust_cfa_offset -8\n"
        "    .cfi_register %rip, %rcx\n"
        "    lea 128(%rsp), %rsp\n"
        "    .cfi_adjust_cfa_offset -128\n"
        "    mov %rcx, %r11\n"
        "    jmp *%rcx\n"
        "    .cfi_endproc\n"
        ".size hlg_syscall_entry, .-hlg_syscall_entry\n");

/* ---- memory: brk grows up from the heap's start, mmap takes pages down from its end ---- */

static uint64_t g_heap_lo, g_heap_hi; /* the heap region */
static uint64_t g_brk;                /* current break */
static uint64_t g_mmap_lo;            /* lowest page mmap has handed out */
static uint8_t *g_pages;              /* per page of the mmap area: 1 = in use; at the heap's top */
static uint64_t g_npages;

void hlg_mem_init(uint64_t addr, uint64_t size)
{
    g_heap_lo = (addr + 4095) & ~4095ull;
    g_heap_hi = (addr + size) & ~4095ull;
    if (g_heap_hi < g_heap_lo)
        g_heap_hi = g_heap_lo;
    g_npages = (g_heap_hi - g_heap_lo) / 4096;
    /* the page map lives in the heap's last pages */
    uint64_t map_pages = (g_npages + 4095) / 4096;
    if (map_pages > g_npages)
        map_pages = g_npages;
    g_heap_hi -= map_pages * 4096;
    g_npages -= map_pages;
    g_pages = (uint8_t *)(uintptr_t)g_heap_hi;
    memset(g_pages, 0, g_npages);
    g_brk = g_heap_lo;
    g_mmap_lo = g_heap_hi;
}

uint64_t hlg_mem_free(void)
{
    uint64_t n = 0, brk_end = (g_brk + 4095) & ~4095ull;
    for (uint64_t i = 0; i < g_npages; i++)
        if (!g_pages[i] && g_heap_lo + i * 4096 >= brk_end)
            n++;
    return n * 4096;
}

static long do_brk(uint64_t want)
{
    if (want == 0 || want < g_heap_lo)
        return (long)g_brk;
    uint64_t end = (want + 4095) & ~4095ull;
    if (end > g_mmap_lo) /* would run into mmap's pages */
        return (long)g_brk;
    if (want < g_brk) /* shrinking: fresh pages must read zero when grown again */
        memset((void *)(uintptr_t)want, 0, g_brk - want);
    g_brk = want;
    return (long)g_brk;
}

/* First fit from the top for n pages not below the break; returns the address or 0. */
static uint64_t take_pages(uint64_t n)
{
    uint64_t run = 0;
    for (uint64_t i = g_npages; i-- > 0;) {
        uint64_t page = g_heap_lo + i * 4096;
        if (page < ((g_brk + 4095) & ~4095ull))
            break;
        run = g_pages[i] ? 0 : run + 1;
        if (run == n) {
            memset(g_pages + i, 1, n);
            if (page < g_mmap_lo)
                g_mmap_lo = page;
            return page;
        }
    }
    return 0;
}

static long do_mmap(uint64_t addr, uint64_t len, long prot, long flags, long fd)
{
    if (!(flags & MAP_ANONYMOUS) || fd != -1)
        return -ENODEV; /* no files in a sandbox */
    if (len == 0 || (flags & MAP_FIXED))
        return -EINVAL;
    (void)addr;
    (void)prot;
    uint64_t n = (len + 4095) / 4096;
    uint64_t p = n <= g_npages ? take_pages(n) : 0;
    if (!p)
        return -ENOMEM;
    memset((void *)(uintptr_t)p, 0, n * 4096); /* a page given back and taken again */
    return (long)p;
}

static long do_munmap(uint64_t addr, uint64_t len)
{
    if ((addr & 4095) || addr < g_heap_lo || addr >= g_heap_hi || len > g_heap_hi - addr)
        return -EINVAL;
    uint64_t first = (addr - g_heap_lo) / 4096, n = (len + 4095) / 4096;
    memset(g_pages + first, 0, n);
    return 0;
}

/* ---- time, randomness, output ---- */

static long do_write(long fd, const void *buf, uint64_t len)
{
    if (fd != 1 && fd != 2)
        return -EBADF;
    hlg_host_print(buf, len);
    return (long)len;
}

static long do_writev(long fd, const struct iovec *iov, long n)
{
    if (fd != 1 && fd != 2)
        return -EBADF;
    if (n < 0 || n > 1024)
        return -EINVAL;
    long total = 0;
    for (long i = 0; i < n; i++) {
        hlg_host_print(iov[i].iov_base, iov[i].iov_len);
        total += (long)iov[i].iov_len;
    }
    return total;
}

static long do_clock_gettime(long clock, struct timespec *ts)
{
    uint64_t ns;
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_MONOTONIC_RAW &&
        clock != CLOCK_REALTIME_COARSE && clock != CLOCK_MONOTONIC_COARSE && clock != CLOCK_BOOTTIME &&
        clock != CLOCK_PROCESS_CPUTIME_ID && clock != CLOCK_THREAD_CPUTIME_ID)
        return -EINVAL;
    int realtime = clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE;
    if (hlg_host_service(realtime ? HL_SERVICE_CLOCK_REALTIME : HL_SERVICE_CLOCK_MONOTONIC, &ns, sizeof(ns)) != 0)
        return -EIO;
    if (ts) {
        ts->tv_sec = (time_t)(ns / 1000000000u);
        ts->tv_nsec = (long)(ns % 1000000000u);
    }
    return 0;
}

static long do_getrandom(uint8_t *buf, uint64_t len)
{
    uint64_t done = 0;
    while (done < len) {
        uint64_t n = len - done < HL_SERVICE_RANDOM_MAX ? len - done : HL_SERVICE_RANDOM_MAX;
        if (hlg_host_service(HL_SERVICE_RANDOM, buf + done, n) != 0)
            return done ? (long)done : -EIO;
        done += n;
    }
    return (long)done;
}

long hlg_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
long hlg_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    (void)a6;
    switch (nr) {
    case SYS_brk:
        return do_brk((uint64_t)a1);
    case SYS_mmap:
        return do_mmap((uint64_t)a1, (uint64_t)a2, a3, a4, a5);
    case SYS_munmap:
        return do_munmap((uint64_t)a1, (uint64_t)a2);
    case SYS_mremap:
        return -ENOMEM; /* musl then allocates, copies and frees */
    case SYS_madvise:
    case SYS_mprotect:
        return 0;
    case SYS_write:
        return do_write(a1, (const void *)a2, (uint64_t)a3);
    case SYS_writev:
        return do_writev(a1, (const void *)a2, a3);
    case SYS_clock_gettime:
        return do_clock_gettime(a1, (struct timespec *)a2);
    case SYS_gettimeofday: {
        struct timespec ts;
        long r = do_clock_gettime(CLOCK_REALTIME, &ts);
        if (r == 0 && a1) {
            ((long *)a1)[0] = (long)ts.tv_sec;
            ((long *)a1)[1] = ts.tv_nsec / 1000;
        }
        return r;
    }
    case SYS_time: {
        struct timespec ts;
        long r = do_clock_gettime(CLOCK_REALTIME, &ts);
        if (r)
            return r;
        if (a1)
            *(long *)a1 = (long)ts.tv_sec;
        return (long)ts.tv_sec;
    }
    case SYS_getrandom:
        return do_getrandom((uint8_t *)a1, (uint64_t)a2);
    case SYS_exit:
    case SYS_exit_group:
        hlg_exit_call((int)a1);
    case SYS_arch_prctl:
        if (a1 != 0x1002) /* ARCH_SET_FS */
            return -EINVAL;
        hlg_set_thread_pointer((uint64_t)a2);
        return 0;
    case SYS_set_tid_address:
    case SYS_gettid:
    case SYS_getpid:
        return 1;
    case SYS_rt_sigprocmask:
    case SYS_rt_sigaction:
    case SYS_sched_yield:
        return 0;
    case SYS_tkill:
    case SYS_tgkill:
    case SYS_kill:
        hlg_signal_call((int)(nr == SYS_tgkill ? a3 : a2));
    case SYS_ioctl:
        return -ENOTTY;
    case SYS_open:
    case SYS_openat:
    case SYS_stat:
    case SYS_lstat:
    case SYS_newfstatat:
    case SYS_access:
    case SYS_faccessat:
        return -ENOENT; /* a sandbox has no files */
    case SYS_read:
    case SYS_readv:
    case SYS_close:
    case SYS_fstat:
    case SYS_lseek:
        return -EBADF;
    default:
        return -ENOSYS;
    }
}
