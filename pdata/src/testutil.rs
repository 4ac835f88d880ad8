//! Test-only builder for pprof profiles from readable parts.

use crate::pprof::{Function, Label, Line, Location, Mapping, Profile, Sample, ValueType};
use crate::wire::put_key;
use std::collections::HashMap;
use std::path::PathBuf;

/// `(name, constant, wire type, bytes)`: a field-number constant and the
/// prost encoding of a `$msg` whose field `$field` alone is set, for
/// [`assert_constants_are_tags`].
macro_rules! tag_case {
    ($c:ident, $wt:ident, $msg:ident, $field:ident: $v:expr) => {
        (stringify!($c), $c, $wt, {
            // A no-op on the one-field messages (`Stack`, `AnyValue`).
            #[allow(clippy::needless_update)]
            let message = $msg {
                $field: $v,
                ..Default::default()
            };
            message.encode_to_vec()
        })
    };
}
pub(crate) use tag_case;

/// `T::default()`, short enough for the tables of [`tag_case!`] values.
pub(crate) fn d<T: Default>() -> T {
    T::default()
}

/// Every constant against prost: a message with that one field set encodes
/// as the constant's key (field number and wire type) first.
pub(crate) fn assert_constants_are_tags(cases: &[(&str, u32, u8, Vec<u8>)]) {
    for (name, field, wire_type, encoded) in cases {
        let mut key = Vec::new();
        put_key(&mut key, *field, *wire_type);
        assert!(
            encoded.starts_with(&key),
            "{name}: prost wrote {encoded:02x?}, the constant says {key:02x?}"
        );
    }
}

/// The real profiles in `testdata/` (`*.pb.gz`), as (path, bytes), sorted.
pub(crate) fn corpus() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".pb.gz"))
        .map(|p| {
            let body = std::fs::read(&p).unwrap();
            (p, body)
        })
        .collect();
    out.sort();
    assert!(out.len() >= 6);
    out
}

/// Builds a profile: strings, functions and locations are interned, so equal
/// frames share ids. Location ids can be offset to mimic a target that
/// renumbers them on every scrape.
pub(crate) struct Builder {
    pub p: Profile,
    strings: HashMap<String, i64>,
    functions: HashMap<String, u64>,
    locations: HashMap<Vec<String>, u64>,
    id_offset: u64,
}

impl Builder {
    pub fn new(types: &[(&str, &str)]) -> Self {
        let mut b = Builder {
            p: Profile::default(),
            strings: HashMap::new(),
            functions: HashMap::new(),
            locations: HashMap::new(),
            id_offset: 0,
        };
        b.s("");
        for (t, u) in types {
            let vt = ValueType {
                r#type: b.s(t),
                unit: b.s(u),
            };
            b.p.sample_type.push(vt);
        }
        let fname = b.s("/bin/app");
        let build = b.s("abc123");
        b.p.mapping.push(Mapping {
            id: 1,
            memory_start: 0x1000,
            memory_limit: 0x9000,
            file_offset: 0,
            filename: fname,
            build_id: build,
            has_functions: true,
            has_filenames: true,
            has_line_numbers: true,
            has_inline_frames: false,
        });
        b
    }

    pub fn with_id_offset(mut self, off: u64) -> Self {
        self.id_offset = off;
        self
    }

    pub fn s(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.strings.get(s) {
            return i;
        }
        let i = self.p.string_table.len() as i64;
        self.p.string_table.push(s.to_string());
        self.strings.insert(s.to_string(), i);
        i
    }

    fn func(&mut self, name: &str) -> u64 {
        if let Some(&id) = self.functions.get(name) {
            return id;
        }
        let id = self.p.function.len() as u64 + 1 + self.id_offset;
        let n = self.s(name);
        let f = self.s(&format!("{name}.go"));
        self.p.function.push(Function {
            id,
            name: n,
            system_name: n,
            filename: f,
            start_line: 1,
        });
        self.functions.insert(name.to_string(), id);
        id
    }

    /// A location; several names (innermost first) make an inlined frame.
    fn loc(&mut self, frame: &str) -> u64 {
        let names: Vec<String> = frame.split('+').map(str::to_string).collect();
        if let Some(&id) = self.locations.get(&names) {
            return id;
        }
        let id = self.p.location.len() as u64 + 1 + self.id_offset;
        let lines = names
            .iter()
            .enumerate()
            .map(|(i, n)| Line {
                function_id: self.func(n),
                line: 10 + i as i64,
                column: 0,
            })
            .collect();
        self.p.location.push(Location {
            id,
            mapping_id: 1,
            address: 0x1000 + id * 16,
            line: lines,
            is_folded: false,
        });
        self.locations.insert(names, id);
        id
    }

    /// Adds a sample; `stack` is leaf first, `a+b` is an inlined frame.
    pub fn sample(&mut self, stack: &[&str], labels: &[(&str, &str)], values: &[i64]) -> &mut Self {
        let location_id = stack.iter().map(|f| self.loc(f)).collect();
        let label = labels
            .iter()
            .map(|(k, v)| {
                let key = self.s(k);
                match v.parse::<i64>() {
                    Ok(num) => Label {
                        key,
                        str: 0,
                        num,
                        num_unit: self.s("bytes"),
                    },
                    Err(_) => Label {
                        key,
                        str: self.s(v),
                        num: 0,
                        num_unit: 0,
                    },
                }
            })
            .collect();
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

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

pub(crate) fn small() -> Profile {
    Profile {
        sample_type: vec![ValueType { r#type: 1, unit: 2 }],
        sample: vec![Sample {
            location_id: vec![1, 2],
            value: vec![7],
            label: vec![],
        }],
        mapping: vec![Mapping {
            id: 1,
            filename: 5,
            ..Default::default()
        }],
        location: vec![
            Location {
                id: 1,
                mapping_id: 1,
                address: 0x10,
                line: vec![Line {
                    function_id: 1,
                    line: 3,
                    column: 0,
                }],
                is_folded: false,
            },
            Location {
                id: 2,
                mapping_id: 0,
                address: 0x20,
                line: vec![Line {
                    function_id: 2,
                    line: 9,
                    column: 0,
                }],
                is_folded: false,
            },
        ],
        function: vec![
            Function {
                id: 1,
                name: 3,
                system_name: 3,
                filename: 4,
                start_line: 1,
            },
            Function {
                id: 2,
                name: 6,
                system_name: 6,
                filename: 4,
                start_line: 1,
            },
        ],
        string_table: strings(&[
            "", "samples", "count", "leaf", "main.go", "/bin/app", "main",
        ]),
        ..Default::default()
    }
}
