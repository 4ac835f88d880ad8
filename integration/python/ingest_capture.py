#!/usr/bin/env python3
"""A capture server for what push SDKs send: stdlib only, answers every request.

Accepts any method on any path (the Pyroscope SDKs send `POST /ingest`; a Connect
client sends `POST /push.v1.PusherService/Push`) and appends one JSON line per
request to --out:

  method, path, query (each parameter as sent, in order: [[name, value], ...]),
  headers (every header as received; Authorization is redacted to its scheme),
  content_type, content_encoding, body_bytes, body_sha256,
  received_unix_nano,
  parts      for multipart/form-data: one entry per part with name, filename,
             content_type, bytes, gzipped (starts with 1f 8b), and for a part that
             decodes as pprof a summary (sample types, period type, sample count,
             time/duration, totals, number of stacks); for JSON parts the JSON itself
             when small; for a JFR part (the Java agent's `jfr`, gzipped or not) the
             chunk headers (`jfr`: version, chunks, bytes after gunzip); for the Java
             agent's `labels` part (a LabelsSnapshot protobuf, gzipped or not) its
             contexts resolved to label pairs (`labels_snapshot`);
  pprof      the same summary when the body itself is a (gzipped) pprof;
  push       for a Connect `POST /push.v1.PusherService/Push` (application/proto,
             after Content-Encoding): per series its labels and per sample the
             pprof summary (PushRequest decoded as python/push_receiver.py does);
  text       for text bodies (collapsed stacks): line count and the first lines.

With --save-bodies DIR every body is kept as DIR/<n>.body next to DIR/<n>.json
(the request line), which is how integration/corpus/ingest/ was captured.
--status CODE answers with that status (default 200, empty body).
--port-file F receives {"http": PORT} once listening.

Usage: ingest_capture.py --out FILE [--port 0] [--port-file F] [--save-bodies DIR] [--status 200]
"""

import argparse
import hashlib
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pbwire  # noqa: E402
from push_receiver import PUSH_PATH, decode_push_request  # noqa: E402

_lock = threading.Lock()


def pprof_brief(raw):
    """A short summary of a (possibly gzipped) pprof, or None when it is not one."""
    try:
        s = pbwire.pprof_summary(raw)
    except Exception:
        return None
    if not s["sample_types"]:
        return None
    return {"sample_types": s["sample_types"], "period_type": s["period_type"], "period": s["period"],
            "sample_count": s["sample_count"], "time_nanos": s["time_nanos"],
            "duration_nanos": s["duration_nanos"], "totals": s["totals"],
            "stacks": [len(f) for f in s["folded"]],
            "top_stack": [max(f.items(), key=lambda kv: kv[1])[0] if f else None for f in s["folded"]]}


def jfr_brief(raw):
    """Chunk headers of a (possibly gzipped) JFR recording, or None when it is not one.

    A JFR file is a sequence of chunks, each starting with magic FLR\\0, u16 major,
    u16 minor, i64 chunk size (big endian)."""
    data = pbwire.maybe_gunzip(raw) if raw[:2] == b"\x1f\x8b" else raw
    if data[:4] != b"FLR\x00":
        return None
    chunks, pos, versions = 0, 0, set()
    while pos + 16 <= len(data) and data[pos:pos + 4] == b"FLR\x00":
        major, minor = int.from_bytes(data[pos + 4:pos + 6], "big"), int.from_bytes(data[pos + 6:pos + 8], "big")
        size = int.from_bytes(data[pos + 8:pos + 16], "big")
        versions.add(f"{major}.{minor}")
        chunks += 1
        if size <= 0:
            break
        pos += size
    return {"bytes": len(data), "chunks": chunks, "versions": sorted(versions), "trailing_bytes": max(0, len(data) - pos)}


def labels_snapshot_brief(raw):
    """The Java agent's LabelsSnapshot (contexts: id -> {key id: value id}, strings: id ->
    text) as {"contexts": n, "labels": sorted distinct "k=v"}; None when it does not decode."""
    try:
        data = pbwire.maybe_gunzip(raw) if raw[:2] == b"\x1f\x8b" else raw
        contexts, strings = {}, {}
        for num, _, val in pbwire.fields(data):
            entry = {n: v for n, _, v in pbwire.fields(val)}
            if num == 1:
                pairs = []
                for n2, _, v2 in pbwire.fields(entry.get(2, b"")):
                    if n2 == 1:
                        kv = {n3: v3 for n3, _, v3 in pbwire.fields(v2)}
                        pairs.append((kv.get(1, 0), kv.get(2, 0)))
                contexts[entry.get(1, 0)] = pairs
            elif num == 2:
                strings[entry.get(1, 0)] = entry.get(2, b"").decode("utf-8", "replace")
    except Exception:
        return None
    labels = sorted({f"{strings.get(k, k)}={strings.get(v, v)}" for pairs in contexts.values() for k, v in pairs})
    return {"bytes": len(data), "contexts": len(contexts), "strings": len(strings), "labels": labels}


