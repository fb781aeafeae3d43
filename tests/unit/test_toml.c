/* test_toml.c - unit tests of the TOML parser: values, exact spans, errors, TOML 1.1, UTF-8. */
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

/* ---- values ---- */

static void test_scalars(void **state)
{
    (void)state;
    hl_toml_doc *doc = parse("i = -9223372036854775808\nj = 9_223_372_036_854_775_807\n"
                             "h = 0xDEAD_beef\no = 0o755\nb = 0b1010\nf = -0.0\ng = 6.02e23\n"
                             "inf1 = -inf\nn = nan\nt = true\nfa = false\n"
                             "s = \"tab\\there \\u00E9\\U0001F600\"\nl = 'C:\\x\\y'\n"
                             "ml = \"\"\"\nline \\\n    joined\"\"\"\n"
                             "odt = 1979-05-27T07:32:00.999999-07:30\nldt = 1979-05-27 07:32:00\n"
                             "ld = 2024-02-29\nlt = 23:59:60.5\n");
    const hl_toml_value *r = hl_toml_doc_root(doc);
    assert_int_equal(hl_toml_table_size(r), 18);
    assert_true(hl_toml_int(get(r, "i")) == INT64_MIN);
    assert_true(hl_toml_int(get(r, "j")) == INT64_MAX);
    assert_int_equal(hl_toml_int(get(r, "h")), 0xDEADBEEF);
    assert_int_equal(hl_toml_int(get(r, "o")), 0755);
    assert_int_equal(hl_toml_int(get(r, "b")), 10);
    assert_int_equal(hl_toml_type_of(get(r, "f")), HL_TOML_FLOAT);
    assert_true(hl_toml_float(get(r, "f")) == 0.0 && signbit(hl_toml_float(get(r, "f"))));
    assert_true(hl_toml_float(get(r, "g")) == 6.02e23);
    assert_true(isinf(hl_toml_float(get(r, "inf1"))) && hl_toml_float(get(r, "inf1")) < 0);
    assert_true(isnan(hl_toml_float(get(r, "n"))));
    assert_true(hl_toml_bool(get(r, "t")));
    assert_int_equal(hl_toml_type_of(get(r, "fa")), HL_TOML_BOOL);
    assert_false(hl_toml_bool(get(r, "fa")));
    size_t len;
    assert_string_equal(hl_toml_string(get(r, "s"), &len), "tab\there \xC3\xA9\xF0\x9F\x98\x80");
    assert_int_equal(len, 15);
    assert_string_equal(hl_toml_string(get(r, "l"), NULL), "C:\\x\\y");
    assert_string_equal(hl_toml_string(get(r, "ml"), NULL), "line joined");

    hl_toml_datetime dt = hl_toml_datetime_of(get(r, "odt"));
    assert_int_equal(hl_toml_type_of(get(r, "odt")), HL_TOML_DATETIME);
    assert_int_equal(dt.year, 1979);
    assert_int_equal(dt.month, 5);
    assert_int_equal(dt.day, 27);
    assert_int_equal(dt.hour, 7);
    assert_int_equal(dt.minute, 32);
    assert_int_equal(dt.second, 0);
    assert_int_equal(dt.nanosecond, 999999000);
    assert_int_equal(dt.offset_minutes, -450);
    assert_int_equal(hl_toml_type_of(get(r, "ldt")), HL_TOML_DATETIME_LOCAL);
    assert_int_equal(hl_toml_datetime_of(get(r, "ldt")).hour, 7);
    assert_int_equal(hl_toml_type_of(get(r, "ld")), HL_TOML_DATE_LOCAL);
    assert_int_equal(hl_toml_datetime_of(get(r, "ld")).day, 29);
    assert_int_equal(hl_toml_type_of(get(r, "lt")), HL_TOML_TIME_LOCAL);
    dt = hl_toml_datetime_of(get(r, "lt"));
    assert_int_equal(dt.second, 60);
    assert_int_equal(dt.nanosecond, 500000000);

    /* accessors of the wrong type give zero values */
    assert_null(hl_toml_string(get(r, "i"), &len));
    assert_int_equal(len, 0);
    assert_int_equal(hl_toml_int(get(r, "s")), 0);
    assert_true(hl_toml_float(get(r, "i")) == 0.0);
    assert_false(hl_toml_bool(get(r, "i")));
    assert_int_equal(hl_toml_datetime_of(get(r, "i")).year, 0);
    assert_int_equal(hl_toml_table_size(get(r, "i")), 0);
    assert_int_equal(hl_toml_array_size(get(r, "i")), 0);
    assert_null(hl_toml_table_get(get(r, "i"), "x"));
    assert_string_equal(hl_toml_type_name(HL_TOML_DATETIME_LOCAL), "datetime-local");
    assert_string_equal(hl_toml_type_name(HL_TOML_INTEGER), "integer");
    hl_toml_doc_free(doc);
}

