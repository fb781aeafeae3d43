/* coreguest.c - the core dump test guest (built -O0 -g): faults deep in a call chain, aborts, overflows, spins, breaks its own state. */
#include <stdlib.h>

#include "hyperlight_guest.h"

HLG_RESOURCES(65536, 131072);

int g_counter = 41; /* a global the tests read back from a core */

/* NULL three calls deep: level1 -> level2 -> level3. */
__attribute__((noinline)) static int level3(volatile int *p)
{
    return *p + 1; /* the NULL dereference (tests/runtime/CMakeLists.txt finds this line) */
}

__attribute__((noinline)) static int level2(volatile int *p) { return level3(p) * 2; }

__attribute__((noinline)) static int level1(volatile int *p) { return level2(p) + 3; }

static int null_chain(const hlg_value *a, hlg_value *r)
{
    g_counter++;
    r->u.i32 = level1((volatile int *)(uintptr_t)a[0].u.u64);
    return 0;
}

/* Writes a pattern at an address the host gives (a page untouched until now), then faults. */
static int write_then_fault(const hlg_value *a, hlg_value *r)
{
    *(volatile uint64_t *)(uintptr_t)a[0].u.u64 = 0x1122334455667788ull;
    r->u.i32 = level1((volatile int *)0);
    return 0;
}

static int get_counter(const hlg_value *a, hlg_value *r)
{
    r->u.i32 = g_counter;
    return 0;
}

static int do_abort(const hlg_value *a, hlg_value *r) { abort(); }

static int do_panic(const hlg_value *a, hlg_value *r) { hlg_panic("panic in the core guest"); }

__attribute__((noinline)) static uint32_t deep(uint32_t n)
{
    volatile uint8_t pad[512];
    pad[0] = (uint8_t)n;
    return n ? deep(n - 1) + pad[0] : 0;
}

static int overflow(const hlg_value *a, hlg_value *r)
{
    r->u.u32 = deep(1u << 30);
    return 0;
}

static int spin(const hlg_value *a, hlg_value *r)
{
    for (volatile uint64_t i = 0;; i++)
        ;
    return 0;
}

static int fail(const hlg_value *a, hlg_value *r) { return hlg_error(HL_GERR_GUEST_ERROR, "failed on purpose"); }

/* Calls the host function `dump_here` two calls deep: the host dumps a core while it runs. */
__attribute__((noinline)) static int host_inner(uint32_t x)
{
    hlg_value ret, arg = {.type = HL_TYPE_U32, .u.u32 = x};
    int rc = hlg_call_host("dump_here", HL_TYPE_U32, &ret, 1, &arg);
    return rc ? -rc : (int)ret.u.u32;
}

__attribute__((noinline)) static int host_outer(uint32_t x) { return host_inner(x + 1) + 1; }

static int call_host(const hlg_value *a, hlg_value *r)
{
    r->u.i32 = host_outer(a[0].u.u32);
    return 0;
}

/* Known values in every general register but rsp and rip, and in xmm3, then #UD (SIGILL): the
 * registers are never used again, so nothing is declared clobbered. */
static int known_regs(const hlg_value *a, hlg_value *r)
{
    __asm__ volatile("mov $0x1111111111111111, %%rax\n\t"
                     "mov $0x2222222222222222, %%rbx\n\t"
                     "mov $0x3333333333333333, %%rcx\n\t"
                     "mov $0x4444444444444444, %%rdx\n\t"
                     "mov $0x5555555555555555, %%rsi\n\t"
                     "mov $0x6666666666666666, %%rdi\n\t"
                     "mov $0x7777777777777777, %%rbp\n\t"
                     "mov $0x8888888888888888, %%r8\n\t"
                     "mov $0x9999999999999999, %%r9\n\t"
                     "mov $0xaaaaaaaaaaaaaaaa, %%r10\n\t"
                     "mov $0xbbbbbbbbbbbbbbbb, %%r11\n\t"
                     "mov $0xcccccccccccccccc, %%r12\n\t"
                     "mov $0xdddddddddddddddd, %%r13\n\t"
                     "mov $0xeeeeeeeeeeeeeeee, %%r14\n\t"
                     "mov $0x0123456789abcdef, %%r15\n\t"
                     "mov $0x4048f5c3, %%eax\n\t" /* 3.14f in xmm3 */
                     "movd %%eax, %%xmm3\n\t"
                     "mov $0x1111111111111111, %%rax\n\t"
                     "ud2"
                     :
                     :
                     : "memory");
    return 0;
}

/* Garbage in rsp and rbp, then a fault: the dump must not care where they point. */
static int garbage_stack(const hlg_value *a, hlg_value *r)
{
    __asm__ volatile("mov %0, %%rsp\n\t"
                     "mov %0, %%rbp\n\t"
                     "movq (%%rsp), %%rax"
                     :
                     : "r"(a[0].u.u64)
                     : "memory");
    return 0;
}

/* KVM only: zeroes the top-level page table (after lifting CR0.WP) and flushes the TLB: the next
 * fetch cannot be translated, nor can the exception's delivery (a triple fault). */
static int trash_page_tables(const hlg_value *a, hlg_value *r)
{
    uint64_t cr0, cr3;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 & ~(1ull << 16)));
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    volatile uint64_t *pml4 = (volatile uint64_t *)(uintptr_t)(cr3 & ~0xFFFull);
    for (int i = 0; i < 512; i++)
        pml4[i] = 0;
    __asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
    return 0;
}

void hyperlight_main(void)
{
    hlg_register("null_chain", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_U64), null_chain);
    hlg_register("get_counter", HL_TYPE_I32, HLG_NO_PARAMS, get_counter);
    hlg_register("write_then_fault", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_U64), write_then_fault);
    hlg_register("abort", HL_TYPE_VOID, HLG_NO_PARAMS, do_abort);
    hlg_register("panic", HL_TYPE_VOID, HLG_NO_PARAMS, do_panic);
    hlg_register("overflow", HL_TYPE_U32, HLG_NO_PARAMS, overflow);
    hlg_register("spin", HL_TYPE_VOID, HLG_NO_PARAMS, spin);
    hlg_register("fail", HL_TYPE_VOID, HLG_NO_PARAMS, fail);
    hlg_register("call_host", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_U32), call_host);
    hlg_register("known_regs", HL_TYPE_VOID, HLG_NO_PARAMS, known_regs);
    hlg_register("garbage_stack", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U64), garbage_stack);
    hlg_register("trash_page_tables", HL_TYPE_VOID, HLG_NO_PARAMS, trash_page_tables);
}
