/* test_restore_exact.c - after every call the whole memory is the snapshot again, byte for byte: pages the guest dirtied, pages the host wrote, pages never touched, in every region, after every kind of ending. */
#include <dirent.h>
#include <errno.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "rt.h"
#include "sandbox/imageshare.h"
#include "sandbox/sandbox_internal.h"

/* The region holding page p of sb's memory, for a failure message. */
static const char *region_of_page(const hl_sandbox *sb, int64_t p)
{
    const hl_layout *l = hl_sandbox_layout(sb);
    uint64_t off = (uint64_t)p * HL_PAGE_SIZE;
    for (int r = 0; r < HL_REGION_COUNT; r++)
        if (off >= l->region[r].offset && off - l->region[r].offset < l->region[r].size)
            return hl_region_name((hl_region_id)r);
    return "?";
}

#define expect_snapshot(sb, after) expect_snapshot_at(__LINE__, (sb), (after))
static void expect_snapshot_at(int line, hl_sandbox *sb, const char *after)
{
    int64_t p = hl_sb_memory_diff(sb);
    if (p != -1)
        fail_msg("line %d: after %s, page %lld (%s) differs from the snapshot", line, after, (long long)p,
                 p >= 0 ? region_of_page(sb, p) : "-");
}

static void test_every_page_class(void **state)
{
    (void)state;
    hl_sandbox *sb = rt_sandbox("simpleguest", "heap_size_override = \"20MiB\"\ninput_data_size = \"128KiB\"\n"
                                               "output_data_size = \"64KiB\"\nmax_execution_time = \"5s\"\n"
                                               "max_wait_for_cancellation = \"255ms\"\n");
    expect_snapshot(sb, "initialisation");
    rt_ok(sb, "nothing", RT_NOARGS);
    expect_snapshot(sb, "nothing");
    /* the host writes the input region (a large argument), the guest the output region */
    static unsigned char big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7 + 1);
    rt_buf_eq(rt_ok(sb, "echo_bytes", RT_ARGS(hl_bytes(big, 60000))), HL_TYPE_BYTES, big, 60000);
    expect_snapshot(sb, "echo_bytes (host-written input, guest-written output)");
    /* heap pages, stack pages, static data */
    rt_ok(sb, "dirty_pages", RT_ARGS(hl_u64(300)));
    expect_snapshot(sb, "dirty_pages(300)");
    rt_ok(sb, "dirty_pages", RT_ARGS(hl_u64(4200))); /* on KVM a run long enough to be dropped */
    expect_snapshot(sb, "dirty_pages(4200)");
    rt_ok(sb, "dirty_pages", RT_ARGS(hl_u64(4200))); /* the dropped pages read the snapshot again */
    expect_snapshot(sb, "dirty_pages(4200) again");
    rt_ok(sb, "stack_alloc", RT_ARGS(hl_u64(48 * 1024)));
    expect_snapshot(sb, "stack_alloc(48 KiB)");
    rt_ok(sb, "set_static", RT_ARGS(hl_i64(5)));
    expect_snapshot(sb, "set_static");
    /* pages every call writes (the static data, the stack, the output) are left writable after a
     * few calls in a row (KVM: no write fault per call) and compared at every restore instead:
     * still restored, whatever the next call leaves in them */
    for (int i = 0; i < 8; i++) {
        rt_ok(sb, "set_static", RT_ARGS(hl_i64(100 + i)));
        expect_snapshot(sb, "set_static, calls in a row");
        assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
        expect_snapshot(sb, "get_static, calls in a row");
    }
    rt_ok(sb, "huge_output", RT_ARGS(hl_u32(30000)));
    expect_snapshot(sb, "huge_output");
    /* every abnormal ending: guest error, abort, panic, faults, cancellation */
    rt_fails(sb, "fail_with", HL_E_GUEST_ERROR, RT_ANY_CODE, NULL, RT_ARGS(hl_i32(3), hl_string("x")));
    expect_snapshot(sb, "a guest error (guest error region)");
    rt_fails(sb, "abort_with", HL_E_GUEST_ABORT, RT_ANY_CODE, NULL, RT_ARGS(hl_u32(9), hl_string("bye")));
    expect_snapshot(sb, "an abort");
    rt_fails(sb, "panic", HL_E_GUEST_PANIC, RT_ANY_CODE, NULL, RT_ARGS(hl_string("panic context")));
    expect_snapshot(sb, "a panic (panic context region)");
    rt_fails(sb, "write_readonly", HL_E_GUEST_FAULT, RT_ANY_CODE, NULL, RT_NOARGS);
    expect_snapshot(sb, "a page fault");
    rt_fails(sb, "divide_by_zero", HL_E_GUEST_FAULT, RT_ANY_CODE, NULL, RT_ARGS(hl_i32(0)));
    expect_snapshot(sb, "a divide error");
    rt_fails(sb, "recurse", HL_E_STACK_OVERFLOW, RT_ANY_CODE, NULL, RT_ARGS(hl_u32(1000000)));
    expect_snapshot(sb, "a stack overflow");
    rt_fails(sb, "spin", HL_E_CANCELLED, RT_ANY_CODE, NULL, RT_NOARGS);
    expect_snapshot(sb, "a cancelled call");
    /* a call context keeps state between calls; its end restores everything at once */
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_context_begin(sb, &err), HL_OK);
    rt_ok(sb, "dirty_pages", RT_ARGS(hl_u64(40)));
    rt_ok(sb, "set_static", RT_ARGS(hl_i64(11)));
    rt_buf_eq(rt_ok(sb, "echo_bytes", RT_ARGS(hl_bytes(big, 5000))), HL_TYPE_BYTES, big, 5000);
    assert_true(hl_sb_memory_diff(sb) >= 0); /* the calls' state is there */
    assert_int_equal(hl_sandbox_context_end(sb, &err), HL_OK);
    expect_snapshot(sb, "a call context's end");
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
    hl_sandbox_destroy(sb);
}

