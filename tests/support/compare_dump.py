#!/usr/bin/env python3
"""Compares kseal's decrypt output with the independent checker's plaintext.

usage: compare_dump.py KSEAL_OUTPUT_FILE ENCRYPTED_FILE KEY_FILE [--json]

Runs `python3 sops_check.py ENCRYPTED_FILE KEY_FILE --dump` (the shared checker), takes the JSON
array it prints after its report lines, loads KSEAL_OUTPUT_FILE with the checker's own loader
(see plain_to_json.py) and compares the two as data. Exit 0 if equal; else exit 1 and print the
differing key paths only, never a value. Exit 3 if the checker could not decrypt the file.
The checker's MAC verdict is not used here (it hashes timestamps by their raw text).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plain_to_json as pj  # noqa: E402


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 3:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    out_file, enc_file, key_file = args
    p = subprocess.run([sys.executable, os.path.join(pj.SHARED_TOOLS, "sops_check.py"), enc_file, key_file,
                        "--dump"], capture_output=True, text=True)
    try:
        want = pj.parse_dump(p.stdout)
    except ValueError:
        # The report lines name no value; show them so a failure is understandable.
        report = "\n".join(l for l in p.stdout.split("\n") if not l.startswith("    "))
        print("sops_check.py could not decrypt %s (exit %d):\n%s\n%s" % (enc_file, p.returncode, report,
                                                                        p.stderr[-2000:]))
        return 3
    got = pj.load_plain(out_file, "--json" in sys.argv)
    return pj.report(got, want, enc_file)


if __name__ == "__main__":
    sys.exit(main())
