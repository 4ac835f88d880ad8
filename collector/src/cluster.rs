//! `service.cluster`: gossip membership with the other profcol nodes, built
//! on chitchat (Quickwit's scuttlebutt gossip over UDP with a phi accrual
//! failure detector). Started before the receivers; every change of the live
//! member set is published to a `watch` the receivers hold, counted and
//! logged. On shutdown the node marks itself as leaving, so the others drop
//! it within a gossip round instead of waiting for the failure detector.

use anyhow::Context;
use chitchat::transport::UdpTransport;
use chitchat::{spawn_chitchat, ChitchatConfig, ChitchatHandle, ChitchatId, FailureDetectorConfig};
use chitchat::{NodeState, ProtocolVersion};
use profcol_config::ClusterConfig;
use profcol_runtime::{ClusterView, ClusterWatch, MetricSet, Telemetry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// Set by a node that is shutting down; others stop counting it at once.
const LEAVING_KEY: &str = "leaving";

/// The cluster's self-metrics.
#[derive(Default)]
pub struct ClusterMetrics {
    members: Gauge,
    changes: Counter,
}

impl MetricSet for ClusterMetrics {
    fn register(&self, r: &mut Registry) {
        r.register(
            "profcol_cluster_members",
            "Live members of the cluster, this node included",
            self.members.clone(),
        );
        r.register(
            "profcol_cluster_membership_changes",
            "Changes of the live member set seen by this node",
            self.changes.clone(),
        );
    }
}

/// A running membership.
pub struct Cluster {
    handle: Arc<ChitchatHandle>,
    view: watch::Receiver<ClusterView>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    gossip_interval: Duration,
}

/// The node name: `node_name`, else the host name.
pub fn node_name(cfg: &ClusterConfig) -> anyhow::Result<String> {
    if let Some(n) = &cfg.node_name {
        return Ok(n.trim().to_string());
    }
    let from_kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
    from_kernel
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .context("service::cluster::node_name: cannot determine the host name; set node_name")
}

impl Cluster {
    /// Binds the gossip socket, contacts `join_peers` and starts publishing
    /// the member list. A taken port fails here, clearly.
    pub async fn start(cfg: &ClusterConfig, telemetry: &Telemetry) -> anyhow::Result<Self> {
        let name = node_name(cfg)?;
        let listen = cfg
            .listen()
            .context("service::cluster::listen_address is not ip:port")?;
        let advertise = cfg
            .advertise()
            .context("service::cluster::advertise_address is not ip:port")?;
        // A restarted node gets a newer generation, so that its peers do not
        // mistake it for the dead one's state.
        let generation = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let gossip_interval = cfg.gossip_interval.get();
        let config = ChitchatConfig {
            chitchat_id: ChitchatId::new(name.clone(), generation, advertise),
            cluster_id: cfg.cluster_name.clone(),
            gossip_interval,
            listen_addr: listen,
            seed_nodes: cfg.join_peers.clone(),
            failure_detector_config: FailureDetectorConfig {
                phi_threshold: cfg.failure_detection_threshold,
                sampling_window_size: 1000,
                max_interval: (gossip_interval * 10).max(Duration::from_secs(10)),
                initial_interval: gossip_interval,
                dead_node_grace_period: cfg.dead_node_grace_period.get(),
            },
            marked_for_deletion_grace_period: Duration::from_secs(3600),
            catchup_callback: None,
            extra_liveness_predicate: Some(Box::new(|s: &NodeState| !s.contains_key(LEAVING_KEY))),
            protocol_version: ProtocolVersion::V0,
        };
        let handle = spawn_chitchat(config, Vec::new(), &UdpTransport)
            .await
            .with_context(|| {
                format!("cannot start the cluster gossip on {listen} (service::cluster::listen_address)")
            })?;
        let metrics = telemetry.metrics::<ClusterMetrics>();
        metrics.members.set(1);
        let (tx, view) = watch::channel(ClusterView::single(name.clone()));
        let stop = CancellationToken::new();
        let live = handle.chitchat().lock().await.live_nodes_watcher();
        let mut tasks = vec![tokio::spawn(publish(
            name.clone(),
            live,
            tx,
            metrics,
            stop.clone(),
        ))];
        let handle = Arc::new(handle);
        tasks.push(tokio::spawn(rejoin_loop(
            cfg.join_peers.clone(),
            cfg.rejoin_interval.get(),
            handle.clone(),
            advertise,
            stop.clone(),
        )));
        info!(
            node = %name,
            listen = %listen,
            advertise = %advertise,
            peers = cfg.join_peers.len(),
            "Cluster gossip started."
        );
        if !cfg.join_peers.is_empty() {
            // Receivers start with the view they are given: give the peers a
            // few gossip rounds to be counted, so that a starting node does
            // not take every target for a moment.
            let limit = (gossip_interval * 4).min(Duration::from_secs(10));
            let mut first = view.clone();
            let met = tokio::time::timeout(limit, first.wait_for(|v| v.members.len() > 1)).await;
            if !matches!(met, Ok(Ok(_))) {
                info!(waited = ?limit, "No cluster peer is live yet; starting as the only member.");
            }
        }
        Ok(Self {
            handle,
            view,
            stop,
            tasks,
            gossip_interval,
        })
    }

    /// What receivers hold.
    pub fn watch(&self) -> ClusterWatch {
        self.view.clone()
    }

    /// The current view.
    pub fn view(&self) -> ClusterView {
        self.view.borrow().clone()
    }

    /// Tells the others this node leaves, gives the news a few gossip rounds
    /// to spread (bounded by `limit`), then stops gossiping.
    pub async fn leave(self, limit: Duration) {
        self.handle
            .with_chitchat(|c| c.self_node_state().set(LEAVING_KEY, "true"))
            .await;
        let spread = (self.gossip_interval * 3).min(limit);
        tokio::time::sleep(spread).await;
        self.stop.cancel();
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(1), t).await;
        }
        let _ = self.handle.initiate_shutdown();
        let done = self.handle.termination_watcher();
        match tokio::time::timeout(Duration::from_secs(2), done).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "Cluster gossip did not stop cleanly."),
            Err(_) => warn!("Cluster gossip did not stop in time."),
        }
        info!("Left the cluster.");
    }
}

