/* test_guest_sigmask.c - the mask a KVM guest runs with: the caller's signal mask as the kernel's 64 bits, the cancel signal open. */
#include <setjmp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backend/backend.h"

/* What the mask must be, signal by signal. */
static uint64_t expected(const sigset_t *set, int cancel)
{
    uint64_t m = 0;
    for (int sig = 1; sig <= 64; sig++)
        if (sig != cancel && sigismember(set, sig) == 1)
            m |= 1ull << (sig - 1);
    return m;
}

static void check_sets(int cancel)
{
    sigset_t set;
    sigemptyset(&set);
    assert_int_equal(hl_backend_guest_sigmask(&set), 0);
    int one[] = {SIGHUP, SIGUSR1, SIGSEGV, SIGCHLD, SIGRTMIN, SIGRTMIN + 5, SIGRTMAX};
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        sigemptyset(&set);
        sigaddset(&set, one[i]);
        uint64_t want = one[i] == cancel ? 0 : 1ull << (one[i] - 1);
        assert_int_equal(hl_backend_guest_sigmask(&set), want);
        assert_int_equal(hl_backend_guest_sigmask(&set), expected(&set, cancel));
    }
    sigfillset(&set);
    assert_int_equal(hl_backend_guest_sigmask(&set), expected(&set, cancel));
    if (cancel)
        assert_int_equal(hl_backend_guest_sigmask(&set) >> (cancel - 1) & 1, 0);
    /* the calling thread's own (NULL) */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigaddset(&block, SIGRTMIN + 1);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    assert_int_equal(hl_backend_guest_sigmask(NULL), expected(&now, cancel));
    assert_true(hl_backend_guest_sigmask(NULL) >> (SIGUSR2 - 1) & 1);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Before any sandbox: no cancel signal is in use, nothing is taken out. */
static void test_mask_without_cancel_signal(void **state)
{
    (void)state;
    assert_int_equal(hl_backend_current_signal(), 0);
    check_sets(0);
}

/* The cancel signal in use (SIGRTMIN+5 by default) is always open. */
static void test_mask_opens_cancel_signal(void **state)
{
    (void)state;
    int sig = hl_backend_cancel_signal();
    assert_int_equal(sig, SIGRTMIN + 5);
    assert_int_equal(hl_backend_current_signal(), sig);
    check_sets(sig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_without_cancel_signal),
        cmocka_unit_test(test_mask_opens_cancel_signal),
    };
    return cmocka_run_group_tests_name("guest_sigmask", tests, NULL, NULL);
}
