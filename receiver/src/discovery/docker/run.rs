//! The refresh loops the receiver spawns, one per config entry: each
//! refresh opens a [`Session`], lists what its kind
//! needs, turns it into target groups, and hands them to the shared polling
//! loop (publish on change; on failure keep the last good targets and
//! record the error).

use super::client::{DockerClient, DockerClients, Session};
use super::config::{DockerSdConfig, DockerSwarmSdConfig, Filter, SwarmRole};
use super::containers::{container_groups, Shape};
use super::network::{network_labels, NetworkLabels};
use super::swarm;
use crate::discovery::{DiscoveryContext, TargetGroup};
use bollard::query_parameters::{
    ListContainersOptions, ListNetworksOptions, ListNodesOptions, ListServicesOptions,
};
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The filters as the Engine API takes them: `{"name": ["value", …]}`;
/// `None` when there are none (no `filters` parameter is sent).
pub(crate) fn filter_map(filters: &[Filter]) -> Option<HashMap<String, Vec<String>>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for f in filters {
        out.entry(f.name.clone())
            .or_default()
            .extend(f.values.iter().cloned());
    }
    out.retain(|_, v| !v.is_empty());
    (!out.is_empty()).then_some(out)
}

async fn networks(session: &Session, prefix: &str) -> Result<NetworkLabels, String> {
    let list = session
        .docker
        .list_networks(None::<ListNetworksOptions>)
        .await
        .map_err(|e| session.describe("listing networks", &e))?;
    Ok(network_labels(&list, prefix))
}

/// One `docker_sd_configs` refresh.
async fn refresh_containers(
    client: &DockerClient,
    filters: &Option<HashMap<String, Vec<String>>>,
    shape: &Shape,
) -> Result<Vec<TargetGroup>, String> {
    let session = client.session().await?;
    let options = ListContainersOptions {
        filters: filters.clone(),
        ..Default::default()
    };
    let containers = session
        .docker
        .list_containers(Some(options))
        .await
        .map_err(|e| session.describe("listing containers", &e))?;
    let nets = networks(&session, super::containers::PREFIX).await?;
    Ok(container_groups(&containers, &nets, shape))
}

/// Polls a `docker_sd_configs` entry until `shutdown`.
pub async fn run_docker(
    cfg: DockerSdConfig,
    client: DockerClient,
    source: String,
    ctx: DiscoveryContext,
    shutdown: CancellationToken,
) {
    let filters = filter_map(&cfg.filters);
    let shape = Shape {
        port: cfg.port,
        host_networking_host: cfg.host_networking_host.clone(),
        match_first_network: cfg.match_first_network,
    };
    crate::discovery::poll::poll(
        &source,
        cfg.refresh_interval.get(),
        &ctx,
        &shutdown,
        || refresh_containers(&client, &filters, &shape),
        |message| message,
        |_| None::<std::future::Ready<()>>,
    )
    .await;
}

/// One `dockerswarm_sd_configs` refresh.
async fn refresh_swarm(
    client: &DockerClient,
    role: SwarmRole,
    filters: &Option<HashMap<String, Vec<String>>>,
    port: u16,
) -> Result<Vec<TargetGroup>, String> {
    let session = client.session().await?;
    let docker = &session.docker;
    match role {
        SwarmRole::Nodes => {
            let options = ListNodesOptions {
                filters: filters.clone(),
            };
            let nodes = docker
                .list_nodes(Some(options))
                .await
                .map_err(|e| session.describe("listing swarm nodes", &e))?;
            Ok(swarm::node_groups(&nodes, port))
        }
        SwarmRole::Services => {
            let options = ListServicesOptions {
                filters: filters.clone(),
                ..Default::default()
            };
            let services = docker
                .list_services(Some(options))
                .await
                .map_err(|e| session.describe("listing swarm services", &e))?;
            let nets = networks(&session, swarm::PREFIX).await?;
            swarm::service_groups(&services, &nets, port)
        }
        SwarmRole::Tasks => {
            // bollard's Task model has no NetworksAttachments: the list is
            // read raw and decoded into bollard's model plus that field.
            let mut path = "/tasks".to_string();
            if let Some(f) = filters {
                let json = serde_json::to_string(f).map_err(|e| e.to_string())?;
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("filters", &json)
                    .finish();
                path = format!("{path}?{query}");
            }
            let body = session.get_raw("listing swarm tasks", &path).await?;
            let tasks = swarm::parse_tasks(&body)?;
            let services = docker
                .list_services(None::<ListServicesOptions>)
                .await
                .map_err(|e| session.describe("listing swarm services", &e))?;
            let nodes = docker
                .list_nodes(None::<ListNodesOptions>)
                .await
                .map_err(|e| session.describe("listing swarm nodes", &e))?;
            let nets = networks(&session, swarm::PREFIX).await?;
            swarm::task_groups(&tasks, &services, &nodes, &nets, port)
        }
    }
}

/// Polls a `dockerswarm_sd_configs` entry until `shutdown`.
pub async fn run_swarm(
    cfg: DockerSwarmSdConfig,
    client: DockerClient,
    source: String,
    ctx: DiscoveryContext,
    shutdown: CancellationToken,
) {
    let Some(role) = cfg.role() else {
        return;
    };
    let filters = filter_map(&cfg.filters);
    let port = cfg.port;
    crate::discovery::poll::poll(
        &source,
        cfg.refresh_interval.get(),
        &ctx,
        &shutdown,
        || refresh_swarm(&client, role, &filters, port),
        |message| message,
        |_| None::<std::future::Ready<()>>,
    )
    .await;
}

/// Spawns a refresh loop per Docker discovery entry, named
/// `docker_sd_configs/{i}` and `dockerswarm_sd_configs/{i}`.
pub fn spawn_all(
    cfg: &crate::ScrapeConfig,
    clients: DockerClients,
    ctx: &DiscoveryContext,
    shutdown: &CancellationToken,
    tracker: &TaskTracker,
) {
    for (i, (sd, client)) in cfg.docker_sd_configs.iter().zip(clients.docker).enumerate() {
        tracker.spawn(run_docker(
            sd.clone(),
            client,
            format!("docker_sd_configs/{i}"),
            ctx.clone(),
            shutdown.clone(),
        ));
    }
    for (i, (sd, client)) in cfg
        .dockerswarm_sd_configs
        .iter()
        .zip(clients.swarm)
        .enumerate()
    {
        tracker.spawn(run_swarm(
            sd.clone(),
            client,
            format!("dockerswarm_sd_configs/{i}"),
            ctx.clone(),
            shutdown.clone(),
        ));
    }
}
