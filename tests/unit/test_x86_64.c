/* test_x86_64.c - unit tests of the long-mode builders (page tables, GDT/TSS, IDT, stubs) and page permissions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/perms.h"
#include "backend/x86_64.h"
#include "hyperlight/config.h"
#include "sandbox/elf.h"
#include "sandbox/layout.h"

#define PAGE 4096ull

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Builds tables for perms at map_base (tables at pt_gpa) and checks every page and its neighbours. */
static void check_map(uint64_t map_base, const uint8_t *perms, uint64_t npages, uint64_t pt_gpa)
{
    uint64_t end = map_base + npages * PAGE;
    size_t size = (size_t)(hl_x86_page_table_pages(end) * PAGE);
    uint8_t *pt = malloc(size);
    memset(pt, 0xCC, size);
    size_t used = hl_x86_build_page_tables(pt, size, pt_gpa, map_base, perms, npages);
    assert_int_equal(used, size); /* the count is exact for a single PML4 entry */
    for (uint64_t i = 0; i < npages; i++) {
        uint64_t va = map_base + i * PAGE;
        uint64_t e = hl_x86_walk(pt, size, pt_gpa, pt_gpa, va);
        uint64_t e_mid = hl_x86_walk(pt, size, pt_gpa, pt_gpa, va + 0x123);
        assert_int_equal(e, e_mid);
        if (!(perms[i] & HL_PERM_PRESENT)) {
            if (e != 0)
                fail_msg("page %#llx (perm 0) is mapped: %#llx", (unsigned long long)va, (unsigned long long)e);
            continue;
        }
        if ((e & HL_PTE_ADDR) != va)
            fail_msg("page %#llx maps %#llx", (unsigned long long)va, (unsigned long long)(e & HL_PTE_ADDR));
        assert_true(e & HL_PTE_P);
        assert_true(e & HL_PTE_A);
        assert_true(e & HL_PTE_D);
        assert_int_equal(!!(e & HL_PTE_RW), !!(perms[i] & HL_PERM_WRITE));
        assert_int_equal(!!(e & HL_PTE_NX), !(perms[i] & HL_PERM_EXEC));
        /* nothing but the address and those bits */
        assert_int_equal(e & ~(HL_PTE_ADDR | HL_PTE_P | HL_PTE_RW | HL_PTE_A | HL_PTE_D | HL_PTE_NX), 0);
    }
    /* below the base and past the end: not mapped */
    for (uint64_t va = 0; va < map_base && va < 64 * PAGE; va += PAGE)
        assert_int_equal(hl_x86_walk(pt, size, pt_gpa, pt_gpa, va), 0);
    if (map_base >= PAGE)
        assert_int_equal(hl_x86_walk(pt, size, pt_gpa, pt_gpa, map_base - PAGE), 0);
    assert_int_equal(hl_x86_walk(pt, size, pt_gpa, pt_gpa, end), 0);
    assert_int_equal(hl_x86_walk(pt, size, pt_gpa, pt_gpa, end + (1ull << 30)), 0);
    assert_int_equal(hl_x86_walk(pt, size, pt_gpa, pt_gpa, 1ull << 39), 0); /* second PML4 slot */
    /* inner entries: present, writable, accessed, executable (leaves decide) */
    uint64_t pml4 = get64(pt);
    assert_int_equal(pml4 & ~HL_PTE_ADDR, HL_PTE_P | HL_PTE_RW | HL_PTE_A);
    assert_int_equal(pml4 & HL_PTE_ADDR, pt_gpa + PAGE);
    free(pt);
}

