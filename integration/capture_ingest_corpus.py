#!/usr/bin/env python3
"""Captures real push-SDK requests into integration/corpus/ingest/ for the receivers' tests.

Runs the four push peers (go/pushsdk: pyroscope-go; node/push.js: @pyroscope/nodejs;
python/push_sdk.py: pyroscope-io; java/target/javapush.jar: io.pyroscope:agent, JFR)
against python/ingest_capture.py for a few seconds, then keeps one request body per
(SDK, kind) — the median-sized one whose profile has samples — as it arrived on the
wire, with a JSON sidecar:

  sdk, sdk_version, kind, method, path, raw_query (the query string exactly as sent;
  the multipart boundary in content_type matches the body), query (parsed pairs),
  content_type, content_encoding, headers (as received; Authorization redacted, Host
  and Content-Length dropped), body_bytes, body_sha256, and the capture server's
  summary (multipart parts, pprof sample types, Connect push labels; for the Java
  agent's JFR the chunk headers and the LabelsSnapshot's labels), and for the Java
  agent `jfr_summary`: the recording's event types and counts (the JDK's `jfr summary`)
  and its jdk.ActiveSetting `event`/`engine` values.

The Java agent sends ONE request per upload interval (`format=jfr`) whose JFR holds the
CPU, allocation and lock events together: its kind here is `jfr` (java_jfr.multipart).

Also records a plain JFR file written by the JDK's own Flight Recorder (not
async-profiler) from java/jdkrec/JdkRecordingWorkload.java with java/jdkrec/profcol.jfc
(CPU, allocation, monitor-enter and park events only): jdk_recording.jfr + .json.

Also writes two DERIVED bodies (`derived_go_cpu.folded`, `derived_go_cpu.lines`)
built from the captured Go CPU profile's samples/count stacks, because none of the
three SDKs sends collapsed stacks: their sidecars say `"derived": true`.

Usage: capture_ingest_corpus.py [--out integration/corpus/ingest] [--seconds 5] [--keep DIR]
                                [--sdks go,node,python,java] [--no-jdk-recording]
"""

import argparse
import collections
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "python"))
import pbwire  # noqa: E402

TAGS = "env=corpus,team=profcol"
TENANT = "corpus-tenant"
MAX_BYTES = 100 * 1024
MAX_JFR_BODY = 150 * 1024
MAX_JDK_RECORDING = 300 * 1024
SDK_NAMES = {"go": "github.com/grafana/pyroscope-go", "node": "@pyroscope/nodejs",
             "python": "pyroscope-io", "java": "io.pyroscope:agent"}
DROP_HEADERS = {"host", "content-length"}


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


def query_of(rec):
    return dict(rec["query"])


def classify(rec):
    """(sdk, kind) of one captured request, or None."""
    q = query_of(rec)
    name = q.get("name", "")
    if rec["path"] == "/push.v1.PusherService/Push":
        # One PushRequest per upload interval, a series per profile type
        # (process_cpu, and memory with mem_enabled).
        names = {dict(s["labels"]).get("__name__") for s in rec.get("push", [])}
        return ("python", "push") if {"process_cpu", "memory"} <= names else None
    if "com.grafana.pyroscope/java" in name and q.get("format") == "jfr":
        # One request per upload: the JFR holds CPU, allocation and lock events together.
        return "java", "jfr"
    if "com.grafana.pyroscope/nodejs" in name:
        types = (rec.get("pprof") or {}).get("sample_types", [])
        return "node", "wall" if "wall/nanoseconds" in types else "heap"
    if "com.grafana.pyroscope/go" in name or "com.grafana.pyroscope/godeltaprof" in name:
        if q.get("units") == "samples":
            return "go", "cpu"
        if q.get("units") == "goroutines":
            return "go", "goroutine"
        for p in rec.get("parts", []):
            if p.get("name") == "sample_type_config" and isinstance(p.get("json"), dict):
                cfg = p["json"]
                if "alloc_space" in cfg:
                    return "go", "memory"
                disp = (cfg.get("contentions") or {}).get("display-name", "")
                if disp.startswith("mutex"):
                    return "go", "mutex"
                if disp.startswith("block"):
                    return "go", "block"
    return None


