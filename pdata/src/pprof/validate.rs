//! The checks that make a decoded profile safe to convert: table sizes under
//! the [`DecodeLimits`], string indexes in range, one value per sample type,
//! every referenced id defined (0 means "none" for mapping and function
//! references). [`PprofView`](crate::pprof::PprofView) runs them on every
//! body it decodes, so every accessor is total afterwards; the writer checks
//! samples one by one with the [`SampleChecker`] as it converts them.

use crate::pprof;
use crate::pprof::ids::IdMap;
use crate::pprof::tables::Tables;
use crate::pprof::DecodeLimits;
use crate::Error;

/// Checks everything but the samples themselves (whose count is
/// `n_samples`): table sizes, string indexes, ids. The strings are given
/// apart from the tables so that the view and the test oracle's decoded
/// profile share this. Returns the checker for the samples.
pub(crate) fn validate_tables(
    t: &impl Tables,
    first_string: Option<&str>,
    n_strings: usize,
    n_samples: usize,
    limits: &DecodeLimits,
) -> Result<SampleChecker, Error> {
    let p = t.profile();
    check_count("samples", n_samples, limits.max_samples)?;
    check_count("locations", t.location_count(), limits.max_locations)?;
    check_count("functions", t.function_count(), limits.max_functions)?;
    check_count("strings", n_strings, limits.max_strings)?;
    if p.sample_type.is_empty() {
        return Err(Error::NoSampleTypes);
    }
    if let Some(first) = first_string {
        if !first.is_empty() {
            return Err(Error::StringTableStart(first.to_string()));
        }
    }
    let strings = Strings(n_strings);
    for vt in &p.sample_type {
        strings.check("sample_type.type", vt.r#type)?;
        strings.check("sample_type.unit", vt.unit)?;
    }
    if let Some(vt) = &p.period_type {
        strings.check("period_type.type", vt.r#type)?;
        strings.check("period_type.unit", vt.unit)?;
    }
    for &c in &p.comment {
        strings.check("comment", c)?;
    }
    strings.check("drop_frames", p.drop_frames)?;
    strings.check("keep_frames", p.keep_frames)?;
    strings.check("default_sample_type", p.default_sample_type)?;
    strings.check("doc_url", p.doc_url)?;

    for m in &p.mapping {
        if m.id == 0 {
            return Err(Error::ZeroId { kind: "mapping" });
        }
        strings.check("mapping.filename", m.filename)?;
        strings.check("mapping.build_id", m.build_id)?;
    }
    for f in (0..t.function_count()).filter_map(|i| t.function(i)) {
        if f.id == 0 {
            return Err(Error::ZeroId { kind: "function" });
        }
        strings.check("function.name", f.name)?;
        strings.check("function.system_name", f.system_name)?;
        strings.check("function.filename", f.filename)?;
    }
    let mappings = IdMap::build(p.mapping.iter().map(|m| m.id));
    let functions = t.function_ids();
    let mut lines = Vec::new();
    for pos in 0..t.location_count() {
        let Some(l) = t.location(pos, &mut lines) else {
            continue;
        };
        if l.id == 0 {
            return Err(Error::ZeroId { kind: "location" });
        }
        if l.mapping_id != 0 && mappings.get(l.mapping_id).is_none() {
            return Err(Error::MissingId {
                kind: "mapping",
                id: l.mapping_id,
            });
        }
        for line in &lines {
            if line.function_id != 0 && functions.get(line.function_id).is_none() {
                return Err(Error::MissingId {
                    kind: "function",
                    id: line.function_id,
                });
            }
        }
    }
    Ok(SampleChecker {
        strings,
        want: p.sample_type.len(),
        max_labels: limits.max_labels_per_sample,
    })
}

/// Checks one sample against the tables [`validate_tables`] accepted.
pub(crate) struct SampleChecker {
    strings: Strings,
    want: usize,
    max_labels: usize,
}

impl SampleChecker {
    /// Sample `i` has `n` values: one per sample type?
    #[inline]
    pub(crate) fn check_values(&self, i: usize, n: usize) -> Result<(), Error> {
        if n != self.want {
            return Err(Error::ValueCount {
                sample: i,
                got: n,
                want: self.want,
            });
        }
        Ok(())
    }

    /// A sample has `n` labels: within the limit?
    #[inline]
    pub(crate) fn check_label_count(&self, n: usize) -> Result<(), Error> {
        check_count("labels on one sample", n, self.max_labels)
    }

    /// A label's string indexes are in range?
    #[inline]
    pub(crate) fn check_label(&self, l: &pprof::Label) -> Result<(), Error> {
        self.strings.check("label.key", l.key)?;
        self.strings.check("label.str", l.str)?;
        self.strings.check("label.num_unit", l.num_unit)
    }
}

fn check_count(what: &'static str, count: usize, limit: usize) -> Result<(), Error> {
    if count > limit {
        return Err(Error::TooMany { what, count, limit });
    }
    Ok(())
}

/// Bounds for string indexes; index 0 is always allowed (it means "").
struct Strings(usize);

impl Strings {
    #[inline]
    fn check(&self, field: &'static str, index: i64) -> Result<(), Error> {
        if index == 0 || (index > 0 && (index as u64) < self.0 as u64) {
            Ok(())
        } else {
            Err(Error::StringIndex {
                field,
                index,
                len: self.0,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::pprof::{decode_pprof, encode_pprof, DecodeLimits, Profile, ValueType};
    use crate::testutil::small;
    use crate::Error;

    #[test]
    fn validation_failures() {
        let l = DecodeLimits::default();
        let check = |f: &dyn Fn(&mut Profile)| {
            let mut p = small();
            f(&mut p);
            decode_pprof(&encode_pprof(&p), &l).unwrap_err()
        };
        assert!(matches!(
            check(&|p| p.sample_type.clear()),
            Error::NoSampleTypes
        ));
        assert!(matches!(
            check(&|p| p.string_table[0] = "x".into()),
            Error::StringTableStart(_)
        ));
        assert!(matches!(
            check(&|p| p.function[0].name = 99),
            Error::StringIndex {
                field: "function.name",
                index: 99,
                ..
            }
        ));
        assert!(matches!(
            check(&|p| p.sample[0].value.push(1)),
            Error::ValueCount {
                got: 2,
                want: 1,
                ..
            }
        ));
        assert!(matches!(
            check(&|p| p.sample[0].location_id.push(42)),
            Error::MissingId {
                kind: "location",
                id: 42
            }
        ));
        assert!(matches!(
            check(&|p| p.location[0].line[0].function_id = 5),
            Error::MissingId {
                kind: "function",
                id: 5
            }
        ));
        assert!(matches!(
            check(&|p| p.location[1].mapping_id = 3),
            Error::MissingId {
                kind: "mapping",
                id: 3
            }
        ));
        assert!(matches!(
            check(&|p| p.location[0].id = 0),
            Error::ZeroId { .. }
        ));
        assert!(matches!(
            check(&|p| p.period_type = Some(ValueType {
                r#type: -1,
                unit: 0
            })),
            Error::StringIndex { index: -1, .. }
        ));
        let tight = DecodeLimits {
            max_samples: 0,
            ..Default::default()
        };
        assert!(matches!(
            decode_pprof(&encode_pprof(&small()), &tight),
            Err(Error::TooMany {
                what: "samples",
                count: 1,
                limit: 0
            })
        ));
    }

    #[test]
    fn labels_per_sample_are_capped() {
        let mut p = small();
        p.string_table.push("k".into());
        let k = (p.string_table.len() - 1) as i64;
        p.sample[0].label = (0..3)
            .map(|i| crate::pprof::Label {
                key: k,
                num: i,
                ..Default::default()
            })
            .collect();
        let tight = DecodeLimits {
            max_labels_per_sample: 2,
            ..Default::default()
        };
        let err = decode_pprof(&encode_pprof(&p), &tight).unwrap_err();
        assert_eq!(
            err.to_string(),
            "profile has 3 labels on one sample, more than the limit of 2"
        );
        p.sample[0].label.pop();
        assert!(decode_pprof(&encode_pprof(&p), &tight).is_ok());
    }

    #[test]
    fn duplicate_ids_are_tolerated() {
        let mut p = small();
        let dup = p.location[1].clone();
        p.location.push(dup);
        assert!(decode_pprof(&encode_pprof(&p), &DecodeLimits::default()).is_ok());
    }
}
