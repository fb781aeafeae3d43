/* test_config.c - unit tests of the config model: table, defaults, setters, set_text, format, totals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hyperlight/config.h"

static void test_table(void **state)
{
    (void)state;
    assert_int_equal(hl_config_field_count(), 17);
    assert_int_equal(HL_CFG_FIELD_COUNT, 17);
    const hl_field_info *info = hl_config_field_info(HL_CFG_INPUT_DATA_SIZE);
    assert_non_null(info);
    assert_string_equal(info->key, "input_data_size");
    assert_int_equal(info->type, HL_FIELD_SIZE);
    assert_string_equal(info->unit, "bytes");
    assert_int_equal(info->def, 0x4000);
    assert_int_equal(info->min, 256);
    assert_int_equal(info->max, 64 * HL_MiB);
    info = hl_config_field_info(HL_CFG_MAX_EXECUTION_TIME);
    assert_string_equal(info->unit, "ms");
    assert_int_equal(info->type, HL_FIELD_DURATION);
    info = hl_config_field_info(HL_CFG_EXECUTION_MODE);
    assert_null(info->unit);
    assert_int_equal(info->type, HL_FIELD_MODE);
    assert_int_equal(hl_config_field_info(HL_CFG_STACK_SIZE_OVERRIDE)->flags, HL_FIELD_ZERO_IS_AUTO);
    assert_null(hl_config_field_info(HL_CFG_FIELD_COUNT));
    assert_ptr_equal(hl_config_field_find("max_wait_for_cancellation"),
                     hl_config_field_info(HL_CFG_MAX_WAIT_FOR_CANCELLATION));
    assert_null(hl_config_field_find("Input_Data_Size"));
    assert_null(hl_config_field_find(NULL));
    for (size_t i = 0; i < hl_config_field_count(); i++) {
        info = hl_config_field_info((hl_config_field)i);
        assert_int_equal(info->id, (hl_config_field)i);
        assert_true(info->min <= info->max);
        assert_true(info->def <= info->max);
        assert_true(info->def >= info->min ||
                    (info->flags & (HL_FIELD_ZERO_IS_AUTO | HL_FIELD_ZERO_IS_OFF)));
        assert_non_null(info->doc);
        assert_non_null(info->why_min);
        /* an enum's range is exactly its choices; other types have none */
        if (info->type == HL_FIELD_ENUM) {
            assert_non_null(info->choices);
            assert_int_equal(info->min, 0);
            assert_int_equal(info->nchoices, info->max + 1);
            for (size_t c = 0; c < info->nchoices; c++)
                assert_non_null(info->choices[c]);
            assert_null(info->choices[info->nchoices]);
        } else {
            assert_null(info->choices);
            assert_int_equal(info->nchoices, 0);
        }
    }
    /* the debugging settings */
    info = hl_config_field_info(HL_CFG_GDB_PORT);
    assert_string_equal(info->key, "gdb_port");
    assert_int_equal(info->type, HL_FIELD_INTEGER);
    assert_int_equal(info->flags, HL_FIELD_ZERO_IS_OFF | HL_FIELD_DEBUG);
    assert_int_equal(info->min, 1);
    assert_int_equal(info->max, 65535);
    info = hl_config_field_info(HL_CFG_GDB_STOP);
    assert_string_equal(info->choices[HL_GDB_STOP_FIRST_CALL], "first-call");
    assert_string_equal(info->choices[HL_GDB_STOP_INITIALIZATION], "initialization");
    info = hl_config_field_info(HL_CFG_CORE_DUMP);
    assert_string_equal(info->choices[HL_CORE_DUMP_OFF], "off");
    assert_string_equal(info->choices[HL_CORE_DUMP_ON_FAULT], "on-fault");
    assert_string_equal(info->choices[HL_CORE_DUMP_ALWAYS_ON_ERROR], "always-on-error");
    info = hl_config_field_info(HL_CFG_CORE_DUMP_DIR);
    assert_int_equal(info->type, HL_FIELD_PATH);
    assert_int_equal(info->max, HL_CONFIG_PATH_MAX - 1);
    assert_string_equal(hl_config_field_info(HL_CFG_EXECUTION_MODE)->choices[1], "RunInProcess");
}