static void test_host_function_regions(void **state)
{
    (void)state;
    rt_hosts h = {0};
    hl_sandbox *sb = rt_callback_sandbox("", &h);
    expect_snapshot(sb, "initialisation");
    assert_int_equal(rt_ok(sb, "add_via_host", RT_ARGS(hl_i32(2), hl_i32(3))).u.i32, 5);
    expect_snapshot(sb, "a host call (the host writes its result into the input region)");
    char want[301];
    rt_expected_exception(want, 300);
    rt_buf_eq(rt_ok(sb, "call_failing", RT_ARGS(hl_i32(300))), HL_TYPE_STRING, want, 300);
    expect_snapshot(sb, "a failed host call (the host writes the host exception region)");
    rt_fails(sb, "call_unregistered", HL_E_GUEST_ERROR, RT_ANY_CODE, NULL, RT_ARGS(hl_i32(1)));
    expect_snapshot(sb, "a call to an unregistered host function");
    hl_sandbox_destroy(sb);
}

/* The library's own count of its system calls: the same call costs the same every time once warm,
 * the total adds up, and a call that dirties more pages in-process costs more (one fault each).
 * The first call may count one more: the watchdog's wake-up, when its deadline is earlier than
 * the initialisation's; on KVM the first HL_KVM_HOT_AFTER restores protect the pages the calls
 * write again (KVM_CLEAR_DIRTY_LOG), later ones leave them writable and make no such call. */
