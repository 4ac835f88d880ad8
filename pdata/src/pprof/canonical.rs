//! `Canonical`: a view of a pprof profile with every id and string index
//! resolved, so two profiles can be compared for meaning regardless of how
//! their tables are numbered or ordered. Used by round-trip tests and by
//! anyone who needs "is this the same profile?".

use crate::pprof;
use crate::pprof::ids::IdMap;

/// A resolved pprof profile; equal when the profiles say the same thing
/// sample by sample (in sample order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canonical {
    pub sample_types: Vec<(String, String)>,
    pub period_type: Option<(String, String)>,
    pub period: i64,
    pub time_nanos: i64,
    pub duration_nanos: i64,
    pub comments: Vec<String>,
    pub drop_frames: String,
    pub keep_frames: String,
    pub doc_url: String,
    pub default_sample_type: String,
    pub samples: Vec<CanonicalSample>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CanonicalSample {
    /// Leaf first.
    pub stack: Vec<CanonicalLocation>,
    /// (key, string value, number, unit).
    pub labels: Vec<Label>,
    pub values: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CanonicalLocation {
    pub mapping: Option<CanonicalMapping>,
    pub address: u64,
    pub is_folded: bool,
    /// Innermost first: (name, system name, file, start line, line, column).
    pub lines: Vec<(String, String, String, i64, i64, i64)>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CanonicalMapping {
    pub memory_start: u64,
    pub memory_limit: u64,
    pub file_offset: u64,
    pub filename: String,
    pub build_id: String,
    /// has_functions, has_filenames, has_line_numbers, has_inline_frames.
    pub flags: [bool; 4],
}

impl Canonical {
    /// The profile as OTLP profiles carry it (DESIGN.md §5), to compare a
    /// pprof with its round trip: each sample's labels in key order (values
    /// of one key keep theirs), samples with equal stack and labels
    /// combined (values summed), all-zero samples dropped, samples sorted.
    pub fn normalized(mut self) -> Canonical {
        let mut samples = std::mem::take(&mut self.samples);
        for s in &mut samples {
            s.labels.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let mut combined: Vec<CanonicalSample> = Vec::with_capacity(samples.len());
        let mut at: std::collections::HashMap<(Vec<CanonicalLocation>, Vec<Label>), usize> =
            std::collections::HashMap::new();
        for s in samples {
            let key = (s.stack.clone(), s.labels.clone());
            match at.get(&key) {
                Some(&i) => {
                    if let Some(c) = combined.get_mut(i) {
                        for (sum, v) in c.values.iter_mut().zip(&s.values) {
                            *sum = sum.wrapping_add(*v);
                        }
                    }
                }
                None => {
                    at.insert(key, combined.len());
                    combined.push(s);
                }
            }
        }
        combined.retain(|s| s.values.iter().any(|&v| v != 0));
        combined.sort();
        self.samples = combined;
        self
    }
}

/// A resolved label: (key, string value, number, unit).
type Label = (String, String, i64, String);

/// Resolves `p`. Dangling references resolve to nothing (a missing mapping
/// is `None`, a missing function an empty line entry, a missing location
/// an empty frame).
pub fn canonical(p: &pprof::Profile) -> Canonical {
    let s = |i: i64| p.str(i).to_string();
    let vt = |v: &pprof::ValueType| (s(v.r#type), s(v.unit));
    let functions = IdMap::build(p.function.iter().map(|f| f.id));
    let mappings = IdMap::build(p.mapping.iter().map(|m| m.id));
    let locations = IdMap::build(p.location.iter().map(|l| l.id));
    let mapping = |id: u64| {
        let m = mappings.get(id).and_then(|i| p.mapping.get(i))?;
        Some(CanonicalMapping {
            memory_start: m.memory_start,
            memory_limit: m.memory_limit,
            file_offset: m.file_offset,
            filename: s(m.filename),
            build_id: s(m.build_id),
            flags: [
                m.has_functions,
                m.has_filenames,
                m.has_line_numbers,
                m.has_inline_frames,
            ],
        })
    };
    let location = |id: u64| {
        let Some(l) = locations.get(id).and_then(|i| p.location.get(i)) else {
            return CanonicalLocation {
                mapping: None,
                address: 0,
                is_folded: false,
                lines: Vec::new(),
            };
        };
        CanonicalLocation {
            mapping: if l.mapping_id == 0 {
                None
            } else {
                mapping(l.mapping_id)
            },
            address: l.address,
            is_folded: l.is_folded,
            lines: l
                .line
                .iter()
                .map(|line| {
                    let f = functions
                        .get(line.function_id)
                        .and_then(|i| p.function.get(i));
                    (
                        f.map_or_else(String::new, |f| s(f.name)),
                        f.map_or_else(String::new, |f| s(f.system_name)),
                        f.map_or_else(String::new, |f| s(f.filename)),
                        f.map_or(0, |f| f.start_line),
                        line.line,
                        line.column,
                    )
                })
                .collect(),
        }
    };
    Canonical {
        sample_types: p.sample_type.iter().map(vt).collect(),
        period_type: p.period_type.as_ref().map(vt),
        period: p.period,
        time_nanos: p.time_nanos,
        duration_nanos: p.duration_nanos,
        comments: p.comment.iter().map(|&c| s(c)).collect(),
        drop_frames: s(p.drop_frames),
        keep_frames: s(p.keep_frames),
        doc_url: s(p.doc_url),
        default_sample_type: s(p.default_sample_type),
        samples: p
            .sample
            .iter()
            .map(|smp| CanonicalSample {
                stack: smp.location_id.iter().map(|&id| location(id)).collect(),
                labels: smp
                    .label
                    .iter()
                    .map(|l| (s(l.key), s(l.str), l.num, s(l.num_unit)))
                    .collect(),
                values: smp.value.clone(),
            })
            .collect(),
    }
}
