/* test_elf.c - unit tests of the guest ELF loader: real guests, exact loading and relocation, hostile images. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <elf.h>

#include "hyperlight/abi.h"
#include "sandbox/elf.h"

#define PAGE 4096ull
#define GUESTS HL_BINARY_DIR "/guests/"

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (build the guests first)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* The pristine simpleguest image and a scratch copy each test corrupts. */
static uint8_t *g_orig, *g_img;
static size_t g_len;

static int setup(void **state)
{
    (void)state;
    g_orig = read_all(GUESTS "simpleguest", &g_len);
    g_img = malloc(g_len);
    return g_img ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(g_orig);
    free(g_img);
    return 0;
}

static void reset(void) { memcpy(g_img, g_orig, g_len); }

static Elf64_Ehdr ehdr(void)
{
    Elf64_Ehdr e;
    memcpy(&e, g_img, sizeof(e));
    return e;
}
static void set_ehdr(const Elf64_Ehdr *e) { memcpy(g_img, e, sizeof(*e)); }

static Elf64_Phdr phdr(int i)
{
    Elf64_Phdr p;
    memcpy(&p, g_img + ehdr().e_phoff + (size_t)i * sizeof(p), sizeof(p));
    return p;
}
static void set_phdr(int i, const Elf64_Phdr *p) { memcpy(g_img + ehdr().e_phoff + (size_t)i * sizeof(*p), p, sizeof(*p)); }

/* Index of the n-th program header of type `type` (n from 0), or -1. */
static int find_phdr(uint32_t type, int n)
{
    for (int i = 0; i < ehdr().e_phnum; i++)
        if (phdr(i).p_type == type && n-- == 0)
            return i;
    return -1;
}

/* File offset of the dynamic entry with tag `tag`. */
static size_t find_dyn(int64_t tag)
{
    Elf64_Phdr d = phdr(find_phdr(PT_DYNAMIC, 0));
    for (size_t off = d.p_offset; off + sizeof(Elf64_Dyn) <= d.p_offset + d.p_filesz; off += sizeof(Elf64_Dyn)) {
        Elf64_Dyn e;
        memcpy(&e, g_img + off, sizeof(e));
        if (e.d_tag == tag)
            return off;
    }
    fail_msg("no dynamic tag %lld", (long long)tag);
    return 0;
}
static void set_dyn(size_t off, int64_t tag, uint64_t val)
{
    Elf64_Dyn e = {.d_tag = tag, .d_un.d_val = val};
    memcpy(g_img + off, &e, sizeof(e));
}

/* Parses g_img (len bytes, in an exact-size heap copy so ASan sees over-reads) and expects
 * HL_E_ELF with `phrase` in the message. */
static void expect_bad_len(size_t len, const char *phrase)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, g_img, len);
    hl_elf_info info;
    hl_error err = HL_ERROR_INIT;
    hl_status st = hl_elf_parse(copy, len, &info, &err);
    free(copy);
    if (st != HL_E_ELF || err.status != HL_E_ELF || (phrase && !strstr(err.message, phrase)))
        fail_msg("len %zu: status %d, message \"%s\", expected \"%s\"", len, st, err.message, phrase ? phrase : "");
}
static void expect_bad(const char *phrase) { expect_bad_len(g_len, phrase); }

static void parse_ok(hl_elf_info *info)
{
    hl_error err = HL_ERROR_INIT;
    hl_status st = hl_elf_parse(g_img, g_len, info, &err);
    if (st != HL_OK)
        fail_msg("parse failed: %s", err.message);
}