static void test_page_tables(void **state)
{
    (void)state;
    static const uint8_t P = HL_PERM_PRESENT, W = HL_PERM_WRITE, X = HL_PERM_EXEC;
    uint8_t perms[40];
    for (size_t i = 0; i < sizeof(perms); i++) {
        static const uint8_t cycle[] = {0, 1, 3, 5, 1, 0, 3, 7};
        perms[i] = (uint8_t)(cycle[i % 8] & (P | W | X));
    }
    check_map(0x200000, perms, 40, 0x200000);           /* the KVM layout: tables at the base */
    check_map(0x200000, perms, 40, 0x10000000);         /* tables elsewhere */
    check_map(0x1000, perms, 40, 0x1000);               /* first page unmapped */
    check_map(0x200000 - 20 * PAGE, perms, 40, 0x8000); /* across a 2 MiB boundary */
    check_map((1ull << 30) - 20 * PAGE, perms, 40, 0);  /* across a 1 GiB boundary: two PDs */
    uint8_t all[600];
    memset(all, P | W, sizeof(all));
    check_map(0x3000, all, 600, 0x3000);
    memset(all, 0, sizeof(all));
    check_map(0x3000, all, 600, 0x3000);
}

static void test_page_table_limits(void **state)
{
    (void)state;
    uint8_t perms[8];
    memset(perms, HL_PERM_PRESENT, sizeof(perms));
    uint64_t need = hl_x86_page_table_pages(0x200000 + 8 * PAGE) * PAGE;
    uint8_t *pt = malloc(need);
    assert_int_equal(need, 5 * PAGE); /* PML4, PDPT, PD, two PTs (end just past 2 MiB) */
    assert_int_equal(hl_x86_build_page_tables(pt, need - 1, 0, 0x200000, perms, 8), 0);
    assert_int_equal(hl_x86_build_page_tables(pt, need - PAGE, 0, 0x200000, perms, 8), 0);
    assert_int_equal(hl_x86_build_page_tables(pt, need, 0, 0x200000, perms, 8), need);
    assert_int_equal(hl_x86_build_page_tables(pt, need, 0, 0x200001, perms, 8), 0); /* unaligned base */
    assert_int_equal(hl_x86_build_page_tables(pt, need, 0x10, 0x200000, perms, 8), 0); /* unaligned tables */
    assert_int_equal(hl_x86_build_page_tables(pt, need, 0, (512ull << 30) - 4 * PAGE, perms, 8), 0); /* > 512 GiB */
    assert_int_equal(hl_x86_build_page_tables(pt, need, 0, UINT64_MAX - 3 * PAGE + 1, perms, 8), 0); /* wraps */
    /* walks that leave the table buffer return 0 */
    assert_int_equal(hl_x86_build_page_tables(pt, need, 0x5000, 0x200000, perms, 8), need);
    assert_int_not_equal(hl_x86_walk(pt, need, 0x5000, 0x5000, 0x200000), 0);
    assert_int_equal(hl_x86_walk(pt, need, 0x5000, 0x4000, 0x200000), 0);   /* cr3 below the buffer */
    assert_int_equal(hl_x86_walk(pt, need, 0x5000, 0x5000 + need, 0x200000), 0); /* cr3 past it */
    assert_int_equal(hl_x86_walk(pt, 2 * PAGE, 0x5000, 0x5000, 0x200000), 0); /* PD outside pt_size */
    free(pt);
    /* page counts */
    assert_int_equal(hl_x86_page_table_pages(0), 1);
    assert_int_equal(hl_x86_page_table_pages(1), 4);
    assert_int_equal(hl_x86_page_table_pages(2ull << 20), 4);
    assert_int_equal(hl_x86_page_table_pages((2ull << 20) + 1), 5);
    assert_int_equal(hl_x86_page_table_pages(1ull << 30), 1 + 1 + 1 + 512);
    assert_int_equal(hl_x86_page_table_pages((1ull << 30) + 1), 1 + 1 + 2 + 513);
    assert_int_equal(hl_x86_page_table_pages(512ull << 30), 1 + 1 + 512 + 262144);
}

static void on_segv(int sig)
{
    (void)sig;
    _exit(42);
}

