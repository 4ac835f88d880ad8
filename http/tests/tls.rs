//! tls_config against local TLS servers with a generated CA: trust via
//! ca_file/ca_pem, mTLS, min_version, insecure_skip_verify, server_name, and
//! HTTP/2 negotiated by ALPN (or not).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::certs::pki;
use support::servers::{echo_router, serve_tls, tls_config, BOTH, TLS12_ONLY};
use support::{client, file, get};

fn indent(pem: &str) -> String {
    pem.lines().map(|l| format!("    {l}\n")).collect()
}

#[tokio::test]
async fn ca_file_and_ca_pem_are_trusted_and_unknown_cas_are_not() {
    let pki = pki();
    let addr = serve_tls(echo_router(), tls_config(&pki.server, BOTH, None)).await;
    let url = format!("https://localhost:{}/echo", addr.port());

    let ca = file(&pki.ca_pem);
    let (status, _, _) = get(
        &client(&format!("tls_config: {{ca_file: {}}}", ca.path().display())),
        &url,
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let yaml = format!("tls_config:\n  ca_pem: |\n{}", indent(&pki.ca_pem));
    assert_eq!(get(&client(&yaml), &url).await.unwrap().0, 200);
    // An IP address in the URL is checked against the IP SAN.
    let ip_url = format!("https://127.0.0.1:{}/echo", addr.port());
    assert_eq!(get(&client(&yaml), &ip_url).await.unwrap().0, 200);

    let err = get(&client(""), &url).await.unwrap_err();
    assert!(err.is_connect(), "{err}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    let other = pki_other_ca();
    let err = get(
        &client(&format!(
            "tls_config: {{ca_file: {}}}",
            other.path().display()
        )),
        &url,
    )
    .await
    .unwrap_err();
    // Same CA name, different key: the chain does not verify.
    assert!(
        err.to_string()
            .contains("invalid peer certificate: BadSignature"),
        "{err}"
    );
}

fn pki_other_ca() -> tempfile::NamedTempFile {
    file(&pki().ca_pem)
}

#[tokio::test]
async fn tls_file_problems_name_the_field() {
    let opts = profcol_http::ClientOptions {
        user_agent: "t".into(),
    };
    let cfg = support::config("tls_config: {ca_file: /nonexistent/ca.pem}");
    let err = profcol_http::HttpClient::new(&cfg, &opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot read tls_config::ca_file /nonexistent/ca.pem: "),
        "{err}"
    );
    let junk = file("not a pem");
    let cfg = support::config(&format!(
        "tls_config: {{ca_file: {}}}",
        junk.path().display()
    ));
    let err = profcol_http::HttpClient::new(&cfg, &opts)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "tls_config::ca_file {}: no PEM certificate found",
            junk.path().display()
        )
    );
    let pki = pki();
    let cert = file(&pki.client.cert_pem);
    let cfg = support::config(&format!(
        "tls_config: {{cert_file: {}, key_pem: 'SECRETKEYMATERIAL'}}",
        cert.path().display()
    ));
    let err = profcol_http::HttpClient::new(&cfg, &opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("tls_config::key_pem: no PEM private key"),
        "{err}"
    );
    assert!(!err.contains("SECRETKEYMATERIAL"));
}

#[tokio::test]
async fn client_certificate_for_mtls() {
    let pki = pki();
    let addr = serve_tls(
        echo_router(),
        tls_config(&pki.server, BOTH, Some(&pki.ca_pem)),
    )
    .await;
    let url = format!("https://localhost:{}/echo", addr.port());
    let ca = file(&pki.ca_pem);
    let cert = file(&pki.client.cert_pem);
    let key = file(&pki.client.key_pem);

    let with_files = format!(
        "tls_config: {{ca_file: {}, cert_file: {}, key_file: {}}}",
        ca.path().display(),
        cert.path().display(),
        key.path().display()
    );
    assert_eq!(get(&client(&with_files), &url).await.unwrap().0, 200);
    let with_pem = format!(
        "tls_config:\n  ca_file: {}\n  cert_pem: |\n{}  key_pem: |\n{}",
        ca.path().display(),
        indent(&pki.client.cert_pem),
        indent(&pki.client.key_pem)
    );
    assert_eq!(get(&client(&with_pem), &url).await.unwrap().0, 200);

    // Without a client certificate the server refuses the connection.
    let without = format!("tls_config: {{ca_file: {}}}", ca.path().display());
    assert!(get(&client(&without), &url).await.is_err());
}

#[tokio::test]
async fn min_version_tls13_refuses_a_tls12_only_server() {
    let pki = pki();
    let ca = file(&pki.ca_pem);
    let tls12_server = serve_tls(echo_router(), tls_config(&pki.server, TLS12_ONLY, None)).await;
    let both_server = serve_tls(echo_router(), tls_config(&pki.server, BOTH, None)).await;
    let url12 = format!("https://localhost:{}/echo", tls12_server.port());
    let url_both = format!("https://localhost:{}/echo", both_server.port());

    let tls12 = client(&format!(
        "tls_config: {{ca_file: {}, min_version: TLS12}}",
        ca.path().display()
    ));
    assert_eq!(get(&tls12, &url12).await.unwrap().0, 200);
    let tls13 = client(&format!(
        "tls_config: {{ca_file: {}, min_version: TLS13}}",
        ca.path().display()
    ));
    let err = get(&tls13, &url12).await.unwrap_err();
    assert!(err.is_connect(), "{err}");
    assert_eq!(get(&tls13, &url_both).await.unwrap().0, 200);
}

