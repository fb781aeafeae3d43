#!/usr/bin/env python3
"""run_golden.py - golden tests of the `hyperlight` CLI: exact output, the template round trip,
docs drift, examples and colour.

Modes (each is one CTest test; exit 0 pass, 1 fail, 77 skipped):
  case      --cli CLI --dir DIR --name NAME [--sample PATH]
            Runs one case of DIR and compares exit status, stdout and stderr with
            DIR/NAME.expected. The arguments are DIR/NAME.args (one per line) or, without it,
            `check NAME.toml`; DIR/NAME.stdin, if present, is fed on standard input. The command
            runs in DIR, so diagnostics show the short relative file name. ${SAMPLE} in the
            arguments stands for the HIP's sample hyperfile (the case is skipped where it is
            missing, failed under CI=true). ${GUESTS} stands for the build's guest directory
            (--guests): the output shows it as ${GUESTS} again, and in such a case hexadecimal
            addresses of 9 digits or more (fault addresses, rip) show as 0xADDR. ${TMP} stands
            for a fresh temporary directory (removed afterwards; shown as ${TMP}). DIR/NAME.setup,
            if present, is one more command's arguments (one per line, the same substitutions),
            run first: it must succeed, and its output is not compared (e.g. `snapshot ... -o
            ${TMP}/s.hls` before a case that runs the snapshot).
  roundtrip --cli CLI       `hyperlight init` output loaded back gives exactly the defaults.
  docs      --cli CLI --doc FILE
            The text of FILE between <!-- BEGIN GENERATED KEYS --> and <!-- END GENERATED KEYS -->
            equals `hyperlight reference`.
  example   --cli CLI --file FILE
            FILE passes `hyperlight check` with nothing on stderr, and so does each of its
            [sandbox.NAME] profiles.
  color     --cli CLI --file FILE
            Diagnostics are coloured when stderr is a terminal, plain when NO_COLOR is set.

With UPDATE_GOLDEN=1, `case` and `docs` rewrite the expectation instead of comparing: review the
change (git diff) before committing it.
"""
import argparse
import difflib
import json
import os
import pty
import re
import subprocess
import sys
import tempfile
import tomllib

BEGIN = "<!-- BEGIN GENERATED KEYS -->"
END = "<!-- END GENERATED KEYS -->"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
SKIP = 77


def plain_env():
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env["TERM"] = "xterm"
    return env


