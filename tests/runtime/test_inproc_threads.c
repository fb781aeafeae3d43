/* test_inproc_threads.c - the in-process backend on any thread: thread exit, alternate stacks, masks, faults, cancels, nesting. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rt.h"

#include "backend/inproc_sys.h"
#include "sandbox/sandbox_internal.h"
#include "util/syscount.h"

/* The core hands every job to its sandbox thread; these tests run calls on threads of their own
 * choosing, as the core does once that thread is gone: a call made here through the core's job
 * function (no hand-off), on the calling thread. Only ever one at a time per sandbox. */
static hl_status direct_call(hl_sandbox *sb, const char *fn, const hl_value *args, size_t n, hl_value *out,
                             char *msg, size_t msz)
{
    sb->call_name = fn;
    sb->call_args = args;
    sb->call_nargs = n;
    memset(&sb->call_result, 0, sizeof(sb->call_result));
    sb->ops->prepare(sb->be);
    hl_sb_do_job(sb, JOB_CALL);
    if (out) *out = sb->call_result;
    if (msg && msz) { /* the start of it is enough here */
        size_t len = strnlen(sb->job_err.message, msz - 1);
        memcpy(msg, sb->job_err.message, len);
        msg[len] = '\0';
    }
    return sb->job_status;
}

static int skip_unless_inproc(void)
{
    if (rt_mode() == HL_RUN_IN_PROCESS) return 0;
    skip(); /* the in-process backend's own contract */
    return 1;
}

static int masks_equal(const sigset_t *a, const sigset_t *b)
{
    for (int s = 1; s < 65; s++)
        if (sigismember(a, s) != sigismember(b, s)) return 0;
    return 1;
}

typedef struct job {
    hl_sandbox *sb;
    int calls;
    int block_cancel, block_usr2; /* the thread's mask while it calls */
    int own_altstack;             /* -1: none (disabled first), 1: the application's own, 0: as it is */
    char failure[600];
} job;

/* Calls on a thread, checking results, that the caller's mask comes back, and the alternate stack. */
static void *calls_on_thread(void *arg)
{
    job *j = arg;
    sigset_t set, before, after;
    sigemptyset(&set);
    if (j->block_cancel) sigaddset(&set, hl_cancel_signal());
    if (j->block_usr2) sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_sigmask(SIG_BLOCK, NULL, &before);
    static const size_t app_size = 64 * 1024;
    void *app_mem = malloc(app_size);
    RT_THREAD_CHECK(j, app_mem != NULL, "out of memory");
    stack_t app = {.ss_sp = app_mem, .ss_size = app_size}, old, now;
    sigaltstack(NULL, &old);
    if (j->own_altstack == 1) {
        RT_THREAD_CHECK(j, sigaltstack(&app, NULL) == 0, "sigaltstack failed");
    } else if (j->own_altstack == -1) {
        stack_t off = {.ss_flags = SS_DISABLE};
        sigaltstack(&off, NULL);
    }
    char msg[256];
    for (int i = 0; i < j->calls && !j->failure[0]; i++) {
        hl_value v;
        hl_status st = direct_call(j->sb, "add", RT_ARGS(hl_i32(i), hl_i32(1000)), &v, msg, sizeof msg);
        if (st != HL_OK || v.u.i32 != i + 1000)
            snprintf(j->failure, sizeof j->failure, "add %d: %s %s", i, hl_status_str(st), msg);
        pthread_sigmask(SIG_BLOCK, NULL, &after);
        if (!masks_equal(&before, &after))
            snprintf(j->failure, sizeof j->failure, "call %d changed the thread's signal mask", i);
        if (i % 4 == 1) { /* a guest fault, handled on this thread's (swapped-in) stack */
            st = direct_call(j->sb, "write_readonly", RT_NOARGS, NULL, msg, sizeof msg);
            if (st != HL_E_GUEST_FAULT || !strstr(msg, "SIGSEGV"))
                snprintf(j->failure, sizeof j->failure, "write_readonly: %s %s", hl_status_str(st), msg);
        }
        sigaltstack(NULL, &now);
        if (j->own_altstack == 1 && (now.ss_sp != app.ss_sp || now.ss_size != app.ss_size || (now.ss_flags & SS_DISABLE)))
            snprintf(j->failure, sizeof j->failure, "the application's alternate stack is not back after a call");
        if (j->own_altstack == -1 && ((now.ss_flags & SS_DISABLE) || now.ss_sp == app.ss_sp)) /* ours, for life */
            snprintf(j->failure, sizeof j->failure, "no alternate stack installed for a thread without one");
    }
    /* the thread's first stack back (a sanitizer's, which it frees at the thread's end) before
     * the thread ends; the backend then leaves that one alone (no more runs here: a thread that
     * got ours for life must not change it while it runs guests) */
    if (j->own_altstack)
        sigaltstack(&old, NULL);
    free(app_mem);
    return NULL;
}

