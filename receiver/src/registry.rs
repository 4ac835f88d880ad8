//! The receiver types in one table: each row names a type, its stability
//! and how its config decodes into a [`ReceiverConfig`]. The listing
//! (`profcol components`), validation, reload comparison and the read-back
//! caps the collector derives all read it; a new receiver type is a row
//! here, a variant of [`ReceiverConfig`] and its start in
//! [`crate::start_receiver_after`].
//!
//! ```
//! use profcol_receiver::registry;
//! assert_eq!(registry::lookup("pyroscope_scrape").unwrap().stability, "beta");
//! assert!(registry::lookup("prometheus").is_none());
//! ```

use crate::config::{ScrapeConfig, Settings};
use crate::push;
use profcol_config::yaml::Value;
use profcol_config::{decode, Problem};
use profcol_pdata::pprof::DecodeLimits;

/// A decoded, validated receiver config, whatever its type; equal configs
/// configure the same receiver (what a reload compares). A scrape config
/// has its defaults that depend on other keys written out
/// ([`ScrapeConfig::resolved`]).
#[derive(PartialEq)]
pub enum ReceiverConfig {
    Scrape(Box<ScrapeConfig>),
    Otlp(Box<push::otlp::config::OtlpConfig>),
    Pyroscope(Box<push::pyroscope::config::PyroscopeReceiverConfig>),
}

/// One receiver type.
pub struct ReceiverType {
    pub name: &'static str,
    /// `development`, `alpha` or `beta`, as the Collector grades components.
    pub stability: &'static str,
    /// Decodes and validates the body of receiver `id` (its `type[/name]`);
    /// problems are reported under the path.
    pub decode: fn(&str, &Value, &str) -> Result<ReceiverConfig, Vec<Problem>>,
}

/// Every receiver type, in the order `profcol components` lists them.
pub const TYPES: &[ReceiverType] = &[
    ReceiverType {
        name: crate::PYROSCOPE_SCRAPE,
        stability: "beta",
        decode: decode_scrape,
    },
    ReceiverType {
        name: push::otlp::TYPE,
        stability: "alpha",
        decode: decode_otlp,
    },
    ReceiverType {
        name: push::pyroscope::TYPE,
        stability: "alpha",
        decode: decode_pyroscope,
    },
];

/// The type named `kind`.
pub fn lookup(kind: &str) -> Option<&'static ReceiverType> {
    TYPES.iter().find(|t| t.name == kind)
}

fn decode_scrape(id: &str, body: &Value, path: &str) -> Result<ReceiverConfig, Vec<Problem>> {
    decode::<ScrapeConfig>(body, path).map(|c| ReceiverConfig::Scrape(Box::new(c.resolved(id))))
}

fn decode_otlp(_: &str, body: &Value, path: &str) -> Result<ReceiverConfig, Vec<Problem>> {
    decode(body, path).map(|c| ReceiverConfig::Otlp(Box::new(c)))
}

fn decode_pyroscope(_: &str, body: &Value, path: &str) -> Result<ReceiverConfig, Vec<Problem>> {
    decode(body, path).map(|c| ReceiverConfig::Pyroscope(Box::new(c)))
}

impl ReceiverConfig {
    /// The decode caps the receiver applies to the pprof profiles it takes
    /// in; `None` for the `otlp` receiver, which keeps requests as OTLP.
    pub fn decode_limits(&self, id: &str) -> Option<DecodeLimits> {
        match self {
            Self::Scrape(c) => {
                let settings = Settings::new(id, c);
                Some(settings.limits.decode_limits(settings.max_body_size))
            }
            Self::Otlp(_) => None,
            Self::Pyroscope(c) => Some(c.decode_limits()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        let mut names: Vec<&str> = TYPES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TYPES.len());
        for t in TYPES {
            assert_eq!(lookup(t.name).map(|f| f.name), Some(t.name));
        }
    }
}
