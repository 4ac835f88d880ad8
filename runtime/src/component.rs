//! The shape every component shares: the context a factory gets (its id, a
//! cancellation token, the telemetry handle) and the self-metrics registry.
//! Pure types, no tasks.

use prometheus_client::registry::Registry;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio_util::sync::CancellationToken;

/// A set of metric families registered once per process, shared by every
/// instance of a component type (instances tell themselves apart by a label).
pub trait MetricSet: Default + Send + Sync + 'static {
    fn register(&self, registry: &mut Registry);
}

/// The process's self-telemetry: one Prometheus registry.
#[derive(Clone, Default)]
pub struct Telemetry {
    inner: Arc<Mutex<TelemetryInner>>,
}

#[derive(Default)]
struct TelemetryInner {
    registry: Registry,
    sets: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl Telemetry {
    /// The metric set `M`, registered on first use.
    pub fn metrics<M: MetricSet>(&self) -> Arc<M> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = inner.sets.get(&TypeId::of::<M>()) {
            if let Ok(m) = existing.clone().downcast::<M>() {
                return m;
            }
        }
        let set = Arc::new(M::default());
        set.register(&mut inner.registry);
        inner.sets.insert(TypeId::of::<M>(), set.clone());
        set
    }

    /// Runs `f` with the registry (for registering one-off metrics).
    pub fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut inner.registry)
    }

    /// The Prometheus text exposition of every registered metric.
    pub fn encode(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        // Encoding into a String cannot fail on I/O; a formatting error would
        // only truncate the page.
        let _ = prometheus_client::encoding::text::encode(&mut out, &inner.registry);
        out
    }
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Telemetry")
    }
}

/// What a factory receives besides its config.
#[derive(Clone, Debug)]
pub struct ComponentContext {
    /// `type[/name]` of this component instance.
    pub id: String,
    /// Cancelled when the component must stop.
    pub shutdown: CancellationToken,
    pub telemetry: Telemetry,
    /// The process-wide memory bound; receivers refuse new work while it
    /// is exceeded.
    pub memory: MemoryGuard,
    /// The cluster's membership when `service.cluster` is enabled; `None`
    /// when this node runs alone.
    pub cluster: Option<crate::ClusterWatch>,
    /// The process's scrapes in flight, shared fairly by the scrape
    /// receivers: each registers for its own share.
    pub scrape_budget: crate::ScrapeBudget,
    /// The widest decode caps any receiver of the running configuration
    /// applies: what a persistent sending queue checks profiles against
    /// when it reads them back, so that nothing a receiver accepted is
    /// refused there and nothing bigger is decoded.
    pub read_back_limits: profcol_pdata::pprof::DecodeLimits,
}

impl ComponentContext {
    /// A context of its own for component `id`: its own telemetry and
    /// shutdown token, no memory bound, no cluster, the default scrape
    /// budget and decode caps — for tests and tools that run one component.
    pub fn standalone(id: &str) -> Self {
        Self {
            id: id.to_string(),
            shutdown: CancellationToken::new(),
            telemetry: Telemetry::default(),
            memory: MemoryGuard::default(),
            cluster: None,
            scrape_budget: crate::ScrapeBudget::default(),
            read_back_limits: Default::default(),
        }
    }
}

/// The process's memory bound, shared by every component: the collector
/// samples memory use and records it here; receivers ask [`MemoryGuard::check`]
/// before taking in new data. The default guard has no limit and never refuses.
#[derive(Clone, Default)]
pub struct MemoryGuard {
    inner: Arc<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    /// Refusal starts at this many bytes; 0 means no limit.
    soft_limit: AtomicU64,
    usage: AtomicU64,
    over: AtomicBool,
}

/// Why new work is refused: memory use is at or above the soft limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryOver {
    pub usage_bytes: u64,
    pub soft_limit_bytes: u64,
}

impl std::fmt::Display for MemoryOver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "memory limit: the collector uses {} MiB, at or above its soft limit of {} MiB (service.memory_limit_mib)",
            self.usage_bytes >> 20,
            self.soft_limit_bytes >> 20
        )
    }
}

impl MemoryGuard {
    /// A guard that refuses once recorded usage reaches `soft_limit_bytes`
    /// (0 = never).
    pub fn new(soft_limit_bytes: u64) -> Self {
        let g = Self::default();
        g.inner
            .soft_limit
            .store(soft_limit_bytes, Ordering::Relaxed);
        g
    }

    /// Records the latest measurement; returns true when the guard is now
    /// over its limit.
    pub fn record(&self, usage_bytes: u64) -> bool {
        let limit = self.inner.soft_limit.load(Ordering::Relaxed);
        let over = limit > 0 && usage_bytes >= limit;
        self.inner.usage.store(usage_bytes, Ordering::Relaxed);
        self.inner.over.store(over, Ordering::Relaxed);
        over
    }

    /// `Err` while the last measurement was at or above the soft limit.
    pub fn check(&self) -> Result<(), MemoryOver> {
        if self.inner.over.load(Ordering::Relaxed) {
            Err(MemoryOver {
                usage_bytes: self.inner.usage.load(Ordering::Relaxed),
                soft_limit_bytes: self.inner.soft_limit.load(Ordering::Relaxed),
            })
        } else {
            Ok(())
        }
    }
}

impl std::fmt::Debug for MemoryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryGuard")
            .field("soft_limit", &self.inner.soft_limit.load(Ordering::Relaxed))
            .field("usage", &self.inner.usage.load(Ordering::Relaxed))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;

    #[derive(Default)]
    struct Set {
        hits: Counter,
    }

    impl MetricSet for Set {
        fn register(&self, r: &mut Registry) {
            r.register("test_hits", "Hits", self.hits.clone());
        }
    }

    #[test]
    fn memory_guard_refuses_at_the_soft_limit_only() {
        let g = MemoryGuard::new(100 << 20);
        assert!(g.check().is_ok());
        assert!(!g.record(99 << 20));
        assert!(g.clone().check().is_ok());
        assert!(g.record(100 << 20));
        let over = g.check().unwrap_err();
        assert_eq!(over.usage_bytes, 100 << 20);
        assert!(over.to_string().contains("memory limit"), "{over}");
        g.record(10 << 20);
        assert!(g.check().is_ok());
        let off = MemoryGuard::default();
        assert!(!off.record(u64::MAX));
        assert!(off.check().is_ok());
    }

    #[test]
    fn a_metric_set_registers_once() {
        let t = Telemetry::default();
        t.metrics::<Set>().hits.inc();
        t.metrics::<Set>().hits.inc();
        let page = t.encode();
        assert_eq!(page.matches("# TYPE test_hits counter").count(), 1);
        assert!(page.contains("test_hits_total 2"), "{page}");
    }
}
