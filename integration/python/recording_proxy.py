#!/usr/bin/env python3
"""A recording HTTP proxy placed between profcol and a pull target.

Forwards every GET (path and query unchanged) to --upstream, returns the
upstream's status, content type and body unchanged, and appends one JSON line
per request to --out: path, status, body size and sha256, when the request came in
(`started`) and when the body had been read from upstream (`ended`, Unix seconds).
The suite uses it to check that profiles the collector does not alter are pushed
byte for byte. With --save-bodies DIR every 200 body is also kept as DIR/<sha256>.pb
(named in the line as `file`), so the values served can be compared with the values
that arrive.

Usage: recording_proxy.py --upstream HOST:PORT --out FILE [--port-file F] [--save-bodies DIR]
"""

import argparse
import hashlib
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_lock = threading.Lock()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--port-file", default="")
    ap.add_argument("--save-bodies", default="", help="keep every 200 body as DIR/<sha256>.pb")
    args = ap.parse_args()
    open(args.out, "a").close()
    if args.save_bodies:
        os.makedirs(args.save_bodies, exist_ok=True)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def do_GET(self):  # noqa: N802
            t0 = time.time()
            url = f"http://{args.upstream}{self.path}"
            try:
                with urllib.request.urlopen(url, timeout=120) as r:
                    status, ctype, body = r.status, r.headers.get("Content-Type", ""), r.read()
            except urllib.error.HTTPError as e:
                status, ctype, body = e.code, e.headers.get("Content-Type", ""), e.read()
            except (urllib.error.URLError, OSError) as e:
                status, ctype, body = 502, "text/plain", f"upstream error: {e}\n".encode()
            t1 = time.time()
            sha = hashlib.sha256(body).hexdigest()
            rec = {"path": self.path, "status": status, "bytes": len(body),
                   "sha256": sha, "started": t0, "ended": t1, "seconds": t1 - t0}
            if args.save_bodies and status == 200:
                rec["file"] = os.path.join(args.save_bodies, f"{sha}.pb")
                tmp = f"{rec['file']}.{threading.get_ident()}.tmp"
                with open(tmp, "wb") as f:
                    f.write(body)
                os.replace(tmp, rec["file"])
            with _lock, open(args.out, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer((args.host, args.port), Handler)
    httpd.daemon_threads = True
    port = httpd.server_address[1]
    print(f"recording proxy: {args.host}:{port} -> {args.upstream}", flush=True)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{args.host}:{port}")
        os.replace(tmp, args.port_file)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    httpd.shutdown()


if __name__ == "__main__":
    main()
