#!/usr/bin/env python3
"""Compares kseal's decrypt output with a known plaintext.

usage: compare_expected.py KSEAL_OUTPUT_FILE EXPECTED [--json]

EXPECTED is either a `.json` file holding the JSON array that `sops_check.py --dump` prints
(the sops-made `*.expected.json` files) or a plain YAML manifest (loaded with the checker's
loader, e.g. metalkast/four-secrets.plain.yaml or the input of a sops encryption).
`--json` reads KSEAL_OUTPUT_FILE as JSON instead of YAML. Exit 0 if the data are equal; else
exit 1 and print the differing key paths only, never a value.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plain_to_json as pj  # noqa: E402


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
    got = pj.load_plain(out_file, "--json" in sys.argv)
    return pj.report(got, want, os.path.basename(out_file))


if __name__ == "__main__":
    sys.exit(main())
