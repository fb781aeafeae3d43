/* imageshare.h - the read-only pages of a loaded guest image, one copy per process for every
 * sandbox that loads the same image. */
#ifndef HL_SANDBOX_IMAGESHARE_H
#define HL_SANDBOX_IMAGESHARE_H

#include <stdint.h>

#include "backend/backend.h"
#include "sandbox/elf.h"

/* After the guest was loaded at mem->host + code_off: the pages of the image that hold bytes of
 * the file and that no writable segment touches (code, read-only data, headers) are mapped
 * copy-on-write from the process's sealed copy of exactly those bytes, made now when no earlier
 * sandbox has one, and the sandbox's own pages for them are given back to the system (holes
 * punched in mem->fd). Sandboxes of one guest then run the same physical pages of code. 0 when
 * shared (or nothing to share); 1 when nothing was shared and mem is as it was (no memory, a
 * system call refused: the sandbox works without); -1 with errno when mapping the copy failed
 * and the memory is unusable (the caller fails the sandbox). Only for a memory of its own that
 * is still mapped shared (before initialisation). */
int hl_image_share_attach(hl_mem *mem, const hl_elf_info *elf, uint64_t code_off);

/* At the snapshot, before mem->host is mapped again from mem->fd: when the guest or the host
 * changed any shared page during initialisation, all of them are written into mem->fd and the
 * sandbox stops sharing (the snapshot keeps what initialisation left). 0, or -1 with errno when a
 * write failed. */
int hl_image_share_keep_changes(hl_mem *mem);

/* mmap(at, len, prot, flags | MAP_FIXED, fd, off) over a range the caller owns: 0, or -1 with
 * errno, and then the range is covered by an inaccessible mapping (a failed MAP_FIXED may have
 * unmapped it), so that it is still the caller's to unmap and nothing else lands in it. */
int hl_map_over(void *at, uint64_t len, int prot, int flags, int fd, uint64_t off);
/* The same without the fork advice (MADV_DONTFORK), for a run inside a view that the caller
 * advises as a whole once it is all mapped: one system call rather than one per run. */
int hl_map_over_run(void *at, uint64_t len, int prot, int flags, int fd, uint64_t off);

/* Maps the shared pages over a view of the whole memory at `at`: mem->host again after it was
 * mapped from mem->fd (copy-on-write, prot read and write), or the read-only snapshot view (prot
 * read). 0, or -1 with errno (the view is then unusable: hl_map_over left a run inaccessible). */
int hl_image_share_map(const hl_mem *mem, uint8_t *at, int writable);

/* Maps the shared pages over a backend's own view of the memory at `view` (in-process: the
 * guest's), copy-on-write and read-only: the backend gives them their permissions afterwards,
 * and what a debugger writes there stays in that view. 0, or -1 with errno (the view is then
 * unusable: hl_map_over left a run inaccessible). */
int hl_image_share_map_view(const hl_mem *mem, uint8_t *view);

/* Marks the shared pages in map (one byte per page of the memory): they hold data although
 * mem->fd has holes there. */
void hl_image_share_data_pages(const hl_mem *mem, uint8_t *map, uint64_t npages);

/* The sandbox is gone (its mappings too): drops its reference. The process keeps a few copies
 * no sandbox uses for the next sandboxes of those guests. */
void hl_image_share_detach(hl_mem *mem);

/* Marks in map (one byte per page of [off, off + size) of fd) the pages fd holds data for
 * (SEEK_DATA/SEEK_HOLE). 1, or 0 when the file cannot say. */
int hl_fd_data_pages(int fd, uint64_t off, uint64_t size, uint8_t *map, uint64_t npages);

/* Marks in map (one byte per page, all of it written) the pages of [view, view + size) that are
 * resident (mincore), when that means "holds data": only without swap, where a page swapped out
 * would look untouched. 1, or 0 when it cannot tell (swap, or mincore failed). */
int hl_resident_pages(const void *view, uint64_t size, uint8_t *map, uint64_t npages);

/* ---- Snapshots: the pages initialisation leaves the same in every sandbox of a guest ----
 *
 * A copy-on-write backend's snapshot is the sandbox's sealed memfd. The first sandbox of a guest
 * and layout (`key`) offers its sealed memfd to later ones; a later sandbox whose snapshot page
 * equals the offered one, byte for byte, maps that page copy-on-write from there instead of
 * keeping its own copy. The offered memfd is sealed (nothing writes it again), and what each
 * sandbox writes is its own private copy, as with its own memfd. An offer is used only in the
 * process that made it (a forked child makes its own). Called in this order at the snapshot, on
 * the job's thread, with the guest stopped: */

/* Where a page of a sandbox that maps an offered snapshot comes from (hl_mem.pool_page[p]). */
#define HL_POOL_ANY 0   /* a hole in both, or a page of the shared image copy (mapped over it) */
#define HL_POOL_EQUAL 1 /* equal to the offered page: the offered one */
#define HL_POOL_OWN 2   /* the sandbox's own memfd */

/* Compares the pages mem->fd holds with the offered snapshot of `key`, while mem->host still
 * maps mem->fd shared, and records where each page will come from (mem->pool, mem->pool_page):
 * the offer where equal, else the sandbox's own memfd. 1 when some pages are equal, 0 when none
 * are or no offer is used (no offer, the sandbox's own pages too scattered to be worth the
 * mappings, or no memory). */
int hl_init_share_find(hl_mem *mem, uint64_t key);

/* With an offer recorded: maps the offered snapshot over a view of the whole memory at `at`, and
 * the sandbox's own pages from mem->fd over it (copy-on-write and writable, or shared
 * read-only, as hl_image_share_map). 0, or -1 with errno (the view is then unusable). */
int hl_init_share_map(const hl_mem *mem, uint8_t *at, int writable);

/* Once every view maps the offer: gives the sandbox's own copies of the equal pages back (holes
 * punched in mem->fd, which is not sealed yet). */
void hl_init_share_punch(const hl_mem *mem);

/* After mem->fd was sealed, `view` being the read-only view of the snapshot: when the sandbox
 * shares nothing and nothing is offered for `key`, offers mem->fd (a duplicate of it: the offer
 * lives as long as a sandbox maps it or made it). Nothing happens when that fails. */
void hl_init_share_offer(hl_mem *mem, const uint8_t *view, uint64_t key);

/* Marks the recorded pages in map (one byte per page): data, although mem->fd has holes there. */
void hl_init_share_data_pages(const hl_mem *mem, uint8_t *map, uint64_t npages);

/* The sandbox is gone (its mappings too): drops its references. */
void hl_init_share_detach(hl_mem *mem);

#endif
