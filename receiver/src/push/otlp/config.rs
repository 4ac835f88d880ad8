//! The `otlp` receiver's configuration: the keys of the OpenTelemetry
//! Collector's `otlpreceiver` (`protocols.grpc` is a `configgrpc` server
//! block, `protocols.http` a `confighttp` one), so that a Collector config
//! carries over. Each key is either honoured, accepted without effect (and
//! documented so, with a warning at start when set), or refused with a
//! message naming what profcol offers instead. It serializes back to the
//! YAML it decodes from, with header values and credentials redacted.
//!
//! ```yaml
//! protocols:
//!   grpc:                      # enabled with its defaults
//!   http:
//!     endpoint: 0.0.0.0:4318
//!     max_request_body_size: 20971520
//!     bearer_token_file: /etc/profcol/otlp-token
//! ```

use crate::byte_size::ByteSize;
use profcol_config::http_client::{BasicAuth, TlsVersion};
use profcol_config::server::{validate_auth, ServerTlsConfig};
use profcol_config::{join_path, Duration, Problem, Secret, Validate};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// `protocols.grpc.endpoint` when not given (the Collector's default).
pub const DEFAULT_GRPC_ENDPOINT: &str = "localhost:4317";
/// `protocols.http.endpoint` when not given (the Collector's default).
pub const DEFAULT_HTTP_ENDPOINT: &str = "localhost:4318";
/// The gRPC message cap when `max_recv_msg_size_mib` is 0 or unset:
/// grpc-go's default, which the Collector keeps.
pub const DEFAULT_MAX_RECV_MSG_SIZE_MIB: usize = 4;
/// `max_request_body_size` when 0 or unset (confighttp's default).
pub const DEFAULT_MAX_REQUEST_BODY_SIZE: usize = 20 << 20;
/// The profiles path of OTLP/HTTP (the OTLP specification's default).
pub const DEFAULT_PROFILES_URL_PATH: &str = "/v1development/profiles";
/// grpc-go's server keepalive defaults: a ping after 2 h without
/// activity, and 20 s for its acknowledgement.
pub const DEFAULT_KEEPALIVE_TIME: std::time::Duration = std::time::Duration::from_secs(2 * 3600);
pub const DEFAULT_KEEPALIVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Content encodings a request body may use over OTLP/HTTP (`""` is none).
pub const SUPPORTED_ENCODINGS: [&str; 5] = ["", "gzip", "zstd", "zlib", "deflate"];
/// confighttp's encodings profcol cannot decode.
const UNSUPPORTED_ENCODINGS: [&str; 3] = ["snappy", "lz4", "x-snappy-framed"];

/// What the message refusing `auth:` says.
const AUTH_REFUSED: &str = "authenticator extensions are not available in profcol; use basic_auth, or bearer_token / bearer_token_file, on this block instead";
const MIDDLEWARES_REFUSED: &str = "middleware extensions are not available in profcol";

/// The receiver's body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpConfig {
    #[serde(default, deserialize_with = "null_is_default")]
    pub protocols: Protocols,
}

/// `protocols`: each block present (even empty: `grpc:`) enables it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocols {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub grpc: Option<GrpcConfig>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub http: Option<HttpConfig>,
}

/// A key present with no value (`grpc:`) enables the block with defaults.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Ok(Some(Option::<T>::deserialize(d)?.unwrap_or_default()))
}

fn null_is_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `protocols.grpc` (configgrpc's server block).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcConfig {
    #[serde(default = "default_grpc_endpoint")]
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialer: Option<Dialer>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub tls: Option<TlsSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_recv_msg_size_mib: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_streams: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_buffer_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_buffer_size: Option<i64>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub keepalive: Option<Keepalive>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_metadata: Option<bool>,
    /// Refused: names an authenticator extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<profcol_config::Body>,
    /// Refused when not empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middlewares: Option<Vec<profcol_config::Body>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        Self {
            endpoint: default_grpc_endpoint(),
            transport: None,
            dialer: None,
            tls: None,
            max_recv_msg_size_mib: None,
            max_concurrent_streams: None,
            read_buffer_size: None,
            write_buffer_size: None,
            keepalive: None,
            include_metadata: None,
            auth: None,
            middlewares: None,
            basic_auth: None,
            bearer_token: None,
            bearer_token_file: None,
        }
    }
}

