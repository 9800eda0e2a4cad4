#!/usr/bin/env python3
"""Loads a PLAIN manifest (kseal's decrypt output) with the independent checker's own loader
and prints it as a JSON array, one element per document, like `sops_check.py --dump`.

usage: plain_to_json.py FILE [--json]

`--json` reads FILE as JSON (sops_check.load_json) instead of YAML. A document that still has
a top-level `sops` key is an error (exit 2): kseal must strip the sops block. Also a module:
compare_dump.py and compare_expected.py import load_plain() and diff_paths() from here.
Nothing in this file ever prints a value, only key paths and type names.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_TOOLS = os.path.normpath(
    os.environ.get("KSEAL_TEST_SHARED_TOOLS") or os.path.join(HERE, "..", "..", "..", "shared", "tools"))
sys.path.insert(0, SHARED_TOOLS)

import sops_check  # noqa: E402  (the shared independent checker)


def normalize(v):
    """A JSON round trip, so values from the checker and from json.load compare alike."""
    return json.loads(json.dumps(v, ensure_ascii=False, default=str))


def load_plain(path, as_json=False):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        docs = (sops_check.load_json if as_json else sops_check.load_yaml)(text)
    except Exception as e:  # only the position: a parser's context lines would show values
        mark = getattr(e, "problem_mark", None) or getattr(e, "lineno", None)
        where = " at line %d" % (mark.line + 1) if hasattr(mark, "line") else (
            " at line %d" % mark if isinstance(mark, int) else "")
        raise SystemExit("%s: cannot be loaded as %s%s (%s)" % (path, "JSON" if as_json else "YAML", where,
                                                                  type(e).__name__))
    for i, d in enumerate(docs):
        if any(k == "sops" for k, _ in d):
            raise SystemExit("%s: document %d still has a sops block" % (path, i + 1))
    return normalize([sops_check.to_jsonable(b) for b in docs])


def parse_dump(stdout):
    """The JSON array at the end of `sops_check.py --dump` output (after the report lines)."""
    lines = stdout.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("["):
            return normalize(json.loads("\n".join(lines[i:])))
    raise ValueError("no JSON array in the checker's output")


def _kind(v):
    return type(v).__name__


def diff_paths(got, want, path="$"):
    """Key paths where `got` differs from `want` (never the values themselves)."""
    out = []
    if isinstance(got, dict) and isinstance(want, dict):
        for k in want:
            if k not in got:
                out.append("%s.%s: missing in kseal output" % (path, k))
        for k in got:
            if k not in want:
                out.append("%s.%s: unexpected in kseal output" % (path, k))
            else:
                out.extend(diff_paths(got[k], want[k], "%s.%s" % (path, k)))
        if not out and list(got) != list(want):
            pass  # key order is not part of the data
        return out
    if isinstance(got, list) and isinstance(want, list):
        if len(got) != len(want):
            out.append("%s: %d elements in kseal output, %d expected" % (path, len(got), len(want)))
        for i, (g, w) in enumerate(zip(got, want)):
            out.extend(diff_paths(g, w, "%s[%d]" % (path, i)))
        return out
    if type(got) is not type(want) and not (isinstance(got, (int, float)) and isinstance(want, (int, float))
                                            and not isinstance(got, bool) and not isinstance(want, bool)):
        return ["%s: type differs (kseal %s, expected %s)" % (path, _kind(got), _kind(want))]
    if got != want:
        return ["%s: value differs (%s)" % (path, _kind(want))]
    return []


def report(got, want, label):
    diffs = diff_paths(got, want)
    if diffs:
        print("%s: kseal's plaintext differs at %d path(s):" % (label, len(diffs)))
        for d in diffs[:50]:
            print("  " + d)
        return 1
    return 0


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    print(json.dumps(load_plain(args[0], "--json" in sys.argv), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
