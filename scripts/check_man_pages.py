#!/usr/bin/python3
"""Renders every man page as a reader gets it and fails on what a reader
would trip over:

* run-together words: every word of `man -l` output (MANWIDTH=80) must be a
  word of the page's source. A macro that eats spaces (`.IR a . The x` renders
  "a.Thex") makes a word the source never has. Words are runs of ASCII
  letters and digits; the source's words are taken from its text lines and
  every argument of its requests, each argument a word apart (troff joins
  the arguments of .BR and friends without a space, which is the bug);
* troff warnings (`groff -ww -z -man`).

usage: check_man_pages.py DIR...     check every page (*.[1-9]) in DIR
       check_man_pages.py --self-test
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

WORD = re.compile(r"[A-Za-z0-9]+")
ESCAPE = re.compile(r"\\(?:f(?:\(..|\[[^\]]*\]|.)|s[+-]?(?:\(\d\d|\[[^\]]*\]|\d)|\*(?:\(..|\[[^\]]*\]|.)|\(..|\[[^\]]*\]|.)")


def unescape(m):
    e = m.group(0)
    if e in ("\\\\", "\\e"):
        return "\\"
    if e[1] in "fs" or e[1] in "&|^%:)c":
        return ""  # fonts, sizes and escapes that print nothing
    if e[1] == "-":
        return "-"
    if e[1] in "(*[ ~0":
        return " "  # special characters and strings: no letters of their own
    return e[1:]


def request_args(line):
    """The arguments of a request line, as troff splits them: spaces
    separate, double quotes group ("" inside quotes is a quote)."""
    args, cur, quoted, i, started = [], "", False, 0, False
    while i < len(line):
        c = line[i]
        if quoted:
            if c == '"' and line[i + 1:i + 2] == '"':
                cur += '"'
                i += 1
            elif c == '"':
                quoted = False
            else:
                cur += c
        elif c == '"' and not started:
            quoted, started = True, True
        elif c in " \t":
            if started:
                args.append(cur)
            cur, started = "", False
        else:
            cur += c
            started = True
            if c == "\\" and i + 1 < len(line):
                cur += line[i + 1]
                i += 1
        i += 1
    if started:
        args.append(cur)
    return args


def source_words(text):
    words = set()
    for line in text.splitlines():
        line = re.sub(r'\\".*', "", line)
        parts = request_args(line[1:])[1:] if line.startswith((".", "'")) else [line]
        for p in parts:
            words.update(WORD.findall(ESCAPE.sub(unescape, p)))
    return words


def render(path):
    env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat", LANG="C.UTF-8", LC_ALL="C.UTF-8")
    # No hyphenation, no justification: words are whole and lines plain.
    r = subprocess.run(["man", "--nh", "--nj", "-l", path], env=env, capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def check_page(path):
    problems = []
    with open(path, encoding="utf-8") as f:
        src = f.read()
    rc, out, err = render(path)
    if rc != 0 or err.strip():
        problems.append(f"{path}: man -l failed ({rc}): {err.strip()}")
    known = source_words(src)
    lines = [l for l in out.splitlines() if l.strip()]
    # The first and last lines are the header and footer man makes.
    for n, line in enumerate(lines[1:-1], 2):
        for w in WORD.findall(line):
            if w not in known:
                problems.append(f"{path}: rendered line {n}: \"{w}\" is not a word of the source "
                                f"(run-together words?): {line.strip()}")
    g = subprocess.run(["groff", "-ww", "-z", "-man", path], capture_output=True, timeout=60)
    for w in g.stderr.decode("utf-8", "replace").splitlines():
        problems.append(f"{path}: groff: {w}")
    return problems


def self_test():
    bad = ('.TH T 5 "2026" "bastion" "File Formats"\n.SH NAME\nt \\- test\n.SH DESCRIPTION\n'
           ".IR password=**** . The default replacement is\n\\(dq****\\(dq.\n")
    good = ('.TH T 5 "2026" "bastion" "File Formats"\n.SH NAME\nt \\- test\n.SH DESCRIPTION\nshows\n'
            ".IR password=**** .\nThe default replacement is \\fB\\(dq****\\(dq\\fR, see\n.BR bastion.conf (5)\n"
            "and\n.BI \\-\\-grep \" TEXT\"\n.\n")
    with tempfile.TemporaryDirectory() as d:
        b, g = os.path.join(d, "bad.5"), os.path.join(d, "good.5")
        with open(b, "w") as f:
            f.write(bad)
        with open(g, "w") as f:
            f.write(good)
        got_bad, got_good = check_page(b), check_page(g)
    assert any('"Thedefaultreplacementis"' in p for p in got_bad), got_bad
    assert got_good == [], got_good
    print("self-test OK")
    return 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    pages = sorted(p for d in argv for p in glob.glob(os.path.join(d, "*.[1-9]")))
    if not pages:
        print("no pages found", file=sys.stderr)
        return 1
    problems = [p for page in pages for p in check_page(page)]
    for p in problems:
        print(p)
    print(f"{len(pages)} pages, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
