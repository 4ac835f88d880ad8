#!/usr/bin/env python3
"""Gateway suite: real push SDKs and a real OpenTelemetry Collector push into profcol's receivers.

profcol runs as a gateway: receivers `otlp` (gRPC + HTTP) and `pyroscope` (/ingest and the
Connect push API), exporters `otlp_grpc` (to python/otlp_receiver.py, header
x-profcol-route: gateway) and `pyroscope` (to python/push_receiver.py). Everything listens on
free loopback ports and is stopped on exit.

(a) SDKs -> profcol's pyroscope receiver -> both sinks. The push peers run for
    --sdk-seconds with the shortest upload interval their SDK allows:
      go/pushsdk       github.com/grafana/pyroscope-go v1.5.0: POST /ingest, multipart pprof
      node/push.js     @pyroscope/nodejs 0.6.4: POST /ingest, gzipped pprof body
      python/push_sdk.py  pyroscope-io 1.4.0: POST /push.v1.PusherService/Push (Connect)
      java/target/javapush.jar  io.pyroscope:agent 2.9.2: POST /ingest?format=jfr, multipart
                       `jfr` (CPU + allocation + lock events in one recording) + `labels`;
                       profcol converts the recording to pprof (one profile per event kind)
    Checked per SDK, at the OTLP sink and at the push sink: every upload was answered 200
    (the peers count them); each profile type the SDK sends arrives, with its sample types
    and nothing else; service.name (OTLP resource) / service_name (push label) is the app
    name and the SDK's tags are there; no OTLP resource key starts with `__`; the folded
    stacks hold the workload functions; the CPU totals are within a sane factor of the CPU
    time the peer measured itself (getrusage; for Python, whose sampler counts a runnable
    thread as on CPU, within the workload thread's CPU time and the wall time; for Java,
    against the process CPU up to the end of the last window the agent uploaded); both
    sinks carry the same CPU total. Java also: the dynamic label handler=/cart arrives as
    a sample attribute (OTLP) / sample label (pprof) on some CPU samples; a profcol that
    answers 415 to its uploads (built before it read JFR) is one clear failure and the
    sink checks are skipped. With --standin, the Java requests are checked as sent
    (format=jfr query, `jfr` and `labels` parts), since the capture server does not read JFR.
(b) OpenTelemetry Collector -> profcol's otlp receiver. A second profcol (the scraper)
    scrapes the Go pull target (go/target) with two jobs, pyroscope_scrape/via_grpc and
    pyroscope_scrape/via_http, each in its own pipeline, exporting otlp_grpc straight to the
    sink (x-profcol-route: direct) and to the Collector (go/otelcol, v0.165.0, with
    --feature-gates=service.profilesSupport), which exports via_grpc with its `otlp`
    exporter to profcol's OTLP gRPC endpoint and via_http with `otlphttp` to its HTTP
    endpoint. Per job, what arrives over the gateway equals what arrived directly: the same
    profiles (time, sample type), folded stacks, resource, scope and profile attributes.
(c) Bad input straight at the receivers (urllib, grpcio) while the SDKs run: wrong content
    types, truncated protobuf (OTLP HTTP, OTLP gRPC, Connect push), `format=xyz`,
    a truncated `format=jfr` recording (400 naming JFR), gzip bombs (OTLP HTTP, /ingest, push), a huge label set
    in `name`, a `name` that does not parse, no `name`: each a 4xx (INVALID_ARGUMENT over
    gRPC) whose body names the problem. Afterwards profcol is healthy and good pushes over
    each API (/ingest, Connect push, OTLP HTTP) still reach both sinks.

When profcol has no `otlp`/`pyroscope` receiver yet (`profcol validate` answers `unknown
receiver type "otlp"` or `the otlp receiver is not built yet`), the suite says so and skips
(exit 0), or fails with --strict.

--standin runs the same peers without a profcol gateway, for checking the peers and this
harness: the SDKs push to python/ingest_capture.py and (a)'s checks run on what it
captured; the Collector exports to the OTLP sink itself (b); (c) is skipped.

Prints PASS/FAIL/SKIP lines and `N passed, M failed[, K skipped]` last; exit 0 only when
nothing failed (2 when a peer is missing, 0 with --allow-missing: the parts needing it are
skipped). --workdir keeps configs, logs and sink outputs (else kept only on failure).
"""

import argparse
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from email.parser import BytesParser
from email.policy import HTTP

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "python"))
import run_real_peers as rp  # noqa: E402  (Suite, Procs, helpers; switches to the venv if needed)
import run_otelcol as ro  # noqa: E402  (wait_ports, FEATURE_GATE)
import pbwire  # noqa: E402
from push_receiver import PUSH_PATH, decode_push_request  # noqa: E402

CORPUS = os.path.join(HERE, "corpus", "ingest")
JAVA_JAR = os.path.join(HERE, "java", "target", "javapush.jar")
OTLP_HTTP_PATH = "/v1development/profiles"
OTLP_GRPC_METHOD = "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export"
GATEWAY_ROUTE, DIRECT_ROUTE = "gateway", "direct"
# `profcol validate` when the push receivers are not there: skip (or fail with --strict).
NO_RECEIVER = re.compile(r'unknown receiver type "(otlp|pyroscope)"|the (otlp|pyroscope) receiver is not built yet')

