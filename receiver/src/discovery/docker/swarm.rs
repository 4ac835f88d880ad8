//! `dockerswarm_sd_configs`: a Swarm's services, tasks or nodes → targets,
//! with the `__meta_dockerswarm_*` labels of each role.
//!
//! - `services`: per virtual IP of a service, one target per published TCP
//!   port at `<vip>:<published port>`, or one at `<vip>:<port>` when none.
//! - `tasks`: per published port of the task itself (host mode), one target
//!   at `<node address>:<published port>`; per address of each network the
//!   task is attached to, one target per TCP port of its service at
//!   `<address>:<published port>`, or one at `<address>:<port>`.
//! - `nodes`: one target per node at `<node address>:<port>`.

use super::network::NetworkLabels;
use super::{cidr_ip, join_host_port, sanitize_label_name};
use crate::discovery::TargetGroup;
use bollard::models::{EndpointPortConfig, EndpointPortConfigProtocolEnum, Node, Service, Task};
use profcol_pdata::Labels;
use serde::Deserialize;
use std::collections::HashMap;

/// The label prefix of every swarm label (and of the `network_*` labels).
pub(crate) const PREFIX: &str = "__meta_dockerswarm_";

const SERVICE_ID: &str = "__meta_dockerswarm_service_id";
const SERVICE_NAME: &str = "__meta_dockerswarm_service_name";
const SERVICE_MODE: &str = "__meta_dockerswarm_service_mode";
const SERVICE_UPDATING_STATUS: &str = "__meta_dockerswarm_service_updating_status";
const SERVICE_LABEL_PREFIX: &str = "__meta_dockerswarm_service_label_";
const SERVICE_TASK_CONTAINER_HOSTNAME: &str = "__meta_dockerswarm_service_task_container_hostname";
const SERVICE_TASK_CONTAINER_IMAGE: &str = "__meta_dockerswarm_service_task_container_image";
const SERVICE_ENDPOINT_PORT_NAME: &str = "__meta_dockerswarm_service_endpoint_port_name";
const SERVICE_ENDPOINT_PORT_PUBLISH_MODE: &str =
    "__meta_dockerswarm_service_endpoint_port_publish_mode";

const TASK_ID: &str = "__meta_dockerswarm_task_id";
const TASK_CONTAINER_ID: &str = "__meta_dockerswarm_task_container_id";
const TASK_DESIRED_STATE: &str = "__meta_dockerswarm_task_desired_state";
const TASK_STATE: &str = "__meta_dockerswarm_task_state";
const TASK_SLOT: &str = "__meta_dockerswarm_task_slot";
const TASK_PORT_PUBLISH_MODE: &str = "__meta_dockerswarm_task_port_publish_mode";
const CONTAINER_LABEL_PREFIX: &str = "__meta_dockerswarm_container_label_";

const NODE_ID: &str = "__meta_dockerswarm_node_id";
const NODE_ADDRESS: &str = "__meta_dockerswarm_node_address";
const NODE_AVAILABILITY: &str = "__meta_dockerswarm_node_availability";
const NODE_ENGINE_VERSION: &str = "__meta_dockerswarm_node_engine_version";
const NODE_HOSTNAME: &str = "__meta_dockerswarm_node_hostname";
const NODE_LABEL_PREFIX: &str = "__meta_dockerswarm_node_label_";
const NODE_MANAGER_ADDRESS: &str = "__meta_dockerswarm_node_manager_address";
const NODE_MANAGER_LEADER: &str = "__meta_dockerswarm_node_manager_leader";
const NODE_MANAGER_REACHABILITY: &str = "__meta_dockerswarm_node_manager_reachability";
const NODE_PLATFORM_ARCHITECTURE: &str = "__meta_dockerswarm_node_platform_architecture";
const NODE_PLATFORM_OS: &str = "__meta_dockerswarm_node_platform_os";
const NODE_ROLE: &str = "__meta_dockerswarm_node_role";
const NODE_STATUS: &str = "__meta_dockerswarm_node_status";

fn group(targets: Vec<Labels>) -> Vec<TargetGroup> {
    vec![TargetGroup {
        targets,
        labels: Labels::new(),
    }]
}

fn text<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(T::to_string).unwrap_or_default()
}

fn is_tcp(p: &EndpointPortConfig) -> bool {
    p.protocol == Some(EndpointPortConfigProtocolEnum::TCP)
}

fn add(l: &mut Labels, pairs: &[(String, String)]) {
    for (k, v) in pairs {
        l.set(k.as_str(), v.as_str());
    }
}

/// `global`, `replicated`, or empty for the job modes.
fn service_mode(s: &Service) -> &'static str {
    match s.spec.as_ref().and_then(|s| s.mode.as_ref()) {
        Some(m) if m.global.is_some() => "global",
        Some(m) if m.replicated.is_some() => "replicated",
        _ => "",
    }
}

