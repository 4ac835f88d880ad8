//! proxy_from_environment. Alone in its own test binary because it sets
//! process environment variables.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::servers::{echo_router, serve};
use support::{body, client, get};

#[tokio::test]
async fn environment_proxy_with_no_proxy() {
    let (proxy, log) = support::proxy::start().await;
    let direct = serve(echo_router()).await;
    for k in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        std::env::remove_var(k);
    }
    // Lowercase names count too; a value without a scheme means http://.
    std::env::set_var("http_proxy", proxy.to_string());
    std::env::set_var("NO_PROXY", "skip.invalid");

    let c = client("proxy_from_environment: true\nproxy_connect_header: {X-Env: [yes]}");
    assert_eq!(
        body(&c, "http://example.invalid/a").await,
        "proxied http://example.invalid/a"
    );
    assert!(get(&c, "http://skip.invalid/").await.is_err());
    assert_eq!(
        body(&c, &format!("http://{direct}/echo")).await,
        "HTTP/1.1|-"
    );
    // No HTTPS_PROXY: https URLs go direct (and fail here: nothing listens).
    assert!(get(&c, "https://example.invalid/").await.is_err());

    let seen = log.lock().unwrap().clone();
    let targets: Vec<_> = seen.iter().map(|s| s.target.as_str()).collect();
    assert_eq!(targets, vec!["http://example.invalid/a"]);
    // proxy_connect_header belongs to CONNECT only (Go's rule).
    assert!(seen[0].header("x-env").is_empty(), "{:?}", seen[0].headers);

    // The same config without the variables uses no proxy at all.
    std::env::remove_var("http_proxy");
    let c = client("proxy_from_environment: true");
    assert!(get(&c, "http://example.invalid/b").await.is_err());
    assert_eq!(log.lock().unwrap().len(), 1);
}
