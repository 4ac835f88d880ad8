"""Minimal protobuf wire-format reader plus a pprof summariser.

Used by the push receiver (which must decode Pyroscope's PushRequest from the
field numbers alone, independently of any generated code) and by the suite to
look inside raw pprof payloads. Only what the suite needs is decoded.
"""

import gzip
import zlib


class WireError(ValueError):
    pass


def read_varint(buf, pos):
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


def fields(buf):
    """Yields (field_number, wire_type, value) for each field of a message.

    value is an int for varint/fixed types and a bytes/memoryview slice for
    length-delimited ones.
    """
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = read_varint(buf, pos)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise WireError("field number 0")
        if wt == 0:
            val, pos = read_varint(buf, pos)
        elif wt == 1:
            if pos + 8 > n:
                raise WireError("truncated fixed64")
            val = int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wt == 2:
            ln, pos = read_varint(buf, pos)
            if pos + ln > n:
                raise WireError("truncated length-delimited field")
            val = bytes(buf[pos:pos + ln])
            pos += ln
        elif wt == 5:
            if pos + 4 > n:
                raise WireError("truncated fixed32")
            val = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise WireError(f"unsupported wire type {wt}")
        yield num, wt, val


def packed_varints(wt, val):
    """Decodes a repeated varint field that may be packed (wt 2) or not (wt 0)."""
    if wt == 0:
        return [val]
    out = []
    pos = 0
    while pos < len(val):
        v, pos = read_varint(val, pos)
        out.append(v)
    return out


def to_signed(v):
    return v - (1 << 64) if v >= (1 << 63) else v


def maybe_gunzip(data):
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    return data


def decompress(data, encoding):
    encoding = (encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    raise WireError(f"unsupported content encoding {encoding!r}")


def pprof_summary(raw, max_stacks=None):
    """Decodes a (possibly gzipped) pprof Profile into a JSON-friendly summary:
    sample types, sample count, time/duration/period, folded stacks per
    sample type ("root;...;leaf" -> summed value), and `sample_labels`: per sample
    type the summed value of the samples carrying each string label ("key=value";
    numeric labels as "key=<num>")."""
    data = maybe_gunzip(raw)
    strings = []
    sample_types = []  # (type_idx, unit_idx)
    samples = []  # (location_ids, values, [(key idx, str idx, num, is_str)])
    locations = {}  # id -> [function_id, ...] (lines in order, innermost first)
    functions = {}  # id -> name idx
    out = {"time_nanos": 0, "duration_nanos": 0, "period": 0, "period_type": None}
    period_type = None
    for num, wt, val in fields(data):
        if num == 1:
            t = u = 0
            for n2, _, v2 in fields(val):
                if n2 == 1:
                    t = v2
                elif n2 == 2:
                    u = v2
            sample_types.append((t, u))
        elif num == 2:
            locs, vals, labs = [], [], []
            for n2, w2, v2 in fields(val):
                if n2 == 1:
                    locs.extend(packed_varints(w2, v2))
                elif n2 == 2:
                    vals.extend(to_signed(x) for x in packed_varints(w2, v2))
                elif n2 == 3:
                    lab = {n3: v3 for n3, _, v3 in fields(v2)}
                    labs.append((lab.get(1, 0), lab.get(2, 0), to_signed(lab.get(3, 0)), 2 in lab))
            samples.append((locs, vals, labs))
        elif num == 4:
            lid, fids = 0, []
            for n2, _, v2 in fields(val):
                if n2 == 1:
                    lid = v2
                elif n2 == 4:
                    for n3, _, v3 in fields(v2):
                        if n3 == 1:
                            fids.append(v3)
            locations[lid] = fids
        elif num == 5:
            fid, name = 0, 0
            for n2, _, v2 in fields(val):
                if n2 == 1:
                    fid = v2
                elif n2 == 2:
                    name = v2
            functions[fid] = name
        elif num == 6:
            strings.append(val.decode("utf-8", "replace"))
        elif num == 9:
            out["time_nanos"] = to_signed(val)
        elif num == 10:
            out["duration_nanos"] = to_signed(val)
        elif num == 11:
            t = u = 0
            for n2, _, v2 in fields(val):
                if n2 == 1:
                    t = v2
                elif n2 == 2:
                    u = v2
            period_type = (t, u)
        elif num == 12:
            out["period"] = to_signed(val)

    def s(i):
        return strings[i] if 0 <= i < len(strings) else f"<bad string {i}>"

    out["sample_types"] = [f"{s(t)}/{s(u)}" for t, u in sample_types]
    if period_type:
        out["period_type"] = f"{s(period_type[0])}/{s(period_type[1])}"
    out["sample_count"] = len(samples)
    folded = [dict() for _ in sample_types]
    labelled = [dict() for _ in sample_types]
    for locs, vals, labs in samples:
        frames = []
        for lid in reversed(locs):  # pprof stacks are leaf first
            fids = locations.get(lid, [])
            if not fids:
                frames.append(f"0x{lid:x}")
            for fid in reversed(fids):  # lines[0] is the innermost inlined frame
                frames.append(s(functions.get(fid, 0)))
        key = ";".join(frames)
        for i, v in enumerate(vals[: len(folded)]):
            folded[i][key] = folded[i].get(key, 0) + v
            for k, sv, num, is_str in labs:
                lk = f"{s(k)}={s(sv) if is_str else num}"
                labelled[i][lk] = labelled[i].get(lk, 0) + v
    out["totals"] = [sum(f.values()) for f in folded]
    if max_stacks is not None:
        folded = [dict(sorted(f.items(), key=lambda kv: -kv[1])[:max_stacks]) for f in folded]
    out["folded"] = folded
    out["sample_labels"] = labelled
    return out
