/* gdbstub.c - the GDB Remote Serial Protocol engine: packets in, replies out, breakpoint tables;
 * the target (registers, memory, sending) is an ops table. All-stop, one thread (1). */
#include "backend/gdbstub.h"

#include <stdio.h>
#include <string.h>

enum { ST_IDLE, ST_DATA, ST_SUM1, ST_SUM2 };

/* The target description: amd64 with the x87, SSE and segment-base registers, in the order of
 * hl_gdb_regs. gdb numbers the registers in this order, and `g` sends them in it. */
#define R64(n, t) "<reg name=\"" n "\" bitsize=\"64\" type=\"" t "\"/>"
#define R32(n, t) "<reg name=\"" n "\" bitsize=\"32\" type=\"" t "\"/>"
#define RF(n) "<reg name=\"" n "\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
#define RST(n) "<reg name=\"" n "\" bitsize=\"80\" type=\"i387_ext\"/>"
#define RX(n) "<reg name=\"" n "\" bitsize=\"128\" type=\"vec128\"/>"
#define FLD(n, b) "<field name=\"" n "\" start=\"" #b "\" end=\"" #b "\"/>"
const char hl_gdb_target_xml[] =
    "<?xml version=\"1.0\"?>\n"
    "<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
    "<target version=\"1.0\">"
    "<architecture>i386:x86-64</architecture>"
    "<osabi>none</osabi>"
    "<feature name=\"org.gnu.gdb.i386.core\">"
    "<flags id=\"i386_eflags\" size=\"4\">" FLD("CF", 0) FLD("", 1) FLD("PF", 2) FLD("AF", 4) FLD("ZF", 6)
    FLD("SF", 7) FLD("TF", 8) FLD("IF", 9) FLD("DF", 10) FLD("OF", 11) FLD("NT", 14) FLD("RF", 16)
    FLD("VM", 17) FLD("AC", 18) FLD("VIF", 19) FLD("VIP", 20) FLD("ID", 21) "</flags>"
    R64("rax", "int64") R64("rbx", "int64") R64("rcx", "int64") R64("rdx", "int64") R64("rsi", "int64")
    R64("rdi", "int64") R64("rbp", "data_ptr") R64("rsp", "data_ptr") R64("r8", "int64") R64("r9", "int64")
    R64("r10", "int64") R64("r11", "int64") R64("r12", "int64") R64("r13", "int64") R64("r14", "int64")
    R64("r15", "int64") R64("rip", "code_ptr") R32("eflags", "i386_eflags") R32("cs", "int32")
    R32("ss", "int32") R32("ds", "int32") R32("es", "int32") R32("fs", "int32") R32("gs", "int32")
    RST("st0") RST("st1") RST("st2") RST("st3") RST("st4") RST("st5") RST("st6") RST("st7")
    RF("fctrl") RF("fstat") RF("ftag") RF("fiseg") RF("fioff") RF("foseg") RF("fooff") RF("fop")
    "</feature>"
    "<feature name=\"org.gnu.gdb.i386.sse\">"
    "<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>"
    "<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>"
    "<vector id=\"v16i8\" type=\"int8\" count=\"16\"/>"
    "<vector id=\"v8i16\" type=\"int16\" count=\"8\"/>"
    "<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>"
    "<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>"
    "<union id=\"vec128\"><field name=\"v4_float\" type=\"v4f\"/><field name=\"v2_double\" type=\"v2d\"/>"
    "<field name=\"v16_int8\" type=\"v16i8\"/><field name=\"v8_int16\" type=\"v8i16\"/>"
    "<field name=\"v4_int32\" type=\"v4i32\"/><field name=\"v2_int64\" type=\"v2i64\"/>"
    "<field name=\"uint128\" type=\"uint128\"/></union>"
    "<flags id=\"i386_mxcsr\" size=\"4\">" FLD("IE", 0) FLD("DE", 1) FLD("ZE", 2) FLD("OE", 3) FLD("UE", 4)
    FLD("PE", 5) FLD("DAZ", 6) FLD("IM", 7) FLD("DM", 8) FLD("ZM", 9) FLD("OM", 10) FLD("UM", 11)
    FLD("PM", 12) FLD("FZ", 15) "</flags>"
    RX("xmm0") RX("xmm1") RX("xmm2") RX("xmm3") RX("xmm4") RX("xmm5") RX("xmm6") RX("xmm7") RX("xmm8")
    RX("xmm9") RX("xmm10") RX("xmm11") RX("xmm12") RX("xmm13") RX("xmm14") RX("xmm15")
    "<reg name=\"mxcsr\" bitsize=\"32\" type=\"i386_mxcsr\" group=\"vector\"/>"
    "</feature>"
    "<feature name=\"org.gnu.gdb.i386.segments\">" R64("fs_base", "int") R64("gs_base", "int") "</feature>"
    "</target>\n";

