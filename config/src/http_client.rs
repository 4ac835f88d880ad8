//! The HTTP client blocks shared by the scrape receiver and the Pyroscope
//! exporter: bearer token, `basic_auth`, `authorization`, `oauth2`,
//! `tls_config` and the proxy settings, with the seed's defaults and its
//! mutual-exclusion rules. Building a client from them is `profcol-http`'s job.

use crate::decode::Validate;
use crate::error::{join_path, Problem};
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Client settings; flattened into the component that owns them. Its
/// `Deserialize` keeps the key path of an error inside the block (serde
/// reports errors in a flattened block at the block's parent).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(remote = "Self")]
pub struct HttpClientConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    #[serde(default = "yes")]
    pub enable_http2: bool,
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::redact::serialize_optional_url"
    )]
    pub proxy_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    #[serde(default)]
    pub proxy_from_environment: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        Self {
            bearer_token: None,
            bearer_token_file: None,
            basic_auth: None,
            authorization: None,
            oauth2: None,
            tls_config: None,
            enable_http2: true,
            follow_redirects: true,
            proxy_url: None,
            no_proxy: None,
            proxy_from_environment: false,
            proxy_connect_header: BTreeMap::new(),
        }
    }
}

fn yes() -> bool {
    true
}

/// The keys of [`HttpClientConfig`], in its order.
pub const HTTP_CLIENT_KEYS: &[&str] = &[
    "bearer_token",
    "bearer_token_file",
    "basic_auth",
    "authorization",
    "oauth2",
    "tls_config",
    "enable_http2",
    "follow_redirects",
    "proxy_url",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
];

impl Serialize for HttpClientConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        HttpClientConfig::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for HttpClientConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        // Asking for a struct takes only this block's keys out of a
        // flattened parent; they are then decoded with their paths tracked.
        let own = d.deserialize_struct("HttpClientConfig", HTTP_CLIENT_KEYS, MappingVisitor)?;
        let mut track = serde_path_to_error::Track::new();
        let de =
            serde_path_to_error::Deserializer::new(crate::yaml::Value::Mapping(own), &mut track);
        HttpClientConfig::deserialize(de).map_err(|e| {
            let inner = crate::decode::key_path(&track.path());
            D::Error::custom(crate::decode::with_inner_path(&inner, &e.to_string()))
        })
    }
}

/// Collects a mapping as YAML values.
struct MappingVisitor;

impl<'de> serde::de::Visitor<'de> for MappingVisitor {
    type Value = crate::yaml::Mapping;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a mapping")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = crate::yaml::Mapping::new();
        while let Some((k, v)) = map.next_entry::<crate::yaml::Value, crate::yaml::Value>()? {
            out.insert(k, v);
        }
        Ok(out)
    }
}

/// The proxy settings of a client or of the oauth2 token fetch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProxyConfig {
    pub proxy_url: Option<String>,
    pub no_proxy: Option<String>,
    pub proxy_from_environment: bool,
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

macro_rules! proxy_view {
    ($t:ty) => {
        impl $t {
            /// This block's proxy settings.
            pub fn proxy(&self) -> ProxyConfig {
                ProxyConfig {
                    proxy_url: self.proxy_url.clone(),
                    no_proxy: self.no_proxy.clone(),
                    proxy_from_environment: self.proxy_from_environment,
                    proxy_connect_header: self.proxy_connect_header.clone(),
                }
            }
        }
    };
}
proxy_view!(HttpClientConfig);
proxy_view!(OAuth2);

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    #[serde(default)]
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// Defaults to `Bearer`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    #[serde(default)]
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "crate::redact::serialize_params"
    )]
    pub endpoint_params: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(default, serialize_with = "crate::redact::serialize_url")]
    pub token_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::redact::serialize_optional_url"
    )]
    pub proxy_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    #[serde(default)]
    pub proxy_from_environment: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_pem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pem: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<TlsVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

/// `TLS10`/`TLS11`, and any other word, parse so that validation can
/// explain why they are refused with the key's whole path (a serde error
/// inside a flattened client block would name only the component).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsVersion {
    Tls10,
    Tls11,
    Tls12,
    Tls13,
    /// Not a TLS version name; refused by validation.
    Unknown(String),
}

