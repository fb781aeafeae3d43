/* test_concurrency.c - many sandboxes on many threads at once: calls, cancellations, no cross-talk. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"

#define MAX_THREADS 8
/* 8 threads; HL_TEST_THREADS lowers it where CPUs are scarce: the emulated VM has one vCPU,
 * emulated 7-10x slower, where 8 spinning sandboxes can keep a cancelled one off the CPU for
 * longer than the longest max_wait_for_cancellation (255 ms). */
static int nthreads(void)
{
    const char *e = getenv("HL_TEST_THREADS");
    int n = e ? atoi(e) : MAX_THREADS;
    return n >= 1 && n <= MAX_THREADS ? n : MAX_THREADS;
}
#define NCALLS 200

typedef struct worker {
    int id;
    unsigned limit_ms;
    hl_sandbox *sb;
    rt_print print;
    /* what went wrong, for the main thread to report (cmocka's asserts are not for other threads) */
    char failure[600];
    unsigned ok, cancelled, late;
    int print_late;
} worker;


/* A call on w's sandbox. With limits of 20-48 ms a loaded machine can legitimately cancel any
 * call; that is accepted (and counted) only when the call really took at least the limit. A wrong
 * result is never accepted. Returns 1 when the call completed, 0 when it was cancelled late. */
static int call(worker *w, const char *fn, const hl_value *args, size_t n, hl_value *v, hl_error *e, hl_status *st)
{
    double t0 = rt_now_ms();
    *st = hl_sandbox_call(w->sb, fn, args, n, v, e);
    if (*st == HL_E_CANCELLED && rt_now_ms() - t0 >= w->limit_ms) {
        w->late++;
        return 0;
    }
    return 1;
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    hl_value v;
    hl_error e = HL_ERROR_INIT;
    char mine[64] = "", printed[64];
    unsigned late0;
    for (int i = 0; i < NCALLS; i++) {
        int64_t key = (int64_t)w->id * 1000003 + i;
        hl_status st;
        switch (i % 10) {
        case 0: /* a spin, cancelled at this sandbox's own limit */
        {
            double t0 = rt_now_ms();
            st = hl_sandbox_call(w->sb, "spin", NULL, 0, &v, &e);
            double took = rt_now_ms() - t0;
            RT_THREAD_CHECK(w, st == HL_E_CANCELLED, "thread %d call %d: spin gave %s: %s", w->id, i, hl_status_str(st), e.message);
            char want[64];
            snprintf(want, sizeof(want), "max_execution_time (%u ms)", w->limit_ms);
            RT_THREAD_CHECK(w, strstr(e.message, want), "thread %d: `%s` lacks `%s`", w->id, e.message, want);
            RT_THREAD_CHECK(w, took >= w->limit_ms, "thread %d: cancelled after %.1f ms, limit %u", w->id, took, w->limit_ms);
            w->cancelled++;
            continue;
        }
        case 1:
        case 6:
            if (!call(w, "echo_i64", RT_ARGS(hl_i64(key)), &v, &e, &st))
                continue;
            RT_THREAD_CHECK(w, st == HL_OK && v.type == HL_TYPE_I64 && v.u.i64 == key, "thread %d call %d: echo_i64: %s %s", w->id, i, hl_status_str(st), e.message);
            break;
        case 2:
        case 7:
            snprintf(mine, sizeof(mine), "thread %d call %d", w->id, i);
            if (!call(w, "echo_string", RT_ARGS(hl_string(mine)), &v, &e, &st))
                continue;
            RT_THREAD_CHECK(w, st == HL_OK && v.u.buf.len == strlen(mine) && memcmp(v.u.buf.ptr, mine, v.u.buf.len) == 0,
                  "thread %d call %d: echo_string: %s %s", w->id, i, hl_status_str(st), e.message);
            break;
        case 3:
            if (!call(w, "add", RT_ARGS(hl_i32(w->id), hl_i32(i)), &v, &e, &st))
                continue;
            RT_THREAD_CHECK(w, st == HL_OK && v.u.i32 == w->id + i, "thread %d call %d: add: %s %s", w->id, i, hl_status_str(st), e.message);
            break;
        case 4: /* state set in a context stays this sandbox's */
            late0 = w->late;
            st = hl_sandbox_context_begin(w->sb, &e);
            RT_THREAD_CHECK(w, st == HL_OK, "thread %d: context_begin: %s", w->id, e.message);
            if (call(w, "set_static", RT_ARGS(hl_i64(key)), &v, &e, &st)) {
                RT_THREAD_CHECK(w, st == HL_OK, "thread %d: set_static: %s", w->id, e.message);
                if (call(w, "get_static", NULL, 0, &v, &e, &st))
                    RT_THREAD_CHECK(w, st == HL_OK && v.u.i64 == key, "thread %d call %d: get_static in a context: %s %lld",
                          w->id, i, hl_status_str(st), (long long)v.u.i64);
            }
            st = hl_sandbox_context_end(w->sb, &e);
            RT_THREAD_CHECK(w, st == HL_OK, "thread %d: context_end: %s", w->id, e.message);
            if (!call(w, "get_static", NULL, 0, &v, &e, &st)) {
                w->late = late0 + 1;
                continue;
            }
            RT_THREAD_CHECK(w, st == HL_OK && v.u.i64 == 7, "thread %d call %d: get_static after the context: %s %lld", w->id,
                  i, hl_status_str(st), (long long)v.u.i64);
            if (w->late != late0) { /* one step, counted once */
                w->late = late0 + 1;
                continue;
            }
            break;
        case 5:
            snprintf(printed, sizeof(printed), "<%d:%d>", w->id, i);
            if (!call(w, "print", RT_ARGS(hl_string(printed)), &v, &e, &st)) {
                w->print_late = 1; /* it may or may not have printed */
                continue;
            }
            RT_THREAD_CHECK(w, st == HL_OK && v.u.i32 == (int32_t)strlen(printed), "thread %d call %d: print: %s %s", w->id, i, hl_status_str(st), e.message);
            break;
        case 8:
            if (!call(w, "fail_with", RT_ARGS(hl_i32(100 + w->id), hl_string(mine)), &v, &e, &st))
                continue;
            RT_THREAD_CHECK(w, st == HL_E_GUEST_ERROR && e.guest_code == (unsigned)(100 + w->id) && strstr(e.message, mine),
                  "thread %d call %d: fail_with gave %s %u: %s", w->id, i, hl_status_str(st), e.guest_code, e.message);
            break;
        default:
            if (!call(w, "dirty_pages", RT_ARGS(hl_u64((uint64_t)(w->id + 1) * 4)), &v, &e, &st))
                continue;
            RT_THREAD_CHECK(w, st == HL_OK && v.u.u64 == (uint64_t)(w->id + 1) * 4, "thread %d call %d: dirty_pages: %s %s", w->id, i, hl_status_str(st), e.message);
            break;
        }
        w->ok++;
    }
    return NULL;
}

