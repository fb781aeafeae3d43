/* libcguest_misc.c - libc battery guest: qsort, setjmp, malloc, time, rand, errno, assert, exit. */
#define _GNU_SOURCE /* clock_gettime, read, write */
#undef NDEBUG       /* assert() is under test, whatever the build type */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "hyperlight_guest.h"
#include "libc_cases.h"

void libcguest_register_misc(void);

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* sort(values, probes) -> the values sorted by qsort, then per probe the index bsearch found it
 * at, or -1 (all int64). */
static int sort(const hlg_value *a, hlg_value *r)
{
    size_t n = a[0].u.str.len / 8, np = a[1].u.str.len / 8;
    int64_t *v = malloc((n + np) * 8 + 8), *probes = malloc(np * 8 + 8);
    if (!v || !probes) return hlg_error(HL_GERR_MALLOC_FAILED, "no room for %zu values", n);
    memcpy(v, a[0].u.str.ptr, n * 8);
    memcpy(probes, a[1].u.str.ptr, np * 8);
    qsort(v, n, 8, cmp_i64);
    for (size_t i = 0; i < np; i++) {
        const int64_t *hit = bsearch(&probes[i], v, n, 8, cmp_i64);
        v[n + i] = hit ? hit - v : -1;
    }
    r->u.str.ptr = (const char *)v;
    r->u.str.len = (uint32_t)((n + np) * 8);
    return 0;
}

static jmp_buf g_jb;

static __attribute__((noinline)) int dive(uint32_t depth, int val, volatile uint32_t *reached)
{
    volatile char frame[64]; /* a real frame per level */
    frame[depth % 64] = (char)depth;
    *reached = depth;
    if (depth > 100000) /* (a way back, so that the recursion is not endless to the compiler) */
        return -1;
    if (depth == 0) longjmp(g_jb, val);
    return dive(depth - 1, val, reached) + frame[depth % 64];
}

/* jump(depth, val) -> "<setjmp's second return> <frames entered> <local kept>": longjmp from
 * `depth` nested frames back to setjmp. */
static int jump(const hlg_value *a, hlg_value *r)
{
    volatile uint32_t reached = 0xFFFFFFFF;
    volatile int local = 1;
    int got = setjmp(g_jb);
    if (got == 0) {
        local = 2; /* a volatile changed after setjmp keeps its new value */
        dive(a[0].u.u32, a[1].u.i32, &reached);
        return hlg_error(HL_GERR_GUEST_ERROR, "longjmp returned");
    }
    static char out[64];
    snprintf(out, sizeof(out), "%d %u %d", got, (unsigned)reached, local);
    r->u.str.ptr = out;
    r->u.str.len = (uint32_t)strlen(out);
    return 0;
}

/* malloc_stress(seed, ops) -> "<ops> <corrupt blocks> <largest live bytes>": random malloc,
 * calloc, realloc and free over 256 slots, each block filled with its own byte and checked. */
static int malloc_stress(const hlg_value *a, hlg_value *r)
{
    enum { SLOTS = 256 };
    static unsigned char *p[SLOTS];
    static size_t size[SLOTS];
    unsigned long long s = a[0].u.u64;
    unsigned bad = 0;
    size_t live = 0, live_max = 0;
    for (uint32_t op = 0; op < a[1].u.u32; op++) {
        size_t i = lc_next(&s) % SLOTS;
        unsigned char fill = (unsigned char)(i + 1);
        for (size_t k = 0; k < size[i]; k++)
            bad += p[i][k] != fill;
        size_t want = lc_next(&s) % 4 == 0 ? lc_next(&s) % 65536 : lc_next(&s) % 512;
        unsigned kind = (unsigned)(lc_next(&s) % 4);
        live -= size[i];
        if (kind == 0) {
            free(p[i]);
            p[i] = NULL;
            size[i] = 0;
        } else if (kind == 1 && p[i]) {
            unsigned char *q = realloc(p[i], want + 1);
            if (!q) return hlg_error(HL_GERR_MALLOC_FAILED, "realloc(%zu) failed", want + 1);
            size_t keep = size[i] < want + 1 ? size[i] : want + 1;
            for (size_t k = 0; k < keep; k++)
                bad += q[k] != fill;
            p[i] = q;
            size[i] = want + 1;
        } else {
            free(p[i]);
            p[i] = kind == 2 ? calloc(want + 1, 1) : malloc(want + 1);
            if (!p[i]) return hlg_error(HL_GERR_MALLOC_FAILED, "malloc(%zu) failed", want + 1);
            if (kind == 2)
                for (size_t k = 0; k <= want; k++)
                    bad += p[i][k] != 0;
            size[i] = want + 1;
        }
        if (p[i]) memset(p[i], fill, size[i]);
        live += size[i];
        live_max = live > live_max ? live : live_max;
    }
    static char out[96];
    snprintf(out, sizeof(out), "%u %u %zu", a[1].u.u32, bad, live_max);
    r->u.str.ptr = out;
    r->u.str.len = (uint32_t)strlen(out);
    return 0;
}

