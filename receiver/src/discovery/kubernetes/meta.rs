//! Labels shared by every role: Prometheus' label-name sanitizing and the
//! `<kind>_name`, `<kind>_label_*`, `<kind>_labelpresent_*`,
//! `<kind>_annotation_*` and `<kind>_annotationpresent_*` labels of an
//! object's metadata, plus the node and namespace labels of
//! `attach_metadata`.

use super::watch::Objects;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use profcol_pdata::Labels;

/// Every label this discovery adds starts with this.
pub(crate) const PREFIX: &str = "__meta_kubernetes_";
/// `__meta_kubernetes_namespace`.
pub(crate) const NAMESPACE: &str = "__meta_kubernetes_namespace";
/// The value of every `*present_*` label.
pub(crate) const PRESENT: &str = "true";

/// Replaces every character outside `[a-zA-Z0-9_]` with `_`, as Prometheus
/// does for label names built from Kubernetes keys.
pub(crate) fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `__meta_kubernetes_<kind>_label_*`/`labelpresent_*`/`annotation_*`/
/// `annotationpresent_*` of `meta`.
pub(crate) fn add_labels_and_annotations(l: &mut Labels, meta: &ObjectMeta, kind: &str) {
    for (k, v) in meta.labels.iter().flatten() {
        let n = sanitize(k);
        l.set(format!("{PREFIX}{kind}_label_{n}"), v.as_str());
        l.set(format!("{PREFIX}{kind}_labelpresent_{n}"), PRESENT);
    }
    for (k, v) in meta.annotations.iter().flatten() {
        let n = sanitize(k);
        l.set(format!("{PREFIX}{kind}_annotation_{n}"), v.as_str());
        l.set(format!("{PREFIX}{kind}_annotationpresent_{n}"), PRESENT);
    }
}

/// `__meta_kubernetes_<kind>_name` plus the labels and annotations of `meta`.
pub(crate) fn add_object_meta(l: &mut Labels, meta: &ObjectMeta, kind: &str) {
    l.set(
        format!("{PREFIX}{kind}_name"),
        meta.name.as_deref().unwrap_or(""),
    );
    add_labels_and_annotations(l, meta, kind);
}

/// `attach_metadata.node`: the node's name, labels and annotations, when
/// the node is known.
pub(crate) fn add_node_metadata(l: &mut Labels, objects: &Objects<'_>, node: Option<&str>) {
    if let Some(n) = node.and_then(|n| objects.nodes.get(n)) {
        add_object_meta(l, &n.metadata, "node");
    }
}

/// `attach_metadata.namespace`: the namespace's labels and annotations,
/// when the namespace is known.
pub(crate) fn add_namespace_metadata(l: &mut Labels, objects: &Objects<'_>, namespace: &str) {
    if let Some(ns) = objects.namespaces.get(namespace) {
        add_labels_and_annotations(l, &ns.metadata, "namespace");
    }
}

/// `ns/name`, the key objects are stored under.
pub(crate) fn key(meta: &ObjectMeta) -> String {
    match &meta.namespace {
        Some(ns) => format!("{ns}/{}", meta.name.as_deref().unwrap_or("")),
        None => meta.name.clone().unwrap_or_default(),
    }
}

/// `host:port`, bracketing IPv6 hosts like Go's `net.JoinHostPort`.
pub(crate) fn join_host_port(host: &str, port: impl std::fmt::Display) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_like_prometheus() {
        assert_eq!(sanitize("app.kubernetes.io/name"), "app_kubernetes_io_name");
        assert_eq!(sanitize("pyroscope.io/scrape"), "pyroscope_io_scrape");
        assert_eq!(sanitize("a-b_c9"), "a_b_c9");
        assert_eq!(sanitize("é"), "_");
    }

    #[test]
    fn joins_ipv6() {
        assert_eq!(join_host_port("10.0.0.1", 80), "10.0.0.1:80");
        assert_eq!(join_host_port("fd00::1", 80), "[fd00::1]:80");
    }
}