def run(cmd, cwd=None, stdin=b"", env=None):
    p = subprocess.run(cmd, cwd=cwd, input=stdin, capture_output=True, env=env or plain_env(),
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def show_diff(name, expected, actual):
    diff = difflib.unified_diff(expected.decode("utf-8", "replace").splitlines(True),
                                actual.decode("utf-8", "replace").splitlines(True),
                                "expected/" + name, "actual/" + name)
    sys.stdout.writelines(diff)
    sys.stdout.write("\n(run with UPDATE_GOLDEN=1 to accept the actual output, then review it)\n")


def compose(code, out, err):
    return (b"exit: %d\n--- stdout ---\n" % code) + out + b"--- stderr ---\n" + err


def mask_guests(text, guests):
    """The guest directory as ${GUESTS}, and addresses (9+ hex digits) as 0xADDR."""
    text = text.replace(guests.encode(), b"${GUESTS}")
    return re.sub(rb"0x[0-9a-fA-F]{9,}", b"0xADDR", text)


def read_args(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip() != ""]


def mode_case(a):
    base = os.path.join(a.dir, a.name)
    setup = read_args(base + ".setup") if os.path.exists(base + ".setup") else None
    if any("${TMP}" in x for x in (setup or [])) or (
            os.path.exists(base + ".args") and any("${TMP}" in x for x in read_args(base + ".args"))):
        with tempfile.TemporaryDirectory() as tmp:
            return case_in(a, base, setup, tmp)
    return case_in(a, base, setup, None)


def case_in(a, base, setup, tmp):
    if os.path.exists(base + ".args"):
        args = read_args(base + ".args")
    else:
        args = ["check", a.name + ".toml"]
    if tmp:
        args = [x.replace("${TMP}", tmp) for x in args]
        setup = [x.replace("${TMP}", tmp) for x in setup] if setup else setup
    sample = os.path.abspath(a.sample) if a.sample else ""
    if any("${SAMPLE}" in x for x in args):
        if not sample or not os.path.exists(sample):
            msg = f"the HIP sample hyperfile is not at {a.sample!r}"
            if os.environ.get("CI") == "true":
                print("FAIL: " + msg)
                return 1
            print("SKIP: " + msg)
            return SKIP
        args = [x.replace("${SAMPLE}", sample) for x in args]
    guests = os.path.abspath(a.guests) if a.guests else ""
    uses_guests = any("${GUESTS}" in x for x in args + (setup or []))
    if uses_guests:
        if not guests or not os.path.isdir(guests):
            print(f"FAIL: the guest directory {a.guests!r} does not exist (build the guests)")
            return 1
        args = [x.replace("${GUESTS}", guests) for x in args]
        setup = [x.replace("${GUESTS}", guests) for x in setup] if setup else setup
    if setup:
        code, out, err = run([a.cli] + setup, cwd=a.dir)
        if code != 0:
            print(f"FAIL: the setup command {setup!r} exited {code}")
            sys.stdout.write((out + err).decode("utf-8", "replace"))
            return 1
    stdin = b""
    if os.path.exists(base + ".stdin"):
        with open(base + ".stdin", "rb") as f:
            stdin = f.read()
    code, out, err = run([a.cli] + args, cwd=a.dir, stdin=stdin)
    if sample:
        out = out.replace(sample.encode(), b"${SAMPLE}")
        err = err.replace(sample.encode(), b"${SAMPLE}")
    if tmp:
        out, err = (x.replace(tmp.encode(), b"${TMP}") for x in (out, err))
    if uses_guests:
        out, err = (mask_guests(x, guests) for x in (out, err))
    actual = compose(code, out, err)
    expected_path = base + ".expected"
    if UPDATE:
        with open(expected_path, "wb") as f:
            f.write(actual)
        print(f"updated {expected_path}")
        return 0
    if not os.path.exists(expected_path):
        print(f"FAIL: no {expected_path}; run with UPDATE_GOLDEN=1 to create it")
        sys.stdout.write(actual.decode("utf-8", "replace"))
        return 1
    with open(expected_path, "rb") as f:
        expected = f.read()
    if expected != actual:
        show_diff(a.name + ".expected", expected, actual)
        return 1
    return 0


def mode_roundtrip(a):
    code, template, err = run([a.cli, "init"])
    if code != 0 or err:
        print(f"FAIL: hyperlight init exited {code}: {err.decode()}")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "template.toml")
        with open(path, "wb") as f:
            f.write(template)
        code, loaded, err = run([a.cli, "config", "--hyperfile", path, "--format", "json"])
        if code != 0 or err:
            print(f"FAIL: loading the template exited {code}: {err.decode()}")
            return 1
        code2, defaults, err2 = run([a.cli, "config", "--format", "json"])
        if code2 != 0 or err2:
            print(f"FAIL: hyperlight config exited {code2}: {err2.decode()}")
            return 1
        if json.loads(loaded) != json.loads(defaults):
            show_diff("config.json", defaults, loaded)
            return 1
        # Every key of the template is set, so with origins each one is from the file.
        code, origins, err = run([a.cli, "config", "--hyperfile", path, "--format", "json",
                                  "--show-origin"])
        not_file = [k for k, v in json.loads(origins).items() if v.get("origin") != "hyperfile"]
        if code != 0 or not_file:
            print(f"FAIL: keys the template does not set: {not_file}")
            return 1
        # The commented example profiles are valid once uncommented.
        lines = template.decode("utf-8").splitlines(True)
        start = next(i for i, line in enumerate(lines) if line.startswith("# Profiles."))
        example = "".join(lines[:start]) + "".join(
            line[2:] if re.match(r"# (\[sandbox\.|[a-z_]+ = )", line) else line
            for line in lines[start:])
        profiles = re.findall(r"^\[sandbox\.([A-Za-z0-9_-]+)\]", example, re.M)
        with open(path, "w", encoding="utf-8") as f:
            f.write(example)
        for profile in profiles:
            code, _, err = run([a.cli, "check", path, "--profile", profile])
            if code != 0 or err:
                print(f"FAIL: the template's example profile {profile} exited {code}: "
                      f"{err.decode()}\n{example}")
                return 1
        if not profiles:
            print("FAIL: the template has no example profile")
            return 1
        with open(path, "wb") as f:
            f.write(template)
        # And `init FILE` refuses to overwrite it, unless --force.
        code, _, err = run([a.cli, "init", path])
        if code != 1 or b"already exists" not in err:
            print(f"FAIL: init over an existing file exited {code}: {err.decode()}")
            return 1
        code, _, err = run([a.cli, "init", path, "--force"])
        with open(path, "rb") as f:
            if code != 0 or f.read() != template:
                print(f"FAIL: init --force exited {code}: {err.decode()}")
                return 1
    # `config --format toml` prints a hyperfile that loads back to the same values.
    sets = ["--set", "input_data_size=4MiB", "--set", "max_execution_time=1.5s",
            "--set", "stack_size_override=64KiB", "--set", "execution_mode=RunInProcess"]
    for origin in ([], ["--show-origin"]):
        code, toml_out, err = run([a.cli, "config", *sets, *origin])
        _, want, _ = run([a.cli, "config", *sets, "--format", "json"])
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "effective.toml")
            with open(path, "wb") as f:
                f.write(toml_out)
            code2, got, err2 = run([a.cli, "config", "--hyperfile", path, "--format", "json"])
        if code != 0 or code2 != 0 or json.loads(got) != json.loads(want):
            print(f"FAIL: config --format toml {origin} does not load back: {err}{err2}")
            show_diff("config.json", want, got)
            return 1
    print("template round trip: ok")
    return 0