MEMORY_TYPES = {"alloc_objects/count", "alloc_space/bytes", "inuse_objects/count", "inuse_space/bytes"}
# What each SDK sends (integration/README.md, "Push SDKs"): per kind, the sample types of its
# pprof, the sample type whose stacks must hold the workload's functions, and those names
# (all of them with all_needles, else any).
SDKS = {
    "go": {
        "app": "gopush", "tags": {"env": "gateway-it", "lang": "go"},
        "kinds": {
            "cpu": {"types": {"samples/count", "cpu/nanoseconds"}, "stack_type": "cpu/nanoseconds",
                    "needles": ["workloadPushCPUBurn"]},
            "memory": {"types": MEMORY_TYPES, "stack_type": "alloc_space/bytes", "needles": ["workloadPushAlloc"]},
            # Go's mutex and block profiles have the same sample types.
            "mutex+block": {"types": {"contentions/count", "delay/nanoseconds"}, "stack_type": "delay/nanoseconds",
                            "needles": ["workloadPushMutex", "workloadPushBlock"], "all_needles": True},
            "goroutine": {"types": {"goroutine/count"}, "stack_type": "goroutine/count",
                          "needles": ["main.workloadLoop"]},
        },
        # runtime/pprof's SIGPROF sampler counts the process's CPU time: near getrusage's.
        "cpu": {"type": "cpu/nanoseconds", "lo": 0.5, "hi": 1.3},
    },
    "node": {
        "app": "nodepush", "tags": {"env": "gateway-it", "lang": "node"},
        "kinds": {
            # wall.collectCpuTime: the wall profile carries cpu/nanoseconds too.
            "wall": {"types": {"samples/count", "wall/nanoseconds", "cpu/nanoseconds"},
                     "stack_type": "cpu/nanoseconds", "needles": ["workloadNodePushCpuBurn"]},
            "heap": {"types": {"inuse_objects/count", "inuse_space/bytes"}},
        },
        "cpu": {"type": "cpu/nanoseconds", "lo": 0.5, "hi": 1.3},
    },
    # Sample types as profcol delivers them after converting the agent's JFR to pprof the way
    # Grafana does (grafana/jfr-parser, pprof/pprof.go); stacks are "pkg/Class.method".
    "java": {
        "app": "javapush", "tags": {"env": "gateway-it", "lang": "java"},
        "kinds": {
            "cpu": {"types": {"cpu/nanoseconds"}, "stack_type": "cpu/nanoseconds",
                    "needles": ["workloadJavaPushCpuBurn"], "push_name": "process_cpu",
                    "sample_label": "handler=/cart"},
            # async-profiler 4.5 on JDK 17 samples allocations through JVMTI: every sample is a
            # jdk.ObjectAllocationInNewTLAB (tlabSize = the sample's weight), none outside.
            "alloc_in_new_tlab": {"types": {"alloc_in_new_tlab_objects/count", "alloc_in_new_tlab_bytes/bytes"},
                                  "stack_type": "alloc_in_new_tlab_bytes/bytes",
                                  "needles": ["workloadJavaPushAlloc"], "push_name": "memory"},
            "alloc_outside_tlab": {"types": {"alloc_outside_tlab_objects/count", "alloc_outside_tlab_bytes/bytes"},
                                   "push_name": "memory", "optional": True},
            # jdk.JavaMonitorEnter (contended synchronized, over the 10ms threshold).
            "lock": {"types": {"contentions/count", "delay/nanoseconds"}, "stack_type": "delay/nanoseconds",
                     "needles": ["workloadJavaPushLock"], "push_name": "mutex"},
        },
        # itimer (ITIMER_PROF, 100 Hz) samples whatever thread of the process is on CPU (JIT and
        # GC threads too), so the profile should come near the process's CPU time over the
        # uploaded windows (the agent drops its last, partial window on stop: the peer reports
        # cpu_s_uploaded_windows for that). 0.5 leaves room for samples async-profiler cannot
        # walk and for a loaded machine; 1.3 for the window edges (from/until are whole seconds).
        "cpu": {"type": "cpu/nanoseconds", "lo": 0.5, "hi": 1.3, "measure": "cpu_s_uploaded_windows"},
    },
    "python": {
        "app": "pypush", "tags": {"env": "gateway-it", "lang": "python"},
        "kinds": {
            "cpu": {"types": {"cpu/nanoseconds"}, "stack_type": "cpu/nanoseconds",
                    "needles": ["workload_python_push_cpu_burn"], "push_name": "process_cpu"},
            "memory": {"types": MEMORY_TYPES, "stack_type": "alloc_space/bytes",
                       "needles": ["workload_python_push_alloc"], "push_name": "memory"},
        },
        # py-spy's on-CPU mode counts a thread that is runnable but waiting for a core as on
        # CPU, so on a busy machine the profile can exceed getrusage: bounded by the workload
        # thread's own CPU time below and by the wall time above (one sampled thread).
        "cpu": {"type": "cpu/nanoseconds", "lo": 0.5, "wall_hi": 1.2, "measure": "workload_cpu_s"},
    },
}
SCRAPE_JOBS = {"via_grpc": "otlp", "via_http": "otlphttp"}  # scraper job -> Collector exporter type
SCRAPE_TYPES = ("process_cpu", "memory", "goroutine")
ALL_SCRAPE_TYPES = ("process_cpu", "memory", "block", "mutex", "goroutine", "fgprof",
                    "godeltaprof_memory", "godeltaprof_mutex", "godeltaprof_block")
DECODE_WORDS = ["decode", "protobuf", "proto", "truncat", "invalid", "malformed", "parse", "unexpected eof"]
LIMIT_WORDS = ["limit", "too large", "too big", "exceed", "decompress", "size", "bomb"]


# ---------------------------------------------------------------- small helpers

def pb_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_bytes(num, payload):
    return pb_varint(num << 3 | 2) + pb_varint(len(payload)) + payload


def push_request(series):
    """A Pyroscope PushRequest: series = [([(name, value)...], [raw_profile...])]."""
    out = b""
    for labels, raws in series:
        body = b"".join(pb_bytes(1, pb_bytes(1, n.encode()) + pb_bytes(2, v.encode())) for n, v in labels)
        body += b"".join(pb_bytes(2, pb_bytes(1, raw)) for raw in raws)
        out += pb_bytes(1, body)
    return out


def otlp_request(service, fn="probeFunction"):
    """A small, well-formed ExportProfilesServiceRequest (one CPU profile, one stack)."""
    from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2 as svc
    from opentelemetry.proto.profiles.v1development import profiles_pb2 as p
    from opentelemetry.proto.common.v1 import common_pb2 as c
    req = svc.ExportProfilesServiceRequest()
    d = req.dictionary
    d.string_table.extend(["", "cpu", "nanoseconds", fn, "probe.go"])
    d.mapping_table.add()
    d.location_table.add()
    d.location_table.add(lines=[p.Line(function_index=1, line=7)])
    d.function_table.add()
    d.function_table.add(name_strindex=3, filename_strindex=4)
    d.link_table.add()
    d.attribute_table.add()
    d.stack_table.add()
    d.stack_table.add(location_indices=[1])
    rp_ = req.resource_profiles.add()
    rp_.resource.attributes.add(key="service.name", value=c.AnyValue(string_value=service))
    sp = rp_.scope_profiles.add()
    sp.scope.name = "run_gateway.py"
    prof = sp.profiles.add()
    prof.sample_type.type_strindex, prof.sample_type.unit_strindex = 1, 2
    prof.period_type.type_strindex, prof.period_type.unit_strindex = 1, 2
    prof.period = 10_000_000
    prof.time_unix_nano = time.time_ns() - 1_000_000_000
    prof.duration_nano = 1_000_000_000
    prof.samples.add(stack_index=1, values=[30_000_000])
    return req.SerializeToString()


def truncated(msg_bytes, parse):
    """msg_bytes cut short at a point where `parse` fails (a truncated field)."""
    for cut in range(len(msg_bytes) // 2, len(msg_bytes) - 1):
        try:
            parse(msg_bytes[:cut])
        except Exception:
            return msg_bytes[:cut]
    raise ValueError("no truncation point fails to parse")


def gzip_bomb(mib):
    """gzip of `mib` MiB of zeros (about 1 KB per MiB)."""
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    out = [co.compress(chunk) for _ in range(mib)]
    out.append(co.flush())
    return b"".join(out)


def http_post(url, body, headers, timeout=30.0):
    """(status, body text) of a POST; an HTTP error status is an answer, not an exception."""
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        return None, repr(e)


def parse_app_name(name):
    """Labels of a Pyroscope `name` (app{k=v,...}): service_name = app, plus each tag."""
    app, _, rest = name.partition("{")
    labels = {"service_name": app.strip()}
    for kv in rest.rstrip("}").split(","):
        k, sep, v = kv.partition("=")
        if sep:
            labels[k.strip()] = v.strip()
    return labels


def corpus(name):
    with open(os.path.join(CORPUS, name), "rb") as f:
        body = f.read()
    with open(os.path.join(CORPUS, os.path.splitext(name.replace(".pb.gz", ".pb"))[0] + ".json")) as f:
        return body, json.load(f)


def multipart_profile(content_type, body):
    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1")
                                              + b"\r\n\r\n" + body)
    return {p.get_param("name", header="content-disposition"): p.get_payload(decode=True)
            for p in msg.iter_parts()}


# ---------------------------------------------------------------- one view of a profile

def view(source, labels, types, folded, totals, route=None, sample_labels=None):
    """sample_labels: per sample type, "key=value" -> summed value of the samples carrying it."""
    svc = labels.get("service.name") or labels.get("service_name")
    return {"source": source, "service": svc, "labels": labels, "types": list(types),
            "folded": dict(zip(types, folded)), "totals": dict(zip(types, totals)), "route": route,
            "sample_labels": dict(zip(types, sample_labels or []))}


