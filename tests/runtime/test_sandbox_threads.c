/* test_sandbox_threads.c - the thread contract: shared sandboxes, destroy from anywhere. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rt.h"

#define NTHREADS 8
/* calls per thread: 300; HL_TEST_CALLS lowers it in the emulated VM (one vCPU, 10x slower) */
static int ncalls(void)
{
    const char *e = getenv("HL_TEST_CALLS");
    int n = e ? atoi(e) : 300;
    return n >= 1 && n <= 300 ? n : 300;
}
#define NCALLS ncalls()

typedef struct worker {
    int id;
    hl_sandbox *sb;
    unsigned ok;
    char failure[600]; /* cmocka's asserts are for the main thread: workers report here */
} worker;


/* Calls whose every result says which thread and which call it belongs to. */
static void *calls(void *arg)
{
    worker *w = arg;
    hl_value v;
    hl_error e = HL_ERROR_INIT;
    char mine[64];
    for (int i = 0; i < NCALLS; i++) {
        int64_t key = (int64_t)w->id * 1000003 + i;
        hl_status st;
        switch (i % 3) {
        case 0:
            st = hl_sandbox_call(w->sb, "echo_i64", RT_ARGS(hl_i64(key)), &v, &e);
            RT_THREAD_CHECK(w, st == HL_OK && v.type == HL_TYPE_I64 && v.u.i64 == key,
                  "thread %d call %d: echo_i64(%lld) gave %s %lld: %s", w->id, i, (long long)key,
                  hl_status_str(st), (long long)v.u.i64, e.message);
            break;
        case 1:
            snprintf(mine, sizeof(mine), "thread %d call %d", w->id, i);
            st = hl_sandbox_call(w->sb, "echo_string", RT_ARGS(hl_string(mine)), &v, &e);
            RT_THREAD_CHECK(w, st == HL_OK && v.type == HL_TYPE_STRING && v.u.buf.len == strlen(mine),
                  "thread %d call %d: echo_string: %s %s", w->id, i, hl_status_str(st), e.message);
            /* the result stays this thread's until its next call, whatever other threads do */
            sched_yield();
            RT_THREAD_CHECK(w, memcmp(v.u.buf.ptr, mine, v.u.buf.len) == 0,
                  "thread %d call %d: echo_string gave `%.*s`", w->id, i, (int)v.u.buf.len,
                  (const char *)v.u.buf.ptr);
            break;
        default:
            st = hl_sandbox_call(w->sb, "add", RT_ARGS(hl_i32(w->id * 100000), hl_i32(i)), &v, &e);
            RT_THREAD_CHECK(w, st == HL_OK && v.u.i32 == w->id * 100000 + i,
                  "thread %d call %d: add gave %s %d: %s", w->id, i, hl_status_str(st), v.u.i32,
                  e.message);
            break;
        }
        w->ok++;
    }
    return NULL;
}

static atomic_int stop_side;

static int never_called(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result,
                        void *user)
{
    return hl_host_call_fail(call, "never called");
}