impl TlsVersion {
    pub fn name(&self) -> &str {
        match self {
            TlsVersion::Tls10 => "TLS10",
            TlsVersion::Tls11 => "TLS11",
            TlsVersion::Tls12 => "TLS12",
            TlsVersion::Tls13 => "TLS13",
            TlsVersion::Unknown(s) => s,
        }
    }

    /// The problem with this version for `min_version`, if any.
    pub fn problem(&self) -> Option<String> {
        match self {
            TlsVersion::Tls12 | TlsVersion::Tls13 => None,
            TlsVersion::Tls10 | TlsVersion::Tls11 => Some(
                "TLS 1.0 and 1.1 are not offered by profcol's TLS stack (rustls supports TLS 1.2 and 1.3); use TLS12 or TLS13".into(),
            ),
            TlsVersion::Unknown(s) => Some(crate::suggest::unknown_value(
                s,
                "min_version",
                &["TLS12", "TLS13"],
            )),
        }
    }
}

impl Serialize for TlsVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "TLS10" => TlsVersion::Tls10,
            "TLS11" => TlsVersion::Tls11,
            "TLS12" => TlsVersion::Tls12,
            "TLS13" => TlsVersion::Tls13,
            _ => TlsVersion::Unknown(s),
        })
    }
}

fn both<A, B>(a: &Option<A>, b: &Option<B>) -> bool {
    a.is_some() && b.is_some()
}

impl Validate for ProxyConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        if let Some(u) = &self.proxy_url {
            match url::Url::parse(u) {
                Ok(parsed) if ["http", "https", "socks5", "socks5h"].contains(&parsed.scheme()) => {
                }
                Ok(parsed) => problems.push(Problem::new(
                    join_path(path, "proxy_url"),
                    format!(
                        "unsupported proxy scheme {:?} (use http, https or socks5)",
                        parsed.scheme()
                    ),
                )),
                Err(e) => problems.push(Problem::new(
                    join_path(path, "proxy_url"),
                    format!("invalid URL: {e}"),
                )),
            }
        }
        if self.no_proxy.is_some() && self.proxy_url.is_none() && !self.proxy_from_environment {
            problems.push(Problem::new(
                join_path(path, "no_proxy"),
                "proxy_url must be configured if no_proxy is configured",
            ));
        }
        if self.proxy_from_environment && (self.proxy_url.is_some() || self.no_proxy.is_some()) {
            problems.push(Problem::new(
                join_path(path, "proxy_from_environment"),
                "proxy_url and no_proxy must not be configured if proxy_from_environment is configured",
            ));
        }
        if !self.proxy_connect_header.is_empty()
            && self.proxy_url.is_none()
            && !self.proxy_from_environment
        {
            problems.push(Problem::new(
                join_path(path, "proxy_connect_header"),
                "proxy_connect_header should only be configured if proxy_url or proxy_from_environment are configured",
            ));
        }
    }
}

impl Validate for TlsConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        let mut p =
            |field: &str, msg: &str| problems.push(Problem::new(join_path(path, field), msg));
        if both(&self.ca_pem, &self.ca_file) {
            p("ca_pem", "ca_pem and ca_file are mutually exclusive");
        }
        if both(&self.cert_pem, &self.cert_file) {
            p("cert_pem", "cert_pem and cert_file are mutually exclusive");
        }
        if both(&self.key_pem, &self.key_file) {
            p("key_pem", "key_pem and key_file are mutually exclusive");
        }
        let has_cert = self.cert_pem.is_some() || self.cert_file.is_some();
        let has_key = self.key_pem.is_some() || self.key_file.is_some();
        if has_cert && !has_key {
            p(
                "key_file",
                "a client certificate needs a client key (key_pem or key_file)",
            );
        }
        if has_key && !has_cert {
            p(
                "cert_file",
                "a client key needs a client certificate (cert_pem or cert_file)",
            );
        }
        if let Some(problem) = self.min_version.as_ref().and_then(TlsVersion::problem) {
            p("min_version", &problem);
        }
    }
}

