/* test_coredump.c - core files of guests: written when and where they should be, 0600, never over a file, and `gdb GUEST CORE` shows the guest's frames. */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rt.h"

#ifndef HL_CORE_NULL_LINE
#error "HL_CORE_NULL_LINE (the line of coreguest.c's NULL dereference) comes from tests/runtime/CMakeLists.txt"
#endif

#define KVM_ONLY()                                                                                 \
    do {                                                                                           \
        if (rt_mode() != HL_MODE_RUN_IN_HYPERVISOR) skip();                                        \
    } while (0)

/* ---- a temporary directory per test ---- */

static char g_dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/hl-core-test-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(g_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(g_dir);
    return 0;
}

/* The names in the test's directory, sorted; returns how many. */
static size_t list_dir(char names[][256], size_t max)
{
    DIR *d = opendir(g_dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            assert_true(n < max);
            snprintf(names[n++], 256, "%s", e->d_name);
        }
    closedir(d);
    qsort(names, n, 256, (int (*)(const void *, const void *))strcmp);
    return n;
}

static size_t count_files(void)
{
    char names[16][256];
    return list_dir(names, 16);
}

/* A coreguest sandbox in the suite's mode, with core_dump = mode into the test's directory. */
static hl_sandbox *core_sandbox(uint64_t mode, const char *toml)
{
    hl_config cfg;
    rt_config(&cfg, toml);
    assert_int_equal(hl_config_set_core_dump(&cfg, mode), HL_SET_OK);
    assert_int_equal(hl_config_set_core_dump_dir(&cfg, g_dir), HL_SET_OK);
    return rt_sandbox_cfg("coreguest", &cfg);
}

/* The path after "; core dumped to " in a message, which must end there; it must also be the
 * sandbox's last core. */
static const char *dumped_path(hl_sandbox *sb, const char *message)
{
    static char path[4400];
    const char *p = rt_after(message, "; core dumped to ");
    snprintf(path, sizeof path, "%s", p);
    char last[4400];
    assert_int_equal(hl_sandbox_last_core(sb, last, sizeof last), strlen(path));
    assert_string_equal(last, path);
    assert_memory_equal(path, g_dir, strlen(g_dir));
    return path;
}

/* ---- reading a core file back ---- */

typedef struct core {
    uint8_t *data;
    size_t len;
    Elf64_Ehdr eh;
    size_t nload;
    Elf64_Phdr load[512];
    int has_prstatus, has_prpsinfo, has_siginfo, has_fpregset, has_auxv, has_file;
    int cursig, prs_signo, fpvalid;
    uint64_t reg[27]; /* user_regs_struct */
    char fname[17], psargs[81];
    int si_signo, si_code;
    uint64_t sig_addr;
    uint8_t fx[512];
    uint64_t auxv[32];
    size_t nauxv;
    uint64_t file_count, file_page;
    uint64_t file_maps[16][3];
    char file_name[4096];
} core;

enum { R15, R14, R13, R12, RBP, RBX, R11, R10, R9, R8, RAX, RCX, RDX, RSI, RDI, ORIG_RAX, RIP, CS, EFLAGS,
       RSP, SS, FS_BASE, GS_BASE, DS, ES, FS, GS };

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

static uint64_t auxv_get(const core *c, uint64_t type)
{
    for (size_t i = 0; i + 1 < c->nauxv; i += 2)
        if (c->auxv[i] == type)
            return c->auxv[i + 1];
    fail_msg("no auxv entry %llu", (unsigned long long)type);
    return 0;
}

