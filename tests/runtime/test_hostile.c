/* test_hostile.c - attacks from a ring-0 guest (hostileguest) on later calls and on the host's
 * trust: abandoned exits, MSRs, XSAVE state, forged exception reports and results, bad function
 * tables. */
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define KVM_ONLY()                                                                                 \
    do {                                                                                           \
        if (rt_mode() != HL_MODE_RUN_IN_HYPERVISOR) skip();                                        \
    } while (0)

static int setup(void **state)
{
    *state = rt_mode() == HL_MODE_RUN_IN_HYPERVISOR ? rt_sandbox("hostileguest", "") : NULL;
    return 0;
}

static int teardown(void **state)
{
    hl_sandbox_destroy(*state);
    return 0;
}

/* The next calls must run exactly as on a fresh sandbox: not the attacker's continuation (which
 * would answer 666). */
static void next_calls_clean(hl_sandbox *sb)
{
    assert_true(hl_sandbox_usable(sb));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(1), hl_i32(2))).u.i32, 3);
        assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(40), hl_i32(i))).u.i32, 40 + i);
    }
}

/* Every exit the host ends a call on instead of completing must not resume in the next call. */
static void test_abandoned_exits_do_not_resume(void **state)
{
    KVM_ONLY();
    hl_sandbox *sb = *state;
    for (int round = 0; round < 2; round++) {
        rt_fails(sb, "mmio_read", HL_E_GUEST_FAULT, RT_ANY_CODE,
                 "accessed address 0x1000, outside its memory", RT_ARGS(hl_u64(0x1000)));
        next_calls_clean(sb);
        rt_fails(sb, "mmio_read", HL_E_GUEST_FAULT, RT_ANY_CODE, "outside its memory",
                 RT_ARGS(hl_u64(0x100000000ull)));
        next_calls_clean(sb);
        rt_fails(sb, "mmio_write", HL_E_GUEST_FAULT, RT_ANY_CODE, "outside its memory",
                 RT_ARGS(hl_u64(0x1000)));
        next_calls_clean(sb);
        rt_fails(sb, "port_in", HL_E_GUEST_FAULT, RT_ANY_CODE, "read from I/O port 128",
                 RT_ARGS(hl_u32(0x80)));
        next_calls_clean(sb);
        rt_fails(sb, "rep_insb", HL_E_GUEST_FAULT, RT_ANY_CODE, "read from I/O port 128",
                 RT_ARGS(hl_u32(0x80), hl_u64(10000)));
        next_calls_clean(sb);
        rt_fails(sb, "rep_insb", HL_E_GUEST_FAULT, RT_ANY_CODE, "read from I/O port 128",
                 RT_ARGS(hl_u32(0x80), hl_u64(1ull << 40)));
        next_calls_clean(sb);
        rt_fails(sb, "port_out", HL_E_GUEST_PROTOCOL, 0, "unknown I/O port 4660",
                 RT_ARGS(hl_u32(0x1234)));
        next_calls_clean(sb);
        rt_fails(sb, "rep_outsb", HL_E_GUEST_PROTOCOL, 0, "unknown I/O port 4660",
                 RT_ARGS(hl_u32(0x1234), hl_u64(5000)));
        next_calls_clean(sb);
        rt_fails(sb, "abort_then_hijack", HL_E_GUEST_ABORT, 9, "bye", RT_NOARGS);
        next_calls_clean(sb);
    }
}

/* Whether this KVM filters MSR accesses (KVM_CAP_X86_MSR_FILTER, Linux 5.10+): the backend then
 * lets the guest write only STAR, LSTAR, CSTAR, SFMASK and the FS and GS bases. */
static int kvm_filters_msrs(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) return 0;
    int r = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER);
    close(fd);
    return r > 0;
}

static int guest_writable_msr(uint32_t msr)
{
    return (msr >= 0xC0000081 && msr <= 0xC0000084) || msr == 0xC0000100 || msr == 0xC0000101;
}

/* A value a call writes to an MSR is gone in the next call (each writable MSR a ring-0 guest can
 * reach, with a value the CPU accepts). MSRs the guest cannot read or write (#GP) are no channel.
 * With the MSR filter, exactly the runtime's MSRs are writable; every other write is a #GP. */
