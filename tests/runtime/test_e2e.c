/* test_e2e.c - a sandbox from a hyperfile and one configured from code with the same values behave identically. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"

/* One call's outcome, everything the caller can observe. */
typedef struct outcome {
    hl_status status;
    unsigned guest_code;
    char message[HL_ERROR_MESSAGE_MAX];
    hl_type type;
    uint8_t bytes[20000];
    size_t len;
} outcome;

/* Fault messages carry guest addresses, which differ between two in-process sandboxes: replace
 * every hexadecimal number with "0x?" before comparing. */
static void normalise(char *s)
{
    char *out = s;
    for (char *p = s; *p;) {
        if (p[0] == '0' && p[1] == 'x' && isxdigit((unsigned char)p[2])) {
            p += 2;
            while (isxdigit((unsigned char)*p))
                p++;
            memcpy(out, "0x?", 3);
            out += 3;
        } else {
            *out++ = *p++;
        }
    }
    *out = '\0';
}

static void run_one(hl_sandbox *sb, const char *fn, const hl_value *args, size_t n, outcome *o)
{
    hl_value v;
    hl_error e = HL_ERROR_INIT;
    memset(o, 0, sizeof(*o));
    o->status = hl_sandbox_call(sb, fn, args, n, &v, &e);
    if (o->status != HL_OK) {
        o->guest_code = e.guest_code;
        memcpy(o->message, e.message, sizeof(o->message));
        normalise(o->message);
        return;
    }
    o->type = v.type;
    if (v.type == HL_TYPE_STRING || v.type == HL_TYPE_BYTES) {
        assert_true(v.u.buf.len <= sizeof(o->bytes));
        o->len = v.u.buf.len;
        memcpy(o->bytes, v.u.buf.ptr, o->len);
    } else if (v.type != HL_TYPE_VOID) {
        o->len = 8;
        memcpy(o->bytes, &v.u, 8);
    }
}

typedef struct step {
    const char *fn;
    hl_value args[3];
    size_t n;
    int spin; /* only where max_wait_for_cancellation leaves room for a loaded machine */
} step;

static uint8_t bytes64[64], bytes1000[1000];
static char long_text[400];

