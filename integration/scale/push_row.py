#!/usr/bin/env python3
"""Formats one push run (loadgen's report.json from `--push`) or one scrape
run (run.sh's report.json) as a row of the push-vs-scrape table; details go
to stderr.

  mode | offered profiles/s | accepted/s | exported/s | CPU-s per profile |
  avg cores | peak RSS | request latency p50 / p99 | refused

For a scrape run, "offered" is the expected scrapes per second, "accepted"
the scrapes loadgen served in the window, the latency column the scrape
lateness (|gap − interval|) and "refused" the skipped scrapes.

usage: push_row.py report.json [LABEL] | push_row.py --header
"""
import json
import sys

HEADER = ("| path | offered profiles/s | accepted/s | exported/s | CPU-s per profile | avg cores "
          "| peak RSS | latency p50 / p99 | refused |\n|---|---|---|---|---|---|---|---|---|")


def mib(b):
    return f"{b / 1048576:.0f} MiB"


def main():
    if "--header" in sys.argv:
        print(HEADER)
        return
    r = json.load(open(sys.argv[1]))
    label = sys.argv[2] if len(sys.argv) > 2 else None
    p = r.get("profcol") or {}
    peak = max(p.get("peak_rss_bytes", 0), p.get("max_sampled_rss_bytes", 0))
    c = r.get("profcol_counters_in_window") or {}
    sink = r["sink"]
    la = r.get("loadavg_1m") or {}
    lg = r["loadgen"]
    if "push" in r:
        q = r["requests"]
        u = r["push"]
        lat = q["latency_ms"]
        per = f", {u['per_request']}/request" if u["per_request"] > 1 else ""
        label = label or f"push {u['mode']}{per}"
        refused = q["refused"] + q["failed"] + q["not_sent"]
        ref = f"{refused}" if refused == 0 else f"{refused} ({q['reasons']}, not sent {q['not_sent']})"
        print(f"| {label} | {q['offered_profiles_per_s']:.1f} | {q['accepted_profiles_per_s']:.1f} "
              f"| {sink['profiles_per_s']:.1f} | {p.get('cpu_seconds_per_profile', 0) * 1000:.2f} ms "
              f"| {p.get('avg_cores', 0):.2f} | {mib(peak)} | {lat['p50']:.1f} / {lat['p99']:.1f} ms | {ref} |")
        print(f"{label}: requests {q['accepted']} accepted of {q['offered']} offered, latency p90 "
              f"{lat['p90']:.1f} max {lat['max']:.1f} ms, send delay p99 {q['send_delay_ms']['p99']:.1f} ms; "
              f"pool {u['pool']}; connections opened {u['connections_opened']}; CPU per accepted profile "
              f"{p.get('cpu_seconds_per_accepted_profile', 0) * 1000:.2f} ms; sink requests/s "
              f"{sink['requests_per_s']:.1f}", file=sys.stderr)
    else:
        e = r["errors"]
        lat = r["scrapes"]["lateness"]
        label = label or f"scrape N={r['n']}"
        print(f"| {label} | {r['expected_profiles_per_s']:.1f} | {r['scrape_requests_per_s']:.1f} "
              f"| {sink['profiles_per_s']:.1f} | {p.get('cpu_seconds_per_profile', 0) * 1000:.2f} ms "
              f"| {p.get('avg_cores', 0):.2f} | {mib(peak)} | lateness {lat['p50_ms']} / {lat['p99_ms']} ms "
              f"| {e.get('skipped_scrapes', 0)} skipped |")
    print(f"{label}: profcol counters in window {json.dumps(c, sort_keys=True)}; loadgen {lg['avg_cores']:.2f} "
          f"cores, peak RSS {mib(lg['peak_rss_bytes'])}; load average mean {la.get('mean_of_samples', 0):.1f} "
          f"max {la.get('max_of_samples', 0):.1f} on {r.get('cpus', '?')} cores; window {r['window_s']:.0f}s",
          file=sys.stderr)


main()
