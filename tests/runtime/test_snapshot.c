/* test_snapshot.c - snapshot files: save, open, create; identical calls and memory; host functions and config checked; many sandboxes from one file; hostile files refused. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt.h"
#include "sandbox/sandbox_internal.h"
#include "sandbox/snapshot.h"

#define PAGE 4096u
#define HL_SNAP_TSS_IST1 (0x100 + 36) /* the TSS in the GDT page, its IST1 */

/* ---- files ---- */

static char g_dir[256];

static const char *path_of(const char *name)
{
    static char buf[512];
    if (!g_dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(g_dir, sizeof(g_dir), "%s/hl-snapshot-XXXXXX", t && *t ? t : "/tmp");
        assert_non_null(mkdtemp(g_dir));
    }
    snprintf(buf, sizeof(buf), "%s/%s", g_dir, name);
    return buf;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return buf;
}

static void write_all(const char *path, const uint8_t *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, data + done, len - done);
        assert_true(n > 0);
        done += (size_t)n;
    }
    close(fd);
}

/* Opening path must fail with st and exactly this message (after "snapshot `PATH`: " for
 * HL_E_CONFIG, which every invalid file gets). */
#define expect_refused(path, st, msg) expect_refused_at(__LINE__, (path), (st), (msg))
static void expect_refused_at(int line, const char *path, hl_status st, const char *msg)
{
    hl_snapshot *s = (hl_snapshot *)1;
    hl_error err = HL_ERROR_INIT;
    hl_status got = hl_snapshot_open(&s, path, &err);
    char want[HL_ERROR_MESSAGE_MAX + 300];
    if (st == HL_E_CONFIG)
        snprintf(want, sizeof(want), "snapshot `%s`: %s", path, msg);
    else
        snprintf(want, sizeof(want), "%s", msg);
    if (got != st || err.status != st || strcmp(err.message, want) != 0 || s != NULL)
        fail_msg("line %d: expected %s \"%s\", got %s \"%s\"", line, hl_status_str(st), want, hl_status_str(got),
                 err.message);
}

static hl_snapshot *open_ok(const char *path)
{
    hl_snapshot *s = NULL;
    hl_error err = HL_ERROR_INIT;
    if (hl_snapshot_open(&s, path, &err) != HL_OK)
        fail_msg("opening %s: %s", path, err.message);
    return s;
}

static void save_ok(hl_sandbox *sb, const char *path)
{
    hl_error err = HL_ERROR_INIT;
    if (hl_snapshot_save(sb, path, &err) != HL_OK)
        fail_msg("saving %s: %s", path, err.message);
}

/* A sandbox from the snapshot with the snapshot's own config, host functions registered by
 * `reg` (may be NULL), initialised. */
static hl_sandbox *from_snapshot(const hl_snapshot *snap, void (*reg)(hl_sandbox *, void *), void *user)
{
    hl_config cfg;
    hl_config_init(&cfg);
    assert_int_equal(hl_snapshot_get_config(snap, &cfg), HL_OK);
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    if (hl_sandbox_create_from_snapshot(&sb, snap, &cfg, &err) != HL_OK)
        fail_msg("creating from the snapshot: %s", err.message);
    if (reg)
        reg(sb, user);
    if (hl_sandbox_initialize(sb, &err) != HL_OK)
        fail_msg("initialising from the snapshot: %s", err.message);
    return sb;
}

/* ---- a sequence of calls whose outcomes are recorded, to compare two sandboxes ---- */

typedef struct outcome {
    hl_status st;
    unsigned code;
    char text[HL_ERROR_MESSAGE_MAX + 64]; /* the message, or the result as text */
} outcome;

#define NSTEPS 26

static void record(outcome *o, hl_status st, const hl_error *err, const hl_value *v)
{
    o->st = st;
    o->code = err->guest_code;
    if (st != HL_OK) {
        snprintf(o->text, sizeof(o->text), "%s", err->message);
        return;
    }
    switch (v->type) {
    case HL_TYPE_I32: snprintf(o->text, sizeof(o->text), "i32 %d", v->u.i32); break;
    case HL_TYPE_U32: snprintf(o->text, sizeof(o->text), "u32 %u", v->u.u32); break;
    case HL_TYPE_I64: snprintf(o->text, sizeof(o->text), "i64 %lld", (long long)v->u.i64); break;
    case HL_TYPE_U64: snprintf(o->text, sizeof(o->text), "u64 %llu", (unsigned long long)v->u.u64); break;
    case HL_TYPE_F64: snprintf(o->text, sizeof(o->text), "f64 %.17g", v->u.f64); break;
    case HL_TYPE_BOOL: snprintf(o->text, sizeof(o->text), "bool %d", v->u.b); break;
    case HL_TYPE_STRING:
    case HL_TYPE_BYTES:
        snprintf(o->text, sizeof(o->text), "%s %zu %.*s", hl_type_name(v->type), v->u.buf.len,
                 (int)(v->u.buf.len < 200 ? v->u.buf.len : 200), (const char *)v->u.buf.ptr);
        break;
    default: snprintf(o->text, sizeof(o->text), "%s", hl_type_name(v->type)); break;
    }
}

/* Runs the sequence; after every call outside a context, the memory must be the snapshot. */
static void run_sequence(hl_sandbox *sb, outcome out[NSTEPS])
{
    static unsigned char big[20000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)('a' + i % 26);
    struct step {
        const char *fn;
        hl_value args[3];
        size_t n;
    } steps[NSTEPS] = {
        {"echo_i32", {hl_i32(-42)}, 1},
        {"echo_u64", {hl_u64(0xFEDCBA9876543210ull)}, 1},
        {"echo_f64", {hl_f64(2.5)}, 1},
        {"echo_string", {hl_string("snapshot")}, 1},
        {"echo_bytes", {hl_bytes(big, sizeof big)}, 1},
        {"add", {hl_i32(40), hl_i32(2)}, 2},
        {"get_static", {{0}}, 0},
        {"set_static", {hl_i64(99)}, 1},
        {"get_static", {{0}}, 0},
        {"heap_free", {{0}}, 0},
        {"allocate", {hl_u64(300000)}, 1},
        {"heap_free", {{0}}, 0},
        {"dirty_pages", {hl_u64(40)}, 1},
        {"stack_alloc", {hl_u64(16384)}, 1},
        {"huge_output", {hl_u32(5000)}, 1},
        {"fail_with", {hl_i32(3), hl_string("no luck")}, 2},
        {"abort_with", {hl_u32(9), hl_string("bye")}, 2},
        {"panic", {hl_string("oh no")}, 1},
        {"write_readonly", {{0}}, 0},
        {"divide_by_zero", {hl_i32(0)}, 1},
        {"read_address", {hl_u64(8)}, 1},
        {"recurse", {hl_u32(1000000)}, 1},
        {"spin", {{0}}, 0},
        {"print", {hl_string("printed\n")}, 1},
        {"get_static", {{0}}, 0},
        {"heap_free", {{0}}, 0},
    };
    for (size_t i = 0; i < NSTEPS; i++) {
        hl_value v = {HL_TYPE_VOID, {.u64 = 0}};
        hl_error err = HL_ERROR_INIT;
        hl_status st = hl_sandbox_call(sb, steps[i].fn, steps[i].n ? steps[i].args : NULL, steps[i].n, &v, &err);
        record(&out[i], st, &err, &v);
        int64_t p = hl_sb_memory_diff(sb);
        if (p != -1)
            fail_msg("after `%s` page %lld differs from the snapshot", steps[i].fn, (long long)p);
    }
}