/* ---- registers <-> the target description's byte layout ---- */

/* Where register n lives in hl_gdb_regs and how many bytes it has there (little-endian). */
static uint8_t *reg_ptr(hl_gdb_regs *r, int n, size_t *size)
{
    if (n < 0 || n >= HL_GDB_NREGS) return NULL;
    if (n < 16) return *size = 8, (uint8_t *)&r->gpr[n];
    if (n == 16) return *size = 8, (uint8_t *)&r->rip;
    if (n == 17) return *size = 4, (uint8_t *)&r->eflags;
    if (n < 24) return *size = 4, (uint8_t *)&r->seg[n - 18];
    if (n < 32) return *size = 10, r->st[n - 24];
    if (n < 40) {
        uint32_t *f[8] = {&r->fctrl, &r->fstat, &r->ftag, &r->fiseg, &r->fioff, &r->foseg, &r->fooff, &r->fop};
        return *size = 4, (uint8_t *)f[n - 32];
    }
    if (n < 56) return *size = 16, r->xmm[n - 40];
    if (n == 56) return *size = 4, (uint8_t *)&r->mxcsr;
    if (n == 57) return *size = 8, (uint8_t *)&r->fs_base;
    return *size = 8, (uint8_t *)&r->gs_base;
}

static size_t regs_bytes(void)
{
    hl_gdb_regs r;
    size_t total = 0, sz;
    for (int n = 0; n < HL_GDB_NREGS; n++) {
        reg_ptr(&r, n, &sz);
        total += sz;
    }
    return total;
}

/* ---- hex ---- */

static const char hexd[] = "0123456789abcdef";

static int unhex(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static char *put_hex(char *o, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        *o++ = hexd[p[i] >> 4];
        *o++ = hexd[p[i] & 15];
    }
    return o;
}

/* Decodes exactly n bytes of hex at *s (advancing it); -1 on a non-hex character. */
static int get_hex_bytes(const char **s, const char *end, uint8_t *p, size_t n)
{
    if ((size_t)(end - *s) < 2 * n) return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = unhex((*s)[0]), lo = unhex((*s)[1]);
        if (hi < 0 || lo < 0) return -1;
        p[i] = (uint8_t)(hi << 4 | lo);
        *s += 2;
    }
    return 0;
}

/* A hex number (at least one digit, at most 16) at *s; -1 when there is none. */
static int get_num(const char **s, const char *end, uint64_t *v)
{
    int digits = 0;
    uint64_t x = 0;
    while (*s < end && unhex(**s) >= 0) {
        if (++digits > 16) return -1;
        x = x << 4 | (uint64_t)unhex(**s);
        (*s)++;
    }
    if (!digits) return -1;
    *v = x;
    return 0;
}

static int eat(const char **s, const char *end, char c)
{
    if (*s < end && **s == c) {
        (*s)++;
        return 0;
    }
    return -1;
}

/* ---- sending ---- */

/* Frames payload (len bytes, already escaped where binary) as $...#cs and sends it. */
static void send_packet(hl_gdb *g, const char *payload, size_t len)
{
    char *f = g->frame;
    uint8_t sum = 0;
    *f++ = '$';
    for (size_t i = 0; i < len; i++) {
        sum = (uint8_t)(sum + (uint8_t)payload[i]);
        *f++ = payload[i];
    }
    *f++ = '#';
    *f++ = hexd[sum >> 4];
    *f++ = hexd[sum & 15];
    g->last = g->frame;
    g->last_len = (size_t)(f - g->frame);
    g->ops->send(g->ctx, g->frame, g->last_len);
}

