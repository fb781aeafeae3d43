/* coredump.c - ELF core files of a guest, for gdb: the writer, and the sandbox's automatic and on-demand dumps. */
#include "sandbox/coredump.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend/perms.h"
#include "backend/x86_64.h"
#include "sandbox/sandbox_internal.h"
#include "util/errfmt.h"
#include "util/structsize.h"
#include "util/bytes.h"

#define PAGE 4096ull

/* ---- the writer ---- */

/* Sizes and offsets of the x86-64 Linux note payloads gdb reads (the kernel's ABI):
 * struct elf_prstatus (336 bytes): pr_info {si_signo, si_code, si_errno} at 0, pr_cursig (short)
 *   at 12, pr_sigpend 16, pr_sighold 24, pr_pid 32, pr_ppid 36, pr_pgrp 40, pr_sid 44, four
 *   struct timeval 48..111, pr_reg (27 x u64, struct user_regs_struct) at 112, pr_fpvalid at 328.
 * struct elf_prpsinfo (136 bytes): pr_state 0, pr_sname 1, pr_zomb 2, pr_nice 3, pr_flag 8,
 *   pr_uid 16, pr_gid 20, pr_pid 24, pr_ppid 28, pr_pgrp 32, pr_sid 36, pr_fname[16] at 40,
 *   pr_psargs[80] at 56.
 * siginfo_t (128 bytes): si_signo 0, si_errno 4, si_code 8, si_addr at 16 for SIGSEGV/SIGBUS. */
#define PRSTATUS_SIZE 336
#define PRSTATUS_CURSIG 12
#define PRSTATUS_PID 32
#define PRSTATUS_REG 112
#define PRSTATUS_FPVALID 328
#define PRPSINFO_SIZE 136
#define PRPSINFO_SNAME 1
#define PRPSINFO_PID 24
#define PRPSINFO_FNAME 40
#define PRPSINFO_PSARGS 56
#define SIGINFO_SIZE 128

/* user_regs_struct, in its order. */
enum {
    UR_R15, UR_R14, UR_R13, UR_R12, UR_RBP, UR_RBX, UR_R11, UR_R10, UR_R9, UR_R8, UR_RAX, UR_RCX,
    UR_RDX, UR_RSI, UR_RDI, UR_ORIG_RAX, UR_RIP, UR_CS, UR_EFLAGS, UR_RSP, UR_SS, UR_FS_BASE,
    UR_GS_BASE, UR_DS, UR_ES, UR_FS, UR_GS, UR_COUNT
};

typedef struct obuf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} obuf;