static void expect_same(const outcome a[NSTEPS], const outcome b[NSTEPS])
{
    for (size_t i = 0; i < NSTEPS; i++)
        if (a[i].st != b[i].st || a[i].code != b[i].code || strcmp(a[i].text, b[i].text) != 0)
            fail_msg("step %zu: the original gave %s/%u \"%s\", the snapshot's sandbox %s/%u \"%s\"", i,
                     hl_status_str(a[i].st), a[i].code, a[i].text, hl_status_str(b[i].st), b[i].code, b[i].text);
}

/* The snapshot's memory, without the PEB's process-specific words (in-process: where the guest
 * calls the host and the backend's address). */
static uint8_t *snapshot_copy(hl_sandbox *sb)
{
    uint8_t *m = malloc(sb->mem.size);
    assert_non_null(m);
    memcpy(m, sb->snapshot, sb->mem.size);
    hl_peb *peb = (hl_peb *)(m + sb->layout.region[HL_REGION_PEB].offset);
    peb->host_call = peb->host_call_ctx = 0;
    return m;
}

static const char *simple_toml = "heap_size_override = \"1MiB\"\nmax_execution_time = \"300ms\"\n"
                                 "max_wait_for_cancellation = \"255ms\"\n";

/* save, open, create: the same results for every kind of call, the same memory */
static void test_round_trip(void **state)
{
    (void)state;
    hl_sandbox *orig = rt_sandbox("simpleguest", simple_toml);
    outcome a[NSTEPS], b[NSTEPS];
    const char *path = path_of("simple.hls");
    save_ok(orig, path);
    run_sequence(orig, a);
    assert_string_equal(a[6].text, "i64 7");
    assert_string_equal(a[8].text, "i64 7"); /* set_static's call was restored */
    uint8_t *mem = snapshot_copy(orig);
    hl_layout layout = *hl_sandbox_layout(orig);
    size_t nfns = hl_sandbox_function_count(orig);
    hl_config ocfg = *hl_sandbox_config(orig);
    hl_sandbox_destroy(orig); /* RunInProcess: its guest address is the snapshot's */

    hl_snapshot *snap = open_ok(path);
    assert_int_equal(hl_snapshot_mode(snap), rt_mode());
    hl_config scfg;
    hl_config_init(&scfg);
    assert_int_equal(hl_snapshot_get_config(snap, &scfg), HL_OK);
    hl_config_field diff;
    assert_true(hl_config_equal(&scfg, &ocfg, &diff));
    assert_memory_equal(hl_snapshot_layout(snap), &layout, sizeof(layout));
    assert_int_equal(hl_snapshot_function_count(snap), nfns);
    assert_string_equal(hl_snapshot_function(snap, 0)->name, "echo_i32");
    assert_null(hl_snapshot_function(snap, nfns));
    assert_int_equal(hl_snapshot_host_function_count(snap), 0);
    hl_sandbox *sb = from_snapshot(snap, NULL, NULL);
    hl_snapshot_close(snap); /* the sandbox keeps what it needs */
    assert_memory_equal(hl_sandbox_layout(sb), &layout, sizeof(layout));
    assert_int_equal(hl_sandbox_function_count(sb), nfns);
    for (size_t i = 0; i < nfns; i++)
        assert_string_equal(hl_sandbox_function(sb, i)->name, hl_snapshot_function(sb->from, i)->name);
    uint8_t *mem2 = snapshot_copy(sb);
    for (uint64_t p = 0; p < layout.total_size / PAGE; p++)
        if (memcmp(mem + p * PAGE, mem2 + p * PAGE, PAGE) != 0)
            fail_msg("page %llu of the snapshot's sandbox differs from the original's snapshot", (unsigned long long)p);
    assert_int_equal(hl_sb_memory_diff(sb), -1);
    run_sequence(sb, b);
    expect_same(a, b);
    /* a call context keeps state, its end restores */
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_context_begin(sb, &err), HL_OK);
    rt_ok(sb, "set_static", RT_ARGS(hl_i64(11)));
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 11);
    assert_int_equal(hl_sandbox_context_end(sb, &err), HL_OK);
    assert_int_equal(hl_sb_memory_diff(sb), -1);
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
    hl_sandbox_destroy(sb);
    free(mem);
    free(mem2);
}

/* what the file holds: a sparse file whose holes are the zero pages; saving a sandbox made from
 * it writes the same bytes; a call context's state is not saved */
