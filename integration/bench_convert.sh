#!/usr/bin/env bash
# Conversion benchmark: gunzip vs google/pprof (Go) parse+write vs `profcol convert --to otlp`
# over pdata/testdata/*.pb.gz and integration/corpus/*.pb.gz (or the files given).
# Options are those of integration/python/bench_convert.py (--profcol, --json, --repeat, ...).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/go/build.sh" pprofbench
if [ -z "$(ls "$here"/corpus/*.pb.gz 2>/dev/null)" ]; then "$here/capture_corpus.sh"; fi
exec python3 "$here/python/bench_convert.py" "$@"
