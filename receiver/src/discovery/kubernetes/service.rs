//! `role: service`: one target per service port at
//! `<name>.<namespace>.svc:<port>`.

use super::meta::{add_namespace_metadata, add_object_meta, join_host_port, NAMESPACE, PREFIX};
use super::watch::{BuildOptions, Objects};
use crate::discovery::TargetGroup;
use k8s_openapi::api::core::v1::Service;
use profcol_pdata::Labels;

/// The labels of a service: its namespace, name, labels and annotations
/// (also attached by the endpoints roles to the service's endpoints).
pub(crate) fn service_labels(svc: &Service) -> Labels {
    let mut l = Labels::new();
    l.set(NAMESPACE, svc.metadata.namespace.as_deref().unwrap_or(""));
    add_object_meta(&mut l, &svc.metadata, "service");
    l
}

/// The load balancer's ingress IPs joined with commas, else the deprecated
/// `spec.loadBalancerIP`.
fn load_balancer_ips(svc: &Service) -> String {
    let ips: Vec<&str> = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.as_deref())
        .filter(|ip| !ip.is_empty())
        .collect();
    if ips.is_empty() {
        svc.spec
            .as_ref()
            .and_then(|s| s.load_balancer_ip.clone())
            .unwrap_or_default()
    } else {
        ips.join(",")
    }
}

/// The service's group.
pub(crate) fn build(svc: &Service, objects: &Objects<'_>, opts: &BuildOptions) -> TargetGroup {
    let mut labels = service_labels(svc);
    let namespace = svc.metadata.namespace.as_deref().unwrap_or("");
    if opts.attach_namespace {
        add_namespace_metadata(&mut labels, objects, namespace);
    }
    let name = svc.metadata.name.as_deref().unwrap_or("");
    let spec = svc.spec.as_ref();
    let kind = spec.and_then(|s| s.type_.as_deref()).unwrap_or("");
    let mut targets = Vec::new();
    for port in spec.and_then(|s| s.ports.as_deref()).unwrap_or_default() {
        let addr = join_host_port(&format!("{name}.{namespace}.svc"), port.port);
        let mut t = Labels::from_pairs([("__address__".to_string(), addr)]);
        t.set(
            format!("{PREFIX}service_port_name"),
            port.name.as_deref().unwrap_or(""),
        );
        t.set(
            format!("{PREFIX}service_port_number"),
            port.port.to_string(),
        );
        t.set(
            format!("{PREFIX}service_port_protocol"),
            port.protocol.as_deref().unwrap_or(""),
        );
        t.set(format!("{PREFIX}service_type"), kind);
        if kind == "ExternalName" {
            t.set(
                format!("{PREFIX}service_external_name"),
                spec.and_then(|s| s.external_name.as_deref()).unwrap_or(""),
            );
        } else {
            t.set(
                format!("{PREFIX}service_cluster_ip"),
                spec.and_then(|s| s.cluster_ip.as_deref()).unwrap_or(""),
            );
        }
        if kind == "LoadBalancer" {
            t.set(
                format!("{PREFIX}service_loadbalancer_ip"),
                load_balancer_ips(svc),
            );
        }
        targets.push(t);
    }
    TargetGroup { targets, labels }
}
