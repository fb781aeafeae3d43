/* test_diag.c - unit tests of the diagnostic list and its text and JSON renderers (exact output). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hyperlight/diag.h"

/* Renders the list (as text, or as JSON when json) into a fresh string. */
static char *render(const hl_diag_list *list, bool json, bool color)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    int rc = json ? hl_diag_render_json(list, out) : hl_diag_render_text(list, out, color);
    assert_int_equal(rc, 0);
    fclose(out);
    return buf;
}

static void assert_render(const hl_diag_list *list, bool json, bool color, const char *expected)
{
    char *got = render(list, json, color);
    if (strcmp(got, expected) != 0)
        fail_msg("rendered:\n%s\nexpected:\n%s", got, expected);
    free(got);
}

static hl_diag_list *with_source(const char *text)
{
    hl_diag_list *list = hl_diag_list_new();
    assert_non_null(list);
    assert_int_equal(hl_diag_list_set_source(list, "hyperfile.toml", text, strlen(text)), 0);
    return list;
}

static void test_rustc_shape(void **state)
{
    (void)state;
    char src[1024] = "";
    for (int i = 1; i < 17; i++)
        strcat(src, "# comment\n");
    strcat(src, "max_execution_time = \"100xs\"\n");
    hl_diag_list *list = with_source(src);
    size_t off = 16 * 10 + 21;
    assert_int_equal(hl_diag_add(list, HL_SEV_ERROR, "hyperfile.toml", 17, 22, off, 7,
                                 "expected a number followed by ms or s, like \"100ms\"",
                                 "invalid duration \"%s\" for `%s`", "100xs", "max_execution_time"),
                     0);
    assert_render(list, false, false,
                  "error: invalid duration \"100xs\" for `max_execution_time`\n"
                  "  --> hyperfile.toml:17:22\n"
                  "   |\n"
                  "17 | max_execution_time = \"100xs\"\n"
                  "   |                      ^^^^^^^ expected a number followed by ms or s, like "
                  "\"100ms\"\n"
                  "\n");
    hl_diag_list_free(list);
}

static void test_single_digit_gutter_and_two_diags(void **state)
{
    (void)state;
    hl_diag_list *list = with_source("a = 1\nb = true\n");
    hl_diag_add(list, HL_SEV_ERROR, "hyperfile.toml", 1, 1, 0, 1, "did you mean `c`?", "unknown key `a`");
    hl_diag_add(list, HL_SEV_WARNING, "hyperfile.toml", 2, 5, 10, 4, NULL, "odd value");
    assert_render(list, false, false,
                  "error: unknown key `a`\n"
                  " --> hyperfile.toml:1:1\n"
                  "  |\n"
                  "1 | a = 1\n"
                  "  | ^ did you mean `c`?\n"
                  "\n"
                  "warning: odd value\n"
                  " --> hyperfile.toml:2:5\n"
                  "  |\n"
                  "2 | b = true\n"
                  "  |     ^^^^\n"
                  "\n");
    assert_int_equal(hl_diag_count(list), 2);
    assert_int_equal(hl_diag_error_count(list), 1);
    assert_int_equal(hl_diag_warning_count(list), 1);
    const hl_diag *d = hl_diag_at(list, 1);
    assert_non_null(d);
    assert_int_equal(d->severity, HL_SEV_WARNING);
    assert_string_equal(d->message, "odd value");
    assert_null(d->help);
    assert_int_equal(d->line, 2);
    assert_int_equal(d->column, 5);
    assert_int_equal(d->offset, 10);
    assert_int_equal(d->length, 4);
    assert_null(hl_diag_at(list, 2));
    hl_diag_list_free(list);
}

static void test_gutter_three_digits(void **state)
{
    (void)state;
    hl_diag_list *list = with_source("x = 1\n");
    hl_diag_add(list, HL_SEV_ERROR, "hyperfile.toml", 123, 5, 4, 1, "h", "m");
    assert_render(list, false, false,
                  "error: m\n"
                  "   --> hyperfile.toml:123:5\n"
                  "    |\n"
                  "123 | x = 1\n"
                  "    |     ^ h\n"
                  "\n");
    hl_diag_list_free(list);
}

