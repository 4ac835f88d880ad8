#!/usr/bin/env python3
"""Side-by-side conversion benchmark over a pprof corpus.

For every input file it measures, in bytes of (gzipped) input per second:
  * gunzip      — Python's zlib-backed gzip.decompress, the floor any decoder pays;
  * pprof (Go)  — google/pprof profile.Parse + Write (integration/go/bin/pprofbench);
  * profcol     — `profcol convert FILE --to otlp -o OUT`, OUT on tmpfs (/dev/shm) when the
                  machine has one: gunzip and Go keep their output in memory, and a disk's
                  writeback of the output would time the disk. Process start-up is taken out
                  by timing one invocation with the file given once and one with it given
                  R times, and using the slope; when convert rejects repeated inputs it
                  falls back to single runs minus the time of `profcol --version`.
The machines are shared and noisy: each of --rounds rounds measures the three tools on a
file right after each other, and every column keeps its median over the rounds.
Prints a table with the ratios, and writes the raw numbers as JSON with --json.
"""

import argparse
import glob
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
INTEG = os.path.dirname(HERE)
ROOT = os.path.dirname(INTEG)


def time_fn(fn, min_time, min_iters):
    n, start = 0, time.perf_counter()
    while n < min_iters or time.perf_counter() - start < min_time:
        fn()
        n += 1
    return (time.perf_counter() - start) / n


