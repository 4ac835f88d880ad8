#!/usr/bin/env python3
"""Collector suite: profcol -> a real OpenTelemetry Collector -> an independent sink, value-exact.

Starts, on free loopback ports and stopped again on exit:
  * the Go target (integration/go/target: net/http/pprof, fgprof, godeltaprof's
    /debug/pprof/delta_* handlers; -mem-profile-rate 1, so the served allocation totals
    are exact counts that never decrease), scraped through the recording proxy, which
    keeps every body it served;
  * the Python OTLP sink (python/otlp_receiver.py) and the Pyroscope push receiver;
  * the OpenTelemetry Collector built from the upstream modules (go/otelcol,
    v0.165.0) with --feature-gates=service.profilesSupport: one `otlp` receiver per
    route, each in its own `profiles/<route>` pipeline with an `otlp_grpc` exporter
    (insecure, no sending queue, no retries, so answers reach profcol at once) to the
    sink, tagged with the header x-profcol-route;
and runs profcol (pyroscope_scrape/go with fgprof, pyroscope_scrape/godelta with only
the godeltaprof_* types) with these exporters:
  otlp_grpc/grpc_gzip, otlp_grpc/grpc_zstd, otlp_http/http_gzip, otlp_http/http_zstd
      -> the Collector -> sink: what arrives, folded (stack -> value per sample type), equals
      the fold of what the target served: value-exact for cpu, goroutine, fgprof and
      godeltaprof_*, delta-exact for memory/block/mutex (consecutive served totals
      subtracted, per series, as DESIGN §4 defines the deltas);
  otlp_grpc/grpc_refused, otlp_http/http_refused
      -> the Collector, whose downstream refuses with INVALID_ARGUMENT: the Collector
      answers profcol with a permanent error (gRPC INVALID_ARGUMENT / HTTP 400), which
      profcol logs and counts (failed, reason permanent_error) and never resends;
  otlp_grpc/grpc_unavailable, otlp_http/http_unavailable
      -> the Collector, whose downstream answers UNAVAILABLE: profcol retries (short
      retry_on_failure), then gives up, logs and counts it: not retried forever;
  otlp_grpc/direct -> the sink itself: the same exactness without the Collector, and
      every request is checked against the OTLP spec and the pprof conventions
      (python/otlp_conformance.py); the Go target's trace_id/span_id pprof labels must
      arrive as links;
  pyroscope -> the push receiver: godeltaprof profiles equal what was served (no
      subtraction by profcol); memory/block/mutex deltas carry __delta__="false" and
      add up, per type and stack, to the last served totals minus the first (baseline).
The Collector never answers with a partial success (its OTLP receiver returns success or
an error), so refusals are what can be provoked from it; run_real_peers.py checks partial
success against the Python receiver.

Prints PASS/FAIL/SKIP lines and `N passed, M failed[, K skipped]` last; exit 0 only when
nothing failed (2 when a peer is missing, 0 with --allow-missing). Everything it starts
runs in its own session and is killed on exit; the run is bounded by --timeout.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "python"))
import run_real_peers as rp  # noqa: E402  (Suite, Procs and small helpers; ensures the venv)
import pproffold  # noqa: E402
import otlp_conformance  # noqa: E402

GOOD_ROUTES = (  # (route, profcol exporter type, compression)
    ("grpc_gzip", "otlp_grpc", "gzip"),
    ("grpc_zstd", "otlp_grpc", "zstd"),
    ("http_gzip", "otlp_http", "gzip"),
    ("http_zstd", "otlp_http", "zstd"),
)
REFUSED_ROUTES = (  # (route, profcol exporter type, the code the Collector's downstream answers)
    ("grpc_refused", "otlp_grpc", "INVALID_ARGUMENT"),
    ("http_refused", "otlp_http", "INVALID_ARGUMENT"),
    ("grpc_unavailable", "otlp_grpc", "UNAVAILABLE"),
    ("http_unavailable", "otlp_http", "UNAVAILABLE"),
)
DIRECT = "direct"
# Short retries for the UNAVAILABLE routes: at most max_elapsed_time per batch.
RETRY = {"initial_interval": "200ms", "max_interval": "1s", "max_elapsed_time": "3s"}
MAX_ATTEMPTS = 20  # 3 s of retries from 200 ms doubling to 1 s is ~6 attempts; 20 means "bounded"
FEATURE_GATE = "service.profilesSupport"

# target -> profile type (`__name__`) -> (the path profcol scrapes, the seed's type name,
# kind): kind "plain" (values as served) or "cumulative" (per-interval deltas of the
# served totals). Each (target, type) is its own scrape job, `pyroscope_scrape/<target>_<type>`,
# so that the `job` resource attribute alone tells the profile type (block and mutex
# have the same sample types, and `__name__` is a push label, not an OTLP attribute).
SCRAPE_TYPES = ("process_cpu", "memory", "block", "mutex", "goroutine", "fgprof",
                "godeltaprof_memory", "godeltaprof_mutex", "godeltaprof_block")
JOBS = {
    "go": {
        "types": {
            "process_cpu": ("/debug/pprof/profile", "process_cpu", "plain"),
            "goroutine": ("/debug/pprof/goroutine", "goroutine", "plain"),
            "fgprof": ("/debug/fgprof", "fgprof", "plain"),
            "memory": ("/debug/pprof/allocs", "memory", "cumulative"),
            "block": ("/debug/pprof/block", "block", "cumulative"),
            "mutex": ("/debug/pprof/mutex", "mutex", "cumulative"),
        },
    },
    "godelta": {
        "types": {
            "memory": ("/debug/pprof/delta_heap", "godeltaprof_memory", "plain"),
            "block": ("/debug/pprof/delta_block", "godeltaprof_block", "plain"),
            "mutex": ("/debug/pprof/delta_mutex", "godeltaprof_mutex", "plain"),
        },
    },
}


def job_of(target, ptype):
    return f"pyroscope_scrape/{target}_{ptype}"


def jobs():
    """[(target, ptype, job, path, seed type, kind)] for every scrape job."""
    return [(t, pt, job_of(t, pt), path, seed, kind)
            for t, info in JOBS.items() for pt, (path, seed, kind) in info["types"].items()]
# The trace context the Go target's traced CPU workload runs under (go/target/main.go).
TRACE_ID, SPAN_ID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def tcp_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_ports(ports, proc, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        if all(tcp_open(p) for p in ports):
            return True
        time.sleep(0.1)
    return False


def metric_lines(text, name):
    """{labels dict frozen: value} for one metric family's samples in Prometheus text."""
    out = {}
    for line in (text or "").splitlines():
        if not line.startswith(name + "{"):
            continue
        body, val = line[len(name) + 1:].rsplit("} ", 1)
        labels = {}
        for kv in body.split(","):
            if "=" in kv:
                k, v = kv.split("=", 1)
                labels[k] = v.strip('"')
        out[frozenset(labels.items())] = float(val)
    return out