static void test_tabs_expand_in_source_and_carets(void **state)
{
    (void)state;
    /* tab stops every 4 columns: "\tk\t= \"v\"" shows as "    k   = "v"" */
    hl_diag_list *list = with_source("\tk\t= \"v\"\n");
    hl_diag_add(list, HL_SEV_ERROR, "hyperfile.toml", 1, 6, 5, 3, "here", "bad");
    /* a span holding a tab is underlined over the tab's expanded width */
    hl_diag_add(list, HL_SEV_ERROR, "hyperfile.toml", 1, 2, 1, 2, NULL, "key and tab");
    assert_render(list, false, false,
                  "error: bad\n"
                  " --> hyperfile.toml:1:6\n"
                  "  |\n"
                  "1 |     k   = \"v\"\n"
                  "  |           ^^^ here\n"
                  "\n"
                  "error: key and tab\n"
                  " --> hyperfile.toml:1:2\n"
                  "  |\n"
                  "1 |     k   = \"v\"\n"
                  "  |     ^^^^\n"
                  "\n");
    hl_diag_list_free(list);
}

static void test_multibyte_counts_code_points(void **state)
{
    (void)state;
    /* "é" and "ö" are 2 bytes each, "😀" is 4: carets count code points */
    const char *src = "név = \"wörld😀\" # x\n";
    hl_diag_list *list = with_source(src);
    size_t off = (size_t)(strstr(src, "\"w") - src);
    size_t len = strlen("\"wörld😀\"");
    hl_diag_add(list, HL_SEV_ERROR, "hyperfile.toml", 1, 7, off, len, "help", "unicode");
    assert_render(list, false, false,
                  "error: unicode\n"
                  " --> hyperfile.toml:1:7\n"
                  "  |\n"
                  "1 | név = \"wörld😀\" # x\n"
                  "  |       ^^^^^^^^ help\n"
                  "\n");
    hl_diag_list_free(list);
}

static void test_zero_length_and_past_end_of_line(void **state)
{
    (void)state;
    hl_diag_list *list = with_source("key =\nnext = 1\r\n");
    /* an empty span at the end of the line: one caret just past the text */
    hl_diag_add(list, HL_SEV_ERROR, "hyperfile.toml", 1, 6, 5, 0, "expected a value", "missing value");
    /* a span running into the next lines is cut at the end of its line (and the CR is no text) */
    hl_diag_add(list, HL_SEV_ERROR, "hyperfile.toml", 2, 8, 13, 50, NULL, "long");
    assert_render(list, false, false,
                  "error: missing value\n"
                  " --> hyperfile.toml:1:6\n"
                  "  |\n"
                  "1 | key =\n"
                  "  |      ^ expected a value\n"
                  "\n"
                  "error: long\n"
                  " --> hyperfile.toml:2:8\n"
                  "  |\n"
                  "2 | next = 1\n"
                  "  |        ^\n"
                  "\n");
    hl_diag_list_free(list);
}

static void test_no_position_and_unknown_source(void **state)
{
    (void)state;
    hl_diag_list *list = with_source("a = 1\n");
    hl_diag_add(list, HL_SEV_ERROR, NULL, 0, 0, 0, 0, "check the path", "could not read `%s`", "x.toml");
    hl_diag_add(list, HL_SEV_ERROR, "other.toml", 3, 2, 7, 1, "a help", "in another file");
    hl_diag_add(list, HL_SEV_NOTE, "hyperfile.toml", 0, 0, 0, 0, NULL, "about the file");
    assert_render(list, false, false,
                  "error: could not read `x.toml`\n"
                  "  = help: check the path\n"
                  "\n"
                  "error: in another file\n"
                  " --> other.toml:3:2\n"
                  "  = help: a help\n"
                  "\n"
                  "note: about the file\n"
                  " --> hyperfile.toml\n"
                  "\n");
    hl_diag_list_free(list);
}

static void test_invalid_utf8_and_controls(void **state)
{
    (void)state;
    /* a stray 0xFF, a truncated sequence and an ESC in the line render as U+FFFD, one column each */
    const char src[] = "k = \"\xFF\xC3\" # \x1b[31m\n";
    hl_diag_list *list = hl_diag_list_new();
    assert_int_equal(hl_diag_list_set_source(list, "f.toml", src, sizeof src - 1), 0);
    hl_diag_add(list, HL_SEV_ERROR, "f.toml", 1, 5, 4, 4, "msg\x1b[0m", "bad \xFE byte");
    assert_render(list, false, false,
                  "error: bad \xEF\xBF\xBD byte\n"
                  " --> f.toml:1:5\n"
                  "  |\n"
                  "1 | k = \"\xEF\xBF\xBD\xEF\xBF\xBD\" # \xEF\xBF\xBD[31m\n"
                  "  |     ^^^^ msg\xEF\xBF\xBD[0m\n"
                  "\n");
    hl_diag_list_free(list);
}

