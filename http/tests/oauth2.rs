//! oauth2 client credentials against a local token endpoint: what is posted,
//! caching, refresh after expiry, secret rotation, the form-body fallback and
//! errors that do not leak the secret.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use support::servers::{echo_router, serve};
use support::{body, client, file, get};

#[derive(Default)]
struct Endpoint {
    hits: usize,
    /// Answer 401 to requests that carry the client secret in a basic header.
    reject_basic: bool,
    expires_in: u64,
    forms: Vec<BTreeMap<String, String>>,
    auth_headers: Vec<Option<String>>,
}

type Shared = Arc<Mutex<Endpoint>>;

async fn token(
    State(s): State<Shared>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let mut e = s.lock().unwrap();
    e.hits += 1;
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_string());
    e.forms.push(form);
    e.auth_headers.push(auth.clone());
    let json = [("content-type", "application/json")];
    if e.reject_basic && auth.is_some() {
        return (
            StatusCode::UNAUTHORIZED,
            json,
            r#"{"error":"invalid_client"}"#.into(),
        );
    }
    let body = format!(
        r#"{{"access_token":"tok-{}","token_type":"bearer","expires_in":{}}}"#,
        e.hits, e.expires_in
    );
    (StatusCode::OK, json, body)
}

async fn endpoint(e: Endpoint) -> (String, Shared) {
    let shared: Shared = Arc::new(Mutex::new(e));
    let app = Router::new()
        .route("/token", post(token))
        .with_state(shared.clone());
    (format!("http://{}/token", serve(app).await), shared)
}

#[tokio::test]
async fn token_is_fetched_once_and_sent_with_the_configured_form() {
    let (token_url, ep) = endpoint(Endpoint {
        expires_in: 3600,
        ..Default::default()
    })
    .await;
    let target = format!("http://{}/echo", serve(echo_router()).await);
    let c = client(&format!(
        "oauth2: {{client_id: 'my id', client_secret: 's3cr&t', token_url: '{token_url}', scopes: [read, write], endpoint_params: {{audience: profiles}}}}"
    ));
    assert_eq!(body(&c, &target).await, "HTTP/1.1|Bearer tok-1");
    assert_eq!(body(&c.clone(), &target).await, "HTTP/1.1|Bearer tok-1");

    let e = ep.lock().unwrap();
    assert_eq!(e.hits, 1);
    let form = &e.forms[0];
    assert_eq!(
        form.get("grant_type").map(String::as_str),
        Some("client_credentials")
    );
    assert_eq!(form.get("scope").map(String::as_str), Some("read write"));
    assert_eq!(form.get("audience").map(String::as_str), Some("profiles"));
    assert!(!form.contains_key("client_secret"));
    // Go's oauth2 URL-encodes id and secret before the basic encoding.
    use base64::Engine;
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("my+id:s3cr%26t")
    );
    assert_eq!(e.auth_headers[0].as_deref(), Some(want.as_str()));
}

#[tokio::test]
async fn token_is_refreshed_after_it_expires() {
    let (token_url, ep) = endpoint(Endpoint {
        expires_in: 1,
        ..Default::default()
    })
    .await;
    let target = format!("http://{}/echo", serve(echo_router()).await);
    let c = client(&format!(
        "oauth2: {{client_id: id, client_secret: s, token_url: '{token_url}'}}"
    ));
    assert_eq!(body(&c, &target).await, "HTTP/1.1|Bearer tok-1");
    assert_eq!(body(&c, &target).await, "HTTP/1.1|Bearer tok-1");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(body(&c, &target).await, "HTTP/1.1|Bearer tok-2");
    assert_eq!(ep.lock().unwrap().hits, 2);
}

#[tokio::test]
async fn rotated_client_secret_file_fetches_a_new_token() {
    let (token_url, ep) = endpoint(Endpoint {
        expires_in: 3600,
        ..Default::default()
    })
    .await;
    let target = format!("http://{}/echo", serve(echo_router()).await);
    let f = file("one\n");
    let c = client(&format!(
        "oauth2: {{client_id: id, client_secret_file: {}, token_url: '{token_url}'}}",
        f.path().display()
    ));
    assert_eq!(body(&c, &target).await, "HTTP/1.1|Bearer tok-1");
    std::fs::write(f.path(), "two\n").unwrap();
    assert_eq!(body(&c, &target).await, "HTTP/1.1|Bearer tok-2");
    use base64::Engine;
    let e = ep.lock().unwrap();
    assert_eq!(
        e.auth_headers[1],
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("id:two")
        ))
    );
}

