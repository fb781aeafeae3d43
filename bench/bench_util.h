/* bench_util.h - timing, file reading, medians and peak RSS shared by the C and C++ parser benchmarks. */
#ifndef HL_BENCH_UTIL_H
#define HL_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Monotonic time in nanoseconds. */
static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Peak resident set size of this process so far, in KiB. */
static inline long bench_maxrss_kb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_maxrss;
}

/* Reads a whole file into a malloc'd buffer; returns NULL (and prints why) on failure. */
static inline char *bench_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = (char *)malloc(cap);
    for (;;) {
        if (!buf)
            break;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        char *grown = (char *)realloc(buf, cap);
        if (!grown) {
            free(buf);
            buf = NULL;
        }
        buf = grown;
    }
    if (!buf || ferror(f)) {
        fprintf(stderr, "%s: read failed\n", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

static inline int bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts the samples and returns their median. */
static inline uint64_t bench_median(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, bench_cmp_u64);
    if (n == 0)
        return 0;
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Command line shared by the benchmark programs: [-n MIN_REPS] [-t MIN_SECONDS] [-m MAX_REPS] FILE.
 * Returns the file name, or NULL after printing usage. */
typedef struct bench_args {
    size_t min_reps;
    size_t max_reps;
    double min_seconds;
    const char *path;
} bench_args;

static inline const char *bench_parse_args(int argc, char **argv, bench_args *a)
{
    a->min_reps = 7;
    a->max_reps = 100000;
    a->min_seconds = 2.0;
    a->path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            a->min_reps = (size_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc)
            a->max_reps = (size_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
            a->min_seconds = strtod(argv[++i], NULL);
        else if (argv[i][0] != '-' && !a->path)
            a->path = argv[i];
        else
            a->path = NULL, i = argc;
    }
    if (!a->path || a->min_reps == 0 || a->max_reps < a->min_reps) {
        fprintf(stderr, "usage: %s [-n MIN_REPS] [-t MIN_SECONDS] [-m MAX_REPS] FILE\n", argv[0]);
        return NULL;
    }
    return a->path;
}

/* True while more repetitions are wanted: fewer than min_reps, or less than min_seconds spent. */
static inline int bench_want_more(const bench_args *a, size_t done, uint64_t spent_ns)
{
    if (done >= a->max_reps)
        return 0;
    return done < a->min_reps || (double)spent_ns < a->min_seconds * 1e9;
}

/* The one line each benchmark prints; run-toml-bench.sh turns these into the table. */
static inline void bench_report(const char *parser, const char *path, size_t bytes, size_t reps,
                                uint64_t median_ns, uint64_t min_ns, size_t nodes, long rss_before_kb,
                                long rss_after_kb)
{
    printf("RESULT parser=%s input=%s bytes=%zu reps=%zu median_ns=%llu min_ns=%llu nodes=%zu "
           "rss_base_kb=%ld rss_peak_kb=%ld\n",
           parser, path, bytes, reps, (unsigned long long)median_ns, (unsigned long long)min_ns,
           nodes, rss_before_kb, rss_after_kb);
}

#endif