static void test_page_count_wrap(void **state)
{
    (void)state;
    /* npages * 4096 that wraps to a small end must be refused like any range past 512 GiB. Run in
     * a child: perms is one page followed by an inaccessible page, so a builder that walks past
     * it faults (exit 42) instead of corrupting this process. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGSEGV, on_segv);
        signal(SIGBUS, on_segv);
        alarm(10);
        uint8_t *perms = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (perms == MAP_FAILED || mprotect(perms + PAGE, PAGE, PROT_NONE) != 0)
            _exit(3);
        static uint8_t pt[8 * PAGE];
        size_t used = hl_x86_build_page_tables(pt, sizeof(pt), 0, 0, perms, (1ull << 52) + 1);
        _exit(used == 0 ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        print_message("REGRESSION (fixed bug): src/backend/x86_64.c:28-30 hl_x86_build_page_tables(map_base 0, npages 2^52+1): "
                      "end = npages*4096 wraps to 4096, passes the 512 GiB check, and the loop reads perms[] "
                      "past the caller's array (child %s %d); it should return 0\n",
                      WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        fail();
    }
}

static void test_gdt_tss(void **state)
{
    (void)state;
    uint8_t page[PAGE];
    memset(page, 0xAA, sizeof(page));
    const uint64_t gpa = 0x0000123456789000ull, ist = 0x0000000FEDCBA000ull;
    hl_x86_build_gdt_tss(page, gpa, ist);
    assert_int_equal(get64(page), 0); /* null descriptor */
    for (int k = 0; k < 2; k++) {
        uint64_t d = get64(page + (k == 0 ? HL_X86_SEL_CODE : HL_X86_SEL_DATA));
        assert_int_equal((d >> 47) & 1, 1); /* P */
        assert_int_equal((d >> 45) & 3, 0); /* DPL 0 */
        assert_int_equal((d >> 44) & 1, 1); /* S: code/data */
        uint64_t base = ((d >> 16) & 0xFFFFFF) | ((d >> 56) << 24);
        assert_int_equal(base, 0);
        if (k == 0) {
            assert_int_equal((d >> 40) & 0xF, 0xB); /* code: execute/read, accessed */
            assert_int_equal((d >> 53) & 1, 1);     /* L: 64-bit */
            assert_int_equal((d >> 54) & 1, 0);     /* D must be 0 with L */
        } else {
            assert_int_equal((d >> 40) & 0xF, 0x3); /* data: read/write, accessed */
            assert_int_equal((d >> 53) & 1, 0);
        }
    }
    /* TSS descriptor: 16 bytes at 0x18 */
    uint64_t lo = get64(page + HL_X86_SEL_TSS), hi = get64(page + HL_X86_SEL_TSS + 8);
    uint64_t base = ((lo >> 16) & 0xFFFFFF) | (((lo >> 56) & 0xFF) << 24) | ((hi & 0xFFFFFFFF) << 32);
    uint64_t limit = (lo & 0xFFFF) | (((lo >> 48) & 0xF) << 16);
    assert_int_equal(base, gpa + HL_X86_TSS_OFFSET);
    assert_int_equal(limit, HL_X86_TSS_SIZE - 1);
    assert_int_equal((lo >> 40) & 0xF, 0xB); /* 64-bit TSS (busy) */
    assert_int_equal((lo >> 44) & 1, 0);     /* system descriptor */
    assert_int_equal((lo >> 47) & 1, 1);     /* P */
    assert_int_equal((lo >> 45) & 3, 0);
    assert_int_equal((lo >> 55) & 1, 0); /* G = 0: byte granularity */
    assert_int_equal(hi >> 32, 0);
    /* the TSS: RSP0 and IST1 = the kernel stack top, no I/O bitmap, the rest zero */
    const uint8_t *tss = page + HL_X86_TSS_OFFSET;
    assert_int_equal(get64(tss + 4), ist);
    assert_int_equal(get64(tss + 36), ist);
    uint16_t iomap;
    memcpy(&iomap, tss + 102, 2);
    assert_int_equal(iomap, HL_X86_TSS_SIZE);
    for (size_t i = 0; i < PAGE; i++) {
        int written = i < HL_X86_GDT_SIZE || (i >= HL_X86_TSS_OFFSET + 4 && i < HL_X86_TSS_OFFSET + 12) ||
                      (i >= HL_X86_TSS_OFFSET + 36 && i < HL_X86_TSS_OFFSET + 44) ||
                      (i >= HL_X86_TSS_OFFSET + 102 && i < HL_X86_TSS_OFFSET + 104);
        if (!written && page[i] != 0)
            fail_msg("byte %zu of the GDT page is %#x", i, page[i]);
    }
}

