//! Shared helpers for the integration tests: a generated CA with server and
//! client certificates, plain and TLS servers on 127.0.0.1, a tiny forward
//! proxy that records what it is asked, and client construction.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod certs;
pub mod proxy;
pub mod servers;

use profcol_config::HttpClientConfig;
use profcol_http::{ClientOptions, HttpClient};
use std::time::Duration;

pub const UA: &str = "profcol-test/0.0";

/// A config from YAML, validated the way the collector validates it.
pub fn config(yaml: &str) -> HttpClientConfig {
    let cfg: HttpClientConfig = profcol_config::yaml::from_str(yaml).unwrap();
    let mut problems = Vec::new();
    profcol_config::Validate::validate(&cfg, "t", &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    cfg
}

pub fn client(yaml: &str) -> HttpClient {
    HttpClient::new(
        &config(yaml),
        &ClientOptions {
            user_agent: UA.into(),
        },
    )
    .unwrap()
}

/// GET `url` with a 5 s bound; the body as text.
pub async fn get(
    c: &HttpClient,
    url: &str,
) -> Result<(reqwest::StatusCode, reqwest::Version, String), profcol_http::Error> {
    let req = c
        .request(reqwest::Method::GET, url.parse().unwrap())
        .timeout(Duration::from_secs(5));
    let resp = c.send(req).await?;
    let status = resp.status();
    let version = resp.version();
    Ok((status, version, resp.text().await.unwrap()))
}

/// The body of a successful GET.
pub async fn body(c: &HttpClient, url: &str) -> String {
    let (status, _, text) = get(c, url).await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    text
}

/// A temp file with `content`, kept alive by the returned handle.
pub fn file(content: &str) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), content).unwrap();
    f
}