static void test_syscall_counts(void **state)
{
    (void)state;
    hl_sandbox *sb = rt_sandbox("simpleguest", "");
    hl_sandbox_stats a = HL_SANDBOX_STATS_INIT, b = HL_SANDBOX_STATS_INIT;
    for (int i = 0; i < 5; i++)
        rt_ok(sb, "nothing", RT_NOARGS);
    assert_int_equal(hl_sandbox_get_stats(sb, &a), HL_OK);
    rt_ok(sb, "nothing", RT_NOARGS);
    assert_int_equal(hl_sandbox_get_stats(sb, &b), HL_OK);
    assert_true(a.last_call_syscalls >= (rt_mode() == HL_MODE_RUN_IN_HYPERVISOR ? 2u : 1u)); /* KVM: a reset and KVM_RUN */
    assert_int_equal(b.last_call_syscalls, a.last_call_syscalls);
    assert_int_equal(b.syscalls - a.syscalls, b.last_call_syscalls);
    rt_ok(sb, "dirty_pages", RT_ARGS(hl_u64(8)));
    assert_int_equal(hl_sandbox_get_stats(sb, &b), HL_OK);
    assert_true(b.last_call_syscalls >= a.last_call_syscalls);
    if (rt_mode() == HL_MODE_RUN_IN_PROCESS) /* one scan finds them all, one madvise per run drops them */
        assert_true(b.last_call_syscalls <= a.last_call_syscalls + 1);
    hl_sandbox_destroy(sb);
    if (rt_mode() != HL_MODE_RUN_IN_PROCESS) return;
    /* the same in a large sandbox: nothing per page, whatever its size */
    sb = rt_sandbox("simpleguest", "heap_size_override = \"128MiB\"\n");
    rt_ok(sb, "nothing", RT_NOARGS);
    assert_int_equal(hl_sandbox_get_stats(sb, &a), HL_OK);
    rt_ok(sb, "dirty_pages", RT_ARGS(hl_u64(8)));
    assert_int_equal(hl_sandbox_get_stats(sb, &b), HL_OK);
    assert_int_equal(b.last_restore_pages, a.last_restore_pages + 8);
    assert_true(b.last_call_syscalls >= a.last_call_syscalls && b.last_call_syscalls <= a.last_call_syscalls + 1);
    hl_sandbox_destroy(sb);
}

/* How many of this process's file descriptors are sandbox memfds (offers included). */
static int sandbox_memfds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    char path[300], target[256];
    while ((e = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len > 0) {
            target[len] = 0;
            n += strstr(target, "memfd:hyperlight-sandbox") != NULL;
        }
    }
    closedir(d);
    return n;
}

/* KVM: sandboxes of one guest and layout share the snapshot pages their initialisations left
 * equal. Each such page is mapped from the first sandbox's sealed snapshot and the sandbox's own
 * copy is given back; what a sandbox writes there stays its own, and its restore puts back its
 * own snapshot, also after the sandbox that offered the pages is gone. */
