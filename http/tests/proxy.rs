//! proxy_url, no_proxy and proxy_connect_header through a tiny local proxy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::servers::{echo_router, serve, serve_tls, tls_config, BOTH};
use support::{body, client, file, get};

#[tokio::test]
async fn plain_http_goes_through_the_proxy() {
    let (proxy, log) = support::proxy::start().await;
    let direct = serve(echo_router()).await;
    let c = client(&format!("proxy_url: 'http://user:pw@{proxy}'"));
    // The target host does not exist: only the proxy can answer.
    assert_eq!(
        body(&c, "http://example.invalid/x?y=1").await,
        "proxied http://example.invalid/x?y=1"
    );
    // Without no_proxy everything is proxied, loopback included (Go's http.ProxyURL).
    let url = format!("http://{direct}/echo");
    assert_eq!(body(&c, &url).await, format!("proxied {url}"));

    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("GET", "http://example.invalid/x?y=1")
    );
    // Credentials in the proxy URL become Proxy-Authorization (base64 of user:pw).
    assert_eq!(
        seen[0].header("proxy-authorization"),
        vec!["Basic dXNlcjpwdw=="]
    );
}

#[tokio::test]
async fn no_proxy_excludes_hosts_ports_and_loopback() {
    let (proxy, log) = support::proxy::start().await;
    let direct = serve(echo_router()).await;
    let c = client(&format!(
        "proxy_url: 'http://{proxy}'\nno_proxy: 'skip.invalid, example.invalid:8080, 10.0.0.0/8'"
    ));
    assert_eq!(
        body(&c, "http://example.invalid:9090/").await,
        "proxied http://example.invalid:9090/"
    );
    // Excluded: these go direct, and fail since the hosts do not exist.
    assert!(get(&c, "http://skip.invalid/").await.is_err());
    assert!(get(&c, "http://sub.skip.invalid/").await.is_err());
    assert!(get(&c, "http://example.invalid:8080/").await.is_err());
    // With no_proxy set, Go's rules never proxy loopback addresses.
    assert_eq!(
        body(&c, &format!("http://{direct}/echo")).await,
        "HTTP/1.1|-"
    );

    let seen = log.lock().unwrap().clone();
    let targets: Vec<_> = seen.iter().map(|s| s.target.as_str()).collect();
    assert_eq!(targets, vec!["http://example.invalid:9090/"]);
}

#[tokio::test]
async fn https_tunnels_with_connect_and_sends_proxy_connect_header() {
    let pki = support::certs::pki();
    let tls = serve_tls(echo_router(), tls_config(&pki.server, BOTH, None)).await;
    let (proxy, log) = support::proxy::start().await;
    let ca = file(&pki.ca_pem);
    let c = client(&format!(
        "proxy_url: 'http://{proxy}'\nproxy_connect_header: {{X-Proxy-Token: [abc], X-Multi: [one, two]}}\ntls_config: {{ca_file: {}}}",
        ca.path().display()
    ));
    let url = format!("https://localhost:{}/echo", tls.port());
    // End-to-end TLS through the tunnel, HTTP/2 negotiated with the target.
    assert_eq!(body(&c, &url).await, "HTTP/2.0|-");

    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "CONNECT");
    assert_eq!(seen[0].target, format!("localhost:{}", tls.port()));
    assert_eq!(seen[0].header("x-proxy-token"), vec!["abc"]);
    assert_eq!(seen[0].header("x-multi"), vec!["one", "two"]);
}

/// As in Go, proxy_connect_header belongs to CONNECT: a plain http request
/// forwarded through the same proxy does not carry it, while the proxy URL's
/// credentials still go on both.
#[tokio::test]
async fn plain_http_through_the_proxy_does_not_carry_proxy_connect_header() {
    let pki = support::certs::pki();
    let tls = serve_tls(echo_router(), tls_config(&pki.server, BOTH, None)).await;
    let (proxy, log) = support::proxy::start().await;
    let ca = file(&pki.ca_pem);
    let c = client(&format!(
        "proxy_url: 'http://user:pw@{proxy}'\nproxy_connect_header: {{X-Proxy-Token: [abc]}}\ntls_config: {{ca_file: {}}}",
        ca.path().display()
    ));
    assert_eq!(
        body(&c, "http://example.invalid/plain").await,
        "proxied http://example.invalid/plain"
    );
    let url = format!("https://localhost:{}/echo", tls.port());
    assert_eq!(body(&c, &url).await, "HTTP/2.0|-");

    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, "GET");
    assert!(
        seen[0].header("x-proxy-token").is_empty(),
        "{:?}",
        seen[0].headers
    );
    assert_eq!(
        seen[0].header("proxy-authorization"),
        vec!["Basic dXNlcjpwdw=="]
    );
    assert_eq!(seen[1].method, "CONNECT");
    assert_eq!(seen[1].header("x-proxy-token"), vec!["abc"]);
    assert_eq!(
        seen[1].header("proxy-authorization"),
        vec!["Basic dXNlcjpwdw=="]
    );
}

#[tokio::test]
async fn socks_proxy_with_connect_headers_is_refused_at_build_time() {
    let cfg = support::config(
        "proxy_url: 'socks5://127.0.0.1:1080'\nproxy_connect_header: {X-A: [secretvalue]}",
    );
    let opts = profcol_http::ClientOptions {
        user_agent: "t".into(),
    };
    let err = profcol_http::HttpClient::new(&cfg, &opts)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "proxy_url: proxy_connect_header cannot be sent to a SOCKS proxy (it has no CONNECT request)"
    );
}
