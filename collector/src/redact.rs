//! Redaction for `print-config`: every value under a key that holds a secret
//! (passwords, tokens, credentials, keys, secret-looking query parameters
//! and `__param_*` labels, header values) is replaced before printing, and
//! in URLs the userinfo password and secret-looking query values.

use profcol_config::redact::is_secret_param;
use profcol_config::secret::REDACTED;
use profcol_config::yaml::Value;

/// Keys whose values are secrets wherever they appear.
const SECRET_KEYS: &[&str] = &[
    "password",
    "bearer_token",
    "credentials",
    "client_secret",
    "key_pem",
    "token",
    "api_key",
    "secret",
];

/// Keys whose child values are all secrets (header maps).
const SECRET_MAPS: &[&str] = &["headers", "proxy_connect_header"];

/// Key suffixes that name files, URLs or kinds, never secret values.
const PLAIN_SUFFIXES: &[&str] = &["_file", "_url", "_type", "_id", "_interval", "_timeout"];

/// True when the value under `key` must not be printed.
fn is_secret_key(key: &str) -> bool {
    if let Some(param) = key.strip_prefix("__param_") {
        return is_secret_param(param);
    }
    if PLAIN_SUFFIXES.iter().any(|s| key.ends_with(s)) {
        return false;
    }
    SECRET_KEYS.contains(&key) || is_secret_param(key)
}

/// The document as YAML with secrets replaced.
pub fn redacted_yaml(doc: &Value) -> Result<String, profcol_config::yaml::Error> {
    let mut doc = doc.clone();
    redact(&mut doc);
    profcol_config::yaml::to_string(&doc)
}

/// Redacts in place.
pub fn redact(v: &mut Value) {
    match v {
        Value::Mapping(m) => {
            for (k, child) in m.iter_mut() {
                let key = k.as_str().unwrap_or_default();
                if (is_secret_key(key) && !child.is_mapping()) || SECRET_MAPS.contains(&key) {
                    blank_all(child);
                } else {
                    redact(child);
                }
            }
        }
        Value::Sequence(s) => s.iter_mut().for_each(redact),
        Value::String(s) => {
            if let Some(clean) = redact_url_query(s) {
                *s = clean;
            }
            if let Some(clean) = redact_url_password(s) {
                *s = clean;
            }
        }
        _ => {}
    }
}

fn blank_all(v: &mut Value) {
    match v {
        Value::Mapping(m) => m.iter_mut().for_each(|(_, c)| blank_all(c)),
        Value::Sequence(s) => s.iter_mut().for_each(blank_all),
        Value::Null => {}
        other => *other = Value::String(REDACTED.into()),
    }
}

/// `scheme://host/path?token=abc&n=1` → `…?token=<secret>&n=1`.
fn redact_url_query(s: &str) -> Option<String> {
    if !s.contains("://") {
        return None;
    }
    let (base, query) = s.split_once('?')?;
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let mut changed = false;
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if is_secret_param(k) => {
                changed = true;
                format!("{k}={REDACTED}")
            }
            _ => pair.to_string(),
        })
        .collect();
    if !changed {
        return None;
    }
    let mut out = format!("{base}?{}", pairs.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    Some(out)
}

/// `scheme://user:pass@host` → `scheme://user:<secret>@host`.
pub fn redact_url_password(s: &str) -> Option<String> {
    let scheme_end = s.find("://")? + 3;
    let rest = &s[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    let colon = rest[..at].find(':')?;
    Some(format!(
        "{}{}:{REDACTED}{}",
        &s[..scheme_end],
        &rest[..colon],
        &rest[at..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let doc: Value = profcol_config::yaml::from_str(
            "receivers:\n  pyroscope_scrape:\n    bearer_token: tok1\n    basic_auth: {username: u, password: pw1}\n    oauth2: {client_secret: cs1, token_url: 'http://t'}\n    tls_config: {key_pem: kp1}\n    proxy_url: 'http://u:pp1@proxy:3128'\nexporters:\n  pyroscope:\n    endpoint: {url: 'https://x', headers: {X-Scope-OrgID: team, Authorization: Bearer hh1}}\n",
        )
        .unwrap();
        let out = redacted_yaml(&doc).unwrap();
        for secret in ["tok1", "pw1", "cs1", "kp1", "pp1", "hh1"] {
            assert!(!out.contains(secret), "{secret} leaked:\n{out}");
        }
        assert!(out.contains("username: u"));
        assert!(out.contains("token_url: http://t"));
        assert!(out.contains("http://u:<secret>@proxy:3128"));
    }

    #[test]
    fn query_tokens_and_param_labels_never_print() {
        let doc: Value = profcol_config::yaml::from_str(
            "receivers:\n  pyroscope_scrape:\n    targets: [{__address__: 'h:1', __param_api_key: lk1, __param_debug: '1'}]\n    params: {access_token: [pt1], seconds: ['5']}\n    http_sd_configs: [{url: 'http://u:up1@sd:80/x?token=qt1&page=2#f'}]\n    bearer_token_file: /run/token\n",
        )
        .unwrap();
        let out = redacted_yaml(&doc).unwrap();
        for secret in ["lk1", "pt1", "up1", "qt1"] {
            assert!(!out.contains(secret), "{secret} leaked:\n{out}");
        }
        for kept in [
            "__param_debug: '1'",
            "'5'",
            "page=2#f",
            "bearer_token_file: /run/token",
            "http://u:<secret>@sd:80/x?token=<secret>",
        ] {
            assert!(out.contains(kept), "{kept} missing:\n{out}");
        }
    }
}
