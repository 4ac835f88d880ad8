//! profcol's receivers: `pyroscope_scrape`, which scrapes pprof profiles
//! over HTTP from static and discovered targets, like Grafana Alloy's
//! `pyroscope.scrape`; and the push receivers ([`push`]) `otlp` (OTLP
//! profiles over gRPC and HTTP) and `pyroscope` (what the Pyroscope SDKs
//! send). Each hands what it gets downstream as a
//! [`ProfileBatch`](profcol_pdata::ProfileBatch).
//!
//! The collector decodes and starts receivers through [`RECEIVERS`] (the
//! factory of each type); the returned [`ReceiverHandle`] reports
//! per-target status and resolves when every task stopped after shutdown.

mod backpressure;
pub mod byte_size;
pub mod cluster;
pub mod config;
#[cfg(test)]
mod config_serialize_tests;
pub mod discovery;
pub mod error;
mod events;
pub mod fetch;
pub mod handoff;
#[cfg(test)]
mod key_lists_tests;
pub mod last_profiles;
mod manager;
pub mod metrics;
pub mod profile_types;
pub mod push;
pub mod redacted;
pub mod registry;
pub mod relabel;
mod scrape_loop;
pub mod status;
pub mod targets;

pub use cluster::ClusterStatus;
pub use config::ScrapeConfig;
pub use discovery::DiscoveryStatus;
pub use error::Error;
pub use handoff::Handoff;
pub use last_profiles::{KeptProfile, LastProfiles};
pub use status::{Health, TargetStatus};

pub use registry::{Downstream, ReceiverConfig, Receivers, RECEIVERS};

use discovery::{DiscoveryContext, DiscoveryRegistry, TargetGroup};
use profcol_config::{join_path, ComponentId};
use profcol_http::{ClientOptions, HttpClient, PoolOptions};
use profcol_pdata::{Consumer, Labels};
use profcol_runtime::ComponentContext;
use scrape_loop::Shared;
use status::StatusRegistry;
use std::sync::Arc;
use tokio_util::task::TaskTracker;

/// The component type this crate provides.
pub const PYROSCOPE_SCRAPE: &str = "pyroscope_scrape";

fn user_agent() -> ClientOptions {
    ClientOptions {
        user_agent: format!("profcol/{}", env!("CARGO_PKG_VERSION")),
    }
}

/// The scrape client keeps no idle connection: each scrape opens its own
/// and closes it once the body is read. hyper keeps an idle keep-alive
/// connection's read buffer at the size its last body grew it to (tens of
/// KiB after a profile), plus its dispatch channel: at 1,000 targets that
/// was ~130 KiB of memory per target, against one TCP handshake per scrape
/// (a TLS one for https targets) — most scrapes of a target are seconds
/// apart and reconnected anyway. profcol holds ~1 descriptor per target (the
/// CPU profile's, waiting for `seconds=interval-1`).
const SCRAPE_POOL: PoolOptions = PoolOptions {
    max_idle_per_host: 0,
    idle_timeout: std::time::Duration::from_secs(2),
};

/// Decodes `body` and starts receiver `id` on the current tokio runtime;
/// its tasks stop when `ctx.shutdown` is cancelled. For tests and tools
/// that hold a YAML body: the collector decodes once and starts through
/// [`RECEIVERS`].
pub fn start_receiver(
    id: &ComponentId,
    body: &profcol_config::Body,
    ctx: ComponentContext,
    next: Arc<dyn Consumer>,
) -> Result<ReceiverHandle, Error> {
    start_receiver_after(id, body, ctx, next, Arc::default())
}

/// Like [`start_receiver`], for the replacement of a stopped instance whose
/// [`ReceiverHandle::handoff`] was opened before it stopped: jobs with the
/// same URL, labels and scrape settings keep their delta state.
pub fn start_receiver_after(
    id: &ComponentId,
    body: &profcol_config::Body,
    ctx: ComponentContext,
    next: Arc<dyn Consumer>,
    handoff: Arc<Handoff>,
) -> Result<ReceiverHandle, Error> {
    let path = join_path("receivers", &id.to_string());
    RECEIVERS.start_body(id, body, &path, ctx, Downstream { next, handoff })
}

