/* test_debug.c - the gdb remote stub (RunInHypervisor) driven by a small client speaking gdb's
 * remote protocol, and the debug information of both modes. */
#include "rt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PORT 47600 /* each test adds its own number */

/* The stub serves RunInHypervisor sandboxes only: the other tests skip in-process. */
static int kvm_only(void)
{
    if (rt_mode() == HL_MODE_RUN_IN_HYPERVISOR) return 1;
    skip();
    return 0;
}

/* ---- the guest's symbols, from its ELF file ---- */

static uint8_t *elf_img;
static size_t elf_len;

static void elf_read(void)
{
    if (elf_img) return;
    FILE *f = fopen(rt_guest("gdbguest"), "rb");
    assert_non_null(f);
    elf_img = malloc(1 << 21);
    assert_non_null(elf_img);
    elf_len = fread(elf_img, 1, 1 << 21, f);
    fclose(f);
    assert_true(elf_len > 64 && memcmp(elf_img, "\177ELF", 4) == 0);
}

static uint64_t rd64(size_t off) { uint64_t v; memcpy(&v, elf_img + off, 8); return v; }
static uint32_t rd32(size_t off) { uint32_t v; memcpy(&v, elf_img + off, 4); return v; }
static uint16_t rd16(size_t off) { uint16_t v; memcpy(&v, elf_img + off, 2); return v; }

/* The ELF address of a symbol (static ones too: .symtab). */
static uint64_t sym(const char *name)
{
    elf_read();
    uint64_t shoff = rd64(0x28);
    unsigned shentsize = rd16(0x3A), shnum = rd16(0x3C);
    for (unsigned i = 0; i < shnum; i++) {
        size_t sh = (size_t)shoff + (size_t)i * shentsize;
        if (rd32(sh + 4) != 2) continue; /* SHT_SYMTAB */
        size_t off = (size_t)rd64(sh + 0x18), size = (size_t)rd64(sh + 0x20);
        size_t strsh = (size_t)shoff + (size_t)rd32(sh + 0x28) * shentsize, stroff = (size_t)rd64(strsh + 0x18);
        for (size_t s = off; s + 24 <= off + size; s += 24)
            if (strcmp((const char *)elf_img + stroff + rd32(s), name) == 0) return rd64(s + 8);
    }
    fail_msg("no symbol %s in gdbguest", name);
    return 0;
}

/* The byte the file holds at ELF address a (in a loaded segment). */
static uint8_t elf_byte(uint64_t a)
{
    elf_read();
    uint64_t phoff = rd64(0x20);
    unsigned phentsize = rd16(0x36), phnum = rd16(0x38);
    for (unsigned i = 0; i < phnum; i++) {
        size_t ph = (size_t)phoff + (size_t)i * phentsize;
        uint64_t off = rd64(ph + 8), va = rd64(ph + 16), filesz = rd64(ph + 32);
        if (rd32(ph) == 1 && a >= va && a < va + filesz) return elf_img[off + (a - va)];
    }
    fail_msg("address %#llx is not in gdbguest's file", (unsigned long long)a);
    return 0;
}

/* ---- a call running on its own thread while the test is the debugger ---- */

typedef struct caller {
    hl_sandbox *sb;
    const char *fn;
    hl_value arg;
    int nargs;
    hl_status st;
    hl_value result;
    hl_error err;
    atomic_int done;
    pthread_t thread;
} caller;

static void *call_main(void *p)
{
    caller *c = p;
    c->err = (hl_error)HL_ERROR_INIT;
    c->st = hl_sandbox_call(c->sb, c->fn, &c->arg, (size_t)c->nargs, &c->result, &c->err);
    atomic_store(&c->done, 1);
    return NULL;
}

static void call_start(caller *c, hl_sandbox *sb, const char *fn, int nargs, hl_value arg)
{
    memset(c, 0, sizeof(*c));
    c->sb = sb;
    c->fn = fn;
    c->arg = arg;
    c->nargs = nargs;
    assert_int_equal(pthread_create(&c->thread, NULL, call_main, c), 0);
}

static void call_join(caller *c) { pthread_join(c->thread, NULL); }

/* ---- a client of gdb's remote protocol ---- */

typedef struct rsp {
    int fd;
    char pkt[HL_PAGE_SIZE * 8];
} rsp;

static void rsp_open(rsp *r, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 500; i++) {
        r->fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(r->fd >= 0);
        if (connect(r->fd, (struct sockaddr *)&a, sizeof(a)) == 0) return;
        close(r->fd);
        rt_sleep_ms(10);
    }
    fail_msg("could not connect to 127.0.0.1:%u: %s", (unsigned)port, strerror(errno));
}

