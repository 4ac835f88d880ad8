//! The `filter` processor: drops profiles for which any condition holds,
//! with the Collector's keys for profiles (`config.rs`) and conditions in a
//! subset of OTTL ([`ottl`]).
//!
//! What is dropped is a whole OTLP profile — one sample type of a profile:
//! the Collector's filter has no sample context for profiles, so profcol
//! drops no single sample either (a condition may still look at samples
//! with `HasAttrOnSample`, and then drops the whole profile).
//!
//! - A pprof record is one OTLP profile per sample type: each is checked
//!   on its own. When every type matches, the record is dropped; when some
//!   do, the record keeps the others (re-encoded, its values read through
//!   the delta overlay); when none do, it passes as it came.
//! - A received OTLP request loses the matching `Profile`s, then any scope
//!   and resource left empty, and is encoded again; a request with nothing
//!   left is dropped; an untouched request passes as its bytes.
//!   `pprof.scope.sample_type_order` is renumbered for the profiles left.
//!
//! ```yaml
//! processors:
//!   filter:
//!     error_mode: ignore
//!     profile_conditions:
//!       - 'profile.sample_type.type == "goroutine"'
//!       - 'resource.attributes["service.name"] == "canary"'
//! ```

mod config;
pub mod metrics;
pub mod ottl;
mod subject;

use crate::actions::Attrs;
use crate::filter::config::{ErrorMode, Group};
use crate::filter::ottl::{eval, Subject};
use crate::otlp_edit::edit_all;
use crate::resource::{kv_attrs, resource_attrs_of};
use crate::transform::Transform;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use profcol_config::Problem;
use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
use profcol_pdata::otlp::ATTR_SCOPE_SAMPLE_TYPE_ORDER;
use profcol_pdata::{Error as DataError, PprofData, ProfileBatch};
use prometheus_client::metrics::counter::Counter;
use std::sync::Arc;
use subject::{OtlpSubject, PprofSubject};
use tracing::{debug, warn};

/// A configured `filter` processor.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterProcessor {
    id: String,
    groups: Vec<Group>,
}

/// The block as a user writes it, in the `profile_conditions` group style
/// (see `config.rs`).
impl serde::Serialize for FilterProcessor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        config::Shown(&self.groups).serialize(s)
    }
}

impl FilterProcessor {
    /// Decodes and checks a `filter` body found at `path`; `id` names the
    /// processor in logs and errors.
    pub fn parse(id: &str, body: &profcol_config::Body, path: &str) -> Result<Self, Vec<Problem>> {
        Ok(Self {
            id: id.to_string(),
            groups: config::parse(body, path)?,
        })
    }

    /// Whether some condition holds for `s`.
    fn drops(&self, s: &dyn Subject) -> Result<bool, DataError> {
        for g in &self.groups {
            for c in &g.conditions {
                match eval(&c.expr, s) {
                    Ok(true) => return Ok(true),
                    Ok(false) => {}
                    Err(e) => match g.error_mode {
                        ErrorMode::Propagate => {
                            return Err(DataError::Processing(format!(
                                "processor {}: condition `{}` failed: {e}",
                                self.id, c.text
                            )))
                        }
                        ErrorMode::Ignore => warn!(
                            component = %self.id,
                            condition = %c.text,
                            error = %e,
                            "Condition failed; counted as false (error_mode ignore)."
                        ),
                        ErrorMode::Silent => {}
                    },
                }
            }
        }
        Ok(false)
    }

    /// The sample types of a record to drop.
    fn record_drops(&self, resource: &Attrs, data: &PprofData) -> Result<Vec<bool>, DataError> {
        (0..data.header().sample_type.len())
            .map(|index| {
                self.drops(&PprofSubject {
                    resource,
                    data,
                    index,
                })
            })
            .collect()
    }

    /// Drops the matching profiles of `req`; how many it dropped.
    fn edit_request(&self, req: &mut ExportProfilesServiceRequest) -> Result<u64, DataError> {
        let ExportProfilesServiceRequest {
            resource_profiles,
            dictionary,
        } = req;
        let empty = Default::default();
        let dict = dictionary.as_ref().unwrap_or(&empty);
        let mut dropped_profiles = 0u64;
        for rp in resource_profiles.iter_mut() {
            let mut changed = false;
            let (kvs, dropped) = rp.resource.as_ref().map_or((&[][..], 0), |r| {
                (&r.attributes[..], r.dropped_attributes_count)
            });
            let resource = kv_attrs(kvs);
            for sp in &mut rp.scope_profiles {
                let scope_attrs =
                    kv_attrs(sp.scope.as_ref().map_or(&[][..], |s| &s.attributes[..]));
                let keep: Vec<bool> = sp
                    .profiles
                    .iter()
                    .map(|profile| {
                        self.drops(&OtlpSubject {
                            resource: &resource,
                            resource_dropped: dropped,
                            scope: sp.scope.as_ref(),
                            scope_attrs: &scope_attrs,
                            profile,
                            dict,
                        })
                        .map(|d| !d)
                    })
                    .collect::<Result<_, _>>()?;
                let gone = keep.iter().filter(|k| !**k).count();
                if gone == 0 {
                    continue;
                }
                changed = true;
                dropped_profiles += gone as u64;
                if let Some(scope) = &mut sp.scope {
                    renumber_order(&mut scope.attributes, &keep);
                }
                let mut i = 0;
                sp.profiles.retain(|_| {
                    i += 1;
                    keep[i - 1]
                });
            }
            if changed {
                rp.scope_profiles.retain(|sp| !sp.profiles.is_empty());
            }
        }
        if dropped_profiles > 0 {
            resource_profiles.retain(|rp| !rp.scope_profiles.is_empty());
        }
        Ok(dropped_profiles)
    }