/* Meanwhile: stats, print functions, late registration and initialisation, call contexts. */
static void *side(void *arg)
{
    worker *w = arg;
    hl_error e = HL_ERROR_INIT;
    hl_value v;
    rt_print a = {0}, b = {0};
    uint64_t last = 0;
    for (int i = 0; !atomic_load(&stop_side); i++) {
        hl_sandbox_stats st = HL_SANDBOX_STATS_INIT;
        RT_THREAD_CHECK(w, hl_sandbox_get_stats(w->sb, &st) == HL_OK, "get_stats failed");
        RT_THREAD_CHECK(w, st.calls >= last, "stats went back from %llu to %llu", (unsigned long long)last,
              (unsigned long long)st.calls);
        last = st.calls;
        hl_sandbox_set_print(w->sb, rt_print_capture, i % 2 ? &a : &b);
        RT_THREAD_CHECK(w,
              hl_sandbox_register(w->sb, "late", HL_TYPE_VOID, NULL, 0, NULL, NULL, &e) ==
                  HL_E_INVALID_ARG,
              "register");
        const hl_type none = HL_TYPE_I32;
        RT_THREAD_CHECK(w,
              hl_sandbox_register(w->sb, "late", HL_TYPE_I32, &none, 0, never_called, NULL, &e) ==
                  HL_E_STATE,
              "register after initialisation: %s", e.message);
        RT_THREAD_CHECK(w, hl_sandbox_initialize(w->sb, &e) == HL_E_STATE, "initialize twice: %s", e.message);
        RT_THREAD_CHECK(w, hl_sandbox_context_begin(w->sb, &e) == HL_OK, "context_begin: %s", e.message);
        RT_THREAD_CHECK(w, hl_sandbox_call(w->sb, "set_static", RT_ARGS(hl_i64(1000 + i)), &v, &e) == HL_OK,
              "set_static: %s", e.message);
        RT_THREAD_CHECK(w,
              hl_sandbox_call(w->sb, "get_static", NULL, 0, &v, &e) == HL_OK && v.u.i64 == 1000 + i,
              "get_static in a context: %lld", (long long)v.u.i64);
        RT_THREAD_CHECK(w, hl_sandbox_context_end(w->sb, &e) == HL_OK, "context_end: %s", e.message);
        RT_THREAD_CHECK(w, hl_sandbox_call(w->sb, "get_static", NULL, 0, &v, &e) == HL_OK && v.u.i64 == 7,
              "get_static after the context: %lld", (long long)v.u.i64);
        w->ok++;
    }
    hl_sandbox_set_print(w->sb, NULL, NULL);
    return NULL;
}

static void run_workers(worker *ws, int n, void *(*fn)(void *))
{
    pthread_t th[NTHREADS];
    for (int t = 0; t < n; t++)
        assert_int_equal(pthread_create(&th[t], NULL, fn, &ws[t]), 0);
    for (int t = 0; t < n; t++)
        pthread_join(th[t], NULL);
}

static void test_one_sandbox_many_threads(void **state)
{
    static worker ws[NTHREADS + 1];
    hl_sandbox *sb = rt_sandbox("simpleguest", "");
    memset(ws, 0, sizeof(ws));
    for (int t = 0; t <= NTHREADS; t++) {
        ws[t].id = t;
        ws[t].sb = sb;
    }
    atomic_store(&stop_side, 0);
    pthread_t side_thread;
    assert_int_equal(pthread_create(&side_thread, NULL, side, &ws[NTHREADS]), 0);
    run_workers(ws, NTHREADS, calls);
    atomic_store(&stop_side, 1);
    pthread_join(side_thread, NULL);
    for (int t = 0; t <= NTHREADS; t++)
        if (ws[t].failure[0]) fail_msg("%s", ws[t].failure);
    for (int t = 0; t < NTHREADS; t++)
        assert_int_equal(ws[t].ok, NCALLS);
    assert_true(ws[NTHREADS].ok >= 1);
    hl_sandbox_stats st = HL_SANDBOX_STATS_INIT;
    assert_int_equal(hl_sandbox_get_stats(sb, &st), HL_OK);
    assert_int_equal(st.calls, NTHREADS * NCALLS + 3 * ws[NTHREADS].ok);
    assert_true(hl_sandbox_usable(sb));
    hl_sandbox_destroy(sb);
}

static void test_own_sandbox_per_thread(void **state)
{
    static worker ws[NTHREADS];
    memset(ws, 0, sizeof(ws));
    for (int t = 0; t < NTHREADS; t++) {
        ws[t].id = t;
        ws[t].sb = rt_sandbox("simpleguest", "");
    }
    run_workers(ws, NTHREADS, calls);
    for (int t = 0; t < NTHREADS; t++) {
        if (ws[t].failure[0]) fail_msg("%s", ws[t].failure);
        assert_int_equal(ws[t].ok, NCALLS);
        hl_sandbox_stats st = HL_SANDBOX_STATS_INIT;
        assert_int_equal(hl_sandbox_get_stats(ws[t].sb, &st), HL_OK);
        assert_int_equal(st.calls, NCALLS);
        hl_sandbox_destroy(ws[t].sb);
    }
}

static hl_sandbox *g_init_sb;
static atomic_int init_ok, init_state;