static void test_file_contents(void **state)
{
    (void)state;
    hl_sandbox *orig = rt_sandbox("simpleguest", "heap_size_override = \"8MiB\"\n");
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_sandbox_context_begin(orig, &err), HL_OK);
    rt_ok(orig, "set_static", RT_ARGS(hl_i64(1234)));
    rt_ok(orig, "dirty_pages", RT_ARGS(hl_u64(100)));
    const char *path = path_of("contents.hls");
    mode_t old = umask(022);
    save_ok(orig, path); /* the snapshot, not the context's state */
    umask(old);
    assert_int_equal(hl_sandbox_context_end(orig, &err), HL_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    size_t len;
    uint8_t *file = read_all(path, &len);
    uint64_t image_off, stored, total;
    memcpy(&image_off, file + HL_SNAP_OFF_IMAGE_OFFSET, 8);
    memcpy(&stored, file + HL_SNAP_OFF_STORED_PAGES, 8);
    memcpy(&total, file + HL_SNAP_OFF_TOTAL_SIZE, 8);
    assert_int_equal(image_off % PAGE, 0);
    assert_int_equal(len, image_off + total);
    assert_true(stored * PAGE < total / 8); /* the 8 MiB heap is not stored */
    assert_true((uint64_t)st.st_blocks * 512 < image_off + stored * PAGE + 64 * 1024); /* holes on disk */
    /* every stored page holds data; every other page of the memory is zero */
    hl_snapshot *snap = open_ok(path);
    for (size_t r = 0; r < snap->nruns; r++)
        for (uint64_t p = snap->runs[r].first; p < snap->runs[r].first + snap->runs[r].count; p++) {
            static const uint8_t zero[PAGE];
            assert_true(memcmp(file + image_off + p * PAGE, zero, PAGE) != 0);
        }
    uint8_t *mem = snapshot_copy(orig);
    hl_peb *peb = (hl_peb *)(mem + orig->layout.region[HL_REGION_PEB].offset);
    (void)peb;
    assert_memory_equal(file + image_off, mem, total);
    free(mem);
    hl_sandbox_destroy(orig);
    /* a sandbox from the file saves the same file again */
    hl_sandbox *sb = from_snapshot(snap, NULL, NULL);
    assert_int_equal(rt_ok(sb, "get_static", RT_NOARGS).u.i64, 7);
    const char *again = path_of("again.hls");
    save_ok(sb, again);
    size_t len2;
    uint8_t *file2 = read_all(again, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(file2, file, len);
    hl_sandbox_destroy(sb);
    hl_snapshot_close(snap);
    free(file);
    free(file2);
    unlink(again);
}

static int host_save(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    (void)args;
    (void)nargs;
    hl_error *err = user;
    hl_status st = hl_snapshot_save(call->sb, path_of("callback.hls"), err);
    result->u.i32 = (int32_t)st;
    return 0;
}

/* save's refusals: NULLs, before initialisation, from the sandbox's own host function, a path
 * that cannot be written (nothing left behind) */
static void test_save_errors(void **state)
{
    (void)state;
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_snapshot_save(NULL, "x", &err), HL_E_INVALID_ARG);
    assert_string_equal(err.message, "hl_snapshot_save: NULL argument");
    hl_config cfg;
    rt_config(&cfg, "");
    hl_sandbox *sb = NULL;
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("simpleguest"), &cfg, &err), HL_OK);
    assert_int_equal(hl_snapshot_save(sb, path_of("early.hls"), &err), HL_E_STATE);
    assert_string_equal(err.message, "cannot save a snapshot before hl_sandbox_initialize");
    hl_sandbox_destroy(sb);

    sb = rt_sandbox("simpleguest", "");
    assert_int_equal(hl_snapshot_save(sb, "/nonexistent-dir/s.hls", &err), HL_E_IO);
    assert_string_equal(err.message, "cannot write snapshot `/nonexistent-dir/s.hls`: No such file or directory");
    /* a directory in the way: the temporary file is written, the rename fails, nothing stays */
    const char *dir = path_of("a-directory");
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(hl_snapshot_save(sb, dir, &err), HL_E_IO);
    char want[600];
    snprintf(want, sizeof(want), "cannot write snapshot `%s`: Is a directory", dir);
    assert_string_equal(err.message, want);
    assert_int_equal(rmdir(dir), 0);
    hl_sandbox_destroy(sb);

    /* from a host function: refused, as every gated call */
    hl_config ccfg;
    rt_config(&ccfg, "");
    assert_int_equal(hl_sandbox_create(&sb, rt_guest("callbackguest"), &ccfg, &err), HL_OK);
    hl_error inner = HL_ERROR_INIT;
    const hl_type ii[] = {HL_TYPE_I32, HL_TYPE_I32}, u[] = {HL_TYPE_U32};
    rt_hosts h;
    memset(&h, 0, sizeof(h));
    assert_int_equal(hl_sandbox_register(sb, "host_add", HL_TYPE_I32, ii, 2, host_save, &inner, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_fail", HL_TYPE_I32, ii, 1, host_save, &inner, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_spin", HL_TYPE_VOID, u, 1, host_save, &inner, &err), HL_OK);
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_OK);
    assert_int_equal(rt_ok(sb, "add_via_host", RT_ARGS(hl_i32(1), hl_i32(2))).u.i32, HL_E_STATE);
    assert_string_equal(inner.message,
                        "hl_snapshot_save: a host function or print function cannot use its own sandbox, or one "
                        "whose call led to it (it would wait for itself)");
    assert_int_equal(access(path_of("callback.hls"), F_OK), -1);
    hl_sandbox_destroy(sb);
    /* nothing but the files the tests keep in the directory: no temporary files left */
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "ls -A %s | grep -c tmp- >/dev/null", g_dir);
    assert_int_not_equal(system(cmd), 0);
}

/* ---- host functions ---- */


static const char *callback_path(void)
{
    static int made;
    const char *path = path_of("callback-made.hls");
    if (!made) {
        rt_hosts h;
        memset(&h, 0, sizeof(h));
        hl_sandbox *orig = rt_callback_sandbox("", &h);
        save_ok(orig, path);
        hl_sandbox_destroy(orig);
        made = 1;
    }
    return path;
}

static int host_nothing(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    (void)call, (void)args, (void)nargs, (void)result, (void)user;
    return 0;
}

static int host_sum(hl_host_call *call, const hl_value *args, size_t nargs, hl_value *result, void *user)
{
    (void)call, (void)nargs, (void)user;
    result->u.i32 = args[0].u.i32 + args[1].u.i32;
    return 0;
}