static void test_msrs_reset(void **state)
{
    KVM_ONLY();
    hl_sandbox *sb = *state;
    static const struct {
        uint32_t msr;
        uint64_t value;
    } msrs[] = {
        {0x3B, 0x123456789ull},              /* IA32_TSC_ADJUST */
        {0x48, 1},                           /* IA32_SPEC_CTRL: IBRS */
        {0x174, 0x10},                       /* SYSENTER_CS */
        {0x175, 0x212340},                   /* SYSENTER_ESP */
        {0x176, 0x212350},                   /* SYSENTER_EIP */
        {0x1A0, 0x1},                        /* IA32_MISC_ENABLE: fast strings */
        {0x1D9, 0x1},                        /* IA32_DEBUGCTL: LBR */
        {0x200, 0x12340006},                 /* MTRR physbase 0 */
        {0x201, 0xFFFFF000800ull},           /* MTRR physmask 0 */
        {0x20E, 0x56780006},                 /* MTRR physbase 7 */
        {0x250, 0x0606060606060606ull},      /* MTRR fix64K_00000 */
        {0x258, 0x0606060606060606ull},      /* MTRR fix16K_80000 */
        {0x268, 0x0505050505050505ull},      /* MTRR fix4K_C0000 */
        {0x277, 0x0606060606060606ull},      /* IA32_PAT */
        {0x2FF, 0xC06},                      /* MTRR default type */
        {0xC0000080, 0xD01},                 /* EFER with SCE */
        {0xC0000081, 0x0023001000000000ull}, /* STAR */
        {0xC0000082, 0x212345},              /* LSTAR */
        {0xC0000083, 0x212346},              /* CSTAR */
        {0xC0000084, 0x4700},                /* SFMASK */
        {0xC0000100, 0x7FFF12345000ull},     /* FS base */
        {0xC0000101, 0x7FFF12346000ull},     /* GS base */
        {0xC0000102, 0x7FFF12347000ull},     /* kernel GS base */
        {0xC0000103, 0x55},                  /* TSC_AUX */
        {0xC0010000, 0x76},                  /* AMD PerfEvtSel0 (not enabled) */
        {0xC0010004, 0x123456},              /* AMD PerfCtr0 */
        {0xC0010200, 0x76},                  /* AMD PerfEvtSel0 (extended) */
        {0xC0010201, 0x654321},              /* AMD PerfCtr0 (extended) */
        {0xC0010117, 0x200000},              /* AMD VM_HSAVE_PA */
        {0x186, 0x76},                       /* Intel PerfEvtSel0 */
        {0xC1, 0x123456},                    /* Intel PMC0 */
        {0x4B564D00, 0},                     /* kvmclock wall clock (a write is a one-off) */
        {0x4B564D02, 0},                     /* async PF: stays off */
        {0x4B564D04, 0},                     /* PV EOI */
    };
    size_t written = 0;
    int filtered = kvm_filters_msrs();
    for (size_t i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++) {
        hl_value v;
        hl_error e = HL_ERROR_INIT;
        if (hl_sandbox_call(sb, "read_msr", RT_ARGS(hl_u32(msrs[i].msr)), &v, &e) != HL_OK) {
            assert_int_equal(e.status, HL_E_GUEST_FAULT);
            assert_int_equal(e.guest_code, 13); /* #GP: no such MSR here */
            continue;
        }
        uint64_t before = v.u.u64;
        if (hl_sandbox_call(sb, "write_msr", RT_ARGS(hl_u32(msrs[i].msr), hl_u64(msrs[i].value)),
                            &v, &e) != HL_OK) {
            assert_int_equal(e.status, HL_E_GUEST_FAULT);
            assert_int_equal(e.guest_code, 13);
            if (filtered && guest_writable_msr(msrs[i].msr))
                fail_msg("MSR %#x: the filter lets the guest write it, but the write faulted", msrs[i].msr);
            continue;
        }
        if (filtered && !guest_writable_msr(msrs[i].msr))
            fail_msg("MSR %#x: written by the guest despite the MSR filter", msrs[i].msr);
        written++;
        uint64_t after = rt_ok(sb, "read_msr", RT_ARGS(hl_u32(msrs[i].msr))).u.u64;
        if (after != before)
            fail_msg("MSR %#x: written %#llx in one call, read %#llx in the next (fresh: %#llx)",
                     msrs[i].msr, (unsigned long long)msrs[i].value, (unsigned long long)after,
                     (unsigned long long)before);
        next_calls_clean(sb);
    }
    print_message("%zu of %zu MSRs were writable by the guest (MSR filter: %s); each was reset\n", written,
                  sizeof(msrs) / sizeof(msrs[0]), filtered ? "on" : "off");
    if (filtered)
        assert_int_equal(written, 6); /* STAR, LSTAR, CSTAR, SFMASK, FS base, GS base */
    else
        assert_true(written >= 10);
}

/* IA32_TSC: a guest that sets its time stamp counter far ahead does not see that value next call.
 */
static void test_tsc_reset(void **state)
{
    KVM_ONLY();
    hl_sandbox *sb = *state;
    uint64_t fresh = rt_ok(sb, "read_tsc", RT_NOARGS).u.u64;
    assert_true(fresh < (1ull << 60));
    if (kvm_filters_msrs()) { /* the filter refuses both writes outright */
        rt_fails(sb, "write_msr", HL_E_GUEST_FAULT, 13, "#GP", RT_ARGS(hl_u32(0x10), hl_u64(1ull << 62)));
        rt_fails(sb, "write_msr", HL_E_GUEST_FAULT, 13, "#GP", RT_ARGS(hl_u32(0x3B), hl_u64(1ull << 62)));
        uint64_t next = rt_ok(sb, "read_tsc", RT_NOARGS).u.u64;
        assert_true(next >= fresh && next < (1ull << 60));
        return;
    }
    rt_ok(sb, "write_msr", RT_ARGS(hl_u32(0x10), hl_u64(1ull << 62)));
    uint64_t next = rt_ok(sb, "read_tsc", RT_NOARGS).u.u64;
    if (next >= (1ull << 61))
        fail_msg("IA32_TSC written as %#llx survived into the next call: %#llx", 1ull << 62,
                 (unsigned long long)next);
    assert_true(next >= fresh);
    rt_ok(sb, "write_msr",
          RT_ARGS(hl_u32(0x3B), hl_u64(1ull << 62))); /* TSC_ADJUST moves the TSC too */
    next = rt_ok(sb, "read_tsc", RT_NOARGS).u.u64;
    if (next >= (1ull << 61))
        fail_msg("IA32_TSC_ADJUST survived into the next call: TSC %#llx",
                 (unsigned long long)next);
}

