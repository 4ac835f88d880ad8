#!/usr/bin/env python3
"""Real-peer suite: runs the profcol binary between real targets and independent receivers.

Starts, on free loopback ports:
  * the Go target (integration/go/target: net/http/pprof + fgprof + godeltaprof, with a warm-up
    that gives it a large cumulative memory/mutex/block history),
  * the Node target (integration/node/server.js: Express + @pyroscope/nodejs),
  * the Python OTLP receiver (gRPC + HTTP) and the Pyroscope push receiver,
then writes a profcol YAML pipeline (pyroscope_scrape/go + pyroscope_scrape/go_block +
pyroscope_scrape/godelta + pyroscope_scrape/godelta_block + pyroscope_scrape/node +
pyroscope_scrape/self, profcol's own admin server as a Rust target ->
otlp_grpc + otlp_http + pyroscope), runs profcol for a few scrape intervals, stops
it with SIGTERM and checks what every receiver decoded:
  * every (target, profile type) arrives at every receiver, with the expected sample types
    (an OTLP profile is told by its `job` resource attribute and the sample types of its
    ScopeProfiles, one per original pprof; a push by its `job` and `__name__` labels);
  * labels / resource attributes `service.name`/`service_name`, `job`, `instance`;
    `__name__` on the push labels; no OTLP resource attribute starts with `__`;
  * the push tenant (X-Scope-OrgID): the endpoint header, or a target's `__tenant_id__`;
  * CPU profiles carry a duration close to the `seconds` parameter (interval - 1s);
  * Go memory/mutex/block arrive as per-interval deltas (never cumulative, never the
    first scrape), each covering about one interval; the Go target is restarted on the
    same address mid-run, and no negative or cumulative value may follow (re-baseline);
  * folded stacks contain the workloads' own function names;
  * otlp_grpc, otlp_http and the pushed pprof carry the same stacks and values (folded,
    so that samples OTLP combined and zero values it left out compare equal);
  * profiles profcol does not alter (CPU, goroutine, fgprof) are pushed byte for byte
    as the target served them (profcol scrapes through a recording proxy);
  * a partial success from the OTLP receiver is logged and counted;
  * requests the receivers refuse (their first, gRPC UNAVAILABLE / HTTP 503) are retried;
  * the admin API shows every scrape job up; pyroscope_scrape_up is 1 for each;
  * profcol answers /-/healthy, and exits cleanly on SIGTERM;
  * every OTLP request profcol sent conforms to the spec and the pprof conventions
    (python/otlp_conformance.py: no `__` resource keys, unique keys per sample, one
    ScopeProfiles per pprof with pprof.scope.* attributes, no all-zero or duplicate
    samples, window not after receipt, trace_id/span_id labels as links).

Prints `N passed, M failed[, K skipped]` last and exits non-zero on failure. Every
process it starts is killed on exit; the whole run is bounded (--timeout, default 170s).
When a peer is missing it says why and exits 2, or 0 with --allow-missing (then the
checks that need the missing peer are skipped).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "python"))
import pbwire  # noqa: E402
import itvenv as _venv  # noqa: E402

_venv.ensure()
import otlp_conformance  # noqa: E402
import pproffold  # noqa: E402

OTLP_TRANSPORTS = ("grpc", "http")
RECEIVERS = ("otlp_grpc", "otlp_http", "pyroscope")

# What each target serves, per profile type (the push label `__name__`): the sample types
# (type/unit) expected, the sample type whose folded stacks must contain one of
# the workload's function names, and that name. OTLP has no `__name__` (DESIGN §5: the
# profile type lives in the sample types, no `__` key becomes an attribute): an OTLP
# profile is identified by its `job` and the sample types of its ScopeProfiles (one per
# pprof), which is unique per job because block and mutex, whose pprofs have the same
# sample types, are scraped by different jobs (SPLIT_JOBS).
GO_TYPES = {
    "process_cpu": {"types": {"samples/count", "cpu/nanoseconds"},
                    "stack_type": "cpu/nanoseconds", "needle": "workloadCPUBurn"},
    "memory": {"types": {"alloc_objects/count", "alloc_space/bytes", "inuse_objects/count",
                         "inuse_space/bytes"},
               "stack_type": "alloc_space/bytes", "needle": "workloadAlloc",
               "delta_type": "alloc_space/bytes", "delta_path": "/debug/pprof/allocs"},
    "mutex": {"types": {"contentions/count", "delay/nanoseconds"},
              "stack_type": "delay/nanoseconds", "needle": "workloadMutexContend",
              "delta_type": "delay/nanoseconds", "delta_path": "/debug/pprof/mutex"},
    "block": {"types": {"contentions/count", "delay/nanoseconds"},
              "stack_type": "delay/nanoseconds", "needle": "workloadBlockOnChannel",
              "delta_type": "delay/nanoseconds", "delta_path": "/debug/pprof/block"},
    "goroutine": {"types": {"goroutine/count"},
                  "stack_type": "goroutine/count", "needle": "main.workload"},
    "fgprof": {"types": {"samples/count", "time/nanoseconds"},
               "stack_type": "time/nanoseconds", "needle": "workload"},
}
# The same process scraped a second time through godeltaprof's endpoints
# (github.com/grafana/pyroscope-go/godeltaprof/http/pprof: /debug/pprof/delta_heap,
# delta_mutex, delta_block): already deltas, which profcol must not subtract again.
GODELTA_TYPES = {
    name: {**GO_TYPES[name], "admin_type": f"godeltaprof_{name}", "first_is_cumulative": True,
           "check_duration": False}
    for name in ("memory", "mutex", "block")
}
NODE_TYPES = {
    "process_cpu": {"types": {"sample/count", "wall/nanoseconds"},
                    "stack_type": "wall/nanoseconds", "needle": "workloadNodeCpuBurn"},
    # @pyroscope/nodejs's middleware starts V8's sampling heap profiler on each
    # request and reads it at once, so its heap profile is nearly empty by design:
    # only arrival and sample types are checked.
    "memory": {"types": {"objects/count", "space/bytes"}},
}
# profcol's own admin server: a Rust target, CPU from the `pprof` crate, heap from jemalloc.
SELF_TYPES = {
    "process_cpu": {"types": {"samples/count", "cpu/nanoseconds"}},
    "memory": {"types": {"inuse_space/bytes"}},
}
# Profile types scraped by a job of their own: Go's block and mutex profiles have the same
# sample types (contentions/count, delay/nanoseconds), so (job, sample types) tells them
# apart only when they come from different jobs.
SPLIT_JOBS = {"go": {"block": "pyroscope_scrape/go_block"},
              "godelta": {"block": "pyroscope_scrape/godelta_block"}}
SELF_SERVICE = "profcol-self"
TENANT = "profcol-it"  # the pyroscope endpoint's X-Scope-OrgID header
NODE_TENANT = "node-team"  # the Node target's __tenant_id__ label: overrides it per profile
EXTERNAL_LABELS = {"env": "integration"}


class Suite:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS {name}", flush=True)
        else:
            self.failed += 1
            self.failures.append(name)
            print(f"FAIL {name}" + (f": {detail}" if detail != "" else ""), flush=True)
        return ok

    def skip(self, name, why):
        self.skipped += 1
        print(f"SKIP {name}: {why}", flush=True)

    def summary(self):
        line = f"{self.passed} passed, {self.failed} failed"
        if self.skipped:
            line += f", {self.skipped} skipped"
        return line


class Procs:
    """Processes this run started; each in its own session so its children die with it."""

    def __init__(self):
        self.procs = []  # (name, Popen)

    def start(self, name, argv, log_path, env=None, cwd=None):
        log = open(log_path, "ab")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=env, cwd=cwd, start_new_session=True)
        log.close()
        self.procs.append((name, p))
        return p

    def stop(self, p, grace=5.0):
        if p.poll() is not None:
            return p.returncode
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            return p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return p.wait(timeout=5)

    def stop_all(self):
        for _, p in reversed(self.procs):
            try:
                self.stop(p, grace=3.0)
            except Exception:
                pass


class Timeout(Exception):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_file(path, proc, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                return f.read()
        if proc.poll() is not None:
            return None
        time.sleep(0.05)
    return None


def http_get(url, timeout=10.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def read_jsonl(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    out.append({"decode_error": f"bad json line {line[:80]!r}"})
    return out


def tail(path, n):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readlines()[-n:]
    except OSError:
        return []


def yaml_quote(s):
    return json.dumps(s)  # JSON strings are valid YAML scalars


def job_for(info, ptype):
    """The scrape job (component id) that scrapes ptype of a target."""
    return info.get("type_jobs", {}).get(ptype, info["job"])


def jobs_of(info):
    return sorted({job_for(info, pt) for pt in info["types"]})


def otlp_index(targets):
    """{(job, frozenset of sample types): (target, profile type)}: how an OTLP profile is
    identified without `__name__`. Each key must be unique (SPLIT_JOBS sees to it)."""
    idx = {}
    for target, info in targets.items():
        for ptype, exp in info["types"].items():
            key = (job_for(info, ptype), frozenset(exp["types"]))
            if key in idx:
                raise ValueError(f"{target} {ptype} and {idx[key]} share job and sample types {key}")
            idx[key] = (target, ptype)
    return idx


def otlp_ident(r, index):
    """(target, profile type) of one OTLP profile record of otlp_receiver.py, or None."""
    return index.get((r["resource"].get("job"), frozenset(r.get("scope_sample_types") or ())))


def scrape_block(component, target_yaml, interval, types):
    """A pyroscope_scrape component enabling exactly `types` ({seed type: extra YAML or ""})."""
    all_types = ("process_cpu", "memory", "block", "mutex", "goroutine", "fgprof",
                 "godeltaprof_memory", "godeltaprof_mutex", "godeltaprof_block")
    lines = [f"  {component}:", f"    targets: [{target_yaml}]", f"    scrape_interval: {interval}s",
             "    profiling_config:", "      profile:"]
    for t in all_types:
        extra = types.get(t)
        lines.append(f"        {t}: {{ enabled: {'false' if extra is None else 'true'}"
                     + (f", {extra}" if extra else "") + " }")
    return lines


def write_config(path, go_addr, node_addr, ports, admin_port, interval):
    lines = ["receivers:"]
    receivers = []
    if go_addr:
        go = f"{{ __address__: {yaml_quote(go_addr)}, service_name: \"go-target\" }}"
        for component, types in (
                ("pyroscope_scrape/go", {"process_cpu": "", "memory": "", "mutex": "",
                                         "goroutine": "", "fgprof": ""}),
                (SPLIT_JOBS["go"]["block"], {"block": ""}),
                ("pyroscope_scrape/godelta", {"godeltaprof_memory": "", "godeltaprof_mutex": ""}),
                (SPLIT_JOBS["godelta"]["block"], {"godeltaprof_block": ""})):
            lines += scrape_block(component, go, interval, types)
            receivers.append(component)
    if node_addr:
        node = f"{{ __address__: {yaml_quote(node_addr)}, __tenant_id__: {NODE_TENANT} }}"
        lines += scrape_block("pyroscope_scrape/node", node, interval,
                              {"process_cpu": "", "memory": "path: /debug/pprof/heap"})
        receivers.append("pyroscope_scrape/node")
    me = f"{{ __address__: \"127.0.0.1:{admin_port}\", service_name: \"{SELF_SERVICE}\" }}"
    lines += scrape_block("pyroscope_scrape/self", me, interval,
                          {"process_cpu": "", "memory": "path: /debug/pprof/heap"})
    receivers.append("pyroscope_scrape/self")
    ext = ", ".join(f"{k}: {yaml_quote(v)}" for k, v in EXTERNAL_LABELS.items())
    lines += [
        "exporters:",
        "  otlp_grpc:",
        f"    endpoint: \"127.0.0.1:{ports['grpc']}\"",
        "    tls: { insecure: true }",
        "  otlp_http:",
        f"    endpoint: \"http://127.0.0.1:{ports['http']}\"",
        "  pyroscope:",
        "    endpoint:",
        f"      url: \"http://127.0.0.1:{ports['push']}\"",
        f"      headers: {{ X-Scope-OrgID: {TENANT} }}",
        f"    external_labels: {{ {ext} }}",
        "service:",
        "  pipelines:",
        "    profiles:",
        "      receivers: [" + ", ".join(receivers) + "]",
        "      exporters: [otlp_grpc, otlp_http, pyroscope]",
        "  telemetry:",
        "    logs: { level: info }",
        f"    metrics: {{ address: \"127.0.0.1:{admin_port}\" }}",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def go_cumulative(addr, path, sample_type):
    """Current cumulative total of one sample type at a Go endpoint, or None."""
    try:
        _, body = http_get(f"http://{addr}{path}", timeout=5)
        s = pbwire.pprof_summary(body)
        return s["totals"][s["sample_types"].index(sample_type)]
    except Exception:
        return None


# ---------------------------------------------------------------- prerequisites

def find_prereqs(args):
    """Returns (peers: dict name -> path/True, missing: dict name -> why)."""
    peers, missing = {}, {}
    profcol = os.path.abspath(args.profcol or os.environ.get("PROFCOL") or os.path.join(ROOT, "target", "debug", "profcol"))
    if args.build:
        r = subprocess.run(["cargo", "build", "-q", "-p", "profcol"], cwd=ROOT)
        if r.returncode != 0:
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
    if "go" in args.targets:
        target_bin = os.path.join(HERE, "go", "bin", "target")
        # build.sh finds the machine's Go (1.26+) itself and rebuilds only when a source
        # changed; without a Go it fails, and a prebuilt binary is used when there is one.
        r = subprocess.run([os.path.join(HERE, "go", "build.sh"), "target"], capture_output=True, text=True)
        if os.path.isfile(target_bin) and os.access(target_bin, os.X_OK):
            peers["go"] = target_bin
            if r.returncode != 0:
                print(f"note: go/build.sh failed, using the existing {target_bin}: {r.stderr.strip()[-300:]}")
        else:
            missing["go"] = f"no go/bin/target and go/build.sh failed: {r.stderr.strip()[-300:]}"
    if "node" in args.targets:
        node = shutil.which("node")
        if not node:
            missing["node"] = "node not installed (apt-get install nodejs npm)"
        elif not os.path.isdir(os.path.join(HERE, "node", "node_modules", "@pyroscope", "nodejs")):
            missing["node"] = "integration/node/node_modules missing; run integration/install.sh"
        else:
            peers["node"] = node
    return peers, missing


# ---------------------------------------------------------------- checks

def in_range(v, lo, hi):
    return v is not None and lo <= v <= hi


def check_otlp(suite, transport, recs, targets, interval, growth):
    tname = f"otlp_{transport}"
    mine = [r for r in recs if r.get("transport") == transport]
    errs = [r for r in mine if "decode_error" in r]
    suite.check(f"{tname}: every request decodes", not errs, errs[:3])
    profiles = [r for r in mine if "sample_type" in r]
    problems = sorted({p for r in profiles for p in r.get("problems", [])})
    if profiles:
        suite.check(f"{tname}: dictionaries are well formed (index 0 zero values, indices in range)",
                    not problems, problems[:5])
        scopes = sorted({r["scope"]["name"] for r in profiles})
        suite.check(f"{tname}: scope name is profcol", scopes == ["profcol"], scopes)
        # DESIGN §5: no `__`-prefixed key ever becomes an OTLP attribute (`__name__`,
        # `__delta__` are Pyroscope push labels only).
        leaked = sorted({k for r in profiles for k in r["resource"] if k.startswith("__")})
        suite.check(f"{tname}: no resource attribute starts with __", not leaked,
                    f"resource keys {leaked} on "
                    f"{sum(1 for r in profiles if any(k.startswith('__') for k in r['resource']))} profiles")
    index = otlp_index(targets)
    # Every profile is one of the (job, sample types) the targets serve: a profile type
    # with missing, extra or renamed sample types, or an unknown job, shows here.
    unknown = sorted({(r["resource"].get("job"), tuple(r.get("scope_sample_types") or ()))
                      for r in profiles if otlp_ident(r, index) is None}, key=str)
    if profiles:
        suite.check(f"{tname}: every profile's (job, sample types of its scope) is one a target serves",
                    not unknown, f"unknown (job, sample types): {unknown[:4]}")
    for target, info in targets.items():
        for ptype, exp in info["types"].items():
            label = f"{tname}: {target} {ptype}"
            job = job_for(info, ptype)
            got = [r for r in profiles if otlp_ident(r, index) == (target, ptype)]
            if not suite.check(f"{label} arrives (job {job}, sample types {sorted(exp['types'])})", got,
                               f"received (job, sample types) for that job: "
                               f"{sorted({tuple(r.get('scope_sample_types') or ()) for r in profiles if r['resource'].get('job') == job})}"):
                continue
            want = {"service.name": info["service_name"], "job": job, "instance": info["address"]}
            ress = {json.dumps(r["resource"], sort_keys=True): r["resource"] for r in got}.values()
            bad = [{k: res.get(k) for k, v in want.items() if res.get(k) != v} for res in ress]
            bad = [b for b in bad if b]
            extra = sorted({k for res in ress for k in res if k.startswith("__")})
            suite.check(f"{label} resource attributes", not bad and not extra,
                        f"want {want}, wrong {bad[:2]}, internal labels leaked {extra}")
            # Each scope carries one profile per sample type of the pprof, each once.
            scopes = sorted({tuple(r["scope_sample_types"]) for r in got})
            types = {f"{r['sample_type']}/{r['sample_unit']}" for r in got}
            suite.check(f"{label} sample types (one OTLP profile per pprof sample type)",
                        types == exp["types"] and all(len(st) == len(set(st)) for st in scopes),
                        f"got {sorted(types)} in scopes {scopes[:3]}, want {sorted(exp['types'])}")
            if ptype == "process_cpu":
                secs = interval - 1
                durs = sorted({r["duration_nano"] / 1e9 for r in got})
                suite.check(f"{label} duration ~ seconds={secs}",
                            all(in_range(d, secs - 0.5, secs + 1.5) for d in durs), durs)
            if "needle" in exp:
                keys = [k for r in got if f"{r['sample_type']}/{r['sample_unit']}" == exp["stack_type"]
                        for k in r["folded"]]
                suite.check(f"{label} stacks contain {exp['needle']}",
                            any(exp["needle"] in k for k in keys),
                            f"{len(keys)} stacks, e.g. {keys[:3]}")
            if "delta_type" in exp:
                check_delta(suite, label, exp, [
                    (r["time_unix_nano"], r["total"], r["duration_nano"]) for r in got
                    if f"{r['sample_type']}/{r['sample_unit']}" == exp["delta_type"]],
                    growth.get((target, ptype)), interval)


def check_delta(suite, label, exp, points, growth, interval):
    """points: (time, total, duration_ns) per received profile of the delta sample type.
    growth: (value at the start of the run, growth over the run) read from the target itself.
    godeltaprof's endpoints answer their first request with the whole history
    (exp["first_is_cumulative"]): the earliest profile is left out of the value checks."""
    points = sorted(points, key=lambda p: p[0])  # by profile time (unique per scrape)
    if exp.get("first_is_cumulative"):
        points = points[1:]
    suite.check(f"{label} at least 2 per-interval deltas arrived", len(points) >= 2,
                f"{len(points)} profiles")
    if not points:
        return
    if growth is None:
        suite.skip(f"{label} deltas stay within the run's growth", "could not read the target's totals")
    else:
        c0, grown = growth
        limit = grown * 1.25 + 1
        totals = [t for _, t, _ in points]
        suite.check(f"{label} values are non-negative deltas, not cumulative (each and their sum <= growth during run)",
                    all(0 <= t <= limit for t in totals) and sum(totals) <= limit,
                    f"totals {totals}, sum {sum(totals)}, growth {grown}, cumulative at start {c0}")
        # Deltas that are silently zeroed, dropped or subtracted twice sum to far less.
        suite.check(f"{label} deltas add up to a real share of the growth (sum >= 25%)",
                    sum(totals) >= 0.25 * grown, f"sum {sum(totals)}, growth {grown}")
    if exp.get("check_duration", True):
        durs = [d / 1e9 for _, _, d in points]
        suite.check(f"{label} delta duration ~ one interval ({interval}s)",
                    all(in_range(d, 0.5 * interval, 1.6 * interval) for d in durs), durs)


def check_push(suite, recs, targets, interval, growth):
    tname = "pyroscope"
    errs = [r for r in recs if "decode_error" in r or "error" in r]
    suite.check(f"{tname}: every push decodes", not errs, errs[:3])
    series = [r for r in recs if "labels" in r]
    if series:
        for target, info in targets.items():
            want = NODE_TENANT if target == "node" else TENANT
            how = "the target's __tenant_id__" if target == "node" else "the endpoint header"
            tenants = sorted({r["headers"].get("X-Scope-OrgID") for r in series
                              if dict(r["labels"]).get("job") in jobs_of(info)}, key=str)
            suite.check(f"{tname}: {target} pushes carry X-Scope-OrgID {want} ({how})",
                        tenants == [want], tenants)
        bad_names = sorted({n for r in series for n, _ in r["labels"]
                            if n != "__name__" and not all(c.isalnum() or c in "_." for c in n)})
        suite.check(f"{tname}: label names match [A-Za-z0-9_.]", not bad_names, bad_names)
        dups = [r["labels"] for r in series if len({n for n, _ in r["labels"]}) != len(r["labels"])]
        suite.check(f"{tname}: no duplicate label names", not dups, dups[:2])
        pe = [s["pprof_error"] for r in series for s in r["samples"] if "pprof_error" in s]
        suite.check(f"{tname}: every raw_profile decodes as pprof", not pe, pe[:3])
    for target, info in targets.items():
        for ptype, exp in info["types"].items():
            label = f"{tname}: {target} {ptype}"
            job = job_for(info, ptype)
            got = []
            for r in series:
                lab = dict(r["labels"])
                if lab.get("job") == job and lab.get("__name__") == ptype:
                    got.append((lab, [s["pprof"] for s in r["samples"] if "pprof" in s]))
            if not suite.check(f"{label} arrives", got,
                               f"received (job, __name__): {sorted({(dict(r['labels']).get('job'), dict(r['labels']).get('__name__')) for r in series}, key=str)}"):
                continue
            lab = got[0][0]
            want = {"service_name": info["service_name"], "job": job,
                    "instance": info["address"], "__name__": ptype, **EXTERNAL_LABELS}
            bad = {k: lab.get(k) for k, v in want.items() if lab.get(k) != v}
            extra = sorted(k for k in lab if k.startswith("__") and k not in ("__name__", "__delta__"))
            suite.check(f"{label} labels", not bad and not extra,
                        f"want {want}, wrong {bad}, internal labels leaked {extra}")
            pprofs = [p for _, ps in got for p in ps]
            types = {t for p in pprofs for t in p["sample_types"]}
            suite.check(f"{label} sample types", types == exp["types"],
                        f"got {sorted(types)}, want {sorted(exp['types'])}")
            if ptype == "process_cpu":
                secs = interval - 1
                durs = sorted({p["duration_nanos"] / 1e9 for p in pprofs})
                suite.check(f"{label} duration ~ seconds={secs}",
                            bool(durs) and all(in_range(d, secs - 0.5, secs + 1.5) for d in durs), durs)
            if "needle" in exp:
                keys = [k for p in pprofs if exp["stack_type"] in p["sample_types"]
                        for k in p["folded"][p["sample_types"].index(exp["stack_type"])]]
                suite.check(f"{label} stacks contain {exp['needle']}",
                            any(exp["needle"] in k for k in keys), f"{len(keys)} stacks, e.g. {keys[:3]}")
            if "delta_type" in exp:
                pts = [(p["time_nanos"], p["totals"][p["sample_types"].index(exp["delta_type"])],
                        p["duration_nanos"]) for p in pprofs if exp["delta_type"] in p["sample_types"]]
                check_delta(suite, label, exp, pts, growth.get((target, ptype)), interval)


def nonzero(d):
    return {k: v for k, v in d.items() if v}


def check_consistency(suite, otlp, push, targets):
    """The three exporters must deliver the same data: per (target, type, profile time)
    and sample type, the folded stacks seen by otlp_grpc, otlp_http and in the pushed
    pprof are equal. Folding sums the samples of one stack, and zero-valued stacks are
    ignored: OTLP combines samples of one identity and leaves zero values out of each
    sample type's profile (DESIGN §5), the pushed pprof keeps both as served."""
    index = otlp_index(targets)
    views = {"grpc": {}, "http": {}, "pyroscope": {}}
    for r in otlp:
        if "sample_type" in r and r.get("transport") in views:
            ident = otlp_ident(r, index)
            if ident is None:
                continue  # reported by check_otlp
            key = (ident[0], ident[1], r["time_unix_nano"], f"{r['sample_type']}/{r['sample_unit']}")
            views[r["transport"]].setdefault(key, nonzero(r["folded"]))
    by_push = {(job_for(info, pt), pt): (t, pt) for t, info in targets.items() for pt in info["types"]}
    for r in push:
        lab = dict(r.get("labels", []))
        ident = by_push.get((lab.get("job"), lab.get("__name__")))
        if ident is None:
            continue
        for smp in r.get("samples", []):
            p = smp.get("pprof")
            if not p:
                continue
            # The push carries the served bytes; the OTLP window starts at
            # time_nanos, or at time_nanos - duration_nanos where the target
            # stamped the window's end (Node; receiver/README.md).
            starts = {p["time_nanos"]}
            if p.get("duration_nanos", 0) > 0:
                starts.add(p["time_nanos"] - p["duration_nanos"])
            for t, fo in zip(p["sample_types"], p["folded"]):
                for start in starts:
                    views["pyroscope"].setdefault((ident[0], ident[1], start, t), nonzero(fo))
    for a, b in (("grpc", "http"), ("grpc", "pyroscope")):
        for target, info in targets.items():
            for ptype in info["types"]:
                keys = [k for k in views[a] if k[0] == target and k[1] == ptype and k in views[b]]
                bad = [k for k in keys if views[a][k] != views[b][k]]
                detail = f"{len(keys)} profiles matched by time"
                if bad:
                    k = bad[0]
                    diff = sorted(set(views[a][k].items()) ^ set(views[b][k].items()))[:3]
                    detail += f", {len(bad)} differ, e.g. {k[3]} at {k[2]}: {diff}"
                suite.check(f"{target} {ptype}: {a} and {b} carry the same stacks and values",
                            keys and not bad, detail)


