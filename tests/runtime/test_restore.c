/* test_restore.c - restoring the snapshot costs what the call dirtied, not the sandbox's size. */
#include <stdlib.h>
#include <string.h>

#include "rt.h"

/* Pages a call dirties besides the ones it is asked to: its stack, the input and output
 * buffers, the guest runtime's globals. A small constant. */
#define OVERHEAD 16

/* A repeated call restores the same pages as the first time; on KVM pages that every call writes
 * are left writable after a few calls and copied back at every restore, written or not, so a
 * repeat may restore fewer (pages written only at the first call), never more, and never fewer
 * than it changed (at least one: the result in the output buffer). */
#define assert_repeat(got, first, changed)                                                         \
    do {                                                                                           \
        uint64_t got_ = (got);                                                                     \
        if (rt_mode() == HL_MODE_RUN_IN_PROCESS)                                                   \
            assert_int_equal(got_, (first));                                                       \
        else                                                                                       \
            assert_true(got_ >= (changed) && got_ <= (first));                                     \
    } while (0)

static uint64_t restored_after(hl_sandbox *sb, const char *fn, const hl_value *args, size_t n)
{
    rt_ok_at(__FILE__, __LINE__, sb, fn, args, n);
    hl_sandbox_stats st = HL_SANDBOX_STATS_INIT;
    assert_int_equal(hl_sandbox_get_stats(sb, &st), HL_OK);
    return st.last_restore_pages;
}

static void dirty_pages_follow(const char *toml, uint64_t heap)
{
    hl_sandbox *sb = rt_sandbox("simpleguest", toml);
    assert_int_equal(hl_sandbox_layout(sb)->heap_size, heap);
    uint64_t base = restored_after(sb, "nothing", RT_NOARGS);
    assert_true(base >= 1); /* at least the output buffer's result header */
    assert_true(base < OVERHEAD);
    const uint64_t ns[] = {1, 16, 256};
    for (size_t i = 0; i < 3; i++) {
        uint64_t pages = restored_after(sb, "dirty_pages", RT_ARGS(hl_u64(ns[i])));
        if (pages < ns[i] || pages >= ns[i] + OVERHEAD)
            fail_msg("dirty_pages(%llu) in a %llu-byte sandbox: %llu pages restored",
                     (unsigned long long)ns[i], (unsigned long long)hl_sandbox_layout(sb)->total_size,
                     (unsigned long long)pages);
        hl_sandbox_stats st = HL_SANDBOX_STATS_INIT;
        assert_int_equal(hl_sandbox_get_stats(sb, &st), HL_OK);
        print_message("heap %llu KiB: dirty_pages(%llu) restored %llu pages in %llu us (a call alone: %llu)\n",
                      (unsigned long long)(heap >> 10), (unsigned long long)ns[i], (unsigned long long)pages,
                      (unsigned long long)(st.last_restore_ns / 1000), (unsigned long long)base);
        /* the same call again costs the same: the restore re-armed exactly those pages */
        assert_repeat(restored_after(sb, "dirty_pages", RT_ARGS(hl_u64(ns[i]))), pages, ns[i]);
        /* and a call that dirties nothing is back to the base cost */
        assert_repeat(restored_after(sb, "nothing", RT_NOARGS), base, 1);
    }
    /* the restored memory is the snapshot's: the heap is whole, the static is 7 */
    assert_int_equal(rt_ok(sb, "heap_free", RT_NOARGS).u.u64, rt_heap_free_initial(heap));
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
    hl_sandbox_stats st = HL_SANDBOX_STATS_INIT;
    assert_int_equal(hl_sandbox_get_stats(sb, &st), HL_OK);
    assert_int_equal(st.calls, 1 + 3 * 3 + 2);
    hl_sandbox_destroy(sb);
}

/* small: a 2 MiB heap (the default 128 KiB holds only 32 pages) */
static void test_small_sandbox(void **state) { dirty_pages_follow("heap_size_override = \"2MiB\"\n", 2 << 20); }

