#!/usr/bin/env bash
# pprof -> OTLP conversion, side by side in one sitting: `profcol convert --to
# otlp` against the OpenTelemetry way (google/pprof parse, a pprof -> pdata
# translation, pdata's ProtoMarshaler), run by integration/go/contribbench.
# Its `translator` line says which translation ran: while the Go module proxy
# refuses the contrib translator module, it is contribbench's stand-in written
# on pdata (integration/go/contribbench/main.go says why and how to switch).
#
# usage: integration/scale/contrib_cost.sh [REPEAT]     (default 20)
# env:   NO_BUILD=1 (skip cargo), BIN=<dir> (profcol binaries; default
#        $CARGO_TARGET_DIR/release, else target/release), PER_KIND (default 4),
#        OUT=<dir> (work dir, kept; default a fresh one, removed at exit)
#
# Inputs, each converted one request per file (`convert --to otlp DIR -o OUTDIR`
# and `contribbench -set -o OUTDIR DIR`):
#   corpus  integration/corpus/*.pb.gz
#   scale   the scale harness's profiles (profcol-loadgen --dump), the first
#           PER_KIND of each of the five kinds, as convert_cost.sh takes them
# Numbers, in ms of CPU (user+sys) per converted profile:
#   per process   each tool run as a process over the set, REPEAT times,
#                 alternating; start-up included and amortised over the set's
#                 files, as convert_cost.sh counts. Read with bash's `times`
#                 (ms) rather than /usr/bin/time, which truncates to 10 ms.
#   steady state  start-up left out. contribbench: its own getrusage over
#                 enough passes in one process. profcol: the set's files given
#                 L times in one invocation minus given once, over (L-1) sets;
#                 convert keeps every request until the end, so this includes
#                 the cost of holding L copies (it counts against profcol).
# Reference: google/pprof Parse+Write and Parse alone (pprofbench), wall time
# per profile in one process.
set -euo pipefail
REPEAT="${1:-20}"
PER_KIND="${PER_KIND:-4}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${BIN:-${CARGO_TARGET_DIR:-$root/target}/release}"
gobin="$root/integration/go/bin"

die() { echo "contrib_cost.sh: $*" >&2; exit 1; }
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer, not '$REPEAT'"
[[ "$PER_KIND" =~ ^[1-9][0-9]*$ ]] || die "PER_KIND must be a positive integer, not '$PER_KIND'"

if [ -n "${OUT:-}" ]; then
  work="$OUT"
  mkdir -p "$work"