static void test_keys_with_nul_and_length(void **state)
{
    (void)state;
    /* the input need not be NUL-terminated: only len bytes count */
    const char buf[] = "a = 1xyz";
    hl_toml_doc *doc = hl_toml_parse(buf, 5, NULL);
    assert_int_equal(hl_toml_doc_error_count(doc), 0);
    assert_int_equal(hl_toml_int(hl_toml_table_get(hl_toml_doc_root(doc), "a")), 1);
    hl_toml_doc_free(doc);

    doc = hl_toml_parse(NULL, 0, NULL);
    assert_int_equal(hl_toml_doc_error_count(doc), 0);
    assert_int_equal(hl_toml_table_size(hl_toml_doc_root(doc)), 0);
    hl_toml_doc_free(doc);
    hl_toml_doc_free(NULL);

    doc = parse("\"a\\u0000b\" = 1\n\"\" = 2\n");
    const hl_toml_value *r = hl_toml_doc_root(doc);
    const char *key;
    size_t keylen;
    hl_toml_table_at(r, 0, &key, &keylen, NULL);
    assert_int_equal(keylen, 3);
    assert_memory_equal(key, "a\0b", 4);
    assert_int_equal(hl_toml_int(hl_toml_table_getn(r, "a\0b", 3)), 1);
    assert_null(hl_toml_table_get(r, "a"));
    assert_int_equal(hl_toml_int(hl_toml_table_get(r, "")), 2);
    assert_null(hl_toml_table_at(r, 2, &key, &keylen, NULL));
    hl_toml_doc_free(doc);
}

/* ---- spans ---- */

static void test_spans_keys_values(void **state)
{
    (void)state;
    const char *src = "key = \"value\"\n  other=42\n\tk\t=\t[1, 2]\n";
    hl_toml_doc *doc = parse(src);
    const hl_toml_value *r = hl_toml_doc_root(doc);
    assert_span(key_span_of(r, "key"), 1, 1, 0, 3);
    assert_span(hl_toml_value_span(get(r, "key")), 1, 7, 6, 7);
    assert_span(key_span_of(r, "other"), 2, 3, 16, 5);
    assert_span(hl_toml_value_span(get(r, "other")), 2, 9, 22, 2);
    /* a tab is one column */
    assert_span(key_span_of(r, "k"), 3, 2, 26, 1);
    assert_span(hl_toml_value_span(get(r, "k")), 3, 6, 30, 6);
    assert_span(hl_toml_value_span(hl_toml_array_at(get(r, "k"), 1)), 3, 10, 34, 1);
    hl_toml_doc_free(doc);
}

static void test_spans_dotted_and_headers(void **state)
{
    (void)state;
    hl_toml_doc *doc = parse("a.b . \"c d\" = true\n[x . 'y']\nz = 1\n[tbl.sub]\n[tbl]\n");
    const hl_toml_value *r = hl_toml_doc_root(doc);
    const hl_toml_value *a = get(r, "a"), *b = get(a, "b");
    assert_span(key_span_of(r, "a"), 1, 1, 0, 1);
    assert_span(hl_toml_value_span(a), 1, 1, 0, 1); /* a dotted table: the key part made it */
    assert_false(hl_toml_table_is_header(a));
    assert_span(key_span_of(a, "b"), 1, 3, 2, 1);
    assert_span(hl_toml_value_span(b), 1, 3, 2, 1);
    assert_span(key_span_of(b, "c d"), 1, 7, 6, 5); /* a quoted part spans its quotes */
    assert_span(hl_toml_value_span(get(b, "c d")), 1, 15, 14, 4);

    const hl_toml_value *x = get(r, "x"), *y = get(x, "y");
    assert_span(key_span_of(r, "x"), 2, 2, 20, 1);
    assert_span(hl_toml_value_span(x), 2, 2, 20, 1); /* implicit: the part of the header */
    assert_false(hl_toml_table_is_header(x));
    assert_span(key_span_of(x, "y"), 2, 6, 24, 3);
    assert_span(hl_toml_value_span(y), 2, 1, 19, 9); /* the whole [header] */
    assert_true(hl_toml_table_is_header(y));
    assert_span(key_span_of(y, "z"), 3, 1, 29, 1);
    assert_span(hl_toml_value_span(get(y, "z")), 3, 5, 33, 1);

    /* [tbl] defines the table [tbl.sub] created implicitly; it takes the header's span */
    const hl_toml_value *tbl = get(r, "tbl");
    assert_true(hl_toml_table_is_header(tbl));
    assert_span(hl_toml_value_span(tbl), 5, 1, 45, 5);
    assert_span(key_span_of(r, "tbl"), 4, 2, 36, 3);
    assert_span(hl_toml_value_span(get(tbl, "sub")), 4, 1, 35, 9);
    hl_toml_doc_free(doc);
}