def check_admin(suite, pages, targets):
    """/api/v1/targets reports every scrape job up without error; /metrics has
    pyroscope_scrape_up 1 for each (job, profile_type)."""
    page = pages.get("/api/v1/targets")
    try:
        entries = [e for es in json.loads(page)["data"]["receivers"].values() for e in es]
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        suite.check("admin /api/v1/targets answers JSON with data.receivers", False, repr(e)[:200])
        entries = None
    metrics = pages.get("/metrics")
    ups = {}
    if isinstance(metrics, str):
        for line in metrics.splitlines():
            if line.startswith("pyroscope_scrape_up{"):
                labels = dict(kv.split("=", 1) for kv in line[line.index("{") + 1:line.rindex("}")].split(",")
                              if "=" in kv)
                labels = {k: v.strip('"') for k, v in labels.items()}
                ups[(labels.get("job"), labels.get("profile_type"))] = line.rsplit(" ", 1)[-1]
    for target, info in targets.items():
        for ptype, exp in info["types"].items():
            atype = exp.get("admin_type", ptype)
            if entries is not None:
                mine = [e for e in entries if e.get("job") == job_for(info, ptype)
                        and e.get("profile_type") == atype]
                suite.check(f"admin targets: {target} {ptype} is up without error",
                            len(mine) == 1 and mine[0].get("health") == "up" and not mine[0].get("last_error"),
                            [{k: e.get(k) for k in ("health", "last_error", "url")} for e in mine])
            job = job_for(info, ptype)
            suite.check(f"admin metrics: pyroscope_scrape_up{{job={job},profile_type={atype}}} is 1",
                        ups.get((job, atype)) in ("1", "1.0"), ups.get((job, atype)))


