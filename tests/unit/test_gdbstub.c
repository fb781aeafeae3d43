/* test_gdbstub.c - the gdb remote protocol engine against a fake target (framing, checksums,
 * escapes, bad and over-long packets, registers, memory, breakpoint tables, resumes), and the
 * server's socket and its hand-over of stops. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/gdbstub.h"

/* ---- a fake target: memory at [MEM_BASE, MEM_BASE + MEM_SIZE), registers, captured output ---- */

#define MEM_BASE 0x10000u
#define MEM_SIZE 0x2000u
#define TEXT_SEG 0x208000u

typedef struct fake {
    uint8_t mem[MEM_SIZE];
    hl_gdb_regs regs;
    int regs_fail;
    char out[1 << 17];
    size_t out_len;
    unsigned writes;
} fake;

static int f_get(void *ctx, hl_gdb_regs *r)
{
    fake *f = ctx;
    if (f->regs_fail) return -1;
    *r = f->regs;
    return 0;
}

static int f_set(void *ctx, const hl_gdb_regs *r)
{
    fake *f = ctx;
    if (f->regs_fail) return -1;
    f->regs = *r;
    return 0;
}

static size_t f_read(void *ctx, uint64_t addr, uint8_t *buf, size_t len)
{
    fake *f = ctx;
    size_t i = 0;
    for (; i < len; i++) {
        uint64_t a = addr + i;
        if (a < MEM_BASE || a >= MEM_BASE + MEM_SIZE) break;
        buf[i] = f->mem[a - MEM_BASE];
    }
    return i;
}

static int f_write(void *ctx, uint64_t addr, const uint8_t *buf, size_t len)
{
    fake *f = ctx;
    if (addr < MEM_BASE || addr + len > MEM_BASE + MEM_SIZE || addr + len < addr) return -1;
    memcpy(f->mem + (addr - MEM_BASE), buf, len);
    f->writes++;
    return 0;
}

static void f_send(void *ctx, const void *data, size_t len)
{
    fake *f = ctx;
    assert_true(f->out_len + len < sizeof(f->out));
    memcpy(f->out + f->out_len, data, len);
    f->out_len += len;
    f->out[f->out_len] = '\0';
}

static const hl_gdb_target_ops fake_ops = {f_get, f_set, f_read, f_write, f_send};

typedef struct env {
    fake f;
    hl_gdb g;
    char payload[1 << 17];
} env;