static void *init_once(void *arg)
{
    hl_error e = HL_ERROR_INIT;
    hl_status st = hl_sandbox_initialize(g_init_sb, &e);
    if (st == HL_OK)
        atomic_fetch_add(&init_ok, 1);
    else if (st == HL_E_STATE && strstr(e.message, "already initialised"))
        atomic_fetch_add(&init_state, 1);
    return arg;
}

static void test_initialize_from_many_threads(void **state)
{
    hl_config cfg;
    rt_config(&cfg, "");
    hl_error e = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_create(&g_init_sb, rt_guest("simpleguest"), &cfg, &e), HL_OK);
    atomic_store(&init_ok, 0);
    atomic_store(&init_state, 0);
    static worker ws[NTHREADS];
    run_workers(ws, NTHREADS, init_once);
    assert_int_equal(atomic_load(&init_ok), 1);
    assert_int_equal(atomic_load(&init_state), NTHREADS - 1);
    assert_int_equal(rt_ok(g_init_sb, "add", RT_ARGS(hl_i32(2), hl_i32(3))).u.i32, 5);
    hl_sandbox_destroy(g_init_sb);
}

/* ---- destroy ---- */

typedef struct spin_call {
    hl_sandbox *sb;
    hl_status st;
} spin_call;

static void *call_spinning(void *arg)
{
    spin_call *c = arg;
    hl_value v;
    hl_error e = HL_ERROR_INIT;
    c->st = hl_sandbox_call(c->sb, "call_spinning", RT_ARGS(hl_u32(200)), &v, &e);
    return NULL;
}

/* Destroy on one thread while another thread's call runs: destroy waits for that call. */
static void test_destroy_waits_for_a_running_call(void **state)
{
    rt_hosts h = {0};
    spin_call c = {rt_callback_sandbox("", &h), HL_E_STATE};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, call_spinning, &c), 0);
    while (!atomic_load(&h.spinning))
        rt_sleep_ms(1);
    hl_sandbox_destroy(c.sb);
    assert_int_equal(atomic_load(&h.spins_done), 1); /* the host function had finished */
    pthread_join(th, NULL);
    assert_int_equal(c.st, HL_OK);
}

typedef struct self_destroy {
    hl_sandbox *sb;
    unsigned adds, prints;
} self_destroy;

static int host_add_destroying(hl_host_call *call, const hl_value *args, size_t nargs,
                               hl_value *result, void *user)
{
    self_destroy *d = user;
    d->adds++;
    hl_sandbox_destroy(d->sb); /* refused: the sandbox stays valid */
    result->u.i32 = args[0].u.i32 + args[1].u.i32;
    return 0;
}

static void print_destroying(void *user, const char *text, size_t len)
{
    self_destroy *d = user;
    d->prints++;
    hl_sandbox_destroy(d->sb);
}

static void test_destroy_from_own_host_function_is_ignored(void **state)
{
    self_destroy d = {0};
    hl_config cfg;
    rt_config(&cfg, "");
    hl_error e = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_create(&d.sb, rt_guest("callbackguest"), &cfg, &e), HL_OK);
    const hl_type ii[] = {HL_TYPE_I32, HL_TYPE_I32};
    assert_int_equal(
        hl_sandbox_register(d.sb, "host_add", HL_TYPE_I32, ii, 2, host_add_destroying, &d, &e),
        HL_OK);
    hl_sandbox_set_print(d.sb, print_destroying, &d);
    assert_int_equal(hl_sandbox_initialize(d.sb, &e), HL_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rt_ok(d.sb, "add_via_host", RT_ARGS(hl_i32(40), hl_i32(i))).u.i32, 40 + i);
        assert_int_equal(rt_ok(d.sb, "greet", RT_ARGS(hl_string("x"))).u.i32, 0);
    }
    assert_int_equal(d.adds, 3);
    assert_int_equal(d.prints, 3);
    assert_true(hl_sandbox_usable(d.sb));
    assert_int_equal(rt_ok(d.sb, "call_count", RT_ARGS(hl_u32(0))).u.i64, 0);
    hl_sandbox_destroy(d.sb);
}

