/* test_hyperfile.c - unit tests of hyperfile loading: the sample, every error class, profiles, policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hyperlight/config.h"
#include "hyperlight/diag.h"

#define SAMPLE HL_SOURCE_DIR "/../shared/hyperfile-sample.toml"

/* Loads text into cfg (initialised by the caller) and returns the diagnostics. */
static hl_diag_list *load(hl_config *cfg, const char *text, const char *profile,
                          const hl_policy *policy, hl_status *status)
{
    hl_diag_list *diags = hl_diag_list_new();
    assert_non_null(diags);
    hl_load_options opt = {
        .struct_size = sizeof(hl_load_options), .profile = profile, .policy = policy};
    *status = hl_config_load_string(cfg, text, strlen(text), "h.toml", &opt, diags);
    return diags;
}

static void dump(const hl_diag_list *diags)
{
    hl_diag_render_text(diags, stderr, false);
}

/* Diagnostic i is an error at line:col, length len, with exactly this message and help. */
static void expect_diag(const hl_diag_list *diags, size_t i, uint32_t line, uint32_t col,
                        size_t len, const char *message, const char *help)
{
    const hl_diag *d = hl_diag_at(diags, i);
    if (d == NULL) {
        dump(diags);
        fail_msg("no diagnostic #%zu", i);
    }
    if (d->line != line || d->column != col || d->length != len || strcmp(d->message, message) != 0 ||
        (help == NULL) != (d->help == NULL) || (help != NULL && strcmp(help, d->help) != 0)) {
        dump(diags);
        fail_msg("diagnostic #%zu:\n  got %u:%u len %zu: %s | %s\n want %u:%u len %zu: %s | %s", i,
                 d->line, d->column, d->length, d->message, d->help ? d->help : "(null)", line,
                 col, len, message, help ? help : "(null)");
    }
    assert_int_equal(d->severity, HL_SEV_ERROR);
}

/* Loading text fails with exactly one error, as described, and leaves cfg untouched. */
static void expect_one_error(const char *text, uint32_t line, uint32_t col, size_t len,
                             const char *message, const char *help)
{
    hl_config cfg, before;
    hl_status st;
    hl_config_init(&cfg);
    before = cfg;
    hl_diag_list *diags = load(&cfg, text, NULL, NULL, &st);
    if (hl_diag_count(diags) != 1) {
        dump(diags);
        fail_msg("%zu diagnostics for %s", hl_diag_count(diags), text);
    }
    assert_int_equal(st, HL_E_CONFIG);
    expect_diag(diags, 0, line, col, len, message, help);
    assert_memory_equal(&cfg, &before, sizeof cfg);
    hl_diag_list_free(diags);
}

static void test_sample_loads_exactly(void **state)
{
    (void)state;
    hl_config cfg;
    hl_config_init(&cfg);
    hl_diag_list *diags = hl_diag_list_new();
    if (access(SAMPLE, R_OK) != 0) { /* a user's clone without the shared test data */
        if (getenv("CI") && strcmp(getenv("CI"), "true") == 0)
            fail_msg("%s is missing, and under CI=true the HIP's sample must be tested", SAMPLE);
        hl_diag_list_free(diags);
        skip();
    }
    hl_status st = hl_config_load_file(&cfg, SAMPLE, NULL, diags);
    if (st != HL_OK || hl_diag_count(diags) != 0)
        dump(diags);
    assert_int_equal(st, HL_OK);
    assert_int_equal(hl_diag_count(diags), 0);
    assert_int_equal(cfg.input_data_size, 1024);
    assert_int_equal(cfg.output_data_size, 2048);
    assert_int_equal(cfg.function_definition_size, 512);
    assert_int_equal(cfg.host_exception_size, 256);
    assert_int_equal(cfg.guest_error_buffer_size, 128);
    assert_int_equal(cfg.stack_size_override, 4194304);
    assert_int_equal(cfg.heap_size_override, 8388608);
    assert_int_equal(cfg.kernel_stack_size, 8192);
    assert_int_equal(cfg.max_execution_time, 100);
    assert_int_equal(cfg.max_initialization_time, 100);
    assert_int_equal(cfg.max_wait_for_cancellation, 10);
    assert_int_equal(cfg.guest_panic_context_buffer_size, 1024);
    assert_int_equal(cfg.execution_mode, HL_MODE_RUN_IN_HYPERVISOR);
    /* the sample sets the HIP's 13 settings; the debugging ones keep their defaults */
    static const uint32_t lines[HL_CFG_GDB_PORT] = {4, 5, 6, 7, 8, 11, 12, 15, 18, 19, 20, 23, 26};
    for (size_t i = 0; i < HL_CFG_FIELD_COUNT; i++) {
        assert_int_equal(cfg.origin[i], i < HL_CFG_GDB_PORT ? HL_ORIGIN_FILE : HL_ORIGIN_DEFAULT);
        assert_int_equal(cfg.origin_line[i], i < HL_CFG_GDB_PORT ? lines[i] : 0);
    }
    assert_int_equal(cfg.gdb_port, 0);
    assert_string_equal(cfg.core_dump_dir, "");
    assert_string_equal(cfg.source_name, SAMPLE);
    assert_string_equal(cfg.profile, "");

    /* the same values from code compare equal; every setter takes them as they are */
    hl_config code;
    hl_config_init(&code);
    assert_int_equal(hl_config_set_input_data_size(&code, 1024), HL_SET_OK);
    assert_int_equal(hl_config_set_output_data_size(&code, 2048), HL_SET_OK);
    assert_int_equal(hl_config_set_function_definition_size(&code, 512), HL_SET_OK);
    assert_int_equal(hl_config_set_host_exception_size(&code, 256), HL_SET_OK);
    assert_int_equal(hl_config_set_guest_error_buffer_size(&code, 128), HL_SET_OK);
    assert_int_equal(hl_config_set_stack_size_override(&code, 4 * HL_MiB), HL_SET_OK);
    assert_int_equal(hl_config_set_heap_size_override(&code, 8 * HL_MiB), HL_SET_OK);
    assert_int_equal(hl_config_set_kernel_stack_size(&code, 8192), HL_SET_OK);
    assert_int_equal(hl_config_set_max_execution_time(&code, 100), HL_SET_OK);
    assert_int_equal(hl_config_set_max_initialization_time(&code, 100), HL_SET_OK);
    assert_int_equal(hl_config_set_max_wait_for_cancellation(&code, 10), HL_SET_OK);
    assert_int_equal(hl_config_set_guest_panic_context_buffer_size(&code, 1024), HL_SET_OK);
    assert_int_equal(hl_config_set_execution_mode(&code, HL_MODE_RUN_IN_HYPERVISOR), HL_SET_OK);
    hl_config_field diff;
    assert_true(hl_config_equal(&cfg, &code, &diff));
    hl_config_set_max_execution_time(&code, 101);
    assert_false(hl_config_equal(&cfg, &code, &diff));
    assert_int_equal(diff, HL_CFG_MAX_EXECUTION_TIME);
    hl_diag_list_free(diags);
}

