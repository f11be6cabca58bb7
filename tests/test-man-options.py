#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Each program's --help and its man page document the same options, and --version names the
version the man page was built for.

    test-man-options.py MAN_DIR PROGRAM...

MAN_DIR is the built man tree (man1/, man8/); each PROGRAM's page is found by its name. Options
are read from the OPTIONS section of the roff source (long and short forms) and from the lines of
--help that start with an option.
"""
import os
import re
import subprocess
import sys


def man_page(man_dir, name):
    for section in ("1", "8"):
        path = os.path.join(man_dir, "man" + section, name + "." + section)
        if os.path.exists(path):
            return path
    raise SystemExit(f"FAIL: no man page for {name} in {man_dir}")


def man_options(text):
    """Options named in the OPTIONS section, and the version in .TH."""
    m = re.search(r"^\.SH OPTIONS\n(.*?)^\.SH ", text, re.S | re.M)
    if not m:
        raise SystemExit("FAIL: the man page has no OPTIONS section")
    section = re.sub(r"\\f(\(..|\[[^]]*\]|.)", "", m.group(1)).replace("\\-", "-")  # fonts, dashes
    longs = set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", section))
    shorts = set(re.findall(r"(?<![\w-])-([a-zA-Z])(?![\w-])", section))
    th = re.search(r'^\.TH \S+ \d "[^"]*" "\S+ ([^"]+)"', text, re.M)
    return longs, shorts, th.group(1) if th else None


def help_options(text):
    """Options of the lines of --help that start with one: "  -s, --size=SIZE", "      --scope"."""
    longs, shorts = set(), set()
    for line in text.splitlines():
        m = re.match(r"^\s+(?:-([a-zA-Z]),\s+)?--([a-z][a-z0-9-]*)", line)
        if m:
            if m.group(1):
                shorts.add(m.group(1))
            longs.add(m.group(2))
        else:
            m = re.match(r"^\s+-([a-zA-Z])\b", line)
            if m:
                shorts.add(m.group(1))
    return longs, shorts


def run(argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(argv)} exited with {r.returncode}: {r.stderr}")
    return r.stdout


def check(man_dir, program):
    name = os.path.basename(program)
    with open(man_page(man_dir, name), encoding="utf-8") as f:
        m_longs, m_shorts, m_version = man_options(f.read())
    h_longs, h_shorts = help_options(run([program, "--help"]))
    version = run([program, "--version"]).split()
    errors = []
    for what, only in (("long options in --help but not in the man page", h_longs - m_longs),
                       ("long options in the man page but not in --help", m_longs - h_longs),
                       ("short options in --help but not in the man page", h_shorts - m_shorts),
                       ("short options in the man page but not in --help", m_shorts - h_shorts)):
        if only:
            errors.append(f"{what}: {', '.join(sorted(only))}")
    if version != [name, m_version]:
        errors.append(f"--version says {' '.join(version)!r}, the man page {name} {m_version}")
    if not h_longs:
        errors.append("no option found in --help")
    if errors:
        print(f"FAIL: {name}:\n  " + "\n  ".join(errors))
        return False
    print(f"ok: {name}: {len(h_longs)} long and {len(h_shorts)} short options agree, version {m_version}")
    return True


def main():
    if len(sys.argv) < 3:
        raise SystemExit("usage: test-man-options.py MAN_DIR PROGRAM...")
    results = [check(sys.argv[1], p) for p in sys.argv[2:]]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
