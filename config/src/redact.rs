//! URL redaction shared by every crate that prints a URL a user configured
//! (scrape and discovery URLs, exporter endpoints, token URLs): userinfo is
//! dropped and the values of secret-looking query parameters hidden, in
//! statuses, logs and error messages alike.

use crate::secret::REDACTED;
use std::collections::BTreeMap;

/// True for names of query parameters (and `__param_*` labels, config keys)
/// whose values are never shown: anything mentioning a token, secret,
/// password, key, auth, credential or signature.
pub fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "token",
        "secret",
        "password",
        "passwd",
        "key",
        "auth",
        "credential",
        "signature",
        "sig",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// The URL without userinfo and with secret-looking query values hidden.
pub fn redact_url(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_param(&k) {
                    REDACTED.to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// A URL-valued config string as printed configs show it: as written,
/// unless it holds userinfo or a secret-looking query value, then
/// [`redact_url`]'s form. `host:port` (no scheme) is read as `http://`.
/// Text that does not parse as a URL has any URL inside it redacted.
pub fn redact_url_text(text: &str) -> String {
    let prefixed = !text.contains("://");
    let parsed = if prefixed {
        url::Url::parse(&format!("http://{text}"))
    } else {
        url::Url::parse(text)
    };
    match parsed {
        Ok(u) if hides_something(&u) => {
            let shown = redact_url(&u);
            if prefixed {
                let bare = shown.trim_start_matches("http://");
                if text.contains('/') {
                    bare.to_string()
                } else {
                    bare.trim_end_matches('/').to_string()
                }
            } else {
                shown
            }
        }
        Ok(_) => text.to_string(),
        Err(_) => redact_urls_in_text(text),
    }
}

fn hides_something(u: &url::Url) -> bool {
    !u.username().is_empty()
        || u.password().is_some()
        || u.query_pairs().any(|(k, _)| is_secret_param(&k))
}

/// `#[serde(serialize_with)]` for a URL-valued key: see [`redact_url_text`].
pub fn serialize_url<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_url_text(url))
}

/// [`serialize_url`] for an optional key (pair it with
/// `skip_serializing_if = "Option::is_none"`).
pub fn serialize_optional_url<S: serde::Serializer>(
    url: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => s.serialize_some(&redact_url_text(url)),
        None => s.serialize_none(),
    }
}

/// `#[serde(serialize_with)]` for a map of parameters (form fields such
/// as oauth2's `endpoint_params`): the value of every secret-looking name
/// is hidden.
pub fn serialize_params<S: serde::Serializer>(
    params: &BTreeMap<String, String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(params.iter().map(|(name, value)| {
        let shown = if is_secret_param(name) {
            REDACTED
        } else {
            value
        };
        (name, shown)
    }))
}

/// [`serialize_params`] for parameters with several values each (a
/// scrape's query `params`).
pub fn serialize_param_lists<S: serde::Serializer>(
    params: &BTreeMap<String, Vec<String>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(params.iter().map(|(name, values)| {
        let secret = is_secret_param(name);
        let shown: Vec<&str> = values
            .iter()
            .map(|v| if secret { REDACTED } else { v.as_str() })
            .collect();
        (name, shown)
    }))
}

/// `message` with every spelling of `url` in it (with and without its
/// userinfo, as HTTP clients print it) replaced by [`redact_url`].
pub fn redact_url_in(message: &str, url: &url::Url) -> String {
    let shown = redact_url(url);
    let mut without_userinfo = url.clone();
    let _ = without_userinfo.set_username("");
    let _ = without_userinfo.set_password(None);
    message
        .replace(url.as_str(), &shown)
        .replace(without_userinfo.as_str(), &shown)
}

