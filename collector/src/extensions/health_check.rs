//! The `health_check` extension: an HTTP endpoint of its own (default
//! `localhost:13133`, path `/`) answering as the Collector's contrib
//! `health_check` does — `200` with
//! `{"status":"Server available","upSince":…,"uptime":…}` while profcol is
//! ready, `503` with `{"status":"Server not available",…}` while it starts
//! or stops (ready is the admin server's `/-/ready` flag); with
//! `response_body`, its `healthy`/`unhealthy` strings instead of the JSON.
//! A path ending in `/` also answers below it (Go's `ServeMux`); any other
//! path is `404`.
//!
//! `check_collector_pipeline` is accepted and checked (the Collector
//! deprecated it: it "is not working as expected"); profcol does not build
//! it — the answer follows readiness only, and enabling it logs a warning.

use super::{go_time, Host};
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use profcol_config::server::ServerTlsConfig;
use profcol_config::{join_path, ComponentId, Problem, Validate};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::SystemTime;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// `extensions.health_check[/name]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckConfig {
    #[serde(
        default = "default_endpoint",
        serialize_with = "profcol_config::redact::serialize_url"
    )]
    pub endpoint: String,
    #[serde(default = "default_path")]
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<ResponseBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ServerTlsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_collector_pipeline: Option<CheckCollectorPipeline>,
}

/// `response_body`: fixed bodies instead of the JSON answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseBody {
    #[serde(default)]
    pub healthy: String,
    #[serde(default)]
    pub unhealthy: String,
}

/// `check_collector_pipeline`: accepted and checked; not built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckCollectorPipeline {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "default_interval")]
    pub interval: profcol_config::Duration,
    #[serde(default = "default_threshold")]
    pub exporter_failure_threshold: i64,
}

/// The Collector's default endpoint (loopback, as with its
/// `component.UseLocalHostAsDefaultHost` gate on).
pub const DEFAULT_ENDPOINT: &str = "localhost:13133";

fn default_endpoint() -> String {
    DEFAULT_ENDPOINT.into()
}
fn default_path() -> String {
    "/".into()
}
fn default_interval() -> profcol_config::Duration {
    profcol_config::Duration::from_secs(300)
}
fn default_threshold() -> i64 {
    5
}

impl Validate for HealthCheckConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        if self.endpoint.is_empty() {
            problems.push(Problem::new(
                join_path(path, "endpoint"),
                "must be specified",
            ));
        } else if !self.endpoint.contains(':') {
            problems.push(Problem::new(
                join_path(path, "endpoint"),
                format!("{:?} is not host:port", self.endpoint),
            ));
        }
        if !self.path.starts_with('/') {
            problems.push(Problem::new(join_path(path, "path"), "must start with /"));
        }
        if let Some(tls) = &self.tls {
            tls.validate(&join_path(path, "tls"), problems);
        }
        if let Some(c) = &self.check_collector_pipeline {
            if c.exporter_failure_threshold <= 0 {
                problems.push(Problem::new(
                    join_path(path, "check_collector_pipeline::exporter_failure_threshold"),
                    "must be a positive number",
                ));
            }
        }
    }
}

struct Served {
    path: String,
    body: Option<ResponseBody>,
    host: Host,
}

/// Serves the endpoint until `stop`; returns what `/components` shows and
/// the server task.
pub async fn start(
    id: &ComponentId,
    cfg: &HealthCheckConfig,
    host: &Host,
    path: &str,
    stop: CancellationToken,
) -> anyhow::Result<(serde_json::Value, JoinHandle<()>)> {
    if cfg
        .check_collector_pipeline
        .as_ref()
        .is_some_and(|c| c.enabled)
    {
        tracing::warn!(component = %id, "check_collector_pipeline is deprecated in the Collector and not built in profcol; the health check answers from readiness only.");
    }
    let served = Arc::new(Served {
        path: cfg.path.clone(),
        body: cfg.response_body.clone(),
        host: host.clone(),
    });
    let app = Router::new().fallback(answer).with_state(served);
    let (address, task) =
        super::server::serve(&cfg.endpoint, cfg.tls.as_ref(), path, app, stop).await?;
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    tracing::info!(component = %id, address = %address, path = %cfg.path, "Health check listening.");
    let debug = serde_json::json!({
        "listening": format!("{scheme}://{address}{}", cfg.path),
    });
    Ok((debug, task))
}

