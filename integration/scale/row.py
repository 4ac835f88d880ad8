#!/usr/bin/env python3
"""Formats one scale run (loadgen's report.json, which holds profcol's error
counters over the measured window) as
a Markdown table row; details go to stderr.

usage: row.py report.json [--header]
"""
import json
import sys

HEADER = ("| N | profiles/s (expected) | CPU-s per profile | avg cores | peak RSS | RSS per target "
          "| lateness p50 | p99 | errors |\n|---|---|---|---|---|---|---|---|---|")


def mib(b):
    return f"{b / 1048576:.0f} MiB"


def main():
    if "--header" in sys.argv:
        print(HEADER)
        return
    r = json.load(open(sys.argv[1]))
    p = r.get("profcol") or {}
    e = r["errors"]
    lat = r["scrapes"]["lateness"]
    c = r.get("profcol_counters_in_window") or {}
    scrape_err = c.get("pyroscope_scrape_errors_total", float("nan"))
    exp_failed = c.get("profcol_exporter_failed_profiles_total", float("nan"))
    exp_dropped = c.get("profcol_exporter_dropped_profiles_total", float("nan"))
    errors = (f"skipped {e.get('skipped_scrapes', '?')}/{e['expected_scrapes']} (in-window count short {e['missing_scrapes']}), 404 {e['not_found']}, "
              f"scrape err {scrape_err:.0f}, export failed {exp_failed:.0f} dropped {exp_dropped:.0f}")
    n = r["n"]
    peak = max(p.get("peak_rss_bytes", 0), p.get("max_sampled_rss_bytes", 0))
    print(f"| {n} | {r['sink']['profiles_per_s']:.1f} ({r['expected_profiles_per_s']:.1f}) "
          f"| {p.get('cpu_seconds_per_profile', 0) * 1000:.2f} ms "
          f"| {p.get('avg_cores', 0):.2f} | {mib(peak)} | {peak / n / 1024:.0f} KiB "
          f"| {lat['p50_ms']} ms | {lat['p99_ms']} ms | {errors} |")
    lg = r["loadgen"]
    print(f"loadgen (same machine): {lg['avg_cores']:.2f} cores, peak RSS {mib(lg['peak_rss_bytes'])}; "
          f"scrape requests/s {r['scrape_requests_per_s']:.1f}; sink requests/s "
          f"{r['sink']['requests_per_s']:.1f}, OTLP profiles/s {r['sink']['otlp_profiles_per_s']:.1f}; "
          f"lateness max {lat['max_ms']} ms over {lat['gaps']} gaps; silent loops {e['silent_loops']}; "
          f"window {r['window_s']:.0f}s", file=sys.stderr)
    la = r.get("loadavg_1m") or {}
    print(f"machine load average (1 min) during the window: mean {la.get('mean_of_samples', 0):.1f}, "
          f"max {la.get('max_of_samples', 0):.1f} (start {la.get('window_start', 0):.1f}, end "
          f"{la.get('window_end', 0):.1f}) on {r.get('cpus', '?')} cores; profcol descriptors max "
          f"{p.get('max_sampled_fds', '?')} ({p.get('max_sampled_fds', 0) / n:.2f} per target), loadgen "
          f"{lg.get('fds_end', '?')} at the end; kinds {','.join(r.get('kinds', []))}", file=sys.stderr)


main()
