// toml_bench_tomlpp.cpp - times toml++'s toml::parse() on a TOML file held in memory, for comparison.
#include "bench_util.h"

#include <string_view>
#include <toml++/toml.h>

// Counts every node in the tree (the root included), like the C benchmark does.
static size_t count_nodes(const toml::node &node)
{
    size_t n = 1;
    if (const toml::table *t = node.as_table()) {
        for (auto &&kv : *t)
            n += count_nodes(kv.second);
    } else if (const toml::array *a = node.as_array()) {
        for (const toml::node &el : *a)
            n += count_nodes(el);
    }
    return n;
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
    std::string_view view(text, len);
    uint64_t *samples = static_cast<uint64_t *>(malloc(args.max_reps * sizeof *samples));
    if (!samples)
        return 1;
    memset(samples, 0, args.max_reps * sizeof *samples); // touch it before the RSS baseline
    long rss_base = bench_maxrss_kb();

    size_t nodes = 0;
    try {
        // A warm-up parse that also checks the document and counts its nodes (not timed).
        {
            toml::table doc = toml::parse(view);
            nodes = count_nodes(doc);
        }
        size_t reps = 0;
        uint64_t spent = 0;
        while (bench_want_more(&args, reps, spent)) {
            uint64_t t0 = bench_now_ns();
            toml::table doc = toml::parse(view);
            uint64_t t1 = bench_now_ns();
            samples[reps++] = t1 - t0;
            spent += t1 - t0;
            // doc is destroyed here, after the clock stopped: freeing is not part of parse time.
        }
        uint64_t med = bench_median(samples, reps);
        bench_report("toml++", args.path, len, reps, med, samples[0], nodes, rss_base,
                     bench_maxrss_kb());
    } catch (const toml::parse_error &e) {
        const toml::source_position &p = e.source().begin;
        fprintf(stderr, "%s:%u:%u: %.*s\n", args.path, (unsigned)p.line, (unsigned)p.column,
                (int)e.description().size(), e.description().data());
        return 1;
    }
    free(samples);
    free(text);
    return 0;
}