fn matches(pattern: &str, path: &str) -> bool {
    if pattern.ends_with('/') {
        path.starts_with(pattern)
    } else {
        path == pattern
    }
}

async fn answer(State(s): State<Arc<Served>>, uri: Uri) -> Response {
    if !matches(&s.path, uri.path()) {
        return (StatusCode::NOT_FOUND, "404 page not found\n").into_response();
    }
    let since = *s
        .host
        .ready_since
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let ready = s.host.ready.load(Ordering::Acquire);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    if let Some(body) = &s.body {
        let text = if ready {
            &body.healthy
        } else {
            &body.unhealthy
        };
        return (status, text.clone()).into_response();
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json_body(ready.then_some(since).flatten(), SystemTime::now()),
    )
        .into_response()
}

/// The Collector's JSON answer: up since `since` when ready, else the zero
/// time and an empty uptime.
pub fn json_body(since: Option<SystemTime>, now: SystemTime) -> String {
    let (status, up_since, uptime) = match since {
        Some(t) => (
            "Server available",
            go_time::rfc3339_nano(t),
            go_time::duration(now.duration_since(t).unwrap_or_default()),
        ),
        None => (
            "Server not available",
            "0001-01-01T00:00:00Z".to_string(),
            String::new(),
        ),
    };
    serde_json::json!({"status": status, "upSince": up_since, "uptime": uptime}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn check(yaml: &str) -> Vec<String> {
        let v = profcol_config::Body::parse(yaml).unwrap();
        match profcol_config::decode::<HealthCheckConfig>(&v, "extensions::health_check") {
            Ok(_) => vec![],
            Err(p) => p.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn keys_defaults_and_problems() {
        let v = profcol_config::Body::empty();
        let cfg: HealthCheckConfig = profcol_config::decode(&v, "x").unwrap();
        assert_eq!(cfg.endpoint, "localhost:13133");
        assert_eq!(cfg.path, "/");
        assert!(cfg.response_body.is_none() && cfg.tls.is_none());
        assert!(check("{endpoint: '127.0.0.1:0', path: /health/status, response_body: {healthy: ok, unhealthy: no}, check_collector_pipeline: {enabled: true, interval: 5m, exporter_failure_threshold: 5}}").is_empty());
        assert_eq!(
            check("{endpoint: '', path: health, tls: {cert_file: c.pem}, check_collector_pipeline: {exporter_failure_threshold: 0}}"),
            [
                "extensions::health_check::endpoint: must be specified",
                "extensions::health_check::path: must start with /",
                "extensions::health_check::tls::key_file: is required when tls is set",
                "extensions::health_check::check_collector_pipeline::exporter_failure_threshold: must be a positive number",
            ]
        );
        let unknown = check("{port: 13133}");
        assert!(
            unknown[0].starts_with("extensions::health_check::port: unknown key `port`"),
            "{unknown:?}"
        );
    }

    #[test]
    fn paths_match_as_go_s_mux_does() {
        assert!(matches("/", "/anything/below"));
        assert!(matches("/health/status", "/health/status"));
        assert!(!matches("/health/status", "/health/status/x"));
        assert!(matches("/health/", "/health/x"));
    }

    #[test]
    fn the_json_body_is_the_collector_s() {
        let since = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let up: serde_json::Value = serde_json::from_str(&json_body(
            Some(since),
            since + Duration::from_millis(61_500),
        ))
        .unwrap();
        assert_eq!(
            up,
            serde_json::json!({"status": "Server available", "upSince": "2026-01-01T00:00:00Z", "uptime": "1m1.5s"})
        );
        let down: serde_json::Value =
            serde_json::from_str(&json_body(None, SystemTime::now())).unwrap();
        assert_eq!(
            down,
            serde_json::json!({"status": "Server not available", "upSince": "0001-01-01T00:00:00Z", "uptime": ""})
        );
    }
}