static void reply(hl_gdb *g, const char *s) { send_packet(g, s, strlen(s)); }

/* Appends binary data escaped for a packet (} # $ * become } and the byte ^ 0x20); stops before
 * the escaped form would pass `room` bytes. Returns the bytes of data taken. */
static size_t put_escaped(char *o, size_t *olen, size_t room, const uint8_t *data, size_t n)
{
    size_t i = 0;
    for (; i < n; i++) {
        uint8_t c = data[i];
        int esc = c == '}' || c == '#' || c == '$' || c == '*';
        if (*olen + 1 + (size_t)esc > room) break;
        if (esc) {
            o[(*olen)++] = '}';
            c ^= 0x20;
        }
        o[(*olen)++] = (char)c;
    }
    return i;
}

/* ---- stop replies ---- */

static void send_stop(hl_gdb *g)
{
    const hl_gdb_stop_info *s = &g->last_stop;
    if (s->why == HL_GDB_WHY_EXITED) {
        reply(g, "W00");
        return;
    }
    char *o = g->out;
    o += sprintf(o, "T%02xthread:1;", (unsigned)s->signal & 0xFF);
    hl_gdb_regs r;
    if (g->ops->get_regs(g->ctx, &r) == 0) { /* expedite rbp, rsp, rip */
        static const int exp[] = {6, 7, 16};
        for (size_t i = 0; i < 3; i++) {
            size_t sz;
            uint8_t *p = reg_ptr(&r, exp[i], &sz);
            o += sprintf(o, "%02x:", exp[i]);
            o = put_hex(o, p, sz);
            *o++ = ';';
        }
    }
    switch (s->why) {
    case HL_GDB_WHY_SWBREAK: o += sprintf(o, "swbreak:;"); break;
    case HL_GDB_WHY_HWBREAK: o += sprintf(o, "hwbreak:;"); break;
    case HL_GDB_WHY_WATCH: o += sprintf(o, "watch:%llx;", (unsigned long long)s->addr); break;
    case HL_GDB_WHY_RWATCH: o += sprintf(o, "rwatch:%llx;", (unsigned long long)s->addr); break;
    case HL_GDB_WHY_AWATCH: o += sprintf(o, "awatch:%llx;", (unsigned long long)s->addr); break;
    default: break;
    }
    send_packet(g, g->out, (size_t)(o - g->out));
}

void hl_gdb_report_stop(hl_gdb *g, const hl_gdb_stop_info *stop)
{
    g->last_stop = *stop;
    g->running = 0;
    send_stop(g);
}

/* ---- breakpoints ---- */

int hl_gdb_has_sw_breakpoint(const hl_gdb *g, uint64_t addr)
{
    for (size_t i = 0; i < g->nsw; i++)
        if (g->sw[i] == addr) return 1;
    return 0;
}

void hl_gdb_clear_breakpoints(hl_gdb *g)
{
    g->nsw = 0;
    memset(g->hw, 0, sizeof(g->hw));
    g->hw_generation++;
}

int hl_gdb_signal_of_vector(unsigned v)
{
    switch (v) { /* as core dumps have it (hl_core_signal_of_vector), in gdb's numbering */
    case 0: case 16: case 19: return HL_GDB_SIGFPE; /* #DE, #MF, #XM */
    case 1: case 3: return HL_GDB_SIGTRAP;           /* #DB, #BP */
    case 6: return HL_GDB_SIGILL;                    /* #UD */
    case 17: return HL_GDB_SIGBUS;                   /* #AC */
    default: return HL_GDB_SIGSEGV;                  /* #PF, #GP, #SS, #DF, ... */
    }
}