/* The new value types through the named, generic and text setters. */
static void test_debug_settings(void **state)
{
    (void)state;
    hl_config cfg;
    hl_config_init(&cfg);
    assert_int_equal(cfg.gdb_port, 0);
    assert_int_equal(cfg.gdb_stop, HL_GDB_STOP_FIRST_CALL);
    assert_int_equal(cfg.core_dump, HL_CORE_DUMP_OFF);
    assert_string_equal(cfg.core_dump_dir, "");
    assert_string_equal(hl_config_get_core_dump_dir(&cfg), "");

    assert_int_equal(hl_config_set_gdb_port(&cfg, 0), HL_SET_OK); /* 0 is "off", not raised */
    assert_int_equal(cfg.gdb_port, 0);
    assert_int_equal(hl_config_set_gdb_port(&cfg, 1234), HL_SET_OK);
    assert_int_equal(hl_config_get_gdb_port(&cfg), 1234);
    assert_int_equal(hl_config_set_gdb_port(&cfg, 65536), HL_SET_TOO_LARGE);
    assert_int_equal(cfg.gdb_port, 1234);
    assert_int_equal(hl_config_set_core_dump(&cfg, HL_CORE_DUMP_ALWAYS_ON_ERROR), HL_SET_OK);
    assert_int_equal(hl_config_set_core_dump(&cfg, 3), HL_SET_BAD_FIELD);
    assert_int_equal(cfg.core_dump, HL_CORE_DUMP_ALWAYS_ON_ERROR);

    /* a path: the named and generic text setters, never the numeric ones */
    assert_int_equal(hl_config_set_core_dump_dir(&cfg, "/var/tmp/cores"), HL_SET_OK);
    assert_string_equal(cfg.core_dump_dir, "/var/tmp/cores");
    assert_int_equal(cfg.origin[HL_CFG_CORE_DUMP_DIR], HL_ORIGIN_HOST);
    assert_int_equal(hl_config_set(&cfg, HL_CFG_CORE_DUMP_DIR, 1), HL_SET_BAD_FIELD);
    assert_int_equal(hl_config_get(&cfg, HL_CFG_CORE_DUMP_DIR), 0);
    assert_null(hl_config_get_string(&cfg, HL_CFG_GDB_PORT));
    assert_int_equal(hl_config_set_string(&cfg, HL_CFG_GDB_PORT, "1"), HL_SET_BAD_FIELD);
    assert_int_equal(hl_config_set_string(&cfg, HL_CFG_CORE_DUMP_DIR, "a\nb"), HL_SET_BAD_FIELD);
    static char longest[HL_CONFIG_PATH_MAX + 1];
    memset(longest, 'a', HL_CONFIG_PATH_MAX);
    assert_int_equal(hl_config_set_string(&cfg, HL_CFG_CORE_DUMP_DIR, longest), HL_SET_TOO_LARGE);
    assert_string_equal(cfg.core_dump_dir, "/var/tmp/cores");
    longest[HL_CONFIG_PATH_MAX - 1] = '\0';
    assert_int_equal(hl_config_set_string(&cfg, HL_CFG_CORE_DUMP_DIR, longest), HL_SET_OK);
    assert_int_equal(strlen(cfg.core_dump_dir), HL_CONFIG_PATH_MAX - 1);
    assert_int_equal(hl_config_set_string(&cfg, HL_CFG_CORE_DUMP_DIR, NULL), HL_SET_OK);
    assert_string_equal(cfg.core_dump_dir, "");

    /* as text (--set), with the exact messages */
    hl_error err = HL_ERROR_INIT;
    assert_int_equal(hl_config_set_text(&cfg, "gdb_port", "9000", HL_ORIGIN_HOST, &err), HL_OK);
    assert_int_equal(cfg.gdb_port, 9000);
    assert_int_equal(hl_config_set_text(&cfg, "gdb_port", "9x", HL_ORIGIN_HOST, &err), HL_E_CONFIG);
    assert_string_equal(err.message, "invalid integer \"9x\" for `gdb_port` (expected a whole number, like \"1234\")");
    assert_int_equal(hl_config_set_text(&cfg, "gdb_port", "65536", HL_ORIGIN_HOST, &err), HL_E_RANGE);
    assert_string_equal(err.message, "`gdb_port` is too large: 65536 (allowed: 0 (off), or 1 to 65535)");
    assert_int_equal(hl_config_set_text(&cfg, "core_dump", "On-Fault", HL_ORIGIN_HOST, &err), HL_E_CONFIG);
    assert_string_equal(err.message, "invalid value \"On-Fault\" for `core_dump` (did you mean \"on-fault\"? (the names are case-sensitive))");
    assert_int_equal(hl_config_set_text(&cfg, "core_dump", "never", HL_ORIGIN_HOST, &err), HL_E_CONFIG);
    assert_string_equal(err.message, "invalid value \"never\" for `core_dump` (expected \"off\", \"on-fault\" or \"always-on-error\")");
    assert_int_equal(hl_config_set_text(&cfg, "gdb_stop", "initialization", HL_ORIGIN_FILE, &err), HL_OK);
    assert_int_equal(cfg.gdb_stop, HL_GDB_STOP_INITIALIZATION);
    assert_int_equal(cfg.origin[HL_CFG_GDB_STOP], HL_ORIGIN_FILE);
    assert_int_equal(hl_config_set_text(&cfg, "core_dump_dir", "cores dir/x", HL_ORIGIN_HOST, &err), HL_OK);
    assert_string_equal(cfg.core_dump_dir, "cores dir/x");
    assert_int_equal(hl_config_set_text(&cfg, "core_dump_dir", longest, HL_ORIGIN_HOST, &err), HL_OK);
    longest[HL_CONFIG_PATH_MAX - 1] = 'a';
    assert_int_equal(hl_config_set_text(&cfg, "core_dump_dir", longest, HL_ORIGIN_HOST, &err), HL_E_RANGE);
    assert_string_equal(err.message, "`core_dump_dir` is too long: 4096 bytes (a path has at most 4095 bytes)");
    assert_int_equal(hl_config_set_text(&cfg, "core_dump_dir", "a\tb", HL_ORIGIN_HOST, &err), HL_E_CONFIG);
    assert_string_equal(err.message, "invalid path \"a\\tb\" for `core_dump_dir` (a path cannot hold control characters or NUL)");

    /* formatting reads back, and equality sees the path */
    char buf[64];
    hl_config_set_core_dump_dir(&cfg, "/tmp/c");
    assert_int_equal(hl_config_format_value(&cfg, HL_CFG_CORE_DUMP_DIR, buf, sizeof buf), 6);
    assert_string_equal(buf, "/tmp/c");
    hl_config_format_value(&cfg, HL_CFG_CORE_DUMP, buf, sizeof buf);
    assert_string_equal(buf, "always-on-error");
    hl_config_format_value(&cfg, HL_CFG_GDB_PORT, buf, sizeof buf);
    assert_string_equal(buf, "9000");
    hl_config other = cfg;
    hl_config_field diff;
    assert_true(hl_config_equal(&cfg, &other, &diff));
    hl_config_set_core_dump_dir(&other, "/tmp/d");
    assert_false(hl_config_equal(&cfg, &other, &diff));
    assert_int_equal(diff, HL_CFG_CORE_DUMP_DIR);
    /* debugging settings are no guest memory */
    hl_config plain;
    hl_config_init(&plain);
    assert_int_equal(hl_config_total_memory(&plain), hl_config_total_memory(&cfg) - 0);
}

