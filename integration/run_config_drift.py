#!/usr/bin/env python3
"""Config drift suite: the real OpenTelemetry Collector and profcol judge the same
`processors`, `extensions` and exporter `sending_queue.storage` sections.

Each case is one set of sections written from the Collector's documented keys. Both
collectors validate a config made of them (`validate --config FILE`): the Collector
built from the upstream modules (go/otelcol, v0.165.0, with the batch, memory_limiter,
resource, attributes and filter processors and the health_check, pprof and file_storage
extensions) and profcol. Where both should accept the sections, both must; where the
Collector refuses (a misspelt key, an invalid combination), profcol must refuse too and
name the key path. That catches drift in key names and rules both ways.

The receivers, exporters and extensions sections are the same text for both. Only the
pipelines differ: profcol runs only `profiles` pipelines, while in the Collector v0.165.0
the batch and attributes processors do not support the profiles signal (it refuses
them there with "telemetry type is not supported"), so the Collector's config lists
those two in a `traces` pipeline, where their keys are still decoded and validated.

Then both run one config with every processor and every extension, on free loopback
ports: each must start, answer its health_check with the Collector's JSON body
(`status` "Server available", `upSince`, `uptime`; the same keys from both) and serve a
CPU profile from its pprof extension, and profcol must stop cleanly on SIGTERM.

Prints PASS/FAIL/SKIP lines and `N passed, M failed[, K skipped]` last; exit 0 only when
nothing failed (2 when a peer is missing, 0 with --allow-missing).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import run_real_peers as rp  # noqa: E402  (Suite and exit_with)

FEATURE_GATE = "service.profilesSupport"
# Processors the Collector v0.165.0 accepts in a profiles pipeline (checked with
# its `validate`); the others go into its traces pipeline.
PROFILES_CAPABLE = {"memory_limiter", "resource", "filter"}


def case(name, expect, processors=None, extensions=None, storage=None, path=None):
    return {"name": name, "expect": expect, "processors": processors or {},
            "extensions": extensions or {}, "storage": storage, "path": path}


def cases(storage_dir):
    fs = {"file_storage": {"directory": storage_dir, "timeout": "2s"}}
    return [
        case("memory_limiter with limit_mib and spike_limit_mib", "accept",
             {"memory_limiter": {"check_interval": "1s", "limit_mib": 512, "spike_limit_mib": 128}}),
        case("memory_limiter with percentages", "accept",
             {"memory_limiter": {"check_interval": "5s", "limit_percentage": 75,
                                 "spike_limit_percentage": 20}}),
        case("batch with sizes and timeout", "accept",
             {"batch": {"send_batch_size": 1000, "send_batch_max_size": 2000, "timeout": "5s"}}),
        case("batch with metadata_keys", "accept",
             {"batch": {"metadata_keys": ["x-scope-orgid"], "metadata_cardinality_limit": 10}}),
        case("resource: every action", "accept",
             {"resource": {"attributes": [
                 {"key": "deployment.environment", "value": "production", "action": "insert"},
                 {"key": "cloud.region", "value": "eu-west-1", "action": "upsert"},
                 {"key": "team", "value": "profiling", "action": "update"},
                 {"key": "host.id", "action": "hash"},
                 {"key": "service.instance.id", "from_attribute": "host.name", "action": "insert"},
                 {"key": "k8s.pod.uid", "action": "delete"},
                 {"key": "service.version", "pattern": "^(?P<major>\\d+)\\.(?P<minor>\\d+)",
                  "action": "extract"},
                 {"key": "build", "converted_type": "int", "action": "convert"},
             ]}}),
        case("attributes on sample attributes", "accept",
             {"attributes": {"actions": [
                 {"key": "thread_name", "action": "delete"},
                 {"key": "tenant", "value": "a", "action": "insert"},
             ]}}),
        case("filter on a resource attribute", "accept",
             {"filter": {"error_mode": "ignore", "profiles": {"profile": [
                 'resource.attributes["service.name"] == "noisy"',
             ]}}}),
        case("a pipeline with every processor", "accept",
             {"memory_limiter": {"check_interval": "1s", "limit_mib": 400},
              "resource": {"attributes": [{"key": "deployment.environment", "value": "staging",
                                           "action": "upsert"}]},
              "filter": {"profiles": {"profile": ['resource.attributes["env"] == "test"']}},
              "attributes": {"actions": [{"key": "thread_id", "action": "delete"}]},
              "batch": {}}),
        case("health_check, pprof and file_storage extensions", "accept",
             extensions={"health_check": {"endpoint": "localhost:13133", "path": "/health"},
                         "pprof": {"endpoint": "localhost:1777"}, **fs},
             storage="file_storage"),
        case("a named file_storage extension", "accept",
             extensions={"file_storage/queue": {"directory": storage_dir}},
             storage="file_storage/queue"),
        # What the Collector refuses, profcol refuses too, naming the key path.
        case("batch: a misspelt key", "refuse",
             {"batch": {"send_batch_sise": 100}}, path="processors::batch::send_batch_sise"),
        case("batch: send_batch_max_size below send_batch_size", "refuse",
             {"batch": {"send_batch_size": 1000, "send_batch_max_size": 10}},
             path="processors::batch::send_batch_max_size"),
        case("memory_limiter: no check_interval", "refuse",
             {"memory_limiter": {"limit_mib": 512}}, path="processors::memory_limiter::check_interval"),
        case("memory_limiter: spike limit not below the limit", "refuse",
             {"memory_limiter": {"check_interval": "1s", "limit_mib": 100, "spike_limit_mib": 100}},
             path="processors::memory_limiter::spike_limit_mib"),
        case("resource: insert without a value", "refuse",
             {"resource": {"attributes": [{"key": "env", "action": "insert"}]}}, path="processors::resource::attributes::0"),
        case("resource: an unknown action", "refuse",
             {"resource": {"attributes": [{"key": "env", "value": "x", "action": "replace"}]}},
             path="processors::resource::attributes::0::action"),
        case("filter: a condition that does not parse", "refuse",
             {"filter": {"profiles": {"profile": ['resource.attributes["a" == ']}}},
             path="processors::filter::profiles::profile::0"),
        case("health_check: a misspelt key", "refuse",
             extensions={"health_check": {"endpoints": "localhost:13133"}}, path="extensions::health_check::endpoints"),
    ]


def sections(c):
    """The sections both collectors get, as one mapping (JSON is YAML)."""
    exporter = {"endpoint": "localhost:4317", "tls": {"insecure": True}}
    if c["storage"]:
        exporter["sending_queue"] = {"storage": c["storage"]}
    doc = {"receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "localhost:4317"}}}},
           "exporters": {"otlp": exporter}}
    if c["processors"]:
        doc["processors"] = c["processors"]
    if c["extensions"]:
        doc["extensions"] = c["extensions"]
    return doc


def otelcol_config(c):
    doc = sections(c)
    names = list(c["processors"])
    pipelines = {"profiles": {"receivers": ["otlp"], "exporters": ["otlp"],
                              "processors": [n for n in names if n.split("/")[0] in PROFILES_CAPABLE]}}
    other = [n for n in names if n.split("/")[0] not in PROFILES_CAPABLE]
    if other:
        pipelines["traces"] = {"receivers": ["otlp"], "exporters": ["otlp"], "processors": other}
    doc["service"] = {"pipelines": pipelines, "extensions": list(c["extensions"]),
                      "telemetry": {"metrics": {"level": "none"}}}
    return doc


def profcol_config(c):
    doc = sections(c)
    doc["service"] = {"pipelines": {"profiles": {"receivers": ["otlp"], "exporters": ["otlp"],
                                                 "processors": list(c["processors"])}},
                      "extensions": list(c["extensions"]),
                      "telemetry": {"metrics": {"address": ""}}}
    return doc


def validate(argv, path, doc):
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).strip()


def running_config(storage_dir, ports):
    """Every processor and extension, with the listeners on `ports`."""
    return {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{ports['grpc']}"}}}},
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_mib": 4000, "spike_limit_mib": 800},
            "resource": {"attributes": [{"key": "deployment.environment", "value": "ci",
                                         "action": "upsert"}]},
            "filter": {"error_mode": "ignore", "profiles": {"profile": [
                'resource.attributes["service.name"] == "noisy"']}},
            "attributes": {"actions": [{"key": "thread_id", "action": "delete"}]},
            "batch": {"timeout": "1s"},
        },
        "exporters": {"otlp": {"endpoint": f"127.0.0.1:{ports['sink']}", "tls": {"insecure": True},
                               "sending_queue": {"storage": "file_storage"}}},
        "extensions": {
            "health_check": {"endpoint": f"127.0.0.1:{ports['health']}"},
            "pprof": {"endpoint": f"127.0.0.1:{ports['pprof']}"},
            "file_storage": {"directory": storage_dir},
        },
    }


def wait_health(url, proc, timeout=30.0):
    """The health_check answer once it is 200: (status, parsed JSON) or None."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc.poll() is not None:
            return None, f"exited with {proc.returncode}"
        try:
            status, body = rp.http_get(url, timeout=2)
            if status == 200:
                return json.loads(body), None
            last = f"HTTP {status}"
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code}"
        except (OSError, ValueError) as e:
            last = repr(e)
        time.sleep(0.2)
    return None, f"no 200 within {timeout:.0f}s: {last}"


