//! The `labels` part the Pyroscope Java agent sends beside its JFR: the
//! dynamic labels of each context id its events carry, as string ids.
//!
//! ```text
//! message Context        { map<int64, int64> labels = 1; }              // name id → value id
//! message LabelsSnapshot { map<int64, Context> contexts = 1;            // context id → labels
//!                          map<int64, string> strings = 2; }            // id → text
//! ```

use super::JfrError;
use prost::Message;
use std::collections::HashMap;

#[derive(Clone, PartialEq, Message)]
pub struct Context {
    #[prost(map = "int64, int64", tag = "1")]
    pub labels: HashMap<i64, i64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct LabelsSnapshot {
    #[prost(map = "int64, message", tag = "1")]
    pub contexts: HashMap<i64, Context>,
    #[prost(map = "int64, string", tag = "2")]
    pub strings: HashMap<i64, String>,
}

impl LabelsSnapshot {
    /// Decodes the part's (uncompressed) bytes.
    pub fn decode_part(bytes: &[u8]) -> Result<Self, JfrError> {
        Self::decode(bytes).map_err(|e| JfrError::labels(format!("not a LabelsSnapshot: {e}")))
    }

    /// The labels of `context` as text pairs, sorted by name; ids without
    /// a string are skipped.
    pub fn labels_of(&self, context: i64) -> Vec<(String, String)> {
        let Some(ctx) = self.contexts.get(&context) else {
            return Vec::new();
        };
        let mut out: Vec<(String, String)> = ctx
            .labels
            .iter()
            .filter_map(|(k, v)| Some((self.strings.get(k)?.clone(), self.strings.get(v)?.clone())))
            .filter(|(k, _)| !k.is_empty())
            .collect();
        out.sort();
        out
    }
}