/* A host function that blocks, uncancellably, until released, past the time limit and the wait
 * for cancellation. Host functions run on the caller's thread, so the call returns when it does:
 * HL_E_POISONED, and the guest runs no further (no other host function or print of that call);
 * after destroy the callbacks' user data may be freed and no callback touches it again. */
static atomic_int release, blocked, blocker_returned, destroyed, calls_after_destroy;

typedef struct cb_data {
    unsigned adds, prints;
} cb_data;

static int host_add_blocking(hl_host_call *call, const hl_value *args, size_t nargs,
                             hl_value *result, void *user)
{
    if (atomic_load(&destroyed)) atomic_fetch_add(&calls_after_destroy, 1);
    cb_data *d = user;
    if (d->adds++ == 0) { /* the first call blocks; user is not touched after it */
        atomic_store(&blocked, 1);
        struct timespec ms = {0, 1000000};
        while (!atomic_load(&release))
            nanosleep(&ms, NULL);
        atomic_store(&blocker_returned, 1);
        result->u.i32 = 1;
        return 0;
    }
    result->u.i32 = args[0].u.i32 + args[1].u.i32;
    return 0;
}

static void print_counting(void *user, const char *text, size_t len)
{
    if (atomic_load(&destroyed)) atomic_fetch_add(&calls_after_destroy, 1);
    ((cb_data *)user)->prints++;
}

typedef struct stuck_call {
    hl_sandbox *sb;
    hl_status st;
    atomic_int returned;
} stuck_call;

static void *call_count_thread(void *arg)
{
    stuck_call *c = arg;
    hl_value v;
    hl_error e = HL_ERROR_INIT;
    c->st = hl_sandbox_call(c->sb, "call_count", RT_ARGS(hl_u32(1000)), &v, &e);
    atomic_store(&c->returned, 1);
    return NULL;
}

static void test_stuck_host_function_poisons_when_it_returns(void **state)
{
    cb_data *d = calloc(1, sizeof(*d));
    hl_config cfg;
    /* a limit the guest reaches its first host call within even under emulation on a loaded
     * machine (a cancellation before it would end the call without blocking) */
    rt_config(&cfg, "max_execution_time = \"300ms\"\nmax_wait_for_cancellation = \"10ms\"\n");
    stuck_call c = {NULL, HL_OK, 0};
    hl_error e = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_create(&c.sb, rt_guest("callbackguest"), &cfg, &e), HL_OK);
    const hl_type ii[] = {HL_TYPE_I32, HL_TYPE_I32};
    assert_int_equal(
        hl_sandbox_register(c.sb, "host_add", HL_TYPE_I32, ii, 2, host_add_blocking, d, &e), HL_OK);
    hl_sandbox_set_print(c.sb, print_counting, d);
    assert_int_equal(hl_sandbox_initialize(c.sb, &e), HL_OK);
    /* 1000 host calls; the first blocks past every limit */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, call_count_thread, &c), 0);
    while (!atomic_load(&blocked) && !atomic_load(&c.returned))
        rt_sleep_ms(1);
    if (!atomic_load(&blocked))
        fail_msg("the call ended (%s) before its first host call", hl_status_str(c.st));
    unsigned prints = d->prints;
    rt_sleep_ms(600); /* well past 300 + 10 ms: the caller still waits for its host function */
    assert_int_equal(atomic_load(&c.returned), 0);
    atomic_store(&release, 1);
    pthread_join(th, NULL);
    assert_int_equal(c.st, HL_E_POISONED);
    assert_int_equal(atomic_load(&blocker_returned), 1);
    assert_int_equal(d->adds, 1);        /* the guest did not go on to its next host call */
    assert_int_equal(d->prints, prints); /* nor print */
    assert_false(hl_sandbox_usable(c.sb));
    hl_sandbox_destroy(c.sb);
    atomic_store(&destroyed, 1);
    free(d); /* the caller may free the callbacks' data right after destroy */
    rt_sleep_ms(50);
    assert_int_equal(atomic_load(&calls_after_destroy), 0);
}

/* ---- the caller's signal mask ---- */

