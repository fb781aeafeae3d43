/* test_procid.c - the process identity a fork cannot fool, and locks a forked child gets back unlocked. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/procid.h"

static int child_status(pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("the child died of signal %d", WTERMSIG(status));
    return WEXITSTATUS(status);
}

/* Stable in a process; different in a child of fork() and of _Fork() (no atfork handler runs),
 * stable there too, and different again in a grandchild; the parent's is unchanged. */
static void test_identity_changes_at_every_fork(void **state)
{
    (void)state;
    uint64_t mine = hl_process_id();
    assert_true(mine != 0);
    assert_int_equal(hl_process_id(), mine);
    for (int kind = 0; kind < 2; kind++) {
        fflush(NULL);
        pid_t pid = kind ? _Fork() : fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            uint64_t child = hl_process_id();
            if (child == 0 || child == mine) _exit(1);
            if (hl_process_id() != child) _exit(2);
            pid_t g = fork();
            if (g == 0) _exit(hl_process_id() != child && hl_process_id() != mine && hl_process_id() ? 0 : 3);
            int status = 0;
            if (g < 0 || waitpid(g, &status, 0) != g || !WIFEXITED(status) || WEXITSTATUS(status)) _exit(4);
            _exit(0);
        }
        assert_int_equal(child_status(pid), 0);
        assert_int_equal(hl_process_id(), mine);
    }
}

/* A lock another thread holds at the fork: the child of fork() and of _Fork() (no atfork
 * handler runs: that child hung before 2026-12-03) can take it, from several threads of its own
 * racing to take it first (one makes it new, the others wait for that), with mutual exclusion;
 * the parent's is unchanged. Also with HL_PROCID=pid (unit.test_procid.pid). */
static hl_plock held = HL_PLOCK_INIT;
static pthread_barrier_t taken;
static atomic_int release_it;

static void *holder(void *arg)
{
    (void)arg;
    hl_plock_lock(&held);
    pthread_barrier_wait(&taken);
    while (!atomic_load(&release_it))
        usleep(1000);
    hl_plock_unlock(&held);
    return NULL;
}

static void *lock_and_unlock(void *arg)
{
    hl_plock_lock(arg);
    hl_plock_unlock(arg);
    return NULL;
}

static pthread_barrier_t start_together;
static long counted; /* changed under `held` only */

static void *count_under_lock(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&start_together);
    for (int i = 0; i < 2000; i++) {
        hl_plock_lock(&held);
        long c = counted;
        if (i % 64 == 0) sched_yield(); /* let another thread try its luck inside */
        counted = c + 1;
        hl_plock_unlock(&held);
    }
    return NULL;
}

static void test_lock_held_at_fork_is_free_in_child(void **state)
{
    (void)state;
    for (int kind = 0; kind < 2; kind++) {
        pthread_t th;
        atomic_store(&release_it, 0);
        pthread_barrier_init(&taken, NULL, 2);
        assert_int_equal(pthread_create(&th, NULL, holder, NULL), 0);
        pthread_barrier_wait(&taken);
        fflush(NULL);
        pid_t pid = kind ? _Fork() : fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            alarm(10); /* still held: SIGALRM */
            pthread_t racers[4];
            counted = 0;
            if (pthread_barrier_init(&start_together, NULL, 4) != 0)
                _exit(3);
            for (int i = 0; i < 4; i++)
                if (pthread_create(&racers[i], NULL, count_under_lock, NULL) != 0)
                    _exit(1);
            for (int i = 0; i < 4; i++)
                pthread_join(racers[i], NULL);
            if (counted != 4 * 2000)
                _exit(4);
            hl_plock_lock(&held);
            hl_plock_unlock(&held);
            hl_plock_lock(&held);
            pthread_t t2; /* a thread of the child's: waits for the child's holder, then takes it */
            if (pthread_create(&t2, NULL, lock_and_unlock, &held) != 0)
                _exit(1);
            usleep(10000);
            hl_plock_unlock(&held);
            pthread_join(t2, NULL);
            _exit(0);
        }
        assert_int_equal(child_status(pid), 0);
        /* still the holder's in the parent */
        assert_int_equal(pthread_mutex_trylock(&held.m), EBUSY);
        atomic_store(&release_it, 1);
        pthread_join(th, NULL);
        pthread_barrier_destroy(&taken);
        hl_plock_lock(&held); /* the parent's is as it was: free again */
        hl_plock_unlock(&held);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_changes_at_every_fork),
        cmocka_unit_test(test_lock_held_at_fork_is_free_in_child),
    };
    return cmocka_run_group_tests_name("procid", tests, NULL, NULL);
}
