/* test_settings.c - every hyperfile key, set from a hyperfile string, observed to take effect in a sandbox. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt.h"

static uint64_t align8(uint64_t x) { return (x + 7u) & ~(uint64_t)7u; }

/* The encoded size of a call, from abi.h: hl_msg_call and the name with its NUL padded to 8,
 * then per argument an hl_msg_value and its payload (8 bytes, or len + NUL padded to 8). */
static uint64_t call_size(const char *name, const hl_value *args, size_t n)
{
    uint64_t size = align8(sizeof(hl_msg_call) + strlen(name) + 1);
    for (size_t i = 0; i < n; i++)
        size += sizeof(hl_msg_value) + (args[i].type == HL_TYPE_STRING || args[i].type == HL_TYPE_BYTES
                                             ? align8(args[i].u.buf.len + 1)
                                             : 8);
    return size;
}

static uint64_t region(hl_sandbox *sb, const char *name)
{
    return rt_ok(sb, "region_size", RT_ARGS(hl_string(name))).u.u64;
}

static void input_boundary(uint64_t limit)
{
    char toml[64];
    snprintf(toml, sizeof(toml), "input_data_size = %llu\n", (unsigned long long)limit);
    hl_sandbox *sb = rt_sandbox("simpleguest", toml);
    assert_int_equal(region(sb, "input"), limit);
    /* the largest echo_bytes call that fits: its encoding is limit rounded down to 8 */
    uint64_t fixed = align8(sizeof(hl_msg_call) + strlen("echo_bytes") + 1) + sizeof(hl_msg_value);
    size_t len = (size_t)((limit & ~7ull) - fixed - 1);
    uint8_t *data = malloc(len + 8);
    for (size_t i = 0; i < len + 8; i++)
        data[i] = (uint8_t)(i * 7);
    hl_value arg = hl_bytes(data, len);
    assert_int_equal(call_size("echo_bytes", &arg, 1), limit & ~7ull);
    rt_buf_eq(rt_ok(sb, "echo_bytes", &arg, 1), HL_TYPE_BYTES, data, len);
    /* one byte more needs 8 more bytes of encoding, which do not fit */
    arg = hl_bytes(data, len + 1);
    assert_true(call_size("echo_bytes", &arg, 1) > limit);
    char want[160];
    snprintf(want, sizeof(want), "needs %llu bytes, more than input_data_size (%llu bytes): raise input_data_size",
             (unsigned long long)call_size("echo_bytes", &arg, 1), (unsigned long long)limit);
    rt_fails(sb, "echo_bytes", HL_E_TOO_LARGE, 0, want, &arg, 1);
    /* the sandbox is fine afterwards */
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(1), hl_i32(1))).u.i32, 2);
    free(data);
    hl_sandbox_destroy(sb);
}

static void test_input_data_size(void **state)
{
    input_boundary(1024);
    input_boundary(4100); /* not a multiple of 8: the largest call is 4096 bytes */
}

static void test_output_data_size(void **state)
{
    hl_sandbox *sb = rt_sandbox("simpleguest", "output_data_size = 2048\n");
    assert_int_equal(region(sb, "output"), 2048);
    /* a string result: hl_msg_result, hl_msg_value, len + NUL padded to 8 */
    uint32_t max = 2048 - sizeof(hl_msg_result) - sizeof(hl_msg_value) - 1;
    assert_int_equal(max, 2023);
    char *want = rt_pattern(max, 0);
    rt_buf_eq(rt_ok(sb, "huge_output", RT_ARGS(hl_u32(max))), HL_TYPE_STRING, want, max);
    rt_fails(sb, "huge_output", HL_E_GUEST_ERROR, 15,
             "the result of `huge_output` (2024 bytes) does not fit in output_data_size (2048 bytes)",
             RT_ARGS(hl_u32(max + 1)));
    /* the guest's printf is bounded by it too: a log message is an 8-byte header and the text */
    rt_print cap = {.len = 0};
    hl_sandbox_set_print(sb, rt_print_capture, &cap);
    char *text = rt_pattern(3000, 5);
    assert_int_equal(rt_ok(sb, "print", RT_ARGS(hl_string(text))).u.i32, 2048 - 9);
    assert_int_equal(cap.len, 2048 - 9);
    assert_memory_equal(cap.text, text, 2048 - 9);
    rt_buf_eq(rt_ok(sb, "huge_output", RT_ARGS(hl_u32(10))), HL_TYPE_STRING, want, 10);
    free(text);
    free(want);
    hl_sandbox_destroy(sb);
}

