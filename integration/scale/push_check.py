#!/usr/bin/env python3
"""Checks profcol-loadgen's push mode against receivers it did not write.

Runs `profcol-loadgen --push MODE` for a few seconds in each mode against:
- otlp-grpc, otlp-http: integration/python/otlp_receiver.py (the upstream
  Python stubs decode every request; each saved request is then checked with
  otlp_conformance.py);
- connect: integration/python/push_receiver.py (PushRequest decoded by hand
  from its field numbers, every raw_profile summarised as pprof);
- ingest (multipart and raw body): a small /ingest server in this script that
  parses the query with urllib and the multipart body with the standard
  library's `email` parser, and summarises the pprof with pbwire.

and checks, per mode: loadgen saw no refusal, failure or unsent request; the
receiver got at least the profiles loadgen counted as accepted; every
profile carries a virtual service name (`svc-NNNNN`) and a profile type whose
sample types are those of the generated kind.

usage: integration/scale/push_check.py [--bin DIR] [--keep]
       (DIR holds profcol-loadgen; default target/release, then
       $CARGO_TARGET_DIR/release)
"""

import argparse
import email.parser
import email.policy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = os.path.join(ROOT, "integration", "python")
sys.path.insert(0, PY)
import itvenv  # noqa: E402

itvenv.ensure()
import pbwire  # noqa: E402

# Sample types of each generated kind (integration/loadgen/src/gen.rs).
KIND_TYPES = {
    "cpu": ["samples/count", "cpu/nanoseconds"],
    "allocs": ["alloc_objects/count", "alloc_space/bytes", "inuse_objects/count", "inuse_space/bytes"],
    "block": ["contentions/count", "delay/nanoseconds"],
    "mutex": ["contentions/count", "delay/nanoseconds"],
    "goroutine": ["goroutine/count"],
}
# The kind of each __name__ (connect; push_body.rs).
PROFILE_TYPE = {"process_cpu": "cpu", "memory": "allocs", "block": "block", "mutex": "mutex",
                "goroutine": "goroutine"}
SVC = re.compile(r"^svc-\d{5}$")

failures = []


