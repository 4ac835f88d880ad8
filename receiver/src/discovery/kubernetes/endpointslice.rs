//! `role: endpointslice`: one target per address and port of each
//! `discovery.k8s.io/v1` `EndpointSlice`, with the labels of its service
//! (named by the `kubernetes.io/service-name` label) and, for endpoints
//! backed by a known pod, the pod's labels; plus one target per port of
//! those pods that no endpoint port covers. The secondary slice of a
//! dual-stack service gives no targets (they would duplicate the primary's).

use super::endpoints::{add_pod, resolve_pod, SeenPods};
use super::meta::{
    add_namespace_metadata, add_node_metadata, add_object_meta, join_host_port, sanitize,
    NAMESPACE, PREFIX, PRESENT,
};
use super::service::service_labels;
use super::watch::{BuildOptions, Objects};
use crate::discovery::TargetGroup;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use profcol_pdata::Labels;

/// The label naming a slice's service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// True for the slice of a dual-stack service whose address type is not the
/// service's primary IP family.
fn non_primary_family(svc: Option<&Service>, slice: &EndpointSlice) -> bool {
    let Some(spec) = svc.and_then(|s| s.spec.as_ref()) else {
        return false;
    };
    let dual = matches!(
        spec.ip_family_policy.as_deref(),
        Some("PreferDualStack" | "RequireDualStack")
    );
    match spec.ip_families.as_ref().and_then(|f| f.first()) {
        Some(primary) if dual => slice.address_type != *primary,
        _ => false,
    }
}

fn set_bool(t: &mut Labels, name: &str, v: Option<bool>) {
    if let Some(v) = v {
        t.set(format!("{PREFIX}{name}"), if v { "true" } else { "false" });
    }
}

/// The group of one slice.
pub(crate) fn build(
    slice: &EndpointSlice,
    objects: &Objects<'_>,
    opts: &BuildOptions,
) -> TargetGroup {
    let namespace = slice.metadata.namespace.as_deref().unwrap_or("");
    let mut labels = Labels::new();
    labels.set(NAMESPACE, namespace);
    labels.set(
        format!("{PREFIX}endpointslice_address_type"),
        slice.address_type.as_str(),
    );
    add_object_meta(&mut labels, &slice.metadata, "endpointslice");
    let svc = slice
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SERVICE_NAME_LABEL))
        .and_then(|name| objects.services.get(format!("{namespace}/{name}").as_str()))
        .copied();
    if let Some(svc) = svc {
        for (k, v) in service_labels(svc).iter() {
            labels.set(k, v);
        }
    }
    if opts.attach_namespace {
        add_namespace_metadata(&mut labels, objects, namespace);
    }
    if non_primary_family(svc, slice) {
        return TargetGroup {
            targets: Vec::new(),
            labels,
        };
    }
    let mut targets = Vec::new();
    let mut seen = SeenPods::default();
    let mut add = |addr: &str, ep: &Endpoint, port: &EndpointPort| {
        let address = match port.port {
            Some(p) => join_host_port(addr, p),
            None => addr.to_string(),
        };
        let mut t = Labels::from_pairs([("__address__".to_string(), address)]);
        if let Some(n) = &port.name {
            t.set(format!("{PREFIX}endpointslice_port_name"), n.as_str());
        }
        if let Some(p) = &port.protocol {
            t.set(format!("{PREFIX}endpointslice_port_protocol"), p.as_str());
        }
        if let Some(p) = port.port {
            t.set(format!("{PREFIX}endpointslice_port"), p.to_string());
        }
        if let Some(p) = &port.app_protocol {
            t.set(
                format!("{PREFIX}endpointslice_port_app_protocol"),
                p.as_str(),
            );
        }
        let cond = ep.conditions.as_ref();
        set_bool(
            &mut t,
            "endpointslice_endpoint_conditions_ready",
            cond.and_then(|c| c.ready),
        );
        set_bool(
            &mut t,
            "endpointslice_endpoint_conditions_serving",
            cond.and_then(|c| c.serving),
        );
        set_bool(
            &mut t,
            "endpointslice_endpoint_conditions_terminating",
            cond.and_then(|c| c.terminating),
        );
        if let Some(h) = &ep.hostname {
            t.set(
                format!("{PREFIX}endpointslice_endpoint_hostname"),
                h.as_str(),
            );
        }
        if let Some(r) = &ep.target_ref {
            t.set(
                format!("{PREFIX}endpointslice_address_target_kind"),
                r.kind.as_deref().unwrap_or(""),
            );
            t.set(
                format!("{PREFIX}endpointslice_address_target_name"),
                r.name.as_deref().unwrap_or(""),
            );
        }
        if let Some(n) = &ep.node_name {
            t.set(
                format!("{PREFIX}endpointslice_endpoint_node_name"),
                n.as_str(),
            );
        }
        if let Some(z) = &ep.zone {
            t.set(format!("{PREFIX}endpointslice_endpoint_zone"), z.as_str());
        }
        for (k, v) in ep.deprecated_topology.iter().flatten() {
            let n = sanitize(k);
            t.set(
                format!("{PREFIX}endpointslice_endpoint_topology_{n}"),
                v.as_str(),
            );
            t.set(
                format!("{PREFIX}endpointslice_endpoint_topology_present_{n}"),
                PRESENT,
            );
        }
        if opts.attach_node {
            let node = match &ep.target_ref {
                Some(r) if r.kind.as_deref() == Some("Node") => r.name.as_deref(),
                _ => ep.node_name.as_deref(),
            };
            add_node_metadata(&mut t, objects, node);
        }
        if let Some(pod) = resolve_pod(objects, ep.target_ref.as_ref()) {
            // The container's own protocol, unlike the endpoints role.
            add_pod(&mut t, pod, port.port, None);
            seen.saw(pod, port.port);
        }
        targets.push(t);
    };
    let ports = slice.ports.as_deref().unwrap_or_default();
    for ep in &slice.endpoints {
        for port in ports {
            for addr in &ep.addresses {
                add(addr, ep, port);
            }
        }
    }
    seen.uncovered(&mut targets);
    TargetGroup { targets, labels }
}
