/* toml_bench_hl.c - times hl_toml_parse() on a TOML file held in memory (see run-toml-bench.sh). */
#include "bench_util.h"

#include <hyperlight/toml.h>

/* Counts every value in the tree (the root included), so the tree is really walked once. */
static size_t count_nodes(const hl_toml_value *v)
{
    size_t n = 1;
    switch (hl_toml_type_of(v)) {
    case HL_TOML_TABLE:
        for (size_t i = 0, len = hl_toml_table_size(v); i < len; i++)
            n += count_nodes(hl_toml_table_at(v, i, NULL, NULL, NULL));
        break;
    case HL_TOML_ARRAY:
        for (size_t i = 0, len = hl_toml_array_size(v); i < len; i++)
            n += count_nodes(hl_toml_array_at(v, i));
        break;
    default:
        break;
    }
    return n;
}

/* Parses once; on a syntax error prints the first one and returns NULL. */
static hl_toml_doc *parse_checked(const char *path, const char *text, size_t len)
{
    hl_toml_doc *doc = hl_toml_parse(text, len, NULL);
    if (!doc) {
        fprintf(stderr, "%s: out of memory\n", path);
        return NULL;
    }
    if (hl_toml_doc_error_count(doc) != 0) {
        const hl_toml_error *e = hl_toml_doc_error(doc, 0);
        fprintf(stderr, "%s:%u:%u: %s\n", path, (unsigned)e->span.line, (unsigned)e->span.column,
                e->message);
        hl_toml_doc_free(doc);
        return NULL;
    }
    return doc;
}

int main(int argc, char **argv)
{
    bench_args args;
    if (!bench_parse_args(argc, argv, &args))
        return 2;
    size_t len;
    char *text = bench_read_file(args.path, &len);
    if (!text)
        return 1;
    uint64_t *samples = (uint64_t *)malloc(args.max_reps * sizeof *samples);
    if (!samples)
        return 1;
    memset(samples, 0, args.max_reps * sizeof *samples); /* touch it before the RSS baseline */
    long rss_base = bench_maxrss_kb();

    /* A warm-up parse that also checks the document and counts its values (not timed). */
    hl_toml_doc *doc = parse_checked(args.path, text, len);
    if (!doc)
        return 1;
    size_t nodes = count_nodes(hl_toml_doc_root(doc));
    hl_toml_doc_free(doc);

    size_t reps = 0;
    uint64_t spent = 0;
    while (bench_want_more(&args, reps, spent)) {
        uint64_t t0 = bench_now_ns();
        doc = hl_toml_parse(text, len, NULL);
        uint64_t t1 = bench_now_ns();
        if (!doc || hl_toml_doc_error_count(doc) != 0)
            return 1;
        hl_toml_doc_free(doc); /* freeing is not part of the parse time */
        samples[reps++] = t1 - t0;
        spent += t1 - t0;
    }
    uint64_t med = bench_median(samples, reps);
    bench_report("ours", args.path, len, reps, med, samples[0], nodes, rss_base, bench_maxrss_kb());
    free(samples);
    free(text);
    return 0;
}