/* The guest's function table comes back in the output buffer at initialisation. */
static void test_output_holds_function_table(void **state)
{
    hl_config cfg;
    rt_config(&cfg, "output_data_size = 1730\n");
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("simpleguest"), &cfg, &err), HL_OK);
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_E_TOO_LARGE);
    rt_contains(err.message, "the guest's table of 40 functions needs 1731 bytes, more than output_data_size "
                             "(1730 bytes): raise output_data_size");
    hl_sandbox_destroy(sb);
    sb = rt_sandbox("simpleguest", "output_data_size = 1731\n");
    assert_int_equal(hl_sandbox_function_count(sb), 40);
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(1), hl_i32(2))).u.i32, 3);
    hl_sandbox_destroy(sb);
}

static int host_nop(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    return 0;
}

/* A sandbox with function_definition_size = 256 and host functions of these names: initialise. */
static hl_status init_with_hosts(const char *const *names, size_t n, hl_error *err, uint64_t *table_region)
{
    hl_config cfg;
    rt_config(&cfg, "function_definition_size = 256\n");
    hl_sandbox *sb = NULL;
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("simpleguest"), &cfg, err), HL_OK);
    const hl_type params[] = {HL_TYPE_I32, HL_TYPE_STRING};
    for (size_t i = 0; i < n; i++)
        assert_int_equal(hl_sandbox_register(sb, names[i], HL_TYPE_VOID, params, i % 3, host_nop, NULL, err), HL_OK);
    hl_status st = hl_sandbox_initialize(sb, err);
    if (st == HL_OK)
        *table_region = region(sb, "host_function_definitions");
    hl_sandbox_destroy(sb);
    return st;
}

static void test_function_definition_size(void **state)
{
    /* 16-byte header + 32 bytes per definition + names with their NULs: 16 + 6 * 32 + 6 * 8 = 256 */
    assert_int_equal(sizeof(hl_host_fn_table), 16);
    assert_int_equal(sizeof(hl_fn_def), 32);
    const char *fit[] = {"host_f0", "host_f1", "host_f2", "host_f3", "host_f4", "host_f5"};
    hl_error err = HL_ERROR_INIT;
    uint64_t table = 0;
    assert_int_equal(init_with_hosts(fit, 6, &err, &table), HL_OK);
    assert_int_equal(table, 256);
    const char *longer[] = {"host_f0", "host_f1", "host_f2", "host_f3", "host_f4", "host_f55"};
    assert_int_equal(init_with_hosts(longer, 6, &err, &table), HL_E_TOO_LARGE);
    rt_contains(err.message, "the table of 6 host functions needs 257 bytes, more than function_definition_size "
                             "(256 bytes): raise function_definition_size");
    const char *more[] = {"host_f0", "host_f1", "host_f2", "host_f3", "host_f4", "host_f5", "f"};
    assert_int_equal(init_with_hosts(more, 7, &err, &table), HL_E_TOO_LARGE);
    rt_contains(err.message, "the table of 7 host functions needs 290 bytes");
    /* one fewer works */
    assert_int_equal(init_with_hosts(more, 6, &err, &table), HL_OK);
}

/* call_failing(n): the guest reads host_fail's n-letter message from the host exception region. */
static void exception_truncation(uint64_t size)
{
    char toml[64];
    snprintf(toml, sizeof(toml), "host_exception_size = %llu\n", (unsigned long long)size);
    rt_hosts hosts = {0};
    hl_sandbox *sb = rt_callback_sandbox(toml, &hosts);
    size_t cap = (size_t)size - 9; /* hl_message_hdr (8) and a NUL */
    char want[1024];
    const int32_t lens[] = {0, 1, 26, (int32_t)cap - 1, (int32_t)cap, (int32_t)cap + 1, 1000};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t n = (size_t)lens[i] < cap ? (size_t)lens[i] : cap;
        rt_expected_exception(want, n);
        rt_buf_eq(rt_ok(sb, "call_failing", RT_ARGS(hl_i32(lens[i]))), HL_TYPE_STRING, want, n);
    }
    assert_int_equal(hosts.fail_calls, sizeof(lens) / sizeof(lens[0]));
    hl_sandbox_destroy(sb);
}