/* Runs the sequence on both sandboxes and compares every outcome; returns how many failed. */
static unsigned compare_sequence(hl_sandbox *a, hl_sandbox *b, int with_spin)
{
    for (int i = 0; i < 64; i++)
        bytes64[i] = (uint8_t)(i * 5);
    for (int i = 0; i < 1000; i++)
        bytes1000[i] = (uint8_t)(i ^ 0x5A);
    memset(long_text, 'm', sizeof(long_text) - 1);
    const step steps[] = {
        {"echo_i32", {hl_i32(-5)}, 1, 0},
        {"echo_u64", {hl_u64(UINT64_MAX)}, 1, 0},
        {"echo_f64", {hl_f64(-0.0)}, 1, 0},
        {"echo_string", {hl_string("h\xC3\xA9llo")}, 1, 0},
        {"echo_bytes", {hl_bytes(bytes64, 64)}, 1, 0},
        {"add", {hl_i32(20), hl_i32(22)}, 2, 0},
        {"set_static", {hl_i64(42)}, 1, 0},
        {"get_static", {{0}}, 0, 0},
        {"print", {hl_string("one line\n")}, 1, 0},
        {"print_fmt", {hl_i32(7), hl_u64(9), hl_f64(1.5)}, 3, 0},
        {"no_such_function", {{0}}, 0, 0},
        {"add", {hl_i32(1)}, 1, 0},
        {"echo_i32", {hl_u32(1)}, 1, 0},
        {"fail_with", {hl_i32(15), hl_string(long_text)}, 2, 0},
        {"abort_with", {hl_u32(3), hl_string(long_text)}, 2, 0},
        {"panic", {hl_string(long_text)}, 1, 0},
        {"huge_output", {hl_u32(300)}, 1, 0},
        {"huge_output", {hl_u32(12000)}, 1, 0},
        {"echo_bytes", {hl_bytes(bytes1000, 1000)}, 1, 0},
        {"stack_alloc", {hl_u64(3 << 20)}, 1, 0},
        {"stack_alloc", {hl_u64(8192)}, 1, 0},
        {"recurse", {hl_u32(100)}, 1, 0},
        {"heap_free", {{0}}, 0, 0},
        {"calloc_realloc", {{0}}, 0, 0},
        {"write_readonly", {{0}}, 0, 0},
        {"read_address", {hl_u64(0)}, 1, 0},
        {"spin", {{0}}, 0, 1},
        {"region_size", {hl_string("input")}, 1, 0},
        {"region_size", {hl_string("output")}, 1, 0},
        {"region_size", {hl_string("host_function_definitions")}, 1, 0},
        {"region_size", {hl_string("host_exception")}, 1, 0},
        {"region_size", {hl_string("guest_error")}, 1, 0},
        {"region_size", {hl_string("panic_context")}, 1, 0},
        {"region_size", {hl_string("heap")}, 1, 0},
        {"region_size", {hl_string("stack")}, 1, 0},
        {"region_size", {hl_string("kernel_stack")}, 1, 0},
        {"get_static", {{0}}, 0, 0},
    };
    static outcome oa, ob;
    unsigned bad = 0, errors = 0;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        const step *s = &steps[i];
        if (s->spin && !with_spin)
            continue;
        run_one(a, s->fn, s->args, s->n, &oa);
        run_one(b, s->fn, s->args, s->n, &ob);
        errors += oa.status != HL_OK;
        if (oa.status != ob.status || oa.guest_code != ob.guest_code || strcmp(oa.message, ob.message) != 0 ||
            oa.type != ob.type || oa.len != ob.len || memcmp(oa.bytes, ob.bytes, oa.len) != 0) {
            print_error("step %zu `%s` differs:\n  hyperfile: %s (%u) type %s, %zu bytes: %s\n  code:      %s (%u) type "
                        "%s, %zu bytes: %s\n",
                        i, s->fn, hl_status_str(oa.status), oa.guest_code, hl_type_name(oa.type), oa.len, oa.message,
                        hl_status_str(ob.status), ob.guest_code, hl_type_name(ob.type), ob.len, ob.message);
            bad++;
        }
    }
    assert_true(errors >= 8); /* the sequence really exercised the error paths */
    /* the state after the sequence and inside a call context is the same too */
    hl_error e = HL_ERROR_INIT;
    hl_sandbox *both[] = {a, b};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(hl_sandbox_context_begin(both[k], &e), HL_OK);
        rt_ok(both[k], "set_static", RT_ARGS(hl_i64(11)));
        assert_int_equal(rt_ok(both[k], "get_static", RT_NOARGS).u.i64, 11);
        assert_int_equal(hl_sandbox_context_end(both[k], &e), HL_OK);
        assert_int_equal(rt_ok(both[k], "get_static", RT_NOARGS).u.i64, 7);
    }
    return bad;
}

