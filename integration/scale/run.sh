#!/usr/bin/env bash
# How far one profcol goes: N virtual Go targets (profcol-loadgen) scraped by
# profcol with the five default profile types every 15 s, exported over OTLP
# gRPC to loadgen's counting sink. After a warm-up (default 30 s, counted from
# the first scrape) it measures a window (default 120 s) and prints one
# Markdown table row:
#   N | profiles/s | CPU-s per profile | avg cores | peak RSS | RSS per target | lateness p50 | p99 | errors
# then, with profcol stopped, sets that CPU per profile against the same
# profiles offline (integration/scale/cost_split.sh: `profcol convert --to
# otlp` per file + the exporter's gzip of one profile's request):
#   convert per file: X ms/profile; compression share: Y ms/profile; scrape path: Z ms/profile; ratio Z/(X+Y) = R (target ≤ 1.3)
#
# usage: integration/scale/run.sh N [WINDOW_SECONDS]
# env:   WARMUP=30 INTERVAL=15 OUT=<dir> (default a new /tmp/profcol-scale.*)
#        PERF=1   also record profcol with `perf record -g` for 15 s mid-window
#                 (PERF_FREQ=199; PERF_CG=dwarf,16384 for whole stacks, which
#                 integration/scale/perf_split.py then splits into perf_split.txt)
#        PPROF=1  also fetch profcol's own /debug/pprof/profile?seconds=10 mid-window
#        EXPORTER_EXTRA='{compression: none}'  extra keys merged into the otlp_grpc block
#        (YAML flow map, e.g. '{sending_queue: {max_batch_size: 10}, timeout: 30s}')
#        MAX_RSS_MB=8192  stop the run when profcol's RSS passes this (the machine is shared)
#        NO_BUILD=1 skip `cargo build --release`; BIN=<dir> use binaries from there
#        KINDS=allocs,block,goroutine,mutex,cpu  the profile types scraped (default all five)
#        EXTRA_DEADLINE=<s>  more time before the run is declared overrun
#        NO_CONVERT=1  skip the convert/compression comparison (PER_KIND,
#        CONVERT_REPEAT, COMPRESS_REPEAT, GZIP_LEVEL: see cost_split.sh)
# loadgen serves target i on its own loopback address 127.1.x.y behind one
# listener (bound to 0.0.0.0, loopback peers only); the sink and profcol's
# admin server listen on 127.0.0.1; every child is killed on exit.
set -euo pipefail

N="${1:?usage: run.sh N [WINDOW_SECONDS]}"
WINDOW="${2:-120}"
WARMUP="${WARMUP:-30}"
INTERVAL="${INTERVAL:-15}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${OUT:-$(mktemp -d /tmp/profcol-scale.XXXXXX)}"
mkdir -p "$out"
bin="${BIN:-$root/target/release}"

if [ -z "${NO_BUILD:-}" ]; then
  (cd "$root" && cargo build --release -q -p profcol -p profcol-loadgen)
fi

# ~1-2 connections per target on both sides: raise the descriptor limit for
# both processes as far as the hard limit allows (profcol also does so itself).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
KINDS="${KINDS:-allocs,block,goroutine,mutex,cpu}"

pids=()
cleanup() {
  # Children of the helper subshell (sleep, perf, curl) first, by parent pid.
  for p in "${pids[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

admin_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$bin/profcol-loadgen" -n "$N" --interval "$INTERVAL" --warmup "$WARMUP" --window "$WINDOW" \
  --kinds "$KINDS" --out-dir "$out" --watch-pid-file "$out/profcol.pid" --metrics-addr "127.0.0.1:$admin_port" \
  >"$out/report.json" 2>"$out/loadgen.log" &
lg=$!
pids+=("$lg")

for _ in $(seq 1 600); do
  [ -s "$out/ready.json" ] && break
  kill -0 "$lg" 2>/dev/null || { cat "$out/loadgen.log" >&2; exit 1; }
  sleep 0.5
done
[ -s "$out/ready.json" ] || { echo "loadgen not ready" >&2; exit 1; }
sink="$(jq -r .sink "$out/ready.json")"

# profiling_config enabling exactly $KINDS (the receiver's defaults are these five).
profiling_config() {
  [ "$KINDS" = "allocs,block,goroutine,mutex,cpu" ] && return 0
  echo "    profiling_config:"
  echo "      profile:"
  for k in memory block goroutine mutex process_cpu; do
    case "$k" in memory) n=allocs ;; process_cpu) n=cpu ;; *) n=$k ;; esac
    if [[ ",$KINDS," == *",$n,"* ]]; then e=true; else e=false; fi
    echo "        $k: { enabled: $e }"
  done
}

