//! `service.cluster`: gossip membership between profcol nodes, so that
//! receivers with `clustering.enabled: true` split their targets between
//! the live members. Defaults and the checks that name each key.

use crate::decode::Validate;
use crate::duration::Duration;
use crate::error::{join_path, Problem};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Default `listen_address`: every interface, memberlist's usual port.
pub const DEFAULT_LISTEN_ADDRESS: &str = "0.0.0.0:7946";

fn default_listen_address() -> String {
    DEFAULT_LISTEN_ADDRESS.to_string()
}
fn default_rejoin_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_cluster_name() -> String {
    "profcol".to_string()
}
fn default_gossip_interval() -> Duration {
    Duration::from_secs(1)
}
fn default_failure_detection_threshold() -> f64 {
    8.0
}
fn default_dead_node_grace_period() -> Duration {
    Duration::from_secs(3600)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    #[serde(default)]
    pub enabled: bool,
    /// Unique per node; default: the host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// UDP `ip:port` the gossip binds to.
    #[serde(default = "default_listen_address")]
    pub listen_address: String,
    /// `ip:port` the other nodes reach this one at; default: `listen_address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise_address: Option<String>,
    /// `host:port` of nodes to join; names are resolved on every (re)join.
    #[serde(default)]
    pub join_peers: Vec<String>,
    /// How often `join_peers` are contacted again (heals partitions and
    /// picks up new DNS answers); 0 disables.
    #[serde(default = "default_rejoin_interval")]
    pub rejoin_interval: Duration,
    /// Nodes only talk to nodes with the same cluster name.
    #[serde(default = "default_cluster_name")]
    pub cluster_name: String,
    /// How often a node gossips with a few others.
    #[serde(default = "default_gossip_interval")]
    pub gossip_interval: Duration,
    /// A peer is declared dead when nothing was heard from it for this many
    /// times its mean heartbeat interval (phi accrual threshold).
    #[serde(default = "default_failure_detection_threshold")]
    pub failure_detection_threshold: f64,
    /// How long a dead node's state is kept before it is forgotten.
    #[serde(default = "default_dead_node_grace_period")]
    pub dead_node_grace_period: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            node_name: None,
            listen_address: default_listen_address(),
            advertise_address: None,
            join_peers: Vec::new(),
            rejoin_interval: default_rejoin_interval(),
            cluster_name: default_cluster_name(),
            gossip_interval: default_gossip_interval(),
            failure_detection_threshold: default_failure_detection_threshold(),
            dead_node_grace_period: default_dead_node_grace_period(),
        }
    }
}

impl ClusterConfig {
    pub fn listen(&self) -> Option<SocketAddr> {
        self.listen_address.parse().ok()
    }

    /// The address other nodes use: `advertise_address`, else the listen one.
    pub fn advertise(&self) -> Option<SocketAddr> {
        match &self.advertise_address {
            Some(a) => a.parse().ok(),
            None => self.listen(),
        }
    }
}

/// `host:port` with a non-empty host and a numeric port.
fn is_host_port(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty() && !host.contains(char::is_whitespace) && port.parse::<u16>().is_ok()
        }
        None => false,
    }
}

