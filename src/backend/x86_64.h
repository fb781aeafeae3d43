/* x86_64.h - long-mode structures (page tables, GDT, TSS, IDT, exception stubs) as pure functions. */
#ifndef HL_BACKEND_X86_64_H
#define HL_BACKEND_X86_64_H

#include <stddef.h>
#include <stdint.h>

/* Page permissions for the guest, one byte per 4 KiB page. 0 means not mapped. */
#define HL_PERM_PRESENT 1u
#define HL_PERM_WRITE 2u
#define HL_PERM_EXEC 4u

/* Page-table entry bits. */
#define HL_PTE_P (1ull << 0)
#define HL_PTE_RW (1ull << 1)
#define HL_PTE_A (1ull << 5)
#define HL_PTE_D (1ull << 6)
#define HL_PTE_NX (1ull << 63)
#define HL_PTE_ADDR 0x000FFFFFFFFFF000ull

/* Extra pages after the page tables, in the page tables region: */
#define HL_X86_SYS_PAGES 3 /* GDT + TSS, IDT, exception stubs */

/* The selectors of our GDT: null, 64-bit code, data, 64-bit TSS (two slots). */
#define HL_X86_SEL_CODE 0x08
#define HL_X86_SEL_DATA 0x10
#define HL_X86_SEL_TSS 0x18
#define HL_X86_GDT_SIZE 0x28
#define HL_X86_TSS_OFFSET 0x100 /* TSS within the GDT page */
#define HL_X86_TSS_SIZE 104
#define HL_X86_IDT_ENTRIES 32
#define HL_X86_STUB_STRIDE 16

/* Builds 4-level page tables identity-mapping the pages [map_base, map_base + npages*4096)
 * with perms[i] for page i, into `pt` (pt_size bytes at guest physical address pt_gpa).
 * Leaves carry A and D so the CPU never writes them. Returns the bytes used, or 0 when pt is
 * too small or the range is unsupported (beyond 512 GiB, or unaligned). */
size_t hl_x86_build_page_tables(uint8_t *pt, size_t pt_size, uint64_t pt_gpa, uint64_t map_base,
                                const uint8_t *perms, uint64_t npages);

/* Pages needed by hl_x86_build_page_tables for a map ending at `end`. */
uint64_t hl_x86_page_table_pages(uint64_t end);

/* Software walk of tables built above (for tests and for checking guest addresses): returns the
 * leaf entry mapping virtual address va, or 0 when not present. */
uint64_t hl_x86_walk(const uint8_t *pt, size_t pt_size, uint64_t pt_gpa, uint64_t cr3, uint64_t va);

/* Writes the GDT (null, code 0x08, data 0x10, TSS 0x18) at gdt and a TSS at gdt +
 * HL_X86_TSS_OFFSET (guest physical page_gpa + HL_X86_TSS_OFFSET) whose IST1 is ist1_top. */
void hl_x86_build_gdt_tss(uint8_t *page, uint64_t page_gpa, uint64_t ist1_top);

/* Writes 32 interrupt gates (IST 1) pointing at stubs_gpa + vector * HL_X86_STUB_STRIDE. */
void hl_x86_build_idt(uint8_t *idt, uint64_t stubs_gpa);

/* Writes the 32 exception stubs: each pushes a zero error code when the CPU pushes none, then
 * `push rax; mov al, vector; out port, al; hlt`. The host reads the guest's rax and the frame at
 * the stopped rsp: [rsp] rax, [rsp+8] error code, [rsp+16] rip, [rsp+24] cs, [rsp+32] rflags,
 * [rsp+40] rsp, [rsp+48] ss. */
void hl_x86_build_exception_stubs(uint8_t *page, uint8_t port);
/* Offset of the `out` instruction in vector's stub: where a genuine report stops (the host
 * believes an exception report only from there). */
unsigned hl_x86_stub_out_offset(unsigned vector);

/* The entry stub every KVM run starts at (in the stubs' page, at HL_X86_ENTRY_OFFSET), and the
 * XSAVE image it loads (at HL_X86_XSAVE_INIT_OFFSET, 64-byte aligned: every component in its
 * initial state, MXCSR 0x1F80). With r8 = the XCR0 the run must have and r9 = where the guest
 * starts, it sets XCR0 only when it differs (an exit; the guest rarely changes it), loads the
 * image with every component XCR0 enables (xrstor: x87, SSE, AVX, AVX-512, PKRU in their
 * initial state), clears rax, rcx, rdx, r8 and r9 and jumps to r9. Instead of KVM_SET_XCRS and
 * KVM_SET_XSAVE before every run (the two largest ioctls of the reset). With HL_X86_ENTRY_MSRS
 * in r10 it also zeroes STAR, LSTAR, CSTAR, SFMASK and the kernel GS base (through the GS base,
 * which must be 0 at entry, and swapgs: the MSR filter lets the guest write the GS base but not
 * the kernel GS base), instead of KVM_SET_MSRS; on AMD those writes do not exit (on Intel
 * they would: not used there, kvm_state.c). r10 is cleared
 * too. The kvm_debug loader uses 0x800. */
#define HL_X86_ENTRY_OFFSET 0x400
#define HL_X86_ENTRY_MSRS 1u
#define HL_X86_XSAVE_INIT_OFFSET 0xC00
void hl_x86_build_entry(uint8_t *page);
/* The stub's code, for tests. */
extern const uint8_t hl_x86_entry_code[], hl_x86_entry_code_end[];

/* True for the vectors where the CPU pushes an error code. */
int hl_x86_vector_has_error_code(unsigned vector);
/* "#PF page fault", "#GP general protection", ... */
const char *hl_x86_vector_name(unsigned vector);

#endif
