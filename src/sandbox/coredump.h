/* coredump.h - ELF core files of a guest: the writer, and the sandbox's automatic and on-demand dumps. */
#ifndef HL_SANDBOX_COREDUMP_H
#define HL_SANDBOX_COREDUMP_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "hyperlight/error.h"

/* ---- the writer: everything it needs, described by the caller ---- */

/* A PT_LOAD segment: `size` bytes of guest memory at guest address `addr` (page multiples), with
 * the guest's permissions (PF_R/PF_W/PF_X of <elf.h>). data NULL: the memory exists but was never
 * touched (no bytes in the file, p_filesz 0; gdb reads zero there). */
typedef struct hl_core_segment {
    uint64_t addr, size;
    const uint8_t *data;
    uint32_t flags;
} hl_core_segment;

/* An NT_FILE entry: guest addresses [start, end) map the file from byte `offset` (page-aligned). */
typedef struct hl_core_file_map {
    uint64_t start, end, offset;
} hl_core_file_map;

typedef struct hl_core_desc {
    int signo;        /* pr_cursig and the NT_SIGINFO signal; 0: no signal (no NT_SIGINFO) */
    int si_code;
    uint64_t fault_addr; /* the faulting address (NT_SIGINFO), when has_addr */
    int has_addr;
    const hl_cpu_regs *regs; /* NULL: all registers zero, no NT_FPREGSET */
    int32_t pid;
    const char *fname;  /* NT_PRPSINFO pr_fname (15 bytes kept) */
    const char *psargs; /* NT_PRPSINFO pr_psargs (79 bytes kept) */
    uint64_t entry;     /* NT_AUXV: AT_ENTRY, the guest's entry at its load address */
    uint64_t phdr;      /* AT_PHDR, the loaded program headers (0: no AT_PHDR/AT_PHNUM/AT_PHENT) */
    uint64_t phnum;
    const char *file_path; /* NT_FILE's file, the guest ELF (NULL: no NT_FILE) */
    const hl_core_file_map *maps;
    size_t nmaps;
    const hl_core_segment *segs;
    size_t nsegs;
} hl_core_desc;

/* Writes an ELF64 core file (ET_CORE, EM_X86_64) to fd, from its current position: the ELF
 * header, a PT_NOTE (NT_PRSTATUS, NT_PRPSINFO, NT_SIGINFO, NT_AUXV, NT_FILE, NT_FPREGSET) and one
 * PT_LOAD per segment, in that order; more than 65534 program headers use PN_XNUM (the count in
 * section header 0). Segment data is page-aligned in the file. Adds the bytes written to *bytes.
 * HL_E_IO on a failed write (err says why); HL_E_NOMEM. */
hl_status hl_core_write(int fd, const hl_core_desc *d, uint64_t *bytes, hl_error *err);

/* The signal a Linux process would get for x86 exception `vector` and its si_code (for #PF from
 * the error code: SEGV_MAPERR for a page not present, SEGV_ACCERR otherwise). */
int hl_core_signal_of_vector(unsigned vector, uint64_t error_code, int *si_code);

/* ---- the sandbox's dumps ---- */

struct hl_sandbox;

/* Why a core is written. */
typedef struct hl_core_why {
    int signo, si_code;
    uint64_t fault_addr;
    int has_addr;
    const hl_cpu_regs *regs; /* NULL: none known */
} hl_core_why;

/* Writes a core of sb's guest as it is now: its memory at its guest addresses, the registers and
 * signal of `why`. path NULL: a new file in core_dump_dir named
 * core.<guest>.<pid>.<serial>.<unix time>[.N]; else exactly that file. Either way it is created
 * (O_EXCL, O_NOFOLLOW, mode 0600), never overwritten. The path written goes to `written`
 * (truncated to written_size, NUL-terminated; may be NULL). Call with the sandbox's memory
 * quiet: on its thread, or under its gate between jobs. */
hl_status hl_sb_core_dump(struct hl_sandbox *sb, const hl_core_why *why, const char *path, char *written,
                          size_t written_size, hl_error *err);

/* The automatic dump after a failed run (core_dump setting): decides from st whether to write,
 * writes, and appends "; core dumped to PATH" or "; core dump not written: WHY" to the job's
 * error message. On the job's thread, before memory is restored. */
void hl_sb_core_after_run(struct hl_sandbox *sb, hl_status st);

#endif
