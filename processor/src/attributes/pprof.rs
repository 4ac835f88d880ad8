//! The `attributes` processor on a pprof record: its samples' labels are the
//! sample attributes. A string label is a string attribute, a numeric label
//! an int attribute with `num_unit` as its unit; labels repeating a key are
//! one array attribute (as the OTLP writer makes them). Each distinct label
//! set is edited once. When no set changed, the record is passed on as it
//! came (its served bytes still forwarded as they are); otherwise the
//! profile is decoded, its labels replaced and encoded again — the values
//! are read through the delta overlay, so a delta stays a delta.
//!
//! Written back, an int is a numeric label (keeping the unit), a string a
//! string label, a double or bool its text in a string label (pprof labels
//! carry nothing else), an array one label per element, a map its JSON.

use crate::actions::{Actions, Attr, Attrs, Value};
use crate::attributes::matching::{ProfileVerdict, Selector};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue};
use profcol_pdata::pprof::{Label, SampleBuf};
use profcol_pdata::{Error as DataError, PprofData, ProfileRecord};
use std::collections::HashMap;
use std::sync::Arc;

/// Reads a label set as attributes; `s` gives a string by index.
pub(crate) fn label_attrs<'a>(labels: &[Label], s: impl Fn(i64) -> &'a str) -> Attrs {
    let mut attrs = Attrs::default();
    for l in labels {
        let key = s(l.key);
        let (value, unit) = if l.str != 0 {
            (Value::Str(s(l.str).to_string()), "")
        } else {
            (Value::Int(l.num), s(l.num_unit))
        };
        match attrs.0.iter_mut().find(|a| a.key == key) {
            Some(a) => {
                // A repeated key: the values become one array.
                let prev = std::mem::replace(&mut a.value, Value::Other(AnyValue::default()));
                let mut values = match prev {
                    Value::Other(AnyValue {
                        value: Some(any_value::Value::ArrayValue(arr)),
                    }) => arr.values,
                    v => vec![v.to_any()],
                };
                values.push(value.to_any());
                a.value = Value::Other(AnyValue {
                    value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
                });
            }
            None => attrs.0.push(Attr {
                key: key.to_string(),
                value,
                unit: unit.to_string(),
            }),
        }
    }
    attrs
}

/// The string table of a profile being rewritten, with new strings
/// appended once.
struct Strings<'a> {
    table: &'a mut Vec<String>,
    index: HashMap<String, i64>,
}

impl<'a> Strings<'a> {
    fn new(table: &'a mut Vec<String>) -> Self {
        let index = table
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i as i64))
            .collect();
        Self { table, index }
    }

    fn get(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

fn label_of(key: i64, v: &Value, unit: i64, strings: &mut Strings<'_>, out: &mut Vec<Label>) {
    match v {
        Value::Int(n) => out.push(Label {
            key,
            str: 0,
            num: *n,
            num_unit: unit,
        }),
        Value::Other(AnyValue {
            value: Some(any_value::Value::ArrayValue(arr)),
        }) => {
            for item in &arr.values {
                label_of(key, &Value::from_any(item), unit, strings, out);
            }
        }
        v => out.push(Label {
            key,
            str: strings.get(&v.as_string()),
            num: 0,
            num_unit: 0,
        }),
    }
}

fn attrs_labels(attrs: &Attrs, strings: &mut Strings<'_>) -> Vec<Label> {
    let mut out = Vec::with_capacity(attrs.len());
    for a in &attrs.0 {
        let key = strings.get(&a.key);
        let unit = if a.unit.is_empty() {
            0
        } else {
            strings.get(&a.unit)
        };
        label_of(key, &a.value, unit, strings, &mut out);
    }
    out
}

/// Edits the sample labels of `rec`; true when the record changed.
pub(crate) fn edit_record(
    rec: &mut ProfileRecord,
    actions: &Actions,
    selector: &Selector,
    verdict: ProfileVerdict,
) -> Result<bool, DataError> {
    let (include, exclude) = match verdict {
        ProfileVerdict::SkipAll => return Ok(false),
        ProfileVerdict::All => (true, false),
        ProfileVerdict::PerSample { include, exclude } => (include, exclude),
    };
    let per_sample = !matches!(verdict, ProfileVerdict::All);
    // First pass over the view: which label sets change, and into what.
    let data = rec.pprof.clone();
    let view = data.view();
    let mut edited: HashMap<Vec<Label>, Option<Attrs>> = HashMap::new();
    let mut buf = SampleBuf::default();
    for k in 0..data.sample_count() {
        data.read_sample(k, &mut buf)?;
        if edited.contains_key(&buf.labels) {
            continue;
        }
        let mut attrs = label_attrs(&buf.labels, |i| view.str(i));
        let selected = !per_sample || selector.sample(include, exclude, &attrs);
        let result = (selected && actions.apply(&mut attrs)).then_some(attrs);
        edited.insert(buf.labels.clone(), result);
    }
    if edited.values().all(Option::is_none) {
        return Ok(false);
    }
    // Second: rewrite the decoded profile (delta values applied).
    let mut p = data.to_profile();
    let mut samples = std::mem::take(&mut p.sample);
    let mut strings = Strings::new(&mut p.string_table);
    let mut rewritten: HashMap<Vec<Label>, Vec<Label>> = HashMap::new();
    for sample in &mut samples {
        let Some(Some(attrs)) = edited.get(&sample.label) else {
            continue;
        };
        let new = rewritten
            .entry(sample.label.clone())
            .or_insert_with(|| attrs_labels(attrs, &mut strings))
            .clone();
        sample.label = new;
    }
    p.sample = samples;
    rec.pprof = Arc::new(PprofData::from_profile(&p)?);
    Ok(true)
}