/* Reads and checks a core file's structure: ELF header, one PT_NOTE then PT_LOADs, notes. */
static void core_read(const char *path, core *c)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    c->len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    c->data = malloc(c->len);
    assert_non_null(c->data);
    assert_int_equal(fread(c->data, 1, c->len, f), c->len);
    fclose(f);
    assert_true(c->len >= sizeof c->eh);
    memcpy(&c->eh, c->data, sizeof c->eh);
    assert_memory_equal(c->eh.e_ident, ELFMAG, SELFMAG);
    assert_int_equal(c->eh.e_ident[EI_CLASS], ELFCLASS64);
    assert_int_equal(c->eh.e_type, ET_CORE);
    assert_int_equal(c->eh.e_machine, EM_X86_64);
    assert_int_equal(c->eh.e_phentsize, sizeof(Elf64_Phdr));
    assert_true(c->eh.e_phnum >= 2 && c->eh.e_phnum < PN_XNUM);
    assert_true(c->eh.e_phoff + (uint64_t)c->eh.e_phnum * sizeof(Elf64_Phdr) <= c->len);
    for (unsigned i = 0; i < c->eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, c->data + c->eh.e_phoff + i * sizeof ph, sizeof ph);
        assert_true(ph.p_offset + ph.p_filesz <= c->len);
        if (i == 0) {
            assert_int_equal(ph.p_type, PT_NOTE);
            for (uint64_t pos = 0; pos + 12 <= ph.p_filesz;) {
                const uint8_t *n = c->data + ph.p_offset + pos;
                uint32_t namesz = rd32(n), descsz = rd32(n + 4), type = rd32(n + 8);
                assert_int_equal(namesz, 5);
                assert_memory_equal(n + 12, "CORE", 5);
                const uint8_t *desc = n + 12 + 8;
                assert_true(pos + 20 + descsz <= ph.p_filesz);
                switch (type) {
                case NT_PRSTATUS:
                    assert_int_equal(descsz, 336);
                    c->has_prstatus++;
                    c->prs_signo = (int)rd32(desc);
                    c->cursig = (int16_t)(desc[12] | desc[13] << 8);
                    memcpy(c->reg, desc + 112, sizeof c->reg);
                    c->fpvalid = (int)rd32(desc + 328);
                    assert_int_equal(rd32(desc + 32), (uint32_t)getpid());
                    break;
                case NT_PRPSINFO:
                    assert_int_equal(descsz, 136);
                    c->has_prpsinfo++;
                    memcpy(c->fname, desc + 40, 16);
                    memcpy(c->psargs, desc + 56, 80);
                    break;
                case NT_SIGINFO:
                    assert_int_equal(descsz, 128);
                    c->has_siginfo++;
                    c->si_signo = (int)rd32(desc);
                    c->si_code = (int)rd32(desc + 8);
                    c->sig_addr = rd64(desc + 16);
                    break;
                case NT_FPREGSET:
                    assert_int_equal(descsz, 512);
                    c->has_fpregset++;
                    memcpy(c->fx, desc, 512);
                    break;
                case NT_AUXV:
                    assert_true(descsz % 16 == 0 && descsz / 8 <= 32);
                    c->has_auxv++;
                    c->nauxv = descsz / 8;
                    memcpy(c->auxv, desc, descsz);
                    assert_int_equal(c->auxv[c->nauxv - 2], AT_NULL);
                    break;
                case NT_FILE: {
                    c->has_file++;
                    c->file_count = rd64(desc);
                    c->file_page = rd64(desc + 8);
                    assert_true(c->file_count >= 1 && c->file_count <= 16);
                    for (uint64_t k = 0; k < c->file_count; k++)
                        for (int j = 0; j < 3; j++)
                            c->file_maps[k][j] = rd64(desc + 16 + k * 24 + (uint64_t)j * 8);
                    snprintf(c->file_name, sizeof c->file_name, "%s", (const char *)desc + 16 + c->file_count * 24);
                    break;
                }
                default:
                    fail_msg("unexpected note type %#x", type);
                }
                pos += 20 + ((descsz + 3) & ~3u);
            }
        } else {
            assert_int_equal(ph.p_type, PT_LOAD);
            assert_true(ph.p_filesz == 0 || ph.p_filesz == ph.p_memsz);
            assert_int_equal(ph.p_vaddr % 4096, 0);
            assert_int_equal(ph.p_memsz % 4096, 0);
            assert_int_equal(ph.p_offset % 4096, 0);
            assert_true(c->nload < 512);
            c->load[c->nload++] = ph;
        }
    }
    assert_int_equal(c->has_prstatus, 1);
    assert_int_equal(c->has_prpsinfo, 1);
    assert_int_equal(c->has_auxv, 1);
    assert_int_equal(c->cursig, c->prs_signo);
    assert_int_equal(c->reg[ORIG_RAX], UINT64_MAX);
}

/* The segment holding guest address a, or NULL. */
static const Elf64_Phdr *core_segment(const core *c, uint64_t a)
{
    for (size_t i = 0; i < c->nload; i++)
        if (a >= c->load[i].p_vaddr && a - c->load[i].p_vaddr < c->load[i].p_memsz)
            return &c->load[i];
    return NULL;
}

/* Reads n bytes of guest memory at a from the core (they must be in it). */
static void core_mem(const core *c, uint64_t a, void *out, size_t n)
{
    const Elf64_Phdr *ph = core_segment(c, a);
    assert_non_null(ph);
    assert_true(ph->p_filesz && a + n <= ph->p_vaddr + ph->p_filesz);
    memcpy(out, c->data + ph->p_offset + (a - ph->p_vaddr), n);
}

static void core_free(core *c) { free(c->data); }

static uint64_t region_addr(hl_sandbox *sb, hl_region_id id)
{
    const hl_layout *l = hl_sandbox_layout(sb);
    return l->base + l->region[id].offset;
}

/* ---- gdb ---- */

/* `gdb -nx -batch -ex CMD... GUEST CORE` (HL_TEST_GDB: the gdb to use, e.g. gdb-minimal inside the
 * emulated VM); its output, which must end with exit status 0 (caller frees). */