static int same_mask(const sigset_t *a, const sigset_t *b)
{
    for (int s = 1; s < 65; s++)
        if (sigismember(a, s) != sigismember(b, s)) return 0;
    return 1;
}

/* A worker thread that blocks every signal (the usual pattern of an application that takes its
 * signals with sigwait or signalfd on one thread) calls a sandbox created on a thread that blocks
 * none: guest faults, writes (dirty tracking), cancels and ordinary calls all work there, the
 * process lives, and the worker's mask is what it was. */
static void *all_blocked_worker(void *arg)
{
    hl_sandbox *sb = arg;
    sigset_t all, before, after;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_sigmask(SIG_BLOCK, NULL, &before);
    hl_value v;
    hl_error e = HL_ERROR_INIT;
    for (int i = 0; i < 3; i++) {
        if (hl_sandbox_call(sb, "set_static", RT_ARGS(hl_i64(i)), &v, &e) != HL_OK) _exit(10);
        if (hl_sandbox_call(sb, "write_readonly", RT_NOARGS, &v, &e) != HL_E_GUEST_FAULT) _exit(11);
        if (hl_sandbox_call(sb, "spin", RT_NOARGS, &v, &e) != HL_E_CANCELLED) _exit(12);
        if (hl_sandbox_call(sb, "add", RT_ARGS(hl_i32(i), hl_i32(2)), &v, &e) != HL_OK || v.u.i32 != i + 2)
            _exit(13);
        pthread_sigmask(SIG_BLOCK, NULL, &after);
        if (!same_mask(&before, &after)) _exit(14);
    }
    return NULL;
}

static void run_in_child(void (*body)(const char *dirty), const char *dirty)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        body(dirty);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) fail_msg("the process died of signal %d", WTERMSIG(status));
    if (WEXITSTATUS(status) != 0) fail_msg("the child failed with code %d", WEXITSTATUS(status));
}

static void all_blocked_body(const char *dirty)
{
    if (dirty) setenv("HL_INPROC_DIRTY", dirty, 1);
    hl_sandbox *sb = rt_sandbox("simpleguest", "max_execution_time = \"50ms\"\n");
    pthread_t th;
    if (pthread_create(&th, NULL, all_blocked_worker, sb) != 0) _exit(2);
    pthread_join(th, NULL);
    hl_sandbox_destroy(sb);
}

static void test_caller_blocking_every_signal(void **state)
{
    (void)state;
    run_in_child(all_blocked_body, NULL);
    if (rt_mode() == HL_MODE_RUN_IN_PROCESS)
        run_in_child(all_blocked_body, "pagemap"); /* the restore's other way of finding written pages */
}

/* A signal the calling thread blocks stays blocked while the guest runs, whichever thread created
 * the sandbox (here one that blocks nothing): it is not delivered on the caller's thread during
 * the call. */
static atomic_int usr1_while_blocked;
static pthread_t usr1_caller;

static void on_usr1(int sig)
{
    (void)sig;
    if (pthread_equal(pthread_self(), usr1_caller)) atomic_store(&usr1_while_blocked, 1);
}

typedef struct usr1_call {
    hl_sandbox *sb;
    hl_status st;
    atomic_int started;
    int drained;
} usr1_call;

static void *usr1_blocked_caller(void *arg)
{
    usr1_call *c = arg;
    hl_value v;
    hl_error e = HL_ERROR_INIT;
    atomic_store(&c->started, 1);
    c->st = hl_sandbox_call(c->sb, "spin", RT_NOARGS, &v, &e);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    struct timespec zero = {0, 0};
    c->drained = sigtimedwait(&usr1, NULL, &zero) == SIGUSR1; /* still pending, for the caller */
    return NULL;
}