static void test_real_guests(void **state)
{
    (void)state;
    static const char *const names[] = {"simpleguest", "callbackguest", "spininit", "demoguest"};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        char path[512];
        snprintf(path, sizeof(path), GUESTS "%s", names[k]);
        size_t len;
        uint8_t *img = read_all(path, &len);
        hl_elf_info info;
        hl_error err = HL_ERROR_INIT;
        assert_int_equal(hl_elf_parse(img, len, &info, &err), HL_OK);
        Elf64_Ehdr e;
        memcpy(&e, img, sizeof(e));
        assert_int_equal(info.entry, e.e_entry);
        assert_int_equal(info.min_vaddr % PAGE, 0);
        assert_int_equal(info.span % PAGE, 0);
        /* every PT_LOAD with memory is a segment, in order, with its flags translated */
        size_t n = 0;
        uint64_t hi = 0;
        for (int i = 0; i < e.e_phnum; i++) {
            Elf64_Phdr p;
            memcpy(&p, img + e.e_phoff + (size_t)i * sizeof(p), sizeof(p));
            if (p.p_type != PT_LOAD || p.p_memsz == 0)
                continue;
            const hl_elf_segment *s = &info.segs[n++];
            assert_int_equal(s->vaddr, p.p_vaddr);
            assert_int_equal(s->memsz, p.p_memsz);
            assert_int_equal(s->offset, p.p_offset);
            assert_int_equal(s->filesz, p.p_filesz);
            assert_int_equal(s->flags, ((p.p_flags & PF_R) ? HL_ELF_SEG_R : 0) | ((p.p_flags & PF_W) ? HL_ELF_SEG_W : 0) |
                                           ((p.p_flags & PF_X) ? HL_ELF_SEG_X : 0));
            assert_false((s->flags & HL_ELF_SEG_W) && (s->flags & HL_ELF_SEG_X));
            if (p.p_vaddr + p.p_memsz > hi)
                hi = p.p_vaddr + p.p_memsz;
        }
        assert_int_equal(info.nsegs, n);
        assert_int_equal(info.min_vaddr + info.span, (hi + PAGE - 1) & ~(PAGE - 1));
        assert_true(info.rela_size > 0 && info.rela_size % sizeof(Elf64_Rela) == 0);
        free(img);
    }
    /* simpleguest declares HLG_RESOURCES(65536, 131072) */
    reset();
    hl_elf_info info;
    parse_ok(&info);
    assert_true(info.has_resources);
    assert_int_equal(info.note_stack_size, 65536);
    assert_int_equal(info.note_heap_size, 131072);
    assert_int_equal(info.min_vaddr, 0);
    assert_int_equal(info.nsegs, 4);
}

/* Builds what a correct loader must produce: segments copied, the rest zero, every RELATIVE
 * relocation written as load_addr - min_vaddr + addend. */
static void expected_image(const hl_elf_info *info, uint64_t load_addr, uint8_t *exp, size_t *nrel)
{
    memset(exp, 0, info->span);
    for (size_t i = 0; i < info->nsegs; i++)
        memcpy(exp + info->segs[i].vaddr - info->min_vaddr, g_img + info->segs[i].offset, info->segs[i].filesz);
    *nrel = 0;
    for (uint64_t off = 0; off < info->rela_size; off += sizeof(Elf64_Rela)) {
        Elf64_Rela r;
        memcpy(&r, exp + info->rela_vaddr - info->min_vaddr + off, sizeof(r));
        if (ELF64_R_TYPE(r.r_info) != R_X86_64_RELATIVE)
            continue;
        uint64_t v = load_addr - info->min_vaddr + (uint64_t)r.r_addend;
        memcpy(exp + r.r_offset - info->min_vaddr, &v, 8);
        (*nrel)++;
    }
}

