/* test_cancel_signal.c - hl_set_cancel_signal: a changed signal still cancels on time, the old one is left alone. */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "rt.h"

/* The tests share the process's signal state and run in order; each ends with the default back. */

static volatile sig_atomic_t app_hits;
static void app_handler(int sig)
{
    (void)sig;
    app_hits++;
}

static void set_app_handler(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = app_handler;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(sig, &sa, NULL), 0);
}

static int is_app_handler(int sig)
{
    struct sigaction cur;
    assert_int_equal(sigaction(sig, NULL, &cur), 0);
    return !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == app_handler;
}

static int is_default_action(int sig)
{
    struct sigaction cur;
    assert_int_equal(sigaction(sig, NULL, &cur), 0);
    return !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL;
}

/* A spinning guest function is cancelled after its 100 ms, and the sandbox goes on. */
static void spin_is_cancelled(hl_sandbox *sb)
{
    double t0 = rt_now_ms();
    rt_fails(sb, "spin", HL_E_CANCELLED, 0, "max_execution_time (100 ms)", RT_NOARGS);
    double took = rt_now_ms() - t0;
    assert_true(took >= 100);
    assert_true(took < 100 + 100 + 5000);
    assert_true(hl_sandbox_usable(sb));
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(40), hl_i32(2))).u.i32, 42);
}

#define LIMITS "max_execution_time = \"100ms\"\nmax_wait_for_cancellation = \"100ms\"\n"

static void test_arguments(void **state)
{
    (void)state;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_cancel_signal(), SIGRTMIN + HL_CANCEL_SIGNAL_DEFAULT_OFFSET);
    assert_int_equal(hl_set_cancel_signal(SIGUSR1, &err), HL_E_INVALID_ARG);
    rt_contains(err.message, "is not a realtime signal");
    assert_int_equal(hl_set_cancel_signal(SIGRTMIN - 1, &err), HL_E_INVALID_ARG);
    assert_int_equal(hl_set_cancel_signal(SIGRTMAX + 1, &err), HL_E_INVALID_ARG);
    assert_int_equal(hl_set_cancel_signal(-3, &err), HL_E_INVALID_ARG);
    assert_int_equal(hl_cancel_signal(), SIGRTMIN + HL_CANCEL_SIGNAL_DEFAULT_OFFSET);
    hl_error bad = {0}; /* never initialised */
    assert_int_equal(hl_set_cancel_signal(SIGRTMIN + 1, &bad), HL_E_INVALID_ARG);
    assert_int_equal(hl_cancel_signal(), SIGRTMIN + HL_CANCEL_SIGNAL_DEFAULT_OFFSET);
    /* the ends of the range, NULL err, and 0 for the default */
    assert_int_equal(hl_set_cancel_signal(SIGRTMAX, NULL), HL_OK);
    assert_int_equal(hl_cancel_signal(), SIGRTMAX);
    assert_int_equal(hl_set_cancel_signal(SIGRTMIN, &err), HL_OK);
    assert_int_equal(err.status, HL_OK);
    assert_int_equal(hl_cancel_signal(), SIGRTMIN);
    assert_int_equal(hl_set_cancel_signal(0, &err), HL_OK);
    assert_int_equal(hl_cancel_signal(), SIGRTMIN + HL_CANCEL_SIGNAL_DEFAULT_OFFSET);
}

/* Not while a sandbox exists, initialised or not; again once the last is destroyed. */
static void test_only_while_none_exists(void **state)
{
    (void)state;
    hl_error err = HL_ERROR_INIT;
    hl_sandbox *a = rt_sandbox("simpleguest", LIMITS);
    hl_config cfg;
    rt_config(&cfg, "");
    hl_sandbox *b = NULL;
    assert_int_equal(hl_sandbox_create(&b, rt_guest("simpleguest"), &cfg, &err), HL_OK);
    assert_int_equal(hl_set_cancel_signal(SIGRTMIN + 7, &err), HL_E_STATE);
    rt_contains(err.message, "2 sandboxes exist");
    hl_sandbox_destroy(b);
    assert_int_equal(hl_set_cancel_signal(SIGRTMIN + 7, &err), HL_E_STATE);
    rt_contains(err.message, "1 sandbox exists");
    assert_int_equal(hl_cancel_signal(), SIGRTMIN + HL_CANCEL_SIGNAL_DEFAULT_OFFSET);
    spin_is_cancelled(a); /* the refusals changed nothing */
    hl_sandbox_destroy(a);
    /* a creation that fails leaves nothing behind either */
    static const char not_elf[64] = "not an ELF file";
    assert_int_equal(hl_sandbox_create_from_image(&b, not_elf, sizeof not_elf, &cfg, &err), HL_E_ELF);
    assert_int_equal(hl_set_cancel_signal(SIGRTMIN + 7, &err), HL_OK);
    assert_int_equal(hl_set_cancel_signal(0, &err), HL_OK);
}

/* An application that owns SIGRTMIN+5 moves the library to SIGRTMIN+7 before its first sandbox:
 * cancellation works with the new signal, and the application's handler is never touched. */
