#!/usr/bin/env python3
"""A Pyroscope push-API receiver for profcol's real-peer suite.

Accepts Connect unary calls `POST /push.v1.PusherService/Push` with
`Content-Type: application/proto` (optionally `Content-Encoding: gzip`) and
decodes the PushRequest by hand from its field numbers — independently of any
generated code:

  PushRequest      { repeated RawProfileSeries series = 1; }
  RawProfileSeries { repeated LabelPair labels = 1; repeated RawSample samples = 2; }
  LabelPair        { string name = 1; string value = 2; }
  RawSample        { bytes raw_profile = 1; string ID = 2; }

Appends one JSON line per series to the output file: labels, selected request
headers (X-Scope-OrgID, Content-Type, ...), and per sample the sha256 and size
of raw_profile plus a summary of the pprof inside it (sample types, duration,
folded stacks). Replies with an empty PushResponse.

With --save-profiles DIR every raw_profile is also kept as DIR/<sha256>.pb, for
checks that need whole profiles (the summary keeps at most 200 stacks per type).

Usage: push_receiver.py --port P --out FILE [--port-file F] [--fail-first N] [--save-profiles DIR]
"""

import argparse
import hashlib
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pbwire  # noqa: E402

PUSH_PATH = "/push.v1.PusherService/Push"
LOGGED_HEADERS = ("X-Scope-OrgID", "Content-Type", "Content-Encoding", "Connect-Protocol-Version",
                  "Connect-Timeout-Ms", "User-Agent", "Authorization")

_lock = threading.Lock()


def decode_push_request(data):
    series = []
    for num, wt, val in pbwire.fields(data):
        if num != 1 or wt != 2:
            continue
        labels, samples = [], []
        for n2, w2, v2 in pbwire.fields(val):
            if n2 == 1 and w2 == 2:
                name = value = ""
                for n3, w3, v3 in pbwire.fields(v2):
                    if n3 == 1 and w3 == 2:
                        name = v3.decode("utf-8")
                    elif n3 == 2 and w3 == 2:
                        value = v3.decode("utf-8")
                labels.append([name, value])
            elif n2 == 2 and w2 == 2:
                raw, sid = b"", ""
                for n3, w3, v3 in pbwire.fields(v2):
                    if n3 == 1 and w3 == 2:
                        raw = v3
                    elif n3 == 2 and w3 == 2:
                        sid = v3.decode("utf-8")
                samples.append((raw, sid))
        series.append((labels, samples))
    return series


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--port-file", default="")
    ap.add_argument("--fail-first", type=int, default=0,
                    help="answer the first N pushes with 503 (to exercise retries)")
    ap.add_argument("--save-profiles", default="", help="keep every raw_profile as DIR/<sha256>.pb")
    args = ap.parse_args()
    open(args.out, "a").close()
    if args.save_profiles:
        os.makedirs(args.save_profiles, exist_ok=True)
    state = {"seen": 0}

    def write(records):
        with _lock, open(args.out, "a", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, sort_keys=True) + "\n")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def _reply(self, code, body, ctype):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {h: self.headers.get(h) for h in LOGGED_HEADERS if self.headers.get(h)}
            if "Authorization" in headers:  # never log credentials
                headers["Authorization"] = headers["Authorization"].split(" ")[0] + " <redacted>"
            if self.path.split("?")[0] != PUSH_PATH:
                write([{"path": self.path, "headers": headers, "error": "unknown path"}])
                self._reply(404, b'{"code":"unimplemented"}', "application/json")
                return
            with _lock:
                state["seen"] += 1
                attempt = state["seen"]
            if attempt <= args.fail_first:
                shas = []
                try:
                    data = pbwire.decompress(body, self.headers.get("Content-Encoding"))
                    shas = [hashlib.sha256(raw).hexdigest()
                            for _, samples in decode_push_request(data) for raw, _ in samples]
                except Exception:
                    pass
                write([{"path": self.path, "headers": headers, "injected_failure": attempt,
                        "sha256s": shas}])
                self._reply(503, b'{"code":"unavailable"}', "application/json")
                return
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            try:
                if ctype != "application/proto":
                    raise pbwire.WireError(f"unexpected content type {ctype!r}")
                data = pbwire.decompress(body, self.headers.get("Content-Encoding"))
                series = decode_push_request(data)
            except Exception as e:
                write([{"path": self.path, "headers": headers, "decode_error": repr(e)}])
                self._reply(400, b'{"code":"invalid_argument"}', "application/json")
                return
            now = time.time()
            records = []
            for labels, samples in series:
                out_samples = []
                for raw, sid in samples:
                    s = {"sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw), "id": sid,
                         "gzipped": raw[:2] == b"\x1f\x8b"}
                    if args.save_profiles:
                        s["file"] = os.path.join(args.save_profiles, f"{s['sha256']}.pb")
                        tmp = f"{s['file']}.{threading.get_ident()}.tmp"
                        with open(tmp, "wb") as f:
                            f.write(raw)
                        os.replace(tmp, s["file"])
                    try:
                        s["pprof"] = pbwire.pprof_summary(raw, max_stacks=200)
                    except Exception as e:
                        s["pprof_error"] = repr(e)
                    out_samples.append(s)
                records.append({"received_at": now, "headers": headers, "labels": labels,
                                "samples": out_samples, "body_bytes": len(body)})
            if not records:
                records.append({"received_at": now, "headers": headers, "empty_request": True})
            write(records)
            self._reply(200, b"", "application/proto")

    httpd = ThreadingHTTPServer((args.host, args.port), Handler)
    port = httpd.server_address[1]
    print(f"push receiver: http {args.host}:{port}", flush=True)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"http": port}, f)
        os.replace(tmp, args.port_file)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    httpd.shutdown()


if __name__ == "__main__":
    main()
