//! `role: pod`: one target per container port at `podIP:port`, and one per
//! container without ports at the bare pod IP (init containers included,
//! with `__meta_kubernetes_pod_container_init="true"`). Pods without an IP
//! yet give no target.

use super::meta::{
    add_namespace_metadata, add_node_metadata, add_object_meta, join_host_port, NAMESPACE, PREFIX,
};
use super::watch::{BuildOptions, Objects};
use crate::discovery::TargetGroup;
use k8s_openapi::api::core::v1::{Container, ContainerPort, ContainerStatus, Pod};
use profcol_pdata::Labels;

/// The labels every target of a pod carries (also used by the endpoints
/// roles for the pods behind an address).
pub(crate) fn pod_labels(pod: &Pod) -> Labels {
    let mut l = Labels::new();
    let status = pod.status.as_ref();
    let spec = pod.spec.as_ref();
    let s = |v: Option<&String>| v.map(String::as_str).unwrap_or("").to_string();
    l.set(
        format!("{PREFIX}pod_ip"),
        s(status.and_then(|x| x.pod_ip.as_ref())),
    );
    l.set(format!("{PREFIX}pod_ready"), ready(pod));
    l.set(
        format!("{PREFIX}pod_phase"),
        s(status.and_then(|x| x.phase.as_ref())),
    );
    l.set(
        format!("{PREFIX}pod_node_name"),
        s(spec.and_then(|x| x.node_name.as_ref())),
    );
    l.set(
        format!("{PREFIX}pod_host_ip"),
        s(status.and_then(|x| x.host_ip.as_ref())),
    );
    l.set(format!("{PREFIX}pod_uid"), s(pod.metadata.uid.as_ref()));
    add_object_meta(&mut l, &pod.metadata, "pod");
    let controller = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true));
    if let Some(c) = controller {
        if !c.kind.is_empty() {
            l.set(format!("{PREFIX}pod_controller_kind"), c.kind.as_str());
        }
        if !c.name.is_empty() {
            l.set(format!("{PREFIX}pod_controller_name"), c.name.as_str());
        }
    }
    l
}

/// The `Ready` condition's status in lower case; `unknown` without one.
fn ready(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.to_lowercase())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The pod's containers followed by its init containers, each with whether
/// it is an init container.
pub(crate) fn containers(pod: &Pod) -> impl Iterator<Item = (&Container, bool)> {
    let spec = pod.spec.as_ref();
    let main = spec.map(|s| s.containers.as_slice()).unwrap_or_default();
    let init = spec
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or_default();
    main.iter()
        .map(|c| (c, false))
        .chain(init.iter().map(|c| (c, true)))
}

/// The labels of one container port, as the pod and endpoints roles set
/// them.
pub(crate) fn set_container_port(
    t: &mut Labels,
    c: &Container,
    port: &ContainerPort,
    protocol: &str,
    init: bool,
) {
    t.set(format!("{PREFIX}pod_container_name"), c.name.as_str());
    t.set(
        format!("{PREFIX}pod_container_image"),
        c.image.as_deref().unwrap_or(""),
    );
    t.set(
        format!("{PREFIX}pod_container_port_name"),
        port.name.as_deref().unwrap_or(""),
    );
    t.set(
        format!("{PREFIX}pod_container_port_number"),
        port.container_port.to_string(),
    );
    t.set(format!("{PREFIX}pod_container_port_protocol"), protocol);
    t.set(
        format!("{PREFIX}pod_container_init"),
        if init { "true" } else { "false" },
    );
}

fn container_id(statuses: Option<&Vec<ContainerStatus>>, name: &str) -> String {
    statuses
        .into_iter()
        .flatten()
        .find(|s| s.name == name)
        .and_then(|s| s.container_id.clone())
        .unwrap_or_default()
}

/// The pod's group, or None when it has no IP (or, with
/// `attach_metadata.node`, runs on a node that is not known).
pub(crate) fn build(pod: &Pod, objects: &Objects<'_>, opts: &BuildOptions) -> Option<TargetGroup> {
    let ip = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.as_deref())
        .filter(|ip| !ip.is_empty())?;
    let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
    if opts.attach_node && !node.is_some_and(|n| objects.nodes.contains_key(n)) {
        return None;
    }
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
    let mut labels = pod_labels(pod);
    labels.set(NAMESPACE, namespace);
    if opts.attach_node {
        add_node_metadata(&mut labels, objects, node);
    }
    if opts.attach_namespace {
        add_namespace_metadata(&mut labels, objects, namespace);
    }
    let status = pod.status.as_ref();
    let mut targets = Vec::new();
    for (c, init) in containers(pod) {
        let statuses = if init {
            status.and_then(|s| s.init_container_statuses.as_ref())
        } else {
            status.and_then(|s| s.container_statuses.as_ref())
        };
        let id = container_id(statuses, &c.name);
        let ports = c.ports.as_deref().unwrap_or_default();
        if ports.is_empty() {
            let mut t = Labels::from_pairs([("__address__", ip)]);
            t.set(format!("{PREFIX}pod_container_name"), c.name.as_str());
            t.set(format!("{PREFIX}pod_container_id"), id.as_str());
            t.set(
                format!("{PREFIX}pod_container_image"),
                c.image.as_deref().unwrap_or(""),
            );
            t.set(
                format!("{PREFIX}pod_container_init"),
                if init { "true" } else { "false" },
            );
            targets.push(t);
            continue;
        }
        for p in ports {
            let mut t = Labels::from_pairs([(
                "__address__".to_string(),
                join_host_port(ip, p.container_port),
            )]);
            let protocol = p.protocol.as_deref().unwrap_or("");
            set_container_port(&mut t, c, p, protocol, init);
            t.set(format!("{PREFIX}pod_container_id"), id.as_str());
            targets.push(t);
        }
    }
    Some(TargetGroup { targets, labels })
}
