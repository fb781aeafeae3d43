/* test_toml_limits.c - unit tests of the TOML parser's bounds: depth, input size, float range. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hyperlight/toml.h"

#include "toml_helpers.h"

/* ---- numbers ---- */

/* A float whose magnitude is past binary64's largest finite value is an error (like an integer
 * out of range), not inf; one that underflows rounds to a subnormal or zero, as IEEE 754 says. */
static void test_float_range(void **state)
{
    (void)state;
    const char *range = "floats are 64-bit (IEEE 754 binary64): -1.7976931348623157e308 to "
                        "1.7976931348623157e308; write inf for infinity";
    expect_exact("a = 9e99999", 1, 5, 4, 7, "float out of range", range);
    expect_exact("a = -9e99999\n", 1, 5, 4, 8, "float out of range", range);
    expect_exact("a = +9E99999", 1, 5, 4, 8, "float out of range", range);
    expect_exact("a = 1.8e308", 1, 5, 4, 7, "float out of range", range);
    expect_exact("a = 1_000.5e400", 1, 5, 4, 11, "float out of range", range);
    expect_exact("a = 1e3_08_0", 1, 5, 4, 8, "float out of range", range);
    expect_exact("x = 1\nb = [1.0, 1e309]\n", 2, 11, 16, 5, "float out of range", range);
    expect_exact("t = { \"k\" = -2.0e308 } # c\n", 1, 13, 12, 8, "float out of range", range);
    expect_exact("x = 1.7976931348623159e308", 1, 5, 4, 22, "float out of range", range);

    hl_toml_doc *doc = parse("max = 1.7976931348623157e308\nnmax = -1.7976931348623157e308\n"
                             "under = 1e-400\nnunder = -1e-400\nsub = 4.9e-324\n"
                             "sub2 = 2.5e-320\nu = 1_0.5e-4_00\ni = inf\npi = +inf\nni = -inf\n"
                             "n = nan\nnn = -nan\n");
    const hl_toml_value *r = hl_toml_doc_root(doc);
    assert_int_equal(hl_toml_table_size(r), 12);
    assert_true(hl_toml_float(get(r, "max")) == DBL_MAX);
    assert_true(hl_toml_float(get(r, "nmax")) == -DBL_MAX);
    const hl_toml_value *under = get(r, "under");
    assert_int_equal(hl_toml_type_of(under), HL_TOML_FLOAT);
    assert_true(hl_toml_float(under) == 0.0 && !signbit(hl_toml_float(under)));
    assert_span(hl_toml_value_span(under), 3, 9, 68, 6);
    assert_true(hl_toml_float(get(r, "nunder")) == 0.0 && signbit(hl_toml_float(get(r, "nunder"))));
    assert_true(hl_toml_float(get(r, "sub")) == 4.9e-324);
    assert_true(hl_toml_float(get(r, "sub")) > 0.0 && hl_toml_float(get(r, "sub")) < DBL_MIN);
    assert_true(hl_toml_float(get(r, "sub2")) == 2.5e-320);
    assert_true(hl_toml_float(get(r, "u")) == 0.0);
    assert_true(isinf(hl_toml_float(get(r, "i"))) && hl_toml_float(get(r, "i")) > 0);
    assert_true(isinf(hl_toml_float(get(r, "pi"))) && hl_toml_float(get(r, "pi")) > 0);
    assert_true(isinf(hl_toml_float(get(r, "ni"))) && hl_toml_float(get(r, "ni")) < 0);
    assert_true(isnan(hl_toml_float(get(r, "n"))));
    assert_true(isnan(hl_toml_float(get(r, "nn"))));
    hl_toml_doc_free(doc);
}

/* ---- limits ---- */

/* prefix, then `unit` n times, then suffix, in a malloc'd string */
static char *repeat(const char *prefix, const char *unit, size_t n, const char *suffix)
{
    size_t pl = strlen(prefix), ul = strlen(unit), sl = strlen(suffix);
    char *s = malloc(pl + ul * n + sl + 1);
    assert_non_null(s);
    memcpy(s, prefix, pl);
    for (size_t i = 0; i < n; i++)
        memcpy(s + pl + i * ul, unit, ul);
    memcpy(s + pl + ul * n, suffix, sl + 1);
    return s;
}