/// Turns chitchat's live-node map into views: names deduplicated (a
/// restarted node may briefly show with two generations) and sorted.
async fn publish(
    local: String,
    mut live: watch::Receiver<BTreeMap<ChitchatId, NodeState>>,
    tx: watch::Sender<ClusterView>,
    metrics: Arc<ClusterMetrics>,
    stop: CancellationToken,
) {
    let mut current: BTreeSet<String> = BTreeSet::from([local.clone()]);
    loop {
        let next: BTreeSet<String> = {
            let nodes = live.borrow_and_update();
            warn_duplicate_names(&nodes);
            let mut names: BTreeSet<String> =
                nodes.keys().map(|id| id.node_id.to_string()).collect();
            // Until chitchat's first liveness round the map is empty; this
            // node is a member as long as it runs (a leaving one is stopping
            // its receivers anyway).
            names.insert(local.clone());
            names
        };
        if next != current {
            for joined in next.difference(&current) {
                info!(node = %joined, members = next.len(), "Cluster member joined.");
            }
            for left in current.difference(&next) {
                info!(node = %left, members = next.len(), "Cluster member left.");
            }
            metrics.changes.inc();
            metrics.members.set(next.len() as i64);
            current = next;
            let _ = tx.send(ClusterView::new(local.clone(), current.iter().cloned()));
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            changed = live.changed() => if changed.is_err() { return },
        }
    }
}

fn warn_duplicate_names(nodes: &BTreeMap<ChitchatId, NodeState>) {
    let mut seen: BTreeMap<&str, SocketAddr> = BTreeMap::new();
    for id in nodes.keys() {
        if let Some(other) = seen.insert(&id.node_id, id.gossip_advertise_addr) {
            if other != id.gossip_advertise_addr {
                warn!(
                    node = %id.node_id,
                    address = %id.gossip_advertise_addr,
                    other_address = %other,
                    "Two live cluster members share a node name; they will scrape the same targets. Give each node its own service.cluster.node_name."
                );
            }
        }
    }
}

