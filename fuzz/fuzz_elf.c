/* fuzz_elf.c - libFuzzer target: hl_elf_parse on arbitrary bytes, then hl_elf_load of what it accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <elf.h>

#include "../src/sandbox/elf.h" /* the fuzz targets get only the public include path */

/* Images larger than this are not loaded (a valid header may claim up to 1 TiB of span). */
#define FUZZ_MAX_SPAN (64ull << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The bytes the parser may look at: the ELF header, the program headers and the file bytes of
 * the loadable, dynamic and note segments (section headers are never needed). */
static uint64_t bytes_needed(const uint8_t *data)
{
    Elf64_Ehdr e;
    memcpy(&e, data, sizeof(e));
    uint64_t need = sizeof(e), end = e.e_phoff + (uint64_t)e.e_phnum * sizeof(Elf64_Phdr);
    if (end > need)
        need = end;
    for (uint16_t i = 0; i < e.e_phnum; i++) {
        Elf64_Phdr p;
        memcpy(&p, data + e.e_phoff + (uint64_t)i * sizeof(p), sizeof(p));
        if ((p.p_type == PT_LOAD || p.p_type == PT_DYNAMIC || p.p_type == PT_NOTE) && p.p_offset + p.p_filesz > need)
            need = p.p_offset + p.p_filesz;
    }
    return need;
}

/* An accepted image cut right after its last needed byte parses the same; one byte less fails. */
static void check_truncation(const uint8_t *data, size_t size, const hl_elf_info *info)
{
    uint64_t need = bytes_needed(data);
    if (need > size)
        abort();
    uint8_t *cut = malloc(need);
    if (!cut)
        return;
    memcpy(cut, data, need);
    hl_elf_info again;
    hl_error err = HL_ERROR_INIT;
    if (hl_elf_parse(cut, need, &again, &err) != HL_OK || memcmp(&again, info, sizeof(again)) != 0)
        abort();
    if (hl_elf_parse(cut, need - 1, &again, &err) != HL_E_ELF)
        abort();
    free(cut);
}

/* Without relocations the loaded image is exactly the segments' file bytes, zero elsewhere. */
static void check_plain_copy(const hl_elf_info *info, const uint8_t *data, const uint8_t *dst)
{
    uint8_t *want = calloc(1, info->span);
    if (!want)
        return;
    for (size_t i = 0; i < info->nsegs; i++)
        memcpy(want + info->segs[i].vaddr - info->min_vaddr, data + info->segs[i].offset, info->segs[i].filesz);
    if (memcmp(want, dst, info->span) != 0)
        abort();
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hl_elf_info info;
    hl_error err = HL_ERROR_INIT;
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
    check_truncation(data, size, &info);
    if (info.span > FUZZ_MAX_SPAN)
        return 0;
    uint8_t *dst = calloc(1, info.span);
    if (!dst)
        return 0;
    hl_status st = hl_elf_load(&info, data, size, dst, info.span, 0x200000, &err);
    if (st != HL_OK && st != HL_E_ELF)
        abort();
    if (info.rela_size == 0) {
        if (st != HL_OK)
            abort();
        check_plain_copy(&info, data, dst);
    }
    /* a region one byte short is always refused */
    if (hl_elf_load(&info, data, size, dst, info.span - 1, 0x200000, &err) != HL_E_ELF)
        abort();
    free(dst);
    return 0;
}
