#!/usr/bin/env bash
# The scrape path's CPU per profile set against what the same profiles cost
# offline: `profcol convert --to otlp` per file, plus the otlp_grpc exporter's
# compression of the request carrying one profile. run.sh calls it after its
# measured window (profcol stopped); it also works on a kept run directory.
#
# usage: integration/scale/cost_split.sh OUT   (OUT holds run.sh's report.json)
# env:   BIN=<dir> (default target/release) with profcol and profcol-loadgen
#        PER_KIND=4         files of each scraped kind (as a scrape round has one of each)
#        CONVERT_REPEAT=10  runs of convert over all the files
#        COMPRESS_REPEAT=50 compressions of each converted file
#        GZIP_LEVEL=1       the exporter's default (exporter/src/compression.rs)
# prints (stdout):
#   convert per file: X ms/profile; compression share: Y ms/profile; scrape path: Z ms/profile; ratio Z/(X+Y) = R (target ≤ 1.3)
# and a note line; details to stderr, numbers to OUT/cost_split.json.
#
# X: user+sys of `profcol convert --to otlp DIR -o OUTDIR` (one request per
#    file; process startup included, amortised over the files), from bash
#    `times` in a subshell whose only children are the convert runs (µs
#    rusage, printed to the ms), summed over CONVERT_REPEAT runs.
# Y: `profcol-loadgen --compress-cost OUTDIR`: each request file framed and
#    gzipped as the exporter does, the loadgen thread's CPU time.
# Z: profcol's CPU per scraped profile over the measured window (report.json).
set -euo pipefail
out="${1:?usage: cost_split.sh OUT (a run.sh output directory)}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${BIN:-$root/target/release}"
PER_KIND="${PER_KIND:-4}"
CONVERT_REPEAT="${CONVERT_REPEAT:-10}"
COMPRESS_REPEAT="${COMPRESS_REPEAT:-50}"
GZIP_LEVEL="${GZIP_LEVEL:-1}"
report="$out/report.json"
[ -s "$report" ] || { echo "cost_split: no $report" >&2; exit 1; }

work="$(mktemp -d "$out/cost_split.XXXXXX")"
trap 'rm -rf "$work"' EXIT

interval=$(jq -r .interval_s "$report")
warmup=$(jq -r .warmup_s "$report")
kinds=$(jq -r '.kinds | join(" ")' "$report")
z_ms=$(jq -r '(.profcol.cpu_seconds_per_profile // 0) * 1000' "$report")
# The same corpus loadgen served: same seed and sizes (run.sh uses the
# defaults) and the same number of cumulative steps, which loadgen derives
# as (warmup + window) / interval + 6 (main.rs); --warmup 0 --window
# (steps - 6) * interval gives exactly that many.
steps=$(jq -r .profiles.allocs.variants "$report")
"$bin/profcol-loadgen" --dump "$work/all" --interval "$interval" --warmup 0 \
  --window $(((steps - 6) * interval)) >"$work/dump.json" 2>/dev/null
for k in $kinds; do
  want=$(jq -r ".profiles.$k.variants" "$report")
  got=$(jq -r ".profiles.$k.variants" "$work/dump.json")
  [ "$want" = "$got" ] || { echo "cost_split: dump has $got $k variants, the run served $want" >&2; exit 1; }
done

# PER_KIND files of each kind, as served in the measured window: the
# rotating variants of cpu/goroutine; for cumulative kinds the variants a
# target is served from the first scrape after the warm-up on (its n-th
# scrape gets variant n).
mkdir -p "$work/in" "$work/otlp"
first=$(((warmup + interval - 1) / interval))
for k in $kinds; do
  nv=$(jq -r ".profiles.$k.variants" "$work/dump.json")
  case "$k" in allocs | block | mutex) base=$first ;; *) base=0 ;; esac
  for i in $(seq 0 $((PER_KIND - 1))); do
    if [ "$base" -eq 0 ]; then v=$((i % nv)); else v=$((base + i)); [ "$v" -lt "$nv" ] || v=$((nv - 1)); fi
    cp "$work/all/${k}_$(printf %02d "$v").pb.gz" "$work/in/${k}_$i.pb.gz"
  done