/* Z/z: type 0 software, 1 hardware execute, 2 write, 3 read, 4 access watchpoint. */
static void breakpoint(hl_gdb *g, int insert, const char *s, const char *end)
{
    uint64_t type, addr, kind;
    if (get_num(&s, end, &type) || eat(&s, end, ',') || get_num(&s, end, &addr) || eat(&s, end, ',') ||
        get_num(&s, end, &kind) || (s != end && *s != ';')) {
        reply(g, "E01");
        return;
    }
    if (type > 4) { /* not supported: an empty reply */
        reply(g, "");
        return;
    }
    if (type == 0) {
        if (kind != 1) { /* int3 is one byte: x86's only kind */
            reply(g, "E01");
            return;
        }
        size_t i = 0;
        while (i < g->nsw && g->sw[i] != addr) i++;
        if (!insert) {
            if (i < g->nsw) g->sw[i] = g->sw[--g->nsw];
            reply(g, "OK"); /* removing one that is not there: done already */
            return;
        }
        if (i < g->nsw) { /* inserted twice: the same breakpoint */
            reply(g, "OK");
            return;
        }
        uint8_t byte;
        if (g->ops->read_mem(g->ctx, addr, &byte, 1) != 1) {
            reply(g, "E14"); /* not mapped: nothing to patch */
            return;
        }
        if (g->nsw == HL_GDB_MAX_SW_BREAKPOINTS) {
            reply(g, "E1c");
            return;
        }
        g->sw[g->nsw++] = addr;
        reply(g, "OK");
        return;
    }
    unsigned len = type == 1 ? 1 : (unsigned)kind;
    if (type == 1 && kind != 1) len = 1; /* the execute length is always 1 */
    if (len != 1 && len != 2 && len != 4 && len != 8) {
        reply(g, "E01");
        return;
    }
    if (addr & (len - 1)) { /* the debug registers watch aligned ranges only */
        reply(g, "E01");
        return;
    }
    int free_slot = -1;
    for (unsigned i = 0; i < HL_GDB_HW_SLOTS; i++) {
        hl_gdb_hw *h = &g->hw[i];
        if (h->type == (int)type && h->addr == addr && h->len == len) {
            if (!insert) {
                memset(h, 0, sizeof(*h));
                g->hw_generation++;
            }
            reply(g, "OK");
            return;
        }
        if (!h->type && free_slot < 0) free_slot = (int)i;
    }
    if (!insert) {
        reply(g, "OK");
        return;
    }
    if (free_slot < 0) {
        reply(g, "E1c"); /* all four debug registers in use */
        return;
    }
    g->hw[free_slot] = (hl_gdb_hw){(int)type, addr, len};
    g->hw_generation++;
    reply(g, "OK");
}

/* ---- memory ---- */

static void read_memory(hl_gdb *g, const char *s, const char *end)
{
    uint64_t addr, len;
    if (get_num(&s, end, &addr) || eat(&s, end, ',') || get_num(&s, end, &len) || s != end) {
        reply(g, "E01");
        return;
    }
    if (len > (HL_GDB_PACKET_SIZE - 16) / 2) len = (HL_GDB_PACKET_SIZE - 16) / 2;
    uint8_t buf[HL_GDB_PACKET_SIZE / 2];
    size_t got = len ? g->ops->read_mem(g->ctx, addr, buf, (size_t)len) : 0;
    if (len && got == 0) {
        reply(g, "E14");
        return;
    }
    char *o = put_hex(g->out, buf, got);
    send_packet(g, g->out, (size_t)(o - g->out));
}

/* M addr,len:hex and X addr,len:binary */
static void write_memory(hl_gdb *g, int binary, const char *s, const char *end)
{
    uint64_t addr, len;
    if (get_num(&s, end, &addr) || eat(&s, end, ',') || get_num(&s, end, &len) || eat(&s, end, ':') ||
        len > HL_GDB_PACKET_SIZE) {
        reply(g, "E01");
        return;
    }
    uint8_t buf[HL_GDB_PACKET_SIZE];
    size_t n = 0;
    if (binary) {
        while (s < end && n < len) {
            uint8_t c = (uint8_t)*s++;
            if (c == '}') {
                if (s == end) break;
                c = (uint8_t)(*s++ ^ 0x20);
            }
            buf[n++] = c;
        }
        if (n != len || s != end) {
            reply(g, "E01");
            return;
        }
    } else {
        if (get_hex_bytes(&s, end, buf, (size_t)len) || s != end) {
            reply(g, "E01");
            return;
        }
        n = (size_t)len;
    }
    if (n && g->ops->write_mem(g->ctx, addr, buf, n) != 0) {
        reply(g, "E14");
        return;
    }
    reply(g, "OK");
}

/* ---- registers ---- */

