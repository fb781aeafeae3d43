/* hostileguest.c - a guest that attacks the host and later calls from ring 0 (KVM): MMIO, port
 * reads, MSRs, XSAVE state, forged exception reports and forged results. Used by
 * tests/runtime/test_hostile.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#include "hyperlight_guest.h"

HLG_RESOURCES(65536, 131072);

static inline uint64_t align8(uint64_t x)
{
    return (x + 7u) & ~(uint64_t)7u;
}

static __attribute__((noreturn)) void halt(void)
{
    for (;;)
        __asm__ volatile("hlt" ::: "memory");
}

/* Writes a result message of any type straight into `output` and ends the run, bypassing the
 * runtime (which always writes the registered type). */
static __attribute__((noreturn)) void raw_result(uint32_t type, const void *payload, uint32_t len)
{
    uint8_t *o = (uint8_t *)(uintptr_t)hlg_peb()->output.addr;
    hl_msg_result *r = (hl_msg_result *)o;
    hl_msg_value *v = (hl_msg_value *)(r + 1);
    int var = type == HL_TYPE_STRING || type == HL_TYPE_BYTES;
    v->type = type;
    v->len = len;
    memcpy(v + 1, payload, len);
    if (var) ((uint8_t *)(v + 1))[len] = 0;
    r->magic = HL_MSG_RESULT_MAGIC;
    r->total_len = (uint32_t)(sizeof(*r) + sizeof(*v) + align8(len + (uint32_t)var));
    r->status = 0;
    r->reserved = 0;
    halt();
}

/* What a hijacked continuation does: forge the result 666 (type i32) for whatever call runs. */
__attribute__((noreturn, used)) void hijacked(void)
{
    int64_t v = 666;
    raw_result(HL_TYPE_I32, &v, 8);
}

static int add(const hlg_value *a, hlg_value *r)
{
    r->u.i32 = a[0].u.i32 + a[1].u.i32;
    return 0;
}

/* Writes n bytes at p, one at a time, with CR0.WP clear: ring 0 may write its read-only pages. */
static void write_with_wp_clear(volatile uint8_t *p, const void *src, size_t n)
{
    uint64_t cr0;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 & ~(1ull << 16)) : "memory");
    for (size_t i = 0; i < n; i++) p[i] = ((const uint8_t *)src)[i];
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
}

/* Maps the unmapped page at virtual 0x1000 (below the sandbox) to guest-physical `gpa`, which lies
 * outside the sandbox's memory slot: ring 0 may clear CR0.WP and edit its read-only page tables. */
static volatile uint64_t *map_low_page(uint64_t gpa)
{
    uint64_t cr3, cr0;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    const uint64_t addr = 0x000FFFFFFFFFF000ull;
    uint64_t *pml4 = (uint64_t *)(uintptr_t)(cr3 & addr);
    uint64_t *pdpt = (uint64_t *)(uintptr_t)(pml4[0] & addr);
    uint64_t *pd = (uint64_t *)(uintptr_t)(pdpt[0] & addr);
    uint64_t *pt = (uint64_t *)(uintptr_t)(pd[0] & addr);
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 & ~(1ull << 16)) : "memory");
    pt[1] = (gpa & addr) | 3; /* present, writable: one store, never half an entry */
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
    __asm__ volatile("invlpg (%0)" : : "r"(0x1000ull) : "memory");
    return (volatile uint64_t *)(uintptr_t)0x1000;
}

/* Each attack leaves an exit the host abandons; if KVM completed it in the next call, that call
 * would continue here and return the forged 666. */
#define THEN_HIJACK "and $-16, %%rsp\n\tcall hijacked\n\t"

static int mmio_read(const hlg_value *a, hlg_value *r)
{
    volatile uint64_t *p = map_low_page(a[0].u.u64);
    __asm__ volatile("movq (%0), %%rax\n\t" THEN_HIJACK : : "r"(p) : "rax", "memory");
    return 0;
}