static void test_forms_and_defaults(void **state)
{
    (void)state;
    hl_config cfg;
    hl_status st;
    hl_config_init(&cfg);
    hl_diag_list *diags = load(&cfg,
                               "hyperfile_version = 1\n"
                               "input_data_size = \"4MiB\"\n"
                               "output_data_size = \"512KiB\"\n"
                               "heap_size_override = 0x10_0000\n"
                               "stack_size_override = \"32768\"\n"
                               "kernel_stack_size = \"1.5 MiB\"\n"
                               "max_execution_time = 2500\n"
                               "max_initialization_time = \"2s\"\n"
                               "max_wait_for_cancellation = \"20000us\"\n"
                               "execution_mode = \"RunInProcess\"\n",
                               NULL, NULL, &st);
    assert_int_equal(st, HL_OK);
    assert_int_equal(hl_diag_count(diags), 0);
    assert_int_equal(cfg.input_data_size, 4 * HL_MiB);
    assert_int_equal(cfg.output_data_size, 512 * HL_KiB);
    assert_int_equal(cfg.heap_size_override, HL_MiB);
    assert_int_equal(cfg.stack_size_override, 32 * HL_KiB);
    assert_int_equal(cfg.kernel_stack_size, 1536 * HL_KiB);
    assert_int_equal(cfg.max_execution_time, 2500);
    assert_int_equal(cfg.max_initialization_time, 2000);
    assert_int_equal(cfg.max_wait_for_cancellation, 20);
    assert_int_equal(cfg.execution_mode, HL_MODE_RUN_IN_PROCESS);
    /* omitted keys keep their defaults and their origin */
    assert_int_equal(cfg.function_definition_size, 0x1000);
    assert_int_equal(cfg.origin[HL_CFG_FUNCTION_DEFINITION_SIZE], HL_ORIGIN_DEFAULT);
    assert_int_equal(cfg.origin[HL_CFG_KERNEL_STACK_SIZE], HL_ORIGIN_FILE);
    assert_int_equal(cfg.origin_line[HL_CFG_KERNEL_STACK_SIZE], 6);
    assert_string_equal(cfg.source_name, "h.toml");
    hl_diag_list_free(diags);

    /* an empty file: the defaults, no diagnostics */
    hl_config def;
    hl_config_init(&def);
    hl_config_init(&cfg);
    diags = load(&cfg, "", NULL, NULL, &st);
    assert_int_equal(st, HL_OK);
    assert_int_equal(hl_diag_count(diags), 0);
    assert_true(hl_config_equal(&cfg, &def, NULL));
    hl_diag_list_free(diags);
    /* no diagnostics list: the status alone */
    assert_int_equal(hl_config_load_string(&cfg, "a = 1", 5, "x", NULL, NULL), HL_E_CONFIG);
    assert_int_equal(hl_config_load_string(&cfg, "input_data_size = 512", 21, NULL, NULL, NULL), HL_OK);
    assert_int_equal(cfg.input_data_size, 512);
    assert_string_equal(cfg.source_name, "<string>");
    assert_int_equal(hl_config_load_string(NULL, "", 0, "x", NULL, NULL), HL_E_INVALID_ARG);
    assert_int_equal(hl_config_load_string(&cfg, NULL, 3, "x", NULL, NULL), HL_E_INVALID_ARG);
    assert_int_equal(hl_config_load_file(&cfg, NULL, NULL, NULL), HL_E_INVALID_ARG);
}

