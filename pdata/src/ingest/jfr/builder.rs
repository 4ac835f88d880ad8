//! Builds one pprof profile from resolved stacks: functions and locations
//! interned, identical (stack, labels) samples added up.

use crate::pprof::{Function, Label, Line, Location, Mapping, Profile, Sample, ValueType};
use std::collections::HashMap;

/// A resolved frame: its function name and line (0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame {
    pub function: String,
    pub line: i64,
}

/// The id of the one mapping every location refers to (Java frames have
/// no binary).
const MAPPING_ID: u64 = 1;

/// What makes two samples one: their locations and (key, value) string ids.
type SampleKey = (Vec<u64>, Vec<(i64, i64)>);

pub struct ProfileBuilder {
    profile: Profile,
    strings: HashMap<String, i64>,
    functions: HashMap<String, u64>,
    locations: HashMap<(u64, i64), u64>,
    samples: HashMap<SampleKey, usize>,
}

impl ProfileBuilder {
    pub fn new(
        sample_types: &[(&str, &str)],
        period_type: Option<(&str, &str)>,
        period: i64,
        time_nanos: i64,
        duration_nanos: i64,
    ) -> Self {
        let mut b = Self {
            profile: Profile {
                string_table: vec![String::new()],
                time_nanos,
                duration_nanos,
                period,
                mapping: vec![Mapping {
                    id: MAPPING_ID,
                    has_functions: true,
                    ..Default::default()
                }],
                ..Default::default()
            },
            strings: HashMap::new(),
            functions: HashMap::new(),
            locations: HashMap::new(),
            samples: HashMap::new(),
        };
        for (t, u) in sample_types {
            let vt = ValueType {
                r#type: b.string(t),
                unit: b.string(u),
            };
            b.profile.sample_type.push(vt);
        }
        if let Some((t, u)) = period_type {
            let vt = ValueType {
                r#type: b.string(t),
                unit: b.string(u),
            };
            b.profile.period_type = Some(vt);
        }
        b
    }

    fn string(&mut self, s: &str) -> i64 {
        if s.is_empty() {
            return 0;
        }
        if let Some(&i) = self.strings.get(s) {
            return i;
        }
        let i = self.profile.string_table.len() as i64;
        self.profile.string_table.push(s.to_string());
        self.strings.insert(s.to_string(), i);
        i
    }

    fn location(&mut self, frame: &Frame) -> u64 {
        let function = match self.functions.get(&frame.function) {
            Some(&id) => id,
            None => {
                let id = self.profile.function.len() as u64 + 1;
                let name = self.string(&frame.function);
                self.profile.function.push(Function {
                    id,
                    name,
                    system_name: name,
                    ..Default::default()
                });
                self.functions.insert(frame.function.clone(), id);
                id
            }
        };
        if let Some(&id) = self.locations.get(&(function, frame.line)) {
            return id;
        }
        let id = self.profile.location.len() as u64 + 1;
        self.profile.location.push(Location {
            id,
            mapping_id: MAPPING_ID,
            line: vec![Line {
                function_id: function,
                line: frame.line,
                ..Default::default()
            }],
            ..Default::default()
        });
        self.locations.insert((function, frame.line), id);
        id
    }

    /// Adds `values` for a sample with `frames` (leaf first) and `labels`.
    pub fn add(&mut self, frames: &[Frame], labels: &[(String, String)], values: &[i64]) {
        let locations: Vec<u64> = frames.iter().map(|f| self.location(f)).collect();
        let label_ids: Vec<(i64, i64)> = labels
            .iter()
            .map(|(k, v)| (self.string(k), self.string(v)))
            .collect();
        let key = (locations, label_ids);
        if let Some(&k) = self.samples.get(&key) {
            if let Some(s) = self.profile.sample.get_mut(k) {
                for (sum, v) in s.value.iter_mut().zip(values) {
                    *sum = sum.saturating_add(*v);
                }
            }
            return;
        }
        let sample = Sample {
            location_id: key.0.clone(),
            value: values.to_vec(),
            label: key
                .1
                .iter()
                .map(|&(key, str)| Label {
                    key,
                    str,
                    ..Default::default()
                })
                .collect(),
        };
        self.samples.insert(key, self.profile.sample.len());
        self.profile.sample.push(sample);
    }

    pub fn build(self) -> Profile {
        self.profile
    }
}