static void run_jobs(job *jobs, int n)
{
    pthread_t th[16];
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_create(&th[i], NULL, calls_on_thread, &jobs[i]), 0);
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (jobs[i].failure[0]) fail_msg("thread %d: %s", i, jobs[i].failure);
    }
}

/* (a) Threads that used in-process sandboxes exit (their state is freed by the key's destructor,
 * their registry slots reused); the others, and the sandboxes, keep working. Under ASan: no leak,
 * no use after free. */
static void test_threads_exit(void **state)
{
    (void)state;
    if (skip_unless_inproc()) return;
    hl_sandbox *sb[3];
    for (int i = 0; i < 3; i++) sb[i] = rt_sandbox("simpleguest", "");
    for (int round = 0; round < 6; round++) {
        job jobs[3];
        memset(jobs, 0, sizeof jobs);
        for (int i = 0; i < 3; i++) {
            jobs[i].sb = sb[i];
            jobs[i].calls = 6;
            jobs[i].block_cancel = (round + i) % 2;
            jobs[i].block_usr2 = round % 3 == 0;
        }
        run_jobs(jobs, 3);
    }
    for (int i = 0; i < 3; i++) { /* through the core's own thread, and on this one */
        hl_value v = rt_ok(sb[i], "add", RT_ARGS(hl_i32(2), hl_i32(3)));
        assert_int_equal(v.u.i32, 5);
        char msg[256];
        assert_int_equal(direct_call(sb[i], "add", RT_ARGS(hl_i32(4), hl_i32(5)), &v, msg, sizeof msg), HL_OK);
        assert_int_equal(v.u.i32, 9);
        hl_sandbox_destroy(sb[i]);
    }
}

/* (b) A thread with its own alternate stack keeps it; one without gets ours for its life. */
static void test_altstacks(void **state)
{
    (void)state;
    if (skip_unless_inproc()) return;
    hl_sandbox *sb[2] = {rt_sandbox("simpleguest", ""), rt_sandbox("simpleguest", "")};
    job jobs[2];
    memset(jobs, 0, sizeof jobs);
    jobs[0] = (job){.sb = sb[0], .calls = 9, .own_altstack = 1};
    jobs[1] = (job){.sb = sb[1], .calls = 9, .own_altstack = -1, .block_cancel = 1};
    run_jobs(jobs, 2);
    hl_sandbox_destroy(sb[0]);
    hl_sandbox_destroy(sb[1]);
}

typedef struct canceller {
    hl_sandbox *sb;
    unsigned after_ms;
} canceller;

static void *cancel_later(void *arg)
{
    canceller *c = arg;
    rt_sleep_ms(c->after_ms);
    c->sb->ops->cancel(c->sb->be);
    return NULL;
}

typedef struct faulter {
    hl_sandbox *sb;
    char failure[600];
} faulter;

/* (c) on a thread that is neither the creating one nor the core's: a fault, then a cancel from a
 * watchdog thread, then an ordinary call. */