static void test_color(void **state)
{
    (void)state;
    hl_diag_list *list = with_source("a = 1\n");
    hl_diag_add(list, HL_SEV_WARNING, "hyperfile.toml", 1, 5, 4, 1, "h", "w");
    hl_diag_add(list, HL_SEV_ERROR, NULL, 0, 0, 0, 0, "h2", "e");
    assert_render(list, false, true,
                  "\033[1;33mwarning\033[0m\033[1m: w\033[0m\n"
                  " \033[1;34m-->\033[0m hyperfile.toml:1:5\n"
                  "\033[1;34m  |\033[0m\n"
                  "\033[1;34m1 |\033[0m a = 1\n"
                  "\033[1;34m  |\033[0m     \033[1;33m^ h\033[0m\n"
                  "\n"
                  "\033[1;31merror\033[0m\033[1m: e\033[0m\n"
                  "  \033[1;34m=\033[0m\033[1m help\033[0m: h2\n"
                  "\n");
    hl_diag_list_free(list);
}

static void test_json(void **state)
{
    (void)state;
    hl_diag_list *list = with_source("a = 1\n");
    assert_render(list, true, false, "[]\n");
    hl_diag_add(list, HL_SEV_ERROR, "dir\\h \"1\".toml", 1, 1, 0, 1, "tab\there\nnext", "quote \" back \\ ctl \x01 \xFF é");
    hl_diag_add(list, HL_SEV_WARNING, NULL, 0, 0, 0, 0, NULL, "plain");
    assert_render(list, true, false,
                  "[\n"
                  "  {\"severity\": \"error\", \"message\": \"quote \\\" back \\\\ ctl \\u0001 \\ufffd é\", "
                  "\"file\": \"dir\\\\h \\\"1\\\".toml\", \"line\": 1, \"column\": 1, \"offset\": 0, "
                  "\"length\": 1, \"help\": \"tab\\there\\nnext\"},\n"
                  "  {\"severity\": \"warning\", \"message\": \"plain\", \"file\": null, \"line\": 0, "
                  "\"column\": 0, \"offset\": 0, \"length\": 0, \"help\": null}\n"
                  "]\n");
    hl_diag_list_free(list);
}

static void test_clear_and_source_copy(void **state)
{
    (void)state;
    char text[] = "a = 1\n";
    hl_diag_list *list = hl_diag_list_new();
    assert_int_equal(hl_diag_list_set_source(list, "t.toml", text, strlen(text)), 0);
    hl_diag_add(list, HL_SEV_ERROR, "t.toml", 1, 1, 0, 1, NULL, "m");
    text[0] = 'z'; /* the list keeps its own copy */
    assert_render(list, false, false, "error: m\n --> t.toml:1:1\n  |\n1 | a = 1\n  | ^\n\n");
    hl_diag_list_clear(list);
    assert_int_equal(hl_diag_count(list), 0);
    assert_render(list, false, false, "");
    assert_int_equal(hl_diag_list_set_source(NULL, "x", "", 0), -1);
    assert_int_equal(hl_diag_add(NULL, HL_SEV_ERROR, NULL, 0, 0, 0, 0, NULL, "x"), -1);
    assert_string_equal(hl_diag_severity_name(HL_SEV_NOTE), "note");
    hl_diag_list_free(list);
    hl_diag_list_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rustc_shape),
        cmocka_unit_test(test_single_digit_gutter_and_two_diags),
        cmocka_unit_test(test_gutter_three_digits),
        cmocka_unit_test(test_tabs_expand_in_source_and_carets),
        cmocka_unit_test(test_multibyte_counts_code_points),
        cmocka_unit_test(test_zero_length_and_past_end_of_line),
        cmocka_unit_test(test_no_position_and_unknown_source),
        cmocka_unit_test(test_invalid_utf8_and_controls),
        cmocka_unit_test(test_color),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_clear_and_source_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
