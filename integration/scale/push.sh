#!/usr/bin/env bash
# Throughput of one push receiver: profcol-loadgen pushes the scale harness's
# generated profiles (the same variants its virtual targets serve) to profcol's
# `otlp` or `pyroscope` receiver at RATE profiles/s with bounded concurrency;
# profcol exports over OTLP gRPC (gzip level 1) to loadgen's counting sink, so
# the path measured is receive → pipeline → export. After a warm-up (default
# 20 s from the first request) it measures a window (default 60 s) and prints
# one Markdown table row (integration/scale/push_row.py):
#   path | offered profiles/s | accepted/s | exported/s | CPU-s per profile |
#   avg cores | peak RSS | latency p50 / p99 | refused
# CPU-s per profile is profcol's CPU (utime + stime) in the window ÷ the
# profiles the sink received in the window.
#
# usage: integration/scale/push.sh MODE RATE [WINDOW_SECONDS]
#   MODE: otlp-grpc | otlp-http | ingest | connect
# env:   WARMUP=20 CONCURRENCY=8 PER_REQUEST=1 (profiles per OTLP request or
#        PushRequest; /ingest is always 1) SERVICES=20 (distinct service_name)
#        LOADGEN_EXTRA='--push-compression none'  more loadgen flags
#        (e.g. --ingest-body raw, --variants 4, --cpu-samples 2000)
#        KINDS=allocs,block,goroutine,mutex,cpu  the profile kinds pushed
#        OUT=<dir> (default a new /tmp/profcol-push.*)
#        NO_BUILD=1 skip `cargo build --release`; BIN=<dir> use binaries from there
#        EXPORTER_EXTRA='{sending_queue: {max_batch_size: 10}}' keys merged into otlp_grpc
#        RECEIVER_EXTRA='{max_request_body_size: 8MiB}' keys merged into the receiver's block
#        PERF=1   also record profcol with `perf record` for 15 s mid-window
#                 (PERF_FREQ=199, PERF_CG=dwarf,16384: its call graph) -> perf.txt
#                 and perf_split.txt (integration/scale/perf_split.py)
#        PPROF=1  also fetch profcol's own /debug/pprof/profile?seconds=10 mid-window
#        MAX_RSS_MB=8192  stop the run when profcol's RSS passes this
#        HEADER=1 print the table header first
# Everything listens on 127.0.0.1; every child is killed on exit.
set -euo pipefail

MODE="${1:?usage: push.sh MODE RATE [WINDOW_SECONDS]}"
RATE="${2:?usage: push.sh MODE RATE [WINDOW_SECONDS]}"
WINDOW="${3:-60}"
WARMUP="${WARMUP:-20}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${OUT:-$(mktemp -d /tmp/profcol-push.XXXXXX)}"
mkdir -p "$out"
bin="${BIN:-$root/target/release}"
KINDS="${KINDS:-allocs,block,goroutine,mutex,cpu}"

case "$MODE" in
  otlp-grpc | otlp-http | ingest | connect) ;;
  *) echo "push.sh: unknown mode $MODE (otlp-grpc, otlp-http, ingest, connect)" >&2; exit 2 ;;
esac

if [ -z "${NO_BUILD:-}" ]; then
  (cd "$root" && cargo build --release -q -p profcol -p profcol-loadgen)
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

pids=()
cleanup() {
  for p in "${pids[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
admin_port="$(free_port)"
recv_port="$(free_port)"

# shellcheck disable=SC2086 # LOADGEN_EXTRA is a list of flags
"$bin/profcol-loadgen" --push "$MODE" --push-url "http://127.0.0.1:$recv_port" --rate "$RATE" \
  --concurrency "${CONCURRENCY:-8}" --per-request "${PER_REQUEST:-1}" --push-services "${SERVICES:-20}" \
  --warmup "$WARMUP" --window "$WINDOW" --kinds "$KINDS" --out-dir "$out" \
  --watch-pid-file "$out/profcol.pid" --metrics-addr "127.0.0.1:$admin_port" ${LOADGEN_EXTRA:-} \
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

case "$MODE" in
  otlp-grpc) rid=otlp; block="otlp: { protocols: { grpc: { endpoint: \"127.0.0.1:$recv_port\" } } }" ;;
  otlp-http) rid=otlp; block="otlp: { protocols: { http: { endpoint: \"127.0.0.1:$recv_port\" } } }" ;;
  *) rid=pyroscope; block="pyroscope: { endpoint: \"127.0.0.1:$recv_port\" }" ;;
esac

cat >"$out/profcol.yaml" <<EOF
receivers:
  $block
exporters:
  otlp_grpc:
    endpoint: $sink
    tls: { insecure: true }
service:
  pipelines:
    profiles:
      receivers: [$rid]
      exporters: [otlp_grpc]
  telemetry:
    logs: { level: warn }
    metrics: { address: "127.0.0.1:$admin_port" }