/* kvmclock and steal time make KVM write into guest memory on every entry: after the call that
 * enabled them, nothing may write into the restored memory. */
static void test_paravirt_msrs_write_nothing(void **state)
{
    KVM_ONLY();
    hl_sandbox *sb = *state;
    uint64_t heap = rt_ok(sb, "heap_addr", RT_NOARGS).u.u64;
    /* kvmclock (new, old), steal time, Hyper-V reference TSC page */
    static const uint32_t msrs[] = {0x4B564D01, 0x12, 0x4B564D03, 0x40000021};
    for (size_t i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++) {
        uint64_t off = 16384 + i * 4096;
        uint64_t fresh = rt_ok(sb, "peek_heap", RT_ARGS(hl_u64(off))).u.u64;
        hl_value v;
        hl_error e = HL_ERROR_INIT;
        if (hl_sandbox_call(sb, "write_msr", RT_ARGS(hl_u32(msrs[i]), hl_u64((heap + off) | 1)), &v,
                            &e) != HL_OK) {
            assert_int_equal(e.guest_code, 13); /* refused: the feature is not offered */
            continue;
        }
        for (int k = 0; k < 3; k++)
            assert_int_equal(rt_ok(sb, "peek_heap", RT_ARGS(hl_u64(off))).u.u64, fresh);
    }
}

/* XCR0 and the AVX upper halves (beyond what KVM_SET_FPU resets) do not survive a call. */
static void test_xsave_state_reset(void **state)
{
    KVM_ONLY();
    hl_sandbox *sb = *state;
    uint64_t xcr0 = rt_ok(sb, "xcr0_read", RT_NOARGS).u.u64;
    if (xcr0 == ~0ull) {
        print_message("no AVX in this vCPU: XSAVE check skipped\n");
        skip();
    }
    assert_int_equal(rt_ok(sb, "ymm_write", RT_ARGS(hl_u64(0x5A5A5A5A12345678ull))).u.u32, 1);
    assert_int_equal(rt_ok(sb, "xcr0_read", RT_NOARGS).u.u64, xcr0);
    assert_int_equal(rt_ok(sb, "ymm_read", RT_NOARGS).u.u64, 0);
}

/* A guest that edits its page tables leaves translations cached (the TLB, or KVM's shadow pages
 * under shadow paging) that the restored tables no longer say: the next call must translate as
 * the snapshot does, whether the tables were left edited (restore copies them back) or written
 * back by the guest itself without a flush (the tables look untouched). */
static void test_no_stale_translations(void **state)
{
    KVM_ONLY();
    hl_sandbox *sb = *state;
    assert_int_equal(rt_ok(sb, "read_page_a", RT_NOARGS).u.u64, 0xAAAAAAAAAAAAAAAAull);
    for (uint32_t put_back = 0; put_back < 2; put_back++) {
        for (int i = 0; i < 3; i++) {
            assert_int_equal(rt_ok(sb, "alias_pages", RT_ARGS(hl_u32(put_back))).u.u64, 0xBBBBBBBBBBBBBBBBull);
            assert_int_equal(rt_ok(sb, "read_page_a", RT_NOARGS).u.u64, 0xAAAAAAAAAAAAAAAAull);
            assert_int_equal(rt_ok(sb, "read_page_a", RT_NOARGS).u.u64, 0xAAAAAAAAAAAAAAAAull);
        }
    }
    next_calls_clean(sb);
}

/* Stale translations need more than restored page tables: a guest can change a page-table entry,
 * use it (the TLB keeps the translation) and put the entry back without a flush, and KVM flushes
 * the guest's TLB only when the reset changes CR0, CR3, CR4 or EFER. So every call starts with a
 * CR3 other than the one the previous call ended with (the same tables, the write-through bit
 * alternating), whatever the guest left there, predicting the next value included: KVM then
 * flushes the guest's TLB for every call. (That the flush happens cannot be seen under QEMU's
 * emulation, which flushes at every world switch; the CR3 can.) */
static void test_cr3_differs_at_every_call(void **state)
{
    KVM_ONLY();
    hl_sandbox *sb = *state;
    uint64_t prev = rt_ok(sb, "cr3_read", RT_NOARGS).u.u64;
    uint64_t tables = prev & ~0xFFFull;
    for (int i = 0; i < 4; i++) {
        uint64_t now = rt_ok(sb, "cr3_read", RT_NOARGS).u.u64;
        assert_int_equal(now & ~0xFFFull, tables);
        if (now == prev) fail_msg("call %d started with the CR3 the call before ended with (%#llx)", i, (unsigned long long)now);
        prev = now;
    }
    /* the guest leaves each of the values the host alternates between (and another one) */
    const uint64_t left[] = {tables, tables | 0x8, tables | 0x10, tables | 0x18};
    for (size_t i = 0; i < sizeof left / sizeof left[0]; i++)
        for (int rep = 0; rep < 2; rep++) {
            rt_ok(sb, "cr3_write", RT_ARGS(hl_u64(left[i])));
            uint64_t now = rt_ok(sb, "cr3_read", RT_NOARGS).u.u64;
            assert_int_equal(now & ~0xFFFull, tables);
            if (now == left[i])
                fail_msg("a call left CR3 %#llx and the next one started with it", (unsigned long long)left[i]);
        }
    next_calls_clean(sb);
}