static void test_host_functions(void **state)
{
    (void)state;
    hl_snapshot *snap = open_ok(callback_path());
    assert_int_equal(hl_snapshot_host_function_count(snap), 3);
    assert_string_equal(hl_snapshot_host_function(snap, 0)->name, "host_add");
    assert_int_equal(hl_snapshot_host_function(snap, 0)->nparams, 2);
    assert_int_equal(hl_snapshot_host_function(snap, 2)->ret, HL_TYPE_VOID);
    assert_null(hl_snapshot_host_function(snap, 3));
    hl_config cfg;
    hl_config_init(&cfg);
    assert_int_equal(hl_snapshot_get_config(snap, &cfg), HL_OK);
    hl_error err = HL_ERROR_INIT;
    hl_sandbox *sb = NULL;
    const hl_type ii[] = {HL_TYPE_I32, HL_TYPE_I32}, i[] = {HL_TYPE_I32}, u[] = {HL_TYPE_U32};
    rt_hosts h;
    memset(&h, 0, sizeof(h));

    /* none registered: the first of the snapshot's is named; the sandbox stays as created */
    assert_int_equal(hl_sandbox_create_from_snapshot(&sb, snap, &cfg, &err), HL_OK);
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_E_CONFIG);
    assert_string_equal(err.message, "the snapshot was made with host function host_add(i32, i32) -> i32, which is "
                                     "not registered");
    rt_fails(sb, "add_via_host", HL_E_STATE, RT_ANY_CODE, "call hl_sandbox_initialize", RT_ARGS(hl_i32(1), hl_i32(2)));
    rt_register_hosts(sb, &h); /* registering them now is enough */
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_OK);
    assert_int_equal(rt_ok(sb, "add_via_host", RT_ARGS(hl_i32(40), hl_i32(2))).u.i32, 42);
    assert_int_equal(h.add_calls, 1);
    assert_int_equal(rt_ok(sb, "call_count", RT_ARGS(hl_u32(10))).u.i64, 55); /* host_add(i, 1), i < 10 */
    assert_int_equal(h.add_calls, 11);
    assert_int_equal(hl_sb_memory_diff(sb), -1);
    hl_sandbox_destroy(sb);

    /* another signature */
    assert_int_equal(hl_sandbox_create_from_snapshot(&sb, snap, &cfg, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_add", HL_TYPE_I32, i, 1, host_nothing, NULL, &err), HL_OK);
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_E_CONFIG);
    assert_string_equal(err.message, "host function `host_add` is registered as host_add(i32) -> i32, the snapshot "
                                     "was made with host_add(i32, i32) -> i32");
    hl_sandbox_destroy(sb);
    assert_int_equal(hl_sandbox_create_from_snapshot(&sb, snap, &cfg, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_add", HL_TYPE_I32, ii, 2, host_nothing, NULL, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_fail", HL_TYPE_I32, ii, 1, host_nothing, NULL, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_spin", HL_TYPE_U32, u, 1, host_nothing, NULL, &err), HL_OK);
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_E_CONFIG);
    assert_string_equal(err.message, "host function `host_spin` is registered as host_spin(u32) -> u32, the snapshot "
                                     "was made with host_spin(u32) -> void");
    hl_sandbox_destroy(sb);
    /* one more than the snapshot's, in another order */
    assert_int_equal(hl_sandbox_create_from_snapshot(&sb, snap, &cfg, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_spin", HL_TYPE_VOID, u, 1, host_nothing, NULL, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_extra", HL_TYPE_VOID, NULL, 0, host_nothing, NULL, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_fail", HL_TYPE_I32, ii, 1, host_nothing, NULL, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_add", HL_TYPE_I32, ii, 2, host_nothing, NULL, &err), HL_OK);
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_E_CONFIG);
    assert_string_equal(err.message, "host function host_extra() -> void is registered, but the snapshot was made "
                                     "without it (its guest cannot call it)");
    hl_sandbox_destroy(sb);
    /* the same ones in another order: fine */
    assert_int_equal(hl_sandbox_create_from_snapshot(&sb, snap, &cfg, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_spin", HL_TYPE_VOID, u, 1, host_nothing, NULL, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_fail", HL_TYPE_I32, ii, 1, host_nothing, NULL, &err), HL_OK);
    assert_int_equal(hl_sandbox_register(sb, "host_add", HL_TYPE_I32, ii, 2, host_sum, NULL, &err), HL_OK);
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_OK);
    assert_int_equal(rt_ok(sb, "add_via_host", RT_ARGS(hl_i32(-5), hl_i32(2))).u.i32, -3);
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_E_STATE);
    assert_string_equal(err.message, "the sandbox is already initialised");
    hl_sandbox_destroy(sb);
    hl_snapshot_close(snap);
}

/* ---- the config ---- */

static const char *good_path(void);

static void test_config_must_agree(void **state)
{
    (void)state;
    hl_snapshot *snap = open_ok(good_path());
    hl_config base;
    hl_config_init(&base);
    assert_int_equal(hl_snapshot_get_config(snap, &base), HL_OK);
    hl_error err = HL_ERROR_INIT;
    hl_sandbox *sb = (hl_sandbox *)1;
    hl_config cfg = base;
    hl_config_set_input_data_size(&cfg, 32768);
    assert_int_equal(hl_sandbox_create_from_snapshot(&sb, snap, &cfg, &err), HL_E_CONFIG);
    assert_string_equal(err.message, "the snapshot was made with input_data_size = 16384, the config asks for 32768");
    assert_null(sb);
    cfg = base;
    hl_config_set_heap_size_override(&cfg, 4 * 1024 * 1024);
    assert_int_equal(hl_sandbox_create_from_snapshot(&sb, snap, &cfg, &err), HL_E_CONFIG);
    assert_string_equal(err.message, "the snapshot was made with heap_size_override = 0, the config asks for 4194304");
    cfg = base;
    hl_config_set_execution_mode(&cfg, rt_mode() == HL_MODE_RUN_IN_PROCESS ? HL_MODE_RUN_IN_HYPERVISOR
                                                                         : HL_MODE_RUN_IN_PROCESS);
    assert_int_equal(hl_sandbox_create_from_snapshot(&sb, snap, &cfg, &err), HL_E_CONFIG);
    assert_string_equal(err.message, rt_mode() == HL_MODE_RUN_IN_PROCESS
                                         ? "the snapshot was made with execution_mode = RunInProcess, the config asks "
                                           "for RunInHypervisor"
                                         : "the snapshot was made with execution_mode = RunInHypervisor, the config "
                                           "asks for RunInProcess");
    /* a config filled in by hand is range-checked first */
    cfg = base;
    cfg.max_execution_time = 0;
    assert_int_equal(hl_sandbox_create_from_snapshot(&sb, snap, &cfg, &err), HL_E_CONFIG);
    assert_string_equal(err.message, "`max_execution_time` is 0, outside its range 1 to 65535 ms");
    hl_config bad;
    memset(&bad, 0, sizeof(bad));
    assert_int_equal(hl_sandbox_create_from_snapshot(&sb, snap, &bad, &err), HL_E_INVALID_ARG);
    assert_string_equal(err.message,
                        "hl_sandbox_create_from_snapshot: the hl_config was not initialised (hl_config_init)");
    assert_int_equal(hl_sandbox_create_from_snapshot(&sb, NULL, &base, &err), HL_E_INVALID_ARG);
    assert_string_equal(err.message, "hl_sandbox_create_from_snapshot: NULL argument");
    /* the time limits come from cfg */
    cfg = base;
    hl_config_set_max_execution_time(&cfg, 50);
    assert_int_equal(hl_sandbox_create_from_snapshot(&sb, snap, &cfg, &err), HL_OK);
    assert_int_equal(hl_sandbox_config(sb)->max_execution_time, 50);
    assert_int_equal(hl_sandbox_initialize(sb, &err), HL_OK);
    rt_fails(sb, "spin", HL_E_CANCELLED, RT_ANY_CODE, "it ran longer than max_execution_time (50 ms)", RT_NOARGS);
    hl_sandbox_destroy(sb);
    hl_snapshot_close(snap);
}

/* A debugger's settings come from the config: on KVM the gdb stub writes a trampoline into the
 * exception stubs' page at creation. A snapshot saved from such a sandbox holds the stubs as the
 * host builds them (it opens), and a sandbox made with gdb_port gets its own copy of the image,
 * whose snapshot holds the trampoline (nothing differs after initialisation). */
