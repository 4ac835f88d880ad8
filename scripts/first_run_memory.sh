#!/bin/sh
# First run: self-profiling cost (BENCHMARKS.md). Runs two profcol release
# binaries side by side, each with its embedded default pipeline on its own
# port (self-profiling) and with nothing scraped (idle), for $SECS seconds,
# then prints VmRSS and VmHWM of each from /proc/<pid>/status.
# Usage: scripts/first_run_memory.sh BEFORE_BIN AFTER_BIN [SECS]
set -eu
BEFORE=$1; AFTER=$2; SECS=${3:-60}
WORK=$(mktemp -d)
run() { # name bin port mode
  mkdir -p "$WORK/$1"
  if [ "$4" = self ]; then
    # The before binary has no self_heap receiver; the after one needs it moved too.
    set -- "$1" "$2" "$3" \
      --set "service.telemetry.metrics.address=127.0.0.1:$3" \
      --set "receivers::pyroscope_scrape/self::targets=[{__address__: '127.0.0.1:$3', service_name: profcol}]"
    if "$2" print-config 2>/dev/null | grep -q self_heap; then
      set -- "$@" --set "receivers::pyroscope_scrape/self_heap::targets=[{__address__: '127.0.0.1:$3', service_name: profcol}]"
    fi
  else
    # Idle: the same binary scraping a port nothing listens on.
    set -- "$1" "$2" "$3" \
      --set "service.telemetry.metrics.address=127.0.0.1:$3" \
      --set "receivers::pyroscope_scrape/self::targets=[{__address__: '127.0.0.1:1', service_name: idle}]"
    if "$2" print-config 2>/dev/null | grep -q self_heap; then
      set -- "$@" --set "receivers::pyroscope_scrape/self_heap::targets=[{__address__: '127.0.0.1:1', service_name: idle}]"
    fi
  fi
  name=$1; bin=$2; shift 3
  (cd "$WORK/$name" && exec "$bin" "$@" >log 2>&1) &
  echo $! >"$WORK/$name/pid"
}
run before-self "$BEFORE" 18890 self
run after-self "$AFTER" 18891 self
run before-idle "$BEFORE" 18892 idle
run after-idle "$AFTER" 18893 idle
sleep "$SECS"
for n in before-idle before-self after-idle after-self; do
  pid=$(cat "$WORK/$n/pid")
  printf '%-12s %s\n' "$n" "$(grep -E 'VmRSS|VmHWM' /proc/$pid/status | tr -s ' \t' ' ' | tr '\n' ' ')"
  printf '%-12s cpu profiles: %s\n' "$n" "$(grep -o 'profile_type=process_cpu samples=[0-9]*' "$WORK/$n/log" | sed 's/.*=//' | tr '\n' ' ')"
  kill "$pid"
done
echo "logs: $WORK"