def run_both(suite, procs, work, profcol, otelcol):
    """Both collectors run the same sections; their health_check bodies agree."""
    bodies = {}
    for name in ("otelcol", "profcol"):
        ports = {k: rp.free_port() for k in ("grpc", "sink", "health", "pprof")}
        storage = os.path.join(work, f"run-{name}-storage")
        os.makedirs(storage, exist_ok=True)
        c = {"processors": {}, "extensions": {}, "storage": None}
        doc = running_config(storage, ports)
        c["processors"], c["extensions"] = doc["processors"], doc["extensions"]
        if name == "otelcol":
            full = otelcol_config(c)
            argv = [otelcol, "--config", None, f"--feature-gates={FEATURE_GATE}"]
        else:
            full = profcol_config(c)
            argv = [profcol, "--config", None]
        full["receivers"], full["exporters"] = doc["receivers"], doc["exporters"]
        path = os.path.join(work, f"run-{name}.yaml")
        with open(path, "w") as f:
            json.dump(full, f, indent=1)
        argv[2] = f"file:{path}" if name == "otelcol" else path
        proc = procs.start(name, argv, os.path.join(work, f"run-{name}.log"))
        body, why = wait_health(f"http://127.0.0.1:{ports['health']}/", proc)
        if not suite.check(f"{name} runs every processor and extension and its health_check answers 200",
                           body is not None, why or ""):
            procs.stop(proc)
            continue
        bodies[name] = body
        try:
            status, prof = rp.http_get(f"http://127.0.0.1:{ports['pprof']}/debug/pprof/profile?seconds=1",
                                       timeout=15)
            suite.check(f"{name}'s pprof extension serves a CPU profile", status == 200 and len(prof) > 0,
                        f"HTTP {status}, {len(prof)} bytes")
        except (OSError, urllib.error.HTTPError) as e:
            suite.check(f"{name}'s pprof extension serves a CPU profile", False, repr(e))
        code = procs.stop(proc, grace=15.0)
        if name == "profcol":
            suite.check("profcol stops cleanly on SIGTERM", code == 0, f"exit code {code}")
    if len(bodies) == 2:
        suite.check("health_check bodies have the same keys",
                    sorted(bodies["otelcol"]) == sorted(bodies["profcol"]), json.dumps(bodies))
        suite.check("health_check status texts are equal",
                    bodies["otelcol"].get("status") == bodies["profcol"].get("status") == "Server available",
                    json.dumps(bodies))