static void test_load_exact(void **state)
{
    (void)state;
    reset();
    hl_elf_info info;
    parse_ok(&info);
    static const uint64_t bases[] = {0, 0x200000 + 0x8000, 0x7f0012345000ull};
    for (size_t b = 0; b < 3; b++) {
        uint8_t *dst = calloc(1, info.span), *exp = malloc(info.span);
        hl_error err = HL_ERROR_INIT;
        assert_int_equal(hl_elf_load(&info, g_img, g_len, dst, info.span, bases[b], &err), HL_OK);
        size_t nrel;
        expected_image(&info, bases[b], exp, &nrel);
        assert_int_equal(nrel, info.rela_size / sizeof(Elf64_Rela)); /* all of simpleguest's are RELATIVE */
        assert_memory_equal(dst, exp, info.span);
        /* spot-check the first relocation independently (.rela.dyn, in the first segment, lies at
         * the same file offset as its address) */
        Elf64_Rela r;
        assert_true(info.rela_vaddr + sizeof(r) <= g_len);
        memcpy(&r, g_img + info.rela_vaddr, sizeof(r));
        uint64_t got;
        memcpy(&got, dst + r.r_offset, 8);
        assert_int_equal(got, bases[b] + (uint64_t)r.r_addend);
        /* the bss is zero */
        const hl_elf_segment *data = &info.segs[info.nsegs - 1];
        for (uint64_t a = data->vaddr + data->filesz; a < data->vaddr + data->memsz; a++)
            assert_int_equal(dst[a - info.min_vaddr], 0);
        free(dst);
        free(exp);
    }
    /* a region one byte smaller than the span is refused */
    uint8_t *dst = calloc(1, info.span);
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_elf_load(&info, g_img, g_len, dst, info.span - 1, 0, &err), HL_E_ELF);
    assert_non_null(strstr(err.message, "does not fit its region"));
    /* an info whose segment runs past the file (not from this image) is refused, not copied */
    hl_elf_info bad = info;
    bad.segs[1].filesz = g_len;
    assert_int_equal(hl_elf_load(&bad, g_img, g_len, dst, info.span, 0, &err), HL_E_ELF);
    assert_non_null(strstr(err.message, "outside the file"));
    free(dst);
}

static void test_truncated(void **state)
{
    (void)state;
    reset();
    Elf64_Ehdr e = ehdr();
    size_t ph_end = e.e_phoff + (size_t)e.e_phnum * sizeof(Elf64_Phdr);
    expect_bad_len(0, "too small");
    for (size_t len = 1; len < sizeof(Elf64_Ehdr); len++)
        expect_bad_len(len, "too small");
    for (size_t len = sizeof(Elf64_Ehdr); len < ph_end; len++)
        expect_bad_len(len, "run past the end of the file");
    /* past the headers, every cut before the last file byte a segment needs still fails */
    uint64_t need = 0;
    for (int i = 0; i < e.e_phnum; i++) {
        Elf64_Phdr p = phdr(i);
        if ((p.p_type == PT_LOAD || p.p_type == PT_DYNAMIC || p.p_type == PT_NOTE) && p.p_offset + p.p_filesz > need)
            need = p.p_offset + p.p_filesz;
    }
    for (size_t len = ph_end; len < need; len++)
        expect_bad_len(len, "outside the file");
    hl_elf_info info;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_elf_parse(g_img, need, &info, &err), HL_OK); /* section headers are not needed */
    assert_int_equal(hl_elf_parse(NULL, 100, &info, &err), HL_E_ELF);
}

static void test_ident(void **state)
{
    (void)state;
    reset();
    g_img[1] = 'F';
    expect_bad("bad magic");
    reset();
    g_img[EI_CLASS] = ELFCLASS32;
    expect_bad("64-bit little-endian x86-64");
    reset();
    g_img[EI_DATA] = ELFDATA2MSB;
    expect_bad("64-bit little-endian x86-64");
    Elf64_Ehdr e;
    reset();
    e = ehdr();
    e.e_machine = EM_AARCH64;
    set_ehdr(&e);
    expect_bad("machine 183");
    reset();
    e = ehdr();
    e.e_type = ET_EXEC;
    set_ehdr(&e);
    expect_bad("build it with -static-pie");
    reset();
    e = ehdr();
    e.e_type = ET_REL;
    set_ehdr(&e);
    expect_bad("unsupported ELF type 1");
    reset();
    e = ehdr();
    e.e_phentsize = 32;
    set_ehdr(&e);
    expect_bad("bad program header table");
    reset();
    e = ehdr();
    e.e_phnum = 0;
    set_ehdr(&e);
    expect_bad("bad program header table");
}