static void test_snapshot_pages_shared(void **state)
{
    (void)state;
    if (rt_mode() != HL_MODE_RUN_IN_HYPERVISOR)
        skip();
    const char *cfg = "heap_size_override = \"18MiB\"\n"; /* a layout no other test here uses */
    int memfds = sandbox_memfds();
    hl_sandbox *a = rt_sandbox("simpleguest", cfg);
    hl_sandbox *b = rt_sandbox("simpleguest", cfg);
    assert_null(a->mem.pool);
    assert_non_null(a->mem.pool_reg); /* a offered its snapshot... */
    assert_ptr_equal(b->mem.pool, a->mem.pool_reg); /* ...and b maps pages of it */
    assert_null(b->mem.pool_reg);
    uint64_t npages = b->mem.size / HL_PAGE_SIZE, shared = 0;
    uint8_t *data = calloc(npages, 1);
    assert_non_null(data);
    assert_int_equal(hl_fd_data_pages(b->mem.fd, 0, b->mem.size, data, npages), 1);
    for (uint64_t p = 0; p < npages; p++) {
        if (b->mem.pool_page[p] != HL_POOL_EQUAL)
            continue;
        shared++;
        if (data[p])
            fail_msg("page %llu (%s) is shared but b keeps its own copy too", (unsigned long long)p,
                     region_of_page(b, (int64_t)p));
        if (memcmp(b->snapshot + p * HL_PAGE_SIZE, a->snapshot + p * HL_PAGE_SIZE, HL_PAGE_SIZE) != 0 ||
            memcmp(b->mem.host + p * HL_PAGE_SIZE, a->snapshot + p * HL_PAGE_SIZE, HL_PAGE_SIZE) != 0)
            fail_msg("page %llu (%s) is shared but not a's", (unsigned long long)p, region_of_page(b, (int64_t)p));
    }
    free(data);
    /* what stays its own differs from a's (the random bytes its C library asked for); the stack
     * cookie, one per process, is shared */
    uint64_t cookie = hl_sandbox_layout(b)->region[HL_REGION_STACK].offset / HL_PAGE_SIZE;
    assert_int_equal(b->mem.pool_page[cookie], HL_POOL_EQUAL);
    uint64_t own = 0;
    for (uint64_t p = 0; p < npages; p++) {
        if (b->mem.pool_page[p] != HL_POOL_OWN)
            continue;
        own++;
        if (memcmp(b->snapshot + p * HL_PAGE_SIZE, a->snapshot + p * HL_PAGE_SIZE, HL_PAGE_SIZE) == 0)
            fail_msg("page %llu (%s) is b's own but equal to a's", (unsigned long long)p, region_of_page(b, (int64_t)p));
    }
    assert_true(own >= 1); /* musl's canary, at least */
    /* b's snapshot as it is now: nothing a, b or a third sandbox does may change it */
    uint8_t *b_snap = malloc(b->mem.size);
    assert_non_null(b_snap);
    memcpy(b_snap, b->snapshot, b->mem.size);
    print_message("b maps %llu of its snapshot's pages from a's\n", (unsigned long long)shared);
    assert_true(shared >= 4);
    expect_snapshot(b, "initialisation");
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_context_begin(a, &err), HL_OK);
    rt_ok(a, "set_static", RT_ARGS(hl_i64(42)));
    rt_ok(a, "dirty_pages", RT_ARGS(hl_u64(300)));
    assert_int_equal(rt_ok(b, "get_static", RT_NOARGS).u.i64, 7);
    rt_ok(b, "set_static", RT_ARGS(hl_i64(9)));
    rt_ok(b, "dirty_pages", RT_ARGS(hl_u64(300)));
    expect_snapshot(b, "writes in b while a keeps its writes");
    assert_int_equal(rt_ok(b, "get_static", RT_NOARGS).u.i64, 7);
    assert_int_equal(rt_ok(a, "get_static", RT_NOARGS).u.i64, 42);
    assert_int_equal(hl_sandbox_context_end(a, &err), HL_OK);
    expect_snapshot(a, "the end of a's call context");
    assert_int_equal(rt_ok(a, "get_static", RT_NOARGS).u.i64, 7);
    /* the offer outlives the sandbox that made it */
    hl_sandbox_destroy(a);
    rt_ok(b, "dirty_pages", RT_ARGS(hl_u64(4200))); /* long runs are dropped: they read the snapshot again */
    expect_snapshot(b, "dirty_pages(4200) after a is gone");
    assert_int_equal(rt_ok(b, "get_static", RT_NOARGS).u.i64, 7);
    hl_sandbox *c = rt_sandbox("simpleguest", cfg);
    assert_ptr_equal(c->mem.pool, b->mem.pool);
    assert_int_equal(rt_ok(c, "get_static", RT_NOARGS).u.i64, 7);
    rt_ok(c, "set_static", RT_ARGS(hl_i64(11)));
    expect_snapshot(c, "set_static in a third sandbox");
    assert_memory_equal(b->snapshot, b_snap, b->mem.size);
    free(b_snap);
    hl_sandbox_destroy(b);
    hl_sandbox_destroy(c);
    /* no offer outlives the last sandbox that maps it: what guests read into it goes too */
    assert_int_equal(sandbox_memfds(), memfds);
}

