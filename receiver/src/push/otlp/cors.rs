//! Cross-origin requests to OTLP/HTTP (`cors`), for browsers that send
//! profiles: preflight answers and the `Access-Control-*` headers of
//! actual requests, with the Collector's rules (confighttp, which uses
//! `rs/cors`): an origin pattern may hold one `*` (`https://*.example.com`,
//! or `*` for any origin); credentials are allowed, so the allowed origin
//! is echoed rather than `*`; `Accept`, `Accept-Language`,
//! `Content-Language`, `Content-Type` and `Origin` are always allowed
//! request headers, `X-Requested-With` too when `allowed_headers` is
//! empty, any header with `*`. The one method allowed is `POST`, the only
//! one the endpoint serves.
//!
//! A preflight is answered `204` in any case; a disallowed origin, method
//! or header gets no `Access-Control-Allow-*` headers, so the browser
//! does not send the request. The layer sits in front of auth: preflights
//! carry no credentials.

use super::config::Cors;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use axum::middleware::Next;
use std::sync::Arc;

/// Request headers a browser may always send.
const ALWAYS_ALLOWED: [&str; 5] = [
    "accept",
    "accept-language",
    "content-language",
    "content-type",
    "origin",
];
/// Allowed too when `allowed_headers` is empty.
const DEFAULT_ALLOWED: &str = "x-requested-with";

/// One `allowed_origins` entry: the text before and after its `*`, or the
/// whole origin.
#[derive(Debug, Clone)]
enum Origin {
    Any,
    Exact(String),
    Wildcard { prefix: String, suffix: String },
}

impl Origin {
    fn new(pattern: &str) -> Self {
        let p = pattern.to_ascii_lowercase();
        if p == "*" {
            return Origin::Any;
        }
        match p.split_once('*') {
            Some((prefix, suffix)) => Origin::Wildcard {
                prefix: prefix.to_string(),
                suffix: suffix.to_string(),
            },
            None => Origin::Exact(p),
        }
    }

    fn matches(&self, origin: &str) -> bool {
        match self {
            Origin::Any => true,
            Origin::Exact(o) => o == origin,
            Origin::Wildcard { prefix, suffix } => {
                origin.len() >= prefix.len() + suffix.len()
                    && origin.starts_with(prefix.as_str())
                    && origin.ends_with(suffix.as_str())
            }
        }
    }
}

/// The `cors` block, ready to answer.
#[derive(Debug, Clone)]
pub struct CorsPolicy {
    origins: Vec<Origin>,
    any_header: bool,
    headers: Vec<String>,
    exposed: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
}

impl CorsPolicy {
    /// The policy of `cors`, or `None` when it allows no origin (the
    /// Collector then ignores the block too).
    pub fn new(cors: &Cors) -> Option<Self> {
        if cors.allowed_origins.is_empty() {
            if !cors.allowed_headers.is_empty() {
                tracing::warn!("The CORS configuration has allowed_headers but no allowed_origins; it is ignored.");
            }
            return None;
        }
        let mut headers: Vec<String> = ALWAYS_ALLOWED.iter().map(|h| h.to_string()).collect();
        if cors.allowed_headers.is_empty() {
            headers.push(DEFAULT_ALLOWED.to_string());
        }
        headers.extend(cors.allowed_headers.iter().map(|h| h.to_ascii_lowercase()));
        let exposed = (!cors.exposed_headers.is_empty())
            .then(|| HeaderValue::from_str(&cors.exposed_headers.join(", ")).ok())
            .flatten();
        let max_age = cors.max_age.filter(|s| *s > 0).map(HeaderValue::from);
        Some(Self {
            origins: cors
                .allowed_origins
                .iter()
                .map(|o| Origin::new(o))
                .collect(),
            any_header: cors.allowed_headers.iter().any(|h| h == "*"),
            headers,
            exposed,
            max_age,
        })
    }