/* How many mappings of guest-image copies this process has (lines of /proc/self/maps). */
static int image_mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    int n = 0;
    char line[512];
    while (fgets(line, sizeof line, f))
        n += strstr(line, "/memfd:hyperlight-image") != NULL;
    fclose(f);
    return n;
}

/* How many copies of guest images this process holds (distinct memfds named hyperlight-image in
 * /proc/self/maps: the ones sandboxes map and the few kept for later sandboxes). */
static int image_copies(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    unsigned long inodes[64];
    int n = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (!strstr(line, "/memfd:hyperlight-image")) continue;
        unsigned long ino = 0;
        assert_int_equal(sscanf(line, "%*s %*s %*s %*s %lu", &ino), 1);
        int seen = 0;
        for (int i = 0; i < n; i++) seen |= inodes[i] == ino;
        if (!seen && n < 64) inodes[n++] = ino;
    }
    fclose(f);
    return n;
}

static void ro_pages_pristine(hl_sandbox *sb, uint32_t init_value)
{
    assert_int_equal(rt_ok(sb, "ro_word_read", RT_NOARGS).u.u32, 1);
    assert_int_equal(rt_ok(sb, "code_victim_call", RT_NOARGS).u.u32, 1);
    assert_int_equal(rt_ok(sb, "ro_init_read", RT_NOARGS).u.u32, init_value);
}

static int nop_host(hl_host_call *call, const hl_value *args, size_t n, hl_value *ret, void *user)
{
    (void)call, (void)args, (void)n, (void)ret, (void)user;
    return 0;
}

/* The code and read-only data of a guest are one copy for all its sandboxes in the process:
 * what a ring-0 guest writes there (with CR0.WP clear) stays in its own sandbox and its own
 * call; a sandbox whose initialisation wrote there keeps that in every call and shares none. */
static void test_shared_image_pages_stay_private(void **state)
{
    KVM_ONLY();
    hl_sandbox *a = *state;
    int copies = image_copies();
    assert_true(copies >= 1);
    int maps = image_mappings();
    hl_sandbox *b = rt_sandbox("hostileguest", "");
    assert_int_equal(image_copies(), copies); /* b maps a's copy */
    assert_true(image_mappings() > maps);
    /* initialisation that writes a read-only page: kept by the snapshot, nothing shared */
    hl_config cfg;
    rt_config(&cfg, "");
    hl_sandbox *d = NULL;
    hl_error err = HL_ERROR_INIT;
    maps = image_mappings();
    assert_int_equal(hl_sandbox_create(&d, rt_guest("hostileguest"), &cfg, &err), HL_OK);
    assert_true(image_mappings() > maps); /* shared until initialisation ends */
    assert_int_equal(hl_sandbox_register(d, "patch_rodata_at_init", HL_TYPE_VOID, NULL, 0, nop_host, NULL, &err), HL_OK);
    assert_int_equal(hl_sandbox_initialize(d, &err), HL_OK);
    assert_int_equal(image_mappings(), maps); /* then its own pages, in neither view */
    for (int i = 0; i < 3; i++) {
        rt_ok(d, "ro_word_write", RT_ARGS(hl_u32(50)));
        ro_pages_pristine(d, 5);
    }
    hl_sandbox_destroy(d);
    ro_pages_pristine(a, 2);
    ro_pages_pristine(b, 2);
    assert_int_equal(hl_sandbox_context_begin(a, &err), HL_OK);
    rt_ok(a, "ro_word_write", RT_ARGS(hl_u32(7)));
    rt_ok(a, "code_patch", RT_ARGS(hl_u32(9)));
    /* the writes took effect in a (a call context keeps memory between calls)... */
    assert_int_equal(rt_ok(a, "ro_word_read", RT_NOARGS).u.u32, 7);
    assert_int_equal(rt_ok(a, "code_victim_call", RT_NOARGS).u.u32, 9);
    /* ...and nowhere else */
    ro_pages_pristine(b, 2);
    hl_sandbox *c = rt_sandbox("hostileguest", "");
    ro_pages_pristine(c, 2);
    assert_int_equal(hl_sandbox_context_end(a, &err), HL_OK);
    /* the restore put a's pages back; calls with restore after writes */
    ro_pages_pristine(a, 2);
    for (int i = 0; i < 3; i++) {
        rt_ok(b, "ro_word_write", RT_ARGS(hl_u32(100 + (uint32_t)i)));
        rt_ok(b, "code_patch", RT_ARGS(hl_u32(200 + (uint32_t)i)));
        ro_pages_pristine(b, 2);
        ro_pages_pristine(a, 2);
    }
    assert_int_equal(image_copies(), copies);
    hl_sandbox_destroy(b);
    hl_sandbox_destroy(c);
    next_calls_clean(a);
}

/* The copies no sandbox maps any more are bounded: sandboxes of six other guests, one after the
 * other, leave at most four idle copies (besides the copy the live sandbox maps). */
static void test_idle_image_copies_bounded(void **state)
{
    KVM_ONLY();
    static const char *const guests[] = {"simpleguest", "callbackguest", "stateguest",
                                         "gdbguest",    "coreguest",     "libcguest"};
    for (size_t i = 0; i < sizeof guests / sizeof guests[0]; i++) {
        hl_sandbox *sb = rt_sandbox(guests[i], "");
        assert_true(image_copies() >= 2); /* its own and the hostile guest's */
        hl_sandbox_destroy(sb);
    }
    assert_true(image_copies() <= 5);
    assert_true(image_copies() >= 1);
    next_calls_clean(*state);
}

