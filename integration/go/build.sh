#!/usr/bin/env bash
# Builds the Go peers — each its own module with a pinned go.mod and a committed
# go.sum — with the machine's Go (1.26 or newer) into integration/go/bin (gitignored):
#   target      pull target: net/http/pprof, fgprof, godeltaprof's delta endpoints
#   pprofbench  google/pprof Parse/Write timing and folding (check_convert, benchmarks)
#   otelcol     an OpenTelemetry Collector from the upstream modules at one release
#   pushsdk     push-mode peer: github.com/grafana/pyroscope-go in push mode (gateway suite)
#   contribbench  the OpenTelemetry way of converting pprof to OTLP, timed in process
#               (scale/contrib_cost.sh); not in the default list: only that
#               benchmark needs it, and it builds it itself
# Usage: integration/go/build.sh [PEER...]      (default: target pprofbench otelcol pushsdk)
# A peer is rebuilt only when a .go file, go.mod or go.sum is newer than its binary.
# Modules come from the Go module proxy (GOPROXY as set on the machine) into the usual
# module cache; -mod=readonly makes a go.sum that does not match go.mod an error
# instead of a silent rewrite. GOTOOLCHAIN=local: never fetch another toolchain.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
min_minor=26

die() { echo "build.sh: $*" >&2; exit 1; }

go_minor() { # prints the minor version of go1.X[.Y] for the go binary $1, or nothing
  "$1" env GOVERSION 2>/dev/null | sed -nE 's/^go1\.([0-9]+).*/\1/p'
}

pick_go() {
  local c m
  for c in ${GO:+"$GO"} "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    m="$(GOTOOLCHAIN=local go_minor "$c")"
    if [ -n "$m" ] && [ "$m" -ge "$min_minor" ]; then echo "$c"; return 0; fi
    echo "build.sh: ignoring $c ($(GOTOOLCHAIN=local "$c" env GOVERSION 2>/dev/null || echo 'no version')): Go 1.$min_minor or newer is needed" >&2
  done
  return 1
}

gobin="$(pick_go)" || die "no Go 1.$min_minor or newer found (looked at \$GO, go on PATH, /usr/local/go/bin/go); the machine's Go is expected at /usr/local/go/bin/go"
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"

peers=("$@")
((${#peers[@]})) || peers=(target pprofbench otelcol pushsdk)
mkdir -p "$here/bin"
for prog in "${peers[@]}"; do
  src="$here/$prog"
  [ -f "$src/go.mod" ] || die "unknown peer $prog (no $src/go.mod)"
  [ -f "$src/go.sum" ] || die "$src/go.sum is missing: it is committed with go.mod"
  out="$here/bin/$prog"
  if [ -x "$out" ] && [ -z "$(find "$src" \( -name '*.go' -o -name go.mod -o -name go.sum \) -newer "$out" | head -1)" ]; then
    continue
  fi
  start=$(date +%s)
  echo "build.sh: building $prog with $gobin ($("$gobin" env GOVERSION))" >&2
  # Build to a temporary name first: a failed or interrupted build leaves no binary
  # that looks fresh.
  (cd "$src" && "$gobin" build -trimpath -o "$out.tmp" .) || { rm -f "$out.tmp"; die "building $prog failed"; }
  mv -f "$out.tmp" "$out"
  echo "build.sh: built $out in $(($(date +%s) - start)) s" >&2
done
