//! `role: node`: one target per node at its preferred address and kubelet
//! port, with `instance` set to the node name.

use super::meta::{add_object_meta, join_host_port, sanitize, PREFIX};
use crate::discovery::TargetGroup;
use k8s_openapi::api::core::v1::Node;
use profcol_pdata::Labels;

/// Address types in the order the node's address is chosen from.
const ADDRESS_PREFERENCE: [&str; 6] = [
    "InternalIP",
    "InternalDNS",
    "ExternalIP",
    "ExternalDNS",
    "LegacyHostIP",
    "Hostname",
];

/// The node's group, or None when it has no usable address.
pub(crate) fn build(node: &Node) -> Option<TargetGroup> {
    let mut labels = Labels::new();
    labels.set(
        format!("{PREFIX}node_provider_id"),
        node.spec
            .as_ref()
            .and_then(|s| s.provider_id.as_deref())
            .unwrap_or(""),
    );
    let status = node.status.as_ref();
    for c in status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
    {
        labels.set(
            format!(
                "{PREFIX}node_condition_{}",
                sanitize(&c.type_.to_lowercase())
            ),
            c.status.to_lowercase(),
        );
    }
    add_object_meta(&mut labels, &node.metadata, "node");

    // The first address of each type, in the order the types appear.
    let mut first: Vec<(&str, &str)> = Vec::new();
    for a in status
        .and_then(|s| s.addresses.as_ref())
        .into_iter()
        .flatten()
    {
        if !first.iter().any(|(t, _)| *t == a.type_) {
            first.push((a.type_.as_str(), a.address.as_str()));
        }
    }
    let host = ADDRESS_PREFERENCE
        .iter()
        .find_map(|want| first.iter().find(|(t, _)| t == want).map(|(_, a)| *a));
    let Some(host) = host else {
        tracing::warn!(
            node = node.metadata.name.as_deref().unwrap_or(""),
            "No node address found; the node gives no target."
        );
        return None;
    };
    let port = status
        .and_then(|s| s.daemon_endpoints.as_ref())
        .and_then(|d| d.kubelet_endpoint.as_ref())
        .map(|k| k.port)
        .unwrap_or(0);
    let mut t = Labels::from_pairs([("__address__".to_string(), join_host_port(host, port))]);
    t.set("instance", node.metadata.name.as_deref().unwrap_or(""));
    for (kind, addr) in first {
        t.set(sanitize(&format!("{PREFIX}node_address_{kind}")), addr);
    }
    Some(TargetGroup {
        targets: vec![t],
        labels,
    })
}