/// Contacts the join peers at once and then every `interval` (0: only once),
/// resolving names each time; a peer already known as live is skipped.
async fn rejoin_loop(
    peers: Vec<String>,
    interval: Duration,
    handle: Arc<ChitchatHandle>,
    own: SocketAddr,
    stop: CancellationToken,
) {
    if peers.is_empty() {
        return;
    }
    loop {
        for peer in &peers {
            match tokio::net::lookup_host(peer.as_str()).await {
                Ok(addrs) => {
                    let live: BTreeSet<SocketAddr> = handle
                        .with_chitchat(|c| {
                            c.live_nodes().map(|n| n.gossip_advertise_addr).collect()
                        })
                        .await;
                    for a in addrs.filter(|a| *a != own && !live.contains(a)) {
                        debug!(peer = %peer, address = %a, "Joining cluster peer.");
                        if let Err(e) = handle.gossip(a) {
                            debug!(peer = %peer, error = %e, "Gossip is stopping.");
                            return;
                        }
                    }
                }
                Err(e) => warn!(peer = %peer, error = %e, "Cannot resolve a cluster join peer."),
            }
        }
        if interval.is_zero() {
            return;
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn config(name: &str, port: u16, peer: u16) -> ClusterConfig {
        ClusterConfig {
            enabled: true,
            node_name: Some(name.into()),
            listen_address: format!("127.0.0.1:{port}"),
            join_peers: vec![format!("127.0.0.1:{peer}")],
            gossip_interval: profcol_config::Duration::from_millis(100),
            // Failure detection alone would take ~10 s: only the leave
            // announcement can make the test's bound.
            failure_detection_threshold: 100.0,
            ..ClusterConfig::default()
        }
    }

    fn free_udp_port() -> u16 {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    async fn wait_members(w: &mut ClusterWatch, n: usize, limit: Duration) -> ClusterView {
        let got = tokio::time::timeout(limit, w.wait_for(|v| v.members.len() == n))
            .await
            .map(|r| r.map(|v| v.clone()));
        match got {
            Ok(Ok(v)) => v,
            _ => panic!("never {n} members: {:?}", w.borrow().clone()),
        }
    }

    #[tokio::test]
    async fn two_nodes_meet_and_a_leaving_one_is_dropped_at_once() {
        let (pa, pb) = (free_udp_port(), free_udp_port());
        let ta = Telemetry::default();
        let a = Cluster::start(&config("a", pa, pb), &ta).await.unwrap();
        let b = Cluster::start(&config("b", pb, pa), &Telemetry::default())
            .await
            .unwrap();
        let mut wa = a.watch();
        let v = wait_members(&mut wa, 2, Duration::from_secs(5)).await;
        assert_eq!(v, ClusterView::new("a", ["a".into(), "b".into()]));
        assert_eq!(b.view().members, ["a", "b"]);
        assert!(ta.encode().contains("profcol_cluster_members 2"));

        let left = Instant::now();
        b.leave(Duration::from_secs(2)).await;
        let v = wait_members(&mut wa, 1, Duration::from_secs(3)).await;
        assert_eq!(v.members, ["a"]);
        assert!(left.elapsed() < Duration::from_secs(3));
        let page = ta.encode();
        assert!(page.contains("profcol_cluster_members 1"), "{page}");
        assert!(
            page.contains("profcol_cluster_membership_changes_total 2"),
            "{page}"
        );
        a.leave(Duration::from_millis(100)).await;
    }

    #[test]
    fn the_node_name_defaults_to_the_host_name() {
        let named = ClusterConfig {
            node_name: Some(" n1 ".into()),
            ..ClusterConfig::default()
        };
        assert_eq!(node_name(&named).unwrap(), "n1");
        let host = node_name(&ClusterConfig::default()).unwrap();
        assert!(!host.is_empty() && host.trim() == host);
    }
}