def has_samples(rec):
    parts = {p.get("name"): p for p in rec.get("parts", [])}
    if "jfr" in parts:
        # Keep a request whose recording decodes and whose dynamic labels came along.
        return bool((parts["jfr"].get("jfr") or {}).get("chunks")) and \
            bool((parts.get("labels") or {}).get("labels_snapshot", {}).get("labels"))
    briefs = [rec.get("pprof")] + [p.get("pprof") for p in rec.get("parts", [])]
    briefs += [smp.get("pprof") for s in rec.get("push", []) for smp in s.get("samples", [])]
    return any(b and b.get("sample_count") for b in briefs)


EXT = {("go", k): ".multipart" for k in ("cpu", "memory", "mutex", "block", "goroutine")}
EXT.update({("node", "wall"): ".pprof.gz", ("node", "heap"): ".pprof.gz",
            ("python", "push"): ".pb.gz", ("java", "jfr"): ".multipart"})


def sidecar(rec, sdk, kind, versions):
    return {
        "sdk": SDK_NAMES[sdk],
        "sdk_version": versions[sdk], "kind": kind,
        "method": rec["method"], "path": rec["path"], "raw_query": rec["raw_query"],
        "query": rec["query"], "content_type": rec["content_type"],
        "content_encoding": rec["content_encoding"],
        "headers": [h for h in rec["headers"] if h[0].lower() not in DROP_HEADERS],
        "body_bytes": rec["body_bytes"], "body_sha256": rec["body_sha256"],
        "summary": {k: rec[k] for k in ("parts", "pprof", "push", "gzipped") if k in rec},
    }


def jfr_tool_summary(jfr_bytes):
    """Event types and counts of a JFR recording (the JDK's `jfr summary`), and its
    jdk.ActiveSetting values for `event` and `engine` (async-profiler's)."""
    with tempfile.TemporaryDirectory(prefix="profcol-jfr-") as d:
        path = os.path.join(d, "recording.jfr")
        with open(path, "wb") as f:
            f.write(jfr_bytes)
        out = subprocess.run(["jfr", "summary", path], capture_output=True, text=True, check=True).stdout
        counts, version = {}, None
        for ln in out.splitlines():
            f = ln.split()
            if len(f) == 3 and f[1].isdigit() and "." in f[0]:
                if int(f[1]):
                    counts[f[0]] = int(f[1])
            elif ln.strip().startswith("Version:"):
                version = f[1]
        settings = subprocess.run(["jfr", "print", "--events", "jdk.ActiveSetting", path],
                                  capture_output=True, text=True, check=True).stdout
        active = collections.defaultdict(list)
        name = None
        for ln in settings.splitlines():
            ln = ln.strip()
            if ln.startswith("name = "):
                name = ln[len("name = "):].strip('"')
            elif ln.startswith("value = ") and name in ("event", "engine", "interval", "alloc", "lock"):
                active[name].append(ln[len("value = "):].strip('"'))
                name = None
        return {"version": version, "event_counts": dict(sorted(counts.items())),
                "active_settings": {k: sorted(set(v)) for k, v in active.items()}}


def java_parts(rec, body):
    """{part name: payload} of a captured Java agent request."""
    from email.parser import BytesParser
    from email.policy import HTTP
    msg = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + rec["content_type"].encode() + b"\r\n\r\n" + body)
    return {p.get_param("name", header="content-disposition"): p.get_payload(decode=True)
            for p in msg.iter_parts()}


