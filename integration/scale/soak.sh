#!/usr/bin/env bash
# Soak run: 1,000 virtual targets scraped for 30 minutes (after a warm-up),
# profcol's RSS sampled every 5 s; prints the scale row and the RSS verdict
# ("flat" = the last 5 minutes' mean RSS within 5 % of the first 5 minutes'
# after warm-up). A documented manual command, not part of scripts/test.sh.
#
# usage: integration/scale/soak.sh [N] [WINDOW_SECONDS]      (default 1000 1800)
# env:   KINDS=cpu,mutex   the profile types scraped (all five overload a
#                          shared 2-core machine at N=1000; see RESULTS.md)
#        WARMUP=180        seconds from the first scrape before measuring
#        plus everything integration/scale/run.sh takes (OUT, BIN, NO_BUILD, ...)
set -euo pipefail
N="${1:-1000}"
WINDOW="${2:-1800}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
export KINDS="${KINDS:-cpu,mutex}"
export WARMUP="${WARMUP:-180}"
export OUT="${OUT:-$(mktemp -d /tmp/profcol-soak.XXXXXX)}"
"$root/integration/scale/run.sh" "$N" "$WINDOW"
python3 "$root/integration/scale/soak_rss.py" "$OUT/report.json"