#define SIZE_HELP "expected an integer of bytes or a string like \"4MiB\""

static void test_each_error_class(void **state)
{
    (void)state;
    expect_one_error("input_data_sise = 1024\n", 1, 1, 15, "unknown key `input_data_sise`",
                     "did you mean `input_data_size`?");
    expect_one_error("[memory]\nsize = 1\n", 1, 2, 6, "unknown key `memory`",
                     "`hyperlight init` writes a template with every key");
    expect_one_error("\"odd key\" = 1\n", 1, 1, 9, "unknown key \"odd key\"",
                     "`hyperlight init` writes a template with every key");
    expect_one_error("output_data_size = true\n", 1, 20, 4,
                     "`output_data_size` must be a size, not a boolean", SIZE_HELP);
    expect_one_error("max_execution_time = 1.5\n", 1, 22, 3,
                     "`max_execution_time` must be a duration, not a float",
                     "expected an integer of milliseconds or a string like \"100ms\"");
    expect_one_error("execution_mode = 1\n", 1, 18, 1, "`execution_mode` must be a string, not an integer",
                     "expected \"RunInHypervisor\" or \"RunInProcess\"");
    expect_one_error("heap_size_override = [1]\n", 1, 22, 3,
                     "`heap_size_override` must be a size, not an array", SIZE_HELP);
    expect_one_error("host_exception_size = -5\n", 1, 23, 2,
                     "`host_exception_size` cannot be negative: -5", SIZE_HELP);
    expect_one_error("input_data_size = 100\n", 1, 19, 3, "`input_data_size` is too small: 100 B",
                     "allowed: 256 B to 64 MiB");
    expect_one_error("input_data_size = \"128MiB\"\n", 1, 19, 8,
                     "`input_data_size` is too large: 128 MiB", "allowed: 256 B to 64 MiB");
    expect_one_error("stack_size_override = 4096\n", 1, 23, 4, "`stack_size_override` is too small: 4 KiB",
                     "allowed: 0 (from the guest binary), or 16 KiB to 512 MiB");
    expect_one_error("max_wait_for_cancellation = 0\n", 1, 29, 1,
                     "`max_wait_for_cancellation` is too small: 0 ms", "allowed: 10 ms to 255 ms");
    expect_one_error("max_execution_time = \"66s\"\n", 1, 22, 5,
                     "`max_execution_time` is too large: 66000 ms", "allowed: 1 ms to 65535 ms");
    expect_one_error("max_execution_time = \"100xs\"\n", 1, 22, 7,
                     "invalid duration \"100xs\" for `max_execution_time`",
                     "expected a number followed by ms or s, like \"100ms\"");
    expect_one_error("max_initialization_time = \"1500us\"\n", 1, 27, 8,
                     "duration \"1500us\" for `max_initialization_time` is not a whole number of "
                     "milliseconds",
                     "the resolution is 1 ms: write \"2ms\"");
    expect_one_error("guest_error_buffer_size = \"4Mb\"\n", 1, 27, 5,
                     "invalid size \"4Mb\" for `guest_error_buffer_size`",
                     "\"Mb\" is ambiguous: write \"4MiB\" for powers of 1024 or \"4MB\" for powers of 1000");
    expect_one_error("input_data_size = \"lots\"\n", 1, 19, 6, "invalid size \"lots\" for `input_data_size`",
                     "expected a whole number of bytes, optionally followed by B, KiB, MiB or GiB "
                     "(kB, MB, GB are powers of 1000), like \"4MiB\"");
    expect_one_error("execution_mode = \"runInProcess\"\n", 1, 18, 14,
                     "invalid execution mode \"runInProcess\" for `execution_mode`",
                     "did you mean \"RunInProcess\"? (the names are case-sensitive)");
    expect_one_error("execution_mode = \"RunInHypervsor\"\n", 1, 18, 16,
                     "invalid execution mode \"RunInHypervsor\" for `execution_mode`",
                     "did you mean \"RunInHypervisor\"?");
    expect_one_error("hyperfile_version = 2\n", 1, 21, 1, "unsupported hyperfile_version 2",
                     "this version of hyperlight reads hyperfile_version 1 only");
    expect_one_error("hyperfile_version = \"1\"\n", 1, 21, 3,
                     "`hyperfile_version` must be an integer, not a string", "write `hyperfile_version = 1`");
    expect_one_error("stack_size_override = \"512MiB\"\nheap_size_override = \"512MiB\"\n", 1, 23, 8,
                     "the sandbox would need 1073807360 bytes (1024.1 MiB) of guest memory, over the "
                     "limit of 1 GiB",
                     "the total counts every buffer, the stack and the heap, each rounded up to 4 "
                     "KiB pages; make `stack_size_override` smaller");
    expect_one_error("sandbox = 1\n", 1, 1, 7, "`sandbox` must be a table of profiles, not a single value",
                     "write each profile as a [sandbox.NAME] table");
    expect_one_error("[[sandbox]]\n", 1, 3, 7, "`sandbox` must be a table of profiles, not an array",
                     "write each profile as a [sandbox.NAME] table");
    expect_one_error("[sandbox]\ndev = 3\n", 2, 1, 3, "profile `dev` must be a table, not a value",
                     "write the profile as a [sandbox.dev] table");
    expect_one_error("[sandbox.dev]\nhyperfile_version = 1\n", 2, 1, 17,
                     "`hyperfile_version` belongs at the top level, not in profile `dev`",
                     "move it to the top of the file");
    expect_one_error("[sandbox.dev]\nmax_execution_tim = 5\n", 2, 1, 17,
                     "unknown key `max_execution_tim` in profile `dev`",
                     "did you mean `max_execution_time`?");
    expect_one_error("[sandbox.dev.inner]\n", 1, 14, 5,
                     "unknown key `inner` in profile `dev`",
                     "`hyperlight init` writes a template with every key");
    expect_one_error("input_data_size = 1024\ninput_data_size = 2048\n", 2, 1, 15,
                     "duplicate key `input_data_size` (first defined on line 1)", NULL);
}