/// The labels of a service that its tasks carry too.
fn service_base(s: &Service) -> Labels {
    let spec = s.spec.as_ref();
    let mut l = Labels::from_pairs([
        (SERVICE_ID, text(&s.id)),
        (
            SERVICE_NAME,
            spec.map(|s| text(&s.name)).unwrap_or_default(),
        ),
        (SERVICE_MODE, service_mode(s).to_string()),
    ]);
    for (k, v) in spec.and_then(|s| s.labels.as_ref()).into_iter().flatten() {
        l.set(
            format!("{SERVICE_LABEL_PREFIX}{}", sanitize_label_name(k)),
            v.clone(),
        );
    }
    l
}

/// `role: services`.
pub(crate) fn service_groups(
    services: &[Service],
    networks: &NetworkLabels,
    port: u16,
) -> Result<Vec<TargetGroup>, String> {
    let mut targets = Vec::new();
    for s in services {
        let mut common = service_base(s);
        let container = s
            .spec
            .as_ref()
            .and_then(|s| s.task_template.as_ref())
            .and_then(|t| t.container_spec.as_ref());
        common.set(
            SERVICE_TASK_CONTAINER_HOSTNAME,
            container.map(|c| text(&c.hostname)).unwrap_or_default(),
        );
        common.set(
            SERVICE_TASK_CONTAINER_IMAGE,
            container.map(|c| text(&c.image)).unwrap_or_default(),
        );
        if let Some(u) = &s.update_status {
            common.set(SERVICE_UPDATING_STATUS, text(&u.state));
        }
        let endpoint = s.endpoint.as_ref();
        let ports: Vec<&EndpointPortConfig> = endpoint
            .and_then(|e| e.ports.as_ref())
            .into_iter()
            .flatten()
            .filter(|p| is_tcp(p))
            .collect();
        for vip in endpoint
            .and_then(|e| e.virtual_ips.as_ref())
            .into_iter()
            .flatten()
        {
            let ip = cidr_ip(vip.addr.as_deref().unwrap_or_default())?.to_string();
            let mut base = common.clone();
            if let Some(n) = vip.network_id.as_deref().and_then(|id| networks.get(id)) {
                add(&mut base, n);
            }
            for p in &ports {
                let mut l = base.clone();
                l.set(SERVICE_ENDPOINT_PORT_NAME, text(&p.name));
                l.set(SERVICE_ENDPOINT_PORT_PUBLISH_MODE, text(&p.publish_mode));
                l.set(
                    "__address__",
                    join_host_port(&ip, p.published_port.unwrap_or(0)),
                );
                targets.push(l);
            }
            if ports.is_empty() {
                base.set("__address__", join_host_port(&ip, port));
                targets.push(base);
            }
        }
    }
    Ok(group(targets))
}

/// The labels of a node, as its tasks carry them too (`role: tasks` leaves
/// out the engine version and manager labels, as Prometheus does).
fn node_base(n: &Node) -> Labels {
    let spec = n.spec.as_ref();
    let desc = n.description.as_ref();
    let platform = desc.and_then(|d| d.platform.as_ref());
    let status = n.status.as_ref();
    let mut l = Labels::from_pairs([
        (NODE_ID, text(&n.id)),
        (NODE_ROLE, spec.map(|s| text(&s.role)).unwrap_or_default()),
        (
            NODE_AVAILABILITY,
            spec.map(|s| text(&s.availability)).unwrap_or_default(),
        ),
        (
            NODE_HOSTNAME,
            desc.map(|d| text(&d.hostname)).unwrap_or_default(),
        ),
        (
            NODE_PLATFORM_ARCHITECTURE,
            platform.map(|p| text(&p.architecture)).unwrap_or_default(),
        ),
        (
            NODE_PLATFORM_OS,
            platform.map(|p| text(&p.os)).unwrap_or_default(),
        ),
        (
            NODE_STATUS,
            status.map(|s| text(&s.state)).unwrap_or_default(),
        ),
        (
            NODE_ADDRESS,
            status.map(|s| text(&s.addr)).unwrap_or_default(),
        ),
    ]);
    for (k, v) in spec.and_then(|s| s.labels.as_ref()).into_iter().flatten() {
        l.set(
            format!("{NODE_LABEL_PREFIX}{}", sanitize_label_name(k)),
            v.clone(),
        );
    }
    l
}

/// `role: nodes`.
pub(crate) fn node_groups(nodes: &[Node], port: u16) -> Vec<TargetGroup> {
    let mut targets = Vec::with_capacity(nodes.len());
    for n in nodes {
        let mut l = node_base(n);
        l.set(
            NODE_ENGINE_VERSION,
            n.description
                .as_ref()
                .and_then(|d| d.engine.as_ref())
                .map(|e| text(&e.engine_version))
                .unwrap_or_default(),
        );
        if let Some(m) = &n.manager_status {
            l.set(NODE_MANAGER_LEADER, m.leader.unwrap_or(false).to_string());
            l.set(NODE_MANAGER_REACHABILITY, text(&m.reachability));
            l.set(NODE_MANAGER_ADDRESS, text(&m.addr));
        }
        let addr = l.get(NODE_ADDRESS).unwrap_or_default().to_string();
        l.set("__address__", join_host_port(&addr, port));
        targets.push(l);
    }
    group(targets)
}