static int mmio_write(const hlg_value *a, hlg_value *r)
{
    volatile uint64_t *p = map_low_page(a[0].u.u64);
    __asm__ volatile("movq %%rax, (%0)\n\t" THEN_HIJACK : : "r"(p), "a"(0x1234ull) : "memory");
    return 0;
}

static int port_in(const hlg_value *a, hlg_value *r)
{
    __asm__ volatile("inb %%dx, %%al\n\t" THEN_HIJACK
                     :
                     : "d"((uint16_t)a[0].u.u32)
                     : "rax", "memory");
    return 0;
}

static int rep_insb(const hlg_value *a, hlg_value *r)
{
    uint8_t *buf = (uint8_t *)(uintptr_t)hlg_peb()->heap.addr + 4096;
    __asm__ volatile("rep insb\n\t" THEN_HIJACK
                     :
                     : "d"((uint16_t)a[0].u.u32), "D"(buf), "c"(a[1].u.u64)
                     : "memory");
    return 0;
}

static int port_out(const hlg_value *a, hlg_value *r)
{
    __asm__ volatile("outb %%al, %%dx\n\t" THEN_HIJACK
                     :
                     : "d"((uint16_t)a[0].u.u32), "a"(0)
                     : "memory");
    return 0;
}

static int rep_outsb(const hlg_value *a, hlg_value *r)
{
    const uint8_t *buf = (const uint8_t *)(uintptr_t)hlg_peb()->heap.addr;
    __asm__ volatile("rep outsb\n\t" THEN_HIJACK
                     :
                     : "d"((uint16_t)a[0].u.u32), "S"(buf), "c"(a[1].u.u64)
                     : "memory");
    return 0;
}

/* An abort (port 102) that would continue into the hijack if the host resumed it. */
static int abort_then_hijack(const hlg_value *a, hlg_value *r)
{
    hl_message_hdr *h = (hl_message_hdr *)(uintptr_t)hlg_peb()->panic_context.addr;
    h->code = 9;
    h->len = 4;
    memcpy(h + 1, "bye", 4);
    __asm__ volatile("outb %%al, %%dx\n\t" THEN_HIJACK
                     :
                     : "d"((uint16_t)HL_PORT_ABORT), "a"(0)
                     : "memory");
    return 0;
}

static int read_msr(const hlg_value *a, hlg_value *r)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(a[0].u.u32));
    r->u.u64 = ((uint64_t)hi << 32) | lo;
    return 0;
}

static int write_msr(const hlg_value *a, hlg_value *r)
{
    uint64_t v = a[1].u.u64;
    __asm__ volatile("wrmsr"
                     :
                     : "c"(a[0].u.u32), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
                     : "memory");
    return 0;
}

/* State a ring-0 guest changes without WRMSR, which the per-run reset must still put back:
 * swapgs moves the GS base the filter lets it write into the kernel GS base, which it may not
 * write; WRPKRU (after setting CR4.PKE) changes PKRU (XSAVE component 9); mov to DR0-DR3. */
static int swapgs_write(const hlg_value *a, hlg_value *r)
{
    uint64_t v = a[0].u.u64;
    __asm__ volatile("wrmsr\n\tswapgs"
                     :
                     : "c"(0xC0000101u), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
                     : "memory");
    (void)r;
    return 0;
}

/* Sets CR4.PKE when CPUID offers PKU; 0 when it does not. */
static int enable_pke(void)
{
    uint32_t eax = 7, ebx, ecx = 0, edx;
    __asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
    if (!(ecx & (1u << 3))) return 0;
    uint64_t cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | (1ull << 22)) : "memory");
    return 1;
}

static int pkru_write(const hlg_value *a, hlg_value *r)
{
    r->u.u32 = (uint32_t)enable_pke();
    if (r->u.u32) __asm__ volatile("wrpkru" : : "a"(a[0].u.u32), "c"(0), "d"(0) : "memory");
    return 0;
}

/* PKRU as this call starts (~0 without PKU). */
static int pkru_read(const hlg_value *a, hlg_value *r)
{
    (void)a;
    uint32_t v = ~0u, edx;
    if (enable_pke()) __asm__ volatile("rdpkru" : "=a"(v), "=d"(edx) : "c"(0));
    r->u.u64 = v == ~0u ? ~0ull : v;
    return 0;
}

