#!/usr/bin/env python3
"""Compares two YAML streams as data (used by tests/encrypt.rs).

usage: enc_same_data.py A B

Loads both files with yaml.safe_load_all (PyYAML) and compares the lists of documents. Exit 0
if they are equal; else exit 1 and print the differing paths only (`doc 2: data.password`),
never a value. Exit 2 on a usage or load error (the error names the file and the position, not
the text).
"""
import sys

import yaml


def load(path):
    try:
        with open(path, "rb") as f:
            return list(yaml.safe_load_all(f))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        print(f"{path}: YAML error{where}: {e.problem}", file=sys.stderr)
        sys.exit(2)
    except (OSError, yaml.YAMLError) as e:
        print(f"{path}: cannot load: {type(e).__name__}", file=sys.stderr)
        sys.exit(2)


def diff(a, b, path, out):
    if type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                       and not isinstance(a, bool) and not isinstance(b, bool)):
        out.append(f"{path or '(root)'} (type {type(a).__name__} != {type(b).__name__})")
        return
    if isinstance(a, dict):
        for k in a:
            if k not in b:
                out.append(f"{path}.{k} (only in A)" if path else f"{k} (only in A)")
            else:
                diff(a[k], b[k], f"{path}.{k}" if path else str(k), out)
        for k in b:
            if k not in a:
                out.append(f"{path}.{k} (only in B)" if path else f"{k} (only in B)")
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append(f"{path or '(root)'} (length {len(a)} != {len(b)})")
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(path or "(root)")


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    a, b = load(sys.argv[1]), load(sys.argv[2])
    out = []
    if len(a) != len(b):
        out.append(f"number of documents: {len(a)} != {len(b)}")
    for i, (x, y) in enumerate(zip(a, b)):
        d = []
        diff(x, y, "", d)
        out.extend(f"doc {i + 1}: {p}" for p in d)
    for line in out:
        print(line)
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main())
