#!/usr/bin/env python3
"""Plain inputs for `make bench` (bench/run.sh): deterministic, standard library only.

usage: gen.py plain OUTDIR
       gen.py each JOBS DESTDIR CMD... < list-of-files
           runs `CMD... FILE > DESTDIR/basename(FILE)` for each file, JOBS at a time
           (encrypting thousands of inputs without a shell per file)

Writes, under OUTDIR/plain/:
  small.yaml           a Secret with 3 `data` keys (about 300 bytes)
  big.yaml             a Secret with one 900 KB binary value (921,600 bytes, base64 in `data`)
  size-1KB.yaml ...    Secrets of about 1 KB, 10 KB, 100 KB and 1 MB (file size)
  files/app-NNNNN.yaml 10,000 small Secrets, each with its own names and values
"""

import base64
import concurrent.futures
import os
import random
import subprocess
import sys


def secret(name, namespace, data, labels=True):
    lines = [
        "apiVersion: v1",
        "kind: Secret",
        "metadata:",
        f"  name: {name}",
        f"  namespace: {namespace}",
    ]
    if labels:
        lines += [
            "  labels:",
            f"    app.kubernetes.io/name: {name}",
            "    app.kubernetes.io/part-of: bench",
        ]
    lines += ["type: Opaque", "data:"]
    for k, v in data:
        lines.append(f"  {k}: {base64.b64encode(v).decode()}")
    return "\n".join(lines) + "\n"


def small(rng, i):
    user = f"user{i}".encode()
    password = base64.b64encode(rng.randbytes(18))
    url = b"postgresql://%s:%s@db-%d.bench.svc:5432/app" % (user, password, i)
    return secret(
        f"db-credentials-{i}",
        f"team-{i % 37}",
        [("username", user), ("password", password), ("url", url)],
    )


def sized(rng, total):
    """A Secret whose file is about `total` bytes: one binary value fills the rest."""
    head = secret("blob", "bench", [("user", b"admin"), ("blob", b"")], labels=False)
    raw = max(1, (total - len(head)) * 3 // 4)
    return secret(
        "blob", "bench", [("user", b"admin"), ("blob", rng.randbytes(raw))], labels=False
    )


def write(path, text):
    with open(path, "w", newline="\n") as f:
        f.write(text)


def each(jobs, dest, cmd):
    files = [line.strip() for line in sys.stdin if line.strip()]
    os.makedirs(dest, exist_ok=True)

    def run(path):
        with open(os.path.join(dest, os.path.basename(path)), "wb") as out:
            subprocess.run(cmd + [path], stdout=out, stderr=subprocess.DEVNULL, check=True)

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(run, files))


def plain(outdir):
    out = os.path.join(outdir, "plain")
    os.makedirs(os.path.join(out, "files"), exist_ok=True)
    write(os.path.join(out, "small.yaml"), small(random.Random(1), 0))
    # The same 900 KB value as tests/fixtures/corpus/big-binary.yaml.
    blob = random.Random(20240901).randbytes(921600)
    write(
        os.path.join(out, "big.yaml"),
        secret("big-binary", "bench", [("blob", blob)], labels=False),
    )
    for label, size in [("1KB", 1_000), ("10KB", 10_000), ("100KB", 100_000), ("1MB", 1_000_000)]:
        write(os.path.join(out, f"size-{label}.yaml"), sized(random.Random(size), size))
    rng = random.Random(2)
    for i in range(10_000):
        write(os.path.join(out, "files", f"app-{i:05d}.yaml"), small(rng, i))


if __name__ == "__main__":
    if sys.argv[1] == "plain":
        plain(sys.argv[2])
    elif sys.argv[1] == "each":
        each(int(sys.argv[2]), sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)
