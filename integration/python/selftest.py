#!/usr/bin/env python3
"""Self-test of the Python peers: starts otlp_receiver.py and push_receiver.py,
sends them hand-built requests (gRPC, HTTP protobuf, HTTP gzip, a Pyroscope
push carrying a pprof built here), and checks what they logged. Prints
`N passed, M failed`. With --allow-missing, missing Python packages skip (exit 0)."""

import gzip
import hashlib
import json
import os
import shutil
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


def conformant_request(received):
    """A request that meets every otlp_conformance rule: one scope per pprof with
    pprof.scope.* attributes, a link for trace context, unique keys, no zero samples,
    a window ending before `received`. Returns (request, dictionary indices)."""
    d = pb.ProfilesDictionary()
    d.string_table.extend(["", "alloc_objects", "count", "alloc_space", "bytes", "main", "leafFn", "thread"])
    d.mapping_table.add()
    d.link_table.add()
    d.link_table.add(trace_id=bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736"),
                     span_id=bytes.fromhex("00f067aa0ba902b7"))
    d.attribute_table.add()
    d.attribute_table.add(key_strindex=7, value=common_pb2.AnyValue(string_value="a"))  # 1 thread=a
    d.attribute_table.add(key_strindex=4, value=common_pb2.AnyValue(int_value=16))  # 2 bytes=16
    d.attribute_table.add(key_strindex=7, value=common_pb2.AnyValue(string_value="b"))  # 3 thread=b
    d.function_table.add()
    d.function_table.add(name_strindex=5)
    d.function_table.add(name_strindex=6)
    d.location_table.add()
    d.location_table.add().lines.add(function_index=2)
    d.location_table.add().lines.add(function_index=1)
    d.stack_table.add()
    d.stack_table.add(location_indices=[1, 2])
    d.stack_table.add(location_indices=[2])
    req = svc_pb2.ExportProfilesServiceRequest(dictionary=d)
    rp = req.resource_profiles.add()
    rp.resource.attributes.add(key="service.name", value=common_pb2.AnyValue(string_value="svc"))
    rp.resource.attributes.add(key="job", value=common_pb2.AnyValue(string_value="j"))
    sp = rp.scope_profiles.add()
    sp.scope.name = "profcol"
    sp.scope.attributes.add(key="pprof.scope.default_sample_type",
                            value=common_pb2.AnyValue(string_value="alloc_space"))
    order = sp.scope.attributes.add(key="pprof.scope.sample_type_order").value.array_value
    order.values.add(int_value=1)
    order.values.add(int_value=0)
    for t, u, vals in ((3, 4, (64, 32, 16)), (1, 2, (4, 2, 1))):  # alloc_space, then alloc_objects
        prof = sp.profiles.add()
        prof.sample_type.type_strindex, prof.sample_type.unit_strindex = t, u
        prof.time_unix_nano = received - 6_000_000_000
        prof.duration_nano = 5_000_000_000
        prof.samples.add(stack_index=1, attribute_indices=[1, 2], values=[vals[0]])
        prof.samples.add(stack_index=1, attribute_indices=[3, 2], values=[vals[1]])  # other thread
        prof.samples.add(stack_index=2, link_index=1, values=[vals[2]])
    return req


