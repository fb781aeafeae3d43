/* test_layout.c - unit tests of the sandbox memory layout: order, sizes, precedence, totals, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend/x86_64.h"
#include "hyperlight/config.h"
#include "sandbox/layout.h"

#define PAGE 4096ull
#define BASE 0x200000ull

static uint64_t round_page(uint64_t x) { return (x + PAGE - 1) / PAGE * PAGE; }

/* A guest with a 32 KiB image, with or without a resources note. */
static hl_elf_info synth_elf(int note, uint64_t stack, uint64_t heap)
{
    hl_elf_info e;
    memset(&e, 0, sizeof(e));
    e.min_vaddr = 0;
    e.span = 0x8000;
    e.nsegs = 1;
    e.segs[0] = (hl_elf_segment){.vaddr = 0, .memsz = 0x8000, .flags = HL_ELF_SEG_R | HL_ELF_SEG_X};
    e.has_resources = note;
    e.note_stack_size = stack;
    e.note_heap_size = heap;
    return e;
}

static void layout_ok(const hl_config *cfg, const hl_elf_info *elf, uint64_t base, hl_layout *l)
{
    hl_error err = HL_ERROR_INIT;
    hl_status st = hl_layout_compute(cfg, elf, base, l, &err);
    if (st != HL_OK)
        fail_msg("layout failed: %s", err.message);
}

static int tables_fit(const hl_layout *l)
{
    uint64_t pt_pages = l->region[HL_REGION_PAGE_TABLES].size / PAGE;
    return hl_x86_page_table_pages(l->base + l->total_size) + HL_X86_SYS_PAGES <= pt_pages;
}

/* Every invariant a layout must keep, whatever the config. */
static void check_invariants(const hl_config *cfg, const hl_elf_info *elf, const hl_layout *l, uint64_t base)
{
    assert_int_equal(l->base, base);
    uint64_t off = 0;
    for (int i = 0; i < HL_REGION_COUNT; i++) {
        const hl_layout_region *r = &l->region[i];
        assert_int_equal(r->offset, off); /* contiguous, in the documented order */
        assert_int_equal(r->offset % PAGE, 0);
        assert_int_equal(r->size % PAGE, 0);
        assert_true(r->size >= PAGE);
        assert_int_equal(hl_layout_addr(l, (hl_region_id)i), base + r->offset);
        off += r->size;
    }
    assert_int_equal(l->total_size, off);
    assert_true(l->total_size <= HL_CONFIG_MAX_TOTAL_MEMORY);
    const hl_layout_region *r = l->region;
    assert_int_equal(r[HL_REGION_CODE].size, elf->span);
    assert_int_equal(r[HL_REGION_PEB].size, round_page(sizeof(hl_peb)));
    assert_int_equal(r[HL_REGION_HOST_FUNCTIONS].size, round_page(cfg->function_definition_size));
    assert_int_equal(r[HL_REGION_HOST_EXCEPTION].size, round_page(cfg->host_exception_size));
    assert_int_equal(r[HL_REGION_GUEST_ERROR].size, round_page(cfg->guest_error_buffer_size));
    assert_int_equal(r[HL_REGION_INPUT].size, round_page(cfg->input_data_size));
    assert_int_equal(r[HL_REGION_OUTPUT].size, round_page(cfg->output_data_size));
    assert_int_equal(r[HL_REGION_PANIC_CONTEXT].size, round_page(cfg->guest_panic_context_buffer_size));
    assert_int_equal(r[HL_REGION_HEAP].size, round_page(l->heap_size));
    assert_int_equal(r[HL_REGION_STACK].size, round_page(l->stack_size));
    assert_int_equal(r[HL_REGION_KERNEL_STACK].size, round_page(cfg->kernel_stack_size));
    assert_int_equal(r[HL_REGION_STACK_GUARD].size, PAGE);
    assert_int_equal(r[HL_REGION_KERNEL_STACK_GUARD].size, PAGE);
    assert_int_equal(r[HL_REGION_BOOT_STACK_GUARD].size, PAGE);
    assert_int_equal(r[HL_REGION_BOOT_STACK].size, PAGE);
    /* the page tables for the whole sandbox, plus GDT/TSS, IDT and stubs, fit their region */
    assert_true(tables_fit(l));
}

