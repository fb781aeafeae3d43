/* bench_sandbox.c - times sandbox lifecycle, calls, restore; in kvm mode beside a bare KVM VM. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench_kvm_bare.h"
#include "hyperlight/config.h"
#include "hyperlight/sandbox.h"

#define MiB                (1024ull * 1024ull)
#define SMALL_HEAP         (1 * MiB) /* the smallest heap dirty_pages(256) fits in */
#define LARGE_HEAP         (256 * MiB)
#define LARGE_CREATE_ITERS 5 /* after 1 warm-up: each copies 256 MiB into the snapshot */
#define MAX_ROWS           64

static const uint64_t dirty_counts[] = {1, 16, 256};
#define NDIRTY (sizeof(dirty_counts) / sizeof(dirty_counts[0]))

/* ---- samples and the table ---- */

typedef struct stats {
    size_t n;
    uint64_t median, p90, min;
    bool derived; /* a difference of medians: no p90/min */
    int64_t syscalls; /* system calls per operation (the library's count, median), -1: not counted */
} stats;

typedef struct row {
    char op[96];
    stats s;
    const char *baseline; /* NULL: no ratio */
    uint64_t baseline_ns;
} row;

static row rows[MAX_ROWS];
static size_t nrows;
static const char *mode_name;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts v and summarises it. */
static stats summarise(uint64_t *v, size_t n)
{
    stats s = {.n = n, .syscalls = -1};
    if (n == 0) return s;
    qsort(v, n, sizeof(*v), cmp_u64);
    s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    s.p90 = v[(n * 9 + 9) / 10 - 1];
    s.min = v[0];
    return s;
}

static row *add_row(const char *op, stats s, const char *baseline, uint64_t baseline_ns)
{
    if (nrows == MAX_ROWS) {
        fprintf(stderr, "bench_sandbox: too many rows\n");
        exit(1);
    }
    row *r = &rows[nrows++];
    snprintf(r->op, sizeof(r->op), "%s", op);
    r->s = s;
    r->baseline = baseline;
    r->baseline_ns = baseline_ns;
    return r;
}

static void fmt_ns(char *buf, size_t size, uint64_t ns)
{
    if (ns < 10000)
        snprintf(buf, size, "%.2f us", ns / 1e3);
    else if (ns < 1000000)
        snprintf(buf, size, "%.1f us", ns / 1e3);
    else
        snprintf(buf, size, "%.2f ms", ns / 1e6);
}

static void print_table(void)
{
    printf("| %-52s | %-6s | %6s | %10s | %10s | %10s | %-36s | %8s | %8s |\n", "operation", "mode",
           "iters", "median", "p90", "min", "baseline", "ratio", "syscalls");
    printf("|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", "------------------------------------------------------",
           "--------", "-------:", "-----------:", "-----------:", "-----------:",
           "--------------------------------------", "---------:", "---------:");
    for (size_t i = 0; i < nrows; i++) {
        const row *r = &rows[i];
        char med[32], p90[32] = "-", min[32] = "-", iters[32] = "-", ratio[32] = "-";
        fmt_ns(med, sizeof(med), r->s.median);
        if (!r->s.derived) {
            fmt_ns(p90, sizeof(p90), r->s.p90);
            fmt_ns(min, sizeof(min), r->s.min);
            snprintf(iters, sizeof(iters), "%zu", r->s.n);
        }
        if (r->baseline && r->baseline_ns)
            snprintf(ratio, sizeof(ratio), "%.2fx", (double)r->s.median / (double)r->baseline_ns);
        char sys[32] = "-";
        if (r->s.syscalls >= 0) snprintf(sys, sizeof(sys), "%lld", (long long)r->s.syscalls);
        printf("| %-52s | %-6s | %6s | %10s | %10s | %10s | %-36s | %8s | %8s |\n", r->op, mode_name,
               iters, med, p90, min, r->baseline ? r->baseline : "-", ratio, sys);
    }
}

/* ---- sandboxes ---- */

typedef struct bench {
    hl_execution_mode mode;
    char simple[PATH_MAX], callback[PATH_MAX];
    size_t iters, warmup, create_iters, create_warmup;
} bench;