/* Both sandboxes from the two configs (asserted equal first); the sequence; the printed text. */
static void check_pair(const hl_config *from_file, const hl_config *from_code, int with_spin)
{
    hl_config_field diff = HL_CFG_FIELD_COUNT;
    if (!hl_config_equal(from_file, from_code, &diff))
        fail_msg("the configs differ in `%s`", hl_config_field_info(diff)->key);
    hl_sandbox *a = rt_sandbox_cfg("simpleguest", from_file);
    hl_sandbox *b = rt_sandbox_cfg("simpleguest", from_code);
    rt_print pa = {.len = 0}, pb = {.len = 0};
    hl_sandbox_set_print(a, rt_print_capture, &pa);
    hl_sandbox_set_print(b, rt_print_capture, &pb);
    assert_int_equal(compare_sequence(a, b, with_spin), 0);
    assert_string_equal(pa.text, pb.text);
    assert_string_equal(pa.text, "one line\nint 7, neg -7, hex 0x7, str '   ab', pad [7   ], u64 9, float 1.500\n");
    /* the layouts match, and the guest saw the configured sizes */
    const hl_layout *la = hl_sandbox_layout(a), *lb = hl_sandbox_layout(b);
    assert_int_equal(la->total_size, lb->total_size);
    assert_int_equal(la->stack_size, lb->stack_size);
    assert_int_equal(la->heap_size, lb->heap_size);
    for (int r = 0; r < HL_REGION_COUNT; r++)
        assert_int_equal(la->region[r].size, lb->region[r].size);
    assert_int_equal(rt_ok(a, "region_size", RT_ARGS(hl_string("input"))).u.u64, from_file->input_data_size);
    assert_int_equal(rt_ok(a, "region_size", RT_ARGS(hl_string("guest_error"))).u.u64, from_file->guest_error_buffer_size);
    hl_sandbox_destroy(a);
    hl_sandbox_destroy(b);
}

static void test_hip_sample(void **state)
{
    hl_config file;
    hl_config_init(&file);
    hl_diag_list *d = hl_diag_list_new();
    const char *sample = rt_sample_hyperfile();
    if (!sample) {
        hl_diag_list_free(d);
        skip();
    }
    assert_int_equal(hl_config_load_file(&file, sample, NULL, d), HL_OK);
    hl_diag_list_free(d);
    assert_int_equal(file.execution_mode, HL_MODE_RUN_IN_HYPERVISOR); /* as the HIP wrote it */
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_config_set_text(&file, "execution_mode", hl_execution_mode_name(rt_mode()), HL_ORIGIN_HOST, &err),
                     HL_OK);
    /* The sample's limits (100 ms to run or initialise, 10 ms to stop) are wall-clock time: on a
     * loaded two-core machine a sandbox thread can be descheduled that long, and the two sandboxes
     * would then differ for reasons that have nothing to do with their configs. Both get roomier
     * limits from host code; test_settings checks that the durations take effect. */
    assert_int_equal(hl_config_set_text(&file, "max_execution_time", "1s", HL_ORIGIN_HOST, &err), HL_OK);
    assert_int_equal(hl_config_set_text(&file, "max_initialization_time", "5s", HL_ORIGIN_HOST, &err), HL_OK);
    assert_int_equal(hl_config_set_text(&file, "max_wait_for_cancellation", "255ms", HL_ORIGIN_HOST, &err), HL_OK);
    assert_int_equal(file.input_data_size, 1024); /* the rest is the sample's */
    assert_int_equal(file.stack_size_override, 4194304);
    hl_config code;
    hl_config_init(&code);
    assert_int_equal(hl_config_set_input_data_size(&code, 1024), HL_SET_OK);
    assert_int_equal(hl_config_set_output_data_size(&code, 2048), HL_SET_OK);
    assert_int_equal(hl_config_set_function_definition_size(&code, 512), HL_SET_OK);
    assert_int_equal(hl_config_set_host_exception_size(&code, 256), HL_SET_OK);
    assert_int_equal(hl_config_set_guest_error_buffer_size(&code, 128), HL_SET_OK);
    assert_int_equal(hl_config_set_stack_size_override(&code, 4194304), HL_SET_OK);
    assert_int_equal(hl_config_set_heap_size_override(&code, 8388608), HL_SET_OK);
    assert_int_equal(hl_config_set_kernel_stack_size(&code, 8192), HL_SET_OK);
    assert_int_equal(hl_config_set_max_execution_time(&code, 1000), HL_SET_OK);
    assert_int_equal(hl_config_set_max_initialization_time(&code, 5000), HL_SET_OK);
    assert_int_equal(hl_config_set_max_wait_for_cancellation(&code, 255), HL_SET_OK);
    assert_int_equal(hl_config_set_guest_panic_context_buffer_size(&code, 1024), HL_SET_OK);
    assert_int_equal(hl_config_set_execution_mode(&code, rt_mode()), HL_SET_OK);
    check_pair(&file, &code, 1);
}

