/* elf.c - parses, checks, copies and relocates static x86-64 PIE guest binaries. */
#include "sandbox/elf.h"

#include <elf.h>
#include <string.h>

#include "hyperlight/abi.h"
#include "util/errfmt.h"

#define PAGE 4096ull

static int add_overflows(uint64_t a, uint64_t b, uint64_t *sum) { return __builtin_add_overflow(a, b, sum); }

#define bad(err, ...) hl_errorf((err), HL_E_ELF, __VA_ARGS__)
typedef unsigned long long ull;

static hl_status parse_note(const uint8_t *img, uint64_t off, uint64_t size, hl_elf_info *info, hl_error *err)
{
    uint64_t pos = 0;
    while (size - pos >= 12) {
        uint32_t namesz, descsz, type;
        memcpy(&namesz, img + off + pos, 4);
        memcpy(&descsz, img + off + pos + 4, 4);
        memcpy(&type, img + off + pos + 8, 4);
        uint64_t name_pad = ((uint64_t)namesz + 3) & ~3ull, desc_pad = ((uint64_t)descsz + 3) & ~3ull;
        if (name_pad > size - pos - 12 || desc_pad > size - pos - 12 - name_pad)
            return bad(err, "malformed ELF note at file offset %llu", (ull)(off + pos));
        const uint8_t *name = img + off + pos + 12, *desc = name + name_pad;
        if (namesz == sizeof(HL_NOTE_NAME) && memcmp(name, HL_NOTE_NAME, namesz) == 0 &&
            type == HL_NOTE_TYPE_RESOURCES) {
            if (descsz != sizeof(hl_note_resources))
                return bad(err, "the Hyperlight resources note has %llu bytes, expected %llu", (ull)(descsz), (ull)(sizeof(hl_note_resources)));
            hl_note_resources r;
            memcpy(&r, desc, sizeof(r));
            info->has_resources = 1;
            info->note_stack_size = r.stack_size;
            info->note_heap_size = r.heap_size;
        }
        pos += 12 + name_pad + desc_pad;
    }
    return HL_OK;
}

static hl_status parse_dynamic(const uint8_t *img, uint64_t off, uint64_t size, hl_elf_info *info, hl_error *err)
{
    uint64_t relaent = sizeof(Elf64_Rela), pltrelsz = 0;
    for (uint64_t pos = 0; size - pos >= sizeof(Elf64_Dyn); pos += sizeof(Elf64_Dyn)) {
        Elf64_Dyn d;
        memcpy(&d, img + off + pos, sizeof(d));
        switch (d.d_tag) {
        case DT_NULL:
            pos = size - sizeof(Elf64_Dyn); /* ends the loop */
            break;
        case DT_NEEDED:
            return bad(err, "the guest needs shared libraries; link it with -static-pie");
        case DT_RELA: info->rela_vaddr = d.d_un.d_ptr; break;
        case DT_RELASZ: info->rela_size = d.d_un.d_val; break;
        case DT_RELAENT: relaent = d.d_un.d_val; break;
        case DT_PLTRELSZ: pltrelsz = d.d_un.d_val; break;
        case DT_REL:
        case DT_RELSZ:
            return bad(err, "REL relocations are not supported (x86-64 uses RELA)");
#ifdef DT_RELR
        case DT_RELR:
            return bad(err, "RELR relocations are not supported: link without -z pack-relative-relocs");
#endif
        default:
            break;
        }
    }
    if (relaent != sizeof(Elf64_Rela))
        return bad(err, "unexpected RELA entry size %llu (expected %llu)", (ull)(relaent), (ull)(sizeof(Elf64_Rela)));
    if (pltrelsz)
        return bad(err, "the guest has PLT relocations (%llu bytes): it must not import symbols", (ull)(pltrelsz));
    if (info->rela_size % sizeof(Elf64_Rela))
        return bad(err, "relocation table size %llu is not a multiple of %llu", (ull)(info->rela_size), (ull)(sizeof(Elf64_Rela)));
    return HL_OK;
}

