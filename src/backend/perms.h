/* perms.h - the guest's view of each page (present, writable, executable), shared by the backends. */
#ifndef HL_BACKEND_PERMS_H
#define HL_BACKEND_PERMS_H

#include "backend/x86_64.h"
#include "hyperlight/sandbox.h"
#include "sandbox/elf.h"

/* Fills perms[layout->total_size / 4096] with HL_PERM_* for every page: code by its ELF segment,
 * the host function and host exception regions read-only, guard pages and the unused parts of
 * the code region unmapped, the page tables region read-only (its stub page executable when
 * `system_exec`), everything else read/write and never executable. */
void hl_backend_page_perms(const hl_layout *layout, const hl_elf_info *elf, int system_exec, uint8_t *perms);

#endif