static void put(obuf *b, const void *data, size_t n)
{
    if (b->oom || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (data)
        memcpy(b->p + b->len, data, n);
    else
        memset(b->p + b->len, 0, n);
    b->len += n;
}


/* One note named "CORE" (as Linux's), name and descriptor padded to 4 bytes. */
static void note(obuf *b, uint32_t type, const void *desc, size_t descsz)
{
    Elf64_Nhdr h = {.n_namesz = 5, .n_descsz = (Elf64_Word)descsz, .n_type = type};
    static const char name[8] = "CORE";
    put(b, &h, sizeof h);
    put(b, name, sizeof name);
    put(b, desc, descsz);
    put(b, NULL, (4 - descsz % 4) % 4);
}

static void copy_str(uint8_t *dst, size_t size, const char *s)
{
    size_t n = s ? strnlen(s, size - 1) : 0;
    memcpy(dst, s, n);
    dst[n] = 0;
}

static void build_notes(obuf *b, const hl_core_desc *d)
{
    uint8_t prs[PRSTATUS_SIZE] = {0};
    hl_put32(prs + 0, (uint32_t)d->signo);
    hl_put32(prs + 4, (uint32_t)d->si_code);
    uint16_t cursig = (uint16_t)d->signo;
    memcpy(prs + PRSTATUS_CURSIG, &cursig, 2);
    hl_put32(prs + PRSTATUS_PID, (uint32_t)d->pid);
    uint64_t ur[UR_COUNT] = {0};
    const hl_cpu_regs *r = d->regs;
    if (r) {
        ur[UR_R15] = r->r15, ur[UR_R14] = r->r14, ur[UR_R13] = r->r13, ur[UR_R12] = r->r12;
        ur[UR_RBP] = r->rbp, ur[UR_RBX] = r->rbx, ur[UR_R11] = r->r11, ur[UR_R10] = r->r10;
        ur[UR_R9] = r->r9, ur[UR_R8] = r->r8, ur[UR_RAX] = r->rax, ur[UR_RCX] = r->rcx;
        ur[UR_RDX] = r->rdx, ur[UR_RSI] = r->rsi, ur[UR_RDI] = r->rdi, ur[UR_RIP] = r->rip;
        ur[UR_CS] = r->cs, ur[UR_EFLAGS] = r->rflags, ur[UR_RSP] = r->rsp, ur[UR_SS] = r->ss;
        ur[UR_FS_BASE] = r->fs_base, ur[UR_GS_BASE] = r->gs_base, ur[UR_DS] = r->ds, ur[UR_ES] = r->es;
        ur[UR_FS] = r->fs, ur[UR_GS] = r->gs;
    }
    ur[UR_ORIG_RAX] = UINT64_MAX; /* not in a system call: nothing for a debugger to restart */
    memcpy(prs + PRSTATUS_REG, ur, sizeof ur);
    int fpvalid = r && r->has_fxsave;
    hl_put32(prs + PRSTATUS_FPVALID, (uint32_t)fpvalid);
    note(b, NT_PRSTATUS, prs, sizeof prs);

    uint8_t psi[PRPSINFO_SIZE] = {0};
    psi[PRPSINFO_SNAME] = 'R';
    hl_put32(psi + PRPSINFO_PID, (uint32_t)d->pid);
    copy_str(psi + PRPSINFO_FNAME, 16, d->fname);
    copy_str(psi + PRPSINFO_PSARGS, 80, d->psargs);
    note(b, NT_PRPSINFO, psi, sizeof psi);

    if (d->signo) {
        uint8_t si[SIGINFO_SIZE] = {0};
        hl_put32(si + 0, (uint32_t)d->signo);
        hl_put32(si + 8, (uint32_t)d->si_code);
        if (d->has_addr)
            hl_put64(si + 16, d->fault_addr);
        note(b, NT_SIGINFO, si, sizeof si);
    }

    uint64_t auxv[12];
    size_t na = 0;
    if (d->phdr) {
        auxv[na++] = AT_PHDR, auxv[na++] = d->phdr;
        auxv[na++] = AT_PHENT, auxv[na++] = sizeof(Elf64_Phdr);
        auxv[na++] = AT_PHNUM, auxv[na++] = d->phnum;
    }
    auxv[na++] = AT_PAGESZ, auxv[na++] = PAGE;
    auxv[na++] = AT_ENTRY, auxv[na++] = d->entry;
    auxv[na++] = AT_NULL, auxv[na++] = 0;
    note(b, NT_AUXV, auxv, na * sizeof(uint64_t));

    if (d->file_path && d->nmaps) {
        /* count, page size, {start, end, offset in pages} per mapping, then a name per mapping */
        size_t plen = strlen(d->file_path) + 1;
        size_t size = 16 + d->nmaps * 24 + d->nmaps * plen;
        uint8_t *f = calloc(1, size);
        if (!f) {
            b->oom = 1;
            return;
        }
        hl_put64(f, d->nmaps);
        hl_put64(f + 8, PAGE);
        for (size_t i = 0; i < d->nmaps; i++) {
            hl_put64(f + 16 + i * 24, d->maps[i].start);
            hl_put64(f + 16 + i * 24 + 8, d->maps[i].end);
            hl_put64(f + 16 + i * 24 + 16, d->maps[i].offset / PAGE);
            memcpy(f + 16 + d->nmaps * 24 + i * plen, d->file_path, plen);
        }
        note(b, NT_FILE, f, size);
        free(f);
    }

    if (fpvalid)
        note(b, NT_FPREGSET, r->fxsave, sizeof r->fxsave);
}

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *c = p;
    while (n) {
        ssize_t w = write(fd, c, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

hl_status hl_core_write(int fd, const hl_core_desc *d, uint64_t *bytes, hl_error *err)
{
    obuf notes = {0};
    build_notes(&notes, d);
    if (notes.oom) {
        free(notes.p);
        return hl_errorf(err, HL_E_NOMEM, "out of memory for the core's notes");
    }
    size_t nph = 1 + d->nsegs;
    int xnum = nph >= PN_XNUM;
    uint64_t phoff = sizeof(Elf64_Ehdr), shoff = phoff + nph * sizeof(Elf64_Phdr);
    uint64_t noteoff = shoff + (xnum ? sizeof(Elf64_Shdr) : 0);
    uint64_t dataoff = (noteoff + notes.len + PAGE - 1) & ~(PAGE - 1);

    obuf h = {0};
    Elf64_Ehdr eh;
    memset(&eh, 0, sizeof eh);
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
    eh.e_type = ET_CORE;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_phoff = phoff;
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = xnum ? PN_XNUM : (Elf64_Half)nph;
    if (xnum) {
        eh.e_shoff = shoff;
        eh.e_shentsize = sizeof(Elf64_Shdr);
        eh.e_shnum = 1;
        eh.e_shstrndx = SHN_UNDEF;
    }
    put(&h, &eh, sizeof eh);
    Elf64_Phdr ph;
    memset(&ph, 0, sizeof ph);
    ph.p_type = PT_NOTE;
    ph.p_offset = noteoff;
    ph.p_filesz = notes.len;
    ph.p_align = 4;
    put(&h, &ph, sizeof ph);
    uint64_t off = dataoff;
    for (size_t i = 0; i < d->nsegs; i++) {
        const hl_core_segment *s = &d->segs[i];
        memset(&ph, 0, sizeof ph);
        ph.p_type = PT_LOAD;
        ph.p_flags = s->flags;
        ph.p_offset = off;
        ph.p_vaddr = s->addr;
        ph.p_memsz = s->size;
        ph.p_filesz = s->data ? s->size : 0;
        ph.p_align = PAGE;
        off += ph.p_filesz;
        put(&h, &ph, sizeof ph);
    }
    if (xnum) {
        Elf64_Shdr sh;
        memset(&sh, 0, sizeof sh);
        sh.sh_type = SHT_NULL;
        sh.sh_info = (Elf64_Word)nph;
        put(&h, &sh, sizeof sh);
    }
    put(&h, notes.p, notes.len);
    put(&h, NULL, dataoff - noteoff - notes.len);
    free(notes.p);
    if (h.oom) {
        free(h.p);
        return hl_errorf(err, HL_E_NOMEM, "out of memory for the core's headers");
    }
    int e = write_all(fd, h.p, h.len);
    free(h.p);
    uint64_t done = e ? 0 : dataoff;
    for (size_t i = 0; !e && i < d->nsegs; i++)
        if (d->segs[i].data) {
            e = write_all(fd, d->segs[i].data, d->segs[i].size);
            done += e ? 0 : d->segs[i].size;
        }
    *bytes += done;
    if (e)
        return hl_errorf(err, HL_E_IO, "writing it failed: %s", strerror(e));
    return HL_OK;
}

int hl_core_signal_of_vector(unsigned vector, uint64_t error_code, int *si_code)
{
    switch (vector) {
    case 0: *si_code = FPE_INTDIV; return SIGFPE;                /* #DE */
    case 16: *si_code = FPE_FLTINV; return SIGFPE;               /* #MF */
    case 19: *si_code = FPE_FLTINV; return SIGFPE;               /* #XM */
    case 1: *si_code = TRAP_TRACE; return SIGTRAP;               /* #DB */
    case 3: *si_code = TRAP_BRKPT; return SIGTRAP;               /* #BP */
    case 6: *si_code = ILL_ILLOPN; return SIGILL;                /* #UD */
    case 17: *si_code = BUS_ADRALN; return SIGBUS;               /* #AC */
    case 14: *si_code = (error_code & 1) ? SEGV_ACCERR : SEGV_MAPERR; return SIGSEGV; /* #PF */
    default: *si_code = SI_KERNEL; return SIGSEGV;               /* #GP, #SS, #DF, ... */
    }
}

/* ---- the sandbox's dumps ---- */

/* Which pages of the memory have ever been written (memfd pages that exist, resident or swapped):
 * holes are left out of the core. SEEK_DATA/SEEK_HOLE, else mincore, else every page. Once the
 * memfd is the snapshot (snapshot_taken), pages written since are private copies in mem.host's
 * mapping, which mincore finds, so both are asked. */
static void pages_present(const hl_sandbox *sb, uint8_t *present, uint64_t npages)
{
    memset(present, 0, npages);
    int ok = hl_sb_fd_data_pages(&sb->mem, present, npages);
    int cow = sb->snapshot_taken || (sb->from && sb->ops->cow_restore);
    if (ok && !cow)
        return;
    unsigned char *vec = malloc(npages);
    if (vec && mincore(sb->mem.host, sb->mem.size, vec) == 0)
        for (uint64_t p = 0; p < npages; p++)
            present[p] |= vec[p] & 1;
    else
        memset(present, 1, npages);
    free(vec);
}

static uint32_t elf_flags(uint8_t perm)
{
    return PF_R | ((perm & HL_PERM_WRITE) ? PF_W : 0) | ((perm & HL_PERM_EXEC) ? PF_X : 0);
}

/* The guest's name for file names: its basename, only [A-Za-z0-9._-] (others become '_'), at
 * most 64 bytes, never empty or starting with '.'. */
static void safe_name(const char *path, char *out, size_t size)
{
    const char *base = path ? strrchr(path, '/') : NULL;
    base = base ? base + 1 : path ? path : "";
    size_t n = 0;
    for (const char *p = base; *p && n + 1 < size && n < 64; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                 c == '-';
        out[n++] = ok ? c : '_';
    }
    out[n] = 0;
    if (n == 0)
        snprintf(out, size, "guest");
    else if (out[0] == '.')
        out[0] = '_';
}

static void give_path(char *written, size_t size, const char *dir, const char *name)
{
    if (!written || !size)
        return;
    if (!dir)
        snprintf(written, size, "%s", name);
    else
        snprintf(written, size, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", name);
}

/* Creates the core's file: exactly `path`, or a fresh name in core_dump_dir (opened as a
 * directory first, then the name created inside it with openat: nothing can lead outside it).
 * Fills dirfd (-1 with path) and the name in it, for an unlink on failure. */
static int create_core_file(hl_sandbox *sb, const char *path, int *dirfd, char *name, size_t name_size,
                            char *written, size_t written_size, hl_error *err)
{
    const int flags = O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC;
    *dirfd = -1;
    if (path) {
        int fd = open(path, flags, 0600);
        if (fd < 0) {
            if (errno == EEXIST)
                hl_errorf(err, HL_E_IO, "`%s` exists (a core file never replaces a file)", path);
            else
                hl_errorf(err, HL_E_IO, "cannot create `%s`: %s", path, strerror(errno));
            return -1;
        }
        name[0] = 0; /* the caller removes `path` itself on failure */
        give_path(written, written_size, NULL, path);
        return fd;
    }
    const char *dir = sb->cfg->core_dump_dir;
    if (!memchr(dir, 0, sizeof sb->cfg->core_dump_dir)) { /* plain data, filled by hand */
        hl_errorf(err, HL_E_IO, "core_dump_dir is not a NUL-terminated string");
        return -1;
    }
    char cwd[HL_CONFIG_PATH_MAX];
    const char *shown = dir;
    if (!dir[0])
        shown = getcwd(cwd, sizeof cwd) ? cwd : ".";
    *dirfd = open(dir[0] ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*dirfd < 0) {
        hl_errorf(err, HL_E_IO, "cannot open the core dump directory `%s`: %s", shown, strerror(errno));
        return -1;
    }
    char guest[72];
    safe_name(sb->guest_path, guest, sizeof guest);
    char base[128];
    snprintf(base, sizeof base, "core.%s.%ld.%llu.%lld", guest, (long)getpid(), (unsigned long long)sb->serial,
             (long long)time(NULL));
    for (unsigned n = 0; n <= 999; n++) {
        if (n == 0)
            snprintf(name, name_size, "%s", base);
        else
            snprintf(name, name_size, "%s.%u", base, n);
        int fd = openat(*dirfd, name, flags, 0600);
        if (fd >= 0) {
            give_path(written, written_size, shown, name);
            return fd;
        }
        if (errno != EEXIST) {
            hl_errorf(err, HL_E_IO, "cannot create `%s` in `%s`: %s", name, shown, strerror(errno));
            close(*dirfd);
            *dirfd = -1;
            return -1;
        }
    }
    hl_errorf(err, HL_E_IO, "`%s` and its 999 numbered variants exist in `%s`", base, shown);
    close(*dirfd);
    *dirfd = -1;
    return -1;
}

hl_status hl_sb_core_dump(hl_sandbox *sb, const hl_core_why *why, const char *path, char *written,
                          size_t written_size, hl_error *err)
{
    if (written && written_size)
        written[0] = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t t0 = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, bytes = 0;
    const hl_layout *l = &sb->layout;
    uint64_t npages = sb->mem.size / PAGE;
    uint8_t *perms = malloc(npages ? npages : 1), *present = malloc(npages ? npages : 1);
    hl_core_segment *segs = NULL;
    hl_status st = HL_OK;
    if (!perms || !present) {
        st = hl_errorf(err, HL_E_NOMEM, "out of memory");
        goto out;
    }
    hl_backend_page_perms(l, &sb->elf, sb->ops == &hl_backend_kvm, perms);
    pages_present(sb, present, npages);
    /* one segment per run of pages with the same permission and presence; guard pages (no
     * permission) are left out */
    size_t nsegs = 0, cap = 0;
    for (uint64_t p = 0; p < npages;) {
        uint64_t q = p + 1;
        while (q < npages && perms[q] == perms[p] && present[q] == present[p])
            q++;
        if (perms[p] & HL_PERM_PRESENT) {
            if (nsegs == cap) {
                cap = cap ? cap * 2 : 64;
                hl_core_segment *n = realloc(segs, cap * sizeof *segs);
                if (!n) {
                    st = hl_errorf(err, HL_E_NOMEM, "out of memory");
                    goto out;
                }
                segs = n;
            }
            segs[nsegs++] = (hl_core_segment){.addr = l->base + p * PAGE, .size = (q - p) * PAGE,
                                               .data = present[p] ? sb->mem.host + p * PAGE : NULL,
                                               .flags = elf_flags(perms[p])};
        }
        p = q;
    }
    /* NT_FILE: the guest ELF's file-backed part of each loaded segment */
    uint64_t code = hl_layout_addr(l, HL_REGION_CODE);
    hl_core_file_map maps[HL_ELF_MAX_SEGMENTS];
    size_t nmaps = 0;
    for (size_t i = 0; i < sb->elf.nsegs; i++) {
        const hl_elf_segment *s = &sb->elf.segs[i];
        if (!s->filesz)
            continue;
        uint64_t lead = s->vaddr & (PAGE - 1);
        maps[nmaps].start = code + (s->vaddr - lead - sb->elf.min_vaddr);
        maps[nmaps].end = maps[nmaps].start + ((lead + s->filesz + PAGE - 1) & ~(PAGE - 1));
        maps[nmaps].offset = s->offset - lead;
        nmaps++;
    }
    char guest[72];
    safe_name(sb->guest_path, guest, sizeof guest);
    const char *psargs = sb->guest_path && strlen(sb->guest_path) < 80 ? sb->guest_path : guest;
    hl_core_desc d = {
        .signo = why->signo,
        .si_code = why->si_code,
        .fault_addr = why->fault_addr,
        .has_addr = why->has_addr,
        .regs = why->regs,
        .pid = (int32_t)getpid(),
        .fname = guest,
        .psargs = psargs,
        .entry = code + (sb->elf.entry - sb->elf.min_vaddr),
        .phdr = sb->elf.phdr_loaded ? code + (sb->elf.phdr_vaddr - sb->elf.min_vaddr) : 0,
        .phnum = sb->elf.phnum,
        .file_path = sb->guest_path,
        .maps = maps,
        .nmaps = nmaps,
        .segs = segs,
        .nsegs = nsegs,
    };
    char name[HL_CONFIG_PATH_MAX + 160];
    int dirfd = -1;
    int fd = create_core_file(sb, path, &dirfd, name, sizeof name, written, written_size, err);
    if (fd < 0) {
        st = HL_E_IO;
        goto out;
    }
    st = hl_core_write(fd, &d, &bytes, err);
    if (close(fd) != 0 && !st)
        st = hl_errorf(err, HL_E_IO, "writing it failed: %s", strerror(errno));
    if (st) { /* no half-written core left behind */
        if (dirfd >= 0)
            unlinkat(dirfd, name, 0);
        else
            unlink(path);
        if (written && written_size)
            written[0] = 0;
    } else {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sb->stats.last_core_bytes = bytes;
        sb->stats.last_core_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - t0;
    }
    if (dirfd >= 0)
        close(dirfd);
out:
    free(perms);
    free(present);
    free(segs);
    return st;
}

/* Appends text to the job's error message; when both do not fit, the message is cut so that all
 * of the text (what became of the core) stays. */
static void append_message(hl_sandbox *sb, const char *text)
{
    char *m = sb->job_err.message;
    size_t cap = sizeof sb->job_err.message, len = strlen(m), tl = strlen(text);
    if (tl >= cap)
        tl = cap - 1;
    if (len + tl >= cap)
        len = cap - 1 - tl;
    memcpy(m + len, text, tl);
    m[len + tl] = 0;
}

void hl_sb_core_after_run(hl_sandbox *sb, hl_status st)
{
    uint64_t mode = sb->cfg->core_dump;
    if (mode == HL_CORE_DUMP_OFF || st == HL_OK)
        return;
    int fault = st == HL_E_GUEST_FAULT || st == HL_E_STACK_OVERFLOW || st == HL_E_GUEST_ABORT ||
                st == HL_E_GUEST_PANIC || st == HL_E_GUEST_PROTOCOL;
    int error = st == HL_E_CANCELLED || st == HL_E_GUEST_ERROR;
    if (!fault && !(error && mode == HL_CORE_DUMP_ALWAYS_ON_ERROR))
        return;
    if (sb->state == SB_POISONED) /* the call could not be stopped in time: given up */
        return;
    const hl_run_result *r = &sb->last_run;
    hl_core_why why = {0};
    hl_cpu_regs now;
    if (r->has_regs)
        why.regs = &r->regs;
    else if (sb->be && sb->ops->current_regs && sb->ops->current_regs(sb->be, &now))
        why.regs = &now; /* KVM after hlt: where the guest halted */
    switch (st) {
    case HL_E_CANCELLED: /* its time ran out, or the debugger killed it */
        why.signo = r->stop == HL_STOP_DEBUGGER ? SIGKILL : SIGALRM;
        why.si_code = SI_KERNEL;
        break;
    case HL_E_GUEST_ABORT:
    case HL_E_GUEST_PANIC:
        why.signo = SIGABRT;
        why.si_code = SI_USER;
        break;
    case HL_E_GUEST_PROTOCOL:
        why.signo = SIGSYS; /* it broke the host interface */
        why.si_code = SI_USER;
        break;
    case HL_E_GUEST_ERROR:
        why.signo = 0; /* it returned an error: no signal */
        break;
    default: /* faults and stack overflows */
        if (r->stop != HL_STOP_FAULT || r->vector == HL_VECTOR_NONE) {
            why.signo = SIGSEGV; /* a triple fault, an access outside the memory, a broken cookie */
            why.si_code = SI_KERNEL;
        } else if (sb->ops == &hl_backend_kvm) {
            why.signo = hl_core_signal_of_vector(r->vector, r->error_code, &why.si_code);
        } else {
            why.signo = (int)r->vector; /* in-process: the signal itself */
            why.si_code = (int)r->error_code;
        }
        why.fault_addr = r->fault_addr;
        why.has_addr = r->has_fault_addr;
        break;
    }
    hl_error e = HL_ERROR_INIT;
    char path[HL_SB_CORE_PATH_MAX];
    char text[HL_SB_CORE_PATH_MAX + 64];
    if (!sb->last_core) /* rare: kept out of every sandbox's memory until a core is written */
        sb->last_core = calloc(1, sizeof path);
    if (!sb->last_core) {
        snprintf(text, sizeof text, "; core dump not written: out of memory");
    } else if (hl_sb_core_dump(sb, &why, NULL, path, sizeof path, &e) == HL_OK) {
        memcpy(sb->last_core, path, sizeof path);
        sb->stats.core_dumps++;
        snprintf(text, sizeof text, "; core dumped to %s", path);
    } else {
        snprintf(text, sizeof text, "; core dump not written: %s", e.message);
    }
    append_message(sb, text);
}

/* ---- the public API ---- */

/* The registers a call starts with (kvm_run and inproc_run): the dispatch function (or the ELF's
 * entry before initialisation) with the PEB as its argument, on the empty stack. */
static void entry_regs(const hl_sandbox *sb, hl_cpu_regs *r)
{
    memset(r, 0, sizeof *r);
    const hl_layout *l = &sb->layout;
    r->rip = sb->state == SB_READY ? sb->dispatch
                                   : hl_layout_addr(l, HL_REGION_CODE) + (sb->elf.entry - sb->elf.min_vaddr);
    r->rsp = hl_layout_addr(l, HL_REGION_STACK) + l->region[HL_REGION_STACK].size - 8;
    r->rdi = hl_layout_addr(l, HL_REGION_PEB);
    r->rflags = 2;
    if (sb->ops == &hl_backend_kvm) {
        r->cs = HL_X86_SEL_CODE;
        r->ss = r->ds = r->es = r->fs = r->gs = HL_X86_SEL_DATA;
    }
}

hl_status hl_sandbox_dump_core(hl_sandbox *sb, const char *path, char *written, size_t written_size,
                               hl_error *err)
{
    if (hl_error_check(err) != HL_OK) return HL_E_INVALID_ARG;
    hl_error_clear(err);
    if (written && written_size)
        written[0] = 0;
    if (!sb)
        return hl_errorf(err, HL_E_INVALID_ARG, "hl_sandbox_dump_core: NULL sandbox");
    hl_core_why why = {0};
    hl_cpu_regs regs;
    if (hl_sb_on_own_thread(sb) && !hl_sb_forked(sb)) { /* a host function: the guest waits at its host call */
        if (sb->be && sb->ops->current_regs(sb->be, &regs))
            why.regs = &regs;
        return hl_sb_core_dump(sb, &why, path, written, written_size, err);
    }
    hl_status st = hl_sb_enter(sb, "hl_sandbox_dump_core", err);
    if (st) return st;
    if (sb->state == SB_POISONED) {
        st = hl_errorf(err, HL_E_POISONED, "the sandbox is unusable: destroy it");
    } else {
        entry_regs(sb, &regs);
        why.regs = &regs;
        st = hl_sb_core_dump(sb, &why, path, written, written_size, err);
    }
    hl_sb_leave(sb);
    return st;
}

size_t hl_sandbox_last_core(const hl_sandbox *sb, char *buf, size_t size)
{
    if (buf && size)
        buf[0] = 0;
    if (!sb)
        return 0;
    hl_sandbox *m = (hl_sandbox *)sb; /* the gate is the mutable part of a const sandbox */
    int own = hl_sb_on_own_thread(sb);
    if (!own && hl_sb_enter(m, "hl_sandbox_last_core", NULL) != HL_OK)
        return 0;
    const char *last = sb->last_core ? sb->last_core : "";
    size_t len = strlen(last);
    if (buf && size)
        snprintf(buf, size, "%s", last);
    if (!own)
        hl_sb_leave(m);
    return len;
}
