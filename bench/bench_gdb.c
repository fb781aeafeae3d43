/* bench_gdb.c - what the gdb stub costs a call on KVM: gdbguest's get_counter() timed without
 * gdb_port, with gdb_port and no debugger attached (attached once, then detached), with a debugger
 * attached and no breakpoints, and with a software breakpoint and a watchpoint that are never hit
 * (patched in and loaded for every call). A measurement, not a test: run it on KVM (e.g. inside
 * the emulated VM: scripts/vm-test.sh --dir build/guests -- build/bench/bench_gdb build/guests). */
#include <arpa/inet.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hyperlight/config.h"
#include "hyperlight/sandbox.h"

#define PORT 47780

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void die(const char *what, const hl_error *e)
{
    fprintf(stderr, "bench_gdb: %s: %s\n", what, e ? e->message : "failed");
    exit(1);
}

/* The median of n calls of get_counter, in ns. */
static uint64_t time_calls(hl_sandbox *sb, size_t n)
{
    uint64_t *t = calloc(n, sizeof(*t));
    hl_value v;
    hl_error e = HL_ERROR_INIT;
    for (size_t i = 0; i < n + n / 10; i++) {
        uint64_t t0 = now_ns();
        if (hl_sandbox_call(sb, "get_counter", NULL, 0, &v, &e) != HL_OK) die("get_counter", &e);
        if (i >= n / 10) t[i - n / 10] = now_ns() - t0;
    }
    qsort(t, n, sizeof(*t), cmp);
    uint64_t m = t[n / 2];
    free(t);
    return m;
}

/* ---- a debugger that speaks just enough of the protocol ---- */

static int dbg_fd = -1;

static void send_pkt(const char *p)
{
    char buf[256];
    unsigned s = 0;
    for (const char *q = p; *q; q++) s += (unsigned char)*q;
    int n = snprintf(buf, sizeof(buf), "$%s#%02x", p, s & 0xFF);
    if (send(dbg_fd, buf, (size_t)n, MSG_NOSIGNAL) != n) die("send", NULL);
}

static void recv_reply(char *out, size_t size)
{
    char c;
    size_t n = 0;
    do
        if (recv(dbg_fd, &c, 1, 0) != 1) die("recv", NULL);
    while (c != '$');
    while (recv(dbg_fd, &c, 1, 0) == 1 && c != '#')
        if (n < size - 1) out[n++] = c;
    char cs[2];
    if (recv(dbg_fd, cs, 2, MSG_WAITALL) != 2) die("recv", NULL);
    out[n] = '\0';
}

static void expect(const char *p, const char *want)
{
    char r[4096];
    send_pkt(p);
    recv_reply(r, sizeof(r));
    if (strncmp(r, want, strlen(want)) != 0) {
        fprintf(stderr, "bench_gdb: %s answered %s, not %s...\n", p, r, want);
        exit(1);
    }
}

static void *attach_main(void *arg)
{
    (void)arg;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 1000; i++) {
        dbg_fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(dbg_fd, (struct sockaddr *)&a, sizeof(a)) == 0) break;
        close(dbg_fd);
        dbg_fd = -1;
        usleep(10000);
    }
    if (dbg_fd < 0) die("connect", NULL);
    expect("QStartNoAckMode", "OK");
    expect("?", "T05");
    send_pkt("c");
    return NULL;
}

