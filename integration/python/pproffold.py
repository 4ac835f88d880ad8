"""Full pprof decoding and folding for the exactness checks (stdlib only, on top of pbwire).

pbwire.pprof_summary folds by function names and may cut the stacks it keeps; the
checks that compare values exactly need every sample, its labels, and a stack key
fine enough to tell apart what profcol's delta state tells apart. `parse(raw)`
returns a `Pprof` with, per sample:

  names   "root;...;leaf" of function names (lines[0] of a location is the innermost
          inlined frame, so a location's lines are read last to first), the key the
          OTLP receiver folds by;
  detail  the same frames with file and line ("name@file:line"; an address for an
          unsymbolized location), plus the labels: one series of a cumulative profile;
  labels  {key: [values...]} in the order the pprof carries them (string labels as
          str, numeric ones as (int, unit));
  values  one int per sample type.

`fold(p, type_unit)` sums values per `names` key for one sample type ("alloc_space/bytes"),
leaving out zeros, which is how both ends of every exactness check are compared.
`delta(prev, cur)` mirrors the documented delta rules (DESIGN §4, pdata/src/delta.rs):
cumulative sample types (alloc_objects, alloc_space, contentions, delay) become the change
per series since `prev`; other types pass through; a decreasing series means a restart
and yields None (a new baseline).
"""

import pbwire

CUMULATIVE_TYPES = ("alloc_objects", "alloc_space", "contentions", "delay")


class Sample:
    __slots__ = ("names", "detail", "labels", "values")

    def __init__(self, names, detail, labels, values):
        self.names, self.detail, self.labels, self.values = names, detail, labels, values


class Pprof:
    def __init__(self):
        self.sample_types = []  # ["type/unit", ...]
        self.samples = []
        self.default_sample_type = ""
        self.time_nanos = 0
        self.duration_nanos = 0
        self.period_type = ""
        self.period = 0

    def index(self, type_unit):
        return self.sample_types.index(type_unit)


def _pair(buf):
    a = b = 0
    for n, _, v in pbwire.fields(buf):
        if n == 1:
            a = v
        elif n == 2:
            b = v
    return a, b