static int setup(void **state)
{
    env *e = calloc(1, sizeof(env));
    for (unsigned i = 0; i < MEM_SIZE; i++) e->f.mem[i] = (uint8_t)(i * 7);
    for (int i = 0; i < 16; i++) e->f.regs.gpr[i] = 0x1111111111111111ull * (uint64_t)(i + 1);
    e->f.regs.rip = 0x20401b;
    e->f.regs.eflags = 0x246;
    e->f.regs.seg[0] = 8;
    e->f.regs.seg[1] = 0x10;
    e->f.regs.fctrl = 0x37F;
    e->f.regs.mxcsr = 0x1F80;
    e->f.regs.fs_base = 0x7000;
    hl_gdb_init(&e->g, &fake_ops, &e->f, TEXT_SEG);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

/* Feeds raw bytes; returns the last action. */
static hl_gdb_action feed(env *e, const char *raw, size_t len)
{
    hl_gdb_action last = HL_GDB_ACT_NONE;
    size_t off = 0;
    while (off < len) {
        size_t used;
        hl_gdb_action a = hl_gdb_input(&e->g, (const uint8_t *)raw + off, len - off, &used);
        assert_true(used > 0 && used <= len - off);
        off += used;
        if (a != HL_GDB_ACT_NONE) last = a;
    }
    return last;
}

static unsigned sum_of(const char *p, size_t n)
{
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += (unsigned char)p[i];
    return s & 0xFF;
}

/* Sends one packet (payload of n bytes, checksum right) and returns the action. */
static hl_gdb_action pkt_n(env *e, const char *payload, size_t n)
{
    char *buf = malloc(n + 8);
    buf[0] = '$';
    memcpy(buf + 1, payload, n);
    snprintf(buf + 1 + n, 5, "#%02x", sum_of(payload, n));
    e->f.out_len = 0;
    e->f.out[0] = '\0';
    hl_gdb_action a = feed(e, buf, n + 4);
    free(buf);
    return a;
}

static hl_gdb_action pkt(env *e, const char *payload) { return pkt_n(e, payload, strlen(payload)); }

/* The payload of the one reply in the output (after the '+' ack, if any), checksum checked. */
static const char *reply(env *e)
{
    const char *o = e->f.out;
    if (*o == '+') o++; /* the ack (none in no-ack mode) */
    assert_int_equal(*o, '$');
    const char *hash = strrchr(o, '#');
    assert_non_null(hash);
    assert_int_equal(strlen(hash), 3);
    size_t n = (size_t)(hash - o - 1);
    assert_int_equal(strtoul(hash + 1, NULL, 16), sum_of(o + 1, n));
    memcpy(e->payload, o + 1, n);
    e->payload[n] = '\0';
    return e->payload;
}

/* A packet and its reply. */
static const char *ask(env *e, const char *payload)
{
    assert_int_equal(pkt(e, payload), HL_GDB_ACT_NONE);
    return reply(e);
}

#define ASK(e, payload, want) assert_string_equal(ask((e), (payload)), (want))

/* ---- framing ---- */

static void test_checksums_and_acks(void **state)
{
    env *e = *state;
    /* right: '+' then the reply */
    feed(e, "$qC#b4", 6);
    assert_string_equal(e->f.out, "+$QC1#c5");
    /* wrong, and not hex: '-' and nothing handled */
    e->f.out_len = 0;
    feed(e, "$qC#b5", 6);
    assert_string_equal(e->f.out, "-");
    e->f.out_len = 0;
    feed(e, "$qC#zz", 6);
    assert_string_equal(e->f.out, "-");
    /* gdb's '-' asks for the last packet again; '+' and noise between packets are ignored */
    e->f.out_len = 0;
    feed(e, "$qC#b4", 6);
    e->f.out_len = 0;
    feed(e, "+-", 2);
    assert_string_equal(e->f.out, "$QC1#c5");
    e->f.out_len = 0;
    feed(e, "xyz\r\n", 5);
    assert_int_equal(e->f.out_len, 0);
    /* a packet split across reads, and two packets in one */
    e->f.out_len = 0;
    feed(e, "$q", 2);
    feed(e, "C#", 2);
    feed(e, "b4$qC#b4", 8);
    assert_string_equal(e->f.out, "+$QC1#c5+$QC1#c5");
    /* a '$' inside a packet starts a new one: the cut one is dropped */
    e->f.out_len = 0;
    feed(e, "$qOff$qC#b4", 11);
    assert_string_equal(e->f.out, "+$QC1#c5");
}

static void test_no_ack_mode(void **state)
{
    env *e = *state;
    ASK(e, "QStartNoAckMode", "OK");
    assert_int_equal(e->g.no_ack, 1);
    e->f.out_len = 0;
    feed(e, "$qC#00", 6); /* checksums are not checked, nothing is acked */
    assert_string_equal(e->f.out, "$QC1#c5");
    e->f.out_len = 0;
    feed(e, "-", 1); /* and nothing is resent */
    assert_int_equal(e->f.out_len, 0);
}

static void test_overlong_packet(void **state)
{
    env *e = *state;
    size_t n = HL_GDB_PACKET_SIZE + 1;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[0] = 'm';
    big[n] = '\0';
    ASK(e, big, "E01"); /* acked (the checksum is right), refused whole */
    free(big);
    /* exactly PacketSize bytes is accepted (and is an unknown... well, a bad m) */
    big = malloc(HL_GDB_PACKET_SIZE + 1);
    memset(big, 'z', HL_GDB_PACKET_SIZE);
    big[0] = 'q';
    big[HL_GDB_PACKET_SIZE] = '\0';
    ASK(e, big, "");
    free(big);
    /* the parser is back in step */
    ASK(e, "qC", "QC1");
}

static void test_unknown_packets(void **state)
{
    env *e = *state;
    ASK(e, "", "");
    ASK(e, "qFooBar", "");
    ASK(e, "QPassSignals:e;10", "");
    ASK(e, "vMustReplyEmpty", "");
    ASK(e, "vFile:open:x", "");
    ASK(e, "!", "");
    ASK(e, "qTStatus", "");
    ASK(e, "Z5,1000,1", ""); /* an unknown breakpoint type */
    ASK(e, "R00", "");
}

/* ---- queries ---- */

static void test_queries(void **state)
{
    env *e = *state;
    ASK(e, "qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+",
        "PacketSize=4000;qXfer:features:read+;QStartNoAckMode+;swbreak+;hwbreak+");
    ASK(e, "qOffsets", "TextSeg=208000");
    ASK(e, "qAttached", "1");
    ASK(e, "qAttached:1", "1");
    ASK(e, "qC", "QC1");
    ASK(e, "qfThreadInfo", "m1");
    ASK(e, "qsThreadInfo", "l");
    ASK(e, "qSymbol::", "OK");
    ASK(e, "Hg0", "OK");
    ASK(e, "Hc-1", "OK");
    ASK(e, "T1", "OK");
    ASK(e, "vCont?", "vCont;c;C;s;S");
}

/* The target description read in chunks (escaped binary) is exactly hl_gdb_target_xml. */
static void test_target_xml(void **state)
{
    env *e = *state;
    size_t total = strlen(hl_gdb_target_xml), got = 0;
    char *all = malloc(total + 1);
    for (int last = 0; !last;) {
        char q[96];
        snprintf(q, sizeof(q), "qXfer:features:read:target.xml:%zx,%x", got, 0x3f5);
        const char *r = ask(e, q);
        assert_true(r[0] == 'm' || r[0] == 'l');
        last = r[0] == 'l';
        for (const char *p = r + 1; *p; p++) {
            char c = *p;
            if (c == '}') c = (char)(*++p ^ 0x20);
            assert_true(got < total);
            all[got++] = c;
        }
    }
    assert_int_equal(got, total);
    assert_memory_equal(all, hl_gdb_target_xml, total);
    free(all);
    assert_non_null(strstr(hl_gdb_target_xml, "<architecture>i386:x86-64</architecture>"));
    assert_non_null(strstr(hl_gdb_target_xml, "org.gnu.gdb.i386.core"));
    assert_non_null(strstr(hl_gdb_target_xml, "org.gnu.gdb.i386.sse"));
    assert_non_null(strstr(hl_gdb_target_xml, "org.gnu.gdb.i386.segments"));
    /* past the end: an empty last chunk; other annexes: an error */
    char q[96];
    snprintf(q, sizeof(q), "qXfer:features:read:target.xml:%zx,100", total);
    ASK(e, q, "l");
    ASK(e, "qXfer:features:read:other.xml:0,100", "E00");
    ASK(e, "qXfer:features:read:target.xml:zz", "E01");
}

/* ---- registers ---- */

static void test_registers(void **state)
{
    env *e = *state;
    const char *g = ask(e, "g");
    size_t bytes = 16 * 8 + 8 + 4 + 6 * 4 + 8 * 10 + 8 * 4 + 16 * 16 + 4 + 2 * 8;
    assert_int_equal(strlen(g), 2 * bytes);
    assert_memory_equal(g, "1111111111111111", 16);                        /* rax */
    assert_memory_equal(g + 16 * 16, "1b40200000000000", 16);              /* rip */
    assert_memory_equal(g + 17 * 16, "46020000", 8);                       /* eflags */
    assert_memory_equal(g + 17 * 16 + 8, "0800000010000000", 16);          /* cs ss */
    assert_memory_equal(g + 2 * (bytes - 16), "0070000000000000", 16);     /* fs_base */
    /* G writes them all back: change rbx through the text */
    char *G = malloc(2 * bytes + 2);
    G[0] = 'G';
    memcpy(G + 1, g, 2 * bytes + 1);
    memcpy(G + 1 + 16, "efcdab8967452301", 16);
    ASK(e, G, "OK");
    assert_int_equal(e->f.regs.gpr[1], 0x0123456789abcdefull);
    G[2 * bytes] = '\0'; /* one digit short */
    ASK(e, G, "E01");
    free(G);
    /* p and P by number: rip (16), eflags (17), st0 (24), xmm0 (40), mxcsr (56), gs_base (58) */
    ASK(e, "p10", "1b40200000000000");
    ASK(e, "p11", "46020000");
    ASK(e, "p20", "7f030000"); /* fctrl */
    ASK(e, "p38", "801f0000"); /* mxcsr */
    ASK(e, "p18", "00000000000000000000");
    ASK(e, "P10=0010200000000000", "OK");
    assert_int_equal(e->f.regs.rip, 0x201000);
    ASK(e, "P28=00112233445566778899aabbccddeeff", "OK");
    assert_int_equal(e->f.regs.xmm[0][15], 0xff);
    ASK(e, "P3a=0100000000000000", "OK");
    assert_int_equal(e->f.regs.gs_base, 1);
    ASK(e, "p3b", "E01");          /* no register 59 */
    ASK(e, "pzz", "E01");
    ASK(e, "P10=00", "E01");       /* too short */
    ASK(e, "P10=001020000000000000", "E01"); /* too long */
    ASK(e, "gx", "E01");
    e->f.regs_fail = 1;
    ASK(e, "g", "E01");
    ASK(e, "p10", "E01");
}

/* ---- memory ---- */

static void test_memory(void **state)
{
    env *e = *state;
    ASK(e, "m10000,4", "00070e15");
    ASK(e, "m10000,0", "");
    /* unmapped: an error; running off the end: what was readable */
    ASK(e, "mfff0,4", "E14");
    ASK(e, "m0,1", "E14");
    ASK(e, "m11ffe,4", "f2f9"); /* (0x1ffe * 7) & 0xff, ... */
    /* M, hex */
    ASK(e, "M10010,3:a1b2c3", "OK");
    assert_int_equal(e->f.mem[0x10], 0xa1);
    assert_int_equal(e->f.mem[0x12], 0xc3);
    ASK(e, "M11fff,2:0102", "E14"); /* straddles the end: nothing written */
    assert_int_equal(e->f.mem[0x1fff], (uint8_t)(0x1fff * 7));
    ASK(e, "M10010,2:a1b", "E01");  /* odd digits */
    ASK(e, "M10010,2:a1", "E01");   /* too few */
    ASK(e, "M10010,1:a1b2", "E01"); /* too many */
    ASK(e, "M10010,1", "E01");
    /* X, binary with escapes: } # $ * arrive as } then the byte ^ 0x20 */
    const char x[] = "X10020,6:}]}\x03}\x04}\x0a\x00\xff";
    assert_int_equal(pkt_n(e, x, sizeof(x) - 1), HL_GDB_ACT_NONE);
    assert_string_equal(reply(e), "OK");
    assert_memory_equal(e->f.mem + 0x20, "}#$*\x00\xff", 6);
    ASK(e, "X10020,0:", "OK"); /* gdb's probe */
    ASK(e, "X10020,2:a", "E01");
    ASK(e, "X0,1:a", "E14");
    /* bad addresses and lengths */
    ASK(e, "m", "E01");
    ASK(e, "mzz,1", "E01");
    ASK(e, "m10000", "E01");
    ASK(e, "m10000,", "E01");
    ASK(e, "m10000,4x", "E01");
    ASK(e, "m11111111111111111,1", "E01"); /* 17 digits */
    /* a huge length is cut to what a reply holds */
    const char *r = ask(e, "m10000,ffffffff");
    assert_true(strlen(r) <= HL_GDB_PACKET_SIZE && strlen(r) >= 2 * 0x1000);
}

/* ---- breakpoints ---- */

static void test_sw_breakpoints(void **state)
{
    env *e = *state;
    ASK(e, "Z0,10100,1", "OK");
    assert_int_equal(e->g.nsw, 1);
    assert_true(hl_gdb_has_sw_breakpoint(&e->g, 0x10100));
    ASK(e, "Z0,10100,1", "OK"); /* twice: still one */
    assert_int_equal(e->g.nsw, 1);
    ASK(e, "Z0,10200,1", "OK");
    assert_int_equal(e->g.nsw, 2);
    ASK(e, "z0,10100,1", "OK");
    assert_int_equal(e->g.nsw, 1);
    assert_false(hl_gdb_has_sw_breakpoint(&e->g, 0x10100));
    assert_true(hl_gdb_has_sw_breakpoint(&e->g, 0x10200));
    ASK(e, "z0,10100,1", "OK"); /* not there: done already */
    assert_int_equal(e->g.nsw, 1);
    ASK(e, "Z0,20000,1", "E14"); /* unmapped */
    ASK(e, "Z0,10300,2", "E01"); /* x86's int3 is one byte */
    ASK(e, "Z0,10300", "E01");
    ASK(e, "Z0,10300,1;X1,ff", "OK"); /* conditions are accepted and ignored */
    assert_int_equal(e->g.nsw, 2);
    assert_int_equal(e->f.writes, 0); /* the engine never patches memory itself */
    for (unsigned i = e->g.nsw; i < HL_GDB_MAX_SW_BREAKPOINTS; i++) {
        char q[32];
        snprintf(q, sizeof(q), "Z0,%x,1", 0x11000 + i);
        ASK(e, q, "OK");
    }
    ASK(e, "Z0,11fff,1", "E1c"); /* full */
    assert_int_equal(e->g.nsw, HL_GDB_MAX_SW_BREAKPOINTS);
    hl_gdb_clear_breakpoints(&e->g);
    assert_int_equal(e->g.nsw, 0);
}

static void test_hw_breakpoints(void **state)
{
    env *e = *state;
    unsigned gen = e->g.hw_generation;
    ASK(e, "Z1,10100,1", "OK");
    ASK(e, "Z2,10200,4", "OK");
    ASK(e, "Z3,10208,8", "OK");
    ASK(e, "Z4,10210,2", "OK");
    assert_int_equal(e->g.hw[0].type, 1);
    assert_int_equal(e->g.hw[1].type, 2);
    assert_int_equal(e->g.hw[1].addr, 0x10200);
    assert_int_equal(e->g.hw[1].len, 4);
    assert_int_equal(e->g.hw[2].len, 8);
    assert_int_equal(e->g.hw[3].type, 4);
    assert_true(e->g.hw_generation > gen);
    ASK(e, "Z2,10300,4", "E1c"); /* four debug registers */
    ASK(e, "Z2,10200,4", "OK");  /* the same one again */
    ASK(e, "z2,10200,4", "OK");
    assert_int_equal(e->g.hw[1].type, 0);
    ASK(e, "Z2,10301,4", "E01"); /* unaligned */
    ASK(e, "Z2,10300,3", "E01"); /* no such length */
    ASK(e, "Z2,10300,2", "OK");  /* the freed slot */
    assert_int_equal(e->g.hw[1].addr, 0x10300);
    ASK(e, "z4,99990,2", "OK");  /* not there */
    ASK(e, "z4,99991,2", "E01"); /* not even possible */
    assert_int_equal(pkt(e, "D"), HL_GDB_ACT_DETACH); /* detach forgets them all */
    assert_string_equal(reply(e), "OK");
    for (unsigned i = 0; i < HL_GDB_HW_SLOTS; i++) assert_int_equal(e->g.hw[i].type, 0);
}

/* ---- stops and resumes ---- */

static void test_stop_replies(void **state)
{
    env *e = *state;
    /* before any stop: SIGTRAP with rbp, rsp, rip */
    ASK(e, "?", "T05thread:1;06:7777777777777777;07:8888888888888888;10:1b40200000000000;");
    hl_gdb_stop_info s = {HL_GDB_SIGTRAP, HL_GDB_WHY_SWBREAK, 0};
    e->f.out_len = 0;
    e->g.running = 1;
    hl_gdb_report_stop(&e->g, &s);
    assert_int_equal(e->g.running, 0);
    assert_string_equal(reply(e), "T05thread:1;06:7777777777777777;07:8888888888888888;10:1b40200000000000;swbreak:;");
    s = (hl_gdb_stop_info){HL_GDB_SIGTRAP, HL_GDB_WHY_WATCH, 0x2091a8};
    e->f.out_len = 0;
    hl_gdb_report_stop(&e->g, &s);
    assert_non_null(strstr(reply(e), ";watch:2091a8;"));
    ASK(e, "?", e->payload); /* `?` repeats the last */
    s = (hl_gdb_stop_info){HL_GDB_SIGSEGV, HL_GDB_WHY_SIGNAL, 0};
    e->f.regs_fail = 1; /* without registers: signal and thread only */
    e->f.out_len = 0;
    hl_gdb_report_stop(&e->g, &s);
    assert_string_equal(reply(e), "T0bthread:1;");
    s = (hl_gdb_stop_info){0, HL_GDB_WHY_EXITED, 0};
    e->f.out_len = 0;
    hl_gdb_report_stop(&e->g, &s);
    assert_string_equal(reply(e), "W00");
    assert_int_equal(hl_gdb_signal_of_vector(14), HL_GDB_SIGSEGV);
    assert_int_equal(hl_gdb_signal_of_vector(13), HL_GDB_SIGSEGV);
    assert_int_equal(hl_gdb_signal_of_vector(6), HL_GDB_SIGILL);
    assert_int_equal(hl_gdb_signal_of_vector(0), HL_GDB_SIGFPE);
    assert_int_equal(hl_gdb_signal_of_vector(19), HL_GDB_SIGFPE);
    assert_int_equal(hl_gdb_signal_of_vector(3), HL_GDB_SIGTRAP);
    assert_int_equal(hl_gdb_signal_of_vector(17), HL_GDB_SIGBUS);
    assert_int_equal(hl_gdb_signal_of_vector(12), HL_GDB_SIGSEGV);
    assert_int_equal(hl_gdb_signal_of_vector(16), HL_GDB_SIGFPE);
    assert_int_equal(hl_gdb_signal_of_vector(1), HL_GDB_SIGTRAP);
}

static void test_resumes(void **state)
{
    env *e = *state;
    assert_int_equal(pkt(e, "c"), HL_GDB_ACT_CONTINUE);
    assert_string_equal(e->f.out, "+"); /* acked, no reply until the stop */
    assert_int_equal(e->g.running, 1);
    assert_int_equal(pkt(e, "c"), HL_GDB_ACT_NONE); /* running already */
    /* 0x03 interrupts a running target, and is nothing to a stopped one */
    assert_int_equal(feed(e, "\003", 1), HL_GDB_ACT_INTERRUPT);
    hl_gdb_stop_info s = {HL_GDB_SIGINT, HL_GDB_WHY_SIGNAL, 0};
    hl_gdb_report_stop(&e->g, &s);
    assert_int_equal(feed(e, "\003", 1), HL_GDB_ACT_NONE);
    assert_int_equal(pkt(e, "s"), HL_GDB_ACT_STEP);
    assert_int_equal(e->g.resume_has_pc, 0);
    hl_gdb_report_stop(&e->g, &s);
    assert_int_equal(pkt(e, "c20401b"), HL_GDB_ACT_CONTINUE);
    assert_int_equal(e->g.resume_has_pc, 1);
    assert_int_equal(e->g.resume_pc, 0x20401b);
    hl_gdb_report_stop(&e->g, &s);
    assert_int_equal(pkt(e, "C0b"), HL_GDB_ACT_CONTINUE);
    assert_int_equal(e->g.resume_signal, 11);
    hl_gdb_report_stop(&e->g, &s);
    assert_int_equal(pkt(e, "S05;201000"), HL_GDB_ACT_STEP);
    assert_int_equal(e->g.resume_signal, 5);
    assert_int_equal(e->g.resume_pc, 0x201000);
    hl_gdb_report_stop(&e->g, &s);
    assert_int_equal(pkt(e, "vCont;s:1;c"), HL_GDB_ACT_STEP);
    assert_int_equal(e->g.resume_signal, 0);
    hl_gdb_report_stop(&e->g, &s);
    assert_int_equal(pkt(e, "vCont;C0b:1"), HL_GDB_ACT_CONTINUE);
    assert_int_equal(e->g.resume_signal, 11);
    hl_gdb_report_stop(&e->g, &s);
    assert_int_equal(pkt(e, "vCont;c"), HL_GDB_ACT_CONTINUE);
    hl_gdb_report_stop(&e->g, &s);
    assert_int_equal(pkt(e, "vCont;s:2"), HL_GDB_ACT_NONE); /* no thread 2 */
    assert_string_equal(reply(e), "E01");
    assert_int_equal(pkt(e, "vCont;t"), HL_GDB_ACT_NONE);
    assert_string_equal(reply(e), "E01");
    assert_int_equal(pkt(e, "cxyz"), HL_GDB_ACT_NONE);
    assert_string_equal(reply(e), "E01");
    assert_int_equal(pkt(e, "C"), HL_GDB_ACT_NONE);
    assert_string_equal(reply(e), "E01");
    /* the bytes after an action are left for the next call */
    size_t used;
    const char two[] = "$c#63$qC#b4";
    assert_int_equal(hl_gdb_input(&e->g, (const uint8_t *)two, sizeof(two) - 1, &used), HL_GDB_ACT_CONTINUE);
    assert_int_equal(used, 5);
    /* kill: no reply */
    hl_gdb_report_stop(&e->g, &s);
    assert_int_equal(pkt(e, "k"), HL_GDB_ACT_KILL);
    assert_string_equal(e->f.out, "+");
    hl_gdb_report_stop(&e->g, &s);
    assert_int_equal(pkt(e, "vKill;1"), HL_GDB_ACT_KILL);
    assert_string_equal(reply(e), "OK");
    hl_gdb_report_stop(&e->g, &s);
    assert_int_equal(pkt(e, "D;1"), HL_GDB_ACT_DETACH);
    assert_string_equal(reply(e), "OK");
}

/* ---- the server ---- */

typedef struct srv {
    fake f;
    atomic_int interrupts, pauses, resumes;
    hl_gdb_server *s;
} srv;

static void s_interrupt(void *ctx) { atomic_fetch_add(&((srv *)ctx)->interrupts, 1); }
static void s_pause(void *ctx, int paused) { atomic_fetch_add(paused ? &((srv *)ctx)->pauses : &((srv *)ctx)->resumes, 1); }
static int s_get(void *ctx, hl_gdb_regs *r) { return f_get(&((srv *)ctx)->f, r); }
static int s_set(void *ctx, const hl_gdb_regs *r) { return f_set(&((srv *)ctx)->f, r); }
static size_t s_read(void *ctx, uint64_t a, uint8_t *b, size_t n) { return f_read(&((srv *)ctx)->f, a, b, n); }
static int s_write(void *ctx, uint64_t a, const uint8_t *b, size_t n) { return f_write(&((srv *)ctx)->f, a, b, n); }

static int client(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void c_send(int fd, const char *payload)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "$%s#%02x", payload, sum_of(payload, strlen(payload)));
    assert_int_equal(send(fd, buf, (size_t)n, 0), n);
}

