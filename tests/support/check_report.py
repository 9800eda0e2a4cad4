#!/usr/bin/env python3
"""Reads a `kseal check --format json` or `--format sarif` report on stdin and prints one line
per finding: `RULE FILE:LINE LEVEL` (suppressed findings with ` suppressed`), sorted. A SARIF
log is first validated against the official SARIF 2.1.0 schema (Draft 4), given as argv[1];
an invalid log exits 1 with the validation error."""
import json
import sys

import jsonschema

data = json.load(sys.stdin)
lines = []
if "runs" in data:
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    jsonschema.Draft4Validator(schema).validate(data)
    (run,) = data["runs"]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for r in run["results"]:
        assert rules[r["ruleIndex"]] == r["ruleId"], r
        (loc,) = r["locations"]
        pl = loc["physicalLocation"]
        assert pl["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        mark = " suppressed" if r.get("suppressions") else ""
        lines.append(f'{r["ruleId"]} {pl["artifactLocation"]["uri"]}:{pl["region"]["startLine"]} {r["level"]}{mark}')
    print("rules " + ",".join(rules))
else:
    for f in data["findings"]:
        lines.append(f'{f["code"]} {f["file"]}:{f["line"]} {f["severity"]}')
    for f in data.get("suppressed_findings", []):
        lines.append(f'{f["code"]} {f["file"]}:{f["line"]} {f["severity"]} suppressed')
    print(f'counts errors={data["errors"]} warnings={data["warnings"]} notes={data["notes"]} suppressed={data["suppressed"]}')
for line in sorted(lines):
    print(line)
