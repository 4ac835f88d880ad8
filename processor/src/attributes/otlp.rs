//! The `attributes` processor on a received OTLP request: a sample's
//! attributes are the dictionary's `attribute_table` entries its
//! `attribute_indices` name (key, typed value, unit). Each distinct index
//! list is edited once; an edited set is written back as indices of
//! existing or appended table entries (existing strings and entries are
//! reused, nothing is removed from the tables).

use crate::actions::{Actions, Attr, Attrs, Value};
use crate::attributes::matching::{ProfileFacts, ProfileVerdict, Selector};
use crate::resource::kv_attrs;
use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
use profcol_pdata::otlp::proto::{KeyValueAndUnit, ProfilesDictionary};
use prost::Message;
use std::collections::HashMap;

/// Finds or appends strings and attribute entries in a dictionary.
struct Interner<'a> {
    dict: &'a mut ProfilesDictionary,
    strings: HashMap<String, i32>,
    entries: HashMap<(i32, i32, Vec<u8>), i32>,
}

impl<'a> Interner<'a> {
    fn new(dict: &'a mut ProfilesDictionary) -> Self {
        if dict.string_table.is_empty() {
            dict.string_table.push(String::new());
        }
        if dict.attribute_table.is_empty() {
            dict.attribute_table.push(KeyValueAndUnit::default());
        }
        let mut strings = HashMap::with_capacity(dict.string_table.len());
        for (i, s) in dict.string_table.iter().enumerate() {
            strings.entry(s.clone()).or_insert(i as i32);
        }
        let mut entries = HashMap::with_capacity(dict.attribute_table.len());
        for (i, a) in dict.attribute_table.iter().enumerate() {
            let v = a
                .value
                .as_ref()
                .map(Message::encode_to_vec)
                .unwrap_or_default();
            entries
                .entry((a.key_strindex, a.unit_strindex, v))
                .or_insert(i as i32);
        }
        Self {
            dict,
            strings,
            entries,
        }
    }

    fn string(&mut self, s: &str) -> i32 {
        if let Some(&i) = self.strings.get(s) {
            return i;
        }
        let i = self.dict.string_table.len() as i32;
        self.dict.string_table.push(s.to_string());
        self.strings.insert(s.to_string(), i);
        i
    }

    fn attribute(&mut self, a: &Attr) -> i32 {
        let key = self.string(&a.key);
        let unit = if a.unit.is_empty() {
            0
        } else {
            self.string(&a.unit)
        };
        let value = a.value.to_any();
        let bytes = value.encode_to_vec();
        if let Some(&i) = self.entries.get(&(key, unit, bytes.clone())) {
            return i;
        }
        let i = self.dict.attribute_table.len() as i32;
        self.dict.attribute_table.push(KeyValueAndUnit {
            key_strindex: key,
            value: Some(value),
            unit_strindex: unit,
        });
        self.entries.insert((key, unit, bytes), i);
        i
    }

    fn attrs(&self, indices: &[i32]) -> Attrs {
        dict_attrs(self.dict, indices)
    }
}

/// The attributes `indices` name in `dict` (an index out of range is
/// skipped: the receiver checked them; a repeated key keeps its first).
pub(crate) fn dict_attrs(dict: &ProfilesDictionary, indices: &[i32]) -> Attrs {
    let s = |i: i32| {
        usize::try_from(i)
            .ok()
            .and_then(|i| dict.string_table.get(i))
            .map_or("", String::as_str)
    };
    let mut attrs = Attrs::default();
    for &i in indices {
        let Some(a) = usize::try_from(i)
            .ok()
            .and_then(|i| dict.attribute_table.get(i))
        else {
            continue;
        };
        let key = s(a.key_strindex);
        if attrs.get(key).is_some() {
            continue;
        }
        attrs.0.push(Attr {
            key: key.to_string(),
            value: a
                .value
                .as_ref()
                .map_or(Value::Other(Default::default()), Value::from_any),
            unit: s(a.unit_strindex).to_string(),
        });
    }
    attrs
}

/// Edits every selected sample's attributes in `req`; true when one
/// changed.
pub(crate) fn edit_request(
    req: &mut ExportProfilesServiceRequest,
    actions: &Actions,
    selector: &Selector,
) -> bool {
    let ExportProfilesServiceRequest {
        resource_profiles,
        dictionary,
    } = req;
    let Some(dict) = dictionary.as_mut() else {
        return false;
    };
    let mut interner = Interner::new(dict);
    // Per (index list, include, exclude, per sample): the new list, if any.
    let mut edited: HashMap<(Vec<i32>, u8), Option<Vec<i32>>> = HashMap::new();
    let mut changed = false;
    for rp in resource_profiles {
        let resource = kv_attrs(rp.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]));
        for sp in &mut rp.scope_profiles {
            let (name, version) = sp
                .scope
                .as_ref()
                .map_or(("", ""), |s| (s.name.as_str(), s.version.as_str()));
            let facts = ProfileFacts {
                resource: &resource,
                scope_name: name,
                scope_version: version,
            };
            let verdict = selector.profile(&facts);
            let (include, exclude, per_sample) = match verdict {
                ProfileVerdict::SkipAll => continue,
                ProfileVerdict::All => (true, false, false),
                ProfileVerdict::PerSample { include, exclude } => (include, exclude, true),
            };
            let flags = u8::from(include) | u8::from(exclude) << 1 | u8::from(per_sample) << 2;
            for profile in &mut sp.profiles {
                for sample in &mut profile.samples {
                    let key = (sample.attribute_indices.clone(), flags);
                    let new = edited.entry(key).or_insert_with(|| {
                        let mut attrs = interner.attrs(&sample.attribute_indices);
                        let selected = !per_sample || selector.sample(include, exclude, &attrs);
                        (selected && actions.apply(&mut attrs))
                            .then(|| attrs.0.iter().map(|a| interner.attribute(a)).collect())
                    });
                    if let Some(indices) = new {
                        sample.attribute_indices = indices.clone();
                        changed = true;
                    }
                }
            }
        }
    }
    changed
}