EOF

extra=()
if [ -n "${EXPORTER_EXTRA:-}" ] || [ -n "${RECEIVER_EXTRA:-}" ]; then
  : >"$out/extra.yaml"
  [ -n "${EXPORTER_EXTRA:-}" ] && printf 'exporters:\n  otlp_grpc: %s\n' "$EXPORTER_EXTRA" >>"$out/extra.yaml"
  [ -n "${RECEIVER_EXTRA:-}" ] && printf 'receivers:\n  %s: %s\n' "$rid" "$RECEIVER_EXTRA" >>"$out/extra.yaml"
  extra=(--config "$out/extra.yaml")
fi
"$bin/profcol" --config "$out/profcol.yaml" "${extra[@]}" >"$out/profcol.log" 2>&1 &
pc=$!
pids+=("$pc")
echo "$pc" >"$out/profcol.pid"
echo "push: mode=$MODE rate=$RATE window=${WINDOW}s warmup=${WARMUP}s out=$out profcol pid $pc loadgen pid $lg" >&2

# Optional CPU breakdowns, 20 s into the measured window.
(
  for _ in $(seq 1 240); do grep -q "pool" "$out/loadgen.log" && break; sleep 0.5; done
  sleep $((WARMUP + 20))
  if [ -n "${PERF:-}" ] && command -v perf >/dev/null; then
    perf record -F "${PERF_FREQ:-199}" --call-graph "${PERF_CG:-dwarf,16384}" -p "$pc" -o "$out/perf.data" -- sleep 15 >/dev/null 2>&1 || true
    perf report -i "$out/perf.data" --no-children --percent-limit 1.5 --stdio \
      --sort symbol 2>/dev/null | grep -v '^$' | head -80 >"$out/perf.txt" || true
  fi
  if [ -n "${PPROF:-}" ]; then
    curl -sf -m 30 "http://127.0.0.1:$admin_port/debug/pprof/profile?seconds=10" -o "$out/profcol_cpu.pb.gz" \
      && "$bin/profcol" convert --to folded "$out/profcol_cpu.pb.gz" -o "$out/profcol_cpu.folded" || true
  fi
) &
pids+=("$!")

deadline=$((SECONDS + 180 + WARMUP + WINDOW))
while kill -0 "$lg" 2>/dev/null; do
  if [ "$SECONDS" -gt "$deadline" ]; then echo "loadgen overran" >&2; exit 1; fi
  if ! kill -0 "$pc" 2>/dev/null; then echo "profcol died:" >&2; tail -20 "$out/profcol.log" >&2; exit 1; fi
  rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pc/status" 2>/dev/null || echo 0)
  if [ "${rss_kb:-0}" -gt $((${MAX_RSS_MB:-8192} * 1024)) ]; then
    echo "| push $MODE | stopped: profcol RSS $((rss_kb / 1024)) MiB > MAX_RSS_MB=${MAX_RSS_MB:-8192} after $SECONDS s | | | | | | | |"
    exit 2
  fi
  sleep 1
done
wait "$lg" || { tail -20 "$out/loadgen.log" >&2; tail -20 "$out/profcol.log" >&2; exit 1; }

for p in "${pids[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
for _ in $(seq 1 100); do
  alive=0
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ "$alive" = 0 ] && break
  sleep 0.1
done
for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
pids=()

[ -n "${HEADER:-}" ] && python3 "$root/integration/scale/push_row.py" --header
python3 "$root/integration/scale/push_row.py" "$out/report.json"
# profcol's warnings while loadgen ran (once its sink is gone, the exporter's
# failures are expected): log lines stamped before the report's end.
warns="$(python3 - "$out/report.json" "$out/profcol.log" <<'PY'
import datetime, json, re, sys
end = json.load(open(sys.argv[1])).get("ended_unix_s", 0)
for line in open(sys.argv[2], errors="replace"):
    m = re.match(r"ts=(\S+)Z .*level=(warn|error)", line)
    if m and datetime.datetime.fromisoformat(m.group(1)[:26]).replace(
            tzinfo=datetime.timezone.utc).timestamp() < end:
        print(line.rstrip())
PY
)"
if [ -n "$warns" ]; then
  echo "profcol warnings/errors during the run (first 5 of $(printf '%s\n' "$warns" | wc -l)):" >&2
  printf '%s\n' "$warns" | sed -n 1,5p >&2
fi
if [ -s "$out/perf.data" ]; then
  python3 "$root/integration/scale/perf_split.py" "$out/perf.data" \
    --ms-per-profile "$(jq '(.profcol.cpu_seconds_per_profile // 0) * 1000' "$out/report.json")" \
    >"$out/perf_split.txt" 2>&1 || true
  echo "perf: $out/perf.txt, $out/perf_split.txt" >&2
fi