# Profile types profcol forwards unaltered (no delta computation): the pushed
# raw_profile must be the bytes the target served (exporter README: byte for byte).
UNALTERED = {"go": ("process_cpu", "goroutine", "fgprof"), "node": ("process_cpu",),
             "godelta": ("memory", "mutex", "block")}


def check_byte_for_byte(suite, push, targets, work):
    for target, info in targets.items():
        proxy = info.get("proxy", target)
        served = {r["sha256"] for r in read_jsonl(os.path.join(work, f"{proxy}_proxy.jsonl"))
                  if r.get("status") == 200}
        for ptype in UNALTERED.get(target, ()):
            pushed = [s["sha256"] for r in push if "labels" in r
                      and dict(r["labels"]).get("job") == job_for(info, ptype)
                      and dict(r["labels"]).get("__name__") == ptype
                      for s in r["samples"]]
            other = [h for h in pushed if h not in served]
            suite.check(f"pyroscope: {target} {ptype} is pushed byte for byte as served",
                        pushed and not other, f"{len(other)} of {len(pushed)} pushed profiles differ "
                        f"from every body the target served")


def check_partial_success(suite, otlp, pages, plog):
    """The OTLP receiver answered one request per transport with a partial success
    (1 rejected profile); DESIGN §6: profcol logs and counts it."""
    log = "".join(tail(plog, 100000))
    metrics = pages.get("/metrics") if isinstance(pages.get("/metrics"), str) else ""
    for tr in OTLP_TRANSPORTS:
        exporter = f"otlp_{tr}"
        accepted = len({r["meta"].get("request_sha256") for r in otlp if r.get("transport") == tr
                        and not r.get("injected_failure") and "meta" in r})
        if accepted < 2:
            suite.skip(f"{exporter}: partial success is logged and counted", "fewer than 2 requests accepted")
            continue
        logged = any("partial success" in ln.lower() and exporter in ln for ln in log.splitlines())
        counted = [ln for ln in metrics.splitlines() if "rejected" in ln and f'"{exporter}"' in ln
                   and not ln.startswith("#")]
        suite.check(f"{exporter}: partial success is logged and counted",
                    logged and any(float(ln.rsplit(" ", 1)[-1]) >= 1 for ln in counted),
                    f"logged={logged}, metric lines={counted}")