static int dr_write(const hlg_value *a, hlg_value *r)
{
    uint64_t v = a[0].u.u64;
    __asm__ volatile("mov %0, %%dr0\n\tmov %0, %%dr1\n\tmov %0, %%dr2\n\tmov %0, %%dr3" : : "r"(v) : "memory");
    (void)r;
    return 0;
}

/* DR7 when asked for 7, else DR0 | DR1 | DR2 | DR3. */
static int dr_read(const hlg_value *a, hlg_value *r)
{
    uint64_t d0, d1, d2, d3, d7;
    __asm__ volatile("mov %%dr0, %0" : "=r"(d0));
    __asm__ volatile("mov %%dr1, %0" : "=r"(d1));
    __asm__ volatile("mov %%dr2, %0" : "=r"(d2));
    __asm__ volatile("mov %%dr3, %0" : "=r"(d3));
    __asm__ volatile("mov %%dr7, %0" : "=r"(d7));
    r->u.u64 = a[0].u.u32 == 7 ? d7 : (d0 | d1 | d2 | d3);
    return 0;
}

static int read_tsc(const hlg_value *a, hlg_value *r)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    r->u.u64 = ((uint64_t)hi << 32) | lo;
    return 0;
}

/* Reads 8 bytes of the heap at `offset` (to see whether anything wrote there behind the guest). */
static int peek_heap(const hlg_value *a, hlg_value *r)
{
    r->u.u64 = *(volatile uint64_t *)(uintptr_t)(hlg_peb()->heap.addr + a[0].u.u64);
    return 0;
}

static int heap_addr(const hlg_value *a, hlg_value *r)
{
    r->u.u64 = hlg_peb()->heap.addr;
    return 0;
}

/* XSAVE state: CR4.OSXSAVE is off as every run starts; ring 0 turns it on. Returns 0 without AVX.
 */
static int enable_avx(void)
{
    uint32_t eax = 1, ebx, ecx, edx;
    __asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx));
    if (!(ecx & (1u << 26)) || !(ecx & (1u << 28))) return 0;
    uint64_t cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | (1ull << 18)) : "memory");
    return 1;
}

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static int xcr0_read(const hlg_value *a, hlg_value *r)
{
    r->u.u64 = enable_avx() ? xgetbv0() : ~0ull;
    return 0;
}

static int ymm_write(const hlg_value *a, hlg_value *r)
{
    if (!enable_avx()) return 0;
    __asm__ volatile("xsetbv" : : "c"(0), "a"(7), "d"(0));
    uint64_t v[4] = {0, 0, a[0].u.u64, a[0].u.u64};
    __asm__ volatile("vmovdqu (%0), %%ymm5" : : "r"(v) : "memory");
    r->u.u32 = 1;
    return 0;
}

static int ymm_read(const hlg_value *a, hlg_value *r)
{
    if (!enable_avx()) return 0;
    __asm__ volatile("xsetbv" : : "c"(0), "a"(7), "d"(0));
    uint64_t v[4];
    __asm__ volatile("vmovdqu %%ymm5, (%0)" : : "r"(v) : "memory");
    r->u.u64 = v[2] | v[3];
    return 0;
}

/* A read of virtual 0x1000 (which poison_loader maps outside the memory), then the hijack. */
__asm__(".text\n.globl mmio_then_hijack\nmmio_then_hijack:\n\t"
        "movabs $0x1000, %rcx\n\tmovq (%rcx), %rax\n\t"
        "and $-16, %rsp\n\tcall hijacked\n");
void mmio_then_hijack(void);

/* Rewrites the host's debug-register loader (0x800 into the exception stubs' page, which the gdb
 * stub runs as guest code) to jump to mmio_then_hijack, with virtual 0x1000 mapped to `gpa`, and
 * returns normally. */