/// The part of a task bollard's `Task` model leaves out: the addresses the
/// task has on each network it is attached to.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TaskAttachments {
    #[serde(rename = "NetworksAttachments", default)]
    pub networks: Option<Vec<Attachment>>,
}

/// One network attachment of a task.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Attachment {
    #[serde(rename = "Network", default)]
    pub network: Option<AttachedNetwork>,
    /// CIDRs, e.g. `10.0.1.5/24`.
    #[serde(rename = "Addresses", default)]
    pub addresses: Option<Vec<String>>,
}

/// The network of an attachment.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AttachedNetwork {
    #[serde(rename = "ID", default)]
    pub id: Option<String>,
}

/// Parses a `GET /tasks` answer into bollard's tasks and their attachments
/// (same order).
pub(crate) fn parse_tasks(body: &[u8]) -> Result<Vec<(Task, TaskAttachments)>, String> {
    let tasks: Vec<Task> =
        serde_json::from_slice(body).map_err(|e| format!("invalid tasks JSON: {e}"))?;
    let attachments: Vec<TaskAttachments> =
        serde_json::from_slice(body).map_err(|e| format!("invalid tasks JSON: {e}"))?;
    Ok(tasks.into_iter().zip(attachments).collect())
}

/// `role: tasks`.
pub(crate) fn task_groups(
    tasks: &[(Task, TaskAttachments)],
    services: &[Service],
    nodes: &[Node],
    networks: &NetworkLabels,
    port: u16,
) -> Result<Vec<TargetGroup>, String> {
    let services: HashMap<&str, &Service> = services
        .iter()
        .filter_map(|s| s.id.as_deref().map(|id| (id, s)))
        .collect();
    let nodes: HashMap<&str, Labels> = nodes
        .iter()
        .filter_map(|n| n.id.as_deref().map(|id| (id, node_base(n))))
        .collect();
    let mut targets = Vec::new();
    for (t, attachments) in tasks {
        let status = t.status.as_ref();
        let mut common = Labels::from_pairs([
            (TASK_ID, text(&t.id)),
            (TASK_DESIRED_STATE, text(&t.desired_state)),
            (
                TASK_STATE,
                status.map(|s| text(&s.state)).unwrap_or_default(),
            ),
            (TASK_SLOT, t.slot.unwrap_or(0).to_string()),
        ]);
        if let Some(c) = status.and_then(|s| s.container_status.as_ref()) {
            common.set(TASK_CONTAINER_ID, text(&c.container_id));
        }
        let spec_labels = t
            .spec
            .as_ref()
            .and_then(|s| s.container_spec.as_ref())
            .and_then(|c| c.labels.as_ref());
        for (k, v) in spec_labels.into_iter().flatten() {
            common.set(
                format!("{CONTAINER_LABEL_PREFIX}{}", sanitize_label_name(k)),
                v.clone(),
            );
        }
        let service = t.service_id.as_deref().and_then(|id| services.get(id));
        if let Some(s) = service {
            for (k, v) in service_base(s).iter() {
                common.set(k, v);
            }
        }
        if let Some(n) = t.node_id.as_deref().and_then(|id| nodes.get(id)) {
            for (k, v) in n.iter() {
                common.set(k, v);
            }
        }
        let node_addr = common.get(NODE_ADDRESS).unwrap_or_default().to_string();
        let own_ports = status
            .and_then(|s| s.port_status.as_ref())
            .and_then(|p| p.ports.as_ref());
        for p in own_ports.into_iter().flatten().filter(|p| is_tcp(p)) {
            let mut l = common.clone();
            l.set(TASK_PORT_PUBLISH_MODE, text(&p.publish_mode));
            l.set(
                "__address__",
                join_host_port(&node_addr, p.published_port.unwrap_or(0)),
            );
            targets.push(l);
        }
        let service_ports: Vec<&EndpointPortConfig> = service
            .and_then(|s| s.endpoint.as_ref())
            .and_then(|e| e.ports.as_ref())
            .into_iter()
            .flatten()
            .filter(|p| is_tcp(p))
            .collect();
        for a in attachments.networks.iter().flatten() {
            let network = a
                .network
                .as_ref()
                .and_then(|n| n.id.as_deref())
                .and_then(|id| networks.get(id));
            for address in a.addresses.iter().flatten() {
                let ip = cidr_ip(address)?.to_string();
                let mut base = common.clone();
                if let Some(n) = network {
                    add(&mut base, n);
                }
                for p in &service_ports {
                    let mut l = base.clone();
                    l.set(TASK_PORT_PUBLISH_MODE, text(&p.publish_mode));
                    l.set(
                        "__address__",
                        join_host_port(&ip, p.published_port.unwrap_or(0)),
                    );
                    targets.push(l);
                }
                if service_ports.is_empty() {
                    base.set("__address__", join_host_port(&ip, port));
                    targets.push(base);
                }
            }
        }
    }
    Ok(group(targets))
}
