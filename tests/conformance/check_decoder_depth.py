#!/usr/bin/env python3
"""check_decoder_depth.py - deeply nested TOML through build/bin/toml-decoder: exact JSON back."""

import argparse
import json
import os
import subprocess
import sys

SANITIZER_EXIT = 86  # what a sanitizer report exits with (see run_toml_test.py)
INNER_TOML = "1"
INNER_JSON = '{"type":"integer","value":"1"}'


def case_arrays(n):
    """a = [[[...1...]]]: n arrays."""
    return ("a = " + "[" * n + INNER_TOML + "]" * n + "\n",
            '{"a":' + "[" * n + INNER_JSON + "]" * n + "}")


def case_tables(n):
    """a = {b={b=...1...}}: n inline tables."""
    return ("a = " + "{b=" * n + INNER_TOML + "}" * n + "\n",
            '{"a":' + '{"b":' * n + INNER_JSON + "}" * n + "}")


def case_mixed(n):
    """n arrays and inline tables in turn, one bracket per line inside the arrays, with a
    second item (true) in each array after the nested value: a = [\\n{b=[\\n{b=...}, true\\n]}..."""
    half = n // 2
    toml = ("a = " + "[\n{b=" * half + INNER_TOML + "}, true\n]" * half + "\n")
    js = ('{"a":' + '[{"b":' * half + INNER_JSON +
          '},{"type":"bool","value":"true"}]' * half + "}")
    return toml, js


CASES = {"arrays": case_arrays, "tables": case_tables, "mixed": case_mixed}


def json_shape(text):
    """Checks that text is one JSON value without recursion (Python's json module recurses and
    gives up near depth 1000) and returns (nesting depth, innermost object's text). Strings hold
    no brackets here, so a scan of the structure is enough for the shapes these cases make."""
    depth = best = 0
    stack = []
    innermost = None
    for i, c in enumerate(text):
        if c in "[{":
            stack.append((c, i))
            depth += 1
            best = max(best, depth)
        elif c in "]}":
            if not stack or {"]": "[", "}": "{"}[c] != stack[-1][0]:
                raise ValueError("unbalanced %r at offset %d" % (c, i))
            start = stack.pop()[1]
            if innermost is None:
                innermost = text[start:i + 1]
            depth -= 1
    if stack:
        raise ValueError("%d brackets left open" % len(stack))
    return best, innermost


def run_decoder(decoder, toml, timeout):
    env = dict(os.environ)
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        extra = "exitcode=%d" % SANITIZER_EXIT
        env[var] = (env[var] + ":" + extra) if env.get(var) else extra
    return subprocess.run([decoder], input=toml.encode(), capture_output=True, env=env,
                          timeout=timeout)


def check(decoder, name, n, timeout):
    """None when the decoder gives exactly the expected JSON for case `name` at depth n, else
    what went wrong."""
    toml, expected = CASES[name](n)
    # the expected text must itself be the JSON the decoder protocol means: checked where
    # Python's json module can still read it
    small_toml, small = CASES[name](4)
    json.loads(small)
    got = run_decoder(decoder, toml, timeout)
    if got.returncode != 0:
        return "exit status %d, stderr: %s" % (got.returncode,
                                                got.stderr.decode(errors="replace")[:400])
    if got.stderr:
        return "unexpected stderr: %s" % got.stderr.decode(errors="replace")[:400]
    out = got.stdout.decode()
    if not out.endswith("\n"):
        return "output does not end with a newline"
    out = out[:-1]
    try:
        depth, inner = json_shape(out)
    except ValueError as e:
        return "not JSON: %s" % e
    want_depth = 1 + (n if name != "mixed" else 2 * (n // 2)) + 1  # root, nesting, scalar
    if depth != want_depth:
        return "JSON depth %d, expected %d" % (depth, want_depth)
    if inner != INNER_JSON:
        return "innermost value %r, expected %r" % (inner[:80], INNER_JSON)
    if out != expected:
        k = next(i for i in range(min(len(out), len(expected)) + 1)
                 if i == len(out) or i == len(expected) or out[i] != expected[i])
        return "output differs from the expected JSON at offset %d: got %r, expected %r" % (
            k, out[k:k + 40], expected[k:k + 40])
    small_got = run_decoder(decoder, small_toml, timeout)
    if small_got.returncode != 0 or json.loads(small_got.stdout) != json.loads(small):
        return "depth 4: %r" % small_got.stdout[:200]
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--decoder", required=True, help="path to build/bin/toml-decoder")
    ap.add_argument("--depth", type=int, action="append",
                    help="nesting depth to try (repeatable; default 10000 and 1000000)")
    ap.add_argument("--case", choices=sorted(CASES), action="append",
                    help="which documents (repeatable; default all)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per decoder run")
    args = ap.parse_args()
    depths = args.depth or [10000, 1000000]
    names = args.case or sorted(CASES)
    failed = 0
    for n in depths:
        for name in names:
            try:
                why = check(args.decoder, name, n, args.timeout)
            except subprocess.TimeoutExpired:
                why = "timed out after %.0f s" % args.timeout
            print("%-6s depth %-8d %s" % (name, n, "ok" if why is None else "FAIL: " + why))
            failed += why is not None
    print("%d of %d passed" % (len(depths) * len(names) - failed, len(depths) * len(names)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
