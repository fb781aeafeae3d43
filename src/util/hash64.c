/* hash64.c - a 64-bit checksum for snapshot files: four multiply-rotate lanes and a final mix. */
#include "util/hash64.h"

#include <string.h>

/* Odd constants with well-spread bits (the first is 2^64 divided by the golden ratio). */
#define M1 0x9E3779B97F4A7C15ull
#define M2 0xD6E8FEB86659FD93ull
#define M3 0xA0761D6478BD642Full

static uint64_t rotl(uint64_t x, unsigned r) { return (x << r) | (x >> (64 - r)); }

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8); /* x86-64 only: little-endian, as the file format */
    return v;
}

/* One word into one lane. */
static uint64_t step(uint64_t lane, uint64_t word)
{
    lane ^= word * M2;
    lane = rotl(lane, 31) * M1;
    return lane;
}

/* Spreads every bit of x over the whole word (two xor-shift-multiply rounds). */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= M3;
    x ^= x >> 29;
    x *= M2;
    x ^= x >> 32;
    return x;
}

void hl_hash64_init(hl_hash64_state *h, uint64_t seed)
{
    h->lane[0] = seed ^ M1;
    h->lane[1] = seed + M2;
    h->lane[2] = rotl(seed, 17) ^ M3;
    h->lane[3] = ~seed;
    h->total = 0;
    h->ntail = 0;
}

static void block(hl_hash64_state *h, const uint8_t *p)
{
    h->lane[0] = step(h->lane[0], load64(p));
    h->lane[1] = step(h->lane[1], load64(p + 8));
    h->lane[2] = step(h->lane[2], load64(p + 16));
    h->lane[3] = step(h->lane[3], load64(p + 24));
}

void hl_hash64_update(hl_hash64_state *h, const void *data, size_t len)
{
    const uint8_t *p = data;
    h->total += len;
    if (h->ntail) {
        size_t take = 32 - h->ntail < len ? 32 - h->ntail : len;
        memcpy(h->tail + h->ntail, p, take);
        h->ntail += take;
        p += take;
        len -= take;
        if (h->ntail < 32)
            return;
        block(h, h->tail);
        h->ntail = 0;
    }
    for (; len >= 32; p += 32, len -= 32)
        block(h, p);
    memcpy(h->tail, p, len);
    h->ntail = len;
}

uint64_t hl_hash64_final(const hl_hash64_state *h)
{
    uint64_t x = rotl(h->lane[0], 1) + rotl(h->lane[1], 7) + rotl(h->lane[2], 12) + rotl(h->lane[3], 18);
    uint8_t tail[32] = {0};
    memcpy(tail, h->tail, h->ntail);
    for (size_t i = 0; i < h->ntail; i += 8) /* the tail, zero-padded to whole words */
        x = step(x, load64(tail + i)) + M3;
    x ^= h->total * M1;
    return mix(x);
}

uint64_t hl_hash64(const void *data, size_t len, uint64_t seed)
{
    hl_hash64_state h;
    hl_hash64_init(&h, seed);
    hl_hash64_update(&h, data, len);
    return hl_hash64_final(&h);
}