static void test_defaults(void **state)
{
    (void)state;
    hl_config cfg;
    memset(&cfg, 0xAB, sizeof cfg);
    hl_config_init(&cfg);
    assert_int_equal(cfg.input_data_size, 0x4000);
    assert_int_equal(cfg.output_data_size, 0x4000);
    assert_int_equal(cfg.function_definition_size, 0x1000);
    assert_int_equal(cfg.host_exception_size, 0x4000);
    assert_int_equal(cfg.guest_error_buffer_size, 0x100);
    assert_int_equal(cfg.stack_size_override, 0);
    assert_int_equal(cfg.heap_size_override, 0);
    assert_int_equal(cfg.kernel_stack_size, 0x1000);
    assert_int_equal(cfg.max_execution_time, 1000);
    assert_int_equal(cfg.max_initialization_time, 2000);
    assert_int_equal(cfg.max_wait_for_cancellation, 100);
    assert_int_equal(cfg.guest_panic_context_buffer_size, 0x400);
    assert_int_equal(cfg.execution_mode, HL_MODE_RUN_IN_HYPERVISOR);
    for (size_t i = 0; i < HL_CFG_FIELD_COUNT; i++) {
        assert_int_equal(cfg.origin[i], HL_ORIGIN_DEFAULT);
        assert_int_equal(cfg.origin_line[i], 0);
    }
    assert_string_equal(cfg.source_name, "");
    assert_string_equal(cfg.profile, "");
}