def multipart_parts(ctype_header, body):
    """[(name, filename, content_type, payload)] of a multipart/form-data body."""
    msg = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + ctype_header.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + body)
    if not msg.is_multipart():
        raise ValueError("not a multipart body")
    out = []
    for part in msg.iter_parts():
        payload = part.get_payload(decode=True) or b""
        # None when the part has no Content-Type header (the Java agent's `jfr` part): the
        # parser's default (text/plain) is not what was sent.
        ctype = part.get_content_type() if part.get("Content-Type") else None
        out.append((part.get_param("name", header="content-disposition"), part.get_filename(), ctype, payload))
    return out


def describe_body(ctype_header, body, path=""):
    ctype = (ctype_header or "").split(";")[0].strip().lower()
    out = {}
    if path == PUSH_PATH and ctype == "application/proto":
        try:
            out["push"] = [{"labels": labels,
                            "samples": [{"id": sid, "bytes": len(raw), "gzipped": raw[:2] == b"\x1f\x8b",
                                         "pprof": pprof_brief(raw)} for raw, sid in samples]}
                           for labels, samples in decode_push_request(body)]
        except Exception as e:
            out["push_error"] = repr(e)
        return out
    if ctype == "multipart/form-data":
        try:
            parts = []
            for name, filename, pctype, payload in multipart_parts(ctype_header, body):
                p = {"name": name, "filename": filename, "content_type": pctype, "bytes": len(payload),
                     "gzipped": payload[:2] == b"\x1f\x8b"}
                brief = pprof_brief(payload)
                jfr = None if brief else jfr_brief(payload)
                if brief:
                    p["pprof"] = brief
                elif jfr:
                    p["jfr"] = jfr
                elif name == "labels" and labels_snapshot_brief(payload):
                    p["labels_snapshot"] = labels_snapshot_brief(payload)
                elif len(payload) < 4096:
                    try:
                        p["json"] = json.loads(payload)
                    except ValueError:
                        p["text"] = payload[:400].decode("utf-8", "replace")
                parts.append(p)
            out["parts"] = parts
        except Exception as e:
            out["multipart_error"] = repr(e)
        return out
    brief = pprof_brief(body)
    if brief:
        out["pprof"] = brief
        out["gzipped"] = body[:2] == b"\x1f\x8b"
        return out
    try:
        text = body.decode("utf-8")
        lines = text.splitlines()
        out["text"] = {"lines": len(lines), "first": lines[:5]}
    except UnicodeDecodeError:
        out["binary"] = True
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--port-file", default="")
    ap.add_argument("--save-bodies", default="", help="keep every body as DIR/<n>.body + DIR/<n>.json")
    ap.add_argument("--status", type=int, default=200, help="HTTP status to answer with")
    args = ap.parse_args()
    open(args.out, "a").close()
    if args.save_bodies:
        os.makedirs(args.save_bodies, exist_ok=True)
    state = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def _handle(self):
            received = time.time_ns()
            if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
                body = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    body += self.rfile.read(size)
                    self.rfile.readline()
            else:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            url = urllib.parse.urlsplit(self.path)
            headers = [[k, v] for k, v in self.headers.items()]
            for h in headers:
                if h[0].lower() in ("authorization", "proxy-authorization"):
                    h[1] = h[1].split(" ")[0] + " <redacted>"
            with _lock:
                state["n"] += 1
                n = state["n"]
            rec = {
                "n": n, "received_unix_nano": received, "method": self.command, "path": url.path,
                "raw_query": url.query,
                "query": urllib.parse.parse_qsl(url.query, keep_blank_values=True),
                "http_version": self.request_version,
                "headers": headers,
                "content_type": self.headers.get("Content-Type"),
                "content_encoding": self.headers.get("Content-Encoding"),
                "body_bytes": len(body), "body_sha256": hashlib.sha256(body).hexdigest(),
            }
            if body:
                data = body
                if (rec["content_encoding"] or "").lower() in ("gzip", "deflate"):
                    try:
                        data = pbwire.decompress(body, rec["content_encoding"])
                        rec["decoded_bytes"] = len(data)
                    except Exception as e:
                        rec["content_encoding_error"] = repr(e)
                rec.update(describe_body(rec["content_type"], data, url.path))
            if args.save_bodies:
                base = os.path.join(args.save_bodies, f"{n:05d}")
                with open(base + ".body", "wb") as f:
                    f.write(body)
                with open(base + ".json", "w") as f:
                    json.dump(rec, f, indent=1, sort_keys=True)
                rec["file"] = base + ".body"
            with _lock, open(args.out, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec, sort_keys=True) + "\n")
            self.send_response(args.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = do_GET = _handle

    httpd = ThreadingHTTPServer((args.host, args.port), Handler)
    port = httpd.server_address[1]
    print(f"ingest capture: http {args.host}:{port}", flush=True)
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