static void test_host_exception_size(void **state)
{
    exception_truncation(256);
    exception_truncation(300);
}

static void error_truncation(uint64_t size)
{
    char toml[64];
    snprintf(toml, sizeof(toml), "guest_error_buffer_size = %llu\n", (unsigned long long)size);
    hl_sandbox *sb = rt_sandbox("simpleguest", toml);
    assert_int_equal(region(sb, "guest_error"), size);
    size_t cap = (size_t)size - 17; /* hl_guest_error_hdr (16) and a NUL */
    char *msg = rt_pattern(400, 1);
    const size_t lens[] = {0, 5, cap - 1, cap, cap + 1, 400};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        char save = msg[lens[i]];
        msg[lens[i]] = '\0';
        hl_error e = rt_fails(sb, "fail_with", HL_E_GUEST_ERROR, 42, "guest error 42 (Unknown): ",
                              RT_ARGS(hl_i32(42), hl_string(msg)));
        msg[lens[i]] = save;
        const char *got = rt_after(e.message, "guest error 42 (Unknown): ");
        size_t n = lens[i] < cap ? lens[i] : cap;
        assert_int_equal(strlen(got), n);
        assert_memory_equal(got, msg, n);
    }
    free(msg);
    hl_sandbox_destroy(sb);
}

static void test_guest_error_buffer_size(void **state)
{
    error_truncation(128);
    error_truncation(200);
}

static void test_guest_panic_context_buffer_size(void **state)
{
    hl_sandbox *sb = rt_sandbox("simpleguest", "guest_panic_context_buffer_size = 256\n");
    assert_int_equal(region(sb, "panic_context"), 256);
    size_t cap = 256 - 9; /* hl_message_hdr (8) and a NUL */
    char *msg = rt_pattern(600, 2);
    char full[700];
    /* a panic's message is "panic: " and the argument */
    const size_t lens[] = {0, 10, cap - 7, cap - 6, 600};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        char save = msg[lens[i]];
        msg[lens[i]] = '\0';
        snprintf(full, sizeof(full), "panic: %s", msg);
        hl_error e = rt_fails(sb, "panic", HL_E_GUEST_PANIC, HL_PANIC_CODE, "the guest panicked in the call to `panic`: ",
                              RT_ARGS(hl_string(msg)));
        const char *got = rt_after(e.message, "`panic`: ");
        size_t n = strlen(full) < cap ? strlen(full) : cap;
        assert_int_equal(strlen(got), n);
        assert_memory_equal(got, full, n);
        /* an abort's message is bounded the same way */
        e = rt_fails(sb, "abort_with", HL_E_GUEST_ABORT, 77, "the guest aborted the call to `abort_with` with code 77: ",
                     RT_ARGS(hl_u32(77), hl_string(msg)));
        got = rt_after(e.message, "with code 77: ");
        n = lens[i] < cap ? lens[i] : cap;
        assert_int_equal(strlen(got), n);
        assert_memory_equal(got, msg, n);
        msg[lens[i]] = save;
    }
    free(msg);
    hl_sandbox_destroy(sb);
}

/* The largest stack_alloc(n) (n a multiple of 16) that works. */
static uint64_t largest_stack_alloc(hl_sandbox *sb, uint64_t hi)
{
    uint64_t lo = 0; /* works */
    while (hi - lo > 16) {
        uint64_t mid = (lo + (hi - lo) / 2) & ~15ull;
        hl_value v;
        hl_error e = HL_ERROR_INIT;
        hl_status st = hl_sandbox_call(sb, "stack_alloc", RT_ARGS(hl_u64(mid)), &v, &e);
        if (st == HL_OK) {
            lo = mid;
        } else {
            assert_int_equal(st, HL_E_STACK_OVERFLOW);
            hi = mid;
        }
    }
    return lo;
}