/* CR8, the task priority, is reset too: KVM keeps it in the run area when there is no in-kernel
 * APIC and takes it from there at every KVM_RUN, after the special registers. */
static void test_cr8_reset(void **state)
{
    KVM_ONLY();
    hl_sandbox *sb = *state;
    uint64_t fresh = rt_ok(sb, "cr8_read", RT_NOARGS).u.u64;
    for (uint64_t v = 13; v <= 15; v++) {
        rt_ok(sb, "cr8_write", RT_ARGS(hl_u64(v)));
        uint64_t after = rt_ok(sb, "cr8_read", RT_NOARGS).u.u64;
        if (after != fresh)
            fail_msg("CR8: fresh %llu, after a call wrote %llu: %llu", (unsigned long long)fresh,
                     (unsigned long long)v, (unsigned long long)after);
    }
    next_calls_clean(sb);
}

/* State a ring-0 guest changes without a WRMSR the filter refuses, which the trimmed per-run reset
 * must still put back: the kernel GS base through swapgs, PKRU through WRPKRU, DR0-DR3 and DR7. */
static void test_state_without_wrmsr_reset(void **state)
{
    KVM_ONLY();
    hl_sandbox *sb = *state;
    uint64_t kgs = rt_ok(sb, "read_msr", RT_ARGS(hl_u32(0xC0000102))).u.u64;
    rt_ok(sb, "swapgs_write", RT_ARGS(hl_u64(0x7FFF12347000ull)));
    assert_int_equal(rt_ok(sb, "read_msr", RT_ARGS(hl_u32(0xC0000102))).u.u64, kgs);
    assert_int_equal(rt_ok(sb, "read_msr", RT_ARGS(hl_u32(0xC0000101))).u.u64,
                     rt_ok(sb, "read_msr", RT_ARGS(hl_u32(0xC0000101))).u.u64);
    next_calls_clean(sb);

    uint64_t dr7 = rt_ok(sb, "dr_read", RT_ARGS(hl_u32(7))).u.u64;
    assert_int_equal(rt_ok(sb, "dr_read", RT_ARGS(hl_u32(0))).u.u64, 0);
    rt_ok(sb, "dr_write", RT_ARGS(hl_u64(0x212340)));
    assert_int_equal(rt_ok(sb, "dr_read", RT_ARGS(hl_u32(0))).u.u64, 0);
    assert_int_equal(rt_ok(sb, "dr_read", RT_ARGS(hl_u32(7))).u.u64, dr7);
    next_calls_clean(sb);

    uint64_t pkru = rt_ok(sb, "pkru_read", RT_NOARGS).u.u64;
    if (pkru == ~0ull) {
        print_message("no PKU in this vCPU: PKRU check skipped\n");
        return;
    }
    assert_int_equal(rt_ok(sb, "pkru_write", RT_ARGS(hl_u32(0x55555554))).u.u32, 1);
    uint64_t next = rt_ok(sb, "pkru_read", RT_NOARGS).u.u64;
    if (next != pkru)
        fail_msg("PKRU written as 0x55555554 in one call, read %#llx in the next (fresh: %#llx)",
                 (unsigned long long)next, (unsigned long long)pkru);
    next_calls_clean(sb);
}

/* An exception report is trusted only from the host's stubs with the CPU's own frame. */
static void test_forged_exception_reports(void **state)
{
    KVM_ONLY();
    hl_sandbox *sb = *state;
    const hl_layout *l = hl_sandbox_layout(sb);
    uint64_t guard = l->base + l->region[HL_REGION_STACK_GUARD].offset + 64;
    hl_error e = rt_fails(sb, "forge_exception", HL_E_GUEST_PROTOCOL, 0, "forged exception report",
                          RT_ARGS(hl_u32(14), hl_u64(guard)));
    print_message("%s\n", e.message);
    next_calls_clean(sb);
    e = rt_fails(sb, "forge_exception", HL_E_GUEST_PROTOCOL, 0, "forged exception report",
                 RT_ARGS(hl_u32(200), hl_u64(0)));
    next_calls_clean(sb);
    e = rt_fails(sb, "jump_to_stub", HL_E_GUEST_PROTOCOL, 0, "forged exception report",
                 RT_ARGS(hl_u32(14), hl_u64(guard)));
    print_message("%s\n", e.message);
    next_calls_clean(sb);
    /* a real `int $200` past the 32-entry IDT is a #GP naming the IDT entry (error code 200 * 8 + 2
     * on hardware; QEMU's emulated CPU reports 200 * 16 + 2) */
    e = rt_fails(sb, "software_interrupt", HL_E_GUEST_FAULT, 13,
                 "#GP general protection (vector 13, error code 0x", RT_NOARGS);
    assert_true(strstr(e.message, "error code 0x642)") || strstr(e.message, "error code 0xc82)"));
    next_calls_clean(sb);
}

/* No nested virtualisation and no paravirtual interface: the guest cannot reach those parts of KVM.
 */
