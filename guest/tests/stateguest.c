/* stateguest.c - test guest that leaves CPU flags and FPU control state changed. */
#include "hyperlight_guest.h"

/* What a function leaves changed (the `bits` argument): */
#define DIRTY_DF    1u /* EFLAGS.DF set (string instructions run backwards) */
#define DIRTY_AC    2u /* EFLAGS.AC set (in user mode, unaligned accesses fault) */
#define DIRTY_MXCSR 4u /* MXCSR: round up, flush to zero, every SSE exception unmasked */
#define DIRTY_FCW   8u /* x87 CW: single precision, truncation, exceptions unmasked */

#define EFLAGS_DF   0x400ull
#define EFLAGS_AC   0x40000ull
#define GUEST_MXCSR 0xC040u
#define GUEST_FCW   0x0C40u

static inline uint64_t read_flags(void)
{
    uint64_t f;
    __asm__ volatile("pushfq\n\tpopq %0" : "=r"(f));
    return f;
}

/* Changes the state; only register moves follow until the caller's next use of the state. */
static inline __attribute__((always_inline)) void dirty(uint32_t bits)
{
    if (bits & DIRTY_MXCSR) {
        uint32_t m = GUEST_MXCSR;
        __asm__ volatile("ldmxcsr %0" : : "m"(m));
    }
    if (bits & DIRTY_FCW) {
        uint16_t c = GUEST_FCW;
        __asm__ volatile("fldcw %0" : : "m"(c));
    }
    if (bits & DIRTY_AC)
        __asm__ volatile("pushfq\n\torq $0x40000, (%%rsp)\n\tpopfq" ::: "memory", "cc");
    if (bits & DIRTY_DF) __asm__ volatile("std" ::: "memory");
}

/* Which of the changes are still in place (read without touching the state). */
static inline __attribute__((always_inline)) uint32_t still_dirty(void)
{
    uint64_t f = read_flags();
    uint32_t m;
    uint16_t c;
    __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(m), "=m"(c));
    return ((f & EFLAGS_DF) ? DIRTY_DF : 0) | ((f & EFLAGS_AC) ? DIRTY_AC : 0) |
           ((m & 0xFFC0u) == GUEST_MXCSR ? DIRTY_MXCSR : 0) |
           ((c & 0x1F3Fu) == (GUEST_FCW & 0x1F3Fu) ? DIRTY_FCW : 0);
}

static inline __attribute__((always_inline)) void clean(void)
{
    uint32_t m = 0x1F80;
    uint16_t c = 0x037F;
    __asm__ volatile("cld\n\tpushfq\n\tandq $~0x40000, (%%rsp)\n\tpopfq\n\tldmxcsr %0\n\tfldcw %1"
                     :
                     : "m"(m), "m"(c)
                     : "memory", "cc");
}

/* Returns (void) with the state changed as bits says: the runtime writes a void result without
 * string instructions, unaligned accesses or arithmetic, so the change reaches the host. */
static int dirty_return(const hlg_value *a, hlg_value *r)
{
    dirty(a[0].u.u32);
    return 0;
}

/* Changes the state and executes ud2: the host sees SIGILL (in-process) or #UD (KVM). */
static int dirty_fault(const hlg_value *a, hlg_value *r)
{
    dirty(a[0].u.u32);
    __asm__ volatile("ud2");
    return 0;
}

/* Tells the host: `out` under KVM, the host's function pointer in-process (no C library between:
 * it may not run with DF or, in user mode, AC set). */
static inline __attribute__((always_inline)) void raw_signal(uint32_t port)
{
    const hl_peb *p = hlg_peb();
    if (p->run_mode == HL_RUN_IN_PROCESS)
        ((void (*)(uint64_t, uint32_t))(uintptr_t)p->host_call)(p->host_call_ctx, port);
    else
        __asm__ volatile("outb %%al, %%dx" : : "a"(0), "d"((uint16_t)port) : "memory");
}

