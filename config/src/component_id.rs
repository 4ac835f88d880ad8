//! Component and pipeline identifiers: `type[/name]`, as in the OpenTelemetry
//! Collector.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// `type[/name]`; the type matches `^[a-zA-Z][0-9a-zA-Z_]{0,62}$`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentId {
    kind: String,
    name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid component id {id:?}: {reason}")]
pub struct ComponentIdError {
    id: String,
    reason: &'static str,
}

impl ComponentId {
    /// The component type (`pyroscope_scrape`, `otlp_grpc`, …).
    pub fn kind(&self) -> &str {
        &self.kind
    }
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    /// Builds an id from parts that are already known to be valid.
    pub fn new(kind: &str, name: Option<&str>) -> Result<Self, ComponentIdError> {
        match name {
            Some(n) => format!("{kind}/{n}").parse(),
            None => kind.parse(),
        }
    }
}

fn valid_type(t: &str) -> bool {
    let mut chars = t.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && t.len() <= 63
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl FromStr for ComponentId {
    type Err = ComponentIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| ComponentIdError {
            id: s.to_string(),
            reason,
        };
        let (kind, name) = match s.split_once('/') {
            Some((k, n)) => (k, Some(n)),
            None => (s, None),
        };
        if !valid_type(kind) {
            return Err(err(
                "the type must start with a letter and contain only letters, digits and '_' (at most 63)",
            ));
        }
        if let Some(n) = name {
            if n.is_empty() {
                return Err(err("the name after '/' is empty"));
            }
            if n.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(err("the name must not contain whitespace"));
            }
        }
        Ok(Self {
            kind: kind.to_string(),
            name: name.map(str::to_string),
        })
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.kind, n),
            None => f.write_str(&self.kind),
        }
    }
}

impl fmt::Debug for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for ComponentId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ComponentId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_type_and_name() {
        let id: ComponentId = "pyroscope_scrape/local".parse().unwrap();
        assert_eq!(id.kind(), "pyroscope_scrape");
        assert_eq!(id.name(), Some("local"));
        assert_eq!(id.to_string(), "pyroscope_scrape/local");
        let id: ComponentId = "otlp".parse().unwrap();
        assert_eq!(id.name(), None);
    }

    #[test]
    fn rejects_bad_ids() {
        for bad in ["", "1abc", "a-b", "x/", "/x", "a b/c", "x/a b"] {
            assert!(bad.parse::<ComponentId>().is_err(), "{bad:?}");
        }
        assert!("a".repeat(64).parse::<ComponentId>().is_err());
        assert!("a".repeat(63).parse::<ComponentId>().is_ok());
    }
}