static void test_many_errors_at_once(void **state)
{
    (void)state;
    hl_config cfg, before;
    hl_status st;
    hl_config_init(&cfg);
    before = cfg;
    hl_diag_list *diags = load(&cfg,
                               "input_data_size = 1024\n"          /* fine */
                               "output_data_siz = 2048\n"          /* 2: unknown */
                               "kernel_stack_size = true\n"        /* 3: type */
                               "max_execution_time = \"10 s\"\n"   /* fine: 10000 ms */
                               "max_wait_for_cancellation = 300\n" /* 5: range */
                               "execution_mode = \"InProcess\"\n"  /* 6: mode */
                               "[sandbox.dev]\n"
                               "input_data_size = -1\n",           /* 8: negative */
                               NULL, NULL, &st);
    assert_int_equal(st, HL_E_CONFIG);
    assert_int_equal(hl_diag_count(diags), 5);
    assert_int_equal(hl_diag_error_count(diags), 5);
    expect_diag(diags, 0, 2, 1, 15, "unknown key `output_data_siz`", "did you mean `output_data_size`?");
    expect_diag(diags, 1, 3, 21, 4, "`kernel_stack_size` must be a size, not a boolean", SIZE_HELP);
    expect_diag(diags, 2, 5, 29, 3, "`max_wait_for_cancellation` is too large: 300 ms",
                "allowed: 10 ms to 255 ms");
    expect_diag(diags, 3, 6, 18, 11, "invalid execution mode \"InProcess\" for `execution_mode`",
                "did you mean \"RunInProcess\"?");
    expect_diag(diags, 4, 8, 19, 2, "`input_data_size` cannot be negative: -1", SIZE_HELP);
    assert_memory_equal(&cfg, &before, sizeof cfg);
    hl_diag_list_free(diags);
}

static void test_syntax_errors_reported_together(void **state)
{
    (void)state;
    hl_config cfg, before;
    hl_status st;
    hl_config_init(&cfg);
    before = cfg;
    hl_diag_list *diags = load(&cfg,
                               "input_data_size = \n"
                               "key with space = 1\n"
                               "output_data_size = 4096\n"
                               "max_execution_time = \"100ms\n"
                               "execution_mode = RunInProcess\n"
                               "bogus = 1\n",
                               NULL, NULL, &st);
    assert_int_equal(st, HL_E_CONFIG);
    static const struct {
        uint32_t line, col;
    } at[] = {{1, 19}, {2, 5}, {4, 22}, {5, 18}, {6, 1}};
    assert_int_equal(hl_diag_count(diags), 5);
    for (size_t i = 0; i < 5; i++) {
        const hl_diag *d = hl_diag_at(diags, i);
        assert_int_equal(d->line, at[i].line);
        assert_int_equal(d->column, at[i].col);
        assert_string_equal(d->file, "h.toml");
    }
    assert_string_equal(hl_diag_at(diags, 0)->message, "expected a value");
    assert_string_equal(hl_diag_at(diags, 4)->message, "unknown key `bogus`");
    assert_memory_equal(&cfg, &before, sizeof cfg);
    hl_diag_list_free(diags);
}

#define PROFILES                                                                                   \
    "input_data_size = 4096\n"                                                                     \
    "max_execution_time = 500\n"                                                                   \
    "[sandbox.dev]\n"                                                                              \
    "max_execution_time = \"2s\"\n"                                                                \
    "execution_mode = \"RunInProcess\"\n"                                                          \
    "[sandbox.ci]\n"                                                                               \
    "input_data_size = \"8KiB\"\n"

