#!/usr/bin/env bash
# The push receivers side by side with the scrape path, in one invocation,
# on the same generated profiles at about the same profiles/s:
#   1. the scrape path: run.sh N with N = RATE × 15 s ÷ 5 types (N=250 for
#      83.3 profiles/s), without its offline convert comparison;
#   2. push.sh MODE RATE for each MODE (default otlp-grpc otlp-http ingest
#      connect).
# ROUNDS>1 repeats the whole sequence (the machine is noisy; compare within a
# round). Prints one Markdown table with every run, then each run's details.
#
# usage: integration/scale/push_vs_scrape.sh [RATE] [WINDOW_SECONDS]
#        (default 83.3 profiles/s, 60 s windows)
# env:   WARMUP=20 ROUNDS=1 MODES="otlp-grpc otlp-http ingest connect" (MODES="" : scrape only)
#        EXTRA_RUNS="otlp-grpc:4 connect:4"  more push runs, MODE:PER_REQUEST
#        NO_BUILD=1, BIN=<dir>, OUT=<dir> (default a new /tmp/profcol-pvs.*),
#        PERF=1 / PPROF=1 (passed on to every run); the rest of push.sh's and
#        run.sh's settings pass through the environment.
set -euo pipefail

RATE="${1:-83.3}"
WINDOW="${2:-60}"
export WARMUP="${WARMUP:-20}"
ROUNDS="${ROUNDS:-1}"
MODES="${MODES-otlp-grpc otlp-http ingest connect}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${OUT:-$(mktemp -d /tmp/profcol-pvs.XXXXXX)}"
mkdir -p "$out"
# The five default types every 15 s: N targets give N / 3 profiles/s.
N="$(python3 -c "print(max(1, round($RATE * 15 / 5)))")"

if [ -z "${NO_BUILD:-}" ]; then
  (cd "$root" && cargo build --release -q -p profcol -p profcol-loadgen)
fi
export NO_BUILD=1
export BIN="${BIN:-$root/target/release}"

echo "push vs scrape: rate $RATE profiles/s (scrape N=$N), window ${WINDOW}s, warm-up ${WARMUP}s, rounds $ROUNDS, out $out" >&2
echo "start $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

runs=()
for r in $(seq 1 "$ROUNDS"); do
  d="$out/r$r-scrape"
  if OUT="$d" NO_CONVERT=1 "$root/integration/scale/run.sh" "$N" "$WINDOW" >"$d.row" 2>"$d.log"; then
    runs+=("$d|scrape N=$N")
  else
    echo "scrape N=$N failed (round $r): $(tail -3 "$d.log")" >&2
  fi
  for spec in $MODES ${EXTRA_RUNS:-}; do
    mode="${spec%%:*}"
    per=1
    [[ "$spec" == *:* ]] && per="${spec##*:}"
    d="$out/r$r-$mode-k$per"
    if OUT="$d" PER_REQUEST="$per" "$root/integration/scale/push.sh" "$mode" "$RATE" "$WINDOW" >"$d.row" 2>"$d.log"; then
      label="push $mode"
      [ "$per" != 1 ] && label="$label, $per/request"
      runs+=("$d|$label")
    else
      echo "push $mode failed (round $r): $(tail -3 "$d.log")" >&2
    fi
  done
done
echo "end $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 "$root/integration/scale/push_row.py" --header
for x in "${runs[@]}"; do
  python3 "$root/integration/scale/push_row.py" "${x%%|*}/report.json" "${x#*|}" 2>/dev/null
done
echo >&2
for x in "${runs[@]}"; do
  python3 "$root/integration/scale/push_row.py" "${x%%|*}/report.json" "${x#*|}" 2>&1 >/dev/null
  if [ -s "${x%%|*}/perf.txt" ]; then echo "  perf: ${x%%|*}/perf.txt" >&2; fi
  if [ -s "${x%%|*}/profcol_cpu.folded" ]; then echo "  pprof: ${x%%|*}/profcol_cpu.folded" >&2; fi
done