static void read_registers(hl_gdb *g)
{
    hl_gdb_regs r;
    if (g->ops->get_regs(g->ctx, &r) != 0) {
        reply(g, "E01");
        return;
    }
    char *o = g->out;
    for (int n = 0; n < HL_GDB_NREGS; n++) {
        size_t sz;
        uint8_t *p = reg_ptr(&r, n, &sz);
        o = put_hex(o, p, sz);
    }
    send_packet(g, g->out, (size_t)(o - g->out));
}

static void write_registers(hl_gdb *g, const char *s, const char *end)
{
    hl_gdb_regs r;
    if ((size_t)(end - s) != 2 * regs_bytes() || g->ops->get_regs(g->ctx, &r) != 0) {
        reply(g, "E01");
        return;
    }
    for (int n = 0; n < HL_GDB_NREGS; n++) {
        size_t sz;
        uint8_t *p = reg_ptr(&r, n, &sz);
        if (get_hex_bytes(&s, end, p, sz)) {
            reply(g, "E01");
            return;
        }
    }
    reply(g, g->ops->set_regs(g->ctx, &r) == 0 ? "OK" : "E01");
}

static void read_register(hl_gdb *g, const char *s, const char *end)
{
    uint64_t n;
    hl_gdb_regs r;
    size_t sz;
    uint8_t *p;
    if (get_num(&s, end, &n) || s != end) {
        reply(g, "E01");
        return;
    }
    if (n >= HL_GDB_NREGS || g->ops->get_regs(g->ctx, &r) != 0 || !(p = reg_ptr(&r, (int)n, &sz))) {
        reply(g, "E01");
        return;
    }
    char *o = put_hex(g->out, p, sz);
    send_packet(g, g->out, (size_t)(o - g->out));
}

static void write_register(hl_gdb *g, const char *s, const char *end)
{
    uint64_t n;
    hl_gdb_regs r;
    size_t sz;
    uint8_t *p;
    if (get_num(&s, end, &n) || eat(&s, end, '=') || n >= HL_GDB_NREGS || g->ops->get_regs(g->ctx, &r) != 0 ||
        !(p = reg_ptr(&r, (int)n, &sz)) || get_hex_bytes(&s, end, p, sz) || s != end) {
        reply(g, "E01");
        return;
    }
    reply(g, g->ops->set_regs(g->ctx, &r) == 0 ? "OK" : "E01");
}

/* ---- queries ---- */

static int starts(const char *s, const char *end, const char *prefix)
{
    size_t n = strlen(prefix);
    return (size_t)(end - s) >= n && memcmp(s, prefix, n) == 0;
}

static int equals(const char *s, const char *end, const char *word)
{
    return (size_t)(end - s) == strlen(word) && memcmp(s, word, (size_t)(end - s)) == 0;
}

static void xfer_features(hl_gdb *g, const char *s, const char *end)
{
    static const char annex[] = "target.xml:";
    uint64_t off, len;
    if (!starts(s, end, annex)) {
        reply(g, "E00"); /* no such annex */
        return;
    }
    s += sizeof(annex) - 1;
    if (get_num(&s, end, &off) || eat(&s, end, ',') || get_num(&s, end, &len) || s != end) {
        reply(g, "E01");
        return;
    }
    size_t total = sizeof(hl_gdb_target_xml) - 1;
    if (off >= total) {
        reply(g, "l");
        return;
    }
    size_t want = total - (size_t)off;
    if (len < want) want = (size_t)len;
    size_t olen = 1;
    size_t room = HL_GDB_PACKET_SIZE - 1;
    size_t took = put_escaped(g->out, &olen, room, (const uint8_t *)hl_gdb_target_xml + off, want);
    g->out[0] = (off + took >= total) ? 'l' : 'm';
    send_packet(g, g->out, olen);
}

