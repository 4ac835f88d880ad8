//! Builds profcol's own pprof profiles (CPU and heap) from stacks of raw
//! addresses: names them with [`super::symbols`] and interns strings,
//! functions and locations (one location per address, one line each).

use super::symbols;
use profcol_pdata::pprof::{Function, Line, Location, Profile, Sample, ValueType};
use std::collections::HashMap;
use std::sync::Arc;

/// Interns strings, functions and locations while building the profile.
pub struct Builder {
    pub profile: Profile,
    strings: HashMap<String, i64>,
    functions: HashMap<i64, u64>,
    locations: HashMap<usize, u64>,
}

impl Builder {
    /// An empty profile with `sample_types` (type, unit) and `period_type`.
    pub fn new(sample_types: &[(&str, &str)], period_type: (&str, &str), period: i64) -> Self {
        let mut b = Self {
            profile: Profile::default(),
            strings: HashMap::new(),
            functions: HashMap::new(),
            locations: HashMap::new(),
        };
        b.string("");
        let types = sample_types
            .iter()
            .map(|(t, u)| ValueType {
                r#type: b.string(t),
                unit: b.string(u),
            })
            .collect();
        b.profile.sample_type = types;
        b.profile.period_type = Some(ValueType {
            r#type: b.string(period_type.0),
            unit: b.string(period_type.1),
        });
        b.profile.period = period;
        b
    }

    fn string(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.strings.get(s) {
            return i;
        }
        let i = self.profile.string_table.len() as i64;
        self.profile.string_table.push(s.to_string());
        self.strings.insert(s.to_string(), i);
        i
    }

    fn function(&mut self, name: &str) -> u64 {
        let name = self.string(name);
        let next = self.profile.function.len() as u64 + 1;
        *self.functions.entry(name).or_insert_with(|| {
            self.profile.function.push(Function {
                id: next,
                name,
                system_name: name,
                filename: 0,
                start_line: 0,
            });
            next
        })
    }

    fn location(&mut self, address: usize, name: &str) -> u64 {
        if let Some(&id) = self.locations.get(&address) {
            return id;
        }
        let function_id = self.function(name);
        let id = self.profile.location.len() as u64 + 1;
        self.profile.location.push(Location {
            id,
            address: address as u64,
            line: vec![Line {
                function_id,
                line: 0,
                column: 0,
            }],
            ..Default::default()
        });
        self.locations.insert(address, id);
        id
    }

    /// Adds one sample; `leaf_first` are the looked-up addresses (see
    /// [`symbols::lookup_address`]) and `names` their names.
    pub fn sample(
        &mut self,
        leaf_first: &[usize],
        names: &HashMap<usize, Arc<str>>,
        value: Vec<i64>,
    ) {
        let location_id = leaf_first
            .iter()
            .map(|&a| {
                let name = names.get(&a).map_or("?", |n| n.as_ref());
                self.location(a, name)
            })
            .collect();
        self.profile.sample.push(Sample {
            location_id,
            value,
            label: Vec::new(),
        });
    }
}

impl Builder {
    /// Adds one sample whose stack is made of named frames without an
    /// address (leaf first).
    pub fn sample_named(&mut self, leaf_first: &[&str], value: Vec<i64>) {
        let location_id = leaf_first
            .iter()
            .map(|name| {
                let function_id = self.function(name);
                let id = self.profile.location.len() as u64 + 1;
                self.profile.location.push(Location {
                    id,
                    line: vec![Line {
                        function_id,
                        line: 0,
                        column: 0,
                    }],
                    ..Default::default()
                });
                id
            })
            .collect();
        self.profile.sample.push(Sample {
            location_id,
            value,
            label: Vec::new(),
        });
    }
}

/// Resolves every address of `stacks` (leaf first) at once.
pub fn names_of(stacks: &[Vec<usize>]) -> HashMap<usize, Arc<str>> {
    symbols::resolve(stacks.iter().flatten().copied())
}
