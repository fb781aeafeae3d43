/* test_core_writer.c - the ELF core writer byte by byte: headers, program headers, every note's layout, segment data, PN_XNUM. */
#include <elf.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/coredump.h"

#define PAGE 4096u

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Writes d into a memfd and returns the file's bytes (caller frees), checking the count. */
static uint8_t *write_core(const hl_core_desc *d, size_t *len)
{
    int fd = memfd_create("core-test", MFD_CLOEXEC);
    assert_true(fd >= 0);
    uint64_t bytes = 0;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_core_write(fd, d, &bytes, &err), HL_OK);
    off_t size = lseek(fd, 0, SEEK_END);
    assert_int_equal((uint64_t)size, bytes);
    uint8_t *buf = malloc((size_t)size);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)size, 0), size);
    close(fd);
    *len = (size_t)size;
    return buf;
}

/* The next note at *pos of the PT_NOTE at note_off: checks its name, returns its descriptor. */
static const uint8_t *next_note(const uint8_t *core, uint64_t note_off, uint64_t *pos, uint32_t type, uint32_t descsz)
{
    const uint8_t *n = core + note_off + *pos;
    assert_int_equal(rd32(n), 5);         /* namesz: "CORE" and its NUL */
    assert_int_equal(rd32(n + 4), descsz);
    assert_int_equal(rd32(n + 8), type);
    assert_memory_equal(n + 12, "CORE\0\0\0\0", 8); /* padded to 4 bytes */
    *pos += 12 + 8 + ((descsz + 3u) & ~3u);
    return n + 20;
}

static hl_cpu_regs known_regs(void)
{
    hl_cpu_regs r;
    memset(&r, 0, sizeof r);
    r.rax = 0x100, r.rbx = 0x101, r.rcx = 0x102, r.rdx = 0x103, r.rsi = 0x104, r.rdi = 0x105;
    r.rbp = 0x106, r.rsp = 0x107, r.r8 = 0x108, r.r9 = 0x109, r.r10 = 0x10a, r.r11 = 0x10b;
    r.r12 = 0x10c, r.r13 = 0x10d, r.r14 = 0x10e, r.r15 = 0x10f, r.rip = 0x110, r.rflags = 0x246;
    r.cs = 0x33, r.ss = 0x2b, r.ds = 0x1, r.es = 0x2, r.fs = 0x3, r.gs = 0x4;
    r.fs_base = 0x7000, r.gs_base = 0x8000;
    for (int i = 0; i < 512; i++)
        r.fxsave[i] = (uint8_t)(i * 7);
    r.has_fxsave = 1;
    return r;
}