#define SNAP_PORT 47680

static void test_debugger_settings(void **state)
{
    (void)state;
    hl_config cfg;
    rt_config(&cfg, "");
    assert_int_equal(hl_config_set_gdb_port(&cfg, SNAP_PORT), HL_SET_OK);
    hl_sandbox *orig = rt_sandbox_cfg("simpleguest", &cfg); /* stops at the first call: none made */
    const char *path = path_of("debugged.hls");
    save_ok(orig, path);
    hl_sandbox_destroy(orig);
    hl_snapshot *snap = open_ok(path);
    hl_config c2;
    hl_config_init(&c2);
    assert_int_equal(hl_snapshot_get_config(snap, &c2), HL_OK);
    assert_int_equal(c2.gdb_port, 0); /* not saved: the host's to give */
    assert_int_equal(hl_config_set_gdb_port(&c2, SNAP_PORT + 1), HL_SET_OK);
    hl_sandbox *sb = NULL;
    hl_error err = HL_ERROR_INIT;
    if (hl_sandbox_create_from_snapshot(&sb, snap, &c2, &err) != HL_OK || hl_sandbox_initialize(sb, &err) != HL_OK)
        fail_msg("a debugged sandbox from the snapshot: %s", err.message);
    assert_int_equal(hl_sb_memory_diff(sb), -1);
    hl_debug_info info = HL_DEBUG_INFO_INIT;
    assert_int_equal(hl_sandbox_debug_info(sb, &info), HL_OK);
    if (rt_mode() == HL_MODE_RUN_IN_HYPERVISOR) {
        assert_int_equal(info.gdb_port, SNAP_PORT + 1);
        assert_int_equal(sb->mem.fd_owned, 1); /* its own copy */
        const hl_layout_region *pt = &sb->layout.region[HL_REGION_PAGE_TABLES];
        uint64_t stubs = pt->offset + pt->size - PAGE;
        assert_memory_not_equal(sb->snapshot + stubs, snap->map + snap->image_off + stubs, PAGE);
    }
    hl_sandbox_destroy(sb);
    sb = from_snapshot(snap, NULL, NULL); /* without a debugger: the file's pages */
    if (rt_mode() == HL_MODE_RUN_IN_HYPERVISOR)
        assert_int_equal(sb->mem.fd_owned, 0);
    assert_int_equal(rt_ok(sb, "add", RT_ARGS(hl_i32(2), hl_i32(3))).u.i32, 5);
    hl_sandbox_destroy(sb);
    hl_snapshot_close(snap);
}

/* ---- many sandboxes from one snapshot ---- */

#define THREADS 8
#define CALLS 200

typedef struct worker {
    hl_sandbox *sb;
    const hl_snapshot *snap;
    int index;
    char failure[1024];
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    hl_sandbox *sb = w->sb;
    hl_error err = HL_ERROR_INIT;
    if (!sb) {
        hl_config cfg;
        hl_config_init(&cfg);
        hl_snapshot_get_config(w->snap, &cfg);
        RT_THREAD_CHECK(w, hl_sandbox_create_from_snapshot(&sb, w->snap, &cfg, &err) == HL_OK, "create: %s",
                        err.message);
        RT_THREAD_CHECK(w, hl_sandbox_initialize(sb, &err) == HL_OK, "initialize: %s", err.message);
    }
    for (int i = 0; i < CALLS; i++) {
        hl_value v;
        int32_t x = w->index * 100000 + i;
        hl_value a[] = {hl_i32(x), hl_i32(1)};
        RT_THREAD_CHECK(w, hl_sandbox_call(sb, "add", a, 2, &v, &err) == HL_OK && v.u.i32 == x + 1,
                        "add %d: %s", x, err.message);
        hl_value s = hl_i64(x);
        RT_THREAD_CHECK(w, hl_sandbox_call(sb, "set_static", &s, 1, &v, &err) == HL_OK, "set_static: %s",
                        err.message);
        RT_THREAD_CHECK(w, hl_sandbox_call(sb, "get_static", NULL, 0, &v, &err) == HL_OK && v.u.i64 == 7,
                        "get_static gave %lld: %s", (long long)v.u.i64, err.message);
        if (i % 50 == 0) {
            char text[32];
            snprintf(text, sizeof(text), "t%d-%d", w->index, i);
            hl_value e = hl_string(text);
            RT_THREAD_CHECK(w, hl_sandbox_call(sb, "echo_string", &e, 1, &v, &err) == HL_OK &&
                                   v.u.buf.len == strlen(text) && memcmp(v.u.buf.ptr, text, v.u.buf.len) == 0,
                            "echo_string: %s", err.message);
        }
    }
    if (!w->sb)
        hl_sandbox_destroy(sb);
    return NULL;
}

static void test_many_from_one(void **state)
{
    (void)state;
    hl_sandbox *orig = rt_sandbox("simpleguest", "");
    const char *path = path_of("many.hls");
    save_ok(orig, path);
    hl_sandbox_destroy(orig);
    hl_snapshot *snap = open_ok(path);
    worker w[THREADS];
    memset(w, 0, sizeof(w));
    hl_sandbox *shared = NULL;
    if (rt_mode() == HL_MODE_RUN_IN_PROCESS) {
        /* one sandbox at the snapshot's address at a time: a second is refused, clearly */
        shared = from_snapshot(snap, NULL, NULL);
        hl_config cfg;
        hl_config_init(&cfg);
        hl_snapshot_get_config(snap, &cfg);
        hl_error err = HL_ERROR_INIT;
        hl_sandbox *second = (hl_sandbox *)1;
        assert_int_equal(hl_sandbox_create_from_snapshot(&second, snap, &cfg, &err), HL_E_BACKEND);
        char want[HL_ERROR_MESSAGE_MAX];
        snprintf(want, sizeof(want),
                 "the snapshot's guest memory must be at address %#llx (%llu bytes), but something is mapped there in "
                 "this process already (another sandbox from the same snapshot?): a RunInProcess snapshot holds "
                 "absolute addresses, so one sandbox from it can live in a process at a time",
                 (unsigned long long)hl_snapshot_layout(snap)->base,
                 (unsigned long long)hl_snapshot_layout(snap)->total_size);
        assert_string_equal(err.message, want);
        assert_null(second);
    }
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i].snap = snap;
        w[i].sb = shared;
        w[i].index = i;
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        if (w[i].failure[0])
            fail_msg("thread %d: %s", i, w[i].failure);
    }
    if (shared) {
        assert_int_equal(hl_sb_memory_diff(shared), -1);
        hl_sandbox_destroy(shared);
    }
    hl_snapshot_close(snap);
}

/* ---- hostile files ---- */

