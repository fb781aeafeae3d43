/* imageshare.c - the read-only pages of loaded guest images, one copy per process. */
#include "sandbox/imageshare.h"
#include "util/procid.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#define PAGE 4096ull
/* copies no sandbox uses that are kept for the next sandboxes of their guests: at most this
 * many, of at most this many bytes in all */
#define MAX_IDLE 4
#define MAX_IDLE_BYTES (64ull << 20)

/* One loaded image's shareable pages: a sealed memfd as long as the image, holding the shared
 * pages at their offsets (holes elsewhere), and a read-only view of it to compare with. */
struct hl_image_share {
    struct hl_image_share *next;
    int fd;
    const uint8_t *view;
    uint64_t npages;
    uint8_t *shared; /* per page of the image: 1 when the memfd holds it */
    uint64_t nshared;
    unsigned refs;
    uint64_t used;   /* when the last sandbox let go of it, for eviction */
};

static hl_plock g_lock = HL_PLOCK_INIT; /* unlocked again in a forked child */
static struct hl_image_share *g_copies;
static uint64_t g_clock;


/* The pages of the loaded span that hold bytes of the file (a segment's file-backed part) and that
 * no writable segment overlaps. Gaps and zero-filled tails stay out: the copy holds no more
 * than the file, and comparing never reads (and so allocates) a page the loader left a hole. */
static uint64_t shareable_pages(const hl_elf_info *elf, uint8_t *want, uint64_t npages)
{
    uint64_t n = 0;
    for (uint64_t p = 0; p < npages; p++) {
        uint64_t lo = elf->min_vaddr + p * PAGE, hi = lo + PAGE;
        int data = 0, writable = 0;
        for (size_t i = 0; i < elf->nsegs; i++) {
            const hl_elf_segment *s = &elf->segs[i];
            if ((s->flags & HL_ELF_SEG_W) && s->vaddr < hi && s->vaddr + s->memsz > lo)
                writable = 1;
            if (s->filesz && s->vaddr < hi && s->vaddr + s->filesz > lo)
                data = 1;
        }
        want[p] = (uint8_t)(data && !writable);
        n += want[p];
    }
    return n;
}

static int same_copy(const struct hl_image_share *c, const uint8_t *want, uint64_t npages, const uint8_t *img)
{
    if (c->npages != npages || memcmp(c->shared, want, npages) != 0)
        return 0;
    for (uint64_t p = 0; p < npages; p++)
        if (want[p] && memcmp(c->view + p * PAGE, img + p * PAGE, PAGE) != 0)
            return 0;
    return 1;
}

static void free_copy(struct hl_image_share *c)
{
    if (c->view)
        munmap((void *)c->view, c->npages * PAGE);
    if (c->fd >= 0)
        close(c->fd);
    free(c->shared);
    free(c);
}