static void test_full_core(void **state)
{
    (void)state;
    static uint8_t text[2 * PAGE], data[PAGE];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (uint8_t)i;
    memset(data, 0xD7, sizeof data);
    const hl_core_segment segs[] = {
        {.addr = 0x200000, .size = 2 * PAGE, .data = text, .flags = PF_R | PF_X},
        {.addr = 0x202000, .size = 3 * PAGE, .data = NULL, .flags = PF_R | PF_W},
        {.addr = 0x205000, .size = PAGE, .data = data, .flags = PF_R | PF_W},
    };
    const hl_core_file_map maps[] = {{0x200000, 0x202000, 0}, {0x205000, 0x206000, 0x3000}};
    hl_cpu_regs regs = known_regs();
    hl_core_desc d = {.signo = SIGSEGV, .si_code = SEGV_ACCERR, .fault_addr = 0x1234, .has_addr = 1, .regs = &regs,
                      .pid = 4242, .fname = "a-guest-name-longer-than-16", .psargs = "/path/to/a-guest-name",
                      .entry = 0x201000, .phdr = 0x200040, .phnum = 9, .file_path = "/x/guest", .maps = maps,
                      .nmaps = 2, .segs = segs, .nsegs = 3};
    size_t len;
    uint8_t *core = write_core(&d, &len);

    /* the ELF header */
    Elf64_Ehdr eh;
    memcpy(&eh, core, sizeof eh);
    static const uint8_t ident[EI_NIDENT] = {0x7F, 'E', 'L', 'F', ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_NONE};
    assert_memory_equal(eh.e_ident, ident, EI_NIDENT);
    assert_int_equal(eh.e_type, ET_CORE);
    assert_int_equal(eh.e_machine, EM_X86_64);
    assert_int_equal(eh.e_version, EV_CURRENT);
    assert_int_equal(eh.e_entry, 0);
    assert_int_equal(eh.e_phoff, 64);
    assert_int_equal(eh.e_shoff, 0);
    assert_int_equal(eh.e_flags, 0);
    assert_int_equal(eh.e_ehsize, 64);
    assert_int_equal(eh.e_phentsize, 56);
    assert_int_equal(eh.e_phnum, 4);
    assert_int_equal(eh.e_shentsize, 0);
    assert_int_equal(eh.e_shnum, 0);
    assert_int_equal(eh.e_shstrndx, 0);

    /* the notes, in Linux's order, each laid out as the kernel's structs */
    const uint32_t note_sizes[] = {336, 136, 128, 6 * 16, 16 + 2 * 24 + 2 * 9, 512};
    uint64_t notes_len = 0;
    for (size_t i = 0; i < 6; i++)
        notes_len += 20 + ((note_sizes[i] + 3) & ~3u);
    Elf64_Phdr ph[4];
    memcpy(ph, core + 64, sizeof ph);
    assert_int_equal(ph[0].p_type, PT_NOTE);
    assert_int_equal(ph[0].p_offset, 64 + 4 * 56);
    assert_int_equal(ph[0].p_filesz, notes_len);
    assert_int_equal(ph[0].p_memsz, 0);
    assert_int_equal(ph[0].p_vaddr, 0);
    assert_int_equal(ph[0].p_align, 4);
    uint64_t pos = 0, note_off = ph[0].p_offset;

    const uint8_t *prs = next_note(core, note_off, &pos, NT_PRSTATUS, 336);
    assert_int_equal(rd32(prs + 0), SIGSEGV);     /* pr_info.si_signo */
    assert_int_equal(rd32(prs + 4), SEGV_ACCERR); /* pr_info.si_code */
    assert_int_equal(rd32(prs + 8), 0);           /* pr_info.si_errno */
    assert_int_equal(prs[12] | prs[13] << 8, SIGSEGV); /* pr_cursig */
    assert_int_equal(rd32(prs + 32), 4242);       /* pr_pid */
    /* pr_reg: user_regs_struct's order */
    const uint64_t want[27] = {0x10f, 0x10e, 0x10d, 0x10c, 0x106, 0x101, 0x10b, 0x10a, 0x109,
                               0x108, 0x100, 0x102, 0x103, 0x104, 0x105, UINT64_MAX, 0x110, 0x33,
                               0x246, 0x107, 0x2b, 0x7000, 0x8000, 0x1, 0x2, 0x3, 0x4};
    for (int i = 0; i < 27; i++)
        assert_int_equal(rd64(prs + 112 + 8 * i), want[i]);
    assert_int_equal(rd32(prs + 328), 1); /* pr_fpvalid */

    const uint8_t *psi = next_note(core, note_off, &pos, NT_PRPSINFO, 136);
    assert_int_equal(psi[1], 'R');
    assert_int_equal(rd32(psi + 24), 4242);
    assert_memory_equal(psi + 40, "a-guest-name-lo\0", 16);
    assert_string_equal((const char *)psi + 56, "/path/to/a-guest-name");

    const uint8_t *si = next_note(core, note_off, &pos, NT_SIGINFO, 128);
    assert_int_equal(rd32(si + 0), SIGSEGV);
    assert_int_equal(rd32(si + 4), 0);
    assert_int_equal(rd32(si + 8), SEGV_ACCERR);
    assert_int_equal(rd64(si + 16), 0x1234);

    const uint8_t *auxv = next_note(core, note_off, &pos, NT_AUXV, 96);
    const uint64_t want_auxv[12] = {AT_PHDR, 0x200040, AT_PHENT, 56, AT_PHNUM, 9, AT_PAGESZ, 4096,
                                    AT_ENTRY, 0x201000, AT_NULL, 0};
    for (int i = 0; i < 12; i++)
        assert_int_equal(rd64(auxv + 8 * i), want_auxv[i]);

    const uint8_t *file = next_note(core, note_off, &pos, NT_FILE, 82);
    const uint64_t want_file[8] = {2, 4096, 0x200000, 0x202000, 0, 0x205000, 0x206000, 3};
    for (int i = 0; i < 8; i++)
        assert_int_equal(rd64(file + 8 * i), want_file[i]);
    assert_memory_equal(file + 64, "/x/guest\0/x/guest\0", 18);
    assert_memory_equal(file + 82, "\0\0", 2); /* padding */

    const uint8_t *fp = next_note(core, note_off, &pos, NT_FPREGSET, 512);
    assert_memory_equal(fp, regs.fxsave, 512);
    assert_int_equal(pos, notes_len);

    /* the loads: page-aligned data after the notes; a hole has no bytes */
    assert_true(note_off + notes_len <= PAGE);
    const uint64_t off[3] = {PAGE, 3 * PAGE, 3 * PAGE}, filesz[3] = {2 * PAGE, 0, PAGE};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ph[1 + i].p_type, PT_LOAD);
        assert_int_equal(ph[1 + i].p_flags, segs[i].flags);
        assert_int_equal(ph[1 + i].p_offset, off[i]);
        assert_int_equal(ph[1 + i].p_vaddr, segs[i].addr);
        assert_int_equal(ph[1 + i].p_paddr, 0);
        assert_int_equal(ph[1 + i].p_filesz, filesz[i]);
        assert_int_equal(ph[1 + i].p_memsz, segs[i].size);
        assert_int_equal(ph[1 + i].p_align, PAGE);
    }
    for (uint64_t i = note_off + notes_len; i < PAGE; i++)
        assert_int_equal(core[i], 0);
    assert_int_equal(len, 4 * PAGE);
    assert_memory_equal(core + PAGE, text, sizeof text);
    assert_memory_equal(core + 3 * PAGE, data, sizeof data);
    free(core);
}

