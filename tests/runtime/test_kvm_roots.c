/* test_kvm_roots.c - KVM's root of the nested page tables outlives the MMU reset of every run:
 * the probe that decides whether a sandbox needs a second vCPU to hold it (kvm.c keeper_needed,
 * hl_kvm_roots_kept) gives the right answer both ways, and calls in the steady state take no
 * nested page fault whatever it decided. KVM only; in-process the tests skip. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/kvm_internal.h"
#include "rt.h"

#define KVM_ONLY()                                                                                                \
    do {                                                                                                          \
        if (rt_mode() != HL_RUN_HYPERVISOR)                                                                       \
            skip();                                                                                               \
    } while (0)

/* A VM of its own: 64 KiB of hlt at guest physical 0 in slot 0, one vCPU in real mode. */
typedef struct tvm {
    int kvm, vm, vcpu;
    struct kvm_run *run;
    size_t run_size;
    uint8_t *mem;
    struct kvm_sregs sregs;
} tvm;

#define TVM_MEM 0x10000

static void tvm_open(tvm *t)
{
    t->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    assert_true(t->kvm >= 0);
    t->vm = ioctl(t->kvm, KVM_CREATE_VM, 0);
    assert_true(t->vm >= 0);
    t->mem = mmap(NULL, TVM_MEM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(t->mem != MAP_FAILED);
    memset(t->mem, 0xF4, TVM_MEM);
    struct kvm_userspace_memory_region r = {.slot = 0, .memory_size = TVM_MEM,
                                            .userspace_addr = (uint64_t)(uintptr_t)t->mem};
    assert_int_equal(ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r), 0);
    t->vcpu = ioctl(t->vm, KVM_CREATE_VCPU, 0);
    assert_true(t->vcpu >= 0);
    int size = ioctl(t->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    assert_true(size > 0);
    t->run_size = (size_t)size;
    t->run = mmap(NULL, t->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, t->vcpu, 0);
    assert_true(t->run != MAP_FAILED);
    assert_int_equal(ioctl(t->vcpu, KVM_GET_SREGS, &t->sregs), 0);
    t->sregs.cs.base = 0;
    t->sregs.cs.selector = 0;
}

static void tvm_close(tvm *t)
{
    munmap(t->run, t->run_size);
    munmap(t->mem, TVM_MEM);
    close(t->vcpu);
    close(t->vm);
    close(t->kvm);
}

/* Adding and deleting a memory slot makes KVM drop every root (its "fast zap"): what a kernel
 * that frees an unheld root does at each MMU reset. */
static void drop_roots(void *ctx)
{
    tvm *t = ctx;
    static uint8_t page[4096] __attribute__((aligned(4096)));
    struct kvm_userspace_memory_region r = {.slot = 1, .guest_phys_addr = 0x100000, .memory_size = sizeof(page),
                                            .userspace_addr = (uint64_t)(uintptr_t)page};
    assert_int_equal(ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r), 0);
    r.memory_size = 0;
    assert_int_equal(ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r), 0);
}

/* The probe says "lost" when the root is lost between its runs, and "kept" when another vCPU holds
 * it (what the keeper does): both answers, on any kernel. */
static void test_probe_tells_kept_from_lost(void **state)
{
    (void)state;
    KVM_ONLY();
    tvm t;
    tvm_open(&t);
    assert_int_equal(hl_kvm_roots_kept(t.vcpu, t.run, &t.sregs, 0x1000, drop_roots, &t), 0);
    tvm_close(&t);

    tvm_open(&t);
    int holder = ioctl(t.vm, KVM_CREATE_VCPU, 1);
    assert_true(holder >= 0);
    while (ioctl(holder, KVM_RUN, 0) < 0 && errno == EINTR)
        ;
    assert_int_equal(hl_kvm_roots_kept(t.vcpu, t.run, &t.sregs, 0x1000, NULL, NULL), 1);
    close(holder);
    tvm_close(&t);

    /* what this kernel does on its own: reported, and what the sandboxes below must agree with */
    tvm_open(&t);
    int kept = hl_kvm_roots_kept(t.vcpu, t.run, &t.sregs, 0x1000, NULL, NULL);
    print_message("this kernel %s an unheld root through the MMU reset\n", kept ? "keeps" : "frees");
    tvm_close(&t);
}