static void test_caller_mask_holds_in_the_guest(void **state)
{
    (void)state;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    sigset_t usr1, saved;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &usr1, &saved); /* the creating thread blocks nothing of it */
    usr1_call c = {rt_sandbox("simpleguest", "max_execution_time = \"300ms\"\n"), HL_OK, 0, 0};
    pthread_sigmask(SIG_BLOCK, &usr1, NULL); /* the caller (created now) inherits it blocked */
    atomic_store(&usr1_while_blocked, 0);
    assert_int_equal(pthread_create(&usr1_caller, NULL, usr1_blocked_caller, &c), 0);
    while (!atomic_load(&c.started))
        rt_sleep_ms(1);
    rt_sleep_ms(100); /* inside the guest's spin */
    pthread_kill(usr1_caller, SIGUSR1);
    pthread_join(usr1_caller, NULL);
    assert_int_equal(c.st, HL_E_CANCELLED);
    assert_int_equal(atomic_load(&usr1_while_blocked), 0);
    assert_true(c.drained);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    sigaction(SIGUSR1, &old, NULL);
    hl_sandbox_destroy(c.sb);
}

/* A sandbox called from several threads (on KVM it then has a thread of its own), and a fork:
 * the child's destroy must not wait for a thread that exists only in the parent, and the parent
 * goes on using the sandbox. */
static pthread_barrier_t all_called;

/* One call, then wait until every thread has made its own: the threads are alive together (a
 * thread that has exited may hand its stack, and so its identity, to the next one). */
static void *one_call(void *arg)
{
    hl_value v;
    hl_error e = HL_ERROR_INIT;
    *(hl_status *)((void **)arg)[1] = hl_sandbox_call(((void **)arg)[0], "add", RT_ARGS(hl_i32(2), hl_i32(3)), &v, &e);
    pthread_barrier_wait(&all_called);
    return NULL;
}

static void test_fork_after_threads(void **state)
{
    hl_sandbox *sb = rt_sandbox("simpleguest", "");
    /* three threads: the runs move at least twice */
    hl_status st[3] = {HL_E_STATE, HL_E_STATE, HL_E_STATE};
    void *args[3][2] = {{sb, &st[0]}, {sb, &st[1]}, {sb, &st[2]}};
    pthread_t th[3];
    pthread_barrier_init(&all_called, NULL, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, one_call, args[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(st[i], HL_OK);
    }
    pthread_barrier_destroy(&all_called);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20); /* a hang would be the failure: die by SIGALRM instead */
        hl_value v;
        hl_error e = HL_ERROR_INIT;
        (void)hl_sandbox_call(sb, "add", RT_ARGS(hl_i32(1), hl_i32(1)), &v, &e); /* any outcome */
        hl_sandbox_destroy(sb);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("the child died of signal %d (SIGALRM: destroy waited for the parent's thread)", WTERMSIG(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(40), hl_i32(2))).u.i32, 42);
    hl_sandbox_destroy(sb);
}

/* A host function of A calls sandbox B, whose host function calls A back. A's call is waiting
 * for B's, so that call must be refused at once (HL_E_STATE), as a host function calling its own
 * sandbox is, wherever B runs: also when B, called from several threads before, runs its jobs on
 * a thread of its own (on KVM), where the call into A comes from another thread than A's caller.
 * It deadlocked there: A's caller waited for B's thread, which waited for A. */
static struct {
    hl_sandbox *a, *b;
    atomic_int back;
    hl_status inner;
    char inner_msg[sizeof(((hl_error *)0)->message)];
} ring;

static int ring_a_host_add(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    (void)call, (void)nargs, (void)user;
    hl_value v;
    hl_error e = HL_ERROR_INIT;
    if (hl_sandbox_call(ring.b, "add_via_host", RT_ARGS(args[0], args[1]), &v, &e) != HL_OK)
        return 1;
    *result = v;
    return 0;
}

static int ring_b_host_add(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    (void)call, (void)nargs, (void)user;
    if (atomic_load(&ring.back)) {
        hl_value v;
        hl_error e = HL_ERROR_INIT;
        ring.inner = hl_sandbox_call(ring.a, "add_via_host", RT_ARGS(hl_i32(1), hl_i32(1)), &v, &e);
        snprintf(ring.inner_msg, sizeof(ring.inner_msg), "%s", e.message);
    }
    result->type = HL_TYPE_I32;
    result->u.i32 = args[0].u.i32 + args[1].u.i32;
    return 0;
}