static void test_spans_array_of_tables_and_inline(void **state)
{
    (void)state;
    hl_toml_doc *doc = parse("[[fruit]]\nname = \"apple\"\n[fruit.info]\n[[fruit]]\nname = 'pear'\n\n"
                             "val = { x = [ {y=1} ] }\n");
    const hl_toml_value *r = hl_toml_doc_root(doc);
    const hl_toml_value *fruit = get(r, "fruit");
    assert_int_equal(hl_toml_type_of(fruit), HL_TOML_ARRAY);
    assert_int_equal(hl_toml_array_size(fruit), 2);
    assert_span(hl_toml_value_span(fruit), 1, 1, 0, 9);
    assert_span(key_span_of(r, "fruit"), 1, 3, 2, 5);
    const hl_toml_value *f0 = hl_toml_array_at(fruit, 0), *f1 = hl_toml_array_at(fruit, 1);
    assert_null(hl_toml_array_at(fruit, 2));
    assert_true(hl_toml_table_is_header(f0));
    assert_span(hl_toml_value_span(f0), 1, 1, 0, 9);
    assert_span(hl_toml_value_span(f1), 4, 1, 38, 9);
    assert_span(key_span_of(f0, "name"), 2, 1, 10, 4);
    assert_span(hl_toml_value_span(get(f0, "name")), 2, 8, 17, 7);
    assert_span(key_span_of(f0, "info"), 3, 8, 32, 4);
    assert_span(hl_toml_value_span(get(f0, "info")), 3, 1, 25, 12);
    assert_span(hl_toml_value_span(get(f1, "name")), 5, 8, 55, 6);
    assert_string_equal(hl_toml_string(get(f1, "name"), NULL), "pear");

    const hl_toml_value *val = get(f1, "val");
    assert_false(hl_toml_table_is_header(val));
    assert_span(hl_toml_value_span(val), 7, 7, 69, 17);
    assert_span(key_span_of(val, "x"), 7, 9, 71, 1);
    const hl_toml_value *arr = get(val, "x"), *inner = hl_toml_array_at(arr, 0);
    assert_span(hl_toml_value_span(arr), 7, 13, 75, 9);
    assert_span(hl_toml_value_span(inner), 7, 15, 77, 5);
    assert_span(key_span_of(inner, "y"), 7, 16, 78, 1);
    assert_span(hl_toml_value_span(get(inner, "y")), 7, 18, 80, 1);
    hl_toml_doc_free(doc);
}

static void test_spans_crlf(void **state)
{
    (void)state;
    hl_toml_doc *doc = parse("a = 1\r\nb = \"x\"\r\n[t]\r\nc = 2\r\nm = '''\r\nl1\r\nl2'''\r\nd = 3\r\n");
    const hl_toml_value *r = hl_toml_doc_root(doc), *t = get(r, "t");
    assert_span(key_span_of(r, "a"), 1, 1, 0, 1);
    assert_span(hl_toml_value_span(get(r, "a")), 1, 5, 4, 1);
    assert_span(key_span_of(r, "b"), 2, 1, 7, 1);
    assert_span(hl_toml_value_span(get(r, "b")), 2, 5, 11, 3);
    assert_span(hl_toml_value_span(t), 3, 1, 16, 3);
    assert_span(key_span_of(t, "c"), 4, 1, 21, 1);
    assert_span(hl_toml_value_span(get(t, "c")), 4, 5, 25, 1);
    assert_span(hl_toml_value_span(get(t, "m")), 5, 5, 32, 14);
    assert_string_equal(hl_toml_string(get(t, "m"), NULL), "l1\nl2");
    assert_span(key_span_of(t, "d"), 8, 1, 48, 1);
    assert_span(hl_toml_value_span(get(t, "d")), 8, 5, 52, 1);
    hl_toml_doc_free(doc);
}