def parse(raw):
    data = pbwire.maybe_gunzip(raw)
    strings, types, raw_samples = [], [], []
    locations, functions = {}, {}
    p = Pprof()
    default_type = 0
    period_type = None
    for num, wt, val in pbwire.fields(data):
        if num == 1:
            types.append(_pair(val))
        elif num == 2:
            locs, vals, labels = [], [], []
            for n2, w2, v2 in pbwire.fields(val):
                if n2 == 1:
                    locs.extend(pbwire.packed_varints(w2, v2))
                elif n2 == 2:
                    vals.extend(pbwire.to_signed(x) for x in pbwire.packed_varints(w2, v2))
                elif n2 == 3:
                    key = s = num_v = unit = 0
                    for n3, _, v3 in pbwire.fields(v2):
                        if n3 == 1:
                            key = v3
                        elif n3 == 2:
                            s = v3
                        elif n3 == 3:
                            num_v = pbwire.to_signed(v3)
                        elif n3 == 4:
                            unit = v3
                    labels.append((key, s, num_v, unit))
            raw_samples.append((locs, vals, labels))
        elif num == 4:
            lid, addr, lines = 0, 0, []
            for n2, _, v2 in pbwire.fields(val):
                if n2 == 1:
                    lid = v2
                elif n2 == 3:
                    addr = v2
                elif n2 == 4:
                    fid = line = 0
                    for n3, _, v3 in pbwire.fields(v2):
                        if n3 == 1:
                            fid = v3
                        elif n3 == 2:
                            line = pbwire.to_signed(v3)
                    lines.append((fid, line))
            locations[lid] = (addr, lines)
        elif num == 5:
            fid = name = filename = 0
            for n2, _, v2 in pbwire.fields(val):
                if n2 == 1:
                    fid = v2
                elif n2 == 2:
                    name = v2
                elif n2 == 4:
                    filename = v2
            functions[fid] = (name, filename)
        elif num == 6:
            strings.append(val.decode("utf-8", "replace"))
        elif num == 9:
            p.time_nanos = pbwire.to_signed(val)
        elif num == 10:
            p.duration_nanos = pbwire.to_signed(val)
        elif num == 11:
            period_type = _pair(val)
        elif num == 12:
            p.period = pbwire.to_signed(val)
        elif num == 14:
            default_type = val

    def s(i):
        return strings[i] if 0 <= i < len(strings) else f"<bad string {i}>"

    p.sample_types = [f"{s(t)}/{s(u)}" for t, u in types]
    p.default_sample_type = s(default_type) if default_type else ""
    if period_type:
        p.period_type = f"{s(period_type[0])}/{s(period_type[1])}"
    frame_cache = {}

    def frames(lid):
        if lid not in frame_cache:
            addr, lines = locations.get(lid, (0, []))
            if not lines:
                frame_cache[lid] = [(f"0x{addr:x}", f"0x{addr:x}")]
            else:
                out = []
                for fid, line in reversed(lines):  # lines[0] is the innermost frame
                    name, filename = functions.get(fid, (0, 0))
                    out.append((s(name), f"{s(name)}@{s(filename)}:{line}"))
                frame_cache[lid] = out
        return frame_cache[lid]

    for locs, vals, labels in raw_samples:
        fr = [f for lid in reversed(locs) for f in frames(lid)]  # pprof stacks are leaf first
        lab = {}
        for key, sv, nv, unit in labels:
            lab.setdefault(s(key), []).append(s(sv) if sv else (nv, s(unit) if unit else ""))
        names = ";".join(n for n, _ in fr)
        detail = ";".join(d for _, d in fr) + "|" + ",".join(
            f"{k}={v}" for k in sorted(lab) for v in lab[k])
        vals = (vals + [0] * len(p.sample_types))[: len(p.sample_types)]
        p.samples.append(Sample(names, detail, lab, vals))
    return p


def fold(p, type_unit):
    """{names: summed value} of one sample type, zeros left out; {} when p lacks the type."""
    if type_unit not in p.sample_types:
        return {}
    i = p.index(type_unit)
    out = {}
    for smp in p.samples:
        out[smp.names] = out.get(smp.names, 0) + smp.values[i]
    return {k: v for k, v in out.items() if v}


def fold_all(p):
    return {t: fold(p, t) for t in p.sample_types}


def add_folds(a, b, sign=1):
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + sign * v
    return {k: v for k, v in out.items() if v}


def is_cumulative_type(type_unit):
    return type_unit.split("/")[0] in CUMULATIVE_TYPES


def delta(prev, cur):
    """The per-interval profile profcol must emit for `cur` after `prev`, as folds per
    sample type ({type_unit: {names: value}}), or None when `cur` only re-baselines
    (a series decreased, or the sample types changed)."""
    if prev is None or prev.sample_types != cur.sample_types:
        return None
    cols = [i for i, t in enumerate(cur.sample_types) if is_cumulative_type(t)]
    if not cols:
        return fold_all(cur)

    def totals(p):
        out = {}
        for smp in p.samples:
            t = out.setdefault(smp.detail, [0] * len(cols))
            for j, c in enumerate(cols):
                t[j] += smp.values[c]
        return out

    old, new = totals(prev), totals(cur)
    names_of = {smp.detail: smp.names for smp in cur.samples}
    for key, t in new.items():
        o = old.get(key)
        if o is not None and any(a < b for a, b in zip(t, o)):
            return None
    result = {}
    for i, t in enumerate(cur.sample_types):
        f = {}
        if i in cols:
            j = cols.index(i)
            for key, tot in new.items():
                d = tot[j] - old.get(key, [0] * len(cols))[j]
                if d:
                    f[names_of[key]] = f.get(names_of[key], 0) + d
        else:
            for smp in cur.samples:
                f[smp.names] = f.get(smp.names, 0) + smp.values[i]
        result[t] = {k: v for k, v in f.items() if v}
    return result