fn default_grpc_endpoint() -> String {
    DEFAULT_GRPC_ENDPOINT.to_string()
}

fn default_http_endpoint() -> String {
    DEFAULT_HTTP_ENDPOINT.to_string()
}

/// profcol's own server auth keys of a protocol block (instead of the
/// Collector's `auth: {authenticator: …}`).
#[derive(Debug, Clone, Copy)]
pub struct AuthKeys<'a> {
    pub basic_auth: Option<&'a BasicAuth>,
    pub bearer_token: Option<&'a Secret>,
    pub bearer_token_file: Option<&'a str>,
}

/// `dialer` (confignet): a client setting; a server has nothing to dial.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dialer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

/// `keepalive` of a gRPC server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keepalive {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub server_parameters: Option<ServerParameters>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub enforcement_policy: Option<EnforcementPolicy>,
}

/// `keepalive.server_parameters` (grpc-go's `keepalive.ServerParameters`;
/// 0 or unset means grpc-go's default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connection_idle: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connection_age: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connection_age_grace: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

/// `keepalive.enforcement_policy`: accepted, not enforced (see the README).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnforcementPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_time: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permit_without_stream: Option<bool>,
}

/// `tls` of either protocol: configtls's server keys that profcol's
/// TLS (`profcol_config::server::ServerTlsConfig`) has, plus the
/// Collector's reload switches, which profcol does not need (files are
/// re-read whenever they change). Every other configtls key is refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    #[serde(default)]
    pub cert_file: String,
    #[serde(default)]
    pub key_file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca_file: Option<String>,
    /// `"1.2"`/`"1.3"` as the Collector writes them, or `TLS12`/`TLS13`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload_interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca_file_reload: Option<bool>,
}

impl TlsSettings {
    fn tls_version(&self) -> Result<Option<TlsVersion>, String> {
        let Some(v) = self.min_version.as_deref() else {
            return Ok(None);
        };
        match v {
            "" => Ok(None),
            "1.2" | "TLS12" => Ok(Some(TlsVersion::Tls12)),
            "1.3" | "TLS13" => Ok(Some(TlsVersion::Tls13)),
            "1.0" | "1.1" | "TLS10" | "TLS11" => {
                Err("TLS 1.0 and 1.1 are not offered; use \"1.2\" or \"1.3\"".into())
            }
            other => Err(profcol_config::suggest::unknown_value(
                other,
                "min_version",
                &["1.2", "1.3"],
            )),
        }
    }

    /// The block as profcol's server TLS config (checked by `validate`).
    pub fn server_tls(&self) -> ServerTlsConfig {
        ServerTlsConfig {
            cert_file: self.cert_file.clone(),
            key_file: self.key_file.clone(),
            client_ca_file: self.client_ca_file.clone(),
            min_version: self.tls_version().ok().flatten(),
        }
    }
}

impl Validate for TlsSettings {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        if let Err(message) = self.tls_version() {
            problems.push(Problem::new(join_path(path, "min_version"), message));
        }
        self.server_tls().validate(path, problems);
    }
}

/// `protocols.http` (confighttp's server block plus otlpreceiver's paths).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(default = "default_http_endpoint")]
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialer: Option<Dialer>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub tls: Option<TlsSettings>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub cors: Option<Cors>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_request_body_size: Option<ByteSize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_metadata: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_headers: Option<ResponseHeaders>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression_algorithms: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_header_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_alives_enabled: Option<bool>,
    /// Refused: names an authenticator extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<profcol_config::Body>,
    /// Refused when not empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middlewares: Option<Vec<profcol_config::Body>>,
    /// Accepted and ignored: profcol receives only profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traces_url_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_url_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_url_path: Option<String>,
    /// profcol's own key (the Collector's profiles path is fixed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles_url_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            endpoint: default_http_endpoint(),
            transport: None,
            dialer: None,
            tls: None,
            cors: None,
            max_request_body_size: None,
            include_metadata: None,
            response_headers: None,
            compression_algorithms: None,
            read_timeout: None,
            read_header_timeout: None,
            write_timeout: None,
            idle_timeout: None,
            keep_alives_enabled: None,
            auth: None,
            middlewares: None,
            traces_url_path: None,
            metrics_url_path: None,
            logs_url_path: None,
            profiles_url_path: None,
            basic_auth: None,
            bearer_token: None,
            bearer_token_file: None,
        }
    }
}