#[tokio::test]
async fn falls_back_to_credentials_in_the_form_and_remembers() {
    let (token_url, ep) = endpoint(Endpoint {
        reject_basic: true,
        expires_in: 1,
        ..Default::default()
    })
    .await;
    let target = format!("http://{}/echo", serve(echo_router()).await);
    let c = client(&format!(
        "oauth2: {{client_id: id, client_secret: sec, token_url: '{token_url}'}}"
    ));
    assert_eq!(body(&c, &target).await, "HTTP/1.1|Bearer tok-2");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(body(&c, &target).await, "HTTP/1.1|Bearer tok-3");
    let e = ep.lock().unwrap();
    assert_eq!(
        e.hits, 3,
        "the header style is not retried once the form style worked"
    );
    assert!(e.auth_headers[1].is_none() && e.auth_headers[2].is_none());
    assert_eq!(e.forms[1].get("client_id").map(String::as_str), Some("id"));
    assert_eq!(
        e.forms[1].get("client_secret").map(String::as_str),
        Some("sec")
    );
}

#[tokio::test]
async fn token_errors_name_the_endpoint_but_not_the_secret() {
    let app = Router::new().route(
        "/token",
        post(|| async {
            (
                StatusCode::BAD_REQUEST,
                [("content-type", "application/json")],
                r#"{"error":"invalid_scope"}"#,
            )
        }),
    );
    let token_url = format!("http://{}/token", serve(app).await);
    let target = format!("http://{}/echo", serve(echo_router()).await);
    let c = client(&format!(
        "oauth2: {{client_id: id, client_secret: topsecret, token_url: '{token_url}'}}"
    ));
    let err = get(&c, &target).await.unwrap_err().to_string();
    assert_eq!(err, format!("oauth2 token request to {token_url} failed: status 400 Bad Request, error \"invalid_scope\""));
    assert!(!err.contains("topsecret"));
}

#[tokio::test]
async fn token_endpoint_over_its_own_tls_config() {
    let pki = support::certs::pki();
    let (token_state, ep) = {
        let shared: Shared = Arc::new(Mutex::new(Endpoint {
            expires_in: 3600,
            ..Default::default()
        }));
        (shared.clone(), shared)
    };
    let app = Router::new()
        .route("/token", post(token))
        .with_state(token_state);
    let cfg = support::servers::tls_config(&pki.server, support::servers::BOTH, None);
    let token_url = format!(
        "https://localhost:{}/token",
        support::servers::serve_tls(app, cfg).await.port()
    );
    let target = format!("http://{}/echo", serve(echo_router()).await);
    let ca = file(&pki.ca_pem);
    let c = client(&format!(
        "oauth2: {{client_id: id, client_secret: s, token_url: '{token_url}', tls_config: {{ca_file: {}}}}}",
        ca.path().display()
    ));
    assert_eq!(body(&c, &target).await, "HTTP/1.1|Bearer tok-1");
    assert_eq!(ep.lock().unwrap().hits, 1);
    // Without the CA the token fetch fails (the system roots do not know it).
    let c = client(&format!(
        "oauth2: {{client_id: id, client_secret: s, token_url: '{token_url}'}}"
    ));
    let err = get(&c, &target).await.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("oauth2 token request to {token_url} failed: ")),
        "{err}"
    );
}

#[tokio::test]
async fn token_request_uses_the_oauth2_proxy_only() {
    let (proxy, log) = support::proxy::start().await;
    let target = format!("http://{}/echo", serve(echo_router()).await);
    let c = client(&format!(
        "oauth2: {{client_id: id, client_secret: s, token_url: 'http://token.invalid/token', proxy_url: 'http://{proxy}'}}"
    ));
    // The test proxy answers with plain text, which carries no token.
    let err = get(&c, &target).await.unwrap_err().to_string();
    assert!(
        err.ends_with("failed: the response has no access_token"),
        "{err}"
    );
    let seen = log.lock().unwrap().clone();
    let targets: Vec<_> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.target.as_str()))
        .collect();
    assert_eq!(targets, vec![("POST", "http://token.invalid/token")]);
}