else
  base=/tmp
  [ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm # outputs on tmpfs: time the tools, not a disk
  work="$(mktemp -d "$base/profcol-contrib.XXXXXX")"
fi
cleanup() {
  local pids
  pids="$(jobs -p)"
  [ -z "$pids" ] || kill $pids 2>/dev/null || true
  if [ -z "${OUT:-}" ]; then rm -rf "$work"; else rm -rf "$work/all" "$work/out_p" "$work/out_c" "$work/t0" "$work/t1" "$work/err"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${NO_BUILD:-}" ]; then
  (cd "$root" && cargo build --release -q -p profcol -p profcol-loadgen)
fi
# The Go side is built on demand (build.sh does nothing when it is up to date).
"$root/integration/go/build.sh" contribbench pprofbench
for b in "$bin/profcol" "$bin/profcol-loadgen" "$gobin/contribbench" "$gobin/pprofbench"; do
  [ -x "$b" ] || die "$b is missing (build it, or set BIN)"
done

# --- inputs, copied into the work dir so both tools read the same files.
rm -rf "$work/corpus" "$work/scale" "$work/all"
mkdir -p "$work/corpus" "$work/scale"
corpus_files=("$root"/integration/corpus/*.pb.gz)
[ -e "${corpus_files[0]}" ] || die "no integration/corpus/*.pb.gz (integration/capture_corpus.sh makes them)"
cp "${corpus_files[@]}" "$work/corpus/"
"$bin/profcol-loadgen" --dump "$work/all" >/dev/null 2>&1 || die "profcol-loadgen --dump failed"
for k in allocs block goroutine mutex cpu; do
  for i in $(seq 0 $((PER_KIND - 1))); do
    f="$work/all/${k}_$(printf %02d "$i").pb.gz"
    [ -f "$f" ] || die "profcol-loadgen --dump wrote no $(basename "$f")"
    cp "$f" "$work/scale/"
  done
done
rm -rf "$work/all"
cd "$work"

# --- CPU of one command: the shell's children's user+sys before and after it.
# Nothing else may start a process between the two `times`, so the parsing
# comes after the second.
secs_of_times() { # the children's line of a `times` output file, in seconds
  awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.4f\n", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$1"
}
CPU=0
run_cpu() { # runs "$@" once (output discarded); sets CPU to its seconds
  times >"$work/t0"
  if ! "$@" >/dev/null 2>"$work/err"; then
    cat "$work/err" >&2
    die "failed: $*"
  fi
  times >"$work/t1"
  CPU=$(awk -v a="$(secs_of_times "$work/t0")" -v b="$(secs_of_times "$work/t1")" 'BEGIN { printf "%.4f", b - a }')
}
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a + b }'; }
fresh_out() { rm -rf "$work/out_p" "$work/out_c"; mkdir -p "$work/out_p" "$work/out_c"; }

translator="$("$gobin/contribbench" -translator)"
echo "contrib_cost.sh: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  profcol: $bin/profcol ($("$bin/profcol" --version 2>/dev/null || echo '?'))"
gov=$( (go version "$gobin/contribbench" || /usr/local/go/bin/go version "$gobin/contribbench") 2>/dev/null | awk '{ print $NF }')
echo "  contribbench: translator $translator, built with ${gov:-go ?}"
echo "  REPEAT=$REPEAT PER_KIND=$PER_KIND, work dir $work"

measure() { # name: prints the numbers for the files in $work/name
  local name="$1" dir="$work/$1" n bytes i
  local -a files rel
  files=("$dir"/*)
  n=${#files[@]}
  bytes=$(cat "${files[@]}" | wc -c)

  # per process, alternating
  local p_cpu=0 c_cpu=0
  for i in $(seq 1 "$REPEAT"); do
    fresh_out
    run_cpu "$bin/profcol" convert --to otlp "$dir" -o "$work/out_p"
    p_cpu=$(add "$p_cpu" "$CPU")
    run_cpu "$gobin/contribbench" -set -warmup 0 -repeat 1 -no-header -o "$work/out_c" "$dir"
    c_cpu=$(add "$c_cpu" "$CPU")
  done
  local p_n c_n p_out c_out
  p_n=$(ls "$work/out_p" | wc -l)
  c_n=$(ls "$work/out_c" | wc -l)
  [ "$p_n" -eq "$n" ] && [ "$c_n" -eq "$n" ] || die "$name: expected $n outputs, profcol wrote $p_n, contribbench $c_n"
  p_out=$(cat "$work"/out_p/* | wc -c)
  c_out=$(cat "$work"/out_c/* | wc -c)

  # steady state, contribbench: passes enough for ~0.4 s of CPU
  local passes row c_steady c_parse c_tr c_marsh
  passes=$(awk -v c="$c_cpu" -v r="$REPEAT" 'BEGIN { p = int(0.4 / (c / r) + 1); if (p < 3) p = 3; print p }')
  fresh_out
  row=$("$gobin/contribbench" -set -repeat "$passes" -no-header -o "$work/out_c" "$dir")
  read -r c_steady c_parse c_tr c_marsh < <(echo "$row" | awk -F'\t' '{ print $8 / 1000, $10 / 1000, $11 / 1000, $12 / 1000 }')

  # steady state, profcol: the file list L times minus once; L grown until the
  # L-run takes ~0.3 s of CPU. Paths relative to the work dir (the current
  # directory) keep the argument list short.
  local L=8 one many
  rel=()
  for i in "${files[@]}"; do rel+=("$name/$(basename "$i")"); done
  while :; do
    local -a args=()
    for i in $(seq 1 "$L"); do args+=("${rel[@]}"); done
    fresh_out
    run_cpu "$bin/profcol" convert --to otlp "${args[@]}" -o out_p
    many=$CPU
    if awk -v m="$many" 'BEGIN { exit !(m >= 0.3) }' || [ $((L * n)) -ge 20000 ]; then break; fi
    L=$(awk -v m="$many" -v l="$L" 'BEGIN { x = (m > 0.005) ? int(l * 0.4 / m) + 1 : l * 8; if (x > 4 * l) x = 4 * l; print x }')
    [ $((L * n)) -le 20000 ] || L=$((20000 / n))
  done
  # the once-run, as often as the L-run took in total, alternating with it twice more
  local p_many=$many p_one=0 rounds=1
  fresh_out
  run_cpu "$bin/profcol" convert --to otlp "${rel[@]}" -o out_p
  p_one=$CPU
  for i in 2 3; do
    fresh_out
    run_cpu "$bin/profcol" convert --to otlp "${args[@]}" -o out_p
    p_many=$(add "$p_many" "$CPU")
    fresh_out
    run_cpu "$bin/profcol" convert --to otlp "${rel[@]}" -o out_p
    p_one=$(add "$p_one" "$CPU")
    rounds=$i
  done
  local p_steady
  p_steady=$(awk -v m="$p_many" -v o="$p_one" -v r="$rounds" -v l="$L" -v n="$n" \
    'BEGIN { printf "%.4f", (m - o) / r / ((l - 1) * n) * 1000 }')

  # google/pprof, for reference
  local pw_json pw pr
  pw_json=$("$gobin/pprofbench" -min-time 50ms -min-iters 3 "${files[@]}")
  read -r pw pr < <(echo "$pw_json" | awk -v n="$n" '
    /"file":"TOTAL"/ { next }
    { if (match($0, /"seconds":[-0-9.e+]+/)) s += substr($0, RSTART + 10, RLENGTH - 10) + 0
      if (match($0, /"parse_seconds":[-0-9.e+]+/)) p += substr($0, RSTART + 16, RLENGTH - 16) + 0 }
    END { printf "%.4f %.4f\n", s / n * 1000, p / n * 1000 }')

  awk -v name="$name" -v n="$n" -v b="$bytes" -v po="$p_out" -v co="$c_out" -v r="$REPEAT" \
    -v pp="$p_cpu" -v cp="$c_cpu" -v ps="$p_steady" -v cs="$c_steady" -v passes="$passes" -v l="$L" \
    -v cpa="$c_parse" -v ctr="$c_tr" -v cma="$c_marsh" -v pw="$pw" -v pr="$pr" 'BEGIN {
    ppp = pp / r / n * 1000; cpp = cp / r / n * 1000
    printf "\n%s: %d files, %.0f KiB gzipped pprof in; OTLP out %.0f KiB (profcol), %.0f KiB (contribbench)\n", name, n, b / 1024, po / 1024, co / 1024
    printf "  ms CPU per profile                       %10s %14s %17s\n", "profcol", "contribbench", "contrib/profcol"
    printf "  per process (%3d runs, start-up incl.)   %10.3f %14.3f %16.1fx\n", r, ppp, cpp, cpp / ppp
    printf "  steady state (start-up excluded)         %10.3f %14.3f %16.1fx\n", ps, cs, cs / ps
    printf "    (profcol: files given %d times; contribbench: %d passes)\n", l, passes
    printf "  contribbench steps, ms wall per profile: parse %.3f, translate %.3f, marshal %.3f\n", cpa, ctr, cma
    printf "  google/pprof (pprofbench), ms wall per profile: Parse+Write %.3f, Parse %.3f\n", pw, pr
  }'
}

measure corpus
measure scale
echo
echo "contrib_cost.sh: done, load $(cut -d' ' -f1-3 /proc/loadavg)"
