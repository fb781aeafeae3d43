/* test_dlclose.c - the shared library stays loaded when a program unloads it: its watchdog thread
 * and its signal handlers outlive any sandbox (src/CMakeLists.txt, -z nodelete). Loaded with
 * dlopen, used for an in-process call (which starts both), closed: still there, and usable. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hyperlight/config.h"
#include "hyperlight/sandbox.h"

#define LIB HL_BINARY_DIR "/lib/libhyperlight.so.0"

typedef struct api {
    hl_status (*config_init)(hl_config *, size_t);
    hl_status (*create)(hl_sandbox **, const char *, const hl_config *, hl_error *);
    hl_status (*init)(hl_sandbox *, hl_error *);
    hl_status (*call)(hl_sandbox *, const char *, const hl_value *, size_t, hl_value *, hl_error *);
    void (*destroy)(hl_sandbox *);
} api;

static void *load(api *a)
{
    void *lib = dlopen(LIB, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(lib);
    *(void **)&a->config_init = dlsym(lib, "hl_config_init_sized");
    *(void **)&a->create = dlsym(lib, "hl_sandbox_create");
    *(void **)&a->init = dlsym(lib, "hl_sandbox_initialize");
    *(void **)&a->call = dlsym(lib, "hl_sandbox_call");
    *(void **)&a->destroy = dlsym(lib, "hl_sandbox_destroy");
    assert_true(a->config_init && a->create && a->init && a->call && a->destroy);
    return lib;
}

static void one_call(const api *a)
{
    hl_config cfg;
    assert_int_equal(a->config_init(&cfg, sizeof(cfg)), HL_OK);
    cfg.execution_mode = HL_RUN_IN_PROCESS;
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(a->create(&sb, HL_BINARY_DIR "/guests/simpleguest", &cfg, &err), HL_OK);
    assert_int_equal(a->init(sb, &err), HL_OK);
    hl_value args[2] = {hl_i32(40), hl_i32(2)}, v;
    assert_int_equal(a->call(sb, "add", args, 2, &v, &err), HL_OK);
    assert_int_equal(v.u.i32, 42);
    a->destroy(sb);
}

static void test_stays_loaded(void **state)
{
    (void)state;
    api a;
    void *lib = load(&a);
    one_call(&a);
    assert_int_equal(dlclose(lib), 0);
    void *still = dlopen(LIB, RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(still); /* without -z nodelete: NULL, the code unmapped under the watchdog */
    dlclose(still);
    api b;
    void *again = load(&b);
    assert_ptr_equal(b.call, a.call); /* the same copy */
    one_call(&b);
    dlclose(again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_stays_loaded)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
