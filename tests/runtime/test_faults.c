/* test_faults.c - aborts, panics, memory faults and stack overflows come back as errors; the sandbox survives. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt.h"

/* A page fault's code: the signal in-process, the x86 vector (#PF = 14) under KVM. */
static unsigned fault_code(void) { return rt_mode() == HL_MODE_RUN_IN_PROCESS ? (unsigned)SIGSEGV : 14u; }

static uint64_t initial_heap_free;

static int setup(void **state)
{
    hl_sandbox *sb = rt_sandbox("simpleguest", "");
    initial_heap_free = rt_ok(sb, "heap_free", RT_NOARGS).u.u64;
    *state = sb;
    return 0;
}

static int teardown(void **state)
{
    hl_sandbox_destroy(*state);
    return 0;
}

/* After any fault: usable, the next call works, and the state is the snapshot's. */
static void still_works(hl_sandbox *sb)
{
    assert_true(hl_sandbox_usable(sb));
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(19), hl_i32(23))).u.i32, 42);
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
    assert_int_equal(rt_ok(sb, "heap_free", RT_NOARGS).u.u64, initial_heap_free);
    rt_buf_eq(rt_ok(sb, "echo_string", RT_ARGS(hl_string("after"))), HL_TYPE_STRING, "after", 5);
}

static uint64_t addr_of(hl_sandbox *sb, hl_region_id id)
{
    const hl_layout *l = hl_sandbox_layout(sb);
    return l->base + l->region[id].offset;
}

static void test_abort(void **state)
{
    hl_sandbox *sb = *state;
    rt_fails(sb, "abort_with", HL_E_GUEST_ABORT, 1234, "the guest aborted the call to `abort_with` with code 1234: bye now",
             RT_ARGS(hl_u32(1234), hl_string("bye now")));
    still_works(sb);
    hl_error e = rt_fails(sb, "abort_with", HL_E_GUEST_ABORT, 0, "with code 0: ", RT_ARGS(hl_u32(0), hl_string("")));
    assert_string_equal(rt_after(e.message, "with code 0: "), "");
    rt_fails(sb, "abort_with", HL_E_GUEST_ABORT, 0xFFFFFFFEu, "with code 4294967294: max",
             RT_ARGS(hl_u32(0xFFFFFFFEu), hl_string("max")));
    still_works(sb);
}

static void test_panic(void **state)
{
    hl_sandbox *sb = *state;
    hl_error e = rt_fails(sb, "panic", HL_E_GUEST_PANIC, HL_PANIC_CODE, "the guest panicked in the call to `panic`: ",
                          RT_ARGS(hl_string("something is wrong \xE2\x9C\x97")));
    assert_string_equal(rt_after(e.message, "`panic`: "), "panic: something is wrong \xE2\x9C\x97");
    still_works(sb);
    /* a panic inside a call context: the next call works */
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_context_begin(sb, &err), HL_OK);
    rt_fails(sb, "panic", HL_E_GUEST_PANIC, HL_PANIC_CODE, "panic: in a context", RT_ARGS(hl_string("in a context")));
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(1), hl_i32(1))).u.i32, 2);
    assert_int_equal(hl_sandbox_context_end(sb, &err), HL_OK);
    still_works(sb);
}

static void test_write_readonly(void **state)
{
    hl_sandbox *sb = *state;
    char want[96];
    snprintf(want, sizeof(want), "at address %#llx (in the host exception region, read-only to the guest)",
             (unsigned long long)addr_of(sb, HL_REGION_HOST_EXCEPTION));
    hl_error e = rt_fails(sb, "write_readonly", HL_E_GUEST_FAULT, fault_code(), want, RT_NOARGS);
    rt_contains(e.message, "the guest faulted in the call to `write_readonly`");
    still_works(sb);
    /* twice: the page's protection did not change */
    rt_fails(sb, "write_readonly", HL_E_GUEST_FAULT, fault_code(), want, RT_NOARGS);
    still_works(sb);
}

static void test_read_address(void **state)
{
    hl_sandbox *sb = *state;
    hl_error e = rt_fails(sb, "read_address", HL_E_GUEST_FAULT, fault_code(), "(below the sandbox: a NULL pointer?)",
                          RT_ARGS(hl_u64(0)));
    rt_contains(e.message, "the guest faulted in the call to `read_address`");
    still_works(sb);
    rt_fails(sb, "read_address", HL_E_GUEST_FAULT, fault_code(), "a NULL pointer", RT_ARGS(hl_u64(16)));
    /* readable regions read fine: the PEB's magic and the host function table's */
    assert_int_equal(rt_ok(sb, "read_address", RT_ARGS(hl_u64(addr_of(sb, HL_REGION_PEB)))).u.i32,
                     (int32_t)(uint32_t)HL_PEB_MAGIC);
    assert_int_equal(rt_ok(sb, "read_address", RT_ARGS(hl_u64(addr_of(sb, HL_REGION_HOST_FUNCTIONS)))).u.i32,
                     (int32_t)HL_MSG_HOSTFN_MAGIC);
    /* guard pages */
    rt_fails(sb, "read_address", HL_E_GUEST_FAULT, fault_code(), "(in the kernel stack guard region, a guard page)",
             RT_ARGS(hl_u64(addr_of(sb, HL_REGION_KERNEL_STACK_GUARD) + 8)));
    rt_fails(sb, "read_address", HL_E_GUEST_FAULT, fault_code(), "(in the boot stack guard region, a guard page)",
             RT_ARGS(hl_u64(addr_of(sb, HL_REGION_BOOT_STACK_GUARD))));
    rt_fails(sb, "read_address", HL_E_STACK_OVERFLOW, fault_code(), "the guest ran past its 65536-byte stack",
             RT_ARGS(hl_u64(addr_of(sb, HL_REGION_STACK_GUARD) + 100)));
    still_works(sb);
}