static void *fault_and_cancel(void *arg)
{
    faulter *f = arg;
    char msg[256];
    hl_status st = direct_call(f->sb, "write_readonly", RT_NOARGS, NULL, msg, sizeof msg);
    RT_THREAD_CHECK(f, st == HL_E_GUEST_FAULT, "write_readonly: %s %s", hl_status_str(st), msg);
    canceller c = {f->sb, 50};
    pthread_t w;
    pthread_create(&w, NULL, cancel_later, &c);
    double t0 = rt_now_ms();
    st = direct_call(f->sb, "spin", RT_NOARGS, NULL, msg, sizeof msg);
    double took = rt_now_ms() - t0;
    pthread_join(w, NULL);
    RT_THREAD_CHECK(f, st == HL_E_CANCELLED, "spin: %s %s", hl_status_str(st), msg);
    RT_THREAD_CHECK(f, took < 5000, "the cancel took %.0f ms", took);
    hl_value v;
    st = direct_call(f->sb, "add", RT_ARGS(hl_i32(1), hl_i32(2)), &v, msg, sizeof msg);
    RT_THREAD_CHECK(f, st == HL_OK && v.u.i32 == 3, "add after the cancel: %s %s", hl_status_str(st), msg);
    /* a stale cancel signal pending on the thread is delivered when a run opens the mask, and does
     * nothing */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, hl_cancel_signal());
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_kill(pthread_self(), hl_cancel_signal());
    st = direct_call(f->sb, "add", RT_ARGS(hl_i32(1), hl_i32(2)), &v, msg, sizeof msg);
    RT_THREAD_CHECK(f, st == HL_OK && v.u.i32 == 3, "add with a stale cancel pending: %s %s", hl_status_str(st), msg);
    sigset_t pending;
    sigpending(&pending);
    RT_THREAD_CHECK(f, sigismember(&pending, hl_cancel_signal()) == 0, "the stale cancel is still pending");
    return NULL;
}

static void test_fault_and_cancel_elsewhere(void **state)
{
    (void)state;
    if (skip_unless_inproc()) return;
    hl_sandbox *sb = rt_sandbox("simpleguest", "");
    faulter f = {.sb = sb};
    pthread_t th;
    pthread_create(&th, NULL, fault_and_cancel, &f);
    pthread_join(th, NULL);
    if (f.failure[0]) fail_msg("%s", f.failure);
    /* cancels with no run in progress (the last run's thread is gone): only the next run's
     * prepare() forgets them */
    sb->ops->cancel(sb->be);
    sb->ops->cancel(sb->be);
    hl_value v = rt_ok(sb, "add", RT_ARGS(hl_i32(20), hl_i32(22)));
    assert_int_equal(v.u.i32, 42);
    hl_sandbox_destroy(sb);
    /* the time limit through the public API (the core's thread) */
    sb = rt_sandbox("simpleguest", "max_execution_time = 100");
    rt_fails(sb, "spin", HL_E_CANCELLED, RT_ANY_CODE, "cancelled", RT_NOARGS);
    v = rt_ok(sb, "add", RT_ARGS(hl_i32(1), hl_i32(1)));
    assert_int_equal(v.u.i32, 2);
    hl_sandbox_destroy(sb);
}

/* ---- (d) nesting: a host function of in-process sandbox A runs sandbox B on the same thread ---- */

typedef struct nest {
    hl_sandbox *a, *b, *libc;
    int cancel_b;  /* the host function runs B's `spin` and has it cancelled (and A with it) */
    unsigned nested;
    char failure[600];
} nest;

/* The thread's state while A's host function runs: A's run current, host state (selector ALLOW,
 * the host's FS). */
static int in_a_host_call(nest *n, const char *when)
{
    int e = 0;
    hl_inproc_thread *t = hl_inproc_thread_get(&e);
    if (!t || t->depth != 1 || !t->cur || t->cur->t != t || t->cur->guest_lo != n->a->layout.base ||
        t->fs_is_guest || t->selector) {
        snprintf(n->failure, sizeof n->failure, "%s: the thread's state is not A's host call (depth %u, cur %p, "
                 "fs_is_guest %d, selector %d)", when, t ? t->depth : 0, t ? (void *)t->cur : NULL,
                 t ? t->fs_is_guest : -1, t ? t->selector : -1);
        return 0;
    }
    return 1;
}