/// Starts a `pyroscope_scrape` receiver's discovery and scrape tasks.
fn start_scrape(
    id: &ComponentId,
    cfg: &ScrapeConfig,
    ctx: ComponentContext,
    down: Downstream,
) -> Result<ReceiverHandle, Error> {
    let Downstream { next, handoff } = down;
    let path = join_path("receivers", &id.to_string());
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
    let component = id.to_string();
    let metrics = ctx.telemetry.metrics::<metrics::ScrapeMetrics>();
    let last = ctx.telemetry.metrics::<LastProfiles>();
    let client = HttpClient::with_pool(&cfg.http, &user_agent(), SCRAPE_POOL)?;
    let mut sd_clients = Vec::with_capacity(cfg.http_sd_configs.len());
    for sd in &cfg.http_sd_configs {
        sd_clients.push(HttpClient::new(&sd.http, &user_agent())?);
    }
    let docker_clients = discovery::docker::client::for_config(cfg, &path)?;
    let ta_client = match &cfg.target_allocator {
        Some(ta) => Some(HttpClient::new(&ta.http, &user_agent())?),
        None => None,
    };

    let slots = Arc::new(
        ctx.scrape_budget.register_with_gauge(
            &component,
            Some(
                metrics
                    .scrape_slots
                    .get_or_create(&metrics::ComponentLabels {
                        component: component.clone(),
                    })
                    .clone(),
            ),
        ),
    );
    let shared = Arc::new(Shared {
        settings: config::Settings::new(&component, cfg),
        client,
        next,
        metrics: metrics.clone(),
        memory: ctx.memory.clone(),
        handoff: handoff.clone(),
        fingerprint: Arc::new(handoff::Fingerprint::of(cfg, &component)),
        last: last.clone(),
        slots: slots.clone(),
    });
    let status = Arc::new(StatusRegistry::default());
    let discovery = Arc::new(DiscoveryRegistry::default());
    let tracker = TaskTracker::new();
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let dctx = DiscoveryContext {
        component: component.clone(),
        registry: discovery.clone(),
        metrics,
        updates: tx,
    };

    let static_groups: Vec<TargetGroup> = cfg
        .targets
        .iter()
        .map(|ts| TargetGroup {
            targets: ts.iter().map(|t| t.iter().collect::<Labels>()).collect(),
            labels: Labels::new(),
        })
        .collect();
    let initial = vec![("static".to_string(), static_groups)];

    let _guard = runtime.enter();
    for (i, (sd, client)) in cfg.http_sd_configs.iter().zip(sd_clients).enumerate() {
        let Some(url) = sd.url.as_deref().and_then(|u| url::Url::parse(u).ok()) else {
            continue;
        };
        let source = format!("http_sd_configs/{i}");
        let refresh = sd.refresh_interval.get();
        let fut = discovery::http_sd::run(
            url,
            refresh,
            sd.max_response_size.0,
            client,
            source,
            dctx.clone(),
            ctx.shutdown.clone(),
        );
        tracker.spawn(fut);
    }
    for (i, sd) in cfg.file_sd_configs.iter().enumerate() {
        let source = format!("file_sd_configs/{i}");
        tracker.spawn(discovery::file_sd::run(
            sd.clone(),
            source,
            dctx.clone(),
            ctx.shutdown.clone(),
        ));
    }
    discovery::docker::run::spawn_all(cfg, docker_clients, &dctx, &ctx.shutdown, &tracker);
    for (i, sd) in cfg.kubernetes_sd_configs.iter().enumerate() {
        tracker.spawn(discovery::kubernetes::run(
            sd.clone(),
            format!("kubernetes_sd_configs/{i}"),
            dctx.clone(),
            ctx.shutdown.clone(),
        ));
    }
    if let (Some(ta), Some(client)) = (&cfg.target_allocator, ta_client) {
        let endpoint = ta.endpoint.as_deref().and_then(|u| url::Url::parse(u).ok());
        if let (Some(endpoint), Some(id)) = (endpoint, ta.collector_id.clone()) {
            tracker.spawn(discovery::target_allocator::run(
                endpoint,
                shared.settings.job_name.clone(),
                id.trim().to_string(),
                ta.interval.get(),
                client,
                dctx.clone(),
                ctx.shutdown.clone(),
            ));
        }
    }
    drop(dctx);

    let clustering = cfg.clustering.as_ref().and_then(|c| c.enabled) == Some(true);
    let ownership = match (clustering, ctx.cluster) {
        (true, Some(watch)) => Some(Arc::new(cluster::Ownership::new(watch))),
        (true, None) => {
            tracing::warn!(
                component = %component,
                "clustering.enabled is true but service.cluster.enabled is not: this node scrapes every target."
            );
            None
        }
        (false, _) => None,
    };
    let mut manager = manager::Manager::new(
        shared,
        status.clone(),
        tracker.clone(),
        ctx.shutdown.clone(),
    );
    if let Some(o) = &ownership {
        manager = manager.with_ownership(o.clone());
    }
    manager.start(initial);
    tracker.spawn(manager.run(rx));
    tracing::info!(component = %component, "Receiver started.");
    Ok(ReceiverHandle {
        tracker,
        handoff,
        component,
        kind: HandleKind::Scrape(ScrapeParts {
            status,
            discovery,
            ownership,
            last,
            slots,
        }),
    })
}