static void expect_limit(char *src, uint32_t col, const char *needle)
{
    expect_error(src, 1, col, 1, needle);
    free(src);
}

static void test_depth_limits(void **state)
{
    (void)state;
    /* 100000 levels with the default limit (256): an error at the 257th, no stack overflow */
    expect_limit(repeat("a = ", "[", 100000, ""), 5 + 256, "nested more than 256 deep");
    char *deep = repeat("x = 1\na = ", "[", 100000, "");
    expect_exact(deep, 2, 5 + 256, 10 + 256, 1,
                 "arrays and inline tables nested more than 256 deep",
                 "raise hl_toml_options.max_depth to allow deeper nesting");
    free(deep);
    deep = repeat("a = ", "{b=", 100000, "");
    expect_exact(deep, 1, 5 + 3 * 256, 4 + 3 * 256, 1,
                 "arrays and inline tables nested more than 256 deep",
                 "raise hl_toml_options.max_depth to allow deeper nesting");
    free(deep);
    expect_limit(repeat("a = ", "{b=", 100000, ""), 5 + 3 * 256, "nested more than 256 deep");
    expect_limit(repeat("a = ", "[{b=", 100000, ""), 5 + 4 * 128, "nested more than 256 deep");
    expect_limit(repeat("[", "a.", 100000, "a]"), 2 + 2 * 256, "more than 256 parts");
    expect_limit(repeat("[[", "a.", 100000, "a]]"), 3 + 2 * 256, "more than 256 parts");
    expect_limit(repeat("", "a.", 100000, "a = 1"), 1 + 2 * 256, "more than 256 parts");

    /* exactly at the limit is fine */
    char *src = repeat("a = ", "[", 256, "");
    char *full = malloc(strlen(src) + 257);
    strcpy(full, src);
    memset(full + strlen(src), ']', 256);
    full[strlen(src) + 256] = '\0';
    hl_toml_doc *doc = parse(full);
    const hl_toml_value *v = get(hl_toml_doc_root(doc), "a");
    for (int i = 1; i < 256; i++)
        v = hl_toml_array_at(v, 0);
    assert_int_equal(hl_toml_type_of(v), HL_TOML_ARRAY);
    assert_int_equal(hl_toml_array_size(v), 0);
    hl_toml_doc_free(doc);
    free(full);
    free(src);

    /* a smaller limit */
    hl_toml_options opt = HL_TOML_OPTIONS_INIT;
    opt.max_depth = 3;
    doc = hl_toml_parse("a = [[[1]]]", 11, &opt);
    assert_int_equal(hl_toml_doc_error_count(doc), 0);
    hl_toml_doc_free(doc);
    doc = hl_toml_parse("a = [[[[1]]]]", 13, &opt);
    assert_int_equal(hl_toml_doc_error_count(doc), 1);
    assert_int_equal(hl_toml_doc_error(doc, 0)->span.column, 8);
    assert_non_null(strstr(hl_toml_doc_error(doc, 0)->message, "more than 3 deep"));
    hl_toml_doc_free(doc);
    doc = hl_toml_parse("a.b.c.d = 1", 11, &opt);
    assert_int_equal(hl_toml_doc_error_count(doc), 1);
    assert_span(hl_toml_doc_error(doc, 0)->span, 1, 7, 6, 1);
    hl_toml_doc_free(doc);
}

/* Parses src with options opt; fails the test on any error. */
static hl_toml_doc *parse_opt(const char *src, const hl_toml_options *opt)
{
    hl_toml_doc *doc = hl_toml_parse(src, strlen(src), opt);
    assert_non_null(doc);
    if (hl_toml_doc_error_count(doc) > 0) {
        const hl_toml_error *e = hl_toml_doc_error(doc, 0);
        fail_msg("unexpected error at %u:%u: %s", e->span.line, e->span.column, e->message);
    }
    return doc;
}

