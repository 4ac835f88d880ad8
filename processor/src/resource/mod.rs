//! The `resource` processor: the Collector's resource processor for
//! profiles. Its `attributes` list of actions ([`crate::actions`]) edits
//! each profile's resource attributes: a pprof record's labels (see
//! `labels.rs` for how labels and attributes correspond) and each
//! `ResourceProfiles.resource` of a received OTLP request (typed values
//! kept; the request is encoded again only when an action changed it).
//!
//! ```yaml
//! processors:
//!   resource:
//!     attributes:
//!       - { key: deployment.environment, value: production, action: upsert }
//!       - { key: pod, action: delete }
//! ```

mod labels;

use crate::actions::{ActionConfig, Actions, Attr, Attrs, Value};
use crate::otlp_edit::edit_all;
use crate::transform::Transform;
use labels::{resource_attrs, write_resource_attrs};

/// A pprof record's resource attributes (its labels, `service_name` as
/// `service.name`).
pub(crate) use labels::resource_attrs as resource_attrs_of;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use profcol_config::{decode_only, join_path, Problem};
use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
use profcol_pdata::{Error as DataError, ProfileBatch};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct ResourceConfig {
    #[serde(default)]
    attributes: Vec<ActionConfig>,
}

/// A configured `resource` processor; serialized as the block a user
/// writes (`attributes`, the list of actions).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceProcessor {
    #[serde(rename = "attributes")]
    actions: Actions,
}

impl ResourceProcessor {
    /// Decodes and checks a `resource` body found at `path`.
    pub fn parse(body: &profcol_config::Body, path: &str) -> Result<Self, Vec<Problem>> {
        let cfg: ResourceConfig = decode_only(body, path).map_err(|p| vec![p])?;
        if cfg.attributes.is_empty() {
            return Err(vec![Problem::new(
                join_path(path, "attributes"),
                "is required: the list of actions on resource attributes",
            )]);
        }
        let actions = Actions::compile(&cfg.attributes, &join_path(path, "attributes"))?;
        Ok(Self { actions })
    }

    /// Applies the actions to every resource of `req`; true when one changed.
    fn edit_request(&self, req: &mut ExportProfilesServiceRequest) -> bool {
        let mut changed = false;
        for rp in &mut req.resource_profiles {
            let kvs = rp.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
            let mut attrs = kv_attrs(kvs);
            if self.actions.apply(&mut attrs) {
                rp.resource.get_or_insert_with(Default::default).attributes = attrs_kvs(&attrs);
                changed = true;
            }
        }
        changed
    }
}

/// OTLP key-values as an attribute set (the first of a repeated key wins,
/// as the Collector reads them).
pub(crate) fn kv_attrs(kvs: &[KeyValue]) -> Attrs {
    let mut attrs = Attrs::default();
    for kv in kvs {
        if attrs.get(&kv.key).is_none() {
            attrs.0.push(Attr {
                key: kv.key.clone(),
                value: kv
                    .value
                    .as_ref()
                    .map_or(Value::Other(Default::default()), Value::from_any),
                unit: String::new(),
            });
        }
    }
    attrs
}

pub(crate) fn attrs_kvs(attrs: &Attrs) -> Vec<KeyValue> {
    attrs
        .0
        .iter()
        .map(|a| KeyValue {
            key: a.key.clone(),
            value: Some(a.value.to_any()),
            ..Default::default()
        })
        .collect()
}

impl Transform for ResourceProcessor {
    fn apply(&self, mut batch: ProfileBatch) -> Result<ProfileBatch, DataError> {
        for r in &mut batch.records {
            let mut attrs = resource_attrs(&r.labels);
            if self.actions.apply(&mut attrs) {
                write_resource_attrs(&mut r.labels, &attrs);
            }
        }
        if !batch.otlp.is_empty() {
            batch.otlp = edit_all(std::mem::take(&mut batch.otlp), |req| {
                Ok(self.edit_request(req))
            })?;
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests;