hl_status hl_elf_parse(const uint8_t *img, size_t len, hl_elf_info *info, hl_error *err)
{
    memset(info, 0, sizeof(*info));
    Elf64_Ehdr eh;
    if (!img || len < sizeof(eh))
        return bad(err, "not an ELF file: %llu bytes is too small", (ull)(len));
    memcpy(&eh, img, sizeof(eh));
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
        return bad(err, "not an ELF file (bad magic)");
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64)
        return bad(err, "not a 64-bit little-endian x86-64 ELF (machine %llu)", (ull)(eh.e_machine));
    if (eh.e_type == ET_EXEC)
        return bad(err, "the guest is not position independent: build it with -static-pie");
    if (eh.e_type != ET_DYN)
        return bad(err, "unsupported ELF type %llu (expected a static PIE)", (ull)(eh.e_type));
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0)
        return bad(err, "bad program header table (entry size %llu, %llu entries)", (ull)(eh.e_phentsize), (ull)(eh.e_phnum));
    uint64_t ph_end;
    if (add_overflows(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), &ph_end) || ph_end > len)
        return bad(err, "program headers at offset %llu run past the end of the file (%llu bytes)", (ull)(eh.e_phoff), (ull)(len));
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint16_t i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, img + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
        uint64_t fend, mend;
        if (ph.p_type == PT_LOAD || ph.p_type == PT_DYNAMIC || ph.p_type == PT_NOTE) {
            if (add_overflows(ph.p_offset, ph.p_filesz, &fend) || fend > len)
                return bad(err, "segment %llu lies outside the file (ends at %llu)", (ull)(i), (ull)(fend));
        }
        if (ph.p_type == PT_INTERP)
            return bad(err, "the guest is dynamically linked (it names an interpreter); link it with -static-pie");
        if (ph.p_type == PT_DYNAMIC) {
            hl_status st = parse_dynamic(img, ph.p_offset, ph.p_filesz, info, err);
            if (st)
                return st;
        } else if (ph.p_type == PT_NOTE) {
            hl_status st = parse_note(img, ph.p_offset, ph.p_filesz, info, err);
            if (st)
                return st;
        } else if (ph.p_type == PT_LOAD) {
            if (ph.p_memsz == 0)
                continue;
            if (info->nsegs == HL_ELF_MAX_SEGMENTS)
                return bad(err, "more than %llu loadable segments", (ull)(HL_ELF_MAX_SEGMENTS));
            if (ph.p_filesz > ph.p_memsz)
                return bad(err, "segment %llu has more file bytes than memory bytes (%llu)", (ull)(i), (ull)(ph.p_filesz));
            if (add_overflows(ph.p_vaddr, ph.p_memsz, &mend) || mend > (1ull << 40))
                return bad(err, "segment %llu has an impossible address %llu", (ull)(i), (ull)(ph.p_vaddr));
            if ((ph.p_flags & PF_W) && (ph.p_flags & PF_X))
                return bad(err, "segment %llu at %#llx is both writable and executable (W+X is refused)", (ull)(i), (ull)(ph.p_vaddr));
            if ((ph.p_vaddr - ph.p_offset) % PAGE)
                return bad(err, "segment %llu is not page-aligned (vaddr %#llx)", (ull)(i), (ull)(ph.p_vaddr));
            hl_elf_segment *s = &info->segs[info->nsegs++];
            s->vaddr = ph.p_vaddr;
            s->memsz = ph.p_memsz;
            s->offset = ph.p_offset;
            s->filesz = ph.p_filesz;
            s->flags = ((ph.p_flags & PF_R) ? HL_ELF_SEG_R : 0) | ((ph.p_flags & PF_W) ? HL_ELF_SEG_W : 0) |
                       ((ph.p_flags & PF_X) ? HL_ELF_SEG_X : 0);
            if (ph.p_vaddr < lo)
                lo = ph.p_vaddr;
            if (mend > hi)
                hi = mend;
        }
    }
    if (info->nsegs == 0)
        return bad(err, "the ELF file has no loadable segments");
    info->min_vaddr = lo & ~(PAGE - 1);
    info->span = ((hi + PAGE - 1) & ~(PAGE - 1)) - info->min_vaddr;
    /* segments must not overlap (in pages), or one would overwrite another's permissions */
    for (size_t a = 0; a < info->nsegs; a++)
        for (size_t b = a + 1; b < info->nsegs; b++) {
            uint64_t a0 = info->segs[a].vaddr & ~(PAGE - 1), a1 = info->segs[a].vaddr + info->segs[a].memsz;
            uint64_t b0 = info->segs[b].vaddr & ~(PAGE - 1), b1 = info->segs[b].vaddr + info->segs[b].memsz;
            if (a0 < b1 && b0 < a1)
                return bad(err, "loadable segments %llu and %llu overlap", (ull)(a), (ull)(b));
        }
    int entry_ok = 0;
    for (size_t i = 0; i < info->nsegs; i++)
        if ((info->segs[i].flags & HL_ELF_SEG_X) && eh.e_entry >= info->segs[i].vaddr &&
            eh.e_entry < info->segs[i].vaddr + info->segs[i].memsz)
            entry_ok = 1;
    if (!entry_ok)
        return bad(err, "the entry point %#llx is not in an executable segment", (ull)(eh.e_entry));
    info->entry = eh.e_entry;
    info->phnum = eh.e_phnum;
    for (size_t i = 0; i < info->nsegs; i++) /* the segment whose file bytes hold the headers */
        if (eh.e_phoff >= info->segs[i].offset && ph_end <= info->segs[i].offset + info->segs[i].filesz) {
            info->phdr_vaddr = info->segs[i].vaddr + (eh.e_phoff - info->segs[i].offset);
            info->phdr_loaded = 1;
            break;
        }
    if (info->rela_size) {
        uint64_t rend;
        if (info->rela_vaddr < info->min_vaddr || add_overflows(info->rela_vaddr, info->rela_size, &rend) ||
            rend > info->min_vaddr + info->span)
            return bad(err, "the relocation table at %#llx (%llu bytes) is outside the image", (ull)(info->rela_vaddr), (ull)(info->rela_size));
    }
    return HL_OK;
}

