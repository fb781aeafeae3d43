/* fuzz_elf.c - libFuzzer target: hl_elf_parse on arbitrary bytes, then hl_elf_load of what it accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/sandbox/elf.h" /* the fuzz targets get only the public include path */

/* Images larger than this are not loaded (a valid header may claim up to 1 TiB of span). */
#define FUZZ_MAX_SPAN (64ull << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hl_elf_info info;
    hl_error err;
    if (hl_elf_parse(data, size, &info, &err) != HL_OK) {
        if (err.status != HL_E_ELF || memchr(err.message, 0, sizeof(err.message)) == NULL)
            abort();
        return 0;
    }
    /* what the parser promises about an accepted image */
    if (info.nsegs == 0 || info.nsegs > HL_ELF_MAX_SEGMENTS || info.min_vaddr % 4096 || info.span % 4096 ||
        info.span == 0)
        abort();
    int entry_ok = 0;
    for (size_t i = 0; i < info.nsegs; i++) {
        const hl_elf_segment *s = &info.segs[i];
        if (s->filesz > s->memsz || s->offset + s->filesz > size || s->vaddr < info.min_vaddr ||
            s->vaddr + s->memsz > info.min_vaddr + info.span)
            abort();
        if ((s->flags & HL_ELF_SEG_W) && (s->flags & HL_ELF_SEG_X))
            abort();
        if ((s->flags & HL_ELF_SEG_X) && info.entry >= s->vaddr && info.entry < s->vaddr + s->memsz)
            entry_ok = 1;
    }
    if (!entry_ok)
        abort();
    if (info.span > FUZZ_MAX_SPAN)
        return 0;
    uint8_t *dst = calloc(1, info.span);
    if (!dst)
        return 0;
    hl_status st = hl_elf_load(&info, data, size, dst, info.span, 0x200000, &err);
    if (st != HL_OK && st != HL_E_ELF)
        abort();
    /* a region one byte short is always refused */
    if (hl_elf_load(&info, data, size, dst, info.span - 1, 0x200000, &err) != HL_E_ELF)
        abort();
    free(dst);
    return 0;
}
