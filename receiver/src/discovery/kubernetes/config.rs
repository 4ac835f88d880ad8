//! The `kubernetes_sd_configs` entry: Prometheus' keys with Prometheus'
//! rules (`role`, `api_server` | `kubeconfig_file` | in-cluster,
//! `namespaces`, `selectors`, `attach_metadata`, and the shared HTTP client
//! blocks, which apply only with `api_server`). [`Validate`] reports every
//! problem with its key path.

use super::Role;
use profcol_config::{join_path, HttpClientConfig, Problem, Validate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `namespaces { own_namespace, names }`: which namespaces are watched
/// (default: all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceDiscovery {
    /// Adds the namespace profcol runs in (read from the service account).
    #[serde(default)]
    pub own_namespace: bool,
    #[serde(default)]
    pub names: Vec<String>,
}

/// One `selectors` entry: label and field selectors sent to the API server
/// for the objects of `role`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectorConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `attach_metadata { node, namespace }`: labels of the target's node and
/// namespace added to its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachMetadata {
    #[serde(default)]
    pub node: bool,
    #[serde(default)]
    pub namespace: bool,
}

/// The keys of a `kubernetes_sd_configs` entry besides the HTTP client's.
pub const KUBERNETES_SD_KEYS: &[&str] = &[
    "role",
    "api_server",
    "kubeconfig_file",
    "namespaces",
    "selectors",
    "attach_metadata",
];

/// The values of `role`.
const ROLES: &[&str] = &[
    "pod",
    "service",
    "endpoints",
    "endpointslice",
    "node",
    "ingress",
];

/// One `kubernetes_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KubernetesSdConfig {
    /// Required: `pod`, `endpoints`, `endpointslice`, `service`, `node` or
    /// `ingress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "profcol_config::redact::serialize_optional_url"
    )]
    pub api_server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig_file: Option<String>,
    #[serde(default)]
    pub namespaces: NamespaceDiscovery,
    #[serde(default)]
    pub selectors: Vec<SelectorConfig>,
    #[serde(default)]
    pub attach_metadata: AttachMetadata,
    /// Auth, TLS and proxy towards `api_server`.
    #[serde(flatten)]
    pub http: HttpClientConfig,
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, profcol_config::Body>,
}

/// The roles whose objects a selector of `role` may filter, as Prometheus
/// allows them.
pub fn allowed_selector_roles(role: Role) -> &'static [Role] {
    match role {
        Role::Pod => &[Role::Pod, Role::Node],
        Role::Service => &[Role::Service],
        Role::Endpoints => &[Role::Pod, Role::Service, Role::Endpoints],
        Role::EndpointSlice => &[Role::Pod, Role::Service, Role::EndpointSlice],
        Role::Node => &[Role::Node],
        Role::Ingress => &[Role::Ingress],
    }
}

impl KubernetesSdConfig {
    /// The parsed role, when it is valid.
    pub fn role(&self) -> Option<Role> {
        self.role.as_deref().and_then(Role::parse)
    }

    /// The label and field selector configured for objects of `role`.
    pub fn selector(&self, role: Role) -> (Option<String>, Option<String>) {
        self.selectors
            .iter()
            .find(|s| s.role.as_deref().and_then(Role::parse) == Some(role))
            .map(|s| {
                let keep = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
                (keep(&s.label), keep(&s.field))
            })
            .unwrap_or_default()
    }
}

