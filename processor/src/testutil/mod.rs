//! Profiles, records and OTLP payloads for this crate's tests.

pub mod sized;

use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
use profcol_pdata::otlp::{to_otlp_bytes, OtlpLimits, OtlpPayload};
use profcol_pdata::pprof::{Function, Label, Line, Location, Profile, Sample, ValueType};
use profcol_pdata::{Labels, ProfileRecord};
use std::collections::HashMap;
use std::sync::Arc;

/// Builds a pprof profile: one function and location per frame name.
pub(crate) struct Builder {
    pub p: Profile,
    strings: HashMap<String, i64>,
    frames: HashMap<String, u64>,
}

impl Builder {
    pub fn new(types: &[(&str, &str)]) -> Self {
        let mut b = Self {
            p: Profile {
                string_table: vec![String::new()],
                ..Default::default()
            },
            strings: HashMap::from([(String::new(), 0)]),
            frames: HashMap::new(),
        };
        for (t, u) in types {
            let vt = ValueType {
                r#type: b.s(t),
                unit: b.s(u),
            };
            b.p.sample_type.push(vt);
        }
        b.p.time_nanos = 1_700_000_000_000_000_000;
        b.p.duration_nanos = 10_000_000_000;
        b
    }

    pub fn s(&mut self, x: &str) -> i64 {
        if let Some(&i) = self.strings.get(x) {
            return i;
        }
        let i = self.p.string_table.len() as i64;
        self.p.string_table.push(x.to_string());
        self.strings.insert(x.to_string(), i);
        i
    }

    fn frame(&mut self, name: &str) -> u64 {
        if let Some(&id) = self.frames.get(name) {
            return id;
        }
        let id = self.frames.len() as u64 + 1;
        let n = self.s(name);
        self.p.function.push(Function {
            id,
            name: n,
            system_name: n,
            filename: 0,
            start_line: 0,
        });
        self.p.location.push(Location {
            id,
            line: vec![Line {
                function_id: id,
                line: 1,
                column: 0,
            }],
            ..Default::default()
        });
        self.frames.insert(name.to_string(), id);
        id
    }

    /// A sample with string labels.
    pub fn sample(
        &mut self,
        frames: &[&str],
        labels: &[(&str, &str)],
        values: &[i64],
    ) -> &mut Self {
        let labels: Vec<Label> = labels
            .iter()
            .map(|(k, v)| Label {
                key: self.s(k),
                str: self.s(v),
                num: 0,
                num_unit: 0,
            })
            .collect();
        self.sample_with(frames, labels, values)
    }

    /// A sample with a numeric label (`key`, `num`, `unit`) next to string
    /// ones.
    pub fn num_sample(
        &mut self,
        frames: &[&str],
        labels: &[(&str, &str)],
        num: (&str, i64, &str),
        values: &[i64],
    ) -> &mut Self {
        let mut ls: Vec<Label> = labels
            .iter()
            .map(|(k, v)| Label {
                key: self.s(k),
                str: self.s(v),
                num: 0,
                num_unit: 0,
            })
            .collect();
        ls.push(Label {
            key: self.s(num.0),
            str: 0,
            num: num.1,
            num_unit: self.s(num.2),
        });
        self.sample_with(frames, ls, values)
    }

    fn sample_with(&mut self, frames: &[&str], label: Vec<Label>, values: &[i64]) -> &mut Self {
        let location_id = frames.iter().map(|f| self.frame(f)).collect();
        self.p.sample.push(Sample {
            location_id,
            value: values.to_vec(),
            label,
        });
        self
    }

    pub fn build(&self) -> Profile {
        self.p.clone()
    }
}

pub(crate) fn record(labels: &[(&str, &str)], p: &Profile) -> ProfileRecord {
    ProfileRecord::from_profile(Labels::from_pairs(labels.iter().copied()), p).unwrap()
}

/// A Go-like CPU profile: two sample types, labelled samples.
pub(crate) fn cpu() -> Profile {
    let mut b = Builder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
    b.sample(
        &["work", "main"],
        &[("handler", "/api"), ("user", "alice")],
        &[3, 30],
    )
    .sample(&["idle", "main"], &[], &[1, 10])
    .sample(&["work", "main"], &[("handler", "/health")], &[2, 20]);
    b.build()
}

pub(crate) fn payload(records: &[ProfileRecord]) -> Arc<OtlpPayload> {
    Arc::new(
        OtlpPayload::from_bytes(to_otlp_bytes(records).into(), &OtlpLimits::default()).unwrap(),
    )
}

pub(crate) fn request(p: &OtlpPayload) -> ExportProfilesServiceRequest {
    let req = p.request().unwrap();
    profcol_pdata::otlp::resolve_string_refs(&req).into_owned()
}

/// Every sample's labels as (key, value) text, numeric ones as
/// `num unit`.
pub(crate) fn sample_labels(r: &ProfileRecord) -> Vec<Vec<(String, String)>> {
    let p = r.profile();
    let s = |i: i64| p.string_table[i as usize].clone();
    p.sample
        .iter()
        .map(|smp| {
            smp.label
                .iter()
                .map(|l| {
                    let v = if l.str != 0 {
                        s(l.str)
                    } else {
                        format!("{} {}", l.num, s(l.num_unit))
                    };
                    (s(l.key), v)
                })
                .collect()
        })
        .collect()
}