static char *gdb(const char *core_path, const char *const *cmds, size_t ncmds)
{
    const char *g = getenv("HL_TEST_GDB");
    if (!g || !*g)
        g = "gdb";
    char cmd[16384];
    size_t n = (size_t)snprintf(cmd, sizeof cmd, "'%s' -nx -batch", g);
    for (size_t i = 0; i < ncmds; i++)
        n += (size_t)snprintf(cmd + n, sizeof cmd - n, " -ex '%s'", cmds[i]);
    snprintf(cmd + n, sizeof cmd - n, " '%s' '%s' 2>&1 </dev/null", rt_guest("coreguest"), core_path);
    assert_null(strchr(core_path, '\''));
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 65536, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t got;
    while ((got = fread(out + len, 1, cap - 1 - len, p)) > 0) {
        len += got;
        if (len + 1 == cap) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
    }
    out[len] = 0;
    int status = pclose(p);
    print_message("$ %s\n%s", cmd, out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("gdb failed (status %#x): %s\n%s", status, cmd, out);
    return out;
}

/* The line of gdb's output that starts with prefix (e.g. "#0 "), copied (static). */
static const char *line_of(const char *out, const char *prefix)
{
    static char line[1024];
    for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, prefix, strlen(prefix)) == 0) {
            size_t n = strcspn(p, "\n");
            snprintf(line, sizeof line, "%.*s", (int)n, p);
            return line;
        }
    fail_msg("no line starting with \"%s\" in:\n%s", prefix, out);
    return NULL;
}

/* needles appear in out, in this order. */
static void in_order(const char *out, const char *const *needles, size_t n)
{
    const char *at = out;
    for (size_t i = 0; i < n; i++) {
        const char *p = strstr(at, needles[i]);
        if (!p)
            fail_msg("\"%s\" missing (or out of order) in:\n%s", needles[i], out);
        at = p + strlen(needles[i]);
    }
}

/* ---- the tests ---- */

/* The "must show": a NULL dereference three calls deep; gdb names the frames in order and
 * the source line; the global the call changed reads as the call left it; the sandbox works on. */
static void test_null_three_deep(void **state)
{
    (void)state;
    hl_sandbox *sb = core_sandbox(HL_CORE_DUMP_ON_FAULT, "");
    hl_error e = rt_fails(sb, "null_chain", HL_E_GUEST_FAULT, RT_ANY_CODE, "the guest faulted in the call to `null_chain`",
                          RT_ARGS(hl_u64(0)));
    const char *path = dumped_path(sb, e.message);
    assert_int_equal(count_files(), 1);
    assert_int_equal(rt_ok(sb, "get_counter", RT_NOARGS).u.i32, 41); /* restored after the dump */

    core c;
    core_read(path, &c);
    assert_string_equal(c.fname, "coreguest");
    assert_int_equal(c.cursig, SIGSEGV);
    assert_int_equal(c.has_siginfo, 1);
    assert_int_equal(c.si_signo, SIGSEGV);
    assert_int_equal(c.si_code, SEGV_MAPERR);
    assert_int_equal(c.sig_addr, 0);
    /* the memory at the guest's own addresses, with the guest's permissions */
    const hl_layout *l = hl_sandbox_layout(sb);
    uint64_t code = region_addr(sb, HL_REGION_CODE);
    const Elf64_Phdr *text = core_segment(&c, c.reg[RIP]);
    assert_non_null(text);
    assert_int_equal(text->p_flags, PF_R | PF_X);
    assert_true(text->p_filesz > 0);
    const Elf64_Phdr *stack = core_segment(&c, c.reg[RSP]);
    assert_non_null(stack);
    assert_int_equal(stack->p_flags, PF_R | PF_W);
    assert_null(core_segment(&c, region_addr(sb, HL_REGION_STACK_GUARD)));
    assert_null(core_segment(&c, l->base - 4096));
    uint8_t elf_magic[4];
    core_mem(&c, code, elf_magic, 4);
    assert_memory_equal(elf_magic, ELFMAG, 4);
    /* what gdb needs to relocate the PIE: the entry and program headers where they were loaded,
     * and the file the code came from */
    assert_true(auxv_get(&c, AT_ENTRY) > code && auxv_get(&c, AT_ENTRY) < code + l->region[HL_REGION_CODE].size);
    uint64_t phdr = auxv_get(&c, AT_PHDR);
    Elf64_Ehdr guest_eh;
    core_mem(&c, code, &guest_eh, sizeof guest_eh);
    assert_int_equal(phdr, code + guest_eh.e_phoff);
    assert_int_equal(auxv_get(&c, AT_PHNUM), guest_eh.e_phnum);
    assert_int_equal(auxv_get(&c, AT_PHENT), sizeof(Elf64_Phdr));
    assert_int_equal(auxv_get(&c, AT_PAGESZ), 4096);
    assert_int_equal(c.has_file, 1);
    assert_int_equal(c.file_page, 4096);
    char *real = realpath(rt_guest("coreguest"), NULL);
    assert_string_equal(c.file_name, real);
    assert_string_equal(c.psargs, real);
    free(real);
    assert_int_equal(c.file_maps[0][0], code);
    assert_int_equal(c.file_maps[0][2], 0);
    core_free(&c);

    const char *cmds[] = {"bt", "print g_counter"};
    char *out = gdb(path, cmds, 2);
    rt_contains(out, "Program terminated with signal SIGSEGV, Segmentation fault.");
    const char *frames[] = {"#0 ", " in level3 (", "#1 ", " in level2 (", "#2 ", " in level1 (", "#3 ", " in null_chain ("};
    in_order(out, frames, sizeof frames / sizeof *frames);
    char where[64];
    snprintf(where, sizeof where, "coreguest.c:%d", HL_CORE_NULL_LINE);
    rt_contains(line_of(out, "#0 "), where);
    rt_contains(line_of(out, "#0 "), "level3 (p=0x0)");
    rt_contains(out, "$1 = 42"); /* g_counter as the failed call left it */
    free(out);
    hl_sandbox_destroy(sb);
}

