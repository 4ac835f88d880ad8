//! `role: ingress`: one target per path of each ingress rule, at the rule's
//! host, with the scheme `https` when a TLS entry covers the host.

use super::meta::{add_namespace_metadata, add_object_meta, NAMESPACE, PREFIX};
use super::watch::{BuildOptions, Objects};
use crate::discovery::TargetGroup;
use k8s_openapi::api::networking::v1::{Ingress, IngressRule};
use profcol_pdata::Labels;

/// True when `pattern` equals `host` or is a `*.` wildcard matching one
/// leading label of it.
fn matches_host(pattern: &str, host: &str) -> bool {
    if pattern == host {
        return true;
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let h: Vec<&str> = host.split('.').collect();
    p.first() == Some(&"*") && p.len() == h.len() && p[1..] == h[1..]
}

/// The rule's paths; `/` for a rule without HTTP paths or an empty path.
fn paths(rule: &IngressRule) -> Vec<String> {
    match rule.http.as_ref() {
        None => vec!["/".to_string()],
        Some(h) => h
            .paths
            .iter()
            .map(|p| match p.path.as_deref() {
                None | Some("") => "/".to_string(),
                Some(x) => x.to_string(),
            })
            .collect(),
    }
}

/// The ingress's group.
pub(crate) fn build(ing: &Ingress, objects: &Objects<'_>, opts: &BuildOptions) -> TargetGroup {
    let mut labels = Labels::new();
    let namespace = ing.metadata.namespace.as_deref().unwrap_or("");
    labels.set(NAMESPACE, namespace);
    let spec = ing.spec.as_ref();
    if let Some(cls) = spec.and_then(|s| s.ingress_class_name.as_deref()) {
        labels.set(format!("{PREFIX}ingress_class_name"), cls);
    }
    add_object_meta(&mut labels, &ing.metadata, "ingress");
    if opts.attach_namespace {
        add_namespace_metadata(&mut labels, objects, namespace);
    }
    let tls_hosts: Vec<&str> = spec
        .and_then(|s| s.tls.as_ref())
        .into_iter()
        .flatten()
        .flat_map(|t| t.hosts.iter().flatten().map(String::as_str))
        .collect();
    let mut targets = Vec::new();
    for rule in spec.and_then(|s| s.rules.as_ref()).into_iter().flatten() {
        let host = rule.host.as_deref().unwrap_or("");
        let scheme = if tls_hosts.iter().any(|p| matches_host(p, host)) {
            "https"
        } else {
            "http"
        };
        for path in paths(rule) {
            let mut t = Labels::from_pairs([("__address__", host)]);
            t.set(format!("{PREFIX}ingress_scheme"), scheme);
            t.set(format!("{PREFIX}ingress_host"), host);
            t.set(format!("{PREFIX}ingress_path"), path);
            targets.push(t);
        }
    }
    TargetGroup { targets, labels }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_one_label() {
        assert!(matches_host("*.example.com", "a.example.com"));
        assert!(!matches_host("*.example.com", "a.b.example.com"));
        assert!(matches_host("x.example.com", "x.example.com"));
        assert!(!matches_host("x.example.com", "y.example.com"));
    }
}
