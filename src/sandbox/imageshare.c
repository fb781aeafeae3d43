/* imageshare.c - the read-only pages of loaded guest images, one copy per process. */
#include "sandbox/imageshare.h"
#include "util/procid.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

int hl_map_over(void *at, uint64_t len, int prot, int flags, int fd, uint64_t off)
{
    void *got = mmap(at, len, prot, flags | MAP_FIXED, fd, (off_t)off);
    if (got == at) {
        hl_keep_from_children(at, len); /* guest memory, all of it: the new mapping lost the advice */
        return 0;
    }
    int e = errno;
    /* a MAP_FIXED that failed may have unmapped the range first: take it back, so that nothing
     * else is mapped into what the caller will unmap as its own */
    (void)mmap(at, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    errno = e;
    return -1;
}

int hl_image_share_map(const hl_mem *mem, uint8_t *at, int writable)
{
    const struct hl_image_share *c = mem->share;
    if (!c)
        return 0;
    for (uint64_t p = 0; p < mem->share_npages;) {
        if (!mem->share_page[p]) {
            p++;
            continue;
        }
        uint64_t q = p;
        while (q < mem->share_npages && mem->share_page[q])
            q++;
        if (hl_map_over(at + (mem->share_first + p) * PAGE, (q - p) * PAGE,
                        writable ? PROT_READ | PROT_WRITE : PROT_READ,
                        (writable ? MAP_PRIVATE : MAP_SHARED) | MAP_NORESERVE, c->fd, p * PAGE) != 0)
            return -1;
        p = q;
    }
    return 0;
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
