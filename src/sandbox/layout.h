/* layout.h - sizing and placing a sandbox's memory regions from its config and guest binary. */
#ifndef HL_SANDBOX_LAYOUT_H
#define HL_SANDBOX_LAYOUT_H

#include "hyperlight/sandbox.h"
#include "sandbox/elf.h"

/* Fills out with every region (design order, page-aligned) for a guest loaded at guest address
 * `base`. Stack and heap: the config's override, else the guest's ELF note, else the default.
 * Fails (naming the keys to change) when the total exceeds HL_CONFIG_MAX_TOTAL_MEMORY. */
hl_status hl_layout_compute(const hl_config *cfg, const hl_elf_info *elf, uint64_t base, hl_layout *out,
                            hl_error *err);

/* The PEB the host writes for this config and layout (what the guest reads its regions from):
 * every host field but those the backend decides (host_call, host_call_ctx: 0 here; run_mode
 * from the config); the guest's fields (dispatch_function, syscall_entry, thread_pointer) 0. */
void hl_layout_peb(const hl_config *cfg, const hl_layout *l, hl_peb *peb);

/* Guest address of a region's first byte. */
static inline uint64_t hl_layout_addr(const hl_layout *l, hl_region_id id)
{
    return l->base + l->region[id].offset;
}

#endif
