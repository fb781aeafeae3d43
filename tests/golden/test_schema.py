#!/usr/bin/env python3
"""test_schema.py - the JSON Schema from `hyperlight schema` accepts good hyperfiles and rejects bad ones.

Checks: the schema is a valid draft 2020-12 schema; the HIP's sample (when present), the template
of `hyperlight init` and every examples/*.toml validate; a set of wrong documents is rejected;
and the schema never contradicts the loader: no hyperfile of the golden corpus that
`hyperlight check` accepts is rejected by the schema.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tomllib

import jsonschema

# (what is wrong, the TOML text): each must be rejected by the schema.
WRONG = [
    ("unknown key", 'input_data_sise = 1024\n'),
    ("unknown key in a profile", '[sandbox.ci]\nmax_exection_time = "5ms"\n'),
    ("hyperfile_version 2", 'hyperfile_version = 2\n'),
    ("hyperfile_version as a string", 'hyperfile_version = "1"\n'),
    ("hyperfile_version in a profile", '[sandbox.ci]\nhyperfile_version = 1\n'),
    ("size as a bool", 'input_data_size = true\n'),
    # (1024.0 would pass: JSON Schema counts a float with no fraction as an integer.)
    ("size as a float", 'input_data_size = 1024.5\n'),
    ("size as an array", 'output_data_size = [1024]\n'),
    ("size under the minimum", 'input_data_size = 16\n'),
    ("size over the maximum", 'input_data_size = 68_719_476_736\n'),
    ("negative size", 'kernel_stack_size = -4096\n'),
    ("size with a bad unit", 'input_data_size = "4 lots"\n'),
    ("size with a decimal comma", 'input_data_size = "1,5MiB"\n'),
    ("size with a lowercase unit", 'input_data_size = "16kib"\n'),
    ("stack override under its minimum", 'stack_size_override = 1024\n'),
    ("duration with a bad unit", 'max_execution_time = "100xs"\n'),
    ("duration with a word for a unit", 'max_execution_time = "10 minutes"\n'),
    ("duration with a sign", 'max_execution_time = "-5ms"\n'),
    ("duration as a float", 'max_execution_time = 1.5\n'),
    ("duration over the maximum", 'max_execution_time = 70000\n'),
    ("duration of zero", 'max_wait_for_cancellation = 0\n'),
    ("mode in the wrong case", 'execution_mode = "runinprocess"\n'),
    ("unknown mode", 'execution_mode = "RunInContainer"\n'),
    ("mode as a number", 'execution_mode = 1\n'),
    ("sandbox not a table", 'sandbox = "ci"\n'),
    ("profile not a table", '[sandbox]\nci = 5\n'),
    ("profiles nested", '[sandbox.ci.inner]\nmax_execution_time = "5ms"\n'),
    ("wrong value in a profile", '[sandbox.ci]\nexecution_mode = "InProcess"\n'),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--sample", required=True)
    a = ap.parse_args()

    def cli(*args):
        return subprocess.run([a.cli, *args], capture_output=True, timeout=60)

    p = cli("schema")
    if p.returncode != 0:
        print(f"FAIL: hyperlight schema exited {p.returncode}: {p.stderr.decode()}")
        return 1
    schema = json.loads(p.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failures = 0

    def expect_valid(name, text):
        nonlocal failures
        errors = [e.message for e in validator.iter_errors(tomllib.loads(text))]
        if errors:
            print(f"FAIL: {name} should validate: {errors}")
            failures += 1
        else:
            print(f"ok: {name} validates")

    if os.path.exists(a.sample):
        with open(a.sample, encoding="utf-8") as f:
            expect_valid("the HIP sample", f.read())
    elif os.environ.get("CI") == "true":
        print(f"FAIL: the HIP sample is not at {a.sample}")
        failures += 1
    else:
        print(f"note: the HIP sample is not at {a.sample}; not checked")

    p = cli("init")
    expect_valid("the template", p.stdout.decode("utf-8"))
    for path in sorted(glob.glob(os.path.join(a.source_dir, "examples", "*.toml"))):
        with open(path, encoding="utf-8") as f:
            expect_valid(os.path.relpath(path, a.source_dir), f.read())

    for what, text in WRONG:
        doc = tomllib.loads(text)
        if validator.is_valid(doc):
            print(f"FAIL: the schema accepts a wrong file ({what}): {text!r}")
            failures += 1
        else:
            print(f"ok: rejected ({what})")

    # The schema must accept everything the loader accepts.
    corpus = os.path.join(a.source_dir, "tests", "golden", "check")
    for path in sorted(glob.glob(os.path.join(corpus, "*.toml"))):
        try:
            with open(path, "rb") as f:
                doc = tomllib.load(f)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        accepted = cli("check", path).returncode == 0
        valid = validator.is_valid(doc)
        if accepted and not valid:
            print(f"FAIL: {os.path.basename(path)}: accepted by the loader, rejected by the schema")
            failures += 1
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