static void test_idt(void **state)
{
    (void)state;
    uint8_t idt[PAGE];
    memset(idt, 0x55, sizeof(idt));
    const uint64_t stubs = 0x0000001234567000ull;
    hl_x86_build_idt(idt, stubs);
    for (unsigned v = 0; v < 256; v++) {
        uint64_t lo = get64(idt + v * 16), hi = get64(idt + v * 16 + 8);
        if (v >= HL_X86_IDT_ENTRIES) {
            assert_int_equal(lo, 0);
            assert_int_equal(hi, 0);
            continue;
        }
        uint64_t off = (lo & 0xFFFF) | (((lo >> 48) & 0xFFFF) << 16) | ((hi & 0xFFFFFFFF) << 32);
        assert_int_equal(off, stubs + HL_X86_STUB_STRIDE * v);
        assert_int_equal((lo >> 16) & 0xFFFF, HL_X86_SEL_CODE);
        assert_int_equal((lo >> 32) & 7, 1);  /* IST 1 */
        assert_int_equal((lo >> 35) & 0x1F, 0);
        assert_int_equal((lo >> 40) & 0xFF, 0x8E); /* P, DPL 0, 64-bit interrupt gate */
        assert_int_equal(hi >> 32, 0);
    }
}

static void test_stubs(void **state)
{
    (void)state;
    uint8_t page[PAGE];
    memset(page, 0, sizeof(page));
    hl_x86_build_exception_stubs(page, HL_PORT_EXCEPTION);
    static const unsigned with_code[] = {8, 10, 11, 12, 13, 14, 17, 21, 29, 30};
    for (unsigned v = 0; v < 40; v++) {
        int code = 0;
        for (size_t k = 0; k < sizeof(with_code) / sizeof(with_code[0]); k++)
            code |= with_code[k] == v;
        assert_int_equal(hl_x86_vector_has_error_code(v), code);
    }
    for (unsigned v = 0; v < HL_X86_IDT_ENTRIES; v++) {
        uint8_t want[HL_X86_STUB_STRIDE];
        size_t n = 0;
        if (!hl_x86_vector_has_error_code(v)) {
            want[n++] = 0x6A; /* push 0 */
            want[n++] = 0x00;
        }
        want[n++] = 0x50; /* push rax */
        want[n++] = 0xB0; /* mov al, v */
        want[n++] = (uint8_t)v;
        assert_int_equal(hl_x86_stub_out_offset(v), n); /* where the host expects the report */
        want[n++] = 0xE6; /* out port, al */
        want[n++] = HL_PORT_EXCEPTION;
        want[n++] = 0xF4; /* hlt */
        want[n++] = 0xEB; /* jmp to the hlt */
        want[n++] = 0xFD;
        while (n < HL_X86_STUB_STRIDE)
            want[n++] = 0xF4;
        assert_memory_equal(page + v * HL_X86_STUB_STRIDE, want, HL_X86_STUB_STRIDE);
    }
    /* push rax (1 byte) and mov al (2) before the out; push 0 (2) first without an error code */
    assert_int_equal(hl_x86_stub_out_offset(14), 3);
    assert_int_equal(hl_x86_stub_out_offset(13), 3);
    assert_int_equal(hl_x86_stub_out_offset(0), 5);
    assert_int_equal(hl_x86_stub_out_offset(6), 5);
    for (size_t i = HL_X86_IDT_ENTRIES * HL_X86_STUB_STRIDE; i < PAGE; i++)
        assert_int_equal(page[i], 0xF4);
    /* the entry stub and its XSAVE image go past the stubs, the rest stays hlt */
    hl_x86_build_entry(page);
    size_t code = (size_t)(hl_x86_entry_code_end - hl_x86_entry_code);
    assert_true(code > 20 && HL_X86_ENTRY_OFFSET + code < 0x800);
    assert_memory_equal(page + HL_X86_ENTRY_OFFSET, hl_x86_entry_code, code);
    assert_int_equal(page[HL_X86_ENTRY_OFFSET + code - 1], 0xC3); /* ret to r9 */
    const uint8_t *img = page + HL_X86_XSAVE_INIT_OFFSET;
    assert_int_equal(HL_X86_XSAVE_INIT_OFFSET % 64, 0);
    assert_int_equal(img[0] | img[1] << 8, 0x037F);
    assert_int_equal(img[24] | img[25] << 8 | img[26] << 16 | img[27] << 24, 0x1F80);
    for (size_t i = 512; i < 576; i++) /* XSTATE_BV and XCOMP_BV 0: initial state, standard form */
        assert_int_equal(img[i], 0);
    for (size_t i = HL_X86_IDT_ENTRIES * HL_X86_STUB_STRIDE; i < HL_X86_ENTRY_OFFSET; i++)
        assert_int_equal(page[i], 0xF4);
    for (size_t i = HL_X86_ENTRY_OFFSET + code; i < HL_X86_XSAVE_INIT_OFFSET; i++)
        assert_int_equal(page[i], 0xF4);
    assert_string_equal(hl_x86_vector_name(14), "#PF page fault");
    assert_string_equal(hl_x86_vector_name(13), "#GP general protection");
    assert_string_equal(hl_x86_vector_name(0), "#DE divide error");
    assert_string_equal(hl_x86_vector_name(32), "interrupt");
    for (unsigned v = 0; v < 32; v++)
        assert_non_null(hl_x86_vector_name(v));
}

