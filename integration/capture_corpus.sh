#!/usr/bin/env bash
# Captures a pprof corpus from the real targets into integration/corpus/:
# every Go endpoint (CPU, fgprof, allocs, heap, mutex, block, goroutine) and the
# Node target's wall/CPU and heap profiles. Used by bench_convert.sh.
# Usage: capture_corpus.sh [SECONDS]   (CPU/fgprof/wall duration, default 3)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
secs="${1:-3}"
out="$here/corpus"
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$out"

wait_for() { # file, seconds
  for _ in $(seq 1 $(($2 * 20))); do [ -s "$1" ] && return 0; sleep 0.05; done
  echo "capture_corpus.sh: timed out waiting for $1" >&2; return 1
}
fetch() { # url, file
  curl -sf --max-time $((secs + 10)) -o "$2" "$1"
  echo "$(stat -c %s "$2") $2"
}

"$here/go/build.sh" target
"$here/go/bin/target" -listen 127.0.0.1:0 -port-file "$work/go.port" >"$work/go.log" 2>&1 &
pids+=($!)
have_node=0
if command -v node >/dev/null && [ -d "$here/node/node_modules/@pyroscope/nodejs" ]; then
  (cd "$here/node" && exec node server.js --listen 127.0.0.1:0 --port-file "$work/node.port") >"$work/node.log" 2>&1 &
  pids+=($!)
  have_node=1
else
  echo "capture_corpus.sh: Node target unavailable (run install.sh); capturing Go only" >&2
fi

wait_for "$work/go.port" 30
go="$(cat "$work/go.port")"
fetches=()
fetch "http://$go/debug/pprof/profile?seconds=$secs" "$out/go_cpu.pb.gz" &
fetches+=($!)
fetch "http://$go/debug/fgprof?seconds=$secs" "$out/go_fgprof.pb.gz" &
fetches+=($!)
if [ "$have_node" = 1 ]; then
  wait_for "$work/node.port" 30
  node="$(cat "$work/node.port")"
  fetch "http://$node/debug/pprof/profile?seconds=$secs" "$out/node_wall.pb.gz" &
  fetches+=($!)
fi
for p in allocs heap mutex block goroutine; do
  fetch "http://$go/debug/pprof/$p" "$out/go_$p.pb.gz"
done
if [ "$have_node" = 1 ]; then fetch "http://$node/debug/pprof/heap" "$out/node_heap.pb.gz"; fi
for f in "${fetches[@]}"; do wait "$f"; done
echo "corpus: $(du -sh "$out" | cut -f1) in $out"