def views_from_otlp(recs):
    """One view per OTLP profile (one sample type of an original pprof): `types` are the
    sample types of its ScopeProfiles (those of the pprof), `folded`/`totals` its own type's."""
    out = []
    for r in recs:
        if "sample_type" not in r:
            continue
        own = f"{r['sample_type']}/{r['sample_unit']}"
        v = view("otlp", r["resource"], [own], [r["folded"]], [r["total"]], (r.get("meta") or {}).get("route"),
                 [r.get("sample_attributes") or {}])
        v["types"] = list(r.get("scope_sample_types") or [own])
        out.append(v)
    return out


def views_from_push(recs):
    out = []
    for r in recs:
        if "labels" not in r:
            continue
        labels = dict(r["labels"])
        for s in r.get("samples", []):
            p = s.get("pprof")
            if p:
                out.append(view("push", labels, p["sample_types"], p["folded"], p["totals"],
                                sample_labels=p.get("sample_labels")))
    return out


def views_from_capture(recs):
    """--standin: what the SDKs sent to ingest_capture.py, decoded from the saved bodies."""
    out = []
    for r in recs:
        if "file" not in r:
            continue
        with open(r["file"], "rb") as f:
            body = f.read()
        try:
            if r["path"] == PUSH_PATH:
                data = pbwire.decompress(body, r.get("content_encoding"))
                for labels, samples in decode_push_request(data):
                    for raw, _ in samples:
                        s = pbwire.pprof_summary(raw)
                        out.append(view("capture", dict(labels), s["sample_types"], s["folded"], s["totals"]))
                continue
            q = dict(r["query"])
            raw = body
            if (r.get("content_type") or "").startswith("multipart/form-data"):
                raw = multipart_profile(r["content_type"], body).get("profile", b"")
            s = pbwire.pprof_summary(raw)
            out.append(view("capture", parse_app_name(q.get("name", "")), s["sample_types"], s["folded"], s["totals"]))
        except Exception as e:
            out.append({"source": "capture", "service": None, "error": repr(e), "labels": {}, "types": []})
    return out


# ---------------------------------------------------------------- (a) SDK checks

def run_sdk_peers(procs, peers, sdks, url, work, seconds):
    """Starts the push peers; returns {sdk: Popen}."""
    started = {}
    for sdk in sdks:
        info = SDKS[sdk]
        tags = ",".join(f"{k}={v}" for k, v in info["tags"].items())
        if sdk == "go":
            argv, cwd = [peers["pushsdk"], "-server-address", url, "-app-name", info["app"], "-tags", tags,
                         "-duration", f"{seconds}s", "-upload-rate", "1s"], None
        elif sdk == "node":
            argv, cwd = [peers["node"], os.path.join(HERE, "node", "push.js"), "--server-address", url,
                         "--app-name", info["app"], "--tags", tags, "--duration-ms", str(int(seconds * 1000)),
                         "--flush-interval-ms", "1000"], os.path.join(HERE, "node")
        elif sdk == "java":
            argv, cwd = [peers["java"], "-jar", JAVA_JAR, "--server-address", url, "--app-name", info["app"],
                         "--tags", tags, "--duration-ms", str(int(seconds * 1000)), "--upload-interval-ms", "1000",
                         "--event", "itimer"], None
        else:
            argv, cwd = [sys.executable, os.path.join(HERE, "python", "push_sdk.py"), "--server-address", url,
                         "--app-name", info["app"], "--tags", tags, "--duration", str(seconds),
                         "--upload-interval", "1", "--enable-logging"], None
        out = open(os.path.join(work, f"sdk_{sdk}.jsonl"), "wb")
        p = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=open(os.path.join(work, f"sdk_{sdk}.log"), "wb"),
                             stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        procs.procs.append((f"sdk_{sdk}", p))
        started[sdk] = p
    return started


def sdk_report(work, sdk):
    lines = [ln for ln in rp.read_jsonl(os.path.join(work, f"sdk_{sdk}.jsonl")) if "event" in ln]
    return next((ln for ln in reversed(lines) if ln["event"] == "exit"), None)


def check_sdk_ran(suite, sdk, proc, work):
    rc = proc.poll()
    rep = sdk_report(work, sdk)
    log = "".join(rp.tail(os.path.join(work, f"sdk_{sdk}.log"), 8))
    if not suite.check(f"{sdk} SDK peer runs and exits 0", rc == 0 and rep is not None,
                       f"exit code {rc}; log tail:\n{log}"):
        return None
    if sdk == "python":
        # pyroscope-io logs each refused upload ("Sending Session failed <status>").
        with open(os.path.join(work, f"sdk_{sdk}.log"), errors="replace") as f:
            failed = [ln.strip() for ln in f if "Sending Session failed" in ln or "ERROR" in ln]
        suite.check(f"{sdk}: every upload was accepted (no failure in the SDK's log)", not failed, failed[:3])
    else:
        ups = rep.get("uploads") or {}
        why = ups
        if sdk == "java" and "415" in ups:
            why = (f"{ups}: profcol answered 415 to the agent's format=jfr uploads "
                   f"(JFR ingestion not supported by this profcol yet)")
        suite.check(f"{sdk}: every upload was answered 200 (the peer's count)",
                    ups and set(ups) == {"200"}, why)
    return rep


def jfr_refused(rep):
    """True when every upload of the Java peer was answered 415 (profcol without JFR support)."""
    ups = (rep or {}).get("uploads") or {}
    return bool(ups) and set(ups) == {"415"}


def check_java_capture(suite, recs, rep):
    """--standin: the Java agent's requests as the capture server received them (it does not
    read JFR): the query, the `jfr` part (a JFR recording, gzipped) and the `labels` part."""
    info = SDKS["java"]
    mine = [r for r in recs if parse_app_name(dict(r.get("query") or []).get("name", "")).get("service_name")
            == info["app"]]
    label = "java -> capture server"
    if not suite.check(f"{label}: requests arrive with app name {info['app']}", mine, f"{len(recs)} requests in all"):
        return
    bad_q = []
    for r in mine:
        q = dict(r["query"])
        want = {"format": "jfr", "spyName": "javaspy", "units": "samples", "aggregationType": "sum",
                "sampleRate": "100"}
        wrong = {k: q.get(k) for k, v in want.items() if q.get(k) != v}
        if r["method"] != "POST" or r["path"] != "/ingest" or not q.get("from", "").isdigit() \
                or not q.get("until", "").isdigit() or int(q["from"]) > int(q["until"]) or wrong:
            bad_q.append((r["method"], r["path"], wrong, q.get("from"), q.get("until")))
    suite.check(f"{label}: every request is POST /ingest?format=jfr&spyName=javaspy&units=samples"
                f"&aggregationType=sum&sampleRate=100 with from <= until (unix seconds)", not bad_q, bad_q[:3])
    tags = [parse_app_name(dict(r["query"])["name"]) for r in mine]
    wrong = [t for t in tags if any(t.get(k) != v for k, v in info["tags"].items())]
    suite.check(f"{label}: the SDK's tags {info['tags']} are in name", not wrong, wrong[:2])
    parts = [{p["name"]: p for p in r.get("parts", [])} for r in mine]
    no_jfr = [sorted(p) for p in parts if not (p.get("jfr") or {}).get("jfr", {}).get("chunks")]
    suite.check(f"{label}: every request is multipart with a `jfr` part holding a JFR recording",
                not no_jfr, f"{len(no_jfr)} without, e.g. parts {no_jfr[:2]}")
    labelled = [p for p in parts if info["kinds"]["cpu"]["sample_label"]
                in (p.get("labels") or {}).get("labels_snapshot", {}).get("labels", [])]
    suite.check(f"{label}: a `labels` part (LabelsSnapshot) carries {info['kinds']['cpu']['sample_label']}",
                labelled, f"{len(parts)} requests, none with it")
    if rep is not None:
        n = sum((rep.get("uploads") or {}).values())
        suite.check(f"{label}: the capture holds every upload the peer counted ({n})", len(mine) == n,
                    f"{len(mine)} captured")