static void test_stack_size_override(void **state)
{
    hl_sandbox *sb = rt_sandbox("simpleguest", "stack_size_override = 131072\n");
    assert_int_equal(hl_sandbox_layout(sb)->stack_size, 131072);
    assert_int_equal(region(sb, "stack"), 131072);
    assert_int_equal(rt_ok(sb, "stack_alloc", RT_ARGS(hl_u64(131072 - 8192))).u.u64, 131072 - 8192);
    rt_fails(sb, "stack_alloc", HL_E_STACK_OVERFLOW, RT_ANY_CODE, "the guest ran past its 131072-byte stack",
             RT_ARGS(hl_u64(131072)));
    uint64_t max = largest_stack_alloc(sb, 131072);
    assert_true(max > 131072 - 4096); /* the runtime's own frames take less than a page */
    assert_true(max < 131072);
    rt_fails(sb, "stack_alloc", HL_E_STACK_OVERFLOW, RT_ANY_CODE, "stack overflow", RT_ARGS(hl_u64(max + 16)));
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
    hl_sandbox_destroy(sb);

    /* recursion: 2000 frames of ~300 bytes need a big stack */
    sb = rt_sandbox("simpleguest", "stack_size_override = \"1MiB\"\n");
    assert_int_equal(rt_ok(sb, "recurse", RT_ARGS(hl_u32(2000))).u.u32, 2000);
    rt_fails(sb, "recurse", HL_E_STACK_OVERFLOW, RT_ANY_CODE, "1048576-byte stack", RT_ARGS(hl_u32(20000)));
    hl_sandbox_destroy(sb);

    /* no override: the guest's ELF note asks for 64 KiB */
    sb = rt_sandbox("simpleguest", "");
    assert_int_equal(hl_sandbox_layout(sb)->stack_size, 65536);
    assert_int_equal(region(sb, "stack"), 65536);
    assert_int_equal(rt_ok(sb, "stack_alloc", RT_ARGS(hl_u64(60000))).u.u64, 60000);
    rt_fails(sb, "stack_alloc", HL_E_STACK_OVERFLOW, RT_ANY_CODE, "65536-byte stack", RT_ARGS(hl_u64(65536)));
    rt_fails(sb, "recurse", HL_E_STACK_OVERFLOW, RT_ANY_CODE, "65536-byte stack", RT_ARGS(hl_u32(2000)));
    max = largest_stack_alloc(sb, 65536);
    assert_true(max > 65536 - 4096 && max < 65536);
    hl_sandbox_destroy(sb);
}

static void heap_boundary(const char *toml, uint64_t size)
{
    hl_sandbox *sb = rt_sandbox("simpleguest", toml);
    assert_int_equal(hl_sandbox_layout(sb)->heap_size, size);
    assert_int_equal(region(sb, "heap"), size);
    /* all of it is free but the runtime's page map; the C library's malloc can have nearly all */
    uint64_t avail = rt_heap_free_initial(size);
    assert_int_equal(rt_ok(sb, "heap_free", RT_NOARGS).u.u64, avail);
    /* a large block costs malloc a header page and a page of its own bookkeeping */
    assert_int_not_equal(rt_ok(sb, "allocate", RT_ARGS(hl_u64(avail - 16384))).u.u64, 0);
    char want[160];
    snprintf(want, sizeof(want), "malloc(%llu) failed: the heap has ", (unsigned long long)(avail + 1));
    hl_error e = rt_fails(sb, "allocate", HL_E_GUEST_ERROR, 13, want, RT_ARGS(hl_u64(avail + 1)));
    uint64_t left = strtoull(rt_after(e.message, want), NULL, 10);
    assert_true(left <= avail && left + 16384 >= avail); /* malloc may have taken a page for itself */
    rt_fails(sb, "allocate", HL_E_GUEST_ERROR, 13, "failed", RT_ARGS(hl_u64(size * 2)));
    hl_sandbox_destroy(sb);
}

static void test_heap_size_override(void **state)
{
    heap_boundary("heap_size_override = 1048576\n", 1048576);
    heap_boundary("heap_size_override = \"8MiB\"\n", 8 << 20);
    heap_boundary("", 131072); /* no override: the guest's ELF note asks for 128 KiB */
}