static void test_spans_utf8(void **state)
{
    (void)state;
    /* columns count code points; offsets and lengths count bytes */
    hl_toml_doc *doc = parse("t = { \"\xC3\xA9\" = \"\xE2\x82\xAC\", z = 1 }\n"
                             "a = \"\xF0\x9F\x98\x80\xF0\x9F\x98\x80\" # \xC3\xA9\n"
                             "\"\xC3\xBC\".x = 1\n");
    const hl_toml_value *r = hl_toml_doc_root(doc), *t = get(r, "t");
    assert_span(hl_toml_value_span(t), 1, 5, 4, 23);
    assert_span(key_span_of(t, "\xC3\xA9"), 1, 7, 6, 4);
    assert_span(hl_toml_value_span(get(t, "\xC3\xA9")), 1, 13, 13, 5);
    assert_span(key_span_of(t, "z"), 1, 18, 20, 1);
    assert_span(hl_toml_value_span(get(t, "z")), 1, 22, 24, 1);
    assert_span(hl_toml_value_span(get(r, "a")), 2, 5, 32, 10);
    const hl_toml_value *u = get(r, "\xC3\xBC");
    assert_span(key_span_of(r, "\xC3\xBC"), 3, 1, 48, 4);
    assert_span(key_span_of(u, "x"), 3, 5, 53, 1);
    assert_span(hl_toml_value_span(get(u, "x")), 3, 9, 57, 1);
    hl_toml_doc_free(doc);

    /* a byte order mark is skipped: it is neither a column nor part of a key */
    doc = parse("\xEF\xBB\xBF" "a = 1\nb = 2");
    r = hl_toml_doc_root(doc);
    assert_span(key_span_of(r, "a"), 1, 1, 3, 1);
    assert_span(hl_toml_value_span(get(r, "a")), 1, 5, 7, 1);
    assert_span(key_span_of(r, "b"), 2, 1, 9, 1);
    hl_toml_doc_free(doc);
}

/* ---- errors ---- */