def metric_sum(text, name, **want):
    return sum(v for k, v in metric_lines(text, name).items()
               if all(dict(k).get(a) == b for a, b in want.items()))


# ---------------------------------------------------------------- configs

def collector_config(path, ports, sink_grpc):
    lines = ["receivers:"]
    for route, kind, _ in GOOD_ROUTES + REFUSED_ROUTES:
        proto = "grpc" if kind == "otlp_grpc" else "http"
        lines += [f"  otlp/{route}:", "    protocols:",
                  f"      {proto}: {{ endpoint: \"127.0.0.1:{ports[route]}\" }}"]
    lines.append("exporters:")
    for route, _, _ in GOOD_ROUTES + REFUSED_ROUTES:
        lines += [
            f"  otlp_grpc/{route}:",
            f"    endpoint: \"127.0.0.1:{sink_grpc}\"",
            "    tls: { insecure: true }",
            f"    headers: {{ x-profcol-route: {route} }}",
            "    sending_queue: { enabled: false }",
            "    retry_on_failure: { enabled: false }",
        ]
    lines += ["service:", "  pipelines:"]
    for route, _, _ in GOOD_ROUTES + REFUSED_ROUTES:
        lines.append(f"    profiles/{route}: {{ receivers: [otlp/{route}], exporters: [otlp_grpc/{route}] }}")
    lines += ["  telemetry:", "    logs: { level: info }",
              "    metrics: { level: none }"]  # no internal metrics server (it would take :8888)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def profcol_config(path, scrape_addr, ports, sink_grpc, push_port, admin, interval, skip_routes):
    lines = ["receivers:"]
    for _, _, job, _, seed, _ in jobs():
        lines += [
            f"  {job}:",
            f"    targets: [{{ __address__: {rp.yaml_quote(scrape_addr)}, service_name: \"go-target\" }}]",
            f"    scrape_interval: {interval}s",
            "    profiling_config:",
            "      profile:",
        ] + [f"        {t}: {{ enabled: {'true' if t == seed else 'false'} }}" for t in SCRAPE_TYPES]
    lines.append("exporters:")
    names = []
    for route, kind, comp in GOOD_ROUTES + tuple((r, k, "gzip") for r, k, _ in REFUSED_ROUTES):
        if route in skip_routes:
            continue
        name = f"{kind}/{route}"
        names.append(name)
        endpoint = f"127.0.0.1:{ports[route]}" if kind == "otlp_grpc" else f"http://127.0.0.1:{ports[route]}"
        lines += [f"  {name}:", f"    endpoint: \"{endpoint}\"", f"    compression: {comp}"]
        if kind == "otlp_grpc":
            lines.append("    tls: { insecure: true }")
        if route.endswith("_unavailable"):
            lines.append("    retry_on_failure: { enabled: true, "
                         + ", ".join(f"{k}: {v}" for k, v in RETRY.items()) + " }")
    names.append(f"otlp_grpc/{DIRECT}")
    lines += [f"  otlp_grpc/{DIRECT}:", f"    endpoint: \"127.0.0.1:{sink_grpc}\"",
              "    tls: { insecure: true }", f"    headers: {{ x-profcol-route: {DIRECT} }}"]
    names.append("pyroscope")
    lines += ["  pyroscope:", "    endpoint:", f"      url: \"http://127.0.0.1:{push_port}\""]
    lines += [
        "service:",
        "  pipelines:",
        "    profiles:",
        "      receivers: [" + ", ".join(job for _, _, job, _, _, _ in jobs()) + "]",
        "      exporters: [" + ", ".join(names) + "]",
        "  telemetry:",
        "    logs: { level: info }",
        f"    metrics: {{ address: \"127.0.0.1:{admin}\" }}",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- what was served

class Served:
    """The bodies the recording proxy relayed, parsed, per path, in the order served."""

    def __init__(self, proxy_log):
        self.by_path = {}
        for r in rp.read_jsonl(proxy_log):
            if r.get("status") != 200 or "file" not in r:
                continue
            try:
                with open(r["file"], "rb") as f:
                    prof = pproffold.parse(f.read())
            except (OSError, ValueError) as e:
                prof = e
            self.by_path.setdefault(r["path"].split("?")[0], []).append((r["started"], r["ended"], prof))
        for v in self.by_path.values():
            v.sort(key=lambda x: x[0])

    def expected(self, path, kind):
        """[(ended, {type_unit: fold})] profcol should emit for the scrapes of path: each
        served profile for kind "plain"; for "cumulative" the delta of each scrape after
        the first (DESIGN §4), None where a series decreased (a re-baseline)."""
        served = [(e, p) for _, e, p in self.by_path.get(path, []) if isinstance(p, pproffold.Pprof)]
        if kind == "plain":
            return [(e, pproffold.fold_all(p)) for e, p in served]
        out = []
        for (_, prev), (e, cur) in zip(served, served[1:]):
            out.append((e, pproffold.delta(prev, cur)))
        return out

    def header(self, path):
        """{"default", "sample_types"} shared by every body served at path (what
        otlp_conformance's expect_pprof describes), or None when they differ or nothing
        was served."""
        hs = {(p.default_sample_type, tuple(p.sample_types)) for _, _, p in self.by_path.get(path, [])
              if isinstance(p, pproffold.Pprof)}
        if len(hs) != 1:
            return None
        d, st = hs.pop()
        return {"default": d or None, "sample_types": list(st)}


def freeze(fold):
    return tuple(sorted(fold.items()))


def compare_multisets(got, want_timed, stop_time, grace):
    """got: [fold]; want_timed: [(served_end, fold)]. Every fold that arrived must be one
    that was expected (each used once), and every expected one must have arrived, except
    scrapes that ended less than `grace` s before profcol was stopped (still in flight).
    Empty folds are left out on both sides. Returns (ok, detail)."""
    pool = {}
    for e, f in want_timed:
        if f:
            pool.setdefault(freeze(f), []).append(e)
    got = [{k: v for k, v in f.items() if v} for f in got]  # zero stacks carry nothing
    unexpected = []
    for f in got:
        if not f:
            continue
        k = freeze(f)
        if pool.get(k):
            pool[k].pop(0)
        else:
            unexpected.append(f)
    missing = [(e, dict(k)) for k, es in pool.items() for e in es if e < stop_time - grace]
    detail = f"{sum(1 for f in got if f)} arrived, {sum(1 for _, f in want_timed if f)} expected"
    if unexpected:
        u = unexpected[0]
        best = min((dict(k) for k in pool), key=lambda w: len(set(w.items()) ^ set(u.items())), default={})
        diff = sorted(set(u.items()) ^ set(best.items()))[:4]
        detail += (f"; {len(unexpected)} arrived that match no served scrape, e.g. differing "
                   f"(stack, value) pairs vs the closest expected: {diff}")
    if missing:
        detail += f"; {len(missing)} served scrapes never arrived"
    return not unexpected and not missing, detail


# ---------------------------------------------------------------- checks

def route_profiles(otlp, route, job):
    """{type_unit: [fold, ...]} of the OTLP profiles the sink got over one route for one job."""
    out = {}
    for r in otlp:
        if "sample_type" not in r or r.get("meta", {}).get("route") != route:
            continue
        if r["resource"].get("job") != job:
            continue
        out.setdefault(f"{r['sample_type']}/{r['sample_unit']}", []).append(r["folded"])
    return out


def check_route_exactness(suite, otlp, served, route, stop_time, grace):
    for target, ptype, job, path, _, kind in jobs():
        label = f"{route}: {target} {ptype}"
        got = route_profiles(otlp, route, job)
        want = served.expected(path, kind)
        via = "straight from profcol" if route == DIRECT else "through the Collector"
        if not suite.check(f"{label} arrives {via}", got,
                           f"nothing with job={job} over route {route}"):
            continue
        types = sorted({t for _, f in want if f for t in f} | set(got))
        how = "delta-exact (served totals subtracted)" if kind == "cumulative" else "value-exact"
        if target == "godelta":
            how = "value-exact, no client-side subtraction"
        bad = []
        for t in types:
            ok, detail = compare_multisets(
                got.get(t, []), [(e, f.get(t, {})) for e, f in want if f is not None], stop_time, grace)
            if not ok:
                bad.append(f"{t}: {detail}")
        rebaselines = sum(1 for _, f in want if f is None)
        suite.check(f"{label} folded equals the target's ({how}, {len(want)} scrapes"
                    + (f", {rebaselines} re-baselines" if rebaselines else "") + ")",
                    not bad, "; ".join(bad)[:1500])


def check_refusals(suite, otlp, metrics, plog_text, present_routes):
    for route, kind, code in REFUSED_ROUTES:
        if route not in present_routes:
            continue
        exporter = f"{kind}/{route}"
        refused = [r for r in otlp if r.get("refused") and r.get("meta", {}).get("route") == route]
        per_request = {}
        for r in refused:
            per_request[r["meta"].get("request_sha256")] = per_request.get(r["meta"].get("request_sha256"), 0) + 1
        accepted = [r for r in otlp if "sample_type" in r and r.get("meta", {}).get("route") == route]
        suite.check(f"{exporter}: the Collector passed requests on and its downstream refused them with {code}",
                    refused and not accepted, f"{len(refused)} refused, {len(accepted)} accepted")
        retries = metric_sum(metrics, "profcol_exporter_retries_total", exporter=exporter)
        failed = metric_lines(metrics, "profcol_exporter_failed_profiles_total")
        failed = {dict(k).get("reason"): v for k, v in failed.items() if dict(k).get("exporter") == exporter}
        logged = [ln for ln in plog_text.splitlines() if f"exporter={exporter} " in ln + " "
                  and "given up" in ln]
        if code == "INVALID_ARGUMENT":
            answer = "gRPC INVALID_ARGUMENT" if kind == "otlp_grpc" else "HTTP 400"
            suite.check(f"{exporter}: the Collector's permanent refusal ({answer}) is logged and counted "
                        f"(failed_profiles reason=permanent_error)",
                        failed.get("permanent_error", 0) >= 1 and logged,
                        f"failed_profiles by reason {failed}, 'given up' log lines {len(logged)}")
            resent = {h: n for h, n in per_request.items() if n > 1}
            suite.check(f"{exporter}: a permanent refusal is not retried (no retries, each request once)",
                        retries == 0 and not resent,
                        f"retries metric {retries}, requests seen more than once {list(resent.values())[:5]}")
        else:
            answer = "gRPC UNAVAILABLE" if kind == "otlp_grpc" else "HTTP 503"
            suite.check(f"{exporter}: the Collector's retryable refusal ({answer}) is retried",
                        retries >= 1 and any(n > 1 for n in per_request.values()),
                        f"retries metric {retries}, attempts per request {sorted(per_request.values())[-5:]}")
            given_up = failed.get("retries_exhausted", 0) + failed.get("shutdown", 0)
            suite.check(f"{exporter}: ... not forever: given up after max_elapsed_time "
                        f"{RETRY['max_elapsed_time']}, logged and counted",
                        given_up >= 1 and logged and max(per_request.values(), default=0) <= MAX_ATTEMPTS,
                        f"failed_profiles by reason {failed}, 'given up' log lines {len(logged)}, "
                        f"most attempts of one request {max(per_request.values(), default=0)} (bound {MAX_ATTEMPTS})")


def check_conformance(suite, otlp, served, route):
    """Every request profcol sent straight to the sink, checked whole."""
    reqs = [r for r in otlp if "request_file" in r and r.get("meta", {}).get("route") == route]
    if not suite.check(f"otlp_grpc/{route}: requests were recorded for the conformance check", reqs,
                       "no request_file records"):
        return
    paths = {job: path for _, _, job, path, _, _ in jobs()}

    def expect_pprof(res, _types):
        path = paths.get(res.get("job"))
        return served.header(path) if path else None

    n, totals, links = otlp_conformance.check_recorded(reqs, expect_pprof)
    for rule in otlp_conformance.RULES:
        count, nreq, details = totals.get(rule, (0, 0, []))
        suite.check(f"conformance ({n} requests): {rule}", count == 0,
                    f"{count} violations in {nreq} requests, e.g. {details}")
    cpu_links = {ln for res, st, _, ln in links if res.get("job") == job_of("go", "process_cpu")}
    suite.check("conformance: the Go target's trace_id/span_id labels arrive as a link on its CPU samples",
                (TRACE_ID, SPAN_ID) in cpu_links, f"links on process_cpu samples: {sorted(cpu_links)[:3]}")


def load_pushed(push):
    """[(labels dict, Pprof, sha256)] of every pushed profile."""
    out = []
    for r in push:
        if "labels" not in r:
            continue
        lab = dict(r["labels"])
        for smp in r["samples"]:
            try:
                with open(smp["file"], "rb") as f:
                    out.append((lab, pproffold.parse(f.read()), smp["sha256"]))
            except (KeyError, OSError, ValueError):
                out.append((lab, None, smp.get("sha256")))
    return out


def check_push(suite, push, served, stop_time, grace):
    pushed = load_pushed(push)
    suite.check("pyroscope: every pushed raw_profile decodes", pushed and all(p for _, p, _ in pushed),
                f"{len(pushed)} pushed, {sum(1 for _, p, _ in pushed if p is None)} undecodable")
    # godeltaprof: the pushed values are the served ones (profcol subtracts nothing).
    for ptype, (path, _, _) in JOBS["godelta"]["types"].items():
        mine = [p for lab, p, _ in pushed if p and lab.get("job") == job_of("godelta", ptype)]
        want = served.expected(path, "plain")
        types = sorted({t for _, f in want for t in f})
        bad = []
        for t in types:
            ok, detail = compare_multisets([pproffold.fold(p, t) for p in mine],
                                           [(e, f.get(t, {})) for e, f in want], stop_time, grace)
            if not ok:
                bad.append(f"{t}: {detail}")
        suite.check(f"pyroscope: godelta {ptype} ({path}) pushed values equal the served ones "
                    f"(no client-side subtraction, {len(mine)} pushed, {len(want)} served)",
                    mine and not bad, "; ".join(bad)[:1500])
    # Deltas of the growing cumulative profiles.
    for ptype in ("memory", "block", "mutex"):
        path = JOBS["go"]["types"][ptype][0]
        mine = [(lab, p) for lab, p, _ in pushed if p and lab.get("job") == job_of("go", ptype)]
        label = f"pyroscope: go {ptype} ({path})"
        if not suite.check(f"{label} delta profiles are pushed", len(mine) >= 2, f"{len(mine)} pushed"):
            continue
        flags = sorted({lab.get("__delta__", "<absent>") for lab, _ in mine})
        suite.check(f"{label} every pushed delta profile carries __delta__=\"false\" "
                    f"(Pyroscope would subtract again otherwise)", flags == ["false"],
                    f"__delta__ values on {len(mine)} pushed profiles: {flags}")
        series = [p for _, _, p in served.by_path.get(path, []) if isinstance(p, pproffold.Pprof)]
        cum_types = [t for t in series[0].sample_types if pproffold.is_cumulative_type(t)] if series else []
        k = len(mine)
        if len(series) < k + 1:
            suite.check(f"{label} deltas sum to last served minus baseline", False,
                        f"{k} pushed but only {len(series)} served")
            continue
        bad = []
        for t in cum_types:
            total = {}
            for _, p in mine:
                total = pproffold.add_folds(total, pproffold.fold(p, t))
            want = pproffold.add_folds(pproffold.fold(series[k], t), pproffold.fold(series[0], t), -1)
            if total != want:
                diff = sorted(set(total.items()) ^ set(want.items()))
                bad.append(f"{t}: {len(diff)} (stack, value) pairs differ, sums {sum(total.values())} "
                           f"vs {sum(want.values())}, e.g. {diff[:3]}")
        suite.check(f"{label} per type and stack, the {k} pushed deltas add up to served #{k} minus "
                    f"the baseline #0 ({', '.join(cum_types)})", not bad, "; ".join(bad)[:1500])
        bad = []
        want = served.expected(path, "cumulative")
        for t in series[0].sample_types if series else []:
            ok, detail = compare_multisets([pproffold.fold(p, t) for _, p in mine],
                                           [(e, f.get(t, {})) for e, f in want if f is not None], stop_time, grace)
            if not ok:
                bad.append(f"{t}: {detail}")
        suite.check(f"{label} each pushed profile is one interval's delta (inuse_* as served)",
                    not bad, "; ".join(bad)[:1500])


# ---------------------------------------------------------------- prerequisites and run

def find_prereqs(args):
    peers, missing = {}, {}
    profcol = os.path.abspath(args.profcol or os.environ.get("PROFCOL") or os.path.join(ROOT, "target", "debug", "profcol"))
    if args.build:
        if subprocess.run(["cargo", "build", "-q", "-p", "profcol"], cwd=ROOT).returncode != 0:
            missing["profcol"] = "cargo build -p profcol failed"
    if "profcol" not in missing:
        if os.path.isfile(profcol) and os.access(profcol, os.X_OK):
            peers["profcol"] = profcol
        else:
            missing["profcol"] = f"no executable at {profcol} (cargo build -p profcol, or --profcol PATH)"
    try:
        import grpc  # noqa: F401
        from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2_grpc  # noqa: F401
        peers["receivers"] = True
    except ImportError as e:
        missing["receivers"] = f"python packages missing ({e}); run integration/install.sh"
    # build.sh rebuilds only what changed; the Collector's first build takes minutes.
    t0 = time.time()
    r = subprocess.run([os.path.join(HERE, "go", "build.sh"), "target", "otelcol"],
                       capture_output=True, text=True, timeout=args.build_timeout)
    if r.stderr.strip():
        print(r.stderr.strip(), flush=True)
    if time.time() - t0 > 2:
        print(f"go/build.sh took {time.time() - t0:.0f}s", flush=True)
    for name in ("target", "otelcol"):
        b = os.path.join(HERE, "go", "bin", name)
        if os.path.isfile(b) and os.access(b, os.X_OK):
            peers[name] = b
        else:
            missing[name] = f"no go/bin/{name}; go/build.sh: {r.stderr.strip()[-300:]}"
    return peers, missing


def validate_zstd(suite, profcol, work, make_config):
    """Whether profcol accepts `compression: zstd` on both OTLP exporters; a refusal is
    recorded as a failed check, and the zstd routes are left out of the run."""
    cfg = os.path.join(work, "validate.yaml")
    make_config(cfg, set())
    r = subprocess.run([profcol, "validate", "--config", cfg], capture_output=True, text=True, timeout=60)
    skip = set()
    if r.returncode != 0:
        out = (r.stdout + r.stderr)
        for route, kind, comp in GOOD_ROUTES:
            if comp == "zstd" and any(f"{kind}/{route}" in ln and "compression" in ln for ln in out.splitlines()):
                skip.add(route)
        if not skip:
            suite.check("profcol validates the generated config", False, out.strip()[-800:])
            return None
    for route, kind, comp in GOOD_ROUTES:
        if comp == "zstd":
            suite.check(f"profcol's {kind} exporter accepts compression: zstd", route not in skip,
                        (r.stdout + r.stderr).strip()[-400:])
    return skip


def run(args, suite, procs, work):
    peers, missing = find_prereqs(args)
    for name, why in missing.items():
        print(f"SKIP peer {name}: {why}", flush=True)
    if missing and not args.allow_missing:
        suite.check("all peers present", False, f"missing {sorted(missing)}; --allow-missing skips them")
        return 2
    if missing:
        suite.skip("collector suite", f"missing {sorted(missing)}")
        return 0
    signal.alarm(args.timeout)

    sink_out, push_out = os.path.join(work, "sink.jsonl"), os.path.join(work, "push.jsonl")
    refuse = [a for route, _, code in REFUSED_ROUTES for a in ("--refuse-route", f"{route}={code}")]
    sink = procs.start("sink", [sys.executable, os.path.join(HERE, "python", "otlp_receiver.py"),
                                "--out", sink_out, "--port-file", os.path.join(work, "sink.port"),
                                "--save-requests", os.path.join(work, "requests"), *refuse],
                       os.path.join(work, "sink.log"))
    push = procs.start("push", [sys.executable, os.path.join(HERE, "python", "push_receiver.py"),
                                "--out", push_out, "--port-file", os.path.join(work, "push.port"),
                                "--save-profiles", os.path.join(work, "pushed")],
                       os.path.join(work, "push.log"))
    target = procs.start("go_target", [peers["target"], "-listen", "127.0.0.1:0", "-mem-profile-rate", "1",
                                       "-port-file", os.path.join(work, "go.port")],
                         os.path.join(work, "go_target.log"))
    sink_ports = rp.wait_file(os.path.join(work, "sink.port"), sink, 30)
    push_ports = rp.wait_file(os.path.join(work, "push.port"), push, 30)
    if not suite.check("sink and push receiver start", sink_ports and push_ports,
                       f"see {work}/sink.log, push.log"):
        return 1
    sink_grpc = json.loads(sink_ports)["grpc"]
    push_port = json.loads(push_ports)["http"]
    go_addr = rp.wait_file(os.path.join(work, "go.port"), target, 60)
    if not suite.check("go target starts", go_addr, "".join(rp.tail(os.path.join(work, "go_target.log"), 10))):
        return 1
    proxy = procs.start("proxy", [sys.executable, os.path.join(HERE, "python", "recording_proxy.py"),
                                  "--upstream", go_addr.strip(), "--out", os.path.join(work, "proxy.jsonl"),
                                  "--save-bodies", os.path.join(work, "served"),
                                  "--port-file", os.path.join(work, "proxy.port")],
                        os.path.join(work, "proxy.log"))
    scrape = rp.wait_file(os.path.join(work, "proxy.port"), proxy, 30)
    if not suite.check("recording proxy starts", scrape, "".join(rp.tail(os.path.join(work, "proxy.log"), 5))):
        return 1

    ports = {route: rp.free_port() for route, _, _ in GOOD_ROUTES + REFUSED_ROUTES}
    ccfg = os.path.join(work, "otelcol.yaml")
    collector_config(ccfg, ports, sink_grpc)
    clog = os.path.join(work, "otelcol.log")
    col = procs.start("otelcol", [peers["otelcol"], "--config", f"file:{ccfg}", f"--feature-gates={FEATURE_GATE}"],
                      clog)
    if not suite.check(f"the OpenTelemetry Collector starts ({FEATURE_GATE} on) and listens on every route",
                       wait_ports(ports.values(), col, 60), "".join(rp.tail(clog, 15))):
        return 1

    admin = rp.free_port()
    pcfg = os.path.join(work, "profcol.yaml")

    def make(path, skip):
        profcol_config(path, scrape.strip(), ports, sink_grpc, push_port, admin, args.interval, skip)

    skip = validate_zstd(suite, peers["profcol"], work, make)
    if skip is None:
        return 1
    make(pcfg, skip)
    print(f"workdir {work}; profcol config {pcfg}; collector config {ccfg}", flush=True)
    plog = os.path.join(work, "profcol.log")
    prof = procs.start("profcol", [peers["profcol"], "--config", pcfg], plog, env=dict(os.environ), cwd=work)
    run_for = args.interval * args.intervals + 2
    deadline = time.time() + run_for
    while time.time() < deadline and prof.poll() is None:
        time.sleep(0.25)
    alive = prof.poll() is None
    suite.check(f"profcol runs for {run_for}s without exiting", alive,
                f"exit code {prof.returncode}; log tail:\n" + "".join(rp.tail(plog, 30)))
    metrics = ""
    stop_time = time.time()
    if alive:
        try:
            _, body = rp.http_get(f"http://127.0.0.1:{admin}/metrics", timeout=5)
            metrics = body.decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as e:
            metrics = ""
            print(f"note: /metrics: {e!r}")
        stop_time = time.time()
        try:
            os.killpg(prof.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            rc = prof.wait(timeout=15)
            suite.check("profcol exits 0 within 15s of SIGTERM (retrying exporters included)", rc == 0,
                        f"exit code {rc}")
        except subprocess.TimeoutExpired:
            suite.check("profcol exits within 15s of SIGTERM (retrying exporters included)", False, "killed")
            procs.stop(prof, grace=0.1)
        # The last word on the counters: what profcol had counted when it stopped is in
        # its final metrics; the snapshot above was taken just before SIGTERM.
    with open(os.path.join(work, "admin_metrics"), "w") as f:
        f.write(metrics)
    rc = procs.stop(col, grace=10)
    suite.check("the Collector stops cleanly on SIGTERM", rc == 0, f"exit code {rc}; "
                + "".join(rp.tail(clog, 5)))
    time.sleep(0.3)

    otlp, pushed = rp.read_jsonl(sink_out), rp.read_jsonl(push_out)
    served = Served(os.path.join(work, "proxy.jsonl"))
    plog_text = "".join(rp.tail(plog, 1000000))
    errs = [r for r in otlp if "decode_error" in r]
    suite.check("sink: every request decodes", not errs, errs[:2])
    problems = sorted({p for r in otlp if "sample_type" in r for p in r.get("problems", [])})
    suite.check("sink: dictionaries well formed after the Collector", not problems, problems[:5])
    print_table(otlp, pushed)
    grace = args.interval + 2
    for route, _, _ in GOOD_ROUTES:
        if route in skip:
            suite.skip(f"{route} exactness", "profcol refused compression: zstd (failed above)")
            continue
        check_route_exactness(suite, otlp, served, route, stop_time, grace)
    # The same comparison without the Collector: what profcol itself sent.
    check_route_exactness(suite, otlp, served, DIRECT, stop_time, grace)
    check_refusals(suite, otlp, metrics, plog_text, {r for r, _, _ in REFUSED_ROUTES})
    check_conformance(suite, otlp, served, DIRECT)
    check_push(suite, pushed, served, stop_time, grace)
    if suite.failed:
        lines = rp.tail(plog, 100000)
        notable = [ln for ln in lines if " level=warn" in ln or " level=error" in ln or "panic" in ln]
        print(f"\nprofcol log: {len(lines)} lines, {len(notable)} warn/error; first of those:")
        sys.stdout.write("".join(notable[:15]))
    return 1 if suite.failed else 0


def print_table(otlp, pushed):
    routes = [r for r, _, _ in GOOD_ROUTES] + [DIRECT]
    print("\nOTLP profiles at the sink per route (one per sample type); pushed series")
    print("  " + f"{'job':<9} {'type':<12}" + "".join(f"{r:>10}" for r in routes) + f"{'pushed':>8}")
    for target, ptype, job, _, _, _ in jobs():
        row = [sum(1 for x in otlp if "sample_type" in x and x.get("meta", {}).get("route") == r
                   and x["resource"].get("job") == job)
               for r in routes]
        n_push = sum(1 for x in pushed if "labels" in x and dict(x["labels"]).get("job") == job)
        print(f"  {target:<9} {ptype:<12}" + "".join(f"{n:>10}" for n in row) + f"{n_push:>8}")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profcol", help="profcol binary (default $PROFCOL or target/debug/profcol)")
    ap.add_argument("--build", action="store_true", help="cargo build -p profcol first")
    ap.add_argument("--allow-missing", action="store_true", help="skip (exit 0) when a peer is missing")
    ap.add_argument("--interval", type=int, default=5, help="scrape_interval in seconds (>= 3)")
    ap.add_argument("--intervals", type=int, default=4, help="how many intervals profcol runs")
    ap.add_argument("--timeout", type=int, default=150, help="bound on the run once the peers are built, seconds")
    ap.add_argument("--build-timeout", type=int, default=1500, help="bound on go/build.sh, seconds")
    ap.add_argument("--workdir", help="keep logs and outputs here (default: a temp dir, removed on success)")
    args = ap.parse_args()
    if args.interval < 3:
        ap.error("--interval must be >= 3")
    work = args.workdir or tempfile.mkdtemp(prefix="profcol-otelcol-")
    os.makedirs(work, exist_ok=True)
    suite, procs = rp.Suite(), rp.Procs()

    def on_alarm(*_):
        raise rp.Timeout()

    def on_term(*_):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    code = 1
    try:
        code = run(args, suite, procs, work)
    except rp.Timeout:
        suite.check(f"suite finishes within {args.timeout}s", False, "timed out")
    except subprocess.TimeoutExpired as e:
        suite.check("go/build.sh finishes", False, repr(e)[:200])
    except KeyboardInterrupt:
        suite.check("suite runs to the end", False, "interrupted")
    finally:
        signal.alarm(0)
        procs.stop_all()
    rp.exit_with(suite, code, work, keep=bool(args.workdir))


if __name__ == "__main__":
    main()
