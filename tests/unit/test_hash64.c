/* test_hash64.c - unit tests of the snapshot checksum: the documented algorithm, any split of the input, fixed values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/hash64.h"

/* docs/snapshots.md's description, written out again as plainly as it reads. */
static uint64_t rotl(uint64_t x, unsigned r) { return (x << r) | (x >> (64 - r)); }
static uint64_t step(uint64_t v, uint64_t w) { return rotl(v ^ (w * 0xD6E8FEB86659FD93ull), 31) * 0x9E3779B97F4A7C15ull; }
static uint64_t word(const uint8_t *p)
{
    uint64_t w = 0;
    for (int i = 7; i >= 0; i--)
        w = (w << 8) | p[i];
    return w;
}

static uint64_t documented(const uint8_t *d, size_t len, uint64_t s)
{
    const uint64_t M1 = 0x9E3779B97F4A7C15ull, M2 = 0xD6E8FEB86659FD93ull, M3 = 0xA0761D6478BD642Full;
    uint64_t v[4] = {s ^ M1, s + M2, rotl(s, 17) ^ M3, ~s};
    size_t i = 0;
    for (; i + 32 <= len; i += 32)
        for (int k = 0; k < 4; k++)
            v[k] = step(v[k], word(d + i + 8 * k));
    uint64_t x = rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18);
    uint8_t tail[32] = {0};
    memcpy(tail, d + i, len - i);
    for (size_t k = 0; k < len - i; k += 8)
        x = step(x, word(tail + k)) + M3;
    x ^= (uint64_t)len * M1;
    x ^= x >> 31;
    x *= M3;
    x ^= x >> 29;
    x *= M2;
    x ^= x >> 32;
    return x;
}

static void test_matches_the_documentation(void **state)
{
    (void)state;
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t len = 0; len <= sizeof buf; len++)
        for (uint64_t seed = 0; seed < 3; seed++)
            assert_int_equal(hl_hash64(buf, len, seed), documented(buf, len, seed));
}

static void test_any_split_gives_the_same(void **state)
{
    (void)state;
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i ^ (i >> 3));
    uint64_t whole = hl_hash64(buf, sizeof buf, 42);
    for (size_t a = 0; a < sizeof buf; a += 37)
        for (size_t b = a; b < sizeof buf; b += 101) {
            hl_hash64_state h;
            hl_hash64_init(&h, 42);
            hl_hash64_update(&h, buf, a);
            hl_hash64_update(&h, buf + a, b - a);
            hl_hash64_update(&h, buf + b, sizeof buf - b);
            assert_int_equal(hl_hash64_final(&h), whole);
        }
}

/* Fixed values: snapshot files written by one build are read by the next. */
static void test_fixed_values(void **state)
{
    (void)state;
    assert_int_equal(hl_hash64("", 0, 0), 0xa08850bb63f75802ull);
    assert_int_equal(hl_hash64("abc", 3, 0), 0x7f7e0fb4aabe950cull);
    /* every input bit matters: trailing zeros, one flipped bit, the seed */
    uint8_t z[64] = {0};
    assert_int_not_equal(hl_hash64(z, 63, 0), hl_hash64(z, 64, 0));
    assert_int_not_equal(hl_hash64(z, 32, 0), hl_hash64(z, 32, 1));
    for (size_t bit = 0; bit < 8 * sizeof z; bit++) {
        z[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_not_equal(hl_hash64(z, sizeof z, 0), hl_hash64((const uint8_t[64]){0}, 64, 0));
        z[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_the_documentation),
        cmocka_unit_test(test_any_split_gives_the_same),
        cmocka_unit_test(test_fixed_values),
    };
    return cmocka_run_group_tests_name("hash64", tests, NULL, NULL);
}
