/* test_abi_structs.c - version macros and struct_size: old, new and uninitialised callers' structs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hyperlight/hyperlight.h"

#define CANARY 0x5A

/* Bytes [from, to) of p all hold CANARY. */
static void assert_canary(const void *p, size_t from, size_t to)
{
    const unsigned char *b = p;
    for (size_t i = from; i < to; i++)
        if (b[i] != CANARY) fail_msg("byte %zu was written (0x%02x)", i, b[i]);
}

static void test_version(void **state)
{
    (void)state;
    assert_string_equal(hl_version(), HL_VERSION_STRING);
    assert_string_equal(HL_VERSION_STRING, HL_PROJECT_VERSION); /* project() read version.h */
    assert_int_equal(hl_version_number(), HL_VERSION_NUMBER);
    assert_int_equal(HL_VERSION_NUMBER,
                     HL_VERSION_MAJOR * 10000 + HL_VERSION_MINOR * 100 + HL_VERSION_PATCH);
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", HL_VERSION_MAJOR, HL_VERSION_MINOR, HL_VERSION_PATCH);
    assert_string_equal(buf, hl_version());
}

/* A config, policy or error that was never initialised is refused, zeroed or full of garbage. */
static void test_uninitialised_refused(void **state)
{
    (void)state;
    for (int fill = 0; fill < 2; fill++) {
        hl_config cfg;
        memset(&cfg, fill ? 0xAB : 0, sizeof cfg);
        hl_error err = HL_ERROR_INIT;
        assert_int_equal(hl_config_set(&cfg, HL_CFG_INPUT_DATA_SIZE, 4096), HL_SET_BAD_FIELD);
        assert_int_equal(hl_config_get(&cfg, HL_CFG_INPUT_DATA_SIZE), 0);
        assert_int_equal(hl_config_get_input_data_size(&cfg), 0);
        assert_int_equal(hl_config_set_text(&cfg, "input_data_size", "4096", HL_ORIGIN_HOST, &err),
                         HL_E_INVALID_ARG);
        assert_non_null(strstr(err.message, "hl_config was not initialised"));
        assert_int_equal(hl_config_total_memory(&cfg), 0);
        assert_int_equal(hl_config_write_json(&cfg, stdout, false), -1);
        hl_diag_list *diags = hl_diag_list_new();
        assert_int_equal(hl_config_load_string(&cfg, "", 0, NULL, NULL, diags), HL_E_INVALID_ARG);
        assert_int_equal(hl_diag_error_count(diags), 1);
        assert_non_null(strstr(hl_diag_at(diags, 0)->message, "hl_config_init"));
        hl_diag_list_free(diags);
        hl_sandbox *sb = (hl_sandbox *)&cfg;
        assert_int_equal(hl_sandbox_create_from_image(&sb, "x", 1, &cfg, &err), HL_E_INVALID_ARG);
        assert_null(sb);
        assert_non_null(strstr(err.message, "hl_config_init"));

        hl_policy policy;
        memset(&policy, fill ? 0xAB : 0, sizeof policy);
        assert_int_equal(hl_policy_lock(&policy, HL_CFG_INPUT_DATA_SIZE), HL_E_INVALID_ARG);
        assert_int_equal(hl_policy_forbid_in_process(&policy), HL_E_INVALID_ARG);
        assert_int_equal(hl_policy_cap(&policy, HL_CFG_INPUT_DATA_SIZE, 256, 512),
                         HL_E_INVALID_ARG);
        hl_config ok;
        hl_config_init(&ok);
        hl_load_options opt = HL_LOAD_OPTIONS_INIT;
        opt.policy = &policy;
        assert_int_equal(hl_config_load_string(&ok, "", 0, NULL, &opt, NULL), HL_E_INVALID_ARG);
        hl_load_options bad;
        memset(&bad, fill ? 0xAB : 0, sizeof bad);
        assert_int_equal(hl_config_load_string(&ok, "", 0, NULL, &bad, NULL), HL_E_INVALID_ARG);

        hl_error e;
        memset(&e, fill ? 0xAB : 0, sizeof e);
        assert_int_equal(hl_config_set_text(&ok, "input_data_size", "4096", HL_ORIGIN_HOST, &e),
                         HL_E_INVALID_ARG);
        assert_int_equal(e.status, HL_E_INVALID_ARG);
        assert_non_null(strstr(e.message, "HL_ERROR_INIT"));
        assert_int_equal(hl_config_get_input_data_size(&ok), 0x4000); /* nothing was set */
        assert_int_equal(hl_sandbox_initialize(NULL, &e), HL_E_INVALID_ARG);

        hl_sandbox_stats st;
        memset(&st, fill ? 0xAB : 0, sizeof st);
        assert_int_equal(hl_sandbox_get_stats(NULL, &st), HL_E_INVALID_ARG);
        hl_toml_options topt;
        memset(&topt, fill ? 0xAB : 0, sizeof topt);
        assert_null(hl_toml_parse("a = 1", 5, &topt));
    }
    assert_int_equal(hl_config_init_sized(NULL, sizeof(hl_config)), HL_E_INVALID_ARG);
    hl_config cfg;
    assert_int_equal(hl_config_init_sized(&cfg, 0), HL_E_INVALID_ARG);
    assert_int_equal(hl_config_init_sized(&cfg, HL_STRUCT_SIZE_MAX + 1), HL_E_INVALID_ARG);
    hl_policy policy;
    assert_int_equal(hl_policy_init_sized(&policy, sizeof policy - 1), HL_E_INVALID_ARG);
}

