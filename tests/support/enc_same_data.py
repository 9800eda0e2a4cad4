#!/usr/bin/env python3
"""Compares two YAML streams as data (used by tests/cli/encrypt.rs).

usage: enc_same_data.py A B

Loads both files with PyYAML's safe loader and compares the lists of documents. Exit 0 if they
are equal; else exit 1 and print the differing paths only (`doc 2: data.password`), never a
value. Exit 2 on a usage or load error (the error names the file and the position, not the
text).

Plain scalars are typed like go-yaml v3 (what sops and kseal use), not like YAML 1.1: only
true/false are booleans (`yes`, `on` stay strings), `0755`/`0o17`/`0x1F`/`0b11` are integers,
`1e3` is a float. An int and a float compare equal when their values are equal (sops writes
the float 1000 as `1000`).
"""
import re
import sys

import yaml


class CoreLoader(yaml.SafeLoader):
    """SafeLoader with go-yaml v3 (YAML 1.2 core) typing of bools, ints and floats."""


_DROP = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
CoreLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in _DROP]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
CoreLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
CoreLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?0b[01]+)$"),
    list("-+0123456789"))
CoreLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))


def _int(loader, node):
    v = loader.construct_scalar(node)
    sign = -1 if v.startswith("-") else 1
    d = v.lstrip("+-")
    if d.startswith("0o"):
        n = int(d[2:], 8)
    elif d.startswith("0x"):
        n = int(d[2:], 16)
    elif d.startswith("0b"):
        n = int(d[2:], 2)
    elif len(d) > 1 and d.startswith("0") and re.fullmatch(r"[0-7]+", d):
        n = int(d, 8)
    else:
        n = int(d)
    return sign * n


def _bool(loader, node):
    return loader.construct_scalar(node).lower() == "true"


CoreLoader.add_constructor("tag:yaml.org,2002:int", _int)
CoreLoader.add_constructor("tag:yaml.org,2002:bool", _bool)


def load(path):
    try:
        with open(path, "rb") as f:
            return list(yaml.load_all(f, Loader=CoreLoader))
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
