#!/usr/bin/env python3
"""A non-interactive EDITOR for `sops edit` (used by tests/cli/encrypt.rs).

usage: enc_editor_add_key.py FILE

Loads the plain YAML that sops hands to the editor, sets `stringData.<KEY>` to <VALUE> in every
`kind: Secret` document (KEY and VALUE from the variables ENC_EDITOR_KEY and ENC_EDITOR_VALUE,
default `added-by-editor` / `new-value`) and writes the file back. Prints nothing.
"""
import os
import sys

import yaml


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    path = sys.argv[1]
    key = os.environ.get("ENC_EDITOR_KEY", "added-by-editor")
    value = os.environ.get("ENC_EDITOR_VALUE", "new-value")
    with open(path, encoding="utf-8") as f:
        docs = list(yaml.safe_load_all(f))
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "Secret":
            sd = d.get("stringData")
            if not isinstance(sd, dict):
                sd = d["stringData"] = {}
            sd[key] = value
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump_all(docs, f, sort_keys=False, allow_unicode=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