/* A program built before execution_mode existed: its hl_config ends just before that value. */
static void test_config_from_older_header(void **state)
{
    (void)state;
    const size_t old_size = offsetof(hl_config, execution_mode);
    unsigned char buf[sizeof(hl_config) + 16];
    memset(buf, CANARY, sizeof buf);
    hl_config *cfg = (hl_config *)buf;
    assert_int_equal(hl_config_init_sized(cfg, old_size), HL_OK);
    assert_int_equal(cfg->struct_size, old_size);
    assert_canary(buf, old_size, sizeof buf);
    assert_int_equal(hl_config_get_execution_mode(cfg), HL_MODE_RUN_IN_HYPERVISOR); /* default */
    assert_int_equal(hl_config_set_input_data_size(cfg, 8192), HL_SET_OK);
    assert_int_equal(cfg->input_data_size, 8192);
    assert_int_equal(hl_config_set_execution_mode(cfg, HL_MODE_RUN_IN_PROCESS), HL_SET_BAD_FIELD);
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(
        hl_config_set_text(cfg, "execution_mode", "RunInProcess", HL_ORIGIN_HOST, &err),
        HL_E_INVALID_ARG);
    assert_string_equal(err.message,
                        "`execution_mode` is newer than the program's hl_config (rebuild "
                        "the program against this version's hyperlight/config.h)");
    assert_int_equal(hl_config_set_text(cfg, "max_execution_time", "50ms", HL_ORIGIN_HOST, &err),
                     HL_OK);
    assert_int_equal(cfg->max_execution_time, 50);

    const char *ok = "hyperfile_version = 1\noutput_data_size = \"32KiB\"\n";
    assert_int_equal(hl_config_load_string(cfg, ok, strlen(ok), "h.toml", NULL, NULL), HL_OK);
    assert_int_equal(cfg->output_data_size, 32768);
    assert_int_equal(cfg->origin[HL_CFG_OUTPUT_DATA_SIZE], HL_ORIGIN_FILE);
    assert_string_equal(cfg->source_name, "h.toml");
    assert_int_equal(cfg->struct_size, old_size);
    assert_canary(buf, old_size, sizeof buf);

    const char *newer = "hyperfile_version = 1\nexecution_mode = \"RunInProcess\"\n";
    hl_diag_list *diags = hl_diag_list_new();
    assert_int_equal(hl_config_load_string(cfg, newer, strlen(newer), "h.toml", NULL, diags),
                     HL_E_CONFIG);
    assert_int_equal(hl_diag_error_count(diags), 1);
    const hl_diag *d = hl_diag_at(diags, 0);
    assert_string_equal(d->message, "`execution_mode` is newer than the program's hl_config");
    assert_int_equal(d->line, 2);
    assert_int_equal(d->column, 1);
    hl_diag_list_free(diags);
    assert_canary(buf, old_size, sizeof buf);

    /* readers see the default for the missing value */
    hl_config full;
    hl_config_init(&full);
    full.input_data_size = 8192;
    full.max_execution_time = 50;
    full.output_data_size = 32768;
    assert_true(hl_config_equal(cfg, &full, NULL));
    assert_int_equal(hl_config_total_memory(cfg), hl_config_total_memory(&full));
    char text[32];
    assert_true(hl_config_format_value(cfg, HL_CFG_EXECUTION_MODE, text, sizeof text) > 0);
    assert_string_equal(text, "RunInHypervisor");
    /* the sandbox gets past the config (to the ELF check) with the default for the rest */
    hl_sandbox *sb = NULL;
    assert_int_equal(hl_sandbox_create_from_image(&sb, "not an ELF", 10, cfg, &err), HL_E_ELF);
    assert_canary(buf, old_size, sizeof buf);
}