/// Redacts every `scheme://…` URL found in free text (an error from a
/// library that quotes the URL its own way). Text without URLs is returned
/// unchanged.
pub fn redact_urls_in_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
            .map_or(0, |i| i + 1);
        let end = rest[at..]
            .find(|c: char| c.is_whitespace() || "\"'()<>`,;".contains(c))
            .map_or(rest.len(), |i| at + i);
        out.push_str(&rest[..start]);
        let candidate = &rest[start..end];
        match url::Url::parse(candidate) {
            Ok(u) if start < at => out.push_str(&redact_url(&u)),
            _ => out.push_str(candidate),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_and_secret_params() {
        let u = url::Url::parse(
            "http://user:pw@h:1/debug/pprof/profile?seconds=14&api_token=abc&Key=k",
        )
        .unwrap();
        let r = redact_url(&u);
        assert_eq!(
            r,
            "http://h:1/debug/pprof/profile?seconds=14&api_token=%3Csecret%3E&Key=%3Csecret%3E"
        );
    }

    #[test]
    fn finds_the_url_as_clients_print_it() {
        let u = url::Url::parse("http://u:pw@h:1/sd?access_token=abc").unwrap();
        let msg = "error sending request for url (http://h:1/sd?access_token=abc): refused";
        let out = redact_url_in(msg, &u);
        assert!(!out.contains("abc") && !out.contains("pw"), "{out}");
        assert!(
            out.contains("http://h:1/sd?access_token=%3Csecret%3E"),
            "{out}"
        );
    }

    #[test]
    fn url_text_is_kept_unless_it_hides_something() {
        for plain in [
            "http://h:4318",
            "h:4317",
            "https://h/p?seconds=1",
            "not a url",
        ] {
            assert_eq!(redact_url_text(plain), plain);
        }
        let shown = redact_url_text("http://u:pw@h:1/x?api_key=k&n=1");
        assert_eq!(shown, "http://h:1/x?api_key=%3Csecret%3E&n=1");
        assert_eq!(redact_url_text("u:pw@h:4317"), "h:4317");
    }

    #[test]
    fn redacts_urls_in_free_text() {
        let t = "failed (http://u:pw@h:1/x?token=abc&n=1), then 'https://a/b?sig=zz' ok";
        let out = redact_urls_in_text(t);
        assert_eq!(
            out,
            "failed (http://h:1/x?token=%3Csecret%3E&n=1), then 'https://a/b?sig=%3Csecret%3E' ok"
        );
        assert_eq!(redact_urls_in_text("no urls here"), "no urls here");
    }

    #[test]
    fn url_text_changes_only_when_something_is_secret() {
        for clean in ["http://h:80/x?page=2", "unix:///var/run/docker.sock", "h:1"] {
            assert_eq!(redact_url_text(clean), clean);
        }
        assert_eq!(
            redact_url_text("http://u:pw@h:80/x?token=t&page=2"),
            "http://h/x?token=%3Csecret%3E&page=2"
        );
        assert_eq!(redact_url_text("http://tok@h/"), "http://h/");
    }

    #[test]
    fn client_blocks_serialize_no_secret() {
        let client: crate::HttpClientConfig = crate::yaml::from_str(
            "{proxy_url: 'http://u:pp1@proxy:3128', oauth2: {client_id: c, token_url: 'https://t/?key=tk1', endpoint_params: {api_key: ep1, audience: aud}, proxy_url: 'http://u:pp2@p'}}",
        )
        .unwrap();
        let shown = crate::yaml::to_string(&client).unwrap();
        for secret in ["pp1", "tk1", "ep1", "pp2"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("audience: aud"), "{shown}");
    }

    #[test]
    fn client_and_admin_blocks_debug_print_no_secret() {
        let client: crate::HttpClientConfig = crate::yaml::from_str(
            "{bearer_token: s1, basic_auth: {username: u, password: s2}, oauth2: {client_id: c, client_secret: s3, token_url: 'http://t', proxy_connect_header: {X: [s4]}}, tls_config: {key_pem: s5}, proxy_connect_header: {Y: [s6]}}",
        )
        .unwrap();
        let admin: crate::collector::MetricsConfig = crate::yaml::from_str(
            "{basic_auth: {username: admin, password: s7}, bearer_token: s8}",
        )
        .unwrap();
        let shown = format!("{client:?} {client:#?} {admin:?}");
        for secret in ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("admin") && shown.contains(REDACTED));
    }
}