/* Each kind of abnormal end gives its signal; on-fault leaves cancellations and guest errors out. */
static void test_signals_on_fault(void **state)
{
    (void)state;
    hl_sandbox *sb = core_sandbox(HL_CORE_DUMP_ON_FAULT, "max_execution_time = 100\n");
    struct {
        const char *fn;
        hl_status st;
        int sig;
    } cases[] = {
        {"abort", HL_E_GUEST_ABORT, SIGABRT},
        {"panic", HL_E_GUEST_PANIC, SIGABRT},
        {"overflow", HL_E_STACK_OVERFLOW, SIGSEGV},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        hl_error e = rt_fails(sb, cases[i].fn, cases[i].st, RT_ANY_CODE, NULL, RT_NOARGS);
        core c;
        core_read(dumped_path(sb, e.message), &c);
        assert_int_equal(c.cursig, cases[i].sig);
        if (cases[i].sig == SIGSEGV) { /* into the guard page below the stack */
            assert_int_equal(c.si_signo, SIGSEGV);
            uint64_t guard = region_addr(sb, HL_REGION_STACK_GUARD);
            assert_true(c.sig_addr >= guard && c.sig_addr < guard + 4096);
            assert_true(c.reg[RSP] >= guard && c.reg[RSP] < guard + 8192);
        }
        core_free(&c);
        assert_int_equal(count_files(), i + 1);
        if (i == 0) { /* abort() makes a system call: gdb unwinds through the runtime's entry */
            const char *cmds[] = {"bt"};
            char *out = gdb(dumped_path(sb, e.message), cmds, 1);
            rt_contains(out, "Program terminated with signal SIGABRT, Aborted.");
            const char *frames[] = {" hlg_abort_msg (", " in hlg_signal_call (sig=6)", " in hlg_syscall_entry ()",
                                    " in raise ()"};
            in_order(out, frames, 4);
            free(out);
        }
    }
    /* not faults: no core under on-fault */
    hl_error e = rt_fails(sb, "spin", HL_E_CANCELLED, RT_ANY_CODE, NULL, RT_NOARGS);
    assert_null(strstr(e.message, "core"));
    e = rt_fails(sb, "fail", HL_E_GUEST_ERROR, RT_ANY_CODE, "failed on purpose", RT_NOARGS);
    assert_null(strstr(e.message, "core"));
    assert_int_equal(count_files(), 3);
    hl_sandbox_stats s = HL_SANDBOX_STATS_INIT;
    hl_sandbox_get_stats(sb, &s);
    assert_int_equal(s.core_dumps, 3);
    hl_sandbox_destroy(sb);
}

/* always-on-error: cancellations (SIGALRM, where the guest was interrupted) and guest errors (no
 * signal) too. */
static void test_always_on_error(void **state)
{
    (void)state;
    hl_sandbox *sb = core_sandbox(HL_CORE_DUMP_ALWAYS_ON_ERROR, "max_execution_time = 100\n");
    hl_error e = rt_fails(sb, "spin", HL_E_CANCELLED, RT_ANY_CODE, "was cancelled", RT_NOARGS);
    char spin_core[4400];
    snprintf(spin_core, sizeof spin_core, "%s", dumped_path(sb, e.message));
    core c;
    core_read(spin_core, &c);
    assert_int_equal(c.cursig, SIGALRM);
    core_free(&c);
    const char *cmds[] = {"bt"};
    char *out = gdb(spin_core, cmds, 1);
    rt_contains(out, "Program terminated with signal SIGALRM");
    rt_contains(line_of(out, "#0 "), " spin (");
    free(out);

    e = rt_fails(sb, "fail", HL_E_GUEST_ERROR, RT_ANY_CODE, "failed on purpose; core dumped to ", RT_NOARGS);
    core_read(dumped_path(sb, e.message), &c);
    assert_int_equal(c.cursig, 0);
    assert_int_equal(c.has_siginfo, 0);
    core_free(&c);
    assert_int_equal(count_files(), 2);
    hl_sandbox_destroy(sb);
}

/* Initialisation too: one that runs past max_initialization_time. */
static void test_initialisation(void **state)
{
    (void)state;
    hl_config cfg;
    rt_config(&cfg, "max_initialization_time = 100\n");
    hl_config_set_core_dump(&cfg, HL_CORE_DUMP_ALWAYS_ON_ERROR);
    hl_config_set_core_dump_dir(&cfg, g_dir);
    hl_sandbox *sb = NULL;
    hl_error e = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("spininit"), &cfg, &e), HL_OK);
    assert_int_equal(hl_sandbox_initialize(sb, &e), HL_E_CANCELLED);
    rt_contains(e.message, "the guest's initialisation was cancelled");
    char path[4400];
    snprintf(path, sizeof path, "%s", rt_after(e.message, "; core dumped to "));
    rt_contains(path, "/core.spininit.");
    core c;
    core_read(path, &c);
    assert_string_equal(c.fname, "spininit");
    assert_int_equal(c.cursig, SIGALRM);
    core_free(&c);
    assert_int_equal(count_files(), 1);
    /* a failed initialisation leaves the sandbox unusable: no core on demand either */
    char w[64] = "x";
    assert_int_equal(hl_sandbox_dump_core(sb, NULL, w, sizeof w, &e), HL_E_POISONED);
    assert_string_equal(e.message, "the sandbox is unusable: destroy it");
    assert_string_equal(w, "");
    assert_int_equal(hl_sandbox_dump_core(NULL, NULL, w, sizeof w, &e), HL_E_INVALID_ARG);
    assert_int_equal(count_files(), 1);
    hl_sandbox_destroy(sb);
}