static void rsp_close(rsp *r) { close(r->fd); }

static void rsp_raw(rsp *r, const void *p, size_t n)
{
    assert_int_equal(send(r->fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void rsp_send(rsp *r, const char *payload)
{
    char buf[4096];
    unsigned sum = 0;
    for (const char *p = payload; *p; p++) sum += (unsigned char)*p;
    int n = snprintf(buf, sizeof(buf), "$%s#%02x", payload, sum & 0xFF);
    rsp_raw(r, buf, (size_t)n);
}

static int rsp_getc(rsp *r)
{
    struct pollfd p = {r->fd, POLLIN, 0};
    if (poll(&p, 1, 60000) != 1) fail_msg("no answer from the stub within 60 s");
    unsigned char c;
    if (recv(r->fd, &c, 1, 0) != 1) return -1;
    return c;
}

/* The next packet's payload (acks skipped, the checksum checked, '+' sent); NULL when closed. */
static const char *rsp_recv(rsp *r)
{
    int c;
    while ((c = rsp_getc(r)) != '$')
        if (c < 0) return NULL;
    size_t n = 0;
    unsigned sum = 0;
    while ((c = rsp_getc(r)) != '#') {
        if (c < 0) return NULL;
        assert_true(n < sizeof(r->pkt) - 1);
        r->pkt[n++] = (char)c;
        sum += (unsigned)c;
    }
    char cs[3] = {(char)rsp_getc(r), (char)rsp_getc(r), 0};
    assert_int_equal(strtoul(cs, NULL, 16), sum & 0xFF);
    r->pkt[n] = '\0';
    rsp_raw(r, "+", 1);
    return r->pkt;
}

static const char *rsp_cmd(rsp *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *rsp_cmd(rsp *r, const char *fmt, ...)
{
    char payload[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(payload, sizeof(payload), fmt, ap);
    va_end(ap);
    rsp_send(r, payload);
    const char *reply = rsp_recv(r);
    assert_non_null(reply);
    return reply;
}

#define rsp_expect(r, want, ...) assert_string_equal(rsp_cmd((r), __VA_ARGS__), (want))

static uint64_t le_hex(const char *s, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) {
        char b[3] = {s[2 * i], s[2 * i + 1], 0};
        v = v << 8 | strtoul(b, NULL, 16);
    }
    return v;
}

static uint64_t rsp_reg(rsp *r, int n) { return le_hex(rsp_cmd(r, "p%x", n), 8); }
static uint32_t rsp_u32(rsp *r, uint64_t addr) { return (uint32_t)le_hex(rsp_cmd(r, "m%llx,4", (unsigned long long)addr), 4); }

/* A stop reply: its signal, and whether it contains `what`. */
static void assert_stop(const char *reply, int sig, const char *what)
{
    char head[4];
    snprintf(head, sizeof(head), "T%02x", sig);
    if (strncmp(reply, head, 3) != 0 || (what && !strstr(reply, what)))
        fail_msg("expected a stop %s%s%s, got `%s`", head, what ? " with " : "", what ? what : "", reply);
    assert_non_null(strstr(reply, "thread:1;"));
}

/* ---- sandboxes ---- */

static uint64_t g_off; /* the load offset of the last sandbox made */

static hl_sandbox *debug_sandbox_of(const char *guest, const char *toml, unsigned port, int stop_at_init)
{
    hl_config cfg;
    rt_config(&cfg, toml);
    assert_int_equal(hl_config_set_gdb_port(&cfg, port), HL_SET_OK);
    assert_int_equal(hl_config_set_gdb_stop(&cfg, stop_at_init ? HL_GDB_STOP_INITIALIZATION : HL_GDB_STOP_FIRST_CALL),
                     HL_SET_OK);
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    if (hl_sandbox_create(&sb, rt_guest(guest), &cfg, &err) != HL_OK) fail_msg("create: %s", err.message);
    hl_debug_info info = HL_DEBUG_INFO_INIT;
    assert_int_equal(hl_sandbox_debug_info(sb, &info), HL_OK);
    g_off = info.load_offset;
    if (!stop_at_init && hl_sandbox_initialize(sb, &err) != HL_OK) fail_msg("initialize: %s", err.message);
    return sb;
}

static hl_sandbox *debug_sandbox(const char *toml, unsigned port, int stop_at_init)
{
    return debug_sandbox_of("gdbguest", toml, port, stop_at_init);
}

/* The guest address of the host's exception stub for `vector`: the stubs' page is the last of the
 * three system pages (GDT and TSS, IDT, stubs) at the end of the page tables region, 16 bytes a
 * stub (src/backend/x86_64.h). */
static uint64_t stub_addr(hl_sandbox *sb, unsigned vector)
{
    const hl_layout *l = hl_sandbox_layout(sb);
    const hl_layout_region *pt = &l->region[HL_REGION_PAGE_TABLES];
    return l->base + pt->offset + pt->size - HL_PAGE_SIZE + 16ull * vector;
}

#define A(name) (g_off + sym(name))

/* ---- tests ---- */

/* A breakpoint holds the guest 4 times its time limit; the call then ends normally. The memory
 * the debugger reads shows no int3 and the stop is at the function's address. */
static void test_breakpoint_suspends_time_limit(void **state)
{
    (void)state;
    if (!kvm_only()) return;
    hl_sandbox *sb = debug_sandbox("max_execution_time = 100\n", PORT + 1, 0);
    caller c;
    call_start(&c, sb, "compute", 1, hl_i32(7));
    rsp r;
    rsp_open(&r, PORT + 1);
    assert_stop(rsp_cmd(&r, "?"), 5, NULL); /* the first call, stopped at its entry */
    rsp_expect(&r, "OK", "Z0,%llx,1", (unsigned long long)A("leaf"));
    assert_stop(rsp_cmd(&r, "c"), 5, "swbreak:");
    assert_int_equal(rsp_reg(&r, 16), A("leaf"));
    char want[3];
    snprintf(want, sizeof(want), "%02x", elf_byte(sym("leaf")));
    rsp_expect(&r, want, "m%llx,1", (unsigned long long)A("leaf")); /* the guest's byte, not int3 */
    double t0 = rt_now_ms();
    rt_sleep_ms(400);
    assert_false(atomic_load(&c.done));
    rsp_expect(&r, "OK", "z0,%llx,1", (unsigned long long)A("leaf"));
    rsp_send(&r, "c");
    call_join(&c);
    if (c.st != HL_OK) fail_msg("the call failed: %s", c.err.message);
    assert_int_equal(c.result.u.i32, 123);
    assert_true(rt_now_ms() - t0 >= 400);
    rsp_close(&r);
    hl_sandbox_destroy(sb);
}

/* The time limit counts again once the debugger lets the guest go: held 400 ms at entry, a
 * call limited to 200 ms that runs for ever is cancelled about 200 ms after `c`. */
static void test_time_limit_resumes(void **state)
{
    (void)state;
    if (!kvm_only()) return;
    hl_sandbox *sb = debug_sandbox("max_execution_time = 200\n", PORT + 2, 0);
    caller c;
    call_start(&c, sb, "spin", 1, hl_u64(0));
    rsp r;
    rsp_open(&r, PORT + 2);
    assert_stop(rsp_cmd(&r, "?"), 5, NULL);
    rt_sleep_ms(400);
    assert_false(atomic_load(&c.done));
    double t0 = rt_now_ms();
    rsp_send(&r, "c");
    call_join(&c);
    double ran = rt_now_ms() - t0;
    assert_int_equal(c.st, HL_E_CANCELLED);
    rt_contains(c.err.message, "max_execution_time (200 ms)");
    if (ran < 150 || ran > 5000) fail_msg("cancelled %.0f ms after the debugger let it go, not about 200", ran);
    rsp_close(&r);
    hl_sandbox_destroy(sb);
}

/* Registers and memory at a stop; the debugger's writes are seen by the call and undone by the
 * restore; unmapped addresses are error replies. */
static void test_memory_and_registers(void **state)
{
    (void)state;
    if (!kvm_only()) return;
    hl_sandbox *sb = debug_sandbox("", PORT + 3, 0);
    const hl_layout *l = hl_sandbox_layout(sb);
    uint64_t guard = l->base + l->region[HL_REGION_STACK_GUARD].offset;
    caller c;
    call_start(&c, sb, "compute", 1, hl_i32(7));
    rsp r;
    rsp_open(&r, PORT + 3);
    assert_stop(rsp_cmd(&r, "?"), 5, NULL);
    rsp_expect(&r, "OK", "Z0,%llx,1", (unsigned long long)A("leaf"));
    assert_stop(rsp_cmd(&r, "c"), 5, "swbreak:");
    rsp_expect(&r, "OK", "z0,%llx,1", (unsigned long long)A("leaf"));
    /* g: 59 registers, 8*17 + 4*7 + 10*8 + 4*8 + 16*16 + 4 + 8*2 bytes */
    const char *g = rsp_cmd(&r, "g");
    assert_int_equal(strlen(g), 2 * (8 * 17 + 4 * 7 + 80 + 32 + 256 + 4 + 16));
    assert_int_equal(le_hex(g + 16 * 16, 8), A("leaf"));                /* rip */
    assert_int_equal(le_hex(g + 2 * (8 * 17 + 4), 4), 0x08);            /* cs */
    assert_int_equal(le_hex(g + 2 * (8 * 17 + 4 * 7 + 80), 4), 0x37F);  /* fctrl */
    assert_int_equal(rsp_u32(&r, A("counter")), 5);
    assert_string_equal(rsp_cmd(&r, "m%llx,9", (unsigned long long)A("motto")), "6465627567206d6500"); /* "debug me" */
    /* unmapped: below the sandbox, the stack's guard page, non-canonical */
    rsp_expect(&r, "E14", "m0,8");
    rsp_expect(&r, "E14", "m%llx,8", (unsigned long long)guard);
    rsp_expect(&r, "E14", "m8000000000000000,8");
    rsp_expect(&r, "E14", "M0,1:00");
    rsp_expect(&r, "E14", "M%llx,2:0000", (unsigned long long)guard - 1); /* straddles: nothing written */
    rsp_expect(&r, "E14", "Z0,0,1");
    /* a read that runs into the guard page returns what is readable */
    assert_int_equal(strlen(rsp_cmd(&r, "m%llx,10", (unsigned long long)guard - 8)), 16);
    /* counter = 1000, through X (binary) after a zero-length probe */
    rsp_expect(&r, "OK", "X%llx,0:", (unsigned long long)A("counter"));
    rsp_expect(&r, "OK", "M%llx,4:e8030000", (unsigned long long)A("counter"));
    assert_int_equal(rsp_u32(&r, A("counter")), 1000);
    /* rdi is leaf's argument: 8; make it 9 (P 5 = rdi) */
    assert_int_equal(rsp_reg(&r, 5), 8);
    rsp_expect(&r, "OK", "P5=0900000000000000");
    assert_int_equal(rsp_reg(&r, 5), 9);
    rsp_send(&r, "c");
    call_join(&c);
    if (c.st != HL_OK) fail_msg("the call failed: %s", c.err.message);
    /* leaf(9): counter 1018, returns 19, middle 57, counter 1075, result 1132 */
    assert_int_equal(c.result.u.i32, 1132);
    /* the next call starts from the snapshot: the debugger's write is gone */
    call_start(&c, sb, "get_counter", 0, hl_i32(0));
    call_join(&c);
    assert_int_equal(c.st, HL_OK);
    assert_int_equal(c.result.u.i32, 5);
    rsp_close(&r);
    hl_sandbox_destroy(sb);
}

/* A write watchpoint fires after the store, with the address; single steps move on one
 * instruction; a hardware breakpoint left in place is resumed past (RF). */
static void test_watchpoint_step_hwbreak(void **state)
{
    (void)state;
    if (!kvm_only()) return;
    hl_sandbox *sb = debug_sandbox("", PORT + 4, 0);
    caller c;
    call_start(&c, sb, "compute", 1, hl_i32(7));
    rsp r;
    rsp_open(&r, PORT + 4);
    assert_stop(rsp_cmd(&r, "?"), 5, NULL);
    rsp_expect(&r, "OK", "Z1,%llx,1", (unsigned long long)A("middle"));
    assert_stop(rsp_cmd(&r, "c"), 5, "hwbreak:");
    assert_int_equal(rsp_reg(&r, 16), A("middle"));
    rsp_expect(&r, "OK", "Z2,%llx,4", (unsigned long long)A("counter"));
    char watch[64];
    snprintf(watch, sizeof(watch), "watch:%llx;", (unsigned long long)A("counter"));
    /* the execute breakpoint stays: resuming on it must not stop there again */
    assert_stop(rsp_cmd(&r, "c"), 5, watch);
    uint64_t rip = rsp_reg(&r, 16);
    if (rip <= A("leaf") || rip >= A("middle")) fail_msg("the watchpoint stopped at %#llx, not in leaf", (unsigned long long)rip);
    assert_int_equal(rsp_u32(&r, A("counter")), 21);
    /* two single steps */
    assert_stop(rsp_cmd(&r, "vCont;s:1;c"), 5, NULL);
    uint64_t rip1 = rsp_reg(&r, 16);
    assert_true(rip1 > rip && rip1 < A("middle"));
    assert_stop(rsp_cmd(&r, "s"), 5, NULL);
    assert_true(rsp_reg(&r, 16) > rip1);
    /* compute's own store fires it again: 72 */
    assert_stop(rsp_cmd(&r, "c"), 5, watch);
    assert_int_equal(rsp_u32(&r, A("counter")), 72);
    rsp_expect(&r, "OK", "z2,%llx,4", (unsigned long long)A("counter"));
    rsp_expect(&r, "OK", "z1,%llx,1", (unsigned long long)A("middle"));
    rsp_send(&r, "c");
    call_join(&c);
    if (c.st != HL_OK) fail_msg("the call failed: %s", c.err.message);
    assert_int_equal(c.result.u.i32, 123);
    /* the next call, without breakpoints, runs through (the debug registers were cleared) */
    call_start(&c, sb, "compute", 1, hl_i32(7));
    call_join(&c);
    assert_int_equal(c.st, HL_OK);
    assert_int_equal(c.result.u.i32, 123);
    rsp_close(&r);
    hl_sandbox_destroy(sb);
}

/* 0x03 stops a guest that loops for ever (SIGINT, inside spin); `k` ends the call with
 * HL_E_CANCELLED; the sandbox stays usable without the debugger. */
static void test_interrupt_and_kill(void **state)
{
    (void)state;
    if (!kvm_only()) return;
    hl_sandbox *sb = debug_sandbox("max_execution_time = 20000\n", PORT + 5, 0);
    caller c;
    call_start(&c, sb, "spin", 1, hl_u64(0));
    rsp r;
    rsp_open(&r, PORT + 5);
    assert_stop(rsp_cmd(&r, "?"), 5, NULL);
    rsp_send(&r, "c");
    rt_sleep_ms(300);
    rsp_raw(&r, "\003", 1);
    const char *stop = rsp_recv(&r);
    assert_non_null(stop);
    assert_stop(stop, 2, NULL);
    uint64_t rip = rsp_reg(&r, 16);
    if (rip < A("spin") || rip >= A("get_counter")) fail_msg("interrupted at %#llx, not in spin", (unsigned long long)rip);
    uint64_t spins = le_hex(rsp_cmd(&r, "m%llx,8", (unsigned long long)A("spins")), 8);
    assert_true(spins > 0);
    rsp_send(&r, "k");
    call_join(&c);
    assert_int_equal(c.st, HL_E_CANCELLED);
    rt_contains(c.err.message, "the call to `spin` was ended by the debugger");
    call_start(&c, sb, "compute", 1, hl_i32(7));
    call_join(&c);
    assert_int_equal(c.st, HL_OK);
    assert_int_equal(c.result.u.i32, 123);
    rsp_close(&r);
    hl_sandbox_destroy(sb);
}

/* A fault stops at the faulting instruction with SIGSEGV before the call ends; resumed without
 * the signal it faults again; with it, the call ends with its usual error. The guest's own int3:
 * SIGTRAP after it; `c` goes on, `C05` delivers it (the call's usual #BP error). */
static void test_fault_and_own_int3(void **state)
{
    (void)state;
    if (!kvm_only()) return;
    hl_sandbox *sb = debug_sandbox("", PORT + 6, 0);
    caller c;
    call_start(&c, sb, "crash", 1, hl_u64(0));
    rsp r;
    rsp_open(&r, PORT + 6);
    assert_stop(rsp_cmd(&r, "?"), 5, NULL);
    assert_stop(rsp_cmd(&r, "c"), 11, NULL);
    uint64_t rip = rsp_reg(&r, 16);
    if (rip < A("poke") || rip >= A("crash")) fail_msg("the fault stopped at %#llx, not in poke", (unsigned long long)rip);
    assert_int_equal(rsp_reg(&r, 5), 0); /* rdi, poke's pointer: NULL */
    assert_stop(rsp_cmd(&r, "c"), 11, NULL); /* no signal: the store runs again, and faults */
    assert_int_equal(rsp_reg(&r, 16), rip);
    rsp_send(&r, "vCont;C0b:1");
    call_join(&c);
    assert_int_equal(c.st, HL_E_GUEST_FAULT);
    rt_contains(c.err.message, "#PF page fault");
    rt_contains(c.err.message, "below the sandbox: a NULL pointer?");
    assert_int_equal(c.err.guest_code, 14);

    call_start(&c, sb, "trap", 0, hl_i32(0));
    const char *stop = rsp_recv(&r); /* the debugger is still attached and waiting */
    assert_non_null(stop);
    assert_stop(stop, 5, NULL);
    assert_null(strstr(stop, "swbreak"));
    rip = rsp_reg(&r, 16);
    assert_true(rip > A("trap") && rip < A("hyperlight_main"));
    rsp_send(&r, "c");
    call_join(&c);
    if (c.st != HL_OK) fail_msg("the call failed: %s", c.err.message);
    assert_int_equal(c.result.u.i32, 5);

    call_start(&c, sb, "trap", 0, hl_i32(0));
    assert_stop(rsp_recv(&r), 5, NULL);
    rsp_send(&r, "C05");
    call_join(&c);
    assert_int_equal(c.st, HL_E_GUEST_FAULT);
    rt_contains(c.err.message, "#BP breakpoint");
    rsp_close(&r);
    hl_sandbox_destroy(sb);
}

/* D lets the call finish without the debugger; a debugger that attaches between calls holds the
 * next one at its start, and its breakpoints apply. */
static void test_detach_and_attach_between_calls(void **state)
{
    (void)state;
    if (!kvm_only()) return;
    hl_sandbox *sb = debug_sandbox("", PORT + 7, 0);
    caller c;
    call_start(&c, sb, "compute", 1, hl_i32(7));
    rsp r;
    rsp_open(&r, PORT + 7);
    assert_stop(rsp_cmd(&r, "?"), 5, NULL);
    rsp_expect(&r, "OK", "Z0,%llx,1", (unsigned long long)A("leaf"));
    assert_stop(rsp_cmd(&r, "c"), 5, "swbreak:");
    rsp_expect(&r, "OK", "D");
    call_join(&c);
    assert_int_equal(c.st, HL_OK);
    assert_int_equal(c.result.u.i32, 123);
    rsp_close(&r);
    /* a call without a debugger runs through */
    call_start(&c, sb, "compute", 1, hl_i32(7));
    call_join(&c);
    assert_int_equal(c.result.u.i32, 123);
    /* attach while idle */
    rsp_open(&r, PORT + 7);
    rsp_expect(&r, "PacketSize=4000;qXfer:features:read+;QStartNoAckMode+;swbreak+;hwbreak+", "qSupported:swbreak+");
    assert_stop(rsp_cmd(&r, "?"), 5, NULL);
    rsp_expect(&r, "OK", "Z0,%llx,1", (unsigned long long)A("middle"));
    rsp_send(&r, "c");
    call_start(&c, sb, "compute", 1, hl_i32(7));
    assert_stop(rsp_recv(&r), 5, "swbreak:");
    assert_int_equal(rsp_reg(&r, 16), A("middle"));
    rsp_expect(&r, "OK", "D");
    call_join(&c);
    assert_int_equal(c.result.u.i32, 123);
    rsp_close(&r);
    hl_sandbox_destroy(sb);
}

/* gdb_stop = initialization: hl_sandbox_initialize waits for the debugger. */
typedef struct initer {
    hl_sandbox *sb;
    hl_status st;
    hl_error err;
    atomic_int done;
} initer;

static void *init_main(void *p)
{
    initer *in = p;
    in->err = (hl_error)HL_ERROR_INIT;
    in->st = hl_sandbox_initialize(in->sb, &in->err);
    atomic_store(&in->done, 1);
    return NULL;
}

static void test_stop_at_initialization(void **state)
{
    (void)state;
    if (!kvm_only()) return;
    hl_sandbox *sb = debug_sandbox("max_initialization_time = 100\n", PORT + 8, 1);
    initer in = {sb, HL_OK, HL_ERROR_INIT, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, init_main, &in), 0);
    rt_sleep_ms(300); /* longer than its limit: it waits for a debugger, untimed */
    assert_false(atomic_load(&in.done));
    rsp r;
    rsp_open(&r, PORT + 8);
    assert_stop(rsp_cmd(&r, "?"), 5, NULL);
    elf_read();
    uint64_t entry = g_off + rd64(0x18); /* e_entry */
    assert_int_equal(rsp_reg(&r, 16), entry);
    rsp_expect(&r, "OK", "QStartNoAckMode");
    rsp_send(&r, "c");
    pthread_join(t, NULL);
    if (in.st != HL_OK) fail_msg("initialize: %s", in.err.message);
    caller c; /* the first call does not wait again */
    call_start(&c, sb, "compute", 1, hl_i32(7));
    call_join(&c);
    assert_int_equal(c.result.u.i32, 123);
    rsp_close(&r);
    hl_sandbox_destroy(sb);
}

/* A second sandbox on the same port fails at create, clearly. */
static void test_port_in_use(void **state)
{
    (void)state;
    if (!kvm_only()) return;
    hl_sandbox *a = debug_sandbox("", PORT + 9, 0);
    hl_config cfg;
    rt_config(&cfg, "");
    hl_config_set_gdb_port(&cfg, PORT + 9);
    hl_sandbox *b = NULL;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_create(&b, rt_guest("gdbguest"), &cfg, &err), HL_E_IO);
    assert_null(b);
    char want[96];
    snprintf(want, sizeof(want), "gdb_port %u: cannot listen on 127.0.0.1:%u: Address already in use", PORT + 9, PORT + 9);
    rt_contains(err.message, want);
    hl_sandbox_destroy(a);
}

/* Both modes: where the guest is, and the command that gives gdb its symbols. RunInProcess with
 * gdb_port opens no socket and has no time limits (a debugger stops the whole process). */
static void test_debug_info(void **state)
{
    (void)state;
    hl_config cfg;
    rt_config(&cfg, "max_execution_time = 1\n");
    hl_config_set_gdb_port(&cfg, PORT + 10);
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    if (hl_sandbox_create(&sb, rt_guest("gdbguest"), &cfg, &err) != HL_OK) fail_msg("create: %s", err.message);
    hl_debug_info info = HL_DEBUG_INFO_INIT;
    assert_int_equal(hl_sandbox_debug_info(sb, &info), HL_OK);
    const hl_layout *l = hl_sandbox_layout(sb);
    assert_int_equal(info.code_address, l->base + l->region[HL_REGION_CODE].offset);
    assert_int_equal(info.load_offset, info.code_address); /* gdbguest's first segment is at 0 */
    assert_int_equal(info.mode, rt_mode());
    char *abs = realpath(rt_guest("gdbguest"), NULL);
    assert_non_null(abs);
    assert_string_equal(info.guest_path, abs);
    char cmd[4200], want[4200];
    int n = hl_sandbox_gdb_command(sb, cmd, sizeof(cmd));
    if (rt_mode() == HL_MODE_RUN_IN_HYPERVISOR) {
        assert_int_equal(info.gdb_port, PORT + 10);
        snprintf(want, sizeof(want), "target remote 127.0.0.1:%u", PORT + 10);
    } else {
        assert_int_equal(info.gdb_port, 0);
        /* the executable segment, from the program headers */
        elf_read();
        uint64_t lo = 0, hi = 0;
        for (unsigned i = 0; i < rd16(0x38); i++) {
            size_t ph = (size_t)rd64(0x20) + (size_t)i * rd16(0x36);
            if (rd32(ph) == 1 && (rd32(ph + 4) & 1)) {
                lo = (info.load_offset + rd64(ph + 16)) & ~0xFFFull;
                hi = (info.load_offset + rd64(ph + 16) + rd64(ph + 40) + 0xFFF) & ~0xFFFull;
            }
        }
        assert_true(hi > lo);
        snprintf(want, sizeof(want),
                 "add-symbol-file \"%s\" -o %#llx\nset mem inaccessible-by-default off\nmem %#llx %#llx ro\n"
                 "handle SIGSYS nostop noprint pass",
                 abs, (unsigned long long)info.load_offset, (unsigned long long)lo, (unsigned long long)hi);
        /* no socket */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT + 10)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), -1);
        assert_int_equal(errno, ECONNREFUSED);
        close(fd);
        /* no time limit: 1 ms, and a call that runs much longer */
        assert_int_equal(hl_sandbox_initialize(sb, &err), HL_OK);
        hl_value v;
        if (hl_sandbox_call(sb, "spin", (hl_value[]){hl_u64(50000000)}, 1, &v, &err) != HL_OK)
            fail_msg("spin: %s", err.message);
        assert_int_equal(v.u.u64, 50000000);
    }
    assert_string_equal(cmd, want);
    assert_int_equal(n, (int)strlen(want));
    assert_int_equal(hl_sandbox_gdb_command(sb, cmd, 8), (int)strlen(want)); /* truncated, terminated */
    assert_int_equal(strlen(cmd), 7);
    free(abs);
    hl_sandbox_destroy(sb);
    /* an older caller's smaller struct: only what it holds is written */
    hl_debug_info small;
    memset(&small, 0xAA, sizeof(small));
    small.struct_size = 0;
    assert_int_equal(hl_sandbox_debug_info(NULL, &small), HL_E_INVALID_ARG);
    assert_int_equal(hl_sandbox_debug_info(NULL, NULL), HL_E_INVALID_ARG);
    assert_int_equal(hl_sandbox_gdb_command(NULL, cmd, sizeof(cmd)), -1);
    assert_string_equal(cmd, "");
}


