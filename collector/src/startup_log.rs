//! The start-up line that tells a new user where to look: the admin UI's URL
//! (from the address actually bound, `https` when the admin server has TLS)
//! and where each exporter sends profiles (secrets redacted).

use profcol_config::CollectorConfig;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The URL of the admin UI served on `bound`. A wildcard address is shown
/// as the loopback address of its family, which reaches it from this host.
pub fn ui_url(bound: SocketAddr, tls: bool) -> String {
    let mut a = bound;
    if a.ip().is_unspecified() {
        a.set_ip(match a.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{a}/")
}

/// `exporter_id=destination` for every exporter used by a pipeline, in id
/// order, separated by `, `.
pub fn destinations(cfg: &CollectorConfig, typed: &crate::components::Decoded) -> String {
    let used: std::collections::BTreeSet<&profcol_config::ComponentId> = cfg
        .service
        .pipelines
        .values()
        .flat_map(|p| p.exporters.iter())
        .collect();
    typed
        .exporters
        .iter()
        .filter(|(id, _)| used.contains(id))
        .map(|(id, config)| format!("{id}={}", config.destination()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_url_from_the_bound_address() {
        let a: SocketAddr = "127.0.0.1:8888".parse().unwrap();
        assert_eq!(ui_url(a, false), "http://127.0.0.1:8888/");
        assert_eq!(ui_url(a, true), "https://127.0.0.1:8888/");
        let any: SocketAddr = "0.0.0.0:9000".parse().unwrap();
        assert_eq!(ui_url(any, false), "http://127.0.0.1:9000/");
        let v6: SocketAddr = "[::]:9000".parse().unwrap();
        assert_eq!(ui_url(v6, false), "http://[::1]:9000/");
    }

    #[test]
    fn destinations_name_each_used_exporter_without_secrets() {
        let yaml = r#"
receivers:
  pyroscope_scrape: { targets: [{ __address__: "127.0.0.1:1" }] }
exporters:
  file: { directory: /tmp/profcol-data }
  debug: {}
  otlp_http: { endpoint: "https://user:pw@otlp.example:4318/?api_token=abc&x=1" }
  otlp_grpc/unused: { endpoint: "h:4317" }
service:
  pipelines:
    profiles: { receivers: [pyroscope_scrape], exporters: [file, debug, otlp_http] }
"#;
        let doc: profcol_config::yaml::Value = profcol_config::yaml::from_str(yaml).unwrap();
        let cfg = profcol_config::collector::parse_collector(&doc).unwrap();
        let d = destinations(&cfg, &crate::components::Decoded::decode(&cfg).0);
        assert!(d.contains("file=/tmp/profcol-data"), "{d}");
        assert!(d.contains("debug=the log"), "{d}");
        assert!(d.contains("otlp_http=https://otlp.example:4318/"), "{d}");
        assert!(!d.contains("pw") && !d.contains("abc"), "{d}");
        assert!(d.contains("x=1"), "{d}");
        assert!(!d.contains("unused"), "{d}");
    }
}
