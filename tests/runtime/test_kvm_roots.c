/* test_kvm_roots.c - what the KVM backend decides once per process (kvm.c make_anchor,
 * keeper_needed): the probe tells a kept root of the nested page tables from a lost one, a
 * sandbox gets the keeper vCPU exactly when the kernel loses the root, calls in the steady state
 * take no nested page fault whatever was decided, and the idle vCPU that keeps KVM switched on is
 * made once, close-on-exec, and not with HL_KVM_ANCHOR=0.
 *
 * The library decides once per process, so every case runs in a fresh process: this binary again,
 * `test_kvm_roots --case NAME KEPT` (KEPT: what this kernel does, 1 or 0, found by the parent),
 * whose exit status says whether its checks held. KVM only; in-process the tests skip. */
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

/* KVM, with vCPU statistics (KVM_GET_STATS_FD, Linux 5.14+; older kernels always get the keeper) */
static int have_stats(void)
{
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    int have = kvm >= 0 && ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD) > 0;
    if (kvm >= 0)
        close(kvm);
    return have;
}

#define KVM_ONLY()                                                                                                \
    do {                                                                                                          \
        if (rt_mode() != HL_RUN_HYPERVISOR || !have_stats())                                                      \
            skip();                                                                                               \
    } while (0)

/* Adding and deleting a memory slot makes KVM drop every root of the VM (its "fast zap"): what a
 * kernel that frees an unheld root does at each MMU reset. */
static void drop_roots(int vm)
{
    static uint8_t page[4096] __attribute__((aligned(4096)));
    struct kvm_userspace_memory_region r = {.slot = 1, .guest_phys_addr = 0x100000, .memory_size = sizeof(page),
                                            .userspace_addr = (uint64_t)(uintptr_t)page};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) != 0)
        abort();
    r.memory_size = 0;
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) != 0)
        abort();
}

/* A VM of the test's own: 64 KiB of hlt at guest physical 0, one vCPU in real mode. */
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

static void tvm_drop_roots(void *ctx) { drop_roots(((tvm *)ctx)->vm); }

/* What this kernel does with a root no vCPU holds: 1 keeps it, 0 frees it. */
static int kernel_keeps_roots(void)
{
    tvm t;
    tvm_open(&t);
    int kept = hl_kvm_roots_kept(t.vcpu, t.run, &t.sregs, 0x1000, NULL, NULL);
    tvm_close(&t);
    assert_true(kept == 0 || kept == 1);
    return kept;
}

/* The probe says "lost" when the root is lost between its runs, and "kept" when another vCPU holds
 * it (what the keeper does): both answers, on any kernel. */
static void test_probe_tells_kept_from_lost(void **state)
{
    (void)state;
    KVM_ONLY();
    tvm t;
    tvm_open(&t);
    assert_int_equal(hl_kvm_roots_kept(t.vcpu, t.run, &t.sregs, 0x1000, tvm_drop_roots, &t), 0);
    tvm_close(&t);

    tvm_open(&t);
    int holder = ioctl(t.vm, KVM_CREATE_VCPU, 1);
    assert_true(holder >= 0);
    while (ioctl(holder, KVM_RUN, 0) < 0 && errno == EINTR)
        ;
    assert_int_equal(hl_kvm_roots_kept(t.vcpu, t.run, &t.sregs, 0x1000, NULL, NULL), 1);
    close(holder);
    tvm_close(&t);

    print_message("this kernel %s an unheld root through the MMU reset\n",
                  kernel_keeps_roots() ? "keeps" : "frees");
}

/* ---- the cases, in fresh processes: plain checks, a message and exit status 1 when one fails */

#define CHECK(cond)                                                                                               \
    do {                                                                                                          \
        if (!(cond)) {                                                                                            \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                              \
            return 1;                                                                                             \
        }                                                                                                         \
    } while (0)