static void test_kernel_stack_size(void **state)
{
    hl_sandbox *sb = rt_sandbox("simpleguest", "kernel_stack_size = 16384\n");
    assert_int_equal(region(sb, "kernel_stack"), 16384);
    assert_int_equal(hl_sandbox_layout(sb)->region[HL_REGION_KERNEL_STACK].size, 16384);
    hl_sandbox_destroy(sb);
    sb = rt_sandbox("simpleguest", "kernel_stack_size = \"8KiB\"\n");
    assert_int_equal(region(sb, "kernel_stack"), 8192);
    hl_sandbox_destroy(sb);
    sb = rt_sandbox("simpleguest", "");
    assert_int_equal(region(sb, "kernel_stack"), 4096);
    hl_sandbox_destroy(sb);
}

static void spin_cancelled(const char *toml, unsigned limit_ms, unsigned wait_ms)
{
    hl_sandbox *sb = rt_sandbox("simpleguest", toml);
    char want[96];
    snprintf(want, sizeof(want), "it ran longer than max_execution_time (%u ms)", limit_ms);
    double t0 = rt_now_ms();
    rt_fails(sb, "spin", HL_E_CANCELLED, 0, want, RT_NOARGS);
    double took = rt_now_ms() - t0;
    assert_true(took >= limit_ms);
    assert_true(took < limit_ms + wait_ms + 5000);
    assert_true(hl_sandbox_usable(sb));
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(40), hl_i32(2))).u.i32, 42);
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
    /* a second time, too */
    rt_fails(sb, "spin", HL_E_CANCELLED, 0, want, RT_NOARGS);
    assert_int_equal(rt_ok(sb, "echo_i32", RT_ARGS(hl_i32(-9))).u.i32, -9);
    hl_sandbox_destroy(sb);
}

static void test_max_execution_time(void **state)
{
    spin_cancelled("max_execution_time = \"100ms\"\n", 100, 100);
    spin_cancelled("max_execution_time = \"300ms\"\nmax_wait_for_cancellation = \"50ms\"\n", 300, 50);
}

static void test_max_initialization_time(void **state)
{
    hl_config cfg;
    rt_config(&cfg, "max_initialization_time = \"150ms\"\n");
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("spininit"), &cfg, &err), HL_OK);
    double t0 = rt_now_ms();
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_E_CANCELLED);
    double took = rt_now_ms() - t0;
    rt_contains(err.message, "it ran longer than max_initialization_time (150 ms)");
    assert_true(took >= 150);
    assert_true(took < 150 + 100 + 5000);
    assert_int_equal(hl_sandbox_function_count(sb), 0);
    /* a failed initialisation leaves the sandbox unusable: no retry on changed memory */
    assert_false(hl_sandbox_usable(sb));
    hl_value v;
    assert_int_equal(hl_sandbox_call(sb, "nothing", NULL, 0, &v, &err), HL_E_POISONED);
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_E_STATE);
    rt_contains(err.message, "not retried");
    hl_sandbox_destroy(sb);
}