/* Allocates `chunk`-byte blocks (touching them) until malloc returns NULL; frees them all. */
static size_t fill_heap(size_t chunk, int *err)
{
    void **list = NULL;
    size_t n = 0;
    for (;;) {
        void *q = malloc(chunk);
        if (!q) {
            *err = errno;
            break;
        }
        memset(q, 0x5A, chunk);
        *(void **)q = list; /* a list through the blocks themselves */
        list = q;
        n++;
    }
    while (list) {
        void **next = *list;
        free(list);
        list = next;
    }
    return n;
}

/* exhaust(chunk) -> "<blocks> <errno> <blocks again> <huge> <realloc kept> <calloc overflow>
 * <after>": the heap runs out (malloc returns NULL with ENOMEM, no fault) and is whole again. */
static volatile size_t g_size_max = SIZE_MAX; /* sizes the compiler cannot prove too large */

static int exhaust(const hlg_value *a, hlg_value *r)
{
    int e1 = 0, e2 = 0;
    size_t chunk = (size_t)a[0].u.u64;
    size_t n1 = fill_heap(chunk, &e1);
    size_t n2 = fill_heap(chunk, &e2);
    errno = 0;
    void *huge = malloc(g_size_max / 2);
    int huge_errno = errno;
    char *keep = malloc(100), *volatile alias = keep; /* read after a failed realloc */
    if (!keep) return hlg_error(HL_GERR_MALLOC_FAILED, "malloc(100) failed after exhaustion");
    memset(keep, 'k', 100);
    char *grown = realloc(keep, g_size_max / 4);
    int kept = grown == NULL && alias[0] == 'k' && alias[99] == 'k';
    void *ovf = calloc(g_size_max / 2, 4);
    free(alias);
    char *after = malloc(chunk);
    int usable = after != NULL;
    if (after) memset(after, 1, chunk);
    free(after);
    static char out[128];
    snprintf(out, sizeof(out), "%zu %d %zu %d %d %d %d %d", n1, e1, n2, huge == NULL, huge_errno,
             kept, ovf == NULL, usable);
    r->u.str.ptr = out;
    r->u.str.len = (uint32_t)strlen(out);
    return 0;
}

/* clocks(work) -> [monotonic ns, monotonic ns after `work` rounds of arithmetic, time(NULL),
 * CLOCK_REALTIME seconds, the work's result] as int64. */
static int clocks(const hlg_value *a, hlg_value *r)
{
    static int64_t out[5];
    struct timespec t1, t2, rt;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    volatile double acc = 0;
    for (uint32_t i = 0; i < a[0].u.u32; i++)
        acc += sqrt((double)i);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    out[0] = (int64_t)t1.tv_sec * 1000000000 + t1.tv_nsec;
    out[1] = (int64_t)t2.tv_sec * 1000000000 + t2.tv_nsec;
    out[2] = (int64_t)time(NULL);
    clock_gettime(CLOCK_REALTIME, &rt);
    out[3] = (int64_t)rt.tv_sec;
    out[4] = (int64_t)acc;
    r->u.str.ptr = (const char *)out;
    r->u.str.len = sizeof(out);
    return 0;
}

/* rand_seq(seed, n) -> n rand() values after srand(seed) (int32), or an error when a second
 * srand(seed) does not give the same sequence. */
static int rand_seq(const hlg_value *a, hlg_value *r)
{
    uint32_t n = a[1].u.u32;
    int32_t *v = malloc((size_t)n * 4 + 4);
    if (!v) return hlg_error(HL_GERR_MALLOC_FAILED, "no room");
    srand(a[0].u.u32);
    for (uint32_t i = 0; i < n; i++)
        v[i] = rand();
    srand(a[0].u.u32);
    for (uint32_t i = 0; i < n; i++)
        if (rand() != v[i])
            return hlg_error(HL_GERR_GUEST_ERROR, "rand() after srand(%u) differs at %u",
                             a[0].u.u32, i);
    r->u.str.ptr = (const char *)v;
    r->u.str.len = n * 4;
    return 0;
}

