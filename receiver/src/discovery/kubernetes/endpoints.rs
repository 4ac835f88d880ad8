//! `role: endpoints`: one target per address and port of each `Endpoints`
//! object (ready and not-ready addresses), with the labels of its service
//! and, for addresses backed by a known pod, the pod's labels; plus one
//! target per port of those pods that no endpoint port covers.

use super::meta::{
    add_namespace_metadata, add_node_metadata, add_object_meta, join_host_port, NAMESPACE, PREFIX,
};
use super::pod::{containers, pod_labels, set_container_port};
use super::service::service_labels;
use super::watch::{BuildOptions, Objects};
use crate::discovery::TargetGroup;
use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, Endpoints, ObjectReference, Pod};
use profcol_pdata::Labels;
use std::collections::BTreeMap;

/// The pod an address refers to, when it is a pod the store knows.
pub(crate) fn resolve_pod<'a>(
    objects: &Objects<'a>,
    target: Option<&ObjectReference>,
) -> Option<&'a Pod> {
    let r = target.filter(|r| r.kind.as_deref() == Some("Pod"))?;
    let key = format!(
        "{}/{}",
        r.namespace.as_deref().unwrap_or(""),
        r.name.as_deref().unwrap_or("")
    );
    objects.pods.get(key.as_str()).copied()
}

/// Pods seen behind a group's addresses, with the ports already covered.
#[derive(Default)]
pub(crate) struct SeenPods<'a> {
    pods: BTreeMap<String, (&'a Pod, Vec<i32>)>,
}

impl<'a> SeenPods<'a> {
    pub(crate) fn saw(&mut self, pod: &'a Pod, port: Option<i32>) {
        let key = super::meta::key(&pod.metadata);
        let entry = self.pods.entry(key).or_insert_with(|| (pod, Vec::new()));
        if let Some(p) = port {
            entry.1.push(p);
        }
    }

    /// A target for every container port of the seen pods that no endpoint
    /// port covered.
    pub(crate) fn uncovered(&self, targets: &mut Vec<Labels>) {
        for (pod, covered) in self.pods.values() {
            let Some(ip) = pod
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.as_deref())
                .filter(|ip| !ip.is_empty())
            else {
                continue;
            };
            for (c, init) in containers(pod) {
                for p in c.ports.iter().flatten() {
                    if covered.contains(&p.container_port) {
                        continue;
                    }
                    let mut t = pod_labels(pod);
                    t.set("__address__", join_host_port(ip, p.container_port));
                    set_container_port(&mut t, c, p, p.protocol.as_deref().unwrap_or(""), init);
                    targets.push(t);
                }
            }
        }
    }
}

/// Adds the pod's labels and, when a container exposes `port`, that
/// container's port labels (the protocol given is the endpoint's).
pub(crate) fn add_pod(t: &mut Labels, pod: &Pod, port: Option<i32>, protocol: Option<&str>) {
    for (k, v) in pod_labels(pod).iter() {
        t.set(k, v);
    }
    let Some(port) = port else { return };
    for (c, init) in containers(pod) {
        if let Some(cp) = c
            .ports
            .iter()
            .flatten()
            .find(|cp| cp.container_port == port)
        {
            let proto = protocol.unwrap_or_else(|| cp.protocol.as_deref().unwrap_or(""));
            set_container_port(t, c, cp, proto, init);
            return;
        }
    }
}

/// The group of one `Endpoints` object.
pub(crate) fn build(eps: &Endpoints, objects: &Objects<'_>, opts: &BuildOptions) -> TargetGroup {
    let namespace = eps.metadata.namespace.as_deref().unwrap_or("");
    let mut labels = Labels::new();
    labels.set(NAMESPACE, namespace);
    let svc_key = format!("{namespace}/{}", eps.metadata.name.as_deref().unwrap_or(""));
    if let Some(svc) = objects.services.get(svc_key.as_str()) {
        for (k, v) in service_labels(svc).iter() {
            labels.set(k, v);
        }
    }
    add_object_meta(&mut labels, &eps.metadata, "endpoints");
    if opts.attach_namespace {
        add_namespace_metadata(&mut labels, objects, namespace);
    }
    let mut targets = Vec::new();
    let mut seen = SeenPods::default();
    let mut add = |addr: &EndpointAddress, port: &EndpointPort, ready: &str| {
        let mut t = Labels::from_pairs([(
            "__address__".to_string(),
            join_host_port(&addr.ip, port.port),
        )]);
        t.set(
            format!("{PREFIX}endpoint_port_name"),
            port.name.as_deref().unwrap_or(""),
        );
        t.set(
            format!("{PREFIX}endpoint_port_protocol"),
            port.protocol.as_deref().unwrap_or(""),
        );
        t.set(format!("{PREFIX}endpoint_ready"), ready);
        if let Some(r) = &addr.target_ref {
            t.set(
                format!("{PREFIX}endpoint_address_target_kind"),
                r.kind.as_deref().unwrap_or(""),
            );
            t.set(
                format!("{PREFIX}endpoint_address_target_name"),
                r.name.as_deref().unwrap_or(""),
            );
        }
        if let Some(n) = &addr.node_name {
            t.set(format!("{PREFIX}endpoint_node_name"), n.as_str());
        }
        if let Some(h) = addr.hostname.as_deref().filter(|h| !h.is_empty()) {
            t.set(format!("{PREFIX}endpoint_hostname"), h);
        }
        if opts.attach_node {
            let node = addr.node_name.as_deref().or_else(|| {
                addr.target_ref
                    .as_ref()
                    .filter(|r| r.kind.as_deref() == Some("Node"))
                    .and_then(|r| r.name.as_deref())
            });
            add_node_metadata(&mut t, objects, node);
        }
        if let Some(pod) = resolve_pod(objects, addr.target_ref.as_ref()) {
            add_pod(
                &mut t,
                pod,
                Some(port.port),
                Some(port.protocol.as_deref().unwrap_or("")),
            );
            seen.saw(pod, Some(port.port));
        }
        targets.push(t);
    };
    for subset in eps.subsets.iter().flatten() {
        for port in subset.ports.iter().flatten() {
            for a in subset.addresses.iter().flatten() {
                add(a, port, "true");
            }
            for a in subset.not_ready_addresses.iter().flatten() {
                add(a, port, "false");
            }
        }
    }
    seen.uncovered(&mut targets);
    TargetGroup { targets, labels }
}
