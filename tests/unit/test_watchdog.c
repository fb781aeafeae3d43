/* test_watchdog.c - the process-wide watchdog: cancels late runs, re-sends, gives up, pauses, forgets stopped watches. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/watchdog.h"

typedef struct counted {
    atomic_int calls;
    atomic_llong first_ns;
} counted;

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

static void on_cancel(void *ctx)
{
    counted *c = ctx;
    long long zero = 0;
    atomic_compare_exchange_strong(&c->first_ns, &zero, (long long)now_ns());
    atomic_fetch_add(&c->calls, 1);
}

/* Past the limit: cancelled, not before it; again about every millisecond until the wait runs
 * out, then given up (stop says so) and left alone. */
static void test_cancels_then_gives_up(void **state)
{
    (void)state;
    counted c = {0, 0};
    hl_watch w;
    hl_error e = HL_ERROR_INIT;
    int64_t t0 = now_ns();
    assert_int_equal(hl_watch_start(&w, on_cancel, &c, 30, 100, &e), HL_OK);
    sleep_ms(10);
    assert_int_equal(atomic_load(&c.calls), 0);
    assert_false(hl_watch_fired(&w));
    sleep_ms(120);
    assert_true(hl_watch_fired(&w));
    assert_true(atomic_load(&c.first_ns) - t0 >= 30 * 1000000LL);
    assert_true(atomic_load(&c.calls) >= 2); /* re-sent within the wait */
    sleep_ms(150);
    int calls = atomic_load(&c.calls);
    assert_true(calls <= 105); /* every ms at most, within the 100 ms wait, and none after it */
    sleep_ms(30);
    assert_int_equal(atomic_load(&c.calls), calls); /* given up: nothing more */
    assert_int_equal(hl_watch_stop(&w), 1);
}

/* A run that ends before its limit is never cancelled, and a stopped watch is forgotten. */
static void test_stop_in_time(void **state)
{
    (void)state;
    counted c = {0, 0};
    hl_watch w;
    hl_error e = HL_ERROR_INIT;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(hl_watch_start(&w, on_cancel, &c, 50, 10, &e), HL_OK);
        assert_int_equal(hl_watch_stop(&w), 0);
    }
    sleep_ms(80);
    assert_int_equal(atomic_load(&c.calls), 0);
    /* limit 0: nothing registered */
    assert_int_equal(hl_watch_start(&w, on_cancel, &c, 0, 10, &e), HL_OK);
    assert_int_equal(hl_watch_stop(&w), 0);
    assert_int_equal(hl_watch_stop(&w), 0); /* twice is harmless */
}

/* Time held by a debugger does not count: a watch paused before its limit is not cancelled
 * while paused, and its limit moves on by the time held. */
static void test_pause(void **state)
{
    (void)state;
    counted c = {0, 0};
    hl_watch w;
    hl_error e = HL_ERROR_INIT;
    assert_int_equal(hl_watch_start(&w, on_cancel, &c, 40, 1000, &e), HL_OK);
    sleep_ms(20);
    hl_watch_pause(&w, 1);
    sleep_ms(100);
    assert_int_equal(atomic_load(&c.calls), 0);
    int64_t resumed = now_ns();
    hl_watch_pause(&w, 0);
    sleep_ms(150);
    assert_true(atomic_load(&c.calls) >= 1);
    assert_true(atomic_load(&c.first_ns) - resumed >= 15 * 1000000LL); /* ~20 ms of its limit were left */
    assert_int_equal(hl_watch_stop(&w), 0);
}

/* A short limit registered while a long one is watched wakes the watchdog: the short one is
 * cancelled on time, the long one not. */
static void test_earlier_deadline_wakes(void **state)
{
    (void)state;
    counted slow = {0, 0}, fast = {0, 0};
    hl_watch ws, wf;
    hl_error e = HL_ERROR_INIT;
    assert_int_equal(hl_watch_start(&ws, on_cancel, &slow, 5000, 10, &e), HL_OK);
    sleep_ms(5);
    int64_t t0 = now_ns();
    assert_int_equal(hl_watch_start(&wf, on_cancel, &fast, 20, 10, &e), HL_OK);
    sleep_ms(300);
    assert_true(atomic_load(&fast.calls) >= 1);
    assert_true(atomic_load(&fast.first_ns) - t0 < 2000 * 1000000LL); /* not at the slow one's 5 s */
    assert_int_equal(atomic_load(&slow.calls), 0);
    assert_int_equal(hl_watch_stop(&wf), 1);
    assert_int_equal(hl_watch_stop(&ws), 0);
}

