#!/usr/bin/env python3
"""An independent OTLP profiles receiver for profcol's real-peer suite.

Serves gRPC `opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export`
(grpcio + PyPI opentelemetry-proto stubs) and HTTP `POST /v1development/profiles`
(protobuf or JSON, optionally gzip), decodes every request with the upstream
Python stubs — not with profcol's code — and appends one JSON line per profile
to the output file: transport, resource and profile attributes, sample
type/unit, sample count, totals, timing, and folded stacks resolved through the
ProfilesDictionary (stack_table -> location_table -> lines -> function_table ->
string_table), and `scope_sample_types`, the sample types of every profile in its
ScopeProfiles (one ScopeProfiles per original pprof: what identifies the pprof,
with the `job` resource attribute, now that the profile type is no OTLP attribute),
and `sample_attributes`: per "key=value" sample attribute the summed value of the
samples carrying it (the Java agent's dynamic labels arrive so).
Dictionary problems (non-zero index 0 entries, out-of-range
indices) are reported in a `problems` list.

Usage: otlp_receiver.py --grpc-port P --http-port Q --out FILE [--port-file F] [--fail-first N]
A port of 0 picks a free one; --port-file receives {"grpc": P, "http": Q}.
--fail-first N refuses the first N requests of each transport (gRPC UNAVAILABLE,
HTTP 503 with Retry-After: 1) to exercise retries; every record carries the
sha256 of the (decompressed) request so a retried request can be matched.
--partial-success answers the second accepted request of each transport with
partial_success {rejected_profiles: 1}.
A request may name its route in the `x-profcol-route` gRPC metadata / HTTP header
(the suite's OpenTelemetry Collector sets it per exporter): it is recorded in `meta`,
and --refuse-route ROUTE=CODE refuses every request of that route with the gRPC
status CODE (INVALID_ARGUMENT, UNAVAILABLE, ...; over HTTP the status the OTLP
spec maps it to), recorded as {"refused": CODE}.
--save-requests DIR keeps every accepted request, serialized, as DIR/<transport>-<n>.pb
and writes one {"request_file", "received_unix_nano", ...} line for it, so that
integration/python/otlp_conformance.py can check whole requests at the end.
"""

import argparse
import hashlib
import json
import os
import signal
import sys
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import itvenv as _venv  # noqa: E402

