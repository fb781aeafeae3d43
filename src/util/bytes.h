/* bytes.h - unaligned little-endian reads and writes of integers in byte buffers, and rounding. */
#ifndef HL_UTIL_BYTES_H
#define HL_UTIL_BYTES_H

#include <stdint.h>
#include <string.h>

static inline void hl_put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void hl_put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint32_t hl_get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t hl_get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
/* x rounded up to a multiple of 8 */
/* 1 when the 4 KiB page at p holds only zeros (each byte equals the next, and the first is 0). */
static inline int hl_page_is_zero(const uint8_t *p) { return p[0] == 0 && memcmp(p, p + 1, 4095) == 0; }
static inline uint64_t hl_align8(uint64_t x) { return (x + 7u) & ~(uint64_t)7u; }

#endif
