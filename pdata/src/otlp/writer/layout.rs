//! The request around the samples: records grouped by resource, every
//! message's length computed before its body is written (the writer
//! streams), and the fields of each profile that follow its samples, all
//! as prost writes them (fields in tag order, defaults left out).

use super::Converted;
use crate::labels::Labels;
use crate::otlp::conventions::{resource, resource_labels};
use crate::otlp::convert::ProfileHead;
use crate::otlp::dict::DictBuilder;
use crate::otlp::fields::{
    PROFILE_ATTRIBUTE_INDICES, PROFILE_DURATION_NANO, PROFILE_PERIOD, PROFILE_PERIOD_TYPE,
    PROFILE_TIME_UNIX_NANO, VALUE_TYPE_TYPE_STRINDEX, VALUE_TYPE_UNIT_STRINDEX,
};
use crate::otlp::proto;
use crate::pprof;
use crate::wire::{
    i32_varint, len_field_size, put_key, put_varint, put_varint_field, varint_len, FIXED64, LEN,
};
use prost::Message;
use std::collections::HashMap;

/// Records by resource attributes (one `ResourceProfiles` each), in order
/// of first appearance.
pub(super) fn resource_groups(records: &[Converted]) -> Vec<(Labels, Vec<usize>)> {
    let mut groups: Vec<(Labels, Vec<usize>)> = Vec::new();
    let mut by_labels: HashMap<Labels, usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        let attributes = resource_labels(&r.labels);
        match by_labels.get(&attributes) {
            Some(&g) => {
                if let Some(group) = groups.get_mut(g) {
                    group.1.push(i);
                }
            }
            None => {
                by_labels.insert(attributes.clone(), groups.len());
                groups.push((attributes, vec![i]));
            }
        }
    }
    groups
}

/// The lengths of every message that is written before its body.
pub(super) struct Plan {
    /// Per resource group: the `ResourceProfiles` body.
    pub(super) group_lens: Vec<usize>,
    /// Per record, in output order: its `ScopeProfiles` body.
    pub(super) scope_lens: Vec<usize>,
    /// Every profile body, in output order.
    pub(super) profile_lens: Vec<usize>,
    /// The whole request.
    pub(super) total: usize,
}

pub(super) fn plan(
    records: &[Converted],
    groups: &[(Labels, Vec<usize>)],
    dict: &DictBuilder,
) -> Plan {
    let mut plan = Plan {
        group_lens: Vec::with_capacity(groups.len()),
        scope_lens: Vec::with_capacity(records.len()),
        profile_lens: Vec::new(),
        total: len_field_size(dict.encoded_len()),
    };
    for (labels, members) in groups {
        let mut rp = len_field_size(resource(labels).encoded_len());
        for c in members.iter().filter_map(|&i| records.get(i)) {
            let mut sp = len_field_size(c.scope.len());
            for (t, vt) in c.head.sample_types.iter().enumerate() {
                let len = value_type_len(vt) + c.samples.size(t) + c.trailer.len();
                plan.profile_lens.push(len);
                sp += len_field_size(len);
            }
            plan.scope_lens.push(sp);
            rp += len_field_size(sp);
        }
        plan.group_lens.push(rp);
        plan.total += len_field_size(rp);
    }
    plan
}

/// The encoded size of a `ValueType` body.
pub(super) fn value_type_body_len(vt: &proto::ValueType) -> usize {
    let (t, u) = (i32_varint(vt.type_strindex), i32_varint(vt.unit_strindex));
    (if t != 0 { 1 + varint_len(t) } else { 0 }) + if u != 0 { 1 + varint_len(u) } else { 0 }
}

/// The encoded size of a `ValueType` field (one-byte key).
pub(super) fn value_type_len(vt: &proto::ValueType) -> usize {
    len_field_size(value_type_body_len(vt))
}

pub(super) fn value_type(out: &mut Vec<u8>, field: u32, vt: &proto::ValueType) {
    put_key(out, field, LEN);
    put_varint(out, value_type_body_len(vt) as u64);
    put_varint_field(out, VALUE_TYPE_TYPE_STRINDEX, i32_varint(vt.type_strindex));
    put_varint_field(out, VALUE_TYPE_UNIT_STRINDEX, i32_varint(vt.unit_strindex));
}

pub(super) fn packed_i32s(out: &mut Vec<u8>, field: u32, xs: &[i32]) {
    if xs.is_empty() {
        return;
    }
    let len: usize = xs.iter().map(|&x| varint_len(i32_varint(x))).sum();
    put_key(out, field, LEN);
    put_varint(out, len as u64);
    for &x in xs {
        put_varint(out, i32_varint(x));
    }
}

/// What follows the samples in each of a record's profiles (the same for
/// every sample type), field by field in tag order, defaults left out, as
/// prost writes them.
pub(super) fn profile_trailer(h: &pprof::Profile, head: &ProfileHead) -> Vec<u8> {
    let mut out = Vec::new();
    let time = u64::try_from(h.time_nanos).unwrap_or(0);
    if time != 0 {
        put_key(&mut out, PROFILE_TIME_UNIX_NANO, FIXED64);
        out.extend_from_slice(&time.to_le_bytes());
    }
    put_varint_field(
        &mut out,
        PROFILE_DURATION_NANO,
        u64::try_from(h.duration_nanos).unwrap_or(0),
    );
    if let Some(pt) = &head.period_type {
        value_type(&mut out, PROFILE_PERIOD_TYPE, pt);
    }
    put_varint_field(&mut out, PROFILE_PERIOD, h.period as u64);
    packed_i32s(&mut out, PROFILE_ATTRIBUTE_INDICES, &head.attributes);
    out.shrink_to_fit();
    out
}
