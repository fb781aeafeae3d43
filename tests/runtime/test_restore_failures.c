/* test_restore_failures.c - a restore or a snapshot that fails half-way leaves the sandbox
 * unusable, never running again on memory that is neither the snapshot's nor the call's: both
 * backends. The failures are made by this program's own ioctl, pread and mmap, which the
 * library's calls reach before the C library's (not under the sanitizers, which have their own):
 * in-process the scan of the written pages (PAGEMAP_SCAN, or the read of /proc/self/pagemap), on
 * KVM the dirty log (KVM_GET_DIRTY_LOG); and a private MAP_FIXED mapping of a file at the
 * snapshot. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rt.h"

static atomic_int fail_pagemap; /* PAGEMAP_SCAN, reads of /proc/self/pagemap, KVM_GET_DIRTY_LOG fail */
static atomic_int fail_private_after = -1; /* the (n+1)th private MAP_FIXED mapping of a file fails */

int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    static int (*real)(int, unsigned long, ...);
    if (!real) real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
    if (atomic_load(&fail_pagemap) && ((_IOC_TYPE(req) == 'f' && _IOC_NR(req) == 16) || /* PAGEMAP_SCAN */
                                       (_IOC_TYPE(req) == 0xAE && _IOC_NR(req) == 0x42))) { /* KVM_GET_DIRTY_LOG */
        errno = EIO;
        return -1;
    }
    return real(fd, req, arg);
}

static ssize_t failing_pread(int fd, void *buf, size_t n, off_t off, const char *name)
{
    static ssize_t (*real)(int, void *, size_t, off_t);
    if (!real) real = (ssize_t(*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, name);
    if (atomic_load(&fail_pagemap)) {
        errno = EIO;
        return -1;
    }
    return real(fd, buf, n, off);
}
ssize_t pread(int fd, void *buf, size_t n, off_t off) { return failing_pread(fd, buf, n, off, "pread"); }
ssize_t pread64(int fd, void *buf, size_t n, off_t off) { return failing_pread(fd, buf, n, off, "pread64"); }

void *mmap(void *at, size_t len, int prot, int flags, int fd, off_t off)
{
    static void *(*real)(void *, size_t, int, int, int, off_t);
    if (!real) real = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
    if (fd >= 0 && (flags & MAP_FIXED) && (flags & MAP_PRIVATE) && atomic_load(&fail_private_after) >= 0 &&
        atomic_fetch_sub(&fail_private_after, 1) == 0) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return real(at, len, prot, flags, fd, off);
}

/* The restore after set_static(5) fails: the call says the sandbox is unusable, and so does
 * every call after it (get_static would read 5, not the snapshot's 7). */
static void test_failed_restore_poisons(void **state)
{
    (void)state;
    hl_sandbox *sb = rt_sandbox("simpleguest", "");
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
    atomic_store(&fail_pagemap, 1);
    hl_error e = rt_fails(sb, "set_static", HL_E_POISONED, RT_ANY_CODE, "restoring the snapshot failed",
                          RT_ARGS(hl_i64(5)));
    (void)e;
    atomic_store(&fail_pagemap, 0);
    rt_fails(sb, "get_static", HL_E_POISONED, RT_ANY_CODE, NULL, RT_NOARGS);
    hl_sandbox_destroy(sb);
    /* and a sandbox made afterwards works */
    sb = rt_sandbox("simpleguest", "");
    rt_ok(sb, "set_static", RT_ARGS(hl_i64(5)));
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
    hl_sandbox_destroy(sb);
}

/* A private mapping of the memory at the snapshot fails (the first, the second, ... until the
 * snapshot makes no more): the initialisation fails, is not tried again on the memory it left,
 * and no call runs. In-process the view is left half-made (poisoned); on KVM mem.host is left an
 * inaccessible placeholder, and the failed initialisation makes the sandbox unusable the same. */
static void test_failed_snapshot_poisons(void **state)
{
    (void)state;
    int after = 0;
    for (;; after++) {
        assert_true(after < 64);
        hl_config cfg;
        rt_config(&cfg, "");
        hl_sandbox *sb = NULL;
        hl_error e = HL_ERROR_INIT;
        assert_int_equal(hl_sandbox_create(&sb, rt_guest("simpleguest"), &cfg, &e), HL_OK);
        atomic_store(&fail_private_after, after);
        hl_status st = hl_sandbox_initialize(sb, &e);
        if (atomic_exchange(&fail_private_after, -1) >= 0) { /* no mapping failed: all were made */
            assert_int_equal(st, HL_OK);
            assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
            hl_sandbox_destroy(sb);
            break;
        }
        assert_int_equal(st, rt_mode() == HL_MODE_RUN_IN_PROCESS ? HL_E_POISONED : HL_E_NOMEM);
        rt_contains(e.message, "copy-on-write");
        hl_error again = HL_ERROR_INIT, call = HL_ERROR_INIT;
        assert_int_equal(hl_sandbox_initialize(sb, &again), HL_E_STATE);
        rt_contains(again.message, "unusable");
        hl_value v;
        assert_int_equal(hl_sandbox_call(sb, "get_static", RT_NOARGS, &v, &call), HL_E_POISONED);
        hl_sandbox_destroy(sb);
    }
    assert_true(after >= 2); /* at least two mappings at the snapshot, each failing once */
}

/* Every test starts with nothing failing, whatever the one before left. */
static int no_failures(void **state)
{
    (void)state;
    atomic_store(&fail_pagemap, 0);
    atomic_store(&fail_private_after, -1);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_failed_restore_poisons, no_failures),
        cmocka_unit_test_setup(test_failed_snapshot_poisons, no_failures),
    };
    return rt_run("restore_failures", tests);
}