/* No registers, no signal, no program headers, no file: only what is known is written. */
static void test_minimal_core(void **state)
{
    (void)state;
    hl_core_desc d = {.pid = 7, .fname = "g", .psargs = "g", .entry = 0x1000};
    size_t len;
    uint8_t *core = write_core(&d, &len);
    Elf64_Ehdr eh;
    memcpy(&eh, core, sizeof eh);
    assert_int_equal(eh.e_phnum, 1);
    Elf64_Phdr ph;
    memcpy(&ph, core + 64, sizeof ph);
    assert_int_equal(ph.p_type, PT_NOTE);
    assert_int_equal(ph.p_filesz, (20 + 336) + (20 + 136) + (20 + 48));
    uint64_t pos = 0;
    const uint8_t *prs = next_note(core, ph.p_offset, &pos, NT_PRSTATUS, 336);
    assert_int_equal(prs[12] | prs[13] << 8, 0);
    for (int i = 0; i < 27; i++)
        assert_int_equal(rd64(prs + 112 + 8 * i), i == 15 ? UINT64_MAX : 0);
    assert_int_equal(rd32(prs + 328), 0);
    next_note(core, ph.p_offset, &pos, NT_PRPSINFO, 136);
    const uint8_t *auxv = next_note(core, ph.p_offset, &pos, NT_AUXV, 48);
    const uint64_t want_auxv[6] = {AT_PAGESZ, 4096, AT_ENTRY, 0x1000, AT_NULL, 0};
    for (int i = 0; i < 6; i++)
        assert_int_equal(rd64(auxv + 8 * i), want_auxv[i]);
    assert_int_equal(len, PAGE);
    free(core);
}