impl Validate for KubernetesSdConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        let at = |k: &str| join_path(path, k);
        profcol_config::unknown_keys(
            &self.unknown,
            path,
            &profcol_config::keys::key_union(
                KUBERNETES_SD_KEYS,
                profcol_config::http_client::HTTP_CLIENT_KEYS,
            ),
            problems,
        );
        let role = match self.role.as_deref() {
            None => {
                problems.push(Problem::new(
                    at("role"),
                    "role is required (one of: pod, service, endpoints, endpointslice, node, ingress)",
                ));
                None
            }
            Some(r) => match Role::parse(r) {
                Some(role) => Some(role),
                None => {
                    problems.push(Problem::new(
                        at("role"),
                        profcol_config::suggest::unknown_value(r, "role", ROLES),
                    ));
                    None
                }
            },
        };
        if let Some(u) = &self.api_server {
            match url::Url::parse(u) {
                Ok(p) if p.scheme() == "http" || p.scheme() == "https" => {}
                Ok(_) => problems.push(Problem::new(
                    at("api_server"),
                    "api_server must be an http or https URL",
                )),
                Err(e) => {
                    problems.push(Problem::new(at("api_server"), format!("invalid URL: {e}")))
                }
            }
        }
        if self.kubeconfig_file.as_deref() == Some("") {
            problems.push(Problem::new(
                at("kubeconfig_file"),
                "kubeconfig_file must not be empty",
            ));
        }
        let custom_http = self.http != HttpClientConfig::default();
        if self.api_server.is_some() && self.kubeconfig_file.is_some() {
            problems.push(Problem::new(
                at("kubeconfig_file"),
                "cannot use 'kubeconfig_file' and 'api_server' simultaneously",
            ));
        } else if self.kubeconfig_file.is_some() && custom_http {
            problems.push(Problem::new(
                at("kubeconfig_file"),
                "cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
            ));
        } else if self.api_server.is_none() && self.kubeconfig_file.is_none() && custom_http {
            problems.push(Problem::new(
                path.to_string(),
                "to use custom HTTP client configuration please provide the 'api_server' URL explicitly",
            ));
        }
        if self.namespaces.own_namespace {
            let here = join_path(&at("namespaces"), "own_namespace");
            if self.api_server.is_some() {
                problems.push(Problem::new(
                    here.clone(),
                    "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously",
                ));
            }
            if self.kubeconfig_file.is_some() {
                problems.push(Problem::new(
                    here,
                    "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously",
                ));
            }
        }
        for (i, n) in self.namespaces.names.iter().enumerate() {
            if n.trim().is_empty() {
                problems.push(Problem::new(
                    join_path(&join_path(&at("namespaces"), "names"), &i.to_string()),
                    "a namespace name must not be empty",
                ));
            }
        }
        let mut seen = Vec::new();
        for (i, s) in self.selectors.iter().enumerate() {
            let here = join_path(&at("selectors"), &i.to_string());
            let Some(sel_role) = s.role.as_deref() else {
                problems.push(Problem::new(join_path(&here, "role"), "role is required"));
                continue;
            };
            let Some(sel) = Role::parse(sel_role) else {
                problems.push(Problem::new(
                    join_path(&here, "role"),
                    format!("unknown Kubernetes SD role {sel_role:?} (one of: pod, service, endpoints, endpointslice, node, ingress)"),
                ));
                continue;
            };
            if seen.contains(&sel) {
                problems.push(Problem::new(
                    join_path(&here, "role"),
                    format!("duplicated selector role: {sel_role}"),
                ));
            }
            seen.push(sel);
            if let Some(role) = role {
                let allowed = allowed_selector_roles(role);
                if !allowed.contains(&sel) {
                    let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
                    problems.push(Problem::new(
                        join_path(&here, "role"),
                        format!(
                            "{} role supports only {} selectors",
                            role.as_str(),
                            names.join(", ")
                        ),
                    ));
                }
            }
            for (key, value) in [("label", &s.label), ("field", &s.field)] {
                if let Some(v) = value {
                    if let Err(e) = check_selector(v) {
                        problems.push(Problem::new(join_path(&here, key), e));
                    }
                }
            }
        }
        if self.attach_metadata.node
            && matches!(role, Some(Role::Service | Role::Node | Role::Ingress))
        {
            problems.push(Problem::new(
                join_path(&at("attach_metadata"), "node"),
                "attach_metadata.node applies only to the pod, endpoints and endpointslice roles",
            ));
        }
        let unsupported = [
            ("oauth2", self.http.oauth2.is_some()),
            ("no_proxy", self.http.no_proxy.is_some()),
            ("proxy_from_environment", self.http.proxy_from_environment),
            (
                "proxy_connect_header",
                !self.http.proxy_connect_header.is_empty(),
            ),
        ];
        for (key, set) in unsupported {
            if set {
                problems.push(Problem::new(
                    at(key),
                    format!("{key} is not supported by kubernetes_sd_configs (the Kubernetes client takes bearer tokens, basic_auth, authorization, tls_config and proxy_url)"),
                ));
            }
        }
        self.http.validate(path, problems);
    }
}

