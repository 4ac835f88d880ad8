//! Redaction for `print-config`: every value under a key that holds a secret
//! (passwords, tokens, credentials, keys, header values) and the password in
//! URLs with userinfo are replaced before printing.

use profcol_config::secret::REDACTED;
use serde_yaml::Value;

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

/// The document as YAML with secrets replaced.
pub fn redacted_yaml(doc: &Value) -> Result<String, serde_yaml::Error> {
    let mut doc = doc.clone();
    redact(&mut doc);
    serde_yaml::to_string(&doc)
}

/// Redacts in place.
pub fn redact(v: &mut Value) {
    match v {
        Value::Mapping(m) => {
            for (k, child) in m.iter_mut() {
                let key = k.as_str().unwrap_or_default();
                if SECRET_KEYS.contains(&key) && !child.is_null() {
                    *child = Value::String(REDACTED.into());
                } else if SECRET_MAPS.contains(&key) {
                    blank_all(child);
                } else {
                    redact(child);
                }
            }
        }
        Value::Sequence(s) => s.iter_mut().for_each(redact),
        Value::String(s) => {
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
        let doc: Value = serde_yaml::from_str(
            "receivers:\n  pyroscope_scrape:\n    bearer_token: tok1\n    basic_auth: {username: u, password: pw1}\n    oauth2: {client_secret: cs1, token_url: 'http://t'}\n    tls_config: {key_pem: kp1}\n    proxy_url: 'http://u:pp1@proxy:3128'\nexporters:\n  pyroscope:\n    endpoint: {url: 'https://x', headers: {X-Scope-OrgID: team, Authorization: Bearer hh1}}\n",
        )
        .unwrap();
        let out = redacted_yaml(&doc).unwrap();
        for secret in ["tok1", "pw1", "cs1", "kp1", "pp1", "hh1"] {
            assert!(!out.contains(secret), "{secret} leaked:\n{out}");
        }
        assert!(out.contains("username: u"));
        assert!(out.contains("http://u:<secret>@proxy:3128"));
    }
}