cat >"$out/profcol.yaml" <<EOF
receivers:
  pyroscope_scrape/scale:
    file_sd_configs:
      - files: ["$out/targets.json"]
    scrape_interval: ${INTERVAL}s
$(profiling_config)
exporters:
  otlp_grpc:
    endpoint: $sink
    tls: { insecure: true }
service:
  pipelines:
    profiles:
      receivers: [pyroscope_scrape/scale]
      exporters: [otlp_grpc]
  telemetry:
    logs: { level: warn }
    metrics: { address: "127.0.0.1:$admin_port" }
EOF

extra=()
if [ -n "${EXPORTER_EXTRA:-}" ]; then
  printf 'exporters:\n  otlp_grpc: %s\n' "$EXPORTER_EXTRA" >"$out/extra.yaml"
  extra=(--config "$out/extra.yaml")
fi
"$bin/profcol" --config "$out/profcol.yaml" "${extra[@]}" >"$out/profcol.log" 2>&1 &
pc=$!
pids+=("$pc")
echo "$pc" >"$out/profcol.pid"
echo "scale: N=$N window=${WINDOW}s warmup=${WARMUP}s out=$out profcol pid $pc loadgen pid $lg" >&2

# Optional CPU breakdowns, taken 20 s into the measured window.
(
  # Wait for the first scrape (loadgen logs it), then warm-up + 20 s.
  for _ in $(seq 1 240); do grep -q "first scrape" "$out/loadgen.log" && break; sleep 0.5; done
  sleep $((WARMUP + 20))
  if [ -n "${PERF:-}" ] && command -v perf >/dev/null; then
    perf record -F "${PERF_FREQ:-199}" --call-graph "${PERF_CG:-fp}" -p "$pc" -o "$out/perf.data" -- sleep 15 >/dev/null 2>&1 || true
    perf report -i "$out/perf.data" --no-children --percent-limit 1.5 --stdio \
      --sort symbol 2>/dev/null | grep -v '^$' | head -80 >"$out/perf.txt" || true
  fi
  if [ -n "${PPROF:-}" ]; then
    curl -sf -m 30 "http://127.0.0.1:$admin_port/debug/pprof/profile?seconds=10" -o "$out/profcol_cpu.pb.gz" \
      && "$bin/profcol" convert --to folded "$out/profcol_cpu.pb.gz" -o "$out/profcol_cpu.folded" || true
  fi
) &
pids+=("$!")

# loadgen stops by itself after warm-up + window; bound the wait anyway.
deadline=$((SECONDS + 150 + WARMUP + WINDOW + 60 + ${EXTRA_DEADLINE:-0}))
while kill -0 "$lg" 2>/dev/null; do
  if [ "$SECONDS" -gt "$deadline" ]; then echo "loadgen overran" >&2; exit 1; fi
  if ! kill -0 "$pc" 2>/dev/null; then echo "profcol died:" >&2; tail -20 "$out/profcol.log" >&2; exit 1; fi
  rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pc/status" 2>/dev/null || echo 0)
  if [ "${rss_kb:-0}" -gt $((${MAX_RSS_MB:-8192} * 1024)) ]; then
    echo "| $N | stopped: profcol RSS $((rss_kb / 1024)) MiB > MAX_RSS_MB=${MAX_RSS_MB:-8192} after $SECONDS s | | | | | | | |"
    tail -3 "$out/loadgen.log" >&2
    exit 2
  fi
  sleep 1
done
wait "$lg" || { cat "$out/loadgen.log" >&2; exit 1; }

# The window is measured: stop profcol and the helper before anything else
# runs, so the comparison below has the cores to itself. profcol gets 10 s
# to shut down (its exporter cannot flush to the gone sink) before SIGKILL.
for p in "${pids[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
for _ in $(seq 1 100); do
  alive=0
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ "$alive" = 0 ] && break
  sleep 0.1
done
[ "$alive" = 0 ] || echo "profcol did not stop within 10 s of SIGTERM; killing it" >&2
for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
pids=()

python3 "$root/integration/scale/row.py" "$out/report.json"
if [ -s "$out/perf.data" ] && [[ "${PERF_CG:-}" == dwarf* ]]; then
  python3 "$root/integration/scale/perf_split.py" "$out/perf.data" \
    --ms-per-profile "$(jq '(.profcol.cpu_seconds_per_profile // 0) * 1000' "$out/report.json")" \
    >"$out/perf_split.txt" 2>&1 || true
fi

if [ -z "${NO_CONVERT:-}" ]; then
  if [[ "${EXPORTER_EXTRA:-}" == *compression* ]]; then
    echo "note: EXPORTER_EXTRA changes the compression; the share below is gzip level ${GZIP_LEVEL:-1} (set GZIP_LEVEL; zstd/none are not modelled)" >&2
  fi
  BIN="$bin" "$root/integration/scale/cost_split.sh" "$out"
fi