def jdk_recording(out_dir, seconds=3):
    """Records java/jdkrec/JdkRecordingWorkload with the JDK's Flight Recorder into
    out_dir/jdk_recording.jfr (+ .json); returns its size."""
    src = os.path.join(HERE, "java", "jdkrec", "JdkRecordingWorkload.java")
    jfc = os.path.join(HERE, "java", "jdkrec", "profcol.jfc")
    with tempfile.TemporaryDirectory(prefix="profcol-jdkrec-") as d:
        subprocess.run(["javac", "-d", d, src], check=True)
        rec = os.path.join(d, "jdk_recording.jfr")
        flags = f"-XX:StartFlightRecording=settings={jfc},filename={rec}"
        subprocess.run(["java", flags, "-cp", d, "JdkRecordingWorkload", str(seconds * 1000)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(rec, "rb") as f:
            body = f.read()
    if len(body) > MAX_JDK_RECORDING:
        sys.exit(f"jdk_recording.jfr is {len(body)} bytes (> {MAX_JDK_RECORDING}); tighten java/jdkrec/profcol.jfc")
    java_version = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    with open(os.path.join(out_dir, "jdk_recording.jfr"), "wb") as f:
        f.write(body)
    with open(os.path.join(out_dir, "jdk_recording.json"), "w") as f:
        json.dump({"producer": "the JDK's Flight Recorder (-XX:StartFlightRecording), not async-profiler",
                   "java_version": java_version,
                   "command": ["java", "-XX:StartFlightRecording=settings=integration/java/jdkrec/profcol.jfc,"
                               "filename=jdk_recording.jfr", "JdkRecordingWorkload", str(seconds * 1000)],
                   "workload_functions": ["JdkRecordingWorkload.workloadJdkRecCpuBurn",
                                          "JdkRecordingWorkload.workloadJdkRecAlloc",
                                          "JdkRecordingWorkload.workloadJdkRecLock",
                                          "JdkRecordingWorkload.workloadJdkRecPark"],
                   "body_bytes": len(body), "body_sha256": hashlib.sha256(body).hexdigest(),
                   "gzipped": False, "jfr": jfr_tool_summary(body)}, f, indent=1, sort_keys=True)
        f.write("\n")
    return len(body)


def derived_collapsed(cpu_rec, body):
    """folded ("a;b;c N") and lines (one stack per sample) bodies from the Go CPU profile."""
    from email.parser import BytesParser
    from email.policy import HTTP
    msg = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + cpu_rec["content_type"].encode() + b"\r\n\r\n" + body)
    raw = next(p.get_payload(decode=True) for p in msg.iter_parts()
               if p.get_param("name", header="content-disposition") == "profile")
    s = pbwire.pprof_summary(raw)
    fold = s["folded"][s["sample_types"].index("samples/count")]
    fold = {k: v for k, v in sorted(fold.items()) if v > 0}
    folded = "".join(f"{k} {v}\n" for k, v in fold.items()).encode()
    lines = "".join(f"{k}\n" * v for k, v in fold.items()).encode()
    return folded, lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "corpus", "ingest"))
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--keep", help="keep the capture (all requests) in this directory")
    ap.add_argument("--sdks", default="go,node,python,java", help="comma list of the peers to run")
    ap.add_argument("--no-jdk-recording", action="store_true", help="do not (re)write jdk_recording.jfr")
    args = ap.parse_args()
    sdks = [x.strip() for x in args.sdks.split(",") if x.strip()]
    if set(sdks) - set(SDK_NAMES):
        ap.error(f"unknown --sdks entries {sorted(set(sdks) - set(SDK_NAMES))}")
    work = args.keep or tempfile.mkdtemp(prefix="profcol-ingest-capture-")
    os.makedirs(work, exist_ok=True)
    if "go" in sdks and subprocess.run([os.path.join(HERE, "go", "build.sh"), "pushsdk"]).returncode != 0:
        sys.exit("go/build.sh pushsdk failed")
    if "java" in sdks and subprocess.run([os.path.join(HERE, "java", "build.sh")]).returncode != 0:
        sys.exit("java/build.sh failed")
    procs = []
    try:
        cap = subprocess.Popen([sys.executable, os.path.join(HERE, "python", "ingest_capture.py"),
                                "--out", os.path.join(work, "capture.jsonl"),
                                "--port-file", os.path.join(work, "capture.port"),
                                "--save-bodies", os.path.join(work, "bodies")],
                               start_new_session=True)
        procs.append(cap)
        port = json.loads(wait_file(os.path.join(work, "capture.port"), cap, 20))["http"]
        url = f"http://127.0.0.1:{port}"
        ms = str(int(args.seconds * 1000))
        runs = {
            "go": ([os.path.join(HERE, "go", "bin", "pushsdk"), "-server-address", url, "-app-name", "gopush",
                    "-tags", TAGS, "-tenant-id", TENANT, "-duration", f"{args.seconds}s",
                    "-report-every", "0"], None),
            "node": (["node", os.path.join(HERE, "node", "push.js"), "--server-address", url,
                      "--app-name", "nodepush", "--tags", TAGS, "--tenant-id", TENANT,
                      "--duration-ms", ms, "--report-every-ms", "0"], os.path.join(HERE, "node")),
            "python": ([sys.executable, os.path.join(HERE, "python", "push_sdk.py"), "--server-address", url,
                        "--app-name", "pypush", "--tags", TAGS, "--tenant-id", TENANT,
                        "--duration", str(args.seconds), "--report-every", "0"], None),
            # The agent's first window is at least 2 s; then one upload per second.
            "java": (["java", "-jar", os.path.join(HERE, "java", "target", "javapush.jar"), "--server-address", url,
                      "--app-name", "javapush", "--tags", TAGS, "--tenant-id", TENANT, "--duration-ms", ms,
                      "--upload-interval-ms", "1000", "--report-every-ms", "0"], None),
        }
        runs = {k: v for k, v in runs.items() if k in sdks}
        versions = {}
        running = {}
        for sdk, (argv, cwd) in runs.items():
            running[sdk] = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, text=True,
                                            stderr=open(os.path.join(work, f"{sdk}.log"), "w"),
                                            start_new_session=True)
            procs.append(running[sdk])
        for sdk, p in running.items():
            out, _ = p.communicate(timeout=args.seconds + 60)
            lines = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
            if p.returncode != 0 or not lines:
                sys.exit(f"{sdk} peer failed (exit {p.returncode}); see {work}/{sdk}.log")
            versions[sdk] = lines[-1]["sdk_version"]
        time.sleep(1.0)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(10)

    recs = [json.loads(ln) for ln in open(os.path.join(work, "capture.jsonl"))]
    # The median-sized request of each kind: a typical one (the smallest are often the
    # short windows of the final flush).
    by_kind = {}
    for rec in recs:
        c = classify(rec)
        limit = MAX_JFR_BODY if c == ("java", "jfr") else MAX_BYTES
        if c is None or c not in EXT or not has_samples(rec) or rec["body_bytes"] > limit:
            continue
        by_kind.setdefault(c, []).append(rec)
    best = {c: sorted(rs, key=lambda r: r["body_bytes"])[len(rs) // 2] for c, rs in by_kind.items()}
    missing = sorted(c for c in set(EXT) - set(best) if c[0] in sdks)
    os.makedirs(args.out, exist_ok=True)
    for (sdk, kind), rec in sorted(best.items()):
        name = f"{sdk}_{kind}"
        shutil.copyfile(rec["file"], os.path.join(args.out, name + EXT[(sdk, kind)]))
        side = sidecar(rec, sdk, kind, versions)
        if sdk == "java":
            with open(rec["file"], "rb") as f:
                parts = java_parts(rec, f.read())
            side["jfr_summary"] = jfr_tool_summary(pbwire.maybe_gunzip(parts["jfr"]))
            side["requests_in_capture"] = len(by_kind[(sdk, kind)])
        with open(os.path.join(args.out, name + ".json"), "w") as f:
            json.dump(side, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"{name}{EXT[(sdk, kind)]}: {rec['body_bytes']} bytes")
    if not args.no_jdk_recording:
        print(f"jdk_recording.jfr: {jdk_recording(args.out)} bytes")
    if ("go", "cpu") in best:
        rec = best[("go", "cpu")]
        with open(rec["file"], "rb") as f:
            folded, lines = derived_collapsed(rec, f.read())
        q = dict(rec["query"])
        for fmt, body in (("folded", folded), ("lines", lines)):
            query = [("name", "gopush.cpu{env=corpus,team=profcol}"), ("format", fmt),
                     ("from", str(int(q["from"]) // 10**9)), ("until", str(int(q["until"]) // 10**9)),
                     ("sampleRate", "100"), ("spyName", "gospy"), ("units", "samples"),
                     ("aggregationType", "sum")]
            with open(os.path.join(args.out, f"derived_go_cpu.{fmt}"), "wb") as f:
                f.write(body)
            with open(os.path.join(args.out, f"derived_go_cpu.{fmt}.json"), "w") as f:
                json.dump({"derived": True,
                           "note": "built from go_cpu.multipart's samples/count stacks (root first, "
                                   "';'-separated); no SDK here sends collapsed stacks",
                           "method": "POST", "path": "/ingest", "raw_query": urllib.parse.urlencode(query),
                           "query": query, "content_type": "text/plain", "content_encoding": None,
                           "body_bytes": len(body), "body_sha256": hashlib.sha256(body).hexdigest(),
                           "stacks": len(body.splitlines()) if fmt == "folded" else None,
                           "samples": sum(1 for _ in body.splitlines()) if fmt == "lines" else None},
                          f, indent=1, sort_keys=True)
                f.write("\n")
            print(f"derived_go_cpu.{fmt}: {len(body)} bytes")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    if missing:
        sys.exit(f"no capture with samples for {missing}; try --seconds 10")


if __name__ == "__main__":
    main()