/* off: nothing is written, the message says nothing of cores. */
static void test_off(void **state)
{
    (void)state;
    hl_sandbox *sb = core_sandbox(HL_CORE_DUMP_OFF, "max_execution_time = 100\n");
    hl_error e = rt_fails(sb, "null_chain", HL_E_GUEST_FAULT, RT_ANY_CODE, NULL, RT_ARGS(hl_u64(0)));
    assert_null(strstr(e.message, "core"));
    e = rt_fails(sb, "abort", HL_E_GUEST_ABORT, RT_ANY_CODE, NULL, RT_NOARGS);
    assert_null(strstr(e.message, "core"));
    e = rt_fails(sb, "spin", HL_E_CANCELLED, RT_ANY_CODE, NULL, RT_NOARGS);
    assert_null(strstr(e.message, "core"));
    assert_int_equal(count_files(), 0);
    assert_int_equal(hl_sandbox_last_core(sb, NULL, 0), 0);
    hl_sandbox_stats s = HL_SANDBOX_STATS_INIT;
    hl_sandbox_get_stats(sb, &s);
    assert_int_equal(s.core_dumps, 0);
    hl_sandbox_destroy(sb);
}

/* core.<guest>.<pid>.<serial>.<unix time>, mode 0600, and never over an existing file: a taken
 * name gets .1, .2...; an explicit path that exists (even a dangling symlink) is refused. */
static void test_names_modes_no_overwrite(void **state)
{
    (void)state;
    hl_sandbox *sb = core_sandbox(HL_CORE_DUMP_ON_FAULT, "");
    time_t t0 = time(NULL);
    hl_error e = rt_fails(sb, "abort", HL_E_GUEST_ABORT, RT_ANY_CODE, NULL, RT_NOARGS);
    time_t t1 = time(NULL);
    const char *path = dumped_path(sb, e.message);
    const char *name = strrchr(path, '/') + 1;
    long pid = 0;
    unsigned long long serial = 0;
    long long t = 0;
    int end = 0;
    assert_int_equal(sscanf(name, "core.coreguest.%ld.%llu.%lld%n", &pid, &serial, &t, &end), 3);
    assert_int_equal((size_t)end, strlen(name));
    assert_int_equal(pid, (long)getpid());
    assert_true(serial >= 1);
    assert_true(t >= (long long)t0 && t <= (long long)t1);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_uid, getuid());

    /* every name of the next seconds taken, and its .1: the next core is .2 */
    char first[256];
    snprintf(first, sizeof first, "%s", name);
    time_t now = time(NULL);
    size_t made = 0;
    for (long long s = (long long)now; s <= (long long)now + 5; s++)
        for (int k = 0; k < 2; k++) {
            char p[4400];
            snprintf(p, sizeof p, "%s/core.coreguest.%ld.%llu.%lld%s", g_dir, pid, serial, s, k ? ".1" : "");
            FILE *f = fopen(p, "wx");
            if (!f && errno == EEXIST)
                continue; /* the first core's own name */
            assert_non_null(f);
            fputs("keep", f);
            fclose(f);
            made++;
        }
    e = rt_fails(sb, "abort", HL_E_GUEST_ABORT, RT_ANY_CODE, NULL, RT_NOARGS);
    path = dumped_path(sb, e.message);
    assert_int_equal(strcmp(path + strlen(path) - 2, ".2"), 0);
    assert_int_equal(count_files(), 1 + made + 1);
    char names[32][256];
    size_t n = list_dir(names, 32);
    for (size_t i = 0; i < n; i++) { /* the files there before are as they were */
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", g_dir, names[i]);
        assert_int_equal(stat(p, &st), 0);
        if (strcmp(p, path) && strcmp(names[i], first))
            assert_int_equal(st.st_size, 4);
    }

    /* an explicit path: created exactly there; an existing file or symlink is refused untouched */
    char p[4400], w[4400];
    snprintf(p, sizeof p, "%s/explicit.core", g_dir);
    assert_int_equal(hl_sandbox_dump_core(sb, p, w, sizeof w, &e), HL_OK);
    assert_string_equal(w, p);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    off_t size = st.st_size;
    assert_int_equal(hl_sandbox_dump_core(sb, p, w, sizeof w, &e), HL_E_IO);
    rt_contains(e.message, "exists (a core file never replaces a file)");
    assert_string_equal(w, "");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, size);
    char link[4400], target[4400];
    snprintf(link, sizeof link, "%s/link.core", g_dir);
    snprintf(target, sizeof target, "%s/target", g_dir);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(hl_sandbox_dump_core(sb, link, w, sizeof w, &e), HL_E_IO);
    assert_int_equal(access(target, F_OK), -1); /* the symlink was not followed */
    /* a truncated `written` is still NUL-terminated */
    snprintf(p, sizeof p, "%s/short.core", g_dir);
    char tiny[8];
    assert_int_equal(hl_sandbox_dump_core(sb, p, tiny, sizeof tiny, &e), HL_OK);
    assert_int_equal(strlen(tiny), 7);
    assert_memory_equal(tiny, p, 7);
    hl_sandbox_destroy(sb);
}