/* A software breakpoint on the first byte of one of the host's exception stubs (set by the
 * debugger, or at an address a hostile guest maps onto the stubs' page through its own page
 * tables): while the guest runs that byte holds both the int3 and the stubs' hlt. Both patches
 * must come out, and the stub must be intact for the next call: a #PF must still be reported as
 * one, not as the #BP of a left-over int3. */
static void test_breakpoint_on_a_stub(void **state)
{
    (void)state;
    if (!kvm_only()) return;
    hl_sandbox *sb = debug_sandbox("", PORT + 11, 0);
    uint64_t stub = stub_addr(sb, 14);
    caller c;
    call_start(&c, sb, "compute", 1, hl_i32(7));
    rsp r;
    rsp_open(&r, PORT + 11);
    assert_stop(rsp_cmd(&r, "?"), 5, NULL);
    rsp_expect(&r, "OK", "Z0,%llx,1", (unsigned long long)stub);
    rsp_send(&r, "c");
    call_join(&c);
    if (c.st != HL_OK) fail_msg("the call failed: %s", c.err.message);
    assert_int_equal(c.result.u.i32, 123);
    rsp_expect(&r, "OK", "z0,%llx,1", (unsigned long long)stub);
    rsp_expect(&r, "OK", "D");
    rsp_close(&r);
    /* without a debugger: the stub reports the page fault */
    call_start(&c, sb, "crash", 1, hl_u64(0));
    call_join(&c);
    assert_int_equal(c.st, HL_E_GUEST_FAULT);
    if (c.err.guest_code != 14) fail_msg("a #PF after the debugger's breakpoint on its stub: %s", c.err.message);
    rt_contains(c.err.message, "#PF page fault");
    call_start(&c, sb, "compute", 1, hl_i32(7));
    call_join(&c);
    assert_int_equal(c.st, HL_OK);
    assert_int_equal(c.result.u.i32, 123);
    hl_sandbox_destroy(sb);
}