impl Validate for ClusterConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        let at = |k: &str| join_path(path, k);
        if let Some(name) = &self.node_name {
            if name.trim().is_empty() {
                problems.push(Problem::new(
                    at("node_name"),
                    "node_name must not be empty (omit it to use the host name)",
                ));
            }
        }
        let listen = self.listen();
        if listen.is_none() {
            problems.push(Problem::new(
                at("listen_address"),
                format!(
                    "{:?} is not ip:port (e.g. {DEFAULT_LISTEN_ADDRESS})",
                    self.listen_address
                ),
            ));
        }
        match &self.advertise_address {
            Some(a) => match a.parse::<SocketAddr>() {
                Err(_) => problems.push(Problem::new(
                    at("advertise_address"),
                    format!("{a:?} is not ip:port"),
                )),
                Ok(addr) if self.enabled && addr.ip().is_unspecified() => {
                    problems.push(Problem::new(
                        at("advertise_address"),
                        format!(
                            "{a} is not an address other nodes can reach: set this node's own IP"
                        ),
                    ))
                }
                Ok(_) => {}
            },
            None => {
                if self.enabled && listen.is_some_and(|l| l.ip().is_unspecified()) {
                    problems.push(Problem::new(
                        at("advertise_address"),
                        format!(
                            "required when listen_address ({}) is unspecified: set the ip:port other nodes reach this one at",
                            self.listen_address
                        ),
                    ));
                }
            }
        }
        for (i, peer) in self.join_peers.iter().enumerate() {
            if !is_host_port(peer) {
                problems.push(Problem::new(
                    join_path(&at("join_peers"), &i.to_string()),
                    format!("{peer:?} is not host:port"),
                ));
            }
        }
        if self.cluster_name.is_empty() {
            problems.push(Problem::new(
                at("cluster_name"),
                "cluster_name must not be empty",
            ));
        }
        if self.gossip_interval.is_zero() {
            problems.push(Problem::new(
                at("gossip_interval"),
                "gossip_interval must be greater than 0",
            ));
        }
        let t = self.failure_detection_threshold;
        if !t.is_finite() || t <= 1.0 {
            problems.push(Problem::new(
                at("failure_detection_threshold"),
                format!("failure_detection_threshold ({t}) must be a number greater than 1"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str) -> Vec<String> {
        let cfg: ClusterConfig = crate::yaml::from_str(yaml).unwrap();
        let mut p = Vec::new();
        cfg.validate("service::cluster", &mut p);
        p.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn defaults_are_off_and_valid() {
        let c = ClusterConfig::default();
        assert!(!c.enabled);
        assert_eq!(c.listen_address, "0.0.0.0:7946");
        assert_eq!(c.rejoin_interval, Duration::from_secs(60));
        assert_eq!(c.advertise(), c.listen());
        assert!(problems("{}").is_empty());
    }

    #[test]
    fn an_enabled_node_needs_a_reachable_advertise_address() {
        assert_eq!(
            problems("enabled: true"),
            ["service::cluster::advertise_address: required when listen_address (0.0.0.0:7946) is unspecified: set the ip:port other nodes reach this one at"]
        );
        assert_eq!(
            problems("{enabled: true, advertise_address: '0.0.0.0:1'}"),
            ["service::cluster::advertise_address: 0.0.0.0:1 is not an address other nodes can reach: set this node's own IP"]
        );
        assert!(problems("{enabled: true, advertise_address: '10.0.0.1:7946'}").is_empty());
        assert!(problems("{enabled: true, listen_address: '127.0.0.1:7000'}").is_empty());
    }

    #[test]
    fn every_key_is_checked_by_path() {
        assert_eq!(
            problems(
                "{node_name: ' ', listen_address: nowhere, advertise_address: 'h:1', join_peers: ['a:1', 'b', ':3', 'dns.name:70000'], cluster_name: '', gossip_interval: 0s, failure_detection_threshold: 0.5}"
            ),
            [
                "service::cluster::node_name: node_name must not be empty (omit it to use the host name)",
                "service::cluster::listen_address: \"nowhere\" is not ip:port (e.g. 0.0.0.0:7946)",
                "service::cluster::advertise_address: \"h:1\" is not ip:port",
                "service::cluster::join_peers::1: \"b\" is not host:port",
                "service::cluster::join_peers::2: \":3\" is not host:port",
                "service::cluster::join_peers::3: \"dns.name:70000\" is not host:port",
                "service::cluster::cluster_name: cluster_name must not be empty",
                "service::cluster::gossip_interval: gossip_interval must be greater than 0",
                "service::cluster::failure_detection_threshold: failure_detection_threshold (0.5) must be a number greater than 1",
            ]
        );
    }
}