/* A directory that does not exist: the call's status is unchanged, its message says why no core
 * was written. */
static void test_missing_directory(void **state)
{
    (void)state;
    hl_config cfg;
    rt_config(&cfg, "");
    hl_config_set_core_dump(&cfg, HL_CORE_DUMP_ON_FAULT);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/does/not/exist", g_dir);
    hl_config_set_core_dump_dir(&cfg, dir);
    hl_sandbox *sb = rt_sandbox_cfg("coreguest", &cfg);
    hl_error e = rt_fails(sb, "null_chain", HL_E_GUEST_FAULT, RT_ANY_CODE, NULL, RT_ARGS(hl_u64(0)));
    char want[256];
    snprintf(want, sizeof want, "; core dump not written: cannot open the core dump directory `%s`: No such file or directory",
             dir);
    const char *tail = strstr(e.message, "; core dump not written: ");
    assert_non_null(tail);
    assert_string_equal(tail, want);
    assert_int_equal(hl_sandbox_last_core(sb, NULL, 0), 0);
    assert_int_equal(count_files(), 0);
    hl_sandbox_destroy(sb);

    /* hl_config is plain data: a directory filled by hand without its NUL is never read past:
     * hl_sandbox_create refuses it (the config check of the settings table), or, should a config
     * reach the dump unchecked, the dump does */
    memset(cfg.core_dump_dir, 'a', sizeof cfg.core_dump_dir);
    sb = NULL;
    hl_status st = hl_sandbox_create(&sb, rt_guest("coreguest"), &cfg, &e);
    if (st != HL_OK) {
        assert_int_equal(st, HL_E_CONFIG);
        rt_contains(e.message, "`core_dump_dir` is not NUL-terminated");
        return;
    }
    assert_int_equal(hl_sandbox_initialize(sb, &e), HL_OK);
    e = rt_fails(sb, "null_chain", HL_E_GUEST_FAULT, RT_ANY_CODE, NULL, RT_ARGS(hl_u64(0)));
    assert_string_equal(strstr(e.message, "; core dump not written: "),
                        "; core dump not written: core_dump_dir is not a NUL-terminated string");
    hl_sandbox_destroy(sb);
}

/* hl_sandbox_dump_core from the sandbox's own host function: the guest at its host call, with
 * its callers. */
typedef struct dump_ctx {
    hl_sandbox *sb;
    const char *path; /* NULL: core_dump_dir's naming */
    char written[4400];
    hl_status st;
    char message[HL_ERROR_MESSAGE_MAX];
} dump_ctx;

static int dump_here(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    (void)call;
    (void)nargs;
    dump_ctx *d = user;
    hl_error e = HL_ERROR_INIT;
    d->st = hl_sandbox_dump_core(d->sb, d->path, d->written, sizeof d->written, &e);
    snprintf(d->message, sizeof d->message, "%s", e.message);
    result->u.u32 = args[0].u.u32 * 2;
    return 0;
}

static void test_from_host_function(void **state)
{
    (void)state;
    hl_config cfg;
    rt_config(&cfg, "");
    hl_config_set_core_dump_dir(&cfg, g_dir); /* core_dump stays off: on demand only */
    hl_sandbox *sb = NULL;
    hl_error e = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("coreguest"), &cfg, &e), HL_OK);
    dump_ctx d = {.sb = sb};
    char explicit_path[4400];
    snprintf(explicit_path, sizeof explicit_path, "%s/host.core", g_dir);
    d.path = explicit_path;
    const hl_type u32[] = {HL_TYPE_U32};
    assert_int_equal(hl_sandbox_register(sb, "dump_here", HL_TYPE_U32, u32, 1, dump_here, &d, &e), HL_OK);
    assert_int_equal(hl_sandbox_initialize(sb, &e), HL_OK);
    assert_int_equal(rt_ok(sb, "call_host", RT_ARGS(hl_u32(20))).u.i32, 43); /* (20 + 1) * 2 + 1 */
    assert_int_equal(d.st, HL_OK);
    assert_string_equal(d.written, explicit_path);
    core c;
    core_read(explicit_path, &c);
    assert_int_equal(c.cursig, 0);
    assert_int_equal(c.has_siginfo, 0);
    core_free(&c);
    const char *cmds[] = {"bt"};
    char *out = gdb(explicit_path, cmds, 1);
    const char *frames[] = {" in host_inner (x=21)", " in host_outer (x=20)", " in call_host ("};
    in_order(out, frames, 3);
    assert_null(strstr(out, "Program terminated with signal"));
    free(out);

    /* NULL: a name in core_dump_dir; not an automatic core (last_core stays "") */
    d.path = NULL;
    assert_int_equal(rt_ok(sb, "call_host", RT_ARGS(hl_u32(1))).u.i32, 5);
    assert_int_equal(d.st, HL_OK);
    rt_contains(d.written, "/core.coreguest.");
    assert_memory_equal(d.written, g_dir, strlen(g_dir));
    assert_int_equal(hl_sandbox_last_core(sb, NULL, 0), 0);
    assert_int_equal(count_files(), 2);
    hl_sandbox_stats s = HL_SANDBOX_STATS_INIT;
    hl_sandbox_get_stats(sb, &s);
    struct stat st;
    assert_int_equal(stat(d.written, &st), 0);
    assert_int_equal(s.last_core_bytes, (uint64_t)st.st_size);
    assert_int_equal(s.core_dumps, 0);
    hl_sandbox_destroy(sb);
}

