//! The `attributes` processor: the Collector's attributes processor keys
//! (`actions`, `include`, `exclude`) applied to the attributes of each
//! **sample** — a pprof record's sample labels (`pprof.rs`) and a received
//! OTLP request's sample `attribute_indices` (`otlp.rs`). The Collector's
//! processor edits the attributes of the OTLP `Profile` message itself;
//! profcol edits samples because that is where pprof labels (Go's
//! `pprof.Do` labels, span ids, the SDKs' tags) live: profcol's profiles
//! carry only the `pprof.profile.*` conventions as profile attributes.
//!
//! `include`/`exclude` (`matching.rs`) select what is edited: resources,
//! services and libraries per profile, `attributes` per sample.
//!
//! ```yaml
//! processors:
//!   attributes:
//!     include: { match_type: strict, services: [checkout] }
//!     actions:
//!       - { key: user, action: hash }
//!       - { key: handler, from_attribute: http.route, action: insert }
//! ```

pub(crate) mod matching;
pub(crate) mod otlp;
pub(crate) mod pprof;

use crate::actions::{ActionConfig, Actions};
use crate::otlp_edit::edit_all;
use crate::resource::resource_attrs_of;
use crate::transform::Transform;
use matching::{MatchConfig, Matcher, ProfileFacts, Selector};
use profcol_config::{decode_only, join_path, Problem};
use profcol_pdata::otlp::SCOPE_NAME;
use profcol_pdata::{Error as DataError, ProfileBatch};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct AttributesConfig {
    #[serde(default)]
    actions: Vec<ActionConfig>,
    #[serde(default)]
    include: Option<MatchConfig>,
    #[serde(default)]
    exclude: Option<MatchConfig>,
}

/// A configured `attributes` processor.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributesProcessor {
    actions: Actions,
    selector: Selector,
}

impl AttributesProcessor {
    /// Decodes and checks an `attributes` body found at `path`.
    pub fn parse(body: &profcol_config::Body, path: &str) -> Result<Self, Vec<Problem>> {
        let cfg: AttributesConfig = decode_only(body, path).map_err(|p| vec![p])?;
        let mut problems = Vec::new();
        if cfg.actions.is_empty() {
            problems.push(Problem::new(
                join_path(path, "actions"),
                "is required: the list of actions on sample attributes",
            ));
        }
        let actions =
            Actions::compile(&cfg.actions, &join_path(path, "actions")).unwrap_or_else(|p| {
                problems.extend(p);
                Actions::default()
            });
        let mut compile = |key: &str, m: &Option<MatchConfig>| {
            m.as_ref().and_then(|m| {
                m.compile(&join_path(path, key))
                    .map_err(|p| problems.extend(p))
                    .ok()
            })
        };
        let include = compile("include", &cfg.include);
        let exclude = compile("exclude", &cfg.exclude);
        if problems.is_empty() {
            Ok(Self {
                actions,
                selector: Selector { include, exclude },
            })
        } else {
            Err(problems)
        }
    }
}

/// The block as a user writes it: `actions`, and `include` / `exclude`
/// when set.
impl Serialize for AttributesProcessor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            actions: &'a Actions,
            #[serde(skip_serializing_if = "Option::is_none")]
            include: Option<&'a Matcher>,
            #[serde(skip_serializing_if = "Option::is_none")]
            exclude: Option<&'a Matcher>,
        }
        Shown {
            actions: &self.actions,
            include: self.selector.include.as_ref(),
            exclude: self.selector.exclude.as_ref(),
        }
        .serialize(s)
    }
}

impl Transform for AttributesProcessor {
    fn apply(&self, mut batch: ProfileBatch) -> Result<ProfileBatch, DataError> {
        for r in &mut batch.records {
            let resource = resource_attrs_of(&r.labels);
            let verdict = self.selector.profile(&ProfileFacts {
                resource: &resource,
                scope_name: SCOPE_NAME,
                scope_version: crate::SCOPE_VERSION,
            });
            pprof::edit_record(r, &self.actions, &self.selector, verdict)?;
        }
        if !batch.otlp.is_empty() {
            batch.otlp = edit_all(std::mem::take(&mut batch.otlp), |req| {
                Ok(otlp::edit_request(req, &self.actions, &self.selector))
            })?;
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests;