/* The vCPUs of the process, from /proc/self/fd ("anon_inode:kvm-vcpu:N"): bit fd of seen[] set
 * for each; those not in `before` (NULL: none) are counted, and the fd of a vCPU 0 among them is
 * put in *vcpu0 (-1 when none). */
#define MAX_FD 4096
static int new_vcpus(const uint8_t *before, uint8_t *seen, int *vcpu0)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    *vcpu0 = -1;
    memset(seen, 0, MAX_FD / 8);
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], link[64];
        int fd = atoi(e->d_name);
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, link, sizeof(link) - 1);
        if (len <= 0 || fd >= MAX_FD)
            continue;
        link[len] = 0;
        /* not the library's idle vCPU 2 (kvm.c make_anchor) */
        if (strncmp(link, "anon_inode:kvm-vcpu:", 20) != 0 || strcmp(link + 20, "2") == 0)
            continue;
        seen[fd / 8] |= (uint8_t)(1u << (fd % 8));
        if (before && (before[fd / 8] & (1u << (fd % 8))))
            continue;
        n++;
        if (strcmp(link + 20, "0") == 0)
            *vcpu0 = fd;
    }
    closedir(d);
    return n;
}

/* KVM's count of page faults the vCPU's nested page tables took, from its statistics file. */
static uint64_t pf_fixed(int vcpu)
{
    int fd = ioctl(vcpu, KVM_GET_STATS_FD, NULL);
    assert_true(fd >= 0);
    struct kvm_stats_header h;
    assert_int_equal(pread(fd, &h, sizeof(h), 0), sizeof(h));
    size_t each = sizeof(struct kvm_stats_desc) + h.name_size;
    char *descs = malloc(each * h.num_desc);
    assert_non_null(descs);
    assert_int_equal(pread(fd, descs, each * h.num_desc, h.desc_offset), (ssize_t)(each * h.num_desc));
    uint64_t v = UINT64_MAX;
    for (uint32_t i = 0; i < h.num_desc; i++) {
        struct kvm_stats_desc *s = (struct kvm_stats_desc *)(descs + i * each);
        if (strcmp(s->name, "pf_fixed") == 0)
            assert_int_equal(pread(fd, &v, sizeof(v), (off_t)h.data_offset + s->offset), sizeof(v));
    }
    free(descs);
    close(fd);
    assert_true(v != UINT64_MAX);
    return v;
}

/* A sandbox of simpleguest: after a few calls to map what calls touch, 20 more calls (in a call
 * context: no restore, whose dropped pages fault again by design) take no nested page fault:
 * the root survived every run's MMU reset. Returns how many vCPUs the sandbox has. */
static int steady_calls_fault_nothing(void)
{
    int before, vcpu0;
    uint8_t old[MAX_FD / 8], now[MAX_FD / 8];
    new_vcpus(NULL, old, &vcpu0);
    hl_sandbox *sb = rt_sandbox("simpleguest", "");
    int vcpus = new_vcpus(old, now, &vcpu0);
    assert_true(vcpu0 >= 0);
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_context_begin(sb, &err), HL_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(i), hl_i32(2))).u.i32, i + 2);
    before = (int)pf_fixed(vcpu0);
    assert_true(before > 0); /* initialisation and the first calls mapped their pages: the right vCPU */
    for (int i = 0; i < 20; i++)
        assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(i), hl_i32(2))).u.i32, i + 2);
    assert_int_equal(pf_fixed(vcpu0) - (uint64_t)before, 0);
    assert_int_equal(hl_sandbox_context_end(sb, &err), HL_OK);
    hl_sandbox_destroy(sb);
    return vcpus;
}