static void test_profiles_and_origins(void **state)
{
    (void)state;
    hl_config cfg;
    hl_status st;
    /* no profile: the top level only */
    hl_config_init(&cfg);
    hl_diag_list *diags = load(&cfg, PROFILES, NULL, NULL, &st);
    assert_int_equal(st, HL_OK);
    assert_int_equal(cfg.input_data_size, 4096);
    assert_int_equal(cfg.max_execution_time, 500);
    assert_int_equal(cfg.execution_mode, HL_MODE_RUN_IN_HYPERVISOR);
    assert_int_equal(cfg.origin[HL_CFG_EXECUTION_MODE], HL_ORIGIN_DEFAULT);
    assert_string_equal(cfg.profile, "");
    hl_diag_list_free(diags);

    /* dev: inherits input_data_size, overrides the rest */
    hl_config_init(&cfg);
    diags = load(&cfg, PROFILES, "dev", NULL, &st);
    assert_int_equal(st, HL_OK);
    assert_int_equal(hl_diag_count(diags), 0);
    assert_int_equal(cfg.input_data_size, 4096);
    assert_int_equal(cfg.origin[HL_CFG_INPUT_DATA_SIZE], HL_ORIGIN_FILE);
    assert_int_equal(cfg.origin_line[HL_CFG_INPUT_DATA_SIZE], 1);
    assert_int_equal(cfg.max_execution_time, 2000);
    assert_int_equal(cfg.origin[HL_CFG_MAX_EXECUTION_TIME], HL_ORIGIN_PROFILE);
    assert_int_equal(cfg.origin_line[HL_CFG_MAX_EXECUTION_TIME], 4);
    assert_int_equal(cfg.execution_mode, HL_MODE_RUN_IN_PROCESS);
    assert_int_equal(cfg.origin_line[HL_CFG_EXECUTION_MODE], 5);
    assert_int_equal(cfg.output_data_size, 0x4000);
    assert_int_equal(cfg.origin[HL_CFG_OUTPUT_DATA_SIZE], HL_ORIGIN_DEFAULT);
    assert_string_equal(cfg.profile, "dev");
    assert_string_equal(cfg.source_name, "h.toml");
    /* host code after loading wins */
    assert_int_equal(hl_config_set_max_execution_time(&cfg, 50), HL_SET_OK);
    assert_int_equal(cfg.origin[HL_CFG_MAX_EXECUTION_TIME], HL_ORIGIN_HOST);
    assert_int_equal(cfg.origin_line[HL_CFG_MAX_EXECUTION_TIME], 0);
    hl_diag_list_free(diags);

    /* ci */
    hl_config_init(&cfg);
    diags = load(&cfg, PROFILES, "ci", NULL, &st);
    assert_int_equal(st, HL_OK);
    assert_int_equal(cfg.input_data_size, 8192);
    assert_int_equal(cfg.origin[HL_CFG_INPUT_DATA_SIZE], HL_ORIGIN_PROFILE);
    assert_int_equal(cfg.origin_line[HL_CFG_INPUT_DATA_SIZE], 7);
    assert_int_equal(cfg.max_execution_time, 500);
    hl_diag_list_free(diags);

    /* host values set before loading are defaults the file overrides, and stay where it is silent */
    hl_config_init(&cfg);
    hl_config_set_input_data_size(&cfg, 999);
    hl_config_set_output_data_size(&cfg, 777);
    diags = load(&cfg, PROFILES, NULL, NULL, &st);
    assert_int_equal(cfg.input_data_size, 4096);
    assert_int_equal(cfg.origin[HL_CFG_INPUT_DATA_SIZE], HL_ORIGIN_FILE);
    assert_int_equal(cfg.output_data_size, 777);
    assert_int_equal(cfg.origin[HL_CFG_OUTPUT_DATA_SIZE], HL_ORIGIN_HOST);
    hl_diag_list_free(diags);
}

static void test_unknown_profile(void **state)
{
    (void)state;
    hl_config cfg, before;
    hl_status st;
    hl_config_init(&cfg);
    before = cfg;
    hl_diag_list *diags = load(&cfg, PROFILES, "prod", NULL, &st);
    assert_int_equal(st, HL_E_CONFIG);
    assert_int_equal(hl_diag_count(diags), 1);
    expect_diag(diags, 0, 0, 0, 0, "no profile `prod` in h.toml", "the profiles are `dev`, `ci`");
    assert_string_equal(hl_diag_at(diags, 0)->file, "h.toml");
    assert_memory_equal(&cfg, &before, sizeof cfg);
    hl_diag_list_free(diags);

    diags = load(&cfg, "input_data_size = 4096\n", "dev", NULL, &st);
    assert_int_equal(st, HL_E_CONFIG);
    expect_diag(diags, 0, 0, 0, 0, "no profile `dev` in h.toml",
                "the file defines no profiles: add a [sandbox.dev] table");
    hl_diag_list_free(diags);

    /* problems in profiles that are not selected are reported too */
    diags = load(&cfg,
                 "[sandbox.dev]\ninput_data_size = 1\n[sandbox.ci]\nbogus = 1\n", "dev", NULL, &st);
    assert_int_equal(st, HL_E_CONFIG);
    assert_int_equal(hl_diag_count(diags), 2);
    expect_diag(diags, 0, 2, 19, 1, "`input_data_size` is too small: 1 B", "allowed: 256 B to 64 MiB");
    expect_diag(diags, 1, 4, 1, 5, "unknown key `bogus` in profile `ci`",
                "`hyperlight init` writes a template with every key");
    hl_diag_list_free(diags);

    /* a profile over the memory cap is named */
    diags = load(&cfg, "stack_size_override = \"512MiB\"\n[sandbox.big]\nheap_size_override = \"512MiB\"\n",
                 NULL, NULL, &st);
    assert_int_equal(st, HL_E_CONFIG);
    assert_int_equal(hl_diag_count(diags), 1);
    expect_diag(diags, 0, 3, 22, 8,
                "with profile `big`, the sandbox would need 1073807360 bytes (1024.1 MiB) of guest "
                "memory, over the limit of 1 GiB",
                "the total counts every buffer, the stack and the heap, each rounded up to 4 KiB "
                "pages; make `heap_size_override` smaller");
    hl_diag_list_free(diags);
    assert_memory_equal(&cfg, &before, sizeof cfg);
}