static int nested_add(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    (void)nargs;
    nest *n = user;
    if (n->failure[0]) return hl_host_call_fail(call, "failed before");
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    if (sigismember(&cur, hl_cancel_signal()) != 1) {
        snprintf(n->failure, sizeof n->failure, "the cancel signal is not blocked in a host function");
        return hl_host_call_fail(call, "mask");
    }
    if (!in_a_host_call(n, "before B")) return hl_host_call_fail(call, "state");
    char msg[256];
    hl_value v;
    if (n->cancel_b) {
        canceller ca = {n->a, 20}, cb = {n->b, 80}; /* A's cancel while B runs is not B's */
        pthread_t wa, wb;
        pthread_create(&wa, NULL, cancel_later, &ca);
        pthread_create(&wb, NULL, cancel_later, &cb);
        hl_status st = direct_call(n->b, "spin", RT_NOARGS, NULL, msg, sizeof msg);
        pthread_join(wa, NULL);
        pthread_join(wb, NULL);
        if (st != HL_E_CANCELLED)
            snprintf(n->failure, sizeof n->failure, "nested spin: %s %s", hl_status_str(st), msg);
    } else {
        hl_status st = direct_call(n->b, "add", RT_ARGS(args[0], hl_i32(100)), &v, msg, sizeof msg);
        if (st != HL_OK || v.u.i32 != args[0].u.i32 + 100)
            snprintf(n->failure, sizeof n->failure, "nested add: %s %s", hl_status_str(st), msg);
        st = direct_call(n->b, "write_readonly", RT_NOARGS, NULL, msg, sizeof msg);
        if (st != HL_E_GUEST_FAULT)
            snprintf(n->failure, sizeof n->failure, "nested write_readonly: %s %s", hl_status_str(st), msg);
        /* a musl guest: its own FS (errno, TLS) and system calls through Syscall User Dispatch */
        st = direct_call(n->libc, "clocks", RT_ARGS(hl_u32(1000)), &v, msg, sizeof msg);
        if (st != HL_OK || v.type != HL_TYPE_BYTES || v.u.buf.len != 40)
            snprintf(n->failure, sizeof n->failure, "nested clocks: %s %s", hl_status_str(st), msg);
    }
    n->nested++;
    sigset_t after;
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    if (!masks_equal(&cur, &after))
        snprintf(n->failure, sizeof n->failure, "the nested runs changed the host function's mask");
    if (n->failure[0] || !in_a_host_call(n, "after B")) return hl_host_call_fail(call, "nested");
    result->u.i32 = args[0].u.i32 + args[1].u.i32;
    return 0;
}

static hl_sandbox *nest_sandbox(nest *n, const char *toml)
{
    hl_config cfg;
    rt_config(&cfg, toml);
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    const hl_type p[] = {HL_TYPE_I32, HL_TYPE_I32};
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("callbackguest"), &cfg, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_add", HL_TYPE_I32, p, 2, nested_add, n, &err), HL_OK);
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_OK);
    return sb;
}

typedef struct nest_run {
    nest *n;
    const char *fn;
    const hl_value *args;
    size_t nargs;
    hl_status st;
    hl_value v;
    char msg[256];
} nest_run;

static void *run_a(void *arg)
{
    nest_run *r = arg;
    r->st = direct_call(r->n->a, r->fn, r->args, r->nargs, &r->v, r->msg, sizeof r->msg);
    return NULL;
}

