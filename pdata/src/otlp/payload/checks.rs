//! The checks a received request must pass, on the request decoded by
//! prost: every dictionary index in range, counts within [`OtlpLimits`].
//! The verdict and the error of record; [`wire_check`](super::wire_check)
//! only finds the requests that pass them without decoding.

use super::OtlpLimits;
use crate::otlp::collector::ExportProfilesServiceRequest;
use crate::otlp::proto;
use crate::Error;

/// What a checked request holds.
pub(crate) struct Counts {
    pub(crate) profiles: usize,
    pub(crate) samples: usize,
}

fn in_range(table: &'static str, index: i32, len: usize) -> Result<(), Error> {
    if index >= 0 && (index as usize) < len {
        Ok(())
    } else {
        Err(Error::OtlpIndex {
            table,
            index: index.into(),
            len,
        })
    }
}

/// Every index in range, counts within limits. Index 0 of an empty table is
/// allowed only where the proto says 0 means "unset" (a link, a mapping).
pub(crate) fn check(
    req: &ExportProfilesServiceRequest,
    limits: &OtlpLimits,
) -> Result<Counts, Error> {
    let empty = proto::ProfilesDictionary::default();
    let has_profiles = req
        .resource_profiles
        .iter()
        .flat_map(|r| &r.scope_profiles)
        .any(|s| !s.profiles.is_empty());
    let dict = match &req.dictionary {
        Some(d) => d,
        None if has_profiles => {
            return Err(Error::InvalidOtlp(
                "the request has profiles but no dictionary".into(),
            ))
        }
        None => &empty,
    };
    let strings = dict.string_table.len().max(1);
    let attr = |i: i32| in_range("attribute_table", i, dict.attribute_table.len());
    let string = |i: i32| in_range("string_table", i, strings);
    for a in &dict.attribute_table {
        string(a.key_strindex)?;
        string(a.unit_strindex)?;
    }
    for f in &dict.function_table {
        string(f.name_strindex)?;
        string(f.system_name_strindex)?;
        string(f.filename_strindex)?;
    }
    for m in &dict.mapping_table {
        string(m.filename_strindex)?;
        m.attribute_indices.iter().try_for_each(|&i| attr(i))?;
    }
    for l in &dict.location_table {
        if l.mapping_index != 0 {
            in_range("mapping_table", l.mapping_index, dict.mapping_table.len())?;
        }
        for line in &l.lines {
            in_range(
                "function_table",
                line.function_index,
                dict.function_table.len(),
            )?;
        }
        l.attribute_indices.iter().try_for_each(|&i| attr(i))?;
    }
    for s in &dict.stack_table {
        for &i in &s.location_indices {
            in_range("location_table", i, dict.location_table.len())?;
        }
    }
    let mut counts = Counts {
        profiles: 0,
        samples: 0,
    };
    for p in req
        .resource_profiles
        .iter()
        .flat_map(|r| &r.scope_profiles)
        .flat_map(|s| &s.profiles)
    {
        counts.profiles += 1;
        counts.samples += p.samples.len();
        if counts.profiles > limits.max_profiles {
            return Err(Error::TooMany {
                what: "OTLP profiles",
                count: counts.profiles,
                limit: limits.max_profiles,
            });
        }
        if counts.samples > limits.max_samples {
            return Err(Error::TooMany {
                what: "OTLP samples",
                count: counts.samples,
                limit: limits.max_samples,
            });
        }
        for vt in p.sample_type.iter().chain(p.period_type.iter()) {
            string(vt.type_strindex)?;
            string(vt.unit_strindex)?;
        }
        p.attribute_indices.iter().try_for_each(|&i| attr(i))?;
        for s in &p.samples {
            in_range("stack_table", s.stack_index, dict.stack_table.len().max(1))?;
            s.attribute_indices.iter().try_for_each(|&i| attr(i))?;
            if s.link_index != 0 {
                in_range("link_table", s.link_index, dict.link_table.len())?;
            }
        }
    }
    Ok(counts)
}
