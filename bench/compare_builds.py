#!/usr/bin/env python3
"""compare_builds.py - runs bench_sandbox of several builds in alternating rounds and prints their medians side by side.

Usage: bench/compare_builds.py [--mode inproc|kvm] [--rounds 3] [--iterations 1000] LABEL=BUILD_DIR...

Each BUILD_DIR is a Release build with bench_sandbox and the test guests (build/guests). The builds
run in turn, round after round, so that the machine's load falls on all of them alike; each
operation's figure is the median of the rounds' medians, and the last columns are ratios to the
first build. In kvm mode the runs happen inside the emulated VM (scripts/vm-test.sh) unless
/dev/kvm works natively (BENCH_KVM=native forces that).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

ROWS = [
    "sandbox create + initialise (simpleguest)",
    "sandbox destroy",
    "call `nothing`, with restore",
    "call `nothing`, no restore (in a call context)",
    "call `add_via_host` (1 host call), with restore",
    "call dirty_pages(16) incl. restore, small",
]
UNITS = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}


def run_once(build, mode, iterations, root):
    cmd = [os.path.join(build, "bin", "bench_sandbox"), "--mode", mode, "--guests",
           os.path.join(build, "guests"), "--iterations", str(iterations)]
    if mode == "kvm" and os.environ.get("BENCH_KVM") != "native":
        cmd = [os.path.join(root, "scripts", "vm-test.sh"), "--quiet", "--mem", "2048", "--timeout", "1200",
               "--dir", os.path.join(build, "guests")] + ["--"] + cmd
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    out = proc.stdout
    got = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 5 and cells[1] in ROWS:
            m = re.match(r"([\d.]+) (ns|us|ms|s)$", cells[4])
            if m:
                got[cells[1]] = float(m.group(1)) * UNITS[m.group(2)]
    if not got:  # say why instead of leaving a hole in the table
        tail = "\n".join((out + proc.stderr).splitlines()[-5:])
        print(f"warning: {build}: no figures (exit {proc.returncode}):\n{tail}", file=sys.stderr)
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", default="inproc", choices=["inproc", "kvm"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("builds", nargs="+", help="LABEL=BUILD_DIR")
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    builds = [(label, os.path.abspath(path)) for label, path in (b.split("=", 1) for b in a.builds)]
    results = {label: {r: [] for r in ROWS} for label, _ in builds}
    for rnd in range(a.rounds):
        for label, path in builds:
            print(f"round {rnd + 1}/{a.rounds}: {label}", file=sys.stderr)
            for row, us in run_once(path, a.mode, a.iterations, root).items():
                results[label][row].append(us)
    labels = [label for label, _ in builds]
    head = "| operation (" + a.mode + ", medians in us) | " + " | ".join(labels) + " | " + \
        " | ".join(f"{l} / {labels[0]}" for l in labels[1:]) + " |"
    print(head)
    print("|" + "---|" * (1 + 2 * len(labels) - 1))
    for row in ROWS:
        meds = [statistics.median(results[l][row]) if results[l][row] else float("nan") for l in labels]
        ratios = [f"{m / meds[0]:.2f}x" for m in meds[1:]]
        print(f"| {row} | " + " | ".join(f"{m:.1f}" for m in meds) + " | " + " | ".join(ratios) + " |")


if __name__ == "__main__":
    main()