static void test_nesting(void **state)
{
    (void)state;
    if (skip_unless_inproc()) return;
    nest n;
    memset(&n, 0, sizeof n);
    n.a = nest_sandbox(&n, "");
    n.b = rt_sandbox("simpleguest", "");
    n.libc = rt_sandbox("libcguest", "");
    /* A on a thread of its own: every host call of call_count(8) runs B and the musl guest on it,
     * and A's guest goes on after each */
    hl_value args[] = {hl_u32(8)};
    nest_run r = {&n, "call_count", args, 1, HL_OK, {0}, ""};
    pthread_t th;
    pthread_create(&th, NULL, run_a, &r);
    pthread_join(th, NULL);
    if (n.failure[0]) fail_msg("%s", n.failure);
    if (r.st != HL_OK) fail_msg("call_count: %s %s", hl_status_str(r.st), r.msg);
    assert_int_equal(r.v.u.i64, 8 * 9 / 2); /* sum of i + 1 for i < 8 */
    assert_int_equal(n.nested, 8);
    /* the same from this thread, and through the core's */
    r.st = direct_call(n.a, "call_count", args, 1, &r.v, r.msg, sizeof r.msg);
    if (n.failure[0]) fail_msg("%s", n.failure);
    assert_int_equal(r.st, HL_OK);
    assert_int_equal(r.v.u.i64, 36);
    hl_value v = rt_ok(n.a, "add_via_host", RT_ARGS(hl_i32(40), hl_i32(2)));
    if (n.failure[0]) fail_msg("%s", n.failure);
    assert_int_equal(v.u.i32, 42);
    /* B cancelled inside A's host call; A's own cancel, sent meanwhile, lands in B's guest (not
     * B's business) and takes effect when the host call returns to A */
    n.cancel_b = 1;
    hl_value one[] = {hl_u32(1)};
    nest_run c = {&n, "call_count", one, 1, HL_OK, {0}, ""};
    pthread_create(&th, NULL, run_a, &c);
    pthread_join(th, NULL);
    if (n.failure[0]) fail_msg("%s", n.failure);
    if (c.st != HL_E_CANCELLED) fail_msg("call_count with a cancelled nested call: %s %s", hl_status_str(c.st), c.msg);
    n.cancel_b = 0;
    v = rt_ok(n.a, "add_via_host", RT_ARGS(hl_i32(1), hl_i32(2)));
    assert_int_equal(v.u.i32, 3);
    v = rt_ok(n.b, "add", RT_ARGS(hl_i32(1), hl_i32(2)));
    assert_int_equal(v.u.i32, 3);
    hl_sandbox_destroy(n.a);
    hl_sandbox_destroy(n.b);
    hl_sandbox_destroy(n.libc);
}

/* The system calls of a call with no host call, on a thread already set up: the two mask changes
 * (FSGSBASE), plus two when the thread has an alternate stack of its own (ours swapped in and
 * out). Made inside a call context, so that no restore is counted. */
static void test_syscalls_per_run(void **state)
{
    (void)state;
    if (skip_unless_inproc()) return;
    hl_sandbox *sb = rt_sandbox("simpleguest", "");
    hl_error e = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_context_begin(sb, &e), HL_OK);
    char msg[256];
    assert_int_equal(direct_call(sb, "nothing", RT_NOARGS, NULL, msg, sizeof msg), HL_OK); /* sets the thread up */
    uint64_t before = hl_sys_now();
    assert_int_equal(direct_call(sb, "nothing", RT_NOARGS, NULL, msg, sizeof msg), HL_OK);
    uint64_t made = hl_sys_now() - before;
    int e2 = 0;
    hl_inproc_thread *t = hl_inproc_thread_get(&e2);
    assert_non_null(t);
    int fsgsbase = 0;
#if defined(__x86_64__)
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "flags", 5) == 0) {
            fsgsbase = strstr(line, " fsgsbase") != NULL;
            break;
        }
    if (f) fclose(f);
#endif
    print_message("syscalls per call of `nothing` with no restore, on this thread: %llu (fsgsbase %d, own "
                  "alternate stack %d)\n", (unsigned long long)made, fsgsbase, !t->altstack_for_life);
    if (fsgsbase)
        assert_int_equal(made, t->altstack_for_life ? 2 : 4);
    assert_int_equal(hl_sandbox_context_end(sb, &e), HL_OK);
    hl_sandbox_destroy(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_exit),
        cmocka_unit_test(test_altstacks),
        cmocka_unit_test(test_fault_and_cancel_elsewhere),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_syscalls_per_run),
    };
    return rt_run("inproc_threads", tests);
}