static void test_defaults(void **state)
{
    (void)state;
    hl_config cfg;
    hl_config_init(&cfg);
    hl_elf_info elf = synth_elf(0, 0, 0);
    hl_layout l;
    layout_ok(&cfg, &elf, BASE, &l);
    check_invariants(&cfg, &elf, &l, BASE);
    assert_int_equal(l.stack_size, HL_DEFAULT_GUEST_STACK_SIZE);
    assert_int_equal(l.heap_size, HL_DEFAULT_GUEST_HEAP_SIZE);
    /* exact sizes from Hyperlight's defaults */
    static const uint64_t want[HL_REGION_COUNT] = {
        [HL_REGION_PAGE_TABLES] = 8 * PAGE, /* PML4, PDPT, PD, 2 PTs (end < 4 MiB), GDT, IDT, stubs */
        [HL_REGION_CODE] = 0x8000,          [HL_REGION_PEB] = PAGE,
        [HL_REGION_HOST_FUNCTIONS] = 0x1000, [HL_REGION_HOST_EXCEPTION] = 0x4000,
        [HL_REGION_GUEST_ERROR] = 0x1000,    [HL_REGION_INPUT] = 0x4000,
        [HL_REGION_OUTPUT] = 0x4000,         [HL_REGION_PANIC_CONTEXT] = 0x1000,
        [HL_REGION_HEAP] = 128 * 1024,       [HL_REGION_STACK_GUARD] = PAGE,
        [HL_REGION_STACK] = 64 * 1024,       [HL_REGION_KERNEL_STACK_GUARD] = PAGE,
        [HL_REGION_KERNEL_STACK] = 0x1000,   [HL_REGION_BOOT_STACK_GUARD] = PAGE,
        [HL_REGION_BOOT_STACK] = PAGE,
    };
    uint64_t total = 0;
    for (int i = 0; i < HL_REGION_COUNT; i++) {
        if (l.region[i].size != want[i])
            fail_msg("region %s: %llu bytes, expected %llu", hl_region_name((hl_region_id)i),
                     (unsigned long long)l.region[i].size, (unsigned long long)want[i]);
        total += want[i];
    }
    assert_int_equal(l.total_size, total);
    assert_int_equal(total, 85 * PAGE);
}

static void test_hip_sample(void **state)
{
    (void)state;
    /* /work/shared/hyperfile-sample.toml's values, set as the hyperfile loader would */
    hl_config cfg;
    hl_config_init(&cfg);
    assert_int_equal(hl_config_set_input_data_size(&cfg, 1024), HL_SET_OK);
    assert_int_equal(hl_config_set_output_data_size(&cfg, 2048), HL_SET_OK);
    assert_int_equal(hl_config_set_function_definition_size(&cfg, 512), HL_SET_OK);
    assert_int_equal(hl_config_set_host_exception_size(&cfg, 256), HL_SET_OK);
    assert_int_equal(hl_config_set_guest_error_buffer_size(&cfg, 128), HL_SET_OK);
    assert_int_equal(hl_config_set_stack_size_override(&cfg, 4194304), HL_SET_OK);
    assert_int_equal(hl_config_set_heap_size_override(&cfg, 8388608), HL_SET_OK);
    assert_int_equal(hl_config_set_kernel_stack_size(&cfg, 8192), HL_SET_OK);
    assert_int_equal(hl_config_set_guest_panic_context_buffer_size(&cfg, 1024), HL_SET_OK);
    hl_elf_info elf = synth_elf(1, 65536, 131072); /* the overrides win over the note */
    hl_layout l;
    layout_ok(&cfg, &elf, BASE, &l);
    check_invariants(&cfg, &elf, &l, BASE);
    assert_int_equal(l.stack_size, 4 * HL_MiB);
    assert_int_equal(l.heap_size, 8 * HL_MiB);
    assert_int_equal(l.region[HL_REGION_INPUT].size, PAGE);
    assert_int_equal(l.region[HL_REGION_OUTPUT].size, PAGE);
    assert_int_equal(l.region[HL_REGION_HOST_FUNCTIONS].size, PAGE);
    assert_int_equal(l.region[HL_REGION_HOST_EXCEPTION].size, PAGE);
    assert_int_equal(l.region[HL_REGION_GUEST_ERROR].size, PAGE);
    assert_int_equal(l.region[HL_REGION_PANIC_CONTEXT].size, PAGE);
    assert_int_equal(l.region[HL_REGION_KERNEL_STACK].size, 8192);
    assert_int_equal(l.region[HL_REGION_HEAP].size, 8 * HL_MiB);
    assert_int_equal(l.region[HL_REGION_STACK].size, 4 * HL_MiB);
    /* 0x8000 code + 11 one-page regions + 8 KiB + 12 MiB = 12668928; ends below 16 MiB with
     * the 2 MiB base: PML4, PDPT, PD, 8 PTs and 3 system pages */
    assert_int_equal(l.region[HL_REGION_PAGE_TABLES].size, 14 * PAGE);
    assert_int_equal(l.total_size, 12668928 + 14 * PAGE);
    /* the stack sits between its guard and the kernel stack's guard */
    assert_int_equal(l.region[HL_REGION_STACK].offset,
                     l.region[HL_REGION_STACK_GUARD].offset + l.region[HL_REGION_STACK_GUARD].size);
    assert_int_equal(l.region[HL_REGION_KERNEL_STACK_GUARD].offset,
                     l.region[HL_REGION_STACK].offset + 4 * HL_MiB);
}