static void test_256mib_sandbox(void **state)
{
    dirty_pages_follow("heap_size_override = \"256MiB\"\n", 256ull << 20);
}

static void test_large_dirty_set(void **state)
{
    /* 4096 pages (16 MiB) dirtied and restored, many times; the guest sees the snapshot each time */
    /* 4096 shadow-paging faults under software emulation can take over a second on a loaded machine */
    hl_sandbox *sb = rt_sandbox("simpleguest", "heap_size_override = \"32MiB\"\nmax_execution_time = \"20s\"\n");
    for (int round = 0; round < 5; round++) {
        uint64_t pages = restored_after(sb, "dirty_pages", RT_ARGS(hl_u64(4096)));
        /* under KVM with AMD nested paging, the page-table pages the guest's walks go through are
         * logged as dirty too: one per 2 MiB of memory touched (8 here) */
        if (pages < 4096 || pages >= 4096 + OVERHEAD + 4096 / 512)
            fail_msg("round %d: dirty_pages(4096) restored %llu pages", round, (unsigned long long)pages);
        assert_int_equal(rt_ok(sb, "heap_free", RT_NOARGS).u.u64, rt_heap_free_initial(32u << 20));
    }
    rt_fails(sb, "dirty_pages", HL_E_GUEST_ERROR, 15, "only 8192 heap pages", RT_ARGS(hl_u64(8193)));
    hl_sandbox_destroy(sb);
}

/* Calls that dirty a run long enough to be dropped rather than copied (4096 pages), restore after
 * restore: on KVM its pages became hot (left writable) at the third, while the drop made them map
 * the snapshot again; so every later restore, even of a call that wrote nothing there, copied the
 * 16 MiB back and made them private copies again. Later calls restore what they dirty. */
static void test_dropped_runs_do_not_stay_hot(void **state)
{
    (void)state;
    hl_sandbox *sb = rt_sandbox("simpleguest", "heap_size_override = \"32MiB\"\nmax_execution_time = \"20s\"\n");
    uint64_t base = restored_after(sb, "nothing", RT_NOARGS);
    for (int round = 0; round < 4; round++)
        assert_true(restored_after(sb, "dirty_pages", RT_ARGS(hl_u64(4096))) >= 4096);
    for (int i = 0; i < 3; i++) {
        /* the page-table pages of the heap's 16 MiB may stay hot: one per 2 MiB */
        uint64_t pages = restored_after(sb, "nothing", RT_NOARGS);
        if (pages >= base + 4096 / 512 + OVERHEAD)
            fail_msg("call %d after the large ones restored %llu pages (%llu at the first)", i,
                     (unsigned long long)pages, (unsigned long long)base);
    }
    assert_int_equal(rt_ok(sb, "heap_free", RT_NOARGS).u.u64, rt_heap_free_initial(32u << 20));
    hl_sandbox_destroy(sb);
}

static void test_context_defers_restore(void **state)
{
    hl_sandbox *sb = rt_sandbox("simpleguest", "");
    hl_error err = HL_ERROR_INIT;
    uint64_t base = restored_after(sb, "nothing", RT_NOARGS);
    hl_sandbox_stats before = HL_SANDBOX_STATS_INIT, after = HL_SANDBOX_STATS_INIT;
    assert_int_equal(hl_sandbox_get_stats(sb, &before), HL_OK);
    assert_int_equal(hl_sandbox_context_begin(sb, &err), HL_OK);
    rt_ok(sb, "dirty_pages", RT_ARGS(hl_u64(16)));
    rt_ok(sb, "dirty_pages", RT_ARGS(hl_u64(24)));
    rt_ok(sb, "set_static", RT_ARGS(hl_i64(3)));
    assert_int_equal(hl_sandbox_get_stats(sb, &after), HL_OK);
    assert_int_equal(after.last_restore_pages, before.last_restore_pages); /* nothing restored in between */
    assert_int_equal(after.calls, before.calls + 3);
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 3);
    assert_int_equal(hl_sandbox_context_end(sb, &err), HL_OK);
    assert_int_equal(hl_sandbox_get_stats(sb, &after), HL_OK);
    /* one restore for all the calls: the union of what they dirtied */
    assert_true(after.last_restore_pages >= 24);
    assert_true(after.last_restore_pages < 24 + 2 * OVERHEAD);
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
    assert_repeat(restored_after(sb, "nothing", RT_NOARGS), base, 1);
    hl_sandbox_destroy(sb);
}