/* errnos() -> "name=value ..." for errno after failing calls, and strerror's texts. */
static int errnos(const hlg_value *a, hlg_value *r)
{
    static char out[1024];
    size_t len = 0;
#define PUT(...) len += (size_t)snprintf(out + len, sizeof(out) - len, __VA_ARGS__)
    errno = 0;
    strtol("99999999999999999999", NULL, 10);
    PUT("strtol=%d ", errno);
    errno = 0;
    strtod("1e-400", NULL);
    PUT("strtod_under=%d ", errno);
    errno = 0;
    PUT("malloc=%d,", malloc(g_size_max) == NULL);
    PUT("%d ", errno);
    errno = 0;
    PUT("fopen=%d,", fopen("/etc/passwd", "r") == NULL);
    PUT("%d ", errno);
    errno = 0;
    PUT("write=%d,", (int)write(5, "x", 1));
    PUT("%d ", errno);
    errno = 0;
    PUT("read=%d,", (int)read(0, out + 1000, 1));
    PUT("%d ", errno);
    errno = 0;
    volatile double m1 = -1.0, zero = 0.0;
    double s = sqrt(m1);
    PUT("sqrt=%d,%d ", isnan(s) != 0, errno);
    errno = 0;
    double l = log(zero);
    PUT("log=%d,%d ", isinf(l) && l < 0, errno);
    PUT("math_errhandling=%d ", math_errhandling);
    PUT("EDOM=%d ERANGE=%d ENOMEM=%d ENOENT=%d EBADF=%d ", EDOM, ERANGE, ENOMEM, ENOENT, EBADF);
    PUT("[%s] [%s] [%s]", strerror(ERANGE), strerror(ENOMEM), strerror(ENOENT));
#undef PUT
    r->u.str.ptr = out;
    r->u.str.len = (uint32_t)len;
    return 0;
}

static const int g_assert_line = __LINE__ + 4; /* the assert below */
static int do_assert(const hlg_value *a, hlg_value *r)
{
    int answer = a[0].u.i32;
    assert(answer == 42);
    r->u.i32 = answer;
    return 0;
}

static int assert_line(const hlg_value *a, hlg_value *r)
{
    r->u.i32 = g_assert_line;
    return 0;
}

static int do_exit(const hlg_value *a, hlg_value *r)
{
    exit(a[0].u.i32);
}

static int do_abort(const hlg_value *a, hlg_value *r)
{
    abort();
}

/* environment(stack_bytes) -> what the start-up left the C library, read after this call wrote
 * stack_bytes of its stack (which initialisation ran on too): "environ <NULL or not> HOME=<value>
 * PAGESZ=<getauxval> PHNUM=<nonzero?>". */
static int environment(const hlg_value *a, hlg_value *r)
{
    static char out[128];
    uint64_t n = a[0].u.u64 > 65536 ? 65536 : a[0].u.u64;
    volatile char *scribble = __builtin_alloca(n + 1);
    for (uint64_t i = 0; i < n; i++)
        scribble[i] = 0x41;
    extern char **environ;
    const char *home = getenv("HOME");
    snprintf(out, sizeof out, "environ %s HOME=%s PAGESZ=%lu PHNUM=%s", environ && !environ[0] ? "empty" : "bad",
             home ? home : "(none)", getauxval(AT_PAGESZ), getauxval(AT_PHNUM) ? "yes" : "no");
    r->u.str.ptr = out;
    r->u.str.len = (uint32_t)strlen(out);
    return 0;
}

void libcguest_register_misc(void)
{
    hlg_register("environment", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_U64), environment);
    hlg_register("sort", HL_TYPE_BYTES, HLG_PARAMS(HL_TYPE_BYTES, HL_TYPE_BYTES), sort);
    hlg_register("jump", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_U32, HL_TYPE_I32), jump);
    hlg_register("malloc_stress", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_U64, HL_TYPE_U32),
                 malloc_stress);
    hlg_register("exhaust", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_U64), exhaust);
    hlg_register("clocks", HL_TYPE_BYTES, HLG_PARAMS(HL_TYPE_U32), clocks);
    hlg_register("rand_seq", HL_TYPE_BYTES, HLG_PARAMS(HL_TYPE_U32, HL_TYPE_U32), rand_seq);
    hlg_register("errnos", HL_TYPE_STRING, HLG_NO_PARAMS, errnos);
    hlg_register("assert", HL_TYPE_I32, HLG_PARAMS(HL_TYPE_I32), do_assert);
    hlg_register("assert_line", HL_TYPE_I32, HLG_NO_PARAMS, assert_line);
    hlg_register("exit", HL_TYPE_VOID, HLG_PARAMS(HL_TYPE_I32), do_exit);
    hlg_register("abort", HL_TYPE_VOID, HLG_NO_PARAMS, do_abort);
}