/// `cors` (confighttp's CORS block).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cors {
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    #[serde(default)]
    pub exposed_headers: Vec<String>,
    /// Seconds a browser may cache a preflight answer; 0 sends none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
}

/// `response_headers`: a map, or a list of `{name, value}` (configopaque's
/// `MapList` accepts both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ResponseHeaders {
    Map(BTreeMap<String, Secret>),
    List(Vec<NamedHeader>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedHeader {
    pub name: String,
    pub value: Secret,
}

impl ResponseHeaders {
    /// `(name, value)` pairs in the order given (a map's in key order).
    pub fn pairs(&self) -> Vec<(&str, &Secret)> {
        match self {
            ResponseHeaders::Map(m) => m.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            ResponseHeaders::List(l) => l.iter().map(|h| (h.name.as_str(), &h.value)).collect(),
        }
    }
}

/// How an endpoint binds: `transport` `tcp` (any family), `tcp4`, `tcp6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Any,
    V4,
    V6,
}

fn family(transport: Option<&str>) -> Result<Family, String> {
    match transport.unwrap_or("") {
        "" | "tcp" => Ok(Family::Any),
        "tcp4" => Ok(Family::V4),
        "tcp6" => Ok(Family::V6),
        "unix" => Err("unix sockets are not supported; use tcp, tcp4 or tcp6".into()),
        other => Err(format!(
            "unsupported transport {other:?}; use tcp, tcp4 or tcp6"
        )),
    }
}

/// Checks `host:port` (the host may be empty: every interface; an IPv6
/// host in brackets).
fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let Some((host, port)) = endpoint.rsplit_once(':') else {
        return Err(format!("{endpoint:?} is not host:port"));
    };
    if port.parse::<u16>().is_err() {
        return Err(format!(
            "{endpoint:?}: the port {port:?} is not a number up to 65535"
        ));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(format!(
            "{endpoint:?}: write an IPv6 address in brackets, e.g. [::1]:4317"
        ));
    }
    Ok(())
}

/// The keys every server block shares, checked alike.
struct Common<'a> {
    endpoint: &'a str,
    transport: Option<&'a str>,
    tls: Option<&'a TlsSettings>,
    auth: Option<&'a profcol_config::Body>,
    middlewares: Option<&'a Vec<profcol_config::Body>>,
    auth_keys: AuthKeys<'a>,
}

impl Common<'_> {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        if let Err(m) = check_endpoint(self.endpoint) {
            problems.push(Problem::new(join_path(path, "endpoint"), m));
        }
        if let Err(m) = family(self.transport) {
            problems.push(Problem::new(join_path(path, "transport"), m));
        }
        if let Some(tls) = self.tls {
            tls.validate(&join_path(path, "tls"), problems);
        }
        if self.auth.is_some() {
            problems.push(Problem::new(join_path(path, "auth"), AUTH_REFUSED));
        }
        if self.middlewares.is_some_and(|m| !m.is_empty()) {
            problems.push(Problem::new(
                join_path(path, "middlewares"),
                MIDDLEWARES_REFUSED,
            ));
        }
        let a = self.auth_keys;
        validate_auth(
            a.basic_auth,
            a.bearer_token,
            a.bearer_token_file,
            path,
            problems,
        );
    }
}