def run(args, suite, work):
    profcol = args.profcol or os.environ.get("PROFCOL") or os.path.join(ROOT, "target", "debug", "profcol")
    missing = []
    if not (os.path.isfile(profcol) and os.access(profcol, os.X_OK)):
        missing.append(f"profcol: no executable at {profcol} (cargo build -p profcol)")
    t0 = time.time()
    r = subprocess.run([os.path.join(HERE, "go", "build.sh"), "otelcol"],
                       capture_output=True, text=True, timeout=args.build_timeout)
    if r.stderr.strip():
        print(r.stderr.strip(), flush=True)
    if time.time() - t0 > 2:
        print(f"go/build.sh took {time.time() - t0:.0f}s", flush=True)
    otelcol = os.path.join(HERE, "go", "bin", "otelcol")
    if not (os.path.isfile(otelcol) and os.access(otelcol, os.X_OK)):
        missing.append(f"otelcol: no go/bin/otelcol; go/build.sh: {r.stderr.strip()[-300:]}")
    if missing:
        for m in missing:
            suite.skip("peers", m) if args.allow_missing else suite.check("peers present", False, m)
        return 0 if args.allow_missing else 2

    storage_dir = os.path.join(work, "file_storage")
    os.makedirs(storage_dir, exist_ok=True)
    for i, c in enumerate(cases(storage_dir)):
        ocfg = os.path.join(work, f"case{i}-otelcol.yaml")
        pcfg = os.path.join(work, f"case{i}-profcol.yaml")
        orc, oout = validate([otelcol, "validate", "--config", f"file:{ocfg}",
                              f"--feature-gates={FEATURE_GATE}"], ocfg, otelcol_config(c))
        prc, pout = validate([profcol, "validate", "--config", pcfg], pcfg, profcol_config(c))
        name = c["name"]
        if c["expect"] == "accept":
            suite.check(f"{name}: the Collector accepts it", orc == 0, oout[-400:])
            suite.check(f"{name}: profcol accepts it", prc == 0, pout[-600:])
        else:
            suite.check(f"{name}: the Collector refuses it", orc != 0, oout[-400:])
            suite.check(f"{name}: profcol refuses it naming {c['path']}",
                        prc != 0 and c["path"] in pout, pout[-600:])
    procs = rp.Procs()
    try:
        run_both(suite, procs, work, profcol, otelcol)
    finally:
        procs.stop_all()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profcol", help="profcol binary (default $PROFCOL or target/debug/profcol)")
    ap.add_argument("--allow-missing", action="store_true", help="skip (exit 0) when a peer is missing")
    ap.add_argument("--build-timeout", type=int, default=1500, help="bound on go/build.sh, seconds")
    ap.add_argument("--workdir", help="keep configs and outputs here (default: a temp dir, removed on success)")
    args = ap.parse_args()
    work = args.workdir or tempfile.mkdtemp(prefix="profcol-drift-")
    os.makedirs(work, exist_ok=True)
    suite = rp.Suite()
    code = 1
    try:
        code = run(args, suite, work)
    except subprocess.TimeoutExpired as e:
        suite.check("validate commands finish", False, repr(e)[:200])
    rp.exit_with(suite, code, work, keep=bool(args.workdir))


if __name__ == "__main__":
    main()