/* Changes the state, prints `text` through the host (a log message written byte by byte: no
 * string instructions, no C library), and returns which changes were still in place when the
 * host returned (the guest's state is the guest's) plus 16 * the length printed. */
static int dirty_print(const hlg_value *a, hlg_value *r)
{
    hl_msg_log *h = (hl_msg_log *)(uintptr_t)hlg_peb()->output.addr;
    volatile char *text = (volatile char *)(h + 1);
    uint32_t n = 0;
    for (; a[1].u.str.ptr[n]; n++)
        text[n] = a[1].u.str.ptr[n];
    text[n] = 0;
    h->magic = HL_MSG_LOG_MAGIC;
    h->len = n;
    dirty(a[0].u.u32);
    raw_signal(HL_PORT_LOG);
    uint32_t seen = still_dirty();
    clean();
    r->u.i32 = (int32_t)seen + 16 * (int32_t)n;
    return 0;
}

/* Changes the state except DF and AC (the C library, which the SDK's host call uses, needs DF
 * clear and, in user mode, makes unaligned accesses), calls host_check(x) and returns its result
 * * 16 + which changes were still in place afterwards. */
static int dirty_host_call(const hlg_value *a, hlg_value *r)
{
    uint32_t bits = a[0].u.u32 & ~(DIRTY_DF | DIRTY_AC);
    hlg_value out, arg = {.type = HL_TYPE_I32, .u.i32 = a[1].u.i32};
    dirty(bits);
    int rc = hlg_call_host("host_check", HL_TYPE_I32, &out, 1, &arg);
    uint32_t seen = still_dirty();
    clean();
    uint32_t len;
    if (rc) return hlg_error(rc, "host_check failed: %s", hlg_host_exception(&len));
    r->u.i64 = (int64_t)out.u.i32 * 16 + seen;
    return 0;
}

/* x / y with the state a call starts with, to compare exactly. */
static int divide(const hlg_value *a, hlg_value *r)
{
    volatile double x = a[0].u.f64, y = a[1].u.f64;
    r->u.f64 = x / y;
    return 0;
}

static int echo_string(const hlg_value *a, hlg_value *r)
{
    r->u.str = a[0].u.str;
    return 0;
}

/* AVX2 as code compiled for it runs: without enabling anything first. The sum of the eight
 * 32-bit lanes of (x, x+1, ..., x+7) added to themselves with vpaddd; ~0 when the CPU has no
 * AVX2 (CPUID leaf 7). */
static int avx2_sum(const hlg_value *a, hlg_value *r)
{
    uint32_t eax = 7, ebx, ecx = 0, edx;
    __asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
    if (!(ebx & (1u << 5))) {
        r->u.u64 = ~0ull;
        return 0;
    }
    uint32_t in[8], out[8];
    for (uint32_t i = 0; i < 8; i++)
        in[i] = a[0].u.u32 + i;
    __asm__ volatile("vmovdqu (%1), %%ymm2\n\t"
                     "vpaddd %%ymm2, %%ymm2, %%ymm3\n\t"
                     "vmovdqu %%ymm3, (%0)\n\t"
                     "vzeroupper"
                     :
                     : "r"(out), "r"(in)
                     : "memory", "xmm2", "xmm3");
    uint64_t sum = 0;
    for (int i = 0; i < 8; i++)
        sum += out[i];
    r->u.u64 = sum;
    return 0;
}

void hyperlight_main(void)
{
    hlg_register("avx2_sum", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_U32), avx2_sum);
    hlg_register("dirty_return", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U32), dirty_return);
    hlg_register("dirty_fault", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U32), dirty_fault);
    hlg_register("dirty_print", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_U32, HL_TYPE_STRING), dirty_print);
    hlg_register("dirty_host_call", HL_TYPE_I64, HLG_PARAMS(HL_TYPE_U32, HL_TYPE_I32),
                 dirty_host_call);
    hlg_register("divide", HL_TYPE_F64, HLG_PARAMS(HL_TYPE_F64, HL_TYPE_F64), divide);
    hlg_register("echo_string", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_STRING), echo_string);
}