def kind_of(v, info):
    for name, k in info["kinds"].items():
        if set(v["types"]) == k["types"]:
            return name
    return None


def check_sdk_views(suite, sdk, views, where, rep):
    """(a)'s checks on one sink's (or the capture's) views of one SDK's profiles."""
    info = SDKS[sdk]
    mine = [v for v in views if v["service"] == info["app"]]
    label = f"{sdk} -> {where}"
    if not suite.check(f"{label}: profiles arrive with service name {info['app']}", mine,
                       f"services seen: {sorted({str(v['service']) for v in views})}"):
        return None
    errs = [v["error"] for v in mine if "error" in v]
    if errs:
        suite.check(f"{label}: every profile decodes", False, errs[:3])
    unknown = sorted({tuple(sorted(v["types"])) for v in mine if kind_of(v, info) is None})
    suite.check(f"{label}: every profile has the sample types of a kind the SDK sends "
                f"({', '.join(sorted(info['kinds']))})", not unknown, f"unexpected sample type sets: {unknown}")
    for kname, k in info["kinds"].items():
        got = [v for v in mine if kind_of(v, info) == kname]
        if not got and k.get("optional"):
            continue
        if not suite.check(f"{label}: {kname} arrives with sample types {sorted(k['types'])}", got,
                           f"kinds seen: {sorted({str(kind_of(v, info)) for v in mine})}"):
            continue
        if k.get("needles"):
            keys = [s for v in got for s, val in v["folded"].get(k["stack_type"], {}).items() if val]
            hit = [n for n in k["needles"] if any(n in s for s in keys)]
            ok = len(hit) == len(k["needles"]) if k.get("all_needles") else bool(hit)
            suite.check(f"{label}: {kname} stacks ({k['stack_type']}) contain "
                        + (" and ".join(k["needles"]) if k.get("all_needles") else " or ".join(k["needles"])),
                        ok, f"found {hit} in {len(keys)} stacks, e.g. {keys[:2]}")
        if k.get("sample_label"):
            what = "sample attribute" if where.startswith("OTLP") else "sample label"
            carried = sum(v["sample_labels"].get(k["stack_type"], {}).get(k["sample_label"], 0) for v in got)
            seen = sorted({lk for v in got for lk in v["sample_labels"].get(k["stack_type"], {})})
            suite.check(f"{label}: {kname}: the dynamic label {k['sample_label']} arrives as a {what} "
                        f"on some samples", carried > 0, f"{what}s seen: {seen[:8]}")
        neg = [(t, val) for v in got for t, val in v["totals"].items() if val < 0]
        suite.check(f"{label}: {kname} values are non-negative", not neg, neg[:3])
        if where in ("pyroscope push sink", "capture server") and k.get("push_name"):
            names = sorted({str(v["labels"].get("__name__")) for v in got})
            suite.check(f"{label}: {kname} keeps the SDK's __name__ {k['push_name']}", names == [k["push_name"]], names)
    # Labels / resource attributes.
    bad, leaked = [], set()
    for v in mine:
        lab = v["labels"]
        wrong = {t: lab.get(t) for t, val in info["tags"].items() if lab.get(t) != val}
        if wrong:
            bad.append(wrong)
        if where.startswith("OTLP"):
            leaked |= {key for key in lab if key.startswith("__")}
    suite.check(f"{label}: the SDK's tags {info['tags']} are " +
                ("resource attributes" if where.startswith("OTLP") else "labels"), not bad, bad[:2])
    if where.startswith("OTLP"):
        suite.check(f"{label}: no resource attribute starts with __", not leaked, sorted(leaked))
    elif where.startswith("pyroscope"):
        names = [v for v in mine if not v["labels"].get("__name__")]
        suite.check(f"{label}: every series has a __name__ (profile type)", not names, len(names))
        if sdk == "go":
            # sample_type_config's display names (mutex_count / block_count) tell the two apart.
            # A goroutine waiting in sync.Mutex.Lock is in Go's block profile too, so the
            # mutex workload may show in both; the channel-blocking workload only ever shows
            # in the block profile, and the mutex profile (time held before Unlock) only
            # holds lock holders.
            names = {}
            for v in mine:
                if kind_of(v, info) == "mutex+block":
                    stacks = " ".join(v["folded"].get("delay/nanoseconds", {}))
                    for fn in ("workloadPushMutex", "workloadPushBlock"):
                        if fn in stacks:
                            names.setdefault(fn, set()).add(v["labels"].get("__name__"))
            got = {k: sorted(map(str, s)) for k, s in names.items()}
            suite.check(f"{label}: mutex and block profiles arrive as different profile types (__name__)",
                        names.get("workloadPushBlock") == {"block"} and "mutex" in names.get("workloadPushMutex", set()),
                        got)
    # CPU totals against the peer's own accounting.
    c = info["cpu"]
    total = sum(v["totals"].get(c["type"], 0) for v in mine) / 1e9
    if rep is None:
        suite.skip(f"{label}: CPU total within a sane factor of the SDK process's own", "no exit report")
    elif c.get("measure") == "workload_cpu_s":
        lo, hi = c["lo"] * rep["workload_cpu_s"], c["wall_hi"] * rep["wall_s_since_start"]
        suite.check(f"{label}: CPU total {total:.2f}s within [{c['lo']} x workload thread CPU, "
                    f"{c['wall_hi']} x wall] = [{lo:.2f}, {hi:.2f}]s", lo <= total <= hi,
                    f"process CPU {rep['cpu_s_since_start']:.2f}s, workload thread {rep['workload_cpu_s']:.2f}s, "
                    f"wall {rep['wall_s_since_start']:.2f}s")
    else:
        measure = c.get("measure", "cpu_s_since_start")
        own = rep[measure]
        what = "getrusage" if measure == "cpu_s_since_start" else f"CPU time ({measure})"
        suite.check(f"{label}: CPU total {total:.2f}s within [{c['lo']}, {c['hi']}] x the process's "
                    f"{what} {own:.2f}s", c["lo"] * own <= total <= c["hi"] * own,
                    f"ratio {total / own if own else float('inf'):.2f}")
    return total


# ---------------------------------------------------------------- (b) through the Collector

