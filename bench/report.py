#!/usr/bin/env python3
"""The comparison table of `make bench` (bench/run.sh), in Markdown on stdout.

usage: report.py RESULTS_DIR INPUTS_DIR

RESULTS_DIR holds machine.tsv, cases.tsv, json/ID.TOOL.rN.json (hyperfine exports: the runs
of all rounds are pooled before taking the median) and mem/ID.TOOL (peak RSS in KiB, one run a
line: the largest is reported). Standard library only.
"""

import glob
import json
import os
import statistics
import sys

# Issue 16's targets: sops/kseal time ratio per case (None: no time target); peak memory at most
# a quarter of sops's in every case. Case 0 is start-up: `kseal --version` against `/bin/true`
# (in the sops columns), at most STARTUP_TARGET times as long.
TIME_TARGET = {"c1": 15, "c2": 15, "c3": 40, "c4": 25, "c5": 50, "c6": None}
MEM_TARGET = 4
STARTUP_TARGET = 1.5
# Cases timed as 20 calls in a row (bench/run.sh `REP`): their times are per call.
PER_CALL = {"c0": 20, "c1": 20, "c2": 20}


def read_tsv(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if line:
                    rows.append(line.split("\t"))
    return rows


def times(res, case, tool):
    out = []
    n = PER_CALL.get(case, 1)
    for path in sorted(glob.glob(os.path.join(res, "json", f"{case}.{tool}.r*.json"))):
        with open(path) as f:
            for r in json.load(f)["results"]:
                out.extend(t / n for t in r["times"])
    return out


def peak_kib(res, case, tool):
    path = os.path.join(res, "mem", f"{case}.{tool}")
    vals = [int(v) for v in open(path).read().split()] if os.path.exists(path) else []
    return max(vals) if vals else None


def fmt_t(s):
    if s is None:
        return "—"
    if s >= 1:
        return f"{s:.2f} s"
    ms = s * 1000
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def fmt_mib(kib):
    return "—" if kib is None else f"{kib / 1024:.1f} MiB"


def fmt_bytes(n):
    if n >= 1 << 20:
        return f"{n / (1 << 20):.2f} MiB"
    if n >= 1 << 10:
        return f"{n / 1024:.1f} KiB"
    return f"{n} B"


def median(xs):
    return statistics.median(xs) if xs else None


def largest_input(inputs, case):
    s, p = os.path.join(inputs, "sops"), os.path.join(inputs, "plain")
    paths = {
        "c1": [os.path.join(s, "small.yaml")],
        "c2": [os.path.join(p, "small.yaml")],
        "c3": [os.path.join(s, "big.yaml")],
        "c4": [os.path.join(p, "big.yaml")],
        "c5": glob.glob(os.path.join(s, "repo1000", "*.yaml")),
        "c6": glob.glob(os.path.join(s, "repo1000", "*.yaml")),
    }.get(case)
    if case.startswith("gs-"):
        paths = [os.path.join(s, f"size-{case[3:]}.yaml")]
    if case.startswith("gn-"):
        paths = glob.glob(os.path.join(inputs, "kseal", "count", case[3:], "*.yaml"))
    sizes = [os.path.getsize(x) for x in paths or [] if os.path.exists(x)]
    return (max(sizes), sum(sizes)) if sizes else (None, None)


def fastest(kt, st):
    if not kt or not st:
        return "—"
    return f"{fmt_t(min(kt))} / {fmt_t(min(st))}, {min(st) / min(kt):.1f}x"


def extra_rss(rss, floor, size):
    if not rss or not size:
        return "—"
    extra = rss - (floor or 0)
    return f"{max(extra, 0) / 1024:.1f} MiB = {max(extra, 0) * 1024 / size:.1f}x of {fmt_bytes(size)}"


def case_row(res, inputs, row, floor_rss, missed):
    """One line of the whole-command table; appends what misses its target to `missed`."""
    case, title, status = row[0], row[1], row[2]
    load = row[3] if len(row) > 3 else "?"
    n = case[1:]
    if status != "ok":
        return f"| {n} | {title} | {load} | {status} | | | | | | | | | | |"
    kt, st = times(res, case, "kseal"), times(res, case, "sops")
    km, sm = median(kt), median(st)
    kr, sr = peak_kib(res, case, "kseal"), peak_kib(res, case, "sops")
    if case == "c0":
        # Start-up: kseal against /bin/true, lower is better; no memory target.
        ratio = km / sm if km and sm else None
        ok = ratio is not None and ratio <= STARTUP_TARGET
        tcell = f"≤{STARTUP_TARGET}x {'met' if ok else '**missed**'}"
        if not ok:
            missed.append(f"case 0 start-up ({ratio or 0:.2f}x > {STARTUP_TARGET}x /bin/true)")
        fast = "—" if not kt or not st else (
            f"{fmt_t(min(kt))} / {fmt_t(min(st))}, {min(kt) / min(st):.2f}x")
        return (
            f"| {n} | {title} | {load} | {fmt_t(km)} | {fmt_t(sm)} | "
            f"{'—' if ratio is None else f'{ratio:.2f}x (kseal/true)'} | {tcell} | {fast} | "
            f"{len(kt)}/{len(st)} | {fmt_mib(kr)} | {fmt_mib(sr)} | — | — | — |"
        )
    ratio = sm / km if km and sm else None
    tgt = TIME_TARGET.get(case)
    if tgt is None:
        tcell = "—"
    elif ratio is not None and ratio >= tgt:
        tcell = f"≥{tgt}x met"
    else:
        tcell = f"≥{tgt}x **missed**"
        missed.append(f"case {n} time ({ratio or 0:.1f}x < {tgt}x)")
    mratio = sr / kr if kr and sr else None
    if mratio is not None and mratio >= MEM_TARGET:
        mcell = f"≥{MEM_TARGET}x met"
    else:
        mcell = f"≥{MEM_TARGET}x **missed**"
        missed.append(f"case {n} memory ({mratio or 0:.1f}x < {MEM_TARGET}x)")
    big, total = largest_input(inputs, case)
    # A directory run holds every file's output until all have verified: its input is the
    # sum of the files.
    mult = extra_rss(kr, floor_rss, total if case in ("c5", "c6") else big)
    return (
        f"| {n} | {title} | {load} | {fmt_t(km)} | {fmt_t(sm)} | "
        f"{'—' if ratio is None else f'{ratio:.1f}x'} | {tcell} | {fastest(kt, st)} | "
        f"{len(kt)}/{len(st)} | {fmt_mib(kr)} | {fmt_mib(sr)} | "
        f"{'—' if mratio is None else f'{mratio:.1f}x'} | {mcell} | {mult} |"
    )


def main():
    res, inputs = sys.argv[1], sys.argv[2]
    machine = dict(r for r in read_tsv(os.path.join(res, "machine.tsv")) if len(r) == 2)
    cases = read_tsv(os.path.join(res, "cases.tsv"))
    out = []
    w = out.append

    w("# kseal against sops: results of `make bench`")
    w("")
    w(
        f"{machine.get('date', '?')}; {machine.get('nproc', '?')} cores "
        f"({machine.get('cpu', '?')}); load average {machine.get('load_start', '?')} at the "
        f"start, {machine.get('load_end', '?')} at the end; kseal {machine.get('kseal', '?')}; "
        f"{machine.get('sops', '?')}; {machine.get('hyperfine', '?')}; the whole run took "
        f"{machine.get('elapsed', '?')} s. Cores really free for this run (two CPU-bound loops "
        f"side by side against one; 2.00 on an idle 2-core machine): "
        f"{machine.get('free_cores_start', '?')} at the start, "
        f"{machine.get('free_cores_end', '?')} at the end."
    )
    if machine.get("quick") == "1":
        w("")
        w("**BENCH_QUICK=1: few runs per case, the numbers are rough.**")
    w("")
    w("## Whole commands")
    w("")
    w(
        "Medians over all runs of all rounds (the tools alternate round by round). Ratios are "
        "sops/kseal: higher is better for kseal. Cases 0-2 are timed as 20 calls in a row "
        "(one bash loop per timed run, the same for both sides) and shown per call. Case 0 "
        "is start-up: `kseal --version` against `/bin/true` in the sops columns, its ratio "
        "kseal/true (lower is better). The fastest runs are shown too: on a busy machine they "
        "are closer to the cost of the work itself, the medians include waiting for a core. "
        "Peak RSS is the largest of the measured runs (single calls, not the loops). Load: "
        "the 1-minute load average when the case began."
    )
    w("")
    floor_rss = peak_kib(res, "c0", "kseal")
    w(
        "| # | case | load | kseal | sops | sops/kseal | target | fastest runs k/s, ratio "
        "| runs k/s | kseal peak RSS | sops peak RSS | sops/kseal | target "
        "| kseal RSS above start-up / input |"
    )
    w("|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---:|")
    missed = []
    for row in cases:
        if not row[0].startswith("c"):
            continue
        line = case_row(res, inputs, row, floor_rss, missed)
        w(line)
    w("")
    w(
        "Case 5 and 6: sops runs once per file in a bash loop; its peak RSS there is that of its "
        "largest single process, measured over the first 100 files. The last column is kseal's "
        "peak RSS minus that of `kseal --version` "
        f"({fmt_mib(floor_rss)}), over the largest input file of the case (for cases 5 and 6, "
        "over the total of the 1,000 files)."
    )
    ft, tt = median(times(res, "c0", "kseal")), median(times(res, "c0", "sops"))
    w("")
    w(
        f"Start-up floor: `kseal --version` takes {fmt_t(ft)} (median per call) and "
        f"{fmt_mib(floor_rss)} ({floor_rss or 0:,} KiB); `/bin/true` takes {fmt_t(tt)} and "
        f"{fmt_mib(peak_kib(res, 'c0', 'sops'))} on this machine."
    )

    w("")
    w("## Growth: kseal decrypt by Secret size")
    w("")
    w(
        "| Secret (plain size) | encrypted file | load | median | marginal cost | peak RSS "
        "| RSS above start-up / file |"
    )
    w("|---|---:|---:|---:|---:|---:|---:|")
    base = None
    for row in cases:
        case = row[0]
        if not case.startswith("gs-"):
            continue
        t = median(times(res, case, "kseal"))
        size, _ = largest_input(inputs, case)
        rss = peak_kib(res, case, "kseal")
        load = row[3] if len(row) > 3 else "?"
        if t is None or size is None:
            w(f"| {case[3:]} | | {load} | {row[2]} | | | |")
            continue
        if base is None:
            base = (t, size)
            marg = "(base)"
        else:
            marg = f"{(t - base[0]) / (size - base[1]) * 1e9:.2f} ns/byte"
        w(
            f"| {case[3:]} | {fmt_bytes(size)} | {load} | {fmt_t(t)} | {marg} | {fmt_mib(rss)} | "
            f"{extra_rss(rss, floor_rss, size)} |"
        )

    w("")
    w("## Growth: kseal decrypt by number of files (one invocation over a directory)")
    w("")
    w("| files | total size | load | median | per file | marginal per file | peak RSS |")
    w("|---:|---:|---:|---:|---:|---:|---:|")
    base = None
    for row in cases:
        case = row[0]
        if not case.startswith("gn-"):
            continue
        n = int(case[3:])
        t = median(times(res, case, "kseal"))
        _, total = largest_input(inputs, case)
        rss = peak_kib(res, case, "kseal")
        load = row[3] if len(row) > 3 else "?"
        if t is None:
            w(f"| {n:,} | | {load} | {row[2]} | | | |")
            continue
        if base is None:
            base = (t, n)
            marg = "(base)"
        else:
            marg = fmt_t((t - base[0]) / (n - base[1]))
        w(
            f"| {n:,} | {fmt_bytes(total or 0)} | {load} | {fmt_t(t)} | {fmt_t(t / n)} | {marg} | "
            f"{fmt_mib(rss)} |"
        )

    tc, td = median(times(res, "gc-1000", "kseal")), median(times(res, "gn-1000", "kseal"))
    w("")
    w("## kseal check beside kseal decrypt: the same 1,000 files")
    w("")
    w("| command | median | per file | peak RSS |")
    w("|---|---:|---:|---:|")
    for name, case, t in (("kseal check", "gc-1000", tc), ("kseal decrypt", "gn-1000", td)):
        per = fmt_t(t / 1000) if t else "—"
        w(f"| `{name}` | {fmt_t(t)} | {per} | {fmt_mib(peak_kib(res, case, 'kseal'))} |")

    one, allc = median(times(res, "gp", "one")), median(times(res, "gp", "all"))
    w("")
    w("## Parallel speed-up: 10,000 files")
    w("")
    w("| one core (`taskset -c 0`) | all cores | speed-up | output identical |")
    w("|---:|---:|---:|---|")
    same = "?"
    try:
        a = open(os.path.join(res, "gp.one.sha256")).read()
        b = open(os.path.join(res, "gp.all.sha256")).read()
        same = "yes" if a == b else "**NO**"
    except OSError:
        pass
    speed = f"{one / allc:.2f}x" if one and allc else "—"
    w(f"| {fmt_t(one)} | {fmt_t(allc)} | {speed} | {same} |")

    w("")
    w("## Targets missed")
    w("")
    if missed:
        for m in missed:
            w(f"- {m}")
    else:
        w("- none")
    print("\n".join(out))


if __name__ == "__main__":
    main()
