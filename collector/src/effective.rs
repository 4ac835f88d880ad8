//! The effective configuration as `profcol print-config`, the admin
//! server's config page and its components page show it: every component's
//! typed config as its factory decoded it (defaults written out, durations
//! normalised, `file_storage` references resolved) and the service section,
//! each serialized back to YAML. Secrets are redacted by their type —
//! `Secret` fields, header values, URL userinfo and secret-looking query
//! values, secret-looking `__param_*` labels — never by key name. The text
//! is a configuration profcol loads again to the same typed configs
//! (secrets aside: they print as `<secret>`).
//!
//! ```no_run
//! let settings = profcol::settings::load(&[], &[]).unwrap();
//! print!("{}", profcol::effective::yaml(&settings).unwrap());
//! ```

use crate::components::Decoded;
use crate::settings::Settings;
use profcol_config::yaml::{self, Mapping, Value};
use profcol_config::{ComponentId, Kind};
use std::collections::BTreeMap;

/// The whole effective configuration as YAML.
pub fn yaml(settings: &Settings) -> Result<String, yaml::Error> {
    yaml::to_string(&document(settings)?)
}

/// The whole effective configuration: `receivers`, `processors`,
/// `exporters`, `extensions` (each omitted when empty) and `service`.
pub fn document(settings: &Settings) -> Result<Value, yaml::Error> {
    let typed = &settings.components;
    let mut doc = Mapping::new();
    section(&mut doc, Kind::Receiver, &typed.receivers)?;
    section(&mut doc, Kind::Processor, &typed.processors)?;
    section(&mut doc, Kind::Exporter, &typed.exporters)?;
    section(&mut doc, Kind::Extension, &typed.extensions)?;
    doc.insert("service".into(), yaml::to_value(&settings.config.service)?);
    Ok(Value::Mapping(doc))
}

/// One component's effective config as YAML (for the components page);
/// `None` when `typed` has no such component.
pub fn component(typed: &Decoded, kind: Kind, id: &ComponentId) -> Option<String> {
    let value = match kind {
        Kind::Receiver => typed.receivers.get(id).map(yaml::to_value),
        Kind::Processor => typed.processors.get(id).map(yaml::to_value),
        Kind::Exporter => typed.exporters.get(id).map(yaml::to_value),
        Kind::Extension => typed.extensions.get(id).map(yaml::to_value),
    }?;
    Some(
        value
            .and_then(|v| yaml::to_string(&v))
            .unwrap_or_else(|e| format!("# cannot print: {e}\n")),
    )
}

fn section<T: serde::Serialize>(
    doc: &mut Mapping,
    kind: Kind,
    configs: &BTreeMap<ComponentId, T>,
) -> Result<(), yaml::Error> {
    if configs.is_empty() {
        return Ok(());
    }
    let mut out = Mapping::new();
    for (id, config) in configs {
        out.insert(id.to_string().into(), yaml::to_value(config)?);
    }
    doc.insert(kind.section().into(), Value::Mapping(out));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::from_text;

    /// One component of every type, secrets planted wherever one can go.
    const PLANTED: &str = r#"
receivers:
  pyroscope_scrape/a:
    targets: [{__address__: 'h:1', __param_api_key: s-param, __param_debug: '1'}]
    params: {access_token: [s-query-param], seconds: ['5']}
    basic_auth: {username: scraper, password: s-basic}
    tls_config: {cert_pem: cert, key_pem: s-key-pem}
    proxy_url: 'http://pu:s-proxy-pass@proxy:3128'
    proxy_connect_header: {Proxy-Authorization: [s-proxy-header]}
  pyroscope_scrape/b:
    authorization: {credentials: s-authz}
    http_sd_configs: [{url: 'http://su:s-sd-pass@sd:80/x?token=s-sd-token&page=2'}]
  pyroscope_scrape/c:
    targets: [{__address__: 'h:2'}]
    oauth2: {client_id: cid, client_secret: s-client-secret, token_url: 'http://t/token'}
  otlp:
    protocols: {grpc: {endpoint: '127.0.0.1:0'}}
  pyroscope:
    endpoint: '127.0.0.1:0'
    basic_auth: {username: pusher, password: s-push-pass}
processors:
  batch: {}
  resource:
    attributes: [{key: tenant, value: acme, action: upsert}]
exporters:
  otlp_grpc:
    endpoint: 'h:4317'
    headers: {authorization: Bearer s-otlp-header}
  otlp_http:
    endpoint: 'https://hu:s-otlp-url-pass@otlp:4318/?api_token=s-otlp-query&x=1'
  pyroscope:
    endpoint:
      url: 'https://p:4040'
      basic_auth: {username: tenant, password: s-pyro-pass}
      headers: {X-Scope-OrgID: team}
extensions:
  health_check: {endpoint: '127.0.0.1:0'}
service:
  extensions: [health_check]
  pipelines:
    profiles:
      receivers: [pyroscope_scrape/a, pyroscope_scrape/b, pyroscope_scrape/c, otlp, pyroscope]
      processors: [resource, batch]
      exporters: [otlp_grpc, otlp_http, pyroscope]
  telemetry:
    metrics: {address: '127.0.0.1:0', bearer_token: s-admin-token}
"#;

    #[test]
    fn no_planted_secret_is_printed_and_the_rest_is() {
        let settings = from_text("planted.yaml", PLANTED).unwrap();
        let out = yaml(&settings).unwrap();
        let planted: Vec<&str> = PLANTED
            .split(|c: char| !(c.is_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("s-"))
            .collect();
        assert!(planted.len() >= 16, "{planted:?}");
        for secret in planted {
            assert!(!out.contains(secret), "{secret} printed:\n{out}");
        }
        for kept in [
            "username: scraper",
            "__param_debug: '1'",
            "client_id: cid",
            "X-Scope-OrgID",
            "page=2",
            "x=1",
            "value: acme",
            "scrape_interval: 15s",
        ] {
            assert!(out.contains(kept), "{kept} missing:\n{out}");
        }
    }

    #[test]
    fn the_printed_configuration_loads_to_the_same_typed_configs() {
        let text = PLANTED.replace("s-", "not-a-secret-");
        let first = from_text("first.yaml", &text).unwrap();
        let printed = yaml(&first).unwrap();
        let again = from_text("printed.yaml", &printed)
            .unwrap_or_else(|e| panic!("the printed config does not load: {e}\n{printed}"));
        // Secrets print as `<secret>`: equal configs except for them.
        for kind in Kind::ALL {
            for (id, _) in first.config.section(kind) {
                let (a, b) = (
                    component(&first.components, kind, id),
                    component(&again.components, kind, id),
                );
                assert!(a.is_some(), "{id} not decoded");
                assert_eq!(a, b, "{id} prints differently after a reload of its print");
            }
        }
        assert_eq!(printed, yaml(&again).unwrap(), "printing is a fixed point");
        let same = |kind: Kind, id: &str| {
            first
                .components
                .same(&again.components, kind, &id.parse().unwrap())
        };
        for (kind, id) in [
            (Kind::Receiver, "otlp"),
            (Kind::Processor, "resource"),
            (Kind::Processor, "batch"),
            (Kind::Extension, "health_check"),
        ] {
            assert!(
                same(kind, id),
                "{id}: a component without secrets loads equal"
            );
        }
        assert!(
            !same(Kind::Receiver, "pyroscope_scrape/c"),
            "a secret printed as <secret> loads as another value"
        );
    }
}
