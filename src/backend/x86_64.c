/* x86_64.c - builds long-mode page tables, GDT, TSS, IDT and exception stubs into byte buffers. */
#include "backend/x86_64.h"
#include "util/bytes.h"

#include <string.h>

#define PAGE 4096ull


static uint64_t div_up(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

uint64_t hl_x86_page_table_pages(uint64_t end)
{
    return 1 + div_up(end, 512ull << 30) + div_up(end, 1ull << 30) + div_up(end, 2ull << 20);
}

size_t hl_x86_build_page_tables(uint8_t *pt, size_t pt_size, uint64_t pt_gpa, uint64_t map_base,
                                const uint8_t *perms, uint64_t npages)
{
    if ((map_base | pt_gpa) & (PAGE - 1) || npages > (512ull << 30) / PAGE || map_base > (512ull << 30))
        return 0;
    uint64_t end = map_base + npages * PAGE;
    if (end > (512ull << 30))
        return 0;
    uint64_t npd = div_up(end, 1ull << 30), npt = div_up(end, 2ull << 20);
    uint64_t need = (2 + npd + npt) * PAGE;
    if (need > pt_size)
        return 0;
    memset(pt, 0, need);
    /* page 0: PML4; page 1: PDPT; then PDs (one per GiB); then PTs (one per 2 MiB) */
    const uint64_t inner = HL_PTE_P | HL_PTE_RW | HL_PTE_A;
    hl_put64(pt, (pt_gpa + PAGE) | inner);
    for (uint64_t g = 0; g < npd; g++)
        hl_put64(pt + PAGE + g * 8, (pt_gpa + (2 + g) * PAGE) | inner);
    for (uint64_t t = 0; t < npt; t++)
        hl_put64(pt + (2 + t / 512) * PAGE + (t % 512) * 8, (pt_gpa + (2 + npd + t) * PAGE) | inner);
    for (uint64_t i = 0; i < npages; i++) {
        if (!(perms[i] & HL_PERM_PRESENT))
            continue;
        uint64_t va = map_base + i * PAGE, vpn = va / PAGE;
        uint64_t e = va | HL_PTE_P | HL_PTE_A | HL_PTE_D;
        if (perms[i] & HL_PERM_WRITE)
            e |= HL_PTE_RW;
        if (!(perms[i] & HL_PERM_EXEC))
            e |= HL_PTE_NX;
        hl_put64(pt + (2 + npd + vpn / 512) * PAGE + (vpn % 512) * 8, e);
    }
    return (size_t)need;
}

uint64_t hl_x86_walk(const uint8_t *pt, size_t pt_size, uint64_t pt_gpa, uint64_t cr3, uint64_t va)
{
    uint64_t table = cr3 & HL_PTE_ADDR;
    for (int level = 3; level >= 0; level--) {
        uint64_t idx = (va >> (12 + 9 * level)) & 511;
        if (table < pt_gpa || table - pt_gpa + PAGE > pt_size)
            return 0;
        uint64_t e = hl_get64(pt + (table - pt_gpa) + idx * 8);
        if (!(e & HL_PTE_P))
            return 0;
        if (level == 0)
            return e;
        table = e & HL_PTE_ADDR;
    }
    return 0;
}

/* A code or data segment descriptor: present, DPL 0, accessed bit preset. */
static uint64_t seg_desc(int code)
{
    uint64_t d = 0;
    d |= 0xFFFFull;                       /* limit 15:0 */
    d |= (uint64_t)(code ? 0x9B : 0x93) << 40; /* P=1 DPL=0 S=1, type: code exec/read/accessed or data rw/accessed */
    d |= 0xFull << 48;                    /* limit 19:16 */
    d |= (uint64_t)(code ? 0xA : 0xC) << 52; /* code: G=1 L=1; data: G=1 D/B=1 */
    return d;
}

void hl_x86_build_gdt_tss(uint8_t *page, uint64_t page_gpa, uint64_t ist1_top)
{
    memset(page, 0, PAGE);
    hl_put64(page + HL_X86_SEL_CODE, seg_desc(1));
    hl_put64(page + HL_X86_SEL_DATA, seg_desc(0));
    uint64_t base = page_gpa + HL_X86_TSS_OFFSET, limit = HL_X86_TSS_SIZE - 1;
    uint64_t lo = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x8Bull << 40) /* P, busy 64-bit TSS */ |
                  (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    hl_put64(page + HL_X86_SEL_TSS, lo);
    hl_put64(page + HL_X86_SEL_TSS + 8, base >> 32);
    uint8_t *tss = page + HL_X86_TSS_OFFSET;
    hl_put64(tss + 4, ist1_top);  /* RSP0 */
    hl_put64(tss + 36, ist1_top); /* IST1 */
    tss[102] = HL_X86_TSS_SIZE; /* I/O map base beyond the limit: no I/O bitmap */
}

void hl_x86_build_idt(uint8_t *idt, uint64_t stubs_gpa)
{
    memset(idt, 0, PAGE);
    for (unsigned v = 0; v < HL_X86_IDT_ENTRIES; v++) {
        uint64_t h = stubs_gpa + v * HL_X86_STUB_STRIDE;
        uint64_t lo = (h & 0xFFFF) | ((uint64_t)HL_X86_SEL_CODE << 16) | (1ull << 32) /* IST 1 */ |
                      (0x8Eull << 40) /* P, DPL 0, 64-bit interrupt gate */ | (((h >> 16) & 0xFFFF) << 48);
        hl_put64(idt + v * 16, lo);
        hl_put64(idt + v * 16 + 8, h >> 32);
    }
}

int hl_x86_vector_has_error_code(unsigned v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

unsigned hl_x86_stub_out_offset(unsigned vector) { return hl_x86_vector_has_error_code(vector) ? 3 : 5; }

void hl_x86_build_exception_stubs(uint8_t *page, uint8_t port)
{
    memset(page, 0xF4, PAGE); /* hlt everywhere else */
    for (unsigned v = 0; v < HL_X86_IDT_ENTRIES; v++) {
        uint8_t *s = page + v * HL_X86_STUB_STRIDE;
        size_t n = 0;
        if (!hl_x86_vector_has_error_code(v)) {
            s[n++] = 0x6A; /* push imm8 0 */
            s[n++] = 0x00;
        }
        s[n++] = 0x50; /* push rax: the host reads the guest's rax back from the stack */
        s[n++] = 0xB0; /* mov al, imm8 */
        s[n++] = (uint8_t)v;
        /* n == hl_x86_stub_out_offset(v): push imm8 (2 bytes, when needed), push rax (1) and
         * mov al (2) */
        s[n++] = 0xE6; /* out imm8, al */
        s[n++] = port;
        s[n++] = 0xF4; /* hlt */
        s[n++] = 0xEB; /* jmp back to the hlt */
        s[n++] = 0xFD;
    }
}

/* The stub, assembled here and copied into the page at HL_X86_ENTRY_OFFSET: the xrstor's
 * rip-relative operand is the image's place relative to the stub's, the same in the copy. */
__asm__(".pushsection .rodata\n"
        ".globl hl_x86_entry_code\n"
        ".hidden hl_x86_entry_code\n"
        ".globl hl_x86_entry_code_end\n"
        ".hidden hl_x86_entry_code_end\n"
        "hl_x86_entry_code:\n"
        "    xor %ecx, %ecx\n"
        "    xgetbv\n"
        "    shl $32, %rdx\n"
        "    or %rax, %rdx\n"
        "    cmp %r8, %rdx\n"
        "    je 1f\n"
        "    mov %r8, %rax\n"
        "    mov %r8, %rdx\n"
        "    shr $32, %rdx\n"
        "    xsetbv\n"
        "1:  test $1, %r10b\n" /* HL_X86_ENTRY_MSRS */
        "    jz 2f\n"
        "    xor %eax, %eax\n"
        "    xor %edx, %edx\n"
        "    mov $0xC0000081, %ecx\n" /* STAR */
        "    wrmsr\n"
        "    mov $0xC0000082, %ecx\n" /* LSTAR */
        "    wrmsr\n"
        "    mov $0xC0000083, %ecx\n" /* CSTAR */
        "    wrmsr\n"
        "    mov $0xC0000084, %ecx\n" /* SFMASK */
        "    wrmsr\n"
        "    mov $0xC0000101, %ecx\n" /* the GS base (0 from the reset) into the kernel GS base */
        "    swapgs\n"
        "    wrmsr\n"                 /* and the GS base 0 again */
        "2:  mov $-1, %eax\n"
        "    mov $-1, %edx\n"
        "    xrstor64 hl_x86_entry_code + 0x800(%rip)\n" /* HL_X86_XSAVE_INIT_OFFSET - HL_X86_ENTRY_OFFSET */
        "    xor %eax, %eax\n"
        "    xor %edx, %edx\n"
        "    xor %ecx, %ecx\n"
        "    xor %r8d, %r8d\n"
        "    xor %r10d, %r10d\n"
        "    push %r9\n"
        "    xor %r9d, %r9d\n"
        "    ret\n"
        "hl_x86_entry_code_end:\n"
        ".popsection\n");
_Static_assert(HL_X86_XSAVE_INIT_OFFSET - HL_X86_ENTRY_OFFSET == 0x800, "the stub's xrstor operand");
_Static_assert(HL_X86_ENTRY_OFFSET >= HL_X86_IDT_ENTRIES * HL_X86_STUB_STRIDE, "past the exception stubs");

void hl_x86_build_entry(uint8_t *page)
{
    size_t n = (size_t)(hl_x86_entry_code_end - hl_x86_entry_code);
    memcpy(page + HL_X86_ENTRY_OFFSET, hl_x86_entry_code, n);
    uint8_t *img = page + HL_X86_XSAVE_INIT_OFFSET;
    memset(img, 0, 576); /* legacy area and header: XSTATE_BV 0, every component initial */
    img[0] = 0x7F;       /* FCW 0x037F (the initial state's anyway) */
    img[1] = 0x03;
    img[24] = 0x80; /* MXCSR 0x1F80: xrstor loads it from here whenever SSE or AVX is requested */
    img[25] = 0x1F;
}

const char *hl_x86_vector_name(unsigned v)
{
    static const char *const names[32] = {
        "#DE divide error",        "#DB debug",                 "NMI",
        "#BP breakpoint",          "#OF overflow",              "#BR bound range",
        "#UD invalid opcode",      "#NM device not available",  "#DF double fault",
        "coprocessor overrun",     "#TS invalid TSS",           "#NP segment not present",
        "#SS stack fault",         "#GP general protection",    "#PF page fault",
        "reserved (15)",           "#MF x87 floating point",    "#AC alignment check",
        "#MC machine check",       "#XM SIMD floating point",   "#VE virtualization",
        "#CP control protection",  "reserved (22)",             "reserved (23)",
        "reserved (24)",           "reserved (25)",             "reserved (26)",
        "reserved (27)",           "#HV hypervisor injection",  "#VC VMM communication",
        "#SX security",            "reserved (31)",
    };
    return v < 32 ? names[v] : "interrupt";
}
