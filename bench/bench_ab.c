/* bench_ab.c - two builds of the library in one process, their calls interleaved one by one.
 *
 * usage: bench_ab [--iterations N] --guests DIR [--guests-b DIR] LIB_A LIB_B
 *
 * LIB_A and LIB_B are libhyperlight.so files of two builds (Release, please). Each is loaded with
 * dlopen (RTLD_LOCAL: two copies of the library side by side, B with its own cancel signal), a
 * sandbox of each runs the same operation in turn, call after call, so that the machine's load,
 * which varies by 2-4x over a day on the shared machines, falls on both alike: the ratio B/A is
 * then good to a few percent where runs of one build after the other disagree by 20%. Prints a
 * table of medians and B/A per operation, and the bare port-I/O round trip (bench_kvm_bare.c),
 * interleaved with the calls the same way, with each build's ratio to it; then create +
 * initialise (iterations / 30 + 10 of each, destroy untimed) against a bare VM create + HLT,
 * alone and beside a live sandbox of the same guest. With --guests-b, B's
 * sandboxes run the guests of that directory (compare two builds of the guests: give the same
 * library twice). Builds from 2026-12-03 on keep an idle vCPU that holds KVM switched on
 * between sandboxes (runtime.md); in one process it would serve the other build's sandboxes and
 * the bare baseline too, so bench_ab turns it off (HL_KVM_ANCHOR=0, unless set): both builds
 * then create as a process without it does. KVM sandboxes only: two copies of the
 * in-process backend would each install the process's SIGSYS handler. Inside the emulated VM:
 * scripts/vm-test.sh --dir GUESTS --dir LIBDIR_A --dir LIBDIR_B -- bench_ab ... */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_kvm_bare.h"
#include "bench_util.h"
#include "hyperlight/hyperlight.h"

typedef struct lib {
    const char *path;
    void *h;
    hl_status (*config_init)(hl_config *, size_t);
    hl_status (*set_mode)(hl_config *, hl_execution_mode);
    hl_status (*set_init_time)(hl_config *, uint64_t);
    hl_status (*set_exec_time)(hl_config *, uint64_t);
    hl_status (*set_heap)(hl_config *, uint64_t);
    hl_status (*create)(hl_sandbox **, const char *, const hl_config *, hl_error *);
    hl_status (*reg)(hl_sandbox *, const char *, hl_type, const hl_type *, size_t, hl_host_fn, void *,
                     hl_error *);
    hl_status (*init)(hl_sandbox *, hl_error *);
    hl_status (*call)(hl_sandbox *, const char *, const hl_value *, size_t, hl_value *, hl_error *);
    hl_status (*ctx_begin)(hl_sandbox *, hl_error *);
    hl_status (*ctx_end)(hl_sandbox *, hl_error *);
    void (*destroy)(hl_sandbox *);
    hl_status (*set_signal)(int, hl_error *);
} lib;

static void *sym(lib *l, const char *name)
{
    void *p = dlsym(l->h, name);
    if (!p) {
        fprintf(stderr, "bench_ab: %s: no %s\n", l->path, name);
        exit(2);
    }
    return p;
}