    /// Whether `origin` (as the browser sent it) may call.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let o = origin.to_ascii_lowercase();
        self.origins.iter().any(|p| p.matches(&o))
    }

    fn allows_headers(&self, requested: &str) -> bool {
        self.any_header
            || requested
                .split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .all(|h| self.headers.contains(&h))
    }

    /// The answer to a preflight (`OPTIONS` with
    /// `Access-Control-Request-Method`).
    pub fn preflight(&self, headers: &HeaderMap) -> Response<Body> {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        let h = r.headers_mut();
        h.insert(
            header::VARY,
            HeaderValue::from_static(
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
            ),
        );
        let Some(origin) = headers.get(header::ORIGIN) else {
            return r;
        };
        let origin_ok = origin.to_str().is_ok_and(|o| self.allows_origin(o));
        let method_ok = headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .is_some_and(|m| m.as_bytes().eq_ignore_ascii_case(b"POST"));
        let requested = headers
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !(origin_ok && method_ok && self.allows_headers(requested)) {
            tracing::debug!(origin = ?origin, "CORS preflight refused.");
            return r;
        }
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST"),
        );
        if !requested.trim().is_empty() {
            if let Ok(v) = HeaderValue::from_str(requested) {
                h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
            }
        }
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        if let Some(age) = &self.max_age {
            h.insert(header::ACCESS_CONTROL_MAX_AGE, age.clone());
        }
        r
    }

    /// Adds the headers of an actual cross-origin request's answer.
    fn decorate(&self, origin: Option<&HeaderValue>, response: &mut Response<Body>) {
        let h = response.headers_mut();
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = origin else { return };
        if !origin.to_str().is_ok_and(|o| self.allows_origin(o)) {
            return;
        }
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        if let Some(e) = &self.exposed {
            h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, e.clone());
        }
    }
}

/// The middleware: answers preflights, decorates everything else.
pub async fn layer(
    State(policy): State<Arc<CorsPolicy>>,
    req: Request,
    next: Next,
) -> Response<Body> {
    if req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return policy.preflight(req.headers());
    }
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut response = next.run(req).await;
    policy.decorate(origin.as_ref(), &mut response);
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn policy(origins: &[&str], headers: &[&str]) -> CorsPolicy {
        CorsPolicy::new(&Cors {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_headers: headers.iter().map(|s| s.to_string()).collect(),
            exposed_headers: vec![],
            max_age: Some(60),
        })
        .unwrap()
    }

    fn ask(
        p: &CorsPolicy,
        origin: &'static str,
        method: &'static str,
        headers: &'static str,
    ) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, HeaderValue::from_static(origin));
        h.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static(method),
        );
        if !headers.is_empty() {
            h.insert(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                HeaderValue::from_static(headers),
            );
        }
        p.preflight(&h).headers().clone()
    }

    #[test]
    fn origins_match_with_one_wildcard() {
        let p = policy(&["https://*.example.com", "http://localhost:3000"], &[]);
        assert!(p.allows_origin("https://app.example.com"));
        assert!(p.allows_origin("HTTPS://A.B.EXAMPLE.COM"));
        assert!(!p.allows_origin("https://example.com"));
        assert!(!p.allows_origin("http://app.example.com"));
        assert!(p.allows_origin("http://localhost:3000"));
        assert!(!p.allows_origin("http://localhost:3001"));
        assert!(policy(&["*"], &[]).allows_origin("http://anything"));
        assert!(CorsPolicy::new(&Cors::default()).is_none());
    }

    #[test]
    fn preflights_allow_post_and_the_listed_headers() {
        let p = policy(&["https://*.example.com"], &["X-Custom"]);
        let ok = ask(
            &p,
            "https://app.example.com",
            "POST",
            "content-type, x-custom",
        );
        assert_eq!(ok["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(ok["access-control-allow-methods"], "POST");
        assert_eq!(ok["access-control-allow-headers"], "content-type, x-custom");
        assert_eq!(ok["access-control-allow-credentials"], "true");
        assert_eq!(ok["access-control-max-age"], "60");
        for (origin, method, headers) in [
            ("https://evil.test", "POST", ""),
            ("https://app.example.com", "DELETE", ""),
            ("https://app.example.com", "POST", "x-other"),
            ("https://app.example.com", "POST", "x-requested-with"),
        ] {
            let h = ask(&p, origin, method, headers);
            assert!(
                !h.contains_key("access-control-allow-origin"),
                "{origin} {method} {headers}"
            );
        }
        let defaults = policy(&["*"], &[]);
        assert!(ask(&defaults, "http://x", "POST", "X-Requested-With")
            .contains_key("access-control-allow-origin"));
        let any = policy(&["*"], &["*"]);
        assert!(
            ask(&any, "http://x", "POST", "x-whatever").contains_key("access-control-allow-origin")
        );
    }
}