impl GrpcConfig {
    fn common(&self) -> Common<'_> {
        Common {
            endpoint: &self.endpoint,
            transport: self.transport.as_deref(),
            tls: self.tls.as_ref(),
            auth: self.auth.as_ref(),
            middlewares: self.middlewares.as_ref(),
            auth_keys: self.auth_keys(),
        }
    }

    /// `basic_auth`, `bearer_token`, `bearer_token_file`.
    pub fn auth_keys(&self) -> AuthKeys<'_> {
        AuthKeys {
            basic_auth: self.basic_auth.as_ref(),
            bearer_token: self.bearer_token.as_ref(),
            bearer_token_file: self.bearer_token_file.as_deref(),
        }
    }

    pub fn family(&self) -> Family {
        family(self.transport.as_deref()).unwrap_or(Family::Any)
    }

    /// The largest request message, after decompression, in bytes.
    pub fn max_message_bytes(&self) -> usize {
        let mib = match self.max_recv_msg_size_mib {
            None | Some(0) => DEFAULT_MAX_RECV_MSG_SIZE_MIB,
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        mib.saturating_mul(1 << 20)
    }

    fn server_parameters(&self) -> Option<&ServerParameters> {
        self.keepalive.as_ref()?.server_parameters.as_ref()
    }

    fn parameter(
        &self,
        f: impl Fn(&ServerParameters) -> Option<Duration>,
    ) -> Option<std::time::Duration> {
        self.server_parameters()
            .and_then(f)
            .map(Duration::get)
            .filter(|d| !d.is_zero())
    }

    /// `max_connection_idle`: a connection without calls this long is closed.
    pub fn max_connection_idle(&self) -> Option<std::time::Duration> {
        self.parameter(|p| p.max_connection_idle)
    }

    /// `max_connection_age`: a connection this old is asked to close.
    pub fn max_connection_age(&self) -> Option<std::time::Duration> {
        self.parameter(|p| p.max_connection_age)
    }

    /// `max_connection_age_grace`: time left to calls after that request.
    pub fn max_connection_age_grace(&self) -> Option<std::time::Duration> {
        self.parameter(|p| p.max_connection_age_grace)
    }

    /// `time`: a ping after this long without activity.
    pub fn keepalive_time(&self) -> std::time::Duration {
        self.parameter(|p| p.time).unwrap_or(DEFAULT_KEEPALIVE_TIME)
    }

    /// `timeout`: the connection closes when a ping is not answered in time.
    pub fn keepalive_timeout(&self) -> std::time::Duration {
        self.parameter(|p| p.timeout)
            .unwrap_or(DEFAULT_KEEPALIVE_TIMEOUT)
    }

    /// Keys set that have no effect in profcol (for a warning at start).
    pub fn not_honoured(&self, path: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut note = |set: bool, key: &str| {
            if set {
                keys.push(join_path(path, key));
            }
        };
        note(
            self.read_buffer_size.is_some_and(|n| n > 0),
            "read_buffer_size",
        );
        note(
            self.write_buffer_size.is_some_and(|n| n > 0),
            "write_buffer_size",
        );
        note(self.include_metadata == Some(true), "include_metadata");
        note(
            self.dialer.as_ref().is_some_and(|d| d.timeout.is_some()),
            "dialer",
        );
        note(
            self.max_connection_age_grace().is_some() && self.max_connection_age().is_none(),
            "keepalive::server_parameters::max_connection_age_grace",
        );
        let policy = self
            .keepalive
            .as_ref()
            .and_then(|k| k.enforcement_policy.as_ref());
        note(
            policy.is_some_and(|p| {
                p.min_time.is_some_and(|d| !d.is_zero()) || p.permit_without_stream == Some(true)
            }),
            "keepalive::enforcement_policy",
        );
        if let Some(tls) = &self.tls {
            tls.not_honoured(&join_path(path, "tls"), &mut keys);
        }
        keys
    }
}

impl TlsSettings {
    fn not_honoured(&self, path: &str, keys: &mut Vec<String>) {
        if self.reload_interval.is_some() {
            keys.push(join_path(path, "reload_interval"));
        }
        if self.client_ca_file_reload.is_some() {
            keys.push(join_path(path, "client_ca_file_reload"));
        }
    }
}