/* Between calls: the state the next call starts from, at the guest's entry. */
static void test_between_calls(void **state)
{
    (void)state;
    hl_sandbox *sb = core_sandbox(HL_CORE_DUMP_OFF, "");
    char path[4400], w[4400];
    snprintf(path, sizeof path, "%s/idle.core", g_dir);
    hl_error e = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_dump_core(sb, path, w, sizeof w, &e), HL_OK);
    assert_string_equal(w, path);
    core c;
    core_read(path, &c);
    assert_int_equal(c.cursig, 0);
    assert_int_equal(c.reg[RDI], region_addr(sb, HL_REGION_PEB));
    const hl_layout *l = hl_sandbox_layout(sb);
    assert_int_equal(c.reg[RSP], region_addr(sb, HL_REGION_STACK) + l->region[HL_REGION_STACK].size - 8);
    core_free(&c);
    const char *cmds[] = {"bt", "print g_counter"};
    char *out = gdb(path, cmds, 2);
    rt_contains(line_of(out, "#0 "), " hlg_dispatch (");
    rt_contains(out, "$1 = 41");
    free(out);
    /* NULL path between calls: in core_dump_dir */
    assert_int_equal(hl_sandbox_dump_core(sb, NULL, w, sizeof w, &e), HL_OK);
    rt_contains(w, "/core.coreguest.");
    assert_int_equal(count_files(), 2);
    hl_sandbox_destroy(sb);
}

/* The registers are the faulting instruction's, all of them (KVM: rax from the stub's push). */
static void test_registers(void **state)
{
    (void)state;
    hl_sandbox *sb = core_sandbox(HL_CORE_DUMP_ON_FAULT, "");
    hl_error e = rt_fails(sb, "known_regs", HL_E_GUEST_FAULT, RT_ANY_CODE, NULL, RT_NOARGS);
    core c;
    core_read(dumped_path(sb, e.message), &c);
    assert_int_equal(c.cursig, SIGILL);
    const struct {
        int reg;
        uint64_t v;
    } want[] = {{RAX, 0x1111111111111111ull}, {RBX, 0x2222222222222222ull}, {RCX, 0x3333333333333333ull},
                {RDX, 0x4444444444444444ull}, {RSI, 0x5555555555555555ull}, {RDI, 0x6666666666666666ull},
                {RBP, 0x7777777777777777ull}, {R8, 0x8888888888888888ull},  {R9, 0x9999999999999999ull},
                {R10, 0xaaaaaaaaaaaaaaaaull}, {R11, 0xbbbbbbbbbbbbbbbbull}, {R12, 0xccccccccccccccccull},
                {R13, 0xddddddddddddddddull}, {R14, 0xeeeeeeeeeeeeeeeeull}, {R15, 0x0123456789abcdefull}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        assert_int_equal(c.reg[want[i].reg], want[i].v);
    const Elf64_Phdr *stack = core_segment(&c, c.reg[RSP]);
    assert_non_null(stack);
    assert_true(c.reg[RSP] >= region_addr(sb, HL_REGION_STACK));
    uint8_t ud2[2];
    core_mem(&c, c.reg[RIP], ud2, 2);
    assert_int_equal(ud2[0], 0x0F);
    assert_int_equal(ud2[1], 0x0B);
    assert_int_equal(c.fpvalid, 1);
    assert_int_equal(c.has_fpregset, 1);
    assert_int_equal(rd32(c.fx + 160 + 3 * 16), 0x4048f5c3); /* xmm3 */
    assert_int_equal(rd32(c.fx + 24) & ~0x3Fu, 0x1F80); /* MXCSR but its sticky flags: every exception masked */
    core_free(&c);
    const char *cmds[] = {"x/i $pc", "print/x $r15", "print $xmm3.v4_float[0]"};
    char *out = gdb(dumped_path(sb, e.message), cmds, 3);
    rt_contains(out, "=> 0x");
    rt_contains(out, "<known_regs+");
    rt_contains(out, ">:\tud2");
    rt_contains(out, "$1 = 0x123456789abcdef");
    rt_contains(out, "$2 = 3.1400001");
    free(out);
    hl_sandbox_destroy(sb);
}

/* Whatever the guest did to its stack pointers or page tables, the dump writes a core, within
 * its directory, and the call's outcome is the fault's. */
static void test_hostile(void **state)
{
    (void)state;
    hl_sandbox *sb = core_sandbox(HL_CORE_DUMP_ON_FAULT, "");
    const uint64_t garbage[] = {0x10, 0xdeadbeefdeadbeefull}; /* below the sandbox; not canonical */
    for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++) {
        hl_error e = rt_fails(sb, "garbage_stack", HL_E_GUEST_FAULT, RT_ANY_CODE, NULL, RT_ARGS(hl_u64(garbage[i])));
        const char *path = dumped_path(sb, e.message);
        core c;
        core_read(path, &c);
        assert_int_equal(c.reg[RSP], garbage[i]);
        assert_int_equal(c.reg[RBP], garbage[i]);
        core_free(&c);
        const char *cmds[] = {"bt 3"};
        char *out = gdb(path, cmds, 1);
        rt_contains(line_of(out, "#0 "), " garbage_stack (");
        free(out);
    }
    assert_int_equal(count_files(), 2);
    assert_int_equal(rt_ok(sb, "get_counter", RT_NOARGS).u.i32, 41);
    hl_sandbox_destroy(sb);
}