static void test_restore_after_failures(void **state)
{
    /* failed calls are restored as cheaply as good ones, and completely */
    hl_sandbox *sb = rt_sandbox("simpleguest", "max_execution_time = \"50ms\"\nmax_wait_for_cancellation = \"255ms\"\n");
    uint64_t base = restored_after(sb, "nothing", RT_NOARGS);
    hl_value v;
    hl_error err = HL_ERROR_INIT;
    hl_sandbox_stats st = HL_SANDBOX_STATS_INIT;
    const char *fns[] = {"panic", "write_readonly", "spin"};
    const hl_value arg = hl_string("p");
    for (size_t i = 0; i < 3; i++) {
        assert_int_not_equal(hl_sandbox_call(sb, fns[i], &arg, i == 0, &v, &err), HL_OK);
        assert_int_equal(hl_sandbox_get_stats(sb, &st), HL_OK);
        assert_true(st.last_restore_pages < OVERHEAD);
        assert_repeat(restored_after(sb, "nothing", RT_NOARGS), base, 1);
    }
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
    hl_sandbox_destroy(sb);
}

/* Cancellations that land while the backend handles a first write to a page (the dirty-page
 * fault) must not leave that page writable but untracked: it would then escape every restore. */
static void test_cancel_during_dirty_tracking(void **state)
{
    hl_sandbox *sb = rt_sandbox("simpleguest", "heap_size_override = \"8MiB\"\nmax_execution_time = \"1ms\"\n"
                                               "max_wait_for_cancellation = \"255ms\"\n");
    const uint64_t pages = 2048;
    hl_value v;
    hl_error e = HL_ERROR_INIT;
    unsigned cancelled = 0;
    for (int i = 0; i < 300; i++) {
        hl_status st = hl_sandbox_call(sb, "dirty_pages", RT_ARGS(hl_u64(pages)), &v, &e);
        assert_true(st == HL_OK || st == HL_E_CANCELLED);
        cancelled += st == HL_E_CANCELLED;
    }
    assert_true(cancelled > 0);
    /* every heap page must read as in the snapshot (0) again */
    uint64_t heap = hl_sandbox_layout(sb)->base + hl_sandbox_layout(sb)->region[HL_REGION_HEAP].offset;
    unsigned leaked = 0;
    for (uint64_t p = 0; p < pages; p++) {
        hl_status st;
        do
            st = hl_sandbox_call(sb, "read_address", RT_ARGS(hl_u64(heap + p * 4096 + 64)), &v, &e);
        while (st == HL_E_CANCELLED);
        assert_int_equal(st, HL_OK);
        leaked += v.u.i32 != 0;
    }
    if (leaked)
        fail_msg("%u of %llu heap pages kept a cancelled call's writes after the restore (%u calls cancelled)", leaked,
                 (unsigned long long)pages, cancelled);
    hl_sandbox_destroy(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_sandbox),
        cmocka_unit_test(test_256mib_sandbox),
        cmocka_unit_test(test_large_dirty_set),
        cmocka_unit_test(test_dropped_runs_do_not_stay_hot),
        cmocka_unit_test(test_context_defers_restore),
        cmocka_unit_test(test_restore_after_failures),
        cmocka_unit_test(test_cancel_during_dirty_tracking),
    };
    return rt_run("restore", tests);
}
