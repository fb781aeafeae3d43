#!/usr/bin/env python3
"""run_toml_test.py - runs toml-test's valid and invalid cases through build/bin/toml-decoder."""

import argparse
import concurrent.futures
import json
import math
import os
import re
import signal
import subprocess
import sys

SKIP = 77  # CTest's SKIP_RETURN_CODE for this test
SANITIZER_EXIT = 86  # what a sanitizer report exits with, so it cannot pass for a rejection
CASE_TIMEOUT = 30.0
SCALAR_TYPES = {"string", "integer", "float", "bool", "datetime", "datetime-local",
                "date-local", "time-local"}


def find_suite(args, listname):
    """Returns (tests_dir, None) or (None, why-not)."""
    candidates = []
    if args.suite:
        candidates.append(("--suite", args.suite))
    if os.environ.get("TOML_TEST_DIR"):
        candidates.append(("$TOML_TEST_DIR", os.environ["TOML_TEST_DIR"]))
    if args.source_dir:
        candidates.append(("beside the source tree",
                           os.path.join(args.source_dir, "..", "shared", "toml-test")))
    tried = []
    for origin, root in candidates:
        for tests in (os.path.join(root, "tests"), root):
            if os.path.isfile(os.path.join(tests, listname)):
                return os.path.normpath(tests), None
        tried.append("%s (%s)" % (os.path.normpath(root), origin))
    if not tried:
        return None, "no location given (set TOML_TEST_DIR or pass --source-dir)"
    return None, "no %s under %s" % (listname, ", ".join(tried))


def read_cases(tests_dir, listname):
    """The .toml cases of a list file, as (kind, relative path) with kind 'valid' or 'invalid'."""
    cases = []
    with open(os.path.join(tests_dir, listname), encoding="utf-8") as f:
        for line in f:
            path = line.strip()
            if not path.endswith(".toml"):
                continue
            kind = path.split("/", 1)[0]
            if kind not in ("valid", "invalid"):
                raise SystemExit("%s: unexpected entry %r" % (listname, path))
            cases.append((kind, path))
    return cases


def sanitizer_env():
    env = dict(os.environ)
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        extra = "exitcode=%d" % SANITIZER_EXIT
        if var == "UBSAN_OPTIONS":
            extra += ":halt_on_error=1:print_stacktrace=1"
        env[var] = (env[var] + ":" + extra) if env.get(var) else extra
    return env


# ---- comparison of tagged JSON ----------------------------------------------------------------

DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
TIME_RE = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$")
OFFSET_RE = re.compile(r"^(.*?)([Zz]|[+-]\d{2}:\d{2})$")


def parse_time(text):
    m = TIME_RE.match(text)
    if not m:
        raise ValueError("bad time %r" % text)
    hh, mm, ss, frac = m.groups()
    millis = int((frac or "0").ljust(3, "0")[:3])  # ms precision, as toml-test requires
    return (int(hh), int(mm), int(ss or 0), millis)


def parse_date(text):
    m = DATE_RE.match(text)
    if not m:
        raise ValueError("bad date %r" % text)
    return tuple(int(g) for g in m.groups())


def normalise_datetime(kind, text):
    """A comparable tuple for a date/time value of the given tag."""
    if kind == "date-local":
        return parse_date(text)
    if kind == "time-local":
        return parse_time(text)
    if len(text) < 11 or text[10] not in "Tt ":
        raise ValueError("bad date-time %r" % text)
    date, rest = text[:10], text[11:]
    offset = None
    if kind == "datetime":
        m = OFFSET_RE.match(rest)
        if not m:
            raise ValueError("no offset in %r" % text)
        rest, off = m.groups()
        if off in "Zz":
            offset = 0
        else:
            sign = -1 if off[0] == "-" else 1
            offset = sign * (int(off[1:3]) * 60 + int(off[4:6]))
    return parse_date(date) + parse_time(rest) + (offset,)


def parse_float(text):
    if text in ("nan", "+nan", "-nan"):
        return math.nan
    if text in ("inf", "+inf"):
        return math.inf
    if text == "-inf":
        return -math.inf
    return float(text)


def is_scalar(node):
    return (isinstance(node, dict) and set(node) == {"type", "value"}
            and isinstance(node["type"], str) and isinstance(node["value"], str))


def scalars_equal(kind, want, got):
    if kind == "integer":
        return int(want) == int(got)
    if kind == "float":
        a, b = parse_float(want), parse_float(got)
        return (math.isnan(a) and math.isnan(b)) or a == b
    if kind in ("datetime", "datetime-local", "date-local", "time-local"):
        return normalise_datetime(kind, want) == normalise_datetime(kind, got)
    return want == got  # string, bool