static uint8_t *g_good;
static size_t g_good_len;

static const char *good_path(void)
{
    const char *path = path_of("good.hls");
    if (!g_good) {
        hl_sandbox *orig = rt_sandbox("simpleguest", "");
        save_ok(orig, path);
        hl_sandbox_destroy(orig);
        g_good = read_all(path, &g_good_len);
    }
    return path;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* Section id's entry in the table of a copy of the good file. */
static uint8_t *entry_of(uint8_t *f, uint32_t id)
{
    uint32_t n;
    memcpy(&n, f + HL_SNAP_OFF_SECTION_COUNT, 4);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *e = f + HL_SNAP_FIXED_SIZE + i * HL_SNAP_ENTRY_SIZE;
        uint32_t got;
        memcpy(&got, e, 4);
        if (got == id)
            return e;
    }
    fail_msg("no section %u", id);
    return NULL;
}

static uint8_t *section_of(uint8_t *f, uint32_t id, uint64_t *size)
{
    uint8_t *e = entry_of(f, id);
    if (size)
        *size = get64(e + 16);
    return f + get64(e + 8);
}

static uint8_t *copy_good(void)
{
    good_path();
    uint8_t *f = malloc(g_good_len);
    assert_non_null(f);
    memcpy(f, g_good, g_good_len);
    return f;
}

/* Writes f (len bytes) as a file and expects it refused with msg. */
#define expect_bytes_refused(f, len, msg) expect_bytes_refused_at(__LINE__, (f), (len), (msg))
static void expect_bytes_refused_at(int line, const uint8_t *f, size_t len, const char *msg)
{
    const char *path = path_of("hostile.hls");
    write_all(path, f, len);
    expect_refused_at(line, path, HL_E_CONFIG, msg);
    /* and from memory, as the fuzzer parses */
    hl_snapshot s;
    memset(&s, 0, sizeof(s));
    hl_error err = HL_ERROR_INIT;
    hl_status st = hl_snap_parse(&s, f, len, -1, path, &err);
    hl_snap_free_parsed(&s);
    char want[HL_ERROR_MESSAGE_MAX + 300];
    snprintf(want, sizeof(want), "snapshot `%s`: %s", path, msg);
    if (st != HL_E_CONFIG || strcmp(err.message, want) != 0)
        fail_msg("line %d (from memory): expected \"%s\", got %s \"%s\"", line, want, hl_status_str(st), err.message);
}

static void test_truncated(void **state)
{
    (void)state;
    good_path();
    uint8_t *f = copy_good();
    uint32_t hsize;
    memcpy(&hsize, f + HL_SNAP_OFF_HEADER_SIZE, 4);
    uint64_t image_off = get64(f + HL_SNAP_OFF_IMAGE_OFFSET), total = get64(f + HL_SNAP_OFF_TOTAL_SIZE);
    char msg[300];
    expect_bytes_refused(f, 0, "the file is empty");
    size_t short_cuts[] = {1, 8, 79};
    for (size_t i = 0; i < sizeof(short_cuts) / sizeof(short_cuts[0]); i++) {
        snprintf(msg, sizeof(msg), "the file has %zu bytes, too few for a snapshot's header (80)", short_cuts[i]);
        expect_bytes_refused(f, short_cuts[i], msg);
    }
    size_t header_cuts[] = {80, 100, hsize - 1};
    for (size_t i = 0; i < sizeof(header_cuts) / sizeof(header_cuts[0]); i++) {
        snprintf(msg, sizeof(msg), "the file is truncated: %zu bytes, its header alone has %u", header_cuts[i], hsize);
        expect_bytes_refused(f, header_cuts[i], msg);
    }
    /* at every section's start and end, at the image, at every stored page's start, one short */
    size_t cuts[64];
    size_t n = 0;
    cuts[n++] = hsize;
    for (uint32_t id = 1; id <= HL_SNAP_SEC_COUNT; id++) {
        uint8_t *e = entry_of(f, id);
        cuts[n++] = get64(e + 8);
        cuts[n++] = get64(e + 8) + get64(e + 16);
    }
    cuts[n++] = image_off;
    uint64_t size;
    uint8_t *pm = section_of(f, HL_SNAP_SEC_PAGE_MAP, &size);
    for (uint64_t r = 0; r < get64(pm) && n < 60; r++)
        cuts[n++] = image_off + get64(pm + 8 + 16 * r) * PAGE;
    cuts[n++] = g_good_len - 1;
    for (size_t i = 0; i < n; i++) {
        snprintf(msg, sizeof(msg), "the file is truncated: %zu bytes, its header says %llu", cuts[i],
                 (unsigned long long)(image_off + total));
        expect_bytes_refused(f, cuts[i], msg);
    }
    /* and one byte too many */
    uint8_t *longer = malloc(g_good_len + 1);
    memcpy(longer, f, g_good_len);
    longer[g_good_len] = 0;
    expect_bytes_refused(longer, g_good_len + 1, "the file has 1 byte after its memory image");
    free(longer);
    free(f);
}

static void test_corrupted(void **state)
{
    (void)state;
    good_path();
    char msg[300];
    /* a flipped bit in the header, in each section, in a stored page, in a hole */
    uint8_t *f = copy_good();
    f[HL_SNAP_OFF_BASE] ^= 0x10;
    expect_bytes_refused(f, g_good_len, "the header's checksum does not match (the file is corrupted)");
    free(f);
    static const char *const names[] = {"", "config", "layout", "ELF information", "guest functions",
                                        "host functions", "entry state", "page map"};
    for (uint32_t id = 1; id <= HL_SNAP_SEC_COUNT; id++) {
        f = copy_good();
        uint64_t size;
        uint8_t *s = section_of(f, id, &size);
        s[size / 2] ^= 0x04;
        snprintf(msg, sizeof(msg), "the %s section's checksum does not match (the file is corrupted)", names[id]);
        expect_bytes_refused(f, g_good_len, msg);
        free(f);
    }
    f = copy_good();
    uint64_t image_off = get64(f + HL_SNAP_OFF_IMAGE_OFFSET);
    uint8_t *pm = section_of(f, HL_SNAP_SEC_PAGE_MAP, NULL);
    uint64_t first = get64(pm + 8), count = get64(pm + 16);
    f[image_off + (first + count - 1) * PAGE + 100] ^= 1;
    expect_bytes_refused(f, g_good_len, "the memory image's checksum does not match (the file is corrupted)");
    free(f);
    f = copy_good();
    uint64_t hole = first + count; /* the page after the first run is a hole */
    f[image_off + hole * PAGE + 7] = 0x5A;
    snprintf(msg, sizeof(msg), "page %llu is a hole in its page map but holds data", (unsigned long long)first + count);
    expect_bytes_refused(f, g_good_len, msg);
    free(f);
}

