/* elf.h - loading static x86-64 PIE guests: parse and check every header, copy, relocate. */
#ifndef HL_SANDBOX_ELF_H
#define HL_SANDBOX_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "hyperlight/error.h"

#define HL_ELF_MAX_SEGMENTS 16
#define HL_ELF_SEG_R 4u
#define HL_ELF_SEG_W 2u
#define HL_ELF_SEG_X 1u

typedef struct hl_elf_segment {
    uint64_t vaddr, memsz, offset, filesz;
    uint32_t flags; /* HL_ELF_SEG_R/W/X */
} hl_elf_segment;

typedef struct hl_elf_info {
    uint64_t entry;            /* virtual address, inside an executable segment */
    uint64_t min_vaddr;        /* page-aligned start of the loaded span */
    uint64_t span;             /* page-aligned size of the loaded span */
    size_t nsegs;
    hl_elf_segment segs[HL_ELF_MAX_SEGMENTS];
    uint64_t rela_vaddr, rela_size; /* R_X86_64_RELATIVE relocations (0 size: none) */
    uint64_t phdr_vaddr;        /* the program headers' virtual address, when phdr_loaded */
    uint64_t phnum;
    int phdr_loaded;            /* a loaded segment holds the program headers (AT_PHDR of a core) */
    int has_resources;          /* the guest's .note.hyperlight */
    uint64_t note_stack_size, note_heap_size;
} hl_elf_info;

/* Checks an image: a 64-bit little-endian x86-64 static PIE (ET_DYN, no interpreter, no shared
 * libraries, only relative relocations), every header inside the file with overflow checks, no
 * segment both writable and executable. Fills info or returns HL_E_ELF with the reason. */
hl_status hl_elf_parse(const uint8_t *img, size_t len, hl_elf_info *info, hl_error *err);

/* Copies the segments into dst (the code region, dst_size bytes, zeroed by the caller) for
 * execution at guest address load_addr, and applies the relocations. */
hl_status hl_elf_load(const hl_elf_info *info, const uint8_t *img, size_t len, uint8_t *dst,
                      uint64_t dst_size, uint64_t load_addr, hl_error *err);

#endif