static void test_no_nested_or_paravirt(void **state)
{
    KVM_ONLY();
    hl_sandbox *sb = *state;
    assert_int_equal(rt_ok(sb, "cpuid", RT_ARGS(hl_u32(1), hl_u32(2))).u.u32 & (1u << 5),
                     0); /* VMX */
    assert_int_equal(rt_ok(sb, "cpuid", RT_ARGS(hl_u32(0x80000001), hl_u32(2))).u.u32 & (1u << 2),
                     0); /* SVM */
    assert_int_equal(rt_ok(sb, "cpuid", RT_ARGS(hl_u32(0x40000001), hl_u32(0))).u.u32,
                     0); /* KVM PV */
    /* EFER.SVME cannot be set */
    uint64_t efer = rt_ok(sb, "read_msr", RT_ARGS(hl_u32(0xC0000080))).u.u64;
    rt_fails(sb, "write_msr", HL_E_GUEST_FAULT, 13, "#GP",
             RT_ARGS(hl_u32(0xC0000080), hl_u64(efer | (1u << 12))));
    /* KVM hypercalls are refused: -KVM_ENOSYS (-1000) for the PV ones (5 KICK_CPU, 10 SEND_IPI, 11
     * SCHED_YIELD) */
    static const uint64_t calls[] = {5, 10, 11, 12};
    for (size_t i = 0; i < 4; i++) {
        hl_value v;
        hl_error e = HL_ERROR_INIT;
        if (hl_sandbox_call(sb, "hypercall", RT_ARGS(hl_u64(calls[i])), &v, &e) == HL_OK)
            assert_int_equal(v.u.i64, -1000);
        else
            assert_int_equal(e.status, HL_E_GUEST_FAULT);
    }
    next_calls_clean(sb);
}

/* sysenter is the guest's fault, never a backend failure. */
static void test_sysenter_is_a_guest_fault(void **state)
{
    KVM_ONLY();
    hl_sandbox *sb = *state;
    hl_error e = rt_fails(
        sb, "sysenter", HL_E_GUEST_FAULT, 6,
        "#UD invalid opcode (vector 6): sysenter/sysexit is invalid in 64-bit mode", RT_NOARGS);
    print_message("sysenter: %s\n", e.message);
    next_calls_clean(sb);
}

/* A result whose type differs from the function's registration is a protocol error. */
static void test_result_type_checked(void **state)
{
    KVM_ONLY();
    hl_sandbox *sb = *state;
    rt_fails(sb, "forge_i32", HL_E_GUEST_PROTOCOL, 0,
             "`forge_i32` returned void, but it is registered as returning i32",
             RT_ARGS(hl_u32(HL_TYPE_VOID)));
    next_calls_clean(sb);
    rt_fails(sb, "forge_i32", HL_E_GUEST_PROTOCOL, 0,
             "`forge_i32` returned string, but it is registered as returning i32",
             RT_ARGS(hl_u32(HL_TYPE_STRING)));
    next_calls_clean(sb);
    rt_fails(sb, "forge_string", HL_E_GUEST_PROTOCOL, 0,
             "`forge_string` returned u64, but it is registered as returning string",
             RT_ARGS(hl_u32(HL_TYPE_U64)));
    next_calls_clean(sb);
    assert_int_equal(rt_ok(sb, "forge_i32", RT_ARGS(hl_u32(HL_TYPE_I32))).u.i32,
                     (int32_t)0xDEADB000u);
}

/* A guest's system calls never reach the host kernel, in either mode: the guest runtime serves
 * what the C library needs and refuses the rest. */
static void test_syscalls_never_reach_the_host(void **state)
{
    (void)state;
    hl_sandbox *sb = rt_sandbox("hostileguest", "");
    rt_print out = {0};
    hl_sandbox_set_print(sb, rt_print_capture, &out);
    const char *path = "/etc/passwd";
    uint64_t heap = rt_ok(sb, "heap_addr", RT_NOARGS).u.u64; /* guest memory to point at */
    static const struct {
        long nr, a1, a2, a3;
        long want;
    } calls[] = {
        {2, 0, 0, 0, -ENOENT},       /* open (of the heap's first bytes as a path) */
        {257, -100, 0, 0, -ENOENT},  /* openat(AT_FDCWD, ...) */
        {1, 5, 0, 4, -EBADF},        /* write to a forged fd */
        {0, 0, 0, 16, -EBADF},       /* read from stdin */
        {59, 0, 0, 0, -ENOSYS},      /* execve */
        {57, 0, 0, 0, -ENOSYS},      /* fork */
        {41, 2, 1, 0, -ENOSYS},      /* socket */
        {39, 0, 0, 0, 1},            /* getpid: the guest's own, not the host's */
        {999, 1, 2, 3, -ENOSYS},     /* no such call */
        {9, 0, 4096, 3, -ENODEV},    /* mmap of a file (fd 3) */
    };
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        long a1 = calls[i].nr == 2 ? (long)heap : calls[i].nr == 257 ? -100 : calls[i].a1;
        long a2 = calls[i].nr == 257 ? (long)heap : calls[i].nr == 1 ? (long)heap : calls[i].a2;
        int64_t got = rt_ok(sb, "raw_syscall", RT_ARGS(hl_i64(calls[i].nr), hl_i64(a1), hl_i64(a2),
                                                       hl_i64(calls[i].a3))).u.i64;
        if (got != calls[i].want)
            fail_msg("system call %ld gave %lld, expected %ld", calls[i].nr, (long long)got, calls[i].want);
    }
    /* write(1) goes to the host's print callback, not to this process's stdout */
    assert_int_equal(rt_ok(sb, "raw_syscall", RT_ARGS(hl_i64(1), hl_i64(1), hl_i64((long)heap), hl_i64(0))).u.i64, 0);
    /* kill(this process, SIGKILL) ends the guest's call; this process lives on */
    rt_fails(sb, "raw_syscall", HL_E_GUEST_ABORT, 128 + SIGKILL, "signal 9",
             RT_ARGS(hl_i64(62), hl_i64(getpid()), hl_i64(SIGKILL), hl_i64(0)));
    rt_fails(sb, "raw_syscall", HL_E_GUEST_ABORT, 0, "exit(0)", RT_ARGS(hl_i64(231), hl_i64(0), hl_i64(0), hl_i64(0)));
    /* through the C library: fopen and open fail with ENOENT */
    assert_int_equal(rt_ok(sb, "libc_open", RT_ARGS(hl_string(path))).u.i64, ENOENT * 1000 + ENOENT);
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(2), hl_i32(3))).u.i32, 5);
    hl_sandbox_destroy(sb);
}