static void test_max_wait_for_cancellation(void **state)
{
    /* the host function returns within the wait: cancelled, and the sandbox stays usable */
    rt_hosts hosts = {0};
    hl_sandbox *sb = rt_callback_sandbox("max_execution_time = \"30ms\"\nmax_wait_for_cancellation = \"255ms\"\n", &hosts);
    double t0 = rt_now_ms();
    rt_fails(sb, "call_spinning", HL_E_CANCELLED, 0, "max_execution_time (30 ms)", RT_ARGS(hl_u32(80)));
    double took = rt_now_ms() - t0;
    assert_true(took >= 80); /* the host function ran to its end */
    assert_true(took < 30 + 255 + 5000);
    assert_int_equal(atomic_load(&hosts.spins_done), 1);
    assert_true(hl_sandbox_usable(sb));
    assert_int_equal(rt_ok(sb, "add_via_host", RT_ARGS(hl_i32(2), hl_i32(3))).u.i32, 5);
    rt_ok(sb, "call_spinning", RT_ARGS(hl_u32(1))); /* a short one is not cancelled */
    assert_int_equal(atomic_load(&hosts.spins_done), 2);
    hl_sandbox_destroy(sb);

    /* the host function outlasts limit + wait: the call returns when it does (host functions run
     * on the caller's thread), and the sandbox is given up */
    rt_hosts stuck = {0};
    sb = rt_callback_sandbox("max_execution_time = \"50ms\"\nmax_wait_for_cancellation = \"20ms\"\n", &stuck);
    t0 = rt_now_ms();
    hl_error e = rt_fails(sb, "call_spinning", HL_E_POISONED, 0, "could not be stopped within max_wait_for_cancellation (20 ms)",
                          RT_ARGS(hl_u32(300)));
    took = rt_now_ms() - t0;
    rt_contains(e.message, "unusable");
    assert_true(took >= 300);
    assert_true(took < 300 + 5000);
    assert_int_equal(atomic_load(&stuck.spinning), 0); /* the host function ran to its end */
    assert_int_equal(atomic_load(&stuck.spins_done), 1);
    assert_false(hl_sandbox_usable(sb));
    rt_fails(sb, "add_via_host", HL_E_POISONED, 0, "unusable", RT_ARGS(hl_i32(1), hl_i32(2)));
    assert_int_equal(hl_sandbox_context_begin(sb, &e), HL_E_STATE);
    hl_sandbox_destroy(sb);
}

static void test_execution_mode(void **state)
{
    hl_config cfg;
    hl_config_init(&cfg);
    const char *inproc = "execution_mode = \"RunInProcess\"\n";
    assert_int_equal(hl_config_load_string(&cfg, inproc, strlen(inproc), "mode.toml", NULL, NULL), HL_OK);
    assert_int_equal(cfg.execution_mode, HL_MODE_RUN_IN_PROCESS);
    hl_sandbox *sb = rt_sandbox_cfg("simpleguest", &cfg);
    assert_int_equal(hl_sandbox_mode(sb), HL_MODE_RUN_IN_PROCESS);
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(1), hl_i32(2))).u.i32, 3);
    hl_sandbox_destroy(sb);

    /* the host's policy can forbid it */
    hl_policy policy;
    hl_policy_init(&policy);
    hl_policy_forbid_in_process(&policy);
    hl_load_options opts = {
        .struct_size = sizeof(hl_load_options), .profile = NULL, .policy = &policy};
    hl_config_init(&cfg);
    assert_int_equal(hl_config_load_string(&cfg, inproc, strlen(inproc), "mode.toml", &opts, NULL), HL_E_CONFIG);
    assert_int_equal(cfg.execution_mode, HL_MODE_RUN_IN_HYPERVISOR);

    const char *hv = "execution_mode = \"RunInHypervisor\"\n";
    hl_config_init(&cfg);
    assert_int_equal(hl_config_load_string(&cfg, hv, strlen(hv), "mode.toml", NULL, NULL), HL_OK);
    assert_int_equal(cfg.execution_mode, HL_MODE_RUN_IN_HYPERVISOR);
    if (access("/dev/kvm", F_OK) == 0)
        skip(); /* with /dev/kvm the KVM suite covers RunInHypervisor */
    hl_error err = HL_ERROR_INIT;
    sb = NULL;
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("simpleguest"), &cfg, &err), HL_E_BACKEND);
    assert_null(sb);
    rt_contains(err.message, "/dev/kvm");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_data_size),
        cmocka_unit_test(test_output_data_size),
        cmocka_unit_test(test_output_holds_function_table),
        cmocka_unit_test(test_function_definition_size),
        cmocka_unit_test(test_host_exception_size),
        cmocka_unit_test(test_guest_error_buffer_size),
        cmocka_unit_test(test_guest_panic_context_buffer_size),
        cmocka_unit_test(test_stack_size_override),
        cmocka_unit_test(test_heap_size_override),
        cmocka_unit_test(test_kernel_stack_size),
        cmocka_unit_test(test_max_execution_time),
        cmocka_unit_test(test_max_initialization_time),
        cmocka_unit_test(test_max_wait_for_cancellation),
        cmocka_unit_test(test_execution_mode),
    };
    return rt_run("settings", tests);
}
