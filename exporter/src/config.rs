//! Config pieces the exporters share: the catch-all for unknown keys (so every
//! unknown key is reported with its path, all at once), `compression`, and
//! `headers`.

use profcol_config::{join_path, Problem, Secret};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Keys a config struct did not recognise (captured by `#[serde(flatten)]`).
pub type Unknown = BTreeMap<String, serde_yaml::Value>;

/// One problem per unknown key.
pub fn unknown_keys(unknown: &Unknown, path: &str, problems: &mut Vec<Problem>) {
    for key in unknown.keys() {
        problems.push(Problem::new(join_path(path, key), "unknown field"));
    }
}

/// Request body compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    Gzip,
    Zstd,
    None,
}

impl Compression {
    /// The `Content-Encoding` / `grpc-encoding` value, if any.
    pub fn encoding(self) -> Option<&'static str> {
        match self {
            Self::Gzip => Some("gzip"),
            Self::Zstd => Some("zstd"),
            Self::None => None,
        }
    }

    /// Compresses `data` (in memory; cannot fail except on allocation).
    pub fn compress(self, data: Vec<u8>) -> Result<Vec<u8>, std::io::Error> {
        use std::io::Write;
        match self {
            Self::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 4),
                    flate2::Compression::default(),
                );
                enc.write_all(&data)?;
                enc.finish()
            }
            Self::Zstd => zstd::encode_all(data.as_slice(), 3),
            Self::None => Ok(data),
        }
    }
}

/// Extra request headers; values may carry credentials, so they are secrets.
pub type Headers = BTreeMap<String, Secret>;

/// Problems with header names or values that HTTP cannot carry.
pub fn validate_headers(headers: &Headers, path: &str, problems: &mut Vec<Problem>) {
    for (name, value) in headers {
        let p = join_path(&join_path(path, "headers"), name);
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            problems.push(Problem::new(p, "not a valid HTTP header name"));
        } else if reqwest::header::HeaderValue::from_str(value.expose()).is_err() {
            problems.push(Problem::new(
                p,
                "the value contains characters a header cannot carry",
            ));
        }
    }
}

/// The `User-Agent` profcol's exporters send.
pub fn user_agent() -> String {
    format!("profcol/{}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn compression_round_trips() {
        let data = b"profile profile profile profile".repeat(50);
        let gz = Compression::Gzip.compress(data.clone()).unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        let zs = Compression::Zstd.compress(data.clone()).unwrap();
        assert_eq!(zstd::decode_all(zs.as_slice()).unwrap(), data);
        assert!(zs.len() < data.len());
        assert_eq!(Compression::None.compress(data.clone()).unwrap(), data);
    }

    #[test]
    fn bad_headers_are_problems() {
        let mut h = Headers::new();
        h.insert("bad name".into(), Secret::new("x"));
        h.insert("X-Ok".into(), Secret::new("line\nbreak"));
        h.insert("X-Fine".into(), Secret::new("v"));
        let mut p = Vec::new();
        validate_headers(&h, "e", &mut p);
        let paths: Vec<_> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["e::headers::X-Ok", "e::headers::bad name"]);
    }
}
