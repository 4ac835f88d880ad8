//! Every exporter's typed config serializes back to the block a user
//! writes, defaults written out, and decodes to an equal config — except
//! that secrets are redacted by their type, whatever their key is called:
//! header values, TLS private keys and HTTP client credentials print as
//! `<secret>`, URLs (`endpoint`, `profiles_endpoint`, pyroscope `url`,
//! `proxy_url`) without userinfo and with secret-looking query values
//! hidden. This is what `print-config` and the admin config page show.
//!
//! ```
//! use profcol_exporter::EXPORTERS;
//! let body = profcol_config::Body::parse("{endpoint: 'http://u:pw@h:4318'}").unwrap();
//! let config = EXPORTERS.decode(&"otlp_http".parse().unwrap(), &body, "e").unwrap();
//! let shown = profcol_config::yaml::to_string(&config).unwrap();
//! assert!(shown.contains("endpoint: http://h:4318/") && !shown.contains("pw"));
//! ```

use crate::registry::ExporterConfig;
use serde::{Serialize, Serializer};

impl Serialize for ExporterConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::OtlpGrpc(c) => c.serialize(s),
            Self::OtlpHttp(c) => c.serialize(s),
            Self::Pyroscope(c) => c.serialize(s),
            Self::File(c) => c.serialize(s),
            Self::Debug(c) => c.serialize(s),
        }
    }
}
