#!/usr/bin/env bash
# Runs every integration suite in turn — the receivers' self-test, check_convert.py,
# run_real_peers.py, run_otelcol.py (profcol through a real OpenTelemetry Collector),
# run_gateway.py (push SDKs and the Collector into profcol's receivers),
# run_config_drift.py (the Collector and profcol validate the same sections) and
# the admin pages in a headless chromium (ui/run.mjs) —
# and prints their combined `N passed, M failed` as the last line.
# Usage: integration/run_all.sh [--install] [--build] [--allow-missing]
#   --install        run install.sh first (root, Debian)
#   --build          cargo build -p profcol first
#   --allow-missing  skip (not fail) suites whose peers are missing
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
allow=() ; install=0 ; build=0
for a in "$@"; do
  case "$a" in
    --install) install=1 ;;
    --build) build=1 ;;
    --allow-missing) allow=(--allow-missing) ;;
    *) echo "run_all.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
[ "$install" = 1 ] && { "$here/install.sh" || exit 1; }
if [ "$build" = 1 ]; then (cd "$root" && cargo build -q -p profcol) || exit 1; fi

passed=0 ; failed=0 ; skipped=0 ; rc=0
run() { # name, command...
  local name="$1"; shift
  echo "==> $name"
  local out; out="$(mktemp)"
  "$@" 2>&1 | tee "$out"
  local code=${PIPESTATUS[0]}
  local last; last="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)"
  rm -f "$out"
  if [ -n "$last" ]; then
    passed=$((passed + $(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$last")))
    failed=$((failed + $(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$last")))
    if [[ "$last" =~ ([0-9]+)\ skipped ]]; then skipped=$((skipped + BASH_REMATCH[1])); fi
  fi
  if [ "$code" != 0 ]; then
    rc=1
    [ -z "$last" ] && failed=$((failed + 1))
  fi
}
run "python receivers self-test" python3 "$here/python/selftest.py" "${allow[@]}"
run "profcol convert vs independent decoders" python3 "$here/check_convert.py" "${allow[@]}"
run "real peers" python3 "$here/run_real_peers.py" "${allow[@]}"
run "OpenTelemetry Collector" python3 "$here/run_otelcol.py" "${allow[@]}"
run "gateway (push receivers)" python3 "$here/run_gateway.py" "${allow[@]}"
run "config drift against the OpenTelemetry Collector" python3 "$here/run_config_drift.py" "${allow[@]}"
if command -v node >/dev/null 2>&1; then
  run "admin pages in a browser" node "$here/ui/run.mjs" "${allow[@]}"
elif [ ${#allow[@]} -gt 0 ]; then
  echo "==> admin pages in a browser: skipped (node not found)"; skipped=$((skipped + 1))
else
  echo "==> admin pages in a browser: node not found (integration/install.sh)"; failed=$((failed + 1)); rc=1
fi
line="$passed passed, $failed failed"
[ "$skipped" != 0 ] && line="$line, $skipped skipped"
echo "$line"
exit "$rc"
