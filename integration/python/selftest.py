#!/usr/bin/env python3
"""Self-test of the Python peers: starts otlp_receiver.py and push_receiver.py,
sends them hand-built requests (gRPC, HTTP protobuf, HTTP gzip, a Pyroscope
push carrying a pprof built here), and checks what they logged. Prints
`N passed, M failed`. With --allow-missing, missing Python packages skip (exit 0)."""

import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import itvenv as _venv  # noqa: E402

_venv.ensure()
try:
    import grpc  # noqa: E402
    from opentelemetry.proto.collector.profiles.v1development import (
        profiles_service_pb2 as svc_pb2,
        profiles_service_pb2_grpc as svc_grpc,
    )
    from opentelemetry.proto.profiles.v1development import profiles_pb2 as pb
    from opentelemetry.proto.common.v1 import common_pb2
except ImportError as _e:
    print(f"SKIP: python OTLP stubs missing ({_e}); run integration/install.sh")
    _allow = "--allow-missing" in sys.argv
    print("0 passed, 0 failed, 1 skipped" if _allow else "0 passed, 1 failed")
    sys.exit(0 if _allow else 2)

HERE = os.path.dirname(os.path.abspath(__file__))
results = []


def check(name, cond, detail=""):
    results.append(bool(cond))
    print(("PASS " if cond else "FAIL ") + name + ("" if cond else f": {detail}"), flush=True)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, payload):
    if isinstance(payload, int):
        return varint(num << 3) + varint(payload)
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def build_request():
    d = pb.ProfilesDictionary()
    d.string_table.extend(["", "cpu", "nanoseconds", "main", "leafFn", "midFn"])
    d.mapping_table.add()
    d.link_table.add()
    d.attribute_table.add()
    d.function_table.add()
    d.function_table.add(name_strindex=3)  # 1 main
    d.function_table.add(name_strindex=4)  # 2 leafFn
    d.function_table.add(name_strindex=5)  # 3 midFn
    d.location_table.add()
    loc = d.location_table.add()  # 1: leafFn inlined into midFn
    loc.lines.add(function_index=2)
    loc.lines.add(function_index=3)
    d.location_table.add().lines.add(function_index=1)  # 2: main
    d.stack_table.add()
    d.stack_table.add(location_indices=[1, 2])  # leaf first
    req = svc_pb2.ExportProfilesServiceRequest(dictionary=d)
    rp = req.resource_profiles.add()
    rp.resource.attributes.add(key="service.name", value=common_pb2.AnyValue(string_value="svc"))
    prof = rp.scope_profiles.add().profiles.add()
    prof.sample_type.type_strindex = 1
    prof.sample_type.unit_strindex = 2
    prof.duration_nano = 5_000_000_000
    prof.samples.add(stack_index=1, values=[7])
    prof.samples.add(stack_index=1, values=[3])
    return req


def build_pprof():
    st = ["", "samples", "count", "main", "leafFn"]
    p = b"".join([
        field(1, field(1, 1) + field(2, 2)),
        field(2, field(1, varint(1) + varint(2)) + field(2, varint(5))),
        field(4, field(1, 1) + field(4, field(1, 2))),
        field(4, field(1, 2) + field(4, field(1, 1))),
        field(5, field(1, 1) + field(2, 3)),
        field(5, field(1, 2) + field(2, 4)),
        *[field(6, s.encode()) for s in st],
        field(10, 4_000_000_000),
    ])
    return gzip.compress(p)


def wait_port_file(path, proc, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)
        if proc.poll() is not None:
            return None
        time.sleep(0.05)
    return None


def read_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    tmp = tempfile.mkdtemp(prefix="profcol-pyselftest-")
    otlp_out, push_out = os.path.join(tmp, "otlp.jsonl"), os.path.join(tmp, "push.jsonl")
    procs = [
        subprocess.Popen([sys.executable, os.path.join(HERE, "otlp_receiver.py"), "--out", otlp_out,
                          "--port-file", os.path.join(tmp, "otlp.port")]),
        subprocess.Popen([sys.executable, os.path.join(HERE, "push_receiver.py"), "--out", push_out,
                          "--port-file", os.path.join(tmp, "push.port")]),
    ]
    try:
        op = wait_port_file(os.path.join(tmp, "otlp.port"), procs[0])
        pp = wait_port_file(os.path.join(tmp, "push.port"), procs[1])
        check("receivers start", op and pp, f"{op} {pp}")
        if not (op and pp):
            return
        req = build_request()
        with grpc.insecure_channel(f"127.0.0.1:{op['grpc']}") as ch:
            svc_grpc.ProfilesServiceStub(ch).Export(req, timeout=5)
        body = req.SerializeToString()
        for enc in (None, "gzip"):
            data = gzip.compress(body) if enc else body
            r = urllib.request.Request(f"http://127.0.0.1:{op['http']}/v1development/profiles",
                                       data=data, method="POST",
                                       headers={"Content-Type": "application/x-protobuf",
                                                **({"Content-Encoding": enc} if enc else {})})
            with urllib.request.urlopen(r, timeout=5) as resp:
                check(f"http export ({enc or 'identity'}) answers 200", resp.status == 200)
        recs = read_lines(otlp_out)
        check("three OTLP profiles logged", len(recs) == 3, recs)
        for rec in recs:
            check(f"{rec.get('transport')} folded stack resolves inline order",
                  rec.get("folded") == {"main;midFn;leafFn": 10}, rec.get("folded"))
            check(f"{rec.get('transport')} resource + type", rec.get("resource") == {"service.name": "svc"}
                  and rec.get("sample_type") == "cpu" and rec.get("sample_unit") == "nanoseconds", rec)
            check(f"{rec.get('transport')} dictionary has no problems", rec.get("problems") == [],
                  rec.get("problems"))

        raw = build_pprof()
        push = field(1, field(1, field(1, b"__name__") + field(2, b"process_cpu"))
                     + field(1, field(1, b"service_name") + field(2, b"svc"))
                     + field(2, field(1, raw) + field(2, b"id-1")))
        r = urllib.request.Request(f"http://127.0.0.1:{pp['http']}/push.v1.PusherService/Push",
                                   data=push, method="POST",
                                   headers={"Content-Type": "application/proto", "X-Scope-OrgID": "t1"})
        with urllib.request.urlopen(r, timeout=5) as resp:
            check("push answers 200", resp.status == 200)
        recs = read_lines(push_out)
        check("one push series logged", len(recs) == 1, recs)
        if recs:
            rec = recs[0]
            check("push labels", rec["labels"] == [["__name__", "process_cpu"], ["service_name", "svc"]],
                  rec["labels"])
            check("push tenant header", rec["headers"].get("X-Scope-OrgID") == "t1", rec["headers"])
            s = rec["samples"][0]
            check("push sha256", s["sha256"] == hashlib.sha256(raw).hexdigest(), s)
            check("push pprof summary", s["pprof"]["folded"] == [{"main;leafFn": 5}]
                  and s["pprof"]["duration_nanos"] == 4_000_000_000, s.get("pprof"))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        failed = results.count(False)
        print(f"{len(results) - failed} passed, {failed} failed")
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