/* More program headers than e_phnum holds: PN_XNUM, the count in section header 0. */
static void test_many_segments(void **state)
{
    (void)state;
    size_t n = 70000;
    hl_core_segment *segs = calloc(n, sizeof *segs);
    assert_non_null(segs);
    for (size_t i = 0; i < n; i++)
        segs[i] = (hl_core_segment){.addr = 0x200000 + i * 2 * PAGE, .size = PAGE, .data = NULL, .flags = PF_R};
    hl_core_desc d = {.pid = 7, .fname = "g", .psargs = "g", .entry = 0x1000, .segs = segs, .nsegs = n};
    size_t len;
    uint8_t *core = write_core(&d, &len);
    Elf64_Ehdr eh;
    memcpy(&eh, core, sizeof eh);
    assert_int_equal(eh.e_phnum, PN_XNUM);
    assert_int_equal(eh.e_shnum, 1);
    assert_int_equal(eh.e_shentsize, sizeof(Elf64_Shdr));
    assert_int_equal(eh.e_shstrndx, SHN_UNDEF);
    assert_int_equal(eh.e_shoff, 64 + (n + 1) * 56);
    Elf64_Shdr sh;
    memcpy(&sh, core + eh.e_shoff, sizeof sh);
    assert_int_equal(sh.sh_type, SHT_NULL);
    assert_int_equal(sh.sh_info, n + 1);
    Elf64_Phdr ph;
    memcpy(&ph, core + 64, sizeof ph);
    assert_int_equal(ph.p_type, PT_NOTE);
    assert_int_equal(ph.p_offset, eh.e_shoff + sizeof sh);
    memcpy(&ph, core + 64 + n * 56, sizeof ph);
    assert_int_equal(ph.p_type, PT_LOAD);
    assert_int_equal(ph.p_vaddr, 0x200000 + (n - 1) * 2 * PAGE);
    assert_int_equal(ph.p_filesz, 0);
    free(core);
    free(segs);
}

/* A write that fails is reported, with the reason. */
static void test_write_error(void **state)
{
    (void)state;
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    hl_core_desc d = {.pid = 7, .fname = "g", .psargs = "g"};
    uint64_t bytes = 0;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_core_write(fd, &d, &bytes, &err), HL_E_IO);
    assert_string_equal(err.message, "writing it failed: Bad file descriptor");
    assert_int_equal(bytes, 0);
    close(fd);
}

/* x86 exceptions as the signals Linux gives a process for them. */
static void test_signal_of_vector(void **state)
{
    (void)state;
    const struct {
        unsigned vector;
        uint64_t error_code;
        int sig, code;
    } cases[] = {
        {0, 0, SIGFPE, FPE_INTDIV},   {1, 0, SIGTRAP, TRAP_TRACE},  {3, 0, SIGTRAP, TRAP_BRKPT},
        {6, 0, SIGILL, ILL_ILLOPN},   {12, 0, SIGSEGV, SI_KERNEL},  {13, 0, SIGSEGV, SI_KERNEL},
        {14, 0, SIGSEGV, SEGV_MAPERR}, {14, 2, SIGSEGV, SEGV_MAPERR}, {14, 3, SIGSEGV, SEGV_ACCERR},
        {16, 0, SIGFPE, FPE_FLTINV},  {17, 0, SIGBUS, BUS_ADRALN},  {19, 0, SIGFPE, FPE_FLTINV},
        {8, 0, SIGSEGV, SI_KERNEL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int code = -1;
        assert_int_equal(hl_core_signal_of_vector(cases[i].vector, cases[i].error_code, &code), cases[i].sig);
        assert_int_equal(code, cases[i].code);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_core),     cmocka_unit_test(test_minimal_core),
        cmocka_unit_test(test_many_segments), cmocka_unit_test(test_write_error),
        cmocka_unit_test(test_signal_of_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
