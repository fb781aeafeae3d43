/* rt.c - helpers shared by the runtime suite: mode and guests from the environment, sandboxes, checks. */
#include "rt.h"

#include <unistd.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

hl_execution_mode rt_mode(void)
{
    const char *m = getenv("HL_TEST_MODE");
    return m && strcmp(m, "kvm") == 0 ? HL_MODE_RUN_IN_HYPERVISOR : HL_MODE_RUN_IN_PROCESS;
}

const char *rt_mode_tag(void) { return rt_mode() == HL_MODE_RUN_IN_HYPERVISOR ? "kvm" : "inproc"; }

const char *rt_guest(const char *name)
{
    static _Thread_local char path[4096];
    const char *dir = getenv("HL_GUEST_DIR");
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : HL_BINARY_DIR "/guests", name);
    return path;
}

const char *rt_group_name(const char *name)
{
    static char buf[128];
    snprintf(buf, sizeof(buf), "runtime.%s.%s", rt_mode_tag(), name);
    return buf;
}

void rt_config_at(const char *file, int line, hl_config *cfg, const char *toml, const char *profile)
{
    size_t n = strlen(toml) + 64;
    char *text = malloc(n);
    assert_non_null(text);
    snprintf(text, n, "execution_mode = \"%s\"\n%s", hl_execution_mode_name(rt_mode()), toml);
    hl_config_init(cfg);
    hl_diag_list *diags = hl_diag_list_new();
    hl_load_options opts = {
        .struct_size = sizeof(hl_load_options), .profile = profile, .policy = NULL};
    hl_status st = hl_config_load_string(cfg, text, strlen(text), "test.toml", &opts, diags);
    if (st != HL_OK) {
        print_error("%s:%d: the test hyperfile does not load (%s):\n%s\n", file, line, hl_status_str(st), text);
        for (size_t i = 0; i < hl_diag_count(diags); i++)
            print_error("  %s\n", hl_diag_at(diags, i)->message);
        free(text);
        hl_diag_list_free(diags);
        _fail(file, line);
    }
    free(text);
    hl_diag_list_free(diags);
}

hl_sandbox *rt_sandbox_cfg_at(const char *file, int line, const char *guest, const hl_config *cfg)
{
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    hl_status st = hl_sandbox_create(&sb, rt_guest(guest), cfg, &err);
    if (st == HL_OK)
        st = hl_sandbox_initialize(sb, &err);
    if (st != HL_OK) {
        print_error("%s:%d: sandbox for %s: %s: %s\n", file, line, guest, hl_status_str(st), err.message);
        hl_sandbox_destroy(sb);
        _fail(file, line);
    }
    return sb;
}

hl_sandbox *rt_sandbox_at(const char *file, int line, const char *guest, const char *toml)
{
    hl_config cfg;
    rt_config_at(file, line, &cfg, toml, NULL);
    return rt_sandbox_cfg_at(file, line, guest, &cfg);
}

hl_value rt_ok_at(const char *file, int line, hl_sandbox *sb, const char *fn, const hl_value *args, size_t n)
{
    hl_value v;
    hl_error err = HL_ERROR_INIT;
    memset(&v, 0, sizeof(v));
    hl_status st = hl_sandbox_call(sb, fn, args, n, &v, &err);
    if (st != HL_OK) {
        print_error("%s:%d: call to `%s` failed: %s (guest code %u): %s\n", file, line, fn, hl_status_str(st),
                    err.guest_code, err.message);
        _fail(file, line);
    }
    const hl_function_info *info = hl_sandbox_find_function(sb, fn);
    if (info && v.type != info->ret) {
        print_error("%s:%d: `%s` returned a %s, its signature says %s\n", file, line, fn, hl_type_name(v.type),
                    hl_type_name(info->ret));
        _fail(file, line);
    }
    return v;
}

