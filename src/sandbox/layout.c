/* layout.c - sizes and places a sandbox's regions: page tables, code, PEB, buffers, heap, stacks. */
#include "sandbox/layout.h"

#include <string.h>

#include "backend/x86_64.h"
#include "util/errfmt.h"

#define PAGE ((uint64_t)HL_PAGE_SIZE)

/* Rounds up to a page; values too large to round saturate (and fail the cap check). */
static uint64_t page_round(uint64_t x) { return x > UINT64_MAX - PAGE ? UINT64_MAX : (x + PAGE - 1) & ~(PAGE - 1); }

/* Page tables for everything up to `end`, plus the GDT/TSS, IDT and exception stub pages. */
static uint64_t system_pages(uint64_t end) { return hl_x86_page_table_pages(end) + HL_X86_SYS_PAGES; }

static const char *const region_names[HL_REGION_COUNT] = {
    "page tables and descriptor tables",  "code",           "peb",         "host function definitions",
    "host exception", "guest error",  "input data",  "output data",
    "panic context", "heap",          "stack guard", "stack",
    "kernel stack guard", "kernel stack", "boot stack guard", "boot stack",
};

const char *hl_region_name(hl_region_id id)
{
    return (unsigned)id < HL_REGION_COUNT ? region_names[id] : "unknown";
}

hl_status hl_layout_compute(const hl_config *cfg, const hl_elf_info *elf, uint64_t base, hl_layout *out,
                            hl_error *err)
{
    memset(out, 0, sizeof(*out));
    out->base = base;
    out->stack_size = cfg->stack_size_override ? cfg->stack_size_override
                      : (elf->has_resources && elf->note_stack_size) ? elf->note_stack_size
                                                                     : HL_DEFAULT_GUEST_STACK_SIZE;
    out->heap_size = cfg->heap_size_override ? cfg->heap_size_override
                     : (elf->has_resources && elf->note_heap_size) ? elf->note_heap_size
                                                                   : HL_DEFAULT_GUEST_HEAP_SIZE;
    const uint64_t cap = HL_CONFIG_MAX_TOTAL_MEMORY;
    if (out->stack_size > cap || out->heap_size > cap || elf->span > cap)
        goto too_big;
    uint64_t sizes[HL_REGION_COUNT] = {
        [HL_REGION_PAGE_TABLES] = 0, /* below */
        [HL_REGION_CODE] = elf->span,
        [HL_REGION_PEB] = page_round(sizeof(hl_peb)),
        [HL_REGION_HOST_FUNCTIONS] = page_round(cfg->function_definition_size),
        [HL_REGION_HOST_EXCEPTION] = page_round(cfg->host_exception_size),
        [HL_REGION_GUEST_ERROR] = page_round(cfg->guest_error_buffer_size),
        [HL_REGION_INPUT] = page_round(cfg->input_data_size),
        [HL_REGION_OUTPUT] = page_round(cfg->output_data_size),
        [HL_REGION_PANIC_CONTEXT] = page_round(cfg->guest_panic_context_buffer_size),
        [HL_REGION_HEAP] = page_round(out->heap_size),
        [HL_REGION_STACK_GUARD] = PAGE,
        [HL_REGION_STACK] = page_round(out->stack_size),
        [HL_REGION_KERNEL_STACK_GUARD] = PAGE,
        [HL_REGION_KERNEL_STACK] = page_round(cfg->kernel_stack_size),
        [HL_REGION_BOOT_STACK_GUARD] = PAGE,
        [HL_REGION_BOOT_STACK] = PAGE,
    };
    uint64_t rest = 0;
    for (int i = 0; i < HL_REGION_COUNT; i++) {
        if (sizes[i] > cap)
            goto too_big;
        rest += sizes[i]; /* at most 16 terms of at most 1 GiB: no overflow */
    }
    /* the page tables map everything up to the end, themselves included */
    uint64_t pt = 0, next = PAGE * system_pages(base + rest);
    while (next != pt) { /* grows monotonically and is bounded: reaches its fixed point quickly */
        pt = next;
        next = PAGE * system_pages(base + rest + pt);
    }
    sizes[HL_REGION_PAGE_TABLES] = pt;
    if (rest + pt > cap)
        goto too_big;
    uint64_t off = 0;
    for (int i = 0; i < HL_REGION_COUNT; i++) {
        out->region[i].offset = off;
        out->region[i].size = sizes[i];
        off += sizes[i];
    }
    out->total_size = off;
    return HL_OK;
too_big:
    return hl_errorf(err, HL_E_LAYOUT,
                     "the sandbox needs more than %llu MiB of guest memory (heap %llu KiB, stack %llu KiB, "
                     "guest image %llu KiB, input %llu KiB, output %llu KiB): lower heap_size_override, "
                     "stack_size_override or the buffer sizes",
                     (unsigned long long)(cap >> 20), (unsigned long long)(out->heap_size >> 10),
                     (unsigned long long)(out->stack_size >> 10), (unsigned long long)(elf->span >> 10),
                     (unsigned long long)(cfg->input_data_size >> 10),
                     (unsigned long long)(cfg->output_data_size >> 10));
}

static hl_region peb_region(const hl_layout *l, hl_region_id id, uint64_t size)
{
    hl_region r = {hl_layout_addr(l, id), size};
    return r;
}

void hl_layout_peb(const hl_config *c, const hl_layout *l, hl_peb *peb)
{
    memset(peb, 0, sizeof(*peb));
    peb->magic = HL_PEB_MAGIC;
    peb->abi_version = HL_ABI_VERSION;
    peb->run_mode = c->execution_mode == HL_MODE_RUN_IN_PROCESS ? HL_RUN_IN_PROCESS : HL_RUN_HYPERVISOR;
    peb->base = l->base;
    peb->total_size = l->total_size;
    peb->code = peb_region(l, HL_REGION_CODE, l->region[HL_REGION_CODE].size);
    peb->host_function_definitions = peb_region(l, HL_REGION_HOST_FUNCTIONS, c->function_definition_size);
    peb->host_exception = peb_region(l, HL_REGION_HOST_EXCEPTION, c->host_exception_size);
    peb->guest_error = peb_region(l, HL_REGION_GUEST_ERROR, c->guest_error_buffer_size);
    peb->input = peb_region(l, HL_REGION_INPUT, c->input_data_size);
    peb->output = peb_region(l, HL_REGION_OUTPUT, c->output_data_size);
    peb->panic_context = peb_region(l, HL_REGION_PANIC_CONTEXT, c->guest_panic_context_buffer_size);
    peb->heap = peb_region(l, HL_REGION_HEAP, l->region[HL_REGION_HEAP].size);
    peb->stack = peb_region(l, HL_REGION_STACK, l->region[HL_REGION_STACK].size);
    peb->kernel_stack = peb_region(l, HL_REGION_KERNEL_STACK, l->region[HL_REGION_KERNEL_STACK].size);
    peb->stack_cookie_addr = hl_layout_addr(l, HL_REGION_STACK);
}