/* In-process too, the code and read-only data of a guest are one copy for the process's
 * sandboxes, and not in the sandbox's memfd or its snapshot. After the snapshot a sandbox has one
 * view of its memory, the guest's, which the host uses too: a private copy-on-write mapping of
 * the sealed snapshot. What a debugger writes there (through ptrace, as here through
 * /proc/self/mem, which ignores the page's protection) becomes that sandbox's private copy of the
 * page: it reaches neither another sandbox nor the snapshot, and the restore drops it. */
static void test_image_shared_inproc(void **state)
{
    (void)state;
    if (rt_mode() != HL_MODE_RUN_IN_PROCESS)
        skip();
    hl_sandbox *a = rt_sandbox("simpleguest", "");
    hl_sandbox *b = rt_sandbox("simpleguest", "");
    assert_non_null(a->mem.share);
    assert_ptr_equal(a->mem.share, b->mem.share);
    assert_true(a->mem.host_in_view);
    assert_ptr_equal(a->mem.host, (uint8_t *)(uintptr_t)hl_sandbox_layout(a)->base);
    uint64_t npages = a->mem.size / HL_PAGE_SIZE, last = 0, shared = 0;
    uint8_t *data = calloc(npages, 1), *img = calloc(npages, 1);
    assert_non_null(data);
    assert_non_null(img);
    assert_int_equal(hl_fd_data_pages(a->mem.fd, 0, a->mem.size, data, npages), 1);
    hl_image_share_data_pages(&a->mem, img, npages);
    for (uint64_t p = 0; p < npages; p++) {
        if (!img[p])
            continue;
        shared++;
        last = p;
        if (data[p])
            fail_msg("image page %llu is shared but in the sandbox's memfd too", (unsigned long long)p);
        if (memcmp(a->snapshot + p * HL_PAGE_SIZE, a->mem.host + p * HL_PAGE_SIZE, HL_PAGE_SIZE) != 0)
            fail_msg("image page %llu: the snapshot differs from the memory", (unsigned long long)p);
    }
    free(data);
    free(img);
    assert_true(shared >= 4);
    /* a breakpoint's worth of writing into a's read-only code, as a debugger does */
    uint8_t *ga = a->mem.host + last * HL_PAGE_SIZE + HL_PAGE_SIZE - 1;
    uint8_t *gb = b->mem.host + last * HL_PAGE_SIZE + HL_PAGE_SIZE - 1;
    uint8_t was = *ga, patch = (uint8_t)(was ^ 0xCC);
    assert_int_equal(*gb, was);
    int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    assert_true(mem >= 0);
    assert_int_equal(pwrite(mem, &patch, 1, (off_t)(uintptr_t)ga), 1);
    close(mem);
    assert_int_equal(*ga, patch);
    assert_int_equal(*gb, was);                                                 /* not in b */
    assert_int_equal(a->snapshot[last * HL_PAGE_SIZE + HL_PAGE_SIZE - 1], was); /* not in the snapshot */
    rt_ok(a, "dirty_pages", RT_ARGS(hl_u64(16)));
    expect_snapshot(a, "dirty_pages(16) with a shared image");
    assert_int_equal(*ga, was); /* and not in the next call: the restore dropped it */
    assert_int_equal(rt_ok(b, "get_static", RT_NOARGS).u.i64, 7);
    expect_snapshot(b, "get_static with a shared image");
    hl_sandbox_destroy(a);
    assert_int_equal(rt_ok(b, "echo_i32", RT_ARGS(hl_i32(-5))).u.i32, -5);
    hl_sandbox_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_page_class),
        cmocka_unit_test(test_host_function_regions),
        cmocka_unit_test(test_syscall_counts),
        cmocka_unit_test(test_snapshot_pages_shared),
        cmocka_unit_test(test_image_shared_inproc),
    };
    return cmocka_run_group_tests_name(rt_mode_tag(), tests, NULL, NULL);
}