static int poison_loader(const hlg_value *a, hlg_value *r)
{
    map_low_page(a[0].u.u64);
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    const uint8_t *e = (const uint8_t *)(uintptr_t)idtr.base;
    uint64_t stub0 = (uint64_t)(e[0] | e[1] << 8) | (uint64_t)(e[6] | e[7] << 8) << 16 |
                     (uint64_t)(e[8] | e[9] << 8 | (uint32_t)e[10] << 16 | (uint32_t)e[11] << 24) << 32;
    volatile uint8_t *loader = (volatile uint8_t *)(uintptr_t)((stub0 & ~0xFFFull) + 0x800);
    uint64_t target = (uint64_t)(uintptr_t)mmio_then_hijack;
    uint8_t code[12] = {0x48, 0xB8}; /* movabs $target, %rax; jmp *%rax */
    memcpy(code + 2, &target, 8);
    code[10] = 0xFF;
    code[11] = 0xE0;
    write_with_wp_clear(loader, code, sizeof(code));
    (void)r;
    return 0;
}

/* Forged exception reports: an `out` to the exception port from anywhere but a host stub. */
static int forge_exception(const hlg_value *a, hlg_value *r)
{
    __asm__ volatile("mov %0, %%cr2" : : "r"(a[1].u.u64));
    __asm__ volatile("outb %%al, %%dx"
                     :
                     : "a"((uint8_t)a[0].u.u32), "d"((uint16_t)HL_PORT_EXCEPTION)
                     : "memory");
    halt();
}

/* Jumps into the host's stub for `vector` (found through the IDT) with a frame of the guest's
 * own making on its own stack, after pointing CR2 at `cr2`. */
static int jump_to_stub(const hlg_value *a, hlg_value *r)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    const uint8_t *e = (const uint8_t *)(uintptr_t)idtr.base + 16 * (a[0].u.u32 & 31);
    uint64_t handler = (uint64_t)(e[0] | e[1] << 8) | (uint64_t)(e[6] | e[7] << 8) << 16 |
                       (uint64_t)(e[8] | e[9] << 8 | (uint32_t)e[10] << 16 | (uint32_t)e[11] << 24)
                           << 32;
    __asm__ volatile("mov %0, %%cr2" : : "r"(a[1].u.u64));
    __asm__ volatile(
        "push $0x10\n\tpush %%rsp\n\tpushf\n\tpush $0x8\n\tpush $0\n\tpush $6\n\tjmp *%0"
        :
        : "r"(handler)
        : "memory");
    return 0;
}

static int cpuid_reg(const hlg_value *a, hlg_value *r)
{
    uint32_t regs[4], sub = 0;
    __asm__ volatile("cpuid"
                     : "=a"(regs[0]), "=b"(regs[1]), "=c"(regs[2]), "=d"(regs[3])
                     : "a"(a[0].u.u32), "c"(sub));
    r->u.u32 = regs[a[1].u.u32 & 3];
    return 0;
}

/* vmmcall with a KVM hypercall number in rax; returns what KVM put in rax. */
static int hypercall(const hlg_value *a, hlg_value *r)
{
    uint64_t rax = a[0].u.u64;
    __asm__ volatile("vmmcall" : "+a"(rax) : "b"(0), "c"(0), "d"(0) : "memory");
    r->u.u64 = rax;
    return 0;
}

/* A raw `syscall` with any number and arguments (both modes): the result as the kernel ABI gives it. */
static int raw_syscall(const hlg_value *a, hlg_value *r)
{
    long ret;
    register long r10 __asm__("r10") = 0;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(a[0].u.i64), "D"(a[1].u.i64), "S"(a[2].u.i64), "d"(a[3].u.i64), "r"(r10)
                     : "rcx", "r11", "memory");
    r->u.i64 = ret;
    return 0;
}

/* The host function `host_hook` (no parameters, returns i64), then the raw system call a[0] with
 * arguments a[1..3]: what a guest does after a host function returns, whatever the host did in it. */