static void expect_policy_error(const hl_policy *policy, const char *text, uint32_t line,
                                uint32_t col, size_t len, const char *message, const char *help)
{
    hl_config cfg, before;
    hl_status st;
    hl_config_init(&cfg);
    before = cfg;
    hl_diag_list *diags = load(&cfg, text, NULL, policy, &st);
    assert_int_equal(st, HL_E_CONFIG);
    assert_int_equal(hl_diag_count(diags), 1);
    expect_diag(diags, 0, line, col, len, message, help);
    assert_memory_equal(&cfg, &before, sizeof cfg);
    hl_diag_list_free(diags);
}

static void test_policy(void **state)
{
    (void)state;
    hl_policy policy;
    hl_policy_init(&policy);
    assert_int_equal(hl_policy_lock(&policy, HL_CFG_EXECUTION_MODE), HL_OK);
    assert_int_equal(hl_policy_lock(&policy, HL_CFG_FIELD_COUNT), HL_E_INVALID_ARG);
    assert_int_equal(hl_policy_cap(&policy, HL_CFG_INPUT_DATA_SIZE, 1024, HL_MiB), HL_OK);
    assert_int_equal(hl_policy_cap(&policy, HL_CFG_STACK_SIZE_OVERRIDE, 64 * HL_KiB, HL_MiB), HL_OK);
    assert_int_equal(hl_policy_cap(&policy, HL_CFG_INPUT_DATA_SIZE, 100, HL_MiB), HL_E_RANGE);
    assert_int_equal(hl_policy_cap(&policy, HL_CFG_INPUT_DATA_SIZE, 2048, 1024), HL_E_RANGE);
    assert_int_equal(hl_policy_cap(&policy, HL_CFG_INPUT_DATA_SIZE, 1024, 65 * HL_MiB), HL_E_RANGE);
    assert_int_equal(hl_policy_cap(NULL, HL_CFG_INPUT_DATA_SIZE, 1024, 2048), HL_E_INVALID_ARG);

    expect_policy_error(&policy, "execution_mode = \"RunInHypervisor\"\n", 1, 1, 14,
                        "`execution_mode` is locked by the host",
                        "the host sets this value itself: remove the line");
    expect_policy_error(&policy, "[sandbox.x]\nexecution_mode = \"RunInHypervisor\"\n", 2, 1, 14,
                        "`execution_mode` is locked by the host",
                        "the host sets this value itself: remove the line");
    expect_policy_error(&policy, "input_data_size = 512\n", 1, 19, 3, "`input_data_size` is too small: 512 B",
                        "allowed by the host: 1 KiB to 1 MiB");
    expect_policy_error(&policy, "input_data_size = \"2MiB\"\n", 1, 19, 6,
                        "`input_data_size` is too large: 2 MiB", "allowed by the host: 1 KiB to 1 MiB");
    /* 0 ("from the guest binary") escapes no cap */
    expect_policy_error(&policy, "stack_size_override = 0\n", 1, 23, 1,
                        "`stack_size_override` is too small: 0 B", "allowed by the host: 64 KiB to 1 MiB");

    hl_config cfg;
    hl_status st;
    hl_config_init(&cfg);
    hl_diag_list *diags = load(&cfg, "input_data_size = \"1MiB\"\nheap_size_override = 0\n", NULL, &policy, &st);
    assert_int_equal(st, HL_OK);
    assert_int_equal(cfg.input_data_size, HL_MiB);
    hl_diag_list_free(diags);

    hl_policy strict;
    hl_policy_init(&strict);
    hl_policy_forbid_in_process(&strict);
    expect_policy_error(&strict, "execution_mode = \"RunInProcess\"\n", 1, 18, 14,
                        "`RunInProcess` is forbidden by the host",
                        "this host runs every guest in a hypervisor for isolation: remove the line "
                        "or write \"RunInHypervisor\"");
    expect_policy_error(&strict, "[sandbox.dbg]\nexecution_mode = \"RunInProcess\"\n", 2, 18, 14,
                        "`RunInProcess` is forbidden by the host",
                        "this host runs every guest in a hypervisor for isolation: remove the line "
                        "or write \"RunInHypervisor\"");
    hl_config_init(&cfg);
    diags = load(&cfg, "execution_mode = \"RunInHypervisor\"\n", NULL, &strict, &st);
    assert_int_equal(st, HL_OK);
    hl_diag_list_free(diags);
    /* a cap on the mode works like forbid_in_process, in the words of a range */
    hl_policy mode_cap;
    hl_policy_init(&mode_cap);
    assert_int_equal(hl_policy_cap(&mode_cap, HL_CFG_EXECUTION_MODE, 0, 0), HL_OK);
    expect_policy_error(&mode_cap, "execution_mode = \"RunInProcess\"\n", 1, 18, 14,
                        "execution mode \"RunInProcess\" is not allowed by the host",
                        "allowed by the host: \"RunInHypervisor\" only");
    /* the host itself may still choose RunInProcess in code */
    assert_int_equal(hl_config_set_execution_mode(&cfg, HL_MODE_RUN_IN_PROCESS), HL_SET_OK);
}