/* A host function that forks, and whose child goes on (a pre-fork server's host, say): in the
 * child the guest must never run again, nor anything be written into the parent's sandbox. In-process
 * the kernel turned the child's system-call filter (Syscall User Dispatch) off at the fork, and
 * the guest's memory was shared with the parent's sandbox: a guest resumed there made real system
 * calls as the host, and the child's host-call answer landed in the parent's running call. The
 * child's call ends with HL_E_STATE when the host function returns, and the sandbox is only
 * destroyable there; the parent's call goes on unharmed. With fork() and with _Fork(), which runs
 * no atfork handlers. */
typedef struct forker {
    int use_underscore_fork;
    pid_t pid;      /* what fork() returned (-1 before) */
    int child_code; /* the child's exit status, 128 + the signal that ended it, or -1 */
} forker;

/* Fails when the write end of fds has been written to (by a guest whose system call reached
 * the kernel); closes both ends. */
static void assert_pipe_empty(int fds[2], const char *who)
{
    char buf[16];
    ssize_t n = read(fds[0], buf, sizeof(buf));
    close(fds[0]);
    close(fds[1]);
    if (n > 0)
        fail_msg("%s made a system call that reached the kernel: write(2) of %zd bytes", who, n);
}

static int host_forks(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    (void)args, (void)nargs;
    forker *f = user;
    fflush(NULL);
    f->pid = f->use_underscore_fork ? _Fork() : fork();
    if (f->pid == 0) /* the child's answer would be an error, written where the parent's guest reads */
        return hl_host_call_fail(call, "CHILD WAS HERE");
    if (f->pid > 0) { /* the child is done with its side before the parent's guest goes on */
        int status = 0;
        while (waitpid(f->pid, &status, 0) < 0 && errno == EINTR) {
        }
        f->child_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    }
    result->type = HL_TYPE_I64;
    result->u.i64 = 7;
    return 0;
}

static int forked_child_outcome(hl_sandbox *sb, hl_status st, const hl_error *e)
{
    if (st != HL_E_STATE)
        return 5;
    if (!strstr(e->message, "fork"))
        return 6;
    hl_value w;
    hl_error e2 = HL_ERROR_INIT;
    if (hl_sandbox_call(sb, "add", RT_ARGS(hl_i32(1), hl_i32(2)), &w, &e2) != HL_E_STATE || !strstr(e2.message, "fork"))
        return 7;
    if (hl_sandbox_usable(sb))
        return 8;
    return 0;
}

static void fork_in_host_function(int use_underscore_fork)
{
    hl_config cfg;
    rt_config(&cfg, "");
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    forker f = {use_underscore_fork, -1, -1};
    int fds[2];
    assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("hostileguest"), &cfg, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_hook", HL_TYPE_I64, NULL, 0, host_forks, &f, &err), HL_OK);
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_OK);
    uint64_t heap = rt_ok(sb, "heap_addr", RT_NOARGS).u.u64; /* bytes to write, in-process a host address */
    /* after the host function, write(fds[1], heap, 4): it must never reach the kernel */
    hl_value v;
    hl_status st = hl_sandbox_call(sb, "syscall_after_host",
                                   RT_ARGS(hl_i64(1), hl_i64(fds[1]), hl_i64((int64_t)heap), hl_i64(4)), &v, &err);
    if (f.pid == 0) {
        alarm(20); /* a hang in the child is a failure too */
        int code = forked_child_outcome(sb, st, &err);
        hl_sandbox_destroy(sb);
        _exit(code);
    }
    assert_pipe_empty(fds, "the guest, running on in a forked child,");
    if (st != HL_OK)
        fail_msg("the parent's call failed: %s (the child wrote into its sandbox?)", err.message);
    assert_true(f.pid > 0);
    if (f.child_code != 0)
        fail_msg("the child's sandbox did not refuse as it should (code %d)", f.child_code);
    assert_int_equal(v.u.i64, -EBADF); /* the parent's guest: its own write, to a descriptor it does not have */
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(40), hl_i32(2))).u.i32, 42);
    hl_sandbox_destroy(sb);
}

static void test_fork_in_host_function(void **state)
{
    (void)state;
    fork_in_host_function(0);
    fork_in_host_function(1);
}

/* A child made by _Fork() (no atfork handler runs) that makes sandboxes of its own: in-process
 * the kernel turned the system-call filter off at the fork, and the thread's record of it said
 * on, so the new guest's system calls reached the kernel; on KVM the watchdog's thread is the
 * parent's, so time limits went unenforced. Both hold in the child now. */