static void test_trashed_page_tables(void **state)
{
    (void)state;
    KVM_ONLY();
    hl_sandbox *sb = core_sandbox(HL_CORE_DUMP_ON_FAULT, "");
    hl_error e = rt_fails(sb, "trash_page_tables", HL_E_GUEST_FAULT, RT_ANY_CODE, "triple fault", RT_NOARGS);
    core c;
    core_read(dumped_path(sb, e.message), &c);
    assert_int_equal(c.cursig, SIGSEGV);
    uint64_t pml4[4];
    core_mem(&c, region_addr(sb, HL_REGION_PAGE_TABLES), pml4, sizeof pml4); /* as the guest left it */
    assert_int_equal(pml4[0], 0);
    core_free(&c);
    assert_int_equal(rt_ok(sb, "get_counter", RT_NOARGS).u.i32, 41);
    hl_sandbox_destroy(sb);
}

/* Only the memory the guest has touched is in the file: a 64 MiB heap costs nothing. */
static void test_bounded_size(void **state)
{
    (void)state;
    hl_sandbox *sb = core_sandbox(HL_CORE_DUMP_ON_FAULT, "heap_size_override = \"64MiB\"\n");
    hl_error e = rt_fails(sb, "null_chain", HL_E_GUEST_FAULT, RT_ANY_CODE, NULL, RT_ARGS(hl_u64(0)));
    const char *path = dumped_path(sb, e.message);
    core c;
    core_read(path, &c);
    const hl_layout *l = hl_sandbox_layout(sb);
    uint64_t filesz = 0, memsz = 0;
    for (size_t i = 0; i < c.nload; i++)
        filesz += c.load[i].p_filesz, memsz += c.load[i].p_memsz;
    print_message("core: %zu bytes, %zu segments, %llu of %llu bytes of guest memory in the file\n", c.len, c.nload,
                  (unsigned long long)filesz, (unsigned long long)memsz);
    assert_true(memsz > 64 * HL_MiB);
    assert_true(c.len < 2 * HL_MiB);
    uint64_t heap_mid = region_addr(sb, HL_REGION_HEAP) + l->region[HL_REGION_HEAP].size / 2;
    const Elf64_Phdr *hole = core_segment(&c, heap_mid);
    assert_non_null(hole); /* mapped, not in the file */
    assert_int_equal(hole->p_filesz, 0);
    assert_int_equal(hole->p_flags, PF_R | PF_W);
    core_free(&c);
    hl_sandbox_stats s = HL_SANDBOX_STATS_INIT;
    hl_sandbox_get_stats(sb, &s);
    print_message("written in %.3f ms\n", (double)s.last_core_ns / 1e6);
    assert_int_equal(s.last_core_bytes, c.len);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "x/2gx 0x%llx", (unsigned long long)heap_mid);
    const char *cmds[] = {cmd};
    char *out = gdb(path, cmds, 1);
    rt_contains(out, ":\t0x0000000000000000\t0x0000000000000000"); /* zero, like the untouched page */
    free(out);
    /* a page first written by the failing call itself (not in the snapshot: on KVM a private
     * copy-on-write page) is in the core with what the call wrote */
    uint64_t fresh = heap_mid + 16 * HL_PAGE_SIZE;
    e = rt_fails(sb, "write_then_fault", HL_E_GUEST_FAULT, RT_ANY_CODE, NULL, RT_ARGS(hl_u64(fresh)));
    path = dumped_path(sb, e.message);
    core_read(path, &c);
    uint64_t got = 0;
    core_mem(&c, fresh, &got, sizeof got);
    assert_int_equal(got, 0x1122334455667788ull);
    core_free(&c);
    hl_sandbox_destroy(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_null_three_deep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signals_on_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_always_on_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_initialisation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_modes_no_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_host_function, setup, teardown),
        cmocka_unit_test_setup_teardown(test_between_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trashed_page_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounded_size, setup, teardown),
    };
    return rt_run("coredump", tests);
}