/* Progress on stderr: the runs inside an emulated VM take minutes. */
static void progress(const char *what)
{
    fprintf(stderr, "bench_sandbox: measuring %s\n", what);
}

static void die_hl(const char *what, const hl_error *e)
{
    fprintf(stderr, "bench_sandbox: %s: %s\n", what, e->message);
    exit(1);
}

static void *xcalloc(size_t n)
{
    void *p = calloc(n ? n : 1, sizeof(uint64_t));
    if (!p) {
        fprintf(stderr, "bench_sandbox: out of memory\n");
        exit(1);
    }
    return p;
}

static int host_add(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result,
                    void *user)
{
    result->u.i32 = args[0].u.i32 + args[1].u.i32;
    return 0;
}

static hl_config make_config(const bench *b, uint64_t heap)
{
    hl_config cfg;
    hl_config_init(&cfg);
    hl_config_set_execution_mode(&cfg, b->mode);
    /* The largest limits: under software emulation a 256 MiB sandbox initialises slowly. */
    hl_config_set_max_initialization_time(&cfg, 65535);
    hl_config_set_max_execution_time(&cfg, 65535);
    if (heap) hl_config_set_heap_size_override(&cfg, heap);
    return cfg;
}

/* Creates and initialises a sandbox; host_add is registered for the callback guest. */
static hl_sandbox *open_sandbox(const char *guest, const hl_config *cfg, bool with_host_add)
{
    hl_sandbox *sb = NULL;
    hl_error e = HL_ERROR_INIT;
    if (hl_sandbox_create(&sb, guest, cfg, &e) != HL_OK) die_hl(guest, &e);
    static const hl_type params[] = {HL_TYPE_I32, HL_TYPE_I32};
    if (with_host_add &&
        hl_sandbox_register(sb, "host_add", HL_TYPE_I32, params, 2, host_add, NULL, &e) != HL_OK)
        die_hl("registering host_add", &e);
    if (hl_sandbox_initialize(sb, &e) != HL_OK) die_hl("initialising the sandbox", &e);
    return sb;
}

static void call_or_die(hl_sandbox *sb, const char *fn, const hl_value *args, size_t nargs,
                        hl_value *result)
{
    hl_error e = HL_ERROR_INIT;
    if (hl_sandbox_call(sb, fn, args, nargs, result, &e) != HL_OK) die_hl(fn, &e);
}

/* Times `fn(args)` iters times after warmup calls. */
static stats time_calls(const bench *b, hl_sandbox *sb, const char *fn, const hl_value *args,
                        size_t nargs)
{
    uint64_t *ns = xcalloc(b->iters), *sys = xcalloc(b->iters);
    hl_value result;
    for (size_t i = 0; i < b->warmup + b->iters; i++) {
        uint64_t t0 = now_ns();
        call_or_die(sb, fn, args, nargs, &result);
        uint64_t t1 = now_ns();
        hl_sandbox_stats st = HL_SANDBOX_STATS_INIT;
        hl_sandbox_get_stats(sb, &st);
        if (i >= b->warmup) {
            ns[i - b->warmup] = t1 - t0;
            sys[i - b->warmup] = st.last_call_syscalls;
        }
    }
    stats s = summarise(ns, b->iters);
    s.syscalls = (int64_t)summarise(sys, b->iters).median;
    free(ns);
    free(sys);
    return s;
}

/* Creates + initialises, then destroys, a simpleguest sandbox with the given heap (0: the guest's).
 */
static void bench_create(const bench *b, uint64_t heap, size_t warmup, size_t iters, stats *create,
                         stats *destroy, uint64_t *total_size)
{
    hl_config cfg = make_config(b, heap);
    uint64_t *c = xcalloc(iters), *d = xcalloc(iters);
    for (size_t i = 0; i < warmup + iters; i++) {
        uint64_t t0 = now_ns();
        hl_sandbox *sb = open_sandbox(b->simple, &cfg, false);
        uint64_t t1 = now_ns();
        *total_size = hl_sandbox_layout(sb)->total_size;
        hl_sandbox_destroy(sb);
        uint64_t t2 = now_ns();
        if (i >= warmup) {
            c[i - warmup] = t1 - t0;
            d[i - warmup] = t2 - t1;
        }
    }
    *create = summarise(c, iters);
    *destroy = summarise(d, iters);
    free(c);
    free(d);
}