static void test_stack_overflow(void **state)
{
    hl_sandbox *sb = *state;
    hl_error e = rt_fails(sb, "recurse", HL_E_STACK_OVERFLOW, RT_ANY_CODE,
                          "stack overflow in the call to `recurse`: the guest ran past its 65536-byte stack "
                          "(raise stack_size_override)",
                          RT_ARGS(hl_u32(100000)));
    (void)e;
    still_works(sb);
    assert_int_equal(rt_ok(sb, "recurse", RT_ARGS(hl_u32(50))).u.u32, 50);
    rt_fails(sb, "stack_alloc", HL_E_STACK_OVERFLOW, RT_ANY_CODE, "stack overflow in the call to `stack_alloc`",
             RT_ARGS(hl_u64(1u << 30)));
    still_works(sb);
}

static void test_huge_output(void **state)
{
    hl_sandbox *sb = *state;
    /* larger than the 16 KiB output buffer */
    rt_fails(sb, "huge_output", HL_E_GUEST_ERROR, 15,
             "the result of `huge_output` (20000 bytes) does not fit in output_data_size (16384 bytes)",
             RT_ARGS(hl_u32(20000)));
    still_works(sb);
    /* larger than the 128 KiB heap */
    rt_fails(sb, "huge_output", HL_E_GUEST_ERROR, 13, "no heap for 200000 bytes", RT_ARGS(hl_u32(200000)));
    still_works(sb);
    char *want = rt_pattern(16000, 0);
    rt_buf_eq(rt_ok(sb, "huge_output", RT_ARGS(hl_u32(16000))), HL_TYPE_STRING, want, 16000);
    free(want);
}

static void test_fault_sequence(void **state)
{
    /* every kind of failure in a row, each followed by a working call */
    hl_sandbox *sb = *state;
    for (int round = 0; round < 3; round++) {
        rt_ok(sb, "set_static", RT_ARGS(hl_i64(round)));
        rt_fails(sb, "abort_with", HL_E_GUEST_ABORT, 9, "x", RT_ARGS(hl_u32(9), hl_string("x")));
        still_works(sb);
        rt_fails(sb, "panic", HL_E_GUEST_PANIC, HL_PANIC_CODE, "y", RT_ARGS(hl_string("y")));
        still_works(sb);
        rt_fails(sb, "write_readonly", HL_E_GUEST_FAULT, fault_code(), "read-only", RT_NOARGS);
        still_works(sb);
        rt_fails(sb, "read_address", HL_E_GUEST_FAULT, fault_code(), "NULL", RT_ARGS(hl_u64(0)));
        still_works(sb);
        rt_fails(sb, "recurse", HL_E_STACK_OVERFLOW, RT_ANY_CODE, "stack", RT_ARGS(hl_u32(100000)));
        still_works(sb);
        rt_fails(sb, "fail_with", HL_E_GUEST_ERROR, 8, "z", RT_ARGS(hl_i32(8), hl_string("z")));
        still_works(sb);
    }
    hl_sandbox_stats st = HL_SANDBOX_STATS_INIT;
    assert_int_equal(hl_sandbox_get_stats(sb, &st), HL_OK);
    assert_int_equal(st.calls, 1 /* setup */ + 3 * (1 + 6 + 6 * 4));
}

static void app_segv_handler(int sig)
{
    (void)sig;
    _exit(3);
}

/* An application that installs its own SIGSEGV handler after the library installed its own (a
 * crash reporter; cmocka does it around every test) must not break in-process sandboxes: the
 * library must still see the guest's faults, chaining to the application for faults not its own. */
static void test_app_signal_handler_after_library(void **state)
{
    (void)state;
    if (rt_mode() != HL_MODE_RUN_IN_PROCESS)
        skip();
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        hl_sandbox *sb = rt_sandbox("simpleguest", "");
        hl_value v;
        hl_error e = HL_ERROR_INIT;
        if (hl_sandbox_call(sb, "set_static", RT_ARGS(hl_i64(1)), &v, &e) != HL_OK)
            _exit(1);
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = app_segv_handler;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, NULL);
        /* a new sandbox and a call that writes guest memory */
        hl_sandbox *sb2 = rt_sandbox("simpleguest", "");
        if (hl_sandbox_call(sb2, "set_static", RT_ARGS(hl_i64(2)), &v, &e) != HL_OK)
            _exit(2);
        if (hl_sandbox_call(sb2, "read_address", RT_ARGS(hl_u64(0)), &v, &e) != HL_E_GUEST_FAULT)
            _exit(4);
        hl_sandbox_destroy(sb2);
        hl_sandbox_destroy(sb);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        print_error("the process died of signal %d\n", WTERMSIG(status));
    else if (WEXITSTATUS(status) == 3)
        print_error("the application's SIGSEGV handler received the guest's fault\n");
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_panic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_readonly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stack_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_sequence, setup, teardown),
        cmocka_unit_test(test_app_signal_handler_after_library),
    };
    return rt_run("faults", tests);
}