impl Validate for GrpcConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        self.common().validate(path, problems);
        let mib = self.max_recv_msg_size_mib.unwrap_or(0);
        if mib > (usize::MAX >> 20) as u64 || mib > 4096 {
            problems.push(Problem::new(
                join_path(path, "max_recv_msg_size_mib"),
                format!("{mib} MiB is more than the gRPC message limit of 4096 MiB"),
            ));
        }
        for (key, v) in [
            ("read_buffer_size", self.read_buffer_size),
            ("write_buffer_size", self.write_buffer_size),
        ] {
            if v.is_some_and(|n| n < 0) {
                problems.push(Problem::new(join_path(path, key), "must not be negative"));
            }
        }
    }
}

impl HttpConfig {
    fn common(&self) -> Common<'_> {
        Common {
            endpoint: &self.endpoint,
            transport: self.transport.as_deref(),
            tls: self.tls.as_ref(),
            auth: self.auth.as_ref(),
            middlewares: self.middlewares.as_ref(),
            auth_keys: self.auth_keys(),
        }
    }

    /// `basic_auth`, `bearer_token`, `bearer_token_file`.
    pub fn auth_keys(&self) -> AuthKeys<'_> {
        AuthKeys {
            basic_auth: self.basic_auth.as_ref(),
            bearer_token: self.bearer_token.as_ref(),
            bearer_token_file: self.bearer_token_file.as_deref(),
        }
    }

    pub fn family(&self) -> Family {
        family(self.transport.as_deref()).unwrap_or(Family::Any)
    }

    /// The largest body, as sent and after decompression, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        match self.max_request_body_size {
            None | Some(ByteSize(0)) => DEFAULT_MAX_REQUEST_BODY_SIZE,
            Some(ByteSize(n)) => n,
        }
    }

    /// The path profiles are posted to, with a leading `/` (the Collector
    /// adds one to its configured paths too).
    pub fn profiles_path(&self) -> String {
        match self.profiles_url_path.as_deref() {
            None | Some("") => DEFAULT_PROFILES_URL_PATH.to_string(),
            Some(p) if p.starts_with('/') => p.to_string(),
            Some(p) => format!("/{p}"),
        }
    }

    /// Content encodings accepted: `compression_algorithms`, or every one
    /// profcol decodes.
    pub fn encodings(&self) -> Vec<String> {
        match &self.compression_algorithms {
            Some(list) => list.iter().map(|e| e.to_ascii_lowercase()).collect(),
            None => SUPPORTED_ENCODINGS.iter().map(|e| e.to_string()).collect(),
        }
    }

    fn timeout(d: Option<Duration>) -> Option<std::time::Duration> {
        d.map(Duration::get).filter(|d| !d.is_zero())
    }

    /// `read_timeout`: the whole request must arrive within it.
    pub fn read_timeout(&self) -> Option<std::time::Duration> {
        Self::timeout(self.read_timeout)
    }

    /// `read_header_timeout`, or `read_timeout` when unset (as Go's server).
    pub fn read_header_timeout(&self) -> Option<std::time::Duration> {
        Self::timeout(self.read_header_timeout).or_else(|| self.read_timeout())
    }

    /// `idle_timeout`, or `read_timeout` when unset (as Go's server).
    pub fn idle_timeout(&self) -> Option<std::time::Duration> {
        Self::timeout(self.idle_timeout).or_else(|| self.read_timeout())
    }

    pub fn keep_alives(&self) -> bool {
        self.keep_alives_enabled.unwrap_or(true)
    }

    /// Keys set that have no effect in profcol (for a warning at start).
    pub fn not_honoured(&self, path: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut note = |set: bool, key: &str| {
            if set {
                keys.push(join_path(path, key));
            }
        };
        note(self.include_metadata == Some(true), "include_metadata");
        note(Self::timeout(self.write_timeout).is_some(), "write_timeout");
        note(
            self.dialer.as_ref().is_some_and(|d| d.timeout.is_some()),
            "dialer",
        );
        if let Some(tls) = &self.tls {
            tls.not_honoured(&join_path(path, "tls"), &mut keys);
        }
        keys
    }
}

