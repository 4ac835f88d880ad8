//! Collapsed stacks, the text formats of `/ingest`, turned into a pprof
//! profile:
//! - `folded` (Pyroscope's `groups`, the default): one `root;…;leaf count`
//!   per line, the count after the last space;
//! - `lines`: one `root;…;leaf` per line, each line counting 1.
//!
//! Identical stacks add up; blank lines are skipped, as are stacks whose
//! count is 0. Frames are split at `;` (empty frames are dropped). The
//! profile gets one sample type; each distinct frame becomes one function
//! and one location.

use crate::pprof::{Function, Line, Location, Profile, Sample, ValueType};
use std::collections::HashMap;
use std::fmt;

/// Which text format a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// `stack count` per line.
    Folded,
    /// `stack` per line.
    Lines,
}

/// Why a text body does not parse, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldedError {
    pub line: usize,
    pub problem: String,
}

impl fmt::Display for FoldedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

impl std::error::Error for FoldedError {}

/// Distinct stacks (root first, frames joined by `;` as sent) and their
/// summed counts, in first-seen order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stacks {
    pub stacks: Vec<(String, i64)>,
}

impl Stacks {
    pub fn is_empty(&self) -> bool {
        self.stacks.is_empty()
    }
}

/// The first bytes of a line, for messages.
fn quote(line: &str) -> String {
    super::name::clip(line)
}

/// Parses a text body.
pub fn parse(body: &[u8], format: TextFormat) -> Result<Stacks, FoldedError> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut out = Stacks::default();
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let err = |problem: String| FoldedError {
            line: line_no,
            problem,
        };
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = std::str::from_utf8(raw).map_err(|_| {
            err("is not UTF-8 text (a binary body such as pprof needs format=pprof)".into())
        })?;
        let line = line.trim_end();
        if line.trim_start().is_empty() {
            continue;
        }
        let (stack, count) = match format {
            TextFormat::Lines => (line, 1),
            TextFormat::Folded => {
                let (stack, count) = line.rsplit_once(' ').ok_or_else(|| {
                    err(format!(
                        "{:?} has no count (expected \"frame;frame;… count\")",
                        quote(line)
                    ))
                })?;
                let count: i64 = count.parse().map_err(|_| {
                    err(format!(
                        "the count {:?} is not a whole number",
                        quote(count)
                    ))
                })?;
                if count < 0 {
                    return Err(err(format!("the count {count} is negative")));
                }
                (stack, count)
            }
        };
        if stack.split(';').all(|f| f.trim().is_empty()) {
            return Err(err("the stack has no frames".into()));
        }
        if count == 0 {
            continue;
        }
        match index.get(stack) {
            Some(&k) => {
                if let Some(slot) = out.stacks.get_mut(k) {
                    slot.1 = slot.1.saturating_add(count);
                }
            }
            None => {
                index.insert(stack, out.stacks.len());
                out.stacks.push((stack.to_string(), count));
            }
        }
    }
    Ok(out)
}

/// The shape of the profile built from stacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub sample_type: String,
    pub unit: String,
    /// Each count is multiplied by this (the sampling period for CPU).
    pub scale: i64,
    /// `period_type` (type, unit) and `period`, when sampled.
    pub period: Option<(String, String, i64)>,
    pub time_nanos: i64,
    pub duration_nanos: i64,
}

struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Self {
        Self {
            table: vec![String::new()],
            index: HashMap::new(),
        }
    }

    fn id(&mut self, s: &str) -> i64 {
        if s.is_empty() {
            return 0;
        }
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

/// A pprof profile of `stacks`: one sample per stack, leaf first.
pub fn to_profile(stacks: &Stacks, shape: &Shape) -> Profile {
    let mut strings = Strings::new();
    let sample_type = vec![ValueType {
        r#type: strings.id(&shape.sample_type),
        unit: strings.id(&shape.unit),
    }];
    let period_type = shape.period.as_ref().map(|(t, u, _)| ValueType {
        r#type: strings.id(t),
        unit: strings.id(u),
    });
    let mut frames: HashMap<String, u64> = HashMap::new();
    let mut function = Vec::new();
    let mut location = Vec::new();
    let mut sample = Vec::with_capacity(stacks.stacks.len());
    for (stack, count) in &stacks.stacks {
        let mut ids: Vec<u64> = Vec::new();
        for frame in stack.split(';').map(str::trim).filter(|f| !f.is_empty()) {
            let id = match frames.get(frame) {
                Some(&id) => id,
                None => {
                    let id = frames.len() as u64 + 1;
                    let name = strings.id(frame);
                    function.push(Function {
                        id,
                        name,
                        system_name: name,
                        ..Default::default()
                    });
                    location.push(Location {
                        id,
                        line: vec![Line {
                            function_id: id,
                            ..Default::default()
                        }],
                        ..Default::default()
                    });
                    frames.insert(frame.to_string(), id);
                    id
                }
            };
            ids.push(id);
        }
        ids.reverse();
        sample.push(Sample {
            location_id: ids,
            value: vec![count.saturating_mul(shape.scale)],
            label: vec![],
        });
    }
    Profile {
        sample_type,
        sample,
        location,
        function,
        string_table: strings.table,
        time_nanos: shape.time_nanos,
        duration_nanos: shape.duration_nanos,
        period_type,
        period: shape.period.as_ref().map_or(0, |p| p.2),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stacks(pairs: &[(&str, i64)]) -> Stacks {
        Stacks {
            stacks: pairs.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
        }
    }

    #[test]
    fn folded_lines_add_up() {
        let body = b"main;work;parse 10\r\nmain;idle 3\n\nmain;work;parse 5\nmain;zero 0\nmain;with space;x 2\n";
        let got = parse(body, TextFormat::Folded).unwrap();
        assert_eq!(
            got,
            stacks(&[
                ("main;work;parse", 15),
                ("main;idle", 3),
                ("main;with space;x", 2)
            ])
        );
    }

    #[test]
    fn lines_count_one_each() {
        let got = parse(b"a;b\na;c\na;b\n\n", TextFormat::Lines).unwrap();
        assert_eq!(got, stacks(&[("a;b", 2), ("a;c", 1)]));
        assert!(parse(b"", TextFormat::Lines).unwrap().is_empty());
    }

    #[test]
    fn refusals_name_the_line() {
        for (body, want) in [
            (&b"a;b 1\nnocount\n"[..], "line 2: \"nocount\" has no count"),
            (b"a;b x1", "line 1: the count \"x1\" is not a whole number"),
            (b"a;b -1", "line 1: the count -1 is negative"),
            (b"a 1\n; 4", "line 2: the stack has no frames"),
            (b"\x1f\x8b\x08\x00 1", "line 1: is not UTF-8 text"),
        ] {
            let e = parse(body, TextFormat::Folded).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e} vs {want}");
        }
    }

    #[test]
    fn builds_a_valid_profile_leaf_first() {
        let s = stacks(&[("main;work;parse", 15), ("main;idle", 3), ("main;;work", 1)]);
        let shape = Shape {
            sample_type: "cpu".into(),
            unit: "nanoseconds".into(),
            scale: 10_000_000,
            period: Some(("cpu".into(), "nanoseconds".into(), 10_000_000)),
            time_nanos: 1_700_000_000_000_000_000,
            duration_nanos: 10_000_000_000,
        };
        let p = to_profile(&s, &shape);
        let data = crate::PprofData::from_profile(&p).unwrap();
        let folded = crate::pprof::folded_pprof(&data.to_profile());
        assert_eq!(
            folded,
            vec![
                "cpu/nanoseconds;main;idle 30000000".to_string(),
                "cpu/nanoseconds;main;work 10000000".to_string(),
                "cpu/nanoseconds;main;work;parse 150000000".to_string(),
            ]
        );
        assert_eq!(p.period, 10_000_000);
        assert_eq!(p.str(p.period_type.unwrap().r#type), "cpu");
        assert_eq!(p.time_nanos, 1_700_000_000_000_000_000);
        assert_eq!(p.function.len(), 4);
    }
}
