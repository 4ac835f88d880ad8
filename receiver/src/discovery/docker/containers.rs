//! `docker_sd_configs`: the daemon's running containers → targets.
//!
//! Per container (one without a name is skipped): its networks — or, in
//! `container:<id>` network mode, those of the container it shares — and,
//! with `match_first_network`, only the first of several by name. Per
//! network: one target per TCP port the container publishes or exposes, at
//! `<network ip>:<private port>`; a container with no TCP port gets one
//! target at `<network ip>:<port>`, or `host_networking_host` in `host`
//! network mode.

use super::network::NetworkLabels;
use super::{join_host_port, sanitize_label_name};
use crate::discovery::TargetGroup;
use bollard::models::{ContainerSummary, EndpointSettings};
use profcol_pdata::Labels;
use std::collections::HashMap;

const CONTAINER_ID: &str = "__meta_docker_container_id";
const CONTAINER_NAME: &str = "__meta_docker_container_name";
const CONTAINER_NETWORK_MODE: &str = "__meta_docker_container_network_mode";
const CONTAINER_LABEL_PREFIX: &str = "__meta_docker_container_label_";
const NETWORK_IP: &str = "__meta_docker_network_ip";
const PORT_PRIVATE: &str = "__meta_docker_port_private";
const PORT_PUBLIC: &str = "__meta_docker_port_public";
const PORT_PUBLIC_IP: &str = "__meta_docker_port_public_ip";
/// The label prefix of `network_*` labels.
pub(crate) const PREFIX: &str = "__meta_docker_";
/// The network mode whose containers share the host's network stack.
const HOST_MODE: &str = "host";
/// The network mode prefix of a container sharing another's network.
const CONTAINER_MODE_PREFIX: &str = "container:";

/// The `docker_sd_configs` settings that shape targets.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    pub port: u16,
    pub host_networking_host: String,
    pub match_first_network: bool,
}

/// One target group holding every container target.
pub(crate) fn container_groups(
    containers: &[ContainerSummary],
    networks: &NetworkLabels,
    shape: &Shape,
) -> Vec<TargetGroup> {
    let by_id: HashMap<&str, &ContainerSummary> = containers
        .iter()
        .filter_map(|c| c.id.as_deref().map(|id| (id, c)))
        .collect();
    let mut targets = Vec::new();
    for c in containers {
        let Some(name) = c.names.as_ref().and_then(|n| n.first()) else {
            continue;
        };
        let mode = network_mode(c);
        let mut common = Labels::from_pairs([
            (CONTAINER_ID, c.id.clone().unwrap_or_default()),
            (CONTAINER_NAME, name.clone()),
            (CONTAINER_NETWORK_MODE, mode.to_string()),
        ]);
        for (k, v) in c.labels.iter().flatten() {
            common.set(
                format!("{CONTAINER_LABEL_PREFIX}{}", sanitize_label_name(k)),
                v.clone(),
            );
        }
        let mut nets = endpoints(c, &by_id);
        if shape.match_first_network && nets.len() > 1 {
            nets.truncate(1);
        }
        for (_, endpoint) in nets {
            let ip = endpoint.ip_address.clone().unwrap_or_default();
            let mut base = common.clone();
            base.set(NETWORK_IP, ip.clone());
            let network_id = endpoint.network_id.as_deref().unwrap_or_default();
            for (k, v) in networks.get(network_id).into_iter().flatten() {
                base.set(k.as_str(), v.as_str());
            }
            let mut added = false;
            for p in c.ports.iter().flatten() {
                if p.typ.map(|t| t.to_string()).as_deref() != Some("tcp") {
                    continue;
                }
                let mut l = base.clone();
                l.set(PORT_PRIVATE, p.private_port.to_string());
                if let Some(public) = p.public_port.filter(|p| *p > 0) {
                    l.set(PORT_PUBLIC, public.to_string());
                    l.set(PORT_PUBLIC_IP, p.ip.clone().unwrap_or_default());
                }
                l.set("__address__", join_host_port(&ip, p.private_port));
                targets.push(l);
                added = true;
            }
            if !added {
                let addr = if mode == HOST_MODE {
                    shape.host_networking_host.clone()
                } else {
                    join_host_port(&ip, shape.port)
                };
                base.set("__address__", addr);
                targets.push(base);
            }
        }
    }
    vec![TargetGroup {
        targets,
        labels: Labels::new(),
    }]
}

fn network_mode(c: &ContainerSummary) -> &str {
    c.host_config
        .as_ref()
        .and_then(|h| h.network_mode.as_deref())
        .unwrap_or_default()
}

/// The container's networks sorted by name; in `container:<id>` mode with
/// none of its own, those of the container it shares (followed at most as
/// many hops as there are containers, so a cycle ends).
fn endpoints<'a>(
    c: &'a ContainerSummary,
    by_id: &HashMap<&str, &'a ContainerSummary>,
) -> Vec<(&'a String, &'a EndpointSettings)> {
    let mut current = c;
    for _ in 0..=by_id.len() {
        let own = current
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref());
        if let Some(nets) = own.filter(|n| !n.is_empty()) {
            let mut v: Vec<_> = nets.iter().collect();
            v.sort_by(|a, b| a.0.cmp(b.0));
            return v;
        }
        let Some(other) = network_mode(current).strip_prefix(CONTAINER_MODE_PREFIX) else {
            break;
        };
        match by_id.get(other) {
            Some(next) => current = next,
            None => break,
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(json: serde_json::Value) -> ContainerSummary {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn shared_network_cycles_and_nameless_containers_end() {
        let containers = vec![
            summary(
                serde_json::json!({"Id": "a", "Names": ["/a"], "HostConfig": {"NetworkMode": "container:b"}}),
            ),
            summary(
                serde_json::json!({"Id": "b", "Names": ["/b"], "HostConfig": {"NetworkMode": "container:a"}}),
            ),
            summary(serde_json::json!({"Id": "c"})),
            summary(
                serde_json::json!({"Id": "d", "Names": ["/d"], "Ports": [{"PrivatePort": 1, "Type": "tcp"}],
                "NetworkSettings": {"Networks": {"n": {"NetworkID": "unknown", "IPAddress": "fd00::1"}}}}),
            ),
        ];
        let shape = Shape {
            port: 80,
            host_networking_host: "localhost".into(),
            match_first_network: true,
        };
        let groups = container_groups(&containers, &NetworkLabels::new(), &shape);
        let addrs: Vec<&str> = groups[0]
            .targets
            .iter()
            .filter_map(|t| t.get("__address__"))
            .collect();
        // a and b share each other's (absent) networks: no target, no hang;
        // c has no name; d's IPv6 address is bracketed.
        assert_eq!(addrs, ["[fd00::1]:1"]);
    }
}