static void test_error_positions(void **state)
{
    (void)state;
    /* missing = */
    expect_error("a = 1\nb 2\n", 2, 3, 1, "expected `=` after the key");
    expect_error("key\n", 1, 4, 1, "expected `=` after the key");
    expect_error("a = 1\nk\xC3\xA9 = 2\n", 2, 2, 2, "expected `=` after the key");
    /* unterminated strings: the error points at the opening quote(s) */
    expect_error("a = \"abc\nb = 1\n", 1, 5, 1, "unterminated string");
    expect_error("a = 'abc", 1, 5, 1, "unterminated string");
    expect_error("x = 1\na = \"\"\"abc\n\n", 2, 5, 3, "unterminated string");
    /* escapes */
    expect_error("a = \"x\\qy\"", 1, 7, 2, "invalid escape sequence `\\q`");
    expect_error("a = \"\\uD800\"", 1, 6, 6, "invalid Unicode code point U+D800");
    expect_error("a = \"\\x41\"", 1, 6, 2, "invalid escape sequence `\\x`");
    /* duplicates and redefinitions */
    expect_error("a = 1\nb = 2\na = 3\n", 3, 1, 1, "duplicate key `a` (first defined on line 1)");
    expect_error("x.y = 1\nx.y = 2\n", 2, 3, 1, "duplicate key `x.y`");
    expect_error("[t]\nx = 1\n[t]\n", 3, 1, 3, "table `t` is defined twice (first on line 1)");
    expect_error("[a]\nb.c = 1\n[a.b]\n", 3, 1, 5, "already defined by dotted keys");
    expect_error("a = 1\n[a]\n", 2, 1, 3, "it is already an integer (line 1)");
    expect_error("a = {}\na.b = 1\n", 2, 1, 1, "an inline table");
    /* bad UTF-8 (found before parsing, located by line and column) */
    expect_error("a = 1\nb = \"\xC3\x28\"\n", 2, 6, 1, "invalid UTF-8 byte 0xC3");
    expect_error("a = 1\r\n# \xC3\xA9\xC3\xA9 \xED\xA0\x80\n", 2, 6, 1, "invalid UTF-8 byte 0xED");
    /* NUL bytes */
    expect_error_n("a = \"x\0y\"\n", 10, 1, 7, 1, "control character U+0000");
    expect_error_n("a = 1\n\0 = 2\n", 12, 2, 1, 1, "invalid character in key");
    expect_error_n("# hi\0\n", 6, 1, 5, 1, "control character U+0000 in a comment");
    /* numbers */
    expect_error("n = 012", 1, 5, 3, "leading zeros are not allowed");
    expect_error("n = -01\n", 1, 5, 3, "leading zeros are not allowed");
    expect_error("n = 9223372036854775808", 1, 5, 19, "integer out of range");
    expect_error("n = -9223372036854775809", 1, 5, 20, "integer out of range");
    expect_error("n = 0x8000000000000000", 1, 5, 18, "integer out of range");
    expect_error("n = 4MiB", 1, 6, 3, "invalid character in number");
    /* dates */
    expect_error("d = 2023-02-29", 1, 5, 10, "invalid date: 2023-02-29 does not exist");
    expect_error("d = 1979-13-01\n", 1, 5, 10, "invalid date: 1979-13-01 does not exist");
    expect_error("d = 1979-05-27T25:00:00", 1, 5, 19, "invalid time in date-time");
    expect_error("d = 1979-05-27T07:32:00+25:00", 1, 5, 25, "invalid offset");
    /* other values and structure */
    expect_error("t = True\n", 1, 5, 4, "invalid value `True`");
    expect_error("a = [1, 2\n", 1, 5, 1, "unterminated array");
    expect_error("a = 1 2\n", 1, 7, 1, "expected a newline after the value");
    expect_error("[a\nx = 1\n", 1, 3, 1, "expected `]` to close the header");
    /* after CRLF lines and multi-byte characters */
    expect_error("a = 1\r\nb = \r\n", 2, 5, 1, "expected a value");
    expect_error("s = \"\xC3\xA9\xC3\xA9\xC3\xA9\" x\n", 1, 11, 1, "expected a newline after the value");
    expect_error("a = 1\rb = 2\n", 1, 6, 1, "bare carriage return");
}

static void test_error_help(void **state)
{
    (void)state;
    hl_toml_doc *doc = hl_toml_parse("n = 100ms\n", 10, NULL);
    const hl_toml_error *e = hl_toml_doc_error(doc, 0);
    assert_non_null(e);
    assert_non_null(e->help);
    assert_non_null(strstr(e->help, "quote it"));
    hl_toml_doc_free(doc);
}

static void test_max_errors(void **state)
{
    (void)state;
    const char *src = "a = 1\nb = \nc = 3\nd = @\ne = 012\nf = 6\n";
    hl_toml_options opt = HL_TOML_OPTIONS_INIT;
    opt.max_errors = 10;
    hl_toml_doc *doc = hl_toml_parse(src, strlen(src), &opt);
    assert_int_equal(hl_toml_doc_error_count(doc), 3);
    assert_span(hl_toml_doc_error(doc, 0)->span, 2, 5, 10, 1);
    assert_non_null(strstr(hl_toml_doc_error(doc, 0)->message, "expected a value"));
    assert_span(hl_toml_doc_error(doc, 1)->span, 4, 5, 21, 1);
    assert_non_null(strstr(hl_toml_doc_error(doc, 1)->message, "found `@`"));
    assert_span(hl_toml_doc_error(doc, 2)->span, 5, 5, 27, 3);
    assert_non_null(strstr(hl_toml_doc_error(doc, 2)->message, "leading zeros"));
    assert_null(hl_toml_doc_error(doc, 3));
    /* the good lines between the errors are kept; the bad ones leave nothing behind */
    const hl_toml_value *r = hl_toml_doc_root(doc);
    assert_int_equal(hl_toml_table_size(r), 3);
    assert_int_equal(hl_toml_int(get(r, "c")), 3);
    assert_int_equal(hl_toml_int(get(r, "f")), 6);
    assert_null(hl_toml_table_get(r, "b"));
    hl_toml_doc_free(doc);

    opt.max_errors = 2;
    doc = hl_toml_parse(src, strlen(src), &opt);
    assert_int_equal(hl_toml_doc_error_count(doc), 2);
    hl_toml_doc_free(doc);
    doc = hl_toml_parse(src, strlen(src), NULL); /* default: stop at the first */
    assert_int_equal(hl_toml_doc_error_count(doc), 1);
    hl_toml_doc_free(doc);

    /* keys after a broken header go nowhere, not into the previous table */
    const char *hdr = "[a\nx = 1\n[b]\ny = 2\n";
    opt.max_errors = 10;
    doc = hl_toml_parse(hdr, strlen(hdr), &opt);
    assert_int_equal(hl_toml_doc_error_count(doc), 1);
    r = hl_toml_doc_root(doc);
    assert_null(hl_toml_table_get(r, "x"));
    assert_int_equal(hl_toml_int(get(get(r, "b"), "y")), 2);
    hl_toml_doc_free(doc);
}