_venv.ensure()
import grpc  # noqa: E402
from google.protobuf import json_format
from opentelemetry.proto.collector.profiles.v1development import (
    profiles_service_pb2 as svc_pb2,
    profiles_service_pb2_grpc as svc_grpc,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pbwire  # noqa: E402

_write_lock = threading.Lock()


def any_value(v, strings=()):
    """An AnyValue as plain JSON. Profiles may carry strings as references into the
    dictionary's string_table (opentelemetry-proto v1.10: `string_value_strindex`,
    and `key_strindex` for keys), as the Collector's pdata writes them: resolved here."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(x, strings) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv_key(kv, strings): any_value(kv.value, strings) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return v.bytes_value.hex()
    if kind == "string_value_strindex":
        i = v.string_value_strindex
        return strings[i] if 0 <= i < len(strings) else f"<bad string index {i}>"
    return getattr(v, kind)


def kv_key(kv, strings=()):
    """A KeyValue's key: `key`, or the string_table entry `key_strindex` points at."""
    if kv.key or not kv.key_strindex:
        return kv.key
    i = kv.key_strindex
    return strings[i] if 0 <= i < len(strings) else f"<bad string index {i}>"


def is_zero(msg):
    """Whether a message holds only default values: unset, or set submessages that are
    themselves all defaults (an explicitly present but empty `value {}` counts as zero,
    as pdata writes index 0 of attribute_table)."""
    for _, value in msg.ListFields():
        # ListFields lists non-default scalars, non-empty repeated fields and present
        # submessages; only a present submessage can still be all defaults.
        if not hasattr(value, "ListFields") or not is_zero(value):
            return False
    return True


class Dict:
    """Resolves indices through a ProfilesDictionary, recording problems."""

    def __init__(self, d, problems):
        self.d = d
        self.problems = problems
        self._check_zero_entries()

    def _check_zero_entries(self):
        d = self.d
        for name in ("mapping_table", "location_table", "function_table", "link_table",
                     "string_table", "attribute_table", "stack_table"):
            table = getattr(d, name)
            if len(table) == 0:
                self.problems.append(f"{name} is empty (index 0 must hold the zero value)")
                continue
            zero = table[0]
            if name == "string_table":
                if zero != "":
                    self.problems.append(f"string_table[0] is {zero!r}, not empty")
            elif not is_zero(zero):
                self.problems.append(f"{name}[0] is not the zero value")
        seen = set()
        for i, s in enumerate(d.string_table):
            if s in seen:
                self.problems.append(f"string_table has duplicate entry {s!r} at {i}")
                break
            seen.add(s)

    def _get(self, table, idx, what):
        t = getattr(self.d, table)
        if 0 <= idx < len(t):
            return t[idx]
        self.problems.append(f"{what}: index {idx} out of range for {table} (len {len(t)})")
        return None

    def s(self, idx):
        v = self._get("string_table", idx, "string")
        return "" if v is None else v

    def attrs(self, indices):
        out = {}
        for i in indices:
            kvu = self._get("attribute_table", i, "attribute")
            if kvu is None:
                continue
            val = any_value(kvu.value, self.d.string_table)
            unit = self.s(kvu.unit_strindex) if kvu.unit_strindex else None
            out[self.s(kvu.key_strindex)] = {"value": val, "unit": unit} if unit else val
        return out

    def folded_stack(self, stack_index):
        st = self._get("stack_table", stack_index, "sample.stack_index")
        if st is None:
            return "<bad stack>"
        frames = []
        for li in reversed(st.location_indices):  # stacks are leaf first
            loc = self._get("location_table", li, "stack.location_indices")
            if loc is None:
                frames.append("<bad location>")
                continue
            if not loc.lines:
                frames.append(f"0x{loc.address:x}")
                continue
            for line in reversed(loc.lines):  # lines[0] is the innermost inlined frame
                fn = self._get("function_table", line.function_index, "line.function_index")
                frames.append(self.s(fn.name_strindex) if fn is not None else "<bad function>")
        return ";".join(frames)


def records_from_request(req, transport, meta):
    problems = []
    dic = Dict(req.dictionary, problems)
    out = []
    for rp in req.resource_profiles:
        strings = req.dictionary.string_table
        resource = {kv_key(kv, strings): any_value(kv.value, strings) for kv in rp.resource.attributes}
        for sp in rp.scope_profiles:
            # One ScopeProfiles per original pprof (DESIGN §5): the sample types of the
            # scope's profiles, in order, name the pprof a profile came from.
            scope_types = [f"{dic.s(p.sample_type.type_strindex)}/{dic.s(p.sample_type.unit_strindex)}"
                           for p in sp.profiles]
            for prof in sp.profiles:
                folded = {}
                sample_attributes = {}  # "key=value" -> summed value of the samples carrying it
                total = 0
                values_per_sample = set()
                for smp in prof.samples:
                    key = dic.folded_stack(smp.stack_index)
                    values_per_sample.add(len(smp.values))
                    v = sum(smp.values) if smp.values else len(smp.timestamps_unix_nano)
                    folded[key] = folded.get(key, 0) + v
                    total += v
                    if smp.attribute_indices:
                        for ak, av in dic.attrs(smp.attribute_indices).items():
                            sample_attributes[f"{ak}={av}"] = sample_attributes.get(f"{ak}={av}", 0) + v
                out.append({
                    "transport": transport,
                    "received_at": time.time(),
                    "meta": meta,
                    "resource": resource,
                    "scope": {"name": sp.scope.name, "version": sp.scope.version,
                              "attributes": {kv_key(kv, strings): any_value(kv.value, strings)
                                             for kv in sp.scope.attributes}},
                    "scope_sample_types": scope_types,
                    "sample_type": dic.s(prof.sample_type.type_strindex),
                    "sample_unit": dic.s(prof.sample_type.unit_strindex),
                    "period_type": f"{dic.s(prof.period_type.type_strindex)}/"
                                   f"{dic.s(prof.period_type.unit_strindex)}",
                    "period": prof.period,
                    "time_unix_nano": prof.time_unix_nano,
                    "duration_nano": prof.duration_nano,
                    "attributes": dic.attrs(prof.attribute_indices),
                    "original_payload_format": prof.original_payload_format,
                    "original_payload_len": len(prof.original_payload),
                    "sample_count": len(prof.samples),
                    "values_per_sample": sorted(values_per_sample),
                    "total": total,
                    "folded": folded,
                    "sample_attributes": sample_attributes,
                    "problems": problems,
                })
    if not out:
        out.append({"transport": transport, "received_at": time.time(), "meta": meta,
                    "empty_request": True, "problems": problems})
    return out


# The HTTP status the OTLP/HTTP spec gives each refusal (as the Collector's receiver maps them).
HTTP_STATUS = {"INVALID_ARGUMENT": 400, "UNAVAILABLE": 503, "RESOURCE_EXHAUSTED": 429,
               "PERMISSION_DENIED": 403, "UNAUTHENTICATED": 401, "INTERNAL": 500}


class Sink:
    def __init__(self, path, fail_first=0):
        self.path = path
        self.requests = 0
        self.fail_first = fail_first
        self.seen = {"grpc": 0, "http": 0}
        self.accepted = {"grpc": 0, "http": 0}
        self.partial_success = False
        self.refuse = {}  # route -> gRPC status code name
        self.save_dir = ""
        self.saved = 0

    def save_request(self, req, transport, meta, received_unix_nano):
        """With --save-requests: keep the request for the conformance check."""
        if not self.save_dir:
            return
        with _write_lock:
            self.saved += 1
            n = self.saved
        path = os.path.join(self.save_dir, f"{transport}-{n:05d}.pb")
        with open(path, "wb") as f:
            f.write(req.SerializeToString(deterministic=True))
        self.write([{"transport": transport, "meta": meta, "request_file": path,
                     "received_unix_nano": received_unix_nano}])

    def response(self, transport):
        """The reply to an accepted request: with --partial-success, the second one
        of each transport reports one rejected profile."""
        with _write_lock:
            self.accepted[transport] += 1
            n = self.accepted[transport]
        resp = svc_pb2.ExportProfilesServiceResponse()
        if self.partial_success and n == 2:
            resp.partial_success.rejected_profiles = 1
            resp.partial_success.error_message = "injected partial success (--partial-success)"
        return resp

    def should_fail(self, transport):
        """True for the first fail_first requests of a transport."""
        with _write_lock:
            self.seen[transport] += 1
            return self.seen[transport] <= self.fail_first

    def write(self, records):
        with _write_lock:
            self.requests += 1
            with open(self.path, "a", encoding="utf-8") as f:
                for r in records:
                    f.write(json.dumps(r, sort_keys=True) + "\n")


class Servicer(svc_grpc.ProfilesServiceServicer):
    def __init__(self, sink):
        self.sink = sink

    def Export(self, request, context):  # noqa: N802 (gRPC method name)
        received = time.time_ns()
        md = {k: v for k, v in context.invocation_metadata() if not k.endswith("-bin")}
        meta = {"user-agent": md.get("user-agent"), "grpc-encoding": md.get("grpc-encoding"),
                "bytes": request.ByteSize(),
                "request_sha256": hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()}
        if md.get("x-profcol-route"):
            meta["route"] = md["x-profcol-route"]
        code = self.sink.refuse.get(meta.get("route"))
        if code:
            self.sink.write([{"transport": "grpc", "meta": meta, "refused": code}])
            context.abort(getattr(grpc.StatusCode, code), f"refused (--refuse-route {meta['route']}={code})")
        if self.sink.should_fail("grpc"):
            self.sink.write([{"transport": "grpc", "meta": meta, "injected_failure": True}])
            context.abort(grpc.StatusCode.UNAVAILABLE, "injected failure (--fail-first)")
        try:
            self.sink.save_request(request, "grpc", meta, received)
            self.sink.write(records_from_request(request, "grpc", meta))
        except Exception as e:  # report, never crash the server
            self.sink.write([{"transport": "grpc", "decode_error": repr(e)}])
        return self.sink.response("grpc")


def make_http_handler(sink):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet
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
            received = time.time_ns()
            if self.path.split("?")[0] != "/v1development/profiles":
                self._reply(404, b"not found\n", "text/plain")
                return
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            meta = {"content-type": ctype,
                    "content-encoding": self.headers.get("Content-Encoding"),
                    "user-agent": self.headers.get("User-Agent"),
                    "bytes": len(body)}
            if self.headers.get("X-Profcol-Route"):
                meta["route"] = self.headers.get("X-Profcol-Route")
            code = sink.refuse.get(meta.get("route"))
            if code:
                sink.write([{"transport": "http", "meta": meta, "refused": code}])
                self._reply(HTTP_STATUS.get(code, 500), b"refused\n", "text/plain")
                return
            try:
                data = pbwire.decompress(body, self.headers.get("Content-Encoding"))
                meta["request_sha256"] = hashlib.sha256(data).hexdigest()
                if sink.should_fail("http"):
                    sink.write([{"transport": "http", "meta": meta, "injected_failure": True}])
                    self.send_response(503)
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                req = svc_pb2.ExportProfilesServiceRequest()
                if ctype == "application/json":
                    json_format.Parse(data.decode("utf-8"), req)
                elif ctype == "application/x-protobuf":
                    req.ParseFromString(data)
                else:
                    sink.write([{"transport": "http", "meta": meta,
                                 "decode_error": f"unexpected content type {ctype!r}"}])
                    self._reply(415, b"unsupported content type\n", "text/plain")
                    return
            except Exception as e:
                sink.write([{"transport": "http", "meta": meta, "decode_error": repr(e)}])
                self._reply(400, b"bad request\n", "text/plain")
                return
            try:
                sink.save_request(req, "http", meta, received)
                records = records_from_request(req, "http", meta)
            except Exception as e:
                records = [{"transport": "http", "meta": meta, "decode_error": repr(e)}]
            sink.write(records)
            resp = sink.response("http")
            if ctype == "application/json":
                self._reply(200, json_format.MessageToJson(resp).encode(), "application/json")
            else:
                self._reply(200, resp.SerializeToString(), "application/x-protobuf")

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--grpc-port", type=int, default=0)
    ap.add_argument("--http-port", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--port-file", default="")
    ap.add_argument("--fail-first", type=int, default=0,
                    help="refuse the first N requests of each transport (to exercise retries)")
    ap.add_argument("--partial-success", action="store_true",
                    help="answer the second accepted request of each transport with a partial success")
    ap.add_argument("--refuse-route", action="append", default=[], metavar="ROUTE=CODE",
                    help="refuse every request whose x-profcol-route is ROUTE with gRPC status CODE")
    ap.add_argument("--save-requests", default="",
                    help="keep every accepted request as DIR/<transport>-<n>.pb (conformance check)")
    args = ap.parse_args()

    sink = Sink(args.out, args.fail_first)
    sink.partial_success = args.partial_success
    for rc in args.refuse_route:
        route, _, code = rc.partition("=")
        if not hasattr(grpc.StatusCode, code):
            ap.error(f"--refuse-route {rc}: {code!r} is no gRPC status code name")
        sink.refuse[route] = code
    if args.save_requests:
        os.makedirs(args.save_requests, exist_ok=True)
        sink.save_dir = args.save_requests
    open(args.out, "a").close()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         options=[("grpc.max_receive_message_length", 64 << 20)])
    svc_grpc.add_ProfilesServiceServicer_to_server(Servicer(sink), server)
    grpc_port = server.add_insecure_port(f"{args.host}:{args.grpc_port}")
    if grpc_port == 0:
        sys.exit(f"cannot bind gRPC port {args.grpc_port}")
    server.start()

    httpd = ThreadingHTTPServer((args.host, args.http_port), make_http_handler(sink))
    http_port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    print(f"otlp receiver: grpc {args.host}:{grpc_port} http {args.host}:{http_port}", flush=True)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"grpc": grpc_port, "http": http_port}, f)
        os.replace(tmp, args.port_file)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    httpd.shutdown()
    server.stop(1).wait()


if __name__ == "__main__":
    main()