impl Validate for OAuth2 {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        if both(&self.client_secret, &self.client_secret_file) {
            problems.push(Problem::new(
                join_path(path, "client_secret"),
                "client_secret and client_secret_file are mutually exclusive",
            ));
        }
        if self.token_url.is_empty() {
            problems.push(Problem::new(
                join_path(path, "token_url"),
                "token_url is required",
            ));
        } else if url::Url::parse(&self.token_url).is_err() {
            problems.push(Problem::new(
                join_path(path, "token_url"),
                "token_url is not a valid URL",
            ));
        }
        if let Some(tls) = &self.tls_config {
            tls.validate(&join_path(path, "tls_config"), problems);
        }
        self.proxy().validate(path, problems);
    }
}

impl Validate for HttpClientConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        let auth_count = [
            self.basic_auth.is_some(),
            self.authorization.is_some(),
            self.oauth2.is_some(),
            self.bearer_token.is_some() || self.bearer_token_file.is_some(),
        ]
        .into_iter()
        .filter(|x| *x)
        .count();
        if both(&self.bearer_token, &self.bearer_token_file) {
            problems.push(Problem::new(
                join_path(path, "bearer_token"),
                "at most one of bearer_token & bearer_token_file must be configured",
            ));
        }
        if auth_count > 1 {
            problems.push(Problem::new(
                path.to_string(),
                "at most one of basic_auth, authorization, oauth2, bearer_token & bearer_token_file must be configured",
            ));
        }
        if let Some(b) = &self.basic_auth {
            if both(&b.password, &b.password_file) {
                problems.push(Problem::new(
                    join_path(path, "basic_auth::password"),
                    "password and password_file are mutually exclusive",
                ));
            }
        }
        if let Some(a) = &self.authorization {
            if both(&a.credentials, &a.credentials_file) {
                problems.push(Problem::new(
                    join_path(path, "authorization::credentials"),
                    "credentials and credentials_file are mutually exclusive",
                ));
            }
            if a.kind
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("basic"))
            {
                problems.push(Problem::new(
                    join_path(path, "authorization::type"),
                    "authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
                ));
            }
        }
        if let Some(o) = &self.oauth2 {
            o.validate(&join_path(path, "oauth2"), problems);
        }
        if let Some(t) = &self.tls_config {
            t.validate(&join_path(path, "tls_config"), problems);
        }
        self.proxy().validate(path, problems);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        #[serde(flatten)]
        http: HttpClientConfig,
        #[serde(flatten)]
        unknown: crate::keys::Unknown,
    }

    fn problems(yaml: &str) -> Vec<String> {
        let h: Holder = crate::yaml::from_str(yaml).unwrap();
        let mut out = Vec::new();
        h.http.validate("r", &mut out);
        crate::keys::unknown_keys(&h.unknown, "r", HTTP_CLIENT_KEYS, &mut out);
        out.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn the_key_list_is_the_structs() {
        struct Derived;
        impl<'de> Deserialize<'de> for Derived {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                HttpClientConfig::deserialize(d).map(|_| Derived)
            }
        }
        assert_eq!(crate::keys::struct_fields::<Derived>(), HTTP_CLIENT_KEYS);
    }

    #[test]
    fn errors_inside_the_block_keep_their_path() {
        let decode = |yaml: &str| {
            let v = crate::Body::parse(yaml).unwrap();
            crate::decode_only::<Holder>(&v, "r")
                .err()
                .map(|p| p.to_string())
        };
        assert_eq!(
            decode("tls_config: {ca_fil: x}").as_deref(),
            Some("r::tls_config::ca_fil: unknown key `ca_fil`: did you mean `ca_file`? (valid keys: ca_pem, ca_file, cert_pem, cert_file, key_pem, key_file, insecure_skip_verify, min_version, server_name)")
        );
        assert_eq!(
            decode("enable_http2: sometimes").as_deref(),
            Some("r::enable_http2: expected true or false, got \"sometimes\"")
        );
        assert_eq!(
            decode("oauth2: {scopes: [[a]]}").as_deref(),
            Some("r::oauth2::scopes::0: expected a string, got a list")
        );
        assert_eq!(decode("other: 1"), None);
    }

    #[test]
    fn defaults_match_the_seed() {
        let h: Holder = crate::yaml::from_str("{}").unwrap();
        assert_eq!(h.http, HttpClientConfig::default());
        assert!(h.http.enable_http2 && h.http.follow_redirects);
        assert!(!h.http.proxy_from_environment);
    }

    #[test]
    fn every_exclusive_pair_is_an_error() {
        let cases: &[(&str, &[&str])] = &[
            ("bearer_token: a\nbearer_token_file: /f", &["r::bearer_token: at most one of bearer_token & bearer_token_file must be configured"]),
            ("bearer_token: a\nbasic_auth: {username: u}", &["r: at most one of basic_auth, authorization, oauth2, bearer_token & bearer_token_file must be configured"]),
            ("basic_auth: {username: u, password: p, password_file: /f}", &["r::basic_auth::password: password and password_file are mutually exclusive"]),
            ("authorization: {credentials: c, credentials_file: /f}", &["r::authorization::credentials: credentials and credentials_file are mutually exclusive"]),
            ("authorization: {type: Basic}", &["r::authorization::type: authorization type cannot be set to \"basic\", use \"basic_auth\" instead"]),
            ("oauth2: {client_secret: s, client_secret_file: /f, token_url: 'http://t'}", &["r::oauth2::client_secret: client_secret and client_secret_file are mutually exclusive"]),
            ("oauth2: {client_id: x}", &["r::oauth2::token_url: token_url is required"]),
            ("tls_config: {ca_pem: x, ca_file: y}", &["r::tls_config::ca_pem: ca_pem and ca_file are mutually exclusive"]),
            ("tls_config: {cert_pem: x, cert_file: y, key_file: k}", &["r::tls_config::cert_pem: cert_pem and cert_file are mutually exclusive"]),
            ("tls_config: {key_pem: x, key_file: y, cert_file: c}", &["r::tls_config::key_pem: key_pem and key_file are mutually exclusive"]),
            ("tls_config: {cert_file: c}", &["r::tls_config::key_file: a client certificate needs a client key (key_pem or key_file)"]),
            ("tls_config: {key_file: k}", &["r::tls_config::cert_file: a client key needs a client certificate (cert_pem or cert_file)"]),
            ("tls_config: {min_version: TLS11}", &["r::tls_config::min_version: TLS 1.0 and 1.1 are not offered by profcol's TLS stack (rustls supports TLS 1.2 and 1.3); use TLS12 or TLS13"]),
            ("no_proxy: 10.0.0.0/8", &["r::no_proxy: proxy_url must be configured if no_proxy is configured"]),
            ("proxy_from_environment: true\nproxy_url: 'http://p:3128'", &["r::proxy_from_environment: proxy_url and no_proxy must not be configured if proxy_from_environment is configured"]),
            ("proxy_connect_header: {X: [a]}", &["r::proxy_connect_header: proxy_connect_header should only be configured if proxy_url or proxy_from_environment are configured"]),
            ("proxy_url: 'ftp://p'", &["r::proxy_url: unsupported proxy scheme \"ftp\" (use http, https or socks5)"]),
            ("bogus_key: 1", &["r::bogus_key: unknown key `bogus_key` (valid keys: bearer_token, bearer_token_file, basic_auth, authorization, oauth2, tls_config, enable_http2, follow_redirects, proxy_url, no_proxy, proxy_from_environment, proxy_connect_header)"]),
            ("proxy-url: 'http://p'", &["r::proxy-url: unknown key `proxy-url`: did you mean `proxy_url`? (valid keys: bearer_token, bearer_token_file, basic_auth, authorization, oauth2, tls_config, enable_http2, follow_redirects, proxy_url, no_proxy, proxy_from_environment, proxy_connect_header)"]),
            ("tls_config: {min_version: TLS14}", &["r::tls_config::min_version: unknown value `TLS14` for min_version: did you mean `TLS13`? (expected one of TLS12, TLS13)"]),
        ];
        for (yaml, want) in cases {
            assert_eq!(&problems(yaml), want, "for {yaml}");
        }
    }

    #[test]
    fn valid_blocks_pass() {
        assert!(problems(
            "basic_auth: {username: u, password_file: /pw}\ntls_config: {ca_file: /ca, cert_file: c, key_file: k, min_version: TLS13}\nproxy_url: 'http://proxy:3128'\nno_proxy: '10.0.0.0/8,internal.example.com'\nproxy_connect_header: {Proxy-Authorization: [x]}"
        )
        .is_empty());
    }
}
