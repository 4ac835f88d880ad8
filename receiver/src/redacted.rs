//! Serde helpers that print a receiver's typed config without the
//! credentials some plain-looking values carry: a static target's
//! `__param_<name>` labels become query parameters of its scrapes, so the
//! value of every secret-looking name is hidden (the URL, header and
//! parameter helpers shared with other crates live in
//! `profcol_config::redact`).
//!
//! ```
//! #[derive(serde::Serialize)]
//! struct Body {
//!     #[serde(serialize_with = "profcol_receiver::redacted::serialize_targets")]
//!     targets: Option<Vec<std::collections::BTreeMap<String, String>>>,
//! }
//! let target = [("__address__", "h:1"), ("__param_token", "abc")]
//!     .map(|(k, v)| (k.to_string(), v.to_string()));
//! let body = Body { targets: Some(vec![target.into()]) };
//! let shown = profcol_config::yaml::to_string(&body).unwrap();
//! assert!(shown.contains("__param_token: <secret>") && !shown.contains("abc"));
//! ```

use profcol_config::redact::is_secret_param;
use profcol_config::secret::REDACTED;
use serde::Serializer;
use std::collections::BTreeMap;

/// The prefix of target labels that become query parameters.
const PARAM_PREFIX: &str = "__param_";

/// `#[serde(serialize_with)]` for `targets`: each label map as written,
/// with the value of every `__param_<name>` whose name looks secret hidden.
pub fn serialize_targets<S: Serializer>(
    targets: &Option<Vec<BTreeMap<String, String>>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let Some(targets) = targets else {
        return s.serialize_none();
    };
    let shown: Vec<BTreeMap<&str, &str>> = targets
        .iter()
        .map(|labels| {
            labels
                .iter()
                .map(|(name, value)| {
                    let secret = name.strip_prefix(PARAM_PREFIX).is_some_and(is_secret_param);
                    (
                        name.as_str(),
                        if secret { REDACTED } else { value.as_str() },
                    )
                })
                .collect()
        })
        .collect();
    s.serialize_some(&shown)
}
