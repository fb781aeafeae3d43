/* snapshot.h - snapshot files: the format (docs/snapshots.md), writing one, verifying one, hl_snapshot. */
#ifndef HL_SANDBOX_SNAPSHOT_H
#define HL_SANDBOX_SNAPSHOT_H

#include <stdatomic.h>
#include <stdint.h>

#include "hyperlight/sandbox.h"
#include "sandbox/elf.h"

/* ---- the format, version 1 (all integers little-endian) ----
 * A fixed header, a table of sections, the header's checksum, the sections, then the memory
 * image at a 4 KiB-aligned offset: total_size bytes, the guest's memory from its first byte,
 * pages the page map does not list being holes (zero). */
#define HL_SNAP_MAGIC "\x89HLSNAP\n"
#define HL_SNAP_FORMAT_VERSION 1u

/* The fixed header's fields (byte offsets). */
#define HL_SNAP_OFF_MAGIC 0u            /* 8 bytes: HL_SNAP_MAGIC */
#define HL_SNAP_OFF_VERSION 8u          /* u32: HL_SNAP_FORMAT_VERSION */
#define HL_SNAP_OFF_HEADER_SIZE 12u     /* u32: the header, section table and header checksum */
#define HL_SNAP_OFF_FLAGS 16u           /* u32: 0 (none defined) */
#define HL_SNAP_OFF_LIB_VERSION 20u     /* u32: HL_VERSION_NUMBER of the writer (information) */
#define HL_SNAP_OFF_ABI_VERSION 24u     /* u32: HL_ABI_VERSION of the guest in the image */
#define HL_SNAP_OFF_MODE 28u            /* u32: hl_execution_mode */
#define HL_SNAP_OFF_BASE 32u            /* u64: guest address of the image's first byte */
#define HL_SNAP_OFF_TOTAL_SIZE 40u      /* u64: bytes of guest memory (the image's size) */
#define HL_SNAP_OFF_IMAGE_OFFSET 48u    /* u64: where the image starts in the file */
#define HL_SNAP_OFF_IMAGE_HASH 56u      /* u64: checksum of the stored pages, in address order */
#define HL_SNAP_OFF_STORED_PAGES 64u    /* u64: pages the page map lists */
#define HL_SNAP_OFF_SECTION_COUNT 72u   /* u32 */
#define HL_SNAP_OFF_RESERVED 76u        /* u32: 0 */
#define HL_SNAP_FIXED_SIZE 80u          /* then section_count entries, then the header checksum */
#define HL_SNAP_ENTRY_SIZE 32u          /* u32 id, u32 0, u64 offset, u64 size, u64 checksum */
#define HL_SNAP_MAX_SECTIONS 16u
#define HL_SNAP_HEADER_SIZE(n) (HL_SNAP_FIXED_SIZE + (n) * HL_SNAP_ENTRY_SIZE + 8u)

/* Section ids; each appears exactly once. */
enum {
    HL_SNAP_SEC_CONFIG = 1,          /* the config as hyperfile TOML (hl_config_write_toml) */
    HL_SNAP_SEC_LAYOUT = 2,          /* u32 region count, u32 0, u64 base, total, stack, heap, regions */
    HL_SNAP_SEC_ELF = 3,             /* the guest ELF's information the runtime keeps */
    HL_SNAP_SEC_GUEST_FUNCTIONS = 4, /* the guest's function table (codec bytes, "GUFN") */
    HL_SNAP_SEC_HOST_FUNCTIONS = 5,  /* the host function table as in the image ("HOFN") */
    HL_SNAP_SEC_STATE = 6,           /* u64 dispatch, u64 thread pointer, u64 0, u64 0 */
    HL_SNAP_SEC_PAGE_MAP = 7,        /* u64 run count, then (u64 first page, u64 pages) each */
    HL_SNAP_SEC_COUNT = 7
};
#define HL_SNAP_LAYOUT_SIZE (40u + 16u * HL_REGION_COUNT)
#define HL_SNAP_ELF_FIXED 88u
#define HL_SNAP_ELF_SEGMENT 40u
#define HL_SNAP_STATE_SIZE 32u
#define HL_SNAP_CONFIG_MAX (64u * 1024u)

/* Checksum seeds: the header's, each section's (its id), the image's. */
#define HL_SNAP_SEED_HEADER 0x48656164ull
#define HL_SNAP_SEED_IMAGE 0x496d6167ull

typedef struct hl_snap_run {
    uint64_t first, count; /* pages */
} hl_snap_run;

struct hl_snapshot {
    atomic_int refs;
    int fd;               /* the file, read-only (-1 for bytes parsed from memory) */
    const uint8_t *map;   /* the whole file, mapped read-only and shared */
    uint64_t map_size;
    char *path;
    hl_execution_mode mode;
    uint32_t library_version;
    hl_config cfg;
    hl_layout layout;
    hl_elf_info elf;
    hl_function_info *guestfns, *hostfns;
    size_t nguestfns, nhostfns;
    char *guestfn_names, *hostfn_names;
    uint64_t dispatch, thread_pointer;
    hl_snap_run *runs;
    size_t nruns;
    uint64_t image_off, stored_pages;
};

/* What a sandbox's save writes. */
typedef struct hl_snap_source {
    const hl_config *cfg;
    const hl_layout *layout;
    const hl_elf_info *elf;
    const hl_function_info *guestfns;
    size_t nguestfns;
    const uint8_t *hostfn_table; /* the host function region's table, hostfn_len bytes */
    uint64_t hostfn_len;
    uint64_t dispatch, thread_pointer;
    const uint8_t *image;    /* the snapshot: layout->total_size bytes */
    const uint8_t *peb_page; /* written instead of the image's PEB page (host_call fields 0) */
    const uint8_t *system;   /* written instead of the page tables region (as the host builds it) */
    const uint8_t *maybe;    /* per page: may hold data (others are written as holes); NULL: all */
} hl_snap_source;

/* Writes the snapshot file atomically (a temporary file beside path, synced, renamed). */
hl_status hl_snap_write(const hl_snap_source *src, const char *path, hl_error *err);

/* Verifies a whole snapshot file's bytes (data, len) and fills s's parsed parts (s zeroed by the
 * caller; refs, fd, map and path are left alone). fd: the file, to find its holes (SEEK_DATA), or
 * -1 (holes are then read and must be zero). name: the file's name for messages. HL_E_CONFIG with
 * "snapshot `NAME`: WHAT" for anything wrong, HL_E_NOMEM. */
hl_status hl_snap_parse(hl_snapshot *s, const uint8_t *data, uint64_t len, int fd, const char *name, hl_error *err);
/* Frees what hl_snap_parse allocated (not the map or fd). */
void hl_snap_free_parsed(hl_snapshot *s);

/* For tests and the fuzzer: recomputes every checksum of a snapshot file's bytes in place (the
 * sections', the image's over the pages its page map lists, when the map is readable, and the
 * header's), so that edited metadata reaches the checks behind the checksums. Best effort: fields
 * that lie about sizes are left as they are. */
void hl_snap_rehash(uint8_t *data, uint64_t len);

/* A reference for a sandbox made from the snapshot; released with hl_snapshot_close. */
hl_snapshot *hl_snap_ref(const hl_snapshot *s);

/* The layout a sandbox of this mode gets for cfg and elf at base (in-process: the page-table
 * region sized as the core sizes it before the backend picks the base). */
hl_status hl_snap_layout_for(hl_execution_mode mode, const hl_config *cfg, const hl_elf_info *elf, uint64_t base,
                             hl_layout *out, hl_error *err);

#endif