static void test_setters(void **state)
{
    (void)state;
    hl_config cfg;
    hl_config_init(&cfg);
    assert_int_equal(hl_config_set_input_data_size(&cfg, 4096), HL_SET_OK);
    assert_int_equal(cfg.input_data_size, 4096);
    assert_int_equal(hl_config_get_input_data_size(&cfg), 4096);
    assert_int_equal(cfg.origin[HL_CFG_INPUT_DATA_SIZE], HL_ORIGIN_HOST);
    /* under the minimum: raised to it */
    assert_int_equal(hl_config_set_input_data_size(&cfg, 10), HL_SET_RAISED);
    assert_int_equal(cfg.input_data_size, 256);
    /* over the maximum: refused, unchanged */
    assert_int_equal(hl_config_set_input_data_size(&cfg, 64 * HL_MiB + 1), HL_SET_TOO_LARGE);
    assert_int_equal(cfg.input_data_size, 256);
    assert_int_equal(hl_config_set_input_data_size(&cfg, 64 * HL_MiB), HL_SET_OK);
    /* a zero duration: the default */
    assert_int_equal(hl_config_set_max_execution_time(&cfg, 250), HL_SET_OK);
    assert_int_equal(hl_config_set_max_execution_time(&cfg, 0), HL_SET_DEFAULTED);
    assert_int_equal(cfg.max_execution_time, 1000);
    assert_int_equal(hl_config_set_max_wait_for_cancellation(&cfg, 5), HL_SET_RAISED);
    assert_int_equal(cfg.max_wait_for_cancellation, 10);
    assert_int_equal(hl_config_set_max_wait_for_cancellation(&cfg, 256), HL_SET_TOO_LARGE);
    assert_int_equal(cfg.max_wait_for_cancellation, 10);
    /* zero is "auto" for the overrides; a small non-zero value is raised */
    assert_int_equal(hl_config_set_stack_size_override(&cfg, 0), HL_SET_OK);
    assert_int_equal(cfg.stack_size_override, 0);
    assert_int_equal(hl_config_set_stack_size_override(&cfg, 1), HL_SET_RAISED);
    assert_int_equal(cfg.stack_size_override, 16 * HL_KiB);
    assert_int_equal(hl_config_set_heap_size_override(&cfg, 8 * HL_MiB), HL_SET_OK);
    assert_int_equal(hl_config_get_heap_size_override(&cfg), 8 * HL_MiB);
    /* the mode */
    assert_int_equal(hl_config_set_execution_mode(&cfg, HL_MODE_RUN_IN_PROCESS), HL_SET_OK);
    assert_int_equal(cfg.execution_mode, HL_MODE_RUN_IN_PROCESS);
    assert_int_equal(hl_config_set_execution_mode(&cfg, 2), HL_SET_BAD_FIELD);
    assert_int_equal(cfg.execution_mode, HL_MODE_RUN_IN_PROCESS);
    /* generic */
    assert_int_equal(hl_config_set(&cfg, HL_CFG_KERNEL_STACK_SIZE, 8192), HL_SET_OK);
    assert_int_equal(hl_config_get(&cfg, HL_CFG_KERNEL_STACK_SIZE), 8192);
    assert_int_equal(hl_config_set(&cfg, HL_CFG_FIELD_COUNT, 1), HL_SET_BAD_FIELD);
    assert_int_equal(hl_config_set(NULL, HL_CFG_KERNEL_STACK_SIZE, 1), HL_SET_BAD_FIELD);
    assert_int_equal(hl_config_get(&cfg, HL_CFG_FIELD_COUNT), 0);
}