typedef struct snapshot_result {
    stats open, create, destroy, first_call;
    uint64_t file_bytes, disk_bytes;
} snapshot_result;

/* A simpleguest snapshot saved to a file: opening it (reading and verifying it, once per file),
 * then creating a sandbox from it and making it ready (hl_sandbox_create_from_snapshot and
 * hl_sandbox_initialize, which runs no guest code), its first call, and its destroy. */
static snapshot_result bench_snapshot(const bench *b)
{
    snapshot_result r;
    memset(&r, 0, sizeof(r));
    const char *tmp = getenv("TMPDIR");
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/bench_sandbox-%d.hls", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    hl_config cfg = make_config(b, 0);
    hl_sandbox *orig = open_sandbox(b->simple, &cfg, false);
    hl_error e = HL_ERROR_INIT;
    if (hl_snapshot_save(orig, path, &e) != HL_OK) die_hl("hl_snapshot_save", &e);
    hl_sandbox_destroy(orig); /* RunInProcess: one sandbox at the snapshot's address at a time */
    struct stat st;
    if (stat(path, &st) == 0) {
        r.file_bytes = (uint64_t)st.st_size;
        r.disk_bytes = (uint64_t)st.st_blocks * 512;
    }
    size_t n = b->create_iters;
    uint64_t *o = xcalloc(n), *c = xcalloc(n), *d = xcalloc(n), *f = xcalloc(n), *sys = xcalloc(n);
    hl_snapshot *snap = NULL;
    for (size_t i = 0; i < b->create_warmup + n; i++) {
        uint64_t t0 = now_ns();
        hl_snapshot *s2 = NULL;
        if (hl_snapshot_open(&s2, path, &e) != HL_OK) die_hl("hl_snapshot_open", &e);
        uint64_t t1 = now_ns();
        if (snap)
            hl_snapshot_close(s2);
        else
            snap = s2;
        if (i >= b->create_warmup) o[i - b->create_warmup] = t1 - t0;
    }
    for (size_t i = 0; i < b->create_warmup + n; i++) {
        hl_sandbox *sb = NULL;
        uint64_t t0 = now_ns();
        if (hl_sandbox_create_from_snapshot(&sb, snap, &cfg, &e) != HL_OK)
            die_hl("hl_sandbox_create_from_snapshot", &e);
        if (hl_sandbox_initialize(sb, &e) != HL_OK) die_hl("hl_sandbox_initialize (snapshot)", &e);
        uint64_t t1 = now_ns();
        hl_sandbox_stats stt = HL_SANDBOX_STATS_INIT;
        hl_sandbox_get_stats(sb, &stt);
        hl_value result;
        call_or_die(sb, "nothing", NULL, 0, &result);
        uint64_t t2 = now_ns();
        hl_sandbox_destroy(sb);
        uint64_t t3 = now_ns();
        if (i >= b->create_warmup) {
            c[i - b->create_warmup] = t1 - t0;
            f[i - b->create_warmup] = t2 - t1;
            d[i - b->create_warmup] = t3 - t2;
            sys[i - b->create_warmup] = stt.syscalls;
        }
    }
    hl_snapshot_close(snap);
    unlink(path);
    r.open = summarise(o, n);
    r.create = summarise(c, n);
    r.create.syscalls = (int64_t)summarise(sys, n).median;
    r.first_call = summarise(f, n);
    r.destroy = summarise(d, n);
    free(o);
    free(c);
    free(d);
    free(f);
    free(sys);
    return r;
}

/* Calls `nothing` inside one call context: no restore between calls. */
static stats bench_no_restore(const bench *b, hl_sandbox *sb)
{
    hl_error e = HL_ERROR_INIT;
    if (hl_sandbox_context_begin(sb, &e) != HL_OK) die_hl("hl_sandbox_context_begin", &e);
    stats s = time_calls(b, sb, "nothing", NULL, 0);
    if (hl_sandbox_context_end(sb, &e) != HL_OK) die_hl("hl_sandbox_context_end", &e);
    return s;
}