static hl_elf_info load_guest(void)
{
    FILE *f = fopen(HL_BINARY_DIR "/guests/simpleguest", "rb");
    assert_non_null(f);
    static uint8_t img[1 << 20];
    size_t len = fread(img, 1, sizeof(img), f);
    fclose(f);
    hl_elf_info elf;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_elf_parse(img, len, &elf, &err), HL_OK);
    return elf;
}

static uint8_t perm_of_segments(const hl_elf_info *elf, uint64_t vaddr)
{
    for (size_t i = 0; i < elf->nsegs; i++) {
        const hl_elf_segment *s = &elf->segs[i];
        if (vaddr >= (s->vaddr & ~(PAGE - 1)) && vaddr < s->vaddr + s->memsz)
            return (uint8_t)(HL_PERM_PRESENT | ((s->flags & HL_ELF_SEG_W) ? HL_PERM_WRITE : 0) |
                             ((s->flags & HL_ELF_SEG_X) ? HL_PERM_EXEC : 0));
    }
    return 0;
}

static void check_perms(const hl_layout *l, const hl_elf_info *elf, int system_exec)
{
    uint64_t n = l->total_size / PAGE;
    uint8_t *perms = malloc(n);
    memset(perms, 0xFF, n);
    hl_backend_page_perms(l, elf, system_exec, perms);
    const uint8_t ro = HL_PERM_PRESENT, rw = HL_PERM_PRESENT | HL_PERM_WRITE;
    for (int r = 0; r < HL_REGION_COUNT; r++) {
        const hl_layout_region *reg = &l->region[r];
        for (uint64_t p = reg->offset / PAGE; p < (reg->offset + reg->size) / PAGE; p++) {
            uint8_t want;
            switch (r) {
            case HL_REGION_PAGE_TABLES:
                want = (system_exec && p == (reg->offset + reg->size) / PAGE - 1) ? (uint8_t)(ro | HL_PERM_EXEC) : ro;
                break;
            case HL_REGION_CODE: want = perm_of_segments(elf, elf->min_vaddr + (p * PAGE - reg->offset)); break;
            case HL_REGION_HOST_FUNCTIONS:
            case HL_REGION_HOST_EXCEPTION: want = ro; break;
            case HL_REGION_STACK_GUARD:
            case HL_REGION_KERNEL_STACK_GUARD:
            case HL_REGION_BOOT_STACK_GUARD: want = 0; break;
            default: want = rw; break;
            }
            if (perms[p] != want)
                fail_msg("page %llu of %s: perm %u, expected %u", (unsigned long long)p,
                         hl_region_name((hl_region_id)r), perms[p], want);
        }
    }
    /* through the page tables, as the KVM backend builds them */
    const hl_layout_region *pt = &l->region[HL_REGION_PAGE_TABLES];
    uint64_t sys = pt->size - HL_X86_SYS_PAGES * PAGE;
    uint8_t *mem = calloc(1, pt->size);
    assert_int_equal(hl_x86_build_page_tables(mem, sys, l->base, l->base, perms, n),
                     hl_x86_page_table_pages(l->base + l->total_size) * PAGE);
    for (uint64_t p = 0; p < n; p++) {
        uint64_t e = hl_x86_walk(mem, sys, l->base, l->base, l->base + p * PAGE);
        assert_int_equal(e != 0, perms[p] != 0);
        if (e) {
            assert_int_equal(!!(e & HL_PTE_NX), !(perms[p] & HL_PERM_EXEC));
            assert_int_equal(!!(e & HL_PTE_RW), !!(perms[p] & HL_PERM_WRITE));
        }
    }
    assert_int_equal(hl_x86_walk(mem, sys, l->base, l->base, 0), 0); /* NULL faults */
    free(mem);
    free(perms);
}