/* A new sealed copy of the wanted pages of img; NULL with errno. */
static struct hl_image_share *new_copy(const uint8_t *want, uint64_t npages, const uint8_t *img)
{
    struct hl_image_share *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->fd = -1;
    c->npages = npages;
    c->shared = malloc(npages);
    if (!c->shared)
        goto fail;
    memcpy(c->shared, want, npages);
    c->fd = memfd_create("hyperlight-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (c->fd < 0 || ftruncate(c->fd, (off_t)(npages * PAGE)) != 0)
        goto fail;
    for (uint64_t p = 0; p < npages; p++) {
        if (!want[p])
            continue;
        c->nshared++;
        errno = 0;
        if (pwrite(c->fd, img + p * PAGE, PAGE, (off_t)(p * PAGE)) != (ssize_t)PAGE) {
            if (errno == 0)
                errno = EIO;
            goto fail;
        }
    }
    if (fcntl(c->fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
        goto fail;
    void *v = mmap(NULL, npages * PAGE, PROT_READ, MAP_SHARED, c->fd, 0);
    if (v == MAP_FAILED)
        goto fail;
    c->view = v;
    return c;
fail:;
    int e = errno;
    free_copy(c);
    errno = e;
    return NULL;
}

/* Under g_lock: frees the least recently used copies nobody maps beyond MAX_IDLE and
 * MAX_IDLE_BYTES. */
static void evict_idle(void)
{
    for (;;) {
        unsigned idle = 0;
        uint64_t bytes = 0;
        struct hl_image_share **oldest = NULL;
        for (struct hl_image_share **pc = &g_copies; *pc; pc = &(*pc)->next)
            if ((*pc)->refs == 0) {
                idle++;
                bytes += (*pc)->nshared * PAGE;
                if (!oldest || (*pc)->used < (*oldest)->used)
                    oldest = pc;
            }
        if (idle <= MAX_IDLE && bytes <= MAX_IDLE_BYTES)
            return;
        struct hl_image_share *c = *oldest;
        *oldest = c->next;
        free_copy(c);
    }
}

static void release(struct hl_image_share *c)
{
    hl_plock_lock(&g_lock);
    c->refs--;
    if (c->refs == 0) {
        c->used = ++g_clock;
        evict_idle();
    }
    hl_plock_unlock(&g_lock);
}

/* hl_map_over without the fork advice: for a run inside a view whose caller advises the whole
 * view once it is all mapped (one system call rather than one per run). */
static int map_over_raw(void *at, uint64_t len, int prot, int flags, int fd, uint64_t off)
{
    if (mmap(at, len, prot, flags | MAP_FIXED, fd, (off_t)off) == at)
        return 0;
    int e = errno;
    /* a MAP_FIXED that failed may have unmapped the range first: take it back, so that nothing
     * else is mapped into what the caller will unmap as its own */
    (void)mmap(at, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    errno = e;
    return -1;
}

int hl_map_over_run(void *at, uint64_t len, int prot, int flags, int fd, uint64_t off)
{
    return map_over_raw(at, len, prot, flags, fd, off);
}

int hl_map_over(void *at, uint64_t len, int prot, int flags, int fd, uint64_t off)
{
    if (map_over_raw(at, len, prot, flags, fd, off) != 0)
        return -1;
    hl_keep_from_children(at, len); /* guest memory, all of it: the new mapping lost the advice */
    return 0;
}

/* Maps each run of pages p with page[p] set from fd (at offset p pages) over at + (first + p)
 * pages: copy-on-write and writable, or shared read-only. */
static int map_runs_as(uint8_t *at, const uint8_t *page, uint64_t n, uint64_t first, int fd, int prot, int flags)
{
    for (uint64_t p = 0; p < n;) {
        if (!page[p]) {
            p++;
            continue;
        }
        uint64_t q = p;
        while (q < n && page[q])
            q++;
        if (map_over_raw(at + (first + p) * PAGE, (q - p) * PAGE, prot, flags | MAP_NORESERVE, fd, p * PAGE) != 0)
            return -1;
        p = q;
    }
    hl_keep_from_children(at + first * PAGE, n * PAGE); /* what the new mappings lost */
    return 0;
}

static int map_runs(uint8_t *at, const uint8_t *page, uint64_t n, uint64_t first, int fd, int writable)
{
    return map_runs_as(at, page, n, first, fd, writable ? PROT_READ | PROT_WRITE : PROT_READ,
                       writable ? MAP_PRIVATE : MAP_SHARED);
}

int hl_image_share_map(const hl_mem *mem, uint8_t *at, int writable)
{
    const struct hl_image_share *c = mem->share;
    return c ? map_runs(at, mem->share_page, mem->share_npages, mem->share_first, c->fd, writable) : 0;
}

int hl_image_share_map_view(const hl_mem *mem, uint8_t *view)
{
    const struct hl_image_share *c = mem->share;
    return c ? map_runs_as(view, mem->share_page, mem->share_npages, mem->share_first, c->fd, PROT_READ, MAP_PRIVATE)
             : 0;
}

int hl_image_share_attach(hl_mem *mem, const hl_elf_info *elf, uint64_t code_off)
{
    uint64_t npages = elf->span / PAGE;
    if (mem->share || npages == 0 || code_off % PAGE || code_off + npages * PAGE > mem->size)
        return 0;
    uint8_t *want = malloc(npages);
    if (!want)
        return 1;
    if (shareable_pages(elf, want, npages) == 0) {
        free(want);
        return 0;
    }
    const uint8_t *img = mem->host + code_off;
    struct hl_image_share *c = NULL, *made = NULL;
    for (int attempt = 0; attempt < 2 && !c; attempt++) {
        if (attempt == 1 && !(made = new_copy(want, npages, img))) /* outside the lock */
            break;
        hl_plock_lock(&g_lock);
        for (c = g_copies; c && !same_copy(c, want, npages, img); c = c->next)
            ;
        if (!c && made) {
            made->next = g_copies;
            g_copies = c = made;
            made = NULL;
        }
        if (c)
            c->refs++;
        hl_plock_unlock(&g_lock);
    }
    if (made) /* another thread's copy of the same image came first */
        free_copy(made);
    if (!c) {
        int e = errno;
        free(want);
        errno = e;
        return 1;
    }
    mem->share = c;
    mem->share_page = want;
    mem->share_first = code_off / PAGE;
    mem->share_npages = npages;
    if (hl_image_share_map(mem, mem->host, 1) != 0)
        return -1; /* the sandbox's memory is unusable now; the caller fails and detaches */
    /* the sandbox's own copies of those pages: not needed any more */
    for (uint64_t p = 0; p < npages;) {
        uint64_t q = p;
        while (q < npages && want[q] == want[p])
            q++;
        if (want[p])
            (void)fallocate(mem->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                            (off_t)(mem->fd_off + (mem->share_first + p) * PAGE), (off_t)((q - p) * PAGE));
        p = q;
    }
    return 0;
}

int hl_image_share_keep_changes(hl_mem *mem)
{
    const struct hl_image_share *c = mem->share;
    if (!c)
        return 0;
    uint64_t p = 0;
    while (p < mem->share_npages &&
           (!mem->share_page[p] || memcmp(mem->host + (mem->share_first + p) * PAGE, c->view + p * PAGE, PAGE) == 0))
        p++;
    if (p == mem->share_npages)
        return 0;
    /* Initialisation changed a shared page (a debugger's breakpoint, or a guest that means to):
     * the sandbox keeps all of them as its own, in its memfd, and shares none, rather than one
     * mapping for each run of pages left shared (a guest that changed every other page would
     * otherwise cost the process a mapping per page, which is a limited resource). */
    for (p = 0; p < mem->share_npages; p++) {
        if (!mem->share_page[p])
            continue;
        errno = 0;
        if (pwrite(mem->fd, mem->host + (mem->share_first + p) * PAGE, PAGE,
                   (off_t)(mem->fd_off + (mem->share_first + p) * PAGE)) != (ssize_t)PAGE) {
            if (errno == 0)
                errno = EIO;
            return -1;
        }
    }
    hl_image_share_detach(mem);
    return 0;
}

void hl_image_share_data_pages(const hl_mem *mem, uint8_t *map, uint64_t npages)
{
    if (!mem->share)
        return;
    for (uint64_t p = 0; p < mem->share_npages && mem->share_first + p < npages; p++)
        if (mem->share_page[p])
            map[mem->share_first + p] = 1;
}

void hl_image_share_detach(hl_mem *mem)
{
    if (mem->share)
        release(mem->share);
    free(mem->share_page);
    mem->share = NULL;
    mem->share_page = NULL;
    mem->share_npages = 0;
}

int hl_fd_data_pages(int fd, uint64_t off, uint64_t size, uint8_t *map, uint64_t npages)
{
    off_t base = (off_t)off, pos = base, end = base + (off_t)size;
    while (pos < end) {
        off_t d = lseek(fd, pos, SEEK_DATA);
        if (d < 0)
            return errno == ENXIO; /* no data after pos */
        if (d >= end)
            return 1;
        off_t h = lseek(fd, d, SEEK_HOLE);
        if (h < 0 || h <= d)
            return 0;
        if (h > end)
            h = end;
        for (uint64_t p = (uint64_t)(d - base) / PAGE; p < ((uint64_t)(h - base) + PAGE - 1) / PAGE && p < npages; p++)
            map[p] = 1;
        pos = h;
    }
    return 1;
}

/* ---- snapshots: pages equal in every sandbox of a guest ---- */

/* A sandbox's sealed snapshot memfd, offered to the later sandboxes of the same key while a
 * sandbox maps it. No idle offer is kept: pages that are holes in both a sandbox and the offer
 * are mapped from the offer, so what guests read there (zero pages) fills the offer's memfd, and
 * that memory goes with the last sandbox that maps it. */
struct hl_init_share {
    struct hl_init_share *next;
    uint64_t key, npages;
    uint64_t made_in;    /* hl_process_id() of the process that made it: a forked child has
                          * neither its view (MADV_DONTFORK) nor any use for it */
    int fd;              /* a duplicate of the offering sandbox's memfd: sealed, never written */
    const uint8_t *view; /* all of it, read-only, to compare with (only pages in `data` are read) */
    uint8_t *data;       /* per page: fd holds data (a hole reads as zero, and reading one would
                          * give it a page) */
    unsigned refs;
};

static struct hl_init_share *g_offers;

/* a sandbox whose own pages lie in more runs than this shares none: each run is a mapping in
 * each of its two views (over the offered snapshot), and a process has a limited number */
#define MAX_RUNS 32

static void free_offer(struct hl_init_share *c)
{
    if (c->view && c->made_in == hl_process_id()) /* in a child the range may hold anything */
        munmap((void *)c->view, c->npages * PAGE);
    if (c->fd >= 0)
        close(c->fd);
    free(c->data);
    free(c);
}

static void release_offer(struct hl_init_share *c)
{
    if (!c)
        return;
    hl_plock_lock(&g_lock);
    int last = --c->refs == 0;
    if (last) {
        struct hl_init_share **pc = &g_offers;
        while (*pc != c)
            pc = &(*pc)->next;
        *pc = c->next;
    }
    hl_plock_unlock(&g_lock);
    if (last)
        free_offer(c);
}

/* Under g_lock: the offer for key and npages, or NULL. */
static struct hl_init_share *offer_of(uint64_t key, uint64_t npages)
{
    struct hl_init_share *c = g_offers;
    while (c && (c->key != key || c->npages != npages || c->made_in != hl_process_id()))
        c = c->next;
    return c;
}

int hl_resident_pages(const void *view, uint64_t size, uint8_t *map, uint64_t npages)
{
    struct sysinfo si;
    if (sysinfo(&si) != 0 || si.totalswap != 0 || mincore((void *)view, size, map) != 0)
        return 0;
    for (uint64_t p = 0; p < npages; p++)
        map[p] &= 1;
    return 1;
}

/* The pages fd holds data for, `view` mapping all of it shared: the pages resident in the view
 * when that tells (a memfd's pages leave memory only for swap), else the file's data (SEEK_DATA,
 * a system call or two per extent). Pages the caller mapped over the view from other files are
 * the caller's to ignore. 1, or 0 when neither can tell. */
static int data_pages_now(int fd, const uint8_t *view, uint64_t size, uint8_t *map, uint64_t npages)
{
    if (hl_resident_pages(view, size, map, npages))
        return 1;
    memset(map, 0, npages);
    return hl_fd_data_pages(fd, 0, size, map, npages);
}

/* Whether page p of mem is mapped from the shared copy of its guest's image. */
static int image_page(const hl_mem *mem, uint64_t p)
{
    return mem->share && p >= mem->share_first && p - mem->share_first < mem->share_npages &&
           mem->share_page[p - mem->share_first];
}

int hl_init_share_find(hl_mem *mem, uint64_t key)
{
    uint64_t npages = mem->size / PAGE;
    if (mem->pool || mem->fd < 0 || !mem->fd_owned || mem->fd_off || npages == 0)
        return 0;
    hl_plock_lock(&g_lock);
    struct hl_init_share *c = offer_of(key, npages);
    if (c)
        c->refs++;
    hl_plock_unlock(&g_lock);
    if (!c)
        return 0;
    uint8_t *own = calloc(npages, 1), *from = calloc(npages, 1);
    uint64_t equal = 0, runs = 0;
    if (own && from && data_pages_now(mem->fd, mem->host, mem->size, own, npages)) {
        for (uint64_t p = 0; p < npages; p++) {
            if (image_page(mem, p)) /* mapped over whatever is under it */
                from[p] = HL_POOL_ANY;
            else if (own[p] && c->data[p] && memcmp(mem->host + p * PAGE, c->view + p * PAGE, PAGE) == 0)
                from[p] = HL_POOL_EQUAL, equal++;
            else if (own[p] || c->data[p]) /* its own data, or its own hole where the offer has data */
                from[p] = HL_POOL_OWN, runs += p == 0 || from[p - 1] != HL_POOL_OWN;
            else
                from[p] = HL_POOL_ANY; /* a hole in both: zero either way */
        }
    }
    free(own);
    if (equal == 0 || runs > MAX_RUNS) {
        free(from);
        release_offer(c);
        return 0;
    }
    mem->pool = c;
    mem->pool_page = from;
    return 1;
}

int hl_init_share_map(const hl_mem *mem, uint8_t *at, int writable)
{
    const struct hl_init_share *c = mem->pool;
    if (!c)
        return 0;
    int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
    int flags = (writable ? MAP_PRIVATE : MAP_SHARED) | MAP_NORESERVE;
    if (map_over_raw(at, mem->size, prot, flags, c->fd, 0) != 0)
        return -1;
    for (uint64_t p = 0; p < c->npages;) { /* the pages that are the sandbox's own, over it */
        if (mem->pool_page[p] != HL_POOL_OWN) {
            p++;
            continue;
        }
        uint64_t q = p;
        while (q < c->npages && mem->pool_page[q] == HL_POOL_OWN)
            q++;
        if (map_over_raw(at + p * PAGE, (q - p) * PAGE, prot, flags, mem->fd, p * PAGE) != 0)
            return -1;
        p = q;
    }
    hl_keep_from_children(at, mem->size);
    return 0;
}

void hl_init_share_punch(const hl_mem *mem)
{
    const struct hl_init_share *c = mem->pool;
    if (!c)
        return;
    /* everything but its own pages: the others are equal to the offer's or holes already */
    for (uint64_t p = 0; p < c->npages;) {
        uint64_t q = p;
        while (q < c->npages && (mem->pool_page[q] == HL_POOL_OWN) == (mem->pool_page[p] == HL_POOL_OWN))
            q++;
        if (mem->pool_page[p] != HL_POOL_OWN) /* when it fails the pages stay, unused: only memory is lost */
            (void)fallocate(mem->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(p * PAGE),
                            (off_t)((q - p) * PAGE));
        p = q;
    }
}

void hl_init_share_offer(hl_mem *mem, const uint8_t *view, uint64_t key)
{
    uint64_t npages = mem->size / PAGE;
    if (mem->pool || mem->pool_reg || mem->fd < 0 || !mem->fd_owned || mem->fd_off || npages == 0)
        return;
    hl_plock_lock(&g_lock);
    int offered = offer_of(key, npages) != NULL;
    hl_plock_unlock(&g_lock);
    if (offered)
        return;
    struct hl_init_share *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->key = key;
    c->npages = npages;
    c->made_in = hl_process_id();
    c->fd = fcntl(mem->fd, F_DUPFD_CLOEXEC, 0);
    c->data = calloc(npages, 1);
    void *v = MAP_FAILED;
    if (c->fd >= 0 && c->data && data_pages_now(mem->fd, view, mem->size, c->data, npages))
        v = mmap(NULL, mem->size, PROT_READ, MAP_SHARED | MAP_NORESERVE, c->fd, 0);
    if (v == MAP_FAILED) {
        free_offer(c);
        return;
    }
    c->view = v;
    hl_keep_from_children(v, mem->size);
    for (uint64_t p = 0; p < npages; p++)
        c->data[p] &= !image_page(mem, p); /* holes in fd: the view shows the image copy there */
    c->refs = 1; /* the offering sandbox's */
    hl_plock_lock(&g_lock);
    if (offer_of(key, npages)) { /* another sandbox's came first */
        hl_plock_unlock(&g_lock);
        free_offer(c);
        return;
    }
    c->next = g_offers;
    g_offers = c;
    hl_plock_unlock(&g_lock);
    mem->pool_reg = c;
}

void hl_init_share_data_pages(const hl_mem *mem, uint8_t *map, uint64_t npages)
{
    const struct hl_init_share *c = mem->pool;
    if (!c)
        return;
    for (uint64_t p = 0; p < c->npages && p < npages; p++)
        if (mem->pool_page[p] == HL_POOL_EQUAL)
            map[p] = 1;
}

void hl_init_share_detach(hl_mem *mem)
{
    release_offer(mem->pool);
    release_offer(mem->pool_reg);
    free(mem->pool_page);
    mem->pool = mem->pool_reg = NULL;
    mem->pool_page = NULL;
}
