/* perms.c - decides the guest's permission for every page of the sandbox, for both backends. */
#include "backend/perms.h"

#include <string.h>

#define PAGE 4096ull

static void fill(uint8_t *perms, const hl_layout_region *r, uint8_t perm)
{
    memset(perms + r->offset / PAGE, perm, r->size / PAGE);
}

void hl_backend_page_perms(const hl_layout *l, const hl_elf_info *elf, int system_exec, uint8_t *perms)
{
    const uint8_t ro = HL_PERM_PRESENT, rw = HL_PERM_PRESENT | HL_PERM_WRITE;
    memset(perms, 0, l->total_size / PAGE);
    const hl_layout_region *r = l->region;
    fill(perms, &r[HL_REGION_PAGE_TABLES], ro);
    if (system_exec) /* the last page of the region holds the exception stubs */
        perms[(r[HL_REGION_PAGE_TABLES].offset + r[HL_REGION_PAGE_TABLES].size) / PAGE - 1] = ro | HL_PERM_EXEC;
    for (size_t i = 0; i < elf->nsegs; i++) {
        const hl_elf_segment *s = &elf->segs[i];
        uint64_t start = (s->vaddr - elf->min_vaddr) / PAGE;
        uint64_t end = (s->vaddr - elf->min_vaddr + s->memsz + PAGE - 1) / PAGE;
        uint8_t p = HL_PERM_PRESENT | ((s->flags & HL_ELF_SEG_W) ? HL_PERM_WRITE : 0) |
                    ((s->flags & HL_ELF_SEG_X) ? HL_PERM_EXEC : 0);
        memset(perms + r[HL_REGION_CODE].offset / PAGE + start, p, end - start);
    }
    static const hl_region_id writable[] = {HL_REGION_PEB,   HL_REGION_GUEST_ERROR,   HL_REGION_INPUT,
                                            HL_REGION_OUTPUT, HL_REGION_PANIC_CONTEXT, HL_REGION_HEAP,
                                            HL_REGION_STACK,  HL_REGION_KERNEL_STACK,  HL_REGION_BOOT_STACK};
    for (size_t i = 0; i < sizeof(writable) / sizeof(writable[0]); i++)
        fill(perms, &r[writable[i]], rw);
    fill(perms, &r[HL_REGION_HOST_FUNCTIONS], ro);
    fill(perms, &r[HL_REGION_HOST_EXCEPTION], ro);
    /* guard pages stay 0: not mapped */
}