static void test_perms(void **state)
{
    (void)state;
    hl_elf_info elf = load_guest();
    hl_config cfg;
    hl_config_init(&cfg);
    hl_layout l;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_layout_compute(&cfg, &elf, 0x200000, &l, &err), HL_OK);
    check_perms(&l, &elf, 0);
    check_perms(&l, &elf, 1);
    /* exactly one executable page outside the code region, and only when asked */
    uint64_t n = l.total_size / PAGE;
    uint8_t *perms = malloc(n);
    for (int sys = 0; sys < 2; sys++) {
        hl_backend_page_perms(&l, &elf, sys, perms);
        unsigned exec = 0, text = 0;
        for (uint64_t p = 0; p < n; p++) {
            int in_code = p * PAGE >= l.region[HL_REGION_CODE].offset &&
                          p * PAGE < l.region[HL_REGION_CODE].offset + l.region[HL_REGION_CODE].size;
            if (perms[p] & HL_PERM_EXEC) {
                if (in_code)
                    text++;
                else
                    exec++;
                assert_false(perms[p] & HL_PERM_WRITE); /* never W+X */
            }
        }
        assert_int_equal(exec, (unsigned)sys);
        assert_true(text > 0);
    }
    free(perms);
    /* a guest with a gap between segments: the gap stays unmapped */
    hl_elf_info gap;
    memset(&gap, 0, sizeof(gap));
    gap.span = 6 * PAGE;
    gap.nsegs = 2;
    gap.segs[0] = (hl_elf_segment){.vaddr = 0, .memsz = PAGE + 1, .flags = HL_ELF_SEG_R | HL_ELF_SEG_X};
    gap.segs[1] = (hl_elf_segment){.vaddr = 4 * PAGE + 8, .memsz = 100, .flags = HL_ELF_SEG_R | HL_ELF_SEG_W};
    assert_int_equal(hl_layout_compute(&cfg, &gap, 0x200000, &l, &err), HL_OK);
    check_perms(&l, &gap, 1);
    perms = malloc(l.total_size / PAGE);
    hl_backend_page_perms(&l, &gap, 0, perms);
    uint64_t c = l.region[HL_REGION_CODE].offset / PAGE;
    static const uint8_t want[6] = {5, 5, 0, 0, 3, 0};
    assert_memory_equal(perms + c, want, 6);
    free(perms);
    /* the HIP sample's sizes */
    cfg.input_data_size = 1024;
    cfg.output_data_size = 2048;
    cfg.function_definition_size = 512;
    cfg.host_exception_size = 256;
    cfg.guest_error_buffer_size = 128;
    cfg.stack_size_override = 4 * HL_MiB;
    cfg.heap_size_override = 8 * HL_MiB;
    cfg.kernel_stack_size = 8192;
    assert_int_equal(hl_layout_compute(&cfg, &elf, 0x200000, &l, &err), HL_OK);
    check_perms(&l, &elf, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_tables), cmocka_unit_test(test_page_table_limits),
        cmocka_unit_test(test_page_count_wrap), cmocka_unit_test(test_gdt_tss),
        cmocka_unit_test(test_idt),         cmocka_unit_test(test_stubs),
        cmocka_unit_test(test_perms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
