#!/usr/bin/env bash
# CPU cost of `profcol convert --to otlp` on the profiles the scale harness
# serves (profcol-loadgen --dump), so a scale run's "CPU per scraped profile"
# can be set against "CPU per converted profile".
#
# usage: integration/scale/convert_cost.sh [REPEAT]   (default 20)
# env:   NO_BUILD=1, BIN=<dir> (default target/release), OUT=<dir>
#
# The input is the same number of files of each of the five kinds (as a scrape
# round has one of each), the first PER_KIND (default 4) variants. Two modes:
#   one-request: all files into one ExportProfilesServiceRequest (shared dictionary)
#   per-file:    one request per file (-o DIR), closer to the scrape path's small batches
# CPU = user+sys of the convert process (startup included, amortised over the files).
# Note: cumulative kinds are converted whole here, while the scrape path converts
# their per-interval deltas (about a third of the stacks are non-zero per interval).
set -euo pipefail
REPEAT="${1:-20}"
PER_KIND="${PER_KIND:-4}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${BIN:-$root/target/release}"
out="${OUT:-$(mktemp -d /tmp/profcol-convert.XXXXXX)}"
if [ -z "${NO_BUILD:-}" ]; then
  (cd "$root" && cargo build --release -q -p profcol -p profcol-loadgen)
fi
trap 'rm -rf "$out/all" "$out/in" "$out/otlp"' EXIT

"$bin/profcol-loadgen" --dump "$out/all" >/dev/null 2>&1
mkdir -p "$out/in" "$out/otlp"
for k in allocs block goroutine mutex cpu; do
  for i in $(seq 0 $((PER_KIND - 1))); do
    cp "$out/all/${k}_$(printf %02d "$i").pb.gz" "$out/in/"
  done
done
files=$(ls "$out/in" | wc -l)
bytes=$(cat "$out"/in/* | wc -c)

cpu_of() { # runs "$@" REPEAT times, prints total user+sys seconds
  local total=0 t
  for _ in $(seq 1 "$REPEAT"); do
    /usr/bin/time -o "$out/time.txt" -f "%U %S" "$@" >/dev/null 2>&1
    t=$(awk '{print $1 + $2}' "$out/time.txt")
    total=$(awk -v a="$total" -v b="$t" 'BEGIN { print a + b }')
  done
  echo "$total"
}

one=$(cpu_of "$bin/profcol" convert --to otlp "$out/in" -o "$out/one.otlp.pb")
per=$(cpu_of "$bin/profcol" convert --to otlp "$out/in" -o "$out/otlp")
startup=$(cpu_of "$bin/profcol" convert --to otlp "$out/in/goroutine_00.pb.gz" -o /dev/null)

awk -v one="$one" -v per="$per" -v st="$startup" -v r="$REPEAT" -v f="$files" -v b="$bytes" 'BEGIN {
  printf "convert --to otlp: %d files (%d per kind, %.0f KiB gzipped in total), %d runs each\n", f, f / 5, b / 1024, r
  printf "  one request : %.2f ms CPU per profile\n", one / r / f * 1000
  printf "  per file    : %.2f ms CPU per profile\n", per / r / f * 1000
  printf "  (startup + one goroutine file: %.2f ms per run)\n", st / r * 1000
}'