/* The process's vCPU descriptors from /proc/self/fd ("anon_inode:kvm-vcpu:N"): those of vCPU
 * `id` (-1: any but the library's idle vCPU 2) whose descriptor is not set in `before` (NULL:
 * none) are counted, each marked in `seen`; *last gets the last of them (id -1: the last vCPU 0
 * among them), or -1. */
#define MAX_FD 4096
static int vcpus(int id, const uint8_t *before, uint8_t *seen, int *last)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    if (last)
        *last = -1;
    if (seen)
        memset(seen, 0, MAX_FD / 8);
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], link[64];
        int fd = atoi(e->d_name);
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, link, sizeof(link) - 1);
        if (len <= 0 || fd >= MAX_FD || fd == dirfd(d))
            continue;
        link[len] = 0;
        if (strncmp(link, "anon_inode:kvm-vcpu:", 20) != 0)
            continue;
        int vid = atoi(link + 20);
        if (id >= 0 ? vid != id : vid == 2)
            continue;
        if (seen)
            seen[fd / 8] |= (uint8_t)(1u << (fd % 8));
        if (before && (before[fd / 8] & (1u << (fd % 8))))
            continue;
        n++;
        if (last && (id >= 0 || vid == 0))
            *last = fd;
    }
    closedir(d);
    return n;
}

/* KVM's count of the page faults the vCPU's nested page tables took (-1: unknown). */
static int64_t pf_fixed(int vcpu)
{
    int fd = ioctl(vcpu, KVM_GET_STATS_FD, NULL);
    if (fd < 0)
        return -1;
    int64_t v = hl_kvm_stat(fd, "pf_fixed");
    close(fd);
    return v;
}

/* A sandbox of simpleguest with want_vcpus vCPUs (1, or 2 with the keeper); after 3 calls to map
 * what calls touch, 20 more (in a call context: no restore, whose dropped pages fault again by
 * design) take no nested page fault, or some when faults is 1 (a kernel that frees the root,
 * without the keeper). */
static int steady_calls(int want_vcpus, int faults)
{
    uint8_t old[MAX_FD / 8], now[MAX_FD / 8];
    int vcpu0;
    vcpus(-1, NULL, old, NULL);
    hl_config cfg;
    hl_config_init(&cfg);
    cfg.execution_mode = HL_RUN_HYPERVISOR;
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    CHECK(hl_sandbox_create(&sb, rt_guest("simpleguest"), &cfg, &err) == HL_OK);
    CHECK(hl_sandbox_initialize(sb, &err) == HL_OK);
    CHECK(vcpus(-1, old, now, &vcpu0) == want_vcpus);
    CHECK(vcpu0 >= 0);
    CHECK(hl_sandbox_context_begin(sb, &err) == HL_OK);
    int64_t before = 0;
    for (int i = 0; i < 23; i++) {
        if (i == 3)
            before = pf_fixed(vcpu0);
        hl_value args[2] = {hl_i32(i), hl_i32(2)}, v;
        CHECK(hl_sandbox_call(sb, "add", args, 2, &v, &err) == HL_OK && v.u.i32 == i + 2);
    }
    int64_t after = pf_fixed(vcpu0);
    CHECK(before > 0); /* initialisation and the first calls mapped their pages: the right vCPU */
    if (faults)
        CHECK(after > before);
    else
        CHECK(after == before);
    CHECK(hl_sandbox_context_end(sb, &err) == HL_OK);
    hl_sandbox_destroy(sb);
    return 0;
}

static int g_hook_calls;
static void probe_lost(int vm)
{
    g_hook_calls++;
    drop_roots(vm);
}

/* The idle vCPU: how many descriptors are it, and whether the last is close-on-exec. */
static int anchors(int *good)
{
    int fd, n = vcpus(2, NULL, NULL, &fd);
    *good = fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
    return n;
}