/* With the debugger's hardware breakpoints loaded, the host runs its debug-register loader (guest
 * code in the stubs' page) again after the call, to clear them. A ring-0 guest rewrites that
 * loader to jump to an access outside its memory followed by the hijack of hostileguest: the
 * loader's exit must be completed then, not in the next call, which must answer 3, not 666. */
static void test_rewritten_loader(void **state)
{
    (void)state;
    if (!kvm_only()) return;
    hl_sandbox *sb = debug_sandbox_of("hostileguest", "", PORT + 12, 0);
    const hl_layout *l = hl_sandbox_layout(sb);
    caller c;
    call_start(&c, sb, "poison_loader", 1, hl_u64(0x1000));
    rsp r;
    rsp_open(&r, PORT + 12);
    assert_stop(rsp_cmd(&r, "?"), 5, NULL);
    /* an execute breakpoint never hit: the guest's first page is the PEB's */
    rsp_expect(&r, "OK", "Z1,%llx,1", (unsigned long long)l->base);
    rsp_send(&r, "c");
    call_join(&c);
    assert_int_not_equal(c.st, HL_OK);
    rt_contains(c.err.message, "did not run the loader to its end");
    rsp_expect(&r, "OK", "z1,%llx,1", (unsigned long long)l->base);
    rsp_expect(&r, "OK", "D");
    rsp_close(&r);
    for (int i = 0; i < 3; i++) {
        hl_value v;
        hl_error e = HL_ERROR_INIT;
        hl_value args[2] = {hl_i32(1), hl_i32(2)};
        if (hl_sandbox_call(sb, "add", args, 2, &v, &e) != HL_OK) fail_msg("add after the rewritten loader: %s", e.message);
        if (v.u.i32 != 3) fail_msg("add(1, 2) after the rewritten loader answered %d", v.u.i32);
    }
    hl_sandbox_destroy(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_debug_info),
        cmocka_unit_test(test_breakpoint_suspends_time_limit),
        cmocka_unit_test(test_time_limit_resumes),
        cmocka_unit_test(test_memory_and_registers),
        cmocka_unit_test(test_watchpoint_step_hwbreak),
        cmocka_unit_test(test_interrupt_and_kill),
        cmocka_unit_test(test_fault_and_own_int3),
        cmocka_unit_test(test_detach_and_attach_between_calls),
        cmocka_unit_test(test_stop_at_initialization),
        cmocka_unit_test(test_port_in_use),
        cmocka_unit_test(test_breakpoint_on_a_stub),
        cmocka_unit_test(test_rewritten_loader),
    };
    return rt_run("debug", tests);
}