hl_error rt_fails_at(const char *file, int line, hl_sandbox *sb, const char *fn, hl_status st, unsigned code,
                     const char *phrase, const hl_value *args, size_t n)
{
    hl_value v;
    hl_error err = HL_ERROR_INIT;
    hl_status got = hl_sandbox_call(sb, fn, args, n, &v, &err);
    if (got != st || err.status != st || (code != RT_ANY_CODE && err.guest_code != code) ||
        (phrase && !strstr(err.message, phrase))) {
        print_error("%s:%d: call to `%s`: expected %s (guest code %d) with \"%s\", got %s/%s (guest code %u): %s\n",
                    file, line, fn, hl_status_str(st), code == RT_ANY_CODE ? -1 : (int)code, phrase ? phrase : "",
                    hl_status_str(got), hl_status_str(err.status), err.guest_code, err.message);
        _fail(file, line);
    }
    if (v.type != HL_TYPE_VOID) {
        print_error("%s:%d: a failed call to `%s` left a %s result\n", file, line, fn, hl_type_name(v.type));
        _fail(file, line);
    }
    return err;
}

void rt_contains_at(const char *file, int line, const char *hay, const char *needle)
{
    if (!hay || !needle || !strstr(hay, needle)) {
        print_error("%s:%d: \"%s\" does not contain \"%s\"\n", file, line, hay ? hay : "(null)",
                    needle ? needle : "(null)");
        _fail(file, line);
    }
}

void rt_buf_eq_at(const char *file, int line, hl_value v, hl_type type, const void *data, size_t len)
{
    if (v.type != type || v.u.buf.len != len || (len && memcmp(v.u.buf.ptr, data, len) != 0)) {
        print_error("%s:%d: expected a %s of %zu bytes, got a %s of %zu bytes%s\n", file, line, hl_type_name(type),
                    len, hl_type_name(v.type), v.type == type ? v.u.buf.len : 0,
                    v.type == type && v.u.buf.len == len ? " with other contents" : "");
        _fail(file, line);
    }
    if (type == HL_TYPE_STRING && ((const char *)v.u.buf.ptr)[len] != '\0') {
        print_error("%s:%d: the string result is not NUL-terminated\n", file, line);
        _fail(file, line);
    }
}

double rt_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

void rt_sleep_ms(unsigned ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

void rt_print_capture(void *user, const char *text, size_t len)
{
    rt_print *p = user;
    size_t room = sizeof(p->text) - 1 - p->len;
    if (len > room)
        len = room;
    memcpy(p->text + p->len, text, len);
    p->len += len;
    p->text[p->len] = '\0';
    p->chunks++;
}

char *rt_pattern(size_t n, size_t shift)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + (i + shift) % 26);
    s[n] = '\0';
    return s;
}

/* cmocka installs its own SIGSEGV/SIGILL/SIGFPE/SIGBUS/SIGSYS handlers with signal() around every
 * test, setup and teardown, and puts the previous ones back afterwards. The in-process backend
 * installs its fault handlers once per process, so cmocka's restore would remove them and the
 * first dirty-page write of a guest could kill the test if no sandbox was created after it.
 * This definition takes the place of libc's signal() for cmocka: it leaves fault signals alone
 * (a real crash still ends the test binary, which CTest reports) and passes others through. */
sighandler_t signal(int sig, sighandler_t handler)
{
    struct sigaction sa, old;
    if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGSYS) {
        if (sigaction(sig, NULL, &old) != 0)
            return SIG_ERR;
        return (old.sa_flags & SA_SIGINFO) ? SIG_DFL : old.sa_handler;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, &old) != 0)
        return SIG_ERR;
    return old.sa_handler;
}

static int host_add(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    rt_hosts *h = user;
    h->add_calls++;
    result->u.i32 = (int32_t)((uint32_t)args[0].u.i32 + (uint32_t)args[1].u.i32);
    return 0;
}

static int host_fail(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    rt_hosts *h = user;
    h->fail_calls++;
    char msg[1024];
    size_t n = args[0].u.i32 < 0 ? 0 : (size_t)args[0].u.i32;
    if (n > sizeof(msg) - 1)
        n = sizeof(msg) - 1;
    for (size_t i = 0; i < n; i++)
        msg[i] = (char)('A' + i % 26);
    msg[n] = '\0';
    return hl_host_call_fail(call, "%s", msg);
}