#[tokio::test]
async fn insecure_skip_verify_accepts_an_unknown_ca_and_wrong_name() {
    let pki = pki();
    let addr = serve_tls(echo_router(), tls_config(&pki.other_server, BOTH, None)).await;
    let url = format!("https://localhost:{}/echo", addr.port());
    assert!(get(&client(""), &url).await.is_err());
    let c = client("tls_config: {insecure_skip_verify: true}");
    assert_eq!(get(&c, &url).await.unwrap().0, 200);
}

#[tokio::test]
async fn server_name_is_what_the_certificate_is_checked_against() {
    let pki = pki();
    let ca = file(&pki.ca_pem);
    // Valid only for other.test, reached as localhost.
    let addr = serve_tls(echo_router(), tls_config(&pki.other_server, BOTH, None)).await;
    let url = format!("https://localhost:{}/echo", addr.port());
    let plain = client(&format!("tls_config: {{ca_file: {}}}", ca.path().display()));
    let err = get(&plain, &url).await.unwrap_err();
    assert!(
        err.to_string().contains("not valid for name \"localhost\""),
        "{err}"
    );
    let named = client(&format!(
        "tls_config: {{ca_file: {}, server_name: other.test}}",
        ca.path().display()
    ));
    assert_eq!(get(&named, &url).await.unwrap().0, 200);
    let wrong = client(&format!(
        "tls_config: {{ca_file: {}, server_name: nope.test}}",
        ca.path().display()
    ));
    assert!(get(&wrong, &url).await.is_err());
    // server_name does not switch off chain validation.
    let no_ca = client("tls_config: {server_name: other.test}");
    assert!(get(&no_ca, &url)
        .await
        .unwrap_err()
        .to_string()
        .contains("UnknownIssuer"));
}

#[tokio::test]
async fn http2_is_negotiated_by_alpn_unless_disabled() {
    let pki = pki();
    let ca = file(&pki.ca_pem);
    let addr = serve_tls(echo_router(), tls_config(&pki.server, BOTH, None)).await;
    let url = format!("https://localhost:{}/echo", addr.port());

    let h2 = client(&format!("tls_config: {{ca_file: {}}}", ca.path().display()));
    let (_, version, text) = get(&h2, &url).await.unwrap();
    assert_eq!(
        (version, text.as_str()),
        (reqwest::Version::HTTP_2, "HTTP/2.0|-")
    );

    let h1 = client(&format!(
        "enable_http2: false\ntls_config: {{ca_file: {}}}",
        ca.path().display()
    ));
    let (_, version, text) = get(&h1, &url).await.unwrap();
    assert_eq!(
        (version, text.as_str()),
        (reqwest::Version::HTTP_11, "HTTP/1.1|-")
    );
}

#[tokio::test]
async fn rotated_ca_file_is_picked_up_and_a_broken_one_keeps_the_old_client() {
    let right = pki();
    let wrong = pki();
    let addr = serve_tls(echo_router(), tls_config(&right.server, BOTH, None)).await;
    let url = format!("https://localhost:{}/echo", addr.port());
    let ca = file(&wrong.ca_pem);
    let c = client(&format!("tls_config: {{ca_file: {}}}", ca.path().display()));
    assert!(get(&c, &url).await.is_err());
    std::fs::write(ca.path(), &right.ca_pem).unwrap();
    assert_eq!(get(&c, &url).await.unwrap().0, 200);
    std::fs::write(ca.path(), "half-written").unwrap();
    assert_eq!(get(&c, &url).await.unwrap().0, 200);
}

/// Go accepts a server certificate that is itself one of the configured CAs
/// (a self-signed `CA:TRUE` certificate given as both); so does profcol,
/// still checking the name and the dates. Any other CA certificate served as
/// the server's is refused with a message a person understands.
#[tokio::test]
async fn a_configured_ca_served_as_the_server_certificate_is_accepted() {
    use support::certs::{ca_signed_ca_leaf, self_signed_ca_leaf};
    let ca_client = |pem: &str| {
        let f = file(pem);
        let c = client(&format!("tls_config: {{ca_file: {}}}", f.path().display()));
        (c, f)
    };

    let leaf = self_signed_ca_leaf(&["localhost"], (2020, 1, 1), (2090, 1, 1));
    let addr = serve_tls(echo_router(), tls_config(&leaf, BOTH, None)).await;
    let url = format!("https://localhost:{}/echo", addr.port());
    let (c, _f) = ca_client(&leaf.cert_pem);
    assert_eq!(get(&c, &url).await.unwrap().0, 200);
    // Not trusted without the file.
    assert!(get(&client(""), &url).await.is_err());

    // The name is still checked.
    let other = self_signed_ca_leaf(&["other.test"], (2020, 1, 1), (2090, 1, 1));
    let addr = serve_tls(echo_router(), tls_config(&other, BOTH, None)).await;
    let (c, _f) = ca_client(&other.cert_pem);
    let err = get(&c, &format!("https://localhost:{}/echo", addr.port()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not valid for name"), "{err}");

    // And the dates.
    let expired = self_signed_ca_leaf(&["localhost"], (2001, 1, 1), (2002, 1, 1));
    let addr = serve_tls(echo_router(), tls_config(&expired, BOTH, None)).await;
    let (c, _f) = ca_client(&expired.cert_pem);
    let err = get(&c, &format!("https://localhost:{}/echo", addr.port()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");

    // A CA certificate that is not one of the configured ones: refused, in words.
    let (root, intermediate) = ca_signed_ca_leaf();
    let addr = serve_tls(echo_router(), tls_config(&intermediate, BOTH, None)).await;
    let (c, _f) = ca_client(&root);
    let err = get(&c, &format!("https://localhost:{}/echo", addr.port()))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("is a CA certificate (CA:TRUE), not a server certificate"),
        "{text}"
    );
    assert!(!text.contains("CaUsedAsEndEntity"), "{text}");
}
