//! The `batch` processor's keys, with the OpenTelemetry Collector's names
//! and defaults; sizes count samples (see the crate README).

use profcol_config::{join_path, Duration, Problem, Validate};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// `send_batch_size`'s default, in samples.
pub const DEFAULT_SEND_BATCH_SIZE: u32 = 8192;
/// `timeout`'s default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(200);
/// `metadata_cardinality_limit`'s default.
pub const DEFAULT_METADATA_CARDINALITY_LIMIT: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// A batch of this many samples is sent without waiting for `timeout`;
    /// 0 sends what arrives at once.
    pub send_batch_size: u32,
    /// The most samples a sent batch holds (0: no bound); larger batches are
    /// split between profiles.
    pub send_batch_max_size: u32,
    /// How long a batch waits for more after its first profile; 0 sends
    /// what arrives at once.
    pub timeout: Duration,
    /// Record labels whose values keep batches apart.
    pub metadata_keys: Vec<String>,
    /// How many distinct combinations of `metadata_keys` values the
    /// processor batches over its lifetime (0: no bound).
    pub metadata_cardinality_limit: u32,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            send_batch_size: DEFAULT_SEND_BATCH_SIZE,
            send_batch_max_size: 0,
            timeout: DEFAULT_TIMEOUT,
            metadata_keys: Vec::new(),
            metadata_cardinality_limit: DEFAULT_METADATA_CARDINALITY_LIMIT,
        }
    }
}

impl BatchConfig {
    /// Whether profiles wait for more: with `timeout` or `send_batch_size`
    /// at 0 each batch is sent as it arrives (split at the maximum).
    pub fn waits(&self) -> bool {
        !self.timeout.is_zero() && self.send_batch_size > 0
    }
}

impl Validate for BatchConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        if self.send_batch_max_size > 0 && self.send_batch_max_size < self.send_batch_size {
            problems.push(Problem::new(
                join_path(path, "send_batch_max_size"),
                format!(
                    "must be 0 (no bound) or at least send_batch_size ({}), not {}",
                    self.send_batch_size, self.send_batch_max_size
                ),
            ));
        }
        let mut seen = HashSet::new();
        for (i, key) in self.metadata_keys.iter().enumerate() {
            let at = join_path(&join_path(path, "metadata_keys"), &i.to_string());
            if key.is_empty() {
                problems.push(Problem::new(at, "must name a label, not be empty"));
            } else if !seen.insert(key.as_str()) {
                problems.push(Problem::new(at, format!("{key:?} is listed twice")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "processors::batch/x";

    fn parse(yaml: &str) -> Result<BatchConfig, Vec<Problem>> {
        let v = profcol_config::Body::parse(yaml).unwrap();
        profcol_config::decode(&v, PATH)
    }

    fn problems(yaml: &str) -> Vec<String> {
        parse(yaml)
            .unwrap_err()
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn defaults_are_the_collector_s() {
        let c = parse("").unwrap();
        assert_eq!(c.send_batch_size, 8192);
        assert_eq!(c.send_batch_max_size, 0);
        assert_eq!(c.timeout.get(), std::time::Duration::from_millis(200));
        assert!(c.metadata_keys.is_empty());
        assert_eq!(c.metadata_cardinality_limit, 1000);
        assert!(c.waits());
    }

    #[test]
    fn every_key_decodes() {
        let c = parse(
            "send_batch_size: 100\nsend_batch_max_size: 150\ntimeout: 2s\nmetadata_keys: [__tenant_id__, env]\nmetadata_cardinality_limit: 5\n",
        )
        .unwrap();
        assert_eq!((c.send_batch_size, c.send_batch_max_size), (100, 150));
        assert_eq!(c.timeout.get(), std::time::Duration::from_secs(2));
        assert_eq!(c.metadata_keys, ["__tenant_id__", "env"]);
        assert_eq!(c.metadata_cardinality_limit, 5);
    }

    #[test]
    fn zero_timeout_or_size_sends_at_once() {
        assert!(!parse("timeout: 0s").unwrap().waits());
        assert!(!parse("send_batch_size: 0").unwrap().waits());
    }

    #[test]
    fn max_size_below_size_names_the_key() {
        assert_eq!(
            problems("send_batch_size: 100\nsend_batch_max_size: 99"),
            ["processors::batch/x::send_batch_max_size: must be 0 (no bound) or at least send_batch_size (100), not 99"]
        );
        // Equal is fine, and so is 0 (no bound) below any size.
        assert!(parse("send_batch_size: 100\nsend_batch_max_size: 100").is_ok());
        assert!(parse("send_batch_size: 100\nsend_batch_max_size: 0").is_ok());
        // Against the default size.
        assert_eq!(problems("send_batch_max_size: 8000").len(), 1);
    }

    #[test]
    fn duplicate_or_empty_metadata_keys_name_the_entry() {
        assert_eq!(
            problems("metadata_keys: [env, '', env]"),
            [
                "processors::batch/x::metadata_keys::1: must name a label, not be empty",
                "processors::batch/x::metadata_keys::2: \"env\" is listed twice",
            ]
        );
        // Label names are case-sensitive: these are two labels.
        assert!(parse("metadata_keys: [env, Env]").is_ok());
    }

    #[test]
    fn a_negative_timeout_and_unknown_keys_are_refused_with_their_path() {
        let p = problems("timeout: -1s");
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("processors::batch/x::timeout: "), "{p:?}");
        assert!(p[0].contains("negative"), "{p:?}");
        let p = problems("send_batch_sise: 10");
        assert!(p[0].starts_with("processors::batch/x"), "{p:?}");
        assert!(p[0].contains("send_batch_sise"), "{p:?}");
        let p = problems("send_batch_size: -1");
        assert!(
            p[0].starts_with("processors::batch/x::send_batch_size: "),
            "{p:?}"
        );
    }
}