/* The debugging keys: their forms, exact errors, profiles, and a policy that forbids them. */
static void test_debug_keys(void **state)
{
    (void)state;
    hl_config cfg;
    hl_status st;
    hl_config_init(&cfg);
    hl_diag_list *diags =
        load(&cfg,
             "gdb_port = 9000\ngdb_stop = \"initialization\"\ncore_dump = \"on-fault\"\n"
             "core_dump_dir = \"/var/tmp/cores\"\n[sandbox.quiet]\ncore_dump = \"off\"\ngdb_port = 0\n"
             "core_dump_dir = 'C:\\no\\escapes'\n",
             NULL, NULL, &st);
    if (st != HL_OK) dump(diags);
    assert_int_equal(st, HL_OK);
    assert_int_equal(cfg.gdb_port, 9000);
    assert_int_equal(cfg.gdb_stop, HL_GDB_STOP_INITIALIZATION);
    assert_int_equal(cfg.core_dump, HL_CORE_DUMP_ON_FAULT);
    assert_string_equal(cfg.core_dump_dir, "/var/tmp/cores");
    assert_int_equal(cfg.origin[HL_CFG_CORE_DUMP_DIR], HL_ORIGIN_FILE);
    assert_int_equal(cfg.origin_line[HL_CFG_CORE_DUMP_DIR], 4);
    hl_diag_list_free(diags);
    hl_config_init(&cfg);
    diags = load(&cfg, "gdb_port = 9000\ncore_dump_dir = \"a\"\n[sandbox.quiet]\ngdb_port = 0\n"
                       "core_dump_dir = 'C:\\no'\n", "quiet", NULL, &st);
    assert_int_equal(st, HL_OK);
    assert_int_equal(cfg.gdb_port, 0);
    assert_string_equal(cfg.core_dump_dir, "C:\\no");
    assert_int_equal(cfg.origin[HL_CFG_CORE_DUMP_DIR], HL_ORIGIN_PROFILE);
    hl_diag_list_free(diags);

    expect_one_error("gdb_port = \"9000\"\n", 1, 12, 6, "`gdb_port` must be an integer, not a string",
                     "expected an integer");
    expect_one_error("gdb_port = 65536\n", 1, 12, 5, "`gdb_port` is too large: 65536",
                     "allowed: 0 (off), or 1 to 65535");
    expect_one_error("gdb_port = -1\n", 1, 12, 2, "`gdb_port` cannot be negative: -1",
                     "expected an integer");
    expect_one_error("core_dump = true\n", 1, 13, 4, "`core_dump` must be a string, not a boolean",
                     "expected \"off\", \"on-fault\" or \"always-on-error\"");
    expect_one_error("core_dump = \"on_fault\"\n", 1, 13, 10, "invalid value \"on_fault\" for `core_dump`",
                     "did you mean \"on-fault\"?");
    expect_one_error("gdb_stop = \"First-Call\"\n", 1, 12, 12, "invalid value \"First-Call\" for `gdb_stop`",
                     "did you mean \"first-call\"? (the names are case-sensitive)");
    expect_one_error("core_dump_dir = [\"/tmp\"]\n", 1, 17, 8, "`core_dump_dir` must be a string, not an array",
                     "expected a string holding a path, like \"/var/tmp/cores\"");
    expect_one_error("core_dump_dir = \"a\\u0007b\"\n", 1, 17, 10, "invalid path \"a\\u0007b\" for `core_dump_dir`",
                     "a path cannot hold control characters or NUL");
    expect_one_error("core_dum = \"off\"\n", 1, 1, 8, "unknown key `core_dum`", "did you mean `core_dump`?");

    /* forbid_debugging: every debugging key is locked, at the key; the rest stays open */
    hl_policy policy;
    hl_policy_init(&policy);
    assert_int_equal(hl_policy_forbid_debugging(&policy), HL_OK);
    assert_int_equal(hl_policy_forbid_debugging(NULL), HL_E_INVALID_ARG);
    expect_policy_error(&policy, "gdb_port = 9000\n", 1, 1, 8, "`gdb_port` is locked by the host",
                        "the host does not let a hyperfile turn on debugging (a gdb port, core files): remove the line");
    expect_policy_error(&policy, "[sandbox.dbg]\ncore_dump_dir = \"/\"\n", 2, 1, 13,
                        "`core_dump_dir` is locked by the host",
                        "the host does not let a hyperfile turn on debugging (a gdb port, core files): remove the line");
    expect_policy_error(&policy, "core_dump = \"off\"\n", 1, 1, 9, "`core_dump` is locked by the host",
                        "the host does not let a hyperfile turn on debugging (a gdb port, core files): remove the line");
    expect_policy_error(&policy, "gdb_stop = \"first-call\"\n", 1, 1, 8, "`gdb_stop` is locked by the host",
                        "the host does not let a hyperfile turn on debugging (a gdb port, core files): remove the line");
    hl_config_init(&cfg);
    diags = load(&cfg, "max_execution_time = 50\n", NULL, &policy, &st);
    assert_int_equal(st, HL_OK);
    hl_diag_list_free(diags);
    /* a port range narrowed by the host; 0 (off) always passes; a path has no range */
    hl_policy ports;
    hl_policy_init(&ports);
    assert_int_equal(hl_policy_cap(&ports, HL_CFG_GDB_PORT, 9000, 9099), HL_OK);
    assert_int_equal(hl_policy_cap(&ports, HL_CFG_CORE_DUMP_DIR, 0, 1), HL_E_INVALID_ARG);
    expect_policy_error(&ports, "gdb_port = 22\n", 1, 12, 2, "`gdb_port` is too small: 22",
                        "allowed by the host: 0 (off), or 9000 to 9099");
    hl_config_init(&cfg);
    diags = load(&cfg, "gdb_port = 0\n", NULL, &ports, &st);
    assert_int_equal(st, HL_OK);
    hl_diag_list_free(diags);
}