static void load(lib *l, const char *path)
{
    l->path = path;
    if (!(l->h = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        fprintf(stderr, "bench_ab: %s\n", dlerror());
        exit(2);
    }
    *(void **)&l->config_init = sym(l, "hl_config_init_sized");
    *(void **)&l->set_mode = sym(l, "hl_config_set_execution_mode");
    *(void **)&l->set_init_time = sym(l, "hl_config_set_max_initialization_time");
    *(void **)&l->set_exec_time = sym(l, "hl_config_set_max_execution_time");
    *(void **)&l->set_heap = sym(l, "hl_config_set_heap_size_override");
    *(void **)&l->create = sym(l, "hl_sandbox_create");
    *(void **)&l->reg = sym(l, "hl_sandbox_register");
    *(void **)&l->init = sym(l, "hl_sandbox_initialize");
    *(void **)&l->call = sym(l, "hl_sandbox_call");
    *(void **)&l->ctx_begin = sym(l, "hl_sandbox_context_begin");
    *(void **)&l->ctx_end = sym(l, "hl_sandbox_context_end");
    *(void **)&l->destroy = sym(l, "hl_sandbox_destroy");
    *(void **)&l->set_signal = sym(l, "hl_set_cancel_signal");
}

static void die(const lib *l, const char *what, const hl_error *e)
{
    fprintf(stderr, "bench_ab: %s: %s: %s\n", l->path, what, e->message);
    exit(1);
}

static int host_add(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    (void)call, (void)nargs, (void)user;
    result->u.i32 = args[0].u.i32 + args[1].u.i32;
    return 0;
}

static hl_sandbox *open_sandbox(const lib *l, hl_execution_mode mode, const char *guest, int host_fn)
{
    hl_config c;
    l->config_init(&c, sizeof c);
    l->set_mode(&c, mode);
    l->set_init_time(&c, 65535);
    l->set_exec_time(&c, 65535);
    l->set_heap(&c, 1u << 20);
    hl_sandbox *sb = NULL;
    hl_error e = HL_ERROR_INIT;
    static const hl_type params[] = {HL_TYPE_I32, HL_TYPE_I32};
    if (l->create(&sb, guest, &c, &e) != HL_OK) die(l, guest, &e);
    if (host_fn && l->reg(sb, "host_add", HL_TYPE_I32, params, 2, host_add, NULL, &e) != HL_OK)
        die(l, "registering host_add", &e);
    if (l->init(sb, &e) != HL_OK) die(l, "initialising", &e);
    return sb;
}

static double median_us(uint64_t *v, size_t n) { return (double)bench_median(v, n) / 1e3; }

typedef struct op {
    const char *name;
    int callback; /* callbackguest (with host_add registered), else simpleguest */
    const char *fn;
    int nargs;
    hl_value args[2];
    int no_restore; /* in a call context */
} op;

int main(int argc, char **argv)
{
    setenv("HL_KVM_ANCHOR", "0", 0); /* see above */
    const hl_execution_mode mode = HL_MODE_RUN_IN_HYPERVISOR;
    size_t iters = 1000;
    const char *guests = NULL, *guests_b = NULL, *paths[2] = {NULL, NULL};
    int np = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--iterations") && i + 1 < argc) {
            iters = (size_t)strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--guests") && i + 1 < argc) {
            guests = argv[++i];
        } else if (!strcmp(argv[i], "--guests-b") && i + 1 < argc) {
            guests_b = argv[++i];
        } else if (argv[i][0] != '-' && np < 2) {
            paths[np++] = argv[i];
        } else {
            np = -1;
            break;
        }
    }
    if (np != 2 || !guests || iters < 2) {
        fprintf(stderr, "usage: bench_ab [--iterations N] --guests DIR [--guests-b DIR] LIB_A LIB_B\n");
        return 2;
    }
    lib libs[2];
    load(&libs[0], paths[0]);
    load(&libs[1], paths[1]);
    hl_error e = HL_ERROR_INIT;
    if (libs[1].set_signal(SIGRTMIN + 5, &e) != HL_OK) die(&libs[1], "hl_set_cancel_signal", &e);
    char guest_path[2][2][4096]; /* [build][callback] */
    for (int k = 0; k < 2; k++)
        for (int cb = 0; cb < 2; cb++)
            snprintf(guest_path[k][cb], sizeof guest_path[k][cb], "%s/%s", k && guests_b ? guests_b : guests,
                     cb ? "callbackguest" : "simpleguest");

    const op ops[] = {
        {"call `nothing`, no restore (in a call context)", 0, "nothing", 0, {{0}}, 1},
        {"call `nothing`, with restore", 0, "nothing", 0, {{0}}, 0},
        {"call `add_via_host` (1 host call), with restore", 1, "add_via_host", 2, {hl_i32(2), hl_i32(3)}, 0},
        {"call dirty_pages(16), with restore", 0, "dirty_pages", 1, {hl_u64(16)}, 0},
    };
    const size_t nops = sizeof ops / sizeof ops[0];
    double med[8][3];
    uint64_t *t[3] = {calloc(iters, 8), calloc(iters, 8), calloc(iters, 8)};
    if (!t[0] || !t[1] || !t[2]) {
        fprintf(stderr, "bench_ab: out of memory\n");
        return 1;
    }
    char why[256];
    bench_kvm_bare *bare = bench_kvm_bare_io_open(why, sizeof why);
    if (!bare) fprintf(stderr, "bench_ab: %s (no ratios to it)\n", why);
    for (size_t o = 0; o < nops; o++) {
        hl_sandbox *sb[2];
        for (int k = 0; k < 2; k++) {
            sb[k] = open_sandbox(&libs[k], mode, guest_path[k][ops[o].callback], ops[o].callback);
            if (ops[o].no_restore && libs[k].ctx_begin(sb[k], &e) != HL_OK) die(&libs[k], "context", &e);
        }
        size_t warm = iters / 10 + 5;
        for (size_t i = 0; i < warm + iters; i++) {
            for (int k = 0; k < 2; k++) {
                int kk = (int)(i & 1) ? 1 - k : k; /* who goes first alternates */
                hl_value r;
                uint64_t t0 = bench_now_ns();
                if (libs[kk].call(sb[kk], ops[o].fn, ops[o].args, (size_t)ops[o].nargs, &r, &e) != HL_OK)
                    die(&libs[kk], ops[o].fn, &e);
                uint64_t d = bench_now_ns() - t0;
                if (i >= warm) t[kk][i - warm] = d;
            }
            int64_t b = bare ? bench_kvm_bare_io_step(bare, why, sizeof why) : 0;
            if (b < 0) {
                fprintf(stderr, "bench_ab: %s\n", why);
                return 1;
            }
            if (i >= warm) t[2][i - warm] = (uint64_t)b;
        }
        for (int k = 0; k < 2; k++) {
            if (ops[o].no_restore) libs[k].ctx_end(sb[k], &e);
            libs[k].destroy(sb[k]);
        }
        for (int k = 0; k < 3; k++)
            med[o][k] = median_us(t[k], iters);
    }
    bench_kvm_bare_io_close(bare);
    /* create + initialise (destroy untimed), the two builds in turn, then a bare VM create + HLT:
     * alone, then beside a live sandbox of the same guest (what a host with sandboxes running does) */
    size_t ncreate = iters / 30 + 10;
    uint64_t *ct[2][3];
    double cm[2][3];
    int bare_create = 1;
    for (int beside = 0; beside < 2; beside++) {
        for (int k = 0; k < 3; k++)
            if (!(ct[beside][k] = calloc(ncreate, 8))) {
                fprintf(stderr, "bench_ab: out of memory\n");
                return 1;
            }
        hl_sandbox *live[2] = {NULL, NULL};
        for (int k = 0; k < 2 && beside; k++)
            live[k] = open_sandbox(&libs[k], mode, guest_path[k][0], 0);
        for (size_t i = 0; i < ncreate + 2; i++) {
            for (int k = 0; k < 2; k++) {
                int kk = (int)(i & 1) ? 1 - k : k;
                uint64_t t0 = bench_now_ns();
                hl_sandbox *sb = open_sandbox(&libs[kk], mode, guest_path[kk][0], 0);
                uint64_t d = bench_now_ns() - t0;
                libs[kk].destroy(sb);
                if (i >= 2) ct[beside][kk][i - 2] = d;
            }
            uint64_t bc = 0, bd = 0;
            if (bare_create && bench_kvm_bare_create_hlt(0, 1, &bc, &bd, why, sizeof why) != 0) {
                fprintf(stderr, "bench_ab: %s (no bare VM create)\n", why);
                bare_create = 0;
            }
            if (i >= 2) ct[beside][2][i - 2] = bc;
        }
        for (int k = 0; k < 2; k++)
            if (live[k]) libs[k].destroy(live[k]);
        for (int k = 0; k < 3; k++) {
            cm[beside][k] = median_us(ct[beside][k], ncreate) / 1e3;
            free(ct[beside][k]);
        }
    }
    printf("| operation (kvm, %zu calls each, medians) | A | B | B / A |%s\n", iters,
           bare ? " bare port-I/O round trip | A / bare | B / bare |" : "");
    printf("|---|---:|---:|---:|%s\n", bare ? "---:|---:|---:|" : "");
    for (size_t o = 0; o < nops; o++) {
        printf("| %s | %.1f us | %.1f us | %.2fx |", ops[o].name, med[o][0], med[o][1], med[o][1] / med[o][0]);
        if (bare) printf(" %.1f us | %.2fx | %.2fx |", med[o][2], med[o][0] / med[o][2], med[o][1] / med[o][2]);
        printf("\n");
    }
    printf("\n| operation (kvm, %zu each, medians) | A | B | B / A |%s\n", ncreate,
           bare_create ? " bare VM create + HLT | A / bare | B / bare |" : "");
    printf("|---|---:|---:|---:|%s\n", bare_create ? "---:|---:|---:|" : "");
    for (int beside = 0; beside < 2; beside++) {
        const double *m = cm[beside];
        printf("| sandbox create + initialise (simpleguest)%s | %.2f ms | %.2f ms | %.2fx |",
               beside ? ", beside a live one" : "", m[0], m[1], m[1] / m[0]);
        if (bare_create) printf(" %.2f ms | %.2fx | %.2fx |", m[2], m[0] / m[2], m[1] / m[2]);
        printf("\n");
    }
    printf("\nA: %s, guests in %s\nB: %s, guests in %s\n", paths[0], guests, paths[1], guests_b ? guests_b : guests);
    for (int k = 0; k < 3; k++)
        free(t[k]);
    return 0;
}
