#!/usr/bin/env bash
# Installs what the test suites need (the Go peers built as modules by the
# machine's Go 1.26 — Go target, pprofbench, an OpenTelemetry Collector —, the
# Python OTLP decoder, the Node target) and runs every suite: unit and component
# tests, end-to-end tests of the binary, the fuzzers for a short fixed budget,
# the real-peer suite and the OpenTelemetry Collector suite.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-15}"

echo "==> installing test dependencies"
bash integration/install.sh

# Cargo builds the binary itself for the end-to-end tests (integration tests
# of the profcol package, collector/tests/).
echo "==> cargo test (unit, component and end-to-end suites)"
cargo test --workspace --no-fail-fast

if [ -x fuzz/run-all.sh ] || [ -f fuzz/run-all.sh ]; then
  echo "==> fuzzing each target for ${FUZZ_SECONDS}s"
  bash fuzz/run-all.sh "$FUZZ_SECONDS"
fi

# The integration suites run target/debug/profcol.
echo "==> building the profcol binary"
cargo build -p profcol

echo "==> integration suites: receivers' self-test, convert vs independent decoders, real peers, OpenTelemetry Collector, admin pages in a browser"
bash integration/run_all.sh