static void query(hl_gdb *g, const char *s, const char *end)
{
    if (starts(s, end, "qSupported")) {
        char buf[160];
        snprintf(buf, sizeof(buf), "PacketSize=%x;qXfer:features:read+;QStartNoAckMode+;swbreak+;hwbreak+",
                 HL_GDB_PACKET_SIZE);
        reply(g, buf);
    } else if (starts(s, end, "qXfer:features:read:")) {
        xfer_features(g, s + strlen("qXfer:features:read:"), end);
    } else if (equals(s, end, "qOffsets")) {
        /* one segment base: gdb moves every segment of the ELF by what moved the first (its
         * Text=/Data= form cannot say where read-only data went) */
        char buf[48];
        snprintf(buf, sizeof(buf), "TextSeg=%llx", (unsigned long long)g->text_seg);
        reply(g, buf);
    } else if (starts(s, end, "qAttached")) {
        reply(g, "1"); /* attached to a running target: quitting gdb detaches, never kills */
    } else if (equals(s, end, "qC")) {
        reply(g, "QC1");
    } else if (equals(s, end, "qfThreadInfo")) {
        reply(g, "m1");
    } else if (equals(s, end, "qsThreadInfo")) {
        reply(g, "l");
    } else if (starts(s, end, "qSymbol:")) {
        reply(g, "OK");
    } else if (equals(s, end, "QStartNoAckMode")) {
        reply(g, "OK");
        g->no_ack = 1;
    } else {
        reply(g, ""); /* unknown: empty, as the protocol wants */
    }
}

/* c [addr], s [addr], C sig[;addr], S sig[;addr] */
static hl_gdb_action resume(hl_gdb *g, char cmd, const char *s, const char *end)
{
    uint64_t v;
    g->resume_has_pc = 0;
    g->resume_signal = 0;
    if (cmd == 'C' || cmd == 'S') {
        if (get_num(&s, end, &v) || v > 255) {
            reply(g, "E01");
            return HL_GDB_ACT_NONE;
        }
        g->resume_signal = (int)v;
        if (s < end && eat(&s, end, ';')) {
            reply(g, "E01");
            return HL_GDB_ACT_NONE;
        }
    }
    if (s < end) {
        if (get_num(&s, end, &v) || s != end) {
            reply(g, "E01");
            return HL_GDB_ACT_NONE;
        }
        g->resume_has_pc = 1;
        g->resume_pc = v;
    }
    if (g->running) return HL_GDB_ACT_NONE; /* running already (all-stop: gdb never does this) */
    g->running = 1;
    return cmd == 'c' || cmd == 'C' ? HL_GDB_ACT_CONTINUE : HL_GDB_ACT_STEP;
}

/* vCont;ACTION[:TID];... : the first action that applies to thread 1 */
static hl_gdb_action vcont(hl_gdb *g, const char *s, const char *end)
{
    while (s < end) {
        if (eat(&s, end, ';')) break;
        char a = s < end ? *s++ : 0;
        uint64_t sig = 0;
        if ((a == 'C' || a == 'S') && (get_num(&s, end, &sig) || sig > 255)) break;
        int applies = 1;
        if (s < end && *s == ':') {
            s++;
            const char *t = s;
            while (s < end && *s != ';') s++;
            applies = equals(t, s, "1") || equals(t, s, "-1") || equals(t, s, "p1.1") || equals(t, s, "p1.-1") ||
                      equals(t, s, "p-1.-1");
        }
        if (!applies) continue;
        if (a == 'c' || a == 'C' || a == 's' || a == 'S') {
            g->resume_has_pc = 0;
            g->resume_signal = (int)sig;
            if (g->running) return HL_GDB_ACT_NONE;
            g->running = 1;
            return a == 'c' || a == 'C' ? HL_GDB_ACT_CONTINUE : HL_GDB_ACT_STEP;
        }
        break; /* t, r and the rest: not offered in the vCont? reply */
    }
    reply(g, "E01");
    return HL_GDB_ACT_NONE;
}