/* Parses src with options opt: exactly one error, at this span, with this message. */
static void expect_exact_opt(char *src, const hl_toml_options *opt, uint32_t line, uint32_t col,
                             size_t off, size_t length, const char *message)
{
    hl_toml_doc *doc = hl_toml_parse(src, strlen(src), opt);
    assert_non_null(doc);
    assert_int_equal(hl_toml_doc_error_count(doc), 1);
    assert_span(hl_toml_doc_error(doc, 0)->span, line, col, off, length);
    assert_string_equal(hl_toml_doc_error(doc, 0)->message, message);
    hl_toml_doc_free(doc);
    free(src);
}

/* `a = `, n `[`, the innermost value 1 and n `]` (with a newline by each bracket when nl). */
static char *deep_array(size_t n, bool nl)
{
    char *open = repeat("a = ", nl ? "[\n" : "[", n, "1");
    char *src = repeat(open, nl ? "\n]" : "]", n, "\n");
    free(open);
    return src;
}

/* `a = ` then n `{b=`, the innermost value 1, and n `}`. */
static char *deep_table(size_t n)
{
    char *open = repeat("a = ", "{b=", n, "1");
    char *src = repeat(open, "}", n, "\n");
    free(open);
    return src;
}

/* Walks n single-item arrays down from v (checking each one's span on line 1 when !nl) and
 * returns the innermost value. */
static const hl_toml_value *down_arrays(const hl_toml_value *v, size_t n, bool nl)
{
    for (size_t i = 0; i < n; i++) {
        if (hl_toml_type_of(v) != HL_TOML_ARRAY || hl_toml_array_size(v) != 1)
            fail_msg("level %zu is not a one-item array", i + 1);
        if (!nl && i % 997 == 0)
            assert_span(hl_toml_value_span(v), 1, 5 + i, 4 + i, 2 * (n - i) + 1);
        v = hl_toml_array_at(v, 0);
    }
    return v;
}

/* Walks n one-key tables {b = ...} down from v and returns the innermost value. */
static const hl_toml_value *down_tables(const hl_toml_value *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (hl_toml_type_of(v) != HL_TOML_TABLE || hl_toml_table_size(v) != 1)
            fail_msg("level %zu is not a one-key table", i + 1);
        if (i % 997 == 0) {
            assert_span(hl_toml_value_span(v), 1, 5 + 3 * i, 4 + 3 * i, 4 * (n - i) + 1);
            assert_span(key_span_of(v, "b"), 1, 6 + 3 * i, 5 + 3 * i, 1);
        }
        v = get(v, "b");
    }
    return v;
}

/* With max_depth = HL_TOML_MAX_DEPTH_UNLIMITED nesting is bounded by memory only: the parser
 * keeps open arrays and inline tables on a heap stack, so 1,000,000 levels cannot overflow the C
 * stack. */