static void test_precedence(void **state)
{
    (void)state;
    hl_config cfg;
    hl_layout l;
    hl_config_init(&cfg);
    /* the note, when present and non-zero */
    hl_elf_info elf = synth_elf(1, 256 * 1024, 4 * HL_MiB);
    layout_ok(&cfg, &elf, BASE, &l);
    check_invariants(&cfg, &elf, &l, BASE);
    assert_int_equal(l.stack_size, 256 * 1024);
    assert_int_equal(l.heap_size, 4 * HL_MiB);
    /* an override beats the note, each independently */
    cfg.stack_size_override = 32 * 1024;
    layout_ok(&cfg, &elf, BASE, &l);
    assert_int_equal(l.stack_size, 32 * 1024);
    assert_int_equal(l.heap_size, 4 * HL_MiB);
    cfg.stack_size_override = 0;
    cfg.heap_size_override = 64 * 1024;
    layout_ok(&cfg, &elf, BASE, &l);
    assert_int_equal(l.stack_size, 256 * 1024);
    assert_int_equal(l.heap_size, 64 * 1024);
    /* a note of zeros, or a note the parser did not find, falls back to the defaults */
    hl_config_init(&cfg);
    elf = synth_elf(1, 0, 0);
    layout_ok(&cfg, &elf, BASE, &l);
    assert_int_equal(l.stack_size, HL_DEFAULT_GUEST_STACK_SIZE);
    assert_int_equal(l.heap_size, HL_DEFAULT_GUEST_HEAP_SIZE);
    elf = synth_elf(0, 1 * HL_MiB, 1 * HL_MiB);
    layout_ok(&cfg, &elf, BASE, &l);
    assert_int_equal(l.stack_size, HL_DEFAULT_GUEST_STACK_SIZE);
    assert_int_equal(l.heap_size, HL_DEFAULT_GUEST_HEAP_SIZE);
    /* sizes that are not page multiples are reported as given and rounded up in the layout */
    cfg.stack_size_override = 70000;
    cfg.heap_size_override = 4097;
    cfg.input_data_size = 4097;
    cfg.output_data_size = 8191;
    cfg.kernel_stack_size = 5000;
    layout_ok(&cfg, &elf, BASE, &l);
    check_invariants(&cfg, &elf, &l, BASE);
    assert_int_equal(l.stack_size, 70000);
    assert_int_equal(l.heap_size, 4097);
    assert_int_equal(l.region[HL_REGION_STACK].size, 73728);
    assert_int_equal(l.region[HL_REGION_HEAP].size, 8192);
    assert_int_equal(l.region[HL_REGION_INPUT].size, 8192);
    assert_int_equal(l.region[HL_REGION_OUTPUT].size, 8192);
    assert_int_equal(l.region[HL_REGION_KERNEL_STACK].size, 8192);
}

static void expect_too_big(const hl_config *cfg, const hl_elf_info *elf)
{
    hl_layout l;
    hl_error err = HL_ERROR_INIT;
    hl_status st = hl_layout_compute(cfg, elf, BASE, &l, &err);
    if (st != HL_E_LAYOUT)
        fail_msg("expected HL_E_LAYOUT, got %d (total %llu)", st, (unsigned long long)l.total_size);
    assert_int_equal(err.status, HL_E_LAYOUT);
    assert_non_null(strstr(err.message, "more than 1024 MiB"));
    assert_non_null(strstr(err.message, "heap_size_override"));
    assert_non_null(strstr(err.message, "stack_size_override"));
}