static hl_gdb_action handle_packet(hl_gdb *g, const char *s, size_t n)
{
    const char *end = s + n;
    if (n == 0) {
        reply(g, "");
        return HL_GDB_ACT_NONE;
    }
    char c = *s++;
    switch (c) {
    case '?': send_stop(g); return HL_GDB_ACT_NONE;
    case 'g': if (s == end) read_registers(g); else reply(g, "E01"); return HL_GDB_ACT_NONE;
    case 'G': write_registers(g, s, end); return HL_GDB_ACT_NONE;
    case 'p': read_register(g, s, end); return HL_GDB_ACT_NONE;
    case 'P': write_register(g, s, end); return HL_GDB_ACT_NONE;
    case 'm': read_memory(g, s, end); return HL_GDB_ACT_NONE;
    case 'M': write_memory(g, 0, s, end); return HL_GDB_ACT_NONE;
    case 'X': write_memory(g, 1, s, end); return HL_GDB_ACT_NONE;
    case 'Z': case 'z': breakpoint(g, c == 'Z', s, end); return HL_GDB_ACT_NONE;
    case 'c': case 's': case 'C': case 'S': return resume(g, c, s, end);
    case 'H': reply(g, "OK"); return HL_GDB_ACT_NONE; /* one thread: every selection is it */
    case 'T': reply(g, "OK"); return HL_GDB_ACT_NONE; /* thread 1 is alive */
    case 'D':
        reply(g, "OK");
        hl_gdb_clear_breakpoints(g);
        g->running = 1;
        return HL_GDB_ACT_DETACH;
    case 'k':
        hl_gdb_clear_breakpoints(g);
        g->running = 1;
        return HL_GDB_ACT_KILL; /* no reply */
    case 'q': case 'Q': query(g, s - 1, end); return HL_GDB_ACT_NONE;
    case 'v':
        if (equals(s - 1, end, "vCont?")) {
            reply(g, "vCont;c;C;s;S");
            return HL_GDB_ACT_NONE;
        }
        if (starts(s - 1, end, "vCont;")) return vcont(g, s + 4, end);
        if (starts(s - 1, end, "vKill")) {
            reply(g, "OK");
            hl_gdb_clear_breakpoints(g);
            g->running = 1;
            return HL_GDB_ACT_KILL;
        }
        reply(g, "");
        return HL_GDB_ACT_NONE;
    default: reply(g, ""); return HL_GDB_ACT_NONE;
    }
}

void hl_gdb_init(hl_gdb *g, const hl_gdb_target_ops *ops, void *ctx, uint64_t text_seg)
{
    memset(g, 0, sizeof(*g));
    g->ops = ops;
    g->ctx = ctx;
    g->text_seg = text_seg;
    g->last_stop.signal = HL_GDB_SIGTRAP;
}

hl_gdb_action hl_gdb_input(hl_gdb *g, const uint8_t *data, size_t len, size_t *used)
{
    size_t i = 0;
    hl_gdb_action act = HL_GDB_ACT_NONE;
    while (i < len && act == HL_GDB_ACT_NONE) {
        uint8_t c = data[i++];
        switch (g->state) {
        case ST_IDLE:
            if (c == '$') {
                g->state = ST_DATA;
                g->len = 0;
                g->sum = 0;
                g->overflow = 0;
            } else if (c == 0x03) {
                if (g->running) act = HL_GDB_ACT_INTERRUPT;
            } else if (c == '-' && !g->no_ack && g->last_len) {
                g->ops->send(g->ctx, g->last, g->last_len); /* gdb got it garbled: again */
            } /* '+' and noise between packets: nothing to do */
            break;
        case ST_DATA:
            if (c == '#') {
                g->state = ST_SUM1;
            } else if (c == '$') { /* a new packet: the one before was cut short */
                g->len = 0;
                g->sum = 0;
                g->overflow = 0;
            } else {
                g->sum = (uint8_t)(g->sum + c);
                if (g->len < HL_GDB_PACKET_SIZE)
                    g->pkt[g->len++] = (char)c;
                else
                    g->overflow = 1;
            }
            break;
        case ST_SUM1:
            g->sum_text[0] = (char)c;
            g->state = ST_SUM2;
            break;
        case ST_SUM2: {
            g->sum_text[1] = (char)c;
            g->state = ST_IDLE;
            int hi = unhex(g->sum_text[0]), lo = unhex(g->sum_text[1]);
            if (!g->no_ack && (hi < 0 || lo < 0 || (uint8_t)(hi << 4 | lo) != g->sum)) {
                g->ops->send(g->ctx, "-", 1); /* bad checksum: ask again */
                break;
            }
            if (!g->no_ack) g->ops->send(g->ctx, "+", 1);
            if (g->overflow) {
                reply(g, "E01"); /* longer than PacketSize: refused whole */
                break;
            }
            g->pkt[g->len] = '\0';
            act = handle_packet(g, g->pkt, g->len);
            break;
        }
        }
    }
    *used = i;
    return act;
}