def check_retries(suite, otlp, push, n):
    """The receivers refused their first n requests; each must come back (same bytes)."""
    for tr, what in (("grpc", "UNAVAILABLE"), ("http", "503 + Retry-After")):
        refused = [r["meta"]["request_sha256"] for r in otlp
                   if r.get("transport") == tr and r.get("injected_failure")]
        ok = {r["meta"].get("request_sha256") for r in otlp
              if r.get("transport") == tr and not r.get("injected_failure") and "meta" in r}
        lost = [h for h in refused if h not in ok]
        suite.check(f"otlp_{tr}: requests refused with {what} are retried and arrive",
                    len(refused) == n and not lost, f"refused {len(refused)}, never retried {len(lost)}")
    refused = [h for r in push if r.get("injected_failure") for h in r.get("sha256s", [])]
    ok = {s["sha256"] for r in push if "samples" in r for s in r["samples"]}
    lost = [h for h in refused if h not in ok]
    suite.check("pyroscope: pushes refused with 503 are retried and arrive",
                sum(1 for r in push if r.get("injected_failure")) == n and refused and not lost,
                f"refused profiles {len(refused)}, never retried {len(lost)}")


# (target, profile type) -> the path profcol scrapes for it (the default paths of
# receiver/src/profile_types.rs; Node's memory at /debug/pprof/heap), to find what was served.
SCRAPED_PATHS = {
    "go": {"process_cpu": "/debug/pprof/profile", "memory": "/debug/pprof/allocs",
           "mutex": "/debug/pprof/mutex", "block": "/debug/pprof/block",
           "goroutine": "/debug/pprof/goroutine", "fgprof": "/debug/fgprof"},
    "godelta": {"memory": "/debug/pprof/delta_heap", "mutex": "/debug/pprof/delta_mutex",
                "block": "/debug/pprof/delta_block"},
    "node": {"process_cpu": "/debug/pprof/profile", "memory": "/debug/pprof/heap"},
}
# The trace context of the Go target's traced CPU workload (go/target/main.go).
GO_TRACE_LINK = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")