/// A running receiver.
pub struct ReceiverHandle {
    tracker: TaskTracker,
    handoff: Arc<Handoff>,
    component: String,
    kind: HandleKind,
}

enum HandleKind {
    Scrape(ScrapeParts),
    Push(Arc<push::PushStatus>),
}

/// What only a scrape receiver has.
struct ScrapeParts {
    status: Arc<StatusRegistry>,
    discovery: Arc<DiscoveryRegistry>,
    ownership: Option<Arc<cluster::Ownership>>,
    last: Arc<LastProfiles>,
    slots: Arc<profcol_runtime::ScrapeShare>,
}

/// A scrape receiver's share of the process's scrapes in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ScrapeSlots {
    /// Scrapes it may have in flight at once.
    pub limit: usize,
    /// Scrapes in flight now.
    pub in_flight: usize,
}

impl ReceiverHandle {
    fn push(id: &ComponentId, started: push::PushHandle, handoff: Arc<Handoff>) -> Self {
        Self {
            tracker: started.tracker,
            component: id.to_string(),
            handoff,
            kind: HandleKind::Push(started.status),
        }
    }

    fn scrape(&self) -> Option<&ScrapeParts> {
        match &self.kind {
            HandleKind::Scrape(s) => Some(s),
            HandleKind::Push(_) => None,
        }
    }

    /// True for `otlp` and `pyroscope`: receivers that are sent profiles
    /// and have no targets.
    pub fn is_push(&self) -> bool {
        matches!(self.kind, HandleKind::Push(_))
    }

    /// A push receiver's endpoints and counters (`None` for a scrape
    /// receiver).
    pub fn push_status(&self) -> Option<push::PushStatusSnapshot> {
        match &self.kind {
            HandleKind::Push(s) => Some(s.snapshot()),
            HandleKind::Scrape(_) => None,
        }
    }

    /// The address a push receiver's `protocol` (`grpc`, `http`) listens on.
    pub fn push_address(&self, protocol: &str) -> Option<std::net::SocketAddr> {
        match &self.kind {
            HandleKind::Push(s) => s.address(protocol),
            HandleKind::Scrape(_) => None,
        }
    }

    /// Open it before stopping this instance for a replacement started with
    /// [`start_receiver_after`].
    pub fn handoff(&self) -> Arc<Handoff> {
        self.handoff.clone()
    }

    /// One entry per (target, profile type), sorted by URL.
    pub fn targets(&self) -> Vec<TargetStatus> {
        self.scrape()
            .map(|s| s.status.snapshot())
            .unwrap_or_default()
    }

    /// The last successful profile of job `job_key` (a
    /// [`TargetStatus::key`]) if it is kept and its profile type is
    /// `profile_type`: what the flame graph viewer shows.
    pub fn last_profile(&self, job_key: u64, profile_type: &str) -> Option<KeptProfile> {
        self.scrape()?
            .last
            .get(&self.component, job_key)
            .filter(|k| k.profile_type == profile_type)
    }

    /// One entry per discovery source that has refreshed at least once.
    pub fn discovery(&self) -> Vec<DiscoveryStatus> {
        self.scrape()
            .map(|s| s.discovery.snapshot())
            .unwrap_or_default()
    }

    /// This receiver's share of the targets when it splits them with the
    /// cluster (`clustering.enabled` and `service.cluster.enabled`).
    pub fn cluster(&self) -> Option<ClusterStatus> {
        self.scrape()?.ownership.as_ref().map(|o| o.status())
    }

    /// A scrape receiver's share of the process's scrapes in flight.
    pub fn scrape_slots(&self) -> Option<ScrapeSlots> {
        let s = &self.scrape()?.slots;
        Some(ScrapeSlots {
            limit: s.limit(),
            in_flight: s.in_use(),
        })
    }