static void test_depth_unlimited(void **state)
{
    (void)state;
    hl_toml_options opt = HL_TOML_OPTIONS_INIT;
    opt.max_depth = HL_TOML_MAX_DEPTH_UNLIMITED;
    const size_t n = 10000;

    char *src = deep_array(n, false);
    hl_toml_doc *doc = parse_opt(src, &opt);
    const hl_toml_value *a = get(hl_toml_doc_root(doc), "a");
    assert_span(hl_toml_value_span(a), 1, 5, 4, 2 * n + 1);
    const hl_toml_value *v = down_arrays(a, n, false);
    assert_int_equal(hl_toml_type_of(v), HL_TOML_INTEGER);
    assert_int_equal(hl_toml_int(v), 1);
    assert_span(hl_toml_value_span(v), 1, 5 + n, 4 + n, 1);
    hl_toml_doc_free(doc);
    free(src);

    /* one bracket per line: the innermost value is on line n + 1 */
    src = deep_array(n, true);
    doc = parse_opt(src, &opt);
    a = get(hl_toml_doc_root(doc), "a");
    assert_span(hl_toml_value_span(a), 1, 5, 4, 4 * n + 1);
    v = down_arrays(a, n, true);
    assert_int_equal(hl_toml_int(v), 1);
    assert_span(hl_toml_value_span(v), n + 1, 1, 4 + 2 * n, 1);
    hl_toml_doc_free(doc);
    free(src);

    src = deep_table(n);
    doc = parse_opt(src, &opt);
    v = down_tables(get(hl_toml_doc_root(doc), "a"), n);
    assert_int_equal(hl_toml_type_of(v), HL_TOML_INTEGER);
    assert_int_equal(hl_toml_int(v), 1);
    assert_span(hl_toml_value_span(v), 1, 5 + 3 * n, 4 + 3 * n, 1);
    hl_toml_doc_free(doc);
    free(src);

    /* a dotted key of n parts */
    src = repeat("", "a.", n - 1, "a = 'x'\n");
    doc = parse_opt(src, &opt);
    v = hl_toml_doc_root(doc);
    for (size_t i = 0; i < n; i++)
        v = get(v, "a");
    assert_string_equal(hl_toml_string(v, NULL), "x");
    assert_span(hl_toml_value_span(v), 1, 2 * n + 3, 2 * n + 2, 3);
    hl_toml_doc_free(doc);
    free(src);

    /* errors deep inside still point at the right place */
    expect_exact_opt(repeat("a = ", "[", n, "1,"), &opt, 1, 4 + n, 3 + n, 1, "unterminated array");
    expect_exact_opt(repeat("a = ", "{b=", n, "1, b = 2}"), &opt, 1, 8 + 3 * n, 7 + 3 * n, 1,
                     "duplicate key `b` (first defined on line 1)");
    expect_exact_opt(repeat("a = ", "[{b=", n / 2, "x"), &opt, 1, 5 + 2 * n, 4 + 2 * n, 1,
                     "invalid value `x`");

    /* 1,000,000 levels of arrays and of inline tables */
    const size_t big = 1000000;
    src = deep_array(big, false);
    doc = parse_opt(src, &opt);
    v = get(hl_toml_doc_root(doc), "a");
    for (size_t i = 0; i < big; i++)
        v = hl_toml_array_at(v, 0);
    assert_int_equal(hl_toml_int(v), 1);
    assert_span(hl_toml_value_span(v), 1, 5 + big, 4 + big, 1);
    hl_toml_doc_free(doc);
    free(src);
    src = deep_table(big);
    doc = parse_opt(src, &opt);
    v = get(hl_toml_doc_root(doc), "a");
    for (size_t i = 0; i < big; i++)
        v = hl_toml_table_get(v, "b");
    assert_int_equal(hl_toml_int(v), 1);
    assert_span(hl_toml_value_span(v), 1, 5 + 3 * big, 4 + 3 * big, 1);
    hl_toml_doc_free(doc);
    free(src);

    /* an explicit limit: n levels parse, n + 1 do not */
    opt.max_depth = (uint32_t)n;
    src = deep_array(n, false);
    doc = parse_opt(src, &opt);
    hl_toml_doc_free(doc);
    free(src);
    expect_exact_opt(deep_array(n + 1, false), &opt, 1, 5 + n, 4 + n, 1,
                     "arrays and inline tables nested more than 10000 deep");
}

static void test_input_size_limit(void **state)
{
    (void)state;
    hl_toml_options opt = HL_TOML_OPTIONS_INIT;
    opt.max_input_size = 10;
    hl_toml_doc *doc = hl_toml_parse("a = 123456", 10, &opt);
    assert_int_equal(hl_toml_doc_error_count(doc), 0);
    assert_int_equal(hl_toml_int(get(hl_toml_doc_root(doc), "a")), 123456);
    hl_toml_doc_free(doc);
    doc = hl_toml_parse("a = 1234567", 11, &opt);
    assert_int_equal(hl_toml_doc_error_count(doc), 1);
    const hl_toml_error *e = hl_toml_doc_error(doc, 0);
    assert_span(e->span, 1, 1, 0, 0);
    assert_string_equal(e->message, "input is 11 bytes, more than the limit of 10");
    assert_int_equal(hl_toml_table_size(hl_toml_doc_root(doc)), 0);
    hl_toml_doc_free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float_range),
        cmocka_unit_test(test_depth_limits),
        cmocka_unit_test(test_depth_unlimited),
        cmocka_unit_test(test_input_size_limit),
    };
    return cmocka_run_group_tests_name("toml_limits", tests, NULL, NULL);
}
