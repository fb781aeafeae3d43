/* alloc.c - the guest heap: malloc/free/realloc/calloc over the heap region, first fit, coalescing. */
#include "hyperlight_guest.h"

/* Every block starts with a 16-byte header. Free blocks form a list sorted by address, so that
 * free() can merge neighbours. Sizes include the header and are multiples of 16. */
typedef struct block {
    size_t size;
    struct block *next; /* free blocks only; a used block keeps USED_MAGIC here */
} block;

#define HDR sizeof(block)
#define USED_MAGIC ((struct block *)(uintptr_t)0x55534544484c4731ull)

static block *g_free;

void hlg_heap_init(uint64_t addr, uint64_t size);

void hlg_heap_init(uint64_t addr, uint64_t size)
{
    uint64_t start = (addr + 15u) & ~(uint64_t)15u;
    g_free = 0;
    if (size < start - addr + 2 * HDR)
        return;
    size -= start - addr;
    size &= ~(uint64_t)15u;
    g_free = (block *)(uintptr_t)start;
    g_free->size = (size_t)size;
    g_free->next = 0;
}

void *malloc(size_t n)
{
    if (n == 0)
        n = 1;
    if (n > ((size_t)-1) / 2)
        return 0;
    size_t need = (n + HDR + 15u) & ~(size_t)15u;
    block **link = &g_free;
    for (block *b = g_free; b; link = &b->next, b = b->next) {
        if (b->size < need)
            continue;
        if (b->size - need >= 2 * HDR) { /* split: the tail stays free */
            block *rest = (block *)((char *)b + need);
            rest->size = b->size - need;
            rest->next = b->next;
            *link = rest;
            b->size = need;
        } else {
            *link = b->next;
        }
        b->next = USED_MAGIC;
        return (char *)b + HDR;
    }
    return 0;
}

void free(void *p)
{
    if (!p)
        return;
    block *b = (block *)((char *)p - HDR);
    if (b->next != USED_MAGIC)
        hlg_panic("free(): %p is not an allocated block (double free or corruption)", p);
    block *prev = 0, *cur = g_free;
    while (cur && cur < b) {
        prev = cur;
        cur = cur->next;
    }
    b->next = cur;
    if (cur && (char *)b + b->size == (char *)cur) { /* merge with the next */
        b->size += cur->size;
        b->next = cur->next;
    }
    if (prev && (char *)prev + prev->size == (char *)b) { /* merge with the previous */
        prev->size += b->size;
        prev->next = b->next;
    } else if (prev) {
        prev->next = b;
    } else {
        g_free = b;
    }
}

void *calloc(size_t n, size_t size)
{
    if (size && n > ((size_t)-1) / size)
        return 0;
    void *p = malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    if (n == 0) {
        free(p);
        return 0;
    }
    block *b = (block *)((char *)p - HDR);
    if (b->next != USED_MAGIC)
        hlg_panic("realloc(): %p is not an allocated block", p);
    size_t have = b->size - HDR;
    if (n <= have)
        return p;
    void *q = malloc(n);
    if (!q)
        return 0;
    memcpy(q, p, have);
    free(p);
    return q;
}

size_t hlg_heap_free(void)
{
    size_t total = 0;
    for (block *b = g_free; b; b = b->next)
        total += b->size - HDR;
    return total;
}