/* `nothing` without restore, called by two threads taking turns: each call runs on a different
 * thread than the one before (KVM: the vCPU changes threads every call). Times the calls alone. */
typedef struct turns {
    const bench *b;
    hl_sandbox *sb;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t turn, total;
    uint64_t *ns;
} turns;

typedef struct turn_arg {
    turns *t;
    size_t parity;
} turn_arg;

static void *take_turns(void *arg)
{
    turn_arg *a = arg;
    turns *t = a->t;
    hl_value result;
    for (;;) {
        pthread_mutex_lock(&t->mu);
        while (t->turn < t->total && t->turn % 2 != a->parity)
            pthread_cond_wait(&t->cv, &t->mu);
        size_t i = t->turn;
        pthread_mutex_unlock(&t->mu);
        if (i >= t->total)
            return NULL;
        uint64_t t0 = now_ns();
        call_or_die(t->sb, "nothing", NULL, 0, &result);
        uint64_t t1 = now_ns();
        pthread_mutex_lock(&t->mu);
        t->ns[i] = t1 - t0;
        t->turn++;
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
    }
}

static stats bench_two_threads(const bench *b, hl_sandbox *sb)
{
    hl_error e = HL_ERROR_INIT;
    if (hl_sandbox_context_begin(sb, &e) != HL_OK) die_hl("hl_sandbox_context_begin", &e);
    turns t = {b, sb, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, b->warmup + b->iters, NULL};
    t.ns = xcalloc(t.total);
    turn_arg args[2] = {{&t, 0}, {&t, 1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, take_turns, &args[i]) != 0) {
            fprintf(stderr, "bench_sandbox: pthread_create failed\n");
            exit(1);
        }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    if (hl_sandbox_context_end(sb, &e) != HL_OK) die_hl("hl_sandbox_context_end", &e);
    stats s = summarise(t.ns + b->warmup, b->iters);
    s.syscalls = -1;
    free(t.ns);
    return s;
}

typedef struct restore_result {
    stats restore, call;
    uint64_t pages; /* median pages copied back */
} restore_result;

/* dirty_pages(n) with restore: the whole call, and the restore as the sandbox's stats give it. */
static restore_result bench_restore(const bench *b, hl_sandbox *sb, uint64_t n)
{
    uint64_t *call = xcalloc(b->iters), *rest = xcalloc(b->iters), *pages = xcalloc(b->iters),
             *sys = xcalloc(b->iters);
    hl_value arg = hl_u64(n), result;
    for (size_t i = 0; i < b->warmup + b->iters; i++) {
        uint64_t t0 = now_ns();
        call_or_die(sb, "dirty_pages", &arg, 1, &result);
        uint64_t t1 = now_ns();
        hl_sandbox_stats st = HL_SANDBOX_STATS_INIT;
        hl_sandbox_get_stats(sb, &st);
        if (result.u.u64 != n) {
            fprintf(stderr, "bench_sandbox: dirty_pages(%llu) returned %llu\n",
                    (unsigned long long)n, (unsigned long long)result.u.u64);
            exit(1);
        }
        if (i >= b->warmup) {
            call[i - b->warmup] = t1 - t0;
            rest[i - b->warmup] = st.last_restore_ns;
            pages[i - b->warmup] = st.last_restore_pages;
            sys[i - b->warmup] = st.last_call_syscalls;
        }
    }
    restore_result r = {.call = summarise(call, b->iters), .restore = summarise(rest, b->iters)};
    r.pages = summarise(pages, b->iters).median;
    r.call.syscalls = (int64_t)summarise(sys, b->iters).median;
    free(sys);
    free(call);
    free(rest);
    free(pages);
    return r;
}

/* ---- the program ---- */

static void usage(FILE *f, const char *argv0)
{
    fprintf(
        f,
        "usage: %s [--mode inproc|kvm] [--guests DIR] [--iterations N]\n"
        "  --mode        RunInProcess (inproc) or RunInHypervisor (kvm); default kvm when "
        "/dev/kvm\n"
        "                can be opened, else inproc. kvm also measures a bare KVM baseline.\n"
        "  --guests DIR  where simpleguest and callbackguest are (default: ../guests beside this\n"
        "                program's directory, as in a build tree)\n"
        "  --iterations  timed calls per operation (default 2000; create/destroy: N/10, >= 10);\n"
        "                a tenth as many untimed warm-up rounds go first\n",
        argv0);
}