/* In a child process, whose verdict is its own (kvm.c caches it per process): HL_KVM_KEEPER
 * forces the keeper on or off; either way the steady calls fault nothing on this kernel. */
static void forced(const char *value, int want_vcpus)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("HL_KVM_KEEPER", value, 1);
        _exit(steady_calls_fault_nothing() == want_vcpus ? 0 : 3);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_keeper_forced_on(void **state)
{
    (void)state;
    KVM_ONLY();
    forced("1", 2);
}

static void test_keeper_forced_off(void **state)
{
    (void)state;
    KVM_ONLY();
    forced("0", 1);
}

/* Unforced: the sandbox has the keeper exactly when the kernel frees an unheld root, and its steady
 * calls fault nothing. */
static void test_keeper_follows_the_kernel(void **state)
{
    (void)state;
    KVM_ONLY();
    tvm t;
    tvm_open(&t);
    int kept = hl_kvm_roots_kept(t.vcpu, t.run, &t.sregs, 0x1000, NULL, NULL);
    tvm_close(&t);
    unsetenv("HL_KVM_KEEPER");
    assert_int_equal(steady_calls_fault_nothing(), kept ? 1 : 2);
    /* a second sandbox reuses the verdict */
    assert_int_equal(steady_calls_fault_nothing(), kept ? 1 : 2);
}

/* The library's idle vCPU (kvm.c make_anchor): descriptors that are it. */
static int anchors(int *cloexec)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], link[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, link, sizeof(link) - 1);
        if (len <= 0)
            continue;
        link[len] = 0;
        if (strcmp(link, "anon_inode:kvm-vcpu:2") == 0) {
            n++;
            if (cloexec)
                *cloexec = (fcntl(atoi(e->d_name), F_GETFD) & FD_CLOEXEC) != 0;
        }
    }
    closedir(d);
    return n;
}

/* Not made with HL_KVM_ANCHOR=0 (in a child forked before this process made a sandbox). */
static void test_anchor_off(void **state)
{
    (void)state;
    KVM_ONLY();
    assert_int_equal(anchors(NULL), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("HL_KVM_ANCHOR", "0", 1);
        int before = anchors(NULL);
        hl_sandbox_destroy(rt_sandbox("simpleguest", ""));
        _exit(anchors(NULL) == before ? 0 : 3);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Made with the process's first sandbox (test_keeper_follows_the_kernel's), close-on-exec, kept
 * after the last sandbox is gone, one per process. */
static void test_anchor_outlives_sandboxes(void **state)
{
    (void)state;
    KVM_ONLY();
    int cloexec = 0;
    assert_int_equal(anchors(&cloexec), 1);
    assert_true(cloexec);
    hl_sandbox *sb = rt_sandbox("simpleguest", "");
    assert_int_equal(anchors(NULL), 1);
    hl_sandbox_destroy(sb);
    assert_int_equal(anchors(NULL), 1);
    sb = rt_sandbox("simpleguest", "");
    assert_int_equal(anchors(NULL), 1); /* one per process, not per sandbox */
    hl_sandbox_destroy(sb);
}

int main(void)
{
    /* the forced ones first: each runs in a child forked before this process made a sandbox (the
     * library's choices are made once per process) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_tells_kept_from_lost),
        cmocka_unit_test(test_keeper_forced_on),
        cmocka_unit_test(test_keeper_forced_off),
        cmocka_unit_test(test_anchor_off),
        cmocka_unit_test(test_keeper_follows_the_kernel),
        cmocka_unit_test(test_anchor_outlives_sandboxes),
    };
    return cmocka_run_group_tests_name(rt_group_name("kvm_roots"), tests, NULL, NULL);
}