impl Validate for HttpConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        self.common().validate(path, problems);
        for (key, value) in [
            ("traces_url_path", &self.traces_url_path),
            ("metrics_url_path", &self.metrics_url_path),
            ("logs_url_path", &self.logs_url_path),
            ("profiles_url_path", &self.profiles_url_path),
        ] {
            if let Some(p) = value {
                if p.contains(['?', '#']) || p.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    problems.push(Problem::new(
                        join_path(path, key),
                        format!("{p:?} is not a URL path"),
                    ));
                }
            }
        }
        if let Some(list) = &self.compression_algorithms {
            let key = join_path(path, "compression_algorithms");
            for e in list {
                let lower = e.to_ascii_lowercase();
                if UNSUPPORTED_ENCODINGS.contains(&lower.as_str()) {
                    problems.push(Problem::new(
                        key.clone(),
                        format!(
                            "{e:?} is not supported by profcol (supported: \"\", gzip, zstd, zlib, deflate)"
                        ),
                    ));
                } else if !SUPPORTED_ENCODINGS.contains(&lower.as_str()) {
                    problems.push(Problem::new(
                        key.clone(),
                        format!(
                            "unknown encoding {e:?} (supported: \"\", gzip, zstd, zlib, deflate)"
                        ),
                    ));
                }
            }
        }
        if let Some(headers) = &self.response_headers {
            for (name, value) in headers.pairs() {
                if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    problems.push(Problem::new(
                        join_path(&join_path(path, "response_headers"), name),
                        "is not a valid header name",
                    ));
                } else if http::HeaderValue::from_str(value.expose()).is_err() {
                    problems.push(Problem::new(
                        join_path(&join_path(path, "response_headers"), name),
                        "the value is not a valid header value",
                    ));
                }
            }
        }
        if let Some(cors) = &self.cors {
            cors.validate(&join_path(path, "cors"), problems);
        }
    }
}

impl Validate for Cors {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        for (i, o) in self.allowed_origins.iter().enumerate() {
            if o.matches('*').count() > 1 {
                problems.push(Problem::new(
                    join_path(&join_path(path, "allowed_origins"), &i.to_string()),
                    format!("{o:?}: an origin may hold one wildcard (*) at most"),
                ));
            }
        }
        for (key, list) in [
            ("allowed_headers", &self.allowed_headers),
            ("exposed_headers", &self.exposed_headers),
        ] {
            for (i, h) in list.iter().enumerate() {
                if h != "*" && http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                    problems.push(Problem::new(
                        join_path(&join_path(path, key), &i.to_string()),
                        format!("{h:?} is not a header name"),
                    ));
                }
            }
        }
    }
}