static int syscall_after_host(const hlg_value *a, hlg_value *r)
{
    hlg_value out;
    int rc = hlg_call_host("host_hook", HL_TYPE_I64, &out, 0, NULL);
    if (rc)
        return rc;
    return raw_syscall(a, r);
}

/* Never returns: the time limit must end it. */
static __attribute__((noreturn)) int spin(const hlg_value *a, hlg_value *r)
{
    (void)a, (void)r;
    for (;;)
        __asm__ volatile("pause" ::: "memory");
}

/* fopen and open through the C library: the errno each leaves. */
static int libc_open(const hlg_value *a, hlg_value *r)
{
    errno = 0;
    FILE *f = fopen(a[0].u.str.ptr, "r");
    int e1 = errno;
    errno = 0;
    int fd = open(a[0].u.str.ptr, O_RDONLY);
    int e2 = errno;
    r->u.i64 = (f ? 1000000 : 0) + (fd >= 0 ? 100000 : 0) + e1 * 1000 + e2;
    return 0;
}

static int do_sysenter(const hlg_value *a, hlg_value *r)
{
    __asm__ volatile("sysenter" ::: "memory");
    return 0;
}

static int software_interrupt(const hlg_value *a, hlg_value *r)
{
    __asm__ volatile("int $200" ::: "memory");
    return 0;
}

/* Registered as returning i32 (and string below), but the result message says `type`. */
static int forge_result(const hlg_value *a, hlg_value *r)
{
    uint32_t type = a[0].u.u32;
    if (type == HL_TYPE_STRING) raw_result(type, "hi!", 3);
    uint64_t bits = 0x00007FFFDEADB000ull;
    raw_result(type, &bits, type == HL_TYPE_VOID ? 0 : 8);
}

/* Two pages of known contents in the guest's data (the snapshot holds them). */
static volatile uint64_t page_a[512] __attribute__((aligned(4096))) = {0xAAAAAAAAAAAAAAAAull, 1};
static volatile uint64_t page_b[512] __attribute__((aligned(4096))) = {0xBBBBBBBBBBBBBBBBull, 2};

/* The leaf entry mapping va in the tables CR3 points at (4 KiB pages; tables identity-mapped). */
static volatile uint64_t *leaf_pte(uint64_t va)
{
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    uint64_t table = cr3 & 0x000FFFFFFFFFF000ull;
    for (int level = 3; level > 0; level--)
        table = ((volatile uint64_t *)(uintptr_t)table)[(va >> (12 + 9 * level)) & 511] & 0x000FFFFFFFFFF000ull;
    return &((volatile uint64_t *)(uintptr_t)table)[(va >> 12) & 511];
}

/* Maps page_a's address onto page_b's frame (CR0.WP lifted) and reads through it, so that the
 * translation is cached; with a[0] != 0 it then writes the entry back as it was, without a
 * flush: the tables look untouched, the cached translation still aliases. Either way the next
 * call must see page_a as the snapshot has it. Returns what page_a's address read. */
static int alias_pages(const hlg_value *a, hlg_value *r)
{
    uint64_t cr0;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 & ~(1ull << 16)));
    volatile uint64_t *pte = leaf_pte((uint64_t)(uintptr_t)page_a);
    uint64_t old = *pte;
    *pte = (old & ~0x000FFFFFFFFFF000ull) | ((uint64_t)(uintptr_t)page_b & 0x000FFFFFFFFFF000ull);
    __asm__ volatile("invlpg (%0)" : : "r"(page_a) : "memory");
    r->u.u64 = page_a[0];
    if (a[0].u.u32)
        *pte = old;
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
    return 0;
}

/* CR3 as the call found it, and a call that leaves CR3 at a value of its choosing (the same
 * tables, other flag bits): a guest predicting the CR3 the next call starts with. */
static int cr3_read(const hlg_value *a, hlg_value *r)
{
    (void)a;
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    r->u.u64 = cr3;
    return 0;
}

/* CR8 (the task priority): raising it does not exit, and without an in-kernel APIC KVM keeps its
 * own copy in the run area. */