static void test_eight_sandboxes(void **state)
{
    static worker ws[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    const int NTHREADS = nthreads();
    for (int t = 0; t < NTHREADS; t++) {
        memset(&ws[t], 0, sizeof(ws[t]));
        ws[t].id = t;
        ws[t].limit_ms = 20 + (unsigned)t * 4; /* 20 .. 48 ms */
        char toml[160];
        /* the longest wait, so that two busy cores still stop every spin in time */
        snprintf(toml, sizeof(toml), "max_execution_time = \"%ums\"\nmax_wait_for_cancellation = \"255ms\"\n",
                 ws[t].limit_ms);
        ws[t].sb = rt_sandbox("simpleguest", toml);
        hl_sandbox_set_print(ws[t].sb, rt_print_capture, &ws[t].print);
    }
    for (int t = 0; t < NTHREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, run_worker, &ws[t]), 0);
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < NTHREADS; t++) {
        if (ws[t].failure[0])
            fail_msg("%s", ws[t].failure);
        assert_int_equal(ws[t].cancelled, NCALLS / 10);
        assert_int_equal(ws[t].ok + ws[t].late, NCALLS - NCALLS / 10);
        assert_true(ws[t].late <= NCALLS / 4); /* an overloaded machine, not a broken runtime */
        if (ws[t].late)
            print_message("thread %d: %u calls cancelled at their %u ms limit (a loaded machine)\n", t, ws[t].late,
                          ws[t].limit_ms);
        /* each sandbox printed exactly its own lines, in order */
        char want[4096] = "";
        for (int i = 5; i < NCALLS; i += 10) {
            char one[32];
            snprintf(one, sizeof(one), "<%d:%d>", t, i);
            strcat(want, one);
        }
        if (!ws[t].print_late)
            assert_string_equal(ws[t].print.text, want);
        hl_sandbox_stats st = HL_SANDBOX_STATS_INIT;
        hl_sandbox_get_stats(ws[t].sb, &st);
        if (!ws[t].late)
            assert_int_equal(st.calls, NCALLS + 2 * (NCALLS / 10)); /* the context step makes 3 calls */
        assert_true(hl_sandbox_usable(ws[t].sb));
        hl_sandbox_destroy(ws[t].sb);
    }
}

/* Sandboxes created and destroyed on several threads at once. */
static void *churn(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 10; i++) {
        hl_config cfg;
        hl_config_init(&cfg);
        hl_config_set_execution_mode(&cfg, rt_mode());
        hl_sandbox *sb = NULL;
        hl_error e = HL_ERROR_INIT;
        hl_value v;
        RT_THREAD_CHECK(w, hl_sandbox_create(&sb, rt_guest("simpleguest"), &cfg, &e) == HL_OK, "create: %s", e.message);
        RT_THREAD_CHECK(w, hl_sandbox_initialize(sb, &e) == HL_OK, "initialize: %s", e.message);
        RT_THREAD_CHECK(w, hl_sandbox_call(sb, "add", RT_ARGS(hl_i32(w->id), hl_i32(i)), &v, &e) == HL_OK && v.u.i32 == w->id + i,
              "thread %d: add", w->id);
        RT_THREAD_CHECK(w, hl_sandbox_call(sb, "read_address", RT_ARGS(hl_u64(0)), &v, &e) == HL_E_GUEST_FAULT,
              "thread %d: read_address(0) did not fault: %s", w->id, e.message);
        hl_sandbox_destroy(sb);
        w->ok++;
    }
    return NULL;
}

static void test_create_destroy_in_parallel(void **state)
{
    static worker ws[4];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
        memset(&ws[t], 0, sizeof(ws[t]));
        ws[t].id = t;
        assert_int_equal(pthread_create(&th[t], NULL, churn, &ws[t]), 0);
    }
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < 4; t++) {
        if (ws[t].failure[0])
            fail_msg("%s", ws[t].failure);
        assert_int_equal(ws[t].ok, 10);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eight_sandboxes),
        cmocka_unit_test(test_create_destroy_in_parallel),
    };
    return rt_run("concurrency", tests);
}