static void test_limit(void **state)
{
    (void)state;
    hl_config cfg;
    hl_elf_info elf = synth_elf(0, 0, 0);
    hl_config_init(&cfg);
    cfg.heap_size_override = HL_CONFIG_MAX_TOTAL_MEMORY; /* alone it already passes the cap */
    expect_too_big(&cfg, &elf);
    hl_config_init(&cfg);
    cfg.heap_size_override = 512 * HL_MiB;
    cfg.stack_size_override = 512 * HL_MiB;
    expect_too_big(&cfg, &elf);
    hl_config_init(&cfg);
    cfg.stack_size_override = UINT64_MAX; /* no wrap-around anywhere */
    expect_too_big(&cfg, &elf);
    hl_config_init(&cfg);
    elf = synth_elf(1, 0, HL_CONFIG_MAX_TOTAL_MEMORY + PAGE); /* from the note, too */
    expect_too_big(&cfg, &elf);
    elf = synth_elf(0, 0, 0);
    elf.span = HL_CONFIG_MAX_TOTAL_MEMORY + PAGE;
    expect_too_big(&cfg, &elf);
    /* the message reports the sizes in KiB */
    hl_config_init(&cfg);
    elf = synth_elf(0, 0, 0);
    cfg.heap_size_override = 600 * HL_MiB;
    cfg.stack_size_override = 500 * HL_MiB;
    hl_layout l;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_layout_compute(&cfg, &elf, BASE, &l, &err), HL_E_LAYOUT);
    assert_non_null(strstr(err.message, "heap 614400 KiB, stack 512000 KiB"));

    /* the boundary: the largest heap that fits gives a total of at most the cap, one page more fails */
    hl_config_init(&cfg);
    cfg.stack_size_override = 256 * HL_MiB;
    uint64_t heap = HL_CONFIG_MAX_TOTAL_MEMORY - 256 * HL_MiB;
    while (hl_layout_compute((cfg.heap_size_override = heap, &cfg), &elf, BASE, &l, &err) != HL_OK)
        heap -= PAGE;
    check_invariants(&cfg, &elf, &l, BASE);
    assert_true(l.total_size <= HL_CONFIG_MAX_TOTAL_MEMORY);
    assert_true(l.total_size > HL_CONFIG_MAX_TOTAL_MEMORY - 2 * PAGE); /* nothing wasted */
    cfg.heap_size_override = heap + PAGE;
    expect_too_big(&cfg, &elf);
}

static void test_huge_buffer_sizes(void **state)
{
    (void)state;
    /* hl_config is plain data: a buffer size set directly (not through a setter) near 2^64 must
     * be refused, not rounded to a page count that wrapped to 0 */
    static const size_t fields[] = {offsetof(hl_config, input_data_size), offsetof(hl_config, output_data_size),
                                    offsetof(hl_config, function_definition_size),
                                    offsetof(hl_config, host_exception_size),
                                    offsetof(hl_config, guest_error_buffer_size), offsetof(hl_config, kernel_stack_size),
                                    offsetof(hl_config, guest_panic_context_buffer_size)};
    hl_elf_info elf = synth_elf(0, 0, 0);
    int wrapped = 0;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        hl_config cfg;
        hl_config_init(&cfg);
        uint64_t v = HL_CONFIG_MAX_TOTAL_MEMORY + 1;
        memcpy((char *)&cfg + fields[i], &v, sizeof(v));
        expect_too_big(&cfg, &elf);
        v = UINT64_MAX - 100;
        memcpy((char *)&cfg + fields[i], &v, sizeof(v));
        hl_layout l;
        hl_error err = HL_ERROR_INIT;
        if (hl_layout_compute(&cfg, &elf, BASE, &l, &err) == HL_OK)
            wrapped++;
    }
    if (wrapped) {
        print_message("REGRESSION (fixed bug): src/sandbox/layout.c:11,46-56 page_round() of a buffer size near 2^64 wraps to 0: "
                 "hl_layout_compute accepts input_data_size = UINT64_MAX - 100 with a 0-byte input region "
                 "instead of failing with HL_E_LAYOUT (%d of 7 fields)\n", wrapped);
        fail();
    }
}

static void test_bases_and_property(void **state)
{
    (void)state;
    /* pseudo-random configs within the setters' ranges, several bases: every invariant holds */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    static const uint64_t bases[] = {0, PAGE, BASE, 0x3FF000, 0x20000000, 0x10000000};
    for (int iter = 0; iter < 3000; iter++) {
        hl_config cfg;
        hl_config_init(&cfg);
        uint64_t *f[] = {&cfg.input_data_size,   &cfg.output_data_size,        &cfg.function_definition_size,
                         &cfg.host_exception_size, &cfg.guest_error_buffer_size, &cfg.stack_size_override,
                         &cfg.heap_size_override,  &cfg.kernel_stack_size,       &cfg.guest_panic_context_buffer_size};
        for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            unsigned shift = (unsigned)(x % 26); /* up to 32 MiB */
            *f[k] = (x >> 8) % ((1ull << shift) + 1) + 64;
        }
        hl_elf_info elf = synth_elf((int)(x & 1), (x >> 20) % (1 << 22), (x >> 30) % (1 << 24));
        elf.span = round_page((x >> 40) % (8 * HL_MiB) + 1);
        uint64_t base = bases[iter % 6];
        hl_layout l;
        hl_error err = HL_ERROR_INIT;
        hl_status st = hl_layout_compute(&cfg, &elf, base, &l, &err);
        if (st != HL_OK)
            fail_msg("iteration %d: %s", iter, err.message);
        check_invariants(&cfg, &elf, &l, base);
    }
}

