/* fuzz_gdbstub.c - libFuzzer target: arbitrary bytes from a "debugger" into the gdb remote protocol
 * engine over a fake target. The engine must never crash, and everything it sends must be acks or
 * well-framed packets ($payload#checksum, the checksum right, the payload within PacketSize). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/backend/gdbstub.h" /* the fuzz targets get only the public include path */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BASE 0x200000u
static uint8_t mem[0x3000];
static hl_gdb_regs regs;

static int get(void *c, hl_gdb_regs *r) { (void)c; *r = regs; return 0; }
static int set(void *c, const hl_gdb_regs *r) { (void)c; regs = *r; return 0; }
static size_t rd(void *c, uint64_t a, uint8_t *b, size_t n)
{
    (void)c;
    size_t i = 0;
    for (; i < n && a + i >= BASE && a + i < BASE + sizeof(mem) && a + i >= a; i++) b[i] = mem[a + i - BASE];
    return i;
}
static int wr(void *c, uint64_t a, const uint8_t *b, size_t n)
{
    (void)c;
    if (a < BASE || a + n < a || a + n > BASE + sizeof(mem)) return -1;
    memcpy(mem + (a - BASE), b, n);
    return 0;
}

/* Checks every packet sent is well framed. */
static void sent(void *c, const void *data, size_t n)
{
    (void)c;
    const char *p = data;
    if (n == 1 && (p[0] == '+' || p[0] == '-')) return;
    if (n < 4 || p[0] != '$' || p[n - 3] != '#' || n - 4 > HL_GDB_PACKET_SIZE) abort();
    unsigned sum = 0;
    for (size_t i = 1; i < n - 3; i++) {
        if (p[i] == '$' || p[i] == '#') abort(); /* escaped or never there */
        sum += (unsigned char)p[i];
    }
    static const char hex[] = "0123456789abcdef";
    if (p[n - 2] != hex[(sum >> 4) & 15] || p[n - 1] != hex[sum & 15]) abort();
}

static const hl_gdb_target_ops ops = {get, set, rd, wr, sent};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hl_gdb g;
    hl_gdb_init(&g, &ops, NULL, BASE);
    size_t off = 0;
    while (off < size) {
        size_t used;
        hl_gdb_action a = hl_gdb_input(&g, data + off, size - off, &used);
        if (used == 0 || used > size - off) abort();
        off += used;
        if (a == HL_GDB_ACT_CONTINUE || a == HL_GDB_ACT_STEP || a == HL_GDB_ACT_INTERRUPT) {
            hl_gdb_stop_info s = {HL_GDB_SIGTRAP, (hl_gdb_why)(data[off - 1] % 6), data[off - 1]};
            hl_gdb_report_stop(&g, &s);
        }
        if (g.nsw > HL_GDB_MAX_SW_BREAKPOINTS) abort();
    }
    return 0;
}