impl Validate for OtlpConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        let protocols = join_path(path, "protocols");
        if self.protocols.grpc.is_none() && self.protocols.http.is_none() {
            problems.push(Problem::new(
                protocols.clone(),
                "at least one protocol is required: protocols::grpc or protocols::http (an empty block, `grpc:`, enables one with its defaults)",
            ));
        }
        if let Some(g) = &self.protocols.grpc {
            g.validate(&join_path(&protocols, "grpc"), problems);
        }
        if let Some(h) = &self.protocols.http {
            h.validate(&join_path(&protocols, "http"), problems);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn decode(yaml: &str) -> Result<OtlpConfig, Vec<Problem>> {
        let v = profcol_config::Body::parse(yaml).unwrap();
        profcol_config::decode(&v, "receivers::otlp")
    }

    fn messages(yaml: &str) -> Vec<String> {
        decode(yaml)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn empty_blocks_enable_a_protocol_with_the_collectors_defaults() {
        let c = decode("protocols: {grpc: , http: }").unwrap();
        let g = c.protocols.grpc.unwrap();
        assert_eq!(g.endpoint, "localhost:4317");
        assert_eq!(g.max_message_bytes(), 4 << 20);
        assert_eq!(g.keepalive_time(), DEFAULT_KEEPALIVE_TIME);
        assert_eq!(g.max_connection_age(), None);
        let h = c.protocols.http.unwrap();
        assert_eq!(h.endpoint, "localhost:4318");
        assert_eq!(h.max_body_bytes(), 20 << 20);
        assert_eq!(h.profiles_path(), "/v1development/profiles");
        assert!(h.keep_alives());
        assert_eq!(h.read_header_timeout(), None);
        let only = decode("protocols: {http: {profiles_url_path: custom/p}}").unwrap();
        assert!(only.protocols.grpc.is_none());
        assert_eq!(only.protocols.http.unwrap().profiles_path(), "/custom/p");
    }

    #[test]
    fn one_protocol_is_required() {
        for yaml in ["{}", "protocols:", "protocols: {}"] {
            let m = messages(yaml);
            assert_eq!(m.len(), 1, "{m:?}");
            assert!(
                m[0].starts_with("receivers::otlp::protocols: at least one protocol is required: protocols::grpc or protocols::http"),
                "{m:?}"
            );
        }
    }

    #[test]
    fn every_collector_key_is_accepted() {
        let c = decode(
            r#"
protocols:
  grpc:
    endpoint: 0.0.0.0:4317
    transport: tcp
    dialer: {timeout: 5s}
    tls: {cert_file: c.pem, key_file: k.pem, client_ca_file: ca.pem, min_version: "1.3", reload_interval: 1m, client_ca_file_reload: true}
    max_recv_msg_size_mib: 16
    max_concurrent_streams: 100
    read_buffer_size: 524288
    write_buffer_size: 0
    keepalive:
      server_parameters: {max_connection_idle: 11s, max_connection_age: 12s, max_connection_age_grace: 5s, time: 30s, timeout: 5s}
      enforcement_policy: {min_time: 10s, permit_without_stream: true}
    include_metadata: true
    middlewares: []
  http:
    endpoint: "[::1]:4318"
    transport: tcp6
    cors: {allowed_origins: ["https://*.example.com"], allowed_headers: [X-Custom], exposed_headers: [X-Out], max_age: 7200}
    max_request_body_size: 1048576
    include_metadata: false
    response_headers: {X-Served-By: profcol}
    compression_algorithms: ["", gzip, zstd]
    read_timeout: 30s
    read_header_timeout: 10s
    write_timeout: 0s
    idle_timeout: 1m
    keep_alives_enabled: false
    traces_url_path: /v1/traces
    metrics_url_path: /v1/metrics
    logs_url_path: /v1/logs
    bearer_token: secret
"#,
        )
        .unwrap();
        let g = c.protocols.grpc.unwrap();
        assert_eq!(g.max_message_bytes(), 16 << 20);
        assert_eq!(
            g.max_connection_idle(),
            Some(std::time::Duration::from_secs(11))
        );
        assert_eq!(g.keepalive_timeout(), std::time::Duration::from_secs(5));
        assert_eq!(
            g.tls.as_ref().unwrap().server_tls().min_version,
            Some(TlsVersion::Tls13)
        );
        assert_eq!(
            g.not_honoured("g"),
            [
                "g::read_buffer_size",
                "g::include_metadata",
                "g::dialer",
                "g::keepalive::enforcement_policy",
                "g::tls::reload_interval",
                "g::tls::client_ca_file_reload"
            ]
        );
        let h = c.protocols.http.unwrap();
        assert_eq!(h.family(), Family::V6);
        assert_eq!(h.max_body_bytes(), 1 << 20);
        assert!(!h.keep_alives());
        assert_eq!(h.encodings(), ["", "gzip", "zstd"]);
        assert!(h.not_honoured("h").is_empty());
        let list = decode(
            "protocols: {http: {response_headers: [{name: X-A, value: a}], max_request_body_size: 2MiB}}",
        )
        .unwrap();
        let h = list.protocols.http.unwrap();
        assert_eq!(h.response_headers.as_ref().unwrap().pairs()[0].0, "X-A");
        assert_eq!(h.max_body_bytes(), 2 << 20);
    }

    #[test]
    fn grace_without_age_has_no_effect() {
        let c = decode(
            "protocols: {grpc: {keepalive: {server_parameters: {max_connection_age_grace: 5s}}}}",
        )
        .unwrap();
        let g = c.protocols.grpc.unwrap();
        assert_eq!(
            g.not_honoured("g"),
            ["g::keepalive::server_parameters::max_connection_age_grace"]
        );
    }

    #[test]
    fn extensions_are_refused_with_the_alternative() {
        let m = messages("protocols: {grpc: {auth: {authenticator: basicauth/server}}, http: {auth: {authenticator: x}, middlewares: [{id: m}]}}");
        assert_eq!(m.len(), 3, "{m:?}");
        assert!(m[0].starts_with("receivers::otlp::protocols::grpc::auth: authenticator extensions are not available in profcol; use basic_auth, or bearer_token / bearer_token_file"), "{m:?}");
        assert!(
            m[1].starts_with("receivers::otlp::protocols::http::auth:"),
            "{m:?}"
        );
        assert_eq!(
            m[2],
            "receivers::otlp::protocols::http::middlewares: middleware extensions are not available in profcol"
        );
    }

    #[test]
    fn bad_values_name_their_keys() {
        let m = messages(
            r#"
protocols:
  grpc:
    endpoint: "localhost"
    transport: unix
    tls: {min_version: "1.1"}
    max_recv_msg_size_mib: 5000
    read_buffer_size: -1
    bearer_token: a
    bearer_token_file: /b
  http:
    endpoint: "::1:4318"
    compression_algorithms: [snappy, brotli]
    profiles_url_path: "/p?x"
    cors: {allowed_origins: ["*.*"], allowed_headers: ["bad header"]}
    response_headers: {"bad name": x}
"#,
        );
        let want = [
            "receivers::otlp::protocols::grpc::endpoint: \"localhost\" is not host:port",
            "receivers::otlp::protocols::grpc::transport: unix sockets are not supported",
            "receivers::otlp::protocols::grpc::tls::min_version: TLS 1.0 and 1.1 are not offered",
            "receivers::otlp::protocols::grpc::tls::cert_file: is required",
            "receivers::otlp::protocols::grpc::tls::key_file: is required",
            "receivers::otlp::protocols::grpc::bearer_token: at most one of bearer_token and bearer_token_file",
            "receivers::otlp::protocols::grpc::max_recv_msg_size_mib: 5000 MiB",
            "receivers::otlp::protocols::grpc::read_buffer_size: must not be negative",
            "receivers::otlp::protocols::http::endpoint: \"::1:4318\": write an IPv6 address in brackets",
            "receivers::otlp::protocols::http::profiles_url_path: \"/p?x\" is not a URL path",
            "receivers::otlp::protocols::http::compression_algorithms: \"snappy\" is not supported by profcol",
            "receivers::otlp::protocols::http::compression_algorithms: unknown encoding \"brotli\"",
            "receivers::otlp::protocols::http::response_headers::bad name: is not a valid header name",
            "receivers::otlp::protocols::http::cors::allowed_origins::0: \"*.*\": an origin may hold one wildcard",
            "receivers::otlp::protocols::http::cors::allowed_headers::0: \"bad header\" is not a header name",
        ];
        assert_eq!(m.len(), want.len(), "{m:#?}");
        for (got, want) in m.iter().zip(want) {
            assert!(got.starts_with(want), "{got}\n  wanted {want}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let m = messages("protocols: {grpc: {max_recv_msg_size: 4}}");
        assert!(
            m[0].starts_with("receivers::otlp::protocols::grpc::max_recv_msg_size: unknown key `max_recv_msg_size`: did you mean `max_recv_msg_size_mib`? (valid keys: endpoint, "),
            "{m:?}"
        );
        let m = messages("protocols: {http: {tls: {ca_file: x}}}");
        assert!(
            m[0].starts_with(
                "receivers::otlp::protocols::http::tls::ca_file: unknown key `ca_file`"
            ),
            "{m:?}"
        );
        let m = messages("protocols: {grpc: {}, kafka: {}}");
        assert!(m[0].contains("unknown key `kafka`"), "{m:?}");
    }
}
