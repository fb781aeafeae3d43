/* bench_kvm_bare.c - a minimal real-mode VM on /dev/kvm, timed: create + HLT, port-I/O exit. */
#include "bench_kvm_bare.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BARE_MEM_SIZE 0x10000u /* one slot at guest physical 0 */
#define BARE_CODE     0x1000u  /* where the code goes and the vCPU starts (CS base 0) */
#define BARE_PORT     0x10u

/* hlt */
static const uint8_t code_hlt[] = {0xF4};
/* mov dx, 0x10; again: out dx, al; jmp again (16-bit real mode) */
static const uint8_t code_out_loop[] = {0xBA, BARE_PORT, 0x00, 0xEE, 0xEB, 0xFD};

typedef struct bare_vm {
    int kvm, vm, vcpu;
    struct kvm_run *run;
    size_t run_size;
    uint8_t *mem;
} bare_vm;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int fail(char *why, size_t size, const char *what)
{
    snprintf(why, size, "bare KVM baseline: %s failed: %s", what, strerror(errno));
    return -1;
}

static void bare_destroy(bare_vm *v)
{
    if (v->run) munmap(v->run, v->run_size);
    if (v->vcpu >= 0) close(v->vcpu);
    if (v->vm >= 0) close(v->vm);
    if (v->kvm >= 0) close(v->kvm);
    if (v->mem) munmap(v->mem, BARE_MEM_SIZE);
    v->run = NULL;
    v->mem = NULL;
    v->vcpu = v->vm = v->kvm = -1;
}

/* Everything up to a vCPU ready to run `code` at BARE_CODE in real mode. */
static int bare_create(bare_vm *v, const uint8_t *code, size_t len, char *why, size_t size)
{
    v->kvm = v->vm = v->vcpu = -1;
    v->run = NULL;
    v->mem = NULL;
    if ((v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0)
        return fail(why, size, "open /dev/kvm");
    if ((v->vm = ioctl(v->kvm, KVM_CREATE_VM, 0)) < 0) return fail(why, size, "KVM_CREATE_VM");
    v->mem = mmap(NULL, BARE_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (v->mem == MAP_FAILED) {
        v->mem = NULL;
        return fail(why, size, "mmap of guest memory");
    }
    memcpy(v->mem + BARE_CODE, code, len);
    struct kvm_userspace_memory_region region = {.slot = 0,
                                                 .guest_phys_addr = 0,
                                                 .memory_size = BARE_MEM_SIZE,
                                                 .userspace_addr = (uintptr_t)v->mem};
    if (ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return fail(why, size, "KVM_SET_USER_MEMORY_REGION");
    if ((v->vcpu = ioctl(v->vm, KVM_CREATE_VCPU, 0)) < 0) return fail(why, size, "KVM_CREATE_VCPU");
    int run_size = ioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < (int)sizeof(struct kvm_run)) return fail(why, size, "KVM_GET_VCPU_MMAP_SIZE");
    v->run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
    if (v->run == MAP_FAILED) {
        v->run = NULL;
        return fail(why, size, "mmap of kvm_run");
    }
    v->run_size = (size_t)run_size;
    struct kvm_sregs sregs;
    if (ioctl(v->vcpu, KVM_GET_SREGS, &sregs) < 0) return fail(why, size, "KVM_GET_SREGS");
    sregs.cs.base = 0; /* reset state is CS base 0xffff0000; start at BARE_CODE instead */
    sregs.cs.selector = 0;
    if (ioctl(v->vcpu, KVM_SET_SREGS, &sregs) < 0) return fail(why, size, "KVM_SET_SREGS");
    struct kvm_regs regs;
    memset(&regs, 0, sizeof(regs));
    regs.rip = BARE_CODE;
    regs.rflags = 2;
    if (ioctl(v->vcpu, KVM_SET_REGS, &regs) < 0) return fail(why, size, "KVM_SET_REGS");
    return 0;
}

/* One KVM_RUN; 0 when it exited as `want` says, else -1 with the reason. */
static int bare_run(bare_vm *v, uint32_t want, char *why, size_t size)
{
    int r;
    do
        r = ioctl(v->vcpu, KVM_RUN, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0) return fail(why, size, "KVM_RUN");
    if (v->run->exit_reason != want) {
        snprintf(why, size, "bare KVM baseline: exit reason %u, expected %u", v->run->exit_reason,
                 want);
        return -1;
    }
    if (want == KVM_EXIT_IO &&
        (v->run->io.direction != KVM_EXIT_IO_OUT || v->run->io.port != BARE_PORT)) {
        snprintf(why, size, "bare KVM baseline: unexpected I/O exit (port %u)", v->run->io.port);
        return -1;
    }
    return 0;
}

int bench_kvm_bare_create_hlt(size_t warmup, size_t iters, uint64_t *create_ns,
                              uint64_t *destroy_ns, char *why, size_t why_size)
{
    for (size_t i = 0; i < warmup + iters; i++) {
        bare_vm v;
        uint64_t t0 = now_ns();
        if (bare_create(&v, code_hlt, sizeof(code_hlt), why, why_size) < 0 ||
            bare_run(&v, KVM_EXIT_HLT, why, why_size) < 0) {
            bare_destroy(&v);
            return -1;
        }
        uint64_t t1 = now_ns();
        bare_destroy(&v);
        uint64_t t2 = now_ns();
        if (i >= warmup) {
            create_ns[i - warmup] = t1 - t0;
            destroy_ns[i - warmup] = t2 - t1;
        }
    }
    return 0;
}

int bench_kvm_bare_port_io(size_t warmup, size_t iters, uint64_t *ns, char *why, size_t why_size)
{
    bare_vm v;
    int rc = bare_create(&v, code_out_loop, sizeof(code_out_loop), why, why_size);
    for (size_t i = 0; rc == 0 && i < warmup + iters; i++) {
        uint64_t t0 = now_ns();
        rc = bare_run(&v, KVM_EXIT_IO, why, why_size);
        if (i >= warmup) ns[i - warmup] = now_ns() - t0;
    }
    bare_destroy(&v);
    return rc;
}

struct bench_kvm_bare {
    bare_vm v;
};

bench_kvm_bare *bench_kvm_bare_io_open(char *why, size_t why_size)
{
    bench_kvm_bare *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(why, why_size, "bare KVM baseline: out of memory");
        return NULL;
    }
    if (bare_create(&b->v, code_out_loop, sizeof(code_out_loop), why, why_size) < 0) {
        bare_destroy(&b->v);
        free(b);
        return NULL;
    }
    return b;
}

int64_t bench_kvm_bare_io_step(bench_kvm_bare *b, char *why, size_t why_size)
{
    uint64_t t0 = now_ns();
    if (bare_run(&b->v, KVM_EXIT_IO, why, why_size) < 0) return -1;
    return (int64_t)(now_ns() - t0);
}

void bench_kvm_bare_io_close(bench_kvm_bare *b)
{
    if (!b) return;
    bare_destroy(&b->v);
    free(b);
}