static void test_phdr_bounds(void **state)
{
    (void)state;
    Elf64_Ehdr e;
    reset();
    e = ehdr();
    e.e_phoff = UINT64_MAX - 8; /* phoff + phnum*56 wraps */
    set_ehdr(&e);
    expect_bad("run past the end of the file");
    reset();
    e = ehdr();
    e.e_phoff = g_len - sizeof(Elf64_Phdr) * e.e_phnum + 1;
    set_ehdr(&e);
    expect_bad("run past the end of the file");
    reset();
    e = ehdr();
    e.e_phnum = 0xFFFF;
    set_ehdr(&e);
    expect_bad("run past the end of the file");

    int text = find_phdr(PT_LOAD, 1);
    Elf64_Phdr p;
    reset();
    p = phdr(text);
    p.p_filesz = g_len - p.p_offset + 1; /* one byte past EOF */
    p.p_memsz = p.p_filesz;
    set_phdr(text, &p);
    expect_bad("segment 1 lies outside the file");
    reset();
    p = phdr(text);
    p.p_offset = UINT64_MAX - 0x10; /* offset + filesz wraps */
    set_phdr(text, &p);
    expect_bad("outside the file");
    /* the same for the dynamic and note segments, which are read from the file */
    reset();
    p = phdr(find_phdr(PT_DYNAMIC, 0));
    p.p_offset = g_len - 8;
    set_phdr(find_phdr(PT_DYNAMIC, 0), &p);
    expect_bad("outside the file");
    reset();
    p = phdr(find_phdr(PT_NOTE, 0));
    p.p_filesz = UINT64_MAX;
    set_phdr(find_phdr(PT_NOTE, 0), &p);
    expect_bad("outside the file");
}

static void test_segments(void **state)
{
    (void)state;
    int text = find_phdr(PT_LOAD, 1), ro = find_phdr(PT_LOAD, 2), data = find_phdr(PT_LOAD, 3);
    Elf64_Phdr p;
    reset();
    p = phdr(data);
    p.p_memsz = p.p_filesz - 1;
    set_phdr(data, &p);
    expect_bad("more file bytes than memory bytes");
    reset();
    p = phdr(text);
    p.p_flags = PF_R | PF_W | PF_X;
    set_phdr(text, &p);
    expect_bad("W+X is refused");
    reset();
    p = phdr(data);
    p.p_flags = PF_W | PF_X;
    set_phdr(data, &p);
    expect_bad("W+X is refused");
    reset();
    p = phdr(ro);
    p.p_vaddr = 1ull << 40;
    set_phdr(ro, &p);
    expect_bad("impossible address");
    reset();
    p = phdr(ro);
    p.p_vaddr = UINT64_MAX - PAGE + 1 + (p.p_offset % PAGE); /* vaddr + memsz wraps */
    set_phdr(ro, &p);
    expect_bad("impossible address");
    reset();
    p = phdr(ro);
    p.p_vaddr += 0x10;
    set_phdr(ro, &p);
    expect_bad("not page-aligned");
    /* byte overlap: rodata moved onto the text */
    reset();
    p = phdr(ro);
    p.p_vaddr = phdr(text).p_vaddr;
    set_phdr(ro, &p);
    expect_bad("overlap");
    /* page overlap only: rodata starts after the text's last byte but in the same page */
    reset();
    Elf64_Phdr t = phdr(text);
    p = phdr(ro);
    uint64_t after = t.p_vaddr + t.p_memsz + 0x10;
    p.p_vaddr = after;
    p.p_offset = p.p_offset - p.p_offset % PAGE + after % PAGE;
    assert_true(p.p_offset + p.p_filesz <= g_len);
    assert_int_equal(after / PAGE, (t.p_vaddr + t.p_memsz - 1) / PAGE);
    set_phdr(ro, &p);
    expect_bad("overlap");
    /* a segment with no memory is skipped (its file range is still checked) */
    reset();
    p = phdr(ro);
    p.p_memsz = p.p_filesz = 0;
    set_phdr(ro, &p);
    hl_elf_info info;
    parse_ok(&info);
    assert_int_equal(info.nsegs, 3);
    /* no loadable segment at all */
    reset();
    for (int i = 0; i < ehdr().e_phnum; i++) {
        p = phdr(i);
        if (p.p_type == PT_LOAD) {
            p.p_type = PT_NULL;
            set_phdr(i, &p);
        }
    }
    expect_bad("no loadable segments");
}

