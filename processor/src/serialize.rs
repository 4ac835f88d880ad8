//! Every processor's typed config serializes back to the block a user
//! writes, defaults written out, and its registry row decodes that to an
//! equal config. The hand-parsed processors print their compiled form as
//! config: actions with their keys and lower-case names, patterns as their
//! source text, `include` / `exclude` with their `match_type`, filter
//! conditions as written, grouped by context in the `profile_conditions`
//! group style. This is what `print-config` and the admin config page show.
//!
//! Processors hold no credentials by type; the one value that may be one,
//! an action's `value` / `default_value` for an attribute whose name looks
//! like a credential (`api_token`, `password`), prints as `<secret>`.
//!
//! ```
//! use profcol_processor::PROCESSORS;
//! let body = profcol_config::Body::parse("{attributes: [{key: env, value: prod, action: UPSERT}]}").unwrap();
//! let id = "resource".parse().unwrap();
//! let config = PROCESSORS.decode(&id, &body, "p").unwrap();
//! let shown = profcol_config::yaml::to_string(&config).unwrap();
//! assert!(shown.contains("action: upsert"), "{shown}");
//! ```

use crate::registry::ProcessorConfig;
use serde::{Serialize, Serializer};

impl Serialize for ProcessorConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Batch(c) => c.serialize(s),
            Self::MemoryLimiter(c) => c.serialize(s),
            Self::Resource(c) => c.serialize(s),
            Self::Attributes(c) => c.serialize(s),
            Self::Filter(c) => c.serialize(s),
        }
    }
}
