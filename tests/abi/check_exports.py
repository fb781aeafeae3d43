#!/usr/bin/env python3
# check_exports.py - the shared library exports exactly the functions the public headers declare.
"""Compares libhyperlight.so's dynamic symbols with the public headers, in both directions.

Usage: check_exports.py --lib build/lib/libhyperlight.so --include include [--cc cc]
                        [--soname libhyperlight.so.0] [--version-node HYPERLIGHT_1]

The headers are read through the compiler: include/hyperlight/hyperlight.h (the umbrella) is
preprocessed, so the setters and getters the X-macro table expands to are seen as a caller sees
them. Every file-scope function declaration coming from include/hyperlight/ is collected, with
whether it carries HL_API (visibility "default" after preprocessing); static inline functions are
not symbols and are skipped. The check fails when:
  - a public function is declared without HL_API (it would not be exported);
  - a declared function is not exported (nm -D --defined-only);
  - anything is exported that no public header declares (an internal function, a symbol without
    the hl_ prefix, a data symbol);
  - an exported symbol is not in the version node, or the soname is not the expected one.
It also fails if the umbrella header misses a public header. Prints every problem, exit 1.
"""
import argparse
import os
import re
import subprocess
import sys

# Public headers that the umbrella deliberately leaves out (see hyperlight.h's comment).
NOT_IN_UMBRELLA = {"abi.h", "hyperlight.h"}


def preprocess(cc, include_dir):
    umbrella = os.path.join(include_dir, "hyperlight", "hyperlight.h")
    out = subprocess.run([cc, "-E", "-std=c11", "-D_GNU_SOURCE", "-I", include_dir, umbrella],
                         check=True, capture_output=True, text=True).stdout
    return out


def declarations(pp_text, include_dir):
    """(name, has_api, header) of every non-static file-scope function declared in our headers."""
    ours = os.path.realpath(os.path.join(include_dir, "hyperlight"))
    current = None
    chunks = []
    for line in pp_text.splitlines():
        m = re.match(r'^# \d+ "([^"]+)"', line)
        if m:
            path = os.path.realpath(m.group(1)) if not m.group(1).startswith("<") else ""
            current = path if os.path.dirname(path) == ours else None
            chunks.append((None, "\n"))
            continue
        chunks.append((current, line + "\n"))
    found = []
    stmt, stmt_file, depth = "", None, 0
    for path, text in chunks:
        if path is None:
            continue
        for ch in text:
            if ch == "{":
                depth += 1
                if depth == 1:
                    stmt += " {} "
                continue
            if ch == "}":
                depth -= 1
                if depth == 0 and "(" in stmt.split("{}")[0] and not stmt.lstrip().startswith(
                        ("typedef", "struct", "enum", "union")):
                    stmt = ""  # a function definition (static inline)
                continue
            if depth > 0:
                continue
            if ch == ";":
                s = " ".join(stmt.split())
                stmt = ""
                if s.startswith(("typedef", "static", "extern \"C\"")) or "{}" in s:
                    continue
                m = re.search(r"\b(\w+)\s*\(", re.sub(r"__attribute__\s*\(\(.*?\)\)\)?", "", s))
                if m:
                    found.append((m.group(1), 'visibility("default")' in s, os.path.basename(path)))
                continue
            stmt += ch
    return found


def exported(lib):
    out = subprocess.run(["readelf", "--dyn-syms", "--wide", lib], check=True, capture_output=True,
                         text=True).stdout
    syms = {}
    for line in out.splitlines():
        f = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(f) < 8 or not f[0].rstrip(":").isdigit():
            continue
        if f[6] == "UND" or f[4] == "LOCAL":
            continue
        name, _, version = f[7].partition("@")
        version = version.lstrip("@")
        if f[3] == "OBJECT" and f[6] == "ABS" and f[1].strip("0") == "" and not version:
            continue  # a version node's own symbol (HYPERLIGHT_1)
        syms[name] = (f[3], version)
    return syms


def soname(lib):
    out = subprocess.run(["readelf", "-d", lib], check=True, capture_output=True, text=True).stdout
    m = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", out)
    return m.group(1) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--include", required=True)
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--soname")
    ap.add_argument("--version-node", default="HYPERLIGHT_1")
    a = ap.parse_args()

    problems = []
    pp = preprocess(a.cc, a.include)
    decls = declarations(pp, a.include)
    if len(decls) < 20:
        problems.append(f"only {len(decls)} declarations found in the public headers: parser broken?")
    declared = {}
    for name, api, header in decls:
        declared[name] = header
        if not api:
            problems.append(f"{header}: {name}() is declared without HL_API (not exported)")
    ours = os.path.realpath(os.path.join(a.include, "hyperlight"))
    seen_headers = {os.path.basename(m) for m in re.findall(r'^# \d+ "([^"]+)"', pp, re.M)
                    if os.path.dirname(os.path.realpath(m)) == ours}
    for h in sorted(os.listdir(os.path.join(a.include, "hyperlight"))):
        if h.endswith(".h") and h not in NOT_IN_UMBRELLA and h not in seen_headers:
            problems.append(f"{h} is a public header the umbrella hyperlight.h does not include")

    syms = exported(a.lib)
    for name in sorted(set(declared) - set(syms)):
        problems.append(f"{declared[name]}: {name}() is declared but not exported")
    for name in sorted(set(syms) - set(declared)):
        problems.append(f"{name} ({syms[name][0].lower()}) is exported but no public header declares it")
    for name in sorted(set(syms) & set(declared)):
        if syms[name][1] != a.version_node:
            problems.append(f"{name} has version '{syms[name][1]}', expected {a.version_node}")
    if a.soname and soname(a.lib) != a.soname:
        problems.append(f"soname is {soname(a.lib)}, expected {a.soname}")

    for p in problems:
        print("error: " + p)
    print(f"{len(declared)} functions declared, {len(syms)} symbols exported, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