static void test_set_text(void **state)
{
    (void)state;
    hl_config cfg;
    hl_error err = HL_ERROR_INIT;
    hl_config_init(&cfg);
    assert_int_equal(hl_config_set_text(&cfg, "input_data_size", "4MiB", HL_ORIGIN_HOST, &err), HL_OK);
    assert_int_equal(cfg.input_data_size, 4 * HL_MiB);
    assert_int_equal(cfg.origin[HL_CFG_INPUT_DATA_SIZE], HL_ORIGIN_HOST);
    assert_int_equal(err.status, HL_OK);
    static const struct {
        const char *key, *text;
        uint64_t value;
    } ok[] = {
        {"input_data_size", "8192", 8192},        {"input_data_size", "512KiB", 512 * 1024},
        {"input_data_size", "4096B", 4096},       {"input_data_size", "1.5KiB", 1536},
        {"input_data_size", "2 MiB", 2 * HL_MiB}, {"input_data_size", "64kB", 64000},
        {"input_data_size", "1MB", 1000000},      {"input_data_size", "65_536", 65536},
        {"heap_size_override", "0", 0},           {"heap_size_override", "1GiB", 0},
        {"max_execution_time", "100ms", 100},     {"max_execution_time", "2s", 2000},
        {"max_execution_time", "2000us", 2},      {"max_execution_time", "1.5s", 1500},
        {"max_execution_time", "250", 250},       {"max_execution_time", "3000000ns", 3},
        {"execution_mode", "RunInProcess", 1},    {"execution_mode", "RunInHypervisor", 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        hl_status st = hl_config_set_text(&cfg, ok[i].key, ok[i].text, HL_ORIGIN_PROFILE, &err);
        if (strcmp(ok[i].text, "1GiB") == 0) { /* over 512 MiB: refused */
            assert_int_equal(st, HL_E_RANGE);
            continue;
        }
        if (st != HL_OK)
            fail_msg("%s = %s: %s", ok[i].key, ok[i].text, err.message);
        const hl_field_info *info = hl_config_field_find(ok[i].key);
        assert_int_equal(hl_config_get(&cfg, info->id), ok[i].value);
        assert_int_equal(cfg.origin[info->id], HL_ORIGIN_PROFILE);
    }
}

static void expect_text_error(const char *key, const char *text, hl_status status, const char *message)
{
    hl_config cfg, before;
    hl_error err = HL_ERROR_INIT;
    hl_config_init(&cfg);
    before = cfg;
    assert_int_equal(hl_config_set_text(&cfg, key, text, HL_ORIGIN_HOST, &err), status);
    assert_int_equal(err.status, status);
    if (strcmp(err.message, message) != 0)
        fail_msg("%s = %s:\n got: %s\nwant: %s", key, text, err.message, message);
    assert_memory_equal(&cfg, &before, sizeof cfg);
}

static void test_set_text_errors(void **state)
{
    (void)state;
    expect_text_error("input_data_size", "100", HL_E_RANGE,
                      "`input_data_size` is too small: 100 B (allowed: 256 B to 64 MiB)");
    expect_text_error("input_data_size", "65MiB", HL_E_RANGE,
                      "`input_data_size` is too large: 65 MiB (allowed: 256 B to 64 MiB)");
    expect_text_error("stack_size_override", "1KiB", HL_E_RANGE,
                      "`stack_size_override` is too small: 1 KiB (allowed: 0 (from the guest "
                      "binary), or 16 KiB to 512 MiB)");
    expect_text_error("max_execution_time", "0", HL_E_RANGE,
                      "`max_execution_time` is too small: 0 ms (allowed: 1 ms to 65535 ms)");
    expect_text_error("max_execution_time", "66s", HL_E_RANGE,
                      "`max_execution_time` is too large: 66000 ms (allowed: 1 ms to 65535 ms)");
    expect_text_error("max_execution_time", "1500us", HL_E_CONFIG,
                      "duration \"1500us\" for `max_execution_time` is not a whole number of "
                      "milliseconds (the resolution is 1 ms: write \"2ms\")");
    expect_text_error("max_execution_time", "300us", HL_E_CONFIG,
                      "duration \"300us\" for `max_execution_time` is not a whole number of "
                      "milliseconds (the resolution is 1 ms: write \"1ms\")");
    expect_text_error("max_execution_time", "100xs", HL_E_CONFIG,
                      "invalid duration \"100xs\" for `max_execution_time` (expected a number "
                      "followed by ms or s, like \"100ms\")");
    expect_text_error("max_execution_time", "10MS", HL_E_CONFIG,
                      "invalid duration \"10MS\" for `max_execution_time` (did you mean \"10ms\"? "
                      "(units are case-sensitive))");
    expect_text_error("max_execution_time", "5m", HL_E_CONFIG,
                      "invalid duration \"5m\" for `max_execution_time` (\"m\" is ambiguous: write "
                      "\"5ms\" for milliseconds or \"5s\" for seconds)");
    expect_text_error("max_execution_time", "-5ms", HL_E_CONFIG,
                      "`max_execution_time` cannot be negative: \"-5ms\" (expected a number "
                      "followed by ms or s, like \"100ms\")");
    expect_text_error("input_data_size", "4M", HL_E_CONFIG,
                      "invalid size \"4M\" for `input_data_size` (\"M\" is ambiguous: write "
                      "\"4MiB\" for powers of 1024 or \"4MB\" for powers of 1000)");
    expect_text_error("input_data_size", "4kb", HL_E_CONFIG,
                      "invalid size \"4kb\" for `input_data_size` (\"kb\" is ambiguous: write "
                      "\"4KiB\" for powers of 1024 or \"4kB\" for powers of 1000)");
    expect_text_error("input_data_size", "4mib", HL_E_CONFIG,
                      "invalid size \"4mib\" for `input_data_size` (did you mean \"4MiB\"? (units "
                      "are case-sensitive))");
    expect_text_error("input_data_size", "1.3KiB", HL_E_CONFIG,
                      "size \"1.3KiB\" for `input_data_size` is not a whole number of bytes (a size "
                      "is a whole number of bytes, like \"1536\" or \"1.5KiB\")");
    expect_text_error("input_data_size", "", HL_E_CONFIG,
                      "invalid size \"\" for `input_data_size` (expected a whole number of bytes, "
                      "optionally followed by B, KiB, MiB or GiB (kB, MB, GB are powers of 1000), "
                      "like \"4MiB\")");
    expect_text_error("input_data_size", "99999999999999999999", HL_E_CONFIG,
                      "size \"99999999999999999999\" for `input_data_size` is too large (allowed: "
                      "256 B to 64 MiB)");
    expect_text_error("input_data_size", "17179869184GiB", HL_E_CONFIG,
                      "size \"17179869184GiB\" for `input_data_size` is too large (allowed: 256 B "
                      "to 64 MiB)");
    expect_text_error("execution_mode", "runinprocess", HL_E_CONFIG,
                      "invalid execution mode \"runinprocess\" for `execution_mode` (did you mean "
                      "\"RunInProcess\"? (the names are case-sensitive))");
    expect_text_error("execution_mode", "Hypervisor", HL_E_CONFIG,
                      "invalid execution mode \"Hypervisor\" for `execution_mode` (did you mean "
                      "\"RunInHypervisor\"?)");
    expect_text_error("execution_mode", "fast", HL_E_CONFIG,
                      "invalid execution mode \"fast\" for `execution_mode` (expected "
                      "\"RunInHypervisor\" or \"RunInProcess\")");
    expect_text_error("max_execution_tme", "1", HL_E_UNKNOWN_KEY,
                      "unknown configuration key \"max_execution_tme\" (did you mean "
                      "`max_execution_time`?)");
    expect_text_error("host_function_definition_size", "1", HL_E_UNKNOWN_KEY,
                      "unknown configuration key \"host_function_definition_size\" (did you mean "
                      "`function_definition_size`?)");
    expect_text_error("zzz", "1", HL_E_UNKNOWN_KEY,
                      "unknown configuration key \"zzz\" (`hyperlight config` lists the keys)");
    expect_text_error("input_data_size", "\"quoted\"\n", HL_E_CONFIG,
                      "invalid size \"\\\"quoted\\\"\\n\" for `input_data_size` (expected a whole "
                      "number of bytes, optionally followed by B, KiB, MiB or GiB (kB, MB, GB are "
                      "powers of 1000), like \"4MiB\")");
    hl_config cfg;
    hl_config_init(&cfg);
    assert_int_equal(hl_config_set_text(&cfg, NULL, "1", HL_ORIGIN_HOST, NULL), HL_E_INVALID_ARG);
    assert_int_equal(hl_config_set_text(&cfg, "input_data_size", "1", HL_ORIGIN_HOST, NULL), HL_E_RANGE);
}

static void test_format(void **state)
{
    (void)state;
    hl_config cfg;
    char buf[64];
    hl_config_init(&cfg);
    assert_int_equal(hl_config_format_value(&cfg, HL_CFG_INPUT_DATA_SIZE, buf, sizeof buf), 5);
    assert_string_equal(buf, "16384");
    assert_int_equal(hl_config_format_value(&cfg, HL_CFG_MAX_EXECUTION_TIME, buf, sizeof buf), 6);
    assert_string_equal(buf, "1000ms");
    hl_config_set_execution_mode(&cfg, HL_MODE_RUN_IN_PROCESS);
    assert_int_equal(hl_config_format_value(&cfg, HL_CFG_EXECUTION_MODE, buf, sizeof buf), 12);
    assert_string_equal(buf, "RunInProcess");
    /* a short buffer: truncated, the full length returned */
    assert_int_equal(hl_config_format_value(&cfg, HL_CFG_EXECUTION_MODE, buf, 4), 12);
    assert_string_equal(buf, "Run");
    assert_int_equal(hl_config_format_value(&cfg, HL_CFG_FIELD_COUNT, buf, sizeof buf), -1);
    assert_string_equal(buf, "");
    /* every formatted value reads back through set_text */
    hl_config back;
    hl_config_init(&back);
    for (size_t i = 0; i < HL_CFG_FIELD_COUNT; i++) {
        hl_config_format_value(&cfg, (hl_config_field)i, buf, sizeof buf);
        assert_int_equal(hl_config_set_text(&back, hl_config_field_info((hl_config_field)i)->key,
                                            buf, HL_ORIGIN_HOST, NULL),
                         HL_OK);
    }
    assert_true(hl_config_equal(&cfg, &back, NULL));
    assert_string_equal(hl_origin_name(HL_ORIGIN_DEFAULT), "default");
    assert_string_equal(hl_origin_name(HL_ORIGIN_FILE), "hyperfile");
    assert_string_equal(hl_origin_name(HL_ORIGIN_PROFILE), "profile");
    assert_string_equal(hl_origin_name(HL_ORIGIN_HOST), "host");
    assert_string_equal(hl_execution_mode_name(HL_MODE_RUN_IN_HYPERVISOR), "RunInHypervisor");
    assert_string_equal(hl_execution_mode_name(HL_MODE_RUN_IN_PROCESS), "RunInProcess");
    assert_string_equal(hl_status_str(HL_OK), "ok");
    assert_string_equal(hl_status_str(HL_E_NOMEM), "out of memory");
    assert_string_equal(hl_status_str(HL_E_CONFIG), "invalid configuration");
}

static void test_equal_and_total(void **state)
{
    (void)state;
    hl_config a, b;
    hl_config_field diff = HL_CFG_FIELD_COUNT;
    hl_config_init(&a);
    hl_config_init(&b);
    assert_true(hl_config_equal(&a, &b, &diff));
    assert_int_equal(diff, HL_CFG_FIELD_COUNT);
    /* same value, another origin: still equal */
    hl_config_set_kernel_stack_size(&b, 0x1000);
    assert_true(hl_config_equal(&a, &b, NULL));
    hl_config_set_max_initialization_time(&b, 5);
    assert_false(hl_config_equal(&a, &b, &diff));
    assert_int_equal(diff, HL_CFG_MAX_INITIALIZATION_TIME);

    /* defaults: 16K + 16K + 4K + 16K + 4K(256 rounded) + 64K stack + 128K heap + 4K + 4K(1K) */
    uint64_t expected = (16 + 16 + 4 + 16 + 4 + 64 + 128 + 4 + 4) * HL_KiB;
    assert_int_equal(hl_config_total_memory(&a), expected);
    hl_config_set_heap_size_override(&a, 8 * HL_MiB + 1);
    assert_int_equal(hl_config_total_memory(&a), expected - 128 * HL_KiB + 8 * HL_MiB + 4096);
    hl_config_set_heap_size_override(&a, 512 * HL_MiB);
    hl_config_set_stack_size_override(&a, 512 * HL_MiB);
    assert_true(hl_config_total_memory(&a) > HL_CONFIG_MAX_TOTAL_MEMORY);
    assert_int_equal(hl_config_total_memory(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_debug_settings),           cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_setters),         cmocka_unit_test(test_set_text),
        cmocka_unit_test(test_set_text_errors), cmocka_unit_test(test_format),
        cmocka_unit_test(test_equal_and_total),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