static int host_spin(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    rt_hosts *h = user;
    atomic_store(&h->spinning, 1);
    double end = rt_now_ms() + args[0].u.u32;
    while (rt_now_ms() < end)
        ;
    atomic_store(&h->spinning, 0);
    atomic_fetch_add(&h->spins_done, 1);
    return 0;
}

void rt_register_hosts(hl_sandbox *sb, rt_hosts *h)
{
    hl_error err = HL_ERROR_INIT;
    const hl_type ii[] = {HL_TYPE_I32, HL_TYPE_I32}, u[] = {HL_TYPE_U32};
    assert_int_equal(hl_sandbox_register(sb, "host_add", HL_TYPE_I32, ii, 2, host_add, h, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_fail", HL_TYPE_I32, ii, 1, host_fail, h, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_spin", HL_TYPE_VOID, u, 1, host_spin, h, &err), HL_OK);
}

void rt_expected_exception(char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('A' + i % 26);
    buf[n] = '\0';
}

hl_sandbox *rt_callback_sandbox_at(const char *file, int line, const char *toml, rt_hosts *h)
{
    hl_config cfg;
    rt_config_at(file, line, &cfg, toml, NULL);
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    hl_status st = hl_sandbox_create(&sb, rt_guest("callbackguest"), &cfg, &err);
    if (st == HL_OK) {
        rt_register_hosts(sb, h);
        st = hl_sandbox_initialize(sb, &err);
    }
    if (st != HL_OK) {
        print_error("%s:%d: callbackguest sandbox: %s: %s\n", file, line, hl_status_str(st), err.message);
        hl_sandbox_destroy(sb);
        _fail(file, line);
    }
    return sb;
}

const char *rt_after_at(const char *file, int line, const char *msg, const char *marker)
{
    const char *p = strstr(msg, marker);
    if (!p) {
        print_error("%s:%d: \"%s\" does not contain \"%s\"\n", file, line, msg, marker);
        _fail(file, line);
    }
    return p + strlen(marker);
}

const char *rt_sample_hyperfile(void)
{
    const char *p = getenv("HL_SAMPLE_HYPERFILE");
    if (!p || !*p)
        p = HL_SOURCE_DIR "/../shared/hyperfile-sample.toml";
    if (access(p, R_OK) == 0)
        return p;
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0)
        fail_msg("%s is missing, and under CI=true the HIP's sample must be tested", p);
    return NULL;
}

static void probe_print(void *user, const char *text, size_t len)
{
    (void)user;
    (void)text;
    (void)len;
}

/* With HL_KVM_PROBE=1 (the native KVM runs), check first that this machine's /dev/kvm can run a
 * sandbox at all; some hosts offer a /dev/kvm that cannot (e.g. a paravirtual kvm-pvm that fails
 * to emulate SSE instructions: in musl's start-up, or only later in a call's vfprintf, depending
 * on how the code's pages are mapped). Then the binary exits 77, which CTest reports as skipped,
 * and says why. A KVM that works runs the whole suite. */
__attribute__((constructor)) static void rt_probe_kvm(void)
{
    const char *probe = getenv("HL_KVM_PROBE");
    if (!probe || strcmp(probe, "1") != 0 || rt_mode() != HL_MODE_RUN_IN_HYPERVISOR)
        return;
    hl_config cfg;
    hl_config_init(&cfg);
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    hl_status st = hl_sandbox_create(&sb, rt_guest("simpleguest"), &cfg, &err);
    if (st == HL_OK)
        st = hl_sandbox_initialize(sb, &err);
    if (st == HL_OK) { /* and a call that formats a float (SSE in vfprintf) */
        hl_sandbox_set_print(sb, probe_print, NULL);
        hl_value args[] = {hl_i32(1), hl_u64(2), hl_f64(0.5)}, ret;
        st = hl_sandbox_call(sb, "print_fmt", args, 3, &ret, &err);
    }
    hl_sandbox_destroy(sb);
    if (st == HL_E_BACKEND) {
        fprintf(stderr, "skipped: this machine's /dev/kvm cannot run a sandbox: %s\n", err.message);
        _exit(77);
    }
}

uint64_t rt_heap_free_initial(uint64_t heap)
{
    uint64_t pages = heap / 4096;
    return heap - 4096 * ((pages + 4095) / 4096);
}