static void *ring_call_b(void *arg)
{
    hl_value v;
    hl_error e = HL_ERROR_INIT;
    *(hl_status *)arg = hl_sandbox_call(ring.b, "add_via_host", RT_ARGS(hl_i32(2), hl_i32(3)), &v, &e);
    pthread_barrier_wait(&all_called);
    return NULL;
}

static void ring_body(const char *unused)
{
    (void)unused;
    alarm(60); /* a deadlock: the child dies of SIGALRM */
    hl_config cfg;
    rt_config(&cfg, "");
    hl_error e = HL_ERROR_INIT;
    const hl_type ii[] = {HL_TYPE_I32, HL_TYPE_I32};
    if (hl_sandbox_create(&ring.a, rt_guest("callbackguest"), &cfg, &e) != HL_OK ||
        hl_sandbox_create(&ring.b, rt_guest("callbackguest"), &cfg, &e) != HL_OK ||
        hl_sandbox_register(ring.a, "host_add", HL_TYPE_I32, ii, 2, ring_a_host_add, NULL, &e) != HL_OK ||
        hl_sandbox_register(ring.b, "host_add", HL_TYPE_I32, ii, 2, ring_b_host_add, NULL, &e) != HL_OK ||
        hl_sandbox_initialize(ring.a, &e) != HL_OK || hl_sandbox_initialize(ring.b, &e) != HL_OK)
        _exit(2);
    /* B called from three threads at once: on KVM it then runs on a thread of its own */
    hl_status st[3] = {HL_E_STATE, HL_E_STATE, HL_E_STATE};
    pthread_t th[3];
    pthread_barrier_init(&all_called, NULL, 3);
    for (int i = 0; i < 3; i++)
        if (pthread_create(&th[i], NULL, ring_call_b, &st[i]) != 0) _exit(3);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        if (st[i] != HL_OK) _exit(4);
    }
    pthread_barrier_destroy(&all_called);
    atomic_store(&ring.back, 1);
    hl_value v;
    if (hl_sandbox_call(ring.a, "add_via_host", RT_ARGS(hl_i32(20), hl_i32(22)), &v, &e) != HL_OK || v.u.i32 != 42)
        _exit(5);
    if (ring.inner != HL_E_STATE || !strstr(ring.inner_msg, "wait for itself"))
        _exit(6);
    atomic_store(&ring.back, 0);
    if (hl_sandbox_call(ring.a, "add_via_host", RT_ARGS(hl_i32(1), hl_i32(2)), &v, &e) != HL_OK || v.u.i32 != 3)
        _exit(7);
    if (hl_sandbox_call(ring.b, "add_via_host", RT_ARGS(hl_i32(3), hl_i32(4)), &v, &e) != HL_OK || v.u.i32 != 7)
        _exit(8);
    hl_sandbox_destroy(ring.a);
    hl_sandbox_destroy(ring.b);
}

static void test_call_back_through_another_sandbox(void **state)
{
    (void)state;
    run_in_child(ring_body, NULL);
}

/* Forks around a sandbox in use. (1) A host function forks while the sandbox runs its jobs on
 * a thread of its own (KVM, called from several threads): the child's one thread is that
 * thread, with no caller to return to; it must end, not wait for ever with every signal
 * blocked. (2) A host function forks while another thread waits at the sandbox's gate: the
 * child's destroy must not wait for that thread (it is the parent's). (3) A fork between create
 * and initialise: the child's copy of the memory must not keep the parent's initialisation
 * from sealing its snapshot. */
static int fork_host_pid; /* what fork() returned in host_add_forking, -1 before */
static atomic_int fork_host_delay_ms;

static int host_add_forking(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    (void)call, (void)nargs, (void)user;
    if (fork_host_pid == -1) {
        if (atomic_load(&fork_host_delay_ms))
            rt_sleep_ms((unsigned)atomic_load(&fork_host_delay_ms)); /* another caller gets to the gate */
        fflush(NULL);
        fork_host_pid = fork();
    }
    result->type = HL_TYPE_I32;
    result->u.i32 = args[0].u.i32 + args[1].u.i32;
    return 0;
}