def served_headers(work, proxy):
    """{path: [(sample types, default_sample_type), ...]} of the bodies a proxy relayed."""
    out = {}
    for r in read_jsonl(os.path.join(work, f"{proxy}_proxy.jsonl")):
        if r.get("status") == 200 and r.get("file"):
            try:
                with open(r["file"], "rb") as f:
                    p = pproffold.parse(f.read())
            except (OSError, ValueError):
                continue
            out.setdefault(r["path"].split("?")[0], []).append((tuple(p.sample_types), p.default_sample_type))
    return out


def check_conformance(suite, otlp, targets, work):
    """Every request profcol sent to the OTLP receiver, decoded whole and checked against
    the spec and the pprof conventions (python/otlp_conformance.py), per transport. The
    default sample type and sample type order a scope must carry come from what the target
    served at the path of the scope's (job, sample types)."""
    served = {t: served_headers(work, info.get("proxy", t)) for t, info in targets.items()
              if t in SCRAPED_PATHS}
    index = otlp_index(targets)

    def expect_pprof(res, types):
        ident = index.get((res.get("job"), frozenset(f"{a}/{b}" for a, b in types)))
        if ident is None or ident[0] not in served:
            return None
        t, ptype = ident
        heads = set(served[t].get(SCRAPED_PATHS[t][ptype], []))
        if len(heads) != 1:
            return None
        st, d = heads.pop()
        return {"default": d or None, "sample_types": list(st)}

    for tr in OTLP_TRANSPORTS:
        mine = [r for r in otlp if r.get("transport") == tr and "request_file" in r]
        if not mine:
            suite.skip(f"otlp_{tr}: conformance", "no requests were recorded")
            continue
        n, totals, links = otlp_conformance.check_recorded(mine, expect_pprof)
        for rule in otlp_conformance.RULES:
            count, nreq, details = totals.get(rule, (0, 0, []))
            suite.check(f"otlp_{tr}: conformance ({n} requests): {rule}", count == 0,
                        f"{count} violations in {nreq} requests, e.g. {details}")
        if "go" in targets:
            got = {ln for res, st, _, ln in links if res.get("job") == job_for(targets["go"], "process_cpu")
                   and st in ("cpu/nanoseconds", "samples/count")}
            suite.check(f"otlp_{tr}: the Go target's trace_id/span_id pprof labels arrive as a link "
                        f"on its CPU samples", GO_TRACE_LINK in got, f"links seen: {sorted(got)[:3]}")