def compare(want, got, path="$"):
    """None when equal, else a one-line description of the first difference."""
    if is_scalar(want):
        if not is_scalar(got):
            return "%s: expected a %s, got %s" % (path, want["type"], json.dumps(got)[:80])
        if want["type"] != got["type"]:
            return "%s: expected type %s, got %s" % (path, want["type"], got["type"])
        if want["type"] not in SCALAR_TYPES:
            return "%s: unknown type %r" % (path, want["type"])
        try:
            same = scalars_equal(want["type"], want["value"], got["value"])
        except ValueError as e:
            return "%s: %s" % (path, e)
        if not same:
            return "%s: expected %s %r, got %r" % (path, want["type"], want["value"], got["value"])
        return None
    if isinstance(want, dict):
        if not isinstance(got, dict) or is_scalar(got):
            return "%s: expected a table, got %s" % (path, json.dumps(got)[:80])
        missing = [k for k in want if k not in got]
        extra = [k for k in got if k not in want]
        if missing or extra:
            return "%s: keys differ (missing %r, unexpected %r)" % (path, missing, extra)
        for k in want:
            diff = compare(want[k], got[k], "%s.%s" % (path, json.dumps(k)))
            if diff:
                return diff
        return None
    if isinstance(want, list):
        if not isinstance(got, list):
            return "%s: expected an array, got %s" % (path, json.dumps(got)[:80])
        if len(want) != len(got):
            return "%s: expected %d items, got %d" % (path, len(want), len(got))
        for i, (a, b) in enumerate(zip(want, got)):
            diff = compare(a, b, "%s[%d]" % (path, i))
            if diff:
                return diff
        return None
    return "%s: unexpected expected-JSON node %r" % (path, want)


# ---- running one case -------------------------------------------------------------------------

def describe_exit(code):
    if code < 0:
        try:
            return "killed by %s" % signal.Signals(-code).name
        except ValueError:
            return "killed by signal %d" % -code
    if code == SANITIZER_EXIT:
        return "sanitizer report (exit %d)" % code
    return "exit %d" % code


def first_line(data):
    text = data.decode("utf-8", "replace").strip()
    return text.splitlines()[0][:160] if text else "(nothing)"


def run_case(decoder, flags, env, tests_dir, kind, path):
    """Returns None on success, else the reason for failure."""
    with open(os.path.join(tests_dir, path), "rb") as f:
        data = f.read()
    try:
        proc = subprocess.run([decoder] + flags, input=data, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, timeout=CASE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return "timed out after %gs" % CASE_TIMEOUT
    err = proc.stderr.decode("utf-8", "replace")
    for line in err.splitlines():
        if "Sanitizer" in line or "runtime error:" in line:
            return "%s: %s" % (describe_exit(proc.returncode), line.strip()[:160])
    if kind == "invalid":
        if proc.returncode == 0:
            return "accepted an invalid document"
        if proc.returncode != 1:
            return "rejected with %s (must exit 1): %s" % (describe_exit(proc.returncode),
                                                           first_line(proc.stderr))
        return None
    if proc.returncode != 0:
        return "rejected with %s: %s" % (describe_exit(proc.returncode), first_line(proc.stderr))
    with open(os.path.join(tests_dir, path[:-len(".toml")] + ".json"), encoding="utf-8") as f:
        want = json.load(f)
    try:
        got = json.loads(proc.stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        return "output is not JSON (%s): %s" % (e, first_line(proc.stdout))
    return compare(want, got)


def main():
    ap = argparse.ArgumentParser(description="Run toml-test's cases through a decoder.")
    ap.add_argument("--decoder", required=True, help="path to toml-decoder")
    ap.add_argument("--toml", choices=("1.0", "1.1"), default="1.0", help="TOML version")
    ap.add_argument("--suite", help="toml-test directory (default: $TOML_TEST_DIR, then "
                    "SOURCE_DIR/../shared/toml-test)")
    ap.add_argument("--source-dir", help="the project's source directory")
    ap.add_argument("-j", "--jobs", type=int, default=max(4, 2 * (os.cpu_count() or 2)))
    args = ap.parse_args()

    version = args.toml + ".0"
    listname = "files-toml-" + version
    tests_dir, why = find_suite(args, listname)
    if tests_dir is None:
        if os.environ.get("CI") == "true":
            print("toml-test %s: FAILED: suite not found: %s (CI=true: a missing suite is a "
                  "failure)" % (version, why))
            return 1
        print("toml-test %s: SKIPPED: suite not found: %s" % (version, why))
        return SKIP
    if not os.access(args.decoder, os.X_OK):
        print("toml-test %s: FAILED: no decoder at %s" % (version, args.decoder))
        return 1

    cases = read_cases(tests_dir, listname)
    print("toml-test %s: %d cases from %s" % (version, len(cases), tests_dir))
    flags = ["--toml", "1.1"] if args.toml == "1.1" else []
    env = sanitizer_env()
    failures = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run_case, args.decoder, flags, env, tests_dir, kind, path): path
                   for kind, path in cases}
        for fut in concurrent.futures.as_completed(futures):
            path = futures[fut]
            try:
                reason = fut.result()
            except OSError as e:
                reason = "cannot run: %s" % e
            if reason:
                failures[path] = reason

    for kind, path in cases:
        if path in failures:
            print("FAIL %s: %s" % (path, failures[path]))
    counts = {}
    for kind in ("valid", "invalid"):
        total = sum(1 for k, _ in cases if k == kind)
        bad = sum(1 for k, p in cases if k == kind and p in failures)
        counts[kind] = (total - bad, total)
    print("toml-test %s: valid %d/%d passed, invalid %d/%d rejected"
          % (version, counts["valid"][0], counts["valid"][1],
             counts["invalid"][0], counts["invalid"][1]))
    return 1 if failures or not cases else 0


if __name__ == "__main__":
    sys.exit(main())
