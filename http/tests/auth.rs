//! bearer_token(_file), basic_auth and authorization against a local server
//! that echoes the `Authorization` header it receives.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine;
use support::servers::{echo_router, serve};
use support::{body, client, file, get};

fn basic(user: &str, pw: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
    )
}

#[tokio::test]
async fn bearer_token_inline() {
    let url = format!("http://{}/echo", serve(echo_router()).await);
    let c = client("bearer_token: tok-123");
    assert_eq!(body(&c, &url).await, "HTTP/1.1|Bearer tok-123");
}

#[tokio::test]
async fn bearer_token_file_is_reread_on_every_request() {
    let url = format!("http://{}/echo", serve(echo_router()).await);
    let f = file("first-token\n");
    let c = client(&format!("bearer_token_file: {}", f.path().display()));
    assert_eq!(body(&c, &url).await, "HTTP/1.1|Bearer first-token");
    std::fs::write(f.path(), "  rotated-token \n").unwrap();
    assert_eq!(body(&c, &url).await, "HTTP/1.1|Bearer rotated-token");
}

#[tokio::test]
async fn unreadable_credential_file_names_the_field_and_path() {
    let url = format!("http://{}/echo", serve(echo_router()).await);
    let c = client("bearer_token_file: /nonexistent/profcol/token");
    let err = get(&c, &url).await.unwrap_err().to_string();
    assert!(
        err.starts_with("cannot read bearer_token_file /nonexistent/profcol/token: "),
        "{err}"
    );

    let f = file("line1\nsecret-part\n");
    let c = client(&format!("bearer_token_file: {}", f.path().display()));
    // A newline inside the value cannot go into a header; the message must not echo it.
    let err = get(&c, &url).await.unwrap_err().to_string();
    let want = format!(
        "bearer_token_file {}: contains characters that are not allowed",
        f.path().display()
    );
    assert!(
        err.starts_with(&want) && !err.contains("secret-part"),
        "{err}"
    );
}

#[tokio::test]
async fn basic_auth_password_and_password_file() {
    let url = format!("http://{}/echo", serve(echo_router()).await);
    let c = client("basic_auth: {username: alice, password: 'p@ss:word'}");
    assert_eq!(
        body(&c, &url).await,
        format!("HTTP/1.1|{}", basic("alice", "p@ss:word"))
    );

    let f = file("from-file\n");
    let c = client(&format!(
        "basic_auth: {{username: bob, password_file: {}}}",
        f.path().display()
    ));
    assert_eq!(
        body(&c, &url).await,
        format!("HTTP/1.1|{}", basic("bob", "from-file"))
    );
    std::fs::write(f.path(), "changed").unwrap();
    assert_eq!(
        body(&c, &url).await,
        format!("HTTP/1.1|{}", basic("bob", "changed"))
    );
}

#[tokio::test]
async fn authorization_type_and_credentials() {
    let url = format!("http://{}/echo", serve(echo_router()).await);
    let c = client("authorization: {type: Token, credentials: abc}");
    assert_eq!(body(&c, &url).await, "HTTP/1.1|Token abc");
    let c = client("authorization: {credentials: def}");
    assert_eq!(body(&c, &url).await, "HTTP/1.1|Bearer def");
    let f = file("ghi\n");
    let c = client(&format!(
        "authorization: {{type: Custom, credentials_file: {}}}",
        f.path().display()
    ));
    assert_eq!(body(&c, &url).await, "HTTP/1.1|Custom ghi");
}

#[tokio::test]
async fn no_auth_and_explicit_header_wins() {
    let url = format!("http://{}/echo", serve(echo_router()).await);
    assert_eq!(body(&client(""), &url).await, "HTTP/1.1|-");
    let c = client("bearer_token: configured");
    let req = c
        .request(reqwest::Method::GET, url.parse().unwrap())
        .header("authorization", "Bearer explicit");
    let text = c.send(req).await.unwrap().text().await.unwrap();
    assert_eq!(text, "HTTP/1.1|Bearer explicit");
}

#[tokio::test]
async fn debug_output_hides_secrets() {
    let c = client("bearer_token: hunter2-secret");
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("hunter2"), "{dbg}");
}

#[tokio::test]
async fn user_agent_is_sent() {
    let app = axum::Router::new().route(
        "/ua",
        axum::routing::get(|h: axum::http::HeaderMap| async move {
            h.get("user-agent").unwrap().to_str().unwrap().to_string()
        }),
    );
    let url = format!("http://{}/ua", serve(app).await);
    assert_eq!(body(&client(""), &url).await, support::UA);
}