/* Waits up to 30 s for pid: its exit status, or -1 (then it is killed). */
static int wait_child(pid_t pid)
{
    int status = 0;
    for (int i = 0; i < 3000; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        rt_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static hl_sandbox *forking_sandbox(void)
{
    hl_config cfg;
    rt_config(&cfg, "");
    hl_error e = HL_ERROR_INIT;
    hl_sandbox *sb = NULL;
    const hl_type ii[] = {HL_TYPE_I32, HL_TYPE_I32};
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("callbackguest"), &cfg, &e), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_add", HL_TYPE_I32, ii, 2, host_add_forking, NULL, &e), HL_OK);
    assert_int_equal(hl_sandbox_initialize(sb, &e), HL_OK);
    return sb;
}

static void *call_add_via_host(void *arg)
{
    hl_value v;
    hl_error e = HL_ERROR_INIT;
    hl_status st = hl_sandbox_call(arg, "add_via_host", RT_ARGS(hl_i32(2), hl_i32(3)), &v, &e);
    if (fork_host_pid == 0) { /* the child of (1) or (2), on whichever thread forked */
        if (st != HL_E_STATE) _exit(3);
        hl_sandbox_destroy(arg);
        _exit(0);
    }
    return (void *)(intptr_t)(st == HL_OK && v.u.i32 == 5 ? 0 : 1);
}

static void test_fork_around_a_sandbox_in_use(void **state)
{
    (void)state;
    /* (1): three threads, then the fork on the fourth call */
    fork_host_pid = -2; /* no fork yet */
    hl_sandbox *sb = forking_sandbox();
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, call_add_via_host, sb), 0);
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
    }
    fork_host_pid = -1;
    assert_null(call_add_via_host(sb));
    assert_true(fork_host_pid > 0);
    int code = wait_child(fork_host_pid);
    if (code == -1) fail_msg("(1) the child hung after a host function forked on the sandbox's own thread");
    assert_int_equal(code, 0);
    hl_sandbox_destroy(sb);

    /* (2): a caller waits at the gate while the host function forks */
    fork_host_pid = -2;
    sb = forking_sandbox();
    fork_host_pid = -1;
    atomic_store(&fork_host_delay_ms, 200);
    pthread_t waiter;
    assert_int_equal(pthread_create(&waiter, NULL, call_add_via_host, sb), 0);
    assert_null(call_add_via_host(sb)); /* one of the two forks (the first in), the other waits */
    void *r;
    pthread_join(waiter, &r);
    assert_null(r);
    atomic_store(&fork_host_delay_ms, 0);
    assert_true(fork_host_pid > 0);
    code = wait_child(fork_host_pid);
    if (code == -1) fail_msg("(2) the child's destroy waited for a caller that is the parent's");
    assert_int_equal(code, 0);
    hl_sandbox_destroy(sb);

    /* (3): create, fork (the child lingers), initialise */
    hl_config cfg;
    rt_config(&cfg, "");
    hl_error e = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("simpleguest"), &cfg, &e), HL_OK);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        rt_sleep_ms(1000);
        hl_sandbox_destroy(sb);
        _exit(0);
    }
    hl_status st = hl_sandbox_initialize(sb, &e);
    if (st != HL_OK) fail_msg("(3) initialise with a forked child alive: %s", e.message);
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(1), hl_i32(2))).u.i32, 3);
    assert_int_equal(wait_child(pid), 0);
    hl_sandbox_destroy(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_sandbox_many_threads),
        cmocka_unit_test(test_own_sandbox_per_thread),
        cmocka_unit_test(test_initialize_from_many_threads),
        cmocka_unit_test(test_destroy_waits_for_a_running_call),
        cmocka_unit_test(test_destroy_from_own_host_function_is_ignored),
        cmocka_unit_test(test_stuck_host_function_poisons_when_it_returns),
        cmocka_unit_test(test_caller_blocking_every_signal),
        cmocka_unit_test(test_caller_mask_holds_in_the_guest),
        cmocka_unit_test(test_fork_after_threads),
        cmocka_unit_test(test_call_back_through_another_sandbox),
        cmocka_unit_test(test_fork_around_a_sandbox_in_use),
    };
    return rt_run("sandbox_threads", tests);
}