/// A light syntax check of a label or field selector: comma-separated
/// requirements, balanced parentheses, no empty requirement. The API server
/// has the last word; this catches typos at load time.
fn check_selector(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        return Ok(());
    }
    let mut depth = 0i32;
    let mut current = String::new();
    let mut parts = Vec::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return Err(format!("invalid selector {s:?}: unbalanced parentheses"));
        }
        if c == ',' && depth == 0 {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    if depth != 0 {
        return Err(format!("invalid selector {s:?}: unbalanced parentheses"));
    }
    if parts.iter().any(|p| p.trim().is_empty()) {
        return Err(format!("invalid selector {s:?}: empty requirement"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str) -> Vec<String> {
        let c: KubernetesSdConfig = profcol_config::yaml::from_str(yaml).unwrap();
        let mut out = Vec::new();
        c.validate("k", &mut out);
        out.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn a_plain_pod_config_is_valid() {
        assert!(problems("role: pod").is_empty());
        assert!(problems("role: endpoints\napi_server: https://k:6443\nbearer_token: t\nselectors: [{role: pod, label: 'a=b'}, {role: service, field: 'metadata.name=x'}]\nattach_metadata: {node: true, namespace: true}").is_empty());
    }

    #[test]
    fn every_rule_names_its_key() {
        let cases: &[(&str, &str)] = &[
            ("{}", "k::role: role is required"),
            ("role: pods", "k::role: unknown value `pods` for role: did you mean `pod`? (expected one of pod, service, endpoints, endpointslice, node, ingress)"),
            ("role: pod\napi_server: http://a\nkubeconfig_file: /k", "k::kubeconfig_file: cannot use 'kubeconfig_file' and 'api_server' simultaneously"),
            ("role: pod\nbearer_token: x", "k: to use custom HTTP client configuration please provide the 'api_server' URL explicitly"),
            ("role: pod\nkubeconfig_file: /k\nbearer_token: x", "k::kubeconfig_file: cannot use a custom HTTP client configuration together with 'kubeconfig_file'"),
            ("role: pod\napi_server: http://a\nnamespaces: {own_namespace: true}", "k::namespaces::own_namespace: cannot use 'api_server' and 'namespaces.own_namespace' simultaneously"),
            ("role: service\nselectors: [{role: pod}]", "k::selectors::0::role: service role supports only service selectors"),
            ("role: pod\nselectors: [{role: pod}, {role: pod}]", "k::selectors::1::role: duplicated selector role: pod"),
            ("role: pod\nselectors: [{role: pod, label: 'a=b,'}]", "k::selectors::0::label: invalid selector"),
            ("role: service\nattach_metadata: {node: true}", "k::attach_metadata::node: attach_metadata.node applies only to the pod, endpoints and endpointslice roles"),
            ("role: pod\nbogus: 1", "k::bogus: unknown key `bogus` (valid keys: role, "),
            ("role: pod\napi_server: ftp://x", "k::api_server: api_server must be an http or https URL"),
        ];
        for (yaml, want) in cases {
            let got = problems(yaml);
            assert!(
                got.iter().any(|p| p.starts_with(want)),
                "{yaml:?}: want {want:?}, got {got:?}"
            );
        }
    }

    #[test]
    fn selectors_are_found_by_role() {
        let c: KubernetesSdConfig = profcol_config::yaml::from_str(
            "role: endpoints\nselectors: [{role: pod, label: 'app=x'}, {role: endpoints, field: 'metadata.name=y'}]",
        )
        .unwrap();
        assert_eq!(c.selector(Role::Pod), (Some("app=x".into()), None));
        assert_eq!(
            c.selector(Role::Endpoints),
            (None, Some("metadata.name=y".into()))
        );
        assert_eq!(c.selector(Role::Service), (None, None));
    }
}