def mode_docs(a):
    code, ref, err = run([a.cli, "reference"])
    if code != 0:
        print(f"FAIL: hyperlight reference exited {code}: {err.decode()}")
        return 1
    with open(a.doc, "rb") as f:
        doc = f.read().decode("utf-8")
    if BEGIN not in doc or END not in doc:
        print(f"FAIL: {a.doc} lacks the markers {BEGIN} / {END}")
        return 1
    head, rest = doc.split(BEGIN, 1)
    current, tail = rest.split(END, 1)
    wanted = "\n" + ref.decode("utf-8") + "\n"
    if current == wanted:
        print("docs match the field table")
        return 0
    if UPDATE:
        with open(a.doc, "w", encoding="utf-8") as f:
            f.write(head + BEGIN + wanted + END + tail)
        print(f"updated the generated keys of {a.doc}")
        return 0
    show_diff(os.path.basename(a.doc), current.encode(), wanted.encode())
    print("docs/hyperfile.md is out of date with the field table")
    return 1


def mode_example(a):
    with open(a.file, "rb") as f:
        profiles = list(tomllib.load(f).get("sandbox", {}).keys())
    failed = 0
    for profile in [None] + profiles:
        cmd = [a.cli, "check", a.file] + (["--profile", profile] if profile else [])
        code, out, err = run(cmd)
        what = a.file + (f" --profile {profile}" if profile else "")
        if code != 0 or err:
            print(f"FAIL: {what}: exit {code}\n{err.decode('utf-8', 'replace')}")
            failed = 1
        else:
            print(f"ok: {what}")
    return failed


def run_on_tty(cmd, env):
    """Runs cmd with stderr on a pseudo-terminal; returns (exit status, stderr bytes)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return p.wait(timeout=60), b"".join(chunks)


def mode_color(a):
    env = plain_env()
    code, err = run_on_tty([a.cli, "check", a.file], env)
    if code != 2 or b"\x1b[" not in err:
        print(f"FAIL: no colour on a terminal (exit {code}): {err!r}")
        return 1
    env["NO_COLOR"] = "1"
    code, err = run_on_tty([a.cli, "check", a.file], env)
    if code != 2 or b"\x1b[" in err or b"error" not in err:
        print(f"FAIL: colour despite NO_COLOR (exit {code}): {err!r}")
        return 1
    code, _, err = run([a.cli, "check", a.file])
    if code != 2 or b"\x1b[" in err:
        print(f"FAIL: colour on a pipe (exit {code}): {err!r}")
        return 1
    print("colour on a terminal only: ok")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["case", "roundtrip", "docs", "example", "color"])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--dir")
    ap.add_argument("--name")
    ap.add_argument("--sample")
    ap.add_argument("--guests")
    ap.add_argument("--doc")
    ap.add_argument("--file")
    a = ap.parse_args()
    a.cli = os.path.abspath(a.cli)
    return {"case": mode_case, "roundtrip": mode_roundtrip, "docs": mode_docs,
            "example": mode_example, "color": mode_color}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