static int run_case(const char *name, int kept)
{
    int good;
    if (strcmp(name, "keeper-on") == 0) /* HL_KVM_KEEPER=1 */
        return steady_calls(2, 0);
    if (strcmp(name, "keeper-off") == 0) /* HL_KVM_KEEPER=0 */
        return steady_calls(1, !kept);
    if (strcmp(name, "probe-lost") == 0) { /* the library's own probe finds the root lost */
        hl_kvm_probe_between = probe_lost;
        CHECK(steady_calls(2, 0) == 0);
        CHECK(steady_calls(2, 0) == 0);
        CHECK(g_hook_calls == 1); /* one probe, which told (one that cannot tell is made again) */
        return 0;
    }
    if (strcmp(name, "unforced") == 0) {
        CHECK(anchors(&good) == 0);
        CHECK(steady_calls(kept ? 1 : 2, 0) == 0);
        CHECK(anchors(&good) == 1 && good); /* kept after the last sandbox is gone */
        CHECK(steady_calls(kept ? 1 : 2, 0) == 0);
        CHECK(anchors(&good) == 1 && good); /* one per process */
        return 0;
    }
    if (strcmp(name, "anchor-off") == 0) { /* HL_KVM_ANCHOR=0: no probe either, the keeper */
        CHECK(steady_calls(2, 0) == 0);
        CHECK(anchors(&good) == 0);
        return 0;
    }
    fprintf(stderr, "no case %s\n", name);
    return 1;
}

/* Runs a case in a fresh process with the environment variable `var` set to `value` (var NULL:
 * none set), and neither HL_KVM_PROBE (the suite's probe sandbox, rt.c) nor the other of the two. */
extern char **environ;
static void in_fresh_process(const char *name, const char *var, const char *value)
{
    char kept[2] = {kernel_keeps_roots() ? '1' : '0', 0};
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + 2, sizeof(char *)), setting[64];
    assert_non_null(envp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "HL_KVM_PROBE=", 13) != 0 && strncmp(environ[i], "HL_KVM_KEEPER=", 14) != 0 &&
            strncmp(environ[i], "HL_KVM_ANCHOR=", 14) != 0)
            envp[k++] = environ[i];
    if (var) {
        snprintf(setting, sizeof(setting), "%s=%s", var, value);
        envp[k++] = setting;
    }
    char *argv[] = {"test_kvm_roots", "--case", (char *)name, kept, NULL};
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execve("/proc/self/exe", argv, envp);
        _exit(127);
    }
    free(envp);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_keeper_forced_on(void **state)
{
    (void)state;
    KVM_ONLY();
    in_fresh_process("keeper-on", "HL_KVM_KEEPER", "1");
}

static void test_keeper_forced_off(void **state)
{
    (void)state;
    KVM_ONLY();
    in_fresh_process("keeper-off", "HL_KVM_KEEPER", "0");
}

/* A kernel that frees the root, as the library's probe sees it: every sandbox gets the keeper. */
static void test_keeper_when_the_probe_loses_the_root(void **state)
{
    (void)state;
    KVM_ONLY();
    in_fresh_process("probe-lost", NULL, NULL);
}

/* As built: the keeper exactly when this kernel frees the root; the idle vCPU made with the first
 * sandbox, kept after the last, one per process. */
static void test_keeper_follows_the_kernel(void **state)
{
    (void)state;
    KVM_ONLY();
    in_fresh_process("unforced", NULL, NULL);
}

static void test_anchor_off(void **state)
{
    (void)state;
    KVM_ONLY();
    in_fresh_process("anchor-off", "HL_KVM_ANCHOR", "0");
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--case") == 0)
        return run_case(argv[2], strcmp(argv[3], "1") == 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_tells_kept_from_lost),
        cmocka_unit_test(test_keeper_forced_on),
        cmocka_unit_test(test_keeper_forced_off),
        cmocka_unit_test(test_keeper_when_the_probe_loses_the_root),
        cmocka_unit_test(test_keeper_follows_the_kernel),
        cmocka_unit_test(test_anchor_off),
    };
    return cmocka_run_group_tests_name(rt_group_name("kvm_roots"), tests, NULL, NULL);
}