static int child_after_underscore_fork(int wfd)
{
    alarm(30);
    hl_config cfg;
    rt_config(&cfg, "max_execution_time = \"100ms\"\n");
    hl_sandbox *sb = NULL;
    hl_error e = HL_ERROR_INIT;
    if (hl_sandbox_create(&sb, rt_guest("hostileguest"), &cfg, &e) != HL_OK || hl_sandbox_initialize(sb, &e) != HL_OK)
        return 2;
    hl_value v;
    uint64_t heap = 0;
    if (hl_sandbox_call(sb, "heap_addr", RT_NOARGS, &v, &e) != HL_OK)
        return 3;
    heap = v.u.u64;
    if (hl_sandbox_call(sb, "raw_syscall", RT_ARGS(hl_i64(1), hl_i64(wfd), hl_i64((int64_t)heap), hl_i64(4)), &v, &e) !=
            HL_OK ||
        v.u.i64 != -EBADF)
        return 4;
    hl_status st = hl_sandbox_call(sb, "spin", RT_NOARGS, &v, &e); /* the time limit, enforced */
    hl_sandbox_destroy(sb);
    return st == HL_E_CANCELLED ? 0 : 5;
}

static void test_sandboxes_after_underscore_fork(void **state)
{
    (void)state;
    hl_sandbox *sb = rt_sandbox("hostileguest", "max_execution_time = \"100ms\"\n");
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(1), hl_i32(2))).u.i32, 3); /* this thread is set up */
    int fds[2];
    assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
    fflush(NULL);
    pid_t pid = _Fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_after_underscore_fork(fds[1]));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_pipe_empty(fds, "a guest in the _Fork() child");
    if (WIFSIGNALED(status))
        fail_msg("the child died of signal %d (SIGALRM: its time limit was not enforced)", WTERMSIG(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(40), hl_i32(2))).u.i32, 42);
    hl_sandbox_destroy(sb);
}

static volatile sig_atomic_t g_app_sigsys;
static void app_sigsys(int sig) { g_app_sigsys += sig == SIGSYS; }

/* In-process sandboxes take SIGSYS (Syscall User Dispatch) but pass any other SIGSYS on to the
 * application's handler, and put themselves back on top when the application replaced them. */
static void test_application_sigsys_handler_kept(void **state)
{
    (void)state;
    struct sigaction app, old;
    memset(&app, 0, sizeof(app));
    app.sa_handler = app_sigsys;
    sigemptyset(&app.sa_mask);
    assert_int_equal(sigaction(SIGSYS, &app, &old), 0);
    for (int round = 1; round <= 2; round++) {
        hl_config cfg;
        rt_config(&cfg, "");
        cfg.execution_mode = HL_MODE_RUN_IN_PROCESS;
        hl_sandbox *sb = rt_sandbox_cfg("hostileguest", &cfg);
        assert_int_equal(raise(SIGSYS), 0);
        assert_int_equal(g_app_sigsys, round);
        /* the guest's own system calls still go to its runtime */
        assert_int_equal(rt_ok(sb, "raw_syscall", RT_ARGS(hl_i64(39), hl_i64(0), hl_i64(0), hl_i64(0))).u.i64, 1);
        assert_int_equal(rt_ok(sb, "libc_open", RT_ARGS(hl_string("/etc/passwd"))).u.i64, ENOENT * 1000 + ENOENT);
        hl_sandbox_destroy(sb);
        assert_int_equal(sigaction(SIGSYS, &app, NULL), 0); /* the application takes SIGSYS back */
    }
    sigaction(SIGSYS, &old, NULL);
}

/* Function tables with a name twice or control characters in a name are refused (both modes). */
static void test_bad_function_tables(void **state)
{
    (void)state;
    static const struct {
        const char *guest, *phrase;
    } cases[] = {
        {"dupnames", "registers `one` twice"},
        {"ctrlnames", "function 2's name has a control character (byte 0x1b at offset 4)"},
    };
    for (size_t i = 0; i < 2; i++) {
        hl_config cfg;
        rt_config(&cfg, "");
        hl_sandbox *sb = NULL;
        hl_error e = HL_ERROR_INIT;
        assert_int_equal(hl_sandbox_create(&sb, rt_guest(cases[i].guest), &cfg, &e), HL_OK);
        assert_int_equal(hl_sandbox_initialize(sb, &e), HL_E_GUEST_PROTOCOL);
        rt_contains(e.message, cases[i].phrase);
        assert_int_equal(hl_sandbox_function_count(sb), 0);
        assert_false(hl_sandbox_usable(sb));
        hl_sandbox_destroy(sb);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_abandoned_exits_do_not_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msrs_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsc_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paravirt_msrs_write_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xsave_state_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_stale_translations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cr3_differs_at_every_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cr8_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_image_pages_stay_private, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_image_copies_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_without_wrmsr_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_exception_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sysenter_is_a_guest_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_nested_or_paravirt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_type_checked, setup, teardown),
        cmocka_unit_test(test_bad_function_tables),
        cmocka_unit_test(test_syscalls_never_reach_the_host),
        cmocka_unit_test(test_application_sigsys_handler_kept),
        cmocka_unit_test(test_fork_in_host_function),
        cmocka_unit_test(test_sandboxes_after_underscore_fork),
    };
    return cmocka_run_group_tests_name(rt_group_name("hostile"), tests, NULL, NULL);
}