/* The next reply's payload (acks skipped). */
static const char *c_recv(int fd, char *buf, size_t size)
{
    char c;
    do {
        struct pollfd p = {fd, POLLIN, 0};
        assert_int_equal(poll(&p, 1, 10000), 1);
        assert_int_equal(recv(fd, &c, 1, 0), 1);
    } while (c != '$');
    size_t n = 0;
    while (recv(fd, &c, 1, 0) == 1 && c != '#') {
        assert_true(n < size - 1);
        buf[n++] = c;
    }
    char cs[2];
    assert_int_equal(recv(fd, cs, 2, MSG_WAITALL), 2);
    buf[n] = '\0';
    return buf;
}

typedef struct runner {
    srv *v;
    int wait_attach;
    int stopped;
    hl_gdb_resume r;
    atomic_int done;
} runner;

static void *run_main(void *p)
{
    runner *r = p;
    r->stopped = hl_gdb_server_begin_run(r->v->s, r->wait_attach, &r->r);
    atomic_store(&r->done, 1);
    return NULL;
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

typedef struct stopper {
    hl_gdb_server *s;
    hl_gdb_stop_info stop;
    hl_gdb_resume res;
    atomic_int done;
    pthread_t t;
} stopper;

static void *stop_main(void *p)
{
    stopper *st = p;
    hl_gdb_server_stop(st->s, &st->stop, &st->res);
    atomic_store(&st->done, 1);
    return NULL;
}

static void stop_start(stopper *st, hl_gdb_server *s, int sig, hl_gdb_why why)
{
    memset(st, 0, sizeof(*st));
    st->s = s;
    st->stop = (hl_gdb_stop_info){sig, why, 0};
    assert_int_equal(pthread_create(&st->t, NULL, stop_main, st), 0);
}

static void run_start(runner *r, pthread_t *t, srv *v, int wait_attach)
{
    memset(r, 0, sizeof(*r));
    r->v = v;
    r->wait_attach = wait_attach;
    assert_int_equal(pthread_create(t, NULL, run_main, r), 0);
}

/* Whether fd reaches end of file (the server closed it) within 10 s. */
static int closed_by_server(int fd)
{
    char c;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 10000) != 1) return 0;
        ssize_t n = recv(fd, &c, 1, 0);
        if (n == 0) return 1;
        if (n < 0) return 0;
    }
}

