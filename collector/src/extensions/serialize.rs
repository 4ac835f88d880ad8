//! Every extension's typed config serializes back to the block a user
//! writes, defaults written out (keys whose default is "not set" left out),
//! and decodes to an equal config: what `print-config` and the admin config
//! page show. Extensions hold no inline credentials (TLS keys are files);
//! `endpoint`s print without userinfo or secret-looking query values.

use super::ExtensionConfig;
use serde::{Serialize, Serializer};

impl Serialize for ExtensionConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::HealthCheck(c) => c.serialize(s),
            Self::Pprof(c) => c.serialize(s),
            Self::FileStorage(c) => c.serialize(s),
        }
    }
}