static int cr8_read(const hlg_value *a, hlg_value *r)
{
    (void)a;
    uint64_t cr8;
    __asm__ volatile("mov %%cr8, %0" : "=r"(cr8));
    r->u.u64 = cr8;
    return 0;
}

static int cr8_write(const hlg_value *a, hlg_value *r)
{
    (void)r;
    __asm__ volatile("mov %0, %%cr8" : : "r"(a[0].u.u64) : "memory");
    return 0;
}

static int cr3_write(const hlg_value *a, hlg_value *r)
{
    (void)r;
    __asm__ volatile("mov %0, %%cr3" : : "r"(a[0].u.u64) : "memory");
    return 0;
}

/* Read-only data and code on pages every sandbox of this guest maps from one copy (the host
 * shares a guest's read-only pages between its sandboxes): ring 0 writes them with CR0.WP
 * clear, which must change them for this sandbox and this call only. Each on a page of its own.
 * hyperlight_main writes g_ro_init when the host registered `patch_rodata_at_init` (then the
 * snapshot must keep that, and the sandbox shares none of those pages). */
static const uint32_t g_ro_word __attribute__((aligned(4096), used)) = 1;
static const uint32_t g_ro_init __attribute__((aligned(4096), used)) = 2; /* not 1: gcc would merge them */
#define RO_READ(x) (*(const volatile uint32_t *)&(x))
__asm__(".text\n.p2align 12\n.globl code_victim\ncode_victim:\n\tmov $1, %eax\n\tret\n.p2align 12\n");
uint32_t code_victim(void);

/* Whether the host registered a function of that name (its table, read straight from memory). */
static int host_has(const char *name)
{
    hl_region reg = hlg_peb()->host_function_definitions;
    const hl_host_fn_table *t = (const hl_host_fn_table *)(uintptr_t)reg.addr;
    if (reg.size < sizeof(*t) || t->magic != HL_MSG_HOSTFN_MAGIC)
        return 0;
    const hl_fn_def *d = (const hl_fn_def *)(t + 1);
    size_t len = strlen(name);
    for (uint32_t i = 0; i < t->count; i++)
        if (d[i].name_len == len && memcmp((const char *)t + d[i].name_off, name, len) == 0)
            return 1;
    return 0;
}

static int ro_word_read(const hlg_value *a, hlg_value *r)
{
    (void)a;
    r->u.u32 = RO_READ(g_ro_word);
    return 0;
}

static int ro_word_write(const hlg_value *a, hlg_value *r)
{
    (void)r;
    write_with_wp_clear((volatile uint8_t *)(uintptr_t)&g_ro_word, &a[0].u.u32, 4);
    return 0;
}

static int ro_init_read(const hlg_value *a, hlg_value *r)
{
    (void)a;
    r->u.u32 = RO_READ(g_ro_init);
    return 0;
}

static int code_victim_call(const hlg_value *a, hlg_value *r)
{
    (void)a;
    r->u.u32 = code_victim();
    return 0;
}

/* Rewrites code_victim's immediate: it returns the new value from then on. */
static int code_patch(const hlg_value *a, hlg_value *r)
{
    (void)r;
    write_with_wp_clear((volatile uint8_t *)(uintptr_t)code_victim + 1, &a[0].u.u32, 4);
    return 0;
}

static int read_page_a(const hlg_value *a, hlg_value *r)
{
    (void)a;
    r->u.u64 = page_a[0];
    return 0;
}