def print_table(otlp, push, targets):
    print("\nprofiles received (otlp: OTLP profiles = one per sample type; pyroscope: series)")
    print(f"  {'target':<7} {'type':<12} {'otlp_grpc':>9} {'otlp_http':>9} {'pyroscope':>9}")
    index = otlp_index(targets)
    for target, info in targets.items():
        for ptype in info["types"]:
            def n_otlp(tr):
                return sum(1 for r in otlp if r.get("transport") == tr and "sample_type" in r
                           and otlp_ident(r, index) == (target, ptype))
            n_push = sum(1 for r in push if "labels" in r and dict(r["labels"]).get("job") == job_for(info, ptype)
                         and dict(r["labels"]).get("__name__") == ptype)
            print(f"  {target:<7} {ptype:<12} {n_otlp('grpc'):>9} {n_otlp('http'):>9} {n_push:>9}")
    print()


# ---------------------------------------------------------------- main

def run(args, suite, procs, work):
    peers, missing = find_prereqs(args)
    for name, why in missing.items():
        print(f"SKIP peer {name}: {why}", flush=True)
    if missing and not args.allow_missing:
        suite.check("all peers present", False,
                    f"missing {sorted(missing)}; pass --allow-missing to skip them and exit 0")
        return 2
    if "profcol" in missing or "receivers" in missing:
        suite.skip("real-peer suite", "profcol or the Python receivers are missing")
        return 0
    run_targets = [t for t in args.targets if t in peers]
    if not run_targets:
        suite.skip("real-peer suite", "no target peers available")
        return 0

    # Receivers.
    otlp_out, push_out = os.path.join(work, "otlp.jsonl"), os.path.join(work, "push.jsonl")
    fail = ["--fail-first", str(args.inject_failures)]
    po = procs.start("otlp_receiver", [sys.executable, os.path.join(HERE, "python", "otlp_receiver.py"),
                                       "--out", otlp_out, "--port-file", os.path.join(work, "otlp.port"),
                                       "--save-requests", os.path.join(work, "requests"),
                                       "--partial-success", *fail],
                     os.path.join(work, "otlp_receiver.log"))
    pp = procs.start("push_receiver", [sys.executable, os.path.join(HERE, "python", "push_receiver.py"),
                                       "--out", push_out, "--port-file", os.path.join(work, "push.port"),
                                       *fail],
                     os.path.join(work, "push_receiver.log"))
    # Targets.
    started = {}
    if "go" in run_targets:
        started["go"] = procs.start("go_target", [peers["go"], "-listen", "127.0.0.1:0",
                                                  "-port-file", os.path.join(work, "go.port")],
                                    os.path.join(work, "go_target.log"))
    if "node" in run_targets:
        started["node"] = procs.start("node_target", [peers["node"], os.path.join(HERE, "node", "server.js"),
                                                      "--listen", "127.0.0.1:0",
                                                      "--port-file", os.path.join(work, "node.port")],
                                      os.path.join(work, "node_target.log"), cwd=os.path.join(HERE, "node"))
    otlp_ports = wait_file(os.path.join(work, "otlp.port"), po, 20)
    push_ports = wait_file(os.path.join(work, "push.port"), pp, 20)
    if not suite.check("python receivers start", otlp_ports and push_ports,
                       f"see {work}/otlp_receiver.log, push_receiver.log"):
        return 1
    ports = {**json.loads(otlp_ports), "push": json.loads(push_ports)["http"]}
    addrs = {}
    for t, p in started.items():
        a = wait_file(os.path.join(work, f"{t}.port"), p, 30)
        if suite.check(f"{t} target starts", a, "".join(tail(os.path.join(work, f"{t}_target.log"), 10))):
            addrs[t] = a.strip()
    if not addrs:
        return 1

    # profcol scrapes each target through a recording proxy (what it was served, by sha256).
    scrape = {}
    for t in list(addrs):
        pr = procs.start(f"{t}_proxy", [sys.executable, os.path.join(HERE, "python", "recording_proxy.py"),
                                        "--upstream", addrs[t], "--out", os.path.join(work, f"{t}_proxy.jsonl"),
                                        "--save-bodies", os.path.join(work, f"{t}_served"),
                                        "--port-file", os.path.join(work, f"{t}_proxy.port")],
                         os.path.join(work, f"{t}_proxy.log"))
        a = wait_file(os.path.join(work, f"{t}_proxy.port"), pr, 20)
        if suite.check(f"{t} recording proxy starts", a, "".join(tail(os.path.join(work, f"{t}_proxy.log"), 5))):
            scrape[t] = a.strip()
    targets = {}
    if "go" in scrape:
        targets["go"] = {"job": "pyroscope_scrape/go", "address": scrape["go"],
                         "service_name": "go-target", "types": GO_TYPES, "type_jobs": SPLIT_JOBS["go"]}
        targets["godelta"] = {"job": "pyroscope_scrape/godelta", "address": scrape["go"],
                              "service_name": "go-target", "types": GODELTA_TYPES, "proxy": "go",
                              "type_jobs": SPLIT_JOBS["godelta"]}
    if "node" in scrape:
        targets["node"] = {"job": "pyroscope_scrape/node", "address": scrape["node"],
                           "service_name": "unspecified", "types": NODE_TYPES}
    for t in ("go", "node"):
        if t in args.targets and t not in targets:
            suite.skip(f"{t} target checks", missing.get(t, "target did not start"))

    # Cumulative totals before profcol starts (delta checks compare against them).
    before = {}
    if "go" in targets:
        for ptype, exp in GO_TYPES.items():
            if "delta_path" in exp:
                before[("go", ptype)] = go_cumulative(addrs["go"], exp["delta_path"], exp["delta_type"])

    admin = free_port()
    targets["self"] = {"job": "pyroscope_scrape/self", "address": f"127.0.0.1:{admin}",
                       "service_name": SELF_SERVICE, "types": SELF_TYPES}
    cfg = os.path.join(work, "profcol.yaml")
    write_config(cfg, scrape.get("go"), scrape.get("node"), ports, admin, args.interval)
    print(f"workdir {work}; profcol config {cfg}", flush=True)
    plog = os.path.join(work, "profcol.log")
    env = dict(os.environ)
    env.setdefault("RUST_BACKTRACE", "1")
    extra = [a for c in args.extra_config for a in ("--config", os.path.abspath(c))]
    prof = procs.start("profcol", [peers["profcol"], "--config", cfg, *extra], plog, env=env, cwd=work)

    restart = args.restart_go and "go" in targets
    run_for = args.interval * (args.intervals + (2 if restart else 1)) + 2
    started_at = time.time()
    deadline = started_at + run_for
    restart_at = started_at + 2 * args.interval + 1 if restart else None
    at_kill = {}
    healthy = None
    while time.time() < deadline and prof.poll() is None:
        if healthy is None and time.time() > started_at + 3:
            try:
                healthy = http_get(f"http://127.0.0.1:{admin}/-/healthy", timeout=3)[0]
            except (urllib.error.URLError, OSError) as e:
                healthy = repr(e)
        if restart_at and time.time() >= restart_at:
            # Restart the Go target on the same address, without the warm-up: its
            # cumulative profiles drop, and profcol must re-baseline, not emit negatives.
            restart_at = None
            for ptype, exp in GO_TYPES.items():
                if "delta_path" in exp:
                    at_kill[ptype] = go_cumulative(addrs["go"], exp["delta_path"], exp["delta_type"])
            procs.stop(started["go"], grace=3)
            started["go"] = procs.start("go_target2", [peers["go"], "-listen", addrs["go"],
                                                       "-warmup-alloc-mib", "0",
                                                       "-port-file", os.path.join(work, "go2.port")],
                                        os.path.join(work, "go_target2.log"))
            suite.check("go target restarts on the same address",
                        wait_file(os.path.join(work, "go2.port"), started["go"], 10),
                        "".join(tail(os.path.join(work, "go_target2.log"), 5)))
            print(f"restarted the go target at +{time.time() - started_at:.1f}s", flush=True)
        time.sleep(0.25)
    alive = prof.poll() is None
    suite.check(f"profcol runs for {run_for}s without exiting", alive,
                f"exit code {prof.returncode}; log tail:\n" + "".join(tail(plog, 30)))
    suite.check("profcol admin /-/healthy answers 200", healthy == 200, healthy)
    admin_pages = {}
    if alive:
        for path in ("/api/v1/targets", "/metrics"):
            try:
                _, body = http_get(f"http://127.0.0.1:{admin}{path}", timeout=3)
                admin_pages[path] = body.decode("utf-8", "replace")
                with open(os.path.join(work, "admin" + path.replace("/", "_")), "wb") as f:
                    f.write(body)
            except (urllib.error.URLError, OSError) as e:
                admin_pages[path] = e
        t0 = time.time()
        try:
            os.killpg(prof.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            rc = prof.wait(timeout=15)
            suite.check("profcol exits 0 after SIGTERM", rc == 0,
                        f"exit code {rc} after {time.time() - t0:.1f}s")
        except subprocess.TimeoutExpired:
            suite.check("profcol exits within 15s of SIGTERM", False, "killed")
            procs.stop(prof, grace=0.1)

    # How much each cumulative total grew while profcol ran, measured at the target:
    # (start, growth); with a restart, growth before it plus the new process's total.
    growth = {}
    if "go" in targets:
        for ptype, exp in GO_TYPES.items():
            if "delta_path" in exp:
                c0 = before.get(("go", ptype))
                c_end = go_cumulative(addrs["go"], exp["delta_path"], exp["delta_type"])
                if c0 is None or c_end is None:
                    growth[("go", ptype)] = None
                elif ptype in at_kill:
                    c_kill = at_kill[ptype]
                    growth[("go", ptype)] = None if c_kill is None else (c0, c_kill - c0 + c_end)
                else:
                    growth[("go", ptype)] = (c0, c_end - c0)
                growth[("godelta", ptype)] = growth[("go", ptype)]
    time.sleep(0.5)  # let receivers finish writing the last requests
    otlp, push = read_jsonl(otlp_out), read_jsonl(push_out)
    print_table(otlp, push, targets)
    for tr in OTLP_TRANSPORTS:
        check_otlp(suite, tr, otlp, targets, args.interval, growth)
    check_push(suite, push, targets, args.interval, growth)
    check_consistency(suite, otlp, push, targets)
    check_admin(suite, admin_pages, targets)
    check_byte_for_byte(suite, push, targets, work)
    check_partial_success(suite, otlp, admin_pages, plog)
    if args.inject_failures:
        check_retries(suite, otlp, push, args.inject_failures)
    check_conformance(suite, otlp, targets, work)

    if suite.failed:
        lines = tail(plog, 100000)
        notable = [ln for ln in lines if any(w in ln for w in ("WARN", "ERROR", "warn", "error", "panic"))]
        print(f"\nprofcol log: {len(lines)} lines, {len(notable)} warn/error; first of those:")
        sys.stdout.write("".join(notable[:25]))
        print("profcol log tail:")
        sys.stdout.write("".join(lines[-15:]))
    return 1 if suite.failed else 0


def exit_with(suite, code, work, keep):
    """Ends a suite run: keeps `work` when something failed or `keep`
    (--workdir), prints the summary line last and exits non-zero on failure."""
    if suite.failed and code == 0:
        code = 1
    if suite.failed or keep:
        print(f"logs and outputs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(suite.summary(), flush=True)
    sys.exit(code)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profcol", help="profcol binary (default $PROFCOL or target/debug/profcol)")
    ap.add_argument("--build", action="store_true", help="cargo build -p profcol first")
    ap.add_argument("--allow-missing", action="store_true",
                    help="skip (exit 0) instead of failing when a peer is missing")
    ap.add_argument("--targets", default="go,node", help="comma list of targets: go,node")
    ap.add_argument("--interval", type=int, default=5, help="scrape_interval in seconds (>= 3)")
    ap.add_argument("--intervals", type=int, default=3, help="how many intervals profcol runs")
    ap.add_argument("--inject-failures", type=int, default=1,
                    help="receivers refuse their first N requests (retry check); 0 disables")
    ap.add_argument("--extra-config", action="append", default=[],
                    help="another YAML merged over the generated one (profcol --config), repeatable")
    ap.add_argument("--no-restart", dest="restart_go", action="store_false",
                    help="do not restart the Go target mid-run (the re-baseline check)")
    ap.add_argument("--timeout", type=int, default=170, help="hard bound on the whole run, seconds")
    ap.add_argument("--workdir", help="keep logs and outputs here (default: a temp dir, removed on success)")
    args = ap.parse_args()
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if args.interval < 3:
        ap.error("--interval must be >= 3")

    work = args.workdir or tempfile.mkdtemp(prefix="profcol-real-peers-")
    os.makedirs(work, exist_ok=True)
    suite, procs = Suite(), Procs()

    def on_alarm(*_):
        raise Timeout()

    def on_term(*_):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(args.timeout)
    code = 1
    try:
        code = run(args, suite, procs, work)
    except Timeout:
        suite.check(f"suite finishes within {args.timeout}s", False, "timed out")
    except KeyboardInterrupt:
        suite.check("suite runs to the end", False, "interrupted")
    finally:
        signal.alarm(0)
        procs.stop_all()
    exit_with(suite, code, work, keep=bool(args.workdir))


if __name__ == "__main__":
    main()
