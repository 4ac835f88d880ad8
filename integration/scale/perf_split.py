#!/usr/bin/env python3
"""Splits a `perf record --call-graph dwarf` profile of profcol into the parts
of a profile's path (receive, decompress, decode, convert, compress, send),
as shares of profcol's samples and, with --ms-per-profile X (profcol's CPU per
exported profile in that run), as ms per profile.

Each sample goes to the category of the frame nearest its leaf that matches
one of PATTERNS (in their order for one frame); a sample whose leaf is in the
kernel counts as "kernel" (system calls, scheduling, page faults); one where
nothing matches is "other". Allocation frames (malloc, jemalloc) take the
category of the code that called them.

usage: perf_split.py perf.data [--ms-per-profile X]
"""
import argparse
import collections
import re
import subprocess
import sys

PATTERNS = [
    ("gzip compress (exporter)", r"zlib_rs::deflate|GzEncoder|(?<![a-z])compress_into"),
    ("gunzip (receive / scrape)", r"zlib_rs::inflate|miniz_oxide::inflate|gunzip|decompress"),
    ("OTLP request decode + check (otlp receiver)",
     r"OtlpPayload|otlp::payload|ExportProfilesServiceRequest|opentelemetry_proto::|prost::encoding"),
    ("OTLP writer (exporter)", r"otlp::writer|OtlpWriter|otlp::sample_|otlp::stack_table|otlp::dict|"
                               r"otlp::label_cache|otlp::location_codes|otlp::sink|otlp::string_refs"),
    ("delta", r"pdata::delta"),
    ("pprof view / validation", r"pprof::view|PprofView|PprofData|pprof::data|pprof::validate|pprof::offsets"),
    ("pyroscope receiver (request parsing)", r"push::pyroscope|pdata::ingest|multipart"),
    ("scrape loop / fetch", r"scrape_loop|receiver::fetch|pyroscope_scrape"),
    ("exporter queue / pipeline", r"profcol_exporter::"),
    ("receiver (other)", r"profcol_receiver::"),
    ("HTTP / gRPC (hyper, h2, axum, tonic)", r"\bh2::|hyper::|hyper_util::|axum::|tonic::|tower::"),
    ("tokio runtime", r"tokio::|mio::"),
]
COMPILED = [(name, re.compile(p)) for name, p in PATTERNS]


def samples(path):
    """Yields each sample's frames (symbol names), leaf first, and whether
    the leaf is a kernel address."""
    out = subprocess.run(["perf", "script", "-i", path, "-F", "ip,sym", "--no-inline"],
                         capture_output=True, text=True, errors="replace", check=False).stdout
    frames, kernel_leaf = [], False
    for line in out.splitlines() + [""]:
        s = line.strip()
        if not s:
            if frames:
                yield frames, kernel_leaf
            frames, kernel_leaf = [], False
            continue
        addr, _, sym = s.partition(" ")
        if not frames:
            kernel_leaf = addr.startswith("ffffffff")
        frames.append(sym)


def classify(frames, kernel_leaf):
    if kernel_leaf:
        return "kernel"
    for f in frames:
        for name, rx in COMPILED:
            if rx.search(f):
                return name
    return "other"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("perf_data")
    ap.add_argument("--ms-per-profile", type=float, default=0.0)
    a = ap.parse_args()
    counts = collections.Counter()
    others = collections.Counter()
    for frames, kernel_leaf in samples(a.perf_data):
        c = classify(frames, kernel_leaf)
        counts[c] += 1
        if c == "other":
            others[frames[0]] += 1
    total = sum(counts.values())
    if not total:
        sys.exit("no samples")
    print(f"{total} samples")
    for name, n in counts.most_common():
        ms = f"  {a.ms_per_profile * n / total:.2f} ms/profile" if a.ms_per_profile else ""
        print(f"{100 * n / total:5.1f}%{ms}  {name}")
    print("top leaves of 'other':", ", ".join(f"{s} ({n})" for s, n in others.most_common(6)))


if __name__ == "__main__":
    main()
