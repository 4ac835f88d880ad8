//! The layers in front of an endpoint's routes: profcol's server auth
//! (`basic_auth`, `bearer_token`, `bearer_token_file` of the protocol
//! block) with its refusal answered in the protocol's terms — a gRPC
//! `UNAUTHENTICATED` status, or OTLP/HTTP's 401 with a `google.rpc.Status`
//! body — and `response_headers`.

use super::answer::{self, Refusal};
use super::config::AuthKeys;
use super::intake::Intake;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Response, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use profcol_http::server::{require_auth, ServerAuth};
use std::sync::Arc;
use std::time::Instant;

/// Which protocol an endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    Http,
}

impl Protocol {
    /// The protocol label of events and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Grpc => super::grpc::PROTOCOL,
            Protocol::Http => super::http::PROTOCOL,
        }
    }
}

struct Unauthorized {
    protocol: Protocol,
    intake: Arc<Intake>,
}

/// `router` behind the block's auth, when any is configured. `path` is the
/// block's key path (named in logs).
pub fn with_auth(
    router: axum::Router,
    keys: AuthKeys<'_>,
    path: &str,
    protocol: Protocol,
    intake: Arc<Intake>,
) -> axum::Router {
    let Some(auth) = ServerAuth::new(
        keys.basic_auth,
        keys.bearer_token,
        keys.bearer_token_file,
        path,
    ) else {
        return router;
    };
    router
        .layer(from_fn_with_state(auth, require_auth))
        .layer(from_fn_with_state(
            Arc::new(Unauthorized { protocol, intake }),
            answer_unauthorized,
        ))
}

/// Rewrites the auth layer's 401 (the routes never answer 401 themselves).
async fn answer_unauthorized(
    State(u): State<Arc<Unauthorized>>,
    req: Request,
    next: Next,
) -> Response<Body> {
    let started = Instant::now();
    let format = super::http::format_of(req.headers());
    let response = next.run(req).await;
    if response.status() != StatusCode::UNAUTHORIZED {
        return response;
    }
    let refusal = Refusal::Unauthenticated;
    let answer = match u.protocol {
        Protocol::Grpc => answer::grpc_error(&refusal),
        Protocol::Http => {
            let mut r = answer::http_error(&refusal, format);
            if let Some(challenge) = response.headers().get(header::WWW_AUTHENTICATE) {
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, challenge.clone());
            }
            r
        }
    };
    u.intake
        .record(u.protocol.label(), 0, started, &Err(refusal));
    answer
}

/// `router` whose every answer carries `headers` (unless the answer sets
/// the same header itself, as in the Collector).
pub fn with_response_headers(
    router: axum::Router,
    headers: Vec<(HeaderName, HeaderValue)>,
) -> axum::Router {
    if headers.is_empty() {
        return router;
    }
    router.layer(from_fn_with_state(Arc::new(headers), add_headers))
}

async fn add_headers(
    State(headers): State<Arc<Vec<(HeaderName, HeaderValue)>>>,
    req: Request,
    next: Next,
) -> Response<Body> {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    for (name, value) in headers.iter() {
        if !h.contains_key(name) {
            h.insert(name.clone(), value.clone());
        }
    }
    response
}