typedef struct many_arg {
    counted c;
    int late;
} many_arg;

static void *many(void *arg)
{
    many_arg *a = arg;
    hl_error e = HL_ERROR_INIT;
    for (int i = 0; i < 200; i++) {
        hl_watch w;
        assert_int_equal(hl_watch_start(&w, on_cancel, &a->c, a->late ? 2 : 1000, 100, &e), HL_OK);
        if (a->late)
            sleep_ms(5);
        hl_watch_stop(&w);
    }
    return NULL;
}

/* Threads registering and stopping at once: only the late runs are cancelled. */
static void test_many_threads(void **state)
{
    (void)state;
    many_arg args[4] = {{{0, 0}, 0}, {{0, 0}, 1}, {{0, 0}, 0}, {{0, 0}, 1}};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, many, &args[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&args[0].c.calls), 0);
    assert_int_equal(atomic_load(&args[2].c.calls), 0);
    assert_true(atomic_load(&args[1].c.calls) >= 1); /* runs of 5 ms with a 2 ms limit */
    assert_true(atomic_load(&args[3].c.calls) >= 1);
}

/* fork() inside a watched run (a host function that forks, whose child goes on): the child has no
 * watchdog and none of the parent's runs; the run's end there (stop) must not bring a parent's
 * watch, copied into the child, back into the child's list, where its limit would be enforced
 * (cancel called on a run that does not exist there). */
static void test_fork_inside_a_run(void **state)
{
    (void)state;
    counted other = {0, 0}, mine = {0, 0};
    hl_watch w_other, w_mine;
    hl_error e = HL_ERROR_INIT;
    /* another thread's run (registered first), then this thread's (the list's head) */
    assert_int_equal(hl_watch_start(&w_other, on_cancel, &other, 40, 1000, &e), HL_OK);
    assert_int_equal(hl_watch_start(&w_mine, on_cancel, &mine, 10000, 1000, &e), HL_OK);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        hl_watch_stop(&w_mine); /* this thread's run ends in the child */
        counted c = {0, 0};
        hl_watch w;
        if (hl_watch_start(&w, on_cancel, &c, 5, 1000, &e) != HL_OK) _exit(2); /* the child's watchdog */
        sleep_ms(100);
        hl_watch_stop(&w);
        if (atomic_load(&c.calls) == 0) _exit(3);     /* the child's own run is watched */
        _exit(atomic_load(&other.calls) == 0 ? 0 : 1); /* the parent's is not */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    hl_watch_stop(&w_mine);
    hl_watch_stop(&w_other);
}

/* The wait for cancellation counts from the first cancel: a watchdog that gets to a run late (it
 * was not scheduled, or another run's cancel held it) still gives it the whole wait before giving
 * up. Here the first watch's cancel holds the watchdog 60 ms, past the second's limit and wait. */
static void slow_cancel(void *ctx)
{
    counted *c = ctx;
    if (atomic_fetch_add(&c->calls, 1) == 0)
        sleep_ms(60);
}

static void test_wait_counts_from_the_first_cancel(void **state)
{
    (void)state;
    counted slow = {0, 0}, c = {0, 0};
    hl_watch w_slow, w;
    hl_error e = HL_ERROR_INIT;
    assert_int_equal(hl_watch_start(&w_slow, slow_cancel, &slow, 5, 1000, &e), HL_OK);
    assert_int_equal(hl_watch_start(&w, on_cancel, &c, 15, 30, &e), HL_OK);
    while (!atomic_load(&c.calls))
        sleep_ms(1);
    sleep_ms(5); /* the run ends 5 ms after its first cancel: well within its 30 ms wait */
    assert_int_equal(hl_watch_stop(&w), 0);
    hl_watch_stop(&w_slow);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancels_then_gives_up),
        cmocka_unit_test(test_stop_in_time),
        cmocka_unit_test(test_pause),
        cmocka_unit_test(test_earlier_deadline_wakes),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_fork_inside_a_run),
        cmocka_unit_test(test_wait_counts_from_the_first_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
