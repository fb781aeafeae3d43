/* hash64.h - a 64-bit checksum for snapshot files: catches corruption, not forgery. */
#ifndef HL_UTIL_HASH64_H
#define HL_UTIL_HASH64_H

#include <stddef.h>
#include <stdint.h>

/* A streaming hash: init, update with the bytes in order (any split gives the same result),
 * final. Four independent 64-bit lanes take 32 bytes per step (fast on large images); each
 * 8-byte word is multiplied, rotated and multiplied into its lane, and the final step folds the
 * lanes, the tail and the total length together and mixes the result so that every input bit
 * reaches every output bit. Not cryptographic: a checksum against truncation, bit rot and
 * accidental edits; a deliberate forgery recomputes it (the contents are verified on their own). */
typedef struct hl_hash64_state {
    uint64_t lane[4];
    uint64_t total;
    uint8_t tail[32];
    size_t ntail;
} hl_hash64_state;

void hl_hash64_init(hl_hash64_state *h, uint64_t seed);
void hl_hash64_update(hl_hash64_state *h, const void *data, size_t len);
uint64_t hl_hash64_final(const hl_hash64_state *h);
/* All three at once. */
uint64_t hl_hash64(const void *data, size_t len, uint64_t seed);

#endif