    /// Resolves when every task stopped after the shutdown token was
    /// cancelled.
    pub async fn wait(self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> profcol_config::Body {
        profcol_config::Body::parse(s).unwrap()
    }

    fn ctx() -> ComponentContext {
        ComponentContext {
            id: "pyroscope_scrape/x".into(),
            shutdown: tokio_util::sync::CancellationToken::new(),
            telemetry: profcol_runtime::Telemetry::default(),
            memory: Default::default(),
            cluster: None,
            scrape_budget: Default::default(),
            read_back_limits: Default::default(),
        }
    }

    struct Nowhere;

    #[async_trait::async_trait]
    impl Consumer for Nowhere {
        async fn consume(
            &self,
            _: profcol_pdata::ProfileBatch,
        ) -> Result<(), profcol_pdata::Error> {
            Ok(())
        }
    }

    #[test]
    fn validates_by_type() {
        let first = RECEIVERS.names()[0];
        assert_eq!((first.0, first.1.as_str()), ("pyroscope_scrape", "beta"));
        let id: ComponentId = "pyroscope_scrape/local".parse().unwrap();
        assert!(RECEIVERS
            .decode(
                &id,
                &yaml("targets: [{__address__: 'h:1'}]"),
                "receivers::pyroscope_scrape/local"
            )
            .is_ok());
        // A bad value inside the flattened client block names its own key.
        let p = RECEIVERS
            .decode(
                &id,
                &yaml("targets: [{__address__: 'h:1'}]\ntls_config: {min_version: TLS14}"),
                "receivers::pyroscope_scrape/local",
            )
            .unwrap_err();
        assert_eq!(
            p[0].to_string(),
            "receivers::pyroscope_scrape/local::tls_config::min_version: unknown value `TLS14` for min_version: did you mean `TLS13`? (expected one of TLS12, TLS13)"
        );
        let other: ComponentId = "kafka".parse().unwrap();
        let p = RECEIVERS
            .decode(&other, &yaml("{}"), "receivers::kafka")
            .unwrap_err();
        assert_eq!(
            p[0].to_string(),
            "receivers::kafka: unknown receiver type \"kafka\" (known: pyroscope_scrape, otlp, pyroscope)"
        );
    }

    #[test]
    fn typed_configs_compare_equal_however_spelled() {
        let same = |kind: &str, a: &str, b: &str| {
            let id: ComponentId = kind.parse().unwrap();
            RECEIVERS.decode(&id, &yaml(a), "").unwrap()
                == RECEIVERS.decode(&id, &yaml(b), "").unwrap()
        };
        let scrape = "pyroscope_scrape/x";
        let t = "targets: [{__address__: 'h:1'}]";
        assert!(same(
            scrape,
            &format!("{{{t}, scrape_interval: 15s}}"),
            &format!("{{{t}, scrape_interval: 15000ms}}")
        ));
        assert!(
            same(
                scrape,
                &format!("{{{t}}}"),
                &format!("{{{t}, scrape_interval: 15s, scrape_timeout: 18s, job_name: {scrape}}}")
            ),
            "defaults written out"
        );
        assert!(!same(
            scrape,
            &format!("{{{t}, scrape_interval: 15s}}"),
            &format!("{{{t}, scrape_interval: 20s}}")
        ));
        assert!(
            !same(
                scrape,
                &format!("{{{t}, bearer_token: a}}"),
                &format!("{{{t}, bearer_token: b}}")
            ),
            "a changed token is a change"
        );
        assert!(!same(
            scrape,
            &format!("{{{t}}}"),
            "{targets: [{__address__: 'h:2'}]}"
        ));
        let pushed = "{endpoint: '127.0.0.1:0', read_timeout: 30s}";
        assert!(same(
            "pyroscope",
            pushed,
            "{endpoint: '127.0.0.1:0', read_timeout: 30000ms}"
        ));
        assert!(!same(
            "pyroscope",
            pushed,
            "{endpoint: '127.0.0.1:0', read_timeout: 31s}"
        ));
        assert!(!same(
            "pyroscope",
            "{basic_auth: {username: u, password: a}}",
            "{basic_auth: {username: u, password: b}}"
        ));
        assert!(same(
            "otlp",
            "{protocols: {http: {}}}",
            "{protocols: {http: {endpoint: 'localhost:4318'}}}"
        ));
    }

    #[test]
    fn start_needs_a_valid_config_and_a_runtime() {
        let id: ComponentId = "pyroscope_scrape/x".parse().unwrap();
        let bad = start_receiver(&id, &yaml("scheme: ftp"), ctx(), Arc::new(Nowhere));
        match bad {
            Err(Error::InvalidConfig(p)) => assert_eq!(p.len(), 2, "{p:?}"),
            other => panic!("{:?}", other.err()),
        }
        let good = yaml("targets: [{__address__: 'h:1'}]");
        assert!(matches!(
            start_receiver(&id, &good, ctx(), Arc::new(Nowhere)),
            Err(Error::NoRuntime)
        ));
    }

    #[tokio::test]
    async fn static_targets_show_at_once_and_stop_on_shutdown() {
        let id: ComponentId = "pyroscope_scrape/x".parse().unwrap();
        let c = ctx();
        let stop = c.shutdown.clone();
        let h = start_receiver(
            &id,
            &yaml("targets: [{__address__: '127.0.0.1:9'}]"),
            c,
            Arc::new(Nowhere),
        )
        .unwrap();
        let t = h.targets();
        assert_eq!(t.len(), 5);
        assert!(t
            .iter()
            .all(|s| s.health == Health::Unknown && s.job == "pyroscope_scrape/x"));
        stop.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(5), h.wait())
            .await
            .unwrap();
    }
}
