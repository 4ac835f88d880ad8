//! The `labels` part the Pyroscope Java agent sends beside its JFR: the
//! dynamic labels of each context id its events carry, as string ids.
//!
//! ```text
//! message Context        { map<int64, int64> labels = 1; }              // name id → value id
//! message LabelsSnapshot { map<int64, Context> contexts = 1;            // context id → labels
//!                          map<int64, string> strings = 2; }            // id → text
//! ```

use super::JfrError;
use crate::wire::{Reader, LEN};
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
        if has_group(bytes, Level::Snapshot) {
            return Err(JfrError::labels(
                "not a LabelsSnapshot: it uses protobuf groups",
            ));
        }
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

/// The messages of a snapshot, for [`has_group`].
#[derive(Clone, Copy)]
enum Level {
    Snapshot,
    ContextsEntry,
    StringsEntry,
    Context,
    LabelsEntry,
}

impl Level {
    /// The message field `field` holds, if it holds one.
    fn child(self, field: u32) -> Option<Level> {
        match (self, field) {
            (Level::Snapshot, 1) => Some(Level::ContextsEntry),
            (Level::Snapshot, 2) => Some(Level::StringsEntry),
            (Level::ContextsEntry, 2) => Some(Level::Context),
            (Level::Context, 1) => Some(Level::LabelsEntry),
            _ => None,
        }
    }
}

/// Whether a protobuf group (wire type 3 or 4) appears in any message of
/// the snapshot before its first malformed field (where prost stops too).
/// prost skips an unknown group by recursion, and profcol's build has no
/// recursion limit (a dependency turns it off), so a part of nested group
/// starts — a megabyte of them gzips to a kilobyte — would overflow the
/// stack and abort the process. The snapshot has no groups.
fn has_group(buf: &[u8], level: Level) -> bool {
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let Ok((field, wt)) = r.key() else {
            return false;
        };
        if wt == 3 || wt == 4 {
            return true;
        }
        match level.child(field) {
            Some(child) if wt == LEN => match r.bytes() {
                Ok(sub) if has_group(sub, child) => return true,
                Ok(_) => {}
                Err(_) => return false,
            },
            _ => {
                if r.skip(wt).is_err() {
                    return false;
                }
            }
        }
    }
    false
}