def conformance_selftest():
    """otlp_conformance: a conformant request passes every rule, and each mutation is
    caught by its rule (and by no other)."""
    import otlp_conformance as oc
    received = 1_800_000_000_000_000_000
    base = conformant_request(received)
    orig = {"default": "alloc_space", "sample_types": ["alloc_objects/count", "alloc_space/bytes"]}
    got = {r: n for r, n, _ in oc.check_request(base, received, lambda res, types: orig).items()}
    check("conformance: a conformant request passes every rule", not got, got)

    def mutated(rule, fn, expect=orig):
        req = svc_pb2.ExportProfilesServiceRequest()
        req.CopyFrom(base)
        fn(req)
        got = {r for r, _, _ in oc.check_request(req, received, lambda res, types: expect).items()}
        check(f"conformance: {rule} is caught (and nothing else)", got == {rule}, got)

    def attr_key(req, key, value):
        req.resource_profiles[0].resource.attributes.add(key=key, value=common_pb2.AnyValue(string_value=value))

    def profiles(req):
        return req.resource_profiles[0].scope_profiles[0].profiles

    def scope_attr(req, key):
        attrs = req.resource_profiles[0].scope_profiles[0].scope.attributes
        return [a for a in attrs if a.key == key][0]

    mutated("no_internal_resource_keys", lambda r: attr_key(r, "__name__", "memory"))
    mutated("unique_sample_keys", lambda r: profiles(r)[0].samples[0].attribute_indices.append(3))
    mutated("scope_per_pprof", lambda r: setattr(profiles(r)[1], "time_unix_nano", profiles(r)[1].time_unix_nano + 1))
    mutated("scope_per_pprof", lambda r: scope_attr(r, "pprof.scope.sample_type_order").value.array_value.values[0]
            .__setattr__("int_value", 0))
    mutated("scope_per_pprof", lambda r: r.resource_profiles[0].scope_profiles[0].scope.attributes.remove(
        scope_attr(r, "pprof.scope.sample_type_order")))
    mutated("scope_default_sample_type", lambda r: r.resource_profiles[0].scope_profiles[0].scope.attributes.remove(
        scope_attr(r, "pprof.scope.default_sample_type")))
    mutated("scope_default_sample_type", lambda r: None, {**orig, "default": "alloc_objects"})
    mutated("no_profile_default_attr", lambda r: (
        r.dictionary.string_table.append("pprof.profile.default_sample_type"),
        r.dictionary.attribute_table.add(key_strindex=len(r.dictionary.string_table) - 1,
                                         value=common_pb2.AnyValue(string_value="alloc_space")),
        profiles(r)[0].attribute_indices.append(len(r.dictionary.attribute_table) - 1)))
    mutated("no_zero_samples", lambda r: profiles(r)[0].samples.add(stack_index=2, values=[0]))
    mutated("unique_sample_identity", lambda r: profiles(r)[0].samples.add(
        stack_index=1, attribute_indices=[2, 1], values=[5]))  # same attributes, other order
    mutated("window_not_after_receipt", lambda r: [setattr(p, "duration_nano", 7_000_000_000) for p in profiles(r)])
    mutated("trace_labels_are_links", lambda r: (
        r.dictionary.string_table.append("span_id"),
        r.dictionary.attribute_table.add(key_strindex=len(r.dictionary.string_table) - 1,
                                         value=common_pb2.AnyValue(string_value="00f067aa0ba902b7")),
        profiles(r)[0].samples[2].attribute_indices.append(len(r.dictionary.attribute_table) - 1)))
    mutated("trace_labels_are_links", lambda r: setattr(r.dictionary.link_table[1], "span_id", b"\x01"))
    mutated("dictionary_indices", lambda r: setattr(profiles(r)[0].samples[0], "stack_index", 99))
    # Strings referenced through the dictionary (as the Collector's pdata writes them) count.
    ref = svc_pb2.ExportProfilesServiceRequest()
    ref.CopyFrom(base)
    ref.dictionary.string_table.extend(["__delta__", "false"])
    kv = ref.resource_profiles[0].resource.attributes.add()
    kv.key_strindex = len(ref.dictionary.string_table) - 2
    kv.value.string_value_strindex = len(ref.dictionary.string_table) - 1
    got = {r for r, _, _ in oc.check_request(ref, received).items()}
    check("conformance: a key_strindex resource key is resolved", got == {"no_internal_resource_keys"}, got)


def pproffold_selftest():
    """pproffold.delta: cumulative types become per-series changes, inuse_* pass through,
    a decrease re-baselines."""
    import pproffold

    def pprof(samples):  # samples: [(leaf name, labels, [alloc_objects, inuse_space])]
        st = ["", "alloc_objects", "count", "inuse_space", "bytes", "main", "a", "b", "k", "v1", "v2"]
        idx = {n: i for i, n in enumerate(st)}
        body = [field(1, field(1, 1) + field(2, 2)), field(1, field(1, 3) + field(2, 4))]
        for leaf, labels, vals in samples:
            lab = b"".join(field(3, field(1, idx[k]) + field(2, idx[v])) for k, v in labels)
            body.append(field(2, field(1, varint(2 if leaf == "a" else 3) + varint(1))
                              + field(2, b"".join(varint(x) for x in vals)) + lab))
        body += [field(4, field(1, 1) + field(4, field(1, 1))), field(4, field(1, 2) + field(4, field(1, 2))),
                 field(4, field(1, 3) + field(4, field(1, 3))),
                 field(5, field(1, 1) + field(2, 5)), field(5, field(1, 2) + field(2, 6)),
                 field(5, field(1, 3) + field(2, 7))]
        body += [field(6, x.encode()) for x in st]
        return pproffold.parse(b"".join(body))

    p0 = pprof([("a", [("k", "v1")], [10, 100]), ("a", [("k", "v2")], [5, 50]), ("b", [], [1, 0])])
    p1 = pprof([("a", [("k", "v1")], [12, 90]), ("a", [("k", "v2")], [5, 70]), ("b", [], [4, 0])])
    d = pproffold.delta(p0, p1)
    check("pproffold: delta subtracts per series, passes inuse_* through, folds by names",
          d == {"alloc_objects/count": {"main;a": 2, "main;b": 3}, "inuse_space/bytes": {"main;a": 160}}, d)
    p2 = pprof([("a", [("k", "v1")], [11, 90]), ("a", [("k", "v2")], [9, 70]), ("b", [], [4, 0])])
    check("pproffold: a decreasing series re-baselines (None)", pproffold.delta(p1, p2) is None,
          pproffold.delta(p1, p2))
    check("pproffold: fold leaves zeros out", pproffold.fold(p1, "inuse_space/bytes") == {"main;a": 160},
          pproffold.fold(p1, "inuse_space/bytes"))


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
        conformance_selftest()
        pproffold_selftest()
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
            check(f"{rec.get('transport')} scope_sample_types lists the scope's profiles' types",
                  rec.get("scope_sample_types") == ["cpu/nanoseconds"], rec.get("scope_sample_types"))

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
        if not failed:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"outputs kept in {tmp}")
        print(f"{len(results) - failed} passed, {failed} failed")
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
