#!/usr/bin/env python3
"""RSS verdict of a soak run from loadgen's report.json: profcol's RSS
samples (every 5 s from the first scrape) after the warm-up, the mean of
the first and of the last 5 minutes, their ratio, the least-squares slope,
and a per-minute series. "flat" = last-5-min mean within 5 % of the first.

usage: soak_rss.py report.json
"""
import json
import sys

r = json.load(open(sys.argv[1]))
warm = r["warmup_s"]
samples = [s for s in r["profcol"]["rss_samples"] if s[0] >= warm]
if len(samples) < 120:
    sys.exit(f"too few samples after warm-up: {len(samples)}")
mib = lambda b: b / 1048576
first = [s[1] for s in samples if s[0] < warm + 300]
last_t = samples[-1][0]
last = [s[1] for s in samples if s[0] > last_t - 300]
f, l = sum(first) / len(first), sum(last) / len(last)
n = len(samples)
mt = sum(s[0] for s in samples) / n
mr = sum(s[1] for s in samples) / n
slope = sum((s[0] - mt) * (s[1] - mr) for s in samples) / sum((s[0] - mt) ** 2 for s in samples)
growth = (l - f) / f * 100
print(f"soak: N={r['n']} kinds={','.join(r.get('kinds', []))} measured {r['window_s']:.0f}s after {warm}s warm-up; "
      f"{n} RSS samples")
print(f"RSS mean first 5 min {mib(f):.1f} MiB, last 5 min {mib(l):.1f} MiB: growth {growth:+.1f} % "
      f"({'flat' if abs(growth) < 5 else 'NOT flat'}; target < 5 %); min {mib(min(s[1] for s in samples)):.1f}, "
      f"max {mib(max(s[1] for s in samples)):.1f} MiB; slope {slope * 3600 / 1048576:+.1f} MiB/hour")
per_min = {}
for s in samples:
    per_min.setdefault((s[0] - warm) // 60, []).append(s)
series = [f"{mib(sum(x[1] for x in v) / len(v)):.0f}" for _, v in sorted(per_min.items())]
print("RSS per minute after warm-up (MiB): " + " ".join(series))
loads = [s[3] for s in samples if len(s) > 3]
if loads:
    print(f"machine load average (1 min): mean {sum(loads) / len(loads):.1f}, max {max(loads):.1f}")