static void test_changed_signal_cancels(void **state)
{
    (void)state;
    int own = SIGRTMIN + HL_CANCEL_SIGNAL_DEFAULT_OFFSET, moved = SIGRTMIN + 7;
    set_app_handler(own);
    assert_int_equal(hl_set_cancel_signal(moved, NULL), HL_OK);
    hl_sandbox *sb = rt_sandbox("simpleguest", LIMITS);
    assert_int_equal(hl_cancel_signal(), moved);
    assert_true(is_app_handler(own));
    assert_false(is_default_action(moved)); /* the library's handler */
    spin_is_cancelled(sb);
    spin_is_cancelled(sb);
    assert_true(is_app_handler(own));
    app_hits = 0;
    assert_int_equal(raise(own), 0);
    assert_int_equal(app_hits, 1);
    /* a second sandbox at the same time, on `moved` too */
    hl_sandbox *sb2 = rt_sandbox("simpleguest", LIMITS);
    spin_is_cancelled(sb2);
    hl_sandbox_destroy(sb2);
    hl_sandbox_destroy(sb);
    assert_int_equal(raise(own), 0);
    assert_int_equal(app_hits, 2);
    /* back to the default: `moved` gets its earlier action (the default) back */
    signal(own, SIG_DFL);
    assert_int_equal(hl_set_cancel_signal(0, NULL), HL_OK);
    assert_true(is_default_action(moved));
}

/* The library used the default signal, then the application takes it over: once the library has
 * moved away, the application's handler on SIGRTMIN+5 works, and the sandboxes use the new one. */
static void test_move_after_use(void **state)
{
    (void)state;
    int old = SIGRTMIN + HL_CANCEL_SIGNAL_DEFAULT_OFFSET, moved = SIGRTMIN + 3;
    hl_sandbox *sb = rt_sandbox("simpleguest", LIMITS);
    spin_is_cancelled(sb);
    hl_sandbox_destroy(sb);
    assert_false(is_default_action(old)); /* the library's handler, until it moves */
    assert_int_equal(hl_set_cancel_signal(moved, NULL), HL_OK);
    assert_true(is_default_action(old)); /* given back as found */
    set_app_handler(old);
    sb = rt_sandbox("simpleguest", LIMITS);
    assert_true(is_app_handler(old));
    spin_is_cancelled(sb);
    app_hits = 0;
    assert_int_equal(raise(old), 0);
    assert_int_equal(app_hits, 1);
    assert_true(is_app_handler(old));
    hl_sandbox_destroy(sb);
    signal(old, SIG_DFL);
    assert_int_equal(hl_set_cancel_signal(0, NULL), HL_OK);
    assert_true(is_default_action(moved));
}

/* A host function (callbackguest's host_spin) runs with the chosen signal blocked, as with the
 * default: a cancellation waits for it and ends the call when it returns. */
static void test_host_function_not_interrupted(void **state)
{
    (void)state;
    assert_int_equal(hl_set_cancel_signal(SIGRTMIN + 9, NULL), HL_OK);
    rt_hosts hosts;
    memset(&hosts, 0, sizeof(hosts));
    hl_sandbox *sb = rt_callback_sandbox("max_execution_time = \"30ms\"\nmax_wait_for_cancellation = \"255ms\"\n",
                                         &hosts);
    rt_fails(sb, "call_spinning", HL_E_CANCELLED, 0, "max_execution_time (30 ms)", RT_ARGS(hl_u32(80)));
    assert_int_equal(atomic_load(&hosts.spins_done), 1);
    assert_true(hl_sandbox_usable(sb));
    rt_ok(sb, "call_spinning", RT_ARGS(hl_u32(1)));
    hl_sandbox_destroy(sb);
    assert_int_equal(hl_set_cancel_signal(0, NULL), HL_OK);
}

/* A thread that blocks the cancel signal itself: a cancellation signalled while its host function
 * ran (the signal blocked) is not left pending on the application's thread after the call, where
 * it would reach whatever the application later does with that signal (its own handler once the
 * library has moved to another signal, the default action, a sigwait). */
static void test_no_cancel_left_pending(void **state)
{
    (void)state;
    int sig = hl_cancel_signal();
    sigset_t set, saved, pending;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_BLOCK, &set, &saved);
    rt_hosts hosts;
    memset(&hosts, 0, sizeof(hosts));
    hl_sandbox *sb = rt_callback_sandbox("max_execution_time = \"30ms\"\nmax_wait_for_cancellation = \"255ms\"\n",
                                         &hosts);
    rt_fails(sb, "call_spinning", HL_E_CANCELLED, 0, "max_execution_time (30 ms)", RT_ARGS(hl_u32(80)));
    sigpending(&pending);
    int left = sigismember(&pending, sig) == 1;
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, NULL, &zero) == sig) /* clean for the next tests, whatever happened */
        ;
    rt_ok(sb, "call_spinning", RT_ARGS(hl_u32(1)));
    hl_sandbox_destroy(sb);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    assert_false(left);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_only_while_none_exists),
        cmocka_unit_test(test_changed_signal_cancels),
        cmocka_unit_test(test_move_after_use),
        cmocka_unit_test(test_host_function_not_interrupted),
        cmocka_unit_test(test_no_cancel_left_pending),
    };
    return rt_run("cancel_signal", tests);
}