done
files=$(find "$work/in" -type f | wc -l)

# Children's user+sys seconds (bash `times`, second line) of "$@" run
# CONVERT_REPEAT times, in a subshell so no other child is counted.
cpu_of() {
  (
    for _ in $(seq 1 "$CONVERT_REPEAT"); do "$@" >/dev/null 2>&1; done
    times
  ) | awk 'NR == 2 {
    s = 0
    for (f = 1; f <= 2; f++) { split($f, a, /[ms]/); s += a[1] * 60 + a[2] }
    printf "%.6f\n", s
  }'
}
"$bin/profcol" convert --to otlp "$work/in" -o "$work/otlp" >/dev/null 2>&1
convert_s=$(cpu_of "$bin/profcol" convert --to otlp "$work/in" -o "$work/otlp")
smallest="$work/in/$(ls -S "$work/in" | tail -1)"
startup_s=$(cpu_of "$bin/profcol" convert --to otlp "$smallest" -o "$work/one.pb")
otlp_bytes=$(cat "$work"/otlp/* | wc -c)
in_bytes=$(cat "$work"/in/* | wc -c)
"$bin/profcol-loadgen" --compress-cost "$work/otlp" --repeat "$COMPRESS_REPEAT" \
  --gzip-level "$GZIP_LEVEL" >"$work/compress.json"
y_ms=$(jq -r .cpu_ms_per_file "$work/compress.json")
x_ms=$(awk -v c="$convert_s" -v r="$CONVERT_REPEAT" -v f="$files" 'BEGIN { printf "%.4f", c / r / f * 1000 }')
startup_ms=$(awk -v c="$startup_s" -v r="$CONVERT_REPEAT" 'BEGIN { printf "%.3f", c / r * 1000 }')
ratio=$(awk -v x="$x_ms" -v y="$y_ms" -v z="$z_ms" 'BEGIN { printf "%.2f", (x + y > 0) ? z / (x + y) : 0 }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.3) ? "met" : "not met" }')

printf 'convert per file: %.2f ms/profile; compression share: %.2f ms/profile; scrape path: %.2f ms/profile; ratio Z/(X+Y) = %s (target ≤ 1.3: %s)\n' \
  "$x_ms" "$y_ms" "$z_ms" "$ratio" "$verdict"
echo "note: convert converts cumulative kinds (allocs/block/mutex) whole, the scrape path their per-interval deltas (fewer non-zero stacks); the exporter compresses requests of up to sending_queue.max_batch_size profiles (default 20) with one shared dictionary, the share here is one profile per request."
jq -r --arg files "$files" --arg kinds "$kinds" --arg inb "$in_bytes" --arg ob "$otlp_bytes" \
  --arg st "$startup_ms" --arg cr "$CONVERT_REPEAT" '
  "cost split: \($files) files (\($kinds); \(($inb | tonumber) / 1024 | floor) KiB pprof gzipped, \(($ob | tonumber) / 1024 | floor) KiB OTLP), convert \($cr) runs (startup + the smallest file alone: \($st) ms per run), " +
  "compression \(.codec) \(.repeat)x each: \((.bytes_out / 1024) | floor) KiB out, \(.mib_per_cpu_second | floor) MiB/CPU-s (clock \(.clock))"' \
  "$work/compress.json" >&2

jq -n --argjson x "$x_ms" --argjson y "$y_ms" --argjson z "$z_ms" --argjson ratio "$ratio" \
  --argjson files "$files" --arg kinds "$kinds" --argjson st "$startup_ms" \
  --argjson convert_repeat "$CONVERT_REPEAT" --argjson otlp_bytes "$otlp_bytes" \
  --slurpfile compress "$work/compress.json" \
  '{convert_ms_per_profile: $x, compression_ms_per_profile: $y, scrape_ms_per_profile: $z,
    ratio: $ratio, target: 1.3, files: $files, kinds: ($kinds | split(" ")),
    convert_repeat: $convert_repeat, convert_startup_plus_one_file_ms: $st,
    otlp_bytes: $otlp_bytes, compress: $compress[0]}' >"$out/cost_split.json"
