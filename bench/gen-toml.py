#!/usr/bin/env python3
"""gen-toml.py - writes a deterministic, multi-megabyte, valid TOML 1.0 document for the parser benchmarks."""

import argparse
import random
import sys

# Words for names and prose; fixed so the output depends on the seed alone.
WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "
    "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu sandbox guest "
    "host memory stack heap kernel buffer timeout vcpu page table mapping region shared input "
    "output function exception panic cancel hypervisor process"
).split()

# Characters that a basic string must escape, and how (TOML 1.0 escapes only).
UNICODE_TEXT = ("caf\u00e9", "na\u00efve", "\u00fcber", "\u65e5\u672c", "\u03bb-calculus", "\U0001f680")


def word(rng):
    return rng.choice(WORDS)


def sentence(rng, n):
    return " ".join(word(rng) for _ in range(n))


def basic(s):
    """Quotes s as a TOML basic string, escaping what must be escaped and a few things that may."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u%04X" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def escaped_text(rng):
    """A basic string literal that uses every kind of escape, including \\u and \\U, at random."""
    parts = []
    for _ in range(rng.randint(3, 8)):
        r = rng.random()
        if r < 0.45:
            parts.append(word(rng))
        elif r < 0.55:
            parts.append('\\"' + word(rng) + '\\"')
        elif r < 0.62:
            parts.append("\\t")
        elif r < 0.69:
            parts.append("\\n")
        elif r < 0.74:
            parts.append("C:\\\\Program Files\\\\" + word(rng))
        elif r < 0.82:
            parts.append("\\u%04X" % rng.choice((0xE9, 0xFC, 0x3BB, 0x65E5, 0x2603)))
        elif r < 0.86:
            parts.append("\\U%08X" % rng.choice((0x1F600, 0x1F680, 0x10348)))
        elif r < 0.90:
            parts.append("\\b\\f\\r")
        else:
            parts.append(rng.choice(UNICODE_TEXT))
    return '"' + " ".join(parts) + '"'


def integer(rng):
    r = rng.random()
    if r < 0.55:
        return str(rng.randint(-1000, 100000))
    if r < 0.75:
        return "{:_}".format(rng.randint(1000, 10**12))
    if r < 0.85:
        return "0x%X" % rng.randint(0, 0xFFFFFFFF)
    if r < 0.92:
        return "0o%o" % rng.randint(0, 0o777)
    return "0b%s" % format(rng.randint(0, 255), "b")


def floating(rng):
    r = rng.random()
    if r < 0.55:
        return "%.6f" % rng.uniform(-1000.0, 1000.0)
    if r < 0.75:
        return "%.3e" % rng.uniform(1e-9, 1e12)
    if r < 0.85:
        return "{:_}.{:d}".format(rng.randint(1000, 10**7), rng.randint(0, 999))
    if r < 0.95:
        return "%d.%dE-%d" % (rng.randint(1, 9), rng.randint(0, 99), rng.randint(1, 30))
    return rng.choice(("inf", "+inf", "-inf", "nan", "+nan", "-0.0", "+0.5"))


def date(rng):
    return "%04d-%02d-%02d" % (rng.randint(1970, 2035), rng.randint(1, 12), rng.randint(1, 28))


def time_(rng, frac=True):
    t = "%02d:%02d:%02d" % (rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))
    if frac and rng.random() < 0.4:
        t += "." + "".join(rng.choice("0123456789") for _ in range(rng.choice((3, 6, 9))))
    return t


def datetime(rng):
    r = rng.random()
    if r < 0.35:
        return date(rng) + "T" + time_(rng) + "Z"
    if r < 0.6:
        sign = rng.choice("+-")
        return date(rng) + rng.choice("T ") + time_(rng) + "%s%02d:%02d" % (sign, rng.randint(0, 12), rng.choice((0, 30, 45)))
    if r < 0.8:
        return date(rng) + "T" + time_(rng)
    if r < 0.92:
        return date(rng)
    return time_(rng)


def scalar(rng):
    r = rng.random()
    if r < 0.3:
        return basic(sentence(rng, rng.randint(1, 4)))
    if r < 0.4:
        return escaped_text(rng)
    if r < 0.45:
        return "'" + "C:\\Users\\" + word(rng) + "\\" + word(rng) + "'"
    if r < 0.65:
        return integer(rng)
    if r < 0.8:
        return floating(rng)
    if r < 0.88:
        return rng.choice(("true", "false"))
    return datetime(rng)


def array(rng, depth=0):
    kind = rng.random()
    n = rng.randint(0, 6)
    if depth < 2 and kind < 0.2:
        items = [array(rng, depth + 1) for _ in range(n)]
    elif kind < 0.4:
        items = [integer(rng) for _ in range(n)]
    elif kind < 0.55:
        items = [floating(rng) for _ in range(n)]
    elif kind < 0.75:
        items = [basic(word(rng)) for _ in range(n)]
    elif depth < 2 and kind < 0.85:
        items = [inline_table(rng, depth + 1) for _ in range(n)]
    else:
        items = [scalar(rng) for _ in range(n)]  # mixed types: allowed since TOML 1.0
    if depth == 0 and n > 3 and rng.random() < 0.3:  # multi-line, comments, trailing comma
        return "[\n" + "".join("  %s, # %s\n" % (it, word(rng)) for it in items) + "]"
    return "[" + ", ".join(items) + "]"


def inline_table(rng, depth=0):
    n = rng.randint(0, 4)
    keys = rng.sample(WORDS, n)
    parts = []
    for k in keys:
        r = rng.random()
        if depth < 2 and r < 0.15:
            parts.append("%s = %s" % (k, inline_table(rng, depth + 1)))
        elif depth < 2 and r < 0.3:
            parts.append("%s = %s" % (k, array(rng, depth + 1)))
        elif r < 0.45:
            parts.append("%s.%s = %s" % (k, word(rng), scalar(rng)))  # dotted key inside
        else:
            parts.append("%s = %s" % (k, scalar(rng)))
    return "{ " + ", ".join(parts) + " }" if parts else "{}"


def multiline(rng):
    lines = [sentence(rng, rng.randint(3, 12)) for _ in range(rng.randint(2, 6))]
    if rng.random() < 0.5:
        body = "\n".join(lines).replace("alpha", 'say \\"alpha\\"').replace("echo", "echo\\t")
        return '"""\n' + body + '\\\n   trailing line, joined"""'
    return "'''\n" + "\n".join(lines) + "\n'''"


def package(rng, i, out):
    """A [[package]] entry in the style of a lock file, with sub-tables and arrays of tables."""
    w = out.append
    w("[[package]]\n")
    w('name = "%s-%s-%06d"\n' % (word(rng), word(rng), i))
    w('version = "%d.%d.%d"\n' % (rng.randint(0, 9), rng.randint(0, 40), rng.randint(0, 99)))
    w('checksum = "sha256:%064x"\n' % rng.getrandbits(256))
    w("description = %s\n" % escaped_text(rng))
    w("dependencies = %s\n" % ("[" + ", ".join(basic("%s-%d" % (word(rng), rng.randint(0, i + 1))) for _ in range(rng.randint(0, 5))) + "]"))
    w("features = { default = [\"std\"], %s = [\"dep:%s\"], extra = %s }\n" % (word(rng) + "_x", word(rng), array(rng, 1)))
    w('source.kind = "registry"\n')
    w("source.url = 'https://index.example.org/%s/%d'\n" % (word(rng), i))
    w("source.verified = %s\n" % rng.choice(("true", "false")))
    w("published = %s\n" % datetime(rng))
    if rng.random() < 0.25:
        w("notes = %s\n" % multiline(rng))
    w("\n[package.metadata]\n")
    w("downloads = %s\n" % integer(rng))
    w("score = %s\n" % floating(rng))
    w("matrix = %s\n" % array(rng, 0))
    w('"quoted key %d" = %s\n' % (i, scalar(rng)))
    w("'literal.key' = %s\n" % scalar(rng))
    w("limits.cpu.%s = %s\n" % (word(rng), integer(rng)))
    w("limits.memory = %s\n" % inline_table(rng))
    for m in range(rng.randint(0, 3)):
        w("\n[[package.maintainer]]\n")
        w('name = "%s %s"\n' % (word(rng).title(), word(rng).title()))
        w('email = "%s.%d@example.org"\n' % (word(rng), m))
        w("since = %s\n" % date(rng))
        w("active = %s\n" % rng.choice(("true", "false")))
    w("\n")


def service(rng, i, out):
    """A [service.NAME] section in the style of an application config, mostly dotted keys."""
    w = out.append
    name = "%s_%d" % (word(rng), i)
    w("# service %d: %s\n" % (i, sentence(rng, 6)))
    w("[service.%s]\n" % name)
    w('listen = "0.0.0.0:%d"\n' % rng.randint(1024, 65535))
    w("tls.enabled = %s\n" % rng.choice(("true", "false")))
    w("tls.cert = '/etc/ssl/%s/cert.pem'\n" % name)
    w('tls.ciphers = ["TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"]\n')
    w("timeouts = { connect = %s, read = %s, idle = \"%ds\" }\n" % (floating(rng), integer(rng), rng.randint(1, 600)))
    w("retry.max = %d\nretry.backoff = %s\n" % (rng.randint(0, 10), floating(rng)))
    w("window.start = %s\nwindow.end = %s\n" % (time_(rng), time_(rng)))
    w("created = %s\n" % datetime(rng))
    w("labels = %s\n" % inline_table(rng))
    for e in range(rng.randint(1, 4)):
        w("\n[[service.%s.endpoint]]\n" % name)
        w('path = "/api/v%d/%s/{id}"\n' % (rng.randint(1, 3), word(rng)))
        w("methods = %s\n" % ("[" + ", ".join(basic(m) for m in rng.sample(["GET", "PUT", "POST", "DELETE"], rng.randint(1, 4))) + "]"))
        w("rate = %s\n" % floating(rng))
        w("auth = %s\n" % inline_table(rng))
        w("weights = %s\n" % array(rng))
    w("\n")


def generate(size, seed):
    rng = random.Random(seed)
    out = []
    total = 0
    head = (
        "# Generated by bench/gen-toml.py (seed %d) for the TOML parser benchmark.\n"
        'title = "hyperlight-c benchmark document"\n'
        "version = 1\n"
        "generated = 2024-01-01T00:00:00Z\n\n"
        "[owner]\n"
        'name = "Tom Preston-Werner"\n'
        "dob = 1979-05-27T07:32:00-08:00\n\n" % seed
    )
    out.append(head)
    total += len(head.encode())
    i = 0
    while total < size:
        chunk = []
        if i % 3 == 2:
            service(rng, i, chunk)
        else:
            package(rng, i, chunk)
        text = "".join(chunk)
        out.append(text)
        total += len(text.encode())
        i += 1
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("output", help="file to write ('-' for stdout)")
    ap.add_argument("--size", type=float, default=8.0, help="approximate size in MB (default 8)")
    ap.add_argument("--seed", type=int, default=20240101)
    ap.add_argument("--check", action="store_true", help="parse the result with tomllib")
    args = ap.parse_args()
    text = generate(int(args.size * 1e6), args.seed)
    if args.check:
        import tomllib

        tomllib.loads(text)
    data = text.encode("utf-8")
    if args.output == "-":
        sys.stdout.buffer.write(data)
    else:
        with open(args.output, "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