/* Edits with the checksums recomputed: what the checksums cannot catch is checked on its own. */
static void test_lying_metadata(void **state)
{
    (void)state;
    good_path();
    char msg[400];
    uint8_t *f;
#define REHASHED(edit, want)                                                                                           \
    do {                                                                                                               \
        f = copy_good();                                                                                               \
        edit;                                                                                                          \
        hl_snap_rehash(f, g_good_len);                                                                                 \
        expect_bytes_refused(f, g_good_len, want);                                                                     \
        free(f);                                                                                                       \
    } while (0)
    uint64_t total = get64(g_good + HL_SNAP_OFF_TOTAL_SIZE), image_off = get64(g_good + HL_SNAP_OFF_IMAGE_OFFSET);
    /* sizes that overflow, offsets past the end */
    REHASHED(put64(f + HL_SNAP_OFF_TOTAL_SIZE, UINT64_MAX - 4095),
             "its memory size (18446744073709547520 bytes) is not whole pages of at most 1024 MiB");
    REHASHED(put64(f + HL_SNAP_OFF_TOTAL_SIZE, total + 4096), (snprintf(msg, sizeof(msg),
             "the file is truncated: %zu bytes, its header says %llu", g_good_len,
             (unsigned long long)(image_off + total + 4096)), msg));
    REHASHED(put64(f + HL_SNAP_OFF_IMAGE_OFFSET, UINT64_MAX - 4095),
             "its memory image's offset (18446744073709547520) is not a page boundary after the header within 128 MiB");
    REHASHED(put64(f + HL_SNAP_OFF_IMAGE_OFFSET, image_off + 1),
             (snprintf(msg, sizeof(msg), "its memory image's offset (%llu) is not a page boundary after the header "
                                         "within 128 MiB", (unsigned long long)image_off + 1), msg));
    REHASHED(put64(entry_of(f, HL_SNAP_SEC_ELF) + 8, UINT64_MAX - 7),
             (snprintf(msg, sizeof(msg), "the ELF information section (offset 18446744073709551608, %llu bytes) lies "
                       "outside the metadata (%u to %llu)", (unsigned long long)get64(entry_of(g_good, 3) + 16),
                       HL_SNAP_HEADER_SIZE(HL_SNAP_SEC_COUNT), (unsigned long long)image_off), msg));
    REHASHED(put64(entry_of(f, HL_SNAP_SEC_GUEST_FUNCTIONS) + 16, UINT64_MAX),
             "the guest functions section's size (18446744073709551615 bytes) is over its limit (67108864)");
    REHASHED(put64(entry_of(f, HL_SNAP_SEC_STATE) + 8, get64(entry_of(f, HL_SNAP_SEC_ELF) + 8)),
             "the ELF information and entry state sections overlap");
    /* two sections over the same bytes (each with the right checksum for them) */
    REHASHED((put64(entry_of(f, HL_SNAP_SEC_STATE) + 8, get64(entry_of(f, HL_SNAP_SEC_LAYOUT) + 8)),
              put64(entry_of(f, HL_SNAP_SEC_STATE) + 16, 32)),
             "the layout and entry state sections overlap");
    REHASHED(put32(entry_of(f, HL_SNAP_SEC_PAGE_MAP), HL_SNAP_SEC_CONFIG), "the config section appears twice");
    REHASHED(put32(entry_of(f, HL_SNAP_SEC_PAGE_MAP), 99), "section 7 has an unknown id (99)");
    /* wrong magic, version, mode, ABI, flags */
    REHASHED(f[0] = 'X', "not a hyperlight snapshot (its first bytes are not the snapshot magic number)");
    REHASHED(put32(f + HL_SNAP_OFF_VERSION, 2), "format version 2; this library reads version 1");
    REHASHED(put32(f + HL_SNAP_OFF_MODE, 7), "unknown execution mode 7 in the header");
    REHASHED(put32(f + HL_SNAP_OFF_ABI_VERSION, 9),
             "its guest speaks host/guest ABI version 9; this library speaks version 1");
    REHASHED(put32(f + HL_SNAP_OFF_FLAGS, 1), "the header has flags this library does not know (0x1)");
    REHASHED(put32(f + HL_SNAP_OFF_SECTION_COUNT, 17),
             "the header's size (312 bytes) and section count (17) do not agree");
    REHASHED(put32(f + HL_SNAP_OFF_MODE, rt_mode() == HL_MODE_RUN_IN_PROCESS ? 0 : 1),
             rt_mode() == HL_MODE_RUN_IN_PROCESS
                 ? (snprintf(msg, sizeof(msg), "its guest address %#llx is not one a RunInHypervisor sandbox can have",
                             (unsigned long long)get64(g_good + HL_SNAP_OFF_BASE)), msg)
                 : "its config says execution_mode = RunInHypervisor, its header RunInProcess");
    /* a layout that is not the one its config and guest give */
    uint8_t *ls = section_of(g_good, HL_SNAP_SEC_LAYOUT, NULL);
    uint64_t heap_off = get64(ls + 40 + 16 * HL_REGION_HEAP), heap_size = get64(ls + 48 + 16 * HL_REGION_HEAP);
    REHASHED(put64(section_of(f, HL_SNAP_SEC_LAYOUT, NULL) + 40 + 16 * HL_REGION_HEAP, heap_off + 4096),
             (snprintf(msg, sizeof(msg), "its layout puts the heap region at offset %#llx (%llu bytes); its config and "
                       "guest put it at %#llx (%llu bytes)", (unsigned long long)heap_off + 4096,
                       (unsigned long long)heap_size, (unsigned long long)heap_off, (unsigned long long)heap_size), msg));
    /* the config text: a memory size that its layout was not made with (same length) */
    uint64_t csize;
    uint8_t *c = section_of(g_good, HL_SNAP_SEC_CONFIG, &csize);
    char *at = memmem(c, csize, "input_data_size = 16384", 23);
    assert_non_null(at);
    uint64_t l_base = get64(ls + 8), l_total = get64(ls + 16), l_stack = get64(ls + 24), l_heap = get64(ls + 32);
    REHASHED(memcpy(section_of(f, HL_SNAP_SEC_CONFIG, NULL) + (at - (char *)c), "input_data_size = 20480", 23),
             (snprintf(msg, sizeof(msg), "its layout (base %#llx, %llu bytes, stack %llu, heap %llu) is not the one "
                       "its config and guest give (base %#llx, %llu bytes, stack %llu, heap %llu)",
                       (unsigned long long)l_base, (unsigned long long)l_total, (unsigned long long)l_stack,
                       (unsigned long long)l_heap, (unsigned long long)l_base, (unsigned long long)l_total + 4096,
                       (unsigned long long)l_stack, (unsigned long long)l_heap), msg));
    /* a config that does not load */
    char *mode_at = memmem(c, csize, "execution_mode = \"", 18);
    assert_non_null(mode_at);
    REHASHED(memcpy(section_of(f, HL_SNAP_SEC_CONFIG, NULL) + (mode_at - (char *)c), "execution_mode = 3", 18),
             "its config does not load: invalid character in number (line 14)");
    /* dispatch outside the code */
    REHASHED(put64(section_of(f, HL_SNAP_SEC_STATE, NULL), get64(g_good + HL_SNAP_OFF_BASE)),
             (snprintf(msg, sizeof(msg), "its dispatch address %#llx is not in the guest's code",
                       (unsigned long long)get64(g_good + HL_SNAP_OFF_BASE)), msg));
    /* the page map: runs out of order, past the end, a count that is not the header's */
    uint8_t *pm = section_of(g_good, HL_SNAP_SEC_PAGE_MAP, NULL);
    REHASHED(put64(section_of(f, HL_SNAP_SEC_PAGE_MAP, NULL) + 8, total / PAGE),
             (snprintf(msg, sizeof(msg), "the page map's run 1 (pages %llu, %llu of them) is not after the last, inside "
                       "the %llu pages", (unsigned long long)total / PAGE, (unsigned long long)get64(pm + 16),
                       (unsigned long long)total / PAGE), msg));
    REHASHED(put64(f + HL_SNAP_OFF_STORED_PAGES, get64(g_good + HL_SNAP_OFF_STORED_PAGES) + 1),
             (snprintf(msg, sizeof(msg), "its header says %llu pages are stored, its page map lists %llu",
                       (unsigned long long)get64(g_good + HL_SNAP_OFF_STORED_PAGES) + 1,
                       (unsigned long long)get64(g_good + HL_SNAP_OFF_STORED_PAGES)), msg));
    /* the PEB: another base than the layout's */
    uint64_t peb_off = image_off + get64(ls + 40 + 16 * HL_REGION_PEB);
    REHASHED(f[peb_off + offsetof(hl_peb, base)] ^= 0x20,
             "its PEB differs from what the host writes for its layout and entry state");
    REHASHED(f[peb_off + 4000] = 1, "its PEB page holds data past the PEB");
    /* the host function region: a table other than the one the section has */
    uint64_t hf_off = image_off + get64(ls + 40 + 16 * HL_REGION_HOST_FUNCTIONS);
    REHASHED(f[hf_off + 12] = 1, "its host function region is not the host function table the host writes");
    REHASHED(put32(section_of(f, HL_SNAP_SEC_HOST_FUNCTIONS, NULL), 0x12345678),
             "the host function table has the wrong magic number (0x12345678)");
    REHASHED(put32(section_of(f, HL_SNAP_SEC_GUEST_FUNCTIONS, NULL) + 4, 100000),
             "the guest function table is malformed");
    if (rt_mode() == HL_MODE_RUN_IN_HYPERVISOR) {
        /* KVM's page tables, descriptor tables and exception stubs are the host's */
        uint64_t pt_size = get64(ls + 48 + 16 * HL_REGION_PAGE_TABLES), sys = pt_size / PAGE - 3;
        REHASHED(f[image_off + (sys + 2) * PAGE + 5] ^= 0xFF,
                 (snprintf(msg, sizeof(msg), "its exception stubs and entry code differ from what the host builds for its "
                           "layout (page %llu): made by another build of the library? make the snapshot again "
                           "with this one", (unsigned long long)sys + 2), msg));
        REHASHED(f[image_off + 8] ^= 0x02, /* the PML4's second entry, unused: writable */
                 "its page tables differ from what the host builds for its layout (page 0)");
        REHASHED(f[image_off + (sys + 1) * PAGE + 16] ^= 0x01,
                 (snprintf(msg, sizeof(msg), "its IDT differs from what the host builds for its layout (page %llu)",
                           (unsigned long long)sys + 1), msg));
        REHASHED(f[image_off + sys * PAGE + HL_SNAP_TSS_IST1] ^= 0x10,
                 (snprintf(msg, sizeof(msg), "its GDT and TSS differ from what the host builds for its layout "
                           "(page %llu)", (unsigned long long)sys), msg));
    }
#undef REHASHED
}