static void test_tables_fit_near_cap(void **state)
{
    (void)state;
    /* Large sandboxes at the KVM base (2 MiB): settings the setters accept (stack 512 MiB, heap
     * up to 512 MiB) whose page tables need more than 2 MiB. The layout must leave room for the
     * tables that map the whole sandbox, or kvm_create's hl_x86_build_page_tables fails. */
    hl_elf_info elf = synth_elf(0, 0, 0);
    hl_config cfg;
    hl_config_init(&cfg);
    assert_int_equal(hl_config_set_stack_size_override(&cfg, 512 * HL_MiB), HL_SET_OK);
    unsigned accepted = 0, short_tables = 0;
    uint64_t first = 0;
    for (uint64_t heap = 480 * HL_MiB; heap <= 512 * HL_MiB; heap += PAGE) {
        cfg.heap_size_override = heap;
        hl_layout l;
        hl_error err = HL_ERROR_INIT;
        if (hl_layout_compute(&cfg, &elf, BASE, &l, &err) != HL_OK) {
            assert_non_null(strstr(err.message, "heap_size_override"));
            continue;
        }
        accepted++;
        if (!tables_fit(&l) && short_tables++ == 0)
            first = heap;
    }
    assert_true(accepted > 1000);
    if (short_tables) {
        hl_layout l;
        cfg.heap_size_override = first;
        hl_layout_compute(&cfg, &elf, BASE, &l, NULL);
        print_message("REGRESSION (fixed bug): src/sandbox/layout.c:67-68 sizes the page tables with one fixed-point step: "
                      "%u of %u accepted layouts leave too few table pages, e.g. stack_size_override 512 MiB, "
                      "heap_size_override %llu, base 0x200000: total %#llx needs %llu table+system pages, "
                      "region has %llu\n",
                      short_tables, accepted, (unsigned long long)first, (unsigned long long)l.total_size,
                      (unsigned long long)(hl_x86_page_table_pages(BASE + l.total_size) + HL_X86_SYS_PAGES),
                      (unsigned long long)(l.region[HL_REGION_PAGE_TABLES].size / PAGE));
        fail();
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(hl_region_name(HL_REGION_CODE), "code");
    assert_string_equal(hl_region_name(HL_REGION_HEAP), "heap");
    assert_string_equal(hl_region_name(HL_REGION_STACK_GUARD), "stack guard");
    assert_string_equal(hl_region_name(HL_REGION_BOOT_STACK), "boot stack");
    assert_string_equal(hl_region_name(HL_REGION_COUNT), "unknown");
    assert_string_equal(hl_region_name((hl_region_id)-1), "unknown");
    for (int i = 0; i < HL_REGION_COUNT; i++) {
        const char *n = hl_region_name((hl_region_id)i);
        assert_true(n[0] != 0 && strcmp(n, "unknown") != 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(n, hl_region_name((hl_region_id)j));
    }
}

static void test_real_guest(void **state)
{
    (void)state;
    FILE *f = fopen(HL_BINARY_DIR "/guests/simpleguest", "rb");
    assert_non_null(f);
    static uint8_t img[1 << 20];
    size_t len = fread(img, 1, sizeof(img), f);
    fclose(f);
    hl_elf_info elf;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_elf_parse(img, len, &elf, &err), HL_OK);
    hl_config cfg;
    hl_config_init(&cfg);
    hl_layout l;
    layout_ok(&cfg, &elf, BASE, &l);
    check_invariants(&cfg, &elf, &l, BASE);
    assert_int_equal(l.stack_size, 65536); /* from the guest's note */
    assert_int_equal(l.heap_size, 131072);
    assert_int_equal(l.region[HL_REGION_CODE].size, elf.span);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),        cmocka_unit_test(test_hip_sample),
        cmocka_unit_test(test_precedence),      cmocka_unit_test(test_limit),
        cmocka_unit_test(test_huge_buffer_sizes), cmocka_unit_test(test_bases_and_property),
        cmocka_unit_test(test_tables_fit_near_cap), cmocka_unit_test(test_names),           cmocka_unit_test(test_real_guest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