static void test_entry_interp(void **state)
{
    (void)state;
    Elf64_Ehdr e;
    reset();
    e = ehdr();
    e.e_entry = phdr(find_phdr(PT_LOAD, 2)).p_vaddr; /* rodata: not executable */
    set_ehdr(&e);
    expect_bad("not in an executable segment");
    reset();
    e = ehdr();
    Elf64_Phdr t = phdr(find_phdr(PT_LOAD, 1));
    e.e_entry = t.p_vaddr + t.p_memsz; /* one past the text */
    set_ehdr(&e);
    expect_bad("not in an executable segment");
    reset();
    e = ehdr();
    e.e_entry = t.p_vaddr + t.p_memsz - 1; /* the last text byte is fine */
    set_ehdr(&e);
    hl_elf_info info;
    parse_ok(&info);
    assert_int_equal(info.entry, t.p_vaddr + t.p_memsz - 1);
    reset();
    int stack = find_phdr(PT_GNU_STACK, 0);
    assert_true(stack >= 0);
    Elf64_Phdr p = phdr(stack);
    p.p_type = PT_INTERP;
    set_phdr(stack, &p);
    expect_bad("names an interpreter");
}

static void test_dynamic(void **state)
{
    (void)state;
    size_t debug_off;
    reset();
    debug_off = find_dyn(DT_DEBUG);
    set_dyn(debug_off, DT_NEEDED, 1);
    expect_bad("needs shared libraries");
    reset();
    set_dyn(debug_off, DT_REL, 0x230);
    expect_bad("REL relocations are not supported");
    reset();
    set_dyn(debug_off, DT_RELSZ, 16);
    expect_bad("REL relocations are not supported");
    reset();
    set_dyn(debug_off, DT_PLTRELSZ, 24);
    expect_bad("PLT relocations");
    reset();
    set_dyn(find_dyn(DT_RELAENT), DT_RELAENT, 16);
    expect_bad("unexpected RELA entry size 16");
#ifdef DT_RELR
    reset();
    set_dyn(debug_off, DT_RELR, 0x230);
    expect_bad("RELR relocations");
#endif
    reset();
    set_dyn(find_dyn(DT_RELASZ), DT_RELASZ, 241);
    expect_bad("not a multiple of 24");
    reset();
    set_dyn(find_dyn(DT_RELA), DT_RELA, 0x100000);
    expect_bad("outside the image");
    reset();
    set_dyn(find_dyn(DT_RELASZ), DT_RELASZ, (UINT64_MAX / 24) * 24); /* rela + size wraps */
    expect_bad("outside the image");
    /* a DT_NULL ends the table: a DT_NEEDED after it is not read */
    reset();
    set_dyn(debug_off, DT_NULL, 0);
    set_dyn(debug_off + sizeof(Elf64_Dyn), DT_NEEDED, 1);
    hl_elf_info info;
    hl_error err = HL_ERROR_INIT;
    hl_status st = hl_elf_parse(g_img, g_len, &info, &err);
    assert_int_equal(st, HL_OK);
}