void hyperlight_main(void)
{
    if (hlg_peb()->run_mode != HL_RUN_IN_PROCESS && host_has("patch_rodata_at_init")) {
        uint32_t v = 5;
        write_with_wp_clear((volatile uint8_t *)(uintptr_t)&g_ro_init, &v, 4);
    }
    hlg_register("ro_word_read", HL_TYPE_U32, HLG_NO_PARAMS, ro_word_read);
    hlg_register("ro_word_write", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U32), ro_word_write);
    hlg_register("ro_init_read", HL_TYPE_U32, HLG_NO_PARAMS, ro_init_read);
    hlg_register("code_victim_call", HL_TYPE_U32, HLG_NO_PARAMS, code_victim_call);
    hlg_register("code_patch", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U32), code_patch);
    hlg_register("add", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_I32, HL_TYPE_I32), add);
    hlg_register("alias_pages", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_U32), alias_pages);
    hlg_register("read_page_a", HL_TYPE_U64, HLG_NO_PARAMS, read_page_a);
    hlg_register("cr3_read", HL_TYPE_U64, HLG_NO_PARAMS, cr3_read);
    hlg_register("cr8_read", HL_TYPE_U64, HLG_NO_PARAMS, cr8_read);
    hlg_register("cr8_write", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U64), cr8_write);
    hlg_register("cr3_write", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U64), cr3_write);
    hlg_register("mmio_read", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_U64), mmio_read);
    hlg_register("mmio_write", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_U64), mmio_write);
    hlg_register("port_in", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U32), port_in);
    hlg_register("rep_insb", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U32, HL_TYPE_U64), rep_insb);
    hlg_register("port_out", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U32), port_out);
    hlg_register("rep_outsb", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U32, HL_TYPE_U64), rep_outsb);
    hlg_register("abort_then_hijack", HL_TYPE_VOID, HLG_NO_PARAMS, abort_then_hijack);
    hlg_register("read_msr", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_U32), read_msr);
    hlg_register("write_msr", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U32, HL_TYPE_U64), write_msr);
    hlg_register("swapgs_write", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U64), swapgs_write);
    hlg_register("pkru_write", HL_TYPE_U32, HLG_PARAMS(HL_TYPE_U32), pkru_write);
    hlg_register("pkru_read", HL_TYPE_U64, HLG_NO_PARAMS, pkru_read);
    hlg_register("dr_write", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U64), dr_write);
    hlg_register("dr_read", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_U32), dr_read);
    hlg_register("read_tsc", HL_TYPE_U64, HLG_NO_PARAMS, read_tsc);
    hlg_register("peek_heap", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_U64), peek_heap);
    hlg_register("heap_addr", HL_TYPE_U64, HLG_NO_PARAMS, heap_addr);
    hlg_register("xcr0_read", HL_TYPE_U64, HLG_NO_PARAMS, xcr0_read);
    hlg_register("ymm_write", HL_TYPE_U32, HLG_PARAMS(HL_TYPE_U64), ymm_write);
    hlg_register("ymm_read", HL_TYPE_U64, HLG_NO_PARAMS, ymm_read);
    hlg_register("forge_exception", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U32, HL_TYPE_U64),
                 forge_exception);
    hlg_register("jump_to_stub", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U32, HL_TYPE_U64), jump_to_stub);
    hlg_register("poison_loader", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_U64), poison_loader);
    hlg_register("sysenter", HL_TYPE_VOID, HLG_NO_PARAMS, do_sysenter);
    hlg_register("raw_syscall", HL_TYPE_I64, HLG_PARAMS(HL_TYPE_I64, HL_TYPE_I64, HL_TYPE_I64, HL_TYPE_I64),
                 raw_syscall);
    hlg_register("spin", HL_TYPE_VOID, HLG_NO_PARAMS, spin);
    hlg_register("syscall_after_host", HL_TYPE_I64, HLG_PARAMS(HL_TYPE_I64, HL_TYPE_I64, HL_TYPE_I64, HL_TYPE_I64),
                 syscall_after_host);
    hlg_register("libc_open", HL_TYPE_I64, HLG_PARAMS(HL_TYPE_STRING), libc_open);
    hlg_register("cpuid", HL_TYPE_U32, HLG_PARAMS(HL_TYPE_U32, HL_TYPE_U32), cpuid_reg);
    hlg_register("hypercall", HL_TYPE_U64, HLG_PARAMS(HL_TYPE_U64), hypercall);
    hlg_register("software_interrupt", HL_TYPE_VOID, HLG_NO_PARAMS, software_interrupt);
    hlg_register("forge_i32", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_U32), forge_result);
    hlg_register("forge_string", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_U32), forge_result);
}