/* An address in gdbguest: the ELF symbol plus the load offset. */
static uint64_t sym(const char *path, const char *name, uint64_t off)
{
    FILE *f = fopen(path, "rb");
    static uint8_t img[1 << 21];
    size_t len = f ? fread(img, 1, sizeof(img), f) : 0;
    if (f) fclose(f);
    if (len < 64) die("reading gdbguest", NULL);
#define U64(o) (*(const uint64_t *)(const void *)(img + (o)))
#define U32(o) (*(const uint32_t *)(const void *)(img + (o)))
#define U16(o) (*(const uint16_t *)(const void *)(img + (o)))
    for (unsigned i = 0; i < U16(0x3C); i++) {
        size_t sh = (size_t)U64(0x28) + (size_t)i * U16(0x3A);
        if (U32(sh + 4) != 2) continue;
        size_t strsh = (size_t)U64(0x28) + (size_t)U32(sh + 0x28) * U16(0x3A);
        for (size_t s = (size_t)U64(sh + 0x18); s + 24 <= U64(sh + 0x18) + U64(sh + 0x20); s += 24)
            if (strcmp((const char *)img + U64(strsh + 0x18) + U32(s), name) == 0) return off + U64(s + 8);
    }
    die(name, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_gdb GUEST_DIR [ITERATIONS]\n");
        return 2;
    }
    char guest[4096];
    snprintf(guest, sizeof(guest), "%s/gdbguest", argv[1]);
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 500;
    hl_error e = HL_ERROR_INIT;
    hl_config cfg;
    hl_config_init(&cfg);

    hl_sandbox *plain;
    if (hl_sandbox_create(&plain, guest, &cfg, &e) || hl_sandbox_initialize(plain, &e)) die("sandbox", &e);
    uint64_t t_plain = time_calls(plain, n);
    hl_sandbox_destroy(plain);

    hl_config_set_gdb_port(&cfg, PORT);
    hl_sandbox *sb;
    if (hl_sandbox_create(&sb, guest, &cfg, &e) || hl_sandbox_initialize(sb, &e)) die("sandbox", &e);
    hl_debug_info info = HL_DEBUG_INFO_INIT;
    hl_sandbox_debug_info(sb, &info);
    pthread_t t;
    pthread_create(&t, NULL, attach_main, NULL); /* the first call waits for it */
    uint64_t t_attached = time_calls(sb, n);
    pthread_join(t, NULL);
    /* a breakpoint and a watchpoint that get_counter never hits: interrupt, set, continue */
    if (send(dbg_fd, "\003", 1, 0) != 1) die("send", NULL);
    char r[4096];
    recv_reply(r, sizeof(r)); /* held between calls */
    char p[96];
    snprintf(p, sizeof(p), "Z0,%llx,1", (unsigned long long)sym(guest, "poke", info.load_offset));
    expect(p, "OK");
    snprintf(p, sizeof(p), "Z2,%llx,8", (unsigned long long)sym(guest, "spins", info.load_offset));
    expect(p, "OK");
    send_pkt("c");
    uint64_t t_breaks = time_calls(sb, n);
    if (send(dbg_fd, "\003", 1, 0) != 1) die("send", NULL);
    recv_reply(r, sizeof(r));
    expect("D", "OK");
    close(dbg_fd);
    uint64_t t_detached = time_calls(sb, n);
    hl_sandbox_destroy(sb);
    /* the plain sandbox again: the spread between the two is the noise */
    hl_config_set_gdb_port(&cfg, 0);
    if (hl_sandbox_create(&plain, guest, &cfg, &e) || hl_sandbox_initialize(plain, &e)) die("sandbox", &e);
    uint64_t t_plain2 = time_calls(plain, n);
    hl_sandbox_destroy(plain);

    printf("get_counter() on KVM, median of %zu calls:\n", n);
    printf("  no gdb_port (first, and again last)            %8.1f us, %.1f us\n", t_plain / 1e3, t_plain2 / 1e3);
    printf("  gdb_port, no debugger (detached)               %8.1f us  (%+.1f%%)\n", t_detached / 1e3,
           100.0 * ((double)t_detached / (double)t_plain - 1));
    printf("  debugger attached, no breakpoints              %8.1f us  (%+.1f%%)\n", t_attached / 1e3,
           100.0 * ((double)t_attached / (double)t_plain - 1));
    printf("  debugger attached, a breakpoint and a watchpoint not hit %8.1f us  (%+.1f%%)\n", t_breaks / 1e3,
           100.0 * ((double)t_breaks / (double)t_plain - 1));
    return 0;
}