hl_status hl_elf_load(const hl_elf_info *info, const uint8_t *img, size_t len, uint8_t *dst,
                      uint64_t dst_size, uint64_t load_addr, hl_error *err)
{
    if (info->span > dst_size)
        return bad(err, "the guest image (%llu bytes) does not fit its region (%llu bytes)", (ull)(info->span), (ull)(dst_size));
    for (size_t i = 0; i < info->nsegs; i++) {
        const hl_elf_segment *s = &info->segs[i];
        if (s->offset + s->filesz > len)
            return bad(err, "segment %llu lies outside the file", (ull)(i));
        memcpy(dst + (s->vaddr - info->min_vaddr), img + s->offset, s->filesz);
    }
    uint64_t bias = load_addr - info->min_vaddr;
    uint64_t n = info->rela_size / sizeof(Elf64_Rela);
    for (uint64_t i = 0; i < n; i++) {
        Elf64_Rela r;
        memcpy(&r, dst + (info->rela_vaddr - info->min_vaddr) + i * sizeof(r), sizeof(r));
        uint32_t type = ELF64_R_TYPE(r.r_info);
        if (type == R_X86_64_NONE)
            continue;
        if (type != R_X86_64_RELATIVE)
            return bad(err, "unsupported relocation type %llu (entry %llu): guests may only use relative relocations", (ull)(type), (ull)(i));
        if (r.r_offset < info->min_vaddr || r.r_offset - info->min_vaddr > info->span - 8)
            return bad(err, "relocation %llu targets %#llx, outside the image", (ull)(i), (ull)(r.r_offset));
        uint64_t value = bias + (uint64_t)r.r_addend;
        memcpy(dst + (r.r_offset - info->min_vaddr), &value, 8);
    }
    return HL_OK;
}