/* ---- TOML 1.1 ---- */

/* src is an error in TOML 1.0 (at column col, message containing needle) and valid in 1.1. */
static hl_toml_doc *only_in_1_1(const char *src, uint32_t line, uint32_t col, const char *needle)
{
    expect_error(src, line, col, 1, needle);
    return parse_ver(src, HL_TOML_1_1);
}

static void test_toml_1_1(void **state)
{
    (void)state;
    hl_toml_doc *doc = hl_toml_parse("s = \"\\e[0m\"", 11, NULL);
    assert_int_equal(hl_toml_doc_error_count(doc), 1);
    assert_span(hl_toml_doc_error(doc, 0)->span, 1, 6, 5, 2);
    hl_toml_doc_free(doc);
    doc = parse_ver("s = \"\\e[0m\"", HL_TOML_1_1);
    assert_string_equal(hl_toml_string(get(hl_toml_doc_root(doc), "s"), NULL), "\x1B[0m");
    hl_toml_doc_free(doc);

    doc = parse_ver("s = \"\\x41\\xe9\"", HL_TOML_1_1);
    assert_string_equal(hl_toml_string(get(hl_toml_doc_root(doc), "s"), NULL), "A\xC3\xA9");
    hl_toml_doc_free(doc);

    expect_error("t = 07:32\n", 1, 5, 5, "invalid time");
    doc = parse_ver("t = 07:32\ndt = 1979-05-27T07:32Z\n", HL_TOML_1_1);
    hl_toml_datetime t = hl_toml_datetime_of(get(hl_toml_doc_root(doc), "t"));
    assert_int_equal(t.hour, 7);
    assert_int_equal(t.minute, 32);
    assert_int_equal(t.second, 0);
    assert_int_equal(hl_toml_type_of(get(hl_toml_doc_root(doc), "dt")), HL_TOML_DATETIME);
    hl_toml_doc_free(doc);

    doc = only_in_1_1("t = {\n  a = 1, # one\n  b = 2,\n}\n", 1, 6, "newline in an inline table");
    const hl_toml_value *tab = get(hl_toml_doc_root(doc), "t");
    assert_int_equal(hl_toml_table_size(tab), 2);
    assert_span(hl_toml_value_span(tab), 1, 5, 4, 27);
    assert_span(key_span_of(tab, "b"), 3, 3, 23, 1);
    hl_toml_doc_free(doc);
    doc = only_in_1_1("t = {a = 1,}", 1, 12, "trailing comma in an inline table");
    hl_toml_doc_free(doc);
}

/* ---- big tables ---- */