def check(cond, what):
    print(("PASS " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def read_lines(path):
    out = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            out = [json.loads(line) for line in f if line.strip()]
    return out


class IngestState:
    def __init__(self):
        self.lock = threading.Lock()
        self.records = []


def ingest_server(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            url = urllib.parse.urlsplit(self.path)
            rec = {"path": url.path, "query": urllib.parse.parse_qs(url.query, keep_blank_values=True),
                   "content_type": self.headers.get("Content-Type", "")}
            try:
                ctype = rec["content_type"]
                if ctype.startswith("multipart/form-data"):
                    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
                    parts = {p.get_param("name", header="content-disposition"): p.get_payload(decode=True)
                             for p in msg.iter_parts()}
                    rec["parts"] = list(parts)
                    raw = parts["profile"]
                    if "sample_type_config" in parts:
                        rec["sample_type_config"] = json.loads(parts["sample_type_config"])
                else:
                    raw = body
                rec["gzipped"] = raw[:2] == b"\x1f\x8b"
                rec["pprof"] = pbwire.pprof_summary(raw, max_stacks=1)
            except Exception as e:  # reported by the checks
                rec["error"] = repr(e)
            with state.lock:
                state.records.append(rec)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def wait_port_file(path, proc):
    for _ in range(200):
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)
        if proc.poll() is not None:
            sys.exit(f"receiver exited: {proc.returncode}")
        time.sleep(0.1)
    sys.exit(f"no {path}")


def run_loadgen(bin_dir, work, name, mode, url, extra=()):
    out = os.path.join(work, name)
    os.makedirs(out, exist_ok=True)
    cmd = [os.path.join(bin_dir, "profcol-loadgen"), "--push", mode, "--push-url", url,
           "--rate", "10", "--concurrency", "4", "--warmup", "1", "--window", "3",
           "--push-services", "3", "--variants", "2", "--out-dir", out,
           "--first-scrape-timeout", "10", *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        print(r.stderr[-2000:], file=sys.stderr)
        check(False, f"{name}: loadgen exits 0")
        return None
    with open(os.path.join(out, "report.json"), "w") as f:
        f.write(r.stdout)
    rep = json.loads(r.stdout)
    q = rep["requests"]
    # The Python receivers decode every stack: they may be slower than the
    # offered rate, and loadgen then counts "not sent" rather than queueing.
    check(q["accepted"] > 0 and q["refused"] == 0 and q["failed"] == 0,
          f"{name}: loadgen counts {q['accepted']} accepted, no refusal or failure "
          f"(refused {q['refused']}, failed {q['failed']}, not sent {q['not_sent']}, reasons {q['reasons']})")
    return rep


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    candidates = [a.bin] if a.bin else [os.path.join(ROOT, "target", "release"),
                                        os.path.join(os.environ.get("CARGO_TARGET_DIR", "/nonexistent"), "release")]
    bin_dir = next((d for d in candidates if os.path.exists(os.path.join(d, "profcol-loadgen"))), None)
    if not bin_dir:
        sys.exit(f"no profcol-loadgen in {candidates}")
    work = tempfile.mkdtemp(prefix="push-check.")
    procs = []
    try:
        otlp_out = os.path.join(work, "otlp.jsonl")
        saved = os.path.join(work, "otlp-requests")
        otlp = subprocess.Popen([sys.executable, os.path.join(PY, "otlp_receiver.py"), "--out", otlp_out,
                                 "--port-file", os.path.join(work, "otlp.port"), "--save-requests", saved],
                                stdout=subprocess.DEVNULL, start_new_session=True)
        procs.append(otlp)
        push_out = os.path.join(work, "push.jsonl")
        push = subprocess.Popen([sys.executable, os.path.join(PY, "push_receiver.py"), "--out", push_out,
                                 "--port-file", os.path.join(work, "push.port")],
                                stdout=subprocess.DEVNULL, start_new_session=True)
        procs.append(push)
        ports = wait_port_file(os.path.join(work, "otlp.port"), otlp)
        push_port = wait_port_file(os.path.join(work, "push.port"), push)["http"]
        ingest = IngestState()
        httpd = ingest_server(ingest)

        # OTLP, both transports, one and three profiles per request.
        accepted = {}
        for name, mode, url, extra in [
            ("otlp-grpc", "otlp-grpc", f"http://127.0.0.1:{ports['grpc']}", ()),
            ("otlp-grpc-k3", "otlp-grpc", f"http://127.0.0.1:{ports['grpc']}", ("--per-request", "3")),
            ("otlp-http", "otlp-http", f"http://127.0.0.1:{ports['http']}", ()),
            ("otlp-http-plain", "otlp-http", f"http://127.0.0.1:{ports['http']}", ("--push-compression", "none")),
        ]:
            rep = run_loadgen(bin_dir, work, name, mode, url, extra)
            if rep:
                accepted[name] = rep["requests"]["accepted_profiles"]
        time.sleep(0.5)
        recs = [r for r in read_lines(otlp_out) if "request_file" not in r]
        bad = [r for r in recs if "decode_error" in r or r.get("empty_request") or r.get("problems")]
        check(recs and not bad, f"otlp: {len(recs)} OTLP profiles decoded by the upstream stubs, "
                                f"{len(bad)} with errors or dictionary problems")
        for transport, names in (("grpc", ("otlp-grpc", "otlp-grpc-k3")), ("http", ("otlp-http", "otlp-http-plain"))):
            mine = [r for r in recs if r.get("transport") == transport and "scope_sample_types" in r]
            # One ScopeProfiles per pushed pprof: count scopes, not OTLP profiles (one per sample type).
            scopes = sum(1 for r in mine if r["sample_type"] + "/" + r["sample_unit"] == r["scope_sample_types"][0])
            want = sum(accepted.get(n, 0) for n in names)
            check(scopes >= want > 0, f"otlp {transport}: {scopes} pprof profiles arrived >= {want} accepted in the windows")
            svc_ok = all(SVC.match(str(r["resource"].get("service.name", ""))) for r in mine)
            types_ok = all(r["scope_sample_types"] in KIND_TYPES.values() for r in mine)
            scope_ok = all(r["scope"]["name"] == "profcol" for r in mine)
            check(svc_ok and types_ok and scope_ok,
                  f"otlp {transport}: service.name svc-NNNNN, sample types of a generated kind, scope profcol")
            encodings = {r["meta"].get("grpc-encoding") or r["meta"].get("content-encoding") for r in mine}
            print(f"     {transport} encodings seen: {sorted(map(str, encodings))}")
        files = sorted(os.listdir(saved)) if os.path.isdir(saved) else []
        sample = [os.path.join(saved, f) for f in files[:: max(1, len(files) // 40)]]
        if sample:
            r = subprocess.run([sys.executable, os.path.join(PY, "otlp_conformance.py"), *sample],
                               capture_output=True, text=True)
            check(r.returncode == 0, f"otlp: {len(sample)} of {len(files)} saved requests pass otlp_conformance.py"
                  + ("" if r.returncode == 0 else "\n" + r.stdout[-1500:]))

        # Connect push, one and three series per request.
        for name, extra in (("connect", ()), ("connect-k3", ("--per-request", "3"))):
            rep = run_loadgen(bin_dir, work, name, "connect", f"http://127.0.0.1:{push_port}", extra)
            if rep:
                accepted[name] = rep["requests"]["accepted_profiles"]
        time.sleep(0.5)
        series = read_lines(push_out)
        bad = [s for s in series if "decode_error" in s or "error" in s or s.get("empty_request")]
        want = accepted.get("connect", 0) + accepted.get("connect-k3", 0)
        check(len(series) >= want > 0 and not bad,
              f"connect: {len(series)} series decoded by push_receiver.py >= {want} accepted, {len(bad)} bad")
        ok = True
        for s in series:
            labels = dict(s.get("labels", []))
            kind = PROFILE_TYPE.get(labels.get("__name__"))
            smp = s.get("samples", [])
            ok &= (kind is not None and bool(SVC.match(labels.get("service_name", ""))) and len(smp) == 1
                   and smp[0].get("gzipped") and "pprof" in smp[0]
                   and smp[0]["pprof"]["sample_types"] == KIND_TYPES[kind]
                   and s["headers"].get("Content-Type") == "application/proto"
                   and s["headers"].get("Connect-Protocol-Version") == "1")
        check(ok and series, "connect: labels __name__/service_name/env, one gzipped pprof per series "
                             "whose sample types match __name__, Connect headers")

        # /ingest, multipart and raw.
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        for name, extra in (("ingest", ()), ("ingest-raw", ("--ingest-body", "raw"))):
            rep = run_loadgen(bin_dir, work, name, "ingest", url, extra)
            if rep:
                accepted[name] = rep["requests"]["accepted_profiles"]
        with ingest.lock:
            recs = list(ingest.records)
        want = accepted.get("ingest", 0) + accepted.get("ingest-raw", 0)
        check(len(recs) >= want > 0, f"ingest: {len(recs)} requests >= {want} accepted")
        ok, multipart = True, 0
        types_of = {tuple(v): k for k, v in KIND_TYPES.items()}
        for r in recs:
            q = {k: v[0] for k, v in r["query"].items()}
            is_mp = r["content_type"].startswith("multipart/form-data")
            multipart += is_mp
            kind = types_of.get(tuple((r.get("pprof") or {}).get("sample_types", [])))
            labels = r"\{(?:[A-Za-z0-9_.]+=[^,{}=]+,)*[A-Za-z0-9_.]+=[^,{}=]+\}"
            name_ok = re.fullmatch(r"svc-\d{5}" + labels, q.get("name", "")) is not None
            span = int(q.get("until", "0")) - int(q.get("from", "0"))
            if is_mp:
                # pyroscope-go: no format, nanoseconds, sample_type_config except for CPU.
                want_parts = ["profile"] if kind == "cpu" else ["profile", "sample_type_config"]
                ok &= (r.get("parts") == want_parts and span == 15_000_000_000
                       and q.get("spyName") == "gospy" and "format" not in q
                       and all(k in q for k in ("units", "aggregationType", "sampleRate"))
                       and (kind == "cpu" or isinstance(r.get("sample_type_config"), dict)))
            else:
                # @pyroscope/nodejs: format=pprof, seconds, the gzipped pprof as the body.
                ok &= q.get("format") == "pprof" and span == 15 and q.get("spyName") == "nodespy"
            good = (r["path"] == "/ingest" and kind is not None and name_ok and "error" not in r
                    and r["gzipped"])
            if ok and not good:
                print(f"     first bad /ingest request: {json.dumps(r)[:1500]}")
            ok &= good
        check(ok and recs, "ingest: name=svc-NNNNN{labels}, from/until, the gzipped pprof in part 'profile' "
                           "(+ sample_type_config) or as the body, with a generated kind's sample types")
        check(0 < multipart < len(recs), f"ingest: {multipart} multipart and {len(recs) - multipart} raw bodies")
        httpd.shutdown()
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        if a.keep or failures:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{'FAIL' if failures else 'OK'}: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