    /// `batch` without what a condition drops, and how many OTLP profiles
    /// that was (one per sample type of a pprof record, one per `Profile`
    /// of an OTLP request).
    fn filter(&self, mut batch: ProfileBatch) -> Result<(ProfileBatch, u64), DataError> {
        if self.groups.is_empty() {
            return Ok((batch, 0));
        }
        let mut dropped = 0u64;
        let mut records = Vec::with_capacity(batch.records.len());
        for mut r in std::mem::take(&mut batch.records) {
            let resource = resource_attrs_of(&r.labels);
            let drop = self.record_drops(&resource, &r.pprof)?;
            let gone = drop.iter().filter(|d| **d).count();
            dropped += gone as u64;
            if gone == 0 {
                records.push(r);
            } else if gone < drop.len() {
                r.pprof = Arc::new(keep_sample_types(&r.pprof, &drop)?);
                records.push(r);
            }
        }
        batch.records = records;
        if !batch.otlp.is_empty() {
            batch.otlp = edit_all(std::mem::take(&mut batch.otlp), |req| {
                let gone = self.edit_request(req)?;
                dropped += gone;
                Ok(gone > 0)
            })?;
        }
        Ok((batch, dropped))
    }

    /// This filter in a pipeline, counting what it drops in `metrics`.
    pub fn counted(self, metrics: &metrics::FilterMetrics) -> CountedFilter {
        let filtered = metrics
            .profiles_filtered
            .get_or_create(&metrics::ComponentLabel {
                component: self.id.clone(),
            })
            .clone();
        CountedFilter {
            filter: self,
            filtered,
        }
    }
}

/// `pprof.scope.sample_type_order` for the profiles `keep` leaves: their
/// pprof indexes renumbered 0.. in the same order (left alone when it is
/// not one int per profile).
fn renumber_order(attrs: &mut [KeyValue], keep: &[bool]) {
    let Some(any_value::Value::ArrayValue(arr)) = attrs
        .iter_mut()
        .find(|kv| kv.key == ATTR_SCOPE_SAMPLE_TYPE_ORDER)
        .and_then(|kv| kv.value.as_mut())
        .and_then(|v| v.value.as_mut())
    else {
        return;
    };
    let ints: Option<Vec<i64>> = arr
        .values
        .iter()
        .map(|v| match v.value {
            Some(any_value::Value::IntValue(i)) => Some(i),
            _ => None,
        })
        .collect();
    let Some(ints) = ints.filter(|v| v.len() == keep.len()) else {
        return;
    };
    let kept: Vec<i64> = ints
        .iter()
        .zip(keep)
        .filter(|(_, k)| **k)
        .map(|(v, _)| *v)
        .collect();
    let mut sorted = kept.clone();
    sorted.sort_unstable();
    arr.values = kept
        .iter()
        .map(|v| opentelemetry_proto::tonic::common::v1::AnyValue {
            value: Some(any_value::Value::IntValue(
                sorted.iter().position(|s| s == v).unwrap_or(0) as i64,
            )),
        })
        .collect();
}

/// `data` with only the sample types `drop` leaves (samples left with no
/// value dropped, the default sample type cleared when it went).
fn keep_sample_types(data: &PprofData, drop: &[bool]) -> Result<PprofData, DataError> {
    let mut p = data.to_profile();
    let keep: Vec<usize> = (0..p.sample_type.len()).filter(|&i| !drop[i]).collect();
    p.sample_type = keep.iter().map(|&i| p.sample_type[i]).collect();
    for s in &mut p.sample {
        s.value = keep
            .iter()
            .map(|&i| s.value.get(i).copied().unwrap_or(0))
            .collect();
    }
    p.sample.retain(|s| s.value.iter().any(|&v| v != 0));
    if p.default_sample_type != 0
        && !p
            .sample_type
            .iter()
            .any(|t| t.r#type == p.default_sample_type)
    {
        p.default_sample_type = 0;
    }
    PprofData::from_profile(&p)
}

impl Transform for FilterProcessor {
    fn apply(&self, batch: ProfileBatch) -> Result<ProfileBatch, DataError> {
        self.filter(batch).map(|(batch, _)| batch)
    }
}

/// A [`FilterProcessor`] that counts what it drops
/// (`profcol_processor_filter_profiles_filtered_total`).
pub struct CountedFilter {
    filter: FilterProcessor,
    filtered: Counter,
}

impl Transform for CountedFilter {
    fn apply(&self, batch: ProfileBatch) -> Result<ProfileBatch, DataError> {
        let (batch, dropped) = self.filter.filter(batch)?;
        if dropped > 0 {
            self.filtered.inc_by(dropped);
            debug!(component = %self.filter.id, dropped, kept = batch.len(), "Profiles dropped.");
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests;