static void test_table_with_100000_keys(void **state)
{
    (void)state;
    enum { N = 100000 };
    char *src = malloc((size_t)N * 24);
    assert_non_null(src);
    size_t n = 0;
    for (int i = 0; i < N; i++)
        n += (size_t)sprintf(src + n, "k%d = %d\n", i, i * 3);
    hl_toml_doc *doc = hl_toml_parse(src, n, NULL);
    assert_int_equal(hl_toml_doc_error_count(doc), 0);
    const hl_toml_value *r = hl_toml_doc_root(doc);
    assert_int_equal(hl_toml_table_size(r), N);
    char key[32];
    for (int i = 0; i < N; i++) {
        int kl = sprintf(key, "k%d", i);
        const hl_toml_value *v = hl_toml_table_get(r, key);
        if (!v || hl_toml_int(v) != (int64_t)i * 3)
            fail_msg("lookup of %s failed", key);
        assert_ptr_equal(hl_toml_table_getn(r, key, (size_t)kl), v);
        const char *k;
        size_t kl2;
        hl_toml_span ks;
        assert_ptr_equal(hl_toml_table_at(r, (size_t)i, &k, &kl2, &ks), v);
        if (kl2 != (size_t)kl || memcmp(k, key, kl2) || ks.line != (uint32_t)i + 1 || ks.column != 1)
            fail_msg("entry %d is %s at line %u", i, k, ks.line);
    }
    assert_null(hl_toml_table_get(r, "k100000"));
    assert_null(hl_toml_table_get(r, "k"));
    assert_null(hl_toml_table_getn(r, "k1", 1));
    hl_toml_doc_free(doc);
    free(src);
}

/* ---- UTF-8 validation ---- */

static void expect_utf8(const char *s, size_t len, bool ok, size_t bad_at)
{
    size_t bad = 12345;
    bool got = hl_toml_utf8_valid(s, len, &bad);
    if (got != ok)
        fail_msg("utf8_valid(%zu bytes) = %d, expected %d", len, got, ok);
    if (!ok && bad != bad_at)
        fail_msg("bad offset %zu, expected %zu", bad, bad_at);
    assert_int_equal(hl_toml_utf8_valid(s, len, NULL), ok);
}

#define UTF8(lit, ok, at) expect_utf8(lit, sizeof(lit) - 1, ok, at)

static void test_utf8_valid(void **state)
{
    (void)state;
    UTF8("", true, 0);
    UTF8("plain ascii text, longer than eight bytes", true, 0);
    UTF8("a\0b", true, 0); /* NUL is valid UTF-8 (TOML rejects it elsewhere) */
    UTF8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", true, 0);
    UTF8("01234567\xC3\xA9", true, 0);
    /* overlong forms */
    UTF8("\xC0\x80", false, 0);
    UTF8("ab\xC1\xBF", false, 2);
    UTF8("\xE0\x80\x80", false, 0);
    UTF8("\xE0\x9F\xBF", false, 0); /* U+07FF in three bytes */
    UTF8("\xE0\xA0\x80", true, 0);  /* U+0800, the first three-byte one */
    UTF8("\xF0\x8F\xBF\xBF", false, 0);
    UTF8("\xF0\x90\x80\x80", true, 0);
    /* surrogates */
    UTF8("x\xED\xA0\x80", false, 1);
    UTF8("\xED\xBF\xBF", false, 0);
    UTF8("\xED\x9F\xBF", true, 0); /* U+D7FF */
    UTF8("\xEE\x80\x80", true, 0); /* U+E000 */
    /* beyond U+10FFFF */
    UTF8("\xF4\x8F\xBF\xBF", true, 0);
    UTF8("\xF4\x90\x80\x80", false, 0);
    UTF8("\xF5\x80\x80\x80", false, 0);
    UTF8("\xFF", false, 0);
    /* truncated sequences and stray continuation bytes */
    UTF8("ab\xE2\x82", false, 2);
    UTF8("\xF0\x9F\x98", false, 0);
    UTF8("\xC3", false, 0);
    UTF8("\xE2\x82" "a", false, 0);
    UTF8("a\x80", false, 1);
    UTF8("0123456789\xFF", false, 10);
    UTF8("0123456789abcdef\xC3\xA9\xBF", false, 18);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_keys_with_nul_and_length),
        cmocka_unit_test(test_spans_keys_values),
        cmocka_unit_test(test_spans_dotted_and_headers),
        cmocka_unit_test(test_spans_array_of_tables_and_inline),
        cmocka_unit_test(test_spans_crlf),
        cmocka_unit_test(test_spans_utf8),
        cmocka_unit_test(test_error_positions),
        cmocka_unit_test(test_error_help),
        cmocka_unit_test(test_max_errors),
        cmocka_unit_test(test_toml_1_1),
        cmocka_unit_test(test_table_with_100000_keys),
        cmocka_unit_test(test_utf8_valid),
    };
    return cmocka_run_group_tests_name("toml", tests, NULL, NULL);
}
