#!/usr/bin/env python3
"""toml_bench_tomllib.py - times Python's tomllib.loads() on a TOML file held in memory, for comparison."""

import argparse
import resource
import sys
import time
import tomllib


def count_nodes(v):
    """Counts every value in the tree (the root included), like the C benchmark does."""
    if isinstance(v, dict):
        return 1 + sum(count_nodes(x) for x in v.values())
    if isinstance(v, list):
        return 1 + sum(count_nodes(x) for x in v)
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=7, help="minimum repetitions")
    ap.add_argument("-t", type=float, default=2.0, help="minimum seconds of parsing")
    ap.add_argument("-m", type=int, default=100000, help="maximum repetitions")
    ap.add_argument("file")
    a = ap.parse_args()
    with open(a.file, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")  # tomllib.loads takes str; decoding is not part of the parse time
    rss_base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        nodes = count_nodes(tomllib.loads(text))  # warm-up and check, not timed
    except tomllib.TOMLDecodeError as e:
        print("%s: %s" % (a.file, e), file=sys.stderr)
        return 1
    samples = []
    spent = 0
    while len(samples) < a.m and (len(samples) < a.n or spent < a.t * 1e9):
        t0 = time.perf_counter_ns()
        doc = tomllib.loads(text)
        t1 = time.perf_counter_ns()
        del doc  # freeing is not part of the parse time
        samples.append(t1 - t0)
        spent += t1 - t0
    samples.sort()
    n = len(samples)
    med = samples[n // 2] if n % 2 else (samples[n // 2 - 1] + samples[n // 2]) // 2
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        "RESULT parser=tomllib input=%s bytes=%d reps=%d median_ns=%d min_ns=%d nodes=%d "
        "rss_base_kb=%d rss_peak_kb=%d" % (a.file, len(raw), n, med, samples[0], nodes, rss_base, rss_peak)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