/* Writes text to a fresh temporary file; returns its path (static storage). */
static const char *temp_file(const void *data, size_t len)
{
    static char path[64];
    strcpy(path, "/tmp/hl-test-hyperfile-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

static void test_files(void **state)
{
    (void)state;
    hl_config cfg, before;
    hl_config_init(&cfg);
    before = cfg;
    hl_diag_list *diags = hl_diag_list_new();
    assert_int_equal(hl_config_load_file(&cfg, "/nonexistent/h.toml", NULL, diags), HL_E_IO);
    assert_int_equal(hl_diag_count(diags), 1);
    expect_diag(diags, 0, 0, 0, 0, "could not read `/nonexistent/h.toml`: No such file or directory", NULL);
    assert_null(hl_diag_at(diags, 0)->file);
    hl_diag_list_clear(diags);
    assert_int_equal(hl_config_load_file(&cfg, HL_SOURCE_DIR, NULL, diags), HL_E_IO);
    expect_diag(diags, 0, 0, 0, 0, "could not read `" HL_SOURCE_DIR "`: Is a directory", NULL);
    hl_diag_list_clear(diags);
    assert_memory_equal(&cfg, &before, sizeof cfg);

    /* a file with an error renders with its source line */
    const char *path = temp_file("max_execution_time = \"100xs\"\n", 29);
    assert_int_equal(hl_config_load_file(&cfg, path, NULL, diags), HL_E_CONFIG);
    assert_string_equal(hl_diag_at(diags, 0)->file, path);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    hl_diag_render_text(diags, out, false);
    fclose(out);
    char expected[512];
    snprintf(expected, sizeof expected,
             "error: invalid duration \"100xs\" for `max_execution_time`\n"
             " --> %s:1:22\n"
             "  |\n"
             "1 | max_execution_time = \"100xs\"\n"
             "  |                      ^^^^^^^ expected a number followed by ms or s, like \"100ms\"\n"
             "\n",
             path);
    assert_string_equal(text, expected);
    free(text);
    remove(path);
    hl_diag_list_clear(diags);

    /* over the size limit, from a file and from memory */
    size_t big = ((size_t)1 << 20) + 1;
    char *blob = malloc(big);
    memset(blob, '\n', big);
    path = temp_file(blob, big);
    assert_int_equal(hl_config_load_file(&cfg, path, NULL, diags), HL_E_CONFIG);
    char message[256];
    snprintf(message, sizeof message, "`%s` is too large for a hyperfile: 1048577 B (the limit is 1 MiB)", path);
    expect_diag(diags, 0, 0, 0, 0, message, NULL);
    remove(path);
    hl_diag_list_clear(diags);
    assert_int_equal(hl_config_load_string(&cfg, blob, big, "big.toml", NULL, diags), HL_E_CONFIG);
    expect_diag(diags, 0, 0, 0, 0, "`big.toml` is too large for a hyperfile: 1048577 B (the limit is 1 MiB)", NULL);
    /* just under the limit is fine */
    hl_diag_list_clear(diags);
    assert_int_equal(hl_config_load_string(&cfg, blob, big - 1, "big.toml", NULL, diags), HL_OK);
    free(blob);
    assert_memory_equal(cfg.origin, before.origin, sizeof cfg.origin);
    hl_diag_list_free(diags);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_loads_exactly),
        cmocka_unit_test(test_forms_and_defaults),
        cmocka_unit_test(test_each_error_class),
        cmocka_unit_test(test_many_errors_at_once),
        cmocka_unit_test(test_syntax_errors_reported_together),
        cmocka_unit_test(test_profiles_and_origins),
        cmocka_unit_test(test_unknown_profile),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_debug_keys),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
