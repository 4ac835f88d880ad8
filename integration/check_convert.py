#!/usr/bin/env python3
"""Cross-checks `profcol convert` against independent decoders.

For every corpus file (pdata/testdata/*.pb.gz, integration/corpus/*.pb.gz, or the
files given):
  * `--to otlp`: the output decodes with the upstream Python OTLP stubs, has a
    well-formed dictionary, one OTLP profile per pprof sample type, and the same
    folded stacks (root;...;leaf -> summed value, zero stacks ignored) as the
    input pprof decoded by pbwire.py;
  * `--to otlp-json`: parses with the protobuf JSON mapping into the same request (the
    corpus has no links, so the hex trace/span ids of OTLP/JSON do not come up), and
    follows the OTLP JSON mapping: every 64-bit integer field (`timeUnixNano`,
    `durationNano`, `period`, sample `values`, `timestampsUnixNano`, `intValue`,
    addresses, ...) is written as a JSON string, found by walking the JSON against the
    upstream stubs' message descriptors (a JavaScript reader rounds numbers above 2^53);
  * `--to folded`: `type/unit;root;...;leaf value` lines equal the input's stacks;
  * `--to pprof`: the output decodes as pprof (pbwire) with the same sample types,
    folded stacks and duration as the input.
Prints `N passed, M failed` last; exits non-zero on failure (2 when profcol is missing,
0 then with --allow-missing).
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "python"))
import pbwire  # noqa: E402
import itvenv as _venv  # noqa: E402

_venv.ensure()


def nonzero(d):
    return {k: v for k, v in d.items() if v != 0}


INT64_TYPES = None  # FieldDescriptor types written as strings by the (OTLP) JSON mapping


def int64_not_strings(obj, desc, path="", out=None):
    """Walks a JSON object against a protobuf message descriptor; returns
    ([(path, value)] of 64-bit integer fields written as anything but a JSON string,
    number of 64-bit integer values seen). JSON names and proto names are both accepted,
    as parsers do."""
    from google.protobuf.descriptor import FieldDescriptor as F
    global INT64_TYPES
    if INT64_TYPES is None:
        INT64_TYPES = {F.TYPE_INT64, F.TYPE_UINT64, F.TYPE_SINT64, F.TYPE_FIXED64, F.TYPE_SFIXED64}
    if out is None:
        out = [[], 0]
    if not isinstance(obj, dict):
        return out
    fields = {}
    for f in desc.fields:
        fields[f.json_name] = f
        fields[f.name] = f
    for k, v in obj.items():
        f = fields.get(k)
        if f is None:
            continue
        # `is_repeated` in protobuf 6, `label` before (removed since).
        repeated = f.is_repeated if hasattr(f, "is_repeated") else f.label == F.LABEL_REPEATED
        vals = v if repeated and isinstance(v, list) else [v]
        for i, x in enumerate(vals):
            p = f"{path}.{k}" + (f"[{i}]" if repeated else "")
            if f.type == F.TYPE_MESSAGE:
                int64_not_strings(x, f.message_type, p, out)
            elif f.type in INT64_TYPES:
                out[1] += 1
                if not isinstance(x, str):
                    out[0].append((p.lstrip("."), x))
    return out


def diff(a, b, n=3):
    keys = sorted(set(a) | set(b), key=lambda k: -abs(a.get(k, 0) - b.get(k, 0)))
    return [(k[-80:], a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)][:n]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--profcol", default=os.environ.get("PROFCOL", os.path.join(ROOT, "target", "debug", "profcol")))
    ap.add_argument("--allow-missing", action="store_true")
    args = ap.parse_args()
    passed = failed = 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"PASS {name}")
        else:
            failed += 1
            print(f"FAIL {name}: {detail}")
        return ok

    try:
        from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2 as svc_pb2
        from google.protobuf import json_format
        import otlp_receiver
    except ImportError as e:
        print(f"SKIP: python OTLP stubs missing ({e}); run integration/install.sh")
        print("0 passed, 0 failed, 1 skipped" if args.allow_missing else "0 passed, 1 failed")
        sys.exit(0 if args.allow_missing else 2)
    if not os.access(args.profcol, os.X_OK):
        print(f"SKIP: no profcol binary at {args.profcol}")
        print("0 passed, 0 failed, 1 skipped" if args.allow_missing else "0 passed, 1 failed")
        sys.exit(0 if args.allow_missing else 2)

    files = args.files or sorted(glob.glob(os.path.join(ROOT, "pdata", "testdata", "*.pb.gz"))
                                 + glob.glob(os.path.join(HERE, "corpus", "*.pb.gz")))
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            name = os.path.relpath(f, ROOT)
            with open(f, "rb") as fh:
                src = pbwire.pprof_summary(fh.read())
            want = {t: nonzero(fo) for t, fo in zip(src["sample_types"], src["folded"])}

            out = os.path.join(tmp, "out.otlp")
            r = subprocess.run([args.profcol, "convert", f, "--to", "otlp", "-o", out],
                               capture_output=True, text=True, timeout=60)
            if not check(f"{name}: convert --to otlp exits 0", r.returncode == 0, r.stderr.strip()[-300:]):
                continue
            req = svc_pb2.ExportProfilesServiceRequest()
            try:
                with open(out, "rb") as fh:
                    req.ParseFromString(fh.read())
                recs = otlp_receiver.records_from_request(req, "file", {})
            except Exception as e:
                check(f"{name}: otlp output decodes with the upstream stubs", False, repr(e))
                continue
            probs = sorted({p for r in recs for p in r.get("problems", [])})
            check(f"{name}: otlp dictionary well formed", not probs, probs[:3])
            got = {}
            for rec in recs:
                if "sample_type" in rec:
                    t = f"{rec['sample_type']}/{rec['sample_unit']}"
                    got.setdefault(t, {})
                    for k, v in rec["folded"].items():
                        got[t][k] = got[t].get(k, 0) + v
            check(f"{name}: one otlp profile per sample type",
                  sorted(got) == sorted(want), f"got {sorted(got)}, want {sorted(want)}")
            bad = {t: diff(nonzero(got.get(t, {})), w) for t, w in want.items()
                   if nonzero(got.get(t, {})) != w}
            check(f"{name}: otlp folded stacks equal the input's", not bad, bad)

            outj = os.path.join(tmp, "out.json")
            r = subprocess.run([args.profcol, "convert", f, "--to", "otlp-json", "-o", outj],
                               capture_output=True, text=True, timeout=60)
            if check(f"{name}: convert --to otlp-json exits 0", r.returncode == 0, r.stderr.strip()[-300:]):
                try:
                    jreq = svc_pb2.ExportProfilesServiceRequest()
                    with open(outj, encoding="utf-8") as fh:
                        json_format.Parse(fh.read(), jreq)
                    check(f"{name}: otlp-json parses (protobuf JSON mapping) to the same request as otlp",
                          jreq == req, "messages differ")
                except Exception as e:
                    check(f"{name}: otlp-json parses with the protobuf JSON mapping", False, repr(e)[:300])
                # OTLP JSON mapping (and proto3's): 64-bit integers are JSON strings.
                try:
                    with open(outj, encoding="utf-8") as fh:
                        raw = json.load(fh)
                    numbers, seen = int64_not_strings(raw, svc_pb2.ExportProfilesServiceRequest.DESCRIPTOR)
                    per_field = {}
                    for path, v in numbers:
                        per_field.setdefault(re.sub(r"\[\d+\]", "[]", path), []).append(v)
                    check(f"{name}: otlp-json writes 64-bit integers as JSON strings (OTLP JSON mapping)",
                          seen > 0 and not numbers,
                          f"{len(numbers)} of {seen} 64-bit integer values are not strings, in "
                          + ", ".join(f"{f} ({len(vs)}, e.g. {max(vs, key=lambda x: abs(x) if isinstance(x, (int, float)) else 0)!r})"
                                      for f, vs in sorted(per_field.items(), key=lambda kv: -len(kv[1]))[:8])
                          if seen else "no 64-bit integer field found (timeUnixNano at least was expected)")
                except ValueError as e:
                    check(f"{name}: otlp-json is JSON", False, repr(e)[:300])

            r = subprocess.run([args.profcol, "convert", f, "--to", "folded"],
                               capture_output=True, text=True, timeout=60)
            if check(f"{name}: convert --to folded exits 0", r.returncode == 0, r.stderr.strip()[-300:]):
                folded = {}
                bad_lines = []
                for line in r.stdout.splitlines():
                    stack, _, val = line.rpartition(" ")
                    t, _, frames = stack.partition(";")
                    try:
                        folded.setdefault(t, {})
                        folded[t][frames] = folded[t].get(frames, 0) + int(val)
                    except ValueError:
                        bad_lines.append(line)
                got_f = {t: nonzero(v) for t, v in folded.items()}
                want_f = {t: w for t, w in want.items() if w}
                check(f"{name}: folded output equals the input's stacks (`type/unit;root;...;leaf value`)",
                      not bad_lines and got_f == want_f,
                      bad_lines[:2] or {t: diff(got_f.get(t, {}), w) for t, w in want_f.items()
                                        if got_f.get(t) != w} or sorted(set(got_f) ^ set(want_f)))

            outp = os.path.join(tmp, "out.pb.gz")
            r = subprocess.run([args.profcol, "convert", f, "--to", "pprof", "-o", outp],
                               capture_output=True, text=True, timeout=60)
            if not check(f"{name}: convert --to pprof exits 0", r.returncode == 0, r.stderr.strip()[-300:]):
                continue
            try:
                with open(outp, "rb") as fh:
                    back = pbwire.pprof_summary(fh.read())
            except Exception as e:
                check(f"{name}: pprof output decodes", False, repr(e))
                continue
            got = {t: nonzero(fo) for t, fo in zip(back["sample_types"], back["folded"])}
            check(f"{name}: pprof round trip keeps sample types, stacks, duration",
                  got == want and back["duration_nanos"] == src["duration_nanos"],
                  {t: diff(got.get(t, {}), w) for t, w in want.items() if got.get(t) != w}
                  or (back["duration_nanos"], src["duration_nanos"]))
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