/* The first relocation entry of the image, in the file (rela vaddr == file offset in simpleguest). */
static size_t rela0(void)
{
    hl_elf_info info;
    parse_ok(&info);
    return (size_t)info.rela_vaddr;
}

static hl_status load_img(hl_error *err)
{
    hl_elf_info info;
    parse_ok(&info);
    uint8_t *dst = calloc(1, info.span);
    hl_status st = hl_elf_load(&info, g_img, g_len, dst, info.span, 0x200000, err);
    free(dst);
    return st;
}

static void set_rela(size_t off, uint64_t where, uint32_t type, int64_t addend)
{
    Elf64_Rela r = {.r_offset = where, .r_info = ELF64_R_INFO(0, type), .r_addend = addend};
    memcpy(g_img + off, &r, sizeof(r));
}

static void test_relocations(void **state)
{
    (void)state;
    hl_error err = HL_ERROR_INIT;
    reset();
    set_rela(rela0(), 0x6000, R_X86_64_64, 0);
    assert_int_equal(load_img(&err), HL_E_ELF);
    assert_non_null(strstr(err.message, "unsupported relocation type 1 (entry 0)"));
    reset();
    set_rela(rela0() + 24, 0x6000, R_X86_64_JUMP_SLOT, 0);
    assert_int_equal(load_img(&err), HL_E_ELF);
    assert_non_null(strstr(err.message, "unsupported relocation type 7 (entry 1)"));
    hl_elf_info info;
    reset();
    parse_ok(&info);
    const uint64_t outside[] = {info.min_vaddr + info.span - 7, info.min_vaddr + info.span - 1,
                                info.min_vaddr + info.span, 0x100000, UINT64_MAX - 7, UINT64_MAX};
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
        reset();
        set_rela(rela0(), outside[i], R_X86_64_RELATIVE, 0);
        assert_int_equal(load_img(&err), HL_E_ELF);
        assert_non_null(strstr(err.message, "outside the image"));
    }
    /* the last 8 bytes of the image are a valid target; R_X86_64_NONE is skipped */
    reset();
    set_rela(rela0(), info.min_vaddr + info.span - 8, R_X86_64_RELATIVE, 0x1234);
    set_rela(rela0() + 24, 0x100000, R_X86_64_NONE, 0);
    uint8_t *dst = calloc(1, info.span);
    parse_ok(&info);
    assert_int_equal(hl_elf_load(&info, g_img, g_len, dst, info.span, 0x10000, &err), HL_OK);
    uint64_t v;
    memcpy(&v, dst + info.span - 8, 8);
    assert_int_equal(v, 0x10000 + 0x1234);
    /* a negative addend */
    reset();
    set_rela(rela0(), 0x6000, R_X86_64_RELATIVE, -0x10);
    memset(dst, 0, info.span);
    assert_int_equal(hl_elf_load(&info, g_img, g_len, dst, info.span, 0x10000, &err), HL_OK);
    memcpy(&v, dst + 0x6000, 8);
    assert_int_equal(v, 0x10000 - 0x10);
    free(dst);
}

static void set_note(size_t off, uint32_t namesz, uint32_t descsz, uint32_t type)
{
    uint32_t h[3] = {namesz, descsz, type};
    memcpy(g_img + off, h, sizeof(h));
}