def collector_config(path, in_ports, gw_grpc, gw_http):
    lines = ["receivers:"]
    for job in SCRAPE_JOBS:
        lines += [f"  otlp/{job}:", "    protocols:", f"      grpc: {{ endpoint: \"127.0.0.1:{in_ports[job]}\" }}"]
    lines += ["exporters:",
              "  otlp/to_gateway:", f"    endpoint: \"127.0.0.1:{gw_grpc}\"", "    tls: { insecure: true }",
              f"    headers: {{ x-profcol-route: {GATEWAY_ROUTE} }}",
              "  otlphttp/to_gateway:", f"    endpoint: \"http://127.0.0.1:{gw_http}\"",
              f"    headers: {{ x-profcol-route: {GATEWAY_ROUTE} }}",
              "service:", "  pipelines:",
              f"    profiles/via_grpc: {{ receivers: [otlp/via_grpc], exporters: [otlp/to_gateway] }}",
              f"    profiles/via_http: {{ receivers: [otlp/via_http], exporters: [otlphttp/to_gateway] }}",
              "  telemetry:", "    logs: { level: info }", "    metrics: { level: none }"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def scraper_config(path, target, in_ports, sink_grpc, admin, interval):
    lines = ["receivers:"]
    for job in SCRAPE_JOBS:
        lines += [f"  pyroscope_scrape/{job}:",
                  f"    targets: [{{ __address__: {rp.yaml_quote(target)}, service_name: \"go-target\" }}]",
                  f"    scrape_interval: {interval}s", "    profiling_config:", "      profile:"]
        lines += [f"        {t}: {{ enabled: {'true' if t in SCRAPE_TYPES else 'false'} }}" for t in ALL_SCRAPE_TYPES]
    lines += ["exporters:",
              f"  otlp_grpc/{DIRECT_ROUTE}:", f"    endpoint: \"127.0.0.1:{sink_grpc}\"", "    tls: { insecure: true }",
              f"    headers: {{ x-profcol-route: {DIRECT_ROUTE} }}"]
    for job in SCRAPE_JOBS:
        lines += [f"  otlp_grpc/to_otelcol_{job}:", f"    endpoint: \"127.0.0.1:{in_ports[job]}\"",
                  "    tls: { insecure: true }"]
    lines += ["service:", "  pipelines:"]
    for job in SCRAPE_JOBS:
        lines.append(f"    profiles/{job}: {{ receivers: [pyroscope_scrape/{job}], "
                     f"exporters: [otlp_grpc/{DIRECT_ROUTE}, otlp_grpc/to_otelcol_{job}] }}")
    lines += ["  telemetry:", "    logs: { level: info }", f"    metrics: {{ address: \"127.0.0.1:{admin}\" }}"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def otlp_identity(r):
    """Everything about one OTLP profile that must survive otelcol -> profcol unchanged."""
    return json.dumps({
        "resource": r["resource"], "scope": r["scope"], "scope_sample_types": r.get("scope_sample_types"),
        "sample_type": f"{r['sample_type']}/{r['sample_unit']}", "period_type": r["period_type"],
        "period": r["period"], "time_unix_nano": r["time_unix_nano"], "duration_nano": r["duration_nano"],
        "attributes": r["attributes"], "original_payload_format": r.get("original_payload_format"),
        "folded": {k: v for k, v in sorted(r["folded"].items()) if v},
    }, sort_keys=True)


def check_collector_path(suite, otlp_recs, stop_time, grace):
    for job, exporter in SCRAPE_JOBS.items():
        full = f"pyroscope_scrape/{job}"
        label = f"collector ({exporter} exporter -> profcol's otlp receiver), job {full}"
        direct = [r for r in otlp_recs if "sample_type" in r and r["resource"].get("job") == full
                  and (r.get("meta") or {}).get("route") == DIRECT_ROUTE]
        via = [r for r in otlp_recs if "sample_type" in r and r["resource"].get("job") == full
               and (r.get("meta") or {}).get("route") == GATEWAY_ROUTE]
        if not suite.check(f"{label}: profiles arrive directly from the scraper", direct, "none"):
            continue
        if not suite.check(f"{label}: profiles arrive through the Collector and the gateway", via,
                           f"{len(direct)} arrived directly, none through the gateway"):
            continue
        key = lambda r: (r["time_unix_nano"], f"{r['sample_type']}/{r['sample_unit']}",  # noqa: E731
                         tuple(r.get("scope_sample_types") or ()))
        d = {}
        for r in direct:
            d.setdefault(key(r), []).append(otlp_identity(r))
        g = {}
        for r in via:
            g.setdefault(key(r), []).append(otlp_identity(r))
        common = sorted(set(d) & set(g))
        differ = [k for k in common if sorted(d[k]) != sorted(g[k])]
        detail = f"{len(common)} profiles matched by (time, sample type)"
        if differ:
            a, b = json.loads(sorted(d[differ[0]])[0]), json.loads(sorted(g[differ[0]])[0])
            diff = {f: (a[f], b[f]) for f in a if a[f] != b.get(f)}
            detail += f", {len(differ)} differ, e.g. {differ[0][:2]}: " + json.dumps(diff)[:600]
        suite.check(f"{label}: stacks, values and attributes equal those that arrived directly",
                    common and not differ, detail)
        late = stop_time - grace
        missing = [k for k in d if k not in g and k[0] / 1e9 < late]
        extra = [k for k in g if k not in d]
        suite.check(f"{label}: every profile sent directly (but the last {grace:.0f}s) also arrived through "
                    f"the gateway, and nothing else", not missing and not extra,
                    f"{len(missing)} missing, e.g. {missing[:2]}; {len(extra)} without a direct twin, e.g. {extra[:2]}")


# ---------------------------------------------------------------- (c) bad input

def bad_input_cases(ports, bomb):
    """[(name, method, url, body, headers, want_status (None: any 4xx), words the body must name (any))]."""
    ing = f"http://127.0.0.1:{ports['pyroscope']}/ingest"
    otlp_http = f"http://127.0.0.1:{ports['otlp_http']}{OTLP_HTTP_PATH}"
    push = f"http://127.0.0.1:{ports['pyroscope']}{PUSH_PATH}"
    go_cpu, go_side = corpus("go_cpu.multipart")
    now = time.time_ns()

    def q(**kw):
        base = {"name": "probe.cpu{probe=bad-input}", "from": str(now // 10**9 - 10), "until": str(now // 10**9),
                "sampleRate": "100", "spyName": "gospy"}
        base.update(kw)
        return "?" + urllib.parse.urlencode({k: v for k, v in base.items() if v is not None})

    from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2 as svc
    good_otlp = otlp_request("probe-bad")
    bad_otlp = truncated(good_otlp, lambda b: svc.ExportProfilesServiceRequest().ParseFromString(b))
    py_push, _ = corpus("python_push.pb.gz")
    raw_push = gzip.decompress(py_push)
    bad_push = truncated(raw_push, lambda b: decode_push_request(b))
    huge = "probe.cpu{" + ",".join(f"k{i}=v{i}" for i in range(500)) + "}"
    multipart = go_side["content_type"]
    bomb_part = (b"--B\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"profile.pprof\"\r\n"
                 b"Content-Type: application/octet-stream\r\n\r\n" + bomb + b"\r\n--B--\r\n")
    return [
        ("ingest: wrong content type (text/html)", ing + q(format="pprof"), b"<html></html>",
         {"Content-Type": "text/html"}, None, ["content-type", "content type", "text/html"]),
        ("otlp http: wrong content type (text/plain)", otlp_http, b"hello", {"Content-Type": "text/plain"},
         None, ["content-type", "content type", "text/plain"]),
        ("otlp http: truncated protobuf", otlp_http, bad_otlp, {"Content-Type": "application/x-protobuf"},
         400, DECODE_WORDS),
        ("push: truncated protobuf (Connect)", push, bad_push, {"Content-Type": "application/proto"},
         None, DECODE_WORDS),
        ("ingest: unknown format=xyz", ing + q(format="xyz"), b"a;b 1\n", {"Content-Type": "text/plain"},
         None, ["xyz"]),
        ("ingest: a truncated JFR recording (format=jfr)", ing + q(format="jfr"), b"FLR\x00\x00\x02\x00\x00",
         {"Content-Type": "application/octet-stream"}, 400, ["JFR"]),
        (f"otlp http: gzip bomb ({len(bomb) >> 10} KiB expanding past the limit)", otlp_http, bomb,
         {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, None, LIMIT_WORDS),
        ("ingest: gzip bomb as the pprof part", ing + q(format="pprof"), bomb_part,
         {"Content-Type": "multipart/form-data; boundary=B"}, None, LIMIT_WORDS),
        ("push: gzip bomb (Content-Encoding: gzip)", push, bomb,
         {"Content-Type": "application/proto", "Content-Encoding": "gzip"}, None, LIMIT_WORDS),
        ("ingest: huge label set in name (500 labels)", ing + q(name=huge), go_cpu,
         {"Content-Type": multipart}, None, ["label"]),
        ("ingest: name that does not parse (app.cpu{k=)", ing + q(name="app.cpu{k="), go_cpu,
         {"Content-Type": multipart}, 400, ["app.cpu{k=", "name"]),
        ("ingest: no name", ing + q(name=None), go_cpu, {"Content-Type": multipart}, None, ["name"]),
    ]


def grpc_truncated(suite, port):
    import grpc
    from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2 as svc
    good = otlp_request("probe-bad")
    bad = truncated(good, lambda b: svc.ExportProfilesServiceRequest().ParseFromString(b))
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        call = ch.unary_unary(OTLP_GRPC_METHOD, request_serializer=None, response_deserializer=None)
        try:
            call(bad, timeout=10)
            code, details = "OK", ""
        except grpc.RpcError as e:
            code, details = e.code().name, e.details() or ""
    suite.check("bad input: otlp grpc: truncated protobuf is INVALID_ARGUMENT naming the problem",
                code == "INVALID_ARGUMENT" and any(w in details.lower() for w in DECODE_WORDS),
                f"{code}: {details[:300]}")


def check_bad_input(suite, ports, bomb_mib, work):
    t0 = time.time()
    bomb = gzip_bomb(bomb_mib)
    print(f"built a gzip bomb: {len(bomb)} bytes -> {bomb_mib} MiB in {time.time() - t0:.1f}s", flush=True)
    answers = []
    for name, url, body, headers, want, words in bad_input_cases(ports, bomb):
        status, text = http_post(url, body, headers)
        answers.append({"case": name, "status": status, "body": text[:2000]})
        ok_status = status == want if want else (status is not None and 400 <= status < 500)
        named = any(w.lower() in text.lower() for w in words)
        suite.check(f"bad input: {name}: {want or '4xx'} whose body names the problem ({' | '.join(words[:4])})",
                    ok_status and named, f"answered {status}: {text[:300]!r}")
    with open(os.path.join(work, "bad_input_answers.json"), "w") as f:
        json.dump(answers, f, indent=1)
    grpc_truncated(suite, ports["otlp_grpc"])


PROBES = {"/ingest": "probe-ingest", "Connect push": "probe-push", "OTLP HTTP": "probe-otlp"}


def send_probes(suite, ports):
    """Good pushes over each API after the bad input: each must be accepted (and arrive)."""
    go_cpu, side = corpus("go_cpu.multipart")
    now = time.time_ns()
    qs = urllib.parse.urlencode({"name": f"{PROBES['/ingest']}{{probe=after-bad-input}}",
                                 "from": str(now - 10**9), "until": str(now), "sampleRate": "100",
                                 "spyName": "gospy", "units": "samples", "aggregationType": "sum"})
    st, text = http_post(f"http://127.0.0.1:{ports['pyroscope']}/ingest?{qs}", go_cpu,
                         {"Content-Type": side["content_type"]})
    suite.check("after bad input: a good /ingest (Go SDK's multipart body) is answered 200", st == 200,
                f"{st}: {text[:200]}")
    py_push, _ = corpus("python_push.pb.gz")
    raws = [raw for labels, samples in decode_push_request(gzip.decompress(py_push))
            if dict(labels).get("__name__") == "process_cpu" for raw, _ in samples]
    body = push_request([([("__name__", "process_cpu"), ("service_name", PROBES["Connect push"]),
                           ("probe", "after-bad-input")], raws[:1])])
    st, text = http_post(f"http://127.0.0.1:{ports['pyroscope']}{PUSH_PATH}", body,
                         {"Content-Type": "application/proto"})
    suite.check("after bad input: a good Connect push is answered 200", st == 200, f"{st}: {text[:200]}")
    st, text = http_post(f"http://127.0.0.1:{ports['otlp_http']}{OTLP_HTTP_PATH}", otlp_request(PROBES["OTLP HTTP"]),
                         {"Content-Type": "application/x-protobuf"})
    suite.check("after bad input: a good OTLP HTTP request is answered 200", st == 200, f"{st}: {text[:200]}")


def check_probes_arrived(suite, otlp_views, push_views):
    for api, svc in PROBES.items():
        for where, views in (("OTLP sink", otlp_views), ("push sink", push_views)):
            suite.check(f"after bad input: the good {api} request ({svc}) reaches the {where}",
                        any(v["service"] == svc for v in views), "not found")


# ---------------------------------------------------------------- prerequisites

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
    want = []
    if "go" in args.sdks:
        want.append("pushsdk")
    if "b" in args.parts:
        want += ["target", "otelcol"]
    if want:
        t0 = time.time()
        r = subprocess.run([os.path.join(HERE, "go", "build.sh"), *want], capture_output=True, text=True,
                           timeout=args.build_timeout)
        if r.stderr.strip():
            print(r.stderr.strip(), flush=True)
        if time.time() - t0 > 2:
            print(f"go/build.sh took {time.time() - t0:.0f}s", flush=True)
        for name in want:
            b = os.path.join(HERE, "go", "bin", name)
            if os.path.isfile(b) and os.access(b, os.X_OK):
                peers[name] = b
            else:
                missing[name] = f"no go/bin/{name}; go/build.sh: {r.stderr.strip()[-300:]}"
    if "node" in args.sdks:
        import shutil
        node = shutil.which("node")
        if not node:
            missing["node"] = "node not installed (apt-get install nodejs npm)"
        elif not os.path.isdir(os.path.join(HERE, "node", "node_modules", "@pyroscope", "nodejs")):
            missing["node"] = "integration/node/node_modules missing; run integration/install.sh"
        else:
            peers["node"] = node
    if "java" in args.sdks:
        import shutil
        java = shutil.which("java")
        if not java or not shutil.which("mvn"):
            missing["java"] = "java or mvn not installed (integration/install.sh installs both)"
        else:
            r = subprocess.run([os.path.join(HERE, "java", "build.sh")], capture_output=True, text=True,
                               timeout=args.build_timeout)
            if r.stderr.strip():
                print(r.stderr.strip(), flush=True)
            if r.returncode == 0 and os.path.isfile(JAVA_JAR):
                peers["java"] = java
            else:
                missing["java"] = f"java/build.sh failed: {r.stderr.strip()[-300:]}"
    if "python" in args.sdks:
        r = subprocess.run([sys.executable, os.path.join(HERE, "python", "push_sdk.py"), "--check"],
                           capture_output=True, text=True)
        if r.returncode == 0:
            peers["python"] = r.stdout.strip()
        else:
            missing["python"] = f"pyroscope-io missing ({r.stderr.strip()[-200:]}); run integration/install.sh"
    return peers, missing


def gateway_config(path, ports, sink_grpc, push_port, admin):
    lines = [
        "receivers:",
        "  otlp:",
        "    protocols:",
        f"      grpc: {{ endpoint: \"127.0.0.1:{ports['otlp_grpc']}\" }}",
        f"      http: {{ endpoint: \"127.0.0.1:{ports['otlp_http']}\" }}",
        "  pyroscope:",
        f"    endpoint: \"127.0.0.1:{ports['pyroscope']}\"",
        "exporters:",
        "  otlp_grpc:",
        f"    endpoint: \"127.0.0.1:{sink_grpc}\"",
        "    tls: { insecure: true }",
        f"    headers: {{ x-profcol-route: {GATEWAY_ROUTE} }}",
        "  pyroscope:",
        "    endpoint:",
        f"      url: \"http://127.0.0.1:{push_port}\"",
        "service:",
        "  pipelines:",
        "    profiles:",
        "      receivers: [otlp, pyroscope]",
        "      exporters: [otlp_grpc, pyroscope]",
        "  telemetry:",
        "    logs: { level: info }",
        f"    metrics: {{ address: \"127.0.0.1:{admin}\" }}",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- run

def stop_gracefully(suite, name, proc, grace=15):
    if proc.poll() is not None:
        return suite.check(f"{name} runs until stopped", False, f"exited early with {proc.returncode}")
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        rc = proc.wait(timeout=grace)
        return suite.check(f"{name} exits 0 within {grace}s of SIGTERM", rc == 0, f"exit code {rc}")
    except subprocess.TimeoutExpired:
        suite.check(f"{name} exits within {grace}s of SIGTERM", False, "killed")
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return False


def run(args, suite, procs, work):
    peers, missing = find_prereqs(args)
    for name, why in missing.items():
        print(f"SKIP peer {name}: {why}", flush=True)
    if missing and not args.allow_missing:
        suite.check("all peers present", False, f"missing {sorted(missing)}; --allow-missing skips them")
        return 2
    if "profcol" in missing or "receivers" in missing:
        suite.skip("gateway suite", "profcol or the Python sinks are missing")
        return 0
    sdks = [s for s in args.sdks if s in peers or (s == "go" and "pushsdk" in peers)]
    for s in args.sdks:
        if s not in sdks:
            suite.skip(f"(a) {s} SDK", missing.get(s) or missing.get("pushsdk", "missing"))
    parts = set(args.parts)
    if "b" in parts and ("target" in missing or "otelcol" in missing):
        suite.skip("(b) through the OpenTelemetry Collector", "go/bin/target or go/bin/otelcol missing")
        parts.discard("b")
    if args.standin and "c" in parts:
        suite.skip("(c) bad input", "--standin: no profcol receivers to send it to")
        parts.discard("c")

    ports = {k: rp.free_port() for k in ("otlp_grpc", "otlp_http", "pyroscope")}
    admin = rp.free_port()
    signal.alarm(args.timeout)
    if not args.standin:
        # Does this profcol have the push receivers? (The sinks' ports are not known yet:
        # the config is validated with stand-in ports, and written again below.)
        cfg = os.path.join(work, "gateway.yaml")
        gateway_config(cfg, ports, rp.free_port(), rp.free_port(), admin)
        r = subprocess.run([peers["profcol"], "validate", "--config", cfg], capture_output=True, text=True,
                           timeout=60, cwd=work)
        out = (r.stdout + r.stderr).strip()
        if r.returncode != 0 and NO_RECEIVER.search(out):
            why = (f"profcol ({peers['profcol']}) has no otlp/pyroscope push receivers yet "
                   f"(issue #18); profcol validate: " + " / ".join(ln.strip(" -") for ln in out.splitlines()
                                                                      if NO_RECEIVER.search(ln)))
            if args.strict:
                suite.check("profcol has the otlp and pyroscope receivers (--strict)", False, why)
                return 1
            suite.skip("gateway suite", why)
            return 0
        if not suite.check("profcol validates the gateway config", r.returncode == 0, out[-1200:]):
            return 1

    # Sinks.
    otlp_out, push_out = os.path.join(work, "otlp.jsonl"), os.path.join(work, "push.jsonl")
    sink = procs.start("otlp_sink", [sys.executable, os.path.join(HERE, "python", "otlp_receiver.py"),
                                     "--out", otlp_out, "--port-file", os.path.join(work, "otlp.port")],
                       os.path.join(work, "otlp_sink.log"))
    push = procs.start("push_sink", [sys.executable, os.path.join(HERE, "python", "push_receiver.py"),
                                     "--out", push_out, "--port-file", os.path.join(work, "push.port")],
                       os.path.join(work, "push_sink.log"))
    sp, pp = rp.wait_file(os.path.join(work, "otlp.port"), sink, 30), rp.wait_file(os.path.join(work, "push.port"), push, 30)
    if not suite.check("the OTLP sink and the push sink start", sp and pp, f"see {work}/otlp_sink.log, push_sink.log"):
        return 1
    sink_ports, push_port = json.loads(sp), json.loads(pp)["http"]

    # The gateway: profcol with both push receivers (or, with --standin, the capture server
    # for the SDKs and the OTLP sink itself for the Collector).
    gw = None
    cap_out = os.path.join(work, "capture.jsonl")
    if args.standin:
        cap = procs.start("capture", [sys.executable, os.path.join(HERE, "python", "ingest_capture.py"),
                                      "--out", cap_out, "--port-file", os.path.join(work, "capture.port"),
                                      "--save-bodies", os.path.join(work, "captured")],
                          os.path.join(work, "capture.log"))
        cp = rp.wait_file(os.path.join(work, "capture.port"), cap, 30)
        if not suite.check("--standin: the capture server starts", cp, ""):
            return 1
        ports["pyroscope"] = json.loads(cp)["http"]
        ports["otlp_grpc"], ports["otlp_http"] = sink_ports["grpc"], sink_ports["http"]
        print(f"--standin: SDKs -> ingest_capture.py :{ports['pyroscope']}; Collector -> OTLP sink", flush=True)
    else:
        cfg = os.path.join(work, "gateway.yaml")
        gateway_config(cfg, ports, sink_ports["grpc"], push_port, admin)
        print(f"workdir {work}; gateway config {cfg}", flush=True)
        gw = procs.start("gateway", [peers["profcol"], "--config", cfg], os.path.join(work, "gateway.log"),
                         env=dict(os.environ, RUST_BACKTRACE="1"), cwd=work)
        if not suite.check("profcol (gateway) listens on the otlp gRPC, otlp HTTP and pyroscope endpoints",
                           ro.wait_ports(ports.values(), gw, 30), "".join(rp.tail(os.path.join(work, "gateway.log"), 20))):
            return 1

    # (b) the scraper and the Collector.
    scraper = col = None
    stop_time = time.time()
    if "b" in parts:
        target = procs.start("go_target", [peers["target"], "-listen", "127.0.0.1:0", "-warmup-alloc-mib", "0",
                                           "-port-file", os.path.join(work, "go.port")],
                             os.path.join(work, "go_target.log"))
        in_ports = {job: rp.free_port() for job in SCRAPE_JOBS}
        ccfg = os.path.join(work, "otelcol.yaml")
        collector_config(ccfg, in_ports, ports["otlp_grpc"], ports["otlp_http"])
        clog = os.path.join(work, "otelcol.log")
        col = procs.start("otelcol", [peers["otelcol"], "--config", f"file:{ccfg}",
                                      f"--feature-gates={ro.FEATURE_GATE}"], clog)
        addr = rp.wait_file(os.path.join(work, "go.port"), target, 30)
        ok = suite.check("(b) the Go target starts", addr, "".join(rp.tail(os.path.join(work, "go_target.log"), 5)))
        ok = suite.check(f"(b) the OpenTelemetry Collector starts ({ro.FEATURE_GATE} on) with otlp and otlphttp "
                         f"exporters to profcol", ro.wait_ports(in_ports.values(), col, 60),
                         "".join(rp.tail(clog, 15))) and ok
        if ok:
            scfg = os.path.join(work, "scraper.yaml")
            scraper_config(scfg, addr.strip(), in_ports, sink_ports["grpc"], rp.free_port(), args.interval)
            scraper = procs.start("scraper", [peers["profcol"], "--config", scfg], os.path.join(work, "scraper.log"),
                                  env=dict(os.environ), cwd=work)
        else:
            parts.discard("b")
    scraper_started = time.time()

    # (a) the SDKs, with (c) the bad input in the middle of their run.
    sdk_procs = {}
    if "a" in parts:
        sdk_procs = run_sdk_peers(procs, peers, sdks, f"http://127.0.0.1:{ports['pyroscope']}", work,
                                  args.sdk_seconds)
    if "c" in parts:
        time.sleep(min(3.0, args.sdk_seconds / 3))
        check_bad_input(suite, ports, args.bomb_mib, work)
        suite.check("profcol (gateway) is still running after the bad input", gw.poll() is None,
                    "".join(rp.tail(os.path.join(work, "gateway.log"), 20)))
        send_probes(suite, ports)
    deadline = time.time() + args.sdk_seconds + 60
    for p in sdk_procs.values():
        try:
            p.wait(timeout=max(1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            pass
    if scraper is not None:
        rest = scraper_started + args.interval * args.intervals + 2 - time.time()
        if rest > 0:
            time.sleep(rest)
        stop_time = time.time()
        stop_gracefully(suite, "(b) the scraper profcol", scraper)
        time.sleep(2.0)  # the Collector's exporters hand on what they hold
        rc = procs.stop(col, grace=10)
        suite.check("(b) the Collector stops cleanly on SIGTERM", rc == 0, f"exit code {rc}")
    time.sleep(1.5)  # the gateway's exporters send what they hold
    if gw is not None and "b" in parts and gw.poll() is None:
        # The Collector's otlp and otlphttp exporters gzip their requests, as the gateway's
        # otlp_grpc exporter does: those are sent on in the body they arrived in.
        try:
            _, body = rp.http_get(f"http://127.0.0.1:{admin}/metrics", timeout=5)
            page = body.decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as e:
            page = f"/metrics: {e!r}"
        as_received = ro.metric_sum(page, "profcol_exporter_requests_sent_as_received_total", exporter="otlp_grpc")
        accepted = ro.metric_sum(page, "profcol_receiver_accepted_requests_total")
        suite.check("(b) the Collector's gzipped requests are sent on in the body they arrived in",
                    as_received > 0, f"{as_received:.0f} sent as received; {accepted:.0f} requests accepted")
    if gw is not None:
        stop_gracefully(suite, "profcol (gateway)", gw)
    time.sleep(0.5)

    otlp_recs, push_recs = rp.read_jsonl(otlp_out), rp.read_jsonl(push_out)
    errs = [r for r in otlp_recs if "decode_error" in r] + [r for r in push_recs if "decode_error" in r or "error" in r]
    suite.check("the sinks decode every request", not errs, errs[:2])
    problems = sorted({p for r in otlp_recs if "sample_type" in r for p in r.get("problems", [])})
    suite.check("OTLP sink: dictionaries well formed", not problems, problems[:5])
    gw_otlp = [r for r in otlp_recs if (r.get("meta") or {}).get("route") == GATEWAY_ROUTE]
    otlp_views, push_views = views_from_otlp(gw_otlp), views_from_push(push_recs)
    if "a" in parts:
        for sdk, p in sdk_procs.items():
            rep = check_sdk_ran(suite, sdk, p, work)
            if args.standin and sdk == "java":
                check_java_capture(suite, rp.read_jsonl(cap_out), rep)
                continue
            if sdk == "java" and jfr_refused(rep):
                suite.skip("java: the profiles at the sinks", "profcol answered 415 to every format=jfr upload")
                continue
            if args.standin:
                check_sdk_views(suite, sdk, views_from_capture(rp.read_jsonl(cap_out)), "capture server", rep)
                continue
            t_otlp = check_sdk_views(suite, sdk, otlp_views, "OTLP sink", rep)
            t_push = check_sdk_views(suite, sdk, push_views, "pyroscope push sink", rep)
            if t_otlp is not None and t_push is not None:
                suite.check(f"{sdk}: the OTLP sink and the push sink carry the same CPU total",
                            abs(t_otlp - t_push) < 1e-6, f"OTLP {t_otlp:.3f}s, push {t_push:.3f}s")
    if "b" in parts:
        check_collector_path(suite, otlp_recs, stop_time, grace=args.interval + 3)
    if "c" in parts:
        check_probes_arrived(suite, otlp_views, push_views)
    print_table(otlp_recs, push_views, otlp_views)
    if gw is not None:
        lines = rp.tail(os.path.join(work, "gateway.log"), 100000)
        panics = [ln for ln in lines if "panic" in ln]
        suite.check("profcol (gateway) log has no panic", not panics, "".join(panics[:3]))
        if suite.failed:
            notable = [ln for ln in lines if " level=warn" in ln or " level=error" in ln or "WARN" in ln or "ERROR" in ln]
            print(f"\ngateway log: {len(lines)} lines, {len(notable)} warn/error; first of those:")
            sys.stdout.write("".join(notable[:20]))
    return 1 if suite.failed else 0


def print_table(otlp_recs, push_views, otlp_views):
    print("\nprofiles per service (OTLP via the gateway route: one per sample type; push: one per pprof)")
    services = sorted({str(v["service"]) for v in otlp_views + push_views})
    for s in services:
        o = sum(1 for v in otlp_views if str(v["service"]) == s)
        p = sum(1 for v in push_views if str(v["service"]) == s)
        print(f"  {s:<16} otlp {o:>4}  push {p:>4}")
    for route in (DIRECT_ROUTE, GATEWAY_ROUTE):
        n = sum(1 for r in otlp_recs if "sample_type" in r and (r.get("meta") or {}).get("route") == route
                and str(r["resource"].get("job", "")).startswith("pyroscope_scrape/via_"))
        print(f"  scraper profiles, route {route:<8} {n:>4} (OTLP profiles, one per sample type)")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profcol", help="profcol binary (default $PROFCOL or target/debug/profcol)")
    ap.add_argument("--build", action="store_true", help="cargo build -p profcol first")
    ap.add_argument("--allow-missing", action="store_true", help="skip (exit 0) the parts whose peers are missing")
    ap.add_argument("--strict", action="store_true",
                    help="fail (not skip) when profcol has no otlp/pyroscope receivers yet")
    ap.add_argument("--standin", action="store_true",
                    help="no profcol gateway: SDKs -> ingest_capture.py, Collector -> the OTLP sink (checks the peers)")
    ap.add_argument("--sdks", default="go,node,python,java",
                    help="comma list: go,node,python,java (java: the Pyroscope Java agent, JFR)")
    ap.add_argument("--parts", default="a,b,c", help="comma list: a (SDKs), b (Collector), c (bad input)")
    ap.add_argument("--sdk-seconds", type=float, default=10.0, help="how long each SDK peer runs")
    ap.add_argument("--interval", type=int, default=3, help="the scraper's scrape_interval (b), seconds")
    ap.add_argument("--intervals", type=int, default=4, help="how many intervals the scraper runs (b)")
    ap.add_argument("--bomb-mib", type=int, default=1024, help="what the gzip bombs expand to, MiB")
    ap.add_argument("--timeout", type=int, default=240, help="bound on the run once the peers are built, seconds")
    ap.add_argument("--build-timeout", type=int, default=1500, help="bound on go/build.sh, seconds")
    ap.add_argument("--workdir", help="keep logs and outputs here (default: a temp dir, removed on success)")
    args = ap.parse_args()
    args.sdks = [s.strip() for s in args.sdks.split(",") if s.strip()]
    args.parts = [s.strip() for s in args.parts.split(",") if s.strip()]
    bad = [s for s in args.sdks if s not in SDKS] + [p for p in args.parts if p not in ("a", "b", "c")]
    if bad:
        ap.error(f"unknown --sdks/--parts entries {bad}")
    if args.interval < 2:
        ap.error("--interval must be >= 2")
    work = args.workdir or tempfile.mkdtemp(prefix="profcol-gateway-")
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