static const char *const profiles_toml = "hyperfile_version = 1\n"
                                         "input_data_size = \"8KiB\"\n"
                                         "output_data_size = 8192\n"
                                         "heap_size_override = \"2MiB\"\n"
                                         "max_execution_time = \"5s\"\n"
                                         "\n"
                                         "[sandbox.ci]\n"
                                         "max_execution_time = \"300ms\"\n"
                                         "max_wait_for_cancellation = \"255ms\"\n"
                                         "guest_error_buffer_size = 96\n"
                                         "stack_size_override = \"256KiB\"\n"
                                         "\n"
                                         "[sandbox.dev]\n"
                                         "max_execution_time = \"10s\"\n"
                                         "stack_size_override = \"8MiB\"\n";

static void test_profile(void **state)
{
    hl_config file;
    rt_config_profile(&file, profiles_toml, "ci");
    assert_string_equal(file.profile, "ci");
    hl_config code;
    hl_config_init(&code);
    hl_config_set_input_data_size(&code, 8192);
    hl_config_set_output_data_size(&code, 8192);
    hl_config_set_heap_size_override(&code, 2 << 20);
    hl_config_set_max_execution_time(&code, 300);
    hl_config_set_max_wait_for_cancellation(&code, 255);
    hl_config_set_guest_error_buffer_size(&code, 96);
    hl_config_set_stack_size_override(&code, 256 << 10);
    hl_config_set_execution_mode(&code, rt_mode());
    check_pair(&file, &code, 1);

    /* the other profile is a different configuration */
    hl_config dev;
    rt_config_profile(&dev, profiles_toml, "dev");
    assert_false(hl_config_equal(&file, &dev, NULL));
    assert_int_equal(dev.stack_size_override, 8 << 20);
    hl_sandbox *sb = rt_sandbox_cfg("simpleguest", &dev);
    assert_int_equal(rt_ok(sb, "stack_alloc", RT_ARGS(hl_u64(3 << 20))).u.u64, 3 << 20);
    hl_sandbox_destroy(sb);
}

static void test_small_buffers(void **state)
{
    hl_config file;
    /* output_data_size must hold the guest's function table (1731 bytes for simpleguest) */
    rt_config(&file, "input_data_size = 256\n"
                     "output_data_size = 1800\n"
                     "function_definition_size = 256\n"
                     "host_exception_size = 64\n"
                     "guest_error_buffer_size = 64\n"
                     "guest_panic_context_buffer_size = 256\n"
                     "stack_size_override = \"16KiB\"\n"
                     "heap_size_override = \"4KiB\"\n"
                     "kernel_stack_size = 4096\n"
                     "max_execution_time = \"300ms\"\n"
                     "max_initialization_time = \"2s\"\n"
                     "max_wait_for_cancellation = \"255ms\"\n");
    hl_config code;
    hl_config_init(&code);
    hl_config_set_input_data_size(&code, 256);
    hl_config_set_output_data_size(&code, 1800);
    hl_config_set_function_definition_size(&code, 256);
    hl_config_set_host_exception_size(&code, 64);
    hl_config_set_guest_error_buffer_size(&code, 64);
    hl_config_set_guest_panic_context_buffer_size(&code, 256);
    hl_config_set_stack_size_override(&code, 16 << 10);
    hl_config_set_heap_size_override(&code, 4 << 10);
    hl_config_set_kernel_stack_size(&code, 4096);
    hl_config_set_max_execution_time(&code, 300);
    hl_config_set_max_initialization_time(&code, 2000);
    hl_config_set_max_wait_for_cancellation(&code, 255);
    hl_config_set_execution_mode(&code, rt_mode());
    check_pair(&file, &code, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hip_sample),
        cmocka_unit_test(test_profile),
        cmocka_unit_test(test_small_buffers),
    };
    return rt_run("e2e", tests);
}
