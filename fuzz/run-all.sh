#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), seeding the corpora
# from pdata/testdata first. Needs cargo-fuzz (installed when missing);
# RUSTC_BOOTSTRAP=1 lets the stable toolchain build with the sanitizer flags.
# Crashes land in fuzz/artifacts/<target>/ and make the script fail.
# fuzz/Cargo.lock pins the workspace's versions (collector/tests/fuzz_lockfile.rs checks it).
set -euo pipefail
SECONDS_EACH="${1:-60}"
cd "$(dirname "$0")"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
cargo run --quiet --example seed
status=0
for target in decode_pprof to_otlp from_otlp view otlp_json delta ingest otlp_receive otlp_check ottl storage_record jfr; do
    echo "== $target for ${SECONDS_EACH}s"
    if ! RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_EACH" -max_len=262144 -rss_limit_mb=2048; then
        echo "!! $target found a failure; see fuzz/artifacts/$target/" >&2
        status=1
    fi
done
exit $status
