#!/usr/bin/env python3
"""Compares kseal's decrypt output with a known plaintext.

usage: compare_expected.py KSEAL_OUTPUT_FILE EXPECTED [--json] [--enc=ENCRYPTED_FILE]

EXPECTED is either a `.json` file holding the JSON array that `sops_check.py --dump` prints
(the sops-made `*.expected.json` files) or a plain YAML manifest (loaded with the checker's
loader, e.g. metalkast/four-secrets.plain.yaml or the input of a sops encryption).
`--json` reads KSEAL_OUTPUT_FILE as JSON instead of YAML. Exit 0 if the data are equal; else
exit 1 and print the differing key paths only, never a value.

`--enc=ENCRYPTED_FILE` (the sops file EXPECTED was dumped from): sops writes a comment inside a
sequence as a list element `ENC[...,type:comment]`, and the checker dumps its text as a string
element; a correct decryption turns it back into a comment (or drops it). With --enc those
elements are removed from EXPECTED before comparing.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plain_to_json as pj  # noqa: E402


def load_encrypted(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    load = pj.sops_check.load_json if path.endswith(".json") else pj.sops_check.load_yaml
    docs = [[(k, v) for k, v in d if k != "sops"] for d in load(text)]
    return pj.normalize([pj.sops_check.to_jsonable(d) for d in docs])


def is_comment_element(v):
    m = isinstance(v, str) and pj.sops_check.ENC_RE.match(v)
    return bool(m) and m.group(4) == "comment"


def drop_sequence_comments(want, enc):
    """`want` without the list elements that are encrypted comments in `enc` (same shape)."""
    if isinstance(want, dict) and isinstance(enc, dict):
        return {k: (drop_sequence_comments(v, enc[k]) if k in enc else v) for k, v in want.items()}
    if isinstance(want, list) and isinstance(enc, list) and len(want) == len(enc):
        return [drop_sequence_comments(w, e) for w, e in zip(want, enc) if not is_comment_element(e)]
    return want


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    out_file, expected = args
    if expected.endswith(".json"):
        with open(expected, encoding="utf-8") as f:
            want = pj.normalize(json.load(f))
    else:
        want = pj.load_plain(expected)
    for a in sys.argv[1:]:
        if a.startswith("--enc="):
            want = drop_sequence_comments(want, load_encrypted(a[len("--enc="):]))
    got = pj.load_plain(out_file, "--json" in sys.argv)
    return pj.report(got, want, os.path.basename(out_file))


if __name__ == "__main__":
    sys.exit(main())
