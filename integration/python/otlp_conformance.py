#!/usr/bin/env python3
"""Conformance of OTLP profiles requests with the spec and the pprof semantic conventions.

Reads requests with the upstream Python stubs (opentelemetry-proto 1.45.2, the
`v1development` profiles messages of opentelemetry-proto v1.10.0) and checks what
profiles.proto and the semantic conventions (model/pprof) ask of a pprof -> OTLP
writer. Each rule has a short name; `check_request` returns (rule, detail) pairs for
every violation it finds, so a suite can report per rule:

  no_internal_resource_keys  no resource attribute key starts with `__` (`__name__`,
                             `__delta__` are Pyroscope push labels, never OTLP attributes)
  unique_sample_keys         attribute keys are unique within one sample's attribute_indices
  scope_per_pprof            one ScopeProfiles per original pprof: its profiles share one
                             time and duration, have distinct sample types, and the scope
                             carries `pprof.scope.sample_type_order`, an int array with one
                             distinct index per profile ("the indexes of the sample types in
                             the original profile"); when the caller knows the original
                             pprof's sample types (expect_pprof), profile i must have the
                             sample type at index order[i]
  scope_default_sample_type  `pprof.scope.default_sample_type`, when present, is a string
                             naming one of the scope's sample types; when the caller knows the
                             original pprof had one (expect_pprof), it must be present and equal
  no_profile_default_attr    the default sample type is no profile attribute
                             (`pprof.profile.default_sample_type` is no convention)
  no_zero_samples            no sample whose values are all zero (or that has neither
                             values nor timestamps)
  unique_sample_identity     no two samples of one profile with the same identity: stack
                             (its locations), attributes (resolved, order ignored) and link
  window_not_after_receipt   time_unix_nano + duration_nano is not after the moment the
                             request was received (time_unix_nano is the window's start)
  trace_labels_are_links     no sample attribute `span_id` / `trace_id` (pprof labels that
                             are trace context belong in link_table), and every link_index
                             points at a Link with a 16-byte trace_id and an 8-byte span_id
  dictionary_indices         every index is inside its table (so the rest can be checked)

Usage: otlp_conformance.py FILE.pb [RECEIVED_UNIX_NANO]...   (prints violations; exit 1 if any)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import itvenv as _venv  # noqa: E402

_venv.ensure()
from opentelemetry.proto.collector.profiles.v1development import (  # noqa: E402
    profiles_service_pb2 as svc_pb2,
)
from otlp_receiver import any_value, kv_key  # noqa: E402  (one decoding of attributes)

RULES = (
    "no_internal_resource_keys",
    "unique_sample_keys",
    "scope_per_pprof",
    "scope_default_sample_type",
    "no_profile_default_attr",
    "no_zero_samples",
    "unique_sample_identity",
    "window_not_after_receipt",
    "trace_labels_are_links",
    "dictionary_indices",
)

SCOPE_DEFAULT = "pprof.scope.default_sample_type"
SCOPE_ORDER = "pprof.scope.sample_type_order"
PROFILE_DEFAULT_NONCONVENTION = "pprof.profile.default_sample_type"
TRACE_LABEL_KEYS = ("span_id", "trace_id")
MAX_PER_RULE = 5  # details kept per rule and request; the count is always complete


def value_kind(v):
    """The AnyValue kind, a dictionary-referenced string counting as a string."""
    k = v.WhichOneof("value")
    return "string_value" if k == "string_value_strindex" else k


class Violations:
    def __init__(self):
        self.by_rule = {}  # rule -> [count, [details]]

    def add(self, rule, detail):
        e = self.by_rule.setdefault(rule, [0, []])
        e[0] += 1
        if len(e[1]) < MAX_PER_RULE:
            e[1].append(detail)

    def items(self):
        for rule, (n, details) in self.by_rule.items():
            yield rule, n, details


def check_request(req, received_unix_nano=None, expect_pprof=None):
    """Checks one ExportProfilesServiceRequest.

    received_unix_nano: when the request arrived (window_not_after_receipt is skipped
    without it). expect_pprof(resource_attrs, [(type, unit) of the scope's profiles])
    -> None | {"default": str | None, "sample_types": ["type/unit", ...]}: an optional
    callback describing the original pprof a scope came from (its default sample type's
    name, e.g. "alloc_space", or None when it had none; its sample types in order), or
    None when unknown.
    Returns a Violations."""
    v = Violations()
    d = req.dictionary
    strings = d.string_table

    def s(i, what):
        if 0 <= i < len(strings):
            return strings[i]
        v.add("dictionary_indices", f"{what}: string index {i} out of range ({len(strings)})")
        return None

    def entry(table, i, what):
        t = getattr(d, table)
        if 0 <= i < len(t):
            return t[i]
        v.add("dictionary_indices", f"{what}: index {i} out of range for {table} ({len(t)})")
        return None

    def attr(i, what):
        a = entry("attribute_table", i, what)
        if a is None:
            return None
        return (s(a.key_strindex, f"{what} key"), repr(any_value(a.value, strings)),
                s(a.unit_strindex, f"{what} unit") if a.unit_strindex else "")

    for ri, rp in enumerate(req.resource_profiles):
        res = {kv_key(kv, strings): any_value(kv.value, strings) for kv in rp.resource.attributes}
        internal = sorted(k for k in res if k.startswith("__"))
        if internal:
            v.add("no_internal_resource_keys", f"resource {ri} ({res.get('service.name')}): {internal}")
        for si, sp in enumerate(rp.scope_profiles):
            where = f"resource {ri} ({res.get('service.name')}, {res.get('__name__', '')}) scope {si}"
            scope_attrs = {kv_key(kv, strings): kv.value for kv in sp.scope.attributes}
            profiles = list(sp.profiles)
            types = []
            for p in profiles:
                types.append((s(p.sample_type.type_strindex, "sample_type.type"),
                              s(p.sample_type.unit_strindex, "sample_type.unit")))
            windows = sorted({(p.time_unix_nano, p.duration_nano) for p in profiles})
            if len(windows) > 1:
                v.add("scope_per_pprof", f"{where}: {len(profiles)} profiles of {len(windows)} "
                      f"different windows (time, duration) in one scope, e.g. {windows[:3]}")
            if len(set(types)) != len(types):
                dup = sorted({t for t in types if types.count(t) > 1})
                v.add("scope_per_pprof", f"{where}: sample types repeated in one scope: {dup}")
            orig = expect_pprof(res, types) if expect_pprof is not None else None
            order = scope_attrs.get(SCOPE_ORDER)
            if order is None:
                v.add("scope_per_pprof", f"{where}: no scope attribute {SCOPE_ORDER}")
            elif value_kind(order) != "array_value" or any(
                    value_kind(x) != "int_value" for x in order.array_value.values):
                v.add("scope_per_pprof", f"{where}: {SCOPE_ORDER} is not an int array: "
                      f"{any_value(order, strings)!r}")
            else:
                ints = [x.int_value for x in order.array_value.values]
                if len(ints) != len(profiles) or len(set(ints)) != len(ints) or any(i < 0 for i in ints):
                    v.add("scope_per_pprof", f"{where}: {SCOPE_ORDER} {ints} is not one distinct "
                          f"index per profile of the scope ({len(profiles)} profiles)")
                elif orig and orig.get("sample_types") is not None:
                    st = orig["sample_types"]
                    got = [f"{t}/{u}" for t, u in types]
                    want = [st[i] if i < len(st) else f"<index {i} out of {len(st)}>" for i in ints]
                    if got != want:
                        v.add("scope_per_pprof", f"{where}: {SCOPE_ORDER} {ints} says the profiles are "
                              f"{want} of the original {st}, they are {got}")
            default = scope_attrs.get(SCOPE_DEFAULT)
            if default is not None:
                if value_kind(default) != "string_value":
                    v.add("scope_default_sample_type", f"{where}: {SCOPE_DEFAULT} is not a string: "
                          f"{any_value(default, strings)!r}")
                elif any_value(default, strings) not in {t for t, _ in types}:
                    v.add("scope_default_sample_type", f"{where}: {SCOPE_DEFAULT} "
                          f"{any_value(default, strings)!r} names none of the scope's sample types "
                          f"{sorted({t for t, _ in types})}")
            if orig:
                want = orig.get("default")
                if want not in (None, Ellipsis) and default is None:
                    v.add("scope_default_sample_type", f"{where}: the pprof had default_sample_type "
                          f"{want!r}, the scope has no {SCOPE_DEFAULT}")
                elif want not in (None, Ellipsis) and value_kind(default) == "string_value" \
                        and any_value(default, strings) != want:
                    v.add("scope_default_sample_type", f"{where}: {SCOPE_DEFAULT} is "
                          f"{any_value(default, strings)!r}, the pprof had {want!r}")
            for pi, p in enumerate(profiles):
                pwhere = f"{where} profile {pi} ({types[pi][0]}/{types[pi][1]})"
                pattrs = [attr(i, "profile attribute") for i in p.attribute_indices]
                if any(a and a[0] == PROFILE_DEFAULT_NONCONVENTION for a in pattrs):
                    v.add("no_profile_default_attr", f"{pwhere}: profile attribute "
                          f"{PROFILE_DEFAULT_NONCONVENTION} (the convention is the scope's {SCOPE_DEFAULT})")
                if received_unix_nano is not None and p.time_unix_nano + p.duration_nano > received_unix_nano:
                    ahead = (p.time_unix_nano + p.duration_nano - received_unix_nano) / 1e9
                    v.add("window_not_after_receipt", f"{pwhere}: time {p.time_unix_nano} + duration "
                          f"{p.duration_nano} ends {ahead:.3f}s after the request was received")
                seen = {}
                for xi, smp in enumerate(p.samples):
                    swhere = f"{pwhere} sample {xi}"
                    if (not smp.values and not smp.timestamps_unix_nano) or (
                            smp.values and all(x == 0 for x in smp.values)):
                        v.add("no_zero_samples", f"{swhere}: values {list(smp.values)}, "
                              f"{len(smp.timestamps_unix_nano)} timestamps")
                    attrs = [attr(i, "sample attribute") for i in smp.attribute_indices]
                    keys = [a[0] for a in attrs if a]
                    dups = sorted({k for k in keys if keys.count(k) > 1})
                    if dups:
                        v.add("unique_sample_keys", f"{swhere}: keys repeated {dups} in "
                              f"{[a for a in attrs if a and a[0] in dups]}")
                    trace = sorted({k for k in keys if k in TRACE_LABEL_KEYS})
                    if trace:
                        v.add("trace_labels_are_links", f"{swhere}: sample attributes {trace} "
                              f"(trace context belongs in link_table, via link_index)")
                    link = None
                    if smp.link_index:
                        ln = entry("link_table", smp.link_index, f"{swhere} link_index")
                        if ln is not None:
                            link = (bytes(ln.trace_id).hex(), bytes(ln.span_id).hex())
                            if len(ln.trace_id) != 16 or len(ln.span_id) != 8 \
                                    or not any(ln.trace_id) or not any(ln.span_id):
                                v.add("trace_labels_are_links", f"{swhere}: link {link} is not a "
                                      f"16-byte trace_id + 8-byte span_id")
                    st = entry("stack_table", smp.stack_index, f"{swhere} stack_index")
                    stack = tuple(st.location_indices) if st is not None else None
                    ident = (stack, tuple(sorted(a for a in attrs if a)), link)
                    if ident in seen:
                        v.add("unique_sample_identity", f"{swhere}: same stack, attributes and link "
                              f"as sample {seen[ident]}")
                    else:
                        seen[ident] = xi
    return v


def links_of(req):
    """[(resource attrs, sample type "type/unit", folded stack, (trace_id hex, span_id hex))]
    for every sample with a link: lets a suite check that the links carry the labels'
    values."""
    d = req.dictionary
    out = []
    for rp in req.resource_profiles:
        res = {kv_key(kv, d.string_table): any_value(kv.value, d.string_table) for kv in rp.resource.attributes}
        for sp in rp.scope_profiles:
            for p in sp.profiles:
                st = f"{d.string_table[p.sample_type.type_strindex]}/{d.string_table[p.sample_type.unit_strindex]}"
                for smp in p.samples:
                    if not smp.link_index or smp.link_index >= len(d.link_table):
                        continue
                    ln = d.link_table[smp.link_index]
                    out.append((res, st, smp.stack_index, (bytes(ln.trace_id).hex(), bytes(ln.span_id).hex())))
    return out


def check_recorded(records, expect_pprof=None):
    """Checks every request the OTLP sink saved (its {"request_file", "received_unix_nano"}
    lines, see otlp_receiver.py --save-requests). Returns (number of requests,
    {rule: (violations, requests with violations, first details)}, links_of of all)."""
    totals, links, n = {}, [], 0
    for r in records:
        if "request_file" not in r:
            continue
        n += 1
        req = load(r["request_file"])
        for rule, count, details in check_request(req, r.get("received_unix_nano"), expect_pprof).items():
            e = totals.setdefault(rule, [0, 0, []])
            e[0] += count
            e[1] += 1
            e[2].extend(details[: max(0, 3 - len(e[2]))])
        links.extend(links_of(req))
    return n, {k: tuple(v) for k, v in totals.items()}, links


def load(path):
    req = svc_pb2.ExportProfilesServiceRequest()
    with open(path, "rb") as f:
        req.ParseFromString(f.read())
    return req


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    bad = 0
    i = 0
    while i < len(argv):
        path = argv[i]
        received = None
        if i + 1 < len(argv) and argv[i + 1].isdigit():
            received = int(argv[i + 1])
            i += 1
        i += 1
        for rule, n, details in check_request(load(path), received).items():
            bad += n
            print(f"{path}: {rule}: {n} violation(s)")
            for det in details:
                print(f"    {det}")
    print(f"{bad} violation(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