/* A program built against a newer header: a longer struct whose unknown tail is zero. */
static void test_structs_from_newer_header(void **state)
{
    (void)state;
    unsigned char buf[sizeof(hl_config) + 16];
    memset(buf, CANARY, sizeof buf);
    hl_config *cfg = (hl_config *)buf;
    assert_int_equal(hl_config_init_sized(cfg, sizeof buf), HL_OK);
    for (size_t i = sizeof(hl_config); i < sizeof buf; i++)
        assert_int_equal(buf[i], 0);
    assert_int_equal(hl_config_set_input_data_size(cfg, 4096), HL_SET_OK);
    assert_int_equal(hl_config_get_input_data_size(cfg), 4096);

    struct {
        hl_load_options o;
        uint64_t newer_member;
    } opt = {HL_LOAD_OPTIONS_INIT, 0};
    opt.o.struct_size = sizeof opt;
    const char *text = "hyperfile_version = 1\n";
    assert_int_equal(hl_config_load_string(cfg, text, strlen(text), NULL, &opt.o, NULL), HL_OK);
    opt.newer_member = 1; /* something this library cannot honour */
    assert_int_equal(hl_config_load_string(cfg, text, strlen(text), NULL, &opt.o, NULL),
                     HL_E_INVALID_ARG);

    struct {
        hl_policy p;
        uint64_t newer_member;
    } policy;
    memset(&policy, CANARY, sizeof policy);
    assert_int_equal(hl_policy_init_sized(&policy.p, sizeof policy), HL_OK);
    assert_int_equal(policy.newer_member, 0);
    assert_int_equal(hl_policy_lock(&policy.p, HL_CFG_INPUT_DATA_SIZE), HL_OK);
    policy.newer_member = 7;
    assert_int_equal(hl_policy_lock(&policy.p, HL_CFG_INPUT_DATA_SIZE), HL_E_INVALID_ARG);

    struct {
        hl_error e;
        unsigned char newer_member[16];
    } err;
    memset(&err, CANARY, sizeof err);
    err.e.struct_size = sizeof err;
    assert_int_equal(hl_config_set_text(cfg, "nope", "1", HL_ORIGIN_HOST, &err.e),
                     HL_E_UNKNOWN_KEY);
    assert_int_equal(err.e.status, HL_E_UNKNOWN_KEY);
    assert_canary(&err, sizeof err.e, sizeof err);

    struct {
        hl_toml_options o;
        uint32_t newer_member;
    } topt = {HL_TOML_OPTIONS_INIT, 0};
    topt.o.struct_size = sizeof topt;
    hl_toml_doc *doc = hl_toml_parse("a = 1", 5, &topt.o);
    assert_non_null(doc);
    assert_int_equal(hl_toml_doc_error_count(doc), 0);
    hl_toml_doc_free(doc);
    topt.newer_member = 3;
    assert_null(hl_toml_parse("a = 1", 5, &topt.o));
}

/* Output structs: only what the caller's struct_size holds is written. */
static void test_stats_sizes(void **state)
{
    (void)state;
    hl_sandbox_stats st = HL_SANDBOX_STATS_INIT;
    memset((char *)&st + sizeof st.struct_size, CANARY, sizeof st - sizeof st.struct_size);
    assert_int_equal(hl_sandbox_get_stats(NULL, &st), HL_OK);
    assert_int_equal(st.calls, 0);
    assert_int_equal(st.last_restore_ns, 0);
    assert_int_equal(st.struct_size, sizeof st);
    assert_int_equal(hl_sandbox_get_stats(NULL, NULL), HL_E_INVALID_ARG);

    unsigned char buf[sizeof(hl_sandbox_stats) + 8];
    memset(buf, CANARY, sizeof buf);
    hl_sandbox_stats *big = (hl_sandbox_stats *)buf;
    big->struct_size = sizeof buf;
    assert_int_equal(hl_sandbox_get_stats(NULL, big), HL_OK);
    assert_int_equal(big->struct_size, sizeof buf);
    assert_canary(buf, sizeof(hl_sandbox_stats), sizeof buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_uninitialised_refused),
        cmocka_unit_test(test_config_from_older_header),
        cmocka_unit_test(test_structs_from_newer_header),
        cmocka_unit_test(test_stats_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