static void default_guest_dir(char *out, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        snprintf(out, size, "guests");
        return;
    }
    exe[n] = 0;
    char *dir = dirname(exe); /* <build>/bin */
    snprintf(out, size, "%s/../guests", dir);
}

static void print_header(const bench *b, const char *guests, uint64_t default_size,
                         uint64_t small_size, uint64_t large_size)
{
    char cpu[128] = "unknown CPU", line[256];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
            snprintf(cpu, sizeof(cpu), "%s", strchr(line, ':') + 2);
            cpu[strcspn(cpu, "\n")] = 0;
            break;
        }
    }
    if (f) fclose(f);
    struct utsname u;
    if (uname(&u) != 0) snprintf(u.release, sizeof(u.release), "?");
    printf("bench_sandbox: mode %s (%s); guests %s\n", mode_name, hl_execution_mode_name(b->mode),
           guests);
    printf("machine: %s, %ld cores online; Linux %s\n", cpu, sysconf(_SC_NPROCESSORS_ONLN),
           u.release);
    printf("iterations: %zu timed after %zu warm-up per operation; create/destroy %zu after %zu; "
           "CLOCK_MONOTONIC\n",
           b->iters, b->warmup, b->create_iters, b->create_warmup);
    printf("sandboxes: default config %.2f MiB (simpleguest's own 64 KiB stack, 128 KiB heap); "
           "\"small\" %.2f MiB (heap 1 MiB); \"256 MiB\" %.2f MiB (heap 256 MiB)\n\n",
           default_size / (double)MiB, small_size / (double)MiB, large_size / (double)MiB);
}

/* The bare baseline's VM create + HLT and destroy (bench_kvm_bare.c); nonzero, said, on failure. */
static int bare_create(const bench *b, stats *create, stats *destroy)
{
    char why[256];
    uint64_t *c = xcalloc(b->create_iters), *d = xcalloc(b->create_iters);
    int rc = bench_kvm_bare_create_hlt(b->create_warmup, b->create_iters, c, d, why, sizeof(why));
    if (rc < 0)
        fprintf(stderr, "bench_sandbox: %s\n", why);
    else {
        *create = summarise(c, b->create_iters);
        *destroy = summarise(d, b->create_iters);
    }
    free(c);
    free(d);
    return rc < 0;
}