static void test_not_snapshots(void **state)
{
    (void)state;
    char msg[600];
    const char *dir = path_of("");
    snprintf(msg, sizeof(msg), "cannot read snapshot `%s`: it is a directory", dir);
    expect_refused(dir, HL_E_IO, msg);
    const char *missing = path_of("missing.hls");
    snprintf(msg, sizeof(msg), "cannot open snapshot `%s`: No such file or directory", missing);
    expect_refused(missing, HL_E_IO, msg);
    const char *empty = path_of("empty.hls");
    write_all(empty, (const uint8_t *)"", 0);
    expect_refused(empty, HL_E_CONFIG, "the file is empty");
    expect_refused("/dev/null", HL_E_IO, "cannot read snapshot `/dev/null`: it is not a regular file");
    /* a guest binary is not a snapshot */
    const char *guest = rt_guest("simpleguest");
    char copy[600];
    snprintf(copy, sizeof(copy), "%s", guest);
    expect_refused(copy, HL_E_CONFIG, "not a hyperlight snapshot (its first bytes are not the snapshot magic number)");
    hl_error err = HL_ERROR_INIT;
    hl_snapshot *s = NULL;
    assert_int_equal(hl_snapshot_open(NULL, "x", &err), HL_E_INVALID_ARG);
    assert_string_equal(err.message, "hl_snapshot_open: NULL argument");
    assert_int_equal(hl_snapshot_open(&s, NULL, &err), HL_E_INVALID_ARG);
    hl_snapshot_close(NULL);
    assert_int_equal(hl_snapshot_function_count(NULL), 0);
    assert_null(hl_snapshot_layout(NULL));
    hl_config cfg;
    assert_int_equal(hl_snapshot_get_config(NULL, &cfg), HL_E_INVALID_ARG);
}

static int cleanup(void **state)
{
    (void)state;
    free(g_good);
    g_good = NULL;
    if (g_dir[0]) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
        if (system(cmd) != 0)
            return -1;
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_file_contents),
        cmocka_unit_test(test_save_errors),
        cmocka_unit_test(test_host_functions),
        cmocka_unit_test(test_config_must_agree),
        cmocka_unit_test(test_debugger_settings),
        cmocka_unit_test(test_many_from_one),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupted),
        cmocka_unit_test(test_lying_metadata),
        cmocka_unit_test(test_not_snapshots),
    };
    return _cmocka_run_group_tests(rt_group_name("snapshot"), tests, sizeof(tests) / sizeof(tests[0]), NULL, cleanup);
}