static void test_notes(void **state)
{
    (void)state;
    int ni = find_phdr(PT_NOTE, 0);
    size_t off;
    reset();
    off = phdr(ni).p_offset;
    set_note(off, 0xFFFFFFFF, 16, 1); /* name padding overflows the segment */
    expect_bad("malformed ELF note");
    reset();
    set_note(off, 11, 0xFFFFFFF0, 1);
    expect_bad("malformed ELF note");
    reset();
    set_note(off, 11, 8, 1);
    expect_bad("resources note has 8 bytes, expected 16");
    reset();
    Elf64_Phdr p = phdr(ni);
    p.p_filesz = 20; /* a header and half a name */
    set_phdr(ni, &p);
    expect_bad("malformed ELF note");
    /* another name or type is ignored; a note segment too short for a header is ignored */
    hl_elf_info info;
    reset();
    g_img[off + 12] = 'h';
    parse_ok(&info);
    assert_false(info.has_resources);
    reset();
    set_note(off, 11, 16, 2);
    parse_ok(&info);
    assert_false(info.has_resources);
    reset();
    p = phdr(ni);
    p.p_filesz = 11;
    set_phdr(ni, &p);
    parse_ok(&info);
    assert_false(info.has_resources);
    /* new sizes are read exactly */
    reset();
    hl_note_resources r = {0x123000, 0x4560000};
    memcpy(g_img + off + 12 + 12, &r, sizeof(r));
    parse_ok(&info);
    assert_true(info.has_resources);
    assert_int_equal(info.note_stack_size, 0x123000);
    assert_int_equal(info.note_heap_size, 0x4560000);
}

/* A synthetic image: n PT_LOAD segments of one page each (the first executable). */
static uint8_t *synth(int n, size_t *len)
{
    size_t ph = sizeof(Elf64_Ehdr), size = PAGE * (size_t)(n > 0 ? n : 1);
    uint8_t *img = calloc(1, size);
    Elf64_Ehdr e = {0};
    memcpy(e.e_ident, ELFMAG, SELFMAG);
    e.e_ident[EI_CLASS] = ELFCLASS64;
    e.e_ident[EI_DATA] = ELFDATA2LSB;
    e.e_ident[EI_VERSION] = EV_CURRENT;
    e.e_type = ET_DYN;
    e.e_machine = EM_X86_64;
    e.e_version = EV_CURRENT;
    e.e_entry = 0x100;
    e.e_phoff = ph;
    e.e_ehsize = sizeof(e);
    e.e_phentsize = sizeof(Elf64_Phdr);
    e.e_phnum = (uint16_t)n;
    memcpy(img, &e, sizeof(e));
    for (int i = 0; i < n; i++) {
        Elf64_Phdr p = {.p_type = PT_LOAD, .p_flags = i == 0 ? PF_R | PF_X : PF_R, .p_offset = i * PAGE,
                        .p_vaddr = i * PAGE, .p_filesz = 64, .p_memsz = 0x200, .p_align = PAGE};
        memcpy(img + ph + (size_t)i * sizeof(p), &p, sizeof(p));
    }
    *len = size;
    return img;
}

static void test_synthetic(void **state)
{
    (void)state;
    size_t len;
    hl_elf_info info;
    hl_error err = HL_ERROR_INIT;
    uint8_t *img = synth(HL_ELF_MAX_SEGMENTS, &len);
    assert_int_equal(hl_elf_parse(img, len, &info, &err), HL_OK);
    assert_int_equal(info.nsegs, HL_ELF_MAX_SEGMENTS);
    assert_int_equal(info.span, HL_ELF_MAX_SEGMENTS * PAGE);
    assert_int_equal(info.rela_size, 0);
    assert_false(info.has_resources);
    uint8_t *dst = calloc(1, info.span);
    assert_int_equal(hl_elf_load(&info, img, len, dst, info.span, 0x400000, &err), HL_OK);
    assert_memory_equal(dst, img, 64);
    free(dst);
    free(img);
    img = synth(HL_ELF_MAX_SEGMENTS + 1, &len);
    assert_int_equal(hl_elf_parse(img, len, &info, &err), HL_E_ELF);
    assert_non_null(strstr(err.message, "more than 16 loadable segments"));
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_guests), cmocka_unit_test(test_load_exact),   cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_ident),       cmocka_unit_test(test_phdr_bounds),  cmocka_unit_test(test_segments),
        cmocka_unit_test(test_entry_interp), cmocka_unit_test(test_dynamic),     cmocka_unit_test(test_relocations),
        cmocka_unit_test(test_notes),       cmocka_unit_test(test_synthetic),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