int main(int argc, char **argv)
{
    bench b = {.iters = 2000};
    const char *mode = NULL, *guests = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc)
            mode = argv[++i];
        else if (strcmp(argv[i], "--guests") == 0 && i + 1 < argc)
            guests = argv[++i];
        else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
            b.iters = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout, argv[0]);
            return 0;
        } else {
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (!mode) {
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        mode = fd >= 0 ? "kvm" : "inproc";
        if (fd >= 0) close(fd);
    }
    if (strcmp(mode, "kvm") == 0)
        b.mode = HL_MODE_RUN_IN_HYPERVISOR;
    else if (strcmp(mode, "inproc") == 0)
        b.mode = HL_MODE_RUN_IN_PROCESS;
    else {
        usage(stderr, argv[0]);
        return 2;
    }
    if (b.iters == 0) {
        usage(stderr, argv[0]);
        return 2;
    }
    mode_name = mode;
    b.warmup = b.iters / 10 ? b.iters / 10 : 1;
    b.create_iters = b.iters / 10 >= 10 ? b.iters / 10 : 10;
    b.create_warmup = b.create_iters / 10 ? b.create_iters / 10 : 1;
    char gdir[PATH_MAX - 32]; /* room for "/callbackguest" in b.simple, b.callback */
    if (guests)
        snprintf(gdir, sizeof(gdir), "%s", guests);
    else
        default_guest_dir(gdir, sizeof(gdir));
    snprintf(b.simple, sizeof(b.simple), "%s/simpleguest", gdir);
    snprintf(b.callback, sizeof(b.callback), "%s/callbackguest", gdir);
    if (access(b.simple, R_OK) != 0 || access(b.callback, R_OK) != 0) {
        fprintf(stderr, "bench_sandbox: %s or %s: %s (give --guests DIR)\n", b.simple, b.callback,
                strerror(errno));
        return 1;
    }

    /* 1. The bare KVM baseline, first, in the same process. */
    bool kvm = b.mode == HL_MODE_RUN_IN_HYPERVISOR;
    stats vm_create = {0}, vm_destroy = {0}, port_io = {0};
    if (kvm) {
        char why[256];
        progress("the bare KVM baseline");
        uint64_t *io = xcalloc(b.iters);
        if (bare_create(&b, &vm_create, &vm_destroy) != 0)
            return 1;
        if (bench_kvm_bare_port_io(b.warmup, b.iters, io, why, sizeof(why)) < 0) {
            fprintf(stderr, "bench_sandbox: %s\n", why);
            return 1;
        }
        port_io = summarise(io, b.iters);
        free(io);
    }

    /* 2. Lifecycle and calls. */
    stats create, destroy, create_large, destroy_large;
    uint64_t default_size = 0, large_size = 0;
    progress("sandbox create + initialise, destroy");
    bench_create(&b, 0, b.create_warmup, b.create_iters, &create, &destroy, &default_size);
    progress("sandbox create + initialise, destroy, 256 MiB");
    bench_create(&b, LARGE_HEAP, 1, LARGE_CREATE_ITERS, &create_large, &destroy_large, &large_size);
    progress("sandboxes from a snapshot file");
    snapshot_result snapr = bench_snapshot(&b);
    hl_config cfg = make_config(&b, 0);
    hl_sandbox *simple = open_sandbox(b.simple, &cfg, false);
    hl_sandbox *callback = open_sandbox(b.callback, &cfg, true);
    hl_value args[2] = {hl_i32(2), hl_i32(3)}, result;
    call_or_die(callback, "add_via_host", args, 2, &result);
    if (result.u.i32 != 5) {
        fprintf(stderr, "bench_sandbox: add_via_host(2, 3) returned %d\n", result.u.i32);
        return 1;
    }
    progress("calls");
    stats with_restore = time_calls(&b, simple, "nothing", NULL, 0);
    stats no_restore = bench_no_restore(&b, simple);
    stats two_threads = bench_two_threads(&b, simple);
    stats host_call = time_calls(&b, callback, "add_via_host", args, 2);
    hl_sandbox_destroy(simple);
    hl_sandbox_destroy(callback);
    /* the bare baseline again, now that the library keeps KVM switched on (its idle vCPU,
     * backend/kvm.c make_anchor): what a VM costs once the system's first is not being made */
    stats vm_create_on = {0}, vm_destroy_on = {0};
    if (kvm) {
        progress("the bare KVM baseline, KVM kept on");
        if (bare_create(&b, &vm_create_on, &vm_destroy_on) != 0)
            return 1;
    }

    /* 3. Restore after n dirty pages, in a small and in a 256 MiB sandbox. */
    restore_result rr[2][NDIRTY];
    uint64_t sizes[2];
    for (int big = 0; big < 2; big++) {
        progress(big ? "restore, 256 MiB sandbox" : "restore, small sandbox");
        hl_config c = make_config(&b, big ? LARGE_HEAP : SMALL_HEAP);
        hl_sandbox *sb = open_sandbox(b.simple, &c, false);
        sizes[big] = hl_sandbox_layout(sb)->total_size;
        for (size_t k = 0; k < NDIRTY; k++)
            rr[big][k] = bench_restore(&b, sb, dirty_counts[k]);
        hl_sandbox_destroy(sb);
    }

    /* 4. The table. */
    print_header(&b, gdir, default_size, sizes[0], large_size);
    const char *b_create = kvm ? "bare VM create + HLT" : NULL;
    const char *b_io = kvm ? "bare port-I/O round trip" : NULL;
    if (kvm) {
        add_row("bare KVM: VM create + HLT (1 slot, 1 vCPU)", vm_create, NULL, 0);
        add_row("bare KVM: VM destroy", vm_destroy, NULL, 0);
        port_io.syscalls = 1;
        add_row("bare KVM: port-I/O round trip (1 KVM_RUN)", port_io, NULL, 0);
    }
    if (kvm) {
        add_row("bare KVM: VM create + HLT, after the library's first sandbox", vm_create_on, NULL, 0);
        add_row("bare KVM: VM destroy, after the library's first sandbox", vm_destroy_on, NULL, 0);
    }
    const char *b_create_on = kvm ? "bare VM create + HLT, after" : NULL;
    add_row("sandbox create + initialise (simpleguest)", create, b_create, vm_create.median);
    if (kvm)
        add_row("  the same, against a bare create after the first sandbox", create, b_create_on,
                vm_create_on.median);
    add_row("sandbox destroy", destroy, kvm ? "bare VM destroy" : NULL, vm_destroy.median);
    if (kvm)
        add_row("  the same, against a bare destroy after the first sandbox", destroy, "bare VM destroy, after",
                vm_destroy_on.median);
    char sop[96];
    snprintf(sop, sizeof(sop), "snapshot file open + verify (%llu KiB, %llu on disk)",
             (unsigned long long)(snapr.file_bytes >> 10), (unsigned long long)(snapr.disk_bytes >> 10));
    add_row(sop, snapr.open, NULL, 0);
    add_row("sandbox from snapshot file (create + ready)", snapr.create, b_create, vm_create.median);
    if (kvm)
        add_row("  the same, against a bare create after the first sandbox", snapr.create, b_create_on,
                vm_create_on.median);
    add_row("  the same, against create + initialise", snapr.create, "create + initialise, default",
            create.median);
    add_row("  its first call `nothing` (with restore)", snapr.first_call, NULL, 0);
    add_row("  its destroy", snapr.destroy, kvm ? "bare VM destroy" : NULL, vm_destroy.median);
    add_row("sandbox create + initialise, 256 MiB heap", create_large,
            "create + initialise, default", create.median);
    add_row("sandbox destroy, 256 MiB heap", destroy_large, "destroy, default", destroy.median);
    add_row("call `nothing`, with restore", with_restore, b_io, port_io.median);
    add_row("call `nothing`, no restore (in a call context)", no_restore, b_io, port_io.median);
    add_row("  the same, two threads taking turns", two_threads, "no restore, one thread", no_restore.median);
    add_row("call `add_via_host` (1 host call), with restore", host_call, b_io, port_io.median);
    stats extra = {.derived = true,
                   .median = host_call.median > with_restore.median
                                 ? host_call.median - with_restore.median
                                 : 0,
                   .syscalls = host_call.syscalls - with_restore.syscalls};
    add_row("  one host call: add_via_host - nothing (medians)", extra, b_io, port_io.median);
    char op[96];
    for (size_t k = 0; k < NDIRTY; k++) {
        unsigned long long n = (unsigned long long)dirty_counts[k];
        snprintf(op, sizeof(op), "restore alone, dirty_pages(%llu), small: %llu pages", n,
                 (unsigned long long)rr[0][k].pages);
        add_row(op, rr[0][k].restore, k ? "restore alone, small, dirty_pages(1)" : NULL,
                rr[0][0].restore.median);
        snprintf(op, sizeof(op), "restore alone, dirty_pages(%llu), 256 MiB: %llu pages", n,
                 (unsigned long long)rr[1][k].pages);
        add_row(op, rr[1][k].restore, "restore alone, small, same n", rr[0][k].restore.median);
    }
    for (size_t k = 0; k < NDIRTY; k++) {
        unsigned long long n = (unsigned long long)dirty_counts[k];
        snprintf(op, sizeof(op), "call dirty_pages(%llu) incl. restore, small", n);
        add_row(op, rr[0][k].call, k ? "whole call, small, dirty_pages(1)" : NULL,
                rr[0][0].call.median);
        snprintf(op, sizeof(op), "call dirty_pages(%llu) incl. restore, 256 MiB", n);
        add_row(op, rr[1][k].call, "whole call, small, same n", rr[0][k].call.median);
    }
    print_table();
    if (!kvm) printf("\n(no bare KVM baseline in inproc mode: run with --mode kvm for it)\n");
    return 0;
}
