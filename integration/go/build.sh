#!/usr/bin/env bash
# Builds the Go peers offline against Debian's packaged fgprof and google/pprof
# into integration/go/bin (gitignored).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$here/bin"
export GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE="${GOCACHE:-$here/bin/.cache}"
for prog in target pprofbench; do
  out="$here/bin/$prog"
  if [ -x "$out" ] && [ -z "$(find "$here/$prog" -newer "$out" -name '*.go' | head -1)" ]; then
    continue
  fi
  (cd "$here/$prog" && go build -o "$out" .)
  echo "built $out" >&2
done
