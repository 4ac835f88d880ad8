//! `kubernetes_sd_configs`: Prometheus' Kubernetes service discovery.
//!
//! Each entry watches the Kubernetes API (list + watch with resource
//! versions, bookmarks, and reconnects with back-off, all through
//! `kube::runtime::watcher`) and keeps the current objects in memory. After
//! a burst of changes settles it builds the target groups of its `role` with
//! Prometheus' `__meta_kubernetes_*` labels and publishes the whole list as
//! the source `kubernetes_sd_configs/<i>`. A failing watch records its error
//! in the discovery status (the last known targets stay); it never polls.
//!
//! Files: [`config`] (the YAML block and its checks), `client` (the API
//! client from `api_server` / `kubeconfig_file` / in-cluster), `watch` (the
//! watches and the per-watch stores), `publish` (coalescing bursts), `meta`
//! (label-name sanitizing and the shared object-metadata labels) and one
//! file per role: `pod`, `service`, `endpoints`, `endpointslice`, `node`,
//! `ingress`.

mod client;
pub mod config;
mod endpoints;
mod endpointslice;
mod ingress;
mod meta;
mod node;
mod pod;
mod publish;
mod service;
mod watch;

pub use config::KubernetesSdConfig;
pub use watch::run;

/// What a `kubernetes_sd_configs` entry discovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// One target per pod container port (or per container without ports).
    Pod,
    /// One target per service port.
    Service,
    /// One target per address and port of `Endpoints` objects.
    Endpoints,
    /// One target per address and port of `EndpointSlice` objects.
    EndpointSlice,
    /// One target per node (its kubelet port).
    Node,
    /// One target per ingress rule path.
    Ingress,
}

impl Role {
    /// Parses Prometheus' role name.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "pod" => Role::Pod,
            "service" => Role::Service,
            "endpoints" => Role::Endpoints,
            "endpointslice" => Role::EndpointSlice,
            "node" => Role::Node,
            "ingress" => Role::Ingress,
            _ => return None,
        })
    }

    /// Prometheus' name of the role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Pod => "pod",
            Role::Service => "service",
            Role::Endpoints => "endpoints",
            Role::EndpointSlice => "endpointslice",
            Role::Node => "node",
            Role::Ingress => "ingress",
        }
    }
}