static void test_server(void **state)
{
    (void)state;
    srv *v = calloc(1, sizeof(*v));
    for (unsigned i = 0; i < MEM_SIZE; i++) v->f.mem[i] = (uint8_t)i;
    v->f.regs.rip = 0x1234;
    hl_gdb_server_hooks hooks = {{s_get, s_set, s_read, s_write, NULL}, v, s_interrupt, s_pause};
    hl_error err = HL_ERROR_INIT;
    uint16_t port = 47690;
    assert_int_equal(hl_gdb_server_start(&v->s, port, TEXT_SEG, &hooks, &err), HL_OK);
    /* the port is taken now */
    hl_gdb_server *other = NULL;
    assert_int_equal(hl_gdb_server_start(&other, port, TEXT_SEG, &hooks, &err), HL_E_IO);
    assert_string_equal(err.message, "gdb_port 47690: cannot listen on 127.0.0.1:47690: Address already in use "
                                     "(another program or sandbox listens there: choose another gdb_port)");
    assert_null(other);

    /* a run that must wait for a debugger: it waits, untimed (pause), until one attaches and resumes */
    runner r;
    pthread_t t;
    run_start(&r, &t, v, 1);
    sleep_ms(100);
    assert_false(atomic_load(&r.done));
    assert_false(hl_gdb_server_attached(v->s));
    int fd = client(port);
    char buf[2048];
    c_send(fd, "qSupported");
    assert_string_equal(c_recv(fd, buf, sizeof(buf)),
                        "PacketSize=4000;qXfer:features:read+;QStartNoAckMode+;swbreak+;hwbreak+");
    c_send(fd, "?");
    assert_string_equal(c_recv(fd, buf, sizeof(buf)),
                        "T05thread:1;06:0000000000000000;07:0000000000000000;10:3412000000000000;");
    assert_true(hl_gdb_server_attached(v->s));
    c_send(fd, "Z0,10010,1");
    assert_string_equal(c_recv(fd, buf, sizeof(buf)), "OK");
    /* a second debugger is turned away */
    int fd2 = client(port);
    assert_true(closed_by_server(fd2));
    close(fd2);
    c_send(fd, "s");
    pthread_join(t, NULL);
    assert_int_equal(r.stopped, 1);
    assert_int_equal(r.r.action, HL_GDB_ACT_STEP);
    assert_int_equal(atomic_load(&v->pauses), 1);
    assert_int_equal(atomic_load(&v->resumes), 1);
    uint64_t sw[4];
    hl_gdb_hw hw[HL_GDB_HW_SLOTS];
    assert_int_equal(hl_gdb_server_breakpoints(v->s, sw, 4, hw), 1);
    assert_int_equal(sw[0], 0x10010);

    /* running: memory and registers are refused (the vCPU is busy), an 0x03 calls the hook */
    assert_int_equal(send(fd, "\003", 1, 0), 1);
    for (int i = 0; i < 2000 && !atomic_load(&v->interrupts); i++) sleep_ms(5);
    assert_int_equal(atomic_load(&v->interrupts), 1);
    assert_int_equal(hl_gdb_server_take_interrupt(v->s), HL_GDB_SIGINT);
    assert_int_equal(hl_gdb_server_take_interrupt(v->s), 0);
    c_send(fd, "m10000,2");
    assert_string_equal(c_recv(fd, buf, sizeof(buf)), "E14");
    c_send(fd, "g");
    assert_string_equal(c_recv(fd, buf, sizeof(buf)), "E01");

    /* a stop: reported at once; the target waits until the debugger resumes it */
    stopper st;
    stop_start(&st, v->s, HL_GDB_SIGINT, HL_GDB_WHY_SIGNAL);
    assert_string_equal(c_recv(fd, buf, sizeof(buf)),
                        "T02thread:1;06:0000000000000000;07:0000000000000000;10:3412000000000000;");
    c_send(fd, "m10000,2");
    assert_string_equal(c_recv(fd, buf, sizeof(buf)), "0001");
    c_send(fd, "M10000,1:ff");
    assert_string_equal(c_recv(fd, buf, sizeof(buf)), "OK");
    assert_int_equal(v->f.mem[0], 0xff);
    sleep_ms(50);
    assert_false(atomic_load(&st.done));
    c_send(fd, "C0b");
    pthread_join(st.t, NULL);
    assert_int_equal(st.res.action, HL_GDB_ACT_CONTINUE);
    assert_int_equal(st.res.signal, 11);
    hl_gdb_server_end_run(v->s, 0);

    /* between runs: an 0x03 stops at once, and the next run waits for the debugger */
    assert_int_equal(send(fd, "\003", 1, 0), 1);
    assert_string_equal(c_recv(fd, buf, sizeof(buf)),
                        "T02thread:1;06:0000000000000000;07:0000000000000000;10:3412000000000000;");
    run_start(&r, &t, v, 0);
    sleep_ms(50);
    assert_false(atomic_load(&r.done));
    c_send(fd, "c");
    pthread_join(t, NULL);
    assert_int_equal(r.stopped, 1);
    assert_int_equal(r.r.action, HL_GDB_ACT_CONTINUE);
    /* a run that no stop holds goes on at once */
    hl_gdb_server_end_run(v->s, 0);
    run_start(&r, &t, v, 1); /* wait_attach: a debugger attached already */
    pthread_join(t, NULL);
    assert_int_equal(r.stopped, 0);

    /* detach: the stopped target goes on, the connection is closed, breakpoints are gone */
    stop_start(&st, v->s, HL_GDB_SIGTRAP, HL_GDB_WHY_SWBREAK);
    assert_non_null(strstr(c_recv(fd, buf, sizeof(buf)), "swbreak:;"));
    c_send(fd, "D");
    assert_string_equal(c_recv(fd, buf, sizeof(buf)), "OK");
    pthread_join(st.t, NULL);
    assert_int_equal(st.res.action, HL_GDB_ACT_DETACH);
    assert_true(closed_by_server(fd));
    close(fd);
    assert_false(hl_gdb_server_attached(v->s));
    assert_int_equal(hl_gdb_server_breakpoints(v->s, sw, 4, hw), 0);
    /* without a debugger a stop returns at once */
    hl_gdb_server_stop(v->s, &(hl_gdb_stop_info){HL_GDB_SIGSEGV, HL_GDB_WHY_SIGNAL, 0}, &st.res);
    assert_int_equal(st.res.action, HL_GDB_ACT_DETACH);

    /* attaching while the target runs: the hook interrupts it; gdb's packets wait for the stop,
     * which is not reported unasked */
    int before = atomic_load(&v->interrupts);
    fd = client(port);
    for (int i = 0; i < 2000 && atomic_load(&v->interrupts) == before; i++) sleep_ms(5);
    assert_int_equal(atomic_load(&v->interrupts), before + 1);
    c_send(fd, "qC");
    assert_int_equal(hl_gdb_server_take_interrupt(v->s), HL_GDB_SIGTRAP);
    stop_start(&st, v->s, HL_GDB_SIGTRAP, HL_GDB_WHY_SIGNAL);
    assert_string_equal(c_recv(fd, buf, sizeof(buf)), "QC1");
    c_send(fd, "?");
    assert_non_null(strstr(c_recv(fd, buf, sizeof(buf)), "T05thread:1;"));
    /* a debugger that goes away lets the target go on */
    close(fd);
    pthread_join(st.t, NULL);
    assert_int_equal(st.res.action, HL_GDB_ACT_DETACH);

    /* destroy while a debugger waits for the running target: it hears W00 */
    fd = client(port);
    c_send(fd, "c"); /* held between runs (the attach stop): continued */
    sleep_ms(100);
    hl_gdb_server_end_run(v->s, 0);
    hl_gdb_server_destroy(v->s);
    char all[256];
    ssize_t n = recv(fd, all, sizeof(all) - 1, MSG_WAITALL);
    assert_true(n > 0);
    all[n] = '\0';
    assert_non_null(strstr(all, "$W00#b7"));
    close(fd);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checksums_and_acks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_ack_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlong_packet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_packets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_target_xml, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sw_breakpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hw_breakpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resumes, setup, teardown),
        cmocka_unit_test(test_server),
    };
    return cmocka_run_group_tests_name("unit.gdbstub", tests, NULL, NULL);
}