def run_wall(argv, reps):
    """Median wall time of `reps` runs of argv; raises on failure."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
        times.append(time.perf_counter() - t0)
        if r.returncode != 0:
            raise RuntimeError(r.stderr.decode(errors="replace").strip()[-400:])
    return statistics.median(times)


def profcol_seconds(profcol, path, out, repeat, reps, startup, work_target=0.3):
    if os.path.exists(out):
        os.remove(out)
    one = run_wall([profcol, "convert", path, "--to", "otlp", "-o", out], reps)
    if not os.path.exists(out) or os.path.getsize(out) == 0:
        raise RuntimeError(f"`profcol convert {path} --to otlp -o {out}` exited 0 but wrote nothing")
    try:
        many = run_wall([profcol, "convert", *([path] * repeat), "--to", "otlp", "-o", out], reps)
        per = (many - one) / (repeat - 1)
        # Grow the repeat count until the conversions themselves take about
        # work_target seconds, so start-up jitter does not dominate small files.
        if per > 0 and per * repeat < work_target and repeat < 4001:
            bigger = min(4001, int(work_target / per) + 1)
            many = run_wall([profcol, "convert", *([path] * bigger), "--to", "otlp", "-o", out], reps)
            per, repeat = (many - one) / (bigger - 1), bigger
        if per > 0:
            return per, f"slope x{repeat}"
    except RuntimeError:
        pass
    return max(one - startup, 1e-9), "minus-startup"


def fmt_rate(bps):
    return f"{bps / 1e6:9.1f}" if bps else "        -"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="*", help="pprof files (default: pdata/testdata + integration/corpus)")
    ap.add_argument("--profcol", help="profcol binary (default: target/release/profcol, else target/debug)")
    ap.add_argument("--pprofbench", default=os.path.join(INTEG, "go", "bin", "pprofbench"))
    ap.add_argument("--repeat", type=int, default=21, help="copies of a file per profcol invocation")
    ap.add_argument("--reps", type=int, default=3, help="invocations per measurement (median)")
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per in-process measurement")
    ap.add_argument("--rounds", type=int, default=3, help="rounds over the corpus (median per column)")
    ap.add_argument("--json", help="write raw results here")
    args = ap.parse_args()

    files = args.files or sorted(glob.glob(os.path.join(ROOT, "pdata", "testdata", "*.pb.gz"))
                                 + glob.glob(os.path.join(INTEG, "corpus", "*.pb.gz")))
    if not files:
        sys.exit("no corpus: run integration/capture_corpus.sh")
    profcol = args.profcol
    if not profcol:
        rel = os.path.join(ROOT, "target", "release", "profcol")
        profcol = rel if os.path.exists(rel) else os.path.join(ROOT, "target", "debug", "profcol")
    if "release" not in profcol:
        print(f"note: {profcol} is not a release build; numbers understate profcol "
              "(cargo build --release -p profcol)", file=sys.stderr)

    results = {f: {"file": os.path.relpath(f, ROOT), "bytes": os.path.getsize(f)} for f in files}
    have_go = os.access(args.pprofbench, os.X_OK)
    if not have_go:
        print(f"note: {args.pprofbench} missing (integration/go/build.sh); skipping the Go column",
              file=sys.stderr)
    have_profcol = os.access(profcol, os.X_OK)
    if not have_profcol:
        print(f"note: no profcol binary at {profcol}; skipping the profcol column", file=sys.stderr)

    # The machines are shared and noisy: each round measures the three
    # tools on one file right after each other, and each column keeps its
    # median over the rounds.
    samples = {f: {"gunzip_s": [], "pprof_s": [], "pprof_parse_s": [], "profcol_s": []} for f in files}
    startup = run_wall([profcol, "--version"], 5) if have_profcol else 0.0
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=shm) as tmp:
        out = os.path.join(tmp, "out.otlp")
        for _ in range(args.rounds):
            for f in files:
                r, got = results[f], samples[f]
                with open(f, "rb") as fh:
                    data = fh.read()
                try:
                    got["gunzip_s"].append(time_fn(lambda: gzip.decompress(data), args.min_time, 5))
                except OSError as e:
                    r["gunzip_error"] = str(e)
                if have_go:
                    g = subprocess.run([args.pprofbench, f"-min-time={int(args.min_time * 1000)}ms", f],
                                       capture_output=True, text=True, timeout=600)
                    for line in g.stdout.splitlines():
                        rec = json.loads(line)
                        if rec.get("error"):
                            r["pprof_error"] = rec["error"]
                        else:
                            got["pprof_s"].append(rec["seconds"])
                            if rec.get("parse_seconds"):
                                got["pprof_parse_s"].append(rec["parse_seconds"])
                if have_profcol:
                    try:
                        s_, how = profcol_seconds(profcol, f, out, args.repeat, args.reps, startup)
                        got["profcol_s"].append(s_)
                        r["profcol_method"] = how
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        r["profcol_error"] = str(e)
    for f in files:
        for k, xs in samples[f].items():
            if xs:
                results[f][k] = statistics.median(xs)
                results[f][k + "_rounds"] = xs

    hdr = (f"{'file':<38} {'bytes':>8} {'gunzip':>9} {'Go parse':>9} {'Go p+w':>9} {'profcol':>9} "
           f"{'pc/Go p+w':>10} {'pc/Go prs':>10} {'pc/gunzip':>10}")
    print(f"throughput in MB/s of gzipped input (higher is better), median of {args.rounds} rounds; "
          "ratios of throughput")
    print("Go p+w = google/pprof Parse+Write (gzip re-encode); Go parse = Parse alone; "
          "profcol = convert --to otlp (protobuf, uncompressed)")
    print(hdr)
    print("-" * len(hdr))
    tot = {"bytes": 0, "gunzip_s": 0.0, "pprof_s": 0.0, "pprof_parse_s": 0.0, "profcol_s": 0.0}
    complete = True
    for f in files:
        r = results[f]
        rate = {k: (r["bytes"] / r[k] if r.get(k) else None)
                for k in ("gunzip_s", "pprof_s", "pprof_parse_s", "profcol_s")}

        def ratio(k):
            return f"{rate['profcol_s'] / rate[k]:10.2f}" if rate["profcol_s"] and rate[k] else f"{'-':>10}"
        print(f"{r['file'][-38:]:<38} {r['bytes']:>8} {fmt_rate(rate['gunzip_s'])} {fmt_rate(rate['pprof_parse_s'])} "
              f"{fmt_rate(rate['pprof_s'])} {fmt_rate(rate['profcol_s'])} {ratio('pprof_s')} "
              f"{ratio('pprof_parse_s')} {ratio('gunzip_s')}")
        for k in ("gunzip_error", "pprof_error", "profcol_error"):
            if k in r:
                print(f"    {k}: {r[k]}")
        if all(r.get(k) for k in ("gunzip_s", "pprof_s", "pprof_parse_s", "profcol_s")):
            tot["bytes"] += r["bytes"]
            for k in ("gunzip_s", "pprof_s", "pprof_parse_s", "profcol_s"):
                tot[k] += r[k]
        else:
            complete = False
    if tot["bytes"]:
        g, p, pp, c = (tot["bytes"] / tot[k] for k in ("gunzip_s", "pprof_s", "pprof_parse_s", "profcol_s"))
        print("-" * len(hdr))
        print(f"{'TOTAL (files with all columns)':<38} {tot['bytes']:>8} {fmt_rate(g)} {fmt_rate(pp)} {fmt_rate(p)} "
              f"{fmt_rate(c)} {c / p:10.2f} {c / pp:10.2f} {c / g:10.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"profcol": profcol, "results": list(results.values())}, fh, indent=1)
    if not have_profcol or not complete:
        sys.exit(1)


if __name__ == "__main__":
    main()
